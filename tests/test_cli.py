"""The `paw` command as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import local_env

PAW = str(Path(sys.executable).parent / "paw")


def paw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PAW, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return local_env(tmp_path)


@pytest.mark.parametrize("command", ["generate", "ingest", "run", "sql"])
def test_every_command_has_help(command, env):
    result = paw(command, "--help", env=env)
    assert result.returncode == 0
    assert "usage: paw " + command in result.stdout


def test_generate_then_ingest_prints_a_reconciled_summary(env):
    generated = paw("generate", "--users", "40", "--days", "5", "--end-date", "2024-02-01", env=env)
    assert generated.returncode == 0, generated.stderr
    assert "generated" in generated.stdout
    ingested = paw("ingest", env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert "= landed" in ingested.stdout and "DOES NOT RECONCILE" not in ingested.stdout
    again = paw("ingest", env=env)
    assert "0 new file(s)" in again.stdout


def test_sql_prints_a_table_and_fails_in_one_line(env, tmp_path):
    Path(env["PAW_WAREHOUSE"]).parent.mkdir()
    con = duckdb.connect(env["PAW_WAREHOUSE"])
    con.execute("create schema marts; create table marts.t as select 1 as answer")
    con.close()
    ok = paw("sql", "select answer from marts.t", env=env)
    assert ok.returncode == 0 and "answer" in ok.stdout and "1" in ok.stdout
    bad = paw("sql", "select * from nowhere", env=env)
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("paw sql: ") and "nowhere" in bad.stderr


def test_sql_without_a_warehouse_says_what_to_do(env):
    result = paw("sql", "select 1", env=env)
    assert result.returncode == 1
    assert "make run" in result.stderr


def test_a_bad_argument_is_refused(env):
    result = paw("generate", "--end-date", "yesterday", env=env)
    assert result.returncode == 2
    assert "not a date" in result.stderr


def test_sql_can_read_the_warehouse_and_nothing_else(env, tmp_path):
    warehouse = Path(env["PAW_WAREHOUSE"])
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts; create table marts.t as select * from range(3) r(n)")
    con.close()
    before = warehouse.read_bytes()
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    for statement in (
        f"copy (select 'x') to '{warehouse}'",
        f"select * from read_csv('{secret}')",
        f"attach '{tmp_path / 'other.duckdb'}' as other",
        "set enable_external_access = true",
        "create table marts.u as select 1",
        "select 1; select 2",
    ):
        result = paw("sql", statement, env=env)
        assert result.returncode == 1, (statement, result.stdout)
        assert len(result.stderr.strip().splitlines()) == 1
    assert warehouse.read_bytes() == before
    assert not (tmp_path / "other.duckdb").exists()


def test_sql_prints_every_row_as_csv_or_json(env):
    warehouse = Path(env["PAW_WAREHOUSE"])
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts; create table marts.t as select * from range(100) r(n)")
    con.close()
    as_csv = paw("sql", "select n from marts.t order by n", "--format", "csv", env=env)
    assert as_csv.stdout.splitlines() == ["n", *[str(i) for i in range(100)]]
    as_json = paw("sql", "select n from marts.t order by n", "--format", "json", env=env)
    assert json.loads(as_json.stdout) == [{"n": i} for i in range(100)]
    table = paw("sql", "select n from marts.t", "--max-rows", "5", env=env)
    assert table.returncode == 0 and "100 rows" in table.stdout
