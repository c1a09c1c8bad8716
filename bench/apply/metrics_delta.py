#!/usr/bin/env python3
"""Request counts a run caused, from two scrapes of kube-apiserver's /metrics.

    metrics_delta.py BEFORE AFTER [--rows] [--applied KIND,KIND,...]

Prints JSON: "total" is every request the server handled between the scrapes (the controllers
reacting to the new objects included); "client" keeps only the requests an apply client makes
(discovery, and reads/writes of the applied kinds, the namespace, the deploy lock and minicd's
release ConfigMaps), which is what we compare between tools. "apply" and "applyDryRun" count
server-side-apply PATCHes (the server reports them as verb APPLY). "nodeNotReadyWrites" counts
the node lifecycle controller's PUTs to nodes/status and pods/status: non-zero means simulated nodes
missed heartbeats during the window and pods were marked not ready; "deploymentStatusWrites" counts
the deployment controller's status updates. The /metrics scrapes themselves
and health probes are left out of all counts. --applied names the resources the run applies (plural
resource names; default configmaps,services,deployments, the small-objects set); the large-objects set
adds serviceaccounts, roles, rolebindings and customresourcedefinitions.
"""

import json
import re
import sys
from collections import Counter

k_line = re.compile(r'^apiserver_request_total\{(.*)\}\s+(\S+)$')
k_label = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

k_applied = {"configmaps", "services", "deployments"}
# What a health waiter reads besides the applied kinds.
k_waited = {"pods", "replicasets"}
k_client_verbs = {"APPLY", "GET", "LIST", "POST", "PUT", "PATCH", "DELETE"}
k_probes = {"/metrics", "/healthz", "/readyz", "/livez"}


def read(path):
    counts = Counter()
    with open(path) as f:
        for line in f:
            match = k_line.match(line.strip())
            if not match:
                continue
            labels = dict(k_label.findall(match.group(1)))
            key = tuple(sorted(labels.items()))
            counts[key] += float(match.group(2))
    return counts


def is_client(row, applied=k_applied):
    resource, subresource, verb = row.get("resource", ""), row.get("subresource", ""), row.get("verb", "")
    if resource == "":
        # Non-resource paths: discovery (/api, /apis, /openapi/...) and /version.
        return verb == "GET" and subresource not in k_probes
    if subresource != "":
        return False  # status, binding, ...: controllers and kwok
    if verb == "WATCH" or (verb == "LIST" and resource in k_waited):
        # Watches are counted when they end, so a controller re-opening one can add noise.
        return resource in applied or resource in k_waited
    if resource in applied:
        # Controllers only ever write these through /status (checked above); PUT would be
        # the deployment controller's revision annotation, which we have not seen, but keep it out.
        return verb in k_client_verbs - {"PUT"} or (resource == "configmaps" and verb == "PUT")
    if resource == "namespaces":
        return verb in {"GET", "APPLY", "POST"}
    if resource == "leases":
        # Lock take and release; renewals (PUT) are mostly the components' leader election.
        return verb in {"POST", "DELETE"}
    return False


def main():
    args = sys.argv[1:]
    applied = k_applied
    if "--applied" in args:
        at = args.index("--applied")
        applied = set(args[at + 1].split(","))
        del args[at:at + 2]
    if len(args) < 2:
        sys.exit("usage: metrics_delta.py BEFORE AFTER [--rows] [--applied KIND,KIND,...]")
    before, after = read(args[0]), read(args[1])
    total = client = apply = dry = node_controller = deployment_status = 0
    rows = []
    for key, value in after.items():
        delta = int(round(value - before.get(key, 0)))
        if delta <= 0:
            continue
        row = dict(key)
        if row.get("resource", "") == "" and row.get("subresource", "") in k_probes:
            continue
        total += delta
        mine = is_client(row, applied)
        if mine:
            client += delta
            if row.get("verb") == "APPLY" and row.get("resource") in applied:
                if row.get("dry_run", ""):
                    dry += delta
                else:
                    apply += delta
        # The node lifecycle controller writes with PUT (kwok patches): nodes went NotReady and
        # their pods were marked not ready, which no apply tool can fix.
        if row.get("verb") == "PUT" and row.get("subresource") == "status" and row.get("resource") in ("nodes", "pods"):
            node_controller += delta
        if row.get("verb") == "PUT" and row.get("resource") == "deployments" and row.get("subresource") == "status":
            deployment_status += delta
        rows.append((delta, mine, row))
    out = {"total": total, "client": client, "apply": apply, "applyDryRun": dry, "nodeNotReadyWrites": node_controller,
           "deploymentStatusWrites": deployment_status}
    if "--rows" in args:
        out["rows"] = [
            {"n": n, "client": mine, "verb": r.get("verb"), "resource": r.get("resource") or r.get("subresource"),
             "subresource": r.get("subresource") if r.get("resource") else "", "code": r.get("code"),
             "dryRun": r.get("dry_run", "")}
            for n, mine, r in sorted(rows, key=lambda x: -x[0])
        ]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
