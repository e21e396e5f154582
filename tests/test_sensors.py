"""The landing-zone sensor asks ingestion's own question: which files would the next run take."""

from __future__ import annotations

import os

import dagster as dg

from ingestion.ingest import ingest
from orchestration.resources import PawSettings
from orchestration.sensors import landing_zone_sensor
from tests.conftest import PawEnv, event


def _evaluate(paw_env: PawEnv):
    context = dg.build_sensor_context(
        resources={"paw": PawSettings.from_settings(paw_env.settings)}
    )
    return landing_zone_sensor(context)


def test_new_unchanged_and_rewritten_files(paw_env: PawEnv):
    path = paw_env.write_lines("a.ndjson", [event(messageId="v1")])
    first = _evaluate(paw_env)
    assert isinstance(first, dg.RunRequest) and first.tags["paw/new_files"] == "1"

    ingest(paw_env.settings)
    assert isinstance(_evaluate(paw_env), dg.SkipReason)

    # rewritten under the same name with the same size: new for the sensor and for ingestion
    path.write_text(path.read_text().replace('"v1"', '"v2"'))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    rewritten = _evaluate(paw_env)
    assert isinstance(rewritten, dg.RunRequest) and rewritten.run_key != first.run_key
    assert [f.source_file for f in ingest(paw_env.settings).files] == ["a.ndjson"]
    assert isinstance(_evaluate(paw_env), dg.SkipReason)
