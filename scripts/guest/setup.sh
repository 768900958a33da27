#!/usr/bin/env bash
#
# Prepares the qemu guests in which lvs's kernel tests run.
#
#   scripts/guest/setup.sh [--quiet] [--force] [KERNEL...]
#
# KERNEL is a generation: 5.10 (Debian bullseye), 6.1 (bookworm), 6.12
# (bookworm-backports) or 7 (the newest 7.x, from Debian's unstable suite);
# default: all four.
#
# Kernel packages are not pinned: each generation resolves, by name, to the
# newest package Debian has for it when the guest is first built (Debian drops
# superseded packages from its archive, so a pin would stop working within
# months). The resolved package and kernel release are printed and kept in
# $LVS_GUEST_DIR/<KERNEL>/{package,kernel-release}; the tests read the running
# kernel's version, and each kernel behaviour they check is stated for a
# version range, so a stable update that changes one shows up as that named
# quirk failing on that release. --force (or a new machine) re-resolves.
#
# Idempotent. It
#   1. installs the host packages it needs (apt-get update only when apt does
#      not know one of them),
#   2. downloads the newest Debian kernel package of each generation,
#   3. builds an initramfs per kernel with busybox, host bash/iproute2/
#      ipvsadm/kmod/util-linux tools plus their glibc libraries, and the
#      kernel modules (IPVS, tunnels, veth, bridge, 9p, ...).
#   4. boots each new guest once to check it.
# Result: $LVS_GUEST_DIR/<KERNEL>/{vmlinux,vmlinuz,initrd.cpio} (default
# <repo>/.guest). run.sh boots vmlinux (the uncompressed kernel, through its
# PVH entry point) when present, else vmlinuz; an uncompressed kernel and
# initramfs boot about 3 s faster under TCG, which must decompress slowly.
# When everything is present and up to date it only checks and returns.
#
# --force re-resolves and re-downloads the kernels and rebuilds everything.
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd -P)
GUEST_DIR=${LVS_GUEST_DIR:-$REPO/.guest}
ALL_KERNELS=(5.10 6.1 6.12 7)

# Host packages, and a command each one must provide.
HOST_PACKAGES=(qemu-system-x86 busybox-static ipvsadm cpio kmod xz-utils zstd
    iproute2 bash coreutils util-linux gzip grep)
HOST_COMMANDS=(qemu-system-x86_64 busybox ipvsadm cpio depmod modprobe kmod xz
    zstd gzip ip ss bridge tc genl bash setpriv nsenter unshare timeout flock)

# Host programs copied into the guest (with the libraries ldd names). They
# replace the busybox applets of the same names.
GUEST_HOST_PROGRAMS=(bash ip ss bridge tc genl ipvsadm kmod setpriv nsenter unshare timeout)
# kmod's personalities: real modprobe (with softdep support) in the guest.
KMOD_LINKS=(modprobe insmod rmmod lsmod modinfo depmod)
# Extra libraries for host-built (Rust) binaries, copied if the host has them.
EXTRA_LIBS=(libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2
    librt.so.1 libutil.so.1 libresolv.so.2 libnss_files.so.2 libnss_dns.so.2
    libz.so.1 libstdc++.so.6)

# Modules loaded at boot (besides IPVS) and carried for modprobe; all their
# dependencies come along. Missing ones are an error, except OPTIONAL ones.
NET_MODULES=(veth bridge dummy ipip fou ip_gre gre ip_tunnel tunnel4 af_packet)
OPTIONAL_MODULES=(ip6_tunnel ip6_gre sit tun macvlan nf_conntrack_netlink virtio_rng)
BOOT_MODULES=(virtio_pci 9pnet_virtio 9p)
# IPVS: ip_vs, then every scheduler of the kernel, then these, in this order.
IPVS_TAIL_MODULES=(nf_conntrack_sip ip_vs_pe_sip ip_vs_ftp)

QUIET=0
FORCE=0

# Any unexpected failure is reported, not just a silent exit.
trap 'echo "setup.sh: error: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}
# Progress of real work is always shown; --quiet only hides "up to date".
log() {
    echo "setup.sh: $*" >&2
}
note() {
    if [[ $QUIET == 0 ]]; then log "$@"; fi
}

# Runs a command with its output kept in a log that is shown if it fails.
run_logged() {
    local out
    out=$(mktemp)
    if "$@" >"$out" 2>&1; then
        rm -f "$out"
        return 0
    fi
    tail -n 30 "$out" >&2
    rm -f "$out"
    return 1
}

usage() { # the comment block at the top of this file
    awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

# ---------------------------------------------------------------------------
# 1. Host packages

pkg_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED == 0 ]]; then
        log "apt-get update"
        run_logged apt-get -q update || die "apt-get update failed"
        APT_UPDATED=1
    fi
}

ensure_host_packages() {
    local missing=() p c
    for p in "${HOST_PACKAGES[@]}"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        [[ $EUID == 0 ]] || die "missing packages ${missing[*]}; run this script as root or install them"
        # Update the package lists only when apt does not know a package.
        for p in "${missing[@]}"; do
            if ! apt-cache show "$p" >/dev/null 2>&1; then
                apt_update_once
                break
            fi
        done
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive run_logged apt-get install -y -q --no-install-recommends \
            "${missing[@]}" || die "apt-get install ${missing[*]} failed"
    fi
    for c in "${HOST_COMMANDS[@]}"; do
        command -v "$c" >/dev/null || die "command '$c' not found after installing ${HOST_PACKAGES[*]}"
    done
}

# ---------------------------------------------------------------------------
# 2. Kernel packages

# The first URI of the machine's Debian archive (not the security one).
debian_mirror() {
    local f=/etc/apt/sources.list.d/debian.sources uri=""
    if [[ -r $f ]]; then
        # deb822 stanzas: take URIs of the stanza whose Suites has "bookworm".
        uri=$(awk '
            /^[[:space:]]*$/ { if (u != "" && s) { print u; exit } u = ""; s = 0; next }
            /^URIs:/   { u = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") s = 1 }
            END        { if (u != "" && s) print u }' "$f" | head -n1)
    fi
    if [[ -z $uri && -r /etc/apt/sources.list ]]; then
        uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
    fi
    [[ -n $uri ]] || die "cannot find the Debian bookworm archive URI in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    echo "$uri"
}

# apt options for a private view of suite $1 (bullseye, bookworm-backports,
# sid) of the machine's Debian archive; the machine's apt configuration is
# left alone. Updated once per run of this script. Sets the global array
# SUITE_OPTS.
SUITE_OPTS=()
declare -A SUITE_UPDATED=()
suite_apt() {
    local suite=$1 d=$GUEST_DIR/apt-$1
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
    SUITE_OPTS=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
    if [[ -z ${SUITE_UPDATED[$suite]:-} ]]; then
        echo "deb $(debian_mirror) $suite main" >"$d/sources.list"
        log "apt-get update ($suite)"
        run_logged apt-get -q "${SUITE_OPTS[@]}" update || die "apt-get update of $suite failed"
        SUITE_UPDATED[$suite]=1
    fi
}

# apt-get/apt-cache arguments for kernel generation $1 (into apt_opts).
kernel_apt_opts() {
    case $1 in
    6.1) apt_opts=() ;;
    5.10) suite_apt bullseye && apt_opts=("${SUITE_OPTS[@]}") ;;
    6.12) suite_apt bookworm-backports && apt_opts=("${SUITE_OPTS[@]}") ;;
    7) suite_apt sid && apt_opts=("${SUITE_OPTS[@]}") ;;
    esac
}

# The newest linux-image package of generation $1 (e.g. linux-image-6.1.0-56-amd64).
resolve_kernel_package() {
    local gen=$1 re pkg
    local -a apt_opts
    kernel_apt_opts "$gen"
    case $gen in
    5.10) re='^linux-image-5\.10\.0-[0-9]+-amd64-unsigned$' ;;
    6.1) re='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    6.12) re='^linux-image-6\.12\.[0-9]+(\+[a-z0-9.]+)?-amd64$' ;;
    7) re='^linux-image-7\.[0-9]+\.[0-9]+(\+[a-z0-9.]+)?-amd64$' ;;
    esac
    # The meta package names the current image. For 6.1 make sure apt's lists
    # are there (a fresh machine has none).
    if [[ $gen == 6.1 ]] && ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
        apt_update_once
    fi
    pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" { print $2 }' | grep -E "$re" | head -n1 || true)
    if [[ -z $pkg ]]; then
        # Meta package points elsewhere (e.g. a newer series): pick the newest
        # image of this generation by name.
        pkg=$(apt-cache "${apt_opts[@]}" pkgnames linux-image-"$gen" 2>/dev/null |
            grep -E "$re" | sort -V | tail -n1 || true)
    fi
    [[ -n $pkg ]] || die "no linux-image package for kernel $gen found by apt"
    echo "$pkg"
}

# The packages that make up image package $1 (apt options in apt_opts): the
# package itself and, for the split packaging of Debian's 7.x kernels, the
# linux-binary-* (the kernel image) and linux-modules-* packages it depends on.
kernel_package_set() {
    echo "$1"
    apt-cache "${apt_opts[@]}" depends "$1" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-(binary|modules)-/ { print $2 }' | sort -u
}

# Downloads the kernel packages for generation $1 into $GUEST_DIR/$1 unless
# present; prints the .deb paths, one a line (the image package first).
fetch_kernel() {
    local gen=$1 dir=$GUEST_DIR/$1 pkg p deb
    local -a apt_opts pkgs debs
    if [[ $FORCE == 0 && -r $dir/package ]]; then
        mapfile -t pkgs <"$dir/package-set" 2>/dev/null || pkgs=("$(<"$dir/package")")
        debs=()
        for p in "${pkgs[@]}"; do
            deb=$(find "$dir" -maxdepth 1 -name "${p}_*.deb" | head -n1)
            [[ -n $deb ]] && debs+=("$deb")
        done
        if ((${#debs[@]} == ${#pkgs[@]} && ${#debs[@]} > 0)); then
            printf '%s\n' "${debs[@]}"
            return
        fi
    fi
    kernel_apt_opts "$gen" # before the subshell below, so apt update runs once
    pkg=$(resolve_kernel_package "$gen")
    mapfile -t pkgs < <(kernel_package_set "$pkg")
    mkdir -p "$dir"
    rm -f "$dir"/*.deb
    log "kernel $gen: downloading ${pkgs[*]}"
    (cd "$dir" && run_logged apt-get -q -o APT::Sandbox::User=root "${apt_opts[@]}" download "${pkgs[@]}") ||
        die "apt-get download ${pkgs[*]} failed"
    debs=()
    for p in "${pkgs[@]}"; do
        deb=$(find "$dir" -maxdepth 1 -name "${p}_*.deb" | head -n1)
        [[ -n $deb ]] || die "apt-get download $p produced no .deb in $dir"
        debs+=("$deb")
    done
    echo "$pkg" >"$dir/package"
    printf '%s\n' "${pkgs[@]}" >"$dir/package-set"
    printf '%s\n' "${debs[@]}"
}

# ---------------------------------------------------------------------------
# 3. Initramfs

# Copies host file $1 to the same path under root $2 (following symlinks).
copy_host_file() {
    local src=$1 root=$2
    [[ -e $root$src ]] && return
    mkdir -p "$root$(dirname "$src")"
    cp -L "$src" "$root$src"
}

# Copies the shared libraries (and loader) that ldd names for binary $1.
copy_libs_of() {
    local bin=$1 root=$2 lib
    while read -r lib; do
        copy_host_file "$lib" "$root"
    done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
}

# Paths (relative to the module root) of module $1 and its dependencies in
# load order, from the unpacked kernel at $2. Empty if builtin; fails if
# the kernel has no such module.
module_files() {
    local mod=$1 kroot=$2 kver=$3 out
    out=$(modprobe -d "$kroot" -S "$kver" --show-depends "$mod" 2>/dev/null) || return 1
    # "insmod /.../lib/modules/<kver>/kernel/x.ko [params]" or "builtin x".
    awk '$1 == "insmod" { p = $2; sub("^.*/lib/modules/[^/]+/", "", p); print p }' <<<"$out"
}

# Hash of everything an initramfs depends on besides the kernel package.
build_inputs_hash() {
    {
        cat "${BASH_SOURCE[0]}" "$SCRIPT_DIR/init"
        dpkg-query -W libc6 libgcc-s1 bash iproute2 ipvsadm kmod util-linux coreutils busybox-static 2>/dev/null || true
    } | sha256sum | cut -d' ' -f1
}

build_initramfs() {
    local gen=$1 dir=$GUEST_DIR/$1 build kroot root kver kimage mdir m f p ko deb
    shift
    local -a debs=("$@")
    local -a sched=() wanted=() ipvs_list=() net_list=()
    build=$(mktemp -d "$dir/build.XXXXXX")
    # shellcheck disable=SC2064 # expand now: $build is local
    trap "rm -rf '$build'" EXIT
    kroot=$build/kernel
    root=$build/root

    for deb in "${debs[@]}"; do
        log "unpacking $(basename "$deb")"
        dpkg -x "$deb" "$kroot" || die "dpkg -x $deb failed"
    done
    # Modules under /lib/modules (5.10 to 6.12) or, merged-/usr, under
    # /usr/lib/modules (7.x, whose image is /usr/lib/modules/<kver>/vmlinuz).
    # Work on one view: /lib -> usr/lib when the package has only /usr/lib.
    if [[ ! -e $kroot/lib && -d $kroot/usr/lib/modules ]]; then
        ln -s usr/lib "$kroot/lib"
    fi
    kver=$(find "$kroot/lib/modules/" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n1)
    kimage=""
    for f in "$kroot/boot/vmlinuz-$kver" "$kroot/lib/modules/$kver/vmlinuz"; do
        if [[ -n $kver && -f $f ]]; then
            kimage=$f
            break
        fi
    done
    [[ -n $kimage ]] || die "${debs[*]}: no kernel image and modules (are they the image packages?)"
    # Debian's split 7.x packages ship no modules.builtin (nor .builtin.modinfo,
    # .order): modprobe then cannot tell a builtin module from a missing one.
    # Without that list, a wanted module with no .ko file is taken as builtin
    # (af_packet and virtio_pci are, there) and listed in a modules.builtin
    # made here, so that modprobe accepts it on the host and in the guest. A
    # module really missing then fails the test boot, or the suites that use it.
    local no_builtin_list=0
    if [[ ! -e $kroot/lib/modules/$kver/modules.builtin ]]; then
        no_builtin_list=1
        : >"$kroot/lib/modules/$kver/modules.builtin"
    fi
    depmod -b "$kroot" "$kver" 2>/dev/null || die "depmod for $kver failed"

    # Filesystem skeleton, merged-/usr like the host so that host-built
    # binaries find their loader (/lib64/ld-linux-x86-64.so.2) and libraries.
    mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc/lvs-guest,proc,sys,dev,run,tmp,root,var,mnt}
    ln -s usr/bin "$root/bin"
    ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    ln -s ../run "$root/var/run"
    mkdir -p "$root/var/lock" "$root/var/tmp"

    # Host programs and their libraries.
    for p in "${GUEST_HOST_PROGRAMS[@]}"; do
        f=$(readlink -f "$(command -v "$p")")
        copy_host_file "$f" "$root"
        copy_libs_of "$f" "$root"
    done
    for p in "${KMOD_LINKS[@]}"; do
        ln -sf ../bin/kmod "$root/usr/sbin/$p"
    done
    local libdir
    libdir=$(dirname "$(ldd "$(command -v bash)" | awk '$1 == "libc.so.6" { print $3 }')")
    for p in "${EXTRA_LIBS[@]}"; do
        if [[ -e $libdir/$p ]]; then copy_host_file "$libdir/$p" "$root"; fi
    done
    # Keep the loader also where ldd reports it for this host.
    copy_host_file /lib64/ld-linux-x86-64.so.2 "$root"

    # busybox for everything else: one link per applet that no host program
    # provides. /bin/sh is bash, so "#!/bin/sh" scripts and Command::new("sh")
    # see the host tools, not busybox's applets (whose `ip` lacks netns).
    cp "$(command -v busybox)" "$root/usr/bin/busybox"
    while read -r p; do
        [[ -e $root/usr/bin/$p || -e $root/usr/sbin/$p || -L $root/usr/sbin/$p ]] && continue
        ln -s busybox "$root/usr/bin/$p"
    done < <("$root/usr/bin/busybox" --list)
    ln -sf bash "$root/usr/bin/sh"

    # /etc
    echo lvs-guest >"$root/etc/hostname"
    cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost lvs-guest
::1	localhost ip6-localhost ip6-loopback
EOF
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\nservices: files\nprotocols: files\n' \
        >"$root/etc/nsswitch.conf"
    for f in /etc/services /etc/protocols; do
        if [[ -r $f ]]; then cp "$f" "$root$f"; fi
    done
    ln -s /proc/self/mounts "$root/etc/mtab"
    cp "$SCRIPT_DIR/init" "$root/init"
    chmod 0755 "$root/init"

    # Kernel modules: the wanted set plus dependencies, decompressed so that
    # any modprobe loads them (and no decompression runs under TCG).
    mdir=lib/modules/$kver
    mapfile -t sched < <(find "$kroot/$mdir/kernel/net/netfilter/ipvs" -name 'ip_vs_*.ko*' -printf '%f\n' |
        sed -E 's/\.ko(\.xz|\.zst|\.gz)?$//' | grep -vE '^ip_vs_(ftp|pe_sip)$' | sort)
    ((${#sched[@]})) || die "kernel $kver has no IPVS schedulers"
    ipvs_list=(ip_vs "${sched[@]}" "${IPVS_TAIL_MODULES[@]}")
    # Up to 6.x, libcrc32c (needed by ip_vs) only soft-depends on crc32c: the
    # crc32c_generic module must be loaded first or ip_vs fails with "unknown
    # symbol". Newer kernels (7.x) have crc32c in the core library and no such
    # module.
    if module_files crc32c_generic "$kroot" "$kver" >/dev/null; then
        ipvs_list=(crc32c_generic "${ipvs_list[@]}")
    fi
    wanted=("${ipvs_list[@]}" "${NET_MODULES[@]}" "${BOOT_MODULES[@]}")
    if ((no_builtin_list)); then
        for m in "${wanted[@]}"; do
            module_files "$m" "$kroot" "$kver" >/dev/null && continue
            log "kernel $kver: no module $m and no modules.builtin: taking $m as builtin"
            echo "kernel/builtin/$m.ko" >>"$kroot/$mdir/modules.builtin"
        done
        depmod -b "$kroot" "$kver" 2>/dev/null || die "depmod for $kver failed"
    fi
    for m in "${wanted[@]}" "${OPTIONAL_MODULES[@]}"; do
        if ! module_files "$m" "$kroot" "$kver" >"$build/files"; then
            if [[ " ${OPTIONAL_MODULES[*]} " == *" $m "* ]]; then
                log "kernel $kver has no module $m (optional, skipped)"
                continue
            fi
            die "kernel $kver has no module $m"
        fi
        if [[ " ${NET_MODULES[*]} " == *" $m "* ]]; then net_list+=("$m"); fi
        while read -r f; do
            ko=$root/$mdir/${f%.xz}
            ko=${ko%.zst}
            [[ -e $ko ]] && continue
            mkdir -p "$(dirname "$ko")"
            case $f in
            *.xz) xz -dc "$kroot/$mdir/$f" >"$ko" ;;
            *.zst) zstd -qdc "$kroot/$mdir/$f" >"$ko" ;;
            *) cp "$kroot/$mdir/$f" "$ko" ;;
            esac
        done <"$build/files"
    done
    for f in modules.builtin modules.builtin.modinfo modules.order; do
        if [[ -e $kroot/$mdir/$f ]]; then cp "$kroot/$mdir/$f" "$root/$mdir/"; fi
    done
    depmod -b "$root" "$kver" || die "depmod in the initramfs failed"
    # Module lists for guest.sh (af_packet etc. may be builtin: modprobe copes).
    printf '%s\n' "# IPVS modules, in load order (crc32c_generic first where the kernel has it)" "${ipvs_list[@]}" \
        >"$root/etc/lvs-guest/modules-ipvs"
    printf '%s\n' "# other modules loaded at boot" "${net_list[@]}" >"$root/etc/lvs-guest/modules-net"
    echo "$kver" >"$root/etc/lvs-guest/kernel-release"

    log "writing $dir/initrd.cpio"
    rm -f "$dir/initrd.gz" # left by older versions of this script
    (cd "$root" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --quiet) >"$dir/initrd.cpio.tmp" ||
        die "building the initramfs archive failed"
    cp "$kimage" "$dir/vmlinuz.tmp"
    rm -f "$dir/vmlinux"
    if extract_vmlinux "$dir/vmlinuz.tmp" "$dir/vmlinux.tmp"; then
        mv "$dir/vmlinux.tmp" "$dir/vmlinux"
    else
        log "kernel $kver: no bootable vmlinux inside vmlinuz; booting the compressed kernel (slower)"
    fi
    mv "$dir/initrd.cpio.tmp" "$dir/initrd.cpio"
    mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
    echo "$kver" >"$dir/kernel-release"
    printf '%s\n' "${ipvs_list[@]}" >"$dir/ipvs-modules"
    rm -rf "$build"
    trap - EXIT
}

# Little-endian unsigned integer of $3 bytes at offset $2 of file $1.
read_uint() {
    od -An -tu"$3" -j "$2" -N "$3" "$1" | tr -d ' '
}

# Extracts the uncompressed ELF kernel from bzImage $1 into $2 (like the
# kernel's scripts/extract-vmlinux) if it has a PVH entry point, which
# qemu's -kernel can boot directly. Fails otherwise.
extract_vmlinux() {
    local img=$1 out=$2 spec magic off shoff shentsize shnum
    local -a cmd
    for spec in '\xFD\x37\x7A\x58\x5A\x00:xz -dcq --single-stream' \
        '\x28\xB5\x2F\xFD:zstd -dcq' '\x1F\x8B\x08:gzip -dcq'; do
        magic=${spec%%:*}
        read -ra cmd <<<"${spec#*:}"
        while read -r off; do
            tail -c "+$((off + 1))" "$img" | "${cmd[@]}" >"$out" 2>/dev/null || true
            [[ $(od -An -tx1 -N4 "$out" | tr -d ' ') == 7f454c46 ]] || continue
            # Complete? The section headers end the file.
            shoff=$(read_uint "$out" 40 8)
            shentsize=$(read_uint "$out" 58 2)
            shnum=$(read_uint "$out" 60 2)
            (($(stat -c %s "$out") >= shoff + shentsize * shnum)) || continue
            # PVH entry point: ELF note "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (18).
            LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$out" ||
                continue
            return 0
        done < <(LC_ALL=C grep -obUaP "$magic" "$img" | cut -d: -f1 || true)
    done
    rm -f "$out"
    return 1
}

# Boots the new guest of kernel $1 once; without a working vmlinux falls back
# to vmlinuz. Dies if the guest does not come up with IPVS.
smoke_test() {
    local gen=$1 dir=$GUEST_DIR/$1 log=$GUEST_DIR/$1/smoke.log
    local -a check=(bash -c 'test -e /proc/net/ip_vs_conn && ipvsadm -Ln >/dev/null && echo LVS-GUEST-SMOKE-OK')
    log "kernel $gen: test boot"
    if LVS_GUEST_NO_SETUP=1 LVS_GUEST_DIR=$GUEST_DIR "$SCRIPT_DIR/run.sh" --kernel "$gen" \
        --timeout 300 -- "${check[@]}" >"$log" 2>&1 && grep -q LVS-GUEST-SMOKE-OK "$log"; then
        return
    fi
    if [[ -e $dir/vmlinux ]]; then
        log "kernel $gen: test boot of vmlinux failed; trying vmlinuz"
        rm -f "$dir/vmlinux"
        if LVS_GUEST_NO_SETUP=1 LVS_GUEST_DIR=$GUEST_DIR "$SCRIPT_DIR/run.sh" --kernel "$gen" \
            --timeout 300 -- "${check[@]}" >"$log" 2>&1 && grep -q LVS-GUEST-SMOKE-OK "$log"; then
            return
        fi
    fi
    tail -n 40 "$log" >&2
    die "kernel $gen: the guest does not boot with IPVS (full log: $log)"
}

setup_kernel() {
    local gen=$1 dir=$GUEST_DIR/$1 deb want pkg=""
    if [[ -r $dir/package ]]; then pkg=$(<"$dir/package"); fi
    want="$(build_inputs_hash) $pkg"
    if [[ $FORCE == 0 && -s $dir/initrd.cpio && -s $dir/vmlinuz && -r $dir/stamp &&
        $(<"$dir/stamp") == "$want" ]]; then
        note "kernel $gen: up to date ($(<"$dir/kernel-release"))"
        return
    fi
    rm -f "$dir/stamp"
    local -a debs
    mapfile -t debs < <(fetch_kernel "$gen")
    ((${#debs[@]})) || die "kernel $gen: no packages"
    build_initramfs "$gen" "${debs[@]}"
    smoke_test "$gen"
    echo "$(build_inputs_hash) $(<"$dir/package")" >"$dir/stamp"
    local boots=vmlinuz
    if [[ -e $dir/vmlinux ]]; then boots=vmlinux; fi
    log "kernel $gen: ready ($(<"$dir/package"), release $(<"$dir/kernel-release"), boots $boots)"
}

main() {
    local -a kernels=()
    while (($#)); do
        case $1 in
        -q | --quiet) QUIET=1 ;;
        -f | --force) FORCE=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        5.10 | 6.1 | 6.12 | 7) kernels+=("$1") ;;
        *) die "unknown argument '$1' (kernels: ${ALL_KERNELS[*]})" ;;
        esac
        shift
    done
    ((${#kernels[@]})) || kernels=("${ALL_KERNELS[@]}")

    mkdir -p "$GUEST_DIR" || die "cannot create $GUEST_DIR"
    GUEST_DIR=$(cd "$GUEST_DIR" && pwd -P) # apt needs absolute paths
    # One setup at a time per cache directory.
    exec 9>"$GUEST_DIR/.lock"
    flock 9
    ensure_host_packages
    local k
    for k in "${kernels[@]}"; do
        setup_kernel "$k"
    done
}

main "$@"
