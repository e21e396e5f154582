"""The pipeline job as a reconstructable target, so a test can run it with Dagster's
multiprocess executor (each step in its own process), as a launch from the UI does."""

from orchestration.definitions import build_definitions
from orchestration.jobs import PIPELINE_JOB


def paw_pipeline():
    return build_definitions().resolve_job_def(PIPELINE_JOB)
