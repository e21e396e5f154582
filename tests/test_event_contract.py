"""The event contract, one rule at a time, through a real ingestion run into a real lake."""

from __future__ import annotations

import dataclasses
import json
import time

import duckdb
import pytest

from ingestion.ingest import ingest
from ingestion.validate import _time
from tests.conftest import PawEnv, event, query_lake


def ingest_lines(paw_env: PawEnv, lines, name: str = "events.ndjson"):
    paw_env.write_lines(name, lines)
    return ingest(paw_env.settings)


def reasons(paw_env: PawEnv) -> dict[int, str]:
    return {row["line_number"]: row["reason"] for row in paw_env.quarantine()}


@pytest.mark.parametrize(
    ("line", "reason", "error_mentions"),
    [
        ('{"type": "track", "event": ', "invalid_json", "not valid JSON"),
        ('["an", "array"]', "not_an_object", "array"),
        (event(type="purchase"), "unknown_type", "purchase"),
        (event(type=None), "unknown_type", "no type"),
        (event(event=None), "missing_event_name", "event name"),
        (event(event="   "), "missing_event_name", "event name"),
        (event(userId=None), "missing_identity", "userId"),
        (event(type="alias", previousId=None), "missing_previous_id", "previousId"),
        (event(type="group", groupId=None), "missing_identity", "groupId"),
        (event(timestamp="last tuesday"), "invalid_timestamp", "timestamp"),
        (event(timestamp=None, sentAt=None), "invalid_timestamp", "no timestamp"),
        (event(sentAt="soon"), "invalid_timestamp", "sent_at"),
        (event(timestamp="1999-12-31T23:59:59Z"), "timestamp_out_of_range", "before 2000"),
        (
            event(timestamp="2024-03-03T10:00:00Z", receivedAt="2024-03-01T10:00:00Z"),
            "timestamp_out_of_range",
            "24 hours",
        ),
        (event(properties="not an object"), "invalid_field_type", "properties"),
        (event(traits=[1, 2]), "invalid_field_type", "traits"),
        (event(context=5), "invalid_field_type", "context"),
        (event(userId={"id": 1}), "invalid_field_type", "user_id"),
        (event(event=42), "invalid_field_type", "event"),
        (event(properties={"blob": "x" * 40_000}), "event_too_large", "bytes"),
    ],
)
def test_each_reason_code(paw_env: PawEnv, line, reason, error_mentions):
    report = ingest_lines(paw_env, [event(messageId="good"), line])
    assert report.events_landed == 1
    assert report.quarantined == 1
    [row] = paw_env.quarantine()
    assert row["reason"] == reason
    assert row["line_number"] == 2
    assert row["source_file"] == "events.ndjson"
    assert error_mentions.lower() in row["error"].lower()
    assert row["raw_line"]  # the raw text is kept
    assert row["ingested_at"] is not None


def test_oversized_raw_text_is_truncated_in_the_quarantine(paw_env: PawEnv):
    ingest_lines(paw_env, [event(properties={"blob": "x" * 100_000})])
    [row] = paw_env.quarantine()
    assert row["reason"] == "event_too_large"
    assert len(row["raw_line"]) <= 8 * 1024
    assert row["raw_bytes"] > 100_000


def test_invalid_utf8_is_quarantined_and_good_lines_around_it_land(paw_env: PawEnv):
    bad = b'{"type": "track", "event": "caf\xe9", "userId": "u"}'
    paw_env.write_lines("mixed.ndjson", [event(messageId="a"), bad, event(messageId="b")])
    report = ingest(paw_env.settings)
    assert report.events_landed == 2
    [row] = paw_env.quarantine()
    assert row["reason"] == "invalid_json"
    assert "UTF-8" in row["error"]
    assert row["line_number"] == 2


def test_clock_skew_is_corrected_from_sent_and_received_times(paw_env: PawEnv):
    # The device clock is two hours fast: it stamped 12:00 and sent at 12:00:05, the server
    # received at 10:00:06, so the event happened at 12:00 + (10:00:06 - 12:00:05) = 10:00:01.
    ingest_lines(
        paw_env,
        [
            event(
                timestamp="2024-03-01T12:00:00Z",
                sentAt="2024-03-01T12:00:05Z",
                receivedAt="2024-03-01T10:00:06Z",
            )
        ],
    )
    [row] = paw_env.lake_events()
    assert row["event_timestamp"].isoformat() == "2024-03-01T10:00:01"
    assert row["original_timestamp"].isoformat() == "2024-03-01T12:00:00"
    assert str(row["event_date"]) == "2024-03-01"


def test_offsets_and_epoch_seconds_and_milliseconds(paw_env: PawEnv):
    ingest_lines(
        paw_env,
        [
            event(messageId="iso", timestamp="2024-03-01T12:00:00+02:00"),
            event(messageId="sec", timestamp=1709287200),
            event(messageId="ms", timestamp=1709287200123),
            event(messageId="str", timestamp="1709287200"),
        ],
    )
    times = {r["event_id"]: r["event_timestamp"].isoformat() for r in paw_env.lake_events()}
    assert times == {
        "iso": "2024-03-01T10:00:00",
        "sec": "2024-03-01T10:00:00",
        "ms": "2024-03-01T10:00:00.123000",
        "str": "2024-03-01T10:00:00",
    }


# Times ending in Z, valid and not: the validation reads them as plain timestamps (faster)
ZULU_TIMES = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00.123Z",
    "2024-01-01T00:00:00.1234567Z",
    "2024-01-01 00:00:00Z",
    "2024-1-1T0:0:0Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T00:00:00.Z",
    " 2024-01-01T00:00:00Z",
    "-2024-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2024-01-01Z",
    "2024-01-01T00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-01T00:00:60Z",
    "2024-01-01T00:00:00+02:00Z",
    "2024-01-01T00:00:00 Z",
    "2024-01-01t00:00:00Z",
    "2024-01-01T00:00:00ZZ",
    "20240101T000000Z",
    "infinityZ",
    "Z",
]


def test_a_time_ending_in_z_reads_as_the_same_instant_as_with_its_offset():
    """ingestion.validate._time reads a time ending in Z as a plain timestamp: for every such
    text, valid or not, the same value (or none) as DuckDB's reading with the offset."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    pairs = con.execute(
        f"select s_timestamp, {_time('timestamp')}, "
        "try_cast(s_timestamp as timestamptz)::timestamp as with_offset "
        "from unnest(?) as texts (s_timestamp)",
        [ZULU_TIMES],
    ).fetchall()
    assert [(text, read) for text, read, _ in pairs] == [
        (text, with_offset) for text, _, with_offset in pairs
    ]
    assert sum(read is not None for _, read, _ in pairs) == 10


def test_camel_and_snake_case_spellings_name_the_same_fields(paw_env: PawEnv):
    snake = {
        "type": "alias",
        "event_id": "snake",
        "user_id": "u2",
        "anonymous_id": "a2",
        "previous_id": "old",
        "timestamp": "2024-03-01T10:00:00Z",
        "sent_at": "2024-03-01T10:00:00Z",
        "received_at": "2024-03-01T10:00:01Z",
    }
    camel = {
        "type": "group",
        "messageId": "camel",
        "userId": "u3",
        "anonymousId": "a3",
        "groupId": "g1",
        "timestamp": "2024-03-01T10:00:00Z",
    }
    ingest_lines(paw_env, [snake, camel])
    rows = {r["event_id"]: r for r in paw_env.lake_events()}
    assert rows["snake"]["user_id"] == "u2"
    assert rows["snake"]["anonymous_id"] == "a2"
    assert rows["snake"]["previous_id"] == "old"
    assert rows["snake"]["event_name"] == "alias"
    assert rows["snake"]["event_timestamp"].isoformat() == "2024-03-01T10:00:01"
    assert rows["camel"]["group_id"] == "g1"
    assert rows["camel"]["event_name"] == "group"


@pytest.mark.parametrize(
    "placeholder", ["", " null ", "undefined", "Anonymous", "GUEST", "none", "nil", "0", "-1"]
)
def test_placeholder_ids_count_as_absent(paw_env: PawEnv, placeholder):
    ingest_lines(
        paw_env,
        [
            event(messageId="keeps-anon", userId=placeholder, anonymousId="device-1"),
            event(messageId="no-identity", userId=placeholder, anonymousId=placeholder),
        ],
    )
    [landed] = paw_env.lake_events()
    assert landed["event_id"] == "keeps-anon"
    assert landed["user_id"] is None
    assert landed["anonymous_id"] == "device-1"
    assert reasons(paw_env) == {2: "missing_identity"}


def test_page_and_screen_names_and_default_namespace(paw_env: PawEnv):
    ingest_lines(
        paw_env,
        [
            event(
                messageId="p", type="page", event=None, name="Pricing", properties={"path": "/p"}
            ),
            event(messageId="s", type="screen", event=None, name="Home", properties=None),
            event(messageId="b", namespace="billing"),
        ],
    )
    rows = {r["event_id"]: r for r in paw_env.lake_events()}
    assert rows["p"]["event_name"] == "page_viewed"
    assert json.loads(rows["p"]["properties"]) == {"name": "Pricing", "path": "/p"}
    assert rows["s"]["event_name"] == "screen_viewed"
    assert rows["p"]["namespace"] == "product"
    assert rows["b"]["namespace"] == "billing"


def test_missing_ids_are_derived_from_content_so_redeliveries_match(paw_env: PawEnv):
    first = event(messageId=None, sentAt="2024-03-01T10:00:01Z", receivedAt="2024-03-01T10:00:02Z")
    redelivered = dict(first, sentAt="2024-03-01T11:00:00Z", receivedAt="2024-03-01T11:00:01Z")
    other = event(messageId=None, event="another")
    report = ingest_lines(paw_env, [first, redelivered, other])
    assert (report.events_landed, report.duplicates) == (2, 1)
    ids = [r["event_id"] for r in paw_env.lake_events()]
    assert all(i.startswith("paw-") for i in ids)
    assert len(set(ids)) == 2


def test_a_derived_id_does_not_depend_on_the_run(paw_env: PawEnv, tmp_path):
    # The same id-less event in two landing zones, ingested at different times, gets the same
    # id: deriving it from anything of the run (its ingested_at) would break redelivery.
    line = event(messageId=None, sentAt="2024-03-01T10:00:01Z")
    ingest_lines(paw_env, [line])
    other = dataclasses.replace(
        paw_env.settings,
        landing_url=str(tmp_path / "landing-2"),
        lake_url=str(tmp_path / "lake-2"),
    )
    (tmp_path / "landing-2").mkdir()
    (tmp_path / "landing-2" / "again.ndjson").write_text(
        json.dumps(dict(line, sentAt="2024-03-02T09:00:00Z")) + "\n"
    )
    time.sleep(1.1)  # another run start time, to the second
    ingest(other)
    [first] = paw_env.lake_events()
    [second] = query_lake(tmp_path / "lake-2", "select * from events")
    assert first["ingested_at"] != second["ingested_at"]
    assert first["event_id"] == second["event_id"]


def test_batch_envelope_applies_its_sent_at_and_context(paw_env: PawEnv):
    envelope = {
        "batch": [
            event(
                messageId="b1", timestamp="2024-03-01T10:00:00Z", receivedAt="2024-03-01T10:00:10Z"
            ),
            event(
                messageId="b2",
                timestamp="2024-03-01T10:00:00Z",
                receivedAt="2024-03-01T10:00:10Z",
                sentAt="2024-03-01T10:00:10Z",
                context={"own": True},
            ),
            event(messageId="b3", userId=None),
        ],
        "sentAt": "2024-03-01T10:00:05Z",
        "context": {"library": {"name": "analytics-node"}},
    }
    report = ingest_lines(paw_env, [event(messageId="plain"), envelope], name="batch.jsonl")
    assert (report.lines_read, report.events_landed, report.quarantined) == (4, 3, 1)
    rows = {r["event_id"]: r for r in paw_env.lake_events()}
    # b1 takes the envelope's sentAt: 10:00:00 + (10:00:10 - 10:00:05) = 10:00:05
    assert rows["b1"]["event_timestamp"].isoformat() == "2024-03-01T10:00:05"
    assert json.loads(rows["b1"]["context"]) == {"library": {"name": "analytics-node"}}
    assert rows["b2"]["event_timestamp"].isoformat() == "2024-03-01T10:00:00"
    # the envelope's context is a default: the member's own keys win, key by key
    assert json.loads(rows["b2"]["context"]) == {"own": True, "library": {"name": "analytics-node"}}
    [bad] = paw_env.quarantine()
    assert (bad["line_number"], bad["batch_index"], bad["reason"]) == (2, 2, "missing_identity")


def test_the_lake_spells_every_json_key_out(paw_env: PawEnv):
    """Models look for a key in the lake's JSON text before parsing it (int_event_groups parses
    a context for its groupId only where the text holds "groupId"): ingestion's parser writes
    the lake's JSON, so a key escaped in the landing file arrives spelled out, an event's own
    and one from its batch envelope alike."""
    own = (
        '{"type": "track", "event": "clicked", "messageId": "own", "userId": "u1", '
        '"timestamp": "2024-03-01T10:00:00Z", "context": {"group\\u0049d" : "g9"}}'
    )
    envelope = (
        '{"batch": [{"type": "track", "event": "clicked", "messageId": "enveloped", '
        '"userId": "u1", "timestamp": "2024-03-01T10:00:00Z"}], '
        '"context": {"group\\u0049d": "g8"}}'
    )
    ingest_lines(paw_env, [own, envelope])
    rows = {r["event_id"]: r for r in paw_env.lake_events()}
    assert '"groupId":"g9"' in rows["own"]["context"]
    assert '"groupId":"g8"' in rows["enveloped"]["context"]


def test_pretty_printed_batch_file(paw_env: PawEnv):
    envelope = {"batch": [event(messageId="x1"), event(messageId="x2")], "sentAt": None}
    path = paw_env.landing / "segment.json"
    path.write_text(json.dumps(envelope, indent=2))
    report = ingest(paw_env.settings)
    assert report.events_landed == 2
    assert report.reconciles


def test_blank_lines_are_not_events_and_crlf_is_fine(paw_env: PawEnv):
    path = paw_env.landing / "crlf.ndjson"
    path.write_bytes(
        (
            json.dumps(event(messageId="a"))
            + "\r\n\r\n   \n"
            + json.dumps(event(messageId="b"))
            + "\r\n"
        ).encode()
    )
    report = ingest(paw_env.settings)
    assert (report.lines_read, report.events_landed) == (2, 2)
    assert report.files[0].blank_lines == 2
