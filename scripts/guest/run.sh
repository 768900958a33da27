#!/usr/bin/env bash
#
# Runs a command as root inside a qemu guest with a real Debian kernel and
# IPVS, and exits with the command's exit status.
#
#   scripts/guest/run.sh [OPTIONS] -- COMMAND [ARGS...]
#
# Options (defaults can also come from the environment):
#   --kernel K         guest kernel generation: 5.10, 6.1, 6.12 or 7
#                      (the newest 7.x)           (LVS_GUEST_KERNEL, 6.1)
#   --no-ipvs          do not load the IPVS modules; nothing loads them
#                      implicitly (neither the kernel, for a netlink request
#                      to the IPVS family, nor ipvsadm), but an explicit
#                      "modprobe ip_vs" in the guest works
#   --mem MB           guest memory               (LVS_GUEST_MEM, 1024)
#   --smp N            guest CPUs                 (LVS_GUEST_SMP, 2)
#   --timeout SECS     kill the guest after SECS  (LVS_GUEST_TIMEOUT, 1800)
#   --share DIR        also mount host DIR at the same path (repeatable)
#
# The repository is mounted at its host path and the command runs in the
# caller's current directory if that is inside a shared directory, else in
# the repository root. CARGO_TARGET_DIR, if set and outside the repository,
# is shared too. Host variables named LVS_*, RUST_* and PROPTEST_* are
# exported to the command. The guest's console (kernel messages and the
# command's stdout and stderr, merged) is streamed to stdout.
#
# Other environment: LVS_GUEST_DIR (guest cache, default <repo>/.guest),
# LVS_GUEST_APPEND (extra kernel command line), LVS_GUEST_NO_SETUP=1 (do
# not run setup.sh first).
#
# Exit status: the command's; 124 if the timeout struck; 125 if the guest
# could not be prepared or did not report a status (e.g. a kernel panic).
#
# A guest whose kernel crashes (an oops is a panic here) reports no status:
# the command is then run once more in a new guest, with a warning on
# stderr, because the crash is the kernel's, not the command's (seen once:
# 6.12's IPVS estimator kthread). LVS_GUEST_CRASH_RETRIES (default 1) sets
# how many times; 0 turns it off.
set -euo pipefail
ORIG_ARGS=("$@")

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd -P)
GUEST_DIR=${LVS_GUEST_DIR:-$REPO/.guest}

KERNEL=${LVS_GUEST_KERNEL:-6.1}
MEM=${LVS_GUEST_MEM:-1024}
SMP=${LVS_GUEST_SMP:-2}
TIMEOUT=${LVS_GUEST_TIMEOUT:-1800}
NO_IPVS=0
SHARES=("$REPO")

die() {
    echo "run.sh: error: $*" >&2
    exit 125
}
usage() { # the comment block at the top of this file
    awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

while (($#)); do
    case $1 in
    --kernel)
        KERNEL=${2:?--kernel needs an argument}
        shift
        ;;
    --kernel=*) KERNEL=${1#*=} ;;
    --no-ipvs) NO_IPVS=1 ;;
    --mem)
        MEM=${2:?--mem needs an argument}
        shift
        ;;
    --mem=*) MEM=${1#*=} ;;
    --smp)
        SMP=${2:?--smp needs an argument}
        shift
        ;;
    --smp=*) SMP=${1#*=} ;;
    --timeout)
        TIMEOUT=${2:?--timeout needs an argument}
        shift
        ;;
    --timeout=*) TIMEOUT=${1#*=} ;;
    --share)
        SHARES+=("$(cd "${2:?--share needs an argument}" && pwd -P)") || die "cannot share $2"
        shift
        ;;
    --share=*) SHARES+=("$(cd "${1#*=}" && pwd -P)") || die "cannot share ${1#*=}" ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        break
        ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) break ;;
    esac
    shift
done
(($#)) || die "no command given (usage: run.sh [OPTIONS] -- COMMAND [ARGS...])"
case $KERNEL in 5.10 | 6.1 | 6.12 | 7) ;; *) die "unknown kernel '$KERNEL' (5.10, 6.1, 6.12 or 7)" ;; esac
[[ $MEM =~ ^[0-9]+$ && $SMP =~ ^[0-9]+$ && $TIMEOUT =~ ^[0-9]+$ ]] ||
    die "--mem, --smp and --timeout take whole numbers"

# Kernel and initramfs; setup.sh returns at once when they are up to date.
# LVS_GUEST_NO_SETUP=1 skips it (setup.sh itself uses that for its test boot).
if [[ ${LVS_GUEST_NO_SETUP:-0} != 1 ]]; then
    "$SCRIPT_DIR/setup.sh" --quiet "$KERNEL" || die "setup.sh failed"
fi
GUEST_DIR=$(cd "$GUEST_DIR" 2>/dev/null && pwd -P) || die "no guest directory ${LVS_GUEST_DIR:-} (run scripts/guest/setup.sh)"
KDIR=$GUEST_DIR/$KERNEL
KERNEL_IMAGE=$KDIR/vmlinux # uncompressed: boots faster than vmlinuz
[[ -e $KERNEL_IMAGE ]] || KERNEL_IMAGE=$KDIR/vmlinuz
[[ -e $KERNEL_IMAGE && -e $KDIR/initrd.cpio ]] ||
    die "no guest for kernel $KERNEL in $GUEST_DIR (run scripts/guest/setup.sh)"

# A build directory outside the repository would not be visible otherwise.
if [[ -n ${CARGO_TARGET_DIR:-} && -d $CARGO_TARGET_DIR ]]; then
    target=$(cd "$CARGO_TARGET_DIR" && pwd -P)
    [[ $target == "$REPO" || $target == "$REPO"/* ]] || SHARES+=("$target")
fi

# Run in the caller's directory when the guest can see it.
CWD=$REPO
here=$(pwd -P)
for dir in "${SHARES[@]}"; do
    if [[ $here == "$dir" || $here == "$dir"/* ]]; then
        CWD=$here
        break
    fi
done

# Per-run control directory, shared with the guest: guest.sh, its
# parameters, and the exit status the guest writes back.
CTL=$(mktemp -d "${TMPDIR:-/tmp}/lvs-guest.XXXXXX")
trap 'rm -rf "$CTL"' EXIT
cp "$SCRIPT_DIR/guest.sh" "$CTL/guest.sh"
{
    echo "# generated by run.sh"
    printf 'GUEST_SHARES=(%s)\n' "$(printf '%q ' "${SHARES[@]}")"
    printf 'GUEST_CWD=%q\n' "$CWD"
    printf 'GUEST_NO_IPVS=%q\n' "$NO_IPVS"
    printf 'GUEST_CMD=(%s)\n' "$(printf '%q ' "$@")"
    while IFS= read -r name; do
        case $name in
        LVS_* | RUST_* | PROPTEST_*) printf 'export %s=%q\n' "$name" "${!name}" ;;
        esac
    done < <(compgen -e)
} >"$CTL/params.sh"

QEMU=(qemu-system-x86_64
    -accel tcg -cpu max -m "$MEM" -smp "$SMP"
    -nodefaults -no-user-config -display none -no-reboot
    -serial stdio -nic none
    -device virtio-rng-pci
    -kernel "$KERNEL_IMAGE" -initrd "$KDIR/initrd.cpio"
    -append "console=ttyS0 quiet panic=-1 oops=panic ${LVS_GUEST_APPEND:-}"
    -virtfs "local,path=${CTL//,/,,},mount_tag=lvsctl,security_model=none,multidevs=remap")
for i in "${!SHARES[@]}"; do
    # (qemu option syntax: a comma in a value is written as two)
    QEMU+=(-virtfs "local,path=${SHARES[$i]//,/,,},mount_tag=lvsshare$i,security_model=none,multidevs=remap")
done

# qemu's stdout is the guest console: strip the serial line's carriage
# returns and the kernel's final "reboot:" line. timeout(1) kills qemu after
# $TIMEOUT s (exit 124). The pipeline runs in the background so that a
# signal to this script can stop the guest at once (through timeout, whose
# pid the small sh wrapper records).
INTERRUPTED=0
# shellcheck disable=SC2317 # invoked by the trap below
stop_guest() {
    INTERRUPTED=1
    if [[ -s $CTL/timeout.pid ]]; then kill -TERM "$(<"$CTL/timeout.pid")" 2>/dev/null; fi
}
trap stop_guest INT TERM HUP
set +e
# shellcheck disable=SC2016 # $$ and $1 are for the inner sh
sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$CTL/timeout.pid" \
    timeout --foreground --kill-after=10 "$TIMEOUT" "${QEMU[@]}" </dev/null |
    sed -u -e 's/\r$//' -e '/^\[ *[0-9.]*\] reboot: \(Restarting system\|Power down\)$/d' &
pipeline=$!
# wait returns early when a trapped signal arrives; wait again until done.
while :; do
    wait "$pipeline"
    qemu_rc=$? # pipefail: timeout's status unless sed failed
    kill -0 "$pipeline" 2>/dev/null || break
done
set -e

if [[ -s $CTL/exit-status ]]; then
    rc=$(<"$CTL/exit-status")
    [[ $rc =~ ^[0-9]+$ ]] || die "guest reported a bad exit status '$rc'"
    exit "$rc"
fi
if [[ $INTERRUPTED == 1 ]]; then
    echo "run.sh: interrupted" >&2
    exit 130
fi
if [[ $qemu_rc == 124 || $qemu_rc == 137 ]]; then
    echo "run.sh: error: timed out after ${TIMEOUT}s; guest killed" >&2
    exit 124
fi
retries=${LVS_GUEST_CRASH_RETRIES:-1}
if [[ $retries =~ ^[0-9]+$ ]] && ((retries > 0)); then
    echo "run.sh: WARNING: the guest reported no exit status (kernel panic or crash: see" \
        "the console above); running the command again in a new guest" >&2
    LVS_GUEST_CRASH_RETRIES=$((retries - 1)) exec "$SCRIPT_DIR/run.sh" "${ORIG_ARGS[@]}"
fi
die "the guest reported no exit status (kernel panic or crash?); qemu exited with $qemu_rc"
