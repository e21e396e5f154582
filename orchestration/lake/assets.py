"""The lake: one Dagster multi-asset over paw's ingestion, with its data-quality checks."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ingestion.contract import EVENT_SCHEMA, INGESTION_LOG_SCHEMA, QUARANTINE_SCHEMA
from ingestion.ingest import ingest
from ingestion.lake import LakeTotals, lake_totals, newest_event_at
from ingestion.report import IngestionReport
from ingestion.storage import open_storage
from orchestration.pools import WRITER_POOL
from orchestration.resources import PawSettings
from paw.progress import Progress

LAKE_EVENTS = dg.AssetKey(["lake", "events"])
LAKE_QUARANTINE = dg.AssetKey(["lake", "quarantine"])
LAKE_INGESTION_LOG = dg.AssetKey(["lake", "ingestion_log"])
LANDING = dg.AssetKey(["landing", "raw_files"])

# The landing zone is written by the apps that emit events, not by paw: an external asset, the
# start of the lineage the UI shows.
landing_zone = dg.AssetSpec(
    LANDING,
    description="Raw JSON event files as apps deliver them (PAW_LANDING_URL); never modified.",
    group_name="landing",
    kinds={"json"},
)


class IngestionConfig(dg.Config):
    """Thresholds of the lake's checks (set per run in the launchpad)."""

    quarantine_warn_rate: float = 0.01
    quarantine_fail_rate: float = 0.10
    freshness_warn_hours: float = 48.0


CHECKS = [
    dg.AssetCheckSpec(
        "lines_reconcile",
        asset=LAKE_EVENTS,
        blocking=True,
        description="Every line read is landed, quarantined or counted as a duplicate.",
    ),
    dg.AssetCheckSpec(
        "quarantine_rate",
        asset=LAKE_QUARANTINE,
        blocking=True,
        description="Share of the run's lines quarantined: warns above 1%, fails above 10%.",
    ),
    dg.AssetCheckSpec(
        "lake_freshness",
        asset=LAKE_EVENTS,
        description="Warns when the newest landed event is older than the configured age.",
    ),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            LAKE_EVENTS,
            description="Validated events as date-partitioned Parquet (docs/lake.md).",
            group_name="lake",
            kinds={"parquet"},
            deps=[LANDING],
        ),
        dg.AssetSpec(
            LAKE_QUARANTINE,
            description="Rejected lines with a reason code (docs/event-contract.md).",
            group_name="lake",
            kinds={"parquet"},
            deps=[LANDING],
        ),
        dg.AssetSpec(
            LAKE_INGESTION_LOG,
            description="Per landing file and run: size, hash and reconciliation.",
            group_name="lake",
            kinds={"parquet"},
            deps=[LANDING],
        ),
    ],
    check_specs=CHECKS,
    name="ingest",
    description="Read new landing files, validate, quarantine, deduplicate and land them.",
    pool=WRITER_POOL,
)
def ingest_asset(
    context: dg.AssetExecutionContext,
    config: IngestionConfig,
    paw: PawSettings,
    progress: dg.ResourceParam[Progress],
):
    settings = paw.get()
    progress.start("ingest", unit="files")
    report = ingest(
        settings,
        on_progress=lambda done, total, lines: progress.advance(
            "ingest", done, total, f"{lines:,} lines"
        ),
    )
    progress.finish("ingest", report.one_line())
    context.log.info(report.summary())
    lake = open_storage(settings.lake_url, settings.s3)
    yield from lake_results(
        report, config, settings.lake_url, newest_event_at(lake), lake_totals(lake)
    )


def _schema(schema) -> dg.TableSchema:
    """A lake file's Arrow schema as the column schema the UI shows."""
    return dg.TableSchema(columns=[dg.TableColumn(field.name, str(field.type)) for field in schema])


def lake_results(
    report: IngestionReport,
    config: IngestionConfig,
    lake_url: str,
    newest: datetime | None,
    totals: LakeTotals,
):
    reasons = {reason: count for reason, count in report.reasons.most_common()}
    common = {
        "run_id": report.run_id,
        "new_files": len(report.files),
        "files_already_ingested": len(report.unchanged_files),
        "files_failed": len(report.failed_files),
        "files_waiting": len(report.waiting_files),
        "lines_read": report.lines_read,
        "duration_seconds": round(report.seconds, 2),
    }
    yield dg.MaterializeResult(
        asset_key=LAKE_EVENTS,
        metadata={
            **common,
            "events_landed": report.events_landed,
            "duplicates": report.duplicates,
            "events_per_second": round(report.lines_read / report.seconds) if report.seconds else 0,
            "lake": dg.MetadataValue.path(lake_url),
            # the whole lake, not this run: every committed run's events
            "dagster/row_count": totals.events,
            "dagster/column_schema": _schema(EVENT_SCHEMA),
        },
    )
    yield dg.MaterializeResult(
        asset_key=LAKE_QUARANTINE,
        metadata={
            **common,
            "quarantined": report.quarantined,
            "by_reason": reasons,
            "dagster/row_count": totals.quarantined,
            "dagster/column_schema": _schema(QUARANTINE_SCHEMA),
        },
    )
    yield dg.MaterializeResult(
        asset_key=LAKE_INGESTION_LOG,
        metadata={
            **common,
            "files": [f.source_file for f in report.files][:100],
            "dagster/row_count": totals.log_rows,
            "dagster/column_schema": _schema(INGESTION_LOG_SCHEMA),
        },
    )

    broken = [f.source_file for f in report.files if not f.reconciles]
    yield dg.AssetCheckResult(
        asset_key=LAKE_EVENTS,
        check_name="lines_reconcile",
        passed=not broken,
        metadata={
            "lines_read": report.lines_read,
            "events_landed": report.events_landed,
            "quarantined": report.quarantined,
            "duplicates": report.duplicates,
            "files_not_reconciling": broken[:20],
        },
    )

    rate = report.quarantined / report.lines_read if report.lines_read else 0.0
    severity = dg.AssetCheckSeverity.ERROR
    passed = rate <= config.quarantine_fail_rate
    if passed and rate > config.quarantine_warn_rate:
        passed, severity = False, dg.AssetCheckSeverity.WARN
    yield dg.AssetCheckResult(
        asset_key=LAKE_QUARANTINE,
        check_name="quarantine_rate",
        passed=passed,
        severity=severity,
        description=(
            f"{rate:.2%} of {report.lines_read:,} lines quarantined "
            f"(warn above {config.quarantine_warn_rate:.0%}, fail above "
            f"{config.quarantine_fail_rate:.0%})"
        ),
        metadata={"quarantine_rate": rate, "quarantined": report.quarantined, "by_reason": reasons},
    )

    if newest is None:
        yield dg.AssetCheckResult(
            asset_key=LAKE_EVENTS,
            check_name="lake_freshness",
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description="the lake holds no events yet",
        )
        return
    age = datetime.now(UTC).replace(tzinfo=None) - newest
    yield dg.AssetCheckResult(
        asset_key=LAKE_EVENTS,
        check_name="lake_freshness",
        passed=age <= timedelta(hours=config.freshness_warn_hours),
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"newest event {newest:%Y-%m-%d %H:%M} UTC, {age.total_seconds() / 3600:.1f}h old"
        ),
        metadata={"newest_event_at": newest.isoformat(), "age_hours": age.total_seconds() / 3600},
    )
