#!/usr/bin/env python3
"""Writes the rollback benchmark's two versions of one application, as minicd manifests and as a
Helm chart, the same objects byte for byte.

    gen_rollback.py OUT_DIR [--configmaps 900] [--deployments 50] [--services 50]

OUT_DIR/v1/manifests/*.yaml   multi-document YAML, 50 objects per file: what `minicd apply -f` reads
OUT_DIR/v2/manifests/*.yaml
OUT_DIR/v1/chart/             a Helm chart (apiVersion v2, name "bench", version 1.0.0) whose
OUT_DIR/v2/chart/             templates/ are the same files as manifests/ (version 2.0.0 for v2)
OUT_DIR/sizes.json            counts, bytes, and how many objects differ between v1 and v2

v1 -> v2 changes the data of every ConfigMap and the image of every Deployment
(registry.test/web:1 -> registry.test/web:2); the Services are the same in both. The chart's
templates hold rendered objects (no template directives), so Helm renders them as they are and
both tools send the API server the same objects; a rollback re-applies a stored release anyway, so
template rendering is not part of what is compared. No object names a namespace: both tools put
them in the one given with -n. Nothing is random: every run writes the same bytes.
"""

import argparse
import base64
import gzip
import json
import os
import sys

import yaml

k_docs_per_file = 50
k_label = {"bench": "rollback"}
k_image = "registry.test/web:{}"
k_versions = ("v1", "v2")


def config_map(i, version):
    # About 500 bytes of data; every value names the version, so v2 changes each ConfigMap.
    rev = version[1:]
    data = {
        "release": version,
        "app.properties": "".join(f"key.{i}.{k}=value-{i * 31 + k}-r{rev}\n" for k in range(12)),
        "LOG_LEVEL": "info" if version == "v1" else "debug",
        "FEATURE_FLAGS": ",".join(f"flag{(i + k + int(rev)) % 17}" for k in range(5)),
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:05d}", "labels": {**k_label, "tier": f"t{i % 3}"}},
        "data": data,
    }


def service(i, deployments):
    app = f"web-{i % deployments:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{i:05d}", "labels": {**k_label, "app": app}},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": app},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def deployment(i, version):
    labels = {"app": f"web-{i:05d}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"web-{i:05d}", "labels": {**k_label, **labels}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": k_image.format(version[1:]),
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


def objects(version, counts):
    out = [config_map(i, version) for i in range(counts.configmaps)]
    out += [service(i, counts.deployments) for i in range(counts.services)]
    out += [deployment(i, version) for i in range(counts.deployments)]
    return out


class NoAliases(yaml.SafeDumper):
    """Writes shared sub-objects (a Deployment's labels) out in full, without YAML anchors."""

    def ignore_aliases(self, data):
        return True


def dump(docs):
    return "---\n".join(yaml.dump(d, Dumper=NoAliases, sort_keys=False, default_flow_style=False) for d in docs)


def chart_yaml(version):
    return dump([{
        "apiVersion": "v2",
        "name": "bench",
        "description": "The rollback benchmark's application: the same objects as the minicd manifests",
        "type": "application",
        "version": f"{version[1:]}.0.0",
        "appVersion": version,
    }])


def write_version(out, version, docs):
    files = {}
    for start in range(0, len(docs), k_docs_per_file):
        text = dump(docs[start:start + k_docs_per_file])
        # Helm reads templates as Go templates: rendered objects must not look like one.
        if "{{" in text:
            sys.exit(f"gen_rollback.py: generated text contains '{{{{', which Helm would read as a template")
        files[f"objects-{start // k_docs_per_file:03d}.yaml"] = text
    manifests = os.path.join(out, version, "manifests")
    templates = os.path.join(out, version, "chart", "templates")
    for directory in (manifests, templates):
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))
        for name, text in files.items():
            with open(os.path.join(directory, name), "w") as f:
                f.write(text)
    with open(os.path.join(out, version, "chart", "Chart.yaml"), "w") as f:
        f.write(chart_yaml(version))
    return files


def helm_release_estimate(files, version):
    """Bytes of the Secret data Helm stores for one release of this chart: the release JSON (chart
    files base64-encoded inside it, plus the rendered manifest) gzip-compressed, then base64-encoded.
    Helm refuses a release over the 1 MiB Secret limit, so the generator checks it."""
    manifest = "".join(f"---\n# Source: bench/templates/{name}\n{text}" for name, text in files.items())
    release = {
        "name": "bench",
        "chart": {"metadata": {"name": "bench", "version": f"{version[1:]}.0.0"},
                  "templates": [{"name": f"templates/{name}", "data": base64.b64encode(text.encode()).decode()}
                                for name, text in files.items()]},
        "manifest": manifest,
    }
    packed = gzip.compress(json.dumps(release).encode(), compresslevel=9)
    return len(base64.b64encode(packed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--configmaps", type=int, default=900)
    parser.add_argument("--deployments", type=int, default=50)
    parser.add_argument("--services", type=int, default=50)
    counts = parser.parse_args()
    if counts.deployments < 1 or counts.configmaps < 0 or counts.services < 0:
        sys.exit("gen_rollback.py: need at least one Deployment and no negative counts")

    docs = {version: objects(version, counts) for version in k_versions}
    files = {version: write_version(counts.out, version, docs[version]) for version in k_versions}
    changed = {}
    for old, new in zip(docs["v1"], docs["v2"]):
        assert (old["kind"], old["metadata"]["name"]) == (new["kind"], new["metadata"]["name"])
        if old != new:
            changed[old["kind"]] = changed.get(old["kind"], 0) + 1
    kinds = {}
    for o in docs["v1"]:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    sizes = {
        "objects": len(docs["v1"]),
        "kinds": kinds,
        "changedV1ToV2": changed,
        "bytes": {version: sum(len(t.encode()) for t in files[version].values()) for version in k_versions},
        "files": len(files["v1"]),
        "helmReleaseSecretBytes": {version: helm_release_estimate(files[version], version) for version in k_versions},
    }
    with open(os.path.join(counts.out, "sizes.json"), "w") as f:
        json.dump(sizes, f, indent=2)
    if max(sizes["helmReleaseSecretBytes"].values()) > 1000 * 1024:
        sys.exit(f"gen_rollback.py: a Helm release of this chart would be about {sizes['helmReleaseSecretBytes']} "
                 "bytes, over the 1 MiB Secret limit; use fewer or smaller objects")
    print(json.dumps(sizes))


if __name__ == "__main__":
    main()
