"""`make bench`, the chart: the sizes of a published run's index, shop pages and shared
plotly.js, and how long headless Chromium takes to draw the index and the largest page."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from funnel_anomalies import chart_site

CHROMIUM = Path("/usr/bin/chromium")
LOADS = 3


@dataclass(frozen=True)
class ChartFigures:
    pages: int
    index_mb: float
    median_page_mb: float
    largest_page_mb: float
    script_mb: float
    index_load_seconds: float | None  # None: no Chromium on this machine
    page_load_seconds: float | None


def _median_load(browser, path: Path, drawn: str) -> float:
    loads = []
    for _ in range(LOADS):
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        started = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_function(drawn)
        loads.append(time.perf_counter() - started)
        page.close()
    return statistics.median(loads)


def measure(out: Path) -> ChartFigures:
    """The chart published in `out`."""
    index = out / chart_site.INDEX
    folder = out / chart_site.FOLDER
    pages = [page for page in folder.glob("*.html")]
    sizes = sorted(page.stat().st_size / 1e6 for page in pages)
    largest = max(pages, key=lambda page: page.stat().st_size)
    index_load = page_load = None
    if CHROMIUM.exists():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--headless", "--disable-gpu"],
            )
            index_load = _median_load(browser, index, "() => document.querySelector('tbody tr')")
            page_load = _median_load(
                browser,
                largest,
                "() => { const gd = document.querySelector('.js-plotly-plot');"
                " return gd && gd._fullLayout && document.querySelector('.scatterlayer'); }",
            )
            browser.close()
    return ChartFigures(
        pages=len(pages),
        index_mb=index.stat().st_size / 1e6,
        median_page_mb=statistics.median(sizes),
        largest_page_mb=sizes[-1],
        script_mb=(folder / chart_site.PLOTLY_SCRIPT).stat().st_size / 1e6,
        index_load_seconds=index_load,
        page_load_seconds=page_load,
    )


TABLE_HEAD = (
    "| shop pages | index (MB) | page, median (MB) | page, largest (MB) | plotly.js (MB) "
    "| index drawn (s) | largest page drawn (s) |\n|---|---|---|---|---|---|---|"
)


def format_row(figures: ChartFigures) -> str:
    def seconds(value: float | None) -> str:
        return "no Chromium" if value is None else f"{value:.2f}"

    return (
        f"| {figures.pages:,} | {figures.index_mb:.2f} | {figures.median_page_mb:.2f} "
        f"| {figures.largest_page_mb:.2f} | {figures.script_mb:.1f} "
        f"| {seconds(figures.index_load_seconds)} | {seconds(figures.page_load_seconds)} |"
    )
