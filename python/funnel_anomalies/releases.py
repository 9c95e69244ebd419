"""The published set of a database: one switch makes a run's database and its reports
current together, and one build at a time prepares the next set.

Beside the database the user names (`DB`, say `warehouse/funnel.duckdb`) lives its store:

    warehouse/funnel.duckdb -> funnel.duckdb.releases/current/funnel.duckdb
    warehouse/funnel.duckdb.releases/
        build.lock             held (flock) by the build that is running, with its pid
        current -> releases/<run id>
        releases/<run id>/     funnel.duckdb, out/<the reports and the chart>, run.json
        runs/<run id>/         a build in progress: scratch database, dbt's target and
                               logs, temporary files
    OUT/anomaly_report.csv -> .../funnel.duckdb.releases/current/out/anomaly_report.csv

`DB` and each file of `OUT` are links through `current`, made once. Publishing renames a
new `current` link over the old one: a reader, or a run killed at any instant, sees the
old set or the new set, never a mix. A reader that opened the old database keeps reading
it; the release before the current one is kept for such readers, older ones (and what a
killed run left) are removed by the next run.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from funnel_anomalies.errors import PipelineError

STORE_SUFFIX = ".releases"
DATABASE_NAME = "funnel.duckdb"
# Set to a step's name (tests only): the process kills itself right after that step.
KILL_AT_ENVIRONMENT = "FUNNEL_ANOMALIES_KILL_AFTER_STEP"
BUILD_STEPS = ("dbt_built", "rendered")  # pipeline.build's
PUBLISH_STEPS = (
    "staged",
    "writers_checked",
    "links_prepared",
    "switched",
    "links_completed",
    "pruned",
)


def kill_point(step: str) -> None:
    if os.environ.get(KILL_AT_ENVIRONMENT) == step:
        os.kill(os.getpid(), 9)


@dataclass(frozen=True)
class Store:
    """Where a database's releases, runs and lock live."""

    db: Path  # the path users open: a link into current/

    @property
    def root(self) -> Path:
        return self.db.with_name(self.db.name + STORE_SUFFIX)

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def lock_path(self) -> Path:
        return self.root / "build.lock"

    def current_release(self) -> Path | None:
        if not self.current.is_symlink():
            return None
        return self.releases / Path(os.readlink(self.current)).name


def store_for(db: Path) -> Store:
    return Store(Path(os.path.abspath(db)))


def _link_target(link: Path) -> Path:
    return Path(os.path.normpath(link.parent / os.readlink(link)))


def _is_managed_link(path: Path, target: Path) -> bool:
    return path.is_symlink() and _link_target(path) == Path(os.path.normpath(target))


def writer_of(db: Path) -> str | None:
    """The process holding `db` open for writing, as DuckDB names it, or None. A read-only
    open succeeds beside readers and fails only beside a writer."""
    if not db.exists():
        return None
    try:
        duckdb.connect(str(db), read_only=True).close()
    except duckdb.IOException as error:
        held = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", str(error))
        if held:
            return f"PID {held.group(2)} ({held.group(1)})"
        if "Could not set lock" in str(error):
            return "another process"
        raise
    return None


def _writable_folder(folder: Path, what: str) -> None:
    """`folder` exists (or can be made) and this process may create files in it."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise PipelineError(f"{what} {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PipelineError(f"{what} {folder}: no permission to write in {existing}")


def check_paths(db: Path, out: Path | None, out_names: tuple[str, ...]) -> None:
    """Everything about DB and OUT that would otherwise fail after a full build."""
    store = store_for(db)
    if db.is_dir() and not db.is_symlink():
        raise PipelineError(f"DB {db}: is a folder; give the path of a database file")
    if db.is_symlink() and not _is_managed_link(db, store.current / DATABASE_NAME):
        raise PipelineError(
            f"DB {db}: is a link to {_link_target(db)}, not one this tool made; "
            "give another path or remove the link"
        )
    _writable_folder(store.root, "DB")
    holder = writer_of(db)
    if holder is not None:
        raise PipelineError(
            f"DB {db}: is open for writing by {holder}; a build replaces the database, so "
            "that connection's writes would be lost: close it and run again"
        )
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise PipelineError(f"OUT {out}: is a file, not a folder")
    _writable_folder(out, "OUT")
    for name in out_names:
        published = out / name
        if published.is_dir() and not published.is_symlink():
            raise PipelineError(
                f"OUT {out}: {name} is a folder; this run publishes a link of that name "
                "in its place"
            )


@contextmanager
def build_lock(store: Store) -> Iterator[None]:
    """Hold the store's build lock for one build; stop with the running build named when
    another holds it. The lock is the kernel's (flock): it ends with the processes that
    hold it, so a killed build never leaves it behind."""
    store.root.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(store.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(descriptor, 4096, 0).decode(errors="replace").strip()
            raise PipelineError(
                f"DB {store.db}: another build of it is running ({holder or 'unknown'}); "
                "wait for it to finish"
            ) from None
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        holder = f"pid {os.getpid()} on {socket.gethostname()}, started {started}"
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, holder.encode(), 0)
        yield
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class Run:
    """One build's own folders, inside the store, so that nothing it writes is shared with
    another build and a killed build's leftovers are in one place."""

    run_id: str
    folder: Path

    @property
    def scratch_db(self) -> Path:
        return self.folder / "building.duckdb"

    @property
    def dbt_target(self) -> Path:
        return self.folder / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.folder / "dbt" / "logs"

    @property
    def tmp(self) -> Path:
        return self.folder / "tmp"

    @property
    def release(self) -> Path:
        return self.folder / "release"

    @property
    def release_out(self) -> Path:
        return self.release / "out"


def new_run(store: Store) -> Run:
    """A new run's folders; call with the build lock held. Folders of earlier runs that
    were killed are removed first: with the lock held, none of them is running."""
    store.runs.mkdir(parents=True, exist_ok=True)
    for leftover in store.runs.iterdir():
        shutil.rmtree(leftover, ignore_errors=True)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"
    run = Run(run_id, store.runs / run_id)
    for folder in (run.dbt_target, run.dbt_logs, run.tmp, run.release_out):
        folder.mkdir(parents=True)
    return run


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _flush_tree(folder: Path) -> None:
    """Every file and folder under `folder` on disk, so that the switch never makes
    current a release whose bytes are still only in memory."""
    for parent, _, names in os.walk(folder):
        for name in names:
            _fsync(Path(parent) / name)
        _fsync(Path(parent))


def _replace_with_link(path: Path, target: Path) -> None:
    """Make `path` a relative link to `target` in one rename (never absent meanwhile)."""
    relative = os.path.relpath(target, path.parent)
    if path.is_symlink() and os.readlink(path) == relative:
        return
    staged = path.with_name(f".{path.name}.link-{os.getpid()}")
    staged.unlink(missing_ok=True)
    os.symlink(relative, staged)
    os.replace(staged, path)


def _adopt_legacy(store: Store, out: Path | None, out_names: tuple[str, ...]) -> None:
    """A database published before releases existed (a plain file, its reports plain
    files) becomes the current release, hard-linked (or copied) so that every path keeps
    showing the same bytes until the switch."""
    if store.current_release() is not None or not store.db.is_file() or store.db.is_symlink():
        return
    legacy = store.releases / "legacy"
    shutil.rmtree(legacy, ignore_errors=True)
    (legacy / "out").mkdir(parents=True)
    pairs = [(store.db, legacy / DATABASE_NAME)]
    if out is not None:
        pairs += [
            (out / name, legacy / "out" / name)
            for name in out_names
            if (out / name).is_file() and not (out / name).is_symlink()
        ]
    for source, copy in pairs:
        try:
            os.link(source, copy)
        except OSError:
            shutil.copy2(source, copy)
    _flush_tree(legacy)
    _switch(store, legacy)


def _switch(store: Store, release: Path) -> None:
    staged = store.root / f"current.next-{os.getpid()}"
    staged.unlink(missing_ok=True)
    os.symlink(os.path.relpath(release, store.root), staged)
    os.replace(staged, store.current)
    _fsync(store.root)


def _links(store: Store, out: Path | None, out_names: tuple[str, ...]) -> list[tuple[Path, Path]]:
    links = [(store.db, store.current / DATABASE_NAME)]
    if out is not None:
        links += [(out / name, store.current / "out" / name) for name in out_names]
    return links


def _prune(store: Store, kept: set[Path]) -> None:
    """Every release but the current one and the one before it goes (a killed run's staged
    release among them), unless a process holds it open for writing."""
    for release in store.releases.iterdir():
        if release not in kept and writer_of(release / DATABASE_NAME) is None:
            shutil.rmtree(release, ignore_errors=True)


def publish(
    store: Store,
    run: Run,
    out: Path | None,
    out_names: tuple[str, ...],
    on_step: Callable[[str], None] | None = None,
) -> Path:
    """Make the run's release (its database and OUT files, already in run.release)
    current in one switch; return the release folder."""
    on_step = on_step or kill_point
    out = Path(os.path.abspath(out)) if out is not None else None
    (run.release / "run.json").write_text(
        json.dumps({"run_id": run.run_id, "published_at": time.time()}) + "\n"
    )
    _flush_tree(run.release)
    store.releases.mkdir(parents=True, exist_ok=True)
    release = store.releases / run.run_id
    os.replace(run.release, release)
    _fsync(store.releases)
    try:
        on_step("staged")
        holder = writer_of(store.db)
        if holder is not None:
            raise PipelineError(
                f"DB {store.db}: was opened for writing by {holder} during the build; its "
                "writes would be lost: close it and run again"
            )
        on_step("writers_checked")
        _adopt_legacy(store, out, out_names)
        previous = store.current_release()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        if previous is not None:
            for path, target in _links(store, out, out_names):
                _replace_with_link(path, target)
        on_step("links_prepared")
    except BaseException:
        shutil.rmtree(release, ignore_errors=True)
        raise
    _switch(store, release)
    on_step("switched")
    for path, target in _links(store, out, out_names):
        _replace_with_link(path, target)
    if out is not None:
        _fsync(out)
    on_step("links_completed")
    _prune(store, {release, previous})
    on_step("pruned")
    return release
