#!/usr/bin/env python3
"""Markdown tables from run.sh's results.jsonl (one JSON object per measured run).

    summarize.py results.jsonl

Ratio = T_kubectl / T_minicd (> 1: minicd is faster). "% of floor" = T_floor / T_minicd_cold, where
T_floor is, per repetition, the faster of the two ssa_floor configurations. Times, requests, CPU
and memory come only from runs whose check passed ("ok", possibly with a note that the test
cluster's nodes went not ready meanwhile); the checks column lists the others.

Rows of the large-objects set (run.sh's BENCH_SCENARIOS=large, field "set": "large") get tables of
their own after the small-objects ones: same columns, N is their object count; there is no floor and
no wait for them. Rows without a "set" field belong to the small-objects set.
"""

import json
import statistics
import sys
from collections import defaultdict

k_order = [("cold", "minicd"), ("cold", "kubectl"), ("cold", "floor-p8-c8"), ("cold", "floor-p16-c1"),
           ("cold", "floor (best of the two)"), ("noop", "minicd"), ("noop", "kubectl"), ("cold-wait", "minicd"),
           ("cold-wait", "kubectl")]
k_scenario_text = {"cold": "cold apply", "noop": "no-op re-apply", "cold-wait": "cold apply + wait"}


def valid(row):
    # "ok" possibly followed by notes about the test cluster; anything else is a failed run.
    return row["check"] == "ok" or row["check"].startswith("ok;")


def describe_checks(group):
    ok = [r for r in group if valid(r)]
    notes = []
    noisy = [str(r["rep"]) for r in ok if r["check"] != "ok"]
    if noisy:
        notes.append(f"rep {', '.join(noisy)}: ok, but nodes went not ready during the run (cluster noise)")
    for r in group:
        if not valid(r):
            # First line, shortened: the full text is in results.jsonl.
            first = r["check"].splitlines()[0]
            notes.append(f"rep {r['rep']}: {first[:140]}{'…' if len(first) > 140 else ''}")
    return f"{len(ok)}/{len(group)} ok" + ("; " + "; ".join(notes) if notes else "")


def seconds(ms):
    return f"{ms / 1000:.3f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_int(value):
    return "–" if value is None else f"{value:.0f}"


def size_key(row):
    # Small-objects sizes first, in order of N, then the large-objects set.
    return (0 if row.get("set", "small") == "small" else 1, row["n"])


def measured_table(sizes, runs, good, label):
    print("| N | scenario | tool | runs (ok) | median s | min s | max s | requests (self-reported) "
          "| client requests (apiserver metrics) | all server requests in the window | client CPU s (median) "
          "| peak RSS MiB (median) | load1 (median) | checks |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in sizes:
        for scenario, tool in k_order:
            group = runs.get((n, scenario, tool))
            if not group:
                continue
            checks = describe_checks(group)
            group = good[(n, scenario, tool)]
            if not group:
                print(f"| {label(n)} | {k_scenario_text[scenario]} | {tool} | 0 | – | – | – | – | – | – | – | – | – "
                      f"| {checks} |")
                continue
            walls = [r["wall_ms"] for r in group]
            print(f"| {label(n)} | {k_scenario_text[scenario]} | {tool} | {len(group)} | {seconds(median(walls))} "
                  f"| {seconds(min(walls))} | {seconds(max(walls))} "
                  f"| {fmt_int(median([r['self_requests'] for r in group]))} "
                  f"| {fmt_int(median([r['metrics']['client'] for r in group]))} "
                  f"| {fmt_int(median([r['metrics']['total'] for r in group]))} "
                  f"| {median([r['cpu_s'] for r in group]):.2f} "
                  f"| {median([r['rss_kb'] for r in group]) / 1024:.1f} "
                  f"| {median([r['load1'] for r in group]):.2f} | {checks} |")


def ratio(a, b, percent=False):
    if a is None or b is None or b == 0:
        return "–"
    return f"{100 * a / b:.0f} %" if percent else f"{a / b:.2f}×"


def stats_of(good, n):
    def stat(scenario, tool, key, pick):
        group = good.get((n, scenario, tool), [])
        values = [r[key] if key != "client" else r["metrics"]["client"] for r in group]
        return pick(values) if values else None
    return stat


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    runs = defaultdict(list)  # (size key, scenario, tool) -> rows
    for row in rows:
        runs[(size_key(row), row["scenario"], row["tool"])].append(row)
    all_sizes = sorted({size_key(row) for row in rows})
    sizes = [key for key in all_sizes if key[0] == 0]
    large_sizes = [key for key in all_sizes if key[0] == 1]
    # Figures come from runs that passed their checks; failed runs are only listed.
    good = defaultdict(list)
    for key, group in runs.items():
        good[key] = [r for r in group if valid(r)]

    # The floor per repetition: the faster of the two configurations.
    for n in sizes:
        by_rep = defaultdict(list)
        for tool in ("floor-p8-c8", "floor-p16-c1"):
            for row in runs.get((n, "cold", tool), []):
                if valid(row):
                    by_rep[row["rep"]].append(row)
        for rep, candidates in sorted(by_rep.items()):
            best = min(candidates, key=lambda r: r["wall_ms"])
            runs[(n, "cold", "floor (best of the two)")].append(dict(best, tool="floor (best of the two)"))
            good[(n, "cold", "floor (best of the two)")].append(dict(best, tool="floor (best of the two)"))

    if sizes:
        print("### Measured runs\n")
        measured_table(sizes, runs, good, lambda key: key[1])
        print("\n### Ratios (T_kubectl / T_minicd; > 1 means minicd is faster)\n")
        print("| N | cold, median | cold, min | no-op, median | no-op, min | client requests cold (kubectl / minicd) "
              "| client requests no-op (kubectl / minicd) | floor / minicd cold (median) | floor / minicd cold (min) "
              "| apply + wait, median (information) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in sizes:
            stat = stats_of(good, n)
            cold_k, cold_m = stat("cold", "kubectl", "wall_ms", median), stat("cold", "minicd", "wall_ms", median)
            cold_k_min, cold_m_min = stat("cold", "kubectl", "wall_ms", min), stat("cold", "minicd", "wall_ms", min)
            noop_k, noop_m = stat("noop", "kubectl", "wall_ms", median), stat("noop", "minicd", "wall_ms", median)
            noop_k_min, noop_m_min = stat("noop", "kubectl", "wall_ms", min), stat("noop", "minicd", "wall_ms", min)
            req_cold = (stat("cold", "kubectl", "client", median), stat("cold", "minicd", "client", median))
            req_noop = (stat("noop", "kubectl", "client", median), stat("noop", "minicd", "client", median))
            floor_med = stat("cold", "floor (best of the two)", "wall_ms", median)
            floor_min = stat("cold", "floor (best of the two)", "wall_ms", min)
            wait_k, wait_m = stat("cold-wait", "kubectl", "wall_ms", median), stat("cold-wait", "minicd", "wall_ms", median)
            print(f"| {n[1]} | {ratio(cold_k, cold_m)} | {ratio(cold_k_min, cold_m_min)} | {ratio(noop_k, noop_m)} "
                  f"| {ratio(noop_k_min, noop_m_min)} | {fmt_int(req_cold[0])} / {fmt_int(req_cold[1])} "
                  f"| {fmt_int(req_noop[0])} / {fmt_int(req_noop[1])} | {ratio(floor_med, cold_m, True)} "
                  f"| {ratio(floor_min, cold_m_min, True)} | {ratio(wait_k, wait_m)} |")

    if large_sizes:
        print("\n### Large objects: measured runs (gen_large.py: 3 CRDs of ~100, 250 and 400 kB and 56 objects, "
              "~1.9 MB in all)\n")
        measured_table(large_sizes, runs, good, lambda key: f"{key[1]} (large)")
        print("\n### Large objects: ratios (T_kubectl / T_minicd; > 1 means minicd is faster)\n")
        print("| N | cold, median | cold, min | no-op, median | no-op, min | client requests cold (kubectl / minicd) "
              "| client requests no-op (kubectl / minicd) |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n in large_sizes:
            stat = stats_of(good, n)
            print(f"| {n[1]} (large) "
                  f"| {ratio(stat('cold', 'kubectl', 'wall_ms', median), stat('cold', 'minicd', 'wall_ms', median))} "
                  f"| {ratio(stat('cold', 'kubectl', 'wall_ms', min), stat('cold', 'minicd', 'wall_ms', min))} "
                  f"| {ratio(stat('noop', 'kubectl', 'wall_ms', median), stat('noop', 'minicd', 'wall_ms', median))} "
                  f"| {ratio(stat('noop', 'kubectl', 'wall_ms', min), stat('noop', 'minicd', 'wall_ms', min))} "
                  f"| {fmt_int(stat('cold', 'kubectl', 'client', median))} "
                  f"/ {fmt_int(stat('cold', 'minicd', 'client', median))} "
                  f"| {fmt_int(stat('noop', 'kubectl', 'client', median))} "
                  f"/ {fmt_int(stat('noop', 'minicd', 'client', median))} |")

if __name__ == "__main__":
    main()
