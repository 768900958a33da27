# Sourced by the guest suites (scripts/ci/NN-*.sh): the kernel generations and a runner
# that runs one suite on several kernels, every one of them whatever the others do, and
# reports all failures at the end.
#
#   ALL_KERNELS       every generation the guests cover, oldest first
#   OLDEST_NEWEST     the oldest and the newest (for the costlier suites)
#   on_kernels "what" K... [RUN_OPTION...] -- COMMAND...
#                     runs COMMAND (through scripts/guest/run.sh --kernel K RUN_OPTION...)
#                     on each K (RUN_OPTIONs are the words that start with "-");
#                     returns non-zero if any failed, after all ran, naming each failure.
# LVS_KERNELS="5.10 7" (space-separated) limits every suite to those kernels.

ALL_KERNELS=(5.10 6.1 6.12 7)
OLDEST_NEWEST=(5.10 7)

# The kernels of $@ that LVS_KERNELS allows (all of them when it is unset).
selected_kernels() {
    local k
    for k in "$@"; do
        if [[ -z ${LVS_KERNELS:-} || " $LVS_KERNELS " == *" $k "* ]]; then
            echo "$k"
        fi
    done
}

on_kernels() {
    local what=$1 k rc start
    shift
    local -a kernels=() failed=() opts=()
    while (($#)) && [[ $1 != -- ]]; do
        if [[ $1 == -* ]]; then opts+=("$1"); else kernels+=("$1"); fi
        shift
    done
    shift # --
    mapfile -t kernels < <(selected_kernels "${kernels[@]}")
    for k in "${kernels[@]}"; do
        echo "-- $what on Linux $k ($(cat "${LVS_GUEST_DIR:-.guest}/$k/package" 2>/dev/null || echo '?'), qemu guest)"
        start=$SECONDS
        rc=0
        scripts/guest/run.sh --kernel "$k" "${opts[@]}" -- "$@" || rc=$?
        echo "-- $what on Linux $k: $( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - start)) s"
        ((rc == 0)) || failed+=("$k")
    done
    if ((${#failed[@]})); then
        echo "-- $what FAILED on Linux ${failed[*]} (of ${kernels[*]})" >&2
        return 1
    fi
    echo "-- $what passed on Linux ${kernels[*]}"
}
