//! The real-kernel suite: every test talks to a real IPVS, in the qemu guest of
//! `scripts/guest/` (the host has no IPVS). It is empty unless built with `--cfg
//! lvs_kernel_tests` (so that `cargo test --all-features` passes on a host); with `--cfg
//! lvs_kernel_tests_async` too (and feature `tokio`), it runs against `AsyncIpvs`. Build on
//! the host, run in the guest (`scripts/ci/10-kernel.sh` and `15-kernel-async.sh` do this):
//!
//! ```sh
//! bin=$(scripts/ci/test-binary.sh kernel --features mock)   # prints the binary's path
//! scripts/guest/run.sh --kernel 6.1  -- "$bin" --test-threads=1
//! scripts/guest/run.sh --kernel 6.12 -- "$bin" --test-threads=1
//! # IPVS not loaded (the one ignored test, on its own):
//! scripts/guest/run.sh --kernel 6.1 --no-ipvs -- "$bin" --ignored ipvs_unavailable --exact
//! ```
//!
//! Isolation: each test makes its own network namespace (`common::Netns`, deleted on drop,
//! also when the test fails) and opens its handle there with `Ipvs::in_netns`, so tests can
//! run in parallel. ipvsadm, run in the same namespace, is the oracle both ways: the library
//! writes and ipvsadm reads (`ipvsadm -S -n`, `-L -n ...`), ipvsadm writes and the library
//! reads.
//!
//! Modules:
//! - `common`: the namespace guard, ipvsadm helpers, raw requests, error assertions;
//! - `guest`: the running kernel as the backend of the scenarios shared with the mock
//!   suite (`tests/support/scenarios.rs`), which `quirks` and `errors` run;
//! - `services`, `destinations`, `table`: the configuration, both directions;
//! - `errors`: every kernel refusal as its typed error, and raw requests the builders would
//!   stop, to record the kernel's own answer;
//! - `daemons`: connection sync daemons;
//! - `quirks`: kernel behaviour worth knowing, one named test each, asserted as observed
//!   (the scenarios shared with the mock suite, `scenarios`, run there);
//! - `isolation`: namespaces, permissions;
//! - `capture`: real kernel replies as byte fixtures (`LVS_CAPTURE_DIR`).

#![cfg(all(target_os = "linux", lvs_kernel_tests))]

#[cfg(all(lvs_kernel_tests_async, not(feature = "tokio")))]
compile_error!("--cfg lvs_kernel_tests_async needs feature tokio");

#[macro_use]
mod common;
// The kernel behaviour scenarios shared with the mock suite (run by `quirks`).
#[macro_use]
#[path = "../support/scenarios.rs"]
mod scenarios;
#[macro_use]
mod guest;

// Socket-level faults of the async transport, in the async-handle run only.
#[cfg(lvs_kernel_tests_async)]
mod async_faults;
mod batch;
mod capture;
mod daemons;
mod destinations;
mod errors;
// Socket-level faults of the blocking `KernelTransport`: not part of the async-handle run.
#[cfg(not(lvs_kernel_tests_async))]
mod faults;
mod isolation;
mod quirks;
mod services;
mod table;

/// Without the `ip_vs` module, opening a handle says so with its own error. The normal run
/// has IPVS loaded, so this test is ignored there; it runs on its own in a guest booted
/// without IPVS:
///
/// ```sh
/// scripts/guest/run.sh --kernel 6.1 --no-ipvs -- target/debug/deps/kernel-HASH --ignored ipvs_unavailable --exact
/// ```
#[test]
#[ignore = "needs a kernel without IPVS: scripts/guest/run.sh --no-ipvs"]
fn ipvs_unavailable() {
    assert!(
        !std::path::Path::new("/proc/net/ip_vs").exists(),
        "IPVS is loaded: run this test in a guest booted with --no-ipvs"
    );
    match lvs::Ipvs::new() {
        Err(lvs::Error::IpvsUnavailable) => {}
        other => panic!("expected Error::IpvsUnavailable, got {other:?}"),
    }
    // The same in a fresh namespace, through `in_netns`.
    let ns = common::Netns::new("unavail");
    match lvs::Ipvs::in_netns(ns.name()) {
        Err(lvs::Error::IpvsUnavailable) => {}
        other => panic!("expected Error::IpvsUnavailable in a namespace, got {other:?}"),
    }
    // Asking did not load it behind our back (the kernel could autoload the family).
    assert!(!std::path::Path::new("/proc/net/ip_vs").exists());
}
