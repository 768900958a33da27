#!/usr/bin/env bash
# Guest test for a failover pair of DR directors driven through examples/lvs.rs
# (`director dr up --sync-dev`, `up --standby`, `takeover`, `standby`; lvs::host::Failover):
# two directors A and B, a client and two real servers (busybox nc echo servers) on one
# bridged segment, the seed's DR addresses (VIP 192.168.1.3, real servers .4 and .5). It
# asserts that
#   - A (up --sync-dev) is master: the VIP, the master sync daemon; B (up --standby) holds
#     the table and the backup sync daemon, no VIP; a long-lived TCP connection through A (a
#     line each way every 100 ms) reaches B's connection table through the sync daemons;
#   - after A `standby` and B `takeover` the long connection keeps flowing, without a reset,
#     the client's ARP entry for the VIP is B's MAC (gratuitous ARP), and new connections
#     are answered and scheduled by B (its counters, not A's);
#   - a second takeover (standby) is a no-op;
#   - then the same back again (B standby, A takeover);
#   - `down` leaves both directors exactly as they were (addresses, routes, IPVS table, no
#     sync daemon).
# Runs as root in the qemu guest: scripts/ci/45-failover.sh, or by hand
#   scripts/guest/run.sh -- tests/failover/run.sh --lvs target/debug/examples/lvs
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
LVS=${CARGO_TARGET_DIR:-$repo/target}/debug/examples/lvs
while (($#)); do
    case $1 in
    --lvs) LVS=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x $LVS ]] || { echo "run.sh: $LVS is not built (cargo build --features mock --example lvs)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run.sh: needs root (run it in the guest)" >&2; exit 2; }

P=fo
source "$repo/tests/e2e/topology.sh"
STATE=$(mktemp -d /tmp/lvs-failover.XXXXXX)
cp "$LVS" "$STATE/lvs" && LVS=$STATE/lvs || exit 2
failures=0
checks=0
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
    [[ -n $long ]] && kill "$long" 2>/dev/null
    for ns in "${namespaces[@]}"; do
        for pid in $(ip netns pids "$P-$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    done
    for ns in "${namespaces[@]}"; do ip netns del "$P-$ns" 2>/dev/null; done
    rm -rf "$STATE"
}
trap teardown EXIT

VIP=192.168.1.3
SVC=$VIP:80
SYNC=(--sync-dev eth0 --sync-id 7)

# lvs in namespace NS, with its own state directory; the command and its output logged.
lvs() { # NS ARGS...
    local ns=$1
    shift
    log "  \$ lvs --netns $P-$ns $*"
    "$LVS" --netns "$P-$ns" --state-dir "$STATE/state-$ns" "$@" >"$STATE/out" 2>&1
    local rc=$?
    sed 's/^/      /' "$STATE/out"
    return $rc
}

# An echo server on port 80 of real server NS: it says who it is, then echoes every line.
serve() { # NS
    printf '#!/bin/sh\necho server=%s\nexec cat\n' "$1" >"$STATE/echo-$1"
    chmod +x "$STATE/echo-$1"
    ip netns exec "$P-$1" busybox nc -ll -p 80 -e "$STATE/echo-$1" &
}

# What `down` must restore exactly.
snapshot() { # NS
    {
        ipn "$1" -d addr
        ipn "$1" route show table all
        ipn "$1" -6 route show table all
        nsx "$1" ipvsadm -Sn
        nsx "$1" ipvsadm -Ln --daemon
    } 2>&1 | sed -E 's/ (valid_lft|preferred_lft) [^ ]+//g'
}

# The service's scheduled connections on director NS (ipvsadm --stats, Conns).
conns_of() { nsx "$1" ipvsadm -Ln --stats -t "$SVC" | awk '$1 == "TCP" { print $3 }'; }
# The connection-table line of the client's connection CPORT on director NS.
entry_of() { nsx "$1" ipvsadm -Lnc | awk -v c="192.168.1.10:$2" '$4 == c'; }
mac_of() { ipn "$1" link show eth0 | awk '/link\/ether/ { print $2 }'; }
client_arp() { ipn c neigh show "$VIP" dev eth0 | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'; }
# (Output matched whole: `| grep -q` may end the writer with SIGPIPE, a failure under
# pipefail.)
has_vip() { [[ $(ipn "$1" addr show dev eth0) == *" $VIP/32 "* ]]; }
daemons_of() { nsx "$1" ipvsadm -Ln --daemon | sed -E 's/ *$//' | sort | tr '\n' ';'; }

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
# $STATE/stop exists; "port P" first, then one "ok N TIME" line per echo in $STATE/long.log,
# and a "FAIL ..." line and exit 1 at the first write error, missing (10 s) or wrong echo.
start_long() {
    rm -f "$STATE/stop"
    nsx c bash -c '
        out=$1 stop=$2
        exec 3<>"/dev/tcp/$3/80" || { echo "FAIL connect" >>"$out"; exit 1; }
        read -r -t 3 id <&3 || { echo "FAIL no greeting" >>"$out"; exit 1; }
        echo "$id" >>"$out"
        i=0
        while [[ ! -e $stop ]]; do
            echo "ping $i" >&3 || { echo "FAIL write $i" >>"$out"; exit 1; }
            read -r -t 10 line <&3 || { echo "FAIL no echo $i" >>"$out"; exit 1; }
            [[ $line == "ping $i" ]] || { echo "FAIL echo $i: $line" >>"$out"; exit 1; }
            echo "ok $i $EPOCHREALTIME" >>"$out"
            i=$((i + 1))
            sleep 0.1
        done
        exec 3>&-
        echo closed >>"$out"' _ "$STATE/long.log" "$STATE/stop" "$VIP" &
    long=$!
    local i
    for ((i = 0; i < 30; i++)); do
        grep -q '^ok 0 ' "$STATE/long.log" 2>/dev/null && break
        sleep 0.1
    done
}
echoes() { grep -c '^ok ' "$STATE/long.log" 2>/dev/null; }

# Is the long connection still flowing: more echoes after SECS, and no failure?
flowing() { # SECS WHAT
    local before after
    before=$(echoes)
    sleep "$1"
    after=$(echoes)
    if grep -q '^FAIL' "$STATE/long.log"; then
        fail "$2: the long connection broke: $(grep -m1 '^FAIL' "$STATE/long.log")"
    elif ((after > before + 5)); then
        ok "$2: the long connection flows ($((after - before)) echoes in $1 s, $after in all)"
    else
        fail "$2: the long connection stalled ($before then $after echoes)"
    fi
}

# The longest time between two echoes from T on (the connection's pause at a switch).
gap_after() { # T
    awk -v t="$1" '$1 == "ok" && $3 >= t - 1 { if (p && $3 - p > m) m = $3 - p; p = $3 } END { printf "%.2f", m }' "$STATE/long.log"
}

# Wait up to SECS for the long connection's entry in NS's connection table.
wait_entry() { # NS SECS
    local deadline=$((SECONDS + $2))
    while [[ -z $(entry_of "$1" "$CPORT") ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.25
    done
}

# Switch: FROM stands by, TO takes over; then the checks.
switch() { # FROM TO
    local from=$1 to=$2 t0 before_to before_from names n i
    log "== switch: $from stands by, $to takes over"
    t0=$EPOCHREALTIME
    lvs "$from" director dr standby "${SYNC[@]}" || fail "$from standby failed"
    lvs "$to" director dr takeover "${SYNC[@]}" || fail "$to takeover failed"
    log "  switched in $(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}") s"
    T_SWITCH=$t0
    has_vip "$to" && ! has_vip "$from" && ok "the VIP is on $to only" ||
        fail "the VIP: $to $(has_vip "$to" && echo has || echo lacks) it, $from $(has_vip "$from" && echo has || echo lacks) it"
    [[ $(daemons_of "$to") == *"master sync daemon (mcast=eth0, syncid=7"* &&
        $(daemons_of "$to") != *backup* ]] && ok "$to runs the master sync daemon only" ||
        fail "$to's daemons: $(daemons_of "$to")"
    [[ $(daemons_of "$from") == *"backup sync daemon (mcast=eth0, syncid=7"* &&
        $(daemons_of "$from") != *master* ]] && ok "$from runs the backup sync daemon only" ||
        fail "$from's daemons: $(daemons_of "$from")"
    flowing 3 "after the switch to $to"
    log "  the longest pause between two echoes around the switch: $(gap_after "$T_SWITCH") s"
    [[ $(client_arp) == "$(mac_of "$to")" ]] && ok "the client's ARP entry for the VIP is $to's MAC" ||
        fail "the client's ARP entry for the VIP: $(client_arp), $to's MAC $(mac_of "$to")"
    before_to=$(conns_of "$to")
    before_from=$(conns_of "$from")
    names=$(who 4 | sort | uniq -c | tr -s ' \n' ' ')
    # Newer kernels sum the per-CPU counters every 2 s (the estimator): wait for them.
    for ((i = 0; i < 30; i++)); do
        (($(conns_of "$to") >= before_to + 4)) && break
        sleep 0.2
    done
    n=$(($(conns_of "$to") - before_to))
    [[ $names != *none* && $names == *r1* && $names == *r2* ]] &&
        ok "new connections are answered: $names" || fail "new connections: $names"
    ((n == 4)) && [[ $(conns_of "$from") == "$before_from" ]] &&
        ok "$to scheduled the 4 new connections, $from none" ||
        fail "$to scheduled $n new connections, $from $before_from then $(conns_of "$from")"
    lvs "$to" director dr takeover "${SYNC[@]}" && grep -q "nothing to do" <"$STATE/out" &&
        ok "a second takeover on $to is a no-op" || fail "a second takeover on $to"
    lvs "$from" director dr standby "${SYNC[@]}" && grep -q "nothing to do" <"$STATE/out" &&
        ok "a second standby on $from is a no-op" || fail "a second standby on $from"
    flowing 1 "after the repeated switch commands"
}

start=$EPOCHREALTIME
log "failover suite on Linux $(uname -r)"
make_switch || { log "FATAL: switch"; exit 1; }
i=1
for ns in c a b r1 r2; do
    case $ns in
    c) addr=192.168.1.10 ;; a) addr=192.168.1.1 ;; b) addr=192.168.1.2 ;;
    r1) addr=192.168.1.4 ;; r2) addr=192.168.1.5 ;;
    esac
    add_ns "$ns" && plug "$ns" eth0 && ipn "$ns" addr add "$addr/24" dev eth0 ||
        { log "FATAL: topology"; exit 1; }
done
for ns in r1 r2; do
    lvs "$ns" realserver dr up || fail "realserver $ns up"
    serve "$ns"
done
snapshot a >"$STATE/before-a"
snapshot b >"$STATE/before-b"

log "== A: up --sync-dev (master); B: up --standby (backup)"
lvs a director dr up "${SYNC[@]}" || fail "A up"
lvs b director dr up --standby "${SYNC[@]}" || fail "B up --standby"
has_vip a && ! has_vip b && ok "the VIP is on A only" || fail "the VIP after up"
[[ $(daemons_of a) == *"master sync daemon"* && $(daemons_of b) == *"backup sync daemon"* ]] &&
    ok "A runs the master sync daemon, B the backup one" ||
    fail "daemons: A $(daemons_of a), B $(daemons_of b)"
[[ $(nsx b ipvsadm -Ln -t "$SVC") == *"192.168.1.4:80"* ]] && ok "B holds the table" ||
    fail "B's table: $(nsx b ipvsadm -Ln)"
lvs a director dr takeover "${SYNC[@]}" && grep -q "nothing to do" <"$STATE/out" &&
    ok "takeover on a master is a no-op" || fail "takeover on a master"
# The real servers must not answer ARP for the VIP: only A does.
[[ -n $(who 2 | grep -v none) ]] && ok "the service answers through A" || fail "no answer through A"

log "== a long-lived connection through A"
start_long
CPORT=$(nsx c ss -tn 2>/dev/null | awk -v v="$SVC" '$5 == v { n = split($4, a, ":"); print a[n] }' | head -1)
if [[ -z $CPORT ]]; then
    # No ss: the only established entry of A's table is the long connection.
    CPORT=$(nsx a ipvsadm -Lnc | awk '$1 == "TCP" && $3 == "ESTABLISHED" { split($4, a, ":"); print a[2] }' | head -1)
fi
log "  the long connection: client port $CPORT, $(head -1 "$STATE/long.log")"
[[ -n $(entry_of a "$CPORT") ]] && ok "the long connection is in A's table" || fail "not in A's table"
t0=$SECONDS
wait_entry b 20 && ok "the sync daemons carried it to B in $((SECONDS - t0)) s: $(entry_of b "$CPORT")" ||
    fail "the long connection never reached B's table"
flowing 1 "through A"

switch a b
# B's master daemon refreshes A's copy of the entry: give it a few sync periods.
sleep 4
switch b a

log "== the long connection ends"
touch "$STATE/stop"
wait "$long" && ok "the long connection ended cleanly ($(echoes) echoes, no reset)" ||
    fail "the long connection failed: $(grep -m1 '^FAIL' "$STATE/long.log")"
long=

log "== down"
lvs a director dr down || fail "A down"
lvs b director dr down || fail "B down"
for ns in a b; do
    snapshot "$ns" >"$STATE/after-$ns"
    if diff -u "$STATE/before-$ns" "$STATE/after-$ns" >"$STATE/diff-$ns"; then
        ok "down left $ns exactly as it was"
    else
        fail "down left $ns changed:"
        sed 's/^/      /' "$STATE/diff-$ns"
    fi
done
for ns in r1 r2; do lvs "$ns" realserver dr down >/dev/null || fail "realserver $ns down"; done

log "failover suite: $checks checks, $failures failed, $(awk "BEGIN{printf \"%.0f\", $EPOCHREALTIME - $start}") s"
((failures == 0))
