"""Read-only queries on the published warehouse, for `paw sql`, the run summary and scripts."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

FORMATS = ("table", "csv", "json")


class QueryError(ValueError):
    """A query `paw sql` will not run (not exactly one statement)."""


def connect_read_only(warehouse_path: str) -> duckdb.DuckDBPyConnection:
    """A connection that can read the warehouse and nothing else: read-only, no access to
    other files (no COPY TO, read_csv or ATTACH), its configuration locked."""
    if not Path(warehouse_path).exists():
        raise FileNotFoundError(
            f"no warehouse at {warehouse_path}: run `make run` (or `paw run`) first"
        )
    con = duckdb.connect(warehouse_path, read_only=True, config={"enable_external_access": "false"})
    con.execute("set TimeZone = 'UTC'")
    con.execute("set lock_configuration = true")
    return con


def run_query(warehouse_path: str, query: str, *, fmt: str = "table", max_rows: int = 40) -> str:
    """One statement's result as text: a table (at most `max_rows` rows), or every row as CSV
    or JSON."""
    con = connect_read_only(warehouse_path)
    try:
        statements = con.extract_statements(query)
        if len(statements) != 1:
            raise QueryError(f"give exactly one SQL statement, not {len(statements)}")
        relation = con.sql(query)
        if relation is None:
            return "ok"
        if fmt == "csv":
            return _csv(relation)
        if fmt == "json":
            return _json(relation)
        return _table(relation, max_rows)
    finally:
        con.close()


def _table(relation: duckdb.DuckDBPyRelation, max_rows: int) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        relation.show(max_rows=max_rows, max_width=200)
    return buffer.getvalue().rstrip()


def _csv(relation: duckdb.DuckDBPyRelation) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(relation.columns)
    writer.writerows(relation.fetchall())
    return buffer.getvalue().rstrip("\n")


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _json(relation: duckdb.DuckDBPyRelation) -> str:
    rows = [
        dict(zip(relation.columns, map(_plain, row), strict=True)) for row in relation.fetchall()
    ]
    return json.dumps(rows, default=str, indent=1)
