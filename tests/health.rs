//! `lvs::health` on the mock kernel, with probe results and times made up by the test: the
//! state machine (rise, fall, policies, slow start, sorry server), desired against actual
//! (adoption, retries, services deleted and created again), and property tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs::error::{KernelContext, Operation};
use lvs::health::{
    Checker, Event, HealthChecker, OnFailure, ProbeError, ProbeResult, RunnerOptions, ServiceCheck,
};
use lvs::transport::{MockKernel, RequestKind, Transport};
use lvs::wire::{IpvsCmd, IpvsMessage};
use lvs::{Destination, Error, Ipvs, Service, ServiceId};
use proptest::prelude::*;

/// Probe results set by the test, per destination address (default: healthy).
#[derive(Clone, Default)]
struct Results(Arc<Mutex<HashMap<SocketAddr, ProbeResult>>>);

impl Results {
    fn set(&self, addr: SocketAddr, ok: bool) {
        let r = if ok {
            Ok(())
        } else {
            Err(ProbeError::failed("made-up failure"))
        };
        self.0.lock().unwrap().insert(addr, r);
    }

    fn probe(&self) -> impl Fn(SocketAddr, Instant) -> ProbeResult + Send + Sync + 'static {
        let map = self.0.clone();
        move |target, _| map.lock().unwrap().get(&target).cloned().unwrap_or(Ok(()))
    }
}

/// A transport that refuses destination writes while `refuse` is set (as a kernel out of
/// memory would: ENOMEM).
struct Refusing {
    inner: MockKernel,
    refuse: Arc<AtomicBool>,
}

impl Transport for Refusing {
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> lvs::Result<Vec<IpvsMessage>> {
        let write = matches!(
            msg.cmd,
            IpvsCmd::NewDest | IpvsCmd::SetDest | IpvsCmd::DelDest
        );
        if write && self.refuse.load(Ordering::Relaxed) {
            return Err(Error::Kernel(KernelContext::new(
                libc::ENOMEM,
                Operation::Other,
                "",
            )));
        }
        self.inner.request(msg, kind)
    }
}

const SVC: &str = "tcp:10.0.0.1:80";

fn rs(n: u8, weight: u32) -> Destination {
    Destination::builder(format!("10.0.1.{n}:80").parse().unwrap())
        .masquerade()
        .weight(weight)
        .build()
        .unwrap()
}

/// A mock with one service and destinations of these weights (10.0.1.1, .2, ...).
fn kernel(weights: &[u32]) -> (MockKernel, ServiceId) {
    let mock = MockKernel::new();
    let mut ipvs = Ipvs::with_transport(mock.clone());
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    ipvs.add_service(&svc).unwrap();
    for (i, w) in weights.iter().enumerate() {
        ipvs.add_destination(&svc.id, &rs(i as u8 + 1, 1)).unwrap();
        ipvs.set_weight(&svc.id, rs(i as u8 + 1, 1).socket_addr(), *w)
            .unwrap();
    }
    (mock, svc.id)
}

fn weights(mock: &MockKernel, id: &ServiceId) -> Vec<(SocketAddr, u32)> {
    let mut w: Vec<_> = mock
        .service(id)
        .map(|e| {
            e.destinations
                .iter()
                .map(|d| (d.socket_addr(), d.weight))
                .collect()
        })
        .unwrap_or_default();
    w.sort();
    w
}

fn weight(mock: &MockKernel, id: &ServiceId, n: u8) -> Option<u32> {
    weights(mock, id)
        .into_iter()
        .find(|(a, _)| *a == rs(n, 1).socket_addr())
        .map(|(_, w)| w)
}

struct Rig {
    mock: MockKernel,
    id: ServiceId,
    results: Results,
    hc: HealthChecker<MockKernel>,
    t: Instant,
    events: Vec<Event>,
}

const SEC: Duration = Duration::from_secs(1);

impl Rig {
    fn new(weights: &[u32], check: impl FnOnce(ServiceCheck) -> ServiceCheck) -> Rig {
        let (mock, id) = kernel(weights);
        let results = Results::default();
        let mut hc = HealthChecker::new(
            Ipvs::with_transport(mock.clone()),
            RunnerOptions::default().workers(0).sync_interval(SEC),
        )
        .unwrap();
        let c = ServiceCheck::new(id, results.probe())
            .interval(SEC)
            .rise(2)
            .fall(2);
        hc.add_service(check(c)).unwrap();
        let t = Instant::now();
        let mut rig = Rig {
            mock,
            id,
            results,
            hc,
            t,
            events: Vec::new(),
        };
        rig.step();
        rig
    }

    /// Advance by one interval (every destination is checked once per interval).
    fn step(&mut self) {
        let e = self.hc.step(self.t);
        self.events.extend(e);
        self.t += SEC;
    }

    fn steps(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    fn w(&self, n: u8) -> Option<u32> {
        weight(&self.mock, &self.id, n)
    }

    fn set(&self, n: u8, ok: bool) {
        self.results.set(rs(n, 1).socket_addr(), ok);
    }

    fn saw(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }
}

#[test]
fn quiesced_after_fall_failures_restored_after_rise_successes() {
    let mut r = Rig::new(&[3, 5], |c| c);
    r.steps(2);
    assert_eq!((r.w(1), r.w(2)), (Some(3), Some(5)));
    r.set(2, false);
    r.step();
    assert_eq!(r.w(2), Some(5), "one failure is not enough");
    r.steps(2);
    assert_eq!(r.w(2), Some(0), "{:#?}", r.events);
    assert_eq!(r.w(1), Some(3), "the other one is untouched");
    r.set(2, true);
    r.steps(3);
    assert_eq!(r.w(2), Some(5));
    assert!(r.saw(|e| matches!(e, Event::Down { weight: 5, .. })));
    assert!(r.saw(|e| matches!(
        e,
        Event::Up {
            weight: 5,
            added_back: false,
            ..
        }
    )));
}

#[test]
fn a_weight_above_the_builders_maximum_comes_back() {
    // ipvsadm and the kernel take weights above 65535; the checker must write it back.
    let mut r = Rig::new(&[100_000], |c| c);
    r.set(1, false);
    r.steps(3);
    assert_eq!(r.w(1), Some(0));
    r.set(1, true);
    r.steps(3);
    assert_eq!(r.w(1), Some(100_000), "{:#?}", r.events);
    assert!(!r.saw(|e| matches!(e, Event::WriteFailed { .. })));
}

#[test]
fn remove_policy_deletes_and_adds_back_with_the_configuration() {
    let mut r = Rig::new(&[4, 1], |c| c.on_failure(OnFailure::Remove));
    r.set(1, false);
    r.steps(3);
    assert_eq!(r.w(1), None, "removed");
    assert!(r.saw(|e| matches!(e, Event::Removed { .. })));
    // Still checked while removed.
    r.set(1, true);
    r.steps(3);
    assert_eq!(r.w(1), Some(4), "added back with its weight");
    let back = r.mock.service(&r.id).unwrap();
    let d = back
        .destinations
        .iter()
        .find(|d| d.socket_addr() == rs(1, 1).socket_addr())
        .unwrap();
    assert_eq!(d.forward, rs(1, 1).forward, "same forwarding method");
    assert!(r.saw(|e| matches!(
        e,
        Event::Up {
            added_back: true,
            ..
        }
    )));
}

#[test]
fn quiesce_then_remove_after_the_delay() {
    let mut r = Rig::new(&[2], |c| {
        c.on_failure(OnFailure::QuiesceThenRemove(Duration::from_secs(3)))
    });
    r.set(1, false);
    r.steps(3); // down at the second failure
    assert_eq!(r.w(1), Some(0));
    r.steps(1);
    assert_eq!(r.w(1), Some(0), "not yet");
    r.steps(3);
    assert_eq!(r.w(1), None, "{:#?}", r.events);
    r.set(1, true);
    r.steps(3);
    assert_eq!(r.w(1), Some(2));
}

#[test]
fn slow_start_ramps_the_weight_up() {
    let mut r = Rig::new(&[100], |c| c.slow_start(Duration::from_secs(10)));
    r.set(1, false);
    r.steps(3);
    assert_eq!(r.w(1), Some(0));
    r.set(1, true);
    let mut seen = Vec::new();
    for _ in 0..16 {
        r.step();
        seen.push(r.w(1).unwrap());
    }
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "never down: {seen:?}"
    );
    let ramp: Vec<u32> = seen
        .iter()
        .copied()
        .filter(|w| *w > 0 && *w < 100)
        .collect();
    assert!(ramp.len() >= 5, "ramps through several weights: {seen:?}");
    assert_eq!(*seen.last().unwrap(), 100);
}

#[test]
fn sorry_server_while_every_real_server_is_down() {
    let sorry = Destination::builder("10.0.9.9:80".parse().unwrap())
        .masquerade()
        .build()
        .unwrap();
    let mut r = Rig::new(&[1, 1], |c| c.sorry_server(sorry.clone()));
    let has_sorry = |r: &Rig| {
        weights(&r.mock, &r.id)
            .iter()
            .any(|(a, _)| *a == sorry.socket_addr())
    };
    r.steps(2);
    assert!(!has_sorry(&r));
    r.set(1, false);
    r.steps(3);
    assert!(!has_sorry(&r), "one is still up");
    r.set(2, false);
    r.steps(3);
    assert!(has_sorry(&r), "{:#?}", r.events);
    r.set(2, true);
    r.steps(3);
    assert!(!has_sorry(&r));
    assert_eq!(r.w(2), Some(1));
}

#[test]
fn an_administrators_weight_is_adopted() {
    let mut r = Rig::new(&[3], |c| c);
    r.steps(2);
    let mut admin = Ipvs::with_transport(r.mock.clone());
    admin.set_weight(&r.id, rs(1, 1).socket_addr(), 7).unwrap();
    r.steps(2);
    assert!(r.saw(|e| matches!(e, Event::Adopted { weight: 7, .. })));
    r.set(1, false);
    r.steps(3);
    assert_eq!(r.w(1), Some(0));
    // Raised by hand while down: adopted as its weight, and quiesced again.
    admin.set_weight(&r.id, rs(1, 1).socket_addr(), 9).unwrap();
    r.steps(2);
    assert_eq!(r.w(1), Some(0));
    r.set(1, true);
    r.steps(3);
    assert_eq!(r.w(1), Some(9));
}

#[test]
fn a_service_deleted_and_created_again_is_picked_up() {
    let mut r = Rig::new(&[2], |c| c);
    r.steps(2);
    let mut admin = Ipvs::with_transport(r.mock.clone());
    admin.delete_service(&r.id).unwrap();
    r.steps(2);
    assert!(r.saw(|e| matches!(e, Event::ServiceGone { .. })));
    assert!(r.hc.checker().is_empty());
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    admin.add_service(&svc).unwrap();
    admin.add_destination(&svc.id, &rs(1, 6)).unwrap();
    r.set(1, false);
    r.steps(4);
    assert!(r.saw(|e| matches!(e, Event::ServiceFound { .. })));
    assert_eq!(r.w(1), Some(0), "checked again: {:#?}", r.events);
}

#[test]
fn refused_writes_are_retried_until_the_kernel_agrees() {
    let (mock, id) = kernel(&[5]);
    let refuse = Arc::new(AtomicBool::new(true));
    let results = Results::default();
    let transport = Refusing {
        inner: mock.clone(),
        refuse: refuse.clone(),
    };
    let mut hc = HealthChecker::new(
        Ipvs::with_transport(transport),
        RunnerOptions::default().workers(0).sync_interval(SEC),
    )
    .unwrap();
    hc.add_service(ServiceCheck::new(id, results.probe()).interval(SEC).fall(1))
        .unwrap();
    results.set(rs(1, 1).socket_addr(), false);
    let t = Instant::now();
    let mut events = Vec::new();
    for s in 0..4 {
        events.extend(hc.step(t + SEC * s));
    }
    assert_eq!(weight(&mock, &id, 1), Some(5), "refused so far");
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::WriteFailed { .. })));
    refuse.store(false, Ordering::Relaxed);
    for s in 4..6 {
        hc.step(t + SEC * s);
    }
    assert_eq!(weight(&mock, &id, 1), Some(0), "retried");
}

#[test]
fn local_shortages_count_neither_way() {
    let (mock, id) = kernel(&[5]);
    let mut hc = HealthChecker::new(
        Ipvs::with_transport(mock.clone()),
        RunnerOptions::default().workers(0).sync_interval(SEC),
    )
    .unwrap();
    let emfile = |_, _| Err(ProbeError::Local("connecting: Too many open files".into()));
    hc.add_service(ServiceCheck::new(id, emfile).interval(SEC).fall(1))
        .unwrap();
    let t = Instant::now();
    let mut events = Vec::new();
    for s in 0..5 {
        events.extend(hc.step(t + SEC * s));
    }
    assert_eq!(weight(&mock, &id, 1), Some(5));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Inconclusive { .. })));
}

#[test]
fn checks_spread_over_the_interval_and_run_once_per_interval() {
    // 200 destinations, each checked once per interval, at phases spread over it.
    let (mock, id) = kernel(&[1; 200]);
    let when: Arc<Mutex<Vec<(SocketAddr, Instant)>>> = Arc::default();
    let log = when.clone();
    let probe = move |target: SocketAddr, deadline: Instant| {
        log.lock().unwrap().push((target, deadline));
        Ok(())
    };
    let mut hc = HealthChecker::new(
        Ipvs::with_transport(mock.clone()),
        RunnerOptions::default().workers(0),
    )
    .unwrap();
    hc.add_service(
        ServiceCheck::new(id, probe)
            .interval(Duration::from_secs(10))
            .timeout(SEC),
    )
    .unwrap();
    let t0 = Instant::now();
    let tick = Duration::from_millis(100);
    for i in 0..300 {
        hc.step(t0 + tick * i);
    }
    let calls = when.lock().unwrap();
    let mut starts: HashMap<SocketAddr, Vec<Instant>> = HashMap::new();
    for (a, deadline) in calls.iter() {
        starts.entry(*a).or_default().push(*deadline - SEC);
    }
    assert_eq!(starts.len(), 200);
    for (a, s) in &starts {
        // 30 s of steps: two or three checks, each 10 s after the one before (give or take
        // the 100 ms of a step).
        assert!(s.len() == 2 || s.len() == 3, "{a}: {s:?}");
        for w in s.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_millis(9_900) && gap <= Duration::from_millis(10_100),
                "{a}: {gap:?}"
            );
        }
    }
    // Spread: the first checks fall in at least 50 of the 100 steps of the first interval.
    let first: std::collections::HashSet<u128> = starts
        .values()
        .map(|s| s[0].saturating_duration_since(t0).as_millis() / 100)
        .collect();
    assert!(first.len() >= 50, "{} distinct steps", first.len());
}

/// Reference rise/fall: the state after a sequence of results, from the window of the last
/// results.
fn model_up(results: &[bool], rise: usize, fall: usize, mut up: bool) -> bool {
    let mut streak = 0;
    for &ok in results {
        if ok == up {
            streak = 0;
            continue;
        }
        streak += 1;
        if streak >= if up { fall } else { rise } {
            up = ok;
            streak = 0;
        }
    }
    up
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A destination is quiesced iff it went down (its last `fall` results failed, without
    /// `rise` successes in a row since): after `fall` failures in a row it is always
    /// quiesced, after `rise` successes in a row never.
    #[test]
    fn quiesced_iff_down(results in proptest::collection::vec(any::<bool>(), 0..60),
                         rise in 1u32..5, fall in 1u32..5) {
        let id: ServiceId = SVC.parse().unwrap();
        let dest = rs(1, 4);
        let mut c = Checker::new();
        c.add_service(ServiceCheck::new(id, |_, _| Ok(())).rise(rise).fall(fall)).unwrap();
        let t = Instant::now();
        c.sync(&id, Some(std::slice::from_ref(&dest)), t);
        for (i, ok) in results.iter().enumerate() {
            let r = if *ok { Ok(()) } else { Err(ProbeError::failed("x")) };
            c.observe(&id, dest.socket_addr(), &r, t);
            let seen = &results[..=i];
            let status = c.status(&id, dest.socket_addr(), t).unwrap();
            let quiesced = status.desired == Some(0);
            prop_assert_eq!(quiesced, !model_up(seen, rise as usize, fall as usize, true));
            let tail_failed = seen.len() >= fall as usize
                && seen[seen.len() - fall as usize..].iter().all(|ok| !ok);
            let tail_passed = seen.len() >= rise as usize
                && seen[seen.len() - rise as usize..].iter().all(|ok| *ok);
            if tail_failed { prop_assert!(quiesced); }
            if tail_passed { prop_assert!(!quiesced); }
        }
    }

    /// Whatever the probe results, the refusals and an administrator's weights, once the
    /// kernel stops refusing, one sync makes the kernel hold the weight the checker wants
    /// for every destination.
    #[test]
    fn the_kernel_converges_to_the_desired_weights(
        steps in proptest::collection::vec(
            (proptest::collection::vec(any::<bool>(), 3), any::<bool>(), proptest::option::of((0usize..3, 0u32..200_000))),
            1..40),
        policy in 0usize..4,
        slow in any::<bool>(),
    ) {
        let (mock, id) = kernel(&[3, 70_000, 1]);
        let refuse = Arc::new(AtomicBool::new(false));
        let results = Results::default();
        let mut hc = HealthChecker::new(
            Ipvs::with_transport(Refusing { inner: mock.clone(), refuse: refuse.clone() }),
            RunnerOptions::default().workers(0).sync_interval(SEC),
        ).unwrap();
        let on_failure = [OnFailure::Quiesce, OnFailure::Remove,
            OnFailure::QuiesceThenRemove(Duration::from_secs(2)), OnFailure::Quiesce][policy];
        let mut check = ServiceCheck::new(id, results.probe()).interval(SEC).rise(2).fall(2).on_failure(on_failure);
        if slow { check = check.slow_start(Duration::from_secs(4)); }
        if policy == 3 {
            check = check.sorry_server(Destination::builder("10.0.9.9:80".parse().unwrap()).masquerade().build().unwrap());
        }
        hc.add_service(check).unwrap();
        let mut admin = Ipvs::with_transport(mock.clone());
        let t0 = Instant::now();
        let mut t = t0;
        for (oks, refusing, admin_write) in &steps {
            for (i, ok) in oks.iter().enumerate() {
                results.set(rs(i as u8 + 1, 1).socket_addr(), *ok);
            }
            refuse.store(*refusing, Ordering::Relaxed);
            if let Some((i, w)) = admin_write {
                // May fail (the destination is removed): an administrator's try.
                let _ = admin.set_weight(&id, rs(*i as u8 + 1, 1).socket_addr(), *w);
            }
            let _ = hc.step(t);
            t += SEC;
        }
        refuse.store(false, Ordering::Relaxed);
        // Probe results stay as they were; a sync now (no check due in between matters:
        // desired weights are computed at the sync's time).
        let _ = hc.step(t);
        let checker = hc.checker();
        for addr in checker.destinations(&id).collect::<Vec<_>>() {
            let status = checker.status(&id, addr, t).unwrap();
            let actual = weights(&mock, &id).into_iter().find(|(a, _)| *a == addr).map(|(_, w)| w);
            prop_assert_eq!(actual, status.desired, "{} {:?}", addr, status);
            prop_assert_eq!(status.kernel, actual);
        }
    }
}

/// Real sockets and the real pool, under a low file-descriptor limit (`ulimit -n 64`, in a
/// child process): 200 healthy destinations on this host's loopback, checked by 8 threads,
/// none is marked down (a thread and a socket per destination would run out); with every
/// descriptor taken, checks are inconclusive, not failures.
#[test]
fn many_destinations_under_a_low_descriptor_limit() {
    if std::env::var_os("LVS_HEALTH_LOW_FD_CHILD").is_none() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 64 && exec \"$0\" --exact many_destinations_under_a_low_descriptor_limit --nocapture --test-threads 1")
            .arg(&exe)
            .env("LVS_HEALTH_LOW_FD_CHILD", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "the child ran the test: {text}");
        return;
    }
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in listener.incoming() {
            drop(c);
        }
    });
    let mock = MockKernel::new();
    let mut ipvs = Ipvs::with_transport(mock.clone());
    let svc = Service::tcp(format!("10.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    ipvs.add_service(&svc).unwrap();
    for i in 0..200u32 {
        let addr: SocketAddr = format!("127.0.{}.{}:{port}", i / 100, i % 100 + 1)
            .parse()
            .unwrap();
        let d = Destination::builder(addr).masquerade().build().unwrap();
        ipvs.add_destination(&svc.id, &d).unwrap();
    }
    let mut hc = HealthChecker::new(ipvs, RunnerOptions::default().workers(8)).unwrap();
    hc.add_service(
        ServiceCheck::new(svc.id, lvs::health::TcpProbe)
            .interval(Duration::from_millis(200))
            .timeout(SEC)
            .fall(1),
    )
    .unwrap();
    let mut events = Vec::new();
    hc.run_rounds(8, |e| events.push(e.clone()));
    let downs: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::Down { .. } | Event::Inconclusive { .. }))
        .collect();
    assert!(downs.is_empty(), "{downs:#?}");
    assert!(mock.services()[0]
        .destinations
        .iter()
        .all(|d| d.weight == 1));

    // Every descriptor taken: the checks cannot be made, and say so.
    let mut hold = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hold.push(f);
    }
    let mut events = Vec::new();
    hc.run_rounds(3, |e| events.push(e.clone()));
    drop(hold);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Inconclusive { .. })),
        "{events:#?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Down { .. })),
        "{events:#?}"
    );
    assert!(mock.services()[0]
        .destinations
        .iter()
        .all(|d| d.weight == 1));
}

/// A probe that panics is reported and counts neither way, and its worker lives on; one that
/// ignores its deadline is reported while it runs.
#[test]
fn panicking_and_overrunning_probes_are_reported() {
    let (mock, id) = kernel(&[5, 5, 5]);
    let probe = |target: SocketAddr, _deadline: Instant| -> ProbeResult {
        match target.ip().to_string().as_str() {
            "10.0.1.1" => panic!("bug in the probe"),
            "10.0.1.2" => Err(ProbeError::failed("refused")),
            _ => {
                std::thread::sleep(Duration::from_millis(1600));
                Ok(())
            }
        }
    };
    let mut hc = HealthChecker::new(
        Ipvs::with_transport(mock.clone()),
        RunnerOptions::default().workers(2),
    )
    .unwrap();
    hc.add_service(
        ServiceCheck::new(id, probe)
            .interval(Duration::from_millis(100))
            .timeout(Duration::from_millis(100))
            .fall(2),
    )
    .unwrap();
    let mut events = Vec::new();
    let start = Instant::now();
    hc.run_rounds(1, |_| {});
    while start.elapsed() < Duration::from_millis(2500) {
        hc.run_rounds(1, |e| events.push(e.clone()));
    }
    let text: Vec<String> = events.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|l| l.contains("the probe panicked: bug in the probe")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|l| l.contains("past its deadline")),
        "{text:#?}"
    );
    assert_eq!(weight(&mock, &id, 1), Some(5), "a panic is not a failure");
    assert_eq!(
        weight(&mock, &id, 2),
        Some(0),
        "the others are still checked"
    );
}
