# shellcheck shell=bash
# shellcheck source=process.sh
source "$(dirname "${BASH_SOURCE[0]}")/process.sh"
# Local OCI registries and a busybox base image for the minicd test environment.
#
# Sourced by testenv/cluster. Every function takes the state directory DIR
# (absolute path, must exist). Progress goes to stderr prefixed "testenv: ".
#
#   registry_up DIR      start a plain and a TLS+htpasswd registry, build and push the base image
#   registry_down DIR    stop everything registry_up started; idempotent
#   registry_status DIR  one line per component
#   registry_env DIR     shell export lines describing the registries and buildah storage
#
# Layout under DIR:
#   registry/ca.crt              CA of the auth registry (the only *.crt there, so the dir works as --cert-dir)
#   registry/tls/                CA key, server key and cert (kept apart: a stray *.key breaks --cert-dir)
#   registry/plain/              storage of the plain registry
#   registry/auth/               storage of the auth registry
#   registry/*.yml, htpasswd, registries.conf, storage.conf, state files
#   buildah/root, buildah/runroot, buildah/tmp
#   logs/registry.log, logs/registry-auth.log
#   pids/registry.pid, pids/registry-auth.pid

_REG_BASE_REPO="minicd-test/base:1"
_REG_AUTH_USER="minicd"
# Seconds to wait for a registry to answer, and for it to exit on registry_down (overridable for tests).
TESTENV_REGISTRY_READY_TIMEOUT="${TESTENV_REGISTRY_READY_TIMEOUT:-20}"
TESTENV_REGISTRY_STOP_TIMEOUT="${TESTENV_REGISTRY_STOP_TIMEOUT:-10}"

# Stops registry component NAME if it is still the process we started.
_reg_stop() {
    tenv_stop "$1" "$2" "${1}/registry/${2}.yml" "$TESTENV_REGISTRY_STOP_TIMEOUT"
}

# Starts docker-registry with CONFIG in its own session, logging to LOG; its pid goes to PIDFILE.
_reg_spawn() {
    local config="$1" log="$2" pidfile="$3" env_unset=() var
    # REGISTRY_* variables override the config file, so keep any from the caller's environment out.
    for var in $(compgen -e); do
        [[ "$var" == REGISTRY_* ]] && env_unset+=(-u "$var")
    done
    tenv_spawn "$pidfile" "$log" env ${env_unset[@]+"${env_unset[@]}"} docker-registry serve "$config"
}

_reg_check_dir() {
    local dir="${1:-}"
    if [[ -z "$dir" || "$dir" != /* || ! -d "$dir" ]]; then
        tenv_log "registry: state directory must be an existing absolute path, got '${dir}'"
        return 1
    fi
}

# Polls URL (the last argument) with curl until our process answers on PORT, dies, or the deadline passes.
_reg_wait_ready() {
    local name="$1" pid="$2" marker="$3" port="$4" deadline
    shift 4
    deadline=$((SECONDS + TESTENV_REGISTRY_READY_TIMEOUT))
    while :; do
        if ! tenv_pid_ours "$pid" "$marker"; then
            return 2
        fi
        # Another registry may already serve this port; that answer must not count as ours.
        if curl -fsS --noproxy '*' --max-time 2 -o /dev/null "$@" 2>/dev/null && tenv_owns_port "$pid" "$port"; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.1
    done
}

# Starts NAME with the config from WRITER DIR PORT and waits with the curl args; retries if the port got taken.
_reg_start_component() {
    local dir="$1" name="$2" writer="$3" scheme="$4" avoid="$5" port pid rc attempt config log pidfile
    shift 5
    config="${dir}/registry/${name}.yml"
    log="${dir}/logs/${name}.log"
    pidfile="${dir}/pids/${name}.pid"
    for attempt in 1 2 3; do
        port=$(tenv_pick_port ${avoid:+"$avoid"}) || {
            tenv_log "${name} failed to start, see ${log}"
            return 1
        }
        if ! "$writer" "$dir" "$port" || ! printf '127.0.0.1:%s\n' "$port" >"${dir}/registry/${name}.addr"; then
            tenv_log "${name} failed to start, see ${log}"
            return 1
        fi
        printf -- '--- %s start on 127.0.0.1:%s (attempt %s)\n' "$(date -u +%FT%TZ)" "$port" "$attempt" >>"$log"
        if ! _reg_spawn "$config" "$log" "$pidfile"; then
            tenv_log "${name} failed to start, see ${log}"
            return 1
        fi
        pid=$(tenv_read "$pidfile")
        rc=0
        _reg_wait_ready "$name" "$pid" "$config" "$port" "$@" "${scheme}://127.0.0.1:${port}/v2/" || rc=$?
        if ((rc == 0)); then
            tenv_log "${name} running on 127.0.0.1:${port} (pid ${pid})"
            return 0
        fi
        if ((rc == 2)) && [[ "$(tail -n 20 "$log")" == *"address already in use"* ]]; then
            tenv_log "${name}: port ${port} was taken meanwhile, retrying"
            rm -f "$pidfile"
            continue
        fi
        if ((rc == 1)); then
            tenv_log "${name} did not answer within ${TESTENV_REGISTRY_READY_TIMEOUT}s"
        fi
        _reg_stop "$dir" "$name"
        tenv_log "${name} failed to start, see ${log}"
        return 1
    done
    tenv_log "${name} failed to start, see ${log}"
    return 1
}

_reg_write_plain_config() {
    local dir="$1" port="$2"
    cat >"${dir}/registry/registry.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ${dir}/registry/plain
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:${port}
  secret: $(openssl rand -hex 16)
EOF
}

_reg_write_auth_config() {
    local dir="$1" port="$2"
    cat >"${dir}/registry/registry-auth.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ${dir}/registry/auth
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:${port}
  secret: $(openssl rand -hex 16)
  tls:
    certificate: ${dir}/registry/tls/server.crt
    key: ${dir}/registry/tls/server.key
auth:
  htpasswd:
    realm: minicd-test
    path: ${dir}/registry/htpasswd
EOF
}

# CA plus a server certificate for 127.0.0.1/localhost; EC keys keep generation instant.
_reg_make_tls() {
    local dir="$1" tls="${1}/registry/tls" out
    mkdir -p "$tls"
    chmod 700 "$tls"
    if ! out=$(
        {
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout "${tls}/ca.key" -out "${dir}/registry/ca.crt" -days 365 \
                -subj "/CN=minicd test registry CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" &&
                openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                    -keyout "${tls}/server.key" -out "${tls}/server.csr" -subj "/CN=localhost" &&
                printf '%s\n' \
                    "basicConstraints=critical,CA:FALSE" \
                    "keyUsage=critical,digitalSignature,keyEncipherment" \
                    "extendedKeyUsage=serverAuth" \
                    "subjectAltName=IP:127.0.0.1,DNS:localhost" >"${tls}/server.ext" &&
                openssl x509 -req -in "${tls}/server.csr" -CA "${dir}/registry/ca.crt" \
                    -CAkey "${tls}/ca.key" -CAserial "${tls}/ca.srl" -CAcreateserial -out "${tls}/server.crt" -days 365 \
                    -extfile "${tls}/server.ext"
        } 2>&1
    ); then
        printf '%s\n' "$out" >>"${dir}/logs/registry-auth.log"
        return 1
    fi
}

_reg_make_htpasswd() {
    local dir="$1" password
    password=$(openssl rand -hex 16) || return 1
    (
        umask 077
        printf '%s\n' "$_REG_AUTH_USER" >"${dir}/registry/auth.user"
        printf '%s\n' "$password" >"${dir}/registry/auth.password"
        htpasswd -Bbn "$_REG_AUTH_USER" "$password" >"${dir}/registry/htpasswd"
    ) 2>>"${dir}/logs/registry-auth.log"
}

_reg_write_buildah_conf() {
    local dir="$1" plain
    plain=$(tenv_read "${dir}/registry/registry.addr")
    cat >"${dir}/registry/registries.conf" <<EOF
# Only fully qualified names resolve; the plain test registry speaks HTTP.
unqualified-search-registries = []
short-name-mode = "disabled"

[[registry]]
location = "${plain}"
insecure = true
EOF
    # A private storage.conf keeps host settings (driver options, additional stores) out of the test store.
    cat >"${dir}/registry/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "${dir}/buildah/root"
runroot = "${dir}/buildah/runroot"
EOF
}

# buildah against the test store, config and temp dir under DIR.
_reg_buildah() {
    local dir="$1"
    shift
    CONTAINERS_REGISTRIES_CONF="${dir}/registry/registries.conf" \
        CONTAINERS_STORAGE_CONF="${dir}/registry/storage.conf" \
        BUILDAH_ISOLATION=chroot \
        TMPDIR="${dir}/buildah/tmp" \
        buildah --root "${dir}/buildah/root" --runroot "${dir}/buildah/runroot" --storage-driver vfs "$@"
}

# Static busybox plus applet links made from the host, so no container has to run; errors checked by hand (set -e is off in if-conditions).
_reg_fill_rootfs() {
    local busybox="$1" mnt="$2" path
    mkdir -p "${mnt}/bin" "${mnt}/sbin" "${mnt}/usr/bin" "${mnt}/usr/sbin" \
        "${mnt}/etc" "${mnt}/root" "${mnt}/tmp" "${mnt}/var/tmp" || return 1
    chmod 1777 "${mnt}/tmp" "${mnt}/var/tmp" || return 1
    cp "$busybox" "${mnt}/bin/busybox" && chmod 755 "${mnt}/bin/busybox" || return 1
    while IFS= read -r path; do
        # linuxrc is an init shim, and bin/busybox is the binary itself.
        [[ "$path" == */* && "$path" != bin/busybox ]] || continue
        [[ -d "${mnt}/${path%/*}" ]] || mkdir -p "${mnt}/${path%/*}" || return 1
        ln -sfn /bin/busybox "${mnt}/${path}" || return 1
    done < <("$busybox" --list-full)
    [[ -L "${mnt}/bin/sh" ]] || return 1
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"${mnt}/etc/passwd" || return 1
    printf 'root:x:0:\nnogroup:x:65534:\n' >"${mnt}/etc/group"
}

# Base image FROM scratch with the busybox rootfs, committed and pushed to the plain registry.
_reg_build_base() {
    local dir="$1" log="${1}/logs/base-image.log" busybox plain image ctr mnt rc=0
    plain=$(tenv_read "${dir}/registry/registry.addr")
    image="${plain}/${_REG_BASE_REPO}"
    busybox=$(command -v busybox) || {
        tenv_log "base-image: busybox not found (install busybox-static)"
        return 1
    }
    busybox=$(readlink -f "$busybox")
    # A dynamically linked busybox would not run inside an image that has no libc.
    # ldd exits 1 for static binaries, so look at its output rather than its status.
    if [[ "$(LC_ALL=C ldd "$busybox" 2>&1 || true)" != *"not a dynamic executable"* ]]; then
        tenv_log "base-image: ${busybox} is not statically linked (install busybox-static)"
        return 1
    fi
    ctr="minicd-base-build-$$"
    {
        # A container of that name can only be a leftover of an interrupted build.
        _reg_buildah "$dir" rm "$ctr" >/dev/null 2>&1 || true
        if _reg_buildah "$dir" from --quiet --name "$ctr" scratch >/dev/null &&
            mnt=$(_reg_buildah "$dir" mount "$ctr"); then
            _reg_fill_rootfs "$busybox" "$mnt" || rc=1
            _reg_buildah "$dir" umount "$ctr" >/dev/null || rc=1
        else
            rc=1
        fi
        if ((rc == 0)); then
            _reg_buildah "$dir" config --cmd sh \
                --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr" &&
                _reg_buildah "$dir" commit --quiet --rm "$ctr" "$image" &&
                _reg_buildah "$dir" push --quiet --tls-verify=false "$image" "docker://${image}" || rc=1
        fi
        if ((rc != 0)); then
            _reg_buildah "$dir" rm "$ctr" >/dev/null 2>&1 || true
        fi
    } >>"$log" 2>&1
    ((rc == 0)) || return 1
    printf '%s\n' "$image" >"${dir}/registry/base-image"
}

registry_up() {
    local dir="${1:-}" t0 t1 t2 plain
    _reg_check_dir "$dir" || return 1
    local cmd
    for cmd in docker-registry buildah openssl htpasswd curl setsid; do
        if ! command -v "$cmd" >/dev/null 2>&1; then
            tenv_log "registry: required command '${cmd}' not found"
            return 1
        fi
    done
    # Leftovers of an earlier run in the same DIR would hold ports and pid files.
    registry_down "$dir" || true
    if ! mkdir -p "${dir}/registry/plain" "${dir}/registry/auth" "${dir}/logs" "${dir}/pids" \
        "${dir}/buildah/root" "${dir}/buildah/runroot" "${dir}/buildah/tmp"; then
        tenv_log "registry failed to start, see ${dir}/logs/registry.log"
        return 1
    fi
    rm -f "${dir}/registry/base-image" "${dir}/registry/registry.addr" "${dir}/registry/registry-auth.addr"
    t0=$(tenv_now_ms)

    tenv_log "starting registry"
    _reg_start_component "$dir" registry _reg_write_plain_config http "" || return 1
    plain=$(tenv_read "${dir}/registry/registry.addr")

    tenv_log "starting registry-auth"
    if ! _reg_make_tls "$dir" || ! _reg_make_htpasswd "$dir"; then
        tenv_log "registry-auth failed to start, see ${dir}/logs/registry-auth.log"
        registry_down "$dir" || true
        return 1
    fi
    if ! _reg_start_component "$dir" registry-auth _reg_write_auth_config https "${plain##*:}" \
        --cacert "${dir}/registry/ca.crt" \
        -u "${_REG_AUTH_USER}:$(tenv_read "${dir}/registry/auth.password")"; then
        registry_down "$dir" || true
        return 1
    fi
    t1=$(tenv_now_ms)
    tenv_log "registries up in $((t1 - t0)) ms"

    if ! _reg_write_buildah_conf "$dir"; then
        tenv_log "base-image failed to start, see ${dir}/logs/base-image.log"
        registry_down "$dir" || true
        return 1
    fi
    tenv_log "building base image ${plain}/${_REG_BASE_REPO}"
    if ! _reg_build_base "$dir"; then
        tenv_log "base-image failed to start, see ${dir}/logs/base-image.log"
        registry_down "$dir" || true
        return 1
    fi
    t2=$(tenv_now_ms)
    tenv_log "base image built and pushed in $((t2 - t1)) ms"
    return 0
}

registry_down() {
    local dir="${1:-}"
    _reg_check_dir "$dir" || return 1
    _reg_stop "$dir" registry-auth
    _reg_stop "$dir" registry
    return 0
}

registry_status() {
    local dir="${1:-}" name pid addr
    _reg_check_dir "$dir" || return 1
    for name in registry registry-auth; do
        pid=$(tenv_read "${dir}/pids/${name}.pid")
        addr=$(tenv_read "${dir}/registry/${name}.addr")
        if [[ -n "$pid" ]] && tenv_pid_ours "$pid" "${dir}/registry/${name}.yml"; then
            printf '%-23s running pid %s %s\n' "$name" "$pid" "$addr"
        else
            printf '%-23s stopped\n' "$name"
        fi
    done
}

registry_env() {
    local dir="${1:-}" plain auth user password base
    _reg_check_dir "$dir" || return 1
    plain=$(tenv_read "${dir}/registry/registry.addr")
    auth=$(tenv_read "${dir}/registry/registry-auth.addr")
    user=$(tenv_read "${dir}/registry/auth.user")
    password=$(tenv_read "${dir}/registry/auth.password")
    base=$(tenv_read "${dir}/registry/base-image")
    if [[ -z "$plain" || -z "$auth" || -z "$password" || -z "$base" ]]; then
        tenv_log "registry: no registry state in ${dir}; run registry_up first"
        return 1
    fi
    printf 'export %s=%q\n' \
        MINICD_TEST_REGISTRY "$plain" \
        MINICD_TEST_AUTH_REGISTRY "$auth" \
        MINICD_TEST_AUTH_REGISTRY_USER "$user" \
        MINICD_TEST_AUTH_REGISTRY_PASSWORD "$password" \
        MINICD_TEST_AUTH_REGISTRY_CA "${dir}/registry/ca.crt" \
        MINICD_TEST_BASE_IMAGE "$base" \
        MINICD_TEST_BUILDAH_ROOT "${dir}/buildah/root" \
        MINICD_TEST_BUILDAH_RUNROOT "${dir}/buildah/runroot" \
        MINICD_TEST_REGISTRIES_CONF "${dir}/registry/registries.conf"
}
