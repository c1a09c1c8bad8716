#!/usr/bin/env python3
"""Prints Markdown tables from bench/promote/run.sh's results.jsonl, one per link (loopback, or a
rate-limited veth): median wall time per size and tool, the ratio to minicd's copy and re-tag, bytes the registry process read and wrote (sockets and
files), and whether the promoted digest is the source's."""
import json
import statistics
import sys


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    links = []
    for row in rows:
        row.setdefault("link", "loopback")
        if row["link"] not in links:
            links.append(row["link"])
    for link in links:
        print(f"\n### {link}\n")
        table([row for row in rows if row["link"] == link])


def table(rows: list) -> None:
    sizes = sorted({row["size_mb"] for row in rows})
    tools = []
    for row in rows:
        if row["tool"] not in tools:
            tools.append(row["tool"])
    print("| size | tool | runs | median s | min s | max s | × minicd-copy | × minicd-retag "
          "| registry read (median) | registry wrote (median) | digest kept |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in sizes:
        medians = {}
        for tool in tools:
            runs = [row for row in rows if row["size_mb"] == size and row["tool"] == tool]
            if runs:
                medians[tool] = statistics.median(row["seconds"] for row in runs)
        for tool in tools:
            runs = [row for row in rows if row["size_mb"] == size and row["tool"] == tool]
            if not runs:
                continue
            seconds = [row["seconds"] for row in runs]
            kept = sum(row["target_digest"] == row["source_digest"] for row in runs)
            ratio = lambda base: (f"{medians[tool] / medians[base]:.1f}" if base in medians and medians[base] > 0 else "-")
            print(f"| {size} MB | {tool} | {len(runs)} | {medians[tool]:.3f} | {min(seconds):.3f} | {max(seconds):.3f} "
                  f"| {ratio('minicd-copy')} | {ratio('minicd-retag')} "
                  f"| {human(statistics.median(row['registry_read_bytes'] for row in runs))} "
                  f"| {human(statistics.median(row['registry_written_bytes'] for row in runs))} "
                  f"| {kept}/{len(runs)} |")


def human(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


if __name__ == "__main__":
    main(sys.argv[1])
