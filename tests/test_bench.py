"""The benchmark's own logic on tiny data: parsing, ratios, the report, and the peer's answers
(real chDB on a real lake) equal to paw's."""

from __future__ import annotations

import json
import shutil
from datetime import date

import duckdb
import pytest

from bench.__main__ import prepare_inputs
from bench.datasets import (
    EVENTS_PER_USER,
    SIZES,
    landing_bytes,
    require_free_disk,
    shard_options,
)
from bench.measure import Figure, Sample, parse_step_output, rate, ratio
from bench.peer import PeerInputs, run_peer
from bench.report import render, render_paw_only
from bench.results import compare, insight_seconds, model_timings, paw_insights
from ingestion.ingest import ingest
from ingestion.storage import LocalStorage
from paw.settings import Settings
from simulator.sample_data import GenerateOptions, generate
from tests.conftest import local_env
from tests.dbt_helpers import DBT_PROJECT, run_dbt


def test_step_output_is_the_last_json_line():
    out = 'log line\n{"seconds": 1.5, "peak_rss_mb": 300.0, "extra": {"rows": 3}}\n'
    assert parse_step_output(out) == Sample(1.5, 300.0, {"rows": 3})
    with pytest.raises(ValueError):
        parse_step_output("nothing here")


def test_medians_ratios_and_rates():
    figure = Figure("x", [Sample(3.0, 100, {}), Sample(1.0, 300, {}), Sample(2.0, 200, {})])
    assert figure.seconds == 2.0 and figure.peak_rss_mb == 300
    assert ratio(4.0, 2.0) == 2.0 and ratio(1.0, 0.0) is None
    assert rate(1000, 0.5) == 2000 and rate(10, 0) == 0.0


def test_model_timings_keep_models_and_seeds_only():
    run_results = {
        "results": [
            {"unique_id": "model.paw.fct_sessions", "execution_time": 2.5},
            {"unique_id": "seed.paw.funnels", "execution_time": 0.1},
            {"unique_id": "test.paw.unique_fct_sessions_session_id.abc", "execution_time": 9.0},
            {"unique_id": "unit_test.paw.fct_rfm.case", "execution_time": 9.0},
        ]
    }
    timings = model_timings(run_results)
    assert timings == {"fct_sessions": 2.5, "funnels": 0.1}
    assert insight_seconds(
        {"int_sessionized_activity": 1.0, "fct_sessions": 2.5, "agg_retention": 4.0}
    ) == {
        "sessions": 3.5,
        "funnel": 0.0,
        "weekly_retention": 4.0,
    }


def test_compare_names_every_difference():
    paw = {
        "sessions": 10,
        "funnel_users": {"f:1": 5, "f:2": 3},
        "weekly_retention": {"2024-01-01:0": 4},
    }
    assert compare(paw, json.loads(json.dumps(paw))) == []
    peer = {
        "sessions": 11,
        "funnel_users": {"f:1": 5},
        "weekly_retention": {"2024-01-01:0": 4, "2024-01-01:1": 1},
    }
    problems = compare(paw, peer)
    assert any("sessions" in p for p in problems)
    assert any("f:2" in p for p in problems)
    assert any("2024-01-01:1" in p for p in problems)


def test_the_report_says_plainly_when_a_target_is_missed():
    sample = {"median_seconds": 10.0, "peak_rss_mb": 2048.0, "runs_seconds": [10.0], "extra": {}}
    results = {
        "machine": {
            "cores": 2,
            "memory_gb": 24,
            "platform": "linux",
            "python": "3.11",
            "duckdb": "1.5.5",
        },
        "runs": 3,
        "sizes": {
            "1m": {
                "events": 1_000_000,
                "landing_files": 100,
                "ingestion": {
                    "paw": sample,
                    "floor": {**sample, "median_seconds": 2.0},
                    "paw_events_per_second": 100_000,
                    "floor_events_per_second": 500_000,
                    "ratio": 5.0,
                    "pyarrow": {**sample, "median_seconds": 0.5},
                    "pyarrow_events_per_second": 400_000,
                    "pyarrow_ratio": 2.0,
                },
                "incremental": {
                    "new_day": {
                        "events": 1_000,
                        "files": 3,
                        "late_events": 20,
                        "events_beyond_lookback": 5,
                        "identity_calls": 7,
                    },
                    "ingestion_seconds": 0.5,
                    "build": {**sample, "median_seconds": 20.0},
                    "copy_seconds": 0.1,
                    "model_seconds": {},
                    "marts_equal_full_build": False,
                    "marts_differing": ["fct_events: 1 rows not in the full build, 0 missing"],
                },
                "build": {
                    "paw": sample,
                    "floor": {**sample, "median_seconds": 0.5},
                    "ratio": 20.0,
                    "model_seconds": {"fct_sessions": 1.0},
                },
                "insights": {"sessions": {"paw_seconds": 1.0, "chdb_seconds": 1.0, "ratio": 1.0}},
                "peer_matches": True,
                "mismatches": [],
                "query_seconds": {"q": 0.01, "a person's timeline": 0.08},
            }
        },
    }
    text = render(results)
    assert "ingestion ≥ 290,000 events/s | 100,000/s | **missed**" in text
    assert "ingestion within 1.7× of pyarrow's NDJSON → Parquet | 2.00× | **missed**" in text
    assert "incremental nightly build after one more day < 15 s | 20.0 s | **missed**" in text
    assert "incremental build's marts equal a full build's | no | **missed**" in text
    assert "a person's timeline < 50 ms | 80.0 ms | **missed**" in text
    assert "20 of them late" in text and "**NO**: fct_events" in text
    assert "ingested in 0.5 s. The incremental" in text  # results without its memory
    assert "ingestion peak memory < 1.5 GB | 2.00 GB | **missed**" in text
    assert "sessions within 2× of chDB | 1.00× | met" in text
    assert "2 cores" in text


def test_a_size_measured_for_paw_alone_is_reported_with_what_was_not_measured():
    sample = {"median_seconds": 600.0, "peak_rss_mb": 2900.0, "runs_seconds": [600.0]}
    day = {"events": 9, "files": 2, "late_events": 1, "events_beyond_lookback": 0}
    result = {
        "paw_only": True,
        "landing_gzip_share": 1.0,
        "events": 100_000_000,
        "landing_files": 10,
        "ingestion": {"paw": sample, "events": 91_000_000, "paw_events_per_second": 150_000},
        "incremental": {
            "new_day": day | {"identity_calls": 3},
            "ingestion_seconds": 60.0,
            "ingestion_peak_rss_mb": 640.0,
            "build": {**sample, "median_seconds": 120.0},
            "copy_seconds": 30.0,
            "marts_equal_full_build": None,
        },
        "build": {"paw": sample, "model_seconds": {"fct_events": 200.0}},
        "query_seconds": {"a person's timeline": 0.004},
    }
    text = "\n".join(render_paw_only("100m", result))
    assert "## 100m: 100,000,000 events in 10 landing files (paw alone)" in text
    assert "ingestion of the base (landing → lake) | 600.0 s, 150,000 events/s" in text
    assert "(91,000,000 events)" in text and "100% of its NDJSON files are gzip" in text
    assert "identify and alias calls; ingested in 60.0 s at 640 MB." in text
    assert "| full rebuild (all models and tests) < 60 s | 600.0 s | **missed** |" in text
    assert "| full rebuild peak memory < 3 GB | 2.83 GB | met |" in text
    assert "| ingestion within 1.7× of pyarrow's NDJSON → Parquet | not measured at" in text
    assert "| incremental build's marts equal a full build's | not compared at this size |" in text
    assert "chDB" not in text


def test_a_size_that_failed_midway_reports_the_steps_it_finished_and_why_it_stopped():
    sample = {"median_seconds": 600.0, "peak_rss_mb": 2900.0, "runs_seconds": [600.0]}
    result = {
        "paw_only": True,
        "landing_gzip_share": 1.0,
        "events": 100_000_000,
        "landing_files": 10,
        "ingestion": {"paw": sample, "events": 91_000_000, "paw_events_per_second": 150_000},
        "build": {"paw": sample, "model_seconds": {"fct_events": 200.0}},
        "failed": "bench step dbt_build failed:\n\x1b[31mOut of Memory Error\x1b[0m",
        "note": "Completed by hand.",
    }
    text = "\n".join(render_paw_only("100m", result))
    assert "ingestion of the base (landing → lake) | 600.0 s, 150,000 events/s" in text
    assert "| full `dbt build` of the base | 600.0 s, 2,900 MB |" in text
    assert "| incremental `dbt build` after one more day | did not finish |" in text
    assert "\nOut of Memory Error\n" in text and "| fct_events | 200.00 |" in text
    assert "Completed by hand." in text


def test_a_size_that_the_disk_cannot_hold_fails_before_the_work_naming_what_it_needs(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    require_free_disk(tmp_path / "work", free // 2, "the 100m bench")  # room: no error
    with pytest.raises(RuntimeError) as error:
        require_free_disk(tmp_path / "work", free + 2**40, "the 100m bench")
    assert f"the 100m bench needs about {(free + 2**40) / 2**30:.0f} GB free at {tmp_path}" in str(
        error.value
    )
    assert 9e9 < landing_bytes("100m") < 11e9  # all gzip: about 10 GB, measured


def test_inputs_the_harness_writes_are_left_to_settle_before_any_step_is_timed(tmp_path):
    """The pyarrow floor's copies are written once, then settled; inputs already on disk are
    not waited for again (the 100m size has no copies)."""
    for size in ("1m", "100m"):
        (tmp_path / size / "landing").mkdir(parents=True)
        (tmp_path / size / "landing" / "events.ndjson").write_text('{"type": "track"}\nnot json\n')
        (tmp_path / size / "dataset.json").write_text(json.dumps({"events": 2, "files": 1}))
    settled: list[str] = []

    def prepare(size: str):
        return prepare_inputs(size, tmp_path, tmp_path / size / "work", settle=settled.append)

    dataset, floor_input = prepare("1m")
    assert (dataset.events, settled) == (2, ["the pyarrow floor's copies"])
    assert (floor_input / "events.ndjson").read_text() == '{"type": "track"}\n'
    assert prepare("1m")[1] == floor_input
    assert prepare("100m")[1] is None
    assert settled == ["the pyarrow floor's copies"]


def test_a_sizes_shards_cover_its_users_once_with_their_own_seeds():
    shards = shard_options("100m")
    assert sum(o.users for o in shards) == SIZES["100m"].events // EVENTS_PER_USER
    assert [o.first_user for o in shards] == sorted({o.first_user for o in shards})
    assert len({o.seed for o in shards}) == len(shards)
    assert {o.gzip_share for o in shards} == {1.0}
    assert {o.gzip_share for o in shard_options("10m")} == {0.25}


@pytest.mark.slow
def test_the_peer_reproduces_paws_sessions_funnels_and_retention(tmp_path):

    env = local_env(tmp_path)
    generate(
        LocalStorage(tmp_path / "landing"),
        GenerateOptions(users=250, days=30, end_date=date(2024, 4, 30)),
    )
    ingest(Settings.from_env(env))
    result = run_dbt(
        ["build", "--exclude", "resource_type:test", "resource_type:unit_test"],
        Settings.from_env(env),
    )
    assert result.success, result.output
    person_map = tmp_path / "map.parquet"
    with duckdb.connect(env["PAW_WAREHOUSE"], read_only=True) as con:
        con.execute(f"copy (select event_id, person_id from marts.fct_events) to '{person_map}'")
    peer, timings = run_peer(
        PeerInputs(
            lake=env["PAW_LAKE_URL"],
            person_map=str(person_map),
            funnels_csv=str(DBT_PROJECT / "seeds" / "funnels.csv"),
            funnel_steps_csv=str(DBT_PROJECT / "seeds" / "funnel_steps.csv"),
            funnel_exclusions_csv=str(DBT_PROJECT / "seeds" / "funnel_exclusions.csv"),
        )
    )
    mine = paw_insights(env["PAW_WAREHOUSE"])
    assert mine["sessions"] > 0 and mine["funnel_users"] and mine["weekly_retention"]
    assert compare(mine, peer) == []
    assert set(timings) == {"sessions", "funnel", "weekly_retention"}
