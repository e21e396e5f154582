"""Accounts and metered usage on a real warehouse built by dbt from a hand-made lake: the export
finance invoices from (`paw export usage`), and the usage checks Dagster runs."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from ingestion.ingest import ingest
from orchestration.warehouse.usage_checks import rejected_usage_result, usage_anomaly_result
from paw.cli import main
from paw.settings import Settings
from tests.conftest import PawEnv, event, local_env
from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.slow


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def lake_events() -> list[dict]:
    """acme (u1, u2) and globex (u3); u2 moves from acme to globex on 15 Oct. Usage every day
    from 1 Sep to 4 Nov 2024; one record on 3 Oct has a quantity that is not a number."""
    day0 = datetime(2024, 9, 1, 12, tzinfo=UTC)
    events = [
        event(
            type="group",
            messageId="g1",
            userId="u1",
            groupId="acme",
            timestamp=iso(day0),
            traits={"name": "Acme"},
            properties=None,
            event=None,
        ),
        event(
            type="group",
            messageId="g2",
            userId="u2",
            groupId="acme",
            timestamp=iso(day0),
            traits={"name": "Acme"},
            properties=None,
            event=None,
        ),
        event(
            type="group",
            messageId="g3",
            userId="u3",
            groupId="globex",
            timestamp=iso(day0),
            traits={"name": "Globex"},
            properties=None,
            event=None,
        ),
        event(
            type="group",
            messageId="g4",
            userId="u2",
            groupId="globex",
            timestamp=iso(datetime(2024, 10, 15, tzinfo=UTC)),
            traits={"name": "Globex"},
            properties=None,
            event=None,
        ),
    ]
    for d in range(65):
        t = day0 + timedelta(days=d)
        for user in ("u1", "u2", "u3"):
            quantity = "lots" if (user, t.date().isoformat()) == ("u1", "2024-10-03") else 10
            events.append(
                event(
                    messageId=f"use-{user}-{d}",
                    userId=user,
                    event="usage_recorded",
                    namespace="billing",
                    timestamp=iso(t),
                    properties={"quantity": quantity},
                )
            )
    return events


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("usage")
    env = PawEnv(root, Settings.from_env(local_env(root)))
    env.write_lines("usage.ndjson", lake_events())
    ingest(env.settings)
    result = run_dbt(
        [
            "build",
            "--select",
            "+agg_usage_billing_period",
            "+dim_groups",
            "+fct_usage_rejected",
            "+fct_usage_daily",
            "+dim_persons",
            "--indirect-selection",
            "cautious",
        ],
        env.settings,
    )
    assert result.success, result.output[-3000:]
    return env.settings


def export(settings: Settings, monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("PAW_WAREHOUSE", settings.warehouse_path)
    code = main(["export", "usage", *args])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).strip()


def test_a_final_month_exports_one_row_per_meter_and_subject(
    warehouse, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "invoices" / "october.csv"
    code, message = export(warehouse, monkeypatch, capsys, "--period", "2024-10", "--out", str(out))
    assert code == 0, message
    assert "wrote" in message and "(final)" in message
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "period_start",
        "period_end",
        "meter_name",
        "subject_type",
        "subject_id",
        "subject_name",
        "value",
        "events",
        "is_final",
    ]
    events_ingested = {r["subject_id"]: r for r in rows if r["meter_name"] == "events_ingested"}
    # acme: u1 31 days (one rejected) + u2 14 days (1-14 Oct) = 44 records of 10
    # globex: u3 31 days + u2 17 days (15-31 Oct) = 48 records of 10
    assert events_ingested["acme"] == {
        "period_start": "2024-10-01",
        "period_end": "2024-11-01",
        "meter_name": "events_ingested",
        "subject_type": "group",
        "subject_id": "acme",
        "subject_name": "Acme",
        "value": "440",
        "events": "44",
        "is_final": "true",
    }
    assert (events_ingested["globex"]["value"], events_ingested["globex"]["events"]) == (
        "480",
        "48",
    )
    assert not list(out.parent.glob(".*")), "no temporary file is left behind"


def test_a_month_that_is_not_final_or_has_no_usage_is_refused(
    warehouse, tmp_path, monkeypatch, capsys
):
    # the data ends 4 Nov 12:00: November is open, and so is nothing before September
    out = tmp_path / "november.csv"
    code, message = export(warehouse, monkeypatch, capsys, "--period", "2024-11", "--out", str(out))
    assert code == 1 and "not final" in message and "--allow-provisional" in message
    assert not out.exists() and len(message.splitlines()) == 1
    code, message = export(warehouse, monkeypatch, capsys, "--period", "2023-01")
    assert code == 1 and "no usage for period 2023-01" in message and "2024-09" in message
    code, message = export(warehouse, monkeypatch, capsys, "--period", "2024-13")
    assert code == 1 and "not a month" in message


def test_a_provisional_month_exports_as_parquet_when_allowed(
    warehouse, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "november.parquet"
    code, message = export(
        warehouse,
        monkeypatch,
        capsys,
        "--period",
        "2024-11",
        "--out",
        str(out),
        "--allow-provisional",
    )
    assert code == 0 and "PROVISIONAL" in message
    table = pq.read_table(out)
    assert table.column_names[-1] == "is_final"
    assert set(table.column("is_final").to_pylist()) == {False}


def test_rejected_usage_warns_with_its_reasons(warehouse):
    con = duckdb.connect(warehouse.warehouse_path, read_only=True)
    try:
        result = rejected_usage_result(con)
        person_groups = con.execute(
            "select group_ids from marts.dim_persons where person_id = 'u2'"
        ).fetchone()[0]
    finally:
        con.close()
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["rejected_events"].value == 1
    assert "events_ingested: not_a_number 1" in result.description
    assert person_groups == ["acme", "globex"]


def _daily(path: Path, series: dict[str, list[float]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_usage_daily (meter_name varchar, subject_type varchar, "
        "subject_id varchar, usage_date date, value decimal(38, 9), events bigint)"
    )
    start = datetime(2024, 3, 1).date()
    for subject, values in series.items():
        for i, value in enumerate(values):
            con.execute(
                "insert into marts.fct_usage_daily values ('units', 'group', ?, ?, ?, 1)",
                [subject, start + timedelta(days=i), value],
            )
    con.close()
    return duckdb.connect(str(path), read_only=True)


def test_usage_anomaly_flags_a_latest_day_far_from_the_trailing_median(tmp_path):
    usual = [100, 110, 90, 105, 95, 108, 92, 100, 104, 96] * 2  # 20 days, median 100, MAD 5
    steady = [1000, 1004, 996, 1001, 999, 1003, 997, 1000, 1002, 998] * 2  # MAD 2
    con = _daily(
        tmp_path / "w.duckdb",
        {
            "spiking": usual + [127],  # 27 from the median: z = 0.6745 * 27 / 5 = 3.6, 27%
            "wobbling": usual + [125],  # 25 from the median: z = 3.4, within 3.5
            "young": usual[:10] + [1000],  # 10 days of history: too little to judge
            "steady": steady + [985],  # z = 0.6745 * 15 / 2 = 5.1, but 1.5% under its median
        },
    )
    result = usage_anomaly_result(con)
    con.close()
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    subjects = result.metadata["subjects"].value
    assert [s["subject_id"] for s in subjects] == ["spiking"]
    assert subjects[0]["trailing_median"] == 100 and subjects[0]["mad"] == 5
