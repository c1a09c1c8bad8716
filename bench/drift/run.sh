#!/usr/bin/env bash
# Side-by-side benchmark: `minicd drift` vs `kubectl diff --server-side` on the same objects, deployed
# by minicd, first with nothing changed and then after some of them were changed by hand, on a real
# kube-apiserver on loopback (testenv). Not a test: it asserts no timings; it records them and prints
# Markdown tables (bench/drift/README.md explains them).
#
#   bench/drift/run.sh                        # 3 repetitions of each set; prints the tables
#   bench/drift/run.sh --write-results        # the same, and writes bench/drift/RESULTS.md
#   BENCH_SETS=small BENCH_REPS=5 bench/drift/run.sh
#
# Sets of objects (BENCH_SETS, default "small large"):
#   small  bench/rollback/gen_rollback.py's v1: 900 ConfigMaps, 50 Deployments, 50 Services
#   large  bench/apply/gen_large.py: 59 objects in ~1.9 MB, three CRDs of ~100, 250 and 400 kB (the
#          CRDs' group names the namespace, so every repetition has definitions of its own)
# Each repetition of a set deploys it into a fresh namespace, then runs the phases one at a time for
# all tools (who goes first rotates between repetitions), every command timed the same way:
#   deploy     minicd apply -f DIR -n NS --app bench --env drift --prune --no-wait -o json   (setup)
#   in-sync    minicd drift -n NS --app bench --env drift -m DIR -o json                      <- measured
#              kubectl diff --server-side --field-manager=minicd --force-conflicts -f VIEW -n NS
#   (untimed)  kubectl patch on 8 ConfigMaps, kubectl set image on 2 Deployments
#   drifted    the same commands again                                                       <- measured
# Both tools read the same namespace; neither writes (kubectl's apply is a dry run). VIEW is DIR plus
# the labels and annotations minicd put on the objects, read back from their managedFields: a dry run
# as minicd's field manager then asks for what minicd applied. Checks: in sync, minicd exits 0 and
# reports nothing, kubectl diff exits 0 and prints nothing; drifted, minicd exits 3 and reports exactly
# the changed objects, kubectl diff exits 1 and shows exactly them.
#
# Environment knobs:
#   BENCH_REPS           repetitions per set (default 3, at least 3); medians are reported
#   BENCH_OUT            work and raw-results directory (default /tmp/bench-drift)
#   BENCH_SETS           sets to run, in this order (default "small large")
#   BENCH_CONFIGMAPS / BENCH_DEPLOYMENTS / BENCH_SERVICES   the small set (default 900 / 50 / 50)
#   BENCH_DRIFT_CONFIGMAPS / BENCH_DRIFT_DEPLOYMENTS  objects changed by hand (default 8 / 2)
#   BENCH_KUBECTL_CONCURRENCY  kubectl diff settings to measure, each as a tool of its own (default
#                        "1 8"): 1 is tool "kubectl", kubectl diff as shipped (one object at a time);
#                        N > 1 is tool "kubectl-cN" with --concurrency=N (minicd drift reads with 8)
#   BENCH_MINICD_DRIFT_FLAGS   extra flags for minicd drift (default none)
#   MINICD               minicd binary (default: build-bench/src/minicd/minicd, a Release build brought
#                        up to date from the work tree first, as bench/apply does); it must have `drift`
#   KUBECTL              kubectl binary, timed (default kubectl 1.33 from google-cloud-sdk if it runs,
#                        else kubectl on PATH, as bench/apply picks it)
#   BENCH_CLUSTER_ENV    the env file (DIR/env) of a running testenv cluster to use instead of starting
#                        one; it is left running, only this run's namespaces (and CRDs) are deleted
#   MINICD_TESTENV_NODES simulated nodes when the script starts the cluster (default 4)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${here}/../.." && pwd)
reps=${BENCH_REPS:-3}
out=${BENCH_OUT:-/tmp/bench-drift}
sets=${BENCH_SETS:-"small large"}
cluster_dir=/tmp/bench-drift-cluster
given_cluster=${BENCH_CLUSTER_ENV:-}
minicd=${MINICD:-${repo}/build-bench/src/minicd/minicd}
given_minicd=${MINICD:+yes}
n_configmaps=${BENCH_CONFIGMAPS:-900}
n_deployments=${BENCH_DEPLOYMENTS:-50}
n_services=${BENCH_SERVICES:-50}
drift_configmaps=${BENCH_DRIFT_CONFIGMAPS:-8}
drift_deployments=${BENCH_DRIFT_DEPLOYMENTS:-2}
kubectl_concurrency=${BENCH_KUBECTL_CONCURRENCY:-"1 8"}
results=${out}/results.jsonl
gen=${out}/gen
# 4 simulated nodes × 110 pods: room for the small set's 50 Deployments and their rolling updates.
export MINICD_TESTENV_NODES=${MINICD_TESTENV_NODES:-4}
readonly k_app=bench k_env=drift k_manager=minicd
readonly k_phases=(in-sync drifted)

write_results=no
for arg in "$@"; do
    case "$arg" in
    --write-results) write_results=yes ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) printf 'run.sh: unknown argument %s (see --help)\n' "$arg" >&2; exit 2 ;;
    esac
done

log() { printf '[bench-drift %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "$*"; exit 1; }

tools=(minicd)
for c in $kubectl_concurrency; do
    [[ "$c" =~ ^[1-9][0-9]*$ ]] || die "BENCH_KUBECTL_CONCURRENCY: '${c}' is not a positive number"
    if ((c == 1)); then tools+=(kubectl); else tools+=("kubectl-c${c}"); fi
done
for set_name in $sets; do
    [[ "$set_name" == small || "$set_name" == large ]] || die "BENCH_SETS: unknown set '${set_name}' (small, large)"
done
namespaces=()  # of the current repetition
crds=()        # cluster-scoped, of the current repetition

cleanup() {
    local rc=$?
    if [[ -n "$given_cluster" ]]; then
        if ((${#namespaces[@]})); then
            log "deleting this run's namespaces (${namespaces[*]})"
            "$kubectl" delete namespace "${namespaces[@]}" --ignore-not-found --wait=false >/dev/null 2>&1 || true
        fi
        if ((${#crds[@]})); then
            "$kubectl" delete customresourcedefinitions "${crds[@]}" --ignore-not-found --wait=false >/dev/null 2>&1 || true
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

pick_kubectl() {
    if [[ -n "${KUBECTL:-}" ]]; then
        printf '%s\n' "$KUBECTL"
    elif /usr/lib/google-cloud-sdk/bin/kubectl.1.33 version --client >/dev/null 2>&1; then
        printf '%s\n' /usr/lib/google-cloud-sdk/bin/kubectl.1.33
    else
        command -v kubectl || true
    fi
}

# The minicd under test must have the drift command; kubectl diff must take the flags measured.
inspect_tools() {
    [[ -x "$minicd" ]] || die "no minicd binary at ${minicd} (set MINICD)"
    "$minicd" drift --help >/dev/null 2>&1 || die "${minicd} has no drift command"
    drift_flags=()
    if [[ -n "${BENCH_MINICD_DRIFT_FLAGS:-}" ]]; then read -r -a drift_flags <<<"$BENCH_MINICD_DRIFT_FLAGS"; fi
    local diff_help flag c
    diff_help=$("$kubectl" diff --help 2>&1) || die "${kubectl} has no diff command"
    for flag in --server-side --field-manager --force-conflicts; do
        grep -qE -- "${flag}([ =]|$)" <<<"$diff_help" || die "${kubectl} diff does not take ${flag}"
    done
    for c in $kubectl_concurrency; do
        if ((c > 1)) && ! grep -qE -- '--concurrency([ =]|$)' <<<"$diff_help"; then
            die "${kubectl} diff does not take --concurrency (BENCH_KUBECTL_CONCURRENCY=${kubectl_concurrency})"
        fi
    done
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

# Controllers keep reacting to the last change (ReplicaSets, Pods, EndpointSlices, namespace
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
    local kinds=()
    if [[ -n "$extra_kinds" ]]; then kinds=(--kinds "$extra_kinds"); fi
    metrics_json=$(python3 "${here}/request_counts.py" "${prefix}.before" "${prefix}.after" "${kinds[@]}")
}

# Appends one result line of the current set. Args: rep phase tool namespace self_requests check
record() {
    local check=$6 writes
    writes=$(jq '.nodeNotReadyWrites // 0' <<<"$metrics_json")
    if ((writes > 0)) && [[ "$check" == ok* ]]; then
        check+="; cluster: the node lifecycle controller marked nodes/pods not ready during the run (${writes} writes)"
    fi
    jq -cn --arg set "$set_name" --argjson n "$n_objects" --argjson changed "$n_changed" --argjson rep "$1" \
        --arg scenario "$2" --arg tool "$3" --arg ns "$4" --argjson self "${5:-null}" --arg check "$check" \
        --argjson wall "$wall_ms" --argjson rc "$rc" --argjson rss "${rss_kb:-0}" --argjson user "${user_s:-0}" \
        --argjson sys "${sys_s:-0}" --argjson load "$load1" --argjson metrics "$metrics_json" \
        '{set: $set, n: $n, changed: $changed, rep: $rep, scenario: $scenario, tool: $tool, ns: $ns, wall_ms: $wall,
          rc: $rc, self_requests: $self, metrics: $metrics, rss_kb: $rss, cpu_s: ($user + $sys), load1: $load,
          check: $check}' >>"$results"
    log "${set_name} rep $1 ${2} ${3}: ${wall_ms} ms, rc ${rc}, requests self ${5:-?} / metrics $(jq -c '[.client, .total]' <<<"$metrics_json"), ${check}"
}

skip() {  # rep phase tool namespace reason
    wall_ms=0 rc=-1 rss_kb=0 user_s=0 sys_s=0 load1=0 metrics_json='{}'
    record "$1" "$2" "$3" "$4" null "SKIPPED: $5"
}

# minicd apply's JSON report: succeeded, and every object created.
check_apply() {  # prefix
    [[ -s "${1}.out" ]] || { echo "FAILED: exit ${rc}, no output ($(tail -n 1 "${1}.err" | head -c 200))"; return; }
    jq -r --argjson n "$n_objects" '
        if .succeeded != true then "FAILED: \(.failure // "no failure text")"
        elif ([.objects[] | select(.action == "created")] | length) != $n
        then "WRONG: expected \($n) created, got \([.objects[].action] | group_by(.) | map("\(length) \(.[0])") | join(", "))"
        else "ok" end' "${1}.out" 2>/dev/null ||
        echo "FAILED: exit ${rc}, no JSON report ($(tail -n 1 "${1}.err" | head -c 200))"
}

# minicd drift: exit 0 and nothing drifted in sync; exit 3 and exactly the changed objects when
# drifted. What counts is environments[0].live without the entries of class "scaled" (information).
check_drift() {  # prefix phase
    local want_rc=0 want='[]'
    if [[ "$2" == drifted ]]; then
        want_rc=3
        want=$(jq -R 'split("\t") | {kind: .[2], name: .[3]}' "$changes" | jq -cs .)
    fi
    [[ -s "${1}.out" ]] || { echo "FAILED: exit ${rc}, no output ($(tail -n 1 "${1}.err" | head -c 200))"; return; }
    jq -r --argjson want "$want" --argjson rc "$rc" --argjson want_rc "$want_rc" '
        (.environments[0] // {}) as $e
        | [($e.live // [])[] | select(.class != "scaled")] as $found
        | [$want[] | . as $w | select([$found[] | select(.kind == $w.kind and .name == $w.name)] | length == 0)
           | "\(.kind)/\(.name)"] as $missing
        | if $e.status != "compared" then "FAILED: exit \($rc), \($e.status // "no environment"): \($e.error // "")"
          elif $rc != $want_rc then "WRONG: exit \($rc), expected \($want_rc)"
          elif ($found | length) != ($want | length) then
              "WRONG: \($found | length) drifted objects reported, expected \($want | length): \([$found[] | "\(.kind)/\(.name) \(.class)"] | .[:5] | join(", "))"
          elif ($missing | length) > 0 then "WRONG: not reported as drifted: \($missing | join(", "))"
          elif (($e.undeployed // []) | length) > 0 then
              "WRONG: reports undeployed changes, but the manifests are the ones deployed"
          else "ok" end' "${1}.out" 2>/dev/null ||
        echo "FAILED: exit ${rc}, no JSON report ($(tail -n 1 "${1}.err" | head -c 200))"
}

# kubectl diff: exit 0 and no output in sync; exit 1 and a diff of exactly the changed objects when
# drifted. kubectl names each object's file GROUP.VERSION.KIND.NAMESPACE.NAME (no GROUP for the core
# group); the diff's "+++" lines carry them.
check_kubectl_diff() {  # prefix phase namespace
    local shown expected=() kind name missing=() count
    if ((rc > 1)); then
        echo "FAILED: exit ${rc} ($(grep -v '^W[0-9]' "${1}.err" | tail -n 1 | head -c 200))"
        return
    fi
    shown=$(awk '/^\+\+\+ / { n = split($2, p, "/"); print p[n] }' "${1}.out" | sort -u)
    count=$(grep -c . <<<"$shown" || true)
    if [[ "$2" == in-sync ]]; then
        if ((rc == 0 && count == 0)); then
            echo ok
        else
            echo "WRONG: exit ${rc}, differences in ${count} objects: $(head -n 5 <<<"$shown" | tr '\n' ' ')"
        fi
        return
    fi
    while IFS=$'\t' read -r _ _ kind name _; do expected+=("${kind}.${3}.${name}"); done <"$changes"
    for name in "${expected[@]}"; do
        grep -qE "(^|[.])${name//./[.]}\$" <<<"$shown" || missing+=("$name")
    done
    if ((rc != 1)); then
        echo "WRONG: exit ${rc}, expected 1"
    elif ((${#missing[@]})); then
        echo "WRONG: no diff of ${missing[*]}"
    elif ((count != ${#expected[@]})); then
        echo "WRONG: differences in ${count} objects, expected ${#expected[@]}: $(tr '\n' ' ' <<<"$shown" | head -c 300)"
    else
        echo ok
    fi
}

# The command of one tool, into the array `cmd_line`.
tool_command() {  # tool namespace manifests view
    local tool=$1 ns=$2
    case "$tool" in
    minicd)
        cmd_line=(env "XDG_CACHE_HOME=${out}/cache/minicd-${ns}" "$minicd" drift -n "$ns" --app "$k_app"
            --env "$k_env" -m "$3" -o json "${drift_flags[@]}")
        ;;
    kubectl*)
        # kubectl's own diff program, so that exit codes and output are the documented ones.
        cmd_line=(env -u KUBECTL_EXTERNAL_DIFF "$kubectl" diff --server-side "--field-manager=${k_manager}"
            --force-conflicts --cache-dir "${out}/cache/kubectl-${ns}" -f "$4" -n "$ns")
        if [[ "$tool" == kubectl-c* ]]; then cmd_line+=("--concurrency=${tool#kubectl-c}"); fi
        ;;
    esac
}

declare -A broken  # tool -> why it sits out the rest of this repetition

run_phase() {  # rep phase tool namespace manifests view
    local rep=$1 phase=$2 tool=$3 ns=$4 prefix="${out}/runs/${set_name}-r$1-$3-$2" check self=null
    if [[ -n "${broken[$tool]:-}" ]]; then
        skip "$rep" "$phase" "$tool" "$ns" "${broken[$tool]}"
        return
    fi
    tool_command "$tool" "$ns" "$5" "$6"
    printf '%q ' "${cmd_line[@]}" >"${prefix}.cmd"
    timed "$prefix" "${cmd_line[@]}"
    if [[ "$tool" == minicd ]]; then
        check=$(check_drift "$prefix" "$phase")
        self=$(jq '.requests // null' "${prefix}.out" 2>/dev/null || echo null)
    else
        check=$(check_kubectl_diff "$prefix" "$phase" "$ns")
    fi
    record "$rep" "$phase" "$tool" "$ns" "$self" "$check"
}

# What minicd applied, as kubectl's input: the manifests plus minicd's labels and annotations.
prepare_view() {  # namespace manifests view
    local live="${out}/runs/${set_name}-live-$1.json" selector="minicd.io/app=${k_app},minicd.io/env=${k_env}"
    {
        "$kubectl" get "$live_kinds" -n "$1" -l "$selector" -o json --show-managed-fields
        if [[ "$set_name" == large ]]; then
            "$kubectl" get customresourcedefinitions -l "$selector" -o json --show-managed-fields
        fi
    } >"$live" 2>"${live%.json}.err" || return 1
    rm -rf "$3"
    python3 "${here}/objects.py" view "$2" "$3" "$live" --manager "$k_manager" >/dev/null 2>>"${live%.json}.err"
}

# Changes the objects of $changes by hand (untimed) and reads them back; prints "ok" or what failed.
make_drift() {  # namespace
    local ns=$1 role name key image patch got
    while IFS=$'\t' read -r role _ _ name key image; do
        case "$role" in
        ConfigMap)
            patch=$(jq -cn --arg k "$key" '{data: {($k): "changed by hand"}}')
            "$kubectl" patch configmap "$name" -n "$ns" --type merge -p "$patch" >/dev/null ||
                { echo "FAILED: kubectl patch configmap ${name}"; return; }
            ;;
        Deployment)
            "$kubectl" set image "deployment/${name}" "${key}=${image}" -n "$ns" >/dev/null ||
                { echo "FAILED: kubectl set image deployment/${name}"; return; }
            ;;
        esac
    done <"$changes"
    got=0
    while IFS=$'\t' read -r role _ _ name key image; do
        case "$role" in
        ConfigMap)
            [[ "$("$kubectl" get configmap "$name" -n "$ns" -o json | jq -r --arg k "$key" '.data[$k]')" == "changed by hand" ]] &&
                got=$((got + 1)) ;;
        Deployment)
            [[ "$("$kubectl" get deployment "$name" -n "$ns" -o json |
                jq -r --arg c "$key" '.spec.template.spec.containers[] | select(.name == $c) | .image')" == "$image" ]] &&
                got=$((got + 1)) ;;
        esac
    done <"$changes"
    if ((got == n_changed)); then echo ok; else echo "FAILED: ${got} of ${n_changed} changes read back"; fi
}

one_repetition() {  # rep
    local rep=$1 ns tool phase i order=() manifests view state prefix check
    broken=() crds=()
    for ((i = 0; i < ${#tools[@]}; i++)); do order+=("${tools[(i + rep - 1) % ${#tools[@]}]}"); done
    if [[ "$set_name" == small ]]; then ns="dr-r${rep}"; else ns="dl-r${rep}"; fi
    namespaces=("$ns")
    "$kubectl" delete namespace "$ns" --ignore-not-found --wait=true --timeout=600s >/dev/null
    if [[ "$set_name" == small ]]; then
        manifests="${gen}/small/v1/manifests"
    else
        # The namespace's copy of gen_large.py's template, as bench/apply renders it.
        manifests="${gen}/large/${ns}/manifests"
        mkdir -p "$manifests"
        sed "s/{ns}/${ns}/g" "${gen}/large/template/install.yaml" >"${manifests}/install.yaml"
        mapfile -t crds < <(python3 "${here}/objects.py" crds "$manifests")
        "$kubectl" delete customresourcedefinitions "${crds[@]}" --ignore-not-found --wait=true --timeout=300s >/dev/null
    fi
    "$kubectl" create namespace "$ns" >/dev/null
    view="${out}/views/${ns}"

    prefix="${out}/runs/${set_name}-r${rep}-minicd-deploy"
    cmd_line=(env "XDG_CACHE_HOME=${out}/cache/minicd-${ns}" "$minicd" apply -f "$manifests" -n "$ns" --app "$k_app"
        --env "$k_env" --prune --no-wait -o json)
    printf '%q ' "${cmd_line[@]}" >"${prefix}.cmd"
    timed "$prefix" "${cmd_line[@]}"
    check=$(check_apply "$prefix")
    record "$rep" deploy minicd "$ns" "$(jq '.requests // null' "${prefix}.out" 2>/dev/null || echo null)" "$check"
    if [[ "$check" != ok* ]]; then
        for tool in "${tools[@]}"; do broken[$tool]="the deploy failed in this repetition"; done
    elif ! prepare_view "$ns" "$manifests" "$view"; then
        log "could not write kubectl's input (see ${out}/runs/${set_name}-live-${ns}.err)"
        for tool in "${tools[@]}"; do
            [[ "$tool" == minicd ]] || broken[$tool]="kubectl's input could not be written (${set_name}-live-${ns}.err)"
        done
    else
        # kubectl finds its discovery cache warm, as minicd finds the one its deploy left.
        "$kubectl" diff --server-side "--field-manager=${k_manager}" --force-conflicts \
            --cache-dir "${out}/cache/kubectl-${ns}" -f "$(find "$view" -type f | sort | head -n 1)" -n "$ns" \
            >/dev/null 2>&1 || log "warning: kubectl's warm-up diff exited non-zero"
    fi

    for phase in "${k_phases[@]}"; do
        if [[ "$phase" == drifted && -z "${broken[minicd]:-}" ]]; then
            state=$(make_drift "$ns")
            log "${set_name} rep ${rep}: changed ${n_changed} objects by hand: ${state}"
            if [[ "$state" != ok ]]; then
                for tool in "${tools[@]}"; do broken[$tool]="changing the objects by hand failed (${state})"; done
            fi
        fi
        for tool in "${order[@]}"; do
            run_phase "$rep" "$phase" "$tool" "$ns" "$manifests" "$view"
        done
    done

    log "${set_name} rep ${rep}: deleting its namespace"
    "$kubectl" delete namespace "$ns" --wait=true --timeout=600s >/dev/null
    if ((${#crds[@]})); then
        "$kubectl" delete customresourcedefinitions "${crds[@]}" --ignore-not-found --wait=true --timeout=300s >/dev/null
    fi
    namespaces=() crds=()
}

# What one set reads, writes and changes by hand.
select_set() {  # set
    set_name=$1
    if [[ "$1" == small ]]; then
        live_kinds=configmaps,services,deployments
        extra_kinds=
        n_objects=$(jq '.objects' "${gen}/small/sizes.json")
        python3 "${here}/objects.py" pick "${gen}/small/v1/manifests" --configmaps "$drift_configmaps" \
            --deployments "$drift_deployments" >"${gen}/small/changes.tsv"
        changes="${gen}/small/changes.tsv"
    else
        live_kinds=configmaps,services,deployments,serviceaccounts,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io
        extra_kinds=serviceaccounts,roles,rolebindings,customresourcedefinitions
        n_objects=$(jq '.objects' "${gen}/large/sizes.json")
        python3 "${here}/objects.py" pick "${gen}/large/template/install.yaml" --configmaps "$drift_configmaps" \
            --deployments "$drift_deployments" >"${gen}/large/changes.tsv"
        changes="${gen}/large/changes.tsv"
    fi
    n_changed=$(grep -c . "$changes")
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
    local idle=$1 s
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel: $(uname -r)"
    echo "os: $(grep -m1 PRETTY_NAME /etc/os-release | cut -d= -f2 | tr -d '"')"
    echo "minicd: $("$minicd" --version 2>&1 | head -1) (${minicd}; work tree at $(git -C "$repo" rev-parse --short HEAD), $(git -C "$repo" status --porcelain | wc -l | tr -d ' ') changed paths)"
    echo "minicd drift extra flags: ${drift_flags[*]:-none}"
    echo "kubectl: $("$kubectl" version --client 2>/dev/null | head -1) (${kubectl}); tools: ${tools[*]}"
    echo "server: $("$kubectl" version 2>/dev/null | grep Server)"
    echo "cluster: ${given_cluster:-testenv started by run.sh, ${MINICD_TESTENV_NODES} kwok nodes}"
    for s in $sets; do
        if [[ "$s" == small ]]; then
            echo "small set: $(jq -c '{objects, kinds, bytes: .bytes.v1}' "${gen}/small/sizes.json")"
        else
            echo "large set: $(jq -c '{objects, kinds, bytes, crdBytes}' "${gen}/large/sizes.json")"
        fi
        echo "${s} set, changed by hand: $(cut -f3,4 "${gen}/${s}/changes.tsv" | tr '\t' '/' | tr '\n' ' ')"
    done
    echo "idle requests/10s: ${idle}"
    echo "load at start: $(cat /proc/loadavg)"
}

write_results_md() {
    local command_line knobs
    knobs=$(env | grep -E '^(BENCH_[A-Z_]+|MINICD|KUBECTL|MINICD_TESTENV_NODES)=' | sort | tr '\n' ' ' || true)
    command_line="${knobs}bench/drift/run.sh --write-results"
    {
        echo "# minicd drift vs kubectl diff --server-side"
        echo
        echo "Command: \`${command_line}\`. Raw rows: \`${results}\`; bench/drift/README.md says what"
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
    kubectl=$(pick_kubectl)
    [[ -n "$kubectl" ]] || die "kubectl not found (set KUBECTL)"
    mkdir -p "$out"
    rm -rf "${out}/runs" "${out}/cache" "${out}/views" "$gen" "$results"
    mkdir -p "${out}/runs" "${out}/cache" "${out}/views" "$gen"

    build_minicd
    inspect_tools
    local s
    for s in $sets; do
        if [[ "$s" == small ]]; then
            python3 "${repo}/bench/rollback/gen_rollback.py" "${gen}/small" --configmaps "$n_configmaps" \
                --deployments "$n_deployments" --services "$n_services" >/dev/null
        else
            python3 "${repo}/bench/apply/gen_large.py" "${gen}/large" >/dev/null
        fi
        select_set "$s"
    done

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

    for s in $sets; do
        select_set "$s"
        for ((rep = 1; rep <= reps; rep++)); do
            one_repetition "$rep"
        done
    done
    echo "load at end: $(cat /proc/loadavg)" >>"${out}/machine.txt"

    cat "${out}/machine.txt"
    echo
    python3 "${here}/summarize.py" "$results" | tee "${out}/summary.md"
    if [[ "$write_results" == yes ]]; then write_results_md; fi
}

main "$@"
