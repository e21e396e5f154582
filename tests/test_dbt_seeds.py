"""The analyst's seeds (funnels, funnel steps and exclusions, path cleaning rules): every mistake
fails a data test named after it, before any model reads the seed."""

from __future__ import annotations

import pytest

from paw.settings import Settings
from tests.conftest import local_env
from tests.dbt_helpers import copy_dbt_project, run_dbt

pytestmark = pytest.mark.slow


def test_a_bad_funnel_seed_fails_a_named_test(tmp_path):
    """One seed with every mistake, each in its own funnel: each fails its own named test."""
    project = copy_dbt_project(tmp_path)
    (project / "seeds" / "funnel_steps.csv").write_text(
        "funnel_name,step_number,event_name,property_name,property_value\n"
        "gap,1,a,,\ngap,3,b,,\n"
        "dup,1,a,,\ndup,1,b,,\n"
        "zero,1,a,,\nzero,2,b,,\n"
        "orphan,1,a,,\n"
    )
    (project / "seeds" / "funnels.csv").write_text(
        "funnel_name,conversion_window_seconds,order_mode,breakdown_property\n"
        "gap,60,,\ndup,60,sideways,\nzero,0,unordered,\n"
    )
    (project / "seeds" / "funnel_exclusions.csv").write_text(
        "funnel_name,event_name,from_step,to_step\n"
        "orphan_funnel,x,1,2\n"  # no such funnel
        "zero,x,1,2\n"  # an unordered funnel takes no exclusions
        "gap,x,2,1\n"  # steps out of order
    )
    settings = Settings.from_env(local_env(tmp_path))
    result = run_dbt(
        ["build", "--select", "resource_type:seed", "assert_funnel_steps_have_no_gaps"]
        + ["--indirect-selection", "cautious"],
        settings,
        project=project,
    )
    assert not result.success
    assert result.failed == {
        "assert_funnel_steps_have_no_gaps",
        "funnel_step_numbers_must_be_unique_per_funnel",
        "funnel_conversion_window_must_be_positive",
        "funnel_steps_must_name_a_funnel_in_funnels_csv",
        "funnel_exclusions_must_name_a_funnel_in_funnels_csv",
        "funnel_exclusion_steps_must_be_in_order",
    }, result.output[-3000:]
    # the seeds are loaded: what needs the funnels' defaults filled in
    result = run_dbt(
        ["build", "--select", "stg_funnels", "assert_funnel_exclusions_fit_their_funnel"],
        settings,
        project=project,
    )
    assert result.failed == {
        "funnel_order_mode_must_be_ordered_strict_or_unordered",
        "assert_funnel_exclusions_fit_their_funnel",
    }, result.output[-3000:]


def test_a_broken_path_cleaning_regex_fails_its_named_test(tmp_path):
    project = copy_dbt_project(tmp_path)
    (project / "seeds" / "path_cleaning.csv").write_text(
        "rule_order,regex,replacement\n1,/projects/([0-9]+,/projects/:id\n"
    )
    result = run_dbt(
        ["build", "--select", "path_cleaning", "--indirect-selection", "cautious"],
        Settings.from_env(local_env(tmp_path)),
        project=project,
    )
    assert not result.success
    assert result.failed == {"path_cleaning_regexes_compile"}, result.output[-3000:]
