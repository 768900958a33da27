# Shared by the guest suites (tests/e2e/run.sh, tests/health/run.sh): network namespaces
# named "$P-NAME", veth links, a bridge in the "sw" namespace, the NAT topology, and HTTP
# requests from the client namespace "c". Source it after setting P (the name prefix); the
# namespaces made are listed in the array "namespaces".

nsx() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
ipn() { local ns=$1; shift; ip -n "$P-$ns" "$@"; }


namespaces=()
add_ns() {
    ip netns add "$P-$1" || return 1
    # No IPv6 duplicate address detection: addresses would change from "tentative" to final
    # between two snapshots.
    nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ipn "$1" link set lo up
    namespaces+=("$1")
}

# veth pair: NS1:IF1 <-> NS2:IF2
veth() {
    ip link add "$P-tmp-a" type veth peer name "$P-tmp-b" || return 1
    ip link set "$P-tmp-a" netns "$P-$1" name "$2" || return 1
    ip link set "$P-tmp-b" netns "$P-$3" name "$4" || return 1
    ipn "$1" link set "$2" up && ipn "$3" link set "$4" up
}

# NS:IF plugged into the bridge br0 of the switch namespace "sw" (port named pNS)
plug() {
    veth "$1" "$2" sw "p$1" || return 1
    ipn sw link set "p$1" master br0
}

make_switch() {
    add_ns sw || return 1
    ipn sw link add br0 type bridge &&
        ipn sw link set br0 type bridge forward_delay 0 &&
        ipn sw link set br0 up
}

# NAT: client -- (public segment) -- director -- (private segment, bridge) -- real servers.
nat_topology() { # CNET DPUB DPRIV PRIVNET(prefix) RIPS...
    local cip=$1 dpub=$2 dpriv=$3 privnet=$4
    shift 4
    make_switch && add_ns c && add_ns d || return 1
    veth c eth0 d eth0 || return 1
    ipn c addr add "$cip" dev eth0
    ipn d addr add "$dpub" dev eth0
    plug d eth1 && ipn d addr add "$dpriv" dev eth1 || return 1
    ipn c route add "$privnet" via "${dpub%/*}"
    local i=1 r
    REALS=()
    for r in "$@"; do
        add_ns "r$i" && plug "r$i" eth0 && ipn "r$i" addr add "$r" dev eth0 || return 1
        REALS+=("r$i")
        i=$((i + 1))
    done
    DIF=eth1
    CIF=eth0
}

# N requests from the client to VIP:PORT; prints one server name per answer (or "none").
requests() { # N VIP PORT
    nsx c timeout 120 bash -c '
        for ((i = 0; i < $1; i++)); do
            if ! exec 3<>"/dev/tcp/$2/$3"; then echo none; continue; fi
            printf "GET /id HTTP/1.0\r\nHost: lvs\r\n\r\n" >&3
            body=$(cat <&3)
            exec 3>&-
            line=$(grep -m1 "^server=" <<<"$body") || line=server=none
            echo "${line#server=}"
            [[ -n ${LVS_E2E_TRACE:-} ]] && echo "request $i: $EPOCHREALTIME" >&2
        done' _ "$@"
}

