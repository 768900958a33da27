#!/usr/bin/env bash
# The ipvsadm compatibility corpus: every scenario runs twice, each time in a fresh network
# namespace, once with the reference ipvsadm and once with ours; the standard output and
# the exit status of every command must be identical.
#
#   tests/ipvsadm-compat/run.sh [--ref PATH] [--ours PATH] [SCENARIO...]
#
# Needs root, `ip netns` and IPVS (run it in the guest: scripts/ci/30-ipvsadm-compat.sh).
#
# Scenario format, one command per line (the words are passed to the tool as arguments):
#   -A -t 10.0.0.1:80 -s rr   a command: stdout and exit status compared
#   ?-h                       exit status compared, stdout not (help text is our own prose)
#   <-A -t 10.0.0.1:80        a line of standard input for the next command (for -R)
#   !ip link add d0 type dummy  a shell command run in the namespace before the next ones
#   # ...                     a comment; blank lines are ignored
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ref=$(command -v ipvsadm || echo /sbin/ipvsadm)
ours="$here/../../target/release/examples/ipvsadm"
while [ $# -gt 0 ]; do
    case "$1" in
        --ref) ref=$2; shift 2 ;;
        --ours) ours=$2; shift 2 ;;
        *) break ;;
    esac
done
if [ $# -eq 0 ]; then set -- "$here"/scenarios/*.txt; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_scenario TOOL FILE TRANSCRIPT
run_scenario() {
    local tool=$1 file=$2 out=$3 ns="compat$$-$RANDOM" stdin="$work/stdin" line status_only
    ip netns add "$ns" || return 1
    ip netns exec "$ns" ip link set lo up
    : >"$stdin"
    : >"$out"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
            ''|'#'*) continue ;;
            '<'*) printf '%s\n' "${line#<}" >>"$stdin"; continue ;;
            '!'*) ip netns exec "$ns" bash -c "${line#!}" >/dev/null 2>&1; continue ;;
        esac
        status_only=0
        if [ "${line#\?}" != "$line" ]; then status_only=1; line=${line#\?}; fi
        local -a argv=()
        read -r -a argv <<<"$line"
        local res="$work/res"
        ip netns exec "$ns" "$tool" "${argv[@]}" <"$stdin" >"$res" 2>/dev/null
        local rc=$?
        : >"$stdin"
        {
            echo "### $line"
            if [ $status_only = 0 ]; then cat "$res"; fi
            echo "### exit=$rc"
        } >>"$out"
    done <"$file"
    ip netns delete "$ns"
}

total=0 failed=0 cmds=0
for f in "$@"; do
    name=$(basename "$f" .txt)
    total=$((total + 1))
    run_scenario "$ref" "$f" "$work/$name.ref"
    run_scenario "$ours" "$f" "$work/$name.ours"
    cmds=$((cmds + $(grep -c '^### exit=' "$work/$name.ref")))
    if diff -u --label "ipvsadm: $name" --label "ours: $name" "$work/$name.ref" "$work/$name.ours" >"$work/$name.diff"; then
        echo "ok    $name"
    else
        failed=$((failed + 1))
        echo "FAIL  $name"
        head -60 "$work/$name.diff"
    fi
done
echo "ipvsadm compat: $((total - failed))/$total scenarios identical ($cmds commands)"

# Where we differ on purpose: -R checks everything first and undoes what it applied when the
# kernel refuses a line (ipvsadm keeps what it applied and goes on).
rollback_ok=1
ns="compat$$-rb"
ip netns add "$ns"
inns() { ip netns exec "$ns" "$ours" "$@"; }
inns -A -t 10.0.0.1:80 -s rr && inns -a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 2 && inns --set 10 20 30
before=$(inns -Sn; inns -L --timeout)
printf '%s\n' "-E -t 10.0.0.1:80 -s wrr" "-a -t 10.0.0.1:80 -r 10.0.0.3 -m" \
    "-d -t 10.0.0.1:80 -r 10.0.0.2" "-A -t 10.0.0.9:80" "--set 1 2 3" "-C" \
    "-A -t 10.0.0.7:80" "-A -t 10.0.0.7:80" "-A -t 10.0.0.8:80" | inns -R 2>/dev/null
rc=$?
after=$(inns -Sn; inns -L --timeout)
if [ $rc -ne 255 ] || [ "$before" != "$after" ]; then
    rollback_ok=0
    echo "FAIL  restore rollback: exit $rc; table before:"; echo "$before"; echo "after:"; echo "$after"
fi
# A bad line anywhere: nothing applied at all.
printf '%s\n' "-A -t 10.0.0.5:80" "-a -t 10.0.0.5:80 -r 10.0.0.6 -w 99999999999" | inns -R 2>/dev/null
rc=$?
after=$(inns -Sn; inns -L --timeout)
if [ $rc -ne 2 ] || [ "$before" != "$after" ]; then
    rollback_ok=0
    echo "FAIL  restore check-first: exit $rc"
fi
ip netns delete "$ns"
[ $rollback_ok = 1 ] && echo "ok    restore rollback (ours only)"
[ "$failed" -eq 0 ] && [ $rollback_ok = 1 ]
