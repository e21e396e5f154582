"""`paw export usage`: one billing month of metered usage, for invoicing, written atomically."""

from __future__ import annotations

import csv
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from paw.query import connect_read_only

USAGE_COLUMNS = (
    "period_start",
    "period_end",
    "meter_name",
    "subject_type",
    "subject_id",
    "subject_name",
    "value",
    "events",
    "is_final",
)
EXPORT_FORMATS = ("csv", "parquet")
PERIOD_PATTERN = re.compile(r"(\d{4})-(\d{2})")

USAGE_SQL = """
select
    usage.period_start,
    usage.period_end,
    usage.meter_name,
    usage.subject_type,
    usage.subject_id,
    case usage.subject_type
        when 'group' then groups.group_name
        when 'person' then coalesce(
            json_extract_string(persons.traits, '$.name'),
            json_extract_string(persons.traits, '$.email')
        )
    end as subject_name,
    usage.value,
    usage.events,
    usage.is_final
from marts.agg_usage_billing_period as usage
left join marts.dim_groups as groups
    on usage.subject_type = 'group' and usage.subject_id = groups.group_id
left join marts.dim_persons as persons
    on usage.subject_type = 'person' and usage.subject_id = persons.person_id
where usage.period_start = ?
order by usage.meter_name, usage.subject_type, usage.subject_id
"""


class ExportRefused(ValueError):
    """The export was not written; the message says why in one line."""


@dataclass(frozen=True)
class UsageExport:
    path: Path
    rows: int
    is_final: bool


def parse_period(text: str) -> date:
    match = PERIOD_PATTERN.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ExportRefused(f"period {text!r} is not a month (YYYY-MM, e.g. 2026-10)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def export_format(fmt: str | None, out: Path | None) -> str:
    """The format asked for, else the one the output's suffix names, else CSV."""
    if fmt is not None:
        return fmt
    if out is not None and out.suffix.lstrip(".") in EXPORT_FORMATS:
        return out.suffix.lstrip(".")
    return "csv"


def export_usage(
    warehouse_path: str,
    period: str,
    *,
    fmt: str | None = None,
    out: Path | None = None,
    allow_provisional: bool = False,
) -> UsageExport:
    start = parse_period(period)
    fmt = export_format(fmt, out)
    out = out or Path(f"usage-{start:%Y-%m}.{fmt}")
    con = connect_read_only(warehouse_path)
    try:
        table = con.execute(USAGE_SQL, [start]).arrow().read_all()
        if table.num_rows == 0:
            months = [
                f"{row[0]:%Y-%m}"
                for row in con.execute(
                    "select distinct period_start from marts.agg_usage_billing_period order by 1"
                ).fetchall()
            ]
            known = ", ".join(months) if months else "none"
            raise ExportRefused(f"no usage for period {start:%Y-%m} (periods with usage: {known})")
    finally:
        con.close()
    is_final = all(table.column("is_final").to_pylist())
    if not is_final and not allow_provisional:
        raise ExportRefused(
            f"period {start:%Y-%m} is not final: events up to paw_usage_late_days after its end "
            "can still change it (pass --allow-provisional to export it anyway)"
        )
    _write_atomically(out, table, fmt)
    return UsageExport(path=out, rows=table.num_rows, is_final=is_final)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # exact, without DECIMAL(38, 9)'s trailing zeros
    return str(value)


def _write_atomically(out: Path, table, fmt: str) -> None:
    """Write next to the target, then rename: a reader never sees half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        if fmt == "parquet":
            os.close(fd)
            pq.write_table(table, tmp)
        else:
            with os.fdopen(fd, "w", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(USAGE_COLUMNS)
                for row in zip(*(table.column(c).to_pylist() for c in USAGE_COLUMNS), strict=True):
                    writer.writerow([_cell(v) for v in row])
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
