# shellcheck shell=bash
# Process and port helpers shared by the test environment's components (testenv/cluster,
# lib/registry.sh): start a daemon in its own session, know it is still ours, stop it for good.

tenv_log() {
    printf 'testenv: %s\n' "$*" >&2
}

# Milliseconds since the epoch, for the timing lines.
tenv_now_ms() {
    local t
    t=$(date +%s%N)
    printf '%s\n' "$((t / 1000000))"
}

# True if something accepts connections on 127.0.0.1:PORT or any socket is bound to PORT.
tenv_port_busy() {
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
tenv_pick_port() {
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
        tenv_port_busy "$port" && continue
        printf '%s\n' "$port"
        return 0
    done
    tenv_log "no free port found in 20000-60000"
    return 1
}

# Reads one line from FILE into stdout; empty output if it is missing.
tenv_read() {
    local line=""
    if [[ -r "$1" ]]; then
        IFS= read -r line <"$1" || true
    fi
    printf '%s\n' "$line"
}

# Fields "STATE SID PGRP" of /proc/PID/stat; comm may contain spaces, so cut after the last ')'.
tenv_proc_fields() {
    local stat rest state pgrp sid
    stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
    rest=${stat##*) }
    read -r state _ pgrp sid _ <<<"$rest"
    printf '%s %s %s\n' "$state" "$sid" "$pgrp"
}

# True if PID is a live (non-zombie) process whose command line mentions MARKER, i.e. one we started.
tenv_pid_ours() {
    local pid="$1" marker="$2" fields cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    fields=$(tenv_proc_fields "$pid" 2>/dev/null) || return 1
    [[ "${fields%% *}" != Z ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$marker"* ]]
}

# Prints the live (non-zombie) pids of session SID.
tenv_session_pids() {
    local sid="$1" f pid fields state psid
    for f in /proc/[0-9]*/stat; do
        pid=${f#/proc/}
        pid=${pid%/stat}
        fields=$(tenv_proc_fields "$pid" 2>/dev/null) || continue
        read -r state psid _ <<<"$fields"
        [[ "$psid" == "$sid" && "$state" != Z ]] && printf '%s\n' "$pid"
    done
    return 0
}

# Sends SIGNAL to the process group and, for stragglers that changed group, to each member of the session.
tenv_signal_session() {
    local sid="$1" sig="$2" pid
    kill "-${sig}" -- "-${sid}" 2>/dev/null || true
    for pid in $(tenv_session_pids "$sid"); do
        kill "-${sig}" "$pid" 2>/dev/null || true
    done
}

# Stops component NAME (pid file DIR/pids/NAME.pid) if it is still the process we started, i.e. a live
# session leader whose command line contains MARKER; TERM first, KILL after TIMEOUT seconds.
tenv_stop() {
    local dir="$1" name="$2" marker="$3" timeout="${4:-10}" pidfile pid deadline
    pidfile="${dir}/pids/${name}.pid"
    pid=$(tenv_read "$pidfile")
    if [[ -z "$pid" ]]; then
        rm -f "$pidfile"
        return 0
    fi
    # A stale pid file may name an unrelated process by now; only a session led by our process is ours.
    if ! tenv_pid_ours "$pid" "$marker" || [[ "$(tenv_proc_fields "$pid" | cut -d' ' -f2)" != "$pid" ]]; then
        rm -f "$pidfile"
        return 0
    fi
    tenv_log "stopping ${name} (pid ${pid})"
    tenv_signal_session "$pid" TERM
    deadline=$((SECONDS + timeout))
    while [[ -n "$(tenv_session_pids "$pid")" ]]; do
        if ((SECONDS >= deadline)); then
            tenv_log "${name} did not exit after ${timeout}s, killing"
            tenv_signal_session "$pid" KILL
            sleep 0.2
            break
        fi
        sleep 0.1
    done
    deadline=$((SECONDS + 5))
    while [[ -n "$(tenv_session_pids "$pid")" ]] && ((SECONDS < deadline)); do
        tenv_signal_session "$pid" KILL
        sleep 0.1
    done
    rm -f "$pidfile"
    return 0
}

# Runs COMMAND... in a new session, appending its output to LOG; the session leader's pid goes to PIDFILE.
tenv_spawn() {
    local pidfile="$1" log="$2" i
    shift 2
    rm -f "$pidfile" "${pidfile}.tmp"
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
    ' testenv-spawn "$pidfile" "$@" </dev/null >>"$log" 2>&1 || return 1
    for ((i = 0; i < 50; i++)); do
        [[ -s "$pidfile" ]] && return 0
        sleep 0.1
    done
    return 1
}

# True if PID holds the socket listening on 127.0.0.1:PORT, so an answer there really comes from it.
tenv_owns_port() {
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
