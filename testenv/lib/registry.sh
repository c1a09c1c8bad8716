# shellcheck shell=bash
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

_reg_log() {
    printf 'testenv: %s\n' "$*" >&2
}

# Milliseconds since the epoch, for the timing lines.
_reg_now_ms() {
    local t
    t=$(date +%s%N)
    printf '%s\n' "$((t / 1000000))"
}

_reg_check_dir() {
    local dir="${1:-}"
    if [[ -z "$dir" || "$dir" != /* || ! -d "$dir" ]]; then
        _reg_log "registry: state directory must be an existing absolute path, got '${dir}'"
        return 1
    fi
}

# True if something accepts connections on 127.0.0.1:PORT or any socket is bound to PORT.
_reg_port_busy() {
    local port="$1"
    if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
        return 0
    fi
    if command -v ss >/dev/null 2>&1; then
        [[ -n "$(ss -Hltn "sport = :${port}" 2>/dev/null)" ]] && return 0
    fi
    return 1
}

# Prints a free port in 20000-60000, avoiding the kernel's ephemeral range and the ports given as arguments.
_reg_pick_port() {
    local elo=0 ehi=0 port try taken
    if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
        read -r elo ehi </proc/sys/net/ipv4/ip_local_port_range || true
    fi
    for ((try = 0; try < 500; try++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
        # Outgoing connections may grab ephemeral ports later; only give up on avoiding them late.
        if ((try < 400 && port >= elo && port <= ehi)); then
            continue
        fi
        for taken in "$@"; do
            [[ "$port" == "$taken" ]] && continue 2
        done
        _reg_port_busy "$port" && continue
        printf '%s\n' "$port"
        return 0
    done
    _reg_log "registry: no free port found in 20000-60000"
    return 1
}

# Reads one line from FILE into stdout; empty output if it is missing.
_reg_read() {
    local line=""
    if [[ -r "$1" ]]; then
        IFS= read -r line <"$1" || true
    fi
    printf '%s\n' "$line"
}

# Fields "STATE SID PGRP" of /proc/PID/stat; comm may contain spaces, so cut after the last ')'.
_reg_proc_fields() {
    local stat rest state pgrp sid
    stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
    rest=${stat##*) }
    read -r state _ pgrp sid _ <<<"$rest"
    printf '%s %s %s\n' "$state" "$sid" "$pgrp"
}

# True if PID is a live (non-zombie) process whose command line mentions MARKER, i.e. one we started.
_reg_pid_ours() {
    local pid="$1" marker="$2" fields cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    fields=$(_reg_proc_fields "$pid" 2>/dev/null) || return 1
    [[ "${fields%% *}" != Z ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$marker"* ]]
}

# Prints the live (non-zombie) pids of session SID.
_reg_session_pids() {
    local sid="$1" f pid fields state psid
    for f in /proc/[0-9]*/stat; do
        pid=${f#/proc/}
        pid=${pid%/stat}
        fields=$(_reg_proc_fields "$pid" 2>/dev/null) || continue
        read -r state psid _ <<<"$fields"
        [[ "$psid" == "$sid" && "$state" != Z ]] && printf '%s\n' "$pid"
    done
    return 0
}

# Sends SIGNAL to the process group and, for stragglers that changed group, to each member of the session.
_reg_signal_session() {
    local sid="$1" sig="$2" pid
    kill "-${sig}" -- "-${sid}" 2>/dev/null || true
    for pid in $(_reg_session_pids "$sid"); do
        kill "-${sig}" "$pid" 2>/dev/null || true
    done
}

# Stops component NAME (pid file DIR/pids/NAME.pid) if it is still the process we started.
_reg_stop() {
    local dir="$1" name="$2" pidfile pid marker deadline
    pidfile="${dir}/pids/${name}.pid"
    marker="${dir}/registry/${name}.yml"
    pid=$(_reg_read "$pidfile")
    if [[ -z "$pid" ]]; then
        rm -f "$pidfile"
        return 0
    fi
    # A stale pid file may name an unrelated process by now; only a session led by our registry is ours.
    if ! _reg_pid_ours "$pid" "$marker" || [[ "$(_reg_proc_fields "$pid" | cut -d' ' -f2)" != "$pid" ]]; then
        rm -f "$pidfile"
        return 0
    fi
    _reg_log "stopping ${name} (pid ${pid})"
    _reg_signal_session "$pid" TERM
    deadline=$((SECONDS + TESTENV_REGISTRY_STOP_TIMEOUT))
    while [[ -n "$(_reg_session_pids "$pid")" ]]; do
        if ((SECONDS >= deadline)); then
            _reg_log "${name} did not exit after ${TESTENV_REGISTRY_STOP_TIMEOUT}s, killing"
            _reg_signal_session "$pid" KILL
            sleep 0.2
            break
        fi
        sleep 0.1
    done
    deadline=$((SECONDS + 5))
    while [[ -n "$(_reg_session_pids "$pid")" ]] && ((SECONDS < deadline)); do
        _reg_signal_session "$pid" KILL
        sleep 0.1
    done
    rm -f "$pidfile"
    return 0
}

# Starts docker-registry with CONFIG in its own session, logging to LOG; the session leader's pid goes to PIDFILE.
_reg_spawn() {
    local config="$1" log="$2" pidfile="$3" env_unset=() var i
    rm -f "$pidfile" "${pidfile}.tmp"
    # REGISTRY_* variables override the config file, so keep any from the caller's environment out.
    for var in $(compgen -e); do
        [[ "$var" == REGISTRY_* ]] && env_unset+=(-u "$var")
    done
    # setsid -f forks so the child always leads a new session; inherited fds are closed so no caller pipe stays held.
    # shellcheck disable=SC2016
    setsid -f bash -c '
        echo "$$" >"$1.tmp" && mv -f "$1.tmp" "$1"
        for fd in /proc/$$/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then eval "exec ${fd}>&-" 2>/dev/null; fi
        done
        shift
        exec "$@"
    ' registry-spawn "$pidfile" env ${env_unset[@]+"${env_unset[@]}"} docker-registry serve "$config" \
        </dev/null >>"$log" 2>&1 || return 1
    for ((i = 0; i < 50; i++)); do
        [[ -s "$pidfile" ]] && return 0
        sleep 0.1
    done
    return 1
}

# True if PID holds the socket listening on 127.0.0.1:PORT, so an answer there really comes from it.
_reg_owns_port() {
    local pid="$1" port="$2" hex table links laddr st rest inode
    hex=$(printf '%04X' "$port")
    # Slurp first: bash reads /proc files byte by byte, which is slow on a busy socket table.
    table=$(<"/proc/${pid}/net/tcp") 2>/dev/null || return 1
    links=$(ls -l "/proc/${pid}/fd/" 2>/dev/null) || return 1
    # Fields: sl local rem st tx:rx tr:when retrnsmt uid timeout inode.
    while read -r _ laddr _ st rest; do
        if [[ "$st" == 0A && ("$laddr" == "0100007F:${hex}" || "$laddr" == "7F000001:${hex}") ]]; then
            read -r _ _ _ _ _ inode _ <<<"$rest"
            [[ "$links" == *"socket:[${inode}]"* ]] && return 0
        fi
    done <<<"$table"
    return 1
}

# Polls URL (the last argument) with curl until our process answers on PORT, dies, or the deadline passes.
_reg_wait_ready() {
    local name="$1" pid="$2" marker="$3" port="$4" deadline
    shift 4
    deadline=$((SECONDS + TESTENV_REGISTRY_READY_TIMEOUT))
    while :; do
        if ! _reg_pid_ours "$pid" "$marker"; then
            return 2
        fi
        # Another registry may already serve this port; that answer must not count as ours.
        if curl -fsS --noproxy '*' --max-time 2 -o /dev/null "$@" 2>/dev/null && _reg_owns_port "$pid" "$port"; then
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
        port=$(_reg_pick_port ${avoid:+"$avoid"}) || {
            _reg_log "${name} failed to start, see ${log}"
            return 1
        }
        if ! "$writer" "$dir" "$port" || ! printf '127.0.0.1:%s\n' "$port" >"${dir}/registry/${name}.addr"; then
            _reg_log "${name} failed to start, see ${log}"
            return 1
        fi
        printf -- '--- %s start on 127.0.0.1:%s (attempt %s)\n' "$(date -u +%FT%TZ)" "$port" "$attempt" >>"$log"
        if ! _reg_spawn "$config" "$log" "$pidfile"; then
            _reg_log "${name} failed to start, see ${log}"
            return 1
        fi
        pid=$(_reg_read "$pidfile")
        rc=0
        _reg_wait_ready "$name" "$pid" "$config" "$port" "$@" "${scheme}://127.0.0.1:${port}/v2/" || rc=$?
        if ((rc == 0)); then
            _reg_log "${name} running on 127.0.0.1:${port} (pid ${pid})"
            return 0
        fi
        if ((rc == 2)) && [[ "$(tail -n 20 "$log")" == *"address already in use"* ]]; then
            _reg_log "${name}: port ${port} was taken meanwhile, retrying"
            rm -f "$pidfile"
            continue
        fi
        if ((rc == 1)); then
            _reg_log "${name} did not answer within ${TESTENV_REGISTRY_READY_TIMEOUT}s"
        fi
        _reg_stop "$dir" "$name"
        _reg_log "${name} failed to start, see ${log}"
        return 1
    done
    _reg_log "${name} failed to start, see ${log}"
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
    plain=$(_reg_read "${dir}/registry/registry.addr")
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
    plain=$(_reg_read "${dir}/registry/registry.addr")
    image="${plain}/${_REG_BASE_REPO}"
    busybox=$(command -v busybox) || {
        _reg_log "base-image: busybox not found (install busybox-static)"
        return 1
    }
    busybox=$(readlink -f "$busybox")
    # A dynamically linked busybox would not run inside an image that has no libc.
    # ldd exits 1 for static binaries, so look at its output rather than its status.
    if [[ "$(LC_ALL=C ldd "$busybox" 2>&1 || true)" != *"not a dynamic executable"* ]]; then
        _reg_log "base-image: ${busybox} is not statically linked (install busybox-static)"
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
            _reg_log "registry: required command '${cmd}' not found"
            return 1
        fi
    done
    # Leftovers of an earlier run in the same DIR would hold ports and pid files.
    registry_down "$dir" || true
    if ! mkdir -p "${dir}/registry/plain" "${dir}/registry/auth" "${dir}/logs" "${dir}/pids" \
        "${dir}/buildah/root" "${dir}/buildah/runroot" "${dir}/buildah/tmp"; then
        _reg_log "registry failed to start, see ${dir}/logs/registry.log"
        return 1
    fi
    rm -f "${dir}/registry/base-image" "${dir}/registry/registry.addr" "${dir}/registry/registry-auth.addr"
    t0=$(_reg_now_ms)

    _reg_log "starting registry"
    _reg_start_component "$dir" registry _reg_write_plain_config http "" || return 1
    plain=$(_reg_read "${dir}/registry/registry.addr")

    _reg_log "starting registry-auth"
    if ! _reg_make_tls "$dir" || ! _reg_make_htpasswd "$dir"; then
        _reg_log "registry-auth failed to start, see ${dir}/logs/registry-auth.log"
        registry_down "$dir" || true
        return 1
    fi
    if ! _reg_start_component "$dir" registry-auth _reg_write_auth_config https "${plain##*:}" \
        --cacert "${dir}/registry/ca.crt" \
        -u "${_REG_AUTH_USER}:$(_reg_read "${dir}/registry/auth.password")"; then
        registry_down "$dir" || true
        return 1
    fi
    t1=$(_reg_now_ms)
    _reg_log "registries up in $((t1 - t0)) ms"

    if ! _reg_write_buildah_conf "$dir"; then
        _reg_log "base-image failed to start, see ${dir}/logs/base-image.log"
        registry_down "$dir" || true
        return 1
    fi
    _reg_log "building base image ${plain}/${_REG_BASE_REPO}"
    if ! _reg_build_base "$dir"; then
        _reg_log "base-image failed to start, see ${dir}/logs/base-image.log"
        registry_down "$dir" || true
        return 1
    fi
    t2=$(_reg_now_ms)
    _reg_log "base image built and pushed in $((t2 - t1)) ms"
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
        pid=$(_reg_read "${dir}/pids/${name}.pid")
        addr=$(_reg_read "${dir}/registry/${name}.addr")
        if [[ -n "$pid" ]] && _reg_pid_ours "$pid" "${dir}/registry/${name}.yml"; then
            printf '%-13s running pid %s %s\n' "$name" "$pid" "$addr"
        else
            printf '%-13s stopped\n' "$name"
        fi
    done
}

registry_env() {
    local dir="${1:-}" plain auth user password base
    _reg_check_dir "$dir" || return 1
    plain=$(_reg_read "${dir}/registry/registry.addr")
    auth=$(_reg_read "${dir}/registry/registry-auth.addr")
    user=$(_reg_read "${dir}/registry/auth.user")
    password=$(_reg_read "${dir}/registry/auth.password")
    base=$(_reg_read "${dir}/registry/base-image")
    if [[ -z "$plain" || -z "$auth" || -z "$password" || -z "$base" ]]; then
        _reg_log "registry: no registry state in ${dir}; run registry_up first"
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
