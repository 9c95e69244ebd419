"""The chart in a real browser (Debian's Chromium driven by playwright), with no network."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from funnel_anomalies import chart, exports

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# As the machine's own probe starts it: headless, no sandbox (root), and no background
# connections, which the closed network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INJECTION = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM}: `make test` installs it where it runs as root",
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class OpenedChart:
    """A page on a chart file that records errors, dialogs and any request off the disk."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1400, "height": 800})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.off_disk: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss())
        )
        self.page.route("**/*", self._only_files)
        self.page.goto(path.as_uri())
        self.page.wait_for_function(
            "() => { const gd = document.querySelector('.js-plotly-plot');"
            " return gd && gd._fullLayout; }"
        )

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _only_files(self, route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.off_disk.append(route.request.url)
            route.abort()

    def evaluate(self, script: str):
        return self.page.evaluate(script)

    def hover(
        self, shop: str, metric: str, direction: str, point: int = 0, at: str | None = None
    ) -> str:
        """Hover the anomaly marker of a trace: its `point`-th, or the one at hour `at`."""
        self.page.evaluate(
            """([shop, metric, direction, point, at]) => {
                const gd = document.querySelector('.js-plotly-plot');
                const curve = gd.data.findIndex(t => t.meta.shop === shop
                    && t.meta.metric === metric && t.meta.direction === direction);
                const x = gd.data[curve].x.map(value => String(value).replace('T', ' '));
                const index = at === null ? point : x.findIndex(value => value.startsWith(at));
                Plotly.Fx.hover(gd, [{curveNumber: curve, pointNumber: index}]);
            }""",
            [shop, metric, direction, point, at],
        )
        self.page.wait_for_timeout(200)
        return self.evaluate("() => document.querySelector('.hoverlayer').textContent")


def test_the_built_chart_opens_offline_with_its_traces_and_a_full_hover(browser, incident_run):
    _, labels, out = incident_run
    opened = OpenedChart(browser, out / exports.CHART)
    traces = opened.evaluate(
        "() => document.querySelector('.js-plotly-plot').data.map(t => t.meta)"
    )
    shops = {trace["shop"] for trace in traces}
    assert len(shops) == 3
    lines = [t for t in traces if "direction" not in t]
    assert len(lines) == 3 * 5 * 4  # band upper, band lower, expected, events
    markers = [t for t in traces if "direction" in t]
    assert {m["direction"] for m in markers} == {"positive", "negative"}

    ios = next(i for i in labels["incidents"] if i["incident_id"] == "A-ios-outage")
    hover = opened.hover(ios["shop"], "landing_page_views", "negative", at=ios["start_at"][:13])
    for field in (
        "UTC",
        "events:",
        "expected:",
        "difference:",
        "root cause: device=iOS",
        "all root-cause elements: device=iOS",
        "single values' contributions:",
    ):
        assert field in hover, (field, hover)
    assert opened.errors == [] and opened.off_disk == []
    ARTIFACTS.mkdir(exist_ok=True)
    opened.page.screenshot(path=str(ARTIFACTS / "anomaly_chart.png"))


def test_the_menus_switch_metric_and_shop(browser, incident_run):
    _, _, out = incident_run
    opened = OpenedChart(browser, out / exports.CHART)
    opened.page.locator(".updatemenu-header").nth(0).click()
    opened.page.locator(".updatemenu-dropdown-button", has_text="product views").click()
    opened.page.locator(".updatemenu-header").nth(1).click()
    opened.page.locator(".updatemenu-dropdown-button").nth(2).click()
    shown = opened.evaluate(
        "() => document.querySelector('.js-plotly-plot').data"
        ".filter(t => t.visible === true).map(t => t.meta)"
    )
    assert {t["metric"] for t in shown} == {"product_views"}
    assert len({t["shop"] for t in shown}) == 1
    title = opened.evaluate("() => document.querySelector('.gtitle').textContent")
    assert title.endswith("product views")
    assert opened.errors == []


LINK_SHOP = '<a href="https://pay.example">PAY NOW</a> "quoted" shop'
STYLED_SHOP = '<span style="font-size:60px;color:red">PAY NOW</span> & co'
STYLED_UTM = '<b style="color:red">urgent</b>'


def _frames_for(shops: list[str], utm_value: str = STYLED_UTM) -> dict[str, pd.DataFrame]:
    """One 80% drop of each shop's landing page views, driven by `utm_value`."""
    hours = pd.date_range("2026-01-01", periods=6, freq="h")
    series = pd.concat(
        pd.DataFrame(
            {
                "shop": shop,
                "metric": "landing_page_views",
                "hour_at": hours,
                "actual": [100, 100, 20, 100, 100, 100],
                "expected": [100.0] * 6,
                "expected_lower": [80.0] * 6,
                "expected_upper": [120.0] * 6,
            }
        )
        for shop in shops
    )
    contributor = {"dimension": "utm_source", "value": utm_value, "contribution": 0.9}
    anomalies = pd.DataFrame(
        {
            "shop": shops,
            "metric": "landing_page_views",
            "hour_at": hours[2],
            "direction": "negative",
            "actual": 20,
            "expected": 100.0,
            "pct_diff": -80.0,
            "primary_element": f"utm_source={utm_value}",
            "root_cause_elements": f"utm_source={utm_value}",
            "top_contributors": [[contributor]] * len(shops),
        }
    )
    groups = pd.DataFrame(
        {
            "group_id": range(1, len(shops) + 1),
            "shop": shops,
            "start_at": hours[2],
            "end_at": hours[2],
            "metrics": [["landing_page_views"]] * len(shops),
            "scenario": "D",
            "root_cause": [f"{shop} fell, driven by {utm_value}" for shop in shops],
        }
    )
    return {"series": series, "anomalies": anomalies, "groups": groups}


def test_text_from_the_data_is_shown_and_never_run(browser, tmp_path):
    evil_shop = "</script><script>alert(2)</script>"
    figure = chart.build_figure(_frames_for([evil_shop], INJECTION))
    path = tmp_path / "chart.html"
    path.write_text(chart.chart_html(figure))
    opened = OpenedChart(browser, path)
    hover = opened.hover(evil_shop, "landing_page_views", "negative")
    assert f"root cause: utm_source={INJECTION}" in hover
    assert opened.evaluate("() => document.querySelectorAll('img').length") == 0
    assert opened.dialogs == []
    assert opened.errors == []


def test_markup_in_shop_names_and_values_stays_text_everywhere(browser, tmp_path):
    shops = sorted([LINK_SHOP, STYLED_SHOP])
    path = tmp_path / "chart.html"
    path.write_text(chart.chart_html(chart.build_figure(_frames_for(shops))))
    opened = OpenedChart(browser, path)

    def rendered_markup() -> dict:
        return opened.evaluate(
            """() => ({
                links: document.querySelectorAll('svg a').length,
                styled: [...document.querySelectorAll('svg tspan[style]')]
                    .filter(t => /60px|red/.test(t.getAttribute('style'))).length,
                title: document.querySelector('.gtitle').textContent,
            })"""
        )

    for index, shop in enumerate(shops):
        opened.page.locator(".updatemenu-header").nth(1).click()
        opened.page.locator(".updatemenu-dropdown-button").nth(index).click()
        shown = rendered_markup()
        assert shown == {"links": 0, "styled": 0, "title": f"{shop}: landing page views"}
        menu = opened.evaluate(
            "() => [...document.querySelectorAll('.updatemenu-header-group .updatemenu-item-text')]"
            ".map(t => t.textContent)"
        )
        assert shop in menu, menu
        hover = opened.hover(shop, "landing_page_views", "negative")
        assert f"root cause: utm_source={STYLED_UTM}" in hover
        assert rendered_markup()["links"] == rendered_markup()["styled"] == 0
        annotation = opened.page.locator(".annotation").first
        annotation.hover()
        opened.page.wait_for_timeout(200)
        label = opened.evaluate("() => document.querySelector('.hoverlayer').textContent")
        assert f"{shop} fell, driven by {STYLED_UTM}" in label, label
        assert rendered_markup()["links"] == rendered_markup()["styled"] == 0
    legend = opened.evaluate(
        "() => [...document.querySelectorAll('.legendtext')].map(t => t.textContent)"
    )
    assert set(legend) <= {"expected band", "expected", "events", "anomaly, up", "anomaly, down"}
    assert opened.errors == [] and opened.dialogs == [] and opened.off_disk == []
