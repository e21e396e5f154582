"""docs/benchmarks.md from results.json: a table per size, targets met or missed, plainly."""

from __future__ import annotations

import re
from pathlib import Path

TARGETS = {
    "ingestion_events_per_second": 290_000,
    "ingestion_pyarrow_ratio": 1.7,
    "ingestion_peak_gb": 1.5,
    "build_seconds": 60,
    "build_peak_gb": 3.0,
    "incremental_seconds": 15,
    "insight_ratio": 2.0,
    "query_seconds": 0.2,
    "timeline_seconds": 0.05,
}
TIMELINE_QUERY = "a person's timeline"


def _size_order(size: str) -> tuple[int, str]:
    """1m before 10m before 100m, whichever ran first."""
    digits = "".join(c for c in size if c.isdigit())
    return (int(digits) if digits else 0, size)


def _refused(figure: dict) -> str:
    refused = figure.get("extra", {}).get("files_refused") or []
    return f"; {len(refused)} files it could not read left out" if refused else ""


def ratio_of(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _times(value: float | None) -> str:
    return f"{value:.2f}×" if value is not None else "n/a"


def target_rows(r: dict) -> list[tuple[str, str, str]]:
    ing, build = r["ingestion"], r["build"]
    rows = [
        (
            "ingestion ≥ 290,000 events/s",
            f"{ing['paw_events_per_second']:,.0f}/s",
            _verdict(ing["paw_events_per_second"] >= TARGETS["ingestion_events_per_second"]),
        ),
        (
            "ingestion within 1.7× of pyarrow's NDJSON → Parquet",
            _times(ing.get("pyarrow_ratio")) if "pyarrow" in ing else "not measured at this size",
            _verdict(
                ing.get("pyarrow_ratio") is not None
                and ing["pyarrow_ratio"] <= TARGETS["ingestion_pyarrow_ratio"]
            )
            if "pyarrow" in ing
            else "",
        ),
        (
            "ingestion peak memory < 1.5 GB",
            f"{ing['paw']['peak_rss_mb'] / 1024:.2f} GB",
            _verdict(ing["paw"]["peak_rss_mb"] / 1024 < TARGETS["ingestion_peak_gb"]),
        ),
        (
            "full rebuild (all models and tests) < 60 s",
            f"{build['paw']['median_seconds']:.1f} s",
            _verdict(build["paw"]["median_seconds"] < TARGETS["build_seconds"]),
        ),
        (
            "full rebuild peak memory < 3 GB",
            f"{build['paw']['peak_rss_mb'] / 1024:.2f} GB",
            _verdict(build["paw"]["peak_rss_mb"] / 1024 < TARGETS["build_peak_gb"]),
        ),
    ]
    incremental = r.get("incremental")
    if incremental:
        rows.append(
            (
                "incremental nightly build after one more day < 15 s",
                f"{incremental['build']['median_seconds']:.1f} s",
                _verdict(incremental["build"]["median_seconds"] < TARGETS["incremental_seconds"]),
            )
        )
        equal = incremental["marts_equal_full_build"]
        rows.append(
            (
                "incremental build's marts equal a full build's",
                "not compared at this size" if equal is None else "yes" if equal else "no",
                "" if equal is None else _verdict(equal),
            )
        )
    timeline = r["query_seconds"].get(TIMELINE_QUERY)
    if timeline is not None:
        rows.append(
            (
                "a person's timeline < 50 ms",
                f"{timeline * 1000:.1f} ms",
                _verdict(timeline < TARGETS["timeline_seconds"]),
            )
        )
    for name, figures in r.get("insights", {}).items():
        rows.append(
            (
                f"{name} within 2× of chDB",
                _times(figures["ratio"]),
                _verdict(
                    figures["ratio"] is not None and figures["ratio"] <= TARGETS["insight_ratio"]
                ),
            )
        )
    for name, seconds in r["query_seconds"].items():
        if name == TIMELINE_QUERY:
            continue
        rows.append(
            (
                f"query '{name}' < 200 ms",
                f"{seconds * 1000:.0f} ms",
                _verdict(seconds < TARGETS["query_seconds"]),
            )
        )
    return rows


def _tail(r: dict) -> list[str]:
    """The analyst queries, the slowest models and the targets of a size."""
    out = [
        "",
        "Analyst queries on the marts (read-only connection, median):",
        "",
        "| query | latency |",
        "|---|---|",
    ]
    out += [f"| {name} | {s * 1000:.1f} ms |" for name, s in r["query_seconds"].items()]
    out += [
        "",
        "Slowest models in the build (dbt's run results, median):",
        "",
        "| model | seconds |",
        "|---|---|",
    ]
    out += [f"| {name} | {s:.2f} |" for name, s in list(r["build"]["model_seconds"].items())[:8]]
    out += [
        "",
        "Targets (set for 10M events on 2 cores; shown for every size):",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    out += [f"| {a} | {b} | {c} |" for a, b, c in target_rows(r)]
    return out


def render_paw_only(size: str, r: dict) -> list[str]:
    """A size measured for paw alone (bench_paw_only): the base's ingestion and full build, then
    the nightly of the new day; a run that failed midway shows the steps it finished and why it
    stopped."""
    ing, build, incremental = r.get("ingestion"), r.get("build"), r.get("incremental")
    out = [
        "",
        f"## {size}: {r['events']:,} events in {r['landing_files']:,} landing files (paw alone)",
        "",
        "Measured once, paw alone: this machine's disk cannot hold the floors' copies of the",
        "landing zone and lake beside a second warehouse, so the floors, the peer and the",
        "comparison with a second full build run at the smaller sizes only, and the nightly",
        "builds on the base warehouse moved into place rather than on a copy (the copy is timed",
        f"at the smaller sizes). {r['landing_gzip_share']:.0%} of its NDJSON files are gzip here.",
        "The ingestion and the full build are those of the base: every day before the new one"
        + (f" ({ing['events']:,} events)" if ing else "")
        + "; the nightly then adds the new day.",
        "",
        "| step | paw |",
        "|---|---|",
        f"| ingestion of the base (landing → lake) | {ing['paw']['median_seconds']:.1f} s, "
        f"{ing['paw_events_per_second']:,.0f} events/s, {ing['paw']['peak_rss_mb']:,.0f} MB |"
        if ing
        else "| ingestion of the base (landing → lake) | did not finish |",
        f"| full `dbt build` of the base | {build['paw']['median_seconds']:.1f} s, "
        f"{build['paw']['peak_rss_mb']:,.0f} MB |"
        if build
        else "| full `dbt build` of the base | did not finish |",
        f"| incremental `dbt build` after one more day | "
        f"{incremental['build']['median_seconds']:.1f} s, "
        f"{incremental['build']['peak_rss_mb']:,.0f} MB |"
        if incremental
        else "| incremental `dbt build` after one more day | did not finish |",
    ]
    if r.get("note"):  # how a run was completed by hand, said beside its figures
        out += ["", r["note"]]
    if r.get("failed"):
        failed = re.sub(r"\x1b\[[0-9;]*m", "", r["failed"]).strip()  # dbt's colours
        out += ["", "The run stopped at a failed step:", "", "```", failed, "```"]
    if build and not incremental:
        out += ["", "Slowest models in the full build:", "", "| model | seconds |", "|---|---|"]
        out += [f"| {name} | {s:.2f} |" for name, s in list(build["model_seconds"].items())[:8]]
    if not incremental:
        return out
    return out + ["", _new_day(incremental)] + _tail(r)


def _new_day(incremental: dict) -> str:
    """What the nightly absorbed, and its ingestion into the lake of everything before it."""
    day = incremental["new_day"]
    # results written before the new day's ingestion memory was recorded have none
    peak_mb = incremental.get("ingestion_peak_rss_mb")
    return (
        f"The new day: {day['events']:,} events in {day['files']:,} files, "
        f"{day['late_events']:,} of them late (before the latest event already staged), "
        f"{day['events_beyond_lookback']:,} beyond the lookback, "
        f"{day['identity_calls']:,} identify and alias calls; ingested in "
        f"{incremental['ingestion_seconds']:.1f} s"
        + (f" at {peak_mb:,.0f} MB" if peak_mb is not None else "")
        + "."
    )


def render(results: dict) -> str:
    m = results["machine"]
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`make bench SIZE=1m`, `10m` or `100m` for one size); the raw",
        "figures are in `data/bench/results.json`. Each figure is the median of "
        f"{results['runs']} run(s)"
        + (" after a warm-up" if results.get("warm_up", True) else ", without a warm-up")
        + "; paw and its floor or peer run alternately in the same invocation, each in a fresh",
        "process. Peak memory is the process's (and its children's) maximum resident set. The",
        "builds are the nightly's command (`dbt build` of every model and data test; unit tests",
        "check the SQL in CI, not the data). Inputs the harness writes itself (a new dataset, the",
        "pyarrow floor's copies of it) are flushed and left a minute to settle before the first",
        "timed step: this machine goes on writing them back after `sync` returns.",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gb']} GB memory, {m['platform']}, Python",
        f"{m['python']}, DuckDB {m['duckdb']}.",
    ]
    for size, r in sorted(results["sizes"].items(), key=lambda kv: _size_order(kv[0])):
        if r.get("paw_only"):
            out += render_paw_only(size, r)
            continue
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
            f"| ingestion, the same files | | pyarrow NDJSON → Parquet (malformed lines "
            f"removed first{_refused(ing['pyarrow'])}): {ing['pyarrow']['median_seconds']:.2f} s, "
            f"{ing['pyarrow_events_per_second']:,.0f} events/s | "
            f"{_times(ing.get('pyarrow_ratio'))} |"
            if ing.get("pyarrow")
            else "| ingestion, the same files | | pyarrow: not measured | |",
            f"| full `dbt build` | {build['paw']['median_seconds']:.2f} s, "
            f"{build['paw']['peak_rss_mb']:,.0f} MB | one DuckDB scan of the lake: "
            f"{build['floor']['median_seconds']:.2f} s | {build['ratio']:.1f}× |",
        ]
        incremental = r.get("incremental")
        if incremental:
            inc = incremental["build"]
            out.append(
                f"| incremental `dbt build` after one more day | {inc['median_seconds']:.2f} s "
                f"(copying the warehouse: {incremental['copy_seconds']:.2f} s), "
                f"{inc['peak_rss_mb']:,.0f} MB | the full build above | "
                f"{_times(ratio_of(inc['median_seconds'], build['paw']['median_seconds']))} |"
            )
        for name, f in r["insights"].items():
            out.append(
                f"| {name} | {f['paw_seconds']:.2f} s | chDB: {f['chdb_seconds']:.2f} s | "
                f"{_times(f['ratio'])} |"
            )
        if incremental:
            out += [
                "",
                _new_day(incremental) + " The incremental build's marts equal "
                "the full build of the whole dataset: "
                + (
                    "**yes**"
                    if incremental["marts_equal_full_build"]
                    else "**NO**: " + "; ".join(incremental["marts_differing"][:5])
                )
                + ".",
            ]
        out += [
            "",
            "paw's results equal the peer's (session count, funnel step counts, weekly retention "
            "cells): "
            + ("**yes**" if r["peer_matches"] else "**NO**: " + "; ".join(r["mismatches"][:5])),
        ]
        out += _tail(r)
    return "\n".join(out) + "\n"


def write_report(results: dict, path: Path) -> None:
    path.write_text(render(results))
