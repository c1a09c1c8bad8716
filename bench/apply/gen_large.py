#!/usr/bin/env python3
"""Writes the "large objects" scenario: the shape of a real-world install manifest with huge CRDs.

    gen_large.py OUT_DIR

OUT_DIR/template/install.yaml  one multi-document YAML file, CRDs first, as projects ship their
                               install manifests; "{ns}" stands for the namespace and is replaced at
                               run time (run.sh's render_large), so every namespace gets CRDs of its own
OUT_DIR/sizes.json             what was written: objects per kind, bytes per CRD, total bytes

What it holds (sizes of the template; a namespace's copy is a few hundred bytes larger):
  - 3 CustomResourceDefinitions (apiextensions.k8s.io/v1, cluster-scoped definitions of namespaced
    kinds in the group deploy.{ns}.example.com) of about 100 kB, 250 kB and 400 kB. They are large the
    way real ones are: deep openAPIV3Schema trees (an embedded container with its probes, env sources
    and lifecycle hooks, sources, sync policies, generators, status histories) with a long description
    on every property. The largest serves v1alpha1 and v1 (storage) with the same schema, so its schema
    is in it twice. No custom resources of them are applied.
  - 56 ordinary namespaced objects, 7 for each of 8 components: ServiceAccount, Role, RoleBinding,
    Service, Deployment (1 replica, pause image), a small ConfigMap, and a large ConfigMap (dashboards,
    policies, known hosts, alert rules) sized so that the whole file is about 1.9 MB.
  Objects are grouped by kind (CRDs, ServiceAccounts, Roles, RoleBindings, ConfigMaps, Services,
  Deployments), the usual layout of an install manifest.

Nothing is random: the same bytes on every run. Descriptions are picked from fixed sentences by a
CRC of the property's path. Every object carries the labels bench=apply and bench-set=large.
"""

import json
import os
import re
import sys
import zlib

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the work tree from the import below
from gen_manifests import Dumper, k_image  # noqa: E402

k_placeholder = "{ns}"
k_group = f"deploy.{k_placeholder}.example.com"
k_labels = {"bench": "apply", "bench-set": "large"}
k_total_bytes = 1_900_000
# kind, plural, target bytes, served versions (the last one is the storage version)
k_crds = [
    ("Project", "projects", 100_000, ["v1"]),
    ("Release", "releases", 250_000, ["v1"]),
    ("ReleaseSet", "releasesets", 400_000, ["v1alpha1", "v1"]),
]
k_components = ["server", "repo-server", "controller", "notifications", "webhook", "dex", "redis",
                "releaseset-controller"]

# --- Schema skeletons: types and structure only; describe() adds the descriptions -------------------


def string(**extra):
    return {"type": "string", **extra}


def integer(fmt="int32", **extra):
    return {"type": "integer", "format": fmt, **extra}


def boolean():
    return {"type": "boolean"}


def obj(required=None, **properties):
    node = {"type": "object", "properties": properties}
    if required:
        node["required"] = required
    return node


def array(items, list_type=None, keys=None):
    node = {"type": "array", "items": items}
    if list_type:
        node["x-kubernetes-list-type"] = list_type
    if keys:
        node["x-kubernetes-list-map-keys"] = keys
    return node


def strings():
    return array(string())


def string_map():
    return {"type": "object", "additionalProperties": {"type": "string"}}


def free_form():
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def int_or_string():
    return {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}


def quantity():
    pattern = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
    return {**int_or_string(), "pattern": pattern}


def quantity_map():
    return {"type": "object", "additionalProperties": quantity()}


def time():
    return string(format="date-time")


def label_selector():
    expression = obj(required=["key", "operator"], key=string(), operator=string(), values=array(string(), "atomic"))
    return {**obj(matchExpressions=array(expression, "atomic"), matchLabels=string_map()), "x-kubernetes-map-type": "atomic"}


def conditions():
    condition = obj(
        required=["lastTransitionTime", "message", "reason", "status", "type"],
        lastTransitionTime=time(), message=string(maxLength=32768), observedGeneration=integer("int64", minimum=0),
        reason=string(maxLength=1024, minLength=1, pattern="^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
        status=string(enum=["True", "False", "Unknown"]), type=string(maxLength=316))
    return array(condition, "map", ["type"])


def key_ref():
    return {**obj(required=["key"], key=string(), name=string(), optional=boolean()), "x-kubernetes-map-type": "atomic"}


def env_var():
    return obj(
        required=["name"], name=string(), value=string(),
        valueFrom=obj(
            configMapKeyRef=key_ref(), secretKeyRef=key_ref(),
            fieldRef={**obj(required=["fieldPath"], apiVersion=string(), fieldPath=string()), "x-kubernetes-map-type": "atomic"},
            resourceFieldRef=obj(required=["resource"], containerName=string(), divisor=quantity(), resource=string())))


def resources():
    return obj(claims=array(obj(required=["name"], name=string(), request=string()), "map", ["name"]),
               limits=quantity_map(), requests=quantity_map())


def handler():
    return obj(
        exec=obj(command=array(string(), "atomic")),
        httpGet=obj(required=["port"], host=string(), path=string(), port=int_or_string(), scheme=string(),
                    httpHeaders=array(obj(required=["name", "value"], name=string(), value=string()), "atomic")),
        tcpSocket=obj(required=["port"], host=string(), port=int_or_string()),
        sleep=obj(required=["seconds"], seconds=integer("int64")))


def probe():
    node = handler()
    del node["properties"]["sleep"]
    node["properties"].update(
        failureThreshold=integer(), initialDelaySeconds=integer(), periodSeconds=integer(),
        successThreshold=integer(), terminationGracePeriodSeconds=integer("int64"), timeoutSeconds=integer(),
        grpc=obj(required=["port"], port=integer(), service=string()))
    return node


def security_context():
    return obj(
        allowPrivilegeEscalation=boolean(), privileged=boolean(), readOnlyRootFilesystem=boolean(),
        runAsGroup=integer("int64"), runAsNonRoot=boolean(), runAsUser=integer("int64"),
        capabilities=obj(add=array(string(), "atomic"), drop=array(string(), "atomic")),
        seLinuxOptions=obj(level=string(), role=string(), type=string(), user=string()),
        seccompProfile=obj(required=["type"], localhostProfile=string(), type=string()))


def container():
    return obj(
        required=["name"], name=string(), image=string(), imagePullPolicy=string(enum=["Always", "IfNotPresent", "Never"]),
        command=array(string(), "atomic"), args=array(string(), "atomic"), workingDir=string(),
        env=array(env_var(), "map", ["name"]),
        envFrom=array(obj(prefix=string(), configMapRef=obj(name=string(), optional=boolean()),
                          secretRef=obj(name=string(), optional=boolean())), "atomic"),
        ports=array(obj(required=["containerPort"], containerPort=integer(), hostIP=string(), hostPort=integer(),
                        name=string(), protocol=string(enum=["TCP", "UDP", "SCTP"]))),
        resources=resources(), securityContext=security_context(),
        livenessProbe=probe(), readinessProbe=probe(),
        lifecycle=obj(postStart=handler(), preStop=handler()),
        volumeMounts=array(obj(required=["mountPath", "name"], mountPath=string(), mountPropagation=string(),
                               name=string(), readOnly=boolean(), subPath=string(), subPathExpr=string()), "map", ["mountPath"]))


def toleration():
    return obj(effect=string(), key=string(), operator=string(), tolerationSeconds=integer("int64"), value=string())


# One deployable part of the installation, as operator CRDs configure theirs (Helm-values style).
# The CRDs get as many of these as it takes to reach their target size.
def component():
    return obj(
        enabled=boolean(), replicas=integer(minimum=0),
        image=obj(repository=string(), tag=string(), digest=string(), pullPolicy=string()),
        extraArgs=array(string(), "atomic"), env=array(env_var(), "map", ["name"]), resources=resources(),
        nodeSelector=string_map(), tolerations=array(toleration(), "atomic"),
        service=obj(type=string(enum=["ClusterIP", "NodePort", "LoadBalancer"]), port=integer(),
                    annotations=string_map(), labels=string_map()),
        metrics=obj(enabled=boolean(), port=integer(),
                    serviceMonitor=obj(enabled=boolean(), interval=string(), scrapeTimeout=string(),
                                       labels=string_map())),
        autoscaling=obj(enabled=boolean(), minReplicas=integer(), maxReplicas=integer(),
                        targetCPUUtilizationPercentage=integer(), targetMemoryUtilizationPercentage=integer()))


def source():
    return obj(
        required=["repoURL"], repoURL=string(), path=string(), targetRevision=string(), chart=string(), ref=string(),
        helm=obj(valueFiles=array(string(), "atomic"), values=string(), valuesObject=free_form(), releaseName=string(),
                 version=string(), passCredentials=boolean(), ignoreMissingValueFiles=boolean(), skipCrds=boolean(),
                 parameters=array(obj(name=string(), value=string(), forceString=boolean()), "atomic"),
                 fileParameters=array(obj(name=string(), path=string()), "atomic")),
        kustomize=obj(namePrefix=string(), nameSuffix=string(), namespace=string(), version=string(),
                      images=array(string(), "atomic"), commonLabels=string_map(), commonAnnotations=string_map(),
                      forceCommonLabels=boolean(), forceCommonAnnotations=boolean(), replicas=array(
                          obj(required=["count", "name"], count=int_or_string(), name=string()), "atomic"),
                      patches=array(obj(patch=string(), path=string(), options=free_form(),
                                        target=obj(group=string(), version=string(), kind=string(), name=string(),
                                                   namespace=string(), labelSelector=string(),
                                                   annotationSelector=string())), "atomic")),
        directory=obj(recurse=boolean(), include=string(), exclude=string(),
                      jsonnet=obj(libs=array(string(), "atomic"),
                                  extVars=array(obj(required=["name", "value"], name=string(), value=string(),
                                                    code=boolean()), "atomic"),
                                  tlas=array(obj(required=["name", "value"], name=string(), value=string(),
                                                 code=boolean()), "atomic"))),
        plugin=obj(name=string(), env=array(obj(required=["name", "value"], name=string(), value=string()), "atomic"),
                   parameters=array(obj(name=string(), string=string(), array=array(string(), "atomic"),
                                        map=string_map()), "atomic")))


# What the status records of a source: enough to find it again.
def source_ref():
    return obj(required=["repoURL"], repoURL=string(), path=string(), targetRevision=string(), chart=string())


def destination():
    return obj(server=string(), name=string(), namespace=string())


def resource_ref():
    return obj(group=string(), version=string(), kind=string(), namespace=string(), name=string())


def sync_policy():
    return obj(
        automated=obj(prune=boolean(), selfHeal=boolean(), allowEmpty=boolean()),
        syncOptions=array(string(), "atomic"),
        retry=obj(limit=integer("int64"),
                  backoff=obj(duration=string(), factor=integer("int64"), maxDuration=string())),
        managedNamespaceMetadata=obj(labels=string_map(), annotations=string_map()))


def release_spec(with_hook=True):
    spec = obj(
        required=["destination", "project"], project=string(), source=source(), sources=array(source(), "atomic"),
        destination=destination(), syncPolicy=sync_policy(), revisionHistoryLimit=integer("int64"),
        ignoreDifferences=array(obj(required=["kind"], group=string(), kind=string(), name=string(),
                                    namespace=string(), jsonPointers=array(string(), "atomic"),
                                    jqPathExpressions=array(string(), "atomic"),
                                    managedFieldsManagers=array(string(), "atomic")), "atomic"),
        info=array(obj(required=["name", "value"], name=string(), value=string()), "atomic"))
    if with_hook:
        # A Job-like hook run before each sync: the embedded container makes the schema deep.
        spec["properties"]["syncHook"] = obj(
            container=container(), backoffLimit=integer(), activeDeadlineSeconds=integer("int64"),
            ttlSecondsAfterFinished=integer(), serviceAccountName=string(), nodeSelector=string_map(),
            tolerations=array(toleration(), "atomic"))
    return spec


def release_status():
    synced_resource = obj(group=string(), version=string(), kind=string(), namespace=string(), name=string(),
                          status=string(), message=string(), hookPhase=string(), hookType=string(),
                          syncPhase=string())
    return obj(
        conditions=conditions(), reconciledAt=time(), sourceType=string(), observedGeneration=integer("int64"),
        health=obj(status=string(), message=string(), lastTransitionTime=time()),
        sync=obj(required=["status"], status=string(enum=["Synced", "OutOfSync", "Unknown"]), revision=string(),
                 revisions=array(string(), "atomic"),
                 comparedTo=obj(required=["destination"], destination=destination(), source=source_ref(),
                                ignoreDifferences=array(obj(kind=string(), jsonPointers=array(string())), "atomic"))),
        history=array(obj(required=["deployedAt", "id"], id=integer("int64"), revision=string(),
                          deployedAt=time(), deployStartedAt=time(), initiatedBy=obj(username=string(),
                                                                                    automated=boolean()),
                          source=source_ref()), "atomic"),
        operationState=obj(
            required=["operation", "phase", "startedAt"], phase=string(), message=string(), startedAt=time(),
            finishedAt=time(), retryCount=integer("int64"),
            operation=obj(sync=obj(revision=string(), prune=boolean(), dryRun=boolean(),
                                   resources=array(obj(required=["kind", "name"], group=string(), kind=string(),
                                                       name=string(), namespace=string()), "atomic"),
                                   syncOptions=array(string(), "atomic"),
                                   syncStrategy=obj(apply=obj(force=boolean()), hook=obj(force=boolean()))),
                          initiatedBy=obj(username=string(), automated=boolean()), info=array(
                              obj(required=["name", "value"], name=string(), value=string()), "atomic")),
            syncResult=obj(required=["revision"], revision=string(), source=source_ref(),
                           resources=array(synced_resource, "atomic"))),
        resources=array(obj(group=string(), version=string(), kind=string(), namespace=string(), name=string(),
                            status=string(), requiresPruning=boolean(), hook=boolean(),
                            health=obj(status=string(), message=string())), "atomic"),
        summary=obj(externalURLs=array(string(), "atomic"), images=array(string(), "atomic")))


def project_spec():
    group_kind = obj(required=["group", "kind"], group=string(), kind=string())
    return obj(
        description=string(), sourceRepos=array(string(), "atomic"), sourceNamespaces=array(string(), "atomic"),
        destinations=array(destination(), "atomic"),
        roles=array(obj(required=["name"], name=string(), description=string(), policies=array(string(), "atomic"),
                        groups=array(string(), "atomic"),
                        jwtTokens=array(obj(required=["iat"], iat=integer("int64"), exp=integer("int64"),
                                            id=string()), "atomic")), "atomic"),
        syncWindows=array(obj(kind=string(enum=["allow", "deny"]), schedule=string(), duration=string(),
                              timeZone=string(), manualSync=boolean(), releases=array(string(), "atomic"),
                              namespaces=array(string(), "atomic"), clusters=array(string(), "atomic")), "atomic"),
        clusterResourceWhitelist=array(group_kind, "atomic"), clusterResourceBlacklist=array(group_kind, "atomic"),
        namespaceResourceWhitelist=array(group_kind, "atomic"), namespaceResourceBlacklist=array(group_kind, "atomic"),
        orphanedResources=obj(warn=boolean(), ignore=array(obj(group=string(), kind=string(), name=string()),
                                                           "atomic")),
        signatureKeys=array(obj(required=["keyID"], keyID=string()), "atomic"),
        permitOnlyProjectScopedClusters=boolean())


def project_status():
    token = obj(required=["iat"], iat=integer("int64"), exp=integer("int64"), id=string())
    return obj(conditions=conditions(), observedGeneration=integer("int64"),
               jwtTokensByRole={"type": "object", "additionalProperties": obj(items=array(token, "atomic"))})


def generator():
    return obj(
        list=obj(required=["elements"], elements=array(free_form(), "atomic"), template=free_form()),
        clusters=obj(selector=label_selector(), values=string_map(), template=free_form()),
        git=obj(required=["repoURL", "revision"], repoURL=string(), revision=string(), pathParamPrefix=string(),
                requeueAfterSeconds=integer("int64"), values=string_map(), template=free_form(),
                directories=array(obj(required=["path"], path=string(), exclude=boolean()), "atomic"),
                files=array(obj(required=["path"], path=string(), exclude=boolean()), "atomic")),
        pullRequest=obj(requeueAfterSeconds=integer("int64"), template=free_form(),
                        filters=array(obj(branchMatch=string(), targetBranchMatch=string()), "atomic"),
                        github=obj(required=["owner", "repo"], owner=string(), repo=string(), api=string(),
                                   labels=array(string(), "atomic"),
                                   tokenRef=obj(required=["key", "secretName"], key=string(), secretName=string()))),
        matrix=obj(required=["generators"], generators=array(free_form(), "atomic"), template=free_form()),
        merge=obj(required=["generators", "mergeKeys"], generators=array(free_form(), "atomic"),
                  mergeKeys=array(string(), "atomic"), template=free_form()),
        selector=label_selector())


def release_set_spec():
    return obj(
        required=["generators", "template"], generators=array(generator(), "atomic"),
        goTemplate=boolean(), goTemplateOptions=array(string(), "atomic"),
        template=obj(required=["metadata", "spec"],
                     metadata=obj(name=string(), namespace=string(), labels=string_map(), annotations=string_map(),
                                  finalizers=array(string(), "atomic")),
                     spec=release_spec(with_hook=False)),
        syncPolicy=obj(preserveResourcesOnDeletion=boolean(),
                       releasesSync=string(enum=["create-only", "create-update", "create-delete", "sync"])),
        strategy=obj(type=string(), rollingSync=obj(steps=array(obj(
            maxUpdate=int_or_string(),
            matchExpressions=array(obj(key=string(), operator=string(), values=array(string(), "atomic")),
                                   "atomic")), "atomic"))),
        ignoreReleaseDifferences=array(obj(name=string(), jsonPointers=array(string(), "atomic"),
                                           jqPathExpressions=array(string(), "atomic")), "atomic"),
        preservedFields=obj(annotations=array(string(), "atomic"), labels=array(string(), "atomic")))


def release_set_status():
    return obj(
        conditions=conditions(), observedGeneration=integer("int64"),
        releaseStatus=array(obj(required=["release", "message", "status"], release=string(), message=string(),
                                status=string(), step=string(), lastTransitionTime=time(),
                                targetRevisions=array(string(), "atomic")), "atomic"),
        resources=array(obj(group=string(), version=string(), kind=string(), namespace=string(), name=string(),
                            status=string(), health=obj(status=string(), message=string())), "atomic"))


k_specs = {"Project": (project_spec, project_status), "Release": (release_spec, release_status),
           "ReleaseSet": (release_set_spec, release_set_status)}

# --- Descriptions -----------------------------------------------------------------------------------

k_leads = ["is the", "specifies the", "holds the", "configures the", "defines the", "sets the", "lists the",
           "describes the"]
k_sentences = [
    "If not specified, the value from the installation's default configuration is used, and changing it "
    "later restarts the affected workloads.",
    "Cannot be updated once the object is created; delete and recreate the object to change it.",
    "More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle#container-probes",
    "This field is beta-level and may change in incompatible ways in a future release; it is honored only by "
    "controllers that enable the corresponding feature gate.",
    "Values are validated by the controller at reconcile time, and an invalid value is reported through the "
    "Degraded condition rather than rejected by the API server.",
    "The order of the entries is preserved when they are rendered into the generated manifests, and duplicate "
    "entries are ignored.",
    "Defaults to the empty value, which means the field is not set and the controller falls back to the "
    "cluster-wide setting configured by the administrator.",
    "It must be unique within the enclosing list, because it is used as the merge key when the list is "
    "patched with server-side apply.",
    "Quantities follow the Kubernetes resource quantity format, for example 100m for a tenth of a CPU or 64Mi "
    "for 64 mebibytes.",
    "Label keys and values must be valid Kubernetes label names; keys may carry an optional DNS subdomain "
    "prefix followed by a slash.",
    "When both this field and its deprecated predecessor are set, this field takes precedence and a warning "
    "is recorded in the status of the object.",
    "Relative paths are resolved against the root of the source repository; absolute paths and paths that "
    "leave the repository are rejected.",
    "Changes to this field are rolled out gradually, following the update strategy of the owning release, "
    "and can be paused by suspending the release.",
    "The controller copies this value verbatim into the generated objects, so it must be valid for the API "
    "version of the target cluster.",
    "Deprecated: kept for compatibility with earlier versions of this API and removed in a future version; "
    "use the replacement field described above instead.",
    "Only honored when the owning release uses automated synchronization; manual synchronizations ignore it "
    "and use the options given with the request.",
]


def words(name):
    # "repoURL" -> "repo url", "syncPolicy" -> "sync policy"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()


def description(path):
    crc = zlib.crc32("/".join(path).encode())
    name, owner = path[-1], (path[-2] if len(path) > 1 else "object")
    first = f"{name} {k_leads[crc % len(k_leads)]} {words(name)} of the {words(owner)}."
    picked = [k_sentences[(crc >> 4) % len(k_sentences)], k_sentences[(crc >> 12) % len(k_sentences)]]
    if picked[0] == picked[1]:
        picked.pop()
    return " ".join([first, *picked])


def describe(node, path):
    # A copy of node with a description on it and on every property below it.
    out = {"description": description(path)} if path else {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: describe(child, path + [name]) for name, child in value.items()}
        elif key == "items":
            out[key] = describe_children(value, path)
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = describe_children(value, path)
        else:
            out[key] = value
    return out


def describe_children(node, path):
    # Array items and map values carry no description of their own, only their properties do.
    described = describe(node, path)
    described.pop("description", None)
    return described


# --- Structural-schema self-check (what the apiserver enforces) -------------------------------------


def check_structural(node, where, root=True):
    if root and set(node["properties"]["metadata"]) != {"type"}:
        raise SystemExit(f"{where}.metadata: only its type may be given")
    int_or_str = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "type" not in node and not int_or_str and not preserve:
        raise SystemExit(f"{where}: no type")
    if "properties" in node and "additionalProperties" in node:
        raise SystemExit(f"{where}: both properties and additionalProperties")
    if node.get("type") == "array" and "items" not in node:
        raise SystemExit(f"{where}: array without items")
    if node.get("x-kubernetes-list-type") == "map":
        keys = node.get("x-kubernetes-list-map-keys") or []
        item = node["items"]
        missing = [k for k in keys if k not in item.get("required", []) and "default" not in item["properties"][k]]
        if not keys or missing:
            raise SystemExit(f"{where}: list-type map needs required keys, missing {missing}")
    for name in node.get("required", []):
        if name not in node.get("properties", {}):
            raise SystemExit(f"{where}: required {name} is not a property")
    for name, child in node.get("properties", {}).items():
        check_structural(child, f"{where}.{name}", False)
    if isinstance(node.get("items"), dict):
        check_structural(node["items"], f"{where}[]", False)
    if isinstance(node.get("additionalProperties"), dict):
        check_structural(node["additionalProperties"], f"{where}{{}}", False)


# --- Objects ----------------------------------------------------------------------------------------


def dump(docs):
    return yaml.dump_all(docs, Dumper=Dumper, sort_keys=False, explicit_start=True, width=120)


def crd(kind, plural, target, versions):
    spec_of, status_of = k_specs[kind]
    spec = spec_of()

    def build():
        schema = obj(apiVersion=string(), kind=string(), metadata={"type": "object"}, spec=spec, status=status_of())
        schema = describe(schema, [])
        # The apiserver allows nothing but the type on the root's metadata (not even a description).
        schema["properties"]["metadata"] = {"type": "object"}
        schema["description"] = (f"{kind} is the Schema for the {plural} API. "
                                 f"{description([kind, 'spec'])}")
        check_structural(schema, kind)
        columns = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        if kind == "Release":
            columns[:0] = [{"name": "Sync Status", "type": "string", "jsonPath": ".status.sync.status"},
                           {"name": "Health Status", "type": "string", "jsonPath": ".status.health.status"},
                           {"name": "Revision", "type": "string", "jsonPath": ".status.sync.revision",
                            "priority": 10}]
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{k_group}", "labels": {**k_labels, "app.kubernetes.io/part-of": "bench"}},
            "spec": {
                "group": k_group,
                "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                          "shortNames": [kind.lower()[:3] + ("s" if kind == "ReleaseSet" else "")],
                          "categories": ["bench"]},
                "scope": "Namespaced",
                "versions": [
                    {"name": version, "served": True, "storage": version == versions[-1],
                     "schema": {"openAPIV3Schema": schema}, "subresources": {"status": {}},
                     "additionalPrinterColumns": columns}
                    for version in versions],
            },
        }

    # Components are added while that brings the definition closer to its target size.
    components = {}
    spec["properties"]["components"] = obj()
    document = build()
    size = len(dump([document]))
    while size < target:
        name = k_components[len(components) % len(k_components)].replace("-", "")
        if len(components) >= len(k_components):
            name += str(len(components) // len(k_components) + 1)
        components[name] = component()
        spec["properties"]["components"]["properties"] = dict(components)
        bigger = build()
        bigger_size = len(dump([bigger]))
        if bigger_size - target > target - size:
            break
        document, size = bigger, bigger_size
    return document


def meta(name, **labels):
    return {"name": name, "labels": {**k_labels, "app.kubernetes.io/name": name,
                                     "app.kubernetes.io/part-of": "bench", **labels}}


def service_account(c):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(f"bench-{c}")}


def role(c):
    rules = [
        {"apiGroups": [k_group], "resources": ["projects", "releases", "releasesets"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [k_group], "resources": ["releases/status", "releasesets/status"],
         "verbs": ["get", "update", "patch"]},
        {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch", "list"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "create", "update"], "resourceNames": [f"bench-{c}-leader"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "replicasets"],
         "verbs": ["get", "list", "watch"]},
    ]
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(f"bench-{c}"),
            "rules": rules}


def role_binding(c):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(f"bench-{c}"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"bench-{c}"},
            "subjects": [{"kind": "ServiceAccount", "name": f"bench-{c}"}]}


def service(c):
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(f"bench-{c}"),
            "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": f"bench-{c}"},
                     "ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"},
                               {"name": "metrics", "port": 8084, "targetPort": 8084, "protocol": "TCP"}]}}


def deployment(i, c):
    labels = {"app.kubernetes.io/name": f"bench-{c}"}
    env = [{"name": f"BENCH_{c.upper().replace('-', '_')}_{key}", "value": value} for key, value in [
        ("LOG_LEVEL", "info"), ("LOG_FORMAT", "json"), ("LISTEN_ADDRESS", ":8080"), ("METRICS_ADDRESS", ":8084"),
        ("REPO_SERVER", "bench-repo-server:8081"), ("REDIS", "bench-redis:6379"), ("TIMEOUT", "180s"),
        ("PARALLELISM", str(4 + i))]]
    env.append({"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}})
    env.append({"name": "CONFIG_REVISION", "valueFrom": {"configMapKeyRef": {"name": f"bench-{c}-config",
                                                                              "key": "revision"}}})
    probe = {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(f"bench-{c}"),
        "spec": {
            "replicas": 1, "revisionHistoryLimit": 3, "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": f"bench-{c}",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": c, "image": k_image, "imagePullPolicy": "IfNotPresent",
                        "args": [f"--component={c}", "--loglevel=info", "--metrics-port=8084"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                  {"name": "metrics", "containerPort": 8084, "protocol": "TCP"}],
                        "env": env, "readinessProbe": probe, "livenessProbe": probe,
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/bench", "readOnly": True},
                                         {"name": "data", "mountPath": "/var/lib/bench", "readOnly": True},
                                         {"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "config", "configMap": {"name": f"bench-{c}-config"}},
                                {"name": "data", "configMap": {"name": f"bench-{c}-data"}},
                                {"name": "tmp", "emptyDir": {}}],
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": labels},
                                                            "topologyKey": "kubernetes.io/hostname"}}]}},
                },
            },
        },
    }


def small_config_map(i, c):
    properties = "".join(f"{c}.setting.{k:02d}=value-{i * 37 + k}\n" for k in range(40))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"bench-{c}-config"),
            "data": {"revision": str(i + 1), "log.level": "info", "application.properties": properties,
                     "timeout.reconciliation": "180s", "url": f"https://{c}.bench.example.com"}}


# Large data in four shapes seen in real installs; each line is built from its index alone.
def dashboard_line(k):
    return (f'    {{"id": {k}, "type": "timeseries", "title": "Requests of component {k % 8}, panel {k}", '
            f'"targets": [{{"expr": "sum(rate(bench_requests_total{{job=\\"bench\\",panel=\\"{k}\\"}}[5m]))"}}]}},')


def policy_line(k):
    return f"p, role:team-{k % 40:02d}, releases, sync, team-{k % 40:02d}/service-{k:05d}, allow"


def known_hosts_line(k):
    key = zlib.crc32(str(k).encode()).to_bytes(4, "big").hex() * 8
    return f"git-{k:05d}.bench.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{key}"


def rules_line(k):
    return (f"- alert: BenchComponent{k:05d}Degraded\n  expr: bench_component_healthy{{index=\"{k}\"}} == 0\n"
            f"  for: 10m\n  labels: {{severity: warning}}")


k_large_data = [("dashboard.json", dashboard_line), ("policy.csv", policy_line),
                ("known_hosts", known_hosts_line), ("rules.yaml", rules_line)]


def large_config_map(i, c, budget):
    key, line = k_large_data[i % len(k_large_data)]
    lines, size = [], 0
    while size < budget:
        text = line(len(lines))
        lines.append(text)
        # In the YAML literal block every line is indented by four spaces.
        size += len(text) + 1 + 4 * (text.count("\n") + 1)
    value = "\n".join(lines) + "\n"
    if key == "dashboard.json":
        value = '{\n  "panels": [\n' + value.rstrip(",\n") + "\n  ]\n}\n"
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"bench-{c}-data"), "data": {key: value}}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_large.py OUT_DIR")
    out = sys.argv[1]
    crds = [crd(*spec) for spec in k_crds]
    ordinary = []
    for i, c in enumerate(k_components):
        ordinary += [service_account(c), role(c), role_binding(c), small_config_map(i, c), service(c),
                     deployment(i, c)]
    # What is left of the total goes to the large ConfigMaps, evenly.
    fixed = len(dump(crds + ordinary))
    empty = len(dump([large_config_map(0, k_components[0], 0)]))
    budget = (k_total_bytes - fixed) // len(k_components) - empty
    data = [large_config_map(i, c, budget) for i, c in enumerate(k_components)]
    # Grouped by kind, CRDs first, as install manifests are usually laid out.
    order = ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service", "Deployment"]
    objects = crds + sorted(ordinary + data, key=lambda o: order.index(o["kind"]))
    text = dump(objects)
    os.makedirs(os.path.join(out, "template"), exist_ok=True)
    with open(os.path.join(out, "template", "install.yaml"), "w") as f:
        f.write(text)
    kinds = {}
    for o in objects:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    sizes = {
        "objects": len(objects),
        "kinds": kinds,
        "bytes": len(text.encode()),
        "crdBytes": {o["metadata"]["name"].split(".")[0]: len(dump([o]).encode()) for o in crds},
        "crdComponents": {o["spec"]["names"]["kind"]: len(
            o["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["components"]
            .get("properties", {})) for o in crds},
        "largestOrdinaryBytes": max(len(dump([o]).encode()) for o in ordinary + data),
        "note": f'sizes with the placeholder "{k_placeholder}"; each namespace name adds its length minus '
                f'{len(k_placeholder)} per occurrence ({text.count(k_placeholder)} occurrences)',
    }
    with open(os.path.join(out, "sizes.json"), "w") as f:
        json.dump(sizes, f, indent=2)
    print(json.dumps(sizes))


if __name__ == "__main__":
    main()
