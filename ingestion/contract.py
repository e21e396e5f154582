"""The event contract and the lake schema, written down once.

docs/event-contract.md explains each rule in words; this module is what the code checks.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class Reason(StrEnum):
    """Quarantine reason codes, in the order they are checked (the first that applies wins)."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    EVENT_TOO_LARGE = "event_too_large"
    INVALID_FIELD_TYPE = "invalid_field_type"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_IDENTITY = "missing_identity"
    MISSING_EVENT_NAME = "missing_event_name"
    MISSING_PREVIOUS_ID = "missing_previous_id"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    # Not a rule on a line's content: the unreadable tail of a file cut off mid-stream.
    TRUNCATED_FILE = "truncated_file"


EVENT_TYPES = ("track", "page", "screen", "identify", "alias", "group")
# The event types that are something a person did (dbt's var paw_activity_event_types is held
# equal to this by a test).
ACTIVITY_EVENT_TYPES = ("track", "page", "screen")

# Identifiers that mean "no identity" (the values real clients send by mistake, as PostHog's
# ingestion lists them); compared after trimming white space and then double quotes,
# case-insensitively, so `""` and `"null"` (quotes included) are placeholders too.
PLACEHOLDER_IDS = (
    "",
    "null",
    "undefined",
    "anonymous",
    "guest",
    "none",
    "nil",
    "0",
    "-1",
    "nan",
    "true",
    "false",
    "id",
    "email",
    "distinct_id",
    "user_id",
    "anonymous_id",
    "not_authenticated",
    "[object object]",
)

MAX_EVENT_BYTES = 32 * 1024  # Segment's limit on one serialised event (each batch member)
MAX_JSON_DEPTH = 64  # nesting levels of objects and arrays in one event
MAX_FUTURE_SKEW_HOURS = 24  # later than received/ingested by more than this: out of range
MIN_EVENT_TIMESTAMP = "2000-01-01"
RAW_LINE_LIMIT = 8 * 1024  # raw text kept in the quarantine, in characters
DEFAULT_NAMESPACE = "product"

# Each lake field, and the spellings accepted for it (camelCase first: it wins when both appear).
FIELD_SPELLINGS: dict[str, tuple[str, ...]] = {
    "type": ("type",),
    "event_id": ("messageId", "message_id", "eventId", "event_id"),
    "event": ("event",),
    "name": ("name",),
    "user_id": ("userId", "user_id"),
    "anonymous_id": ("anonymousId", "anonymous_id"),
    "previous_id": ("previousId", "previous_id"),
    "group_id": ("groupId", "group_id"),
    "timestamp": ("timestamp",),
    "original_timestamp": ("originalTimestamp", "original_timestamp"),
    "sent_at": ("sentAt", "sent_at"),
    "received_at": ("receivedAt", "received_at"),
    "properties": ("properties",),
    "traits": ("traits",),
    "context": ("context",),
    "namespace": ("namespace",),
    "batch": ("batch",),
}
# Where traits may also arrive: RudderStack's SDK sends identify traits only here, and Segment
# allows them on any call. Top-level `traits` win per key.
CONTEXT_TRAITS_PATH = "$.traits"  # inside `context`

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("event_name", pa.string()),
        ("user_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("previous_id", pa.string()),
        ("group_id", pa.string()),
        ("namespace", pa.string()),
        ("event_timestamp", pa.timestamp("us")),
        ("original_timestamp", pa.timestamp("us")),
        ("sent_at", pa.timestamp("us")),
        ("received_at", pa.timestamp("us")),
        ("ingested_at", pa.timestamp("us")),
        ("properties", pa.string()),
        ("traits", pa.string()),
        ("context", pa.string()),
        # every top-level field the contract does not map, as JSON text (null when none)
        ("extra", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
        ("batch_index", pa.int32()),
        ("reason", pa.string()),
        ("error", pa.string()),
        ("raw_line", pa.string()),
        ("raw_bytes", pa.int64()),
        ("ingested_at", pa.timestamp("us")),
    ]
)

INGESTION_LOG_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("source_file", pa.string()),
        ("size_bytes", pa.int64()),
        # the storage's cheap change marker: modification time (ns) of a local file, S3's ETag
        ("source_version", pa.string()),
        ("content_hash", pa.string()),
        ("lines_read", pa.int64()),
        ("blank_lines", pa.int64()),
        ("events_landed", pa.int64()),
        ("quarantined", pa.int64()),
        ("duplicates", pa.int64()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        # why the file could not be read (it is taken again by the next run); null when read
        ("error", pa.string()),
    ]
)

LANDING_SUFFIXES = (".json", ".jsonl", ".ndjson")


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of no rows: `schema.empty_table()` imports pandas (1.5 s of an ingestion run)."""
    return pa.Table.from_batches([], schema=schema)
