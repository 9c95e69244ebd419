"""The chart in a real browser (Debian's Chromium driven by playwright), with no network."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from funnel_anomalies import chart_site, exports, reports

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


class OpenedPage:
    """A page on a chart or index file that records errors, dialogs and any request off
    the disk; a chart page is waited for until plotly has drawn it."""

    def __init__(self, browser, path: Path, is_chart: bool = True):
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
        if is_chart:
            self.wait_for_chart()

    def wait_for_chart(self) -> None:
        self.page.wait_for_function(
            "() => { const gd = document.querySelector('.js-plotly-plot');"
            " return gd && gd._fullLayout; }"
        )

    def shops(self) -> list[str]:
        """The index's shops, as its links show them."""
        return self.evaluate(
            "() => [...document.querySelectorAll('tbody a')].map(a => a.textContent)"
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


def _chart_div(opened: OpenedPage, script: str):
    return opened.evaluate(
        f"() => {{ const gd = document.querySelector('.js-plotly-plot'); {script} }}"
    )


def test_the_index_lists_the_shops_and_a_link_opens_a_full_hover(browser, incident_run):
    _, labels, out = incident_run
    ios = next(i for i in labels["incidents"] if i["incident_id"] == "A-ios-outage")
    opened = OpenedPage(browser, out / exports.CHART, is_chart=False)
    assert len(opened.shops()) == 3
    opened.page.get_by_role("link", name=ios["shop"], exact=True).click()
    opened.wait_for_chart()
    traces = _chart_div(opened, "return gd.data.map(t => t.meta);")
    assert {trace["shop"] for trace in traces} == {ios["shop"]}
    lines = [t for t in traces if "direction" not in t]
    assert len(lines) == 5 * 4  # band upper, band lower, expected, events
    markers = [t for t in traces if "direction" in t]
    assert {m["direction"] for m in markers} == {"positive", "negative"}

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


def test_a_shop_page_opens_on_its_last_14_days_and_shows_all_on_a_click(browser, incident_run):
    _, _, out = incident_run
    page = sorted((out / exports.CHART_FOLDER).glob("*.html"))[0]
    opened = OpenedPage(browser, page)
    shown = _chart_div(opened, "return gd._fullLayout.xaxis.range;")
    first, last = (pd.Timestamp(value) for value in shown)
    assert pd.Timedelta(days=14) <= last - first <= pd.Timedelta(days=14, hours=2)
    opened.page.locator(".rangeselector .button", has_text="all").click()
    opened.page.wait_for_timeout(300)
    first_all, last_all = (
        pd.Timestamp(value) for value in _chart_div(opened, "return gd._fullLayout.xaxis.range;")
    )
    assert last_all - first_all >= pd.Timedelta(days=27)
    assert opened.errors == [] and opened.off_disk == []


def test_the_menu_switches_the_metric(browser, incident_run):
    _, _, out = incident_run
    page = sorted((out / exports.CHART_FOLDER).glob("*.html"))[1]
    opened = OpenedPage(browser, page)
    opened.page.locator(".updatemenu-header").nth(0).click()
    opened.page.locator(".updatemenu-dropdown-button", has_text="product views").click()
    shown = _chart_div(opened, "return gd.data.filter(t => t.visible === true).map(t => t.meta);")
    assert {t["metric"] for t in shown} == {"product_views"}
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
            "direction": "negative",
            "start_at": hours[2],
            "end_at": hours[2],
            "metrics": [["landing_page_views"]] * len(shops),
            "scenario": "D",
            "root_cause": [f"{shop} fell, driven by {utm_value}" for shop in shops],
            "impact": -80.0,
        }
    )
    return {"series": series, "anomalies": anomalies, "groups": groups}


def _site_of(frames: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    """The chart of `frames` written into `folder`: each shop's page."""
    chart_site.write_frames(frames, folder)
    shops = sorted(frames["series"]["shop"].unique())
    names = chart_site.page_names(shops)
    return {shop: folder / chart_site.FOLDER / names[shop] for shop in shops}


def test_text_from_the_data_is_shown_and_never_run(browser, tmp_path):
    evil_shop = "</script><script>alert(2)</script>"
    _site_of(_frames_for([evil_shop], INJECTION), tmp_path)
    index = OpenedPage(browser, tmp_path / chart_site.INDEX, is_chart=False)
    assert index.shops() == [evil_shop]
    assert f"driven by {INJECTION}" in index.evaluate("() => document.body.textContent")
    index.page.get_by_role("link", name=evil_shop).click()
    index.wait_for_chart()
    hover = index.hover(evil_shop, "landing_page_views", "negative")
    assert f"root cause: utm_source={INJECTION}" in hover
    assert index.evaluate("() => document.querySelectorAll('img').length") == 0
    assert index.dialogs == []
    assert index.errors == []


def test_markup_in_shop_names_and_values_stays_text_everywhere(browser, tmp_path):
    shops = sorted([LINK_SHOP, STYLED_SHOP])
    pages = _site_of(_frames_for(shops), tmp_path)
    index = OpenedPage(browser, tmp_path / chart_site.INDEX, is_chart=False)
    assert sorted(index.shops()) == shops
    assert index.evaluate(
        """() => ({
            links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
            styled: document.querySelectorAll('[style]').length,
        })"""
    ) == {
        "links": [f"{chart_site.FOLDER}/{pages[shop].name}" for shop in index.shops()],
        "styled": 0,
    }

    for shop in shops:
        opened = OpenedPage(browser, pages[shop])

        def rendered_markup(opened: OpenedPage = opened) -> dict:
            return opened.evaluate(
                """() => ({
                    links: document.querySelectorAll('svg a').length,
                    styled: [...document.querySelectorAll('svg tspan[style]')]
                        .filter(t => /60px|red/.test(t.getAttribute('style'))).length,
                    title: document.querySelector('.gtitle').textContent,
                })"""
            )

        shown = rendered_markup()
        assert shown == {"links": 0, "styled": 0, "title": f"{shop}: landing page views"}
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
    assert index.errors == [] and index.dialogs == [] and index.off_disk == []


def _population_frames(shops: int, weeks: int) -> dict[str, pd.DataFrame]:
    """`shops` shops of five metrics over `weeks` weeks, each with one drop of its landing
    page views two days before its end: the chart's input at the size of a large run."""
    rng = np.random.default_rng(3)
    hours = pd.date_range("2026-01-05", periods=weeks * 7 * 24, freq="h")
    names = [f"shop-{number:04d}.example" for number in range(shops)]
    metrics = list(reports.METRIC_ORDER)
    expected = 50 + 40 * np.sin(np.arange(len(hours)) * 2 * np.pi / 24)
    series = pd.DataFrame(
        {
            "shop": np.repeat(names, len(metrics) * len(hours)),
            "metric": np.tile(np.repeat(metrics, len(hours)), shops),
            "hour_at": np.tile(hours, shops * len(metrics)),
            "expected": np.tile(expected, shops * len(metrics)),
        }
    )
    series["actual"] = rng.poisson(series["expected"])
    series["expected_lower"] = series["expected"] * 0.7
    series["expected_upper"] = series["expected"] * 1.3
    drop_at = hours[-48]
    anomalies = pd.DataFrame(
        {
            "shop": names,
            "metric": "landing_page_views",
            "hour_at": drop_at,
            "direction": "negative",
            "actual": 5,
            "expected": 80.0,
            "pct_diff": -93.75,
            "primary_element": "device=iOS",
            "root_cause_elements": "device=iOS",
            "top_contributors": [[{"dimension": "device", "value": "iOS", "contribution": 0.9}]]
            * shops,
        }
    )
    groups = pd.DataFrame(
        {
            "group_id": range(1, shops + 1),
            "shop": names,
            "direction": "negative",
            "start_at": drop_at,
            "end_at": drop_at,
            "metrics": [["landing_page_views"]] * shops,
            "scenario": "D",
            "root_cause": "landing page views fell, driven by iOS (device)",
            "impact": -75.0,
        }
    )
    return {"series": series, "anomalies": anomalies, "groups": groups}


def test_at_300_shops_the_index_links_to_small_shop_pages_that_hover(browser, tmp_path):
    pages = _site_of(_population_frames(shops=300, weeks=8), tmp_path)
    assert len(pages) == 300
    largest = max(page.stat().st_size for page in pages.values())
    assert largest < 3_000_000, largest
    index = OpenedPage(browser, tmp_path / chart_site.INDEX, is_chart=False)
    listed = index.shops()
    assert sorted(listed) == sorted(pages)
    shop = listed[150]
    index.page.get_by_role("link", name=shop, exact=True).click()
    index.wait_for_chart()
    assert index.evaluate("() => document.querySelector('.gtitle').textContent") == (
        f"{shop}: landing page views"
    )
    hover = index.hover(shop, "landing_page_views", "negative")
    assert "root cause: device=iOS" in hover and "difference: -93.8%" in hover, hover
    index.page.get_by_role("link", name="all shops").click()
    assert len(index.shops()) == 300
    assert index.errors == [] and index.dialogs == [] and index.off_disk == []
