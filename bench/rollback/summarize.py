#!/usr/bin/env python3
"""Markdown tables from run.sh's results.jsonl (one JSON object per measured command).

    summarize.py results.jsonl

Ratio = T_helm / T_minicd of the medians (> 1: minicd is faster); the goal is >= 5x for both
rollbacks. Times, requests, CPU and memory come only from runs whose check passed ("ok", possibly
with a note that the test cluster's nodes went not ready meanwhile); the checks column lists the
others. Each helm configuration (tool "helm": client rate limiting off; "helm-defaults": helm as
shipped) gets ratios of its own.
"""

import json
import statistics
import sys
from collections import defaultdict

k_goal = 5.0
k_phases = ["rollback", "rollback-wait", "deploy-v1", "deploy-v2", "redeploy-v2"]
k_phase_text = {
    "rollback": "rollback to v1, no wait",
    "rollback-wait": "rollback to v1 + wait until ready",
    "deploy-v1": "deploy v1 + wait (setup)",
    "deploy-v2": "deploy v2 + wait (setup)",
    "redeploy-v2": "deploy v2 again + wait (setup)",
}
k_tool_order = ["minicd", "helm", "helm-defaults"]


def valid(row):
    return row["check"] == "ok" or row["check"].startswith("ok;")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def seconds(ms):
    return "–" if ms is None else f"{ms / 1000:.3f}"


def fmt_int(value):
    return "–" if value is None else f"{value:.0f}"


def ratio(a, b):
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def describe_checks(group):
    ok = [r for r in group if valid(r)]
    notes = []
    noisy = [str(r["rep"]) for r in ok if r["check"] != "ok"]
    if noisy:
        notes.append(f"rep {', '.join(noisy)}: ok, but nodes went not ready during the run (cluster noise)")
    for r in group:
        if not valid(r):
            first = r["check"].splitlines()[0]
            notes.append(f"rep {r['rep']}: {first[:140]}{'…' if len(first) > 140 else ''}")
    return f"{len(ok)}/{len(group)} ok" + ("; " + "; ".join(notes) if notes else "")


def tool_key(tool):
    return (k_tool_order.index(tool) if tool in k_tool_order else len(k_tool_order), tool)


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    runs = defaultdict(list)
    for row in rows:
        runs[(row["scenario"], row["tool"])].append(row)
    good = {key: [r for r in group if valid(r)] for key, group in runs.items()}
    tools = sorted({row["tool"] for row in rows}, key=tool_key)
    peers = [t for t in tools if t != "minicd"]

    def stat(phase, tool, pick, value):
        group = good.get((phase, tool), [])
        values = [value(r) for r in group]
        values = [v for v in values if v is not None]
        return pick(values) if values else None

    wall = lambda r: r["wall_ms"]
    client = lambda r: r["metrics"].get("client")
    rss = lambda r: r["rss_kb"]

    print("### Ratios (T_helm / T_minicd, medians; > 1 means minicd is faster; goal ≥ 5×)\n")
    print("| scenario | peer | minicd median s | peer median s | ratio (median) | ratio (min) | goal "
          "| client requests (peer / minicd) | peak RSS MiB (peer / minicd) |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for phase in ("rollback", "rollback-wait"):
        m = stat(phase, "minicd", median, wall)
        for peer in peers:
            p = stat(phase, peer, median, wall)
            met = "–" if m is None or p is None or m == 0 else ("met" if p / m >= k_goal else "not met")
            peer_rss, own_rss = stat(phase, peer, median, rss), stat(phase, "minicd", median, rss)
            print(f"| {k_phase_text[phase]} | {peer} | {seconds(m)} | {seconds(p)} | {ratio(p, m)} "
                  f"| {ratio(stat(phase, peer, min, wall), stat(phase, 'minicd', min, wall))} | {met} "
                  f"| {fmt_int(stat(phase, peer, median, client))} / {fmt_int(stat(phase, 'minicd', median, client))} "
                  f"| {'–' if peer_rss is None else f'{peer_rss / 1024:.1f}'} / "
                  f"{'–' if own_rss is None else f'{own_rss / 1024:.1f}'} |")

    print("\n### Measured runs\n")
    print("| scenario | tool | runs (ok) | median s | min s | max s | requests (self-reported) "
          "| client requests (apiserver metrics) | applies / dry-run applies / patches / gets / deletes (median) "
          "| all server requests in the window | client CPU s (median) | peak RSS MiB (median) | load1 (median) "
          "| checks |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
    for phase in k_phases:
        for tool in tools:
            group = runs.get((phase, tool))
            if not group:
                continue
            checks = describe_checks(group)
            ok = good[(phase, tool)]
            if not ok:
                print(f"| {k_phase_text[phase]} | {tool} | 0 | – | – | – | – | – | – | – | – | – | – | {checks} |")
                continue
            walls = [r["wall_ms"] for r in ok]
            breakdown = " / ".join(fmt_int(median([r["metrics"].get(k) for r in ok]))
                                   for k in ("applies", "dryRunApplies", "patches", "gets", "deletes"))
            print(f"| {k_phase_text[phase]} | {tool} | {len(ok)} | {seconds(median(walls))} | {seconds(min(walls))} "
                  f"| {seconds(max(walls))} | {fmt_int(median([r['self_requests'] for r in ok]))} "
                  f"| {fmt_int(median([r['metrics'].get('client') for r in ok]))} | {breakdown} "
                  f"| {fmt_int(median([r['metrics'].get('total') for r in ok]))} "
                  f"| {median([r['cpu_s'] for r in ok]):.2f} | {median([r['rss_kb'] for r in ok]) / 1024:.1f} "
                  f"| {median([r['load1'] for r in ok]):.2f} | {checks} |")


if __name__ == "__main__":
    main()
