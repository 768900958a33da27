#!/usr/bin/env bash
# The drop-in's `-R` is all or nothing (where it differs from ipvsadm on purpose): on a bad
# line, a kernel refusal or SIGTERM/SIGINT, what it applied is undone and the table is
# exactly as before, as the reference ipvsadm lists it; the exit status says what happened
# (255 refused, 2 bad line, 128+N after signal N, 3 roll back incomplete).
#
#   tests/ipvsadm-compat/restore-rollback.sh [--ref PATH] [--ours PATH]
#
# Needs root, `ip netns` and IPVS (run in the guest by scripts/ci/30-ipvsadm-compat.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ref=$(command -v ipvsadm || echo /sbin/ipvsadm)
ours="$here/../../target/release/examples/ipvsadm"
while [ $# -gt 0 ]; do
    case "$1" in
        --ref) ref=$2; shift 2 ;;
        --ours) ours=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d)
ns="rb$$"
trap 'ip netns delete "$ns" 2>/dev/null; rm -rf "$work"' EXIT
failed=0

fresh() {
    ip netns delete "$ns" 2>/dev/null
    ip netns add "$ns" && ip netns exec "$ns" ip link set lo up
}
refns() { ip netns exec "$ns" "$ref" "$@"; }
oursns() { ip netns exec "$ns" "$ours" "$@"; }
# The table as the reference ipvsadm describes it: rules, timeouts, sync daemons.
state() { refns -Sn; refns -L --timeout; refns -L --daemon; }

# A table written by the reference ipvsadm, with what the library's builders refuse: a
# weight above 65535 and a persistent service with a netmask.
seed() {
    fresh
    refns -A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0
    refns -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 100000
    refns -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3 -x 10 -y 2
    refns -A -u 10.0.0.2:53 -s rr
    for i in 1 2 3; do refns -a -u 10.0.0.2:53 -r 10.0.2.$i:53 -g -w $i; done
    refns -A -f 7 -s sh
    refns -a -f 7 -r 10.0.3.1:0 -i -w 5
    refns --set 900 120 300
}

# expect NAME STATUS: ours -R with the rules in $work/in must exit STATUS and leave the table
# as it was.
expect() {
    local name=$1 status=$2 before after rc
    before=$(state)
    oursns -R <"$work/in" >/dev/null 2>"$work/err"
    rc=$?
    after=$(state)
    if [ "$rc" -ne "$status" ] || [ "$before" != "$after" ]; then
        failed=$((failed + 1))
        echo "FAIL  $name: exit $rc (want $status); $(head -c 300 "$work/err")"
        diff <(echo "$before") <(echo "$after") | head -20
    else
        echo "ok    $name (exit $rc: $(head -c 160 "$work/err"))"
    fi
}

# Adds, edits and deletes of what ipvsadm wrote, then 30,000 adds, then a refusal on the
# last line but one.
seed
{
    echo "-E -t 10.0.0.1:80 -s rr -p 60"
    echo "-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 7"
    echo "-d -t 10.0.0.1:80 -r 10.0.1.2:80"
    echo "-D -u 10.0.0.2:53"
    echo "-d -f 7 -r 10.0.3.1"
    echo "--set 10 0 30"
    for i in $(seq 0 9999); do
        a="10.8.$((i / 250)).$((i % 250 + 1))"
        echo "-A -t $a:80 -s wlc"
        echo "-a -t $a:80 -r 10.9.0.1:80 -m -w 2"
        echo "-a -t $a:80 -r 10.9.0.2:80 -m -w 3"
    done
    echo "-D -t 10.0.0.1:80"
    echo "-D -t 10.0.0.1:80"
    echo "-A -t 10.7.0.1:80"
} >"$work/in"
expect "refusal late in a large file (30,008 lines)" 255

# The weight above the builder's limit must come back after its service was flushed.
seed
printf '%s\n' "-C" "-A -t 10.0.0.1:80 -s rr" "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1" \
    "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1" >"$work/in"
expect "flush undone with the weight 100000 ipvsadm wrote" 255

# A bad line after the first 1,024 lines (found once earlier chunks are applied).
seed
{
    for i in $(seq 1 2000); do echo "-A -t 10.6.$((i / 250)).$((i % 250 + 1)):80"; done
    echo "-D -u 10.0.0.2:53"
    echo "-a -t 10.0.0.2:53 -r 10.0.0.6 -w 99999999999"
} >"$work/in"
expect "bad line after the first chunk" 2

# SIGINT then SIGTERM while a restore is being applied: rolled back, exit 130 (128 + SIGINT).
# Job control is on (`set -m`) so the background job does not start with SIGINT ignored, as
# POSIX has it for a script's background jobs. The restore is held mid-way
# deterministically: a listing in its input writes more than a pipe holds to a reader that
# does not read until told to.
seed
{
    echo "-D -u 10.0.0.2:53"
    # 1,500 services and destinations: their listing (about 170 kB) overfills the pipe.
    for i in $(seq 1 1500); do
        echo "-A -t 10.4.$((i / 250)).$((i % 250 + 1)):80"
        echo "-a -t 10.4.$((i / 250)).$((i % 250 + 1)):80 -r 10.9.9.9:80 -m"
    done
    echo "-Ln"
    for i in $(seq 1 20000); do echo "-A -t 10.3.$((i / 250 % 250)).$((i % 250 + 1)):80"; done
} >"$work/in"
before=$(state)
mkfifo "$work/out"
set -m
{ exec ip netns exec "$ns" "$ours" -R <"$work/in" 2>"$work/err" >"$work/out"; } &
pid=$!
set +m
exec 3<"$work/out"
for _ in $(seq 1 1200); do
    [ "$(ip netns exec "$ns" wc -l </proc/net/ip_vs)" -ge 3000 ] && break
    sleep 0.05
done
sleep 0.5
kill -INT $pid || echo "the restore had ended before the signal"
sleep 0.2
kill -TERM $pid
cat <&3 >/dev/null &
exec 3<&-
wait $pid
rc=$?
after=$(state)
if [ $rc -ne 130 ] || [ "$before" != "$after" ]; then
    failed=$((failed + 1))
    echo "FAIL  SIGINT mid-restore: exit $rc (want 130); $(head -c 300 "$work/err")"
    diff <(echo "$before") <(echo "$after") | head -20
else
    echo "ok    SIGINT and SIGTERM mid-restore (exit $rc: $(head -c 160 "$work/err"))"
fi

echo "restore roll back: $failed failed"
[ $failed -eq 0 ]
