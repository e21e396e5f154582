"""The Dagster graph, and real in-process materializations of the whole pipeline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg
import dagster_dbt.core.resource
import duckdb
import pytest

from ingestion.storage import LocalStorage
from orchestration.dbt.incremental import project_definitions
from orchestration.dbt.project import dbt_args, dbt_executable, dbt_project_dir
from orchestration.definitions import build_definitions
from orchestration.run import PipelineResult, full_refresh_config, run_pipeline
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


def test_the_dbt_resource_starts_no_dbt_of_its_own_before_a_build(monkeypatch):
    """orchestration/dbt/resource.py: dbt's version is that of the dbt paw runs, known without
    the `dbt --version` subprocess dagster-dbt would start, and no adapter is loaded into
    Dagster's process."""
    resource = build_definitions().resources["dbt"]
    reported = subprocess.run(
        [dbt_executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    installed = re.search(r"installed: (\d+\.\d+\.\d+)", reported).group(1)

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"a subprocess before the build: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_subprocess)
    assert str(resource._cli_version) == installed
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_the_whole_graph_materializes_and_every_check_passes(first_run):
    root, result = first_run
    assert result.success, result.summary()
    assert result.failures == [] and result.warnings == [], result.summary()
    assert result.checks_total > 70 and result.checks_passed == result.checks_total
    con = duckdb.connect(str(root / "warehouse" / "paw.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.fct_sessions").fetchone()[0] > 0
    assert con.execute("select count(*) from marts.dim_persons").fetchone()[0] >= USERS
    assert not list((root / "warehouse" / ".build").glob("*.duckdb"))  # published by rename


MARTS_COMPARED = ("fct_sessions", "agg_retention", "fct_funnel_progress")


def _marts(path: str) -> dict[str, list[tuple]]:
    with duckdb.connect(path, read_only=True) as con:
        return {
            t: con.execute(f"select * from marts.{t} order by all").fetchall()
            for t in MARTS_COMPARED
        }


@dataclass
class SecondRun:
    """A second run on a copy of the first, with nothing new landed."""

    root: Path
    settings: Settings
    staged_at: object
    lake_files: tuple[list[str], list[str]]
    marts: tuple[dict, dict]
    result: PipelineResult


@pytest.fixture(scope="module")
def second_run(first_run, tmp_path_factory):
    """The second run, shared by the tests of what it changes (nothing) and of how the run after
    it builds; each pipeline run here costs a build (CI's time)."""
    root = tmp_path_factory.mktemp("second") / "copy"
    shutil.copytree(first_run[0], root)
    with pytest.MonkeyPatch.context() as mp:
        settings = _use(root, mp)
        staged_at = _oldest_staged_at(settings)
        lake_before = sorted(p.name for p in (root / "lake").rglob("*.parquet"))
        marts_before = _marts(settings.warehouse_path)
        result = run_pipeline(settings)  # incremental, on a copy of the published warehouse
        lake_after = sorted(p.name for p in (root / "lake").rglob("*.parquet"))
        return SecondRun(
            root,
            settings,
            staged_at,
            (lake_before, lake_after),
            (marts_before, _marts(settings.warehouse_path)),
            result,
        )


def test_a_second_run_ingests_nothing_and_changes_no_mart(second_run):
    assert second_run.result.success, second_run.result.summary()
    before, after = second_run.lake_files
    assert after == before
    before, after = second_run.marts
    assert after == before


@dataclass
class Nightly:
    """A nightly on a copy of the first run whose new files hold events on time and late, with
    an analyst's connection querying the published warehouse throughout."""

    settings: Settings
    result: PipelineResult
    before: int  # fct_events' rows before the run
    counts: list[int]  # what the analyst's connection read during the run


ON_TIME = 50


@pytest.fixture(scope="module")
def nightly(first_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly") / "copy"
    shutil.copytree(first_run[0], root)
    with pytest.MonkeyPatch.context() as mp:
        settings = _use(root, mp)
        reader = duckdb.connect(settings.warehouse_path, read_only=True)
        before = reader.execute("select count(*) from marts.fct_events").fetchone()[0]
        latest = reader.execute("select max(event_timestamp) from staging.stg_events").fetchone()[0]
        late = [
            event(messageId="on-time", userId="late-tester", timestamp=iso(latest)),
            event(messageId="ten-days-late", userId="late-tester", timestamp=iso(latest, days=-10)),
            event(messageId="two-days-late", userId="late-tester", timestamp=iso(latest, days=-2)),
        ]
        extra = [
            event(event="extra", userId=f"x{i}", messageId=f"x{i}", timestamp=iso(latest))
            for i in range(ON_TIME)
        ]
        for name, lines in (("late.ndjson", late), ("more.ndjson", extra)):
            (root / "landing" / name).write_text("\n".join(json.dumps(x) for x in lines) + "\n")
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
            reader.close()
        return Nightly(settings, result, before, counts)


def test_an_event_later_than_the_lookback_is_placed_and_warned_about(nightly):
    """A nightly whose new run holds an event ten days older than the latest one staged:
    the run succeeds and publishes, the event is in fct_events, and the lookback check warns
    with the number of such events (one)."""
    result = nightly.result
    assert result.success and result.published, result.summary()
    warned = [w for w in result.warnings if "assert_events_arrive_within_the_lookback" in w]
    assert len(warned) == 1 and warned[0].endswith("1 failing row"), result.summary()
    with duckdb.connect(nightly.settings.warehouse_path, read_only=True) as con:
        placed = con.execute(
            "select count(*) from marts.fct_events where user_id = 'late-tester'"
        ).fetchone()[0]
    assert placed == 3


def test_an_analyst_reading_during_a_rebuild_does_not_block_it(nightly):
    assert nightly.result.success, nightly.result.summary()
    # The open connection kept answering from the warehouse it opened, throughout the rebuild.
    assert nightly.counts and set(nightly.counts) == {nightly.before}
    with duckdb.connect(nightly.settings.warehouse_path, read_only=True) as fresh:
        after = fresh.execute("select count(*) from marts.fct_events").fetchone()[0]
    assert after == nightly.before + ON_TIME + 3


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


def test_the_next_run_is_incremental_unless_the_definitions_changed(second_run, monkeypatch):
    """docs/orchestration.md, definitions: a run on the published warehouse keeps its staged
    rows (incremental); once the warehouse says it was built from another funnels.csv, the next
    run rebuilds everything, and records the project's definitions again. Each build runs at one
    path with the same vars and keeps its parse for the next: the third run's dbt parses
    nothing again (orchestration/dbt/project.py: build_target)."""
    settings = _use(second_run.root, monkeypatch)
    first = second_run.result
    assert first.success
    # the copy's first build: its paths are new, so dbt parses the project whole
    assert "Unable to do partial parsing" in _dbt_log(first.run_id)
    assert _oldest_staged_at(settings) == second_run.staged_at  # incremental: earlier rows kept
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
    assert _oldest_staged_at(settings) > second_run.staged_at  # a full refresh: every row again
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


def _broken_published_warehouse(root: Path, monkeypatch) -> tuple[Settings, bytes]:
    """A landing zone of one event and a published warehouse that cannot be opened: the build
    is a full one (of one event: these tests are about the checks, not the data), then
    stg_events_checks (which compares the new build with the published one) raises. Returns the
    settings and the published file's bytes."""
    settings = _use(root, monkeypatch)
    (root / "landing").mkdir(parents=True)
    (root / "landing" / "more.ndjson").write_text(
        json.dumps({"type": "track", "event": "x", "userId": "u", "timestamp": "2024-01-02"}) + "\n"
    )
    warehouse = Path(settings.warehouse_path)
    warehouse.parent.mkdir(parents=True)
    warehouse.write_bytes(b"not a duckdb file" * 1000)
    return settings, warehouse.read_bytes()


def test_a_failed_blocking_check_stops_the_publish_in_process(tmp_path, monkeypatch):
    settings, before = _broken_published_warehouse(tmp_path, monkeypatch)
    result = run_pipeline(settings)
    assert not result.success
    assert any("stg_events_checks" in f for f in result.failures), result.summary()
    assert Path(settings.warehouse_path).read_bytes() == before
    # the check failed opening its second connection: its first was closed all the same (a
    # leaked read-only connection would refuse this read-write one in the same process)
    build = build_path(settings.warehouse_path, result.run_id)
    duckdb.connect(str(build)).close()


def test_a_failed_blocking_check_stops_the_publish_with_one_process_per_step(tmp_path, monkeypatch):
    settings, before = _broken_published_warehouse(tmp_path, monkeypatch)
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
    assert steps["dbt_warehouse"] == "STEP_SUCCESS"
    assert steps["stg_events_checks"] == "STEP_FAILURE"
    assert steps.get("warehouse__published") != "STEP_SUCCESS"
    assert Path(settings.warehouse_path).read_bytes() == before
