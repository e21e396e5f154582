"""macros/compaction.sql: DuckDB holds 8 bytes a row of every 2,048-row vector that has some of
its rows deleted, in memory it cannot evict, once the table is read; the compaction an
incremental model runs after its delete and insert leaves no vector partly deleted, so that a
reader of the table holds nothing for the deletions. A real DuckDB file and the macro as dbt
renders it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from paw.settings import Settings
from tests.conftest import local_env
from tests.dbt_helpers import run_dbt

pytestmark = pytest.mark.slow

ROWS = 3_000_000  # 24 MB of deletion entries once every vector holds a deletion


def partly_deleted_vectors(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The table's vectors (2,048-row slices of each row group) holding both live and deleted
    rows, counted from each row group's size and the rowids still live."""
    sizes = con.execute(
        "select sum(count) from pragma_storage_info(?) where column_path = '[0]' "
        "group by row_group_id order by row_group_id",
        [table],
    ).fetchall()
    # row groups need not start on a multiple of 2,048: rows are matched to vectors one by one
    row_ids = [
        row_id for (row_id,) in con.execute(f"select rowid from {table} order by rowid").fetchall()
    ]
    partly, start, position = 0, 0, 0
    for (size,) in sizes:
        end = start + int(size)
        for first in range(start, end, 2048):
            last = min(first + 2048, end)
            kept = 0
            while position < len(row_ids) and row_ids[position] < last:
                kept += row_ids[position] >= first
                position += 1
            partly += 0 < kept < last - first
        start = end
    return partly


def memory_held_after_a_read(path: Path, limit: str) -> bool:
    """Whether a new process-like session that reads the table then cannot lower its memory
    limit to `limit`: what it holds for the deletions is not evictable."""
    con = duckdb.connect(str(path))
    try:
        con.execute("select sum(v) from main.scattered").fetchall()
        con.execute(f"set memory_limit = '{limit}'")
        return False
    except duckdb.OutOfMemoryException:
        return True
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """One warehouse file for the module's tables: dbt renders the macro against one path, and
    so parses the project once."""
    return tmp_path_factory.mktemp("compaction") / "warehouse.duckdb"


def compaction_statements(warehouse: Path, table: str, order_by: str = "none") -> str:
    """The SQL of paw_compact for main.`table`, as dbt renders it against the warehouse."""
    settings = Settings.from_env(local_env(warehouse.parent)).with_warehouse(str(warehouse))
    relation = f"api.Relation.create(schema='main', identifier='{table}')"
    macro = f"{{{{ paw_compact({relation}, {order_by}) }}}}"
    result = run_dbt(["compile", "--quiet", "--inline", macro], settings)
    assert result.success, result.output[-3000:]
    return result.output.strip()


def test_compaction_leaves_no_vector_partly_deleted_and_frees_what_deletions_held(warehouse):
    con = duckdb.connect(str(warehouse))
    con.execute(
        f"create table main.scattered as select range as k, range % 7 as v from range({ROWS})"
    )
    # rows deleted everywhere, as an incremental build deletes the rows it replaces
    con.execute("delete from main.scattered where k % 97 = 0")
    expected = con.execute("select k, v from main.scattered order by k").fetchall()
    assert partly_deleted_vectors(con, "main.scattered") > 1000
    con.close()
    assert memory_held_after_a_read(warehouse, "4MB")

    statements = compaction_statements(warehouse, "scattered", order_by="['k']")
    con = duckdb.connect(str(warehouse))
    con.execute("begin")
    con.execute(statements)
    con.execute("commit")
    con.execute("checkpoint")
    assert partly_deleted_vectors(con, "main.scattered") == 0
    assert con.execute("select k, v from main.scattered order by k").fetchall() == expected
    # the moved rows keep the given order: the table's tail is in k order
    tail = con.execute("select k from main.scattered order by rowid desc limit 5000").fetchall()
    assert tail == sorted(tail, reverse=True)
    con.close()
    assert not memory_held_after_a_read(warehouse, "4MB")


def test_a_table_without_deleted_rows_is_not_compacted(warehouse):
    """An append or an in-place update deletes nothing: the compaction is then no statement at
    all, not a pass over every vector; one deleted row brings it back."""
    con = duckdb.connect(str(warehouse))
    con.execute("create table main.appended as select range as k from range(100000)")
    con.execute("update main.appended set k = k + 1 where k % 1000 = 0")
    con.close()
    assert compaction_statements(warehouse, "appended") == ""

    con = duckdb.connect(str(warehouse))
    con.execute("delete from main.appended where k = 5")
    con.close()
    assert "paw_vectors_with_deletions" in compaction_statements(warehouse, "appended")
