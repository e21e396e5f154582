"""An exact snapshot of the Dagster asset graph: keys, groups, dependencies and checks.

A change to the graph fails this test until the snapshot is rewritten on purpose:
`.venv/bin/python -m tests.test_asset_graph` (then review the diff of the snapshot).
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.definitions import build_definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def asset_graph() -> dict:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        assets[name] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(checks.get(name, [])),
        }
    jobs = sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__"))
    return {
        "assets": assets,
        "jobs": jobs,
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_the_asset_graph_matches_its_snapshot():
    assert asset_graph() == json.loads(SNAPSHOT.read_text())


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(asset_graph(), indent=2) + "\n")
    print(f"wrote {SNAPSHOT}")
