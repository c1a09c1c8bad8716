#!/usr/bin/env python3
"""Markdown tables from run.sh's results.jsonl (one JSON object per timed command).

    summarize.py results.jsonl

Ratio = T_kubectl / T_minicd of the medians (> 1: minicd is faster). Goals, for the 1000 objects of
the small set: >= 20x in sync, >= 10x drifted; the large set is for information. Times, requests,
CPU and memory come only from runs whose check passed; the checks column lists the others. The
helpers (medians, formats, the checks column) are bench/rollback/summarize.py's.
"""

import importlib.util
import json
import os
import sys
from collections import defaultdict

sys.dont_write_bytecode = True  # nothing written next to bench/rollback's script


def rollback_summarize():
    # Loaded by path: this file has the same name.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "rollback", "summarize.py")
    spec = importlib.util.spec_from_file_location("rollback_summarize", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = rollback_summarize()
describe_checks, fmt_int, median, ratio, seconds, valid = (
    _shared.describe_checks, _shared.fmt_int, _shared.median, _shared.ratio, _shared.seconds, _shared.valid)

k_goals = {"in-sync": 20.0, "drifted": 10.0}
k_phases = ["in-sync", "drifted", "deploy"]
k_phase_text = {"in-sync": "in sync", "drifted": "drifted ({} objects changed by hand)", "deploy": "deploy (setup)"}
k_sets = ["small", "large"]


def tool_key(tool):
    # minicd, then kubectl as shipped, then the other kubectl settings in order of concurrency.
    if tool == "minicd":
        return (0, 0)
    if tool == "kubectl":
        return (1, 0)
    digits = "".join(c for c in tool if c.isdigit())
    return (2, int(digits) if digits else 0)


def mib(kb):
    return "–" if kb is None else f"{kb / 1024:.1f}"


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    runs = defaultdict(list)
    for row in rows:
        runs[(row["set"], row["scenario"], row["tool"])].append(row)
    good = {key: [r for r in group if valid(r)] for key, group in runs.items()}
    sets = [s for s in k_sets if any(r["set"] == s for r in rows)]
    objects = {s: max(r["n"] for r in rows if r["set"] == s) for s in sets}
    changed = {s: max((r.get("changed") or 0) for r in rows if r["set"] == s) for s in sets}
    phase_text = lambda s, phase: k_phase_text[phase].format(changed[s])
    tools = sorted({row["tool"] for row in rows}, key=tool_key)
    peers = [t for t in tools if t != "minicd"]

    def stat(key, pick, value):
        values = [value(r) for r in good.get(key, [])]
        values = [v for v in values if v is not None]
        return pick(values) if values else None

    wall = lambda r: r["wall_ms"]
    client = lambda r: r["metrics"].get("client")
    own = lambda r: r["self_requests"]
    rss = lambda r: r["rss_kb"]

    print("### Ratios (T_kubectl / T_minicd, medians; > 1 means minicd is faster; goals for the "
          "small set: ≥ 20× in sync, ≥ 10× drifted)\n")
    print("| objects | phase | peer | minicd median s | peer median s | ratio (median) | ratio (min) | goal "
          "| requests per run: peer / minicd (apiserver metrics) | minicd self-reported "
          "| peak RSS MiB (peer / minicd) |")
    print("|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for s in sets:
        for phase in ("in-sync", "drifted"):
            mine = (s, phase, "minicd")
            m = stat(mine, median, wall)
            for peer in peers:
                theirs = (s, phase, peer)
                p = stat(theirs, median, wall)
                if s != "small":
                    met = "information"
                elif m is None or p is None or m == 0:
                    met = "–"
                else:
                    met = f"{'met' if p / m >= k_goals[phase] else 'not met'} (≥ {k_goals[phase]:.0f}×)"
                print(f"| {s}: {objects[s]} | {phase_text(s, phase)} | {peer} | {seconds(m)} | {seconds(p)} "
                      f"| {ratio(p, m)} | {ratio(stat(theirs, min, wall), stat(mine, min, wall))} | {met} "
                      f"| {fmt_int(stat(theirs, median, client))} / {fmt_int(stat(mine, median, client))} "
                      f"| {fmt_int(stat(mine, median, own))} "
                      f"| {mib(stat(theirs, median, rss))} / {mib(stat(mine, median, rss))} |")

    print("\n### Measured runs\n")
    print("| objects | phase | tool | runs (ok) | median s | min s | max s | requests (self-reported) "
          "| client requests (apiserver metrics) | dry-run applies / gets (median) "
          "| all server requests in the window | client CPU s (median) | peak RSS MiB (median) | load1 (median) "
          "| checks |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
    for s in sets:
        for phase in k_phases:
            for tool in tools:
                group = runs.get((s, phase, tool))
                if not group:
                    continue
                checks = describe_checks(group)
                ok = good[(s, phase, tool)]
                label = f"| {s}: {objects[s]} | {phase_text(s, phase)} | {tool} "
                if not ok:
                    print(f"{label}| 0 | – | – | – | – | – | – | – | – | – | – | {checks} |")
                    continue
                walls = [r["wall_ms"] for r in ok]
                breakdown = " / ".join(fmt_int(median([r["metrics"].get(k) for r in ok]))
                                       for k in ("dryRunApplies", "gets"))
                print(f"{label}| {len(ok)} | {seconds(median(walls))} | {seconds(min(walls))} "
                      f"| {seconds(max(walls))} | {fmt_int(median([r['self_requests'] for r in ok]))} "
                      f"| {fmt_int(median([r['metrics'].get('client') for r in ok]))} | {breakdown} "
                      f"| {fmt_int(median([r['metrics'].get('total') for r in ok]))} "
                      f"| {median([r['cpu_s'] for r in ok]):.2f} | {mib(median([r['rss_kb'] for r in ok]))} "
                      f"| {median([r['load1'] for r in ok]):.2f} | {checks} |")


if __name__ == "__main__":
    main()
