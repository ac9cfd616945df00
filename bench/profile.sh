#!/usr/bin/env bash
# The counts behind the fork+exec path, memory and startup (issue 18): figures
# that do not depend on how busy the machine is, for this inetd and for
# vforkserver (bench/refserver.c -DRAW_VFORK) side by side.
#
#   bench/profile.sh [BINARY]     (default target/release/inetd)
#
# Per connection to a static hello (sequential, one service on 127.0.0.1):
#   - system calls of the daemon, and of the child before its execve (strace -f)
#   - instructions of the daemon (valgrind --tool=callgrind: (Ir after N
#     connections - Ir after none) / N)
#   - page faults of the daemon and of its children (/proc/PID/stat)
# Startup with 11 and 200 services: system calls to the first epoll_wait
# (strace), page faults of a whole run (perf stat, when it works).
# Idle memory with 11, 200 and 2000 services: VmRSS, RssAnon, RssFile.
#
# Needs strace; valgrind and perf are used when present. Runs as any user
# (services run as the caller); ports 27001 and 30001-32000 of 127.0.0.1.
# Every process it starts is stopped by pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=$(realpath "${1:-$repo/target/release/inetd}")
work=$(mktemp -d /tmp/inetd-profile.XXXXXX)
pids=()
cleanup() {
    # A traced daemon outlives its strace (which detaches when killed):
    # its children go first.
    for p in "${pids[@]}"; do
        pkill -P "$p" 2>/dev/null || true
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
N=${PROFILE_CONNECTIONS:-200}
user=$(id -un)

gcc -O2 -static -s -o "$work/hello" "$here/hello.c"
gcc -O2 -Wall -DRAW_VFORK -o "$work/vforkserver" "$here/refserver.c"
conf() { # N: N hello services from port 30001 (27001 for one)
    local i
    if [ "$1" = 1 ]; then
        echo "127.0.0.1:27001 stream tcp nowait $user $work/hello hello"
        return
    fi
    for ((i = 1; i <= $1; i++)); do
        echo "127.0.0.1:$((30000 + i)) stream tcp nowait $user $work/hello hello"
    done
}
for n in 1 11 200 2000; do conf "$n" > "$work/c$n.conf"; done

connect() { # N: N connections to 27001, each read to its end
    local i
    for ((i = 0; i < $1; i++)); do
        exec 3<>/dev/tcp/127.0.0.1/27001
        cat <&3 >/dev/null
        exec 3<&-
    done
}
wait_for() { # FILE PATTERN: until the pattern shows in the file (10 s at most)
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "profile.sh: timed out waiting for '$2' in $1" >&2
    return 1
}
daemon_of() { # NAME: the command line of this inetd or of vforkserver
    case "$1" in
        ours) echo "$bin -f -e -R 0 $work/c1.conf" ;;
        vforkserver) echo "$work/vforkserver tcp:27001:$work/hello:hello" ;;
    esac
}

echo "binary: $bin; $N connections per figure"
for d in ours vforkserver; do
    read -r -a cmd <<< "$(daemon_of "$d")"
    # System calls: everything the daemon does between the first and the last
    # connection, and what each child does before its execve.
    trace="$work/$d.strace"
    strace -f -o "$trace" "${cmd[@]}" 2>/dev/null &
    pids+=($!)
    wait_for "$trace" 'epoll_wait\|[0-9] poll('
    dpid=$(awk 'NR == 1 { print $1 }' "$trace")
    begin=$(wc -l < "$trace")
    connect "$N"
    sleep 0.3
    end=$(wc -l < "$trace")
    kill "$dpid"
    wait "${pids[-1]}" 2>/dev/null || true
    sed -n "$((begin + 1)),${end}p" "$trace" | awk -v d="$dpid" -v n="$N" -v name="$d" '
        $2 ~ /^(<\.\.\.|---|\+\+\+)/ { next }
        $1 == d { daemon++; next }
        !($1 in execd) { if ($2 ~ /^execve/) execd[$1] = 1; else child++ }
        END { printf "%s: system calls per connection: daemon %.1f, child before execve %.1f\n", name, daemon / n, child / n }'

    # Page faults.
    "${cmd[@]}" 2>"$work/$d.log" &
    dpid=$!
    pids+=("$dpid")
    sleep 0.3
    read -r mf cmf < <(awk '{ print $10, $11 }' "/proc/$dpid/stat")
    connect "$N"
    sleep 0.3
    read -r mf2 cmf2 < <(awk '{ print $10, $11 }' "/proc/$dpid/stat")
    kill "$dpid"
    awk -v a=$((mf2 - mf)) -v b=$((cmf2 - cmf)) -v n="$N" -v name="$d" \
        'BEGIN { printf "%s: page faults per connection: daemon %.2f, children %.1f\n", name, a / n, b / n }'

    # Instructions.
    if command -v valgrind >/dev/null; then
        ir=()
        for k in 0 "$N"; do
            valgrind --tool=callgrind --callgrind-out-file="$work/cg.$d.$k" "${cmd[@]}" 2>"$work/vg.$d.$k" &
            vpid=$!
            pids+=("$vpid")
            wait_for "$work/vg.$d.$k" 'ready:\|services on'
            connect "$k"
            sleep 0.3
            kill "$vpid"
            wait "$vpid" 2>/dev/null || true
            ir+=("$(sed -n 's/.*Collected : //p' "$work/vg.$d.$k")")
        done
        echo "$d: instructions per connection (callgrind): $(( (ir[1] - ir[0]) / N ))"
    fi
done

for n in 11 200; do
    trace="$work/start$n.strace"
    strace -o "$trace" "$bin" -f -e -R 0 "$work/c$n.conf" 2>/dev/null &
    spid=$!
    pids+=("$spid")
    wait_for "$trace" 'epoll_wait'
    kill "$(pgrep -P "$spid")" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    calls=$(grep -n 'epoll_wait' "$trace" | head -1 | cut -d: -f1)
    faults=""
    if perf stat -e page-faults true >/dev/null 2>&1; then
        perf stat -e page-faults -x, -o "$work/pf$n" "$bin" -f -e -R 0 "$work/c$n.conf" 2>"$work/pf$n.log" &
        ppid=$!
        pids+=("$ppid")
        wait_for "$work/pf$n.log" 'ready:'
        kill "$(pgrep -P "$ppid")" 2>/dev/null || true
        wait "$ppid" 2>/dev/null || true
        faults=", page faults of the whole run $(grep page-faults "$work/pf$n" | cut -d, -f1)"
    fi
    echo "startup, $n services: $calls system calls to the first epoll_wait$faults"
done

for n in 11 200 2000; do
    "$bin" -f -e -R 0 "$work/c$n.conf" 2>"$work/idle$n.log" &
    dpid=$!
    pids+=("$dpid")
    wait_for "$work/idle$n.log" 'ready:'
    sleep 0.5
    echo "idle, $n services: $(grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$dpid/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
    kill "$dpid"
done
