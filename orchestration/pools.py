"""The single-writer rule: every step that writes the lake or the warehouse is in one pool.

dagster.yaml gives every pool one slot, so a writing step of a second run waits (its step is
"blocked by limit for pool paw_writer") until the first run's writing step ends, whether the
runs came through the queue (schedule, sensor, UI) or not (`paw run`).
"""

WRITER_POOL = "paw_writer"
