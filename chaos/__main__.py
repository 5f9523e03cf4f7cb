"""`python -m chaos --seed S --minutes M`: one chaos run; exit 0 when the model found no
violation, 1 otherwise (the seed and the minimal history of each are printed)."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

from chaos.report import render
from chaos.run import RunConfig, chaos_run
from chaos.shape import DeploymentShape


def parse(argv: list[str]) -> RunConfig:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument("--minutes", type=float, default=2.0, help="of load and faults")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--fulfils", type=int, default=2)
    parser.add_argument("--standbys", type=int, default=2, help="projectors per view")
    parser.add_argument(
        "--partitions",
        type=int,
        default=DeploymentShape.partitions,
        help="ORDERS and STOCK split this many ways, every projector taking them all "
        "(the per-partition locks share them out); 0: not partitioned",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep history and logs here")
    args = parser.parse_args(argv)
    shape = DeploymentShape(args.apis, args.fulfils, args.standbys, args.partitions or None)
    seed = args.seed if args.seed is not None else random.randrange(1, 1_000_000)
    return RunConfig(
        seed, args.minutes, shape, rate=args.rate, clients=args.clients, keep=args.keep
    )


def main(argv: list[str]) -> int:
    config = parse(argv)
    print(
        f"chaos run: seed {config.seed}, {config.minutes:g} min, {config.shape.describe()}",
        flush=True,
    )
    outcome = asyncio.run(chaos_run(config))
    print(render(outcome), flush=True)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
