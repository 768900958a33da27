#!/usr/bin/env bash
# Guest test for examples/health_check.rs: a NAT director and three real servers (busybox
# httpd) in network namespaces, built with the e2e suite's topology code
# (tests/e2e/topology.sh), one wrr service with weights 1:2:3, and the health checker
# running in the director's namespace with HTTP checks. It asserts that
#   - stopping a real server's httpd quiesces it (weight 0, still listed with its connection
#     entries) and the traffic goes to the others, every request answered;
#   - starting it again restores its configured weight and the traffic comes back, spread by
#     the weights again;
#   - with --remove-after, a real server down longer than the grace period is deleted from
#     the service, and added back with its weight when it recovers.
# Runs as root in the qemu guest: scripts/ci/60-health.sh, or by hand
#   scripts/guest/run.sh -- tests/health/run.sh --health-check target/debug/examples/health_check
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
HC=$repo/target/debug/examples/health_check
while (($#)); do
    case $1 in
    --health-check) HC=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x $HC ]] || { echo "run.sh: $HC is not built (cargo build --example health_check)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run.sh: needs root (run it in the guest)" >&2; exit 2; }

P=hc
source "$repo/tests/e2e/topology.sh"
STATE=$(mktemp -d /tmp/lvs-health.XXXXXX)
cp "$HC" "$STATE/hc" && HC=$STATE/hc || exit 2
failures=0
checks=0
checker=
declare -A httpd

log() { printf '%s\n' "$*"; }
ok() { checks=$((checks + 1)); log "  ok: $*"; }
fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    log "  FAIL: $*"
}

teardown() {
    local ns pid
    [[ -n $checker ]] && kill "$checker" 2>/dev/null
    for ns in "${namespaces[@]}"; do
        for pid in $(ip netns pids "$P-$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    done
    for ns in "${namespaces[@]}"; do ip netns del "$P-$ns" 2>/dev/null; done
    rm -rf "$STATE"
}
trap teardown EXIT

VIP=192.168.1.2
SVC=$VIP:80
RIPS=(10.40.0.11 10.40.0.12 10.40.0.13)
WEIGHTS=(1 2 3)

# busybox httpd in the foreground, so that its pid is $! ("ip netns exec" execs it; not
# through the nsx function, which would run in a subshell of its own).
serve() { # NS
    local dir=$STATE/www-$1
    mkdir -p "$dir" && echo "server=$1" >"$dir/id"
    ip netns exec "$P-$1" busybox httpd -f -p 80 -h "$dir" &
    httpd[$1]=$!
}
stop_httpd() { kill "${httpd[$1]}" && wait "${httpd[$1]}" 2>/dev/null; return 0; }

# The weight of a real server in the service, empty when it is not in the service.
weight_of() { nsx d ipvsadm -Ln -t "$SVC" | awk -v r="$1:80" '$2 == r { print $4 }'; }
inact_of() { nsx d ipvsadm -Ln -t "$SVC" | awk -v r="$1:80" '$2 == r { print $6 }'; }

# Wait up to SECS for `weight_of RIP` to print WANT ("" for absent); prints the time taken.
wait_weight() { # RIP WANT SECS
    local t0=$EPOCHREALTIME deadline=$((${EPOCHREALTIME%.*} + $3))
    while [[ $(weight_of "$1") != "$2" ]]; do
        ((${EPOCHREALTIME%.*} < deadline)) || return 1
        sleep 0.2
    done
    awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}"
}

# N requests; checks that all are answered and that each real server got N*w/sum of them
# (wrr over whole cycles), for the weights given as "r1=W r2=W ...".
traffic() { # N WEIGHTS...
    local n=$1 answers sum=0 spec name w got want spread=() good=1 none
    shift
    for spec in "$@"; do sum=$((sum + ${spec#*=})); done
    answers=$(requests "$n" "$VIP" 80)
    none=$(grep -cvx 'r[123]' <<<"$answers")
    for spec in "$@"; do
        name=${spec%=*} w=${spec#*=}
        got=$(grep -cx "$name" <<<"$answers")
        want=$((n * w / sum))
        spread+=("$name=$got")
        ((got == want)) || good=0
    done
    log "  $n requests: ${spread[*]} unanswered=$none"
    ((none == 0)) && ok "every request answered" || fail "$none of $n requests unanswered"
    ((good)) && ok "spread ${spread[*]} follows the weights $*" ||
        fail "spread ${spread[*]} does not follow the weights $*"
}

start_checker() { # EXTRA ARGS...
    log "  \$ health_check --netns $P-d --service tcp:$SVC --check http:/id --interval 0.5 --timeout 1 --rise 2 --fall 2 $*"
    "$HC" --netns "$P-d" --service "tcp:$SVC" --check http:/id --interval 0.5 --timeout 1 \
        --rise 2 --fall 2 "$@" >>"$STATE/checker.log" 2>&1 &
    checker=$!
}
stop_checker() { kill "$checker" 2>/dev/null; wait "$checker" 2>/dev/null; checker=; }

start=$EPOCHREALTIME
log "health check suite on Linux $(uname -r)"
nat_topology 192.168.1.10/24 192.168.1.2/24 10.40.0.1/24 10.40.0.0/24 \
    10.40.0.11/24 10.40.0.12/24 10.40.0.13/24 || { log "FATAL: topology"; exit 1; }
for ns in "${REALS[@]}"; do ipn "$ns" route add default via 10.40.0.1; done
nsx d sysctl -qw net.ipv4.ip_forward=1
for ns in "${REALS[@]}"; do serve "$ns"; done
nsx d ipvsadm -A -t "$SVC" -s wrr
for i in "${!RIPS[@]}"; do nsx d ipvsadm -a -t "$SVC" -r "${RIPS[$i]}:80" -m -w "${WEIGHTS[$i]}"; done
sleep 0.3

log "== all up"
start_checker
traffic 12 r1=1 r2=2 r3=3

log "== r2's httpd stops"
stop_httpd r2
if t=$(wait_weight 10.40.0.12 0 20); then ok "r2 quiesced (weight 0) after $t s"; else
    fail "r2 not quiesced in 20 s (weight $(weight_of 10.40.0.12))"; fi
inact=$(inact_of 10.40.0.12)
[[ -n $inact ]] && ((inact > 0)) && ok "r2 still listed, its connection entries kept (InActConn $inact)" ||
    fail "r2's entry or connections are gone (InActConn '$inact')"
traffic 8 r1=1 r3=3

log "== r2's httpd starts again"
serve r2
if t=$(wait_weight 10.40.0.12 2 20); then ok "r2's weight 2 restored after $t s"; else
    fail "r2's weight not restored in 20 s (weight $(weight_of 10.40.0.12))"; fi
traffic 12 r1=1 r2=2 r3=3
stop_checker

log "== --remove-after 2: r3's httpd stops"
start_checker --remove-after 2
sleep 1
stop_httpd r3
if t=$(wait_weight 10.40.0.13 0 20); then ok "r3 quiesced after $t s"; else
    fail "r3 not quiesced in 20 s (weight $(weight_of 10.40.0.13))"; fi
if t=$(wait_weight 10.40.0.13 "" 20); then ok "r3 removed from the service $t s later"; else
    fail "r3 not removed in 20 s (weight $(weight_of 10.40.0.13))"; fi
traffic 6 r1=1 r2=2
serve r3
if t=$(wait_weight 10.40.0.13 3 20); then ok "r3 added back with weight 3 after $t s"; else
    fail "r3 not added back in 20 s (weight '$(weight_of 10.40.0.13)')"; fi
traffic 12 r1=1 r2=2 r3=3
stop_checker

log "  checker log:"
sed 's/^/    | /' "$STATE/checker.log"
for line in "DOWN 10.40.0.12:80" "UP 10.40.0.12:80" "REMOVED 10.40.0.13:80" "UP 10.40.0.13:80: 2 good checks: weight 3 (added back)"; do
    grep -qF "$line" "$STATE/checker.log" && ok "checker reported: $line" ||
        fail "checker did not report: $line"
done
log "== $checks checks, $failures failed, $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $start}") s"
((failures == 0))
