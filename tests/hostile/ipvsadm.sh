#!/usr/bin/env bash
# Hostile input for the drop-in (examples/ipvsadm.rs) on a real kernel: bad options, bad
# addresses, values the kernel refuses, bad rule files (a bad line in the middle of a long
# -R input, a line the kernel refuses after hundreds it accepted, ...). Each case must exit
# non-zero, say something on stderr, never panic, and leave the table (ipvsadm -Sn, the
# timeouts) exactly as it was, as the reference ipvsadm reads it.
#
#   tests/hostile/ipvsadm.sh [--ours PATH]
#
# Needs root, `ip netns` and IPVS: run it in the guest (scripts/ci/50-faults.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ours="$here/../../target/release/examples/ipvsadm"
[ "${1:-}" = --ours ] && ours=$2
ref=$(command -v ipvsadm)
ns="hostile$$"
work=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

# The table every case starts from (and must end with).
in_ns "$ref" -R <<'RULES' || { echo "cannot set up the table" >&2; exit 1; }
-A -t 10.0.0.1:80 -s wlc
-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.3:80 -g -w 1 -x 100 -y 10
-A -u 10.0.0.1:53 -s rr -p 600 -M 255.255.255.0
-a -u 10.0.0.1:53 -r 192.168.1.4:53 -i
-A -f 7 -s sh -b sh-port
-A -t [fd00::1]:443 -s lc
-a -t [fd00::1]:443 -r [fd00::2]:443 -m -w 2
RULES
in_ns "$ref" --set 901 121 301
snapshot() { in_ns "$ref" -Sn; in_ns "$ref" -L --timeout; }
before=$(snapshot)

# Long rule inputs.
long_ok() { # N services from 10.<k>.x.y
    local k=$1 n=$2 i
    for ((i = 0; i < n; i++)); do
        printf -- '-A -t 10.%d.%d.%d:80 -s rr\n-a -t 10.%d.%d.%d:80 -r 10.200.0.1:80 -m\n' \
            "$k" $((i / 250)) $((i % 250 + 1)) "$k" $((i / 250)) $((i % 250 + 1))
    done
}
{ long_ok 1 600; echo "-a -t 10.1.0.1:80 -r 10.200.0.2:80 -w lots"; long_ok 2 600; } >"$work/bad-middle"
{ long_ok 3 700; echo "-A -t 10.0.0.1:80 -s rr"; long_ok 4 300; } >"$work/refused-middle"
{ echo "-D -t 10.0.0.1:80"; echo "-C"; long_ok 5 400; echo "-a -t 10.9.9.9:80 -r 10.200.0.1:80"; } >"$work/delete-flush-refused"
{ echo "-E -t 10.0.0.1:80 -s rr"; echo "-e -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 9";
  echo "--set 5 6 7"; echo "-d -t 10.0.0.1:80 -r 192.168.1.3:80"; echo "-D -u 10.0.0.1:53";
  echo "-A -t 10.9.9.9:80 -s nosuchsched"; } >"$work/edits-refused"
{ echo "-A -t 10.0.0.1:80 -s rr"; echo "-D -t 10.0.0.1:80"; echo "-A -t 10.0.0.2:80"; } >"$work/exists-then-delete"
{ echo "-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m"; echo "-D -t 10.0.0.1:80"; } >"$work/dest-exists-then-delete"
{ long_ok 6 100; echo "-R"; } >"$work/nested-restore"
{ long_ok 7 50; echo "# a comment"; } >"$work/comment"
{ long_ok 8 50; printf -- '-A -t 10.0.0.9:80 -s \x01\xff\xfe\n'; } >"$work/binary"
{ printf -- '-A -t %s:80\n' "$(head -c 70000 /dev/zero | tr '\0' 9)"; } >"$work/long-word"
{ long_ok 9 200; echo "-a -t 10.9.0.1:80 -r [fd00::9]:80 -m"; } >"$work/mixed-family"
{ long_ok 10 200; echo "-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m"; } >"$work/dest-exists"
{ long_ok 11 100; echo "--start-daemon master --mcast-interface nosuchif0"; } >"$work/daemon-refused"
{ echo "-A -t 10.0.0.5:80"; echo "-a -t 10.0.0.5:80 -r 10.0.0.6 -x 5 -y 10"; } >"$work/thresholds"
# Bad lines must be named by their line numbers in the whole input: early (in the first
# parse chunk, 1,024 lines, so nothing is applied) and late (in the second, parsed while
# the first is applied)...
{ long_ok 12 1000; echo "-A -t 10.0.0.9:80 -s rr -p nope"; long_ok 13 100; } >"$work/bad-late"
{ long_ok 14 10; echo "-a -t 10.14.0.1:80 -r 10.200.0.3:80 -w -5"; long_ok 15 1100; } >"$work/bad-early"
# ... and in the third chunk of a longer one, parsed while the first two are applied
# already (which must then be rolled back), and a line the kernel refuses there.
{ long_ok 16 8500; echo "-A -t 10.0.0.9:80 -s rr -p nope"; long_ok 17 10; } >"$work/bad-third-chunk"
{ long_ok 18 8500; echo "-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m"; long_ok 19 10; } >"$work/refused-third-chunk"

pass=0
fail=0
# check NAME STDIN-FILE ARGS...: run ours, then check the outcome.
check() {
    local name=$1 stdin=$2
    shift 2
    in_ns "$ours" "$@" <"$stdin" >"$work/out" 2>"$work/err"
    local rc=$? why=()
    [ $rc -ne 0 ] || why+=("exit status 0")
    [ -s "$work/err" ] || why+=("nothing on stderr")
    if grep -q "panicked" "$work/err" "$work/out"; then why+=("panic"); fi
    local after
    after=$(snapshot)
    if [ "$after" != "$before" ]; then
        why+=("the table changed")
        diff <(echo "$before") <(echo "$after") | head -20 >&2
        # Put it back for the next case.
        in_ns "$ref" -C
        echo "$before" | grep -v -e '^Timeout' | in_ns "$ref" -R
        in_ns "$ref" --set 901 121 301
    fi
    if [ ${#why[@]} -eq 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name ($*): ${why[*]} (exit $rc); stderr: $(head -c 300 "$work/err")" >&2
    fi
}
none=/dev/null
check "no command" $none -t 10.0.0.1:80
check "unknown option" $none -A -t 10.0.0.2:80 --frobnicate
check "two commands" $none -A -D -t 10.0.0.2:80
check "missing service" $none -A -t
check "port out of range" $none -A -t 10.0.0.2:65536
check "negative port" $none -A -t 10.0.0.2:-80
check "bad IPv4" $none -A -t 10.0.0.256:80
check "unclosed IPv6 bracket" $none -A -t '[fd00::5:80'
check "IPv6 garbage" $none -A -t '[fd00:::5]:80'
check "unknown host" $none -A -t no.such.host.invalid:80
check "empty address" $none -A -t ''
check "weight not a number" $none -a -t 10.0.0.1:80 -r 192.168.1.9 -w x
check "weight negative" $none -a -t 10.0.0.1:80 -r 192.168.1.9 -w -1
check "weight above INT_MAX" $none -a -t 10.0.0.1:80 -r 192.168.1.9 -w 2147483648
check "two forwarding methods" $none -a -t 10.0.0.1:80 -r 192.168.1.9 -m -i
check "real server without service" $none -a -r 192.168.1.9
check "fwmark 0" $none -A -f 0
check "fwmark not a number" $none -A -f seven
check "persistence 0" $none -A -t 10.0.0.2:80 -p 0
check "bad netmask" $none -A -t 10.0.0.2:80 -p 60 -M 255.255.255.256
check "unknown scheduler (kernel)" $none -A -t 10.0.0.2:80 -s nosuchsched
check "unknown persistence engine (kernel)" $none -A -u 10.0.0.2:5060 -p 60 --pe nosuchpe
check "service exists (kernel)" $none -A -t 10.0.0.1:80
check "edit missing service (kernel)" $none -E -t 10.9.9.9:80 -s rr
check "delete missing service (kernel)" $none -D -t 10.9.9.9:80
check "destination exists (kernel)" $none -a -t 10.0.0.1:80 -r 192.168.1.2:80 -m
check "edit missing destination (kernel)" $none -e -t 10.0.0.1:80 -r 192.168.1.99:80
check "delete missing destination (kernel)" $none -d -t 10.0.0.1:80 -r 192.168.1.99:80
check "destination of missing service (kernel)" $none -a -t 10.9.9.9:80 -r 192.168.1.9
check "mixed family without tunnel" $none -a -t 10.0.0.1:80 -r '[fd00::9]:80' -m
check "thresholds lower above upper (kernel)" $none -a -t 10.0.0.1:80 -r 192.168.1.9 -x 5 -y 10
check "zero missing service (kernel)" $none -Z -t 10.9.9.9:80
check "list missing service" $none -L -n -t 10.9.9.9:80
check "timeouts: two values" $none --set 1 2
check "timeouts: not numbers" $none --set a b c
check "daemon: bad state" $none --start-daemon primary
check "daemon: bad sync id" $none --start-daemon master --syncid 300
check "daemon: unicast group" $none --start-daemon master --mcast-group 10.0.0.1
check "daemon: no such interface (kernel)" $none --start-daemon master --mcast-interface nosuchif0
check "stop a daemon that does not run (kernel)" $none --stop-daemon master
check "tunnel type unknown" $none -a -t 10.0.0.1:80 -r 192.168.1.9 -i --tun-type vxlan
check "trailing --netns" $none -Ln --netns
check "no such namespace" $none --netns nosuchns -Ln
for f in bad-middle refused-middle delete-flush-refused edits-refused exists-then-delete \
    dest-exists-then-delete \
    nested-restore comment binary long-word mixed-family dest-exists daemon-refused thresholds; do
    check "-R $f ($(wc -l <"$work/$f") lines)" "$work/$f" -R
done
# check_line NAME FILE LINE: -R of FILE is refused, naming LINE.
check_line() {
    check "$1" "$2" -R
    if ! grep -q "line $3[^0-9]" "$work/err"; then
        fail=$((fail + 1))
        echo "FAIL: $1: the error does not name line $3: $(head -c 300 "$work/err")" >&2
    fi
}
check_line "-R bad line 2001 of 2201 ($(wc -c <"$work/bad-late") bytes)" "$work/bad-late" 2001
check_line "-R bad line 21 of 2221 ($(wc -c <"$work/bad-early") bytes)" "$work/bad-early" 21
check_line "-R bad line 17001 of 17021 (third parse chunk)" "$work/bad-third-chunk" 17001
check_line "-R line 17001 of 17021 refused (third parse chunk)" "$work/refused-third-chunk" 17001
echo "hostile inputs for the drop-in: $pass refused properly, $fail not"
[ $fail -eq 0 ]
