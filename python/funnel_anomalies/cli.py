"""Command line: parses arguments, calls the library, reports errors in one line."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import duckdb
import typer
from tqdm import tqdm

from funnel_anomalies import (
    alerts,
    dask_fits,
    evaluation,
    events_input,
    exports,
    leaf_files,
    localizer,
    pipeline,
    sample_data,
)
from funnel_anomalies.errors import InputError, PipelineError
from funnel_anomalies.forecasting import ForecastSettings
from funnel_anomalies.project import DEFAULT_DB, DEFAULT_EVENTS, DEFAULT_LABELS, DEFAULT_OUT

app = typer.Typer(add_completion=False, no_args_is_help=True)
ALERT_WEBHOOK_VARIABLE = "FUNNEL_ALERT_WEBHOOK"


@app.command()
def build(
    events: str = typer.Option(str(DEFAULT_EVENTS), help="Parquet file, glob or folder."),
    db: Path = typer.Option(DEFAULT_DB, help="DuckDB file to publish."),
    out: Path = typer.Option(DEFAULT_OUT, help="Folder for reports and the chart."),
    interval_width: float = typer.Option(0.99, help="Width of the expected band (0-1)."),
    workers: int = typer.Option(0, help="Processes fitting Prophet; 0: one per core."),
    dask_scheduler: str = typer.Option(
        "",
        envvar=dask_fits.SCHEDULER_VARIABLE,
        help="Fit on Dask: 'local' (a local cluster of WORKERS processes) or a scheduler's "
        "address (tcp://host:8786); empty: no Dask.",
    ),
    full_rebuild: bool = typer.Option(
        False,
        "--full-rebuild",
        help="Learn every forecasting model again instead of taking the day's from the cache.",
    ),
    input_format: str = typer.Option(
        "events",
        help="What the files are: 'events' (storefront events) or 'ga4' (a GA4 BigQuery "
        "export's event rows).",
    ),
    alert_webhook: str = typer.Option(
        "",
        envvar=ALERT_WEBHOOK_VARIABLE,
        help="After publishing, post each new or grown anomaly group to this webhook "
        "(as `funnel-anomalies alert` does, without filters); empty: no alerts.",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Fail, publishing nothing, when fewer than half of the events have an event "
        "name the funnel counts (the event-name seed does not know the tracker).",
    ),
) -> None:
    """Check the events, build every model and test, publish the database and OUT's files."""
    if input_format not in events_input.INPUT_FORMATS:
        formats = ", ".join(events_input.INPUT_FORMATS)
        typer.echo(f"error: --input-format must be one of {formats}, got {input_format}", err=True)
        raise typer.Exit(code=2)
    if not 0.5 <= interval_width < 1:
        typer.echo(f"error: --interval-width must be in [0.5, 1), got {interval_width}", err=True)
        raise typer.Exit(code=2)
    settings = ForecastSettings(interval_width=interval_width)
    # A terminated build unwinds like an interrupted one: its child processes are stopped
    # and its run folder is cleaned; the published set is untouched.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        report = pipeline.build(
            events,
            db,
            out,
            settings=settings,
            workers=workers,
            scheduler=dask_scheduler.strip() or None,
            full_rebuild=full_rebuild,
            strict=strict,
            input_format=input_format,
        )
    except (InputError, PipelineError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    for notice in exports.notices(report.summary):
        typer.echo(f"notice: {notice}", err=True)
    forecasts = report.forecasts
    typer.echo(
        f"published {report.db}: dbt {report.dbt_seconds:.1f} s, forecasts of "
        f"{forecasts.series} series {forecasts.seconds:.1f} s ({forecasts.series_totals} "
        f"totals: {forecasts.learnt_totals} models learnt in {forecasts.prophet_fits} Prophet "
        f"fits, {forecasts.cached_totals} from the cache)"
    )
    warning = exports.too_few_recognized(report.summary)
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    if alert_webhook.strip():
        _send_alerts(report.db, alert_webhook.strip(), alerts.AlertFilters())


def _send_alerts(db: Path, webhook: str, filters: alerts.AlertFilters) -> None:
    try:
        sent = alerts.send(db, webhook, filters)
    except PipelineError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"alerts: {len(sent)} posted")


@app.command()
def alert(
    db: Path = typer.Option(DEFAULT_DB, help="A published DuckDB file."),
    webhook: str = typer.Option(
        "", envvar=ALERT_WEBHOOK_VARIABLE, help="URL to POST each alert to (JSON)."
    ),
    shop: list[str] = typer.Option([], help="Only these shops (repeat the option)."),
    metric: list[str] = typer.Option([], help="Only groups touching these metrics."),
    direction: str = typer.Option("", help="Only 'positive' or 'negative' groups."),
    min_impact: float = typer.Option(
        0.0, help="Only groups that moved a metric by at least this many events."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the alerts instead of posting them; record nothing."
    ),
) -> None:
    """Post each new or grown anomaly group of the database once (a Slack-compatible
    `text` and the group as JSON); a group is never posted twice as it was."""
    if direction not in ("", "positive", "negative"):
        typer.echo(f"error: --direction must be positive or negative, got {direction}", err=True)
        raise typer.Exit(code=2)
    filters = alerts.AlertFilters(tuple(shop), tuple(metric), direction or None, min_impact)
    if dry_run:
        for pending in alerts.pending(db, filters):
            typer.echo(json.dumps(pending.body()))
        return
    if not webhook.strip():
        typer.echo("error: --webhook (or FUNNEL_ALERT_WEBHOOK) is needed to post", err=True)
        raise typer.Exit(code=2)
    _send_alerts(db, webhook.strip(), filters)


@app.command("sample-data")
def sample_data_command(
    output: Path = typer.Option(DEFAULT_EVENTS, help="Parquet file to write."),
    shops: int = typer.Option(
        3,
        help="Number of shops, largest first: four made by hand, then a few large and many small.",
    ),
    days: int = typer.Option(56, help="Days of history."),
    events: int = typer.Option(sample_data.SAMPLE_EVENTS, help="Approximate number of raw events."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same file."),
) -> None:
    """Generate raw events with labelled incidents (labels JSON beside the file)."""
    spec = sample_data.default_spec(shops=shops, days=days, events=events, seed=seed)
    rows, labels_path = sample_data.write_sample(spec, output)
    typer.echo(f"wrote {rows:,} events to {output} and labels to {labels_path}")


@app.command()
def coverage(
    db: Path = typer.Option(DEFAULT_DB, help="A published DuckDB file."),
    labels: Path = typer.Option(DEFAULT_LABELS, help="Labels JSON of the events."),
) -> None:
    """Print how often the bands cover clean hours, by shop size and day or night."""
    with duckdb.connect(str(db), read_only=True) as con:
        hours = evaluation.scored_hours(con)
    known = evaluation.load_labels(labels)
    typer.echo(evaluation.format_coverage(evaluation.coverage_table(hours, known)))
    detection = evaluation.band_detection(hours, known)
    typer.echo(
        f"\nband alone on the totals: {detection['recall']:.1%} of "
        f"{detection['labelled_hours']} labelled incident hours outside the band, "
        f"{detection['false_flags_per_week_per_shop']:.1f} clean hours outside it per week "
        "per shop"
    )


@app.command()
def evaluate(
    labels: Path = typer.Option(DEFAULT_LABELS, help="Labels JSON of the events."),
    db: Path = typer.Option(DEFAULT_DB, help="A published DuckDB file."),
) -> None:
    """Score the anomalies, contributors and scenarios of a run against a labels file."""
    with duckdb.connect(str(db), read_only=True) as con:
        scores = evaluation.detection_scores(con, evaluation.load_labels(labels))
    typer.echo(evaluation.DETECTION_HEADER)
    typer.echo(evaluation.format_detection(str(labels.name), scores))


@app.command()
def localize(
    paths: list[str] = typer.Argument(..., help="CSV files of leaves, or folders of them."),
    actual: str = typer.Option("real", help="Column of actual values."),
    expected: str = typer.Option("predict", help="Column of expected values."),
) -> None:
    """Print each file's root-cause set: its path, a tab, the elements (`;` between
    elements, `&` between a combination's `dimension=value` parts)."""
    try:
        files = leaf_files.find(paths)
        progress = tqdm(files, unit="file", disable=not sys.stderr.isatty() or len(files) < 2)
        for shown, file in progress:
            leaves, dimensions = leaf_files.read(file, actual, expected)
            elements = localizer.localize(leaves, dimensions, actual, expected)
            progress.write(f"{shown}\t{localizer.format_elements(elements)}", file=sys.stdout)
    except InputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


if __name__ == "__main__":
    app()
