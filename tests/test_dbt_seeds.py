"""The analyst's seeds (funnels, funnel steps and exclusions, path cleaning rules, experiments):
every mistake fails a data test named after it, before any model reads the seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from paw.settings import Settings
from tests.conftest import local_env
from tests.dbt_helpers import DbtResult, copy_dbt_project, run_dbt

pytestmark = pytest.mark.slow

# One seed with every mistake, each in its own funnel, experiment or rule.
BAD_SEEDS = {
    "funnel_steps.csv": (
        "funnel_name,step_number,event_name,property_name,property_value\n"
        "gap,1,a,,\ngap,3,b,,\n"
        "dup,1,a,,\ndup,1,b,,\n"
        "zero,1,a,,\nzero,2,b,,\n"
        "orphan,1,a,,\n"
    ),
    "funnels.csv": (
        "funnel_name,conversion_window_seconds,order_mode,breakdown_property\n"
        "gap,60,,\ndup,60,sideways,\nzero,0,unordered,\n"
    ),
    "funnel_exclusions.csv": (
        "funnel_name,event_name,from_step,to_step\n"
        "orphan_funnel,x,1,2\n"  # no such funnel
        "zero,x,1,2\n"  # an unordered funnel takes no exclusions
        "gap,x,2,1\n"  # steps out of order
    ),
    "path_cleaning.csv": "rule_order,regex,replacement\n1,/projects/([0-9]+,/projects/:id\n",
    "experiments.csv": (
        "experiment_key,control_variant,goal_event,goal_window_days,expected_split\n"
        "dup,a,goal,7,\ndup,a,goal,7,\n"
        "no_window,a,goal,0,\n"
        "bad_split,a,goal,7,a:1/b:1\n"
        "split_without_control,a,goal,7,b=1;c=1\n"
    ),
}

FUNNEL_SEED_FAILURES = {
    "assert_funnel_steps_have_no_gaps",
    "funnel_step_numbers_must_be_unique_per_funnel",
    "funnel_conversion_window_must_be_positive",
    "funnel_steps_must_name_a_funnel_in_funnels_csv",
    "funnel_exclusions_must_name_a_funnel_in_funnels_csv",
    "funnel_exclusion_steps_must_be_in_order",
}
PATH_CLEANING_FAILURES = {"path_cleaning_regexes_compile"}
EXPERIMENT_FAILURES = {
    "experiments_key_is_unique",
    "experiments_goal_window_must_be_positive",
    "experiments_expected_split_is_variant_weight_pairs",
}


@dataclass
class SeedBuild:
    project: Path
    settings: Settings
    result: DbtResult


@pytest.fixture(scope="module")
def bad_seeds(tmp_path_factory) -> SeedBuild:
    """One copy of the project with every bad seed, its seeds and their tests built once (each
    copy of the project costs dbt a whole parse)."""
    root = tmp_path_factory.mktemp("seeds")
    project = copy_dbt_project(root)
    for name, content in BAD_SEEDS.items():
        (project / "seeds" / name).write_text(content)
    settings = Settings.from_env(local_env(root))
    result = run_dbt(
        ["build", "--select", "resource_type:seed", "assert_funnel_steps_have_no_gaps"]
        + ["--indirect-selection", "cautious"],
        settings,
        project=project,
    )
    return SeedBuild(project, settings, result)


def test_each_mistake_fails_its_own_named_test_and_nothing_else_fails(bad_seeds):
    assert not bad_seeds.result.success
    expected = FUNNEL_SEED_FAILURES | PATH_CLEANING_FAILURES | EXPERIMENT_FAILURES
    assert bad_seeds.result.failed == expected, bad_seeds.result.output[-3000:]


def test_a_bad_funnel_seed_fails_a_named_test(bad_seeds):
    assert bad_seeds.result.failed >= FUNNEL_SEED_FAILURES, bad_seeds.result.output[-3000:]
    # the seeds are loaded: what needs the funnels' defaults filled in
    result = run_dbt(
        ["build", "--select", "stg_funnels", "assert_funnel_exclusions_fit_their_funnel"],
        bad_seeds.settings,
        project=bad_seeds.project,
    )
    assert result.failed == {
        "funnel_order_mode_must_be_ordered_strict_or_unordered",
        "assert_funnel_exclusions_fit_their_funnel",
    }, result.output[-3000:]


def test_a_broken_path_cleaning_regex_fails_its_named_test(bad_seeds):
    assert bad_seeds.result.failed >= PATH_CLEANING_FAILURES, bad_seeds.result.output[-3000:]


def test_a_bad_experiment_seed_fails_named_tests(bad_seeds):
    assert bad_seeds.result.failed >= EXPERIMENT_FAILURES, bad_seeds.result.output[-3000:]
