"""The Dagster graph, and real in-process materializations of the whole pipeline."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion.storage import LocalStorage
from orchestration.dbt.incremental import project_definitions
from orchestration.dbt.project import dbt_args, dbt_project_dir
from orchestration.definitions import build_definitions
from orchestration.run import full_refresh_config, run_pipeline
from orchestration.warehouse.files import build_path
from paw.cli import main
from paw.settings import Settings
from simulator.sample_data import GenerateOptions, generate
from tests.conftest import event, local_env
from tests.pipeline_job import paw_pipeline

pytestmark = pytest.mark.slow

USERS = 400


def _use(root: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    env = local_env(root)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return Settings.from_env(env)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One successful pipeline run on generated data; tests copy its folder and go on from it."""
    root = tmp_path_factory.mktemp("pipeline")
    mp = pytest.MonkeyPatch()
    try:
        settings = _use(root, mp)
        generate(LocalStorage(root / "landing"), GenerateOptions(users=USERS, days=40))
        result = run_pipeline(settings)
        yield root, result
    finally:
        mp.undo()


def _copy(first_run, tmp_path: Path, monkeypatch) -> tuple[Path, Settings]:
    root, _ = first_run
    target = tmp_path / "copy"
    shutil.copytree(root, target)
    return target, _use(target, monkeypatch)


def test_the_schedule_the_sensor_and_the_assets_read_as_documented():
    # keys, groups, dependencies and checks are held exactly by tests/test_asset_graph.py
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    spec = graph.get(dg.AssetKey(["marts", "fct_sessions"]))
    assert "session" in (spec.description or "").lower()
    schema = spec.metadata.get("dagster/column_schema")
    assert schema is not None and "session_id" in {c.name for c in schema.columns}
    schedule = defs.resolve_schedule_def("nightly")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert (
        build_definitions(nightly_cron="0 5 * * *").resolve_schedule_def("nightly").cron_schedule
        == "0 5 * * *"
    )
    sensor = defs.resolve_sensor_def("landing_zone")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_dbt_receives_paws_settings_as_vars_and_never_a_secret():
    settings = Settings.from_env(
        {"AWS_SECRET_ACCESS_KEY": "do-not-pass", "PAW_WAREHOUSE": "/w.duckdb"}
    )
    args = dbt_args(["build"], settings, "/tmp/secrets", {"paw_session_timeout_minutes": 10})
    assert args[:2] == ["build", "--vars"]
    passed = json.loads(args[2])
    # the definitions the warehouse records: the session timeout of this invocation among them
    definitions = passed.pop("paw_project_definitions")
    assert definitions == project_definitions(
        dbt_project_dir(), {"paw_session_timeout_minutes": 10}
    )
    assert definitions != project_definitions(dbt_project_dir())
    assert passed == {
        "paw_lake_url": settings.lake_url,
        "paw_secret_directory": "/tmp/secrets",
        "paw_duckdb_memory_limit": "2GB",
        "paw_duckdb_memory_bytes": 2_000_000_000,
        "paw_session_timeout_minutes": 10,
        "paw_warehouse_path": "/w.duckdb",
        "paw_warehouse_access": "automatic",
    }
    assert "do-not-pass" not in " ".join(args)
    # commands that only read the warehouse never open it for writing
    docs = dbt_args(["docs", "generate"], settings, "/tmp/secrets")
    assert json.loads(docs[3])["paw_warehouse_access"] == "read_only"


def test_the_whole_graph_materializes_and_every_check_passes(first_run):
    root, result = first_run
    assert result.success, result.summary()
    assert result.failures == [] and result.warnings == [], result.summary()
    assert result.checks_total > 70 and result.checks_passed == result.checks_total
    con = duckdb.connect(str(root / "warehouse" / "paw.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.fct_sessions").fetchone()[0] > 0
    assert con.execute("select count(*) from marts.dim_persons").fetchone()[0] >= USERS
    assert not list((root / "warehouse" / ".build").glob("*.duckdb"))  # published by rename


def test_a_second_run_ingests_nothing_and_changes_no_mart(first_run, tmp_path, monkeypatch):
    root, settings = _copy(first_run, tmp_path, monkeypatch)
    path = settings.warehouse_path
    query = "select * from marts.{} order by all"
    before = {}
    with duckdb.connect(path, read_only=True) as con:
        for table in ("fct_sessions", "agg_retention", "fct_funnel_progress"):
            before[table] = con.execute(query.format(table)).fetchall()
    lake_files = sorted(p.name for p in (root / "lake").rglob("*.parquet"))
    result = run_pipeline(settings)  # incremental, on a copy of the published warehouse
    assert result.success, result.summary()
    assert sorted(p.name for p in (root / "lake").rglob("*.parquet")) == lake_files
    with duckdb.connect(path, read_only=True) as con:
        for table, rows in before.items():
            assert con.execute(query.format(table)).fetchall() == rows


def test_an_event_later_than_the_lookback_is_placed_and_warned_about(
    first_run, tmp_path, monkeypatch
):
    """A nightly whose new run holds an event ten days older than the latest one staged:
    the run succeeds and publishes, the event is in fct_events, and the lookback check warns
    with the number of such events (one)."""
    root, settings = _copy(first_run, tmp_path, monkeypatch)
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        latest = con.execute("select max(event_timestamp) from staging.stg_events").fetchone()[0]
    lines = [
        event(messageId="on-time", userId="late-tester", timestamp=iso(latest)),
        event(messageId="ten-days-late", userId="late-tester", timestamp=iso(latest, days=-10)),
        event(messageId="two-days-late", userId="late-tester", timestamp=iso(latest, days=-2)),
    ]
    (root / "landing" / "late.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = run_pipeline(settings)
    assert result.success and result.published, result.summary()
    warned = [w for w in result.warnings if "assert_events_arrive_within_the_lookback" in w]
    assert len(warned) == 1 and warned[0].endswith("1 failing row"), result.summary()
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        placed = con.execute(
            "select count(*) from marts.fct_events where user_id = 'late-tester'"
        ).fetchone()[0]
    assert placed == 3


def iso(at, days: int = 0) -> str:
    return (at + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_paw_run_full_refresh_is_the_dbt_assets_config():
    """`paw run --full-refresh` passes this run config; the pipeline accepts it, and a typo in
    it would not pass (a full refresh from an empty file is what the stale-warehouse tests
    below exercise)."""
    job = paw_pipeline()
    assert dg.validate_run_config(job, full_refresh_config())
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(job, {"ops": {"dbt_warehouse": {"config": {"full_refesh": True}}}})


def _dbt_log(run_id: str) -> str:
    """The dbt log of a run's build (dagster-dbt writes it into the invocation's target)."""
    (target,) = (dbt_project_dir() / "target").glob(f"dbt_warehouse-{run_id[:8]}-*")
    return (target / "dbt.log").read_text()


def _oldest_staged_at(settings: Settings):
    con = duckdb.connect(settings.warehouse_path, read_only=True)
    try:
        return con.execute("select min(built_at) from staging.stg_events").fetchone()[0]
    finally:
        con.close()


def test_the_next_run_is_incremental_unless_the_definitions_changed(
    first_run, tmp_path, monkeypatch
):
    """docs/orchestration.md, definitions: a run on the published warehouse keeps its staged
    rows (incremental); once the warehouse says it was built from another funnels.csv, the next
    run rebuilds everything, and records the project's definitions again. Each build runs at one
    path with the same vars and keeps its parse for the next: the second run's dbt parses
    nothing again (orchestration/dbt/project.py: build_target)."""
    root, settings = _copy(first_run, tmp_path, monkeypatch)
    staged_at = _oldest_staged_at(settings)
    first = run_pipeline(settings)
    assert first.success
    # the copy's first build: its paths are new, so dbt parses the project whole
    assert "Unable to do partial parsing" in _dbt_log(first.run_id)
    assert _oldest_staged_at(settings) == staged_at  # incremental: earlier rows kept
    published = Path(settings.warehouse_path)
    published.chmod(0o644)
    con = duckdb.connect(str(published))
    con.execute(
        "update staging.stg_project_definitions set content_hash = 'edited' "
        "where definition = 'seeds/funnels.csv'"
    )
    con.close()
    second = run_pipeline(settings)
    assert second.success
    assert _oldest_staged_at(settings) > staged_at  # a full refresh: every row built again
    assert "Unable to do partial parsing" not in _dbt_log(second.run_id)
    assert "Partial parsing enabled" in _dbt_log(second.run_id)
    con = duckdb.connect(str(published), read_only=True)
    recorded = dict(
        con.execute(
            "select definition, content_hash from staging.stg_project_definitions"
        ).fetchall()
    )
    assert recorded == project_definitions(dbt_project_dir())


def test_bad_input_over_ten_percent_fails_the_blocking_check_and_keeps_the_warehouse(
    first_run, tmp_path, monkeypatch
):
    root, settings = _copy(first_run, tmp_path, monkeypatch)
    warehouse = Path(settings.warehouse_path)
    before = warehouse.read_bytes()
    good = [
        json.dumps(
            {
                "type": "track",
                "event": "late",
                "userId": f"u{i}",
                "messageId": f"late{i}",
                "timestamp": "2024-01-01T00:00:00Z",
            }
        )
        for i in range(80)
    ]
    bad = ["{broken json"] * 20  # 20% of the new run's lines
    (root / "landing" / "incoming.ndjson").write_text("\n".join(good + bad) + "\n")

    result = run_pipeline(settings)
    assert not result.success
    assert any("quarantine_rate" in f for f in result.failures), result.summary()
    assert warehouse.read_bytes() == before  # the last good warehouse, unchanged
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert (
            con.execute(
                "select count(*) from marts.fct_events where event_name = 'late'"
            ).fetchone()[0]
            == 0
        )


def test_cli_run_exits_non_zero_and_names_the_failed_check(
    first_run, tmp_path, monkeypatch, capsys
):

    root, _ = _copy(first_run, tmp_path, monkeypatch)
    (root / "landing" / "junk.ndjson").write_text("not json\n" * 10)
    assert main(["run"]) == 1
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("paw run: ") and "quarantine_rate" in last_line


def test_an_analyst_reading_during_a_rebuild_does_not_block_it(first_run, tmp_path, monkeypatch):
    root, settings = _copy(first_run, tmp_path, monkeypatch)
    (root / "landing" / "more.ndjson").write_text(
        "\n".join(
            json.dumps(
                {
                    "type": "track",
                    "event": "extra",
                    "userId": f"x{i}",
                    "messageId": f"x{i}",
                    "timestamp": "2024-01-02T00:00:00Z",
                }
            )
            for i in range(50)
        )
        + "\n"
    )
    reader = duckdb.connect(settings.warehouse_path, read_only=True)
    before = reader.execute("select count(*) from marts.fct_events").fetchone()[0]
    counts: list[int] = []
    stop = threading.Event()

    def keep_querying() -> None:
        while not stop.is_set():
            counts.append(reader.execute("select count(*) from marts.fct_events").fetchone()[0])
            time.sleep(0.05)

    thread = threading.Thread(target=keep_querying)
    thread.start()
    try:
        result = run_pipeline(settings)
    finally:
        stop.set()
        thread.join()
    assert result.success, result.summary()
    # The open connection kept answering from the warehouse it opened, throughout the rebuild.
    assert counts and set(counts) == {before}
    reader.close()
    with duckdb.connect(settings.warehouse_path, read_only=True) as fresh:
        assert fresh.execute("select count(*) from marts.fct_events").fetchone()[0] == before + 50


def _break_the_checks(root: Path) -> bytes:
    """A published warehouse that cannot be opened: stg_events_checks (which compares the new
    build with it) raises. Returns its bytes."""
    warehouse = root / "warehouse" / "paw.duckdb"
    warehouse.chmod(0o644)
    warehouse.write_bytes(b"not a duckdb file" * 1000)
    (root / "landing" / "more.ndjson").write_text(
        json.dumps({"type": "track", "event": "x", "userId": "u", "timestamp": "2024-01-02"}) + "\n"
    )
    return warehouse.read_bytes()


def test_a_failed_blocking_check_stops_the_publish_in_process(first_run, tmp_path, monkeypatch):
    root, settings = _copy(first_run, tmp_path, monkeypatch)
    before = _break_the_checks(root)
    result = run_pipeline(settings)
    assert not result.success
    assert any("stg_events_checks" in f for f in result.failures), result.summary()
    assert Path(settings.warehouse_path).read_bytes() == before
    # the check failed opening its second connection: its first was closed all the same (a
    # leaked read-only connection would refuse this read-write one in the same process)
    build = build_path(settings.warehouse_path, result.run_id)
    duckdb.connect(str(build)).close()


def test_a_failed_blocking_check_stops_the_publish_with_one_process_per_step(
    first_run, tmp_path, monkeypatch
):
    root, settings = _copy(first_run, tmp_path, monkeypatch)
    before = _break_the_checks(root)
    with dg.instance_for_test() as instance:
        result = dg.execute_job(
            dg.reconstructable(paw_pipeline), instance=instance, raise_on_error=False
        )
        steps = {
            event.step_key: event.event_type_value
            for event in result.all_events
            if event.step_key and event.is_step_event
        }
    assert not result.success
    assert steps["stg_events_checks"] == "STEP_FAILURE"
    assert steps.get("warehouse__published") != "STEP_SUCCESS"
    assert Path(settings.warehouse_path).read_bytes() == before
