"""Read-only queries on the published warehouse, for `paw sql` and analysts' scripts."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect_read_only(warehouse_path: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection: it never blocks the pipeline, which publishes a new file."""
    if not Path(warehouse_path).exists():
        raise FileNotFoundError(
            f"no warehouse at {warehouse_path}: run `make run` (or `paw run`) first"
        )
    con = duckdb.connect(warehouse_path, read_only=True)
    con.execute("set TimeZone = 'UTC'")
    return con


def run_query(warehouse_path: str, query: str, max_rows: int = 40) -> str:
    con = connect_read_only(warehouse_path)
    try:
        relation = con.sql(query)
        if relation is None:
            return "ok"
        return relation.__str__() if max_rows <= 0 else _render(relation, max_rows)
    finally:
        con.close()


def _render(relation: duckdb.DuckDBPyRelation, max_rows: int) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        relation.show(max_rows=max_rows, max_width=200)
    return buffer.getvalue().rstrip()
