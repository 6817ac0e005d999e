"""Run every bench (each bounded by a timeout), read their JSON last lines, rewrite the figures table.

    .venv/bin/python bench/run_all.py [--only api engagement ...] [--quick] [--no-write]

Each bench runs as its own process with the project's interpreter; its output is shown as it
comes. The last line of its output must be its JSON result (bench/common.py `emit`). The table
between the markers in docs/benchmarks.md gets one row per bench: rows of benches that ran are
replaced, the others kept. --quick runs validation sizes (too few samples for a figure) and does
not write the table; --no-write never writes it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DOC = BENCH_DIR.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
HEADER = (
    "| Bench | Value | Floor | Ratio (min–max) | Details | Samples | Goal | Machine | Date |\n"
    "|-------|-------|-------|-----------------|---------|---------|------|---------|------|"
)


def _n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(r: dict[str, Any]) -> str:
    spread = f" ({r['ratio_min']}–{r['ratio_max']})" if "ratio_min" in r else ""
    return f"{r.get('ratio', '—')}{spread}"


def engagement(r: dict[str, Any]) -> list[str]:
    details = (
        f"{r['events_per_run']:,} events a run, publisher running; {r['events_per_flush']:,} events and "
        f"{r['statements_per_flush']} statements a flush; domain path {_n(r.get('domain_path'))} events/s; "
        f"{r['database']}, {r['redis_parser']}"
    )
    if "cpu_us_per_event" in r:
        details += (f"; CPU a event: aggregator {r['cpu_us_per_event']} µs, floor {r['floor_cpu_us_per_event']} µs "
                    f"(ratio {r['cpu_ratio']})")  # fmt: skip
    return [f"{_n(r['value'])} events/s", f"{_n(r['floor'])} events/s", _ratio(r), details, f"{r['samples']} pairs",
            "≥ 20,000/s and ratio ≥ 0.3"]  # fmt: skip


def fanout(r: dict[str, Any]) -> list[str]:
    details = (
        f"API's share (Redis → subscriber) p50 {_n(r['fanout_p50'])} / p99 {_n(r['fanout_p99'])} ms against the bare "
        f"server's p50 {_n(r['floor_p50'])} / p99 {_n(r['floor_p99'])} ms; like → subscriber p50 {_n(r['p50'])} / "
        f"p99 {_n(r['p99'])} / max {_n(r['max'])} ms ({r['goal_ratio']} × its goal of {_n(r['goal'])} ms); API "
        f"process CPU {_n(r['api_cpu_us_per_delivery'], 1)} µs a delivery; {r['subscribers']:,} sockets, "
        f"{r['rounds']} rounds, {r['database']}"
    )
    return [f"API's share p99 {_n(r['value'])} ms", f"{_n(r['floor'])} ms (bare websockets broadcast)", _ratio(r),
            details, f"{r['samples']:,} deliveries",
            f"like → subscriber p99 ≤ {_n(r['goal'])} ms, API's share p99 ≤ {r['fanout_goal']} ms"]  # fmt: skip


def transcode(r: dict[str, Any]) -> list[str]:
    details = (
        f"ladder CPU-s (four rungs, preview and fingerprint samples from one decode); wall ratio {r['wall_ratio']}; "
        f"whole process_source p50 {r['process_source_s']} s ({r['process_source_s_min']}–{r['process_source_s_max']}) "
        f"= {r['process_source_of_duration']} × the {r['clip_seconds']:g} s clip, its CPU-s over {r['nproc']} cores "
        f"{r['process_source_cpu_of_duration']} ×, {r['process_source_cpu_of_floor']} × the floor's CPU-s"
    )
    return [f"{r['value']} CPU-s", f"{r['floor']} CPU-s (hand-written split ladder)", _ratio(r), details,
            f"{r['samples']} pairs", f"ratio ≤ {r['goal']}, process_source ≤ {r['ready_goal']} × the clip"]  # fmt: skip


def upload(r: dict[str, Any]) -> list[str]:
    clip = r["clips"][str(r["clip_seconds"])]
    details = (
        f"{r['clip_seconds']} s clip: READY p50 {clip['total_s_p50']} s (max {clip['total_s_max']}) = "
        f"{r['ready_of_duration']} × its duration; thumbnail {r['thumbnail_after_start_s']} s after processing "
        f"started (p50, told by the reelStatus subscription); the platform's CPU {clip['cpu_s_p50']} s = "
        f"{clip['cpu_of_floor']} × the floor's, over {r['nproc']} cores {r['cpu_of_duration']} × the duration; "
        f"upload phase {clip['upload_s_p50']} s = {clip['upload_of_reference']} × raw PUTs"
    )
    return [f"{r['value']} s to READY", f"{r['floor']} s (raw PUTs + hand-written ladder)", _ratio(r), details,
            f"{r['samples']} runs", "READY ≤ 0.6 × duration, thumbnail ≤ 2 s"]  # fmt: skip


def api(r: dict[str, Any]) -> list[str]:
    parts = [
        f"{name} {_n(o['rps'])}/s p99 {o['p99_ms']} ms (1 client p99 {o['one_client_p99_ms']} ms, "
        f"server CPU {o['server_cpu_ms_per_request']} ms a request)"
        for name, o in r["operations"].items()
    ]
    client = f"the client {r['client_cpu_us_per_request']} µs of CPU a request, {r['client_busy_on_floor']:.0%} of a core on the floor"
    details = f"`{{ __typename }}` at {r['connections']} connections ({client}); " + "; ".join(parts)
    page = r["feed_page"]
    details += (f"; the feed page against bare strawberry rendering the same page from memory: {_n(page['value'])} "
                f"against {_n(page['floor'])}/s, {page['ratio']} ({page['ratio_min']}–{page['ratio_max']}), server CPU "
                f"{page['server_cpu_ms']} against {page['bare_cpu_ms']} ms a request")  # fmt: skip
    if r.get("scaling"):
        scaled = r["scaling"]
        details += (f"; {scaled['processes']} processes / one: `{{ __typename }}` {scaled['typename']['ratio']}×, "
                    f"feed {scaled['feed']['ratio']}×")  # fmt: skip
    if r.get("database"):
        details += f"; {r['database']}"
    samples = r["samples"] + sum(o["samples"] + o["one_client_samples"] for o in r["operations"].values())
    samples += page["samples"]
    return [f"{_n(r['value'])} req/s", f"{_n(r['floor'])} req/s (bare strawberry)", _ratio(r), details,
            f"{samples:,} requests", "ratio ≥ 0.5; each operation ≥ 300/s, p99 ≤ 100 ms, 1 client ≤ 25 ms"]  # fmt: skip


def moderation(r: dict[str, Any]) -> list[str]:
    details = (
        f"{r['distinct_clips']} clips, {r['copies']} copies (caught: "
        + ", ".join(f"{name} {count}" for name, count in r["caught"].items())
        + f"); {r['false_matches']} false matches; "
        f"query p50 {r['padded_query_ms_p50']} ms in a {r['padded_reels']:,}-reel index"
    )
    return [f"{r['value']:.1%} caught", f"{r['floor']:.0%} (the goal)", "—", details, f"{r['samples']:,} queries",
            "≥ 95 % caught, 0 false matches"]  # fmt: skip


def search(r: dict[str, Any]) -> list[str]:
    kinds = ", ".join(f"{kind} {ms} ms" for kind, ms in r["kinds_p99"].items())
    details = (
        f"{r['users']:,} users, {r['reels']:,} reels, {r['database']}; p50 {r['search_p50']} ms; p99 by kind: {kinds}"
    )
    return [f"p99 {r['value']} ms", f"p99 {r['floor']} ms (one indexed LIKE 'prefix%')", _ratio(r), details,
            f"{r['samples']:,} queries", f"p99 ≤ {r['goal_ms']:g} ms at 1M users and 1M reels on PostgreSQL"]  # fmt: skip


def analytics(r: dict[str, Any]) -> list[str]:
    return [f"{r['value']:.3f} s a day", f"{r['floor']:.3f} s (one pass over the day's rows)", _ratio(r),
            f"five jobs; {r['details']}", f"{r['samples']} pairs", "—"]  # fmt: skip


def feed(r: dict[str, Any]) -> list[str]:
    world = r["world"]
    details = (
        f"cached page p50 {r['cached']['p50_ms']} / p99 {r['cached']['p99_ms']} ms; fresh session p50 "
        f"{r['fresh']['p50_ms']} / p99 {r['fresh']['p99_ms']} ms ({r['fresh']['ratio_to_floor_p50']} × the floor's p50); "
        f"{world['users']:,} users, {world['reels']:,} reels, {world['events']:,} events; {r['database']}"
    )
    return [f"p99 {r['value']} ms (cached page)", f"p99 {r['floor']} ms (ZRANGE + 20-reel SELECT)", _ratio(r), details,
            f"{r['samples']:,} requests", "cached p99 ≤ 25 ms, fresh p99 ≤ 150 ms"]  # fmt: skip


def scaleout(r: dict[str, Any]) -> list[str]:
    engaged, latency = r["cluster_engagement"], r["feed_latency_ms"]
    details = (
        f"cached feed pages at {r['connections']} connections, the client on the same cores (p99 one process "
        f"{latency['one']['p99']} / two {latency['two']['p99']} ms); 3-master cluster / one Redis: feed pages "
        f"{r['cluster_feed']['ratio']}× ({r['cluster_feed']['ratio_min']}–{r['cluster_feed']['ratio_max']}), "
        f"engagement {engaged['ratio']}× ({engaged['ratio_min']}–{engaged['ratio_max']}: "
        f"{_n(engaged['cluster_events_per_s'])} against {_n(engaged['redis_events_per_s'])} events/s); {r['database']}"
    )
    return [f"{_n(r['value'])} req/s (two processes)", f"{_n(r['floor'])} req/s (one process)", _ratio(r), details,
            f"{r['samples']:,} requests on two processes, {r['pairs']} rounds", "two / one ≥ 1.4; cluster / one Redis ≥ 0.8"]  # fmt: skip


@dataclass(frozen=True)
class Bench:
    name: str
    timeout_s: float
    quick: list[str]
    row: Callable[[dict[str, Any]], list[str]]


BENCHES = [
    Bench("engagement", 1800, ["--pairs", "2", "--events", "5000", "--users", "60", "--per-user", "2", "--reels", "150"],
          engagement),
    Bench("fanout", 1800, ["--subscribers", "100", "--rounds", "10", "--pairs", "2", "--clients", "1"], fanout),
    Bench("transcode", 2400, ["--pairs", "1", "--seconds", "3"], transcode),
    Bench("upload", 1800, ["--durations", "3", "--repeat", "1"], upload),
    Bench("api", 1800, ["--pairs", "2", "--requests", "150", "--connections", "5", "--max-seconds", "20"], api),
    Bench("moderation", 2400, ["--clips", "18", "--padding-reels", "500", "--lookup-samples", "5"], moderation),
    Bench("search", 3600, ["--users", "5000", "--reels", "5000", "--pairs", "2", "--requests", "100"], search),
    Bench("analytics", 1800, ["--pairs", "2", "--days", "2", "--watches", "2000", "--likes", "500"], analytics),
    Bench("feed", 3600, ["--users", "500", "--reels", "3000", "--events", "30000", "--viewers", "20", "--pairs", "2",
                         "--requests", "40", "--max-seconds", "60"], feed),
    Bench("scaleout", 1800, ["--pairs", "2", "--events", "5000", "--users", "500", "--reels", "300", "--feed-reels",
                             "3000", "--feed-events", "20000", "--requests", "300"], scaleout),
]  # fmt: skip


def run(bench: Bench, quick: bool) -> dict[str, Any] | None:
    """The bench's JSON result, or None when it failed, timed out or printed no JSON last line."""
    argv = [sys.executable, str(BENCH_DIR / f"{bench.name}.py"), *(bench.quick if quick else [])]
    print(f"=== {bench.name}: {' '.join(argv[1:])} (at most {bench.timeout_s:g} s)", flush=True)
    started = time.monotonic()
    last = ""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=BENCH_DIR.parent) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                if line.strip():
                    last = line.strip()
                if time.monotonic() - started > bench.timeout_s:
                    raise subprocess.TimeoutExpired(argv, bench.timeout_s)
            process.wait(max(1, bench.timeout_s - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            process.kill()
            print(f"=== {bench.name}: timed out after {bench.timeout_s:g} s", flush=True)
            return None
    if process.returncode:
        print(f"=== {bench.name}: exited with {process.returncode}", flush=True)
        return None
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        print(f"=== {bench.name}: the last line is not JSON: {last[:200]}", flush=True)
        return None
    print(f"=== {bench.name}: done in {time.monotonic() - started:.0f} s", flush=True)
    return result


def table_row(bench: Bench, result: dict[str, Any]) -> str:
    machine = f"{result['nproc']} cores, load {' / '.join(f'{load:g}' for load in result['load_avg'])}"
    cells = [f"`{bench.name}`", *bench.row(result), machine, datetime.now(UTC).strftime("%Y-%m-%d")]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def rewrite_table(rows: dict[str, str]) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{DOC} has no {BEGIN} … {END} markers")
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    kept = {}
    for line in old.splitlines():
        if line.startswith("| `"):
            kept[line.split("`", 2)[1]] = line
    kept.update(rows)
    body = "\n".join(kept[bench.name] for bench in BENCHES if bench.name in kept)
    DOC.write_text(f"{head}{BEGIN}\n{HEADER}\n{body}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=[bench.name for bench in BENCHES], help="these benches only")
    parser.add_argument("--quick", action="store_true", help="validation sizes; the table is not written")
    parser.add_argument("--no-write", action="store_true", help="print the rows, leave docs/benchmarks.md alone")
    args = parser.parse_args()

    rows, failed = {}, []
    for bench in BENCHES:
        if args.only and bench.name not in args.only:
            continue
        result = run(bench, args.quick)
        if result is None:
            failed.append(bench.name)
            continue
        rows[bench.name] = table_row(bench, result)
    print(HEADER)
    for row in rows.values():
        print(row)
    if rows and not (args.quick or args.no_write):
        rewrite_table(rows)
        print(f"rewrote {len(rows)} rows of the figures table in {DOC}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
