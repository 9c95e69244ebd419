"""The totals' Prophet fits fanned out on dask.distributed: a local cluster of worker
processes on this machine (`local`), or an existing cluster given by its scheduler's
address (`tcp://host:8786`), whose workers must have this package installed.

Each fit is one task, sent with its series and returning the fit: the same function the
in-process and multiprocessing paths call, so the forecasts are the same wherever they
ran."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from funnel_anomalies.errors import PipelineError

LOCAL = "local"
# The command line's scheduler when no flag names one: `local` or an address.
SCHEDULER_VARIABLE = "FUNNEL_DASK_SCHEDULER"
CONNECT_TIMEOUT_SECONDS = 30


def fit_on_dask(
    fit: Callable,
    tasks: list,
    settings,
    scheduler: str,
    workers: int,
    temporary_folder: Path | None,
    on_fit: Callable[[], None],
) -> dict:
    """`fit(task, settings)` of every task on the cluster, by the index each returns."""
    # Imported here: a run that does not ask for Dask does not pay for importing it.
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler == LOCAL:
            folder = str(temporary_folder) if temporary_folder else None
            cluster = LocalCluster(
                n_workers=max(1, min(workers, len(tasks))),
                threads_per_worker=1,  # cmdstan's optimizer is one thread
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                local_directory=folder,
                # cmdstanpy makes its folder of temporary files at import, from TMPDIR.
                env={"TMPDIR": folder} if folder else None,
            )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_SECONDS}s")
    except (OSError, TimeoutError, ValueError) as error:
        if cluster is not None:
            cluster.close()
        raise PipelineError(f"cannot reach the Dask scheduler {scheduler!r}: {error}") from error
    fits = {}
    try:
        # pure=False: tasks are never deduplicated by hashing their series.
        futures = client.map(fit, tasks, settings=settings, pure=False)
        for _, (index, fitted) in as_completed(futures, with_results=True):
            fits[index] = fitted
            on_fit()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return fits
