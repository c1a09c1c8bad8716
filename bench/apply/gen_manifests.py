#!/usr/bin/env python3
"""Writes the benchmark's manifests for N objects, the same bytes on every run.

    gen_manifests.py N OUT_DIR

OUT_DIR/manifests/*.yaml  multi-document YAML, 50 objects per file, what minicd and kubectl read
OUT_DIR/floor.json        the same objects as [{"path": ..., "body": ...}] for ssa_floor; "{ns}" in
                          each path is replaced by the namespace at run time

Mix, by index i: i % 4 in (0, 1) -> ConfigMap, 2 -> Service, 3 -> Deployment (1 replica).
Nothing is random, so every repetition and every tool applies identical objects.
"""

import json
import os
import sys

import yaml

k_docs_per_file = 50
k_image = "registry.k8s.io/pause:3.10"


def config_map(i):
    # About 600 bytes of data: a small but not empty application config.
    data = {
        "app.properties": "".join(f"key.{i}.{k}=value-{i * 31 + k}\n" for k in range(12)),
        "LOG_LEVEL": "info",
        "FEATURE_FLAGS": ",".join(f"flag{(i + k) % 17}" for k in range(5)),
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:05d}", "labels": {"bench": "apply", "tier": f"t{i % 3}"}},
        "data": data,
    }


def service(i):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{i:05d}", "labels": {"bench": "apply", "app": f"web-{i:05d}"}},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": f"web-{i:05d}"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def deployment(i):
    labels = {"app": f"web-{i:05d}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"web-{i:05d}", "labels": {"bench": "apply", **labels}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": k_image,
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "INSTANCE", "value": str(i)},
                                {"name": "LOG_LEVEL", "value": "info"},
                            ],
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "16Mi"},
                                "limits": {"memory": "64Mi"},
                            },
                        }
                    ]
                },
            },
        },
    }


def make(i):
    kind = i % 4
    if kind in (0, 1):
        return config_map(i)
    if kind == 2:
        return service(i)
    return deployment(i)


def api_path(obj):
    name = obj["metadata"]["name"]
    if obj["kind"] == "ConfigMap":
        return f"/api/v1/namespaces/{{ns}}/configmaps/{name}"
    if obj["kind"] == "Service":
        return f"/api/v1/namespaces/{{ns}}/services/{name}"
    return f"/apis/apps/v1/namespaces/{{ns}}/deployments/{name}"


class Dumper(yaml.SafeDumper):
    # Shared dicts (selector and template labels) are written out, not as &anchors.
    def ignore_aliases(self, data):
        return True


# Multi-line values as literal blocks (`|`), as people write ConfigMaps by hand.
def represent_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, represent_str)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_manifests.py N OUT_DIR")
    count = int(sys.argv[1])
    out = sys.argv[2]
    manifests = os.path.join(out, "manifests")
    os.makedirs(manifests, exist_ok=True)
    objects = [make(i) for i in range(count)]
    for start in range(0, count, k_docs_per_file):
        chunk = objects[start:start + k_docs_per_file]
        with open(os.path.join(manifests, f"objects-{start // k_docs_per_file:04d}.yaml"), "w") as f:
            yaml.dump_all(chunk, f, Dumper=Dumper, sort_keys=False, explicit_start=True)
    with open(os.path.join(out, "floor.json"), "w") as f:
        json.dump([{"path": api_path(o), "body": o} for o in objects], f)
    kinds = {}
    for o in objects:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    print(json.dumps({"objects": count, "kinds": kinds}))


if __name__ == "__main__":
    main()
