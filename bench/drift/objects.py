#!/usr/bin/env python3
"""What run.sh needs to know about a set's manifests, and kubectl's copy of them.

    objects.py pick MANIFESTS [--configmaps 8] [--deployments 2]
    objects.py view MANIFESTS OUT_DIR LIVE_JSON... [--manager minicd]
    objects.py crds MANIFESTS

pick  the objects to change by hand, spread evenly over the ConfigMaps and the Deployments in file
      order; one tab-separated line each:
        ConfigMap   apiVersion  kind  name  DATA_KEY   (the first data key: its value is replaced)
        Deployment  apiVersion  kind  name  CONTAINER  IMAGE  (the first container's image, changed)
view  MANIFESTS as minicd applied them: every object gets the labels and annotations that the field
      manager MANAGER (operation Apply) owns on the live object, with their live values (minicd's
      ownership labels, owner and desired-hash annotations). A server-side dry run as that manager
      then asks for exactly what the last apply asked for, so it changes nothing when nothing
      drifted. LIVE_JSON: `kubectl get -o json --show-managed-fields` output (a List, or one
      object). OUT_DIR gets one file per input file. Prints {"objects": N}; exits 1 naming the
      objects it found no live copy of, or none of whose fields the manager owns.
crds  the names of the CustomResourceDefinitions in MANIFESTS, one a line.

MANIFESTS is a directory of *.yaml files (multi-document) or one file.
"""

import argparse
import json
import os
import sys

import yaml

k_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
k_dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def files_of(manifests):
    if os.path.isfile(manifests):
        return [manifests]
    return [os.path.join(manifests, name) for name in sorted(os.listdir(manifests))
            if name.endswith((".yaml", ".yml", ".json"))]


def documents(path):
    with open(path) as f:
        return [doc for doc in yaml.load_all(f, Loader=k_loader) if doc]


def all_objects(manifests):
    return [doc for path in files_of(manifests) for doc in documents(path)]


def spread(items, count):
    """`count` items evenly spread over `items`, in order."""
    if count > len(items):
        sys.exit(f"objects.py: asked for {count} objects, the manifests hold {len(items)}")
    return [items[int((k + 0.5) * len(items) / count)] for k in range(count)]


def changed_image(image):
    name, sep, tag = image.rpartition(":")
    if sep and "/" not in tag and "@" not in image:
        return f"{name}:drifted"
    return f"{image.split('@')[0]}:drifted"


def pick(args):
    objects = all_objects(args.manifests)
    config_maps = [o for o in objects if o["kind"] == "ConfigMap" and o.get("data")]
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    for o in spread(config_maps, args.configmaps):
        print("\t".join(["ConfigMap", o["apiVersion"], o["kind"], o["metadata"]["name"], next(iter(o["data"]))]))
    for o in spread(deployments, args.deployments):
        container = o["spec"]["template"]["spec"]["containers"][0]
        print("\t".join(["Deployment", o["apiVersion"], o["kind"], o["metadata"]["name"], container["name"],
                         changed_image(container["image"])]))


def live_objects(paths):
    out = {}
    for path in paths:
        with open(path) as f:
            text = f.read()
        decoder, at = json.JSONDecoder(), 0
        while at < len(text):
            while at < len(text) and text[at].isspace():
                at += 1
            if at == len(text):
                break
            doc, at = decoder.raw_decode(text, at)
            for o in doc.get("items", [doc]) if doc.get("kind", "").endswith("List") else [doc]:
                out[(o["kind"], o["metadata"]["name"])] = o
    return out


def owned_keys(live, manager, section):
    keys = set()
    for entry in live["metadata"].get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            fields = (entry.get("fieldsV1") or {}).get("f:metadata", {}).get(f"f:{section}", {})
            keys |= {k[2:] for k in fields if k.startswith("f:")}
    return keys


def view(args):
    live = live_objects(args.live)
    os.makedirs(args.out, exist_ok=True)
    problems, count = [], 0
    for path in files_of(args.manifests):
        docs = documents(path)
        for doc in docs:
            key = (doc["kind"], doc["metadata"]["name"])
            found = live.get(key)
            if found is None:
                problems.append(f"{key[0]}/{key[1]}: not live")
                continue
            owned = 0
            for section in ("labels", "annotations"):
                keys = owned_keys(found, args.manager, section)
                owned += len(keys)
                values = found["metadata"].get(section) or {}
                target = doc["metadata"].setdefault(section, {})
                for k in sorted(keys):
                    if k not in target and k in values:
                        target[k] = values[k]
            if owned == 0:
                problems.append(f"{key[0]}/{key[1]}: no labels or annotations of {args.manager}")
            count += 1
        with open(os.path.join(args.out, os.path.basename(path)), "w") as f:
            yaml.dump_all(docs, f, Dumper=k_dumper, sort_keys=False, default_flow_style=False, explicit_start=True)
    if problems:
        sys.exit("objects.py view: " + "; ".join(problems[:10]) + (f" (and {len(problems) - 10} more)"
                                                                  if len(problems) > 10 else ""))
    print(json.dumps({"objects": count}))


def crds(args):
    for o in all_objects(args.manifests):
        if o["kind"] == "CustomResourceDefinition":
            print(o["metadata"]["name"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pick")
    p.add_argument("manifests")
    p.add_argument("--configmaps", type=int, default=8)
    p.add_argument("--deployments", type=int, default=2)
    p.set_defaults(run=pick)
    v = commands.add_parser("view")
    v.add_argument("manifests")
    v.add_argument("out")
    v.add_argument("live", nargs="+")
    v.add_argument("--manager", default="minicd")
    v.set_defaults(run=view)
    c = commands.add_parser("crds")
    c.add_argument("manifests")
    c.set_defaults(run=crds)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
