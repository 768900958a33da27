//! Graceful draining (`lvs::client::drain`) on the mock kernel, with made-up times: waits
//! while connections are active, deletes when idle or at the deadline, per-protocol policy,
//! whole services, targets deleted by someone else, refused writes retried, and a property
//! over any sequence of connection counts and times.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvs::client::{
    DeleteReason, DrainPolicy, DrainState, DrainTarget, DrainWait, Drainer, Op, ProtocolDrain,
    ReconcileOptions,
};
use lvs::transport::{MockKernel, RequestKind, Transport};
use lvs::wire::{IpvsCmd, IpvsMessage};
use lvs::{Destination, Error, Ipvs, KernelContext, Operation, Service, ServiceEntry, ServiceId};
use proptest::prelude::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn masq(addr: &str, weight: u32) -> Destination {
    Destination::builder(sa(addr))
        .masquerade()
        .weight(weight)
        .build()
        .unwrap()
}

/// A mock with `svc` and two destinations of weight 5 (.2 and .3).
fn setup(svc: &Service) -> (MockKernel, Ipvs<MockKernel>) {
    let mock = MockKernel::new();
    let mut ipvs = Ipvs::with_transport(mock.clone());
    ipvs.add_service(svc).unwrap();
    ipvs.add_destination(&svc.id, &masq("10.0.0.2:80", 5))
        .unwrap();
    ipvs.add_destination(&svc.id, &masq("10.0.0.3:80", 5))
        .unwrap();
    (mock, ipvs)
}

fn tcp() -> Service {
    Service::tcp(sa("10.0.0.1:80")).build().unwrap()
}

fn state(d: &Drainer) -> DrainState {
    d.progress()[0].state.clone()
}

fn weight<T: Transport>(ipvs: &mut Ipvs<T>, id: &ServiceId, addr: &str) -> Option<u32> {
    ipvs.destination(id, sa(addr)).ok().map(|d| d.weight)
}

#[test]
fn a_drain_waits_while_connections_are_active_and_deletes_when_they_end() {
    let s = tcp();
    let (mock, mut ipvs) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    mock.set_connections(&s.id, r1, 2, 3);
    let t0 = Instant::now();
    let mut d = Drainer::new(DrainPolicy::default());
    assert!(d.start(DrainTarget::Destination(s.id, r1), t0));
    assert!(
        !d.start(DrainTarget::Destination(s.id, r1), t0 + secs(1)),
        "once"
    );
    assert_eq!(state(&d), DrainState::Quiescing);

    let step = ipvs.drain_step_at(&mut d, t0).unwrap();
    assert_eq!(step.ops.len(), 1);
    assert!(matches!(step.ops[0], Op::UpdateDestination(_, ref x) if x.weight == 0));
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(0));
    assert_eq!(
        weight(&mut ipvs, &s.id, "10.0.0.3:80"),
        Some(5),
        "the other untouched"
    );
    assert_eq!(state(&d), DrainState::Quiescing);

    for t in 1..5 {
        let step = ipvs.drain_step_at(&mut d, t0 + secs(t)).unwrap();
        assert!(step.ops.is_empty());
        assert_eq!(
            state(&d),
            DrainState::Waiting {
                active: 2,
                inactive: 3
            }
        );
    }
    // Inactive ones do not hold a drain that waits for the active ones.
    mock.set_connections(&s.id, r1, 0, 3);
    ipvs.drain_step_at(&mut d, t0 + secs(5)).unwrap();
    assert_eq!(
        state(&d),
        DrainState::Deleted {
            why: DeleteReason::Idle
        }
    );
    assert!(d.is_finished());
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), None);
    // Finished: nothing more to read or write.
    assert!(d.services().is_empty());
    assert!(ipvs
        .drain_step_at(&mut d, t0 + secs(6))
        .unwrap()
        .ops
        .is_empty());
}

#[test]
fn waiting_for_all_connections_counts_the_inactive_ones() {
    let s = tcp();
    let (mock, mut ipvs) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    let t0 = Instant::now();
    // Active for 10 s, then in TIME_WAIT for 120 s.
    mock.add_connection(&s.id, r1, secs(10), secs(120));
    let mut d = Drainer::new(DrainPolicy::default().wait(DrainWait::AllConnections));
    d.start(DrainTarget::Destination(s.id, r1), t0);
    ipvs.drain_step_at(&mut d, t0).unwrap();
    mock.advance(secs(10));
    ipvs.drain_step_at(&mut d, t0 + secs(10)).unwrap();
    assert_eq!(
        state(&d),
        DrainState::Waiting {
            active: 0,
            inactive: 1
        }
    );
    mock.advance(secs(120));
    ipvs.drain_step_at(&mut d, t0 + secs(130)).unwrap();
    assert_eq!(
        state(&d),
        DrainState::Deleted {
            why: DeleteReason::Idle
        }
    );
}

#[test]
fn the_deadline_deletes_on_time() {
    let s = tcp();
    let (mock, mut ipvs) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    mock.set_connections(&s.id, r1, 1, 0);
    let t0 = Instant::now();
    let mut d = Drainer::new(DrainPolicy::default().deadline(secs(30)));
    d.start(DrainTarget::Destination(s.id, r1), t0);
    assert_eq!(d.progress()[0].deadline, Some(t0 + secs(30)));
    ipvs.drain_step_at(&mut d, t0).unwrap();
    ipvs.drain_step_at(&mut d, t0 + secs(29)).unwrap();
    assert!(matches!(state(&d), DrainState::Waiting { active: 1, .. }));
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(0));
    let step = ipvs.drain_step_at(&mut d, t0 + secs(30)).unwrap();
    assert_eq!(step.ops, vec![Op::DeleteDestination(s.id, r1)]);
    assert_eq!(
        state(&d),
        DrainState::Deleted {
            why: DeleteReason::Deadline
        }
    );
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), None);
}

#[test]
fn udp_and_sctp_are_deleted_at_once_unless_told_to_wait() {
    for s in [
        Service::udp(sa("10.0.0.1:53")).build().unwrap(),
        Service::sctp(sa("10.0.0.1:9")).build().unwrap(),
    ] {
        let (mock, mut ipvs) = setup(&s);
        let r1 = sa("10.0.0.2:80");
        mock.set_connections(&s.id, r1, 4, 4);
        let t0 = Instant::now();
        let mut d = Drainer::default();
        d.start(DrainTarget::Destination(s.id, r1), t0);
        let step = ipvs.drain_step_at(&mut d, t0).unwrap();
        assert_eq!(step.ops, vec![Op::DeleteDestination(s.id, r1)]);
        assert_eq!(
            state(&d),
            DrainState::Deleted {
                why: DeleteReason::AtOnce
            }
        );

        // Told to wait, UDP waits like TCP.
        ipvs.add_destination(&s.id, &masq("10.0.0.2:80", 5))
            .unwrap();
        mock.set_connections(&s.id, r1, 4, 4);
        let policy = DrainPolicy::default()
            .protocol(lvs::Protocol::Udp, ProtocolDrain::Wait)
            .protocol(lvs::Protocol::Sctp, ProtocolDrain::Wait);
        let mut d = Drainer::new(policy);
        d.start(DrainTarget::Destination(s.id, r1), t0);
        ipvs.drain_step_at(&mut d, t0).unwrap();
        ipvs.drain_step_at(&mut d, t0).unwrap();
        assert!(matches!(state(&d), DrainState::Waiting { active: 4, .. }));
    }
}

#[test]
fn a_whole_service_is_quiesced_then_deleted_when_every_destination_is_idle() {
    let s = tcp();
    let (mock, mut ipvs) = setup(&s);
    mock.set_connections(&s.id, sa("10.0.0.2:80"), 1, 0);
    mock.set_connections(&s.id, sa("10.0.0.3:80"), 2, 5);
    let t0 = Instant::now();
    let mut d = Drainer::default();
    d.start(DrainTarget::Service(s.id), t0);
    let step = ipvs.drain_step_at(&mut d, t0).unwrap();
    assert_eq!(step.ops.len(), 2, "both destinations quiesced");
    assert!(ipvs
        .destinations(&s.id)
        .unwrap()
        .iter()
        .all(|x| x.weight == 0));
    ipvs.drain_step_at(&mut d, t0 + secs(1)).unwrap();
    assert_eq!(
        state(&d),
        DrainState::Waiting {
            active: 3,
            inactive: 5
        }
    );
    mock.set_connections(&s.id, sa("10.0.0.2:80"), 0, 0);
    ipvs.drain_step_at(&mut d, t0 + secs(2)).unwrap();
    assert!(matches!(state(&d), DrainState::Waiting { active: 2, .. }));
    mock.set_connections(&s.id, sa("10.0.0.3:80"), 0, 5);
    let step = ipvs.drain_step_at(&mut d, t0 + secs(3)).unwrap();
    assert_eq!(step.ops, vec![Op::DeleteService(s.id)]);
    assert!(matches!(
        ipvs.get_service(&s.id),
        Err(Error::NoSuchService(_))
    ));
    assert!(d.is_finished());
}

#[test]
fn a_target_deleted_by_someone_else_is_gone() {
    let s = tcp();
    let (mock, mut ipvs) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    mock.set_connections(&s.id, r1, 1, 0);
    let t0 = Instant::now();
    let mut d = Drainer::default();
    d.start(DrainTarget::Destination(s.id, r1), t0);
    d.start(DrainTarget::Service(ServiceId::tcp(sa("10.9.9.9:80"))), t0);
    ipvs.drain_step_at(&mut d, t0).unwrap();
    let p = d.progress();
    assert_eq!(p[0].state, DrainState::Quiescing);
    assert_eq!(p[1].state, DrainState::Gone, "a service that is not there");
    ipvs.delete_destination(&s.id, r1).unwrap();
    ipvs.drain_step_at(&mut d, t0 + secs(1)).unwrap();
    assert_eq!(state(&d), DrainState::Gone);
    assert!(d.is_finished());
    assert_eq!(d.remove_finished().len(), 2);
    assert!(d.progress().is_empty());
}

/// A mock that refuses the next `refuse` destination writes (edits and deletes) with EBUSY.
#[derive(Debug)]
struct Flaky {
    inner: MockKernel,
    refuse: usize,
}

impl Transport for Flaky {
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> lvs::Result<Vec<IpvsMessage>> {
        if matches!(msg.cmd, IpvsCmd::SetDest | IpvsCmd::DelDest) && self.refuse > 0 {
            self.refuse -= 1;
            return Err(Error::Kernel(KernelContext::new(
                libc::EBUSY,
                Operation::Other,
                "",
            )));
        }
        self.inner.request(msg, kind)
    }
}

#[test]
fn a_refused_write_is_kept_in_the_progress_and_retried() {
    let s = tcp();
    let (mock, _) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    let mut ipvs = Ipvs::with_transport(Flaky {
        inner: mock.clone(),
        refuse: 1,
    });
    let t0 = Instant::now();
    let mut d = Drainer::default();
    d.start(DrainTarget::Destination(s.id, r1), t0);
    let step = ipvs.drain_step_at(&mut d, t0).unwrap();
    assert!(!step.outcome.is_ok());
    assert!(
        matches!(state(&d), DrainState::Failed(ref e) if e.contains("errno 16")),
        "{}",
        state(&d)
    );
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(5));
    // Retried: quiesced now.
    ipvs.drain_step_at(&mut d, t0 + secs(1)).unwrap();
    assert_eq!(state(&d), DrainState::Quiescing);
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(0));
    // The delete refused once, then done.
    ipvs.transport().refuse = 1;
    ipvs.drain_step_at(&mut d, t0 + secs(2)).unwrap();
    assert!(matches!(state(&d), DrainState::Failed(_)));
    ipvs.drain_step_at(&mut d, t0 + secs(3)).unwrap();
    assert_eq!(
        state(&d),
        DrainState::Deleted {
            why: DeleteReason::Idle
        }
    );
}

#[test]
fn a_weight_beyond_the_builders_limit_does_not_block_the_quiesce() {
    let s = tcp();
    let (_, mut ipvs) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    ipvs.set_weight(&s.id, r1, Destination::MAX_WEIGHT + 10)
        .unwrap();
    let t0 = Instant::now();
    let mut d = Drainer::default();
    d.start(DrainTarget::Destination(s.id, r1), t0);
    assert!(ipvs.drain_step_at(&mut d, t0).unwrap().outcome.is_ok());
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(0));
}

#[test]
fn the_blocking_drain_returns_at_the_deadline() {
    let s = tcp();
    let (mock, mut ipvs) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    mock.set_connections(&s.id, r1, 1, 0);
    let started = Instant::now();
    let p = ipvs
        .drain(
            DrainTarget::Destination(s.id, r1),
            &DrainPolicy::default().deadline(Duration::from_millis(200)),
            Duration::from_millis(50),
        )
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        p.state,
        DrainState::Deleted {
            why: DeleteReason::Deadline
        }
    );
    assert!(
        took >= Duration::from_millis(200) && took < secs(5),
        "{took:?}"
    );
    // Idle: deleted at the second step.
    let p = ipvs
        .drain(
            DrainTarget::Destination(s.id, sa("10.0.0.3:80")),
            &DrainPolicy::default(),
            Duration::from_millis(10),
        )
        .unwrap();
    assert_eq!(
        p.state,
        DrainState::Deleted {
            why: DeleteReason::Idle
        }
    );
}

#[test]
fn reconcile_draining_cancels_a_drain_when_the_destination_is_wanted_again() {
    let s = tcp();
    let (mock, mut ipvs) = setup(&s);
    let r1 = sa("10.0.0.2:80");
    mock.set_connections(&s.id, r1, 1, 0);
    let both = vec![ServiceEntry {
        service: s.clone(),
        destinations: vec![masq("10.0.0.2:80", 5), masq("10.0.0.3:80", 5)],
    }];
    let only_r2 = vec![ServiceEntry {
        service: s.clone(),
        destinations: vec![masq("10.0.0.3:80", 5)],
    }];
    let opts = ReconcileOptions::exact();
    let mut d = Drainer::default();
    let t0 = Instant::now();
    let r = ipvs
        .reconcile_draining_at(&only_r2, &opts, &mut d, t0)
        .unwrap();
    assert!(r.is_ok());
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(0));
    assert!(d.contains(&DrainTarget::Destination(s.id, r1)));
    // Wanted again: the drain is cancelled and the weight comes back.
    let r = ipvs
        .reconcile_draining_at(&both, &opts, &mut d, t0 + secs(1))
        .unwrap();
    assert_eq!(
        r.ops,
        vec![Op::UpdateDestination(s.id, masq("10.0.0.2:80", 5))]
    );
    assert!(d.progress().is_empty());
    assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(5));
    // A whole service that leaves: drained, then deleted once idle.
    let r = ipvs
        .reconcile_draining_at(&[], &opts, &mut d, t0 + secs(2))
        .unwrap();
    assert_eq!(r.ops.len(), 2, "{:?}", r.ops);
    assert!(ipvs.get_service(&s.id).is_ok());
    mock.set_connections(&s.id, r1, 0, 0);
    let r = ipvs
        .reconcile_draining_at(&[], &opts, &mut d, t0 + secs(3))
        .unwrap();
    assert_eq!(r.ops, vec![Op::DeleteService(s.id)]);
    assert!(ipvs.services().unwrap().is_empty());
    assert!(d.is_finished());
}

/// One step of the property: the connection counts of the drained destination, and how far
/// the clock moves.
fn steps() -> impl Strategy<Value = Vec<(u32, u32, u64)>> {
    proptest::collection::vec((0u32..3, 0u32..3, 0u64..20), 1..25)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For any sequence of connection counts and times: the destination is deleted only
    /// when it was read idle at weight 0 or the deadline had passed, never while active
    /// before the deadline; and a step that reads it quiesced and idle, or past the
    /// deadline, deletes it.
    #[test]
    fn deleted_iff_idle_or_past_the_deadline(
        steps in steps(),
        deadline in proptest::option::of(0u64..100),
        all in any::<bool>(),
    ) {
        let s = tcp();
        let (mock, mut ipvs) = setup(&s);
        let r1 = sa("10.0.0.2:80");
        let t0 = Instant::now();
        let mut policy = DrainPolicy::default()
            .wait(if all { DrainWait::AllConnections } else { DrainWait::Active });
        if let Some(dl) = deadline {
            policy = policy.deadline(secs(dl));
        }
        let mut d = Drainer::new(policy);
        d.start(DrainTarget::Destination(s.id, r1), t0);
        let mut now = t0;
        for (active, inactive, dt) in steps {
            now += secs(dt);
            let before = ipvs.destination(&s.id, r1).ok();
            mock.set_connections(&s.id, r1, active, inactive);
            let step = ipvs.drain_step_at(&mut d, now).unwrap();
            prop_assert!(step.outcome.is_ok());
            let deleted = step.ops.contains(&Op::DeleteDestination(s.id, r1));
            let Some(before) = before else {
                // Deleted at an earlier step: the drain is over.
                prop_assert!(step.ops.is_empty());
                prop_assert!(state(&d).is_finished(), "{}", state(&d));
                continue;
            };
            let idle = if all { active + inactive == 0 } else { active == 0 };
            let past = deadline.is_some_and(|dl| now >= t0 + secs(dl));
            let quiesced = before.weight == 0;
            prop_assert_eq!(deleted, past || (idle && quiesced), "{:?}", step.ops);
            // Never deleted while active before the deadline.
            prop_assert!(!(deleted && active > 0 && !past));
            prop_assert_eq!(ipvs.destination(&s.id, r1).is_err(), deleted);
            if deleted {
                let why = if past { DeleteReason::Deadline } else { DeleteReason::Idle };
                prop_assert_eq!(state(&d), DrainState::Deleted { why });
            } else {
                prop_assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.2:80"), Some(0));
            }
            // The other destination is never touched.
            prop_assert_eq!(weight(&mut ipvs, &s.id, "10.0.0.3:80"), Some(5));
        }
    }
}
