#!/usr/bin/env bash
# Standalone check of registry.sh: up, build FROM the base image, push to both registries, read back, down.
# Usage: bash testenv/lib/registry_test.sh   (KEEP=1 keeps the temp dir for inspection)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=registry.sh
source "${here}/registry.sh"

passed=0
failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/minicd-registry-test.XXXXXX")
dir="${work}/state"
mkdir -p "$dir"

cleanup() {
    local d
    for d in "$dir" "${work}/clash-state" "${work}/fail-state" "${work}/hang-state"; do
        if [[ -d "$d" ]]; then
            registry_down "$d" 2>/dev/null || true
        fi
    done
    if [[ "${KEEP:-0}" == 1 ]]; then
        echo "kept ${work}" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

ok() {
    passed=$((passed + 1))
    printf 'ok   %s\n' "$1"
}

not_ok() {
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$1"
}

# check NAME CMD...: runs CMD and records the result; output is shown only on failure.
check() {
    local name="$1" out
    shift
    if out=$("$@" 2>&1); then
        ok "$name"
    else
        not_ok "$name"
        printf '%s\n' "$out" | sed 's/^/     | /'
    fi
}

now_ms() {
    local t
    t=$(date +%s%N)
    printf '%s\n' "$((t / 1000000))"
}

# Prints the live (non-zombie) pids whose session id is SID; zombies are already dead, just not reaped.
session_pids() {
    local sid="$1" f stat rest state psid
    for f in /proc/[0-9]*/stat; do
        stat=$(<"$f") 2>/dev/null || continue
        rest=${stat##*) }
        read -r state _ _ psid _ <<<"$rest"
        if [[ "$psid" == "$sid" && "$state" != Z ]]; then
            printf '%s\n' "${f//[^0-9]/}"
        fi
    done
    return 0
}

# Prints pids of live processes whose command line mentions PATH.
procs_mentioning() {
    local needle="$1" f pid cmd
    for f in /proc/[0-9]*/cmdline; do
        pid=${f//[^0-9]/}
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        cmd=$(tr '\0' ' ' <"$f" 2>/dev/null) || continue
        [[ "$cmd" == *"$needle"* ]] || continue
        [[ "$(cut -d' ' -f3 <"/proc/${pid}/stat" 2>/dev/null)" == Z ]] && continue
        printf '%s %s\n' "$pid" "$cmd"
    done
    return 0
}

sessions_gone() {
    local p left
    [[ -n "$*" ]] || { echo "no pids recorded"; return 1; }
    for p in "$@"; do
        left=$(session_pids "$p")
        [[ -z "$left" ]] || { echo "session ${p} still has: ${left}"; return 1; }
    done
}
none_mentioning() {
    local out
    out=$(procs_mentioning "$1")
    [[ -z "$out" ]] || { echo "$out"; return 1; }
}
ports_closed() {
    local a
    for a in "$@"; do
        if (exec 3<>"/dev/tcp/${a%:*}/${a##*:}") 2>/dev/null; then
            echo "${a} still accepts connections"
            return 1
        fi
    done
}
both_stopped() {
    local want
    want=$(printf '%-13s stopped\n' registry registry-auth)
    [[ "$(registry_status "$1")" == "$want" ]] || { registry_status "$1"; return 1; }
}
http_code() {
    curl -sS --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' "$@"
}

expect_code() {
    local want="$1" got
    shift
    got=$(http_code "$@") || true
    if [[ "$got" != "$want" ]]; then
        echo "expected HTTP ${want}, got ${got}: curl $*"
        return 1
    fi
}

# Fetches a manifest and checks the Docker-Content-Digest header matches the body and DIGESTFILE.
check_manifest() {
    local url="$1" digestfile="$2" headers body want got sum
    shift 2
    headers="${work}/headers"
    body="${work}/manifest.json"
    curl -fsS --noproxy '*' --max-time 10 -D "$headers" -o "$body" "$@" \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "$url" || return 1
    grep -Eq '"mediaType" *: *"application/vnd\.(oci\.image\.manifest\.v1|docker\.distribution\.manifest\.v2)\+json"' "$body" || {
        echo "unexpected manifest: $(cat "$body")"
        return 1
    }
    # Base layer plus the RUN layer.
    got=$(grep -o '"digest" *: *"sha256:[0-9a-f]*"' "$body" | wc -l)
    if ((got != 3)); then
        echo "expected config + 2 layers, found ${got} digests: $(cat "$body")"
        return 1
    fi
    got=$(tr -d '\r' <"$headers" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p')
    sum="sha256:$(sha256sum "$body" | cut -d' ' -f1)"
    want=$(cat "$digestfile")
    if [[ "$got" != "$sum" ]] || [[ "$sum" != "$want" ]]; then
        echo "digest mismatch: header ${got}, body ${sum}, pushed ${want}"
        return 1
    fi
}

echo "# registry_up"
t0=$(now_ms)
# Called outside any condition with set -e on, as the harness does, so an unchecked failure would show.
set +e
(
    set -euo pipefail
    registry_up "$dir"
) 2>"${work}/up.log"
rc=$?
set -e
t1=$(now_ms)
sed 's/^/     | /' "${work}/up.log"
if ((rc != 0)); then
    not_ok "registry_up (rc ${rc})"
    echo "${passed} passed, ${failed} failed"
    exit 1
fi
ok "registry_up ($((t1 - t0)) ms)"

envfile="${work}/env"
check "registry_env" registry_env "$dir"
registry_env "$dir" >"$envfile"
# shellcheck disable=SC1090
source "$envfile"
for var in MINICD_TEST_REGISTRY MINICD_TEST_AUTH_REGISTRY MINICD_TEST_AUTH_REGISTRY_USER \
    MINICD_TEST_AUTH_REGISTRY_PASSWORD MINICD_TEST_AUTH_REGISTRY_CA MINICD_TEST_BASE_IMAGE \
    MINICD_TEST_BUILDAH_ROOT MINICD_TEST_BUILDAH_RUNROOT MINICD_TEST_REGISTRIES_CONF; do
    check "env ${var} set" test -n "${!var:-}"
done
loopback_pair() {
    [[ "$1" == 127.0.0.1:* && "$2" == 127.0.0.1:* && "$1" != "$2" ]]
}
check "registries listen on loopback only" loopback_pair "$MINICD_TEST_REGISTRY" "$MINICD_TEST_AUTH_REGISTRY"
status=$(registry_status "$dir")
printf '%s\n' "$status" | sed 's/^/     status: /'
both_running() {
    grep -Eq "^registry +running pid [0-9]+ ${2}\$" <<<"$1" &&
        grep -Eq "^registry-auth +running pid [0-9]+ ${3}\$" <<<"$1"
}
check "status shows both running" both_running "$status" "$MINICD_TEST_REGISTRY" "$MINICD_TEST_AUTH_REGISTRY"

echo "# registries answer"
reg="$MINICD_TEST_REGISTRY"
areg="$MINICD_TEST_AUTH_REGISTRY"
creds="${MINICD_TEST_AUTH_REGISTRY_USER}:${MINICD_TEST_AUTH_REGISTRY_PASSWORD}"
check "plain /v2/ is 200" expect_code 200 "http://${reg}/v2/"
check "auth /v2/ anonymous is 401" expect_code 401 --cacert "$MINICD_TEST_AUTH_REGISTRY_CA" "https://${areg}/v2/"
check "auth /v2/ wrong password is 401" expect_code 401 --cacert "$MINICD_TEST_AUTH_REGISTRY_CA" \
    -u "${MINICD_TEST_AUTH_REGISTRY_USER}:wrong" "https://${areg}/v2/"
check "auth /v2/ with creds is 200" expect_code 200 --cacert "$MINICD_TEST_AUTH_REGISTRY_CA" -u "$creds" "https://${areg}/v2/"
check "auth cert valid for localhost" expect_code 200 --cacert "$MINICD_TEST_AUTH_REGISTRY_CA" -u "$creds" \
    --resolve "localhost:${areg##*:}:127.0.0.1" "https://localhost:${areg##*:}/v2/"
refuses_http() {
    ! curl -fsS --noproxy '*' --max-time 5 -o /dev/null "http://$1/v2/"
}
check "auth registry refuses plain HTTP" refuses_http "$areg"
check "base image manifest in plain registry" expect_code 200 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://${reg}/v2/minicd-test/base/manifests/1"

echo "# build FROM the base image"
bud() {
    CONTAINERS_REGISTRIES_CONF="$MINICD_TEST_REGISTRIES_CONF" \
        buildah --root "$MINICD_TEST_BUILDAH_ROOT" --runroot "$MINICD_TEST_BUILDAH_RUNROOT" \
        --storage-driver vfs "$@"
}
ctx="${work}/ctx"
mkdir -p "$ctx"
cat >"${ctx}/Dockerfile" <<EOF
FROM ${MINICD_TEST_BASE_IMAGE}
RUN echo hi > /x && test "\$(cat /x)" = hi && ls /bin/sh /usr/bin/wget >/dev/null
CMD ["cat", "/x"]
EOF
app="${reg}/minicd-test/app:1"
t2=$(now_ms)
# --pull=always makes the build fetch the base from the registry rather than the copy left in the store.
check "buildah bud FROM base with RUN" bud bud --isolation chroot --pull=always -q -t "$app" "$ctx"
t3=$(now_ms)
echo "     build took $((t3 - t2)) ms"
run_built() {
    local ctr out rc=0
    ctr=$(bud from --quiet --pull=never "$app") || return 1
    out=$(bud run --isolation chroot "$ctr" cat /x) || rc=1
    bud rm "$ctr" >/dev/null || rc=1
    [[ "$out" == hi ]] || { echo "got: '$out'"; return 1; }
    return "$rc"
}
check "built image holds the RUN result" run_built

echo "# push to both registries"
check "push to plain registry" bud push -q --digestfile "${work}/plain.digest" "$app" "docker://${reg}/minicd-test/app:1"
certdir=$(dirname "$MINICD_TEST_AUTH_REGISTRY_CA")
fails() {
    ! "$@"
}
check "anonymous push to auth registry is refused" fails bud push -q --retry 0 --cert-dir "$certdir" \
    "$app" "docker://${areg}/minicd-test/app:1"
check "push to auth registry with creds" bud push -q --retry 0 --cert-dir "$certdir" --creds "$creds" \
    --digestfile "${work}/auth.digest" "$app" "docker://${areg}/minicd-test/app:1"
check "push to auth registry with --tls-verify and the CA" bud push -q --retry 0 --tls-verify=true \
    --cert-dir "$certdir" --creds "$creds" "$app" "docker://${areg}/minicd-test/app:2"

echo "# manifests back"
check "manifest from plain registry" check_manifest "http://${reg}/v2/minicd-test/app/manifests/1" "${work}/plain.digest"
check "manifest from auth registry" check_manifest "https://${areg}/v2/minicd-test/app/manifests/1" "${work}/auth.digest" \
    --cacert "$MINICD_TEST_AUTH_REGISTRY_CA" -u "$creds"
check "auth manifest anonymous is 401" expect_code 401 --cacert "$MINICD_TEST_AUTH_REGISTRY_CA" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "https://${areg}/v2/minicd-test/app/manifests/1"

echo "# port clash"
# A second instance handed the first one's port (bind delayed by a wrapper) must reject that answer and retry.
clash_retry() {
    local d="${work}/clash-state" err first="${reg##*:}" rc=0 real slow="${work}/slow"
    mkdir -p "$d" "$slow"
    real=$(command -v docker-registry)
    printf '#!/bin/sh\nsleep 1\nexec %s "$@"\n' "$real" >"${slow}/docker-registry"
    chmod +x "${slow}/docker-registry"
    eval "_orig_pick_port() $(declare -f tenv_pick_port | tail -n +2)"
    tenv_pick_port() {
        if [[ ! -e "${work}/clash-picked" ]]; then
            : >"${work}/clash-picked"
            printf '%s\n' "$first"
        else
            _orig_pick_port "$@"
        fi
    }
    err=$(PATH="${slow}:${PATH}" registry_up "$d" 2>&1) || rc=1
    eval "tenv_pick_port() $(declare -f _orig_pick_port | tail -n +2)"
    if ((rc != 0)); then
        echo "$err"
        return 1
    fi
    grep -q "port ${first} was taken meanwhile, retrying" <<<"$err" || { echo "$err"; return 1; }
    [[ "$(tenv_read "${d}/registry/registry.addr")" != "127.0.0.1:${first}" ]] || { echo "kept the taken port"; return 1; }
    expect_code 200 "http://$(tenv_read "${d}/registry/registry.addr")/v2/minicd-test/base/manifests/1" \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' || return 1
    registry_down "$d" 2>/dev/null
    none_mentioning "$d"
}

check "port clash is detected and retried" clash_retry
check "first instance unaffected by the clash" expect_code 200 "http://${reg}/v2/"

echo "# registry_down"
pids=$(sed -n 's/^[a-z-]* *running pid \([0-9]*\) .*/\1/p' <<<"$status" | tr '\n' ' ')
check "registry_down" registry_down "$dir"
# shellcheck disable=SC2086
check "no process of either session remains" sessions_gone $pids
check "no process mentions the state dir" none_mentioning "$dir"
check "ports closed" ports_closed "$reg" "$areg"
check "registry_down again is a no-op" registry_down "$dir"
check "status shows both stopped" both_stopped "$dir"

echo "# failure paths"
stub="${work}/stub"
mkdir -p "$stub" "${work}/fail-state" "${work}/hang-state"
# A registry that dies at once must be reported with its log path, quickly.
cat >"${stub}/docker-registry" <<'EOF'
#!/bin/bash
echo "stub registry: refusing to start" >&2
exit 1
EOF
chmod +x "${stub}/docker-registry"
dies_reported() {
    local d="$1" start=$SECONDS err
    if err=$(PATH="${stub}:${PATH}" registry_up "$d" 2>&1); then
        echo "registry_up succeeded"
        return 1
    fi
    grep -qF "testenv: registry failed to start, see ${d}/logs/registry.log" <<<"$err" || { echo "$err"; return 1; }
    grep -q "refusing to start" "${d}/logs/registry.log" || { echo "stub output not in log"; return 1; }
    ((SECONDS - start < 10)) || { echo "took $((SECONDS - start))s"; return 1; }
}
check "dying registry is reported with its log" dies_reported "${work}/fail-state"

# A registry that never answers and ignores TERM must time out and be killed with its children.
cat >"${stub}/docker-registry" <<'EOF'
#!/bin/bash
trap '' TERM
sleep 300 &
while :; do sleep 1; done
EOF
hang_killed() {
    local d="$1" err pid
    if err=$(TESTENV_REGISTRY_READY_TIMEOUT=2 TESTENV_REGISTRY_STOP_TIMEOUT=1 PATH="${stub}:${PATH}" registry_up "$d" 2>&1); then
        echo "registry_up succeeded"
        return 1
    fi
    grep -qF "testenv: registry failed to start, see ${d}/logs/registry.log" <<<"$err" || { echo "$err"; return 1; }
    pid=$(sed -n 's/.*stopping registry (pid \([0-9]*\)).*/\1/p' <<<"$err")
    [[ -n "$pid" ]] || { echo "no stop line: $err"; return 1; }
    sessions_gone "$pid" || return 1
    none_mentioning "$d" || return 1
    [[ ! -e "${d}/pids/registry.pid" ]] || { echo "pid file left"; return 1; }
}
check "hung registry times out and is killed with its children" hang_killed "${work}/hang-state"
both_stopped_quiet() {
    [[ "$(registry_status "$1" | grep -c ' stopped$')" == 2 ]]
}
check "status of a failed dir is stopped" both_stopped_quiet "${work}/fail-state"
check "registry_env without state fails" fails registry_env "${work}/fail-state"

echo "# timings"
sed -n 's/^testenv: \(registries up in .*\|base image built .*\)/     \1/p' "${work}/up.log"
echo "     registry_up total $((t1 - t0)) ms"

echo "${passed} passed, ${failed} failed"
((failed == 0))
