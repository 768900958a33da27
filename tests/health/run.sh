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
#     the service, and added back with its weight when it recovers;
#   - a server that trickles its answer a byte every 0.3 s and a server stopped at the same
#     moment are both quiesced within fall x interval + one timeout (the check's deadline is
#     the whole check's); a server that accepts and never answers too; each is restored
#     within rise x interval once it serves again, and wrr traffic follows;
#   - two services at once from a configuration file (--config), each quiesced on its own;
#   - bad option values exit 2 with a message, never a panic.
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
# Stops whatever serves in NS (httpd, or nc and the programs it started for its connections).
stop_httpd() {
    local pid
    for pid in $(ip netns pids "$P-$1"); do kill "$pid" 2>/dev/null; done
    wait "${httpd[$1]}" 2>/dev/null
    for _ in $(seq 20); do [[ -z $(ip netns pids "$P-$1") ]] && break; sleep 0.05; done
    return 0
}

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

# A server that accepts and answers one byte every 0.3 s, never a whole line.
trickle() { # NS
    printf '#!/bin/sh\nwhile :; do printf H || exit 0; sleep 0.3; done\n' >"$STATE/trickle.sh"
    chmod +x "$STATE/trickle.sh"
    ip netns exec "$P-$1" busybox nc -ll -p 80 -e "$STATE/trickle.sh" &
    httpd[$1]=$!
}
# A server that accepts and never answers.
silent() { # NS
    ip netns exec "$P-$1" busybox nc -ll -p 80 -e /bin/sleep 3600 &
    httpd[$1]=$!
}

# Wait until each RIP=WANT holds (weights), up to SECS; prints "RIP:SECONDS" for each, as
# each one first holds, and fails if one did not hold in time.
wait_weights() { # SECS RIP=WANT...
    local secs=$1 t0=$EPOCHREALTIME spec left=() done=()
    shift
    left=("$@")
    while ((${#left[@]})); do
        local next=()
        for spec in "${left[@]}"; do
            if [[ $(weight_of "${spec%=*}") == "${spec#*=}" ]]; then
                done+=("${spec%=*}:$(awk "BEGIN{printf \"%.2f\", $EPOCHREALTIME - $t0}")")
            else
                next+=("$spec")
            fi
        done
        left=("${next[@]}")
        ((${#left[@]})) || break
        if awk "BEGIN{exit !($EPOCHREALTIME - $t0 > $secs)}"; then
            echo "${done[*]} not-in-time:${left[*]}"
            return 1
        fi
        sleep 0.1
    done
    echo "${done[*]}"
}

# Every TIME of "RIP:TIME ..." is at most MAX seconds.
within() { # MAX "RIP:TIME ..."
    local max=$1 spec
    for spec in $2; do
        awk "BEGIN{exit !(${spec#*:} <= $max)}" || return 1
    done
}

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

log "== r1 trickles its answers and r2 stops at the same moment (interval 0.5, timeout 0.5, fall 2)"
# The bound: the next check starts within one interval, the second failure within another,
# and ends within one timeout: fall x interval + timeout = 1.5 s; 1 s more for polling
# ipvsadm in this emulated guest.
"$HC" --netns "$P-d" --service "tcp:$SVC" --check http:/id --interval 0.5 --timeout 0.5 \
    --rise 2 --fall 2 >>"$STATE/checker.log" 2>&1 &
checker=$!
sleep 1.5
stop_httpd r1
stop_httpd r2
trickle r1
if t=$(wait_weights 10 10.40.0.11=0 10.40.0.12=0); then
    within 2.5 "$t" && ok "both quiesced within 1.5 s + 1 s: $t" ||
        fail "quiesced, but not within fall x interval + timeout + 1 s: $t"
else fail "not both quiesced in 10 s: $t"; fi
traffic 6 r3=3
log "== r3 accepts and never answers; r1 and r2 serve again"
stop_httpd r1
serve r1
serve r2
stop_httpd r3
silent r3
if t=$(wait_weights 10 10.40.0.13=0 10.40.0.11=1 10.40.0.12=2); then
    within 2.5 "$t" && ok "r3 quiesced, r1 and r2 restored within 2.5 s: $t" ||
        fail "not within 2.5 s: $t"
else fail "not in 10 s: $t"; fi
traffic 6 r1=1 r2=2
stop_httpd r3
serve r3
if t=$(wait_weights 10 10.40.0.13=3); then ok "r3 restored: $t"; else fail "r3 not restored: $t"; fi
traffic 12 r1=1 r2=2 r3=3
stop_checker

log "== two services from a configuration file"
SVC2=$VIP:81
nsx d ipvsadm -A -t "$SVC2" -s wrr
for i in "${!RIPS[@]}"; do nsx d ipvsadm -a -t "$SVC2" -r "${RIPS[$i]}:80" -m -w 4; done
cat >"$STATE/checks.json" <<JSON
{"workers": 4, "services": [
  {"service": "tcp:$SVC", "check": {"http": {"path": "/id", "body_contains": "server="}},
   "interval": 0.5, "timeout": 1, "rise": 2, "fall": 2},
  {"service": "tcp:$SVC2", "check": "tcp", "interval": 0.5, "timeout": 1, "rise": 2, "fall": 2,
   "on_failure": "remove"}]}
JSON
"$HC" --netns "$P-d" --config "$STATE/checks.json" >>"$STATE/checker.log" 2>&1 &
checker=$!
sleep 1
stop_httpd r2
w2() { nsx d ipvsadm -Ln -t "$SVC2" | awk -v r="$1:80" '$2 == r { print $4 }'; }
if t=$(wait_weight 10.40.0.12 0 10); then ok "r2 quiesced in $SVC after $t s"; else
    fail "r2 not quiesced in $SVC"; fi
for _ in $(seq 50); do [[ -z $(w2 10.40.0.12) ]] && break; sleep 0.2; done
[[ -z $(w2 10.40.0.12) ]] && ok "r2 removed from $SVC2 (on_failure remove)" ||
    fail "r2 still in $SVC2 with weight $(w2 10.40.0.12)"
serve r2
for _ in $(seq 50); do [[ $(w2 10.40.0.12) == 4 && $(weight_of 10.40.0.12) == 2 ]] && break; sleep 0.2; done
[[ $(w2 10.40.0.12) == 4 && $(weight_of 10.40.0.12) == 2 ]] && ok "r2 back in both services" ||
    fail "r2 not back: weight '$(weight_of 10.40.0.12)' and '$(w2 10.40.0.12)'"
stop_checker
nsx d ipvsadm -D -t "$SVC2"

log "== bad option values"
for bad in "--interval 0" "--interval -1" "--timeout nan" "--fall 0" "--rise x" \
    "--check http:nopath" "--check bogus" "--default-weight 70000" "--workers 0" \
    "--remove-after 2 --on-failure remove" "--netns ../x" "--config /nonexistent" "--bogus 1" \
    "--service fwmark:1"; do
    # shellcheck disable=SC2086
    out=$("$HC" --service "tcp:$SVC" $bad 2>&1)
    rc=$?
    if ((rc == 2)) && [[ -n $out && $out != *panicked* ]]; then
        ok "$bad: exit 2 (${out%%$'\n'*})"
    else
        fail "$bad: exit $rc: $out"
    fi
done

log "  checker log:"
sed 's/^/    | /' "$STATE/checker.log"
for line in "DOWN 10.40.0.12:80" "UP 10.40.0.12:80" "REMOVED 10.40.0.13:80" "UP 10.40.0.13:80: 2 good checks: weight 3 (added back)"; do
    grep -qF "$line" "$STATE/checker.log" && ok "checker reported: $line" ||
        fail "checker did not report: $line"
done
log "== $checks checks, $failures failed, $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $start}") s"
((failures == 0))
