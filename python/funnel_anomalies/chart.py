"""A shop's interactive anomaly chart: a plotly Figure built from query results, written as
a page that loads plotly.js from a file beside it (chart_site.py writes the pages, the
script and the index; no network is needed).

Per metric: the actual events, the expected line inside its band, anomalous
hours as green (up) or red (down) markers whose hover tells the counts, the expectation,
the % difference and the contributors, and each anomaly group shaded over its span with
its scenario letter. A menu picks the metric (landing page views first); the page opens
on the last OPENING_DAYS days, the whole range a click away.
Every string that comes from the data is escaped before plotly sees it (`_text`), so a
utm value such as <img src=x onerror=alert(1)> or a shop named <a href=...>PAY NOW</a> is
shown as text in titles, menus, hovers and annotations, and runs or links nothing.
"""

from __future__ import annotations

import html

import duckdb
import pandas as pd
import plotly.graph_objects as go

from funnel_anomalies import warehouse
from funnel_anomalies.reports import METRIC_ORDER

POSITIVE_COLOR = "#1a9850"
NEGATIVE_COLOR = "#d73027"
ACTUAL_COLOR = "#2c3e50"
EXPECTED_COLOR = "#7f8c8d"
BAND_COLOR = "rgba(127, 140, 141, 0.2)"
OPENING_DAYS = 14
SCENARIO_SHADE = {"A": "#fdae61", "B": "#abd9e9", "C": "#d9d9d9", "D": "#fee090"}


def _text(value) -> str:
    """Data as plotly text: plotly reads `<...>` as its own markup (links, styles) and
    decodes `&amp;`, `&lt;`, `&gt;` and numeric entities but not `&quot;`, so exactly those
    three characters are escaped."""
    return html.escape(str(value), quote=False)


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def _breakdown(contributors) -> tuple[str, str]:
    """The top contributor and the breakdown of contributions, escaped for the hover."""
    if contributors is None or len(contributors) == 0:
        return "no clear contributor", "none"
    parts = []
    for contributor in contributors:
        name = f"{contributor['dimension']}={contributor['value']}"
        parts.append(f"{_text(name)} {100 * contributor['contribution']:.0f}%")
    top = contributors[0]
    lead = f"{top['dimension']}={top['value']}"
    return _text(lead), "<br>   ".join(parts)


def read_chart_data(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The three frames the chart is drawn from."""
    series = con.execute(
        """
        select shop, metric, hour_at, actual, expected, expected_lower, expected_upper
        from fct_anomalies
        where dimension = 'total'
        order by shop, metric, hour_at
        """
    ).df()
    anomalies = con.execute(
        """
        select shop, metric, hour_at, direction, actual, expected, pct_diff,
            primary_element, root_cause_elements, top_contributors
        from fct_anomaly_hours
        order by shop, metric, hour_at
        """
    ).df()
    # A group's impact: the events it gained or lost against the expectation over its
    # anomalous hours, summed over its metrics, so that one scale ranks every shop's.
    groups = con.execute(
        f"""
        with impacts as (
            select group_id, sum(impact) as impact,
            from ({warehouse.GROUP_METRIC_IMPACTS})
            group by group_id
        )
        select
            groups.group_id, groups.shop, groups.direction, groups.start_at, groups.end_at,
            groups.metrics, groups.scenario, groups.root_cause,
            coalesce(impacts.impact, 0)::double as impact,
        from fct_anomaly_groups as groups
        left join impacts using (group_id)
        order by groups.start_at, groups.shop, groups.direction
        """
    ).df()
    return {"series": series, "anomalies": anomalies, "groups": groups}


def _anomaly_trace(rows: pd.DataFrame, direction: str, meta: dict) -> go.Scatter:
    tops, breakdowns = zip(*(_breakdown(c) for c in rows["top_contributors"]), strict=True)
    # The localizer's elements, each a value or a combination (`device=iOS&utm_source=fbig`).
    primary = [
        "no clear contributor" if pd.isna(element) else _text(element)
        for element in rows["primary_element"]
    ]
    element_sets = [
        "none" if pd.isna(elements) else _text(elements) for elements in rows["root_cause_elements"]
    ]
    pct = ["n/a" if pd.isna(value) else f"{value:+.1f}%" for value in rows["pct_diff"]]
    return go.Scatter(
        x=rows["hour_at"],
        y=rows["actual"],
        mode="markers",
        name="anomaly, up" if direction == "positive" else "anomaly, down",
        marker={
            "color": POSITIVE_COLOR if direction == "positive" else NEGATIVE_COLOR,
            "size": 10,
            "symbol": "triangle-up" if direction == "positive" else "triangle-down",
            "line": {"width": 1, "color": "white"},
        },
        customdata=list(
            zip(rows["expected"], pct, primary, breakdowns, tops, element_sets, strict=True)
        ),
        hovertemplate=(
            "<b>%{x|%Y-%m-%d %H:00} UTC</b><br>"
            "events: %{y:,.0f}<br>"
            "expected: %{customdata[0]:,.1f}<br>"
            "difference: %{customdata[1]}<br>"
            "root cause: %{customdata[2]}<br>"
            "all root-cause elements: %{customdata[5]}<br>"
            "single values' contributions:<br>   %{customdata[3]}"
            "<extra></extra>"
        ),
        meta=meta,
    )


def _series_traces(rows: pd.DataFrame, meta: dict, visible: bool) -> list[go.Scatter]:
    """The expected band, the expected line and the events of one metric."""
    return [
        go.Scatter(
            x=rows["hour_at"],
            y=rows["expected_upper"],
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            visible=visible,
            meta=meta,
        ),
        go.Scatter(
            x=rows["hour_at"],
            y=rows["expected_lower"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=BAND_COLOR,
            name="expected band",
            hoverinfo="skip",
            visible=visible,
            meta=meta,
        ),
        go.Scatter(
            x=rows["hour_at"],
            y=rows["expected"],
            mode="lines",
            name="expected",
            line={"color": EXPECTED_COLOR, "dash": "dot", "width": 1.5},
            hovertemplate="expected %{y:,.1f}<extra></extra>",
            visible=visible,
            meta=meta,
        ),
        go.Scatter(
            x=rows["hour_at"],
            y=rows["actual"],
            mode="lines",
            name="events",
            line={"color": ACTUAL_COLOR, "width": 1.5},
            hovertemplate="%{x|%Y-%m-%d %H:00} UTC<br>events %{y:,.0f}<extra></extra>",
            visible=visible,
            meta=meta,
        ),
    ]


def _group_marks(groups: pd.DataFrame, shown_metric: str) -> tuple[list, list, list]:
    """Each group's shade and scenario letter, once per metric it touches."""
    shapes, annotations, shape_keys = [], [], []
    for group in groups.itertuples():
        for metric in group.metrics:
            visible = metric == shown_metric
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "x0": group.start_at - pd.Timedelta(minutes=30),
                    "x1": group.end_at + pd.Timedelta(minutes=30),
                    "fillcolor": SCENARIO_SHADE[group.scenario],
                    "opacity": 0.35,
                    "line": {"width": 0},
                    "layer": "below",
                    "visible": visible,
                }
            )
            annotations.append(
                {
                    "x": group.start_at,
                    "y": 1,
                    "xref": "x",
                    "yref": "paper",
                    "yanchor": "bottom",
                    "text": f"<b>{group.scenario}</b>",
                    "showarrow": False,
                    "visible": visible,
                    "hovertext": _text(group.root_cause or ""),
                }
            )
            shape_keys.append({"metric": metric})
    return shapes, annotations, shape_keys


def build_shop_figure(shop: str, frames: dict[str, pd.DataFrame]) -> go.Figure:
    """The chart of `shop` from its rows of the three frames: a menu picks the metric; it
    opens on the last OPENING_DAYS days, with buttons for those days and for all of them."""
    series, anomalies, groups = frames["series"], frames["anomalies"], frames["groups"]
    metrics = [m for m in METRIC_ORDER if m in set(series["metric"])]
    figure = go.Figure()
    for metric in metrics:
        meta = {"shop": shop, "metric": metric}
        visible = metric == metrics[0]
        figure.add_traces(_series_traces(series[series["metric"] == metric], meta, visible))
        for direction in ("positive", "negative"):
            found = anomalies[
                (anomalies["metric"] == metric) & (anomalies["direction"] == direction)
            ]
            if len(found):
                trace = _anomaly_trace(found, direction, {**meta, "direction": direction})
                trace.visible = visible
                figure.add_trace(trace)
    shapes, annotations, shape_keys = _group_marks(groups, metrics[0])
    last_hour = series["hour_at"].max()
    first_shown = max(series["hour_at"].min(), last_hour - pd.Timedelta(days=OPENING_DAYS))
    shop_label = _text(shop)
    figure.update_layout(
        template="plotly_white",
        title={
            "text": f"{shop_label}: {_label(metrics[0])}",
            "x": 0.01,
            "y": 0.98,
            "yanchor": "top",
        },
        hovermode="closest",
        height=560,
        margin={"t": 130, "l": 60, "r": 20, "b": 50},
        legend={"orientation": "h", "y": -0.12},
        xaxis={
            "title": "hour (UTC)",
            "range": [first_shown, last_hour + pd.Timedelta(hours=1)],
            "rangeslider": {"visible": True, "thickness": 0.06},
            "rangeselector": {
                "x": 0.45,
                "y": 1.12,
                "buttons": [
                    {
                        "count": OPENING_DAYS,
                        "label": f"last {OPENING_DAYS} days",
                        "step": "day",
                        "stepmode": "backward",
                    },
                    {"step": "all", "label": "all"},
                ],
            },
        },
        yaxis={"title": "events per hour", "rangemode": "tozero"},
        shapes=shapes,
        annotations=annotations,
        meta={
            "shape_keys": shape_keys,
            "shop": shop,
            "metrics": metrics,
            "shop_label": shop_label,
        },
        updatemenus=[_menu([_label(m) for m in metrics], x=0.0)],
    )
    return figure


def _menu(labels: list[str], x: float) -> dict:
    # The buttons only record the choice; CHOICE_SCRIPT shows the traces of both menus.
    return {
        "type": "dropdown",
        "active": 0,
        "x": x,
        "xanchor": "left",
        "y": 1.2,
        "yanchor": "top",
        "showactive": True,
        "buttons": [{"label": label, "method": "skip", "args": [None]} for label in labels],
    }


# Runs in the page: on the metric menu, show the chosen metric's traces, shades and
# letters. Plotly passes the figure's div as {plot_id}.
CHOICE_SCRIPT = """
var chart = document.getElementById('{plot_id}');
chart.on('plotly_buttonclicked', function () {
  var keys = chart.layout.meta;
  var metric = keys.metrics[chart.layout.updatemenus[0].active];
  var visible = chart.data.map(function (trace) { return trace.meta.metric === metric; });
  var update = {'title.text': keys.shop_label + ': ' + metric.split('_').join(' ')};
  keys.shape_keys.forEach(function (key, index) {
    var shown = key.metric === metric;
    update['shapes[' + index + '].visible'] = shown;
    update['annotations[' + index + '].visible'] = shown;
  });
  Plotly.update(chart, {visible: visible}, update);
});
"""


def chart_html(figure: go.Figure, plotly_script: str) -> str:
    """A page that loads plotly.js from `plotly_script`, a path beside it: every shop's page
    shares one copy, and nothing is fetched from the network."""
    return figure.to_html(
        include_plotlyjs=plotly_script,
        full_html=True,
        post_script=CHOICE_SCRIPT,
        config={"displaylogo": False, "responsive": True},
    )
