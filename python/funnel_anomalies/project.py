"""Where the project's own files live, and the defaults the Makefile documents."""

from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = ROOT / "dbt_project"
PROFILES_DIR = ROOT
SOURCES_YAML = DBT_PROJECT_DIR / "models" / "staging" / "_staging__sources.yml"

DEFAULT_EVENTS = ROOT / "data" / "al_updated_testdata.parquet"
DEFAULT_LABELS = ROOT / "data" / "al_updated_testdata.labels.json"
DEFAULT_DB = ROOT / "warehouse" / "funnel.duckdb"
DEFAULT_OUT = ROOT / "output"


@cache
def dbt_var(name: str):
    """A var of dbt_project.yml, for the Python steps that must use the same number as the
    SQL (one definition)."""
    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"][name]
