#!/usr/bin/env bash
# End-to-end suite for examples/lvs.rs: the classic NAT, TUN and DR setups, built in network
# namespaces (a client, a director, real servers running busybox httpd) and proven with real
# HTTP traffic. Runs as root in the qemu guest: scripts/ci/40-e2e.sh, or by hand
# `scripts/guest/run.sh -- tests/e2e/run.sh` after `cargo build --features mock --example lvs`.
#
#   tests/e2e/run.sh [--lvs PATH] [--mode nat|tun|dr]... [--topology seed|alt]...
#
# For each mode and topology it asserts that
#   - the answers are spread exactly as the scheduler says (rr: equal; wrr: proportional to the
#     weights), counted from the bodies the real servers send (each names its server);
#   - NAT: the replies pass the director; DR and TUN: they go from the real servers straight to
#     the client (the director's interface carries the requests only, byte counters prove it),
#     and no real server answers ARP for the VIP (busybox arping from the client sees only the
#     director's MAC address, although every real server holds the VIP);
#   - `down` leaves every host exactly as it was: addresses and links (`ip -d addr`), routes
#     (all tables, IPv4 and IPv6), the ARP, rp_filter and forwarding sysctls, `ipvsadm -Sn`;
#   - `--dry-run` with the director's arguments prints the very table `ipvsadm -Ln` shows.
# Topologies: "seed" is the classic document's (its addresses, two real servers, rr); "alt"
# has other addresses, three real servers weighted 3:2:1 with wrr, a VIP port the NAT real
# servers map to another port, a NAT VIP bound with --dev, NAT real servers that had another
# default route, and a DR director without eth0 and without --dev.
set -uo pipefail
if [[ ${LVS_E2E_TRACE:-} == 1 ]]; then PS4='+ $EPOCHREALTIME ' && set -x; fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
LVS=${LVS_E2E_BIN:-$repo/target/debug/examples/lvs}
modes=()
topologies=()
while (($#)); do
    case $1 in
    --lvs) LVS=$2; shift 2 ;;
    --mode) modes+=("$2"); shift 2 ;;
    --topology) topologies+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
((${#modes[@]})) || modes=(nat tun dr)
((${#topologies[@]})) || topologies=(seed alt)
[[ -x $LVS ]] || { echo "run.sh: $LVS is not built (cargo build --features mock --example lvs)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run.sh: needs root (run it in the guest)" >&2; exit 2; }

BODY_PAD=16384   # bytes of padding in every answer, so replies dwarf requests
P=e2e            # namespace name prefix
STATE=$(mktemp -d /tmp/lvs-e2e-state.XXXXXX)
# Run a copy on the guest's tmpfs: every exec of a 40 MB debug binary over 9p costs seconds.
cp "$LVS" "$STATE/lvs-bin" && LVS=$STATE/lvs-bin || exit 2
failures=0
checks=0

log() { printf '%s\n' "$*"; }
ok() { checks=$((checks + 1)); log "  ok: $*"; }
fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    log "  FAIL: $*"
}
die() {
    log "  FATAL: $*"
    failures=$((failures + 1))
    return 1
}
# Namespaces, links, the NAT topology and the client's requests, shared with other guest
# suites (tests/health/run.sh).
source "$here/topology.sh"

# ---- topology --------------------------------------------------------------------------------

teardown() {
    local ns pid
    for ns in "${namespaces[@]}"; do
        for pid in $(ip netns pids "$P-$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    done
    for ns in "${namespaces[@]}"; do ip netns del "$P-$ns" 2>/dev/null; done
    namespaces=()
    rm -rf "${STATE:?}"/{before,after,lvs,www-*,diff-*}
}
trap 'teardown; rm -rf "$STATE"' EXIT

# A real server: busybox httpd on PORT whose /id names the server, padded to BODY_PAD bytes.
serve() {
    local ns=$1 port=$2 dir=$STATE/www-$1
    mkdir -p "$dir"
    { echo "server=$ns"; head -c "$BODY_PAD" /dev/zero | tr '\0' x; echo; } >"$dir/id"
    nsx "$ns" busybox httpd -p "$port" -h "$dir" || return 1
}

# ---- observations ----------------------------------------------------------------------------

# Everything `down` must restore, in one namespace. Without the running timers of bridges and
# their ports, and without the qdisc: the kernel attaches one when a link first goes up (tunl0:
# noop becomes noqueue) and keeps it when the link goes down again; it is no configuration of
# ours, and noqueue cannot be deleted.
snapshot() {
    echo "## ip -d addr"
    ipn "$1" -d addr show | sed -E -e 's/[a-z_]+_timer +[0-9.]+//g' -e 's/ qdisc [a-z_]+ / /'
    echo "## routes (all tables) and rules, IPv4 and IPv6"
    printf 'route show table all\nrule show\n' | ipn "$1" -batch -
    printf 'route show table all\nrule show\n' | ipn "$1" -6 -batch -
    nsx "$1" bash -c '
        echo "## sysctls"
        grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding \
            /proc/sys/net/ipv4/conf/*/arp_ignore /proc/sys/net/ipv4/conf/*/arp_announce \
            /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/conf/*/forwarding
        echo "## ipvsadm -Sn"; ipvsadm -Sn
        echo "## ipvsadm -Ln --daemon"; ipvsadm -Ln --daemon'
}

snapshot_all() { # DIR
    local ns
    mkdir -p "$1"
    for ns in "${namespaces[@]}"; do snapshot "$ns" >"$1/$ns"; done
}

counter() { nsx "$1" cat "/sys/class/net/$2/statistics/$3"; }

# MAC addresses that answer ARP for ADDR on the client's IFACE.
arp_answerers() { # IFACE ADDR
    nsx c busybox arping -c 2 -w 3 -I "$1" "$2" 2>&1 |
        grep -io 'reply from [0-9.]* \[[0-9a-f:]*\]' | grep -o '\[.*\]' | tr -d '[]' |
        tr 'A-F' 'a-f' | sort -u
}

mac() { nsx "$1" cat "/sys/class/net/$2/address"; }

# ---- one scenario ----------------------------------------------------------------------------

# Runs `lvs ARGS...`, logging the command line; fails the scenario when it fails.
lvs() {
    log "  \$ lvs $*"
    local out
    if ! out=$("$LVS" --state-dir "$STATE/lvs" "$@" 2>&1); then
        printf '%s\n' "$out" | sed 's/^/    /'
        die "lvs $* failed"
        return 1
    fi
}

# The scenario's variables (set by the topology functions below):
#   MODE SCHED VIP (addr) VPORT RPORT REALS (names) RIPS (addresses) WEIGHTS
#   DIR_ARGS (extra director flags) RS_ARGS (extra real-server flags)
#   DIF (the director's interface facing the real servers) CIF (client interface)
run_scenario() { # TOPOLOGY
    local topo=$1 ns i
    log "== $MODE / $topo: VIP $VIP:$VPORT, scheduler $SCHED, real servers ${RIPS[*]} (weights ${WEIGHTS[*]})"
    for ns in "${REALS[@]}"; do serve "$ns" "$RPORT" || { die "httpd in $ns"; return 1; }; done
    sleep 0.3
    snapshot_all "$STATE/before"

    # --- up, every role
    local reals=() sum=0
    for i in "${!RIPS[@]}"; do
        local r=${RIPS[$i]}
        [[ $RPORT != "$VPORT" ]] && r=$r:$RPORT
        reals+=(--real "$r,weight=${WEIGHTS[$i]}")
        sum=$((sum + WEIGHTS[i]))
    done
    lvs --netns "$P-d" director "$MODE" up --vip "$VIP:$VPORT" --scheduler "$SCHED" \
        "${reals[@]}" "${DIR_ARGS[@]}" || return 1
    for ns in "${REALS[@]}"; do
        # Real servers through `ip netns exec`, the director through --netns: both ways work.
        log "  \$ ip netns exec $P-$ns lvs realserver $MODE up --vip $VIP ${RS_ARGS[*]}"
        nsx "$ns" "$LVS" --state-dir "$STATE/lvs" realserver "$MODE" up --vip "$VIP" \
            "${RS_ARGS[@]}" >/dev/null || { die "realserver $ns up"; return 1; }
    done
    local listing planned
    listing=$(nsx d ipvsadm -Ln)
    sed 's/^/    | /' <<<"$listing"
    # --dry-run applies the same plan to the mock kernel: its table must be the real one.
    planned=$("$LVS" --dry-run director "$MODE" up --vip "$VIP:$VPORT" --scheduler "$SCHED" \
        "${reals[@]}" "${DIR_ARGS[@]}" | sed -n '/^# resulting IPVS table/,$p' | tail -n +2)
    [[ $planned == "$listing" ]] && ok "--dry-run's table (mock kernel) is ipvsadm -Ln's" ||
        fail "--dry-run's table differs from ipvsadm -Ln: $(diff <(echo "$planned") <(echo "$listing"))"

    # --- traffic
    local n=$((sum * 10))
    local d_rx0 d_tx0 c_rx0
    d_rx0=$(counter d "$DIF" rx_bytes)
    d_tx0=$(counter d "$DIF" tx_bytes)
    c_rx0=$(counter c "$CIF" rx_bytes)
    local t0=$EPOCHREALTIME
    local answers
    answers=$(requests "$n" "$VIP" "$VPORT")
    local t1=$EPOCHREALTIME
    local d_rx=$(($(counter d "$DIF" rx_bytes) - d_rx0))
    local d_tx=$(($(counter d "$DIF" tx_bytes) - d_tx0))
    local c_rx=$(($(counter c "$CIF" rx_bytes) - c_rx0))
    local spread=()
    for i in "${!REALS[@]}"; do
        spread+=("${REALS[$i]}=$(grep -cx "${REALS[$i]}" <<<"$answers")")
    done
    local none names
    names=$(printf '%s\n' "${REALS[@]}")
    none=$(grep -cvxF -f <(printf '%s\n' "$names") <<<"$answers")
    log "  $n requests in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s: ${spread[*]} unanswered=$none"
    log "  bytes: client rx $c_rx, director $DIF rx $d_rx tx $d_tx"
    ((none == 0)) && ok "every request answered" || fail "$none requests unanswered"
    local good=1
    for i in "${!REALS[@]}"; do
        local want=$((n * WEIGHTS[i] / sum)) got
        got=$(grep -cx "${REALS[$i]}" <<<"$answers")
        ((got == want)) || good=0
    done
    if ((good)); then
        ok "$SCHED spread ${spread[*]} matches weights ${WEIGHTS[*]}"
    else
        fail "$SCHED spread ${spread[*]} does not match weights ${WEIGHTS[*]} over $n requests"
    fi
    local bodies=$((n * BODY_PAD))
    ((c_rx >= bodies)) && ok "client received the bodies ($c_rx >= $bodies bytes)" ||
        fail "client received $c_rx bytes, less than the $bodies bytes of bodies"
    if [[ $MODE == nat ]]; then
        # The director's private side receives every reply from the real servers.
        ((d_rx >= bodies)) && ok "replies pass the director ($DIF rx $d_rx >= $bodies)" ||
            fail "NAT replies should pass the director: $DIF rx $d_rx < $bodies"
    else
        # The director sees the requests only: far less than one body per request.
        ((d_rx < bodies / 8 && d_tx < bodies / 8)) &&
            ok "replies bypass the director ($DIF rx $d_rx, tx $d_tx < $((bodies / 8)))" ||
            fail "replies went through the director: $DIF rx $d_rx tx $d_tx (bodies $bodies)"
        local rs_tx=0
        for ns in "${REALS[@]}"; do rs_tx=$((rs_tx + $(counter "$ns" eth0 tx_bytes))); done
        ((rs_tx >= bodies)) && ok "real servers sent the bodies themselves ($rs_tx bytes)" ||
            fail "real servers sent $rs_tx bytes < $bodies"

        # ARP: every real server holds the VIP, and none answers for it.
        for ns in "${REALS[@]}"; do
            [[ $(ipn "$ns" -o addr show) == *" $VIP/"* ]] || fail "$ns does not hold the VIP"
        done
        local dmac answerers
        dmac=$(mac d "$DIF")
        answerers=$(arp_answerers "$CIF" "$VIP" | tr '\n' ' ')
        [[ $answerers == "$dmac " ]] && ok "only the director ($dmac) answers ARP for $VIP" ||
            fail "ARP for $VIP answered by [$answerers], expected only the director $dmac"
    fi

    # --- down, every role, then compare every host with its state before `up`
    lvs --netns "$P-d" director "$MODE" down --vip "$VIP:$VPORT" --scheduler "$SCHED" \
        "${reals[@]}" "${DIR_ARGS[@]}" || return 1
    for ns in "${REALS[@]}"; do
        nsx "$ns" "$LVS" --state-dir "$STATE/lvs" realserver "$MODE" down --vip "$VIP" \
            "${RS_ARGS[@]}" >/dev/null || { die "realserver $ns down"; return 1; }
    done
    snapshot_all "$STATE/after"
    local same=1
    for ns in "${namespaces[@]}"; do
        if ! diff -u "$STATE/before/$ns" "$STATE/after/$ns" >"$STATE/diff-$ns"; then
            same=0
            log "  $ns changed:"
            sed 's/^/    /' "$STATE/diff-$ns"
        fi
    done
    ((same)) && ok "down restored all ${#namespaces[@]} hosts exactly" ||
        fail "down left hosts changed"
    [[ -z $(ls -A "$STATE/lvs" 2>/dev/null) ]] && ok "no state left in the state directory" ||
        fail "state left behind: $(ls "$STATE/lvs")"
}

# ---- the topologies --------------------------------------------------------------------------

# DR and TUN: client, director and real servers on one bridged segment.
lan_topology() { # DIFNAME CIP DIP RIPS...
    local dif=$1 cip=$2 dip=$3
    shift 3
    make_switch && add_ns c && add_ns d || return 1
    plug c eth0 && ipn c addr add "$cip" dev eth0 || return 1
    plug d "$dif" && ipn d addr add "$dip" dev "$dif" || return 1
    local i=1 r
    REALS=()
    for r in "$@"; do
        add_ns "r$i" && plug "r$i" eth0 && ipn "r$i" addr add "$r" dev eth0 || return 1
        REALS+=("r$i")
        i=$((i + 1))
    done
    DIF=$dif
    CIF=eth0
}

scenario() { # MODE TOPOLOGY
    MODE=$1
    DIR_ARGS=()
    RS_ARGS=()
    case $1/$2 in
    nat/seed)
        # The classic document: director eth0 192.168.1.2 / eth1 192.168.2.1 (the VIP),
        # real servers 192.168.2.2-3 with the director as their gateway, rr.
        nat_topology 192.168.1.10/24 192.168.1.2/24 192.168.2.1/24 192.168.2.0/24 \
            192.168.2.2/24 192.168.2.3/24 || return 1
        VIP=192.168.2.1 VPORT=80 RPORT=80 SCHED=rr
        RIPS=(192.168.2.2 192.168.2.3) WEIGHTS=(1 1)
        RS_ARGS=(--gateway 192.168.2.1)
        ;;
    nat/alt)
        # Other addresses: a VIP not yet on the director (bound by --dev), a port mapping,
        # three weighted real servers that had another default route before.
        nat_topology 203.0.113.10/24 203.0.113.1/24 10.20.0.1/24 10.20.0.0/24 \
            10.20.0.11/24 10.20.0.12/24 10.20.0.13/24 || return 1
        for ns in "${REALS[@]}"; do ipn "$ns" route add default via 10.20.0.254; done
        VIP=203.0.113.100 VPORT=8080 RPORT=8000 SCHED=wrr
        RIPS=(10.20.0.11 10.20.0.12 10.20.0.13) WEIGHTS=(3 2 1)
        DIR_ARGS=(--dev eth0)
        RS_ARGS=(--gateway 10.20.0.1)
        ;;
    tun/seed | dr/seed)
        lan_topology eth0 192.168.1.10/24 192.168.1.2/24 192.168.1.4/24 192.168.1.5/24 ||
            return 1
        VIP=192.168.1.3 VPORT=80 RPORT=80 SCHED=rr
        RIPS=(192.168.1.4 192.168.1.5) WEIGHTS=(1 1)
        [[ $1 == dr ]] && DIR_ARGS=(--dev eth0:0) # the default, spelled out as in README
        ;;
    tun/alt | dr/alt)
        # Other addresses, three weighted real servers, a director whose interface is not
        # eth0 (DR without --dev: the VIP goes on lan0:0, the device facing the real servers).
        lan_topology lan0 10.30.0.10/24 10.30.0.1/24 10.30.0.11/24 10.30.0.12/24 \
            10.30.0.13/24 || return 1
        VIP=10.30.0.100 VPORT=8080 RPORT=8080 SCHED=wrr
        RIPS=(10.30.0.11 10.30.0.12 10.30.0.13) WEIGHTS=(3 2 1)
        ;;
    *) die "no scenario $1/$2"; return 1 ;;
    esac
    run_scenario "$2"
}

start=$EPOCHREALTIME
log "lvs end-to-end suite on Linux $(uname -r), lvs = $LVS"
for topo in "${topologies[@]}"; do
    for mode in "${modes[@]}"; do
        t0=$EPOCHREALTIME
        scenario "$mode" "$topo" || fail "$mode/$topo could not run"
        teardown
        log "  ($mode/$topo took $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}") s)"
    done
done
log "== $checks checks, $failures failed, $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $start}") s"
((failures == 0))
