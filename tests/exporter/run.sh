#!/usr/bin/env bash
# Guest test for examples/exporter.rs: a NAT director and two real servers (busybox httpd)
# in network namespaces (tests/e2e/topology.sh), a known table in the director (a persistent
# TCP service with traffic, a UDP service with a datagram, IPv4 and IPv6 firewall-mark
# services, an IPv6 TCP service with a weight-0 real server), and the exporter serving it
# with --netns. Each scrape (HTTP over bash's /dev/tcp) is checked series by series, value by value,
# against what Debian's ipvsadm and the kernel say at the same moment:
#   - lvs_service_* and lvs_backend_* counters against `ipvsadm -Ln --stats --exact`;
#   - node_ipvs_backend_weight / _connections_active / _connections_inactive against
#     `ipvsadm -Ln`, lvs_backend_connections_persistent against `--persistent-conn`;
#   - the node_ipvs_*_total totals against /proc/net/ip_vs_stats;
#   - nothing more: the scrape holds exactly the series expected.
# Then `ipvsadm -Z` and more traffic: every counter is its value before the zeroing plus the
# kernel's since (monotonic), lvs_counter_resets_total counts the series found zeroed. Then a
# deleted service's series are gone and the totals keep its traffic. Other paths are 404.
# Runs as root in the qemu guest: scripts/ci/70-exporter.sh, or by hand
#   scripts/guest/run.sh -- tests/exporter/run.sh --exporter target/debug/examples/exporter
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
EXP=${CARGO_TARGET_DIR:-$repo/target}/debug/examples/exporter
while (($#)); do
    case $1 in
    --exporter) EXP=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x $EXP ]] || { echo "run.sh: $EXP is not built (cargo build --example exporter)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run.sh: needs root (run it in the guest)" >&2; exit 2; }

P=ex
source "$repo/tests/e2e/topology.sh"
STATE=$(mktemp -d /tmp/lvs-exporter.XXXXXX)
cp "$EXP" "$STATE/exporter" && EXP=$STATE/exporter || exit 2
LISTEN=127.0.0.1:9850
failures=0
checks=0
exporter=

log() { printf '%s\n' "$*"; }
ok() { checks=$((checks + 1)); log "  ok: $*"; }
fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    log "  FAIL: $*"
}

teardown() {
    local ns pid
    [[ -n $exporter ]] && kill "$exporter" 2>/dev/null
    for ns in "${namespaces[@]}"; do
        for pid in $(ip netns pids "$P-$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    done
    for ns in "${namespaces[@]}"; do ip netns del "$P-$ns" 2>/dev/null; done
    rm -rf "$STATE"
}
trap teardown EXIT

VIP=192.168.1.2
nat_topology 192.168.1.10/24 $VIP/24 10.40.0.1/24 10.40.0.0/24 10.40.0.11/24 10.40.0.12/24 ||
    { echo "run.sh: topology failed" >&2; exit 1; }
for ns in "${REALS[@]}"; do
    ipn "$ns" route add default via 10.40.0.1
    mkdir -p "$STATE/www-$ns" && echo "server=$ns" >"$STATE/www-$ns/id"
    ip netns exec "$P-$ns" busybox httpd -p 80 -h "$STATE/www-$ns"
done
nsx d sysctl -qw net.ipv4.ip_forward=1
# Routes for the IPv6 and firewall-mark destinations (no traffic goes there).
ipn d addr add 2001:db8:1::1/64 dev eth1
ipn d addr add 2001:db8::1/64 dev eth0

ipvs() { nsx d ipvsadm "$@"; }
ipvs -A -t $VIP:80 -s wrr -p 60
ipvs -a -t $VIP:80 -r 10.40.0.11:80 -m -w 1
ipvs -a -t $VIP:80 -r 10.40.0.12:80 -m -w 2
ipvs -A -u $VIP:53 -s rr
ipvs -a -u $VIP:53 -r 10.40.0.11:53 -m -w 3
ipvs -A -f 5 -s rr
ipvs -a -f 5 -r 10.40.0.12 -g -w 4
ipvs -A -f 6 -6 -s rr
ipvs -a -f 6 -6 -r 2001:db8:1::13 -g -w 1
ipvs -A -t "[2001:db8::2]:443" -s wlc
ipvs -a -t "[2001:db8::2]:443" -r "[2001:db8:1::11]:443" -m -w 5
ipvs -a -t "[2001:db8::2]:443" -r "[2001:db8:1::12]:443" -m -w 0
log "table:"
ipvs -Ln | sed 's/^/  /'

# Traffic: N HTTP requests to the TCP service, and with "udp" one datagram to the UDP one.
traffic() { # N [udp]
    local answers
    answers=$(requests "$1" $VIP 80)
    log "  $1 requests answered by: $(sort <<<"$answers" | uniq -c | tr -s ' \n' ' ')"
    [[ ${2:-} == udp ]] && nsx c bash -c "echo x >/dev/udp/$VIP/53" 2>/dev/null
    # Let the closing packets through.
    sleep 1
}

# The series the table should give, from ipvsadm and /proc/net/ip_vs_stats, one
# "SERIES VALUE" line each (without lvs_counter_resets_total).
expected() {
    {
        echo "== stats"
        ipvs -Ln --stats --exact
        echo "== list"
        ipvs -Ln
        echo "== persistent"
        ipvs -Ln --persistent-conn
        echo "== totals"
        nsx d cat /proc/net/ip_vs_stats
    } | awk '
        function svc(f,   n, hostport, port, host) {
            proto = $1; fam = "inet"; mark = ""; la = ""; lp = 0; n = 2
            if (proto == "FWM") {
                mark = sprintf("%08X", $2); n = 3
                if ($3 == "IPv6") { fam = "inet6"; n = 4 }
            } else {
                hostport = $2
                port = hostport; sub(/.*:/, "", port)
                host = substr(hostport, 1, length(hostport) - length(port) - 1)
                if (host ~ /^\[/) { fam = "inet6"; host = substr(host, 2, length(host) - 2) }
                la = host; lp = port; n = 3
            }
            slabels = sprintf("local_address=\"%s\",local_port=\"%s\",proto=\"%s\",local_mark=\"%s\",family=\"%s\"", la, lp, proto, mark, fam)
            return n
        }
        function dst(   hostport, port, host) {
            hostport = $2
            port = hostport; sub(/.*:/, "", port)
            host = substr(hostport, 1, length(hostport) - length(port) - 1)
            if (host ~ /^\[/) host = substr(host, 2, length(host) - 2)
            node = sprintf("local_address=\"%s\",local_port=\"%s\",remote_address=\"%s\",remote_port=\"%s\",proto=\"%s\",local_mark=\"%s\"", la, lp, host, port, proto, mark)
            blabels = node ",family=\"" fam "\""
        }
        # Hexadecimal to a number (mawk has no strtonum).
        function hex(s,   i, n) {
            n = 0; s = toupper(s)
            for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789ABCDEF", substr(s, i, 1)) - 1
            return n
        }
        BEGIN { split("connections incoming_packets outgoing_packets incoming_bytes outgoing_bytes", C, " ") }
        /^== / { part = $2; next }
        $1 == "IP" || $1 == "Prot" || $2 == "RemoteAddress:Port" { next }
        part == "stats" && $1 != "->" {
            n = svc()
            for (i = 0; i < 5; i++) printf "lvs_service_%s_total{%s} %s\n", C[i + 1], slabels, $(n + i)
            next
        }
        part == "stats" { dst(); for (i = 0; i < 5; i++) printf "lvs_backend_%s_total{%s} %s\n", C[i + 1], blabels, $(3 + i); next }
        part == "list" && $1 != "->" { svc(); next }
        part == "list" {
            dst()
            printf "node_ipvs_backend_weight{%s} %s\n", node, $4
            printf "node_ipvs_backend_connections_active{%s} %s\n", node, $5
            printf "node_ipvs_backend_connections_inactive{%s} %s\n", node, $6
            next
        }
        part == "persistent" && $1 != "->" { svc(); next }
        part == "persistent" { dst(); printf "lvs_backend_connections_persistent{%s} %s\n", blabels, $4; next }
        part == "totals" { t++ }
        part == "totals" && t == 3 {
            for (i = 1; i <= 5; i++) printf "node_ipvs_%s_total %.0f\n", C[i], hex($i)
        }'
}

# GET PATH from the exporter, the whole response printed, headers included (over bash's
# /dev/tcp: the guest's busybox wget crashes).
http_get() { # PATH
    timeout 60 bash -c '
        exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: lvs\r\n\r\n" "$2" >&3
        cat <&3' _ "$LISTEN" "$1"
}
# The body of a 200 answer to GET PATH; fails on another status.
http_body() { # PATH
    local r
    r=$(http_get "$1") || return 1
    [[ ${r%%$'\r'*} == "HTTP/1."?" 200 "* ]] || return 1
    printf '%s\n' "${r#*$'\r\n\r\n'}"
}

# The scrape's series, one "SERIES VALUE" line each.
scrape() {
    local body
    body=$(http_body /metrics) || return 1
    grep -v '^#' <<<"$body"
}

# A consistent pair: the scrape and the expected series from the same quiet moment (ipvsadm
# read before and after the scrape, agreeing). Writes $1.scrape and $1.expected.
snapshot() { # NAME
    local i before after
    for i in 1 2 3 4 5; do
        before=$(expected)
        scrape >"$STATE/$1.scrape" || { fail "scrape $1 failed"; return 1; }
        after=$(expected)
        if [[ $before == "$after" ]]; then
            printf '%s\n' "$after" >"$STATE/$1.expected"
            return 0
        fi
        sleep 0.5
    done
    fail "the table did not hold still for snapshot $1"
    return 1
}

# Compare the scrape with the expected lines (both "SERIES VALUE"), exactly.
compare() { # WHAT SCRAPE EXPECTED
    local d
    d=$(diff <(grep -v '^lvs_counter_resets_total ' "$2" | sort) <(sort "$3"))
    if [[ -z $d ]]; then
        ok "$1: $(wc -l <"$3") series, each equal"
    else
        fail "$1: scrape (<) and ipvsadm (>) differ:"
        printf '%s\n' "$d" | head -40 | sed 's/^/    /'
    fi
}

value() { awk -v s="$1" '$1 == s { print $2 }' "$2"; }

log "== the exporter"
"$EXP" --netns "$P-d" --listen "$LISTEN" 2>"$STATE/exporter.log" &
exporter=$!
for _ in $(seq 50); do
    http_body /metrics >/dev/null 2>&1 && break
    sleep 0.2
done
kill -0 "$exporter" 2>/dev/null && ok "exporter serving on $LISTEN" ||
    { fail "exporter did not start: $(cat "$STATE/exporter.log")"; exit 1; }
status=$(http_get /other | head -n 1 | tr -d '\r')
[[ $status == "HTTP/1."?" 404 "* ]] && ok "GET /other: $status" || fail "GET /other: $status"

log "== with traffic, before any zeroing"
traffic 6 udp
snapshot a || exit 1
compare "scrape against ipvsadm --stats --exact, ipvsadm -Ln, --persistent-conn and ip_vs_stats" \
    "$STATE/a.scrape" "$STATE/a.expected"
conns=$(value node_ipvs_connections_total "$STATE/a.scrape")
((conns >= 7)) && ok "node_ipvs_connections_total=$conns (6 requests and a datagram)" ||
    fail "node_ipvs_connections_total=$conns, want at least 7"
[[ $(value lvs_counter_resets_total "$STATE/a.scrape") == 0 ]] && ok "no reset seen" ||
    fail "lvs_counter_resets_total=$(value lvs_counter_resets_total "$STATE/a.scrape")"

# Less traffic after the zeroing than before, so that every series that had some is seen
# zeroed (a counter lower than at the last scrape): as much traffic again before the next
# scrape would hide the zeroing, from the exporter as from Prometheus.
log "== ipvsadm -Z, then less traffic"
ipvs -Z
traffic 2
snapshot b || exit 1
# What the counters must be: the kernel's now plus their value before the zeroing.
awk '
    FNR == NR { before[$1] = $2; next }
    $1 ~ /_total([{]|$)/ && ($1 in before) { printf "%s %.0f\n", $1, $2 + before[$1]; next }
    { print }
' "$STATE/a.scrape" "$STATE/b.expected" >"$STATE/b.monotonic"
compare "after -Z: every counter is its value before plus the kernel's since" \
    "$STATE/b.scrape" "$STATE/b.monotonic"
# The series found zeroed: those with a counter lower than before.
want=$(awk '
    FNR == NR { before[$1] = $2; next }
    $1 ~ /^lvs_(service|backend)_.*_total[{]/ && ($1 in before) && $2 < before[$1] {
        key = $1; sub(/^lvs_[a-z]+_[a-z_]+_total/, substr($1, 1, 11), key); zeroed[key] = 1
    }
    END { n = 0; for (k in zeroed) n++; print n }
' "$STATE/a.scrape" "$STATE/b.expected")
got=$(value lvs_counter_resets_total "$STATE/b.scrape")
((want > 0)) && [[ $got == "$want" ]] && ok "lvs_counter_resets_total=$got (series zeroed)" ||
    fail "lvs_counter_resets_total=$got, want $want"

log "== a service deleted"
ipvs -D -u $VIP:53
snapshot c || exit 1
grep -q 'proto="UDP"' "$STATE/c.scrape" && fail "the UDP service's series are still there" ||
    ok "the deleted UDP service's series are gone"
for t in connections incoming_packets outgoing_packets incoming_bytes outgoing_bytes; do
    b=$(value "node_ipvs_${t}_total" "$STATE/b.scrape")
    c=$(value "node_ipvs_${t}_total" "$STATE/c.scrape")
    [[ $b == "$c" ]] || fail "node_ipvs_${t}_total went from $b to $c with no traffic"
done
ok "the totals keep the deleted service's traffic"
n=$(grep -c '^node_ipvs_backend_weight{' "$STATE/c.scrape")
want=$(grep -c '^node_ipvs_backend_weight{' "$STATE/c.expected")
[[ $n == "$want" ]] && ok "$n backends after the deletion" || fail "$n backends, want $want"

log "== sample"
http_body /metrics | grep -E '^(# (HELP|TYPE) )?node_ipvs_backend_weight' | sed 's/^/  /'

kill "$exporter" 2>/dev/null
wait "$exporter" 2>/dev/null
exporter=
log "exporter suite: $checks checks, $failures failed"
((failures == 0))
