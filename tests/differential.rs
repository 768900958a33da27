//! The differential suite: random operation sequences (`lvs::strategies::actions`, valid and
//! invalid ones, raw requests included) applied through `Ipvs` to the mock and to the real
//! kernel, side by side; every reply, every error (variant, errno, operation, object) and
//! the final state (services and destinations in dump order, timeouts, daemons) must be
//! identical. proptest shrinks a failing sequence to a minimal one.
//!
//! It runs in the qemu guest (it needs a kernel with IPVS), as root, and is empty unless
//! built with `--cfg lvs_kernel_tests` (as `scripts/ci/test-binary.sh` builds it):
//!
//! ```sh
//! bin=$(scripts/ci/test-binary.sh differential --features mock,proptest)
//! PROPTEST_CASES=2000 scripts/guest/run.sh --kernel 6.12 -- "$bin" --nocapture
//! ```
//!
//! All cases share one network namespace (made once, `lo` up, as `Netns::new` leaves it):
//! the table is flushed, the daemons stopped and the timeouts reset between cases. One
//! namespace means one service hash seed (bits of a kernel address that decide the order of
//! a service dump), found once from a dump and given to every mock.
//!
//! A request the kernel does not answer within [`KERNEL_TIMEOUT`] is no answer to compare
//! (stopping a sync daemon stalls now and then under TCG): that case is rejected, counted
//! and reported, and the namespace reset.
//!
//! `PROPTEST_CASES` sets the number of cases (default [`DEFAULT_CASES`]); each case is up
//! to [`MAX_OPS`] operations.

#![cfg(all(target_os = "linux", lvs_kernel_tests))]

#[allow(dead_code, unused_macros, unused_imports)]
#[path = "kernel/common.rs"]
mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lvs::strategies::{actions, Action, ActionReply};
use lvs::transport::{KernelTransport, MockKernel, RequestKind};
use lvs::wire::{IpvsCmd, IpvsMessage};
use lvs::{DaemonState, Ipvs, Service, ServiceId, Timeouts};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

use common::Netns;

/// Cases per run when `PROPTEST_CASES` is not set: about 10,000 operations, which take
/// 80 to 160 s per kernel under TCG (400 cases: 64-78 s on an idle host, 107-130 s on a
/// busy one).
const DEFAULT_CASES: u32 = 500;
/// The longest operation sequence.
const MAX_OPS: usize = 40;

/// What an operation gave, in a comparable form: the reply, or the error's full debug form
/// (variant, errno, operation, object).
fn outcome(r: lvs::Result<ActionReply>) -> Result<ActionReply, String> {
    r.map(canonical).map_err(|e| format!("{e:?}"))
}

/// Whether the running kernel lists services in an order the mock cannot reproduce (7.x: a
/// random hash seed per namespace, `Capabilities::service_order`): service lists are then
/// compared as sets.
fn random_service_order() -> bool {
    let version = lvs::KernelVersion::running().expect("the running kernel's version");
    lvs::Capabilities::expected(version).service_order == lvs::ServiceOrder::Random
}

/// A reply with the service order taken out where the kernel's cannot be predicted.
fn canonical(reply: ActionReply) -> ActionReply {
    if !random_service_order() {
        return reply;
    }
    match reply {
        ActionReply::Services(mut v) => {
            v.sort_by_key(|s| s.id);
            ActionReply::Services(v)
        }
        ActionReply::Raw(mut v) if v.iter().all(|m| m.cmd == IpvsCmd::NewService) => {
            v.sort_by_key(|m| format!("{m:?}"));
            ActionReply::Raw(v)
        }
        other => other,
    }
}

/// The whole state as the client reads it, and the raw replies it is read from (attribute
/// order, command tags and all): the service dump, each service's destination dump, the
/// daemon dump, `GET_CONFIG` and `GET_INFO`.
fn state<T: lvs::transport::Transport>(ipvs: &mut Ipvs<T>) -> String {
    let mut table = ipvs.table();
    let mut services = ipvs
        .transport()
        .request(&IpvsMessage::dump_services(), RequestKind::Dump);
    if random_service_order() {
        if let Ok(t) = &mut table {
            t.sort_by_key(|e| e.service.id);
        }
        if let Ok(s) = &mut services {
            s.sort_by_key(|m| format!("{m:?}"));
        }
    }
    let mut raw = vec![services];
    if let Ok(t) = &table {
        for e in t {
            raw.push(
                ipvs.transport()
                    .request(&IpvsMessage::dump_dests(&e.service.id), RequestKind::Dump),
            );
        }
    }
    for (msg, kind) in [
        (IpvsMessage::dump_daemons(), RequestKind::Dump),
        (IpvsMessage::get_timeouts(), RequestKind::Do),
        (IpvsMessage::get_info(), RequestKind::Do),
    ] {
        raw.push(ipvs.transport().request(&msg, kind));
    }
    format!(
        "table: {table:#?}\ntimeouts: {:?}\ndaemons: {:?}\nraw: {raw:#?}",
        ipvs.timeouts(),
        ipvs.daemons()
    )
}

/// The mock of the running kernel (the profile of its version, from the same table of
/// kernel facts as `Capabilities::expected`), with the namespace's hash seed.
fn mock(seed: u8) -> MockKernel {
    let version = lvs::KernelVersion::running().expect("the running kernel's version");
    let built = MockKernel::builder()
        .kernel(version)
        .hash_seed(seed)
        .build();
    // In the state of the test's namespace between cases: IPVS used there before (a service
    // added and flushed), which on 7.x decides what `GET_INFO` says of the connection table.
    let mut m = Ipvs::with_transport(built);
    m.add_service(&Service::fwmark(1).build().expect("fwmark service"))
        .expect("mock add");
    m.flush().expect("mock flush");
    m.into_transport()
}

/// How long the kernel may take to answer one request. Stopping a sync daemon is slow under
/// TCG (hundreds of ms), and now and then (about once in a few hundred stops, on 6.1 and
/// 6.12 alike) it stalls far longer: such a case is set aside (see [`run_case`]).
const KERNEL_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the namespace's IPVS.
fn open(ns: &str) -> Ipvs<KernelTransport> {
    let transport = KernelTransport::builder()
        .netns_name(ns)
        .timeout(KERNEL_TIMEOUT)
        .open()
        .expect("open a transport in the namespace");
    Ipvs::with_transport(transport)
}

/// Back to a fresh namespace's state: no services, no daemons, default timeouts. After a
/// timed-out request, a new socket, and patience until the kernel is done.
fn reset(ns: &str, ipvs: &mut Ipvs<KernelTransport>) {
    for attempt in 0.. {
        let stopped = [DaemonState::Master, DaemonState::Backup]
            .into_iter()
            .map(|s| ipvs.stop_daemon(s))
            .all(|r| matches!(r, Ok(()) | Err(lvs::Error::NoSuchDaemon(_))));
        if stopped {
            break;
        }
        assert!(attempt < 10, "the kernel does not stop its sync daemons");
        *ipvs = open(ns);
    }
    ipvs.flush().expect("flush");
    ipvs.set_timeouts(&Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    })
    .expect("reset timeouts");
}

/// The namespace's service hash seed: fwmark services land in bucket `(seed ^ mark) & 0xff`
/// and a dump walks the buckets in order, so of 256 marks with every low byte, the first one
/// dumped has the seed as its low byte. The mock with that seed must then list all 256 in
/// the kernel's order.
fn find_hash_seed(ipvs: &mut Ipvs<KernelTransport>) -> u8 {
    if random_service_order() {
        // No seed to find (the order is compared as a set); use IPVS in the namespace as
        // the mock does (on 7.x that allocates the connection table).
        ipvs.add_service(&Service::fwmark(1).build().expect("fwmark service"))
            .expect("add a service");
        ipvs.flush().expect("flush");
        return 0;
    }
    let services: Vec<Service> = (256..512)
        .map(|m| Service::fwmark(m).build().expect("fwmark service"))
        .collect();
    for s in &services {
        ipvs.add_service(s).expect("add probe service");
    }
    let dumped = ipvs.services().expect("dump");
    let first = dumped[0].id.fwmark_value().expect("a fwmark service");
    let seed = (first & 0xff) as u8;
    let mut m = Ipvs::with_transport(mock(seed));
    for s in &services {
        m.add_service(s).expect("mock add");
    }
    let order = |v: &[Service]| v.iter().map(|s| s.id).collect::<Vec<ServiceId>>();
    assert_eq!(
        order(&m.services().expect("mock dump")),
        order(&dumped),
        "the mock with seed {seed} lists the probe services in the kernel's order"
    );
    ipvs.flush().expect("flush");
    seed
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Run one sequence on both, comparing as it goes.
fn run_case(
    ns: &str,
    kernel: &mut Ipvs<KernelTransport>,
    seed: u8,
    seq: &[Action],
    times: &mut BTreeMap<String, (u32, Duration)>,
) -> Result<(), TestCaseError> {
    reset(ns, kernel);
    let mut mock = Ipvs::with_transport(mock(seed));
    for (i, op) in seq.iter().enumerate() {
        let t = Instant::now();
        let want = outcome(op.apply(kernel));
        let name = format!("{op:?}");
        let name = name.split(['(', ' ']).next().unwrap_or("").to_owned();
        let took = t.elapsed();
        let e = times.entry(name.clone()).or_default();
        e.0 += 1;
        e.1 += took;
        let slowest = times.entry("~ slowest: ".to_owned() + &name).or_default();
        slowest.1 = slowest.1.max(took);
        let kind = match &want {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.split(['(', ' ']).next().unwrap_or("").to_owned(),
        };
        let errno = want.as_ref().err().and_then(|e| {
            let at = e.find("errno: ")? + "errno: ".len();
            e[at..].split(',').next().map(str::to_owned)
        });
        let key = match errno {
            Some(n) => format!("= {kind} (errno {n})"),
            None => format!("= {kind}"),
        };
        times.entry(key).or_default().0 += 1;
        if let Err(e) = &want {
            if e.starts_with("Timeout") {
                // Not an answer: the kernel stalled (a sync daemon stop, under TCG). The
                // case says nothing; it is rejected, and counted.
                times
                    .entry("~ rejected: kernel timeout".to_owned())
                    .or_default()
                    .0 += 1;
                let t = Instant::now();
                reset(ns, kernel);
                let e = times
                    .entry("~ slowest: reset after a timeout".to_owned())
                    .or_default();
                e.1 = e.1.max(t.elapsed());
                return Err(TestCaseError::reject(format!("kernel timed out on {op:?}")));
            }
        }
        let got = outcome(op.apply(&mut mock));
        if got != want {
            return Err(TestCaseError::fail(format!(
                "step {i}: {op:?}\n  kernel: {want:?}\n  mock:   {got:?}"
            )));
        }
    }
    let want = state(kernel);
    let got = state(&mut mock);
    if got != want {
        return Err(TestCaseError::fail(format!(
            "final state differs\n--- kernel:\n{want}\n--- mock:\n{got}"
        )));
    }
    Ok(())
}

#[test]
fn mock_and_kernel_agree_on_random_sequences() {
    let ns = Netns::new("diff");
    let mut kernel = open(ns.name());
    let seed = find_hash_seed(&mut kernel);
    let cases = cases();
    let config = Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        max_shrink_time: 300_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let start = Instant::now();
    let times = RefCell::new(BTreeMap::new());
    let kernel = RefCell::new(kernel);
    let result = runner.run(&actions(MAX_OPS), |seq| {
        run_case(
            ns.name(),
            &mut kernel.borrow_mut(),
            seed,
            &seq,
            &mut times.borrow_mut(),
        )
    });
    let times = times.into_inner();
    let count: u32 = times
        .iter()
        .filter(|(k, _)| !k.starts_with(['=', '~']))
        .map(|(_, (n, _))| n)
        .sum();
    println!(
        "differential on Linux {}: {cases} cases, {count} operations (shrinking included), \
         {:.1} s, hash seed {seed}",
        common::kernel_release(),
        start.elapsed().as_secs_f64()
    );
    for (name, (n, t)) in &times {
        if name.starts_with('=') {
            println!("  outcome {name:<40} {n:>6}");
        } else if let Some(what) = name.strip_prefix("~ rejected: ") {
            println!("  rejected ({what}): {n}");
        } else if let Some(op) = name.strip_prefix("~ slowest: ") {
            println!("  slowest {op:<18} {:>8.1} ms", t.as_secs_f64() * 1000.0);
        } else {
            println!(
                "  {name:<18} {n:>6} ops, {:>8.1} ms in the kernel",
                t.as_secs_f64() * 1000.0
            );
        }
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}
