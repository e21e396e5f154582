"""Real payloads kept whole and hostile input quarantined line by line, never a crashed run
(issue: ingestion holds under every input). Each test runs real ingestion into a real lake."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from pathlib import Path

import pytest

from ingestion.contract import PLACEHOLDER_IDS
from ingestion.ingest import ingest
from ingestion.lake import latest_entries, read_ingestion_log
from ingestion.selection import select_landing_files
from ingestion.storage import LocalStorage
from tests.conftest import PawEnv, event, query_lake


def settled(paw_env: PawEnv):
    """Settings under which every file counts as settled, however fresh."""
    return dataclasses.replace(paw_env.settings, landing_settle_seconds=0)


def test_segment_archive_times_are_corrected_once(paw_env: PawEnv):
    # The phone's clock is two hours fast: it stamped 12:00:00 and sent at 12:00:05; Segment
    # received at 10:00:06 and already corrected `timestamp` to 10:00:01.
    paw_env.write_lines(
        "archive.ndjson",
        [
            event(
                messageId="seg",
                originalTimestamp="2024-03-01T12:00:00Z",
                sentAt="2024-03-01T12:00:05Z",
                receivedAt="2024-03-01T10:00:06Z",
                timestamp="2024-03-01T10:00:01Z",
            ),
            event(
                messageId="server-only",
                timestamp=None,
                sentAt="2024-03-01T09:00:00Z",
                receivedAt="2024-03-01T09:00:01Z",
            ),
        ],
    )
    report = ingest(paw_env.settings)
    assert report.events_landed == 2
    rows = {r["event_id"]: r for r in paw_env.lake_events()}
    assert rows["seg"]["event_timestamp"].isoformat() == "2024-03-01T10:00:01"
    assert rows["seg"]["original_timestamp"].isoformat() == "2024-03-01T12:00:00"
    # no device time at all: the time it was received
    assert rows["server-only"]["event_timestamp"].isoformat() == "2024-03-01T09:00:01"
    assert rows["server-only"]["original_timestamp"] is None


def test_rudderstack_traits_in_context_are_the_events_traits(paw_env: PawEnv):
    rudder_identify = {
        "type": "identify",
        "messageId": "r1",
        "anonymousId": "a1",
        "userId": "u1",
        "originalTimestamp": "2024-03-01T10:00:00Z",
        "sentAt": "2024-03-01T10:00:01Z",
        "context": {"traits": {"email": "a@example.com", "plan": "free"}, "library": {}},
        "channel": "server",
    }
    both = {**rudder_identify, "messageId": "r2", "traits": {"plan": "pro"}}
    paw_env.write_lines("rudder.ndjson", [rudder_identify, both])
    ingest(paw_env.settings)
    rows = {r["event_id"]: r for r in paw_env.lake_events()}
    assert json.loads(rows["r1"]["traits"]) == {"email": "a@example.com", "plan": "free"}
    # the top level wins per key
    assert json.loads(rows["r2"]["traits"]) == {"email": "a@example.com", "plan": "pro"}


def test_fields_outside_the_contract_are_kept_in_extra(paw_env: PawEnv):
    page = event(
        type="page",
        messageId="p1",
        name="Pricing",
        category="Docs",
        channel="web",
        integrations={"All": True},
        writeKey="wk",
        version=2,
    )
    paw_env.write_lines("pages.ndjson", [page, event(messageId="plain")])
    ingest(paw_env.settings)
    rows = {r["event_id"]: r for r in paw_env.lake_events()}
    assert json.loads(rows["p1"]["extra"]) == {
        "category": "Docs",
        "channel": "web",
        "integrations": {"All": True},
        "writeKey": "wk",
        "version": 2,
    }
    assert rows["plain"]["extra"] is None


def test_numeric_ids_keep_their_exact_digits_in_envelopes_and_lines(paw_env: PawEnv):
    members = [
        '{"type":"track","event":"a","messageId":12345678901234567890123,"userId":1,'
        '"timestamp":"2024-03-01T10:00:00Z"}',
        '{"type":"track","event":"a","messageId":12345678901234567890124,"userId":1,'
        '"timestamp":"2024-03-01T10:00:00Z"}',
    ]
    envelope = '{"batch":[' + ",".join(members) + '],"sentAt":"2024-03-01T10:00:00Z"}'
    line = members[0].replace("23,", "25,")
    paw_env.write_lines("ids.ndjson", [envelope, line])
    report = ingest(paw_env.settings)
    assert (report.events_landed, report.duplicates) == (3, 0)
    ids = sorted(r["event_id"] for r in paw_env.lake_events())
    assert ids == ["12345678901234567890123", "12345678901234567890124", "12345678901234567890125"]


def test_duplicate_keys_first_wins_in_lines_and_envelopes(paw_env: PawEnv):
    member = (
        '{"type":"track","event":"first","event":"second","messageId":"%s","userId":"u",'
        '"timestamp":"2024-03-01T10:00:00Z"}'
    )
    paw_env.write_lines("dupes.ndjson", [member % "line", '{"batch":[' + member % "env" + "]}"])
    ingest(paw_env.settings)
    assert {r["event_id"]: r["event_name"] for r in paw_env.lake_events()} == {
        "line": "first",
        "env": "first",
    }


@pytest.mark.parametrize(
    "placeholder", [*PLACEHOLDER_IDS, '""', '"null"', " NaN ", "[object Object]"]
)
def test_placeholder_ids_are_no_identity(paw_env: PawEnv, placeholder: str):
    paw_env.write_lines("p.ndjson", [event(userId=placeholder, anonymousId=None)])
    report = ingest(paw_env.settings)
    assert report.reasons == {"missing_identity": 1}


def test_hostile_envelopes_are_quarantined_and_the_rest_lands(paw_env: PawEnv):
    good = json.dumps(event(messageId="good"))
    deep_member = (
        '{"type":"track","event":"x","userId":"u","properties":' + "[" * 2000 + "]" * 2000 + "}"
    )
    nested = '{"batch":[' * 300 + good + "]}" * 300
    paw_env.write_lines(
        "hostile.ndjson",
        [
            '{"batch":[' + good + '],"x":NaN}',
            '{"batch":[' + deep_member + "," + json.dumps(event(messageId="beside")) + "]}",
            nested,
            good.replace('"good"', '"after"'),
        ],
    )
    report = ingest(paw_env.settings)
    assert report.reconciles
    assert {r["event_id"] for r in paw_env.lake_events()} == {"beside", "after"}
    errors = {(r["line_number"], r["reason"]): r["error"] for r in paw_env.quarantine()}
    assert "NaN" in errors[(1, "invalid_json")]
    assert "nested more than 64 levels" in errors[(2, "invalid_field_type")]
    assert "inside a batch envelope" in errors[(3, "invalid_field_type")]


def _nested(levels: int) -> dict:
    """`levels` objects, one inside the next."""
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_the_depth_limit_counts_levels_not_brackets(paw_env: PawEnv):
    # The event is one level: properties nested 64 deep make 65, one over MAX_JSON_DEPTH. The
    # reader counts each line's opening brackets and the validator searches for the nesting
    # only where there are enough of them: a flat list of 100 objects has 102 and is valid.
    # Brackets in a string are text, not nesting: 70 of them, then a real 3 levels.
    flat = {"items": [{"i": i} for i in range(100)]}
    text = {"snippet": "{" * 35 + "[" * 35 + '"\\', "rows": [[1]]}
    lines = [
        event(messageId="deep", properties=_nested(64)),
        event(messageId="at-the-limit", properties=_nested(63)),
        event(messageId="flat", properties=flat),
        event(messageId="brackets-in-a-string", properties=text),
    ]
    paw_env.write_lines("depth.ndjson", lines)
    report = ingest(paw_env.settings)
    assert report.reconciles
    landed = {r["event_id"]: r for r in paw_env.lake_events()}
    assert set(landed) == {"at-the-limit", "flat", "brackets-in-a-string"}
    assert json.loads(landed["brackets-in-a-string"]["properties"]) == text
    [quarantined] = paw_env.quarantine()
    assert (quarantined["line_number"], quarantined["reason"]) == (1, "invalid_field_type")
    assert "nested more than 64 levels" in quarantined["error"]


def test_a_large_envelope_line_expands_and_the_size_limit_is_per_member(paw_env: PawEnv):
    members = [event(messageId=f"b{i}", properties={"pad": "x" * 60}) for i in range(500)]
    members.append(event(messageId="huge", properties={"blob": "x" * 40_000}))
    line = json.dumps({"batch": members, "sentAt": "2024-03-01T10:00:00Z"})
    assert len(line) > 58_000
    paw_env.write_lines("batch.ndjson", [line])
    report = ingest(paw_env.settings)
    assert (report.lines_read, report.events_landed) == (501, 500)
    assert report.reasons == {"event_too_large": 1}


def test_a_half_cut_gzip_lands_its_readable_lines(paw_env: PawEnv):
    lines = [json.dumps(event(messageId=f"t{i}")) for i in range(2000)]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    (paw_env.landing / "cut.ndjson.gz").write_bytes(data[: len(data) // 2])
    report = ingest(settled(paw_env), block_bytes=16 * 1024)
    assert report.reconciles
    landed = report.events_landed
    assert 500 < landed < 2000
    [tail] = paw_env.quarantine()
    assert tail["reason"] == "truncated_file"
    assert tail["line_number"] == landed + 1
    assert "end-of-stream marker" in tail["error"] and "byte" in tail["error"]


def test_a_bom_and_upper_case_extensions(paw_env: PawEnv):
    (paw_env.landing / "bom.ndjson").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(event(messageId="bom")).encode() + b"\n"
    )
    (paw_env.landing / "LOUD.NDJSON.GZ").write_bytes(
        gzip.compress(json.dumps(event(messageId="loud")).encode() + b"\n")
    )
    report = ingest(paw_env.settings)
    assert report.quarantined == 0
    assert {r["event_id"] for r in paw_env.lake_events()} == {"bom", "loud"}


def test_symlinks_and_hidden_files(paw_env: PawEnv, tmp_path: Path):
    outside = tmp_path / "secret.ndjson"
    outside.write_text(json.dumps(event(messageId="secret")) + "\n")
    (paw_env.landing / "escape.ndjson").symlink_to(outside)
    # a link inside the landing zone whose target is not there (yet)
    target = paw_env.landing / "store" / "target.data"
    (paw_env.landing / "dangling.ndjson").symlink_to(target)
    (paw_env.landing / ".hidden.ndjson").write_text(json.dumps(event(messageId="h")) + "\n")
    paw_env.write_lines("good.ndjson", [event(messageId="good")])
    report = ingest(paw_env.settings)
    assert {r["event_id"] for r in paw_env.lake_events()} == {"good"}
    assert not [r for r in paw_env.quarantine() if "secret" in (r["raw_line"] or "")]
    assert set(report.ignored_files) == {"escape.ndjson", ".hidden.ndjson"}
    assert "outside the landing zone" in report.ignored_files["escape.ndjson"]
    assert "outside the landing zone" in report.summary()
    [failed] = report.failed_files
    assert failed.source_file == "dangling.ndjson" and "does not exist" in failed.error
    log = query_lake(paw_env.lake, f"select * from read_parquet('{paw_env.lake}/_ingestion_log/*')")
    assert {r["source_file"]: r["error"] is not None for r in log} == {
        "dangling.ndjson": True,
        "good.ndjson": False,
    }
    # the link is mended: the next run takes the file
    target.parent.mkdir()
    target.write_text(json.dumps(event(messageId="late")) + "\n")
    again = ingest(paw_env.settings)
    assert [f.source_file for f in again.files] == ["dangling.ndjson"]
    assert {r["event_id"] for r in paw_env.lake_events()} == {"good", "late"}


def test_a_file_still_being_written_waits_for_the_next_run(paw_env: PawEnv):
    path = paw_env.landing / "growing.ndjson"
    path.write_text(json.dumps(event(messageId="g1")) + "\n" + '{"type": "tra')
    report = ingest(paw_env.settings)
    assert list(report.waiting_files) == ["growing.ndjson"]
    assert "waiting" in report.summary()
    assert paw_env.lake_events() == [] and paw_env.quarantine() == []
    path.write_text(json.dumps(event(messageId="g1")) + "\n" + json.dumps(event(messageId="g2")))
    # settled: a last line without a newline is a complete line
    report = ingest(settled(paw_env))
    assert report.events_landed == 2 and report.quarantined == 0


class _GrowingWhileRead(LocalStorage):
    """A landing folder whose file gets another line while ingestion reads it."""

    def open_read(self, key: str):
        handle = super().open_read(key)
        with open(self._path(key), "a") as fh:
            fh.write(json.dumps(event(messageId="appended")) + "\n")
        return handle


def test_a_file_that_changes_while_read_is_not_committed(paw_env: PawEnv):
    paw_env.write_lines("a.ndjson", [event(messageId="a1")])
    paw_env.write_lines("b.ndjson", [event(messageId="b1")])
    report = ingest(paw_env.settings, landing=_GrowingWhileRead(paw_env.landing))
    assert set(report.waiting_files) == {"a.ndjson", "b.ndjson"}
    assert paw_env.lake_events() == []
    again = ingest(paw_env.settings)
    assert {r["event_id"] for r in paw_env.lake_events()} == {"a1", "b1", "appended"}
    assert again.reconciles


class _OneGrowingWhileRead(LocalStorage):
    """A landing folder where only a.ndjson gets another line while ingestion reads it."""

    def open_read(self, key: str):
        handle = super().open_read(key)
        if key == "a.ndjson":
            with open(self._path(key), "a") as fh:
                fh.write(json.dumps(event(messageId="appended")) + "\n")
        return handle


def test_a_run_that_commits_without_a_changed_file_leaves_its_ids_out_of_the_index(
    paw_env: PawEnv,
):
    paw_env.write_lines("a.ndjson", [event(messageId="a1")])
    paw_env.write_lines("b.ndjson", [event(messageId="b1")])
    report = ingest(paw_env.settings, landing=_OneGrowingWhileRead(paw_env.landing))
    assert set(report.waiting_files) == {"a.ndjson"}
    assert {r["event_id"] for r in paw_env.lake_events()} == {"b1"}
    # a1 was read but withdrawn: the next run lands it, not counts it as a duplicate
    again = ingest(paw_env.settings)
    assert again.duplicates == 0
    assert {r["event_id"] for r in paw_env.lake_events()} == {"a1", "appended", "b1"}


def test_a_rewritten_file_of_the_same_size_is_new_and_an_unchanged_one_is_not_read(
    paw_env: PawEnv,
):
    path = paw_env.write_lines("same.ndjson", [event(messageId="v1")])
    ingest(paw_env.settings)
    lake = LocalStorage(paw_env.lake)

    class _NoReads(LocalStorage):
        def open_read(self, key: str):
            raise AssertionError(f"{key} was read to decide it was unchanged")

    entries = latest_entries(read_ingestion_log(lake))
    assert select_landing_files(_NoReads(paw_env.landing), entries).new == []
    path.write_text(path.read_text().replace('"v1"', '"v2"'))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert [o.key for o in select_landing_files(paw_env_landing(paw_env), entries).new] == [
        "same.ndjson"
    ]
    ingest(paw_env.settings)
    assert {r["event_id"] for r in paw_env.lake_events()} == {"v1", "v2"}


def paw_env_landing(paw_env: PawEnv) -> LocalStorage:
    return LocalStorage(paw_env.landing)
