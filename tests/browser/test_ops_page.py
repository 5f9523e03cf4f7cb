"""The operations page in a real browser: `tally up`, `/ops` in headless Chromium (Debian's
`chromium`, driven by Playwright for Python; no browser download), orders placed, a
poison event dead-lettered and dropped from the page. A screenshot is kept in the test's
temp dir. Skips, saying why, where Chromium or Playwright is missing."""

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import nats
import pytest

from support.tally_process import RunningTally, running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("TALLY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
WAIT_MS = 30_000
pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (scripts/test does)"
)
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's (`apt-get install -y chromium`) or set "
            "TALLY_CHROMIUM to a Chromium binary; .ci/run installs it"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def system() -> Iterator[RunningTally]:
    with running_tally(free_port()) as running:
        yield running


def _place_orders(base: str, count: int) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.post("/stock/SKU-OPS/receive", json={"quantity": 100}).status_code == 202
        line = {"sku": "SKU-OPS", "quantity": 1, "unit_price": "2.00"}
        for n in range(count):
            placed = http.post("/orders", json={"customer_id": f"ops-{n}", "lines": [line]})
            assert placed.status_code == 202, placed.text


async def _publish_poison(nats_url: str) -> None:
    """An OrderPlaced whose body is not JSON: the orders projector dead-letters it."""
    nc = await nats.connect(nats_url)
    try:
        headers = {"Tally-Event-Type": "OrderPlaced", "Tally-Event-Version": "1"}
        await nc.jetstream().publish(f"orders.{uuid.uuid4()}", b"{not json", headers=headers)
    finally:
        await nc.close()


def _lags(page: Page) -> list[str]:
    cells = page.locator("#projections tbody td[data-field=lag]").all_text_contents()
    return [cell.strip() for cell in cells]


def test_the_ops_page_follows_orders_lag_and_dead_letters(
    chromium: str, system: RunningTally, tmp_path: Path
) -> None:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(f"{system.base}/ops")
            expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
            expect(page.locator("#orders-count")).to_have_text("0", timeout=WAIT_MS)

            _place_orders(system.base, 5)
            expect(page.locator("#orders-count")).to_have_text("5", timeout=WAIT_MS)
            page.wait_for_function(
                "() => { const lags = [...document.querySelectorAll("
                "'#projections tbody td[data-field=lag]')].map((td) => td.textContent);"
                " return lags.length === 2 && lags.every((lag) => lag === '0'); }",
                timeout=WAIT_MS,
            )
            assert _lags(page) == ["0", "0"]
            expect(page.locator("#breaker")).to_have_text("closed", timeout=WAIT_MS)

            with ThreadPoolExecutor(1) as thread:  # Playwright's loop runs in this one
                thread.submit(asyncio.run, _publish_poison(system.nats_url())).result()
            letter = page.locator("#dead-letters tbody tr")
            expect(letter).to_have_count(1, timeout=WAIT_MS)
            expect(letter.locator("td[data-field=type]")).to_have_text("OrderPlaced")
            expect(page.locator("#dead-count")).to_have_text("1", timeout=WAIT_MS)
            page.screenshot(path=str(tmp_path / "ops.png"), full_page=True)

            letter.locator("button[data-action=drop]").click()
            expect(page.locator("#action")).to_contain_text("dropped", timeout=WAIT_MS)
            expect(letter).to_have_count(0, timeout=WAIT_MS)
            expect(page.locator("#dead-count")).to_have_text("0", timeout=WAIT_MS)
            page.screenshot(path=str(tmp_path / "ops-after-drop.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "ops.png").stat().st_size > 10_000
