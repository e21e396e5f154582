"""paw's ordered and strict funnels equal ClickHouse's own windowFunnel (default and
'strict_order' modes, run by chDB) on generated clickstreams, funnel by funnel and person by
person. The funnels have no repeated steps (ClickHouse lets one event fill two equal steps, which
paw forbids: the dbt unit tests cover those), and no person has two events at the same second
(ClickHouse orders such ties by step, paw by event id)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import duckdb
import pytest

from ingestion.ingest import ingest
from tests.conftest import PawEnv, event
from tests.dbt_helpers import copy_dbt_project, run_dbt

pytestmark = pytest.mark.slow

chdb = pytest.importorskip("chdb")

# funnel -> (window seconds, steps); each is built in both modes
FUNNELS = {
    "abc": (600, ["a", "b", "c"]),
    "bd": (300, ["b", "d"]),
    "aceb": (1800, ["a", "c", "e", "b"]),
    "da": (120, ["d", "a"]),
}
MODES = {"ordered": "", "strict": ", 'strict_order'"}
NAMES, WEIGHTS = ["a", "b", "c", "d", "e", "x", "y"], [5, 5, 4, 3, 2, 2, 1]
START = datetime(2024, 6, 3, 8, tzinfo=UTC)


def clickstreams(persons: int = 400, seed: int = 7) -> list[tuple[str, str, int]]:
    """(person, event name, epoch second): times strictly increase per person, with gaps from a
    second to a quarter of an hour, so that windows both hold and break chains."""
    rng = random.Random(seed)
    rows = []
    for p in range(persons):
        t = int(START.timestamp()) + rng.randrange(86400)
        for _ in range(rng.randint(2, 30)):
            t += rng.choice([1, 5, 30, 90, 200, 400, 900])
            rows.append((f"p{p:04d}", rng.choices(NAMES, WEIGHTS)[0], t))
    return rows


@pytest.fixture(scope="module")
def streams() -> list[tuple[str, str, int]]:
    return clickstreams()


@pytest.fixture(scope="module")
def paw_levels(tmp_path_factory, streams) -> dict[tuple[str, str], int]:
    root = tmp_path_factory.mktemp("funnels")
    from paw.settings import Settings
    from tests.conftest import local_env

    env = PawEnv(root, Settings.from_env(local_env(root)))
    env.write_lines(
        "clicks.ndjson",
        [
            event(
                messageId=f"m{i}",
                userId=person,
                event=name,
                timestamp=datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z"),
                properties={},
            )
            for i, (person, name, t) in enumerate(streams)
        ],
    )
    ingest(env.settings)
    project = copy_dbt_project(root)
    seeds = project / "seeds"
    (seeds / "funnels.csv").write_text(
        "funnel_name,conversion_window_seconds,order_mode,breakdown_property\n"
        + "".join(
            f"{name}_{mode},{window},{mode},\n"
            for name, (window, _) in FUNNELS.items()
            for mode in MODES
        )
    )
    (seeds / "funnel_steps.csv").write_text(
        "funnel_name,step_number,event_name,property_name,property_value\n"
        + "".join(
            f"{name}_{mode},{i},{step},,\n"
            for name, (_, steps) in FUNNELS.items()
            for mode in MODES
            for i, step in enumerate(steps, 1)
        )
    )
    (seeds / "funnel_exclusions.csv").write_text("funnel_name,event_name,from_step,to_step\n")
    result = run_dbt(
        ["build", "--select", "+fct_funnel_progress", "--exclude-resource-type", "unit_test"]
        + ["--indirect-selection", "cautious"],
        env.settings,
        project=project,
    )
    assert result.success, result.output[-3000:]
    con = duckdb.connect(env.settings.warehouse_path, read_only=True)
    rows = con.sql(
        "select funnel_name, person_id, max_step from marts.fct_funnel_progress"
    ).fetchall()
    con.close()
    return {(funnel, person): level for funnel, person, level in rows}


def clickhouse_levels(streams, tmp_path) -> dict[tuple[str, str], int]:
    path = tmp_path / "clicks.csv"
    path.write_text("".join(f"{p},{n},{t}\n" for p, n, t in streams))
    levels = {}
    for name, (window, steps) in FUNNELS.items():
        conditions = ", ".join(f"name = '{s}'" for s in steps)
        for mode, argument in MODES.items():
            sql = (
                f"select person, windowFunnel({window}{argument})(t, {conditions}) as level "
                f"from file('{path}', CSV, 'person String, name String, t UInt64') "
                "group by person having level > 0"
            )
            for line in chdb.query(sql, "CSV").bytes().decode().splitlines():
                person, level = line.split(",")
                levels[(f"{name}_{mode}", person.strip('"'))] = int(level)
    return levels


def test_ordered_and_strict_funnels_equal_clickhouse_window_funnel(paw_levels, streams, tmp_path):
    expected = clickhouse_levels(streams, tmp_path)
    assert paw_levels == expected
    # the data exercises what it should: every funnel has converters and drop-outs, and strict
    # mode stops some persons that ordered mode takes further
    for name, (_, steps) in FUNNELS.items():
        for mode in MODES:
            levels = [v for (f, _), v in expected.items() if f == f"{name}_{mode}"]
            assert len(steps) in levels and min(levels) < len(steps), (name, mode)
        stopped = sum(
            expected[(f"{name}_strict", p)] < v
            for (f, p), v in expected.items()
            if f == f"{name}_ordered"
        )
        assert stopped > 0, name
