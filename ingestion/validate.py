"""Validate a chunk of lines in bulk with DuckDB's vectorised JSON functions.

Each line is parsed once (json_transform into a struct of raw JSON values); every rule of the
event contract is then a column expression, so the per-line cost stays in C++. The result has a
`reason` column: NULL for a valid event, else the first rule it breaks (ingestion.contract.Reason
order), with a human-readable `error`.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pyarrow as pa

from ingestion.contract import (
    DEFAULT_NAMESPACE,
    EVENT_TYPES,
    FIELD_SPELLINGS,
    MAX_EVENT_BYTES,
    MAX_FUTURE_SKEW_HOURS,
    MIN_EVENT_TIMESTAMP,
    PLACEHOLDER_IDS,
    RAW_LINE_LIMIT,
    Reason,
)

_SCALAR_ID_FIELDS = ("event_id", "user_id", "anonymous_id", "previous_id", "group_id")
_STRING_FIELDS = ("type", "event", "name", "namespace")
_OBJECT_FIELDS = ("properties", "traits", "context")
_TIME_FIELDS = ("timestamp", "original_timestamp", "sent_at", "received_at")
_TRANSPORT_KEYS = ("sentAt", "sent_at", "receivedAt", "received_at")
SCAN_BATCH_ROWS = 16_384


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _spellings() -> list[str]:
    return sorted({s for names in FIELD_SPELLINGS.values() for s in names})


def _json_spec() -> str:
    """Every field as raw JSON text: its first character tells its JSON type."""
    return json.dumps({s: "JSON" for s in _spellings()})


def _text_spec() -> str:
    """Every field as text (a string unquoted, a number as written, an object as JSON)."""
    return json.dumps({s: "VARCHAR" for s in _spellings()})


def _coalesce(struct: str, name: str) -> str:
    parts = [f'{struct}."{s}"' for s in FIELD_SPELLINGS[name]]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _kind(json_text: str) -> str:
    """The JSON type of a value from its first character: no second parse."""
    return (
        f"case left({json_text}, 1) when '{{' then 'object' when '[' then 'array' "
        f"when '\"' then 'string' when 't' then 'boolean' when 'f' then 'boolean' "
        f"when 'n' then 'null' else 'number' end"
    )


def _identity(text: str) -> str:
    placeholders = ", ".join(_sql_str(p) for p in PLACEHOLDER_IDS)
    longest = max(len(p) for p in PLACEHOLDER_IDS) + 2  # only short values can be placeholders
    return (
        f"case when strlen({text}) <= {longest} "
        f"and list_contains([{placeholders}], lower(trim({text}))) then null "
        f"else trim({text}) end"
    )


def _epoch(value: str) -> str:
    """Epoch seconds, or milliseconds when the number is too large to be seconds."""
    return (
        f"case when abs({value}) >= 1e11 and abs({value}) < 1e14 "
        f"then make_timestamp(({value} * 1000)::bigint) "
        f"when abs({value}) < 1e11 then make_timestamp(({value} * 1000000)::bigint) end"
    )


def _parse_time(text: str) -> str:
    """ISO 8601 (any offset, none meaning UTC), else a number of epoch seconds or ms."""
    return (
        f"coalesce(try_cast({text} as timestamptz)::timestamp, "
        f"{_epoch(f'try_cast({text} as double)')})"
    )


def build_validation_sql() -> str:
    types = ", ".join(_sql_str(t) for t in EVENT_TYPES)
    transport_nulls = json.dumps({k: None for k in _TRANSPORT_KEYS})

    picks = []
    for n in FIELD_SPELLINGS:
        picks.append(f"{_coalesce('f', n)}::varchar as j_{n}")
        picks.append(f"{_coalesce('t', n)} as s_{n}")

    field_type_errors = []
    for n in _SCALAR_ID_FIELDS:
        field_type_errors.append(
            f"when k_{n} in ('object', 'array', 'boolean') then "
            f"'{n} must be a string or number, got ' || (case k_{n} when 'array' then 'an' "
            f"else 'a' end) || ' ' || k_{n}"
        )
    for n in _STRING_FIELDS:
        field_type_errors.append(
            f"when k_{n} is not null and k_{n} <> 'string' then "
            f"'{n} must be a string, got ' || k_{n}"
        )
    for n in _OBJECT_FIELDS:
        field_type_errors.append(
            f"when k_{n} is not null and k_{n} <> 'object' then "
            f"'{n} must be an object, got ' || (case k_{n} when 'array' then 'an ' else 'a ' end)"
            f" || k_{n}"
        )

    time_errors = []
    for n in _TIME_FIELDS:
        time_errors.append(
            f"when s_{n} is not null and t_{n} is null then "
            f"'{n} \"' || left(s_{n}, 80) || "
            f"'\" is not ISO 8601 or epoch seconds / milliseconds'"
        )
    kinds = ", ".join(
        f"case when j_{n} is not null then {_kind(f'j_{n}')} end as k_{n}"
        for n in (*_SCALAR_ID_FIELDS, *_STRING_FIELDS, *_OBJECT_FIELDS)
    )

    return f"""
with src as (
    select
        file_seq,
        source_file,
        line_number,
        batch_index,
        line,
        strlen(line) - (case when suffix(line, chr(10)) then 1 else 0 end) as raw_bytes,
        json_valid(line) as is_json
    from lines
),

kinds as (
    select *, case when is_json then json_type(line) end as json_kind
    from src
),

parsed as (
    select
        *,
        case when json_kind = 'OBJECT' and raw_bytes <= {MAX_EVENT_BYTES}
            then json_transform(line, '{_json_spec()}') end as f,
        case when json_kind = 'OBJECT' and raw_bytes <= {MAX_EVENT_BYTES}
            then json_transform(line, '{_text_spec()}') end as t
    from kinds
),

picked as (
    select
        file_seq, source_file, line_number, batch_index, line, raw_bytes, is_json, json_kind,
        {", ".join(picks)}
    from parsed
),

typed as (
    select
        *,
        {kinds},
        lower(trim(s_type)) as v_type,
        {_identity("s_event_id")} as v_event_id,
        {_identity("s_user_id")} as v_user_id,
        {_identity("s_anonymous_id")} as v_anonymous_id,
        {_identity("s_previous_id")} as v_previous_id,
        {_identity("s_group_id")} as v_group_id,
        nullif(trim(s_event), '') as v_event,
        nullif(trim(s_name), '') as v_name,
        coalesce(nullif(trim(s_namespace), ''), '{DEFAULT_NAMESPACE}') as v_namespace,
        {_parse_time("s_timestamp")} as t_timestamp,
        {_parse_time("s_original_timestamp")} as t_original_timestamp,
        {_parse_time("s_sent_at")} as t_sent_at,
        {_parse_time("s_received_at")} as t_received_at
    from picked
),

corrected as (
    select
        *,
        coalesce(t_timestamp, t_original_timestamp, t_received_at) as t_device,
        case
            when t_sent_at is not null and t_received_at is not null
                then coalesce(t_timestamp, t_original_timestamp) + (t_received_at - t_sent_at)
            else coalesce(t_timestamp, t_original_timestamp, t_received_at)
        end as t_event
    from typed
),

judged as (
    select
        *,
        case
            when not is_json then 'invalid_json'
            when json_kind <> 'OBJECT' then 'not_an_object'
            when raw_bytes > {MAX_EVENT_BYTES} then 'event_too_large'
            when field_error is not null then 'invalid_field_type'
            when v_type is null or v_type not in ({types}) then 'unknown_type'
            when v_user_id is null and v_anonymous_id is null then 'missing_identity'
            when v_type = 'group' and v_group_id is null then 'missing_identity'
            when v_type = 'track' and v_event is null then 'missing_event_name'
            when v_type = 'alias' and v_previous_id is null then 'missing_previous_id'
            when time_error is not null then 'invalid_timestamp'
            when t_event > coalesce(t_received_at, $ingested_at)
                + interval {MAX_FUTURE_SKEW_HOURS} hour then 'timestamp_out_of_range'
            when t_event < timestamp '{MIN_EVENT_TIMESTAMP}' then 'timestamp_out_of_range'
        end as reason
    from (
        select
            *,
            case {" ".join(field_type_errors)} end as field_error,
            case {" ".join(time_errors)}
                when t_event is null then 'no timestamp, originalTimestamp or receivedAt'
            end as time_error
        from corrected
    )
)

select
    file_seq,
    line_number,
    batch_index,
    reason,
    case reason
        when 'invalid_json' then 'not valid JSON'
        when 'not_an_object' then 'a JSON ' || lower(json_kind) || ', not an object'
        when 'event_too_large' then 'event is ' || raw_bytes || ' bytes serialised, over the '
            || {MAX_EVENT_BYTES} || '-byte limit'
        when 'invalid_field_type' then field_error
        when 'unknown_type' then case when v_type is null then 'no type field'
            else 'type ' || v_type || ' is not one of {", ".join(EVENT_TYPES)}' end
        when 'missing_identity' then case when v_type = 'group'
                and (v_user_id is not null or v_anonymous_id is not null)
            then 'group call has no groupId'
            else 'neither userId nor anonymousId holds a real identifier' end
        when 'missing_event_name' then 'track call has no event name'
        when 'missing_previous_id' then 'alias call has no previousId'
        when 'invalid_timestamp' then time_error
        when 'timestamp_out_of_range' then 'event time '
            || strftime(t_event, '%Y-%m-%dT%H:%M:%SZ')
            || case when t_event < timestamp '{MIN_EVENT_TIMESTAMP}'
                then ' is before {MIN_EVENT_TIMESTAMP}'
                else ' is more than {MAX_FUTURE_SKEW_HOURS} hours after it was received' end
    end as error,
    case when reason is not null then left(rtrim(line, chr(13) || chr(10)), {RAW_LINE_LIMIT}) end
        as raw_line,
    raw_bytes,
    -- a batch envelope: an object with a batch array and no type of its own
    coalesce(reason = 'unknown_type' and j_type is null and left(j_batch, 1) = '[', false)
        as is_envelope,
    -- no id of its own: one derived from the content, minus the transport times that a
    -- redelivery changes, so that a redelivered copy gets the same id
    case
        when v_event_id is not null then v_event_id
        when json_kind = 'OBJECT' and raw_bytes <= {MAX_EVENT_BYTES} then 'paw-' || md5(
            json_merge_patch(rtrim(line, chr(13) || chr(10)), '{transport_nulls}')
        )
    end as event_id,
    v_type as event_type,
    case v_type
        when 'track' then v_event
        when 'page' then 'page_viewed'
        when 'screen' then 'screen_viewed'
        else v_type
    end as event_name,
    v_user_id as user_id,
    v_anonymous_id as anonymous_id,
    v_previous_id as previous_id,
    v_group_id as group_id,
    v_namespace as namespace,
    t_event as event_timestamp,
    t_device as original_timestamp,
    t_sent_at as sent_at,
    t_received_at as received_at,
    $ingested_at as ingested_at,
    case
        when v_type in ('page', 'screen') and v_name is not null
            then json_merge_patch(
                json_object('name', v_name), coalesce(j_properties, '{{}}')
            )::varchar
        else j_properties
    end as properties,
    j_traits as traits,
    j_context as context,
    source_file,
    line_number as source_line
from judged
"""


class ChunkValidator:
    """Holds one DuckDB connection and the prepared validation query."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.con.execute("set TimeZone = 'UTC'")
        self.sql = build_validation_sql()

    def validate_into(self, lines: pa.Table, ingested_at: datetime, table: str) -> None:
        """Validate `lines` into the temp table `table`, with `k`, the 128-bit hash of each
        valid event's id (the key of within-run deduplication)."""
        # Many record batches, so that DuckDB's threads share the scan.
        lines = pa.Table.from_batches(lines.to_batches(max_chunksize=SCAN_BATCH_ROWS))
        self.con.register("lines", lines)
        try:
            self.con.execute(
                f"create or replace temp table {table} as "
                f"select *, case when reason is null then md5_number(event_id) end as k "
                f"from ({self.sql})",
                {"ingested_at": ingested_at},
            )
        finally:
            self.con.unregister("lines")


__all__ = ["ChunkValidator", "Reason", "build_validation_sql"]
