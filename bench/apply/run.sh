#!/usr/bin/env bash
# Side-by-side benchmark: `minicd apply` vs `kubectl apply --server-side` vs a bare parallel SSA loop
# (the floor), on a real kube-apiserver on loopback. Not a test: it asserts no timings; it records
# them and prints Markdown tables (bench/apply/RESULTS.md explains the figures).
#
#   bench/apply/run.sh                    # N = 100 and 1000, then the large objects; 5 repetitions each
#   BENCH_SIZES="100" BENCH_REPS=3 bench/apply/run.sh
#   BENCH_SCENARIOS=large BENCH_REPS=3 bench/apply/run.sh   # only the large objects
#
# Two scenario sets:
#   small  gen_manifests.py N: N small ConfigMaps, Services and Deployments; cold apply, no-op re-apply,
#          apply + wait, and the ssa_floor runs
#   large  gen_large.py: an install manifest's shape, 59 objects in ~1.9 MB, three CRDs of ~100, 250 and
#          400 kB (no custom resources of them) and 56 namespaced objects; cold apply (no wait) and no-op
#          re-apply. CRDs are cluster-scoped: each namespace gets definitions of its own (group
#          deploy.<namespace>.example.com), and a repetition deletes its CRDs before the next one starts.
#
# Environment knobs:
#   BENCH_SCENARIOS  scenario sets to run, in this order (default "small large")
#   BENCH_SIZES   object counts of the small set (default "100 1000")
#   BENCH_REPS    repetitions per size, each in fresh namespaces (default 5, at least 3)
#   BENCH_OUT     work and raw-results directory (default /tmp/bench-apply)
#   MINICD        minicd binary to measure (default: build-bench/src/minicd/minicd, brought up to date
#                 from the work tree first, so a stale binary is never measured)
#   KUBECTL       kubectl binary (default kubectl 1.33 from google-cloud-sdk if it runs, else kubectl)
#   BENCH_WAIT_SIZES    sizes that also get the apply-and-wait runs (default "100": at 1000 the
#                       simulated nodes' missed heartbeats leave pods not ready, see RESULTS.md)
#   BENCH_WAIT_TIMEOUT  readiness timeout of the apply-and-wait runs (default 150s)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${here}/../.." && pwd)
sizes=${BENCH_SIZES:-"100 1000"}
scenarios=${BENCH_SCENARIOS:-"small large"}
reps=${BENCH_REPS:-5}
out=${BENCH_OUT:-/tmp/bench-apply}
cluster_dir=/tmp/bench-cluster
minicd=${MINICD:-${repo}/build-bench/src/minicd/minicd}
given_minicd=${MINICD:+yes}
results=${out}/results.jsonl
wait_timeout=${BENCH_WAIT_TIMEOUT:-150s}
wait_sizes=${BENCH_WAIT_SIZES:-"100"}
# 12 simulated nodes × 110 pods: room for every Deployment's pod of one repetition at N = 1000.
export MINICD_TESTENV_NODES=${MINICD_TESTENV_NODES:-12}

log() { printf '[bench-apply %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# The scenario set being measured: the functions below read it to pick manifests, run names, the
# kinds whose requests count as the client's and the objects a no-op must leave alone.
bench_set=small
selected() { [[ " ${scenarios} " == *" $1 "* ]]; }

manifests_dir() {  # n namespace
    if [[ "$bench_set" == large ]]; then
        printf '%s\n' "${out}/gen/large/$2/manifests"
    else
        printf '%s\n' "${out}/gen/$1/manifests"
    fi
}

run_id() {  # n rep
    if [[ "$bench_set" == large ]]; then printf 'large-%s\n' "$2"; else printf '%s-%s\n' "$1" "$2"; fi
}

applied_kinds() {
    local kinds=configmaps,services,deployments
    [[ "$bench_set" == large ]] && kinds+=,serviceaccounts,roles,rolebindings,customresourcedefinitions
    printf '%s\n' "$kinds"
}

cleanup() {
    local rc=$?
    log "taking the cluster down"
    "${repo}/testenv/cluster" down --dir "$cluster_dir" >/dev/null 2>&1 || true
    exit "$rc"
}

pick_kubectl() {
    if [[ -n "${KUBECTL:-}" ]]; then
        printf '%s\n' "$KUBECTL"
    elif /usr/lib/google-cloud-sdk/bin/kubectl.1.33 version --client >/dev/null 2>&1; then
        printf '%s\n' /usr/lib/google-cloud-sdk/bin/kubectl.1.33
    else
        command -v kubectl
    fi
}

build_minicd() {
    [[ -n "$given_minicd" ]] && return 0
    log "building minicd (Release) in ${repo}/build-bench"
    # g++ 12 at -O3 reports a false -Wrestrict inside libstdc++'s string code (GCC bug 105651);
    # keep it a warning so the Release build goes through. Code generation is unchanged.
    cmake -S "$repo" -B "${repo}/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMINICD_BUILD_TESTS=OFF \
        -DCMAKE_CXX_FLAGS=-Wno-error=restrict >/dev/null
    ninja -C "${repo}/build-bench" minicd >/dev/null
}

build_floor() {
    log "building ssa_floor"
    cmake -S "$here" -B "${out}/floor-build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    ninja -C "${out}/floor-build" >/dev/null
    floor="${out}/floor-build/ssa_floor"
}

# Every apiserver_request_total series, as one scrape.
scrape() {
    curl -sS --fail --cacert "${MINICD_TEST_PKI}/ca.crt" --cert "${MINICD_TEST_PKI}/admin.crt" \
        --key "${MINICD_TEST_PKI}/admin.key" "${MINICD_TEST_APISERVER}/metrics" | grep '^apiserver_request_total' || true
}

# All requests so far, without the scrapes and health probes.
request_total() {
    scrape | awk '!/subresource="\/(metrics|healthz|readyz|livez)"/ { s += $NF } END { printf "%d\n", s }'
}

# Controllers keep reacting to the last run (ReplicaSets, Pods, EndpointSlices, namespace deletion);
# the next measurement starts only when the server is back to its idle request rate.
settle() {
    local previous current quiet=0 waited=0
    previous=$(request_total)
    while ((quiet < 3 && waited < 240)); do
        sleep 1
        waited=$((waited + 1))
        current=$(request_total)
        if ((current - previous <= idle_threshold)); then quiet=$((quiet + 1)); else quiet=0; fi
        previous=$current
    done
    ((quiet >= 3)) || log "warning: the API server did not settle within 240 s"
}

# Runs a command under /usr/bin/time -v between two metric scrapes.
# Sets: wall_ms rc rss_kb user_s sys_s load1 metrics_json; files: $1.out $1.err $1.time
timed() {
    local prefix=$1
    shift
    settle
    load1=$(cut -d' ' -f1 /proc/loadavg)
    scrape >"${prefix}.before"
    local start end
    start=$(date +%s%N)
    set +e
    /usr/bin/time -v -o "${prefix}.time" "$@" >"${prefix}.out" 2>"${prefix}.err"
    rc=$?
    set -e
    end=$(date +%s%N)
    scrape >"${prefix}.after"
    wall_ms=$(((end - start) / 1000000))
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "${prefix}.time")
    user_s=$(awk -F': ' '/User time/ { print $2 }' "${prefix}.time")
    sys_s=$(awk -F': ' '/System time/ { print $2 }' "${prefix}.time")
    metrics_json=$(python3 "${here}/metrics_delta.py" "${prefix}.before" "${prefix}.after" --applied "$(applied_kinds)")
}

# Appends one result line (of the set in bench_set). Args: n rep scenario tool namespace self_requests check
record() {
    local check=$7 writes label="N=$1"
    [[ "$bench_set" == large ]] && label="large N=$1"
    # Simulated nodes that miss heartbeats get their pods marked not ready for good (kwok's stage does
    # not revisit them): the test cluster's trouble, not the tool's, so it is named in the check.
    writes=$(jq '.nodeNotReadyWrites' <<<"$metrics_json")
    if ((writes > 0)); then
        "$kubectl" get nodes --no-headers >"${out}/runs/$(run_id "$1" "$2")-$4-$3.nodes" 2>&1 || true
        check+="; cluster: the node lifecycle controller marked nodes/pods not ready during the run (${writes} writes)"
    fi
    jq -cn --arg set "$bench_set" --argjson n "$1" --argjson rep "$2" --arg scenario "$3" --arg tool "$4" --arg ns "$5" \
        --argjson self "${6:-null}" --arg check "$check" --argjson wall "$wall_ms" --argjson rc "$rc" \
        --argjson rss "${rss_kb:-0}" --argjson user "${user_s:-0}" --argjson sys "${sys_s:-0}" \
        --argjson load "$load1" --argjson metrics "$metrics_json" \
        '{set: $set, n: $n, rep: $rep, scenario: $scenario, tool: $tool, ns: $ns, wall_ms: $wall, rc: $rc,
          self_requests: $self, metrics: $metrics, rss_kb: $rss, cpu_s: ($user + $sys), load1: $load,
          check: $check}' >>"$results"
    log "${label} rep $2 ${3} ${4}: ${wall_ms} ms, rc ${rc}, requests self ${6:-?} / metrics $(jq -c '[.client, .total]' <<<"$metrics_json"), ${check}"
}

# resourceVersion of every benchmark object: a no-op re-apply must leave all of them as they were.
versions() {
    local kinds=configmaps,services,deployments format
    format='{range .items[*]}{.kind}/{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}'
    [[ "$bench_set" == large ]] && kinds+=,serviceaccounts,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io
    {
        "$kubectl" get "$kinds" -n "$1" -l bench=apply -o jsonpath="$format"
        if [[ "$bench_set" == large ]]; then
            # Cluster-scoped: this namespace's CRDs are those whose group names the namespace.
            "$kubectl" get customresourcedefinitions -l bench-set=large -o jsonpath="$format" |
                grep -F ".${1}.example.com " || true
        fi
    } | sort
}

# Count of objects whose resourceVersion moved; their names go to $3.
changed_versions() {
    diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep '^>' >"$3" || true
    wc -l <"$3" | tr -d ' '
}

# minicd's JSON report: "ok" when it succeeded and every object got the expected action.
check_minicd() {
    local file=$1 n=$2 action=$3
    jq -r --argjson n "$n" --arg action "$action" '
        if .succeeded != true then "FAILED: \(.failure // "no failure text")"
        elif ([.objects[] | select(.action == $action)] | length) != $n
        then "WRONG: expected \($n) \($action), got \([.objects[].action] | group_by(.) | map("\(length) \(.[0])") | join(", "))"
        else "ok" end' "$file" 2>/dev/null || echo "FAILED: no JSON report (see ${file%.out}.err)"
}

check_kubectl() {
    local file=$1 n=$2 got
    got=$(grep -c 'serverside-applied$' "$file" || true)
    if ((rc != 0)); then echo "FAILED: exit ${rc}"; elif ((got != n)); then echo "WRONG: ${got} of ${n} applied"; else echo ok; fi
}

# A no-op must not move any resourceVersion. The one exception we can explain: Deployments whose
# status the deployment controller rewrote because the node lifecycle controller had just marked
# their pods not ready (see record); those are named, not counted against the tool.
judge_moved() {
    local check=$1 changed=$2 moved=$3 writes status
    ((changed == 0)) && { printf '%s\n' "$check"; return; }
    writes=$(jq '.nodeNotReadyWrites' <<<"$metrics_json")
    status=$(jq '.deploymentStatusWrites' <<<"$metrics_json")
    if ((writes > 0 && changed <= status)) && ! grep -qv '^> Deployment/' "$moved"; then
        printf '%s; %s Deployments got a new resourceVersion from status writes (%s)\n' "$check" "$changed" "$moved"
    else
        printf 'WRONG: %s objects got a new resourceVersion (%s); %s\n' "$changed" "$moved" "$check"
    fi
}

minicd_apply() {  # prefix cache namespace n flags...
    local environment="n$4"
    [[ "$bench_set" == large ]] && environment=large
    timed "$1" env XDG_CACHE_HOME="$2" "$minicd" apply -f "$(manifests_dir "$4" "$3")" -n "$3" \
        --app bench --env "$environment" "${@:5}" -o json
}

kubectl_apply() {  # prefix cache namespace n
    timed "$1" "$kubectl" apply --server-side --field-manager=bench --cache-dir "$2" \
        -f "$(manifests_dir "$4" "$3")" -n "$3"
}

minicd_cold() {
    local n=$1 rep=$2 ns=$3 prefix="${out}/runs/$(run_id "$1" "$2")-minicd-cold"
    minicd_apply "$prefix" "${out}/cache/minicd-$ns" "$ns" "$n" --no-wait
    record "$n" "$rep" cold minicd "$ns" "$(jq '.requests' "${prefix}.out" 2>/dev/null || echo null)" \
        "$(check_minicd "${prefix}.out" "$n" created)"
}

kubectl_cold() {
    local n=$1 rep=$2 ns=$3 prefix="${out}/runs/$(run_id "$1" "$2")-kubectl-cold"
    kubectl_apply "$prefix" "${out}/cache/kubectl-$ns" "$ns" "$n"
    record "$n" "$rep" cold kubectl "$ns" null "$(check_kubectl "${prefix}.out" "$n")"
}

minicd_noop() {
    local n=$1 rep=$2 ns=$3 prefix="${out}/runs/$(run_id "$1" "$2")-minicd-noop" before after check changed
    # Controllers finish with the cold apply's objects first, so only the re-apply can move versions.
    settle
    before=$(versions "$ns")
    minicd_apply "$prefix" "${out}/cache/minicd-$ns" "$ns" "$n" --no-wait
    after=$(versions "$ns")
    check=$(check_minicd "${prefix}.out" "$n" unchanged)
    changed=$(changed_versions "$before" "$after" "${prefix}.moved")
    check=$(judge_moved "$check" "$changed" "${prefix}.moved")
    record "$n" "$rep" noop minicd "$ns" "$(jq '.requests' "${prefix}.out" 2>/dev/null || echo null)" "$check"
}

kubectl_noop() {
    local n=$1 rep=$2 ns=$3 prefix="${out}/runs/$(run_id "$1" "$2")-kubectl-noop" before after check changed
    settle
    before=$(versions "$ns")
    kubectl_apply "$prefix" "${out}/cache/kubectl-$ns" "$ns" "$n"
    after=$(versions "$ns")
    check=$(check_kubectl "${prefix}.out" "$n")
    changed=$(changed_versions "$before" "$after" "${prefix}.moved")
    check=$(judge_moved "$check" "$changed" "${prefix}.moved")
    record "$n" "$rep" noop kubectl "$ns" null "$check"
}

minicd_wait() {
    local n=$1 rep=$2 ns=$3 prefix="${out}/runs/$1-$2-minicd-wait"
    minicd_apply "$prefix" "${out}/cache/minicd-$ns" "$ns" "$n" --wait --timeout="$wait_timeout"
    record "$n" "$rep" cold-wait minicd "$ns" "$(jq '.requests' "${prefix}.out" 2>/dev/null || echo null)" \
        "$(check_minicd "${prefix}.out" "$n" created)"
}

# The kubectl way to the same point: apply, then wait for every Deployment to be Available.
kubectl_wait() {
    local n=$1 rep=$2 ns=$3 prefix="${out}/runs/$1-$2-kubectl-wait" check
    # shellcheck disable=SC2016 # the inner script reads its own positional arguments
    timed "$prefix" bash -c '"$1" apply --server-side --field-manager=bench --cache-dir "$2" -f "$3" -n "$4" &&
        "$1" wait --for=condition=Available deployment --all -n "$4" --timeout="$5" --cache-dir "$2"' \
        kubectl-wait "$kubectl" "${out}/cache/kubectl-$ns" "${out}/gen/${n}/manifests" "$ns" "$wait_timeout"
    check=$(check_kubectl "${prefix}.out" "$n")
    if [[ "$check" == ok ]] && (($(grep -c 'condition met$' "${prefix}.out" || true) != n / 4)); then
        check="WRONG: not every Deployment reported Available"
    fi
    record "$n" "$rep" cold-wait kubectl "$ns" null "$check"
}

floor_run() {  # n rep namespace parallel connections
    local n=$1 rep=$2 ns=$3 prefix="${out}/runs/$1-$2-floor-p$4-c$5" check
    timed "$prefix" "$floor" --server "$MINICD_TEST_APISERVER" --pki "$MINICD_TEST_PKI" --namespace "$ns" \
        --bodies "${out}/gen/${n}/floor.json" --parallel "$4" --connections "$5"
    check=$(jq -r 'if .failed == 0 then "ok" else "FAILED: \(.failed) failed; \(.firstFailure)" end' "${prefix}.out" 2>/dev/null ||
        echo "FAILED: exit ${rc}")
    record "$n" "$rep" cold "floor-p$4-c$5" "$ns" "$n" "$check"
}

one_repetition() {
    local n=$1 rep=$2 base="b$1-r$2" ns
    local spaces=("${base}-minicd" "${base}-kubectl" "${base}-mwait" "${base}-kwait" "${base}-floor8" "${base}-floor16")
    for ns in "${spaces[@]}"; do "$kubectl" create namespace "$ns" >/dev/null; done
    # Cold apply, into empty namespaces; who goes first alternates between repetitions.
    if ((rep % 2 == 1)); then
        minicd_cold "$n" "$rep" "${base}-minicd"
        kubectl_cold "$n" "$rep" "${base}-kubectl"
    else
        kubectl_cold "$n" "$rep" "${base}-kubectl"
        minicd_cold "$n" "$rep" "${base}-minicd"
    fi
    # Re-apply of the same manifests, with the discovery cache each tool left behind.
    if ((rep % 2 == 1)); then
        minicd_noop "$n" "$rep" "${base}-minicd"
        kubectl_noop "$n" "$rep" "${base}-kubectl"
    else
        kubectl_noop "$n" "$rep" "${base}-kubectl"
        minicd_noop "$n" "$rep" "${base}-minicd"
    fi
    # Apply and wait until ready, for information: the simulated nodes set the pace here.
    if [[ " ${wait_sizes} " != *" ${n} "* ]]; then
        :
    elif ((rep % 2 == 1)); then
        minicd_wait "$n" "$rep" "${base}-mwait"
        kubectl_wait "$n" "$rep" "${base}-kwait"
    else
        kubectl_wait "$n" "$rep" "${base}-kwait"
        minicd_wait "$n" "$rep" "${base}-mwait"
    fi
    floor_run "$n" "$rep" "${base}-floor8" 8 8
    floor_run "$n" "$rep" "${base}-floor16" 16 1
    log "N=${n} rep ${rep}: deleting its namespaces"
    "$kubectl" delete namespace "${spaces[@]}" --wait=true --timeout=600s >/dev/null
}

# --- The large-objects set ---------------------------------------------------------------------------

# Deletes every CRD of the large set (there are no custom resources, so this is quick) and fails the
# benchmark if any is left: the next repetition must start without the previous one's definitions.
remove_large_crds() {
    local left
    "$kubectl" delete customresourcedefinitions -l bench-set=large --ignore-not-found --wait=true \
        --timeout=300s >/dev/null
    left=$("$kubectl" get customresourcedefinitions -l bench-set=large -o name 2>/dev/null)
    [[ -z "$left" ]] || { log "CRDs of the large set are still there: ${left//$'\n'/ }"; exit 1; }
}

# The namespace's copy of gen_large.py's template: "{ns}" (the CRDs' group) becomes the namespace.
render_large() {  # namespace
    mkdir -p "${out}/gen/large/$1/manifests"
    sed "s/{ns}/$1/g" "${out}/gen/large/template/install.yaml" >"${out}/gen/large/$1/manifests/install.yaml"
}

large_repetition() {
    local rep=$1 n=$large_n base="bl-r$1" ns
    local spaces=("${base}-minicd" "${base}-kubectl")
    remove_large_crds
    for ns in "${spaces[@]}"; do
        "$kubectl" create namespace "$ns" >/dev/null
        render_large "$ns"
    done
    bench_set=large
    # Cold apply, into empty namespaces, CRDs included; who goes first alternates between repetitions.
    # minicd waits for its CRDs to be Established as part of any apply; kubectl does not.
    if ((rep % 2 == 1)); then
        minicd_cold "$n" "$rep" "${base}-minicd"
        kubectl_cold "$n" "$rep" "${base}-kubectl"
    else
        kubectl_cold "$n" "$rep" "${base}-kubectl"
        minicd_cold "$n" "$rep" "${base}-minicd"
    fi
    # Re-apply of the same manifests, with the discovery cache each tool left behind.
    if ((rep % 2 == 1)); then
        minicd_noop "$n" "$rep" "${base}-minicd"
        kubectl_noop "$n" "$rep" "${base}-kubectl"
    else
        kubectl_noop "$n" "$rep" "${base}-kubectl"
        minicd_noop "$n" "$rep" "${base}-minicd"
    fi
    bench_set=small
    log "large rep ${rep}: deleting its namespaces and CRDs"
    "$kubectl" delete namespace "${spaces[@]}" --wait=true --timeout=600s >/dev/null
    remove_large_crds
}

main() {
    ((reps >= 3)) || { log "BENCH_REPS must be at least 3"; exit 2; }
    local set
    for set in $scenarios; do
        [[ "$set" == small || "$set" == large ]] || { log "BENCH_SCENARIOS: unknown set '${set}' (small, large)"; exit 2; }
    done
    mkdir -p "$out"
    rm -rf "${out}/runs" "${out}/cache" "${out}/gen" "$results"
    mkdir -p "${out}/runs" "${out}/cache"
    kubectl=$(pick_kubectl)
    build_minicd
    local n
    if selected small; then
        build_floor
        for n in $sizes; do python3 "${here}/gen_manifests.py" "$n" "${out}/gen/${n}" >/dev/null; done
    fi
    if selected large; then
        python3 "${here}/gen_large.py" "${out}/gen/large" >/dev/null
        large_n=$(jq '.objects' "${out}/gen/large/sizes.json")
    fi

    trap cleanup EXIT
    trap 'exit 130' INT TERM
    log "starting the cluster in ${cluster_dir} (${MINICD_TESTENV_NODES} simulated nodes)"
    "${repo}/testenv/cluster" down --dir "$cluster_dir" >/dev/null 2>&1 || true
    "${repo}/testenv/cluster" up --dir "$cluster_dir" >"${out}/cluster-up.log" 2>&1
    # shellcheck source=/dev/null
    source "${cluster_dir}/env"

    # The idle request rate (leases, node heartbeats) decides when the server counts as settled.
    local a b
    sleep 5
    a=$(request_total)
    sleep 10
    b=$(request_total)
    idle_threshold=$(((b - a) * 2 / 10 + 5))
    log "idle: $((b - a)) requests in 10 s; settled means <= ${idle_threshold} requests/s for 3 s"

    {
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
        echo "kernel: $(uname -r)"
        echo "os: $(grep -m1 PRETTY_NAME /etc/os-release | cut -d= -f2 | tr -d '"')"
        echo "minicd: $("$minicd" --version 2>&1 | head -1) (${minicd}; work tree at $(git -C "$repo" rev-parse --short HEAD), $(git -C "$repo" status --porcelain | wc -l | tr -d ' ') changed paths)"
        echo "kubectl: $("$kubectl" version --client 2>/dev/null | head -1) (${kubectl})"
        echo "server: $("$kubectl" version 2>/dev/null | grep Server)"
        echo "curl: $(curl --version | head -1)"
        echo "g++: $(g++ --version | head -1)"
        echo "nodes: ${MINICD_TESTENV_NODES} kwok nodes"
        echo "idle requests/10s: $((b - a))"
        if selected large; then
            echo "large set: $(jq -c '{objects, bytes, crdBytes, kinds}' "${out}/gen/large/sizes.json")"
        fi
        echo "load at start: $(cat /proc/loadavg)"
    } >"${out}/machine.txt"

    local rep
    for set in $scenarios; do
        if [[ "$set" == small ]]; then
            for n in $sizes; do
                for ((rep = 1; rep <= reps; rep++)); do
                    one_repetition "$n" "$rep"
                done
            done
        else
            for ((rep = 1; rep <= reps; rep++)); do
                large_repetition "$rep"
            done
        fi
    done
    echo "load at end: $(cat /proc/loadavg)" >>"${out}/machine.txt"

    cat "${out}/machine.txt"
    echo
    python3 "${here}/summarize.py" "$results" | tee "${out}/summary.md"
}

main "$@"
