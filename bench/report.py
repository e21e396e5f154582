"""docs/benchmarks.md from results.json: a table per size, targets met or missed, plainly."""

from __future__ import annotations

from pathlib import Path

TARGETS = {
    "ingestion_events_per_second": 200_000,
    "ingestion_ratio": 2.5,
    "ingestion_peak_gb": 1.5,
    "build_seconds": 120,
    "build_peak_gb": 4.0,
    "insight_ratio": 2.0,
    "query_seconds": 0.2,
}


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def target_rows(r: dict) -> list[tuple[str, str, str]]:
    ing, build = r["ingestion"], r["build"]
    rows = [
        (
            "ingestion ≥ 200,000 events/s",
            f"{ing['paw_events_per_second']:,.0f}/s",
            _verdict(ing["paw_events_per_second"] >= TARGETS["ingestion_events_per_second"]),
        ),
        (
            "ingestion within 2.5× of DuckDB read_json",
            f"{ing['ratio']:.2f}×",
            _verdict(ing["ratio"] is not None and ing["ratio"] <= TARGETS["ingestion_ratio"]),
        ),
        (
            "ingestion peak memory < 1.5 GB",
            f"{ing['paw']['peak_rss_mb'] / 1024:.2f} GB",
            _verdict(ing["paw"]["peak_rss_mb"] / 1024 < TARGETS["ingestion_peak_gb"]),
        ),
        (
            "full rebuild < 2 minutes",
            f"{build['paw']['median_seconds']:.1f} s",
            _verdict(build["paw"]["median_seconds"] < TARGETS["build_seconds"]),
        ),
        (
            "full rebuild peak memory < 4 GB",
            f"{build['paw']['peak_rss_mb'] / 1024:.2f} GB",
            _verdict(build["paw"]["peak_rss_mb"] / 1024 < TARGETS["build_peak_gb"]),
        ),
    ]
    for name, figures in r["insights"].items():
        shown = f"{figures['ratio']:.2f}×" if figures["ratio"] is not None else "n/a"
        rows.append(
            (
                f"{name} within 2× of chDB",
                shown,
                _verdict(
                    figures["ratio"] is not None and figures["ratio"] <= TARGETS["insight_ratio"]
                ),
            )
        )
    for name, seconds in r["query_seconds"].items():
        rows.append(
            (
                f"query '{name}' < 200 ms",
                f"{seconds * 1000:.0f} ms",
                _verdict(seconds < TARGETS["query_seconds"]),
            )
        )
    return rows


def render(results: dict) -> str:
    m = results["machine"]
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`make bench SIZE=1m` for the small size); the raw figures are in",
        "`data/bench/results.json`. Each figure is the median of "
        f"{results['runs']} runs after a warm-up; paw and its floor or peer run alternately in the",
        "same invocation, each in a fresh process. Peak memory is the process's (and its",
        "children's) maximum resident set.",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gb']} GB memory, {m['platform']}, Python",
        f"{m['python']}, DuckDB {m['duckdb']}.",
    ]
    for size, r in results["sizes"].items():
        ing, build = r["ingestion"], r["build"]
        out += [
            "",
            f"## {size}: {r['events']:,} events in {r['landing_files']:,} landing files",
            "",
            "| step | paw | floor / peer | ratio |",
            "|---|---|---|---|",
            f"| ingestion (landing → lake) | {ing['paw']['median_seconds']:.2f} s, "
            f"{ing['paw_events_per_second']:,.0f} events/s, {ing['paw']['peak_rss_mb']:,.0f} MB | "
            f"DuckDB read_json → Parquet: {ing['floor']['median_seconds']:.2f} s, "
            f"{ing['floor_events_per_second']:,.0f} events/s, "
            f"{ing['floor']['peak_rss_mb']:,.0f} MB | "
            f"{ing['ratio']:.2f}× |",
            f"| full `dbt build` | {build['paw']['median_seconds']:.2f} s, "
            f"{build['paw']['peak_rss_mb']:,.0f} MB | one DuckDB scan of the lake: "
            f"{build['floor']['median_seconds']:.2f} s | {build['ratio']:.1f}× |",
        ]
        for name, f in r["insights"].items():
            shown = f"{f['ratio']:.2f}×" if f["ratio"] is not None else "n/a"
            out.append(
                f"| {name} | {f['paw_seconds']:.2f} s | chDB: {f['chdb_seconds']:.2f} s | {shown} |"
            )
        out += [
            "",
            "paw's results equal the peer's (session count, funnel step counts, weekly retention "
            "cells): "
            + ("**yes**" if r["peer_matches"] else "**NO**: " + "; ".join(r["mismatches"][:5])),
            "",
            "Analyst queries on the marts (read-only connection, median):",
            "",
            "| query | latency |",
            "|---|---|",
        ]
        out += [f"| {name} | {s * 1000:.1f} ms |" for name, s in r["query_seconds"].items()]
        slow = list(build["model_seconds"].items())[:8]
        out += [
            "",
            "Slowest models in the build (dbt's run results, median):",
            "",
            "| model | seconds |",
            "|---|---|",
        ]
        out += [f"| {name} | {s:.2f} |" for name, s in slow]
        out += [
            "",
            "Targets (set for 10M events on 2 cores; shown for every size):",
            "",
            "| target | measured | |",
            "|---|---|---|",
        ]
        out += [f"| {a} | {b} | {c} |" for a, b, c in target_rows(r)]
    return "\n".join(out) + "\n"


def write_report(results: dict, path: Path) -> None:
    path.write_text(render(results))
