"""The httpfs extension comes from the duckdb-extension-httpfs wheel, never from a download."""

from __future__ import annotations

from pathlib import Path

import duckdb

from paw.sql import sql_literal


def httpfs_extension_file() -> Path:
    import duckdb_extension_httpfs

    root = Path(duckdb_extension_httpfs.__file__).parent
    version = duckdb.__version__
    path = root / "extensions" / f"v{version}" / "httpfs.duckdb_extension"
    if not path.exists():
        found = sorted(root.glob("extensions/*/httpfs.duckdb_extension"))
        raise RuntimeError(
            f"duckdb-extension-httpfs has no build for duckdb {version} "
            f"(found: {', '.join(str(p) for p in found) or 'none'}); pin the same version of both"
        )
    return path


def install_httpfs(con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Install httpfs into DuckDB's extension folder from the wheel's file, then load it."""
    con = con or duckdb.connect()
    con.execute(f"install {sql_literal(str(httpfs_extension_file()))}")
    con.execute("load httpfs")


if __name__ == "__main__":
    install_httpfs()
    print(f"httpfs installed for duckdb {duckdb.__version__}")
