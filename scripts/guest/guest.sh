#!/usr/bin/env bash
#
# Runs inside the lvs test guest. run.sh copies this file into the per-run
# control directory (mounted at /run/lvs-guest over 9p) next to params.sh,
# which run.sh generates; the guest's /init then runs it with bash.
#
# It mounts the host directories at their host paths, loads the kernel
# modules, sets up the environment and runs the command. Its exit status is
# the command's, or 125 if the guest could not be prepared.
#
# params.sh defines (none of them exported):
#   GUEST_SHARES    array of host directories, shared with tags lvsshare0...
#   GUEST_CWD       directory to run the command in
#   GUEST_NO_IPVS   1 to leave the IPVS modules unloaded
#   GUEST_CMD       array: the command and its arguments
# and exports the LVS_*, RUST_* and PROPTEST_* variables of the host.
set -uo pipefail

CTL=$(dirname "${BASH_SOURCE[0]}")
P9OPTS=trans=virtio,version=9p2000.L,msize=512000

fail() {
    echo "lvs-guest: $*" >&2
    exit 125
}

declare -a GUEST_SHARES GUEST_CMD
GUEST_CWD=/
GUEST_NO_IPVS=0
# shellcheck source=/dev/null
source "$CTL/params.sh" || fail "cannot read $CTL/params.sh"

# Host directories, each at the same absolute path as on the host, so paths
# that cargo compiled into test binaries (CARGO_MANIFEST_DIR, target/) work.
for i in "${!GUEST_SHARES[@]}"; do
    dir=${GUEST_SHARES[$i]}
    mkdir -p "$dir" || fail "cannot create mount point $dir"
    mount -t 9p -o "$P9OPTS" "lvsshare$i" "$dir" || fail "cannot mount $dir (tag lvsshare$i)"
done

# Kernel modules; setup.sh wrote the lists for this kernel into the
# initramfs, in load order (crc32c_generic before ip_vs where the kernel has
# that module: libcrc32c only soft-depends on it).
read_list() { grep -v '^#' "/etc/lvs-guest/$1" 2>/dev/null; }
mapfile -t net_modules < <(read_list modules-net)
modprobe -a "${net_modules[@]}" || fail "cannot load modules: ${net_modules[*]}"
if [[ $GUEST_NO_IPVS != 1 ]]; then
    mapfile -t ipvs_modules < <(read_list modules-ipvs)
    modprobe -a "${ipvs_modules[@]}" || fail "cannot load modules: ${ipvs_modules[*]}"
    [[ -e /proc/net/ip_vs ]] || fail "ip_vs loaded but /proc/net/ip_vs is missing"
else
    # Otherwise the first IPVS netlink request would make the kernel load
    # ip_vs through its alias net-pf-16-proto-16-family-IPVS. A blacklist
    # stops only loading by alias: "modprobe ip_vs" still works, and so does
    # the kernel's loading of schedulers (by name) once ip_vs is in.
    mkdir -p /etc/modprobe.d
    echo "blacklist ip_vs" >/etc/modprobe.d/lvs-no-ipvs.conf
    # ipvsadm runs "/sbin/modprobe -- ip_vs" itself when IPVS is missing;
    # refuse that one caller so that ipvsadm, too, sees no IPVS.
    cat >/usr/sbin/modprobe.no-ipvs <<'EOF'
#!/usr/bin/bash
if [[ $(cat "/proc/$PPID/comm" 2>/dev/null) == ipvsadm ]]; then
    echo "modprobe: not loading IPVS for ipvsadm (run.sh --no-ipvs); run 'modprobe ip_vs' first" >&2
    exit 1
fi
exec -a modprobe /usr/bin/kmod "$@"
EOF
    chmod 0755 /usr/sbin/modprobe.no-ipvs
    ln -sf modprobe.no-ipvs /usr/sbin/modprobe
fi

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8
export LVS_GUEST=1 LVS_GUEST_KERNEL_RELEASE
LVS_GUEST_KERNEL_RELEASE=$(uname -r)

cd "$GUEST_CWD" || fail "cannot cd to $GUEST_CWD"
"${GUEST_CMD[@]}" </dev/null
