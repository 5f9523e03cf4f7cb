"""How every role authenticates to NATS: user/password, a token, an nkey seed file or a
`.creds` file (user JWT + seed), and TLS with a private CA and a client certificate.

The composition root passes these options to the NATS connect; with none set, the
connection is anonymous (the embedded server of `tally up`, on loopback only).
"""

import ssl
from pathlib import Path
from typing import Any

from tally.nats_permissions import inbox_prefix
from tally.settings import Settings


class NatsAuthConfigError(ValueError):
    """The NATS credentials or TLS settings cannot be used; the message names the variable."""


def _readable(path: Path, variable: str) -> str:
    if not path.is_file():
        raise NatsAuthConfigError(f"{variable}: no such file: {path}")
    try:
        path.open("rb").close()
    except OSError as error:
        raise NatsAuthConfigError(f"{variable}: cannot read {path}: {error.strerror}") from None
    return str(path)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    ca, cert, key = settings.nats_tls_ca, settings.nats_tls_cert, settings.nats_tls_key
    if ca is None and cert is None and key is None:
        return None
    if (cert is None) != (key is None):
        raise NatsAuthConfigError("TALLY_NATS_TLS_CERT and TALLY_NATS_TLS_KEY go together")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca is not None:
        context.load_verify_locations(cafile=_readable(ca, "TALLY_NATS_TLS_CA"))
    if cert is not None and key is not None:
        try:
            context.load_cert_chain(
                _readable(cert, "TALLY_NATS_TLS_CERT"), _readable(key, "TALLY_NATS_TLS_KEY")
            )
        except ssl.SSLError as error:
            raise NatsAuthConfigError(
                f"TALLY_NATS_TLS_CERT/KEY: not a certificate and its key: {error}"
            ) from None
    return context


def nats_auth_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for the NATS client's connect (see `tally.nats_connection`)."""
    ways = [
        name
        for name, value in (
            ("TALLY_NATS_USER", settings.nats_user),
            ("TALLY_NATS_TOKEN", settings.nats_token),
            ("TALLY_NATS_NKEY_SEED_FILE", settings.nats_nkey_seed_file),
            ("TALLY_NATS_CREDS_FILE", settings.nats_creds_file),
        )
        if value is not None
    ]
    if len(ways) > 1:
        raise NatsAuthConfigError(
            f"choose one way to authenticate to NATS, not {' and '.join(ways)}"
        )
    if settings.nats_password is not None and settings.nats_user is None:
        raise NatsAuthConfigError("TALLY_NATS_PASSWORD needs TALLY_NATS_USER")
    options: dict[str, Any] = {}
    if settings.nats_user is not None:
        options["user"] = settings.nats_user
        options["inbox_prefix"] = inbox_prefix(settings.nats_user)
        if settings.nats_password is not None:
            options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_token is not None:
        options["token"] = settings.nats_token.get_secret_value()
    if settings.nats_nkey_seed_file is not None:
        options["nkeys_seed"] = _readable(settings.nats_nkey_seed_file, ways[0])
    if settings.nats_creds_file is not None:
        options["user_credentials"] = _readable(settings.nats_creds_file, ways[0])
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options
