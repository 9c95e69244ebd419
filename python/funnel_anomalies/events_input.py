"""Find the raw event files and check them against the source contract before any build.

The contract (columns and their accepted type families) is read from the dbt source
definition, so the dbt test on the source and this check can never disagree. Checking here,
file by file, lets the error name the exact file, which a query over a glob cannot.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from funnel_anomalies.errors import InputError
from funnel_anomalies.project import SOURCES_YAML

TYPE_FAMILY_PATTERNS = {
    "text": ("VARCHAR",),
    "timestamp": ("TIMESTAMP",),
    "integer": (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
    ),
}
EXAMPLES_SHOWN = 3


@dataclass(frozen=True)
class EventFiles:
    """The files a run reads, and the pattern dbt's source reads them through."""

    files: tuple[Path, ...]
    pattern: str


def source_contract(sources_yaml: Path = SOURCES_YAML) -> dict[str, list[str]]:
    """Column name -> accepted type families, from the raw_events source's column test."""
    definition = yaml.safe_load(sources_yaml.read_text())
    for source in definition["sources"]:
        for table in source["tables"]:
            for test in table.get("data_tests", []):
                if isinstance(test, dict) and "has_columns_of_types" in test:
                    return test["has_columns_of_types"]["arguments"]["columns"]
    raise RuntimeError(f"{sources_yaml}: no has_columns_of_types test on the raw events source")


def resolve(events: str | Path) -> EventFiles:
    """A Parquet file, a glob, or a folder (searched recursively) -> the files it names."""
    text = str(events)
    path = Path(text)
    if path.is_dir():
        pattern = str(path.resolve() / "**" / "*.parquet")
    elif any(char in text for char in "*?["):
        pattern = str(Path(text).absolute())
    else:
        if not path.exists():
            raise InputError(f"{path}: events file not found")
        pattern = str(path.resolve())
    files = tuple(sorted(Path(name) for name in glob.glob(pattern, recursive=True)))
    if not files:
        raise InputError(f"{text}: no Parquet file matches")
    return EventFiles(files, pattern)


def _family(duckdb_type: str) -> str | None:
    for family, prefixes in TYPE_FAMILY_PATTERNS.items():
        if any(duckdb_type.upper().startswith(prefix) for prefix in prefixes):
            return family
    return None


def _check_not_empty(con, file: Path) -> None:
    try:
        rows = con.execute(
            "select coalesce(sum(num_rows), 0) from parquet_file_metadata(?)", [str(file)]
        ).fetchone()[0]
    except duckdb.Error as error:
        raise InputError(f"{file}: not a readable Parquet file ({error})") from None
    if rows == 0:
        raise InputError(f"{file}: the file has no rows")


def _check_columns(con, file: Path, contract: dict[str, list[str]]) -> dict[str, str]:
    described = con.execute("describe select * from read_parquet(?)", [str(file)]).fetchall()
    types = {name.lower(): column_type for name, column_type, *_ in described}
    missing = [column for column in contract if column not in types]
    if missing:
        raise InputError(
            f"{file}: missing column(s) {', '.join(missing)}; "
            f"the file has {', '.join(types) or 'no columns'}"
        )
    for column, families in contract.items():
        if _family(types[column]) not in families:
            raise InputError(
                f"{file}: column {column} has type {types[column]}; "
                f"expected {' or '.join(families)}"
            )
    return types


def _check_timestamps(con, file: Path, timestamp_type: str) -> None:
    """Every row needs a time: null or unparseable text cannot be placed in an hour."""
    unparseable = "false"
    if _family(timestamp_type) == "text":
        unparseable = "try_cast(event_timestamp as timestamptz) is null"
    bad_rows, examples = con.execute(
        f"""
        select
            count(*),
            list(distinct coalesce(cast(event_timestamp as varchar), 'NULL'))[1:{EXAMPLES_SHOWN}],
        from read_parquet(?)
        where event_timestamp is null or {unparseable}
        """,
        [str(file)],
    ).fetchone()
    if bad_rows:
        raise InputError(
            f"{file}: column event_timestamp has {bad_rows} row(s) that are null or not a "
            f"timestamp (ISO-8601 text, TIMESTAMP or TIMESTAMPTZ), e.g. {examples}"
        )


def validate(events: str | Path) -> EventFiles:
    """Resolve the input and check every file; raise InputError on the first problem."""
    event_files = resolve(events)
    contract = source_contract()
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for file in event_files.files:
        _check_not_empty(con, file)
        types = _check_columns(con, file, contract)
        _check_timestamps(con, file, types["event_timestamp"])
    con.close()
    return event_files
