#!/usr/bin/env bash
# The inetd benchmark (issue 6): the same workloads, on loopback, against this
# inetd, the peer daemons and a minimal C reference server, interleaved, with
# medians and ratios written as a Markdown table.
#
#   bench/run.sh [options] [--ours BINARY]   full run (installs the peers if needed)
#   bench/run.sh --smoke BINARY              about a second per workload, BINARY only
#
# Options:
#   --ours BINARY      this inetd (default: target/release/inetd if it exists, then
#                      /work/main/target/release/inetd); --no-ours to leave it out
#   --daemons LIST     comma list among ours,refserver,vforkserver,openbsd-inetd,
#                      xinetd,inetutils-inetd,busybox (default: all that are available)
#   --rounds N         repetitions of every figure, interleaved (default 3)
#   --secs S           seconds per load measurement (default 1.5; chargen: 5)
#   --idle-conns N     idle echo connections for the memory figure (default 10000)
#   --reloads N        SIGHUPs under load (default 100)
#   --no-write         do not update BENCHMARKS.md
#   --work DIR         work directory (default bench/.work)
#
# Must run as root: the builtins listen on their real ports (7, 9, 13, 19, 37)
# of 127.0.0.1, since `internal` picks the builtin by service name. Only one
# daemon runs at a time. All load goes to 127.0.0.1; every load loop is
# bounded in count and time; every process started here is killed by pid on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cmdline="bench/run.sh${*:+ $*}"

smoke=0
ours=""
no_ours=0
daemons=""
rounds=3
secs=1.5
chargen_secs=5
idle_conns=10000
reloads=100
write_md=1
work="$here/.work"

while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1; ours=${2:?--smoke needs the inetd binary}; shift ;;
        --ours) ours=${2:?}; shift ;;
        --no-ours) no_ours=1 ;;
        --daemons) daemons=${2:?}; shift ;;
        --rounds) rounds=${2:?}; shift ;;
        --secs) secs=${2:?}; shift ;;
        --idle-conns) idle_conns=${2:?}; shift ;;
        --reloads) reloads=${2:?}; shift ;;
        --no-write) write_md=0 ;;
        --work) work=${2:?}; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$smoke" = 1 ]; then
    rounds=1; secs=0.5; chargen_secs=1; idle_conns=200; reloads=10; write_md=0
    daemons=ours
fi
if [ "$(id -u)" != 0 ]; then
    echo "run.sh: must run as root (builtins listen on ports 7-37 of 127.0.0.1)" >&2
    exit 2
fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

mkdir -p "$work"
work=$(cd "$work" && pwd)
stamp=$(date +%Y%m%d-%H%M%S)
out="$work/results/$stamp"
mkdir -p "$out"
results="$out/results.tsv"
: > "$results"

# ------------------------------------------------------------------ cleanup
# Every process we start is tracked as PID:STARTTIME while it runs; on exit
# each one still alive is killed, after checking (by its start time) that the
# pid was not reused by some other process in the meantime.
tracked=()
starttime() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null || true; }
track() { # PID
    local st
    st=$(starttime "$1")
    [ -n "$st" ] && tracked+=("$1:$st")
    return 0
}
untrack_all() { tracked=(); }
ours_still() { # PID:STARTTIME -> true when that very process still exists
    [ "$(starttime "${1%%:*}")" = "${1#*:}" ]
}
cleanup() {
    local t
    for t in "${tracked[@]}"; do
        if ours_still "$t"; then kill -TERM "${t%%:*}" 2>/dev/null || true; fi
    done
    sleep 0.2
    for t in "${tracked[@]}"; do
        if ours_still "$t"; then kill -KILL "${t%%:*}" 2>/dev/null || true; fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ build
log "building the load generator, hello, refserver and vforkserver"
(cd "$repo" && cargo build -q --release --example loadgen)
LG="$repo/target/release/examples/loadgen"
HELLO="$work/hello"
REF="$work/refserver"
VFORK="$work/vforkserver"
gcc -O2 -static -s -o "$HELLO" "$here/hello.c"
gcc -O2 -Wall -o "$REF" "$here/refserver.c"
gcc -O2 -Wall -DRAW_VFORK -o "$VFORK" "$here/refserver.c"
CAT=/bin/cat

# CPU placement: the load generator (this script and all it runs) on CPU 0,
# the daemon and its children on CPU 1, so that no figure depends on where the
# scheduler happens to put the two ends of a connection.
PIN=""
if [ "$(nproc --all)" -ge 2 ] && [ "${BENCH_NO_PIN:-0}" != 1 ] && command -v taskset >/dev/null; then
    taskset -p -c 0 $$ >/dev/null
    PIN="taskset -c 1"
fi

# Each daemon runs in a private mount namespace whose /etc/resolv.conf names
# 127.0.0.1 only: a daemon that looks up its clients' names (libwrap in
# xinetd) must never send a query off this machine.
# It also gets a private, empty /run, where busybox and inetutils write their
# pid files (/run/inetd.pid) regardless of options.
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$work/resolv.conf"
SANDBOX=(unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && mount -t tmpfs -o size=16m bench-run /run && exec "$@"' "$work/resolv.conf")
if ! "${SANDBOX[@]}" true 2>/dev/null; then
    echo "run.sh: cannot make a mount namespace (unshare -m)" >&2
    exit 2
fi

# Daemons can hold 10,000 connections and more.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ------------------------------------------------------------------ daemons
if [ "$no_ours" = 1 ]; then
    ours=""
elif [ -z "$ours" ]; then
    for c in "$repo/target/release/inetd" /work/main/target/release/inetd; do
        if [ -x "$c" ]; then ours=$c; break; fi
    done
fi
if [ -n "$ours" ]; then
    [ -x "$ours" ] || { echo "run.sh: $ours is not an executable" >&2; exit 2; }
    ours=$(cd "$(dirname "$ours")" && pwd)/$(basename "$ours")
fi

all="ours refserver vforkserver openbsd-inetd xinetd inetutils-inetd busybox"
[ -n "$daemons" ] || daemons=$all
daemons=${daemons//,/ }
wanted=""
for d in $daemons; do
    case "$d" in
        ours) if [ -n "$ours" ]; then wanted="$wanted ours"; else log "no inetd binary: leaving 'ours' out"; fi ;;
        refserver|vforkserver) wanted="$wanted $d" ;;
        openbsd-inetd|xinetd|inetutils-inetd|busybox) wanted="$wanted $d"; need_peers=1 ;;
        *) echo "run.sh: unknown daemon $d" >&2; exit 2 ;;
    esac
done
daemons=$wanted
[ -n "$daemons" ] || { echo "run.sh: no daemon to measure" >&2; exit 2; }

if [ "${need_peers:-0}" = 1 ]; then
    log "setting up the peers (bench/setup-peers.sh)"
    "$here/setup-peers.sh" "$work" >"$out/setup-peers.log" 2>&1 || { cat "$out/setup-peers.log" >&2; exit 1; }
    # shellcheck disable=SC1091
    . "$work/peers/env.sh"
    # busybox picks the applet by the name it is run as.
    BUSYBOX_INETD="$work/peers/busybox/inetd"
    ln -sf busybox "$BUSYBOX_INETD"
fi

RATE=1000000000        # "unlimited" for the per-minute rate limiters

# Services: the 11 of the small config; the 200-service config adds 189 more
# copies of hello on 17100...; the SIGHUP test adds one on 17999.
BUILTIN_TCP="echo discard chargen daytime time"
BUILTIN_UDP="echo discard daytime time"
extra_ports() { # N_SERVICES
    local n=$(($1 - 11)) i
    for ((i = 0; i < n; i++)); do echo $((17100 + i)); done
}

# conf_DAEMON N_SERVICES ADDED(0/1): prints the configuration.
conf_classic() { # DAEMON N ADDED: inetd.conf syntax (ours, openbsd, inetutils, busybox)
    local d=$1 n=$2 added=$3 s p nw=nowait
    # Open the per-service rate limiters where the syntax has them.
    case "$d" in
        ours) nw=${OURS_NOWAIT:-nowait} ;;
        openbsd-inetd|busybox) nw="nowait.$RATE" ;;
    esac
    echo "# $d, $n services (generated by bench/run.sh)"
    for s in $BUILTIN_TCP; do echo "127.0.0.1:$s stream tcp $nw root internal"; done
    for s in $BUILTIN_UDP; do echo "127.0.0.1:$s dgram udp wait root internal"; done
    echo "127.0.0.1:17001 stream tcp $nw root $HELLO hello"
    echo "127.0.0.1:17002 stream tcp $nw root $CAT cat"
    for p in $(extra_ports "$n"); do echo "127.0.0.1:$p stream tcp $nw root $HELLO hello"; done
    if [ "$added" = 1 ]; then echo "127.0.0.1:17999 stream tcp $nw root $HELLO hello"; fi
}
conf_xinetd() { # N ADDED
    local n=$1 added=$2 s p
    cat <<EOF
# xinetd, $n services (generated by bench/run.sh)
defaults
{
	instances       = UNLIMITED
	per_source      = UNLIMITED
	cps             = $RATE 1
	log_on_success  =
	log_on_failure  =
}
EOF
    for s in $BUILTIN_TCP; do
        printf 'service %s\n{\n\tid = %s-stream\n\ttype = INTERNAL\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tbind = 127.0.0.1\n}\n' "$s" "$s"
    done
    for s in $BUILTIN_UDP; do
        printf 'service %s\n{\n\tid = %s-dgram\n\ttype = INTERNAL\n\tsocket_type = dgram\n\tprotocol = udp\n\twait = yes\n\tuser = root\n\tbind = 127.0.0.1\n}\n' "$s" "$s"
    done
    xsvc() { # NAME PORT PROGRAM
        printf 'service %s\n{\n\ttype = UNLISTED\n\tport = %s\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tserver = %s\n\tbind = 127.0.0.1\n}\n' "$1" "$2" "$3"
    }
    xsvc hello 17001 "$HELLO"
    xsvc cat 17002 "$CAT"
    for p in $(extra_ports "$n"); do xsvc "hello$p" "$p" "$HELLO"; done
    if [ "$added" = 1 ]; then xsvc hello17999 17999 "$HELLO"; fi
}
ref_args() { # N ADDED: refserver takes its services as arguments
    local n=$1 s p
    for s in $BUILTIN_TCP; do echo "tcp:$(port_of "$s"):$s"; done
    for s in $BUILTIN_UDP; do echo "udp:$(port_of "$s"):$s"; done
    echo "tcp:17001:$HELLO:hello"
    echo "tcp:17002:$CAT:cat"
    for p in $(extra_ports "$n"); do echo "tcp:$p:$HELLO:hello"; done
}
port_of() { case "$1" in echo) echo 7 ;; discard) echo 9 ;; daytime) echo 13 ;; chargen) echo 19 ;; time) echo 37 ;; esac; }

write_conf() { # DAEMON N ADDED FILE
    case "$1" in
        xinetd) conf_xinetd "$2" "$3" > "$4" ;;
        refserver|vforkserver) : > "$4" ;;
        *) conf_classic "$1" "$2" "$3" > "$4" ;;
    esac
}

# The command line of a daemon in the foreground, rate limiters opened up.
daemon_cmd() { # DAEMON CONF N
    case "$1" in
        # Our spawn rate, UDP reply and per-client builtin limits opened up (0: none), as the peers' are.
        ours) echo "$ours" -f -e -R 0 --udp-source-rate 0 --udp-rate 0 --builtins-per-client 0 "$2" ;;
        openbsd-inetd) echo "$OPENBSD_INETD" -i -R "$RATE" "$2" ;;
        xinetd) echo "$XINETD" -dontfork -f "$2" ;;
        # inetutils has no foreground mode but -d, and -d sleeps 1 s after every
        # reaped child: it runs detached, and its pid comes from its pid file.
        inetutils-inetd) echo "$INETUTILS_INETD" -R "$RATE" --pidfile="$out/$1.dpid" "$2" ;;
        busybox) echo "$BUSYBOX_INETD" -f -e "$2" ;;
        refserver) echo "$REF" $(ref_args "$3" 0) ;;
        vforkserver) echo "$VFORK" $(ref_args "$3" 0) ;;
    esac
}
daemon_binary() {
    case "$1" in
        ours) echo "$ours" ;; openbsd-inetd) echo "$OPENBSD_INETD" ;; xinetd) echo "$XINETD" ;;
        inetutils-inetd) echo "$INETUTILS_INETD" ;; busybox) echo "$BUSYBOX" ;; refserver) echo "$REF" ;;
        vforkserver) echo "$VFORK" ;;
    esac
}

DPID=""   # the daemon
SPID=""   # its supervisor (loadgen spawn)

# start DAEMON N: starts it with the N-service config, records the startup time.
start_daemon() {
    local d=$1 n=$2 conf="$out/$1.conf" f="$out/$1.start" i
    # Another server on our ports would take our load: refuse to go on.
    for i in 7 13 17001; do
        if "$LG" probe --addr "127.0.0.1:$i" >/dev/null 2>&1; then
            log "something already answers on 127.0.0.1:$i (a daemon left over?); stop it first"
            ss -ltnp 2>/dev/null | grep -E "127\.0\.0\.1:$i\b" >&2 || true
            exit 1
        fi
    done
    write_conf "$d" "$n" 0 "$conf"
    rm -f "$f" "$out/$d.pid"
    # shellcheck disable=SC2046
    "$LG" spawn --addr 127.0.0.1:7 --probe-send 1 --timeout-ms 15000 \
        --pidfile "$out/$d.pid" --out "$f" -- "${SANDBOX[@]}" $PIN $(daemon_cmd "$d" "$conf" "$n") >>"$out/$d.log" 2>&1 &
    SPID=$!
    track "$SPID"
    for ((i = 0; i < 400; i++)); do
        [ -e "$f" ] && break
        sleep 0.05
    done
    DPID=$(cat "$out/$d.pid" 2>/dev/null || true)
    if [ "$d" = inetutils-inetd ]; then
        # Detached: the pid in its pid file is the daemon.
        for ((i = 0; i < 40; i++)); do [ -s "$out/$d.dpid" ] && break; sleep 0.05; done
        DPID=$(cat "$out/$d.dpid" 2>/dev/null || true)
        rm -f "$out/$d.dpid"
        if [ -z "$DPID" ]; then
            # Never leave it running: find it by its listening socket.
            DPID=$(ss -ltnpH 'sport = :7' 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
        fi
    fi
    [ -n "$DPID" ] && track "$DPID"
    DSTART=$(starttime "$DPID")
    STARTUP=$(kv "$(cat "$f" 2>/dev/null || true)" startup_ms)
    if [ -z "$STARTUP" ] || [ "$STARTUP" = fail ] || [ -z "$DPID" ]; then
        log "$d did not answer on 127.0.0.1:7; its log:"
        tail -20 "$out/$d.log" >&2
        return 1
    fi
}

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# stop: the daemon, then whatever children it left, by pid (and start time).
stop_daemon() {
    local i
    [ -n "$DPID" ] || return 0
    "$LG" mem --pid "$DPID" --list 2>/dev/null | tail -n +2 > "$out/kids" || true
    if ours_still "$DPID:$DSTART"; then kill -TERM "$DPID" 2>/dev/null || true; fi
    for ((i = 0; i < 100; i++)); do
        if ! alive "$DPID" && ! alive "$SPID"; then break; fi
        sleep 0.05
    done
    if ours_still "$DPID:$DSTART"; then kill -KILL "$DPID" 2>/dev/null || true; fi
    "$LG" kill < "$out/kids" >/dev/null 2>&1 || true
    wait "$SPID" 2>/dev/null || true
    # Nothing of this daemon runs any more (the idle generator was waited for).
    untrack_all
    # Wait for the ports to be free for the next daemon.
    for ((i = 0; i < 100; i++)); do
        "$LG" probe --addr 127.0.0.1:7 >/dev/null 2>&1 || break
        sleep 0.05
    done
    DPID=""; SPID=""
}

kv() { # LINE KEY: the value of KEY=... in LINE
    local x
    for x in $1; do
        case "$x" in "$2="*) echo "${x#*=}"; return ;; esac
    done
}

# record DAEMON METRIC VALUE ROUND
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$results"; }

# load D R NAME LOADGEN-ARGS...: runs one load measurement and records its figures.
load() {
    local d=$1 r=$2 name=$3 line rate lg
    shift 3
    line=$("$LG" "$@" --cpu-pid "$DPID" 2>>"$out/loadgen.err" || true)
    printf '%s\t%s\t%s\t%s\n' "$d" "$r" "$name" "$line" >> "$out/raw.tsv"
    LAST=$line
    rate=$(kv "$line" rate)
    [ -n "$rate" ] || { log "  $name: loadgen failed"; SMOKE_FAIL=1; return 0; }
    if [ "$(kv "$line" ok)" = 0 ]; then log "  $name: no successful operation"; SMOKE_FAIL=1; fi
    log "  $name: $line"
    lg=$(kv "$line" lg_cpu_pct)
    if [ -n "$lg" ] && [ "$lg" -ge 90 ]; then log "  $name: the load generator used ${lg}% of its CPU: client-bound"; fi
    return 0
}

ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }

tcp_tx() { # D R NAME PORT CONC EXTRA...: connections per second, latency, failures
    local d=$1 r=$2 name=$3 port=$4 c=$5
    shift 5
    load "$d" "$r" "$name" tx --addr "127.0.0.1:$port" --conc "$c" --duration "$secs" --count 1000000 "$@"
    record "$d" "$name.conn_per_s" "$(kv "$LAST" rate)" "$r"
    record "$d" "$name.p50_ms" "$(ms "$(kv "$LAST" p50_us)")" "$r"
    record "$d" "$name.p99_ms" "$(ms "$(kv "$LAST" p99_us)")" "$r"
    record "$d" "$name.fail" "$(kv "$LAST" fail)" "$r"
    record "$d" "$name.cpu_us" "$(kv "$LAST" d_cpu_us_per_op)" "$r"
}

mem_of() { "$LG" mem --pid "$1"; }

# ------------------------------------------------------------------ one round
SMOKE_FAIL=0
round() { # DAEMON ROUND
    local d=$1 r=$2 m before after open conf c k i
    log "round $r: $d"

    # 7 + 6: startup and idle memory with 11 services.
    start_daemon "$d" 11 || { SMOKE_FAIL=1; stop_daemon; return 0; }
    record "$d" "7.startup_11svc_ms" "$STARTUP" "$r"
    sleep 0.3
    m=$(mem_of "$DPID")
    record "$d" "6.rss_idle_11svc_kib" "$(kv "$m" rss_kib)" "$r"

    # 1. fork+exec of a tiny static program, and of /bin/cat with a 64-byte request.
    for c in 1 8 64; do
        tcp_tx "$d" "$r" "1.hello.c$c" 17001 "$c" --min 6
    done
    for c in 1 8 64; do
        tcp_tx "$d" "$r" "1.cat64.c$c" 17002 "$c" --send 64 --shutdown --echo-check --min 64
    done

    # 2. builtin TCP echo: whole transactions; round trips on persistent connections.
    for c in 1 64; do
        load "$d" "$r" "2.echo_tx.c$c" tx --addr 127.0.0.1:7 --conc "$c" --duration "$secs" --send 64 --expect 64 --echo-check --linger0
        record "$d" "2.echo_tx.c$c.tx_per_s" "$(kv "$LAST" rate)" "$r"
        record "$d" "2.echo_tx.c$c.fail" "$(kv "$LAST" fail)" "$r"
        record "$d" "2.echo_tx.c$c.cpu_us" "$(kv "$LAST" d_cpu_us_per_op)" "$r"
    done
    for c in 1 64; do
        load "$d" "$r" "2.echo_rr.conns$c" rr --addr 127.0.0.1:7 --conc "$c" --duration "$secs" --send 64 --echo-check
        record "$d" "2.echo_rr.conns$c.rt_per_s" "$(kv "$LAST" rate)" "$r"
        record "$d" "2.echo_rr.conns$c.p99_ms" "$(ms "$(kv "$LAST" p99_us)")" "$r"
    done

    # 3. builtin chargen throughput.
    load "$d" "$r" "3.chargen" stream --addr 127.0.0.1:19 --duration "$chargen_secs"
    record "$d" "3.chargen.mbps" "$(kv "$LAST" mbps)" "$r"

    # 4. UDP echo and daytime, 1 and 16 requests in flight. (openbsd-inetd
    # drops datagrams from 127/8 by design, see dg_badinput: not measured.)
    [ "$d" = openbsd-inetd ] || for k in 1 16; do
        load "$d" "$r" "4.udp_echo.inflight$k" udp --addr 127.0.0.1:7 --conc "$k" --duration "$secs" --send 64 --echo-check --timeout-ms 50
        record "$d" "4.udp_echo.inflight$k.replies_per_s" "$(kv "$LAST" rate)" "$r"
        record "$d" "4.udp_echo.inflight$k.loss_pct" "$(kv "$LAST" loss_pct)" "$r"
        record "$d" "4.udp_echo.inflight$k.cpu_us" "$(kv "$LAST" d_cpu_us_per_op)" "$r"
    done
    [ "$d" = openbsd-inetd ] || for k in 1 16; do
        load "$d" "$r" "4.udp_daytime.inflight$k" udp --addr 127.0.0.1:13 --conc "$k" --duration "$secs" --send 1 --timeout-ms 50
        record "$d" "4.udp_daytime.inflight$k.replies_per_s" "$(kv "$LAST" rate)" "$r"
        record "$d" "4.udp_daytime.inflight$k.loss_pct" "$(kv "$LAST" loss_pct)" "$r"
    done

    # 5. TCP daytime and time.
    for c in 1 8; do
        tcp_tx "$d" "$r" "5.daytime.c$c" 13 "$c" --min 26
    done
    for c in 1 8; do
        tcp_tx "$d" "$r" "5.time.c$c" 37 "$c" --min 4
    done

    # 6. memory after the load, and per idle builtin connection.
    sleep 0.5
    before=$(mem_of "$DPID")
    record "$d" "6.rss_after_load_kib" "$(kv "$before" rss_kib)" "$r"
    rm -f "$out/idle.ready"
    "$LG" idle --addr 127.0.0.1:7 --conns "$idle_conns" --duration 20 --hold 60 \
        --ready-file "$out/idle.ready" >/dev/null 2>>"$out/loadgen.err" &
    local ipid=$!
    track "$ipid"
    for ((i = 0; i < 1400; i++)); do [ -e "$out/idle.ready" ] && break; sleep 0.05; done
    sleep 0.3
    after=$(mem_of "$DPID")
    open=$(kv "$(cat "$out/idle.ready" 2>/dev/null)" open)
    log "  idle: $(cat "$out/idle.ready" 2>/dev/null) before: $before after: $after"
    if [ -n "$open" ] && [ "$open" -gt 0 ]; then
        record "$d" "6.idle_conns_open" "$open" "$r"
        # PSS summed over the daemon and its children (the forking peers serve
        # each echo connection with a process), per connection, in bytes.
        record "$d" "6.bytes_per_idle_conn" "$(awk -v a="$(kv "$after" pss_tree_kib)" -v b="$(kv "$before" pss_tree_kib)" -v n="$open" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')" "$r"
    else
        SMOKE_FAIL=1
    fi
    kill -TERM "$ipid" 2>/dev/null || true
    wait "$ipid" 2>/dev/null || true
    stop_daemon

    # 7 + 6 + 8: 200 services: startup, idle memory, SIGHUP.
    start_daemon "$d" 200 || { SMOKE_FAIL=1; stop_daemon; return 0; }
    record "$d" "7.startup_200svc_ms" "$STARTUP" "$r"
    sleep 0.3
    m=$(mem_of "$DPID")
    record "$d" "6.rss_idle_200svc_kib" "$(kv "$m" rss_kib)" "$r"
    if [ "$d" != refserver ] && [ "$d" != vforkserver ]; then
        conf="$out/$d.conf"
        write_conf "$d" 200 0 "$out/$d.conf200"
        write_conf "$d" 200 1 "$out/$d.conf201"
        cp "$out/$d.conf201" "$conf.tmp" && mv "$conf.tmp" "$conf"
        m=$("$LG" hup --pid "$DPID" --addr 127.0.0.1:17999 --timeout-ms 5000 2>>"$out/loadgen.err" || true)
        log "  hup add: $m"
        record "$d" "8.hup_added_answers_ms" "$(kv "$m" hup_ms)" "$r"
        [ "$(kv "$m" hup_ms)" != fail ] || SMOKE_FAIL=1
        # Reloads under load: echo transactions on an unchanged service while
        # the config alternates between 200 and 201 services.
        load "$d" "$r" "8.reloads" tx --addr 127.0.0.1:7 --conc 8 --duration 60 --send 64 --expect 64 \
            --echo-check --linger0 --hup-pid "$DPID" --hups "$reloads" --hup-interval-ms 50 \
            --hup-files "$conf" "$out/$d.conf200" "$out/$d.conf201"
        record "$d" "8.reload_load_tx_per_s" "$(kv "$LAST" rate)" "$r"
        record "$d" "8.reload_refused" "$(kv "$LAST" refused)" "$r"
        record "$d" "8.reload_fail" "$(kv "$LAST" fail)" "$r"
        if ! kill -0 "$DPID" 2>/dev/null; then log "  $d died during the reloads"; SMOKE_FAIL=1; fi
    fi
    stop_daemon
}

# 9. stripped size and non-libc shared libraries.
sizes() { # DAEMON
    local d=$1 bin tmp libs n=0 kib=0 l real
    bin=$(daemon_binary "$d")
    tmp="$out/$d.stripped"
    strip -o "$tmp" "$bin" 2>/dev/null || cp "$bin" "$tmp"
    record "$d" "9.stripped_kib" "$(( ($(stat -c %s "$tmp") + 1023) / 1024 ))" 1
    libs=$(LD_LIBRARY_PATH=${PEER_LD_LIBRARY_PATH:-} ldd "$bin" 2>/dev/null | awk '$3 ~ /^\// { print $3 }' \
        | grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' || true)
    for l in $libs; do
        real=$(readlink -f "$l")
        n=$((n + 1))
        kib=$((kib + ($(stat -c %s "$real") + 1023) / 1024))
    done
    record "$d" "9.nonlibc_libs" "$n" 1
    record "$d" "9.nonlibc_libs_kib" "$kib" 1
    printf '%s: %s\n' "$d" "$(echo $libs | tr ' ' '\n' | xargs -r -n1 basename | tr '\n' ' ')" >> "$out/libs.txt"
}

# ------------------------------------------------------------------ 10. redirect
# A TCP forwarder (issue 15), to the same target for all: refserver's echo
# (connections per second: 64-byte echo transactions through the forwarder)
# and chargen (MB/s read through it), on CPU 0 beside the load generator.
# Forwarders: ours (`internal redirect`, relayed in its loop), xinetd's
# `redirect` (a process per connection) and socat (`fork`: a process per
# connection), both from Debian's packages. Rounds interleaved; its own
# table, between the bench-redirect markers of BENCHMARKS.md.
# BENCH_REDIRECT_ONLY=1 runs this workload alone.
REDIRECT_TX=17201 REDIRECT_TX_TARGET=17202 REDIRECT_STREAM=17203 REDIRECT_STREAM_TARGET=17204
redirect_conf() { # FORWARDER FILE
    case "$1" in
        ours) printf '127.0.0.1:%s stream tcp nowait root internal redirect 127.0.0.1:%s\n' \
            "$REDIRECT_TX" "$REDIRECT_TX_TARGET" "$REDIRECT_STREAM" "$REDIRECT_STREAM_TARGET" > "$2" ;;
        xinetd) {
            printf 'defaults\n{\n\tinstances = UNLIMITED\n\tper_source = UNLIMITED\n\tcps = %s 1\n\tlog_on_success =\n\tlog_on_failure =\n}\n' "$RATE"
            printf 'service fwd%s\n{\n\ttype = UNLISTED\n\tport = %s\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tbind = 127.0.0.1\n\tredirect = 127.0.0.1 %s\n}\n' \
                "$REDIRECT_TX" "$REDIRECT_TX" "$REDIRECT_TX_TARGET" "$REDIRECT_STREAM" "$REDIRECT_STREAM" "$REDIRECT_STREAM_TARGET"
        } > "$2" ;;
        socat) : > "$2" ;;
    esac
}
redirect_cmd() { # FORWARDER CONF
    case "$1" in
        ours) echo "$ours" -f -e -R 0 --builtins-per-client 0 "$2" ;;
        xinetd) echo "$XINETD" -dontfork -f "$2" ;;
        # One socat per port: the first is a child of the second (exec).
        socat) echo sh -c "'$SOCAT TCP-LISTEN:$REDIRECT_TX,bind=127.0.0.1,reuseaddr,fork,backlog=1024 TCP:127.0.0.1:$REDIRECT_TX_TARGET & exec $SOCAT TCP-LISTEN:$REDIRECT_STREAM,bind=127.0.0.1,reuseaddr,fork,backlog=1024 TCP:127.0.0.1:$REDIRECT_STREAM_TARGET'" ;;
    esac
}
redirect_round() { # FORWARDER ROUND
    local d=$1 r=$2 c f="$out/redirect-$1.start" conf="$out/redirect-$1.conf"
    # `load` and `record` write where $results says.
    local results="$out/redirect.tsv"
    log "redirect round $r: $d"
    redirect_conf "$d" "$conf"
    rm -f "$f" "$out/redirect-$d.pid"
    eval "set -- $(redirect_cmd "$d" "$conf")"
    "$LG" spawn --addr "127.0.0.1:$REDIRECT_TX" --probe-send 1 --timeout-ms 15000 \
        --pidfile "$out/redirect-$d.pid" --out "$f" -- "${SANDBOX[@]}" $PIN "$@" >>"$out/redirect-$d.log" 2>&1 &
    SPID=$!
    track "$SPID"
    for ((c = 0; c < 400; c++)); do [ -e "$f" ] && break; sleep 0.05; done
    DPID=$(cat "$out/redirect-$d.pid" 2>/dev/null || true)
    [ -n "$DPID" ] && track "$DPID"
    DSTART=$(starttime "$DPID")
    if [ -z "$DPID" ] || [ "$(kv "$(cat "$f" 2>/dev/null || true)" startup_ms)" = fail ]; then
        log "$d did not forward 127.0.0.1:$REDIRECT_TX; its log:"
        tail -20 "$out/redirect-$d.log" >&2
        SMOKE_FAIL=1; stop_daemon; return 0
    fi
    for c in 1 8 64; do
        load "$d" "$r" "10.redirect_tx.c$c" tx --addr "127.0.0.1:$REDIRECT_TX" --conc "$c" --duration "$secs" \
            --count 1000000 --send 64 --expect 64 --echo-check --linger0
        record "$d" "10.redirect_tx.c$c.conn_per_s" "$(kv "$LAST" rate)" "$r"
        record "$d" "10.redirect_tx.c$c.fail" "$(kv "$LAST" fail)" "$r"
        record "$d" "10.redirect_tx.c$c.cpu_us" "$(kv "$LAST" d_cpu_us_per_op)" "$r"
    done
    load "$d" "$r" "10.redirect_stream" stream --addr "127.0.0.1:$REDIRECT_STREAM" --duration "$chargen_secs"
    record "$d" "10.redirect_stream.mbps" "$(kv "$LAST" mbps)" "$r"
    stop_daemon
}
redirect_workload() {
    local forwarders="" d r k n tpid
    if [ -n "$ours" ]; then forwarders="ours"; fi
    if [ "$smoke" != 1 ]; then
        # Debian's packages, unpacked as setup-peers.sh does (and shared with it).
        mkdir -p "$work/peers/debs" "$work/peers/root"
        for k in xinetd socat; do
            [ -e "$work/peers/.unpacked-$k" ] && continue
            log "download + unpack $k"
            (cd "$work/peers/debs" && apt-get download -q -o APT::Sandbox::User=root "$k" >/dev/null 2>&1) \
                && dpkg -x "$work"/peers/debs/"$k"_*.deb "$work/peers/root" && touch "$work/peers/.unpacked-$k" || true
        done
        XINETD=${XINETD:-$work/peers/root/usr/sbin/xinetd}
        if [ -x "$XINETD" ]; then forwarders="$forwarders xinetd"; else log "no xinetd: leaving it out"; fi
        SOCAT="$work/peers/root/usr/bin/socat"
        [ -x "$SOCAT" ] || SOCAT=$(command -v socat || true)
        if [ -n "$SOCAT" ]; then forwarders="$forwarders socat"; else log "no socat: leaving it out"; fi
    fi
    [ -n "$forwarders" ] || return 0
    : > "$out/redirect.tsv"
    # The target, beside the load generator (this script's CPU).
    "$REF" -a 127.0.0.1 "tcp:$REDIRECT_TX_TARGET:echo" "tcp:$REDIRECT_STREAM_TARGET:chargen" >>"$out/redirect-target.log" 2>&1 &
    tpid=$!
    for ((k = 0; k < 100; k++)); do "$LG" probe --addr "127.0.0.1:$REDIRECT_TX_TARGET" >/dev/null 2>&1 && break; sleep 0.05; done
    set -- $forwarders
    n=$#
    for ((r = 1; r <= rounds; r++)); do
        for ((k = 0; k < n; k++)); do
            d=$(( (k + r - 1) % n + 1 ))
            redirect_round "${!d}" "$r"
        done
    done
    kill -TERM "$tpid" 2>/dev/null || true
    wait "$tpid" 2>/dev/null || true
    "$LG" report "$out/redirect.tsv" --base "${1}" --order ours,xinetd,socat > "$out/redirect.md"
    {
        echo "Command: \`${BENCH_REDIRECT_ONLY:+BENCH_REDIRECT_ONLY=1 }$cmdline\` ($(date -u +%Y-%m-%dT%H:%MZ), $rounds rounds, medians)"
        echo
        cat "$out/machine.md"
        [ "$smoke" = 1 ] || echo "- Forwarders: $(cd "$work/peers/debs" && ls xinetd_*.deb socat_*.deb 2>/dev/null | sed 's/_amd64.deb//; s/%3a/:/' | tr '\n' ' ')(socat: $SOCAT)"
        echo
        cat "$out/redirect.md"
    } > "$out/redirect-report.md"
    cat "$out/redirect-report.md"
    if [ "$write_md" = 1 ] && grep -q '<!-- bench-redirect:begin -->' "$repo/BENCHMARKS.md" 2>/dev/null; then
        awk -v f="$out/redirect-report.md" '
            /<!-- bench-redirect:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
            /<!-- bench-redirect:end -->/ { skip = 0 }
            !skip' "$repo/BENCHMARKS.md" > "$repo/BENCHMARKS.md.tmp" && mv "$repo/BENCHMARKS.md.tmp" "$repo/BENCHMARKS.md"
        log "redirect results written to BENCHMARKS.md"
    fi
}

# ------------------------------------------------------------------ main
machine() {
    local cpu mem virt
    cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
    mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
    virt=$(systemd-detect-virt 2>/dev/null || echo unknown)
    echo "- CPU: $(nproc --all) × $cpu; memory: $mem; virtualization: $virt"
    echo "- Kernel: $(uname -sr); OS: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- Compilers: $(gcc --version | head -1); $(rustc --version)"
    echo "- sysctl: net.ipv4.ip_local_port_range=$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' ' '), net.ipv4.tcp_tw_reuse=$(sysctl -n net.ipv4.tcp_tw_reuse), net.core.somaxconn=$(sysctl -n net.core.somaxconn)"
    if [ "${need_peers:-0}" = 1 ]; then
        echo "- Peers: $(cd "$work/peers/debs" && ls *.deb | sed 's/_amd64.deb//; s/%3a/:/' | tr '\n' ' ')busybox $(ls "$work/peers/busybox-src/" | sed -n 's/^busybox_\(.*\)\.dsc$/\1/p') (inetd applet only)"
    fi
    [ -z "$ours" ] || echo "- This inetd: $ours ($(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
}

log "daemons:$daemons; rounds: $rounds; ${secs}s per load; results in $out"
machine > "$out/machine.md"
if [ "${BENCH_REDIRECT_ONLY:-0}" = 1 ]; then
    redirect_workload
    if [ "$smoke" = 1 ] && [ "$SMOKE_FAIL" = 1 ]; then exit 1; fi
    exit 0
fi
set -- $daemons
nd=$#
for ((r = 1; r <= rounds; r++)); do
    # Interleave: each round starts with the next daemon.
    for ((k = 0; k < nd; k++)); do
        idx=$(( (k + r - 1) % nd + 1 ))
        round "${!idx}" "$r"
    done
done
for d in $daemons; do sizes "$d"; done
redirect_workload

base=refserver
[ -z "$ours" ] || base=ours
"$LG" report "$results" --base "$base" --order ours,refserver,vforkserver,openbsd-inetd,xinetd,inetutils-inetd,busybox > "$out/table.md"
{
    echo "Command: \`$cmdline\` ($(date -u +%Y-%m-%dT%H:%MZ), $rounds rounds, medians)"
    echo
    cat "$out/machine.md"
    echo
    cat "$out/table.md"
} > "$out/report.md"
cat "$out/report.md"

if [ "$write_md" = 1 ]; then
    md="$repo/BENCHMARKS.md"
    if [ -e "$md" ] && grep -q '<!-- bench:begin -->' "$md"; then
        awk -v f="$out/report.md" '
            /<!-- bench:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
            /<!-- bench:end -->/ { skip = 0 }
            !skip' "$md" > "$md.tmp" && mv "$md.tmp" "$md"
        log "results written to BENCHMARKS.md"
    fi
fi

if [ "$smoke" = 1 ] && [ "$SMOKE_FAIL" = 1 ]; then
    log "smoke: FAILED (see $out)"
    exit 1
fi
log "done: $out/report.md"
