"""`paw`: thin commands over ingestion and orchestration."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from datetime import date
from pathlib import Path

from paw.settings import Settings

log = logging.getLogger("paw")


class CommandError(Exception):
    """A failure reported as one line, with a non-zero exit."""


def _cmd_generate(args: argparse.Namespace, settings: Settings) -> None:
    from ingestion.selection import is_landing_file
    from ingestion.storage import open_storage
    from simulator.sample_data import GenerateOptions, generate

    landing = open_storage(settings.landing_url, settings.s3)
    if args.if_empty and any(is_landing_file(o.key) for o in landing.list()):
        print(f"the landing zone {settings.landing_url} already holds files: nothing generated")
        return

    options = GenerateOptions(
        users=args.users,
        days=args.days,
        seed=args.seed,
        end_date=args.end_date,
        bad_rate=args.bad_rate,
    )
    report = generate(landing, options)
    print(
        f"generated {report.events:,} lines in {report.files} files for {args.users:,} users, "
        f"{report.start} to {report.end} ({report.bad_lines:,} bad on purpose, "
        f"{report.redeliveries:,} redelivered) into {settings.landing_url}"
    )


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> None:
    from ingestion.ingest import ingest

    report = ingest(settings)
    print(report.summary())
    if not report.reconciles:
        raise CommandError("ingestion does not reconcile: see the per-file log above")


def _cmd_run(args: argparse.Namespace, settings: Settings) -> None:
    from orchestration.run import full_refresh_config, run_pipeline
    from paw.progress import ConsoleProgress
    from paw.summary import summary

    # Dagster's own run log only with -v: by default one line per stage, then the summary
    result = run_pipeline(
        settings,
        run_config=full_refresh_config() if args.full_refresh else None,
        progress=ConsoleProgress(sys.stdout),
        log_level="DEBUG" if args.verbose else "CRITICAL",
    )
    print(result.summary())
    if not result.success:
        raise CommandError(result.failure_line())
    print(summary(settings.warehouse_path))


def _cmd_dbt(args: argparse.Namespace, settings: Settings) -> None:
    from orchestration.dbt.project import run_dbt_command

    result = run_dbt_command(args.dbt_args, settings)
    if result.returncode != 0:
        raise CommandError(f"dbt {' '.join(args.dbt_args[:1])} exited with {result.returncode}")


def _cmd_sql(args: argparse.Namespace, settings: Settings) -> None:
    from paw.query import run_query

    print(run_query(settings.warehouse_path, args.query, fmt=args.format, max_rows=args.max_rows))


def _cmd_export_usage(args: argparse.Namespace, settings: Settings) -> None:
    from paw.export import ExportRefused, export_usage

    try:
        export = export_usage(
            settings.warehouse_path,
            args.period,
            fmt=args.format,
            out=args.out,
            allow_provisional=args.allow_provisional,
        )
    except ExportRefused as exc:
        raise CommandError(str(exc)) from exc
    state = "final" if export.is_final else "PROVISIONAL"
    print(f"wrote {export.rows:,} rows of usage for {args.period} ({state}) to {export.path}")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paw",
        description="paw, the product analytics warehouse. Configured by PAW_LANDING_URL, "
        "PAW_LAKE_URL, PAW_WAREHOUSE and the AWS variables (a .env file is read).",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="the full logs (Dagster's, dbt's, paw's)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write realistic sample events to the landing zone")
    gen.add_argument("--users", type=int, default=2000, help="simulated people (default 2000)")
    gen.add_argument("--days", type=int, default=60, help="days of history (default 60)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument(
        "--end-date", type=_date, default=None, help="last day of data (default: yesterday, UTC)"
    )
    gen.add_argument(
        "--bad-rate", type=float, default=0.005, help="share of bad lines (default 0.005)"
    )
    gen.add_argument(
        "--if-empty",
        action="store_true",
        help="only when the landing zone holds no landing file yet (what `make run` uses)",
    )
    gen.set_defaults(func=_cmd_generate)

    ing = sub.add_parser("ingest", help="land new landing files in the lake as Parquet")
    ing.set_defaults(func=_cmd_ingest)

    run = sub.add_parser(
        "run", help="the whole pipeline (ingestion, dbt build, checks) as the nightly job runs it"
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every model from the whole lake instead of incrementally",
    )
    run.set_defaults(func=_cmd_run)

    dbt = sub.add_parser(
        "dbt",
        help="run dbt on the warehouse project with paw's settings (e.g. `paw dbt parse`)",
        description="Runs dbt in dbt_project/ with paw's paths and credentials passed to it.",
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's own arguments")
    dbt.set_defaults(func=_cmd_dbt)

    sql = sub.add_parser(
        "sql",
        help="query the warehouse, read-only, and print the result",
        description="Runs one statement on a read-only connection that can read the warehouse "
        "and nothing else (no COPY TO, no reading or attaching other files).",
    )
    sql.add_argument("query", help='one statement, e.g. "select * from marts.fct_sessions"')
    sql.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default; at most --max-rows rows), or every row as csv or json",
    )
    sql.add_argument(
        "--max-rows", type=int, default=40, help="rows of a table to print (default 40)"
    )
    sql.set_defaults(func=_cmd_sql)

    export = sub.add_parser("export", help="write warehouse data out for other systems")
    what = export.add_subparsers(dest="export_what", required=True)
    usage = what.add_parser(
        "usage",
        help="one billing month of metered usage per meter and subject, for invoicing",
        description="Writes marts.agg_usage_billing_period for one month, atomically. Refuses "
        "a month without usage, and one that is not final unless --allow-provisional.",
    )
    usage.add_argument("--period", required=True, help="the month, YYYY-MM (e.g. 2026-10)")
    usage.add_argument(
        "--format", choices=("csv", "parquet"), default=None, help="default: from --out, else csv"
    )
    usage.add_argument(
        "--out", type=Path, default=None, help="the file to write (default usage-YYYY-MM.csv)"
    )
    usage.add_argument(
        "--allow-provisional",
        action="store_true",
        help="export a month that late events can still change",
    )
    usage.set_defaults(func=_cmd_export_usage)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Warnings and errors by default (a command prints its own results); everything with -v.
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Dagster prints its own run log; without this, each of its lines would print twice.
    logging.getLogger("dagster").propagate = False
    if not args.verbose:
        # the instance's database migrations, and libraries' notices to their developers
        logging.getLogger("alembic").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        settings = Settings.from_env()
        args.func(args, settings)
    except CommandError as exc:
        print(f"paw {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"paw {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user; the traceback with --verbose
        log.debug("failure", exc_info=True)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"paw {args.command}: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
