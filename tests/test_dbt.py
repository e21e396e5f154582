"""The real dbt project over a lake made by `paw generate` + `paw ingest`: every model, every
data test and unit test, plus properties of the marts checked from outside dbt."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestion.ingest import ingest
from ingestion.storage import LocalStorage
from orchestration.warehouse.files import remove_database
from paw.settings import Settings
from simulator.sample_data import GenerateOptions, generate
from tests.conftest import event, local_env
from tests.dbt_helpers import mart_rows, run_dbt

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Settings, Path]:
    root = tmp_path_factory.mktemp("dbt")
    env = local_env(root)
    settings = Settings.from_env(env)
    generate(
        LocalStorage(root / "landing"),
        GenerateOptions(users=400, days=45, end_date=date(2024, 6, 30)),
    )
    # A RudderStack identify (traits only in context.traits) and a page call with a category.
    (root / "landing" / "handmade.ndjson").write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                event(
                    type="identify",
                    messageId="rs-identify",
                    userId="rudder-user",
                    timestamp="2024-06-10T10:00:00Z",
                    properties=None,
                    context={"traits": {"email": "r@example.com"}},
                ),
                event(
                    type="page",
                    messageId="rs-page",
                    userId="rudder-user",
                    name="Docs",
                    category="Guides",
                    timestamp="2024-06-10T10:01:00Z",
                ),
            )
        )
        + "\n"
    )
    ingest(settings)
    result = run_dbt(["build"], settings)
    assert result.success, result.output
    assert len(result.statuses) > 100 and not result.failed, result.failed
    return settings, root


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(settings.warehouse_path, read_only=True)


def scratch(built, copy: bool = True) -> tuple[Settings, Path]:
    """The module's scratch warehouse: a copy of the built one to tamper with (or no file, to
    build from nothing), always at one path. dbt then keeps one parse of the project for all the
    tests that use it: a warehouse at a new path costs a full parse (about 6 s)."""
    settings, root = built
    path = root / "scratch" / "paw.duckdb"
    path.parent.mkdir(exist_ok=True)
    remove_database(path)
    if copy:
        shutil.copyfile(settings.warehouse_path, path)
    return settings.with_warehouse(str(path)), path


def test_schemas_are_exactly_staging_intermediate_and_marts(built):
    settings, _ = built
    con = connect(settings)
    schemas = {
        r[0] for r in con.execute("select distinct schema_name from duckdb_tables()").fetchall()
    }
    assert schemas == {"staging", "intermediate", "marts"}


def test_dbt_sends_no_usage_events_to_third_parties(built):
    """dbt_project.yml turns off dbt's anonymous usage events: a self-hosted warehouse's builds
    make no request outside it."""
    settings, _ = built
    log = (Path(settings.warehouse_path).parent / ".dbt-target" / "logs" / "dbt.log").read_text()
    assert "Running with dbt=" in log
    assert "Sending event" not in log


def test_context_traits_reach_the_person_and_a_page_category_reaches_fct_events(built):
    settings, _ = built
    con = connect(settings)
    traits = con.execute(
        "select traits from marts.dim_persons where person_id = "
        "(select person_id from marts.fct_events where event_id = 'rs-page')"
    ).fetchone()[0]
    assert json.loads(traits)["email"] == "r@example.com"
    category = con.execute(
        "select page_category from marts.fct_events where event_id = 'rs-page'"
    ).fetchone()[0]
    assert category == "Guides"


def test_the_seed_rules_clean_the_sample_project_pages_into_one_path_node(built):
    settings, _ = built
    con = connect(settings)
    nodes = con.execute(
        "select count(*) filter (where node = 'page:/app/projects/:id'), "
        "count(*) filter (where regexp_matches(node, '/projects/[0-9]|[?]')) "
        "from intermediate.int_path_nodes"
    ).fetchone()
    assert nodes[0] > 0 and nodes[1] == 0, nodes


def test_every_staged_activity_event_is_in_fct_events_once(built):
    settings, _ = built
    con = connect(settings)
    staged = con.execute("select count(*) from staging.stg_events where is_activity").fetchone()[0]
    facts, distinct = con.execute(
        "select count(*), count(distinct event_id) from marts.fct_events"
    ).fetchone()
    assert staged == facts == distinct


def test_sessions_respect_the_timeout_from_outside_dbt(built):
    settings, _ = built
    con = connect(settings)
    # Recompute sessions in Python from fct_events and compare counts per person.
    rows = con.execute(
        "select person_id, event_timestamp from marts.fct_events "
        "order by person_id, event_timestamp, event_id"
    ).fetchall()
    expected: dict[str, int] = {}
    last: dict[str, object] = {}
    for person, ts in rows:
        if person not in last or (ts - last[person]).total_seconds() > 30 * 60:
            expected[person] = expected.get(person, 0) + 1
        last[person] = ts
    actual = dict(
        con.execute("select person_id, count(*) from marts.fct_sessions group by 1").fetchall()
    )
    assert actual == expected
    assert (
        con.execute(
            "select count(*) from marts.fct_sessions where is_bounce <> (event_count = 1)"
        ).fetchone()[0]
        == 0
    )


def test_identity_stitching_on_the_sample_story(built):
    settings, _ = built
    con = connect(settings)
    # Legacy user ids are merged into their new user id by an alias call.
    merged = con.execute(
        "select person_id, user_ids from marts.dim_persons where len(user_ids) > 1"
    ).fetchall()
    assert merged, "the sample data has legacy ids merged by alias"
    for person_id, user_ids in merged:
        assert person_id in user_ids
        assert any(u.startswith("legacy_") for u in user_ids)
    # Orders are sent server-side with a user id only; they still belong to identified persons.
    anonymous_orders = con.execute(
        "select count(*) from marts.fct_events e join marts.dim_persons p using (person_id) "
        "where e.event_name = 'order_completed' and not p.is_identified"
    ).fetchone()[0]
    assert anonymous_orders == 0
    # Pre-signup browsing is credited to the person who signed up.
    pre_signup = con.execute(
        "select count(*) from marts.fct_events where user_id is null and person_id like 'user_%'"
    ).fetchone()[0]
    assert pre_signup > 0


def test_funnel_steps_are_monotonic_and_consistent_with_progress(built):
    settings, _ = built
    con = connect(settings)
    steps = con.execute(
        "select funnel_name, step_number, users from marts.agg_funnel_steps order by 1, 2"
    ).fetchall()
    by_funnel: dict[str, list[int]] = {}
    for name, _, users in steps:
        by_funnel.setdefault(name, []).append(users)
    assert set(by_funnel) == {
        "signup_to_purchase",
        "pricing_to_signup",
        "first_project",
        "onboarding_checklist",
    }
    for users in by_funnel.values():
        assert users == sorted(users, reverse=True)
        assert users[0] > 0
    for name, step, users in steps:
        reached = con.execute(
            "select count(*) from marts.fct_funnel_progress "
            "where funnel_name = ? and max_step >= ?",
            [name, step],
        ).fetchone()[0]
        assert reached == users


def test_retention_day_zero_is_everyone_and_grains_agree_on_cohort_sizes(built):
    settings, _ = built
    con = connect(settings)
    totals = dict(
        con.execute(
            "select cohort_grain, sum(cohort_size) from marts.agg_retention "
            "where retention_name = 'activity' and period_number = 0 group by 1"
        ).fetchall()
    )
    persons = con.execute("select count(distinct person_id) from marts.fct_events").fetchone()[0]
    assert totals == {"day": persons, "week": persons, "month": persons}
    assert (
        con.execute(
            "select count(*) from marts.agg_retention "
            "where retention_name = 'activity' and period_number = 0 and retention_rate <> 1"
        ).fetchone()[0]
        == 0
    )


def test_a_rebuild_of_the_same_lake_gives_the_same_marts(built):
    settings, _ = built
    again, other = scratch(built, copy=False)
    models = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    result = run_dbt(models, again)
    assert result.success, result.output
    a, b = connect(settings), duckdb.connect(str(other), read_only=True)
    for table in [
        "fct_sessions",
        "fct_events",
        "dim_persons",
        "agg_retention",
        "fct_rfm",
        "agg_cohort_revenue",
        "fct_funnel_progress",
        "agg_funnel_steps",
        "agg_funnel_trends",
        "agg_funnel_breakdown",
    ]:
        assert mart_rows(a, table) == mart_rows(b, table), table


def test_uniqueness_tests_check_the_keys_of_the_rows_a_build_wrote(built):
    """docs/orchestration.md, data tests: a key repeated by a row of the newest build fails;
    a repeat among rows that earlier builds wrote (and their tests passed) is not looked for
    again; a full build's rows are all new and are checked whole."""
    tampered, copy = scratch(built)
    with duckdb.connect(str(copy)) as con:
        # an incremental build's new row that repeats an event staged earlier
        con.execute(
            "insert into staging.stg_events select * replace "
            "(built_at + interval 1 day as built_at) from staging.stg_events limit 1"
        )
        # a repeat among an earlier build's rows, under a newer build's row
        con.execute(
            "insert into marts.fct_events select * from marts.fct_events "
            "where event_id = (select min(event_id) from marts.fct_events)"
        )
        con.execute(
            "update marts.fct_events set built_at = built_at + interval 1 day "
            "where event_id = (select max(event_id) from marts.fct_events)"
        )
        # a repeat in a table that one build wrote whole
        con.execute(
            "insert into intermediate.int_event_groups "
            "select * from intermediate.int_event_groups limit 1"
        )
    tests = [
        "stg_events_event_id_is_unique",
        "fct_events_event_id_is_unique",
        "int_event_groups_event_id_is_unique",
    ]
    result = run_dbt(["test", "--select", *tests], tampered)
    assert result.failed == {"stg_events_event_id_is_unique", "int_event_groups_event_id_is_unique"}


def test_a_reference_to_a_missing_row_fails_the_relationships_test(built):
    """macros/tests/generic_tests.sql: dbt's relationships, each referring value looked up once;
    a session that events refer to and fct_sessions lost fails it."""
    test = "fct_events_session_id_exists_in_fct_sessions"
    orphaned, path = scratch(built)
    assert run_dbt(["test", "--select", test], orphaned).success
    with duckdb.connect(str(path)) as con:
        con.execute(
            "delete from marts.fct_sessions "
            "where session_id = (select min(session_id) from marts.fct_sessions)"
        )
    result = run_dbt(["test", "--select", test], orphaned)
    assert result.failed == {test}


def test_the_reconciliation_lists_every_event_whose_totals_differ(built):
    """tests/assert_every_activity_event_in_fct_events_once.sql: the totals (count and sum of
    the ids' hashes) agree on a clean build; an event lost, a stray id at the same count, and an
    event repeated in place of another (count unchanged) each make them differ, and the test
    then lists the events concerned."""
    reconciliation = "assert_every_activity_event_in_fct_events_once"
    settings, _ = built
    assert run_dbt(["test", "--select", reconciliation], settings).success
    first = "(select min(event_id) from marts.fct_events)"
    last = "(select max(event_id) from marts.fct_events)"
    tamperings = {
        "lost": f"delete from marts.fct_events where event_id = {first}",
        "stray": f"update marts.fct_events set event_id = 'never-staged' where event_id = {last}",
        "repeated": f"update marts.fct_events set event_id = {first} where event_id = {last}",
    }
    for name, tampering in tamperings.items():
        tampered, path = scratch(built)
        with duckdb.connect(str(path)) as con:
            con.execute(tampering)
        result = run_dbt(["test", "--select", reconciliation], tampered)
        assert result.failed == {reconciliation}, name
        # lost: the event; stray: the stray id and the event it replaced; repeated: the repeated
        # event and the one it replaced
        assert result.failures_of(reconciliation) == {"lost": 1, "stray": 2, "repeated": 2}[name]


def test_a_redelivery_across_runs_keeps_the_first_committed_copy(tmp_path):
    env = local_env(tmp_path)
    settings = Settings.from_env(env)
    landing = tmp_path / "landing"
    landing.mkdir()
    first = event(messageId="dup", receivedAt="2024-03-01T10:05:00Z", properties={"copy": "first"})
    again = event(messageId="dup", receivedAt="2024-03-01T10:00:01Z", properties={"copy": "again"})
    (landing / "1.ndjson").write_text(json.dumps(first) + "\n")
    ingest(settings)
    (landing / "2.ndjson").write_text(json.dumps(again) + "\n")
    assert ingest(settings).files[0].duplicates == 1
    result = run_dbt(["run", "--select", "stg_events"], settings)
    assert result.success, result.output
    con = duckdb.connect(env["PAW_WAREHOUSE"], read_only=True)
    assert con.execute("select properties from staging.stg_events").fetchall() == [
        ('{"copy":"first"}',)
    ]


def test_paths_with_quotes_are_data_not_sql(tmp_path):
    root = tmp_path / "o'brien's data"
    settings = Settings.from_env(local_env(root))
    generate(
        LocalStorage(root / "landing"),
        GenerateOptions(users=20, days=3, end_date=date(2024, 6, 30)),
    )
    report = ingest(settings)
    result = run_dbt(["run", "--select", "stg_events", "stg_quarantined_events"], settings)
    assert result.success, result.output
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        staged = con.execute("select count(*) from staging.stg_events").fetchone()[0]
    assert staged == report.events_landed


def test_billing_and_infra_events_are_not_activity(built):
    """paw_activity_namespaces (default product): server-side usage records and infra events
    stay in staging but never reach the activity marts."""
    settings, _ = built
    con = connect(settings)
    by_namespace = dict(
        con.execute(
            "select namespace, count(*) filter (where is_activity) from staging.stg_events "
            "where event_type = 'track' group by namespace"
        ).fetchall()
    )
    assert by_namespace["billing"] == 0 and by_namespace["infra"] == 0
    assert by_namespace["product"] > 0
    namespaces = con.execute("select distinct namespace from marts.fct_events").fetchall()
    assert namespaces == [("product",)]


def test_sample_experiments_are_analysed_with_an_exclusion(built):
    settings, _ = built
    con = connect(settings)
    rows = con.execute(
        "select experiment_key, count(*), max(multiple_variant_persons) "
        "from marts.agg_experiment_results group by 1 order by 1"
    ).fetchall()
    assert [(key, variants) for key, variants, _ in rows] == [
        ("new_onboarding", 2),
        ("pricing_page", 3),
    ]
    assert sum(excluded for _, _, excluded in rows) > 0
