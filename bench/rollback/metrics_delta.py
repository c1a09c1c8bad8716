#!/usr/bin/env python3
"""Request counts a run caused, from two scrapes of kube-apiserver's /metrics.

    metrics_delta.py BEFORE AFTER [--rows]

Prints JSON. "total": every request the server handled between the scrapes (the controllers and
kwok reacting to the change included). "client": the requests a deploy or rollback client makes,
which is what the benchmark compares between minicd and helm:
- discovery (GETs of /api, /apis, /openapi/..., /version);
- any verb on the benchmark's kinds, ConfigMaps, Services and Deployments, except PUT on
  Deployments and Services (the deployment controller's revision annotation) and subresources
  (status is written by controllers);
- any verb on Secrets and PUT on ConfigMaps too: both tools keep their release history there
  (helm: a Secret per revision, the previous one rewritten with PUT; minicd: a ConfigMap and
  payload Secrets);
- LIST and WATCH of Pods and ReplicaSets (what a readiness waiter reads), GET/APPLY/POST of
  Namespaces, POST/DELETE of Leases (minicd's deploy lock; PUTs are the simulated nodes' heartbeats).
Watches are counted when they end, so a controller re-opening one can add a little noise.
"applies"/"dryRunApplies" count server-side-apply PATCHes (verb APPLY), "patches" other PATCHes,
"gets" GETs of the benchmark's kinds, "deletes" DELETEs of them. "nodeNotReadyWrites" counts the node
lifecycle controller's PUTs to nodes/status and pods/status: non-zero means simulated nodes missed
heartbeats in the window (the test cluster's trouble, not the tool's). The /metrics scrapes and
health probes are left out of every count.
"""

import json
import re
import sys
from collections import Counter

k_line = re.compile(r'^apiserver_request_total\{(.*)\}\s+(\S+)$')
k_label = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

k_objects = {"configmaps", "services", "deployments"}
k_history = {"secrets", "configmaps"}
k_waited = {"pods", "replicasets"}
k_verbs = {"APPLY", "GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION"}
k_probes = {"/metrics", "/healthz", "/readyz", "/livez"}


def read(path):
    counts = Counter()
    with open(path) as f:
        for line in f:
            match = k_line.match(line.strip())
            if not match:
                continue
            labels = dict(k_label.findall(match.group(1)))
            counts[tuple(sorted(labels.items()))] += float(match.group(2))
    return counts


def is_client(row):
    resource, subresource, verb = row.get("resource", ""), row.get("subresource", ""), row.get("verb", "")
    if resource == "":
        # Non-resource paths: discovery and /version; the probes are dropped before this.
        return verb == "GET"
    if subresource != "":
        return False  # status, binding, eviction, ...: controllers and kwok
    if resource in k_history and verb in k_verbs:
        return True
    if resource in k_objects:
        return verb in k_verbs - {"PUT"}
    if resource in k_waited:
        return verb in {"LIST", "WATCH"}
    if resource == "namespaces":
        return verb in {"GET", "APPLY", "POST"}
    if resource == "leases":
        return verb in {"POST", "DELETE"}
    return False


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: metrics_delta.py BEFORE AFTER [--rows]")
    before, after = read(args[0]), read(args[1])
    out = Counter({key: 0 for key in ("total", "client", "applies", "dryRunApplies", "patches", "gets", "deletes",
                                      "nodeNotReadyWrites")})
    rows = []
    for key, value in after.items():
        delta = int(round(value - before.get(key, 0)))
        if delta <= 0:
            continue
        row = dict(key)
        resource, verb = row.get("resource", ""), row.get("verb", "")
        if resource == "" and row.get("subresource", "") in k_probes:
            continue
        out["total"] += delta
        mine = is_client(row)
        if mine:
            out["client"] += delta
            if resource in k_objects and not row.get("subresource"):
                if verb == "APPLY":
                    out["dryRunApplies" if row.get("dry_run") else "applies"] += delta
                elif verb == "PATCH":
                    out["patches"] += delta
                elif verb == "GET":
                    out["gets"] += delta
                elif verb == "DELETE":
                    out["deletes"] += delta
        if verb == "PUT" and row.get("subresource") == "status" and resource in ("nodes", "pods"):
            out["nodeNotReadyWrites"] += delta
        rows.append((delta, mine, row))
    result = dict(out)
    if "--rows" in args:
        result["rows"] = [
            {"n": n, "client": mine, "verb": r.get("verb"), "resource": r.get("resource") or r.get("subresource"),
             "subresource": r.get("subresource") if r.get("resource") else "", "code": r.get("code"),
             "dryRun": r.get("dry_run", "")}
            for n, mine, r in sorted(rows, key=lambda x: -x[0])
        ]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
