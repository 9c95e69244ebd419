"""The index of the shops' charts: every shop with its latest incidents, largest first,
each shop's name a link to its page. Plain HTML, every string from the data escaped.

An incident is an anomaly group, ranked by its impact (chart.read_chart_data): the events
it gained or lost. Incidents are the latest when they end in the shop's last
OPENING_DAYS days, the span its page opens on.
"""

from __future__ import annotations

import html

import pandas as pd

from funnel_anomalies.chart import OPENING_DAYS

INCIDENTS_LISTED = 3


def _escaped(value) -> str:
    # A NUL is dropped, as in every published file: browsers and editors handle it badly.
    return html.escape(str(value).replace("\x00", ""), quote=True)


def latest_incidents(groups: pd.DataFrame, last_hours: pd.Series) -> pd.DataFrame:
    """Every group ending in its shop's last OPENING_DAYS days (before its shop's hour in
    `last_hours`), with its impact, ordered by shop, then impact (largest first), then time
    (latest first)."""
    incidents = groups
    if incidents.empty:
        return incidents.assign(size=incidents["impact"])
    window_start = incidents["shop"].map(last_hours) - pd.Timedelta(days=OPENING_DAYS)
    incidents = incidents[incidents["end_at"] > window_start]
    incidents = incidents.assign(size=incidents["impact"].abs())
    return incidents.sort_values(
        ["shop", "size", "start_at"], ascending=[True, False, False]
    ).reset_index(drop=True)


def _incident_line(incident) -> str:
    span = f"{incident.start_at:%Y-%m-%d %H:00} to {incident.end_at:%H:00} UTC"
    return (
        f'<li><span class="impact {incident.direction}">{incident.impact:+,.0f} events</span> '
        f'<span class="scenario">{_escaped(incident.scenario)}</span> {span}: '
        f"{_escaped(incident.root_cause)}</li>"
    )


def index_html(frames: dict[str, pd.DataFrame], pages: dict[str, str]) -> str:
    """The index page; `pages` maps each shop to its page's path, relative to the index."""
    last_hours = frames["series"].groupby("shop")["hour_at"].max()
    incidents = latest_incidents(frames["groups"], last_hours)
    by_shop = {shop: rows for shop, rows in incidents.groupby("shop", sort=False)}

    def order(shop: str) -> tuple:
        rows = by_shop.get(shop)
        if rows is None:
            return (1, 0.0, 0, shop)
        return (0, -rows["size"].iloc[0], -rows["start_at"].max().value, shop)

    rows = []
    for shop in sorted(pages, key=order):
        found = by_shop.get(shop)
        if found is None:
            listed = '<span class="quiet">no incidents</span>'
            count = 0
        else:
            count = len(found)
            lines = "".join(
                _incident_line(row) for row in found.head(INCIDENTS_LISTED).itertuples()
            )
            more = count - INCIDENTS_LISTED
            listed = f"<ul>{lines}</ul>" + (
                f'<span class="quiet">and {more} more</span>' if more > 0 else ""
            )
        last = last_hours.get(shop)
        rows.append(
            f'<tr data-shop="{_escaped(shop.lower())}">'
            f'<td><a href="{_escaped(pages[shop])}">{_escaped(shop)}</a></td>'
            f"<td>{'' if last is None else f'{last:%Y-%m-%d %H:00}'}</td>"
            f'<td class="count">{count}</td><td>{listed}</td></tr>'
        )
    if not rows:
        rows.append(f'<tr><td colspan="4">{NO_SERIES}</td></tr>')
    return INDEX_PAGE.format(shops=len(pages), days=OPENING_DAYS, rows="\n".join(rows))


# A run whose every event was set aside has no shop to chart.
NO_SERIES = "no hourly series in this run: see run_summary.json"


INDEX_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Funnel anomalies by shop</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #2c3e50; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: 0.35em 0.6em;
  border-bottom: 1px solid #ddd; }}
ul {{ margin: 0; padding-left: 1.1em; }}
.impact {{ font-weight: 600; }}
.impact.negative {{ color: #d73027; }}
.impact.positive {{ color: #1a9850; }}
.scenario {{ border: 1px solid #999; border-radius: 3px; padding: 0 0.3em; }}
.quiet {{ color: #7f8c8d; }}
.count {{ text-align: right; }}
</style>
</head>
<body>
<h1>Funnel anomalies by shop</h1>
<p>{shops} shop(s). Each shop's incidents (anomaly groups) that end in its last {days} days,
largest first: impact is the events gained or lost against the expectation. A shop's name
opens its chart.</p>
<p><label>Filter shops: <input id="shop-filter" type="search"></label></p>
<table>
<thead><tr><th>shop</th><th>last hour (UTC)</th><th>incidents</th>
<th>latest incidents</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<script>
document.getElementById('shop-filter').addEventListener('input', function (event) {{
  var wanted = event.target.value.toLowerCase();
  document.querySelectorAll('tbody tr').forEach(function (row) {{
    row.hidden = row.dataset.shop.indexOf(wanted) === -1;
  }});
}});
</script>
</body>
</html>
"""
