#!/usr/bin/env bash
# Host changes run as root, attacked the way operators and attackers would: examples/lvs.rs
# (real-server roles, which need no IPVS) in fresh network namespaces, with concurrent runs,
# kill -9 at random points, planted journal records and symlinks, a world-writable state
# directory, umask 000, torn and corrupted journals; and non-UTF-8 or out-of-range arguments
# to every example. Every case must leave the namespace exactly as it was, or refuse with a
# message and change nothing; a run must never exit 0 while it left something behind; no
# example may panic (exit 101).
#
#   tests/hostile/lvs-host.sh [--bin-dir DIR]   (DIR holds lvs, ipvsadm, health_check, table)
#
# Needs root and `ip netns`. scripts/ci/50-faults.sh runs it in the guest.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../../target/debug/examples"
[ "${1:-}" = --bin-dir ] && bin=$2
lvs="$bin/lvs"
work=$(mktemp -d)
pass=0
fail=0
namespaces=()
cleanup() {
    local n
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAILED: $*"; }

# A fresh namespace with lo up and a dummy eth0; prints its name.
new_ns() {
    local n="lvsh$$-$RANDOM$RANDOM"
    ip netns add "$n" || return 1
    namespaces+=("$n")
    ip -n "$n" link set lo up
    # A kernel without the dummy module (some build hosts) gets no eth0: the NAT real
    # server cases then do not run.
    if ip -n "$n" link add eth0 type dummy 2>/dev/null; then
        ip -n "$n" addr add 192.168.1.10/24 dev eth0
        ip -n "$n" link set eth0 up
    fi
    echo "$n"
}

# The real-server modes this kernel can set up: DR always; TUN needs the ipip module (tunl0),
# NAT a device on the gateway's network (the dummy eth0).
modes=(dr)
probe=$(new_ns)
# (the ipip module makes a tunl0 in every namespace)
if ip -n "$probe" link show tunl0 >/dev/null 2>&1; then modes+=(tun); fi
if ip -n "$probe" link show eth0 >/dev/null 2>&1; then modes+=(nat); fi
echo "real-server modes on this kernel: ${modes[*]}"
# The arguments of `up` for a mode.
up_args() {
    case $1 in
    nat) echo "--gateway 192.168.1.1" ;;
    *) echo "--vip 10.9.9.9" ;;
    esac
}

# Everything `up` may touch in a namespace: addresses, routes, links, the sysctls.
snapshot() {
    local n=$1 k
    ip -n "$n" -o addr show | awk '{$1=""; print}' | sed 's/ valid_lft.*//' | sort
    ip -n "$n" route show table main | sort
    ip -n "$n" -o link show | awk '{print $2, $3}' | sort
    for k in net.ipv4.ip_forward net.ipv6.conf.all.forwarding \
        net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.conf.all.rp_filter \
        net.ipv4.conf.lo.arp_ignore net.ipv4.conf.lo.arp_announce net.ipv4.conf.lo.rp_filter \
        net.ipv4.conf.eth0.arp_ignore net.ipv4.conf.eth0.arp_announce net.ipv4.conf.eth0.rp_filter \
        net.core.somaxconn; do
        ip netns exec "$n" sysctl -n "$k" 2>/dev/null | sed "s|^|$k=|"
    done
    ip netns exec "$n" sysctl -n net.ipv4.conf.tunl0.rp_filter 2>/dev/null | sed 's|^|tunl0.rp_filter=|'
}

# Runs lvs; prints its exit status on the last line of its output file.
run() { # OUT ARGS...
    local out=$1
    shift
    "$lvs" "$@" >"$out" 2>&1
    echo "$?" >>"$out"
}
status_of() { tail -n1 "$1"; }

# `down` must bring the namespace back to `before`.
expect_restored() { # NAME NS BEFORE STATE_DIR ROLE_ARGS...
    local what=$1 n=$2 before=$3 sd=$4
    shift 4
    run "$work/down.out" --state-dir "$sd" --netns "$n" "$@" down
    local rc
    rc=$(status_of "$work/down.out")
    if [[ $rc != 0 ]]; then
        bad "$what: down exited $rc: $(head -c 600 "$work/down.out")"
        return
    fi
    if [[ $(snapshot "$n") != "$before" ]]; then
        bad "$what: down exited 0 but the namespace differs: $(diff <(echo "$before") <(snapshot "$n") | head -20)"
        return
    fi
    ok "$what"
}

# --- 1. concurrent ups, then one down -------------------------------------------------------
for mode in "${modes[@]}"; do
    n=$(new_ns) || { bad "cannot make a namespace"; continue; }
    before=$(snapshot "$n")
    sd="$work/state-conc-$mode"
    pids=()
    read -ra extra <<<"$(up_args "$mode")"
    for i in 1 2 3 4 5 6; do
        run "$work/conc-$mode-$i.out" --state-dir "$sd" --netns "$n" realserver "$mode" up "${extra[@]}" &
        pids+=($!)
    done
    wait "${pids[@]}"
    zero=0
    for i in 1 2 3 4 5 6; do
        rc=$(status_of "$work/conc-$mode-$i.out")
        case $rc in
        0) zero=$((zero + 1)) ;;
        1) grep -q "run \`down\`" "$work/conc-$mode-$i.out" ||
            bad "concurrent up ($mode) exit 1 without saying what to do: $(head -c 300 "$work/conc-$mode-$i.out")" ;;
        *) bad "concurrent up ($mode) exited $rc: $(head -c 300 "$work/conc-$mode-$i.out")" ;;
        esac
    done
    [[ $zero == 1 ]] && ok "concurrent ups ($mode): exactly one applied" ||
        bad "concurrent ups ($mode): $zero runs exited 0"
    expect_restored "concurrent ups then down ($mode)" "$n" "$before" "$sd" realserver "$mode"
done

# --- 2. down twice; down with nothing recorded ----------------------------------------------
n=$(new_ns)
before=$(snapshot "$n")
sd="$work/state-twice"
run "$work/up.out" --state-dir "$sd" --netns "$n" realserver dr up --vip 10.9.9.9
[[ $(status_of "$work/up.out") == 0 ]] || bad "up: $(cat "$work/up.out")"
expect_restored "down after up" "$n" "$before" "$sd" realserver dr
expect_restored "down twice" "$n" "$before" "$sd" realserver dr

# --- 3. kill -9 at random points of up, then down --------------------------------------------
# How long an up and a down take here, so that the kills land anywhere inside them.
n=$(new_ns)
t0=$EPOCHREALTIME
"$lvs" --state-dir "$work/state-timing" --netns "$n" realserver dr up --vip 10.9.9.9 >/dev/null 2>&1
t1=$EPOCHREALTIME
"$lvs" --state-dir "$work/state-timing" --netns "$n" realserver dr down >/dev/null 2>&1
t2=$EPOCHREALTIME
up_us=$(((${t1/./} - ${t0/./}) + 1))
down_us=$(((${t2/./} - ${t1/./}) + 1))
echo "an up takes $((up_us / 1000)) ms, a down $((down_us / 1000)) ms: kills land within them"
# Sleeps a random time in [0, $1] microseconds.
random_sleep() {
    local us=$((((RANDOM << 15) | RANDOM) % $1))
    sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
}
for i in $(seq 1 16); do
    mode=${modes[$((i % ${#modes[@]}))]}
    read -ra extra <<<"$(up_args "$mode")"
    n=$(new_ns)
    before=$(snapshot "$n")
    sd="$work/state-kill-$i"
    "$lvs" --state-dir "$sd" --netns "$n" realserver "$mode" up "${extra[@]}" >/dev/null 2>&1 &
    pid=$!
    random_sleep "$up_us"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # Re-running up either completes or says what to do.
    run "$work/reup.out" --state-dir "$sd" --netns "$n" realserver "$mode" up "${extra[@]}"
    rc=$(status_of "$work/reup.out")
    if [[ $rc != 0 && $rc != 1 ]] || { [[ $rc == 1 ]] && ! grep -q "run \`down\`" "$work/reup.out"; }; then
        bad "up after kill -9 ($mode, #$i) exited $rc: $(head -c 300 "$work/reup.out")"
    fi
    expect_restored "kill -9 during up, then down ($mode, #$i)" "$n" "$before" "$sd" realserver "$mode"
done

# --- 4. kill -9 during down, then down again ---------------------------------------------------
for i in 1 2 3 4 5; do
    mode=${modes[$((i % ${#modes[@]}))]}
    read -ra extra <<<"$(up_args "$mode")"
    n=$(new_ns)
    before=$(snapshot "$n")
    sd="$work/state-killdown-$i"
    run "$work/up.out" --state-dir "$sd" --netns "$n" realserver "$mode" up "${extra[@]}"
    "$lvs" --state-dir "$sd" --netns "$n" realserver "$mode" down >/dev/null 2>&1 &
    pid=$!
    random_sleep "$down_us"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    expect_restored "kill -9 during down, then down ($mode, #$i)" "$n" "$before" "$sd" realserver "$mode"
done

# A valid journal line (format version 1, CRC-32 of the body), for planting. The CRC comes
# from gzip's trailer (CRC-32 of the data, little-endian), so that nothing but busybox is
# needed.
line() { # BODY
    local crc
    crc=$(printf '%s' "$1" | gzip -c | tail -c8 | head -c4 | od -An -tx4 | tr -d ' ')
    printf 'lvs-journal 1 %s %s\n' "$crc" "$1"
}

# --- 5. planted records ----------------------------------------------------------------------
n=$(new_ns)
before=$(snapshot "$n")
sd="$work/state-planted"
run "$work/up.out" --state-dir "$sd" --netns "$n" realserver dr up --vip 10.9.9.9
j=$(ls "$sd"/*.journal)
cp "$j" "$work/good.journal"
for planted in "7 change sysctl net/core/somaxconn 4096 1" \
    "7 change sysctl kernel/core_pattern 0 1" \
    "7 change sysctl net/ipv4/conf/../../../kernel/core_pattern 0 1" \
    "7 change sysctl net/ipv4/conf/all/arp_ignore 0 |/tmp/x" \
    "7 frobnicate everything" \
    "1 change sysctl net/ipv4/ip_forward 1 0"; do
    cp "$work/good.journal" "$j"
    line "$planted" >>"$j"
    mid=$(snapshot "$n")
    run "$work/down.out" --state-dir "$sd" --netns "$n" realserver dr down
    rc=$(status_of "$work/down.out")
    if [[ $rc == 1 ]] && grep -q "corrupt journal" "$work/down.out" && [[ $(snapshot "$n") == "$mid" ]]; then
        ok "planted record refused: $planted"
    else
        bad "planted record ($planted): exit $rc, $(head -c 300 "$work/down.out")"
    fi
done
# A line without a valid checksum, and a flipped byte in a real one.
cp "$work/good.journal" "$j"
echo "lvs-journal 1 00000000 7 change sysctl net/ipv4/ip_forward 0 1" >>"$j"
run "$work/down.out" --state-dir "$sd" --netns "$n" realserver dr down
[[ $(status_of "$work/down.out") == 1 ]] && grep -q checksum "$work/down.out" && ok "bad checksum refused" ||
    bad "bad checksum: $(cat "$work/down.out")"
cp "$work/good.journal" "$j"
sed -i '2s/dev lo/dev l /' "$j"
run "$work/down.out" --state-dir "$sd" --netns "$n" realserver dr down
[[ $(status_of "$work/down.out") == 1 ]] && grep -q "corrupt journal" "$work/down.out" && ok "altered record refused" ||
    bad "altered record: $(cat "$work/down.out")"
# A torn last line (a write cut short: its change was never made) is dropped; the rest undone.
cp "$work/good.journal" "$j"
printf 'lvs-journal 1 1234abcd 7 change sysctl net/ipv4/ip_fo' >>"$j"
expect_restored "torn last line dropped, the rest undone" "$n" "$before" "$sd" realserver dr

# --- 6. symlinks, owners, modes --------------------------------------------------------------
n=$(new_ns)
before=$(snapshot "$n")
mkdir -p "$work/elsewhere"
ln -s "$work/elsewhere" "$work/state-link"
run "$work/out" --state-dir "$work/state-link" --netns "$n" realserver dr up --vip 10.9.9.9
[[ $(status_of "$work/out") == 1 && $(snapshot "$n") == "$before" ]] && grep -q "untrusted" "$work/out" &&
    [[ -z $(ls -A "$work/elsewhere") ]] && ok "symlinked state directory refused" ||
    bad "symlinked state directory: $(cat "$work/out")"

sd="$work/state-filelink"
mkdir -m 700 "$sd"
key=$(ip netns exec "$n" stat -L -c %i /proc/self/ns/net)
ln -s "$work/victim" "$sd/netns$key-realserver-dr.journal"
run "$work/out" --state-dir "$sd" --netns "$n" realserver dr up --vip 10.9.9.9
[[ $(status_of "$work/out") == 1 && $(snapshot "$n") == "$before" && ! -e "$work/victim" ]] &&
    ok "symlinked journal refused, its target not created" ||
    bad "symlinked journal: exit $(status_of "$work/out"), victim $(ls "$work/victim" 2>&1)"

sd="$work/state-777"
mkdir -m 777 "$sd"
chmod 777 "$sd"
run "$work/out" --state-dir "$sd" --netns "$n" realserver dr up --vip 10.9.9.9
[[ $(status_of "$work/out") == 1 && $(snapshot "$n") == "$before" ]] && grep -q "group or others" "$work/out" &&
    ok "world-writable state directory refused" || bad "world-writable state directory: $(cat "$work/out")"

sd="$work/state-nobody"
mkdir -m 700 "$sd"
chown 65534:65534 "$sd"
run "$work/out" --state-dir "$sd" --netns "$n" realserver dr up --vip 10.9.9.9
[[ $(status_of "$work/out") == 1 && $(snapshot "$n") == "$before" ]] && grep -q "owned by uid 65534" "$work/out" &&
    ok "state directory of another user refused" || bad "another user's state directory: $(cat "$work/out")"

sd="$work/state-umask"
(umask 000 && run "$work/out" --state-dir "$sd" --netns "$n" realserver dr up --vip 10.9.9.9)
modes="$(stat -c %a "$sd") $(stat -c %a "$sd"/*.journal 2>/dev/null)"
[[ $(status_of "$work/out") == 0 && $modes == "700 600" ]] && ok "umask 000: directory 700, journal 600" ||
    bad "umask 000: exit $(status_of "$work/out"), modes $modes"
expect_restored "down after umask 000" "$n" "$before" "$sd" realserver dr

run "$work/out" --state-dir /dev/null/x --netns "$n" realserver dr up --vip 10.9.9.9
[[ $(status_of "$work/out") == 1 && $(snapshot "$n") == "$before" ]] && ok "unusable state directory: nothing changed" ||
    bad "unusable state directory: exit $(status_of "$work/out"), $(cat "$work/out")"

# --- 7. a change someone else made since is reported, kept, and down exits non-zero -----------
sd="$work/state-conflict"
run "$work/up.out" --state-dir "$sd" --netns "$n" realserver dr up --vip 10.9.9.9
ip netns exec "$n" sysctl -qw net.ipv4.conf.all.arp_announce=1
run "$work/down.out" --state-dir "$sd" --netns "$n" realserver dr down
rc=$(status_of "$work/down.out")
[[ $rc == 3 ]] && grep -q "arp_announce" "$work/down.out" && ok "conflicting change named, down exits 3" ||
    bad "conflict: exit $rc, $(cat "$work/down.out")"
ip netns exec "$n" sysctl -qw net.ipv4.conf.all.arp_announce=2
expect_restored "down after the conflict is resolved" "$n" "$before" "$sd" realserver dr

# --- 8. arguments -----------------------------------------------------------------------------
nonutf8=$'\xff\xfe'
for cmd in "lvs realserver dr up --vip $nonutf8" "lvs --netns $nonutf8 realserver dr up" \
    "ipvsadm -A -t $nonutf8:80" "ipvsadm --netns $nonutf8 -Ln" \
    "health_check --service $nonutf8" "table $nonutf8"; do
    read -ra argv <<<"$cmd"
    "$bin/${argv[0]}" "${argv[@]:1}" >"$work/out" 2>&1 </dev/null
    rc=$?
    [[ $rc == 2 ]] && ! grep -q panicked "$work/out" && ok "non-UTF-8 argument: ${argv[0]} exits 2" ||
        bad "non-UTF-8 argument to ${argv[0]}: exit $rc, $(head -c 300 "$work/out")"
done
for cmd in "lvs --netns ../x realserver dr up" "lvs --netns / realserver dr up" \
    "lvs --netns .. realserver dr up" "ipvsadm --netns ../x -Ln" \
    "health_check --service tcp:10.0.0.1:80 --interval 1e30" \
    "health_check --service tcp:10.0.0.1:80 --timeout -1" \
    "health_check --service tcp:10.0.0.1:80 --interval nan" \
    "health_check --service tcp:10.0.0.1:80 --remove-after 1e300" \
    "health_check --service tcp:10.0.0.1:80 --netns ../x" \
    "lvs --lock-wait 1e9 realserver dr up"; do
    read -ra argv <<<"$cmd"
    "$bin/${argv[0]}" "${argv[@]:1}" >"$work/out" 2>&1 </dev/null
    rc=$?
    [[ $rc == 2 ]] && ! grep -q panicked "$work/out" && ok "bad argument refused: $cmd" ||
        bad "bad argument ($cmd): exit $rc, $(head -c 300 "$work/out")"
done

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
