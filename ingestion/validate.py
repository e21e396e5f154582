"""Validate lines in bulk with DuckDB's vectorised JSON functions.

The rules are SQL templates in `ingestion/sql/`; this module fills their named placeholders
from the contract (ingestion.contract), so every constant and reason code is written once.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.contract import (
    CONTEXT_TRAITS_PATH,
    DEFAULT_NAMESPACE,
    EVENT_TYPES,
    FIELD_SPELLINGS,
    MAX_EVENT_BYTES,
    MAX_FUTURE_SKEW_HOURS,
    MAX_JSON_DEPTH,
    MIN_EVENT_TIMESTAMP,
    PLACEHOLDER_IDS,
    RAW_LINE_LIMIT,
    Reason,
)
from paw.sql import sql_literal

SQL_DIR = Path(__file__).parent / "sql"
SCAN_BATCH_ROWS = 16_384

ID_FIELDS = ("event_id", "user_id", "anonymous_id", "previous_id", "group_id")
STRING_FIELDS = ("type", "event", "name", "namespace")
OBJECT_FIELDS = ("properties", "traits", "context")
TIME_FIELDS = ("timestamp", "original_timestamp", "sent_at", "received_at")
TRANSPORT_FIELDS = ("sent_at", "received_at")
# The envelope fields that are not defaults for its members.
ENVELOPE_OWN_FIELDS = tuple(n for n in FIELD_SPELLINGS if n not in ("context",))


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{{ name }}` placeholders; a missing or unused value is an error, not a blank."""
    used: set[str] = set()

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{template}: no value for placeholder {name!r}")
        used.add(name)
        return values[name]

    text = re.sub(r"\{\{ (\w+) \}\}", fill, (SQL_DIR / template).read_text())
    unused = set(values) - used
    if unused:
        raise KeyError(f"{template}: values for no placeholder: {sorted(unused)}")
    return text


def _spellings(names=None) -> list[str]:
    names = names or FIELD_SPELLINGS
    return sorted({s for n in names for s in FIELD_SPELLINGS[n]})


def _nulls(spellings: list[str]) -> str:
    """A JSON merge patch that removes these keys."""
    return sql_literal(json.dumps(dict.fromkeys(spellings)))


def _coalesce(struct: str, name: str) -> str:
    """A field's value under its first spelling that is present (camelCase first)."""
    parts = [f'{struct}."{s}"' for s in FIELD_SPELLINGS[name]]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _json_kind(json_text: str) -> str:
    """The JSON type of a raw value from its first character: no second parse. Byte prefixes,
    strings (the common case) first: `left` decodes a character, which cost a tenth of the
    validation."""
    return (
        f"case when prefix({json_text}, '\"') then 'string' "
        f"when prefix({json_text}, '{{') then 'object' when prefix({json_text}, '[') then 'array' "
        f"when prefix({json_text}, 't') or prefix({json_text}, 'f') then 'boolean' "
        f"when prefix({json_text}, 'n') then 'null' else 'number' end"
    )


def _text(name: str) -> str:
    """A field's value as text (a string unquoted, anything else as JSON) under its first
    spelling that is not null: the line's one parse gave its raw JSON; a second, text-typed
    parse of the whole line would cost more than reading these few small values."""
    parts = [f"f.\"{s}\"->>'$'" for s in FIELD_SPELLINGS[name]]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _field_picks() -> str:
    picks = [f"{_coalesce('f', n)}::varchar as j_{n}" for n in FIELD_SPELLINGS]
    picks += [f"{_text(n)} as s_{n}" for n in (*ID_FIELDS, *STRING_FIELDS, *TIME_FIELDS)]
    return ",\n        ".join(picks)


def _field_kinds() -> str:
    return ",\n        ".join(
        f"case when j_{n} is not null then {_json_kind(f'j_{n}')} end as k_{n}"
        for n in (*ID_FIELDS, *STRING_FIELDS, *OBJECT_FIELDS)
    )


def _identity(name: str) -> str:
    """An id with placeholders removed: compared trimmed, unquoted and lower-cased."""
    placeholders = ", ".join(sql_literal(p) for p in PLACEHOLDER_IDS)
    longest = max(len(p) for p in PLACEHOLDER_IDS) + 4  # only short values can be placeholders
    text = f"s_{name}"
    # Two arms, not an `and`: DuckDB evaluates both sides of an `and` for every row.
    return (
        f"case when strlen({text}) > {longest} then trim({text}) "
        f"when list_contains([{placeholders}], lower(trim(trim({text}), '\"'))) then null "
        f"else trim({text}) end as v_{name}"
    )


def _epoch(value: str) -> str:
    """Epoch seconds, or milliseconds when the number is too large to be seconds."""
    return (
        f"case when abs({value}) >= 1e11 and abs({value}) < 1e14 "
        f"then make_timestamp(({value} * 1000)::bigint) "
        f"when abs({value}) < 1e11 then make_timestamp(({value} * 1000000)::bigint) end"
    )


def _time(name: str) -> str:
    """ISO 8601 (any offset, none meaning UTC), else a number of epoch seconds or ms. A time
    ending in Z is read as a plain timestamp: the same instant (tests/test_event_contract.py
    holds the two readings equal), four times faster to parse, and most senders write UTC."""
    text = f"s_{name}"
    return (
        f"coalesce(case when suffix({text}, 'Z') then try_cast({text} as timestamp) "
        f"else try_cast({text} as timestamptz)::timestamp end, "
        f"{_epoch(f'try_cast({text} as double)')}) as t_{name}"
    )


def _field_type_errors() -> str:
    errors = []
    for n in ID_FIELDS:
        errors.append(
            f"when k_{n} in ('object', 'array', 'boolean') then "
            f"'{n} must be a string or number, got ' || (case k_{n} when 'array' then 'an' "
            f"else 'a' end) || ' ' || k_{n}"
        )
    for n in STRING_FIELDS:
        errors.append(
            f"when k_{n} is not null and k_{n} <> 'string' then "
            f"'{n} must be a string, got ' || k_{n}"
        )
    for n in OBJECT_FIELDS:
        errors.append(
            f"when k_{n} is not null and k_{n} <> 'object' then '{n} must be an object, got ' "
            f"|| (case k_{n} when 'array' then 'an ' else 'a ' end) || k_{n}"
        )
    return "\n            ".join(errors)


def _time_errors() -> str:
    return "\n            ".join(
        f"when s_{n} is not null and t_{n} is null then '{n} \"' || left(s_{n}, 80) || "
        f"'\" is not ISO 8601 or epoch seconds / milliseconds'"
        for n in TIME_FIELDS
    )


# A line without its JSON strings (escaped quotes and backslashes included): what is left is
# the structure, where a rule can look for words and brackets that no string holds.
WITHOUT_STRINGS = "regexp_replace(line, '\"(?:[^\"\\\\]|\\\\.)*\"', '', 'g')"


def _has_non_json_number() -> str:
    """NaN and Infinity outside strings: DuckDB's parser accepts them, JSON does not. The
    regular expression runs only on the rare lines that contain either word: a `case`, because
    DuckDB evaluates both sides of an `and` in a projection for every row."""
    return (
        "case when contains(line, 'NaN') or contains(line, 'Infinity') then regexp_matches("
        f"{WITHOUT_STRINGS}, 'NaN|Infinity') else false end"
    )


@cache
def validation_sql() -> str:
    reasons = {f"reason_{r.name.lower()}": sql_literal(r.value) for r in Reason}
    reasons.pop("reason_truncated_file")  # a file-level reason, not a rule on a line
    return render(
        "validate_lines.sql",
        {
            **reasons,
            "has_non_json_number": _has_non_json_number(),
            "max_event_bytes": str(MAX_EVENT_BYTES),
            "max_json_depth": str(MAX_JSON_DEPTH),
            "without_strings": WITHOUT_STRINGS,
            # MAX_JSON_DEPTH + 1 openings with no closing between them
            "too_deep_pattern": sql_literal(
                r"[\[{](?:[^\[\]{}]*[\[{]){" + str(MAX_JSON_DEPTH) + "}"
            ),
            "raw_json_spec": sql_literal(json.dumps(dict.fromkeys(_spellings(), "JSON"))),
            "field_picks": _field_picks(),
            "field_kinds": _field_kinds(),
            "identity_fields": ",\n        ".join(_identity(n) for n in ID_FIELDS),
            "default_namespace": sql_literal(DEFAULT_NAMESPACE),
            "time_fields": ",\n        ".join(_time(n) for n in TIME_FIELDS),
            "field_type_errors": _field_type_errors(),
            "time_errors": _time_errors(),
            "event_types": ", ".join(sql_literal(t) for t in EVENT_TYPES),
            "event_types_text": sql_literal(", ".join(EVENT_TYPES)),
            "max_future_skew_hours": str(MAX_FUTURE_SKEW_HOURS),
            "min_event_timestamp": sql_literal(MIN_EVENT_TIMESTAMP),
            "raw_line_limit": str(RAW_LINE_LIMIT),
            "transport_nulls": _nulls(_spellings(TRANSPORT_FIELDS)),
            "context_traits_path": sql_literal(CONTEXT_TRAITS_PATH),
            "mapped_field_nulls": _nulls(_spellings()),
            "mapped_key_count": " + ".join(f'(f."{s}" is not null)::int' for s in _spellings()),
        },
    )


@cache
def expansion_sql() -> str:
    return render(
        "expand_envelopes.sql", {"envelope_field_nulls": _nulls(_spellings(ENVELOPE_OWN_FIELDS))}
    )


class LineValidator:
    """One DuckDB connection with the validation and envelope-expansion queries."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.con.execute("set TimeZone = 'UTC'")

    def validate(self, lines: pa.Table, ingested_at: datetime, *, in_envelope: bool) -> None:
        """Validate `lines` (file_seq, source_file, line_number, batch_index, line, openings)
        into the temp table `judged`, with `k`, the 128-bit hash of each event's id (the
        dedup key). `openings` is each line's count of `{` and `[` (null where not counted)."""
        # Many record batches, so that DuckDB's threads share the scan.
        lines = pa.Table.from_batches(lines.to_batches(max_chunksize=SCAN_BATCH_ROWS))
        self.con.register("lines", lines)
        try:
            self.con.execute(
                "create or replace temp table judged as "
                f"select *, case when is_event then md5_number(event_id) end as k "
                f"from ({validation_sql()})",
                {"ingested_at": ingested_at, "in_envelope": in_envelope},
            )
        finally:
            self.con.unregister("lines")

    def envelope_members(self) -> pa.Table:
        """The members of the envelopes in `judged`, one line each."""
        return self.con.execute(expansion_sql()).to_arrow_table()
