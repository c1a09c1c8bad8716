#!/usr/bin/env bash
# Side-by-side benchmark: `minicd rollback` vs `helm rollback` of the same 1000 objects, without and
# with waiting for readiness, on a real kube-apiserver on loopback (testenv). Not a test: it asserts
# no timings; it records them and prints Markdown tables (bench/rollback/README.md explains them).
#
#   bench/rollback/run.sh                     # 3 repetitions, prints the tables
#   bench/rollback/run.sh --write-results     # the same, and writes bench/rollback/RESULTS.md
#   BENCH_REPS=5 BENCH_HELM_CONFIGS="unlimited defaults" bench/rollback/run.sh
#
# Each repetition gives every tool a fresh namespace and runs, one phase at a time for all tools
# (who goes first rotates between repetitions), every command timed the same way:
#   deploy-v1      minicd apply v1 / helm upgrade --install v1 (waiting until ready)
#   deploy-v2      the same with v2
#   rollback       minicd rollback --to 1 --no-wait / helm rollback REL 1      <- measured
#   redeploy-v2    v2 again, waiting, so the next rollback has the same work to do
#   rollback-wait  minicd rollback --to 1 / helm rollback REL 1 --wait          <- measured
# After each rollback the namespace is checked to hold v1 again (ConfigMap data, images; after
# rollback-wait also every Deployment rolled out).
#
# Environment knobs:
#   BENCH_REPS           repetitions (default 3, at least 3); medians are reported
#   BENCH_OUT            work and raw-results directory (default /tmp/bench-rollback)
#   BENCH_CONFIGMAPS / BENCH_DEPLOYMENTS / BENCH_SERVICES   the objects (default 900 / 50 / 50)
#   BENCH_TIMEOUT        readiness timeout given to every command (default 10m)
#   BENCH_HELM_CONFIGS   helm client settings to measure, each as a tool of its own (default "unlimited"):
#                          unlimited  tool "helm": HELM_QPS=-1, client-side rate limiting off
#                          defaults   tool "helm-defaults": helm as shipped (client-go's 5 requests/s
#                                     after a burst of 100); slow: tens of minutes per repetition
#   MINICD               minicd binary (default: build-bench/src/minicd/minicd, a Release build brought
#                        up to date from the work tree first, as bench/apply does)
#   BENCH_MINICD_REDEPLOY_FLAGS  extra flags for the redeploy-v2 apply (default: --force when
#                        `minicd apply --help` lists it, since a rollback holds the release it replaced)
#   HELM                 helm binary (default: testenv/build_helm.sh builds helm.sh/helm/v4 at
#                        MINICD_TESTENV_HELM_VERSION, default v4.3.2, from the Go module proxy into the cache)
#   BENCH_CLUSTER_ENV    the env file (DIR/env) of a running testenv cluster to use instead of starting
#                        one; it is left running, only this run's namespaces are deleted
#   MINICD_TESTENV_NODES simulated nodes when the script starts the cluster (default 4)
#   KUBECTL              kubectl for namespaces and checks, never timed (default kubectl on PATH)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${here}/../.." && pwd)
reps=${BENCH_REPS:-3}
out=${BENCH_OUT:-/tmp/bench-rollback}
cluster_dir=/tmp/bench-rollback-cluster
given_cluster=${BENCH_CLUSTER_ENV:-}
minicd=${MINICD:-${repo}/build-bench/src/minicd/minicd}
given_minicd=${MINICD:+yes}
helm=${HELM:-}
helm_configs=${BENCH_HELM_CONFIGS:-unlimited}
timeout=${BENCH_TIMEOUT:-10m}
n_configmaps=${BENCH_CONFIGMAPS:-900}
n_deployments=${BENCH_DEPLOYMENTS:-50}
n_services=${BENCH_SERVICES:-50}
results=${out}/results.jsonl
gen=${out}/gen
# 4 simulated nodes × 110 pods: room for every tool's Deployments and their rolling updates.
export MINICD_TESTENV_NODES=${MINICD_TESTENV_NODES:-4}
readonly k_app=bench k_env=rb k_release=bench
readonly k_phases=(deploy-v1 deploy-v2 rollback redeploy-v2 rollback-wait)

write_results=no
for arg in "$@"; do
    case "$arg" in
    --write-results) write_results=yes ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) printf 'run.sh: unknown argument %s (see --help)\n' "$arg" >&2; exit 2 ;;
    esac
done

log() { printf '[bench-rollback %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "$*"; exit 1; }

tools=(minicd)
for config in $helm_configs; do
    case "$config" in
    unlimited) tools+=(helm) ;;
    defaults) tools+=(helm-defaults) ;;
    *) die "BENCH_HELM_CONFIGS: unknown setting '${config}' (unlimited, defaults)" ;;
    esac
done
namespaces=()  # of the current repetition

cleanup() {
    local rc=$?
    if [[ -n "$given_cluster" ]]; then
        if ((${#namespaces[@]})); then
            log "deleting this run's namespaces (${namespaces[*]})"
            "$kubectl" delete namespace "${namespaces[@]}" --ignore-not-found --wait=false >/dev/null 2>&1 || true
        fi
    else
        log "taking the cluster down"
        "${repo}/testenv/cluster" down --dir "$cluster_dir" >/dev/null 2>&1 || true
    fi
    exit "$rc"
}

build_minicd() {
    [[ -n "$given_minicd" ]] && return 0
    log "building minicd (Release) in ${repo}/build-bench"
    # g++ 12 at -O3 reports false -Wrestrict (GCC bug 105651) and -Wmaybe-uninitialized warnings in
    # libstdc++ code; keep them warnings so the Release build goes through.
    cmake -S "$repo" -B "${repo}/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMINICD_BUILD_TESTS=OFF \
        -DCMAKE_CXX_FLAGS="-Wno-error=restrict -Wno-error=maybe-uninitialized" >/dev/null
    ninja -C "${repo}/build-bench" minicd >/dev/null
}

# The minicd under test must have the rollback command; the flags it takes decide the command lines.
inspect_minicd() {
    [[ -x "$minicd" ]] || die "no minicd binary at ${minicd} (set MINICD)"
    local rollback_help apply_help
    rollback_help=$("$minicd" rollback --help 2>&1) || die "${minicd} has no rollback command"
    apply_help=$("$minicd" apply --help 2>&1) || true
    rollback_flags=()
    if grep -qE -- '--timeout([ ,=]|$)' <<<"$rollback_help"; then rollback_flags+=(--timeout "$timeout"); fi
    if [[ -n "${BENCH_MINICD_REDEPLOY_FLAGS+set}" ]]; then
        read -r -a redeploy_flags <<<"$BENCH_MINICD_REDEPLOY_FLAGS"
    elif grep -qE -- '(^|[ ,])--force([ ,=]|$)' <<<"$apply_help"; then
        redeploy_flags=(--force)
    else
        redeploy_flags=()
    fi
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

# Controllers keep reacting to the last command (ReplicaSets, Pods, EndpointSlices, namespace
# deletion); the next measurement starts only when the server is back to its idle request rate.
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
    local prefix=$1 start end
    shift
    settle
    load1=$(cut -d' ' -f1 /proc/loadavg)
    scrape >"${prefix}.before"
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
    metrics_json=$(python3 "${here}/metrics_delta.py" "${prefix}.before" "${prefix}.after")
}

# Appends one result line. Args: rep phase tool namespace self_requests check
record() {
    local check=$6 writes
    writes=$(jq '.nodeNotReadyWrites // 0' <<<"$metrics_json")
    if ((writes > 0)) && [[ "$check" == ok* ]]; then
        check+="; cluster: the node lifecycle controller marked nodes/pods not ready during the run (${writes} writes)"
    fi
    jq -cn --argjson rep "$1" --arg scenario "$2" --arg tool "$3" --arg ns "$4" --argjson self "${5:-null}" \
        --arg check "$check" --argjson wall "$wall_ms" --argjson rc "$rc" --argjson rss "${rss_kb:-0}" \
        --argjson user "${user_s:-0}" --argjson sys "${sys_s:-0}" --argjson load "$load1" \
        --argjson metrics "$metrics_json" \
        '{rep: $rep, scenario: $scenario, tool: $tool, ns: $ns, wall_ms: $wall, rc: $rc, self_requests: $self,
          metrics: $metrics, rss_kb: $rss, cpu_s: ($user + $sys), load1: $load, check: $check}' >>"$results"
    log "rep $1 ${2} ${3}: ${wall_ms} ms, rc ${rc}, requests self ${5:-?} / metrics $(jq -c '[.client, .total]' <<<"$metrics_json"), ${check}"
}

# What the namespace holds, against what VERSION declares: "ok" or "WRONG: ...". With READY=true
# every Deployment must also have rolled out (observed, updated and available).
check_state() {  # namespace version ready
    local image="registry.test/web:${2#v}" objects="${out}/last-check.json"
    if ! "$kubectl" get configmaps,services,deployments -n "$1" -l bench=rollback -o json >"$objects" 2>"${objects%.json}.err"; then
        echo "FAILED: could not read the namespace ($(head -c 200 "${objects%.json}.err"))"
        return
    fi
    jq -r --arg v "$2" --arg image "$image" --argjson cms "$n_configmaps" --argjson deps "$n_deployments" \
        --argjson svcs "$n_services" --argjson ready "$3" '
        [.items[] | select(.kind == "ConfigMap")] as $c
        | [.items[] | select(.kind == "Service")] as $s
        | [.items[] | select(.kind == "Deployment")] as $d
        | [ (if ($c | length) != $cms then "\($c | length) of \($cms) ConfigMaps" else empty end),
            ([$c[] | select(.data.release != $v)] | length | if . > 0 then "\(.) ConfigMaps not at \($v)" else empty end),
            (if ($s | length) != $svcs then "\($s | length) of \($svcs) Services" else empty end),
            (if ($d | length) != $deps then "\($d | length) of \($deps) Deployments" else empty end),
            ([$d[] | select(.spec.template.spec.containers[0].image != $image)] | length
             | if . > 0 then "\(.) Deployments not at \($image)" else empty end),
            (if $ready then
               [$d[] | select((.status.observedGeneration // 0) < .metadata.generation
                              or (.status.updatedReplicas // 0) != .spec.replicas
                              or (.status.availableReplicas // 0) < .spec.replicas)] | length
               | if . > 0 then "\(.) Deployments not rolled out" else empty end
             else empty end) ]
        | if length == 0 then "ok" else "WRONG: " + join("; ") end' "$objects" 2>/dev/null ||
        echo "FAILED: kubectl's answer is not the expected JSON (${objects})"
}

# The tool's own verdict: minicd's JSON report (a rollback's must name revision 1 as the one it
# restored), or helm's exit code.
check_output() {  # tool prefix phase
    if [[ "$1" == minicd ]]; then
        jq -r --arg phase "$3" '
            if .succeeded != true then "FAILED: \(.failure // "no failure text")"
            elif ($phase | startswith("rollback")) and (.rollbackTo // 1) != 1 then "WRONG: rolled back to \(.rollbackTo)"
            else "ok" end' "${2}.out" 2>/dev/null ||
            echo "FAILED: exit ${rc}, no JSON report ($(tail -n 1 "${2}.err" | head -c 200))"
    elif ((rc == 0)); then
        echo ok
    else
        echo "FAILED: exit ${rc} ($(tail -n 1 "${2}.err" | head -c 200))"
    fi
}

# The environment one tool runs in: its own discovery cache per namespace, helm's client settings.
tool_env() {  # tool namespace
    local cache="${out}/cache/$2"
    case "$1" in
    minicd) printf '%s\n' "XDG_CACHE_HOME=${cache}" ;;
    helm | helm-defaults)
        printf '%s\n' "KUBECACHEDIR=${cache}/kube" "HELM_CACHE_HOME=${cache}/helm/cache" \
            "HELM_CONFIG_HOME=${cache}/helm/config" "HELM_DATA_HOME=${cache}/helm/data"
        if [[ "$1" == helm ]]; then printf '%s\n' "HELM_QPS=-1"; fi
        ;;
    esac
}

# The command of one phase for one tool, into the array `cmd_line`.
phase_command() {  # phase tool namespace
    local phase=$1 tool=$2 ns=$3 version environment
    mapfile -t environment < <(tool_env "$tool" "$ns")
    cmd_line=(env -u HELM_QPS -u HELM_BURST_LIMIT "${environment[@]}")
    case "$phase" in
    deploy-v1) version=v1 ;;
    deploy-v2 | redeploy-v2) version=v2 ;;
    esac
    if [[ "$tool" == minicd ]]; then
        case "$phase" in
        deploy-* | redeploy-*)
            cmd_line+=("$minicd" apply -f "${gen}/${version}/manifests" -n "$ns" --app "$k_app" --env "$k_env" --prune
                --timeout "$timeout" -o json)
            if [[ "$phase" == redeploy-v2 ]]; then cmd_line+=("${redeploy_flags[@]}"); fi
            ;;
        rollback) cmd_line+=("$minicd" rollback -n "$ns" --app "$k_app" --env "$k_env" --to 1 --no-wait "${rollback_flags[@]}" -o json) ;;
        rollback-wait) cmd_line+=("$minicd" rollback -n "$ns" --app "$k_app" --env "$k_env" --to 1 "${rollback_flags[@]}" -o json) ;;
        esac
    else
        case "$phase" in
        deploy-* | redeploy-*)
            cmd_line+=("$helm" upgrade --install "$k_release" "${gen}/${version}/chart" -n "$ns" --wait --timeout "$timeout") ;;
        rollback) cmd_line+=("$helm" rollback "$k_release" 1 -n "$ns" --timeout "$timeout") ;;
        rollback-wait) cmd_line+=("$helm" rollback "$k_release" 1 -n "$ns" --wait --timeout "$timeout") ;;
        esac
    fi
}

declare -A broken  # tool -> the phase that failed in this repetition

run_phase() {  # rep phase tool namespace
    local rep=$1 phase=$2 tool=$3 ns=$4 prefix="${out}/runs/r$1-$3-$2" check state self=null version=v1 ready=false
    if [[ -n "${broken[$tool]:-}" ]]; then
        wall_ms=0 rc=-1 rss_kb=0 user_s=0 sys_s=0 load1=0 metrics_json='{}'
        record "$rep" "$phase" "$tool" "$ns" null "SKIPPED: ${broken[$tool]} failed earlier in this repetition"
        return
    fi
    phase_command "$phase" "$tool" "$ns"
    printf '%q ' "${cmd_line[@]}" >"${prefix}.cmd"
    timed "$prefix" "${cmd_line[@]}"
    check=$(check_output "$tool" "$prefix" "$phase")
    [[ "$tool" == minicd ]] && self=$(jq '.requests // null' "${prefix}.out" 2>/dev/null || echo null)
    case "$phase" in
    deploy-v1) ready=true ;;
    deploy-v2 | redeploy-v2) version=v2 ready=true ;;
    rollback-wait) ready=true ;;
    esac
    if [[ "$check" == ok ]]; then
        state=$(check_state "$ns" "$version" "$ready")
        [[ "$state" == ok ]] || check="$state"
    fi
    # A failed deploy leaves the next rollback different work, so that tool sits out the rest of the
    # repetition; after a failed rollback, redeploy-v2 sets the scene again.
    if [[ "$check" != ok && "$phase" != rollback* ]]; then broken[$tool]=$phase; fi
    record "$rep" "$phase" "$tool" "$ns" "$self" "$check"
}

one_repetition() {
    local rep=$1 phase tool ns i order=()
    broken=()
    # Who goes first rotates between repetitions.
    for ((i = 0; i < ${#tools[@]}; i++)); do order+=("${tools[(i + rep - 1) % ${#tools[@]}]}"); done
    namespaces=()
    for tool in "${tools[@]}"; do namespaces+=("rb-r${rep}-${tool}"); done
    "$kubectl" delete namespace "${namespaces[@]}" --ignore-not-found --wait=true --timeout=600s >/dev/null
    for ns in "${namespaces[@]}"; do "$kubectl" create namespace "$ns" >/dev/null; done
    for phase in "${k_phases[@]}"; do
        for tool in "${order[@]}"; do
            run_phase "$rep" "$phase" "$tool" "rb-r${rep}-${tool}"
        done
    done
    log "rep ${rep}: deleting its namespaces"
    "$kubectl" delete namespace "${namespaces[@]}" --wait=true --timeout=600s >/dev/null
    namespaces=()
}

start_cluster() {
    if [[ -n "$given_cluster" ]]; then
        log "using the cluster of ${given_cluster}"
        # shellcheck source=/dev/null
        source "$given_cluster"
        return
    fi
    log "starting the cluster in ${cluster_dir} (${MINICD_TESTENV_NODES} simulated nodes)"
    "${repo}/testenv/cluster" down --dir "$cluster_dir" >/dev/null 2>&1 || true
    "${repo}/testenv/cluster" up --dir "$cluster_dir" >"${out}/cluster-up.log" 2>&1 ||
        die "the cluster did not start, see ${out}/cluster-up.log"
    # shellcheck source=/dev/null
    source "${cluster_dir}/env"
}

describe_machine() {
    local idle=$1
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel: $(uname -r)"
    echo "os: $(grep -m1 PRETTY_NAME /etc/os-release | cut -d= -f2 | tr -d '"')"
    echo "minicd: $("$minicd" --version 2>&1 | head -1) (${minicd}; work tree at $(git -C "$repo" rev-parse --short HEAD), $(git -C "$repo" status --porcelain | wc -l | tr -d ' ') changed paths)"
    echo "minicd rollback flags: ${rollback_flags[*]:-none extra}; redeploy flags: ${redeploy_flags[*]:-none}"
    echo "helm: $(env -u HELM_QPS "$helm" version --short 2>&1 | head -1) (${helm}); tools: ${tools[*]}"
    echo "server: $("$kubectl" version 2>/dev/null | grep Server)"
    echo "cluster: ${given_cluster:-testenv started by run.sh, ${MINICD_TESTENV_NODES} kwok nodes}"
    echo "objects: $(jq -c '{objects, kinds, changedV1ToV2, bytes, helmReleaseSecretBytes}' "${gen}/sizes.json")"
    echo "idle requests/10s: ${idle}"
    echo "load at start: $(cat /proc/loadavg)"
}

write_results_md() {
    local command_line knobs
    knobs=$(env | grep -E '^(BENCH_[A-Z_]+|MINICD|HELM|MINICD_TESTENV_NODES)=' | sort | tr '\n' ' ' || true)
    command_line="${knobs}bench/rollback/run.sh --write-results"
    {
        echo "# minicd rollback vs helm rollback (${n_configmaps} ConfigMaps, ${n_deployments} Deployments, ${n_services} Services)"
        echo
        echo "Command: \`${command_line}\`. Raw rows: \`${results}\`; bench/rollback/README.md says what"
        echo "each phase does and how requests and memory are counted. Written by run.sh; add notes below the tables."
        echo
        echo '```'
        cat "${out}/machine.txt"
        echo '```'
        echo
        cat "${out}/summary.md"
    } >"${here}/RESULTS.md"
    log "wrote ${here}/RESULTS.md"
}

main() {
    ((reps >= 3)) || die "BENCH_REPS must be at least 3"
    for tool in jq curl python3 /usr/bin/time; do
        command -v "$tool" >/dev/null 2>&1 || die "required command '${tool}' not found"
    done
    kubectl=${KUBECTL:-$(command -v kubectl || true)}
    [[ -n "$kubectl" ]] || die "kubectl not found (set KUBECTL)"
    mkdir -p "$out"
    rm -rf "${out}/runs" "${out}/cache" "$gen" "$results"
    mkdir -p "${out}/runs" "${out}/cache"

    build_minicd
    inspect_minicd
    if [[ -z "$helm" ]]; then helm=$("${here}/../../testenv/build_helm.sh"); fi
    [[ -x "$helm" ]] || die "no helm binary at ${helm}"
    python3 "${here}/gen_rollback.py" "$gen" --configmaps "$n_configmaps" --deployments "$n_deployments" \
        --services "$n_services" >/dev/null

    trap cleanup EXIT
    trap 'exit 130' INT TERM
    start_cluster

    # The idle request rate (leases, node heartbeats) decides when the server counts as settled.
    local a b rep
    sleep 5
    a=$(request_total)
    sleep 10
    b=$(request_total)
    idle_threshold=$(((b - a) * 2 / 10 + 5))
    log "idle: $((b - a)) requests in 10 s; settled means <= ${idle_threshold} requests/s for 3 s"
    describe_machine "$((b - a))" >"${out}/machine.txt"

    for ((rep = 1; rep <= reps; rep++)); do
        one_repetition "$rep"
    done
    echo "load at end: $(cat /proc/loadavg)" >>"${out}/machine.txt"

    cat "${out}/machine.txt"
    echo
    python3 "${here}/summarize.py" "$results" | tee "${out}/summary.md"
    if [[ "$write_results" == yes ]]; then write_results_md; fi
}

main "$@"
