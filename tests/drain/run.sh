#!/usr/bin/env bash
# Guest test for examples/drain.rs (graceful draining, lvs::client::drain): a NAT director
# and two real servers (busybox nc echo servers) in network namespaces, built with the e2e
# suite's topology code (tests/e2e/topology.sh), one rr service. It asserts that
#   - draining r1 quiesces it at once (weight 0) and new connections go to r2, while a
#     long-lived TCP connection on r1 (a line echoed every 100 ms) keeps working, no reset,
#     and r1 stays listed while the connection lasts;
#   - once that connection ends, r1 is deleted within a few poll intervals;
#   - with --deadline 2, r1 is deleted at about 2 s although its connection is still open.
# Runs as root in the qemu guest: scripts/ci/65-drain.sh, or by hand
#   scripts/guest/run.sh -- tests/drain/run.sh --drain target/debug/examples/drain
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
DRAIN=${CARGO_TARGET_DIR:-$repo/target}/debug/examples/drain
while (($#)); do
    case $1 in
    --drain) DRAIN=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x $DRAIN ]] || { echo "run.sh: $DRAIN is not built (cargo build --example drain)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run.sh: needs root (run it in the guest)" >&2; exit 2; }

P=dr
source "$repo/tests/e2e/topology.sh"
STATE=$(mktemp -d /tmp/lvs-drain.XXXXXX)
cp "$DRAIN" "$STATE/drain" && DRAIN=$STATE/drain || exit 2
failures=0
checks=0
drainer=
long=

log() { printf '%s\n' "$*"; }
ok() { checks=$((checks + 1)); log "  ok: $*"; }
fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    log "  FAIL: $*"
}

teardown() {
    local ns pid
    [[ -n $drainer ]] && kill "$drainer" 2>/dev/null
    [[ -n $long ]] && kill "$long" 2>/dev/null
    for ns in "${namespaces[@]}"; do
        for pid in $(ip netns pids "$P-$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    done
    for ns in "${namespaces[@]}"; do ip netns del "$P-$ns" 2>/dev/null; done
    rm -rf "$STATE"
}
trap teardown EXIT

VIP=192.168.1.2
SVC=$VIP:80
R1=10.41.0.11
R2=10.41.0.12

# An echo server on port 80 of real server NS: it says who it is, then echoes every line.
serve() { # NS
    printf '#!/bin/sh\necho server=%s\nexec cat\n' "$1" >"$STATE/echo-$1"
    chmod +x "$STATE/echo-$1"
    ip netns exec "$P-$1" busybox nc -ll -p 80 -e "$STATE/echo-$1" &
}

# The ipvsadm line's field N for real server RIP (2 address, 4 weight, 5 ActiveConn,
# 6 InActConn); empty when it is not in the service.
field_of() { nsx d ipvsadm -Ln -t "$SVC" | awk -v r="$1:80" -v f="$2" '$2 == r { print $f }'; }
weight_of() { field_of "$1" 4; }

# Wait up to SECS for `weight_of RIP` to print WANT ("" for absent); prints the time taken
# since T0 (default: now).
wait_weight() { # RIP WANT SECS [T0]
    local t0=${4:-$EPOCHREALTIME} deadline=$((${EPOCHREALTIME%.*} + $3))
    while [[ $(weight_of "$1") != "$2" ]]; do
        ((${EPOCHREALTIME%.*} < deadline)) || return 1
        sleep 0.1
    done
    awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}"
}

# Which server answers N new connections, one name a line ("none" for no answer).
who() { # N
    nsx c timeout 60 bash -c '
        for ((i = 0; i < $1; i++)); do
            if ! exec 3<>"/dev/tcp/$2/80"; then echo none; continue; fi
            read -r -t 3 id <&3 || id=server=none
            exec 3>&-
            echo "${id#server=}"
        done' _ "$1" "$VIP"
}

# A long-lived connection from the client: a line every 100 ms, each echoed back, until
# $STATE/stop-TAG exists; one "ok N TIME" line per echo in $STATE/long-TAG.log, and a
# "FAIL ..." line and exit 1 at the first write error, missing or wrong echo.
start_long() { # TAG
    rm -f "$STATE/stop-$1"
    nsx c bash -c '
        out=$1 stop=$2
        exec 3<>"/dev/tcp/$3/80" || { echo "FAIL connect" >>"$out"; exit 1; }
        read -r -t 3 id <&3 || { echo "FAIL no greeting" >>"$out"; exit 1; }
        echo "$id" >>"$out"
        i=0
        while [[ ! -e $stop ]]; do
            echo "ping $i" >&3 || { echo "FAIL write $i" >>"$out"; exit 1; }
            read -r -t 2 line <&3 || { echo "FAIL no echo $i" >>"$out"; exit 1; }
            [[ $line == "ping $i" ]] || { echo "FAIL echo $i: $line" >>"$out"; exit 1; }
            echo "ok $i $EPOCHREALTIME" >>"$out"
            i=$((i + 1))
            sleep 0.1
        done
        exec 3>&-
        echo closed >>"$out"' _ "$STATE/long-$1.log" "$STATE/stop-$1" "$VIP" &
    long=$!
    local i
    for ((i = 0; i < 30; i++)); do
        grep -q '^ok 0 ' "$STATE/long-$1.log" 2>/dev/null && break
        sleep 0.1
    done
}
echoes() { grep -c '^ok ' "$STATE/long-$1.log" 2>/dev/null; }
stop_long() { # TAG
    touch "$STATE/stop-$1"
    wait "$long"
    local rc=$?
    long=
    return $rc
}

# Is the long connection still flowing: more echoes after SECS, and no failure?
flowing() { # TAG SECS
    local before after
    before=$(echoes "$1")
    sleep "$2"
    after=$(echoes "$1")
    if grep -q '^FAIL' "$STATE/long-$1.log"; then
        fail "the long connection broke: $(grep -m1 '^FAIL' "$STATE/long-$1.log")"
    elif ((after > before + 5)); then
        ok "the long connection still works ($((after - before)) echoes in $2 s)"
    else
        fail "the long connection stalled ($before then $after echoes)"
    fi
}

start_drain() { # LOG ARGS...
    local out=$1
    shift
    log "  \$ drain --netns $P-d --service tcp:$SVC $*"
    "$DRAIN" --netns "$P-d" --service "tcp:$SVC" "$@" >"$STATE/$out" 2>&1 &
    drainer=$!
}
drain_exit() { # SECS: wait that long for the drain to exit; its status in $rc
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        kill -0 "$drainer" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$drainer" 2>/dev/null && kill "$drainer"
    wait "$drainer"
    rc=$?
    drainer=
}

start=$EPOCHREALTIME
log "drain suite on Linux $(uname -r)"
nat_topology 192.168.1.10/24 $VIP/24 10.41.0.1/24 10.41.0.0/24 $R1/24 $R2/24 ||
    { log "FATAL: topology"; exit 1; }
for ns in "${REALS[@]}"; do ipn "$ns" route add default via 10.41.0.1; done
nsx d sysctl -qw net.ipv4.ip_forward=1
for ns in "${REALS[@]}"; do serve "$ns"; done
nsx d ipvsadm -A -t "$SVC" -s rr
# r1 alone first, so that the long connection lands on it; then r2.
nsx d ipvsadm -a -t "$SVC" -r "$R1:80" -m -w 1
sleep 0.3

log "== drain r1 while a long connection is on it"
start_long a
id=$(head -1 "$STATE/long-a.log" 2>/dev/null)
[[ $id == server=r1 ]] && ok "the long connection is on r1" || fail "the long connection: '$id'"
nsx d ipvsadm -a -t "$SVC" -r "$R2:80" -m -w 1
spread=$(who 4 | sort | uniq -c | xargs)
log "  before: 4 new connections: $spread"
start_drain drain-a.log --real "$R1:80" --poll 0.5
if t=$(wait_weight $R1 0 5); then ok "r1 quiesced (weight 0) after $t s"; else
    fail "r1 not quiesced in 5 s (weight '$(weight_of $R1)')"; fi
answers=$(who 6 | sort | uniq -c | xargs)
[[ $answers == "6 r2" ]] && ok "new connections go to r2 ($answers)" ||
    fail "new connections while r1 drains: $answers"
flowing a 2
act=$(field_of $R1 5)
[[ $(weight_of $R1) == 0 && $act == 1 ]] && ok "r1 still listed, weight 0, 1 active connection" ||
    fail "r1 while draining: weight '$(weight_of $R1)', ActiveConn '$act'"
grep -q "waiting: 1 active" "$STATE/drain-a.log" && ok "drain reports waiting for 1 active" ||
    fail "drain does not report waiting: $(tr '\n' '|' <"$STATE/drain-a.log")"
kill -0 "$drainer" 2>/dev/null && ok "drain still running" || fail "drain exited early"
flowing a 1
log "  the long connection ends"
t0=$EPOCHREALTIME
stop_long a && ok "the long connection ended cleanly ($(echoes a) echoes)" ||
    fail "the long connection failed: $(grep -m1 '^FAIL' "$STATE/long-a.log")"
if t=$(wait_weight $R1 "" 5 "$t0"); then ok "r1 deleted $t s after the connection ended"; else
    fail "r1 not deleted in 5 s after the connection ended (weight '$(weight_of $R1)')"; fi
drain_exit 5
[[ $rc == 0 ]] && ok "drain exited 0" || fail "drain exited $rc"
grep -q "deleted (idle)" "$STATE/drain-a.log" && ok "drain reports: deleted (idle)" ||
    fail "drain does not report deleted (idle)"
log "  drain's output:"
sed 's/^/    | /' "$STATE/drain-a.log"
answers=$(who 4 | sort | uniq -c | xargs)
[[ $answers == "4 r2" ]] && ok "r2 serves alone ($answers)" || fail "after the drain: $answers"

log "== drain r1 with --deadline 2 while its connection stays open"
nsx d ipvsadm -a -t "$SVC" -r "$R1:80" -m -w 1
nsx d ipvsadm -e -t "$SVC" -r "$R2:80" -m -w 0
start_long b
id=$(head -1 "$STATE/long-b.log" 2>/dev/null)
[[ $id == server=r1 ]] && ok "the long connection is on r1" || fail "the long connection: '$id'"
nsx d ipvsadm -e -t "$SVC" -r "$R2:80" -m -w 1
t0=$EPOCHREALTIME
start_drain drain-b.log --real "$R1:80" --poll 0.5 --deadline 2
if t=$(wait_weight $R1 0 5 "$t0"); then ok "r1 quiesced after $t s"; else
    fail "r1 not quiesced in 5 s (weight '$(weight_of $R1)')"; fi
if t=$(wait_weight $R1 "" 10 "$t0"); then
    if awk "BEGIN{exit !($t >= 1.9 && $t <= 3.5)}"; then
        ok "r1 deleted at the deadline: $t s after the drain started"
    else
        fail "r1 deleted $t s after the drain started, not at ~2 s"
    fi
else
    fail "r1 not deleted in 10 s (weight '$(weight_of $R1)')"
fi
drain_exit 5
[[ $rc == 0 ]] && ok "drain exited 0" || fail "drain exited $rc"
grep -q "deleted (deadline)" "$STATE/drain-b.log" && ok "drain reports: deleted (deadline)" ||
    fail "drain does not report deleted (deadline)"
log "  drain's output:"
sed 's/^/    | /' "$STATE/drain-b.log"
# What becomes of the connection once r1 is deleted under it: with expire_nodest_conn 0
# (the default) the kernel drops its packets silently, so no more echoes (which is why a
# deadline ends what is still open, and why the drain's docs say so).
before=$(echoes b)
sleep 3
after=$(($(echoes b) - before))
nodest=$(nsx d sysctl -n net.ipv4.vs.expire_nodest_conn)
if [[ $nodest == 0 ]] && ((after == 0)); then
    ok "after the delete the kernel drops the open connection's packets (0 echoes in 3 s, expire_nodest_conn=0)"
else
    fail "after the delete: $after echoes in 3 s with expire_nodest_conn=$nodest"
fi
stop_long b >/dev/null 2>&1

log "== $checks checks, $failures failed, $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $start}") s"
((failures == 0))
