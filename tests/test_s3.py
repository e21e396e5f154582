"""The same ingestion over S3, landing zone and lake both, against a real S3 endpoint on
loopback (moto's server, started here), and dbt reading that lake through httpfs."""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from ingestion.ingest import ingest
from ingestion.storage import LockHeldError, S3Storage, StorageError, open_storage, staging_dir
from paw.cli import main
from paw.duckdb_secrets import secret_directory
from paw.settings import S3Settings, Settings
from simulator.sample_data import GenerateOptions, generate
from tests.conftest import event
from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.slow

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "paw-test-key",
    "AWS_SECRET_ACCESS_KEY": "paw-test-secret-do-not-log",
    "AWS_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request) -> Settings:
    bucket = "paw-" + request.node.name.replace("_", "-")[:40].lower()
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "PAW_LANDING_URL": f"s3://{bucket}/landing",
        "PAW_LAKE_URL": f"s3://{bucket}/lake",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=bucket)
    return Settings.from_env(env)


def _lake_table(storage: S3Storage, prefix: str):

    tables = [
        pq.read_table(io.BytesIO(storage.read_bytes(obj.key)))
        for obj in storage.list(prefix)
        if obj.key.endswith(".parquet")
    ]
    return pa.concat_tables(tables) if tables else None


def test_ingestion_over_s3_reconciles_and_is_idempotent(s3_settings: Settings):
    landing = open_storage(s3_settings.landing_url, s3_settings.s3)
    lake = open_storage(s3_settings.lake_url, s3_settings.s3)
    generated = generate(landing, GenerateOptions(users=80, days=10, end_date=date(2024, 5, 1)))

    report = ingest(s3_settings)
    assert report.lines_read == generated.events
    assert report.reconciles
    events = _lake_table(lake, "events/")
    assert events.num_rows == report.events_landed
    assert len(set(events.column("event_id").to_pylist())) == events.num_rows
    assert all("/event_date=" in f"/{o.key}" for o in lake.list("events/"))
    quarantine = _lake_table(lake, "quarantine/")
    assert quarantine.num_rows == report.quarantined

    keys_before = [(o.key, o.size) for o in lake.list()]
    again = ingest(s3_settings)
    assert again.files == [] and again.events_landed == 0
    assert [(o.key, o.size) for o in lake.list()] == keys_before
    # Landing objects are untouched.
    assert len(landing.list()) == generated.files


def test_a_redelivery_in_a_later_s3_run_is_a_duplicate_found_in_the_lakes_id_index(
    s3_settings: Settings,
):
    """The id index of committed runs is read from the S3 lake (and derived there for a run
    committed before it existed), so an event delivered again in a later run is a duplicate."""
    landing = open_storage(s3_settings.landing_url, s3_settings.s3)
    lake = open_storage(s3_settings.lake_url, s3_settings.s3)

    def write_lines(key: str, ids: list[str]) -> None:
        lines = [json.dumps(event(messageId=message_id)) for message_id in ids]
        landing.write_bytes_atomic(key, ("\n".join(lines) + "\n").encode())

    write_lines("a.ndjson", ["m1", "m2", "m3"])
    first = ingest(s3_settings)
    [index] = [o.key for o in lake.list("_event_ids/")]
    assert index == f"_event_ids/part-{first.run_id}.parquet"
    write_lines("b.ndjson", ["m2", "m4"])
    second = ingest(s3_settings)
    assert [(f.events_landed, f.duplicates) for f in second.files] == [(1, 1)]
    # a lake written before the index existed: the next run derives the first run's from its
    # event files, in the lake
    lake.delete(index)
    write_lines("c.ndjson", ["m1", "m5"])
    third = ingest(s3_settings)
    assert [(f.events_landed, f.duplicates) for f in third.files] == [(1, 1)]
    assert index in [o.key for o in lake.list("_event_ids/")]
    events = _lake_table(lake, "events/")
    assert sorted(events.column("event_id").to_pylist()) == ["m1", "m2", "m3", "m4", "m5"]


def test_s3_errors_name_the_object_and_never_the_secret(s3_settings: Settings):
    storage = open_storage(s3_settings.landing_url, s3_settings.s3)
    with pytest.raises(StorageError) as info:
        storage.read_bytes("does/not/exist.json")
    message = str(info.value)
    assert "s3://" in message and "does/not/exist.json" in message
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in message
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in repr(s3_settings)


def test_the_s3_lake_lock_refuses_a_second_writer(s3_settings: Settings):

    lake = open_storage(s3_settings.lake_url, s3_settings.s3)
    with lake.lock("_lock", "first"), pytest.raises(LockHeldError), lake.lock("_lock", "second"):
        pass
    with lake.lock("_lock", "third"):  # released after use
        pass


def test_dbt_reads_the_s3_lake_through_httpfs(s3_settings: Settings, tmp_path, monkeypatch):

    landing = open_storage(s3_settings.landing_url, s3_settings.s3)
    generate(landing, GenerateOptions(users=60, days=10, end_date=date(2024, 5, 1)))
    report = ingest(s3_settings)
    warehouse = tmp_path / "warehouse.duckdb"
    result = run_dbt(
        [
            "build",
            "--select",
            "stg_events",
            "stg_quarantined_events",
            "--indirect-selection",
            "cautious",
        ],
        s3_settings.with_warehouse(str(warehouse)),
    )
    assert result.success, result.output

    con = duckdb.connect(str(warehouse), read_only=True)
    staged = con.execute("select count(*) from staging.stg_events").fetchone()[0]
    quarantined = con.execute("select count(*) from staging.stg_quarantined_events").fetchone()[0]
    assert staged == report.events_landed
    assert quarantined == report.quarantined


def test_a_no_op_run_over_s3_reads_no_landing_file(s3_settings: Settings):
    landing = open_storage(s3_settings.landing_url, s3_settings.s3)
    lake = open_storage(s3_settings.lake_url, s3_settings.s3)
    for i in range(40):
        landing.write_bytes_atomic(
            f"day/{i:03d}.ndjson",
            (
                f'{{"type":"track","event":"e","messageId":"m{i}","userId":"u",'
                f'"timestamp":"2024-03-01T10:00:00Z"}}\n'
            ).encode(),
        )
    first = ingest(s3_settings, landing=landing, lake=lake)
    assert first.events_landed == 40
    gets: list[str] = []
    landing.client.meta.events.register(
        "before-call.s3.GetObject", lambda params, **_: gets.append(params["Key"])
    )
    again = ingest(s3_settings, landing=landing, lake=lake)
    assert (len(again.files), len(again.unchanged_files)) == (0, 40)
    assert gets == []


def test_everything_goes_to_the_s3_specific_endpoint(s3_endpoint: str, tmp_path):
    """AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL for ingestion and dbt alike: the general
    endpoint here is a port nothing listens on, so any use of it would fail the run."""
    nowhere = f"http://127.0.0.1:{_free_port()}"
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": nowhere,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "PAW_LANDING_URL": "s3://paw-two-endpoints/landing",
        "PAW_LAKE_URL": "s3://paw-two-endpoints/lake",
    }
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket="paw-two-endpoints")
    settings = Settings.from_env(env)
    landing = open_storage(settings.landing_url, settings.s3)
    generate(landing, GenerateOptions(users=30, days=5, end_date=date(2024, 5, 1)))
    report = ingest(settings)
    assert report.events_landed > 0
    warehouse = tmp_path / "warehouse.duckdb"
    result = run_dbt(["run", "--select", "stg_events"], settings.with_warehouse(str(warehouse)))
    assert result.success, result.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        staged = con.execute("select count(*) from staging.stg_events").fetchone()[0]
    assert staged == report.events_landed


def test_a_session_token_reaches_duckdbs_secret():
    s3 = S3Settings(access_key_id="k", secret_access_key="s", session_token="sts-token")
    with secret_directory(s3) as folder:
        con = duckdb.connect()
        con.execute("set secret_directory = ?", [str(folder)])
        [(text,)] = con.execute("select secret_string from duckdb_secrets()").fetchall()
        con.close()
    assert "session_token=redacted" in text and "key_id=k" in text
    assert not folder.exists()


# a process that holds the secret of these settings until its stdin closes
HOLDER = """
import sys
from paw.duckdb_secrets import secret_directory
from paw.settings import S3Settings
with secret_directory(S3Settings(access_key_id="k", secret_access_key="s")) as folder:
    print(folder, flush=True)
    sys.stdin.read()
"""


def start_holder(temp: Path) -> subprocess.Popen:
    """HOLDER in a process of its own, with `temp` as its system temp folder."""
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temp)},
    )


def test_the_secret_folder_stays_the_same_and_its_secret_leaves_with_its_last_user(
    tmp_path, monkeypatch
):
    """The secret's folder is named after it, so that dbt's vars (which name it) stay the same
    from one invocation to the next and dbt reuses its parse; the secret file is there while
    any process uses it (another process here), and the folder is gone once the last has
    finished."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    s3 = S3Settings(access_key_id="k", secret_access_key="s")
    with secret_directory(s3) as first:
        assert list(first.glob("*.duckdb_secret"))
    assert not first.exists()
    holder = start_holder(tmp_path)
    try:
        held = Path(holder.stdout.readline().strip())
        with secret_directory(s3) as second:
            assert second == first == held
        # this process was not the last user: the other one still reads the secret
        assert [p.name for p in held.glob("*.duckdb_secret")] == ["paw_s3.duckdb_secret"]
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    assert not held.exists()
    with secret_directory(S3Settings(access_key_id="other", secret_access_key="s")) as other:
        assert other != first  # other credentials, another folder


def test_a_secret_folder_no_one_holds_is_removed_by_the_next_invocation(tmp_path, monkeypatch):
    """A killed invocation runs no cleanup, and credentials that rotate never use its folder
    again: the next invocation, whatever its credentials, removes a folder no one holds, and
    leaves one that a running invocation holds, and one being made (no lock file yet)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed = start_holder(tmp_path)
    left = Path(killed.stdout.readline().strip())
    killed.kill()
    killed.wait()
    assert [p.name for p in left.glob("*.duckdb_secret")] == ["paw_s3.duckdb_secret"]
    being_made = tmp_path / f"paw-secrets-{os.getuid()}-0123456789abcdef"
    being_made.mkdir(mode=0o700)
    rotated = S3Settings(access_key_id="k", secret_access_key="s", session_token="next")
    with secret_directory(rotated) as current:
        assert current != left
        assert not left.exists()
    assert being_made.is_dir()

    running = start_holder(tmp_path)
    try:
        held = Path(running.stdout.readline().strip())
        with secret_directory(rotated):
            pass
        assert [p.name for p in held.glob("*.duckdb_secret")] == ["paw_s3.duckdb_secret"]
    finally:
        running.communicate("")
    assert not held.exists()


def test_a_lock_taken_on_a_folder_its_last_user_removed_is_taken_again(tmp_path, monkeypatch):
    """The last user of a folder may remove it between another invocation's opening of its
    lock file and its lock: that invocation locks the folder again, made anew, rather than
    writing its secret into a folder that is gone."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    removed: list[Path] = []
    flock = fcntl.flock

    def last_user_leaves_first(descriptor: int, operation: int) -> None:
        if operation == fcntl.LOCK_SH and not removed:
            [folder] = tmp_path.glob("paw-secrets-*")
            shutil.rmtree(folder)
            removed.append(folder)
        flock(descriptor, operation)

    monkeypatch.setattr(fcntl, "flock", last_user_leaves_first)
    with secret_directory(S3Settings(access_key_id="k", secret_access_key="s")) as folder:
        assert removed == [folder]
        assert [p.name for p in folder.glob("*.duckdb_secret")] == ["paw_s3.duckdb_secret"]
    assert not folder.exists()


def test_a_secret_folder_others_could_read_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    s3 = S3Settings(access_key_id="k", secret_access_key="s")
    with secret_directory(s3) as folder:
        pass
    folder.mkdir()
    folder.chmod(0o777)  # as if another user had made it first, for everyone
    refused = f"{folder} is not a folder private to this user"
    with pytest.raises(PermissionError, match=refused), secret_directory(s3):
        pass


def test_paw_run_with_a_missing_bucket_names_it(s3_endpoint: str, tmp_path, monkeypatch, capsys):
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "PAW_LANDING_URL": str(tmp_path / "landing"),
        "PAW_LAKE_URL": "s3://paw-no-such-bucket/lake",
        "PAW_WAREHOUSE": str(tmp_path / "warehouse" / "paw.duckdb"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "a.ndjson").write_text('{"type":"track"}\n')
    assert main(["run"]) == 1
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "s3://paw-no-such-bucket/lake/_lock" in last_line and "take the lock" in last_line


def test_the_error_that_stopped_the_work_is_reported_not_the_lock_release():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3 = S3Settings(
        access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        endpoint_url=endpoint,
    )

    class OneAttempt(S3Storage):
        MAX_ATTEMPTS = 1

    lake = OneAttempt("s3://paw-going-down/lake", s3)
    lake.client.create_bucket(Bucket="paw-going-down")
    with pytest.raises(StorageError) as caught, lake.lock("_lock", "me"):
        server.stop()  # the endpoint goes down mid-run
        lake.list("events/")
    assert str(caught.value).startswith("cannot list s3://paw-going-down/lake/events/")


def test_an_s3_run_prunes_its_own_scratch_folders_and_nothing_else(
    s3_settings: Settings, tmp_path, monkeypatch
):
    """docs/orchestration.md, leftovers: the system temp folder is shared, among others with a
    running dbt build's secret and row-count folders (which an S3 run once deleted under a
    concurrent build); a run prunes the stale scratch folders of S3 runs alone."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    lake = open_storage(s3_settings.lake_url, s3_settings.s3)
    others = [tmp_path / "paw-row-counts-abc123", tmp_path / "paw-secrets-0-0123456789abcdef"]
    for folder in others:  # older than every scratch folder: the first a wide net would take
        folder.mkdir()
        os.utime(folder, (1_600_000_000, 1_600_000_000))
    stale = [staging_dir(lake, f"20260101T00000{n}Z-0000000{n}") for n in range(5)]
    for age, folder in enumerate(stale):  # the first one oldest
        os.utime(folder, (1_700_000_000 + age, 1_700_000_000 + age))
    landing = open_storage(s3_settings.landing_url, s3_settings.s3)
    generate(landing, GenerateOptions(users=5, days=2, end_date=date(2024, 5, 1)))

    report = ingest(s3_settings)

    assert report.reconciles
    assert all(folder.is_dir() for folder in others)
    assert [folder.exists() for folder in stale] == [False, False, True, True, True]
