"""Consecutive incremental builds equal a full rebuild, mart for mart and row for row (as
Snowplow's dbt packages test their incremental models): a landing zone fed in five batches, with
redeliveries across batches, late events, an alias merging two persons of earlier batches, an
identify claiming an old anonymous device, a shared device and group calls that move earlier
events into a group. After each batch an incremental build (dbt on the same warehouse, as the
nightly build works on a copy of the published one); at the end every mart is compared with a
fresh full build of the same lake."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.ingest import ingest
from ingestion.storage import LocalStorage
from orchestration.warehouse.files import move_database
from paw.settings import Settings
from simulator.sample_data import GenerateOptions, generate
from tests.conftest import PawEnv, event, local_env
from tests.dbt_helpers import mart_rows, run_dbt
from tests.test_compaction import partly_deleted_vectors

pytestmark = pytest.mark.slow

START = datetime(2024, 5, 6, 9, tzinfo=UTC)
BUILD = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def batch_events(batch: int) -> list[dict]:
    """Hand-made identity and timing cases; batch n's events happen on day n (late ones
    earlier)."""
    day = START + timedelta(days=batch)
    n = 0

    def ev(**fields) -> dict:
        nonlocal n
        n += 1
        fields.setdefault("messageId", f"b{batch}-{n}")
        fields.setdefault("timestamp", iso(day + timedelta(minutes=n)))
        return event(**fields)

    if batch == 1:
        return [
            ev(anonymousId="device-old", userId=None, type="page", properties={"path": "/pricing"}),
            ev(userId="alice", event="signed_up"),
            ev(userId="bob", event="signed_up"),
            ev(
                type="identify",
                userId="carol",
                anonymousId="shared-laptop",
                traits={"plan": "free"},
            ),
            ev(userId="carol", anonymousId="shared-laptop", event="project_created"),
            ev(messageId="redelivered", userId="alice", event="project_created"),
            # bob's group: alice's events join it when the alias of batch 3 merges them
            ev(type="group", userId="bob", groupId="acme", event=None, traits={"name": "Acme"}),
            # bob's NPS answer and purchase move to alice's person with the alias of batch 3
            ev(userId="bob", event="nps_submitted", properties={"score": 9}),
            ev(userId="bob", event="order_completed", properties={"revenue": "3.50"}),
            # a purchase on a kiosk, anonymous until ivan claims the kiosk in batch 5
            ev(
                anonymousId="kiosk",
                userId=None,
                event="order_completed",
                properties={"revenue": "12.00"},
            ),
            # hank's usage has no group to count for until his group call of batch 5
            ev(
                userId="hank",
                event="usage_recorded",
                namespace="billing",
                properties={"quantity": 3},
            ),
        ]
    if batch == 2:
        return [
            # a redelivery of batch 1's event: a duplicate, whatever it now says
            ev(
                messageId="redelivered",
                userId="alice",
                event="project_created",
                properties={"copy": "again"},
            ),
            ev(userId="alice", event="order_completed", properties={"revenue": "19.90"}),
            # carol's first group call: her events of batch 1 belong to it (its first link)
            ev(type="group", userId="carol", groupId="globex", event=None, traits={}),
            # late: it happened on day 1
            ev(
                userId="bob",
                event="project_created",
                timestamp=iso(START + timedelta(days=1, hours=5)),
            ),
        ]
    if batch == 3:
        return [
            # alice and bob turn out to be one person
            ev(type="alias", userId="alice", previousId="bob", event=None),
            # an identify claims the anonymous device of batch 1
            ev(type="identify", userId="dave", anonymousId="device-old", traits={"plan": "pro"}),
            ev(userId="dave", event="order_completed", properties={"revenue": "5.00"}),
        ]
    if batch == 4:
        return [
            # the shared laptop, now used by erin
            ev(type="identify", userId="erin", anonymousId="shared-laptop", traits={}),
            ev(
                anonymousId="shared-laptop",
                userId=None,
                type="page",
                properties={"path": "/signup"},
            ),
            # late by two weeks: before everything else
            ev(userId="erin", event="signed_up", timestamp=iso(START - timedelta(days=14))),
        ]
    return [
        ev(userId="carol", event="order_completed", properties={"revenue": "7.25"}),
        # hank's first group call: his usage of batch 1 counts for it (its first link after)
        ev(type="group", userId="hank", groupId="initech", event=None, traits={}),
        # ivan claims the kiosk: its purchase of batch 1 is his
        ev(type="identify", userId="ivan", anonymousId="kiosk", event=None, traits={}),
        ev(messageId="b1-2", userId="alice", event="signed_up"),  # batch 1's, again
        # a week after everything else: the as-of date moves on, and with it the engagement
        # states of persons with no new event
        ev(userId="dave", event="project_created", timestamp=iso(day + timedelta(days=7))),
    ]


def marts(warehouse: str) -> dict[str, list[tuple]]:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        return {t: mart_rows(con, t) for t in tables}
    finally:
        con.close()


# chunks of 20 rows: the incremental builds write their chunked models
# (macros/chunked_tables.sql) in several chunks of persons, full and incremental, as at 100M
# events with the default
CHUNKS = {"paw_chunk_rows": 20}
# the last build in chunks of a million rows: the strategy paw_upsert then updates the rewritten
# rows (up to a tenth of a chunk) where the builds in chunks of 20 delete and insert them. The
# rebuild they are compared with has the same vars (one chunk, one statement a model, as the
# default at this size), so that dbt reuses its parse (vars or a profile that changed cost a
# full parse, about 6 s)
LARGE_CHUNKS = {"paw_chunk_rows": 1_000_000}
# the paw_upsert models whose builds here rewrite enough stored rows to take both ways (the
# others, with a row per group call, purchase or NPS answer, rewrite one or two at most);
# int_funnel_step_events has several rows per event (paw_rows_per_key)
UPSERTED = (
    "int_events_attributed",
    "int_sessionized_activity",
    "int_event_groups",
    "fct_events",
    "int_funnel_step_events",
)


INCREMENTAL_CHUNKED = (
    "fct_events",
    "fct_sessions",
    "int_path_nodes",
    "int_funnel_chains",
    "dim_persons",
)
TABLE_CHUNKED = ("int_engagement_states",)
REPLACED_BY_PERSON = ("int_funnel_chains", "dim_persons")


def dbt_log(dbt_target) -> str:
    """dbt's debug log, rotated parts included: dbt.log.2, dbt.log.1, then dbt.log."""
    logs = (dbt_target / "logs").glob("dbt.log*")
    rotated = sorted(logs, key=lambda p: 0 if p.name == "dbt.log" else int(p.suffix[1:]))
    return "".join(path.read_text() for path in reversed(rotated))


def assert_written_in_chunks(dbt_target, full_refresh: bool) -> dict[str, int]:
    """The chunked models were written in several chunks by the last build (an incremental
    model's incremental build: its temporary table): the SQL dbt ran, from its log, one
    statement a model. Returns each model's count of chunks."""
    log = dbt_log(dbt_target)
    chunks = {}
    for model in INCREMENTAL_CHUNKED + TABLE_CHUNKED:
        created = (
            f'create temporary table "{model}__dbt_tmp'
            if model in INCREMENTAL_CHUNKED and not full_refresh
            else re.findall(rf'create\s+table "[^"]+"\."[^"]+"\."{model}(?:__dbt_tmp)?"', log)[-1]
        )
        start = log.rindex(created)
        statement = log[start : log.find("reset variable paw_chunks", start)]
        assert "On model." not in statement, model  # the statement of this model alone
        assert "set variable paw_chunk = 1;" in statement, model
        chunks[model] = int(re.search(r"set variable paw_chunks = (\d+);", statement).group(1))
    return chunks


def assert_sized_by_changed_persons(chunks: dict[str, int], warehouse: str) -> None:
    """The models that rebuild whole persons (paw_replace_persons) were written in chunks of
    the changed persons' rows, fewer than their whole input would need."""
    con = duckdb.connect(warehouse, read_only=True)
    try:
        events = con.execute("select count(*) from intermediate.int_events_attributed").fetchone()
    finally:
        con.close()
    whole_input = -(-events[0] // CHUNKS["paw_chunk_rows"])
    for model in REPLACED_BY_PERSON:
        assert 1 < chunks[model] < whole_input, (model, chunks[model], whole_input)


def assert_in_person_order(warehouse: str) -> None:
    """fct_events is stored in person order: each person's events are together, in time order
    (a person lives in one chunk)."""
    con = duckdb.connect(warehouse, read_only=True)
    try:
        scattered = con.execute(
            "select count(*) from ("
            " select person_id from marts.fct_events group by person_id"
            " having max(rowid) - min(rowid) + 1 <> count(*))"
        ).fetchone()[0]
        out_of_order = con.execute(
            "select count(*) from ("
            " select row_number() over (partition by person_id order by rowid) as stored,"
            "  row_number() over (partition by person_id order by event_timestamp, event_id)"
            "   as in_time"
            " from marts.fct_events) where stored <> in_time"
        ).fetchone()[0]
    finally:
        con.close()
    assert (scattered, out_of_order) == (0, 0)


def node_log(dbt_target, model: str) -> str:
    """What dbt logged for the model in its last build."""
    log = dbt_log(dbt_target)
    began = log.rindex(f"Began running node model.paw.{model}")
    return log[began : log.index(f"Finished running node model.paw.{model}", began)]


def upsert_path(dbt_target, model: str) -> str:
    """How the last build wrote a paw_upsert model's rewritten rows: 'update' or 'delete'."""
    ran = node_log(dbt_target, model)
    assert "paw_existing_keys" in ran, model
    return "update" if re.search(rf'update "[^"]+"\."[^"]+"\."{model}"', ran) else "delete"


# Incremental models whose builds delete no stored row: stg_events appends the new runs, and
# int_event_property_keys' keys are per run (the paw_upsert ones delete none when they update).
NEVER_DELETING = ("stg_events", "int_event_property_keys")


def assert_compacted(dbt_target, warehouse_path: str) -> None:
    """The last (incremental) build compacted every incremental model that deleted rows, and
    spent no statement on the others (macros/compaction.sql, tests/test_compaction.py): the SQL
    dbt ran, from its log; no vector is left partly deleted."""
    manifest = json.loads((dbt_target / "manifest.json").read_text())
    incremental = {
        node["name"]: (node["schema"], node["config"]["incremental_strategy"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    assert len(incremental) >= 8
    with duckdb.connect(warehouse_path, read_only=True) as con:
        for model, (schema, strategy) in incremental.items():
            deleted = model not in NEVER_DELETING and (
                strategy != "paw_upsert" or upsert_path(dbt_target, model) == "delete"
            )
            compacted = "paw_vectors_with_deletions" in node_log(dbt_target, model)
            assert compacted == deleted, model
            assert partly_deleted_vectors(con, f"{schema}.{model}") == 0, model


def test_five_incremental_builds_equal_a_full_rebuild(tmp_path):
    env = PawEnv(tmp_path, Settings.from_env(local_env(tmp_path)))
    # some volume around the hand-made cases: the sample's first days, one slice a batch
    generate(
        LocalStorage(tmp_path / "sample"),
        GenerateOptions(users=60, days=5, end_date=(START + timedelta(days=5)).date()),
    )
    sample = sorted(p for p in (tmp_path / "sample").rglob("*") if p.is_file())
    rng = random.Random(5)
    rng.shuffle(sample)
    incremental = env.settings
    dbt_target = tmp_path / "dbt-target"
    upsert_paths: dict[str, set[str]] = {model: set() for model in UPSERTED}
    for batch in range(1, 6):
        env.write_lines(f"batch-{batch}/cases.ndjson", batch_events(batch))
        for path in sample[batch - 1 :: 5]:
            target = env.landing / f"batch-{batch}" / path.relative_to(tmp_path / "sample")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        report = ingest(env.settings)
        assert report.reconciles
        chunks = LARGE_CHUNKS if batch == 5 else CHUNKS
        result = run_dbt(BUILD, incremental, target_dir=dbt_target, analytic_vars=chunks)
        assert result.success, result.output[-3000:]
        if batch == 1:  # the first build is a full one, in chunks
            assert_written_in_chunks(dbt_target, full_refresh=True)
            assert_in_person_order(incremental.warehouse_path)
        else:
            for model in UPSERTED:
                upsert_paths[model].add(upsert_path(dbt_target, model))
        if batch == 4:  # an incremental build's new rows
            written = assert_written_in_chunks(dbt_target, full_refresh=False)
            assert_sized_by_changed_persons(written, incremental.warehouse_path)
    # both ways of paw_upsert (macros/incremental.sql) wrote rows the rebuild is compared with
    assert upsert_paths == {model: {"update", "delete"} for model in UPSERTED}
    assert_compacted(dbt_target, incremental.warehouse_path)
    # the reference: a full rebuild from nothing at the same path, with the last build's vars
    built_path = tmp_path / "incremental.duckdb"
    move_database(Path(incremental.warehouse_path), built_path)
    result = run_dbt(
        BUILD + ["--full-refresh"], incremental, target_dir=dbt_target, analytic_vars=LARGE_CHUNKS
    )
    assert result.success, result.output[-3000:]
    log = dbt_log(dbt_target)
    assert "Partial parsing enabled" in log[log.rindex("Running with dbt=") :]
    built, rebuilt = marts(str(built_path)), marts(incremental.warehouse_path)
    assert set(built) == set(rebuilt) and len(built) > 20
    for table in rebuilt:
        assert built[table] == rebuilt[table], table
    # the cases happened: the redeliveries were duplicates, the alias merged alice and bob
    con = duckdb.connect(str(built_path), read_only=True)
    assert con.execute("select sum(duplicates) from staging.stg_ingestion_log").fetchone()[0] >= 2
    assert (
        con.execute(
            "select count(distinct person_id) from marts.fct_events "
            "where user_id in ('alice', 'bob')"
        ).fetchone()[0]
        == 1
    )
    # the group calls moved earlier events: carol's into her group, alice's into bob's
    assert con.execute(
        "select user_id, list(distinct group_id) from marts.fct_events "
        "where user_id in ('alice', 'carol') group by user_id order by user_id"
    ).fetchall() == [("alice", ["acme"]), ("carol", ["globex"])]
    # the rows of the group calls, NPS answers and metered events moved with them
    assert (
        con.execute(
            "select count(distinct person_id) from ("
            " select person_id from marts.fct_events where user_id = 'alice'"
            " union all select links.person_id from intermediate.int_group_links as links"
            "  where links.group_id = 'acme'"
            " union all select answers.person_id from marts.fct_nps_responses as answers"
            "  inner join staging.stg_events as events on answers.event_id = events.event_id"
            "  where events.user_id = 'bob'"
            " union all select purchases.person_id from intermediate.int_purchases as purchases"
            "  inner join staging.stg_events as events on purchases.event_id = events.event_id"
            "  where events.user_id = 'bob')"
        ).fetchone()[0]
        == 1
    )
    assert con.execute(
        "select events.anonymous_id from intermediate.int_purchases as purchases"
        " inner join staging.stg_events as events on purchases.event_id = events.event_id"
        " where purchases.person_id = (select person_id from intermediate.int_user_persons"
        "  where user_id = 'ivan')"
    ).fetchall() == [("kiosk",)]
    assert con.execute(
        "select metered.subject_id, metered.rejection_reason"
        " from intermediate.int_metered_events as metered"
        " inner join staging.stg_events as events on metered.event_id = events.event_id"
        " where events.user_id = 'hank'"
    ).fetchall() == [("initech", None)]
    assert con.execute("select count(distinct run_id) from staging.stg_events").fetchone()[0] == 5


def test_runs_no_longer_committed_are_unstaged_by_an_incremental_build(tmp_path):
    """docs/orchestration.md: stg_events and the per-run counts of int_event_property_keys
    forget the rows of a run that the lake no longer has committed (its log entry gone), and
    keep every other run's, in a plain incremental `dbt build`."""
    env = PawEnv(tmp_path, Settings.from_env(local_env(tmp_path)))
    runs: list[str] = []
    for batch in (1, 2):
        env.write_lines(f"batch-{batch}/events.ndjson", [event(messageId=f"m{batch}")])
        ingest(env.settings)
        # the new log entry (two runs in one second sort by their random suffix)
        logged = {p.stem for p in (env.lake / "_ingestion_log").glob("*.parquet")}
        runs += sorted(logged - set(runs))
    models = ["build", "--select", "stg_events", "int_event_property_keys", *BUILD[1:]]
    assert run_dbt(models, env.settings).success
    (env.lake / "_ingestion_log" / f"{runs[0]}.parquet").unlink()  # the lake lost run 1
    result = run_dbt(models, env.settings)
    assert result.success, result.output[-3000:]
    con = duckdb.connect(env.settings.warehouse_path, read_only=True)
    for table in ("staging.stg_events", "intermediate.int_event_property_keys"):
        assert con.execute(f"select distinct run_id from {table}").fetchall() == [(runs[1],)]
