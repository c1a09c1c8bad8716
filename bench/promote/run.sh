#!/usr/bin/env bash
# Side-by-side benchmark of promoting an image inside one registry: `minicd promote` (re-tag in the
# same repository, and a copy to another repository, which mounts blobs) vs `skopeo copy` vs pull +
# tag + push with buildah, on the plain test registry on loopback. Not a test: it asserts nothing
# about timings; it records them and prints Markdown tables (bench/promote/RESULTS.md explains them).
#
#   bench/promote/run.sh                        # 100 MB and 500 MB images, 3 repetitions each
#   BENCH_SIZES_MB="100" BENCH_REPS=5 bench/promote/run.sh
#   BENCH_LINK_MBIT="1000 250" bench/promote/run.sh    # also across rate-limited links (root)
#
# Environment knobs:
#   BENCH_SIZES_MB  image sizes in MB (default "100 500"); each image has BENCH_LAYERS random layers
#   BENCH_LAYERS    layers per image (default 4)
#   BENCH_REPS      repetitions per size and tool (default 3, at least 3)
#   BENCH_OUT       work and raw-results directory (default /tmp/bench-promote)
#   MINICD          minicd binary to measure (default: build-promote-bench/src/minicd/minicd, a
#                   Release build brought up to date from the work tree first)
#   BENCH_LINK_MBIT link rates in Mbit/s to measure across as well (default none; needs root): each
#                   runs a second registry in a network namespace made here, reached over a veth
#                   pair that tbf limits to that rate in both directions (no added delay: this
#                   kernel has no netem), like a CI runner talking to a registry over its uplink
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${here}/../.." && pwd)
sizes=${BENCH_SIZES_MB:-"100 500"}
layers=${BENCH_LAYERS:-4}
reps=${BENCH_REPS:-3}
link_rates=${BENCH_LINK_MBIT:-}
out=${BENCH_OUT:-/tmp/bench-promote}
cluster_dir=/tmp/reg-bench
minicd=${MINICD:-${repo}/build-promote-bench/src/minicd/minicd}
given_minicd=${MINICD:+yes}
results=${out}/results.jsonl
run_id=$(printf '%04x' $((RANDOM)))

log() { printf '[bench-promote %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

cleanup() {
    local rc=$?
    link_down
    log "taking the cluster down"
    "${repo}/testenv/cluster" down --dir "$cluster_dir" >/dev/null 2>&1 || true
    exit "$rc"
}

build_minicd() {
    [[ -n "$given_minicd" ]] && return 0
    log "building minicd (Release) in ${repo}/build-promote-bench"
    # g++ 12 at -O3 reports false -Wrestrict (GCC bug 105651) and -Wmaybe-uninitialized warnings in libstdc++ code.
    cmake -S "$repo" -B "${repo}/build-promote-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMINICD_BUILD_TESTS=OFF \
        -DCMAKE_CXX_FLAGS="-Wno-error=restrict -Wno-error=maybe-uninitialized" >/dev/null
    ninja -C "${repo}/build-promote-bench" minicd >/dev/null
}

now_ns() { date +%s%N; }

link_ns=""
link_if=""
link_pid=""

# Starts a registry behind a link of RATE Mbit/s (INDEX numbers the links of one run): network namespace, veth pair shaped with tbf on
# both ends, docker-registry listening on the namespace's side. Sets registry and registry_pid.
link_up() {
    local rate=$1 host_if="mbh${run_id}${2}" ns_if="mbn${run_id}${2}" dir="${out}/link-${1}" net="10.231.${2}"
    # tbf needs a bucket of at least one timer tick's worth of bytes at this rate.
    local burst=$((rate * 1000000 / 8 / 100))
    ((burst >= 65536)) || burst=65536
    link_ns="minicd-bench-${run_id}-${2}"
    link_if=$host_if
    ip netns add "$link_ns"
    ip link add "$host_if" type veth peer name "$ns_if"
    ip link set "$ns_if" netns "$link_ns"
    ip addr add "${net}.1/30" dev "$host_if"
    ip link set "$host_if" up
    ip netns exec "$link_ns" ip addr add "${net}.2/30" dev "$ns_if"
    ip netns exec "$link_ns" ip link set "$ns_if" up
    ip netns exec "$link_ns" ip link set lo up
    tc qdisc add dev "$host_if" root tbf rate "${rate}mbit" burst "$burst" latency 100ms
    ip netns exec "$link_ns" tc qdisc add dev "$ns_if" root tbf rate "${rate}mbit" burst "$burst" latency 100ms
    rm -rf "$dir"
    mkdir -p "${dir}/storage"
    printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\n  cache: {blobdescriptor: inmemory}\nhttp: {addr: "%s:5000", secret: bench}\n' \
        "${dir}/storage" "${net}.2" >"${dir}/registry.yml"
    ip netns exec "$link_ns" env -u REGISTRY_HTTP_ADDR docker-registry serve "${dir}/registry.yml" >"${dir}/registry.log" 2>&1 &
    link_pid=$!
    registry="${net}.2:5000"
    registry_pid=$link_pid
    for _ in $(seq 100); do
        curl -fsS --noproxy '*' --max-time 1 -o /dev/null "http://${registry}/v2/" 2>/dev/null && return 0
        sleep 0.1
    done
    log "the registry behind the ${rate} Mbit/s link did not answer: $(tail -n 3 "${dir}/registry.log")"
    return 1
}

link_down() {
    if [[ -n "$link_pid" ]]; then
        kill "$link_pid" 2>/dev/null || true
        wait "$link_pid" 2>/dev/null || true
    fi
    if [[ -n "$link_ns" ]]; then
        ip netns del "$link_ns" 2>/dev/null || true  # takes the veth pair with it, shortly after
    fi
    if [[ -n "$link_if" ]]; then
        for _ in $(seq 50); do
            ip link show "$link_if" >/dev/null 2>&1 || break
            sleep 0.1
        done
    fi
    link_if=""
    link_pid=""
    link_ns=""
    return 0
}

# "<read> <written>": bytes the registry process has moved through read and write calls so far,
# sockets and files alike (/proc/PID/io rchar and wchar).
registry_io() { awk '$1 == "rchar:" { r = $2 } $1 == "wchar:" { w = $2 } END { print r, w }' "/proc/${registry_pid}/io"; }

# Pushes one image of SIZE_MB random megabytes in $layers gzip layers with plain HTTP requests, so
# no tool's blob cache has seen its blobs. Prints the manifest digest.
push_source_image() {
    local size_mb=$1 name=$2 dir="${out}/src-${1}" i layer_mb digest size location diff_ids="" layer_json="" config manifest
    rm -rf "$dir"
    mkdir -p "$dir"
    layer_mb=$((size_mb / layers))
    for ((i = 1; i <= layers; i++)); do
        mkdir -p "${dir}/l${i}"
        head -c "$((layer_mb * 1024 * 1024))" /dev/urandom >"${dir}/l${i}/random-${i}.bin"
        tar -C "${dir}/l${i}" -cf "${dir}/layer${i}.tar" "random-${i}.bin"
        rm -rf "${dir:?}/l${i}"
        diff_ids+="${diff_ids:+,}\"sha256:$(sha256sum "${dir}/layer${i}.tar" | cut -d' ' -f1)\""
        # Compressed like real layers: tools keep gzip layers as they are, but compress plain tar ones.
        gzip -1 -n "${dir}/layer${i}.tar"
        digest="sha256:$(sha256sum "${dir}/layer${i}.tar.gz" | cut -d' ' -f1)"
        size=$(stat -c %s "${dir}/layer${i}.tar.gz")
        upload_blob "$name" "${dir}/layer${i}.tar.gz" "$digest"
        layer_json+="${layer_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"${digest}\",\"size\":${size}}"
    done
    config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[${diff_ids}]}}"
    printf '%s' "$config" >"${dir}/config.json"
    digest="sha256:$(sha256sum "${dir}/config.json" | cut -d' ' -f1)"
    upload_blob "$name" "${dir}/config.json" "$digest"
    manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"${digest}\",\"size\":$(stat -c %s "${dir}/config.json")},\"layers\":[${layer_json}]}"
    printf '%s' "$manifest" >"${dir}/manifest.json"
    curl -fsS -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary @"${dir}/manifest.json" \
        "http://${registry}/v2/${name}/manifests/v1" >/dev/null
    rm -f "${dir}"/layer*.tar.gz
    printf 'sha256:%s\n' "$(sha256sum "${dir}/manifest.json" | cut -d' ' -f1)"
}

upload_blob() {
    local name=$1 file=$2 digest=$3 location
    location=$(curl -fsS -X POST -D - -o /dev/null "http://${registry}/v2/${name}/blobs/uploads/" |
        awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }')
    [[ "$location" == /* ]] && location="http://${registry}${location}"
    curl -fsS -X PUT -H "Content-Type: application/octet-stream" -T "$file" "${location}&digest=${digest}" >/dev/null
}

# Runs one measured promotion: TOOL SIZE REP SOURCE TARGET, the command after them.
measure() {
    local tool=$1 size=$2 rep=$3 source=$4 target=$5 before after start end got
    shift 5
    before=($(registry_io))
    start=$(now_ns)
    "$@" >"${out}/last.out" 2>"${out}/last.err" || {
        log "${tool} failed: $(tail -n 5 "${out}/last.err")"
        return 1
    }
    end=$(now_ns)
    after=($(registry_io))
    got=$("$minicd" image resolve --insecure-registry="$registry" "$target" 2>/dev/null || echo none)
    printf '{"link":"%s","size_mb":%s,"tool":"%s","rep":%s,"seconds":%s,"registry_read_bytes":%s,"registry_written_bytes":%s,"source_digest":"%s","target_digest":"%s"}\n' \
        "$link" "$size" "$tool" "$rep" "$(awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }')" \
        "$((after[0] - before[0]))" "$((after[1] - before[1]))" "$source_digest" "$got" >>"$results"
    log "${link}: ${tool} ${size} MB rep ${rep}: $(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f s", ns / 1e9 }')"
}

# skopeo as an unprivileged user with a fresh HOME: a fresh blob-info cache, as on a new CI runner
# (as root it would share /var/lib/containers/cache with every other containers tool here).
skopeo_fresh() {
    local home="${out}/skopeo-home-$RANDOM"
    mkdir -p "$home"
    chown nobody "$home"
    setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$home" XDG_RUNTIME_DIR="$home" \
        XDG_DATA_HOME="$home/data" skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false "$@"
}

# buildah with its own empty storage for this run: pull, tag, push.
buildah_pull_tag_push() {
    local source=$1 target=$2 root="${out}/buildah-$RANDOM"
    mkdir -p "$root"
    local b=(buildah --root "${root}/root" --runroot "${root}/runroot" --storage-driver vfs)
    "${b[@]}" pull --quiet --tls-verify=false "docker://${source}" >/dev/null &&
        "${b[@]}" tag "$source" "$target" &&
        "${b[@]}" push --quiet --tls-verify=false "$target" "docker://${target}"
    local rc=$?
    "${b[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$root"
    return $rc
}

# Every size and tool against $registry.
measure_sizes() {
    local size rep name source
    for size in $sizes; do
        name="bench-${run_id}/src-${size}"
        log "${link}: pushing a ${size} MB image (${layers} random layers) to ${registry}/${name}:v1"
        source_digest=$(push_source_image "$size" "$name")
        source="${registry}/${name}:v1"
        for ((rep = 1; rep <= reps; rep++)); do
            measure minicd-retag "$size" "$rep" "$source" "${registry}/${name}:rel-${rep}" \
                "$minicd" promote --insecure-registry="$registry" "$source" "${registry}/${name}:rel-${rep}"
            measure minicd-copy "$size" "$rep" "$source" "${registry}/bench-${run_id}/prod-${size}-${rep}:v1" \
                "$minicd" promote --insecure-registry="$registry" "$source" "${registry}/bench-${run_id}/prod-${size}-${rep}:v1"
            measure skopeo-copy "$size" "$rep" "$source" "${registry}/bench-${run_id}/skopeo-${size}-${rep}:v1" \
                skopeo_fresh "docker://${source}" "docker://${registry}/bench-${run_id}/skopeo-${size}-${rep}:v1"
            measure buildah-pull-tag-push "$size" "$rep" "$source" "${registry}/bench-${run_id}/buildah-${size}-${rep}:v1" \
                buildah_pull_tag_push "$source" "${registry}/bench-${run_id}/buildah-${size}-${rep}:v1"
        done
    done
}

main() {
    ((reps >= 3)) || {
        log "BENCH_REPS must be at least 3 (medians)"
        exit 2
    }
    mkdir -p "$out"
    : >"$results"
    build_minicd
    local tools="skopeo buildah setpriv curl gzip"
    [[ -z "$link_rates" ]] || tools+=" ip tc docker-registry"
    for tool in $tools; do
        command -v "$tool" >/dev/null || {
            log "${tool} is missing (scripts/install-deps installs it)"
            exit 2
        }
    done
    trap cleanup EXIT
    log "starting the test environment in ${cluster_dir}"
    "${repo}/testenv/cluster" up --dir "$cluster_dir" >/dev/null
    # shellcheck disable=SC1091
    source "${cluster_dir}/env"
    registry=$MINICD_TEST_REGISTRY
    registry_pid=$(cat "${cluster_dir}/pids/registry.pid")
    log "minicd $("$minicd" --version), $(skopeo --version), $(buildah --version)"

    link=loopback
    measure_sizes
    local index=0
    for rate in $link_rates; do
        log "starting a registry behind a ${rate} Mbit/s link"
        link_up "$rate" "$((index += 1))"
        link="${rate} Mbit/s"
        measure_sizes
        link_down
    done
    python3 "${here}/summarize.py" "$results"
}

main "$@"
