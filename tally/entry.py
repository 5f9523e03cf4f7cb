"""The `tally` console script: stop signals are handled from its first line on (see
`tally.stop_signals`), then the command line is parsed and run."""

import sys

from tally.stop_signals import install_early


def main() -> None:
    install_early(sys.argv)
    try:
        from tally.cli import main as cli
    except KeyboardInterrupt:  # interrupted while Tally was still being imported
        sys.stderr.write("tally: interrupted\n")
        sys.exit(130)
    cli()
