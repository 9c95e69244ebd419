"""Find the raw event files and check them against the source contract before any build.

The contract (columns and their accepted type families) is read from the dbt source
definition, so the dbt test on the source and this check can never disagree. Checking here,
file by file, lets the error name the exact file, which a query over many files cannot.

Which files a run reads:
- a path that exists is that file (or, for a folder, every `*.parquet` under it), never a
  pattern, whatever characters its name holds;
- a path that does not exist is a glob pattern (`*`, `?`, `[...]`, `**`);
- searching a folder or a pattern passes over hidden entries, files and folders whose name
  starts with `.` or `_` (in-progress uploads, `_SUCCESS` markers, editors' copies), as
  Spark, Hive and pyarrow do; they are listed as skipped in the run summary. A hidden
  file named explicitly is read.

DuckDB treats `*`, `?` and `[` in any path it reads as a pattern, even when a file of that
very name exists, so every path handed to it goes through `duckdb_path`.
"""

from __future__ import annotations

import glob
import os
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
class InputFormat:
    """What a run's files are: the dbt source relation they become, where a row's shop is
    (a DuckDB expression) and what its event_timestamp holds (for the error message)."""

    name: str
    relation: str
    shop: str
    timestamps: str


INPUT_FORMATS = {
    "events": InputFormat(
        "events", "raw_events", "shop", "ISO-8601 text, TIMESTAMP or TIMESTAMPTZ"
    ),
    "ga4": InputFormat(
        "ga4", "raw_ga4_events", "device.web_info.hostname", "microseconds since the epoch"
    ),
}
# Each relation empty, with the columns its staging model reads: a run registers the one
# of its format over its files, and the others as these.
EMPTY_RELATIONS = {
    "raw_events": """
        select
            null::varchar as event_type, null::varchar as event_name,
            null::varchar as event_timestamp, null::varchar as shop,
            null::varchar as page_url, null::varchar as user_agent,
            null::varchar as session_id, null::varchar as device_type,
            null::varchar as utm_source, null::varchar as utm_medium,
            null::varchar as geography
        where false
    """,
    "raw_ga4_events": """
        select
            null::varchar as event_name, null::bigint as event_timestamp,
            null::varchar as user_pseudo_id,
            null::struct(
                key varchar,
                value struct(string_value varchar, int_value bigint, double_value double)
            )[] as event_params,
            null::struct(operating_system varchar, web_info struct(hostname varchar))
                as device,
            null::struct(country varchar) as geo,
            null::struct(manual_source varchar, manual_medium varchar)
                as collected_traffic_source,
            null::struct(source varchar, medium varchar) as traffic_source
        where false
    """,
}
HIDDEN_PREFIXES = (".", "_")
GLOB_CHARACTERS = "*?["
PARQUET_SUFFIX = ".parquet"


@dataclass(frozen=True)
class EventFiles:
    """The files a run reads, and the hidden ones its search passed over."""

    files: tuple[Path, ...]
    skipped: tuple[Path, ...] = ()


def duckdb_path(path: str | Path) -> str:
    """`path` as DuckDB must be given it to read exactly that file: each pattern
    character inside a one-character class, which matches only itself."""
    return "".join(f"[{char}]" if char in GLOB_CHARACTERS else char for char in str(path))


def sql_string(text: str) -> str:
    """A SQL string literal of `text` (quotes doubled), for the rare statement that cannot
    take parameters, such as a view's definition."""
    return "'" + text.replace("'", "''") + "'"


def source_contract(relation: str, sources_yaml: Path = SOURCES_YAML) -> dict[str, list[str]]:
    """Column name -> accepted type families, from the source `relation`'s column test."""
    definition = yaml.safe_load(sources_yaml.read_text())
    for source in definition["sources"]:
        for table in source["tables"]:
            if table["name"] != relation:
                continue
            for test in table.get("data_tests", []):
                if isinstance(test, dict) and "has_columns_of_types" in test:
                    return test["has_columns_of_types"]["arguments"]["columns"]
    raise RuntimeError(f"{sources_yaml}: no has_columns_of_types test on the source {relation}")


def _is_hidden(name: str) -> bool:
    return name.startswith(HIDDEN_PREFIXES)


def _search_folder(folder: Path) -> tuple[list[Path], list[Path]]:
    files, skipped = [], []
    for parent, folders, names in os.walk(folder):
        for name in sorted(folders):
            if _is_hidden(name):
                skipped.append(Path(parent) / name)
        folders[:] = sorted(name for name in folders if not _is_hidden(name))
        for name in sorted(names):
            if not name.lower().endswith(PARQUET_SUFFIX):
                continue
            (skipped if _is_hidden(name) else files).append(Path(parent) / name)
    return files, skipped


def _search_pattern(pattern: str) -> tuple[list[Path], list[Path]]:
    found = {Path(name) for name in glob.glob(pattern, recursive=True) if Path(name).is_file()}
    with_hidden = {
        Path(name)
        for name in glob.glob(pattern, recursive=True, include_hidden=True)
        if Path(name).is_file()
    }
    return sorted(found), sorted(with_hidden - found)


def resolve(events: str | Path) -> EventFiles:
    """A Parquet file, a folder (searched recursively) or a glob -> the files it names."""
    text = str(events)
    path = Path(text)
    if path.is_dir():
        files, skipped = _search_folder(path)
    elif path.exists():
        files, skipped = [path], []
    elif any(char in text for char in GLOB_CHARACTERS):
        files, skipped = _search_pattern(text)
    else:
        raise InputError(f"{path}: events file not found")
    if not files:
        hidden = f" ({len(skipped)} hidden file(s) skipped, e.g. {skipped[0]})" if skipped else ""
        raise InputError(f"{text}: no Parquet file found{hidden}")
    return EventFiles(
        tuple(file.resolve() for file in files), tuple(file.resolve() for file in skipped)
    )


def _family(duckdb_type: str) -> str | None:
    # Nested types first: a list of structs is written STRUCT(...)[].
    if duckdb_type.endswith("[]"):
        return "list"
    if duckdb_type.upper().startswith("STRUCT("):
        return "struct"
    for family, prefixes in TYPE_FAMILY_PATTERNS.items():
        if any(duckdb_type.upper().startswith(prefix) for prefix in prefixes):
            return family
    return None


def _check_not_empty(con, file: Path) -> None:
    try:
        rows = con.execute(
            "select coalesce(sum(num_rows), 0) from parquet_file_metadata(?)", [duckdb_path(file)]
        ).fetchone()[0]
    except duckdb.Error as error:
        reason = str(error).splitlines()[0]
        raise InputError(f"{file}: not a readable Parquet file ({reason})") from None
    if rows == 0:
        raise InputError(f"{file}: the file has no rows")


def _check_columns(con, file: Path, contract: dict[str, list[str]]) -> dict[str, str]:
    described = con.execute(
        "describe select * from read_parquet(?)", [duckdb_path(file)]
    ).fetchall()
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


def _check_text_encoding(con, file: Path, types: dict[str, str]) -> None:
    """Text that is not valid UTF-8 stops DuckDB mid-build with a message that names no
    column. Reading every text column once here finds it first; only when that fails is
    each column read on its own, to name the one at fault."""
    text_columns = [column for column, kind in types.items() if _family(kind) == "text"]
    if not text_columns:
        return

    def read(columns: list[str]) -> None:
        checks = " + ".join(f'coalesce(length("{column}"), 0)' for column in columns)
        con.execute(f"select sum({checks}) from read_parquet(?)", [duckdb_path(file)]).fetchone()

    try:
        read(text_columns)
    except duckdb.InvalidInputException:
        for column in text_columns:
            try:
                read([column])
            except duckdb.InvalidInputException as error:
                detail = str(error).split(": value ", 1)[-1].split(" is not valid", 1)[0]
                raise InputError(
                    f"{file}: column {column} holds text that is not valid UTF-8, e.g. {detail}"
                ) from None
        raise


def _check_timestamps(con, file: Path, timestamp_type: str, input_format: InputFormat) -> None:
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
        [duckdb_path(file)],
    ).fetchone()
    if bad_rows:
        raise InputError(
            f"{file}: column event_timestamp has {bad_rows} row(s) that are null or not a "
            f"timestamp ({input_format.timestamps}), e.g. {examples}"
        )


def _check_shops(con, file: Path, input_format: InputFormat) -> None:
    """Every event belongs to a shop: its series, its accounting and its span are per shop."""
    blank = con.execute(
        f"select count(*) from read_parquet(?) where nullif(trim({input_format.shop}), '') is null",
        [duckdb_path(file)],
    ).fetchone()[0]
    if blank:
        raise InputError(
            f"{file}: column {input_format.shop} has {blank} row(s) that are null or blank"
        )


def validate(events: str | Path, input_format: str = "events") -> EventFiles:
    """Resolve the input and check every file against its format's contract; raise
    InputError on the first problem."""
    event_files = resolve(events)
    checked = INPUT_FORMATS[input_format]
    contract = source_contract(checked.relation)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for file in event_files.files:
            _check_not_empty(con, file)
            types = _check_columns(con, file, contract)
            _check_text_encoding(con, file, types)
            _check_timestamps(con, file, types["event_timestamp"], checked)
            _check_shops(con, file, checked)
    return event_files


def register(
    con: duckdb.DuckDBPyConnection, event_files: EventFiles, input_format: str = "events"
) -> None:
    """Make the checked files the relation their format's dbt source reads: a view over
    exactly those files (by name, never by pattern); the other formats' relations empty;
    and `raw_event_files` listing the files."""
    listed = ", ".join(sql_string(duckdb_path(file)) for file in event_files.files)
    read = INPUT_FORMATS[input_format].relation
    for relation, empty in EMPTY_RELATIONS.items():
        if relation == read:
            con.execute(
                f"create or replace view {relation} as "
                f"select * from read_parquet([{listed}], union_by_name = true)"
            )
        else:
            con.execute(f"create or replace view {relation} as {empty}")
    con.execute("create or replace table raw_event_files (file_path varchar, rows bigint)")
    for file in event_files.files:
        rows = con.execute(
            "select sum(num_rows) from parquet_file_metadata(?)", [duckdb_path(file)]
        ).fetchone()[0]
        con.execute("insert into raw_event_files values (?, ?)", [str(file), rows])
