"""NATS over TLS with client certificates (mutual TLS): a private CA, a server certificate
for 127.0.0.1, a client certificate. The right files connect; a missing client certificate
or an unknown CA fails at start, quickly, naming TLS."""

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support.log_ready_nats import LogReadyNats
from tally.embedded.nats_server import EmbeddedNats
from tally.nats_auth import NatsAuthConfigError, nats_auth_options
from tally.nats_connection import NatsRefused, connect_nats
from tally.settings import Settings

pytestmark = pytest.mark.integration

MAKE_CERTS = """
set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 \
  -subj "/CN=tally-test-ca"
openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=nats"
printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -out server.pem -days 2 -extfile san.ext
openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr -subj "/CN=tally"
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -out client.pem -days 2
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make test certificates")
    directory = tmp_path_factory.mktemp("certs")
    subprocess.run(["sh", "-c", MAKE_CERTS], cwd=directory, check=True, capture_output=True)
    yield directory


@pytest.fixture
async def tls_server(certs: Path, tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    config = (
        f'tls {{\n  cert_file: "{certs / "server.pem"}"\n  key_file: "{certs / "server-key.pem"}"'
        f'\n  ca_file: "{certs / "ca.pem"}"\n  verify: true\n}}'
    )
    server = LogReadyNats(tmp_path / "nats", extra_config=config)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_ca_and_client_certificate_connect(tls_server: EmbeddedNats, certs: Path) -> None:
    settings = Settings(
        nats_tls_ca=certs / "ca.pem",
        nats_tls_cert=certs / "client.pem",
        nats_tls_key=certs / "client-key.pem",
    )
    nc = await connect_nats(
        [tls_server.url], name="tls", connect_timeout=5, **nats_auth_options(settings)
    )
    assert nc.is_connected
    await nc.jetstream().account_info()
    await nc.close()


@pytest.mark.parametrize("given", ["ca-only", "nothing"])
async def test_missing_tls_settings_fail_at_once(
    tls_server: EmbeddedNats, certs: Path, given: str
) -> None:
    settings = Settings(nats_tls_ca=certs / "ca.pem") if given == "ca-only" else Settings()
    started = time.monotonic()
    with pytest.raises(NatsRefused, match="TLS failed"):
        await connect_nats(
            [tls_server.url], name="tls", connect_timeout=20, **nats_auth_options(settings)
        )
    assert time.monotonic() - started < 5


def test_unusable_tls_files_are_named(certs: Path, tmp_path: Path) -> None:
    with pytest.raises(NatsAuthConfigError, match="TALLY_NATS_TLS_CA: no such file"):
        nats_auth_options(Settings(nats_tls_ca=tmp_path / "missing.pem"))
    with pytest.raises(NatsAuthConfigError, match="go together"):
        nats_auth_options(Settings(nats_tls_cert=certs / "client.pem"))
    with pytest.raises(NatsAuthConfigError, match="not a certificate"):
        nats_auth_options(
            Settings(nats_tls_cert=certs / "ca.pem", nats_tls_key=certs / "client-key.pem")
        )
    with pytest.raises(NatsAuthConfigError, match="choose one way"):
        nats_auth_options(Settings(nats_user="u", nats_token="t"))
