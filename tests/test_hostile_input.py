"""Input that looks hostile but is valid: each builds, and what it does is asserted: stray
times set aside and named, a long tail of values folded, hidden files skipped and listed,
odd paths read as the files they name, spreadsheet formulas and NUL made harmless, copies
found by their values, sessions ordered to the nanosecond."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from events_factory import event_rows, generated_week, with_column, write_events
from funnel_anomalies import exports, pipeline

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def build(events, tmp_path: Path):
    """Build `events` into a database and OUT of their own; return (con, summary, out)."""
    report = pipeline.build(events, tmp_path / "wh" / "funnel.duckdb", tmp_path / "out", quiet=True)
    return duckdb.connect(str(report.db), read_only=True), report.summary, tmp_path / "out"


def one_row(table: pa.Table, **values) -> pa.Table:
    """The table's first row with some values replaced, as a table of one row."""
    row = table.slice(0, 1)
    for name, value in values.items():
        row = with_column(row, name, pa.array([value], row.schema.field(name).type))
    return row


@pytest.fixture(scope="module")
def week() -> pa.Table:
    return generated_week()


@pytest.fixture(scope="module")
def week_built(tmp_path_factory, week):
    """The untouched week, built: what a stray event must leave as it is."""
    root = tmp_path_factory.mktemp("week")
    con, summary, _ = build(write_events(root / "events.parquet", week), root)
    hourly = con.execute("select * from fct_hourly_metrics order by all").df()
    con.close()
    return hourly, summary


def counted(con) -> dict[str, int]:
    """Events per accounting outcome, outcomes with none left out."""
    return dict(
        con.execute(
            "select outcome, sum(events)::bigint from fct_event_accounting "
            "group by 1 having sum(events) > 0"
        ).fetchall()
    )


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp).replace(tzinfo=UTC)


# ---- time ----


@pytest.mark.parametrize(
    ("stray_at", "reason"),
    [("2099-12-31T23:59:00", "in_future"), ("1970-01-01T00:00:00", "outside_span")],
)
def test_one_stray_timestamp_is_set_aside_and_named(tmp_path, week, week_built, stray_at, reason):
    stray = one_row(week, event_name="checkout_started", event_timestamp=at(stray_at))
    con, summary, _ = build(
        write_events(tmp_path / "e.parquet", pa.concat_tables([week, stray])), tmp_path
    )
    hourly = con.execute("select * from fct_hourly_metrics order by all").df()
    assert hourly.equals(week_built[0])  # the span, every series and count as without it
    assert counted(con)[reason] == 1
    shop = stray["shop"][0].as_py()
    assert summary["shops"][shop]["set_aside"][reason]["events"] == 1
    assert summary["shops"][shop]["set_aside"][reason]["first_hour_at"].startswith(stray_at[:13])


def test_a_whole_file_dated_2099_is_set_aside(tmp_path, week, week_built):
    shifted = pc.add(
        week["event_timestamp"], pa.scalar(73 * 365 * 86_400_000_000, pa.duration("us"))
    )
    write_events(tmp_path / "in" / "good.parquet", week)
    write_events(
        tmp_path / "in" / "from_2099.parquet", with_column(week, "event_timestamp", shifted)
    )
    con, summary, _ = build(tmp_path / "in", tmp_path)
    assert con.execute("select * from fct_hourly_metrics order by all").df().equals(week_built[0])
    distinct = week.group_by(week.column_names).aggregate([]).num_rows
    assert counted(con)["in_future"] == distinct
    assert len(summary["input_files"]) == 2


def test_a_sentinel_date_beyond_nanoseconds_is_set_aside(tmp_path):
    timestamps = pa.array(["2026-01-01T10:15:00Z", "2026-01-01T10:20:00Z", "9999-12-31T23:59:59Z"])
    con, summary, _ = build(
        write_events(tmp_path / "e.parquet", event_rows(3, event_timestamp=timestamps)), tmp_path
    )
    assert counted(con)["in_future"] == 1
    assert counted(con)["counted"] == 2
    assert summary["shops"]["s"]["set_aside"]["in_future"]["last_hour_at"].startswith(
        "9999-12-31T23"
    )


def test_only_events_in_the_future_publish_empty_tables_and_a_summary(tmp_path):
    rows = event_rows(4, event_timestamp=pa.array(["2099-01-01T10:00:00Z"] * 4))
    con, summary, out = build(write_events(tmp_path / "e.parquet", rows), tmp_path)
    assert con.execute("select count(*) from fct_hourly_metrics").fetchone()[0] == 0
    assert summary["shops"]["s"]["set_aside"]["in_future"]["events"] == 4
    assert "no hourly series" in (out / exports.CHART).read_text()


def test_a_single_hour_of_data_builds(tmp_path):
    con, summary, out = build(write_events(tmp_path / "e.parquet", event_rows(50)), tmp_path)
    assert con.execute(
        "select count(distinct hour_at), sum(events) from fct_hourly_metrics "
        "where dimension = 'total'"
    ).fetchone() == (1, 50)
    assert summary["shops"]["s"]["hours"] == 1
    assert (out / exports.ANOMALY_REPORT).read_text().count("\n") == 2


# ---- values ----


def test_a_value_only_one_shop_has_leaves_the_other_shops_cells_empty(tmp_path, week):
    shop = week["shop"][0].as_py()
    # The shop's first rows are its sessions' landings; as new sessions from Japan.
    japan = week.filter(pc.equal(week["shop"], shop)).slice(0, 200)
    japan = with_column(japan, "geography", "JP")
    japan = with_column(
        japan, "session_id", pc.binary_join_element_wise(japan["session_id"], "jp", "-")
    )
    _, _, out = build(
        write_events(tmp_path / "e.parquet", pa.concat_tables([week, japan])), tmp_path
    )
    report = list(csv.DictReader(io.StringIO((out / exports.ANOMALY_REPORT).read_text())))
    column = "landing_page_views__geography__JP__anomaly"
    assert {row[column] for row in report if row["shop"] == shop} <= {"0", "1"}
    assert {row[column] for row in report if row["shop"] != shop} == {""}


def test_thousands_of_crafted_utm_values_fold_into_other(tmp_path, week):
    # The first shop's landings, again as new sessions, each with a utm_source of its own.
    landings = week.filter(pc.equal(week["event_name"], week["event_name"][0]))
    crafted = landings.slice(0, 3_000)
    crafted = with_column(crafted, "utm_source", pa.array([f"crafted-{i}" for i in range(3_000)]))
    crafted = with_column(
        crafted, "session_id", pa.array([f"crafted-session-{i}" for i in range(3_000)])
    )
    shop = crafted["shop"][0].as_py()
    con, summary, _ = build(
        write_events(tmp_path / "e.parquet", pa.concat_tables([week, crafted])), tmp_path
    )
    values = con.execute(
        "select count(distinct dimension_value) from fct_hourly_metrics "
        "where shop = ? and dimension = 'utm_source'",
        [shop],
    ).fetchone()[0]
    assert values <= 51
    assert (
        con.execute(
            "select count(*) from fct_hourly_metrics "
            "where dimension_value = '(other)' and shop = ?",
            [shop],
        ).fetchone()[0]
        > 0
    )
    folded = summary["shops"][shop]["dimension_values_folded"]["utm_source"]
    assert folded["values"] >= 3_000 - 50
    # Folding moves no event: the total and its values still add up.
    assert (
        con.execute(
            """
        select count(*) from (
            select shop, hour_at, metric, dimension, sum(events) as summed
            from fct_hourly_metrics where dimension != 'total' group by all
        ) as by_dimension
        join fct_hourly_metrics as total using (shop, hour_at, metric)
        where total.dimension = 'total' and total.events != by_dimension.summed
        """
        ).fetchone()[0]
        == 0
    )


def test_formulas_in_shop_names_and_utm_values_are_neutralized_in_every_csv(tmp_path, week):
    names = ['=HYPERLINK("http://x.example","pay")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx"]
    first = week.filter(pc.equal(week["shop"], week["shop"][0]))
    parts = [with_column(first, "shop", name) for name in names]
    parts.append(with_column(first, "utm_source", "=1+1"))
    con, _, out = build(write_events(tmp_path / "e.parquet", pa.concat_tables(parts)), tmp_path)
    assert set(names) <= {
        shop for (shop,) in con.execute("select distinct shop from fct_hourly_metrics").fetchall()
    }
    for name in (exports.ANOMALY_REPORT, exports.GROUP_REPORT):
        rows = list(csv.reader(io.StringIO((out / name).read_text())))
        for row in rows:
            for cell in row:
                assert not cell.startswith(FORMULA_STARTS) or exports.PLAIN_NUMBER.fullmatch(
                    cell
                ), (name, cell)
    report = (out / exports.ANOMALY_REPORT).read_text()
    assert "'=HYPERLINK(" in report and "'@SUM(1)" in report


def test_nul_characters_never_reach_a_report(tmp_path):
    rows = event_rows(3, shop=pa.array(["nul\x00shop"] * 3), geography=pa.array(["U\x00S"] * 3))
    con, summary, out = build(write_events(tmp_path / "e.parquet", rows), tmp_path)
    for name in exports.FILE_NAMES:
        if name == exports.ANOMALY_REPORT_LONG:
            table = pq.read_table(out / name)
            assert "nulshop" in table["shop"].to_pylist()
            text = "".join(table["shop"].to_pylist() + table["dimension_value"].to_pylist())
        elif name == exports.CHART_FOLDER:
            text = "".join(page.read_text() for page in (out / name).glob("*.html"))
            assert text
        else:
            text = (out / name).read_text()
        assert "\x00" not in text, name
    assert "nul\x00shop" in summary["shops"]


def test_unicode_and_very_long_values_build(tmp_path):
    rows = event_rows(
        3,
        shop=pa.array(["tienda-ñandú-🛒"] * 3),
        user_agent=pa.array(["Mozilla/5.0 (iPhone; " + "x" * 20_000 + ")"] * 3),
        page_url=pa.array(["https://s.example/?" + "q=" * 10_000] * 3),
    )
    con, _, out = build(write_events(tmp_path / "e.parquet", rows), tmp_path)
    assert con.execute(
        "select dimension_value, events from fct_hourly_metrics where dimension = 'device'"
    ).fetchall() == [("iOS", 3)]
    assert "tienda-ñandú-🛒" in (out / exports.ANOMALY_REPORT).read_text(encoding="utf-8")


def test_extra_columns_and_null_optional_values_build(tmp_path):
    rows = event_rows(
        3,
        user_agent=pa.array([None] * 3, pa.string()),
        device_type=pa.array([None] * 3, pa.string()),
        geography=pa.array([None] * 3, pa.string()),
        session_id=pa.array([1, 2, 3], pa.int64()),
        campaign_cost=pa.array([1.5, 2.5, 3.5]),
    )
    con, _, _ = build(write_events(tmp_path / "e.parquet", rows), tmp_path)
    assert con.execute(
        "select dimension, dimension_value from fct_hourly_metrics "
        "where metric = 'checkout_started' and dimension != 'total' order by all"
    ).fetchall() == [
        ("device", "Other"),
        ("geography", "unknown"),
        # Sessions without a landing in the data: no utm values to carry.
        ("session_utm_medium", "(no landing)"),
        ("session_utm_source", "(no landing)"),
    ]


# ---- files and paths ----


def test_hidden_files_are_skipped_and_listed(tmp_path, week):
    folder = tmp_path / "in"
    write_events(folder / "day1.parquet", week)
    write_events(folder / ".day1.parquet.alt.parquet", week)
    lacking = event_rows(3)
    del lacking["shop"]
    write_events(folder / "_tmp" / "lacking.parquet", lacking)
    write_events(folder / ".partial" / "upload.parquet", lacking)
    (folder / "_SUCCESS").write_text("")
    con, summary, _ = build(folder, tmp_path)
    assert summary["input_files"] == [str((folder / "day1.parquet").resolve())]
    assert sorted(Path(path).name for path in summary["skipped_hidden_files"]) == [
        ".day1.parquet.alt.parquet",
        ".partial",
        "_tmp",
    ]
    assert sum(counted(con).values()) == week.num_rows  # not doubled
    assert con.execute("select count(*) from raw_event_files").fetchone()[0] == 1


def test_a_path_with_quotes_and_brackets_is_the_file_it_names(tmp_path):
    folder = tmp_path / "it's [a] *folder*"
    named = write_events(folder / "events[1].parquet", event_rows(3))
    # Files a pattern reading of that name would also match: never read.
    write_events(folder / "events1.parquet", event_rows(100))
    write_events(tmp_path / "it's a xfolderx" / "events1.parquet", event_rows(100))
    con, summary, _ = build(named, tmp_path)
    assert summary["input_files"] == [str(named.resolve())]
    assert counted(con) == {"counted": 3}


def test_a_file_named_like_a_pattern_is_read_alone(tmp_path):
    named = write_events(tmp_path / "in" / "*.parquet", event_rows(2))
    write_events(tmp_path / "in" / "other.parquet", event_rows(100))
    con, _, _ = build(named, tmp_path)
    assert counted(con) == {"counted": 2}


def test_a_folder_with_odd_names_is_read_whole(tmp_path):
    folder = tmp_path / "d'x [1]"
    write_events(folder / "a?.parquet", event_rows(2))
    write_events(folder / "b[2].parquet", event_rows(3, session_id=pa.array(["x", "y", "z"])))
    con, summary, _ = build(folder, tmp_path)
    assert len(summary["input_files"]) == 2
    assert counted(con) == {"counted": 5}


# ---- exact counts ----


def test_copies_count_once_and_near_copies_count_apart(tmp_path):
    base = event_rows(
        1,
        event_timestamp=pa.array(
            [datetime(2026, 1, 1, 10, 15, tzinfo=UTC)], pa.timestamp("ns", tz="UTC")
        ),
    )
    table = pa.table(base)
    copies = pa.concat_tables([table, table, table])
    other_url = with_column(table, "page_url", "https://s.example/checkout?step=2")
    one_ns_later = with_column(
        table,
        "event_timestamp",
        pa.array([1_767_262_500_000_000_001], pa.timestamp("ns", tz="UTC")),
    )
    rows = pa.concat_tables([copies, other_url, one_ns_later])
    con, _, _ = build(write_events(tmp_path / "e.parquet", rows), tmp_path)
    assert counted(con) == {"counted": 3, "duplicate_dropped": 2}


def test_the_landing_is_the_first_view_to_the_nanosecond(tmp_path):
    # Two page views of one session inside one microsecond, 1 ns apart: the earlier one,
    # from an iPhone, lands; the later one, from Android, is a later view of the session.
    nanoseconds = [1_767_262_500_000_000_999, 1_767_262_500_000_000_998]
    rows = event_rows(
        2,
        event_name=pa.array(["page_viewed", "page_viewed"]),
        event_timestamp=pa.array(nanoseconds, pa.timestamp("ns")),
        session_id=pa.array(["one", "one"]),
        user_agent=pa.array(
            ["Mozilla/5.0 (Linux; Android 14)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17)"]
        ),
    )
    con, _, _ = build(write_events(tmp_path / "e.parquet", rows), tmp_path)
    assert con.execute(
        "select dimension_value from fct_hourly_metrics "
        "where metric = 'landing_page_views' and dimension = 'device' and events > 0"
    ).fetchall() == [("iOS",)]
    assert counted(con) == {"counted": 1, "later_page_view_of_session": 1}


def test_sessions_are_told_apart_by_their_text(tmp_path):
    # Long session ids that differ in one character: two sessions, two landings.
    prefix = "s" * 500
    rows = event_rows(
        2,
        event_name=pa.array(["page_viewed", "page_viewed"]),
        session_id=pa.array([prefix + "a", prefix + "b"]),
    )
    con, _, _ = build(write_events(tmp_path / "e.parquet", rows), tmp_path)
    assert counted(con) == {"counted": 2}


def test_the_summary_names_what_was_set_aside_and_folded_in_json(tmp_path, week):
    stray = one_row(week, event_timestamp=at("2099-01-01T00:00:00"))
    _, _, out = build(
        write_events(tmp_path / "e.parquet", pa.concat_tables([week, stray])), tmp_path
    )
    summary = json.loads((out / exports.RUN_SUMMARY).read_text())
    assert summary["run_id"] and summary["run_started_at"]
    assert any("in_future" in entry["set_aside"] for entry in summary["shops"].values())
    assert exports.notices(summary)[0].endswith(")")


def test_raw_event_files_lists_what_was_read(tmp_path):
    path = write_events(tmp_path / "e.parquet", event_rows(3))
    con, _, _ = build(path, tmp_path)
    assert con.execute("select file_path, rows from raw_event_files").fetchall() == [
        (str(path.resolve()), pq.read_metadata(path).num_rows)
    ]


def test_database_and_out_paths_with_quotes_and_brackets_publish(tmp_path):
    folder = tmp_path / "it's [odd] *"
    events = write_events(tmp_path / "e.parquet", event_rows(3))
    report = pipeline.build(events, folder / "funnel.duckdb", folder / "out [1]", quiet=True)
    with duckdb.connect(str(report.db), read_only=True) as con:
        assert con.execute("select sum(events) from fct_event_accounting").fetchone()[0] == 3
    assert sorted(path.name for path in (folder / "out [1]").iterdir()) == sorted(
        exports.FILE_NAMES
    )
