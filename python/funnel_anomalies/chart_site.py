"""The chart as pages: the index (INDEX, in OUT) and, in the FOLDER beside it, one page per
shop and the one copy of plotly.js they all load. A shop's page stays small however many
shops a run has, and the folder opens without a network."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
from plotly.offline import get_plotlyjs

from funnel_anomalies import chart, chart_index

INDEX = "anomaly_chart.html"
FOLDER = "anomaly_charts"
PLOTLY_SCRIPT = "plotly.min.js"
BACK_LINK = f'<p style="font-family: sans-serif"><a href="../{INDEX}">all shops</a></p>'
# File names keep the readable part of a shop's name; case is folded when checking for
# clashes so that the names stay apart on file systems that ignore case.
UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
LONGEST_NAME_PART = 80


def page_names(shops: list[str]) -> dict[str, str]:
    """Each shop's page file: its name made safe, numbered when two would clash."""
    names, taken = {}, set()
    for shop in sorted(shops):
        stem = UNSAFE_IN_FILE_NAME.sub("-", shop).strip("-.")[:LONGEST_NAME_PART] or "shop"
        name, number = f"{stem}.html", 1
        while name.lower() in taken:
            number += 1
            name = f"{stem}-{number}.html"
        taken.add(name.lower())
        names[shop] = name
    return names


def _by_shop(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {shop: rows for shop, rows in frame.groupby("shop", sort=False)}


def shop_page(shop: str, frames: dict[str, pd.DataFrame]) -> str:
    page = chart.chart_html(chart.build_shop_figure(shop, frames), PLOTLY_SCRIPT)
    return page.replace("<body>", "<body>\n" + BACK_LINK, 1)


def write(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """The chart of a built database: its index into `out`, the shops' pages and plotly.js
    into `out / FOLDER`."""
    write_frames(chart.read_chart_data(con), out)


def write_frames(frames: dict[str, pd.DataFrame], out: Path) -> None:
    """The index, pages and script of the chart of `frames` (chart.read_chart_data)."""
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PLOTLY_SCRIPT).write_text(get_plotlyjs(), encoding="utf-8")
    shops = sorted(frames["series"]["shop"].unique())
    names = page_names(shops)
    split = {kind: _by_shop(frame) for kind, frame in frames.items()}
    for shop in shops:
        shop_frames = {kind: split[kind].get(shop, frames[kind].iloc[:0]) for kind in frames}
        (folder / names[shop]).write_text(shop_page(shop, shop_frames), encoding="utf-8")
    pages = {shop: f"{FOLDER}/{name}" for shop, name in names.items()}
    (out / INDEX).write_text(chart_index.index_html(frames, pages), encoding="utf-8")
