"""Experiment statistics built by dbt (int_experiment_results, a Python model) equal scipy's on
the same counts, computed here independently (a contingency-table chi-square is the pooled
two-proportion z-test). A bad experiments seed is tested with the other seeds
(test_dbt_seeds.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from scipy import stats

from ingestion.ingest import ingest
from tests.conftest import PawEnv, event
from tests.dbt_helpers import copy_dbt_project, run_dbt

pytestmark = pytest.mark.slow

# experiment -> (control, expected_split, {variant: (persons, conversions)}, multi-variant persons)
COUNT_TABLES = {
    "big": ("control", "", {"control": (1000, 100), "b": (1000, 130)}, 3),
    "zero_control": ("control", "", {"control": (40, 0), "b": (45, 6)}, 0),
    "three_way": (
        "control",
        "control=2;b=1;c=1",
        {"control": (300, 30), "b": (280, 45), "c": (320, 29)},
        0,
    ),
    "no_conversions": ("control", "", {"control": (10, 0), "b": (12, 0)}, 0),
}
START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def exposure_events() -> list[dict]:
    events, n = [], 0

    def add(person: str, name: str, t: datetime, **properties) -> None:
        nonlocal n
        n += 1
        events.append(
            event(
                messageId=f"m{n}",
                userId=person,
                event=name,
                timestamp=iso(t),
                properties=properties,
            )
        )

    for key, (_, _, counts, multiple) in COUNT_TABLES.items():
        for variant, (persons, conversions) in counts.items():
            for i in range(persons):
                person, t = f"{key}-{variant}-{i}", START + timedelta(minutes=i)
                add(person, "experiment_viewed", t, experiment=key, variant=variant)
                if i < conversions:
                    add(person, "goal_reached", t + timedelta(days=2))
        for i in range(multiple):
            person = f"{key}-mixed-{i}"
            add(person, "experiment_viewed", START, experiment=key, variant="control")
            add(
                person, "experiment_viewed", START + timedelta(hours=1), experiment=key, variant="b"
            )
            add(person, "goal_reached", START + timedelta(days=1))
    return events


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[tuple[str, str], dict]:
    root = tmp_path_factory.mktemp("experiments")
    from paw.settings import Settings
    from tests.conftest import local_env

    env = PawEnv(root, Settings.from_env(local_env(root)))
    env.write_lines("exposures.ndjson", exposure_events())
    ingest(env.settings)
    project = copy_dbt_project(root)
    (project / "seeds" / "experiments.csv").write_text(
        "experiment_key,control_variant,goal_event,goal_window_days,expected_split\n"
        + "".join(
            f"{key},{control},goal_reached,7,{split}\n"
            for key, (control, split, _, _) in COUNT_TABLES.items()
        )
    )
    result = run_dbt(
        ["build", "--select", "experiments", "+agg_experiment_results"]
        + ["--indirect-selection", "cautious"],
        env.settings,
        project=project,
    )
    assert result.success, result.output[-3000:]
    con = duckdb.connect(env.settings.warehouse_path, read_only=True)
    rel = con.sql("select * from marts.agg_experiment_results")
    rows = [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
    con.close()
    return {(r["experiment_key"], r["variant"]): r for r in rows}


@pytest.mark.parametrize("key", list(COUNT_TABLES))
def test_statistics_equal_scipy(results, key):
    control, split, counts, multiple = COUNT_TABLES[key]
    n_c, x_c = counts[control]
    variants = sorted(counts)
    weights = dict(p.split("=") for p in split.split(";")) if split else dict.fromkeys(variants, 1)
    total = sum(n for n, _ in counts.values())
    expected = [total * float(weights[v]) / sum(map(float, weights.values())) for v in variants]
    srm = stats.chisquare([counts[v][0] for v in variants], expected).pvalue
    for variant, (n, x) in counts.items():
        row = results[(key, variant)]
        assert (row["persons"], row["conversions"]) == (n, x)
        assert row["multiple_variant_persons"] == multiple
        assert row["srm_p_value"] == pytest.approx(srm, abs=1e-7)
        assert row["is_control"] == (variant == control)
        if variant == control:
            assert row["p_value"] is None and row["lift"] is None
            continue
        if x + x_c == 0:  # no conversions anywhere: no test to run
            assert row["p_value"] is None and row["is_significant"] is False
            continue
        table = [[x, n - x], [x_c, n_c - x_c]]
        p_value = stats.chi2_contingency(table, correction=False).pvalue
        assert row["p_value"] == pytest.approx(p_value, abs=1e-7)
        assert row["is_significant"] == (p_value < 0.05)
        rate, control_rate = x / n, x_c / n_c
        assert row["lift"] == (
            None if control_rate == 0 else pytest.approx(rate / control_rate - 1)
        )
        half = stats.norm.ppf(0.975) * math.sqrt(
            rate * (1 - rate) / n + control_rate * (1 - control_rate) / n_c
        )
        assert row["diff_ci_low"] == pytest.approx(rate - control_rate - half, abs=1e-12)
        assert row["diff_ci_high"] == pytest.approx(rate - control_rate + half, abs=1e-12)


def test_winner_and_sample_ratio_mismatch(results):
    # three_way: b converts best and significantly; the 2:1:1 split was not what happened
    assert results[("three_way", "b")]["is_significant"]
    assert {r["winner"] for k, r in results.items() if k[0] == "three_way"} == {"b"}
    assert results[("three_way", "c")]["has_sample_ratio_mismatch"]
    # big: 13% vs 10% is significant at 5%; zero_control: no lift against a rate of 0
    assert results[("big", "b")]["winner"] == "b"
    assert results[("zero_control", "b")]["lift"] is None
    assert not results[("big", "b")]["has_sample_ratio_mismatch"]
