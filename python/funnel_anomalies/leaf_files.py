"""CSV files of leaves for `funnel-anomalies localize`: found, read and checked.

One row per leaf: a column of actual values, a column of expected values, every other
column a dimension. A folder stands for the CSV files under it (sorted, at any depth),
each shown by its path under the folder as given.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from funnel_anomalies.errors import InputError


def find(paths: list[str]) -> list[tuple[str, Path]]:
    """Every file to localize, with the path to show for it."""
    found = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in sorted(path.rglob("*.csv")):
                found.append((str(Path(given) / file.relative_to(path)), file))
        elif path.is_file():
            found.append((given, path))
        else:
            raise InputError(f"{given}: no such file or folder")
    return found


def read(path: Path, actual: str, expected: str) -> tuple[pd.DataFrame, list[str]]:
    """The leaves of `path` and its dimension columns, or an error naming the file, the
    column and what is wrong with it."""
    try:
        leaves = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: cannot be read as CSV ({error})") from None
    for column in (actual, expected):
        if column not in leaves.columns:
            raise InputError(
                f"{path}: column {column!r} is missing (columns: {', '.join(leaves.columns)})"
            )
        numbers = pd.to_numeric(leaves[column], errors="coerce")
        bad = numbers.isna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{path}: column {column!r} has {int(bad.sum())} value(s) that are not numbers "
                f"(first in data row {row + 1}: {leaves[column].iloc[row]!r})"
            )
        leaves[column] = numbers.astype(float)
    dimensions = [column for column in leaves.columns if column not in (actual, expected)]
    if not dimensions:
        raise InputError(f"{path}: no dimension columns beside {actual!r} and {expected!r}")
    return leaves, dimensions
