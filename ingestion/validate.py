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


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _struct_spec() -> str:
    spellings = sorted({s for names in FIELD_SPELLINGS.values() for s in names})
    return json.dumps({s: "JSON" for s in spellings})


def _coalesce(name: str) -> str:
    parts = [f'f."{s}"' for s in FIELD_SPELLINGS[name]]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _scalar_text(col: str) -> str:
    """A JSON scalar (string or number) as text; NULL for anything else."""
    return (
        f"case when json_type({col}) = 'VARCHAR' then {col} ->> '$' "
        f"when json_type({col}) in ('BIGINT', 'UBIGINT', 'DOUBLE') then {col}::varchar end"
    )


def _identity(col: str) -> str:
    placeholders = ", ".join(_sql_str(p) for p in PLACEHOLDER_IDS)
    text = _scalar_text(col)
    return f"case when lower(trim({text})) in ({placeholders}) then null else trim({text}) end"


def _epoch(value: str) -> str:
    """Epoch seconds, or milliseconds when the number is too large to be seconds."""
    return (
        f"case when abs({value}) >= 1e11 and abs({value}) < 1e14 "
        f"then make_timestamp(({value} * 1000)::bigint) "
        f"when abs({value}) < 1e11 then make_timestamp(({value} * 1000000)::bigint) end"
    )


def _parse_time(col: str) -> str:
    text = f"({col} ->> '$')"
    return (
        f"case json_type({col}) "
        f"when 'VARCHAR' then coalesce(try_cast({text} as timestamptz)::timestamp, "
        f"case when regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') "
        f"then {_epoch(f'try_cast({text} as double)')} end) "
        f"when 'BIGINT' then {_epoch(f'{col}::double')} "
        f"when 'UBIGINT' then {_epoch(f'{col}::double')} "
        f"when 'DOUBLE' then {_epoch(f'{col}::double')} end"
    )


def build_validation_sql() -> str:
    types = ", ".join(_sql_str(t) for t in EVENT_TYPES)
    transport_nulls = json.dumps({k: None for k in _TRANSPORT_KEYS})

    picks = [f"{_coalesce(n)} as j_{n}" for n in FIELD_SPELLINGS]

    field_type_errors = []
    for n in _SCALAR_ID_FIELDS:
        field_type_errors.append(
            f"when json_type(j_{n}) in ('OBJECT', 'ARRAY', 'BOOLEAN') then "
            f"'{n} must be a string or number, got ' || lower(json_type(j_{n}))"
        )
    for n in _STRING_FIELDS:
        field_type_errors.append(
            f"when j_{n} is not null and json_type(j_{n}) <> 'VARCHAR' then "
            f"'{n} must be a string, got ' || lower(json_type(j_{n}))"
        )
    for n in _OBJECT_FIELDS:
        field_type_errors.append(
            f"when j_{n} is not null and json_type(j_{n}) <> 'OBJECT' then "
            f"'{n} must be an object, got ' || lower(json_type(j_{n}))"
        )

    time_errors = []
    for n in _TIME_FIELDS:
        time_errors.append(
            f"when j_{n} is not null and t_{n} is null then "
            f"'{n} ' || left(j_{n}::varchar, 80) || "
            f"' is not ISO 8601 or epoch seconds / milliseconds'"
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
            then json_transform(line, '{_struct_spec()}') end as f
    from kinds
),

picked as (
    select file_seq, source_file, line_number, batch_index, line, raw_bytes, is_json, json_kind, {", ".join(picks)}
    from parsed
),

typed as (
    select
        *,
        lower(trim(j_type ->> '$')) as v_type,
        {_identity("j_event_id")} as v_event_id,
        {_identity("j_user_id")} as v_user_id,
        {_identity("j_anonymous_id")} as v_anonymous_id,
        {_identity("j_previous_id")} as v_previous_id,
        {_identity("j_group_id")} as v_group_id,
        nullif(trim(j_event ->> '$'), '') as v_event,
        nullif(trim(j_name ->> '$'), '') as v_name,
        coalesce(nullif(trim(j_namespace ->> '$'), ''), '{DEFAULT_NAMESPACE}') as v_namespace,
        {_parse_time("j_timestamp")} as t_timestamp,
        {_parse_time("j_original_timestamp")} as t_original_timestamp,
        {_parse_time("j_sent_at")} as t_sent_at,
        {_parse_time("j_received_at")} as t_received_at
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
        when 'timestamp_out_of_range' then 'event time ' || strftime(t_event, '%Y-%m-%dT%H:%M:%SZ')
            || case when t_event < timestamp '{MIN_EVENT_TIMESTAMP}' then ' is before {MIN_EVENT_TIMESTAMP}'
                else ' is more than {MAX_FUTURE_SKEW_HOURS} hours after it was received' end
    end as error,
    case when reason is not null then left(rtrim(line, chr(13) || chr(10)), {RAW_LINE_LIMIT}) end
        as raw_line,
    raw_bytes,
    -- a batch envelope: an object with a batch array and no type of its own
    reason = 'unknown_type' and j_type is null and j_batch is not null as is_envelope,
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
            then json_merge_patch(json_object('name', v_name), coalesce(j_properties, '{{}}'))
        else j_properties::varchar
    end as properties,
    j_traits::varchar as traits,
    j_context::varchar as context,
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

    def validate(self, lines: pa.Table, ingested_at: datetime) -> pa.Table:
        """Validate `lines` (file_seq, source_file, line_number, batch_index, line) into judged
        rows, as Arrow."""
        self.con.register("lines", lines)
        try:
            return self.con.execute(self.sql, {"ingested_at": ingested_at}).to_arrow_table()
        finally:
            self.con.unregister("lines")


__all__ = ["ChunkValidator", "Reason", "build_validation_sql"]
