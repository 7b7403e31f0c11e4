"""The dashboard in a real headless Chromium (Debian's), over a lake fed by a real sink from the test broker.

Chromium comes from the system (`/usr/bin/chromium`), never from `playwright install`.
Screenshots are kept in the artifacts folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.fixtures_dashboard import LivePipeline, live_pipeline  # noqa: F401

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The first series colour of charts.js: a single-series chart draws in it.
BLUE = (37, 99, 235)

# Pixels of one colour on a panel's canvas: proof that uPlot drew the series, not just axes.
COUNT_COLOUR = """([panel, r, g, b]) => {
  const canvas = document.querySelector(`[data-panel="${panel}"] canvas`);
  if (!canvas) return -1;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    const near = Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40;
    if (near && data[i + 3] > 0) n++;
  }
  return n;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = require_tool("chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _panel_text(page: Any, panel: str) -> str:
    return str(page.locator(f'[data-panel="{panel}"] .body').inner_text())


def test_stock_dashboard_draws_live_charts_that_change_without_reload(
    page: Any,
    live_pipeline: LivePipeline,
    artifacts_dir: Path,
) -> None:
    page.goto(f"{live_pipeline.url}/dashboards/stocks")
    for panel in ("price", "rate", "volume", "latest", "events-per-second"):
        page.wait_for_selector(f'[data-panel="{panel}"][data-state="ok"]', timeout=20_000)
    # Charts drew their series (canvas pixels of the series colour), the table and the number show data.
    assert page.evaluate(COUNT_COLOUR, ["rate", *BLUE]) > 200
    assert page.evaluate(COUNT_COLOUR, ["volume", *BLUE]) > 200
    assert page.locator('[data-panel="price"] canvas').count() >= 1
    latest_rows = page.locator('[data-panel="latest"] tbody tr')
    assert latest_rows.count() >= 10  # 600 ticks over 48 symbols: nearly all of them traded
    assert float(page.locator('[data-panel="events-per-second"] .big-number').get_attribute("data-value")) > 0
    assert "data landed" in page.locator('[data-panel="latest"] .fresh').inner_text()

    # New events land: the panels change in place, pushed by the server; the page is not reloaded.
    page.evaluate("window.__notReloaded = true")
    before_ticks = _sum_ticks(page)
    before_updates = int(page.locator('[data-panel="latest"]').get_attribute("data-updates"))
    live_pipeline.produce(900, rate=150)
    page.wait_for_function(
        "([before]) => Number(document.querySelector('[data-panel=\"latest\"]').dataset.updates) > before",
        arg=[before_updates],
        timeout=20_000,
    )
    page.wait_for_function(
        """([expected]) => [...document.querySelectorAll('[data-panel="latest"] tbody tr')]
             .reduce((sum, tr) => sum + Number(tr.children[4].textContent.replace(/,/g, '')), 0) === expected""",
        arg=[live_pipeline.produced],
        timeout=20_000,
    )
    assert _sum_ticks(page) == before_ticks + 900 == 1500
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=str(artifacts_dir / "dashboard-stocks.png"), full_page=True)


def _sum_ticks(page: Any) -> int:
    # The `ticks_15m` column of the latest-prices table, summed over symbols.
    cells = page.locator('[data-panel="latest"] tbody tr td:nth-child(5)').all_inner_texts()
    return sum(int(c.replace(",", "")) for c in cells)


def test_query_page_runs_sql_shows_rows_and_charts_them(
    page: Any,
    live_pipeline: LivePipeline,
    artifacts_dir: Path,
) -> None:
    page.goto(f"{live_pipeline.url}/query")
    page.wait_for_selector(f'#tables a:text("{live_pipeline.table}")')
    page.fill(
        "#sql",
        f"SELECT symbol, count(*) AS ticks, sum(volume) AS volume FROM {live_pipeline.table} "
        "GROUP BY symbol ORDER BY symbol",
    )
    page.click("#run")
    page.wait_for_selector("#results table tbody tr")
    rows = page.locator("#results tbody tr")
    assert rows.count() == len(page.locator("#results tbody tr td:first-child").all_inner_texts())
    total = sum(int(t.replace(",", "")) for t in page.locator("#results tbody tr td:nth-child(2)").all_inner_texts())
    assert total == live_pipeline.produced
    assert "rows in" in page.locator("#status").inner_text()

    page.click("#chart")
    page.wait_for_selector("#query-chart canvas")
    page.screenshot(path=str(artifacts_dir / "dashboard-query.png"), full_page=True)

    page.fill("#sql", f"SELECT no_such_column FROM {live_pipeline.table}")
    page.click("#run")
    page.wait_for_selector("#query-error:not([hidden])")
    assert "no_such_column" in page.locator("#query-error").inner_text()


def test_pipeline_page_shows_the_topic_landed_and_its_lag(
    page: Any,
    live_pipeline: LivePipeline,
    artifacts_dir: Path,
) -> None:
    page.goto(f"{live_pipeline.url}/pipeline")
    row = page.locator(f'tr.topic-row[data-topic="{live_pipeline.topic}"]')
    row.wait_for(timeout=20_000)
    cells = row.locator("td").all_inner_texts()
    # topic, messages in Kafka, produced/s, table, rows landed, landed/s, lag, ...
    assert cells[0] == live_pipeline.topic
    assert cells[1].replace(",", "") == str(live_pipeline.produced)
    assert cells[3] == f"default.{live_pipeline.table}"
    assert cells[4].replace(",", "") == str(live_pipeline.produced)
    assert cells[6] == "0"
    assert page.locator("#stat-broker .value").inner_text() == "up"
    # The cluster's health: the one test broker up, nothing under-replicated or offline, acks=all writes.
    assert page.locator("#stat-brokers .value").inner_text() == "1"
    assert page.locator("#stat-under-replicated .value").inner_text() == "0"
    assert page.locator("#stat-offline .value").inner_text() == "0"
    assert page.locator("#stat-writable .value").inner_text() == "yes"
    assert page.locator(f'#tables-table tr[data-table="{live_pipeline.table}"]').count() == 1
    page.screenshot(path=str(artifacts_dir / "dashboard-pipeline.png"), full_page=True)
