//! The incremental reconciler (`lvs::client::Reconciler`) on the mock: what it sends, counted
//! by a wrapper transport, what it finds when others write, and what it does after a
//! refusal.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvs::client::{Op, ReconcileOptions, Reconciler};
use lvs::error::{KernelContext, Operation};
use lvs::model::{same_config, Difference};
use lvs::transport::{MockKernel, RequestKind, Transport};
use lvs::wire::IpvsMessage;
use lvs::{Destination, Error, Ipvs, Scheduler, Service, ServiceEntry, ServiceId};
use proptest::prelude::*;

/// The mock, with every request counted, and the next `refuse` writes refused (EBUSY) or the
/// next `fail` writes failing as a transport error (a timeout).
#[derive(Debug)]
struct Counting {
    inner: MockKernel,
    writes: usize,
    dumps: usize,
    refuse: usize,
    fail: usize,
}

impl Counting {
    fn reset(&mut self) {
        self.writes = 0;
        self.dumps = 0;
    }
}

impl Transport for Counting {
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> lvs::Result<Vec<IpvsMessage>> {
        match kind {
            RequestKind::Dump => self.dumps += 1,
            RequestKind::Do => {
                self.writes += 1;
                if self.fail > 0 {
                    self.fail -= 1;
                    return Err(Error::Timeout {
                        operation: Operation::Other,
                    });
                }
                if self.refuse > 0 {
                    self.refuse -= 1;
                    return Err(Error::Kernel(KernelContext::new(
                        libc::EBUSY,
                        Operation::Other,
                        "",
                    )));
                }
            }
        }
        self.inner.request(msg, kind)
    }
}

fn counting(mock: &MockKernel) -> Ipvs<Counting> {
    Ipvs::with_transport(Counting {
        inner: mock.clone(),
        writes: 0,
        dumps: 0,
        refuse: 0,
        fail: 0,
    })
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn svc(i: u8) -> Service {
    Service::tcp(sa(&format!("10.0.0.{i}:80")))
        .scheduler(Scheduler::Wrr)
        .build()
        .unwrap()
}

fn real(i: u8, weight: u32) -> Destination {
    Destination::builder(sa(&format!("10.1.0.{i}:8080")))
        .masquerade()
        .weight(weight)
        .build()
        .unwrap()
}

/// `services` services of 4 destinations each.
fn desired(services: u8) -> Vec<ServiceEntry> {
    (1..=services)
        .map(|i| ServiceEntry {
            service: svc(i),
            destinations: (1..=4).map(|j| real(j, u32::from(j))).collect(),
        })
        .collect()
}

/// A reconciler over a mock holding `table`, with the counters at zero.
fn loaded(table: &[ServiceEntry]) -> (MockKernel, Ipvs<Counting>, Reconciler) {
    let mock = MockKernel::new();
    let mut ipvs = counting(&mock);
    ipvs.reconcile_strict(table, &ReconcileOptions::exact())
        .unwrap();
    let rec = Reconciler::from_kernel(&mut ipvs, ReconcileOptions::exact()).unwrap();
    ipvs.transport().reset();
    (mock, ipvs, rec)
}

fn kernel_table(mock: &MockKernel) -> Vec<ServiceEntry> {
    Ipvs::with_transport(mock.clone()).table().unwrap()
}

#[test]
fn an_unchanged_table_sends_nothing() {
    let table = desired(20);
    let (_, mut ipvs, mut rec) = loaded(&table);
    let now = Instant::now();
    let report = rec.reconcile(&mut ipvs, &table, now).unwrap();
    assert!(report.ops.is_empty() && !report.resynced);
    assert_eq!(report.to_string(), "nothing to do");
    // The same values through the delta API: nothing either.
    rec.upsert_entry(&table[3]).unwrap();
    rec.upsert_service(&table[4].service).unwrap();
    rec.upsert_destination(&table[5].service.id, &table[5].destinations[1])
        .unwrap();
    assert!(rec.pending_ops().is_empty());
    assert!(rec.apply(&mut ipvs, now).unwrap().ops.is_empty());
    assert_eq!((ipvs.transport().writes, ipvs.transport().dumps), (0, 0));
}

#[test]
fn one_weight_is_one_request_and_no_dump() {
    let mut table = desired(50);
    let (mock, mut ipvs, mut rec) = loaded(&table);
    let now = Instant::now();

    // Through the delta API.
    let id = table[7].service.id;
    let mut d = table[7].destinations[2].clone();
    d.weight = 9;
    rec.upsert_destination(&id, &d).unwrap();
    let report = rec.apply(&mut ipvs, now).unwrap().into_result().unwrap();
    assert_eq!(report.ops, [Op::UpdateDestination(id, d.clone())]);
    assert_eq!((ipvs.transport().writes, ipvs.transport().dumps), (1, 0));
    assert_eq!(rec.destination(&id, d.socket_addr()).unwrap().weight, 9);

    // Through a whole desired table.
    ipvs.transport().reset();
    table[7].destinations[2] = d;
    table[30].destinations[0].weight = 7;
    let report = rec.reconcile(&mut ipvs, &table, now).unwrap();
    assert_eq!(report.ops.len(), 1);
    assert_eq!((ipvs.transport().writes, ipvs.transport().dumps), (1, 0));

    // Through reconcile_changed.
    ipvs.transport().reset();
    table[40].destinations[3].weight = 0;
    let report = rec
        .reconcile_changed(&mut ipvs, &table[40..41], &[], now)
        .unwrap();
    assert_eq!(report.ops.len(), 1);
    assert_eq!((ipvs.transport().writes, ipvs.transport().dumps), (1, 0));
    assert!(same_config(&kernel_table(&mock), &table));
}

#[test]
fn the_delta_api_plans_only_what_differs() {
    let table = desired(3);
    let (mock, mut ipvs, mut rec) = loaded(&table);
    let now = Instant::now();
    let (s1, s2, s3) = (
        table[0].service.id,
        table[1].service.id,
        table[2].service.id,
    );
    // A service removed and given again: back without its destinations.
    rec.remove_service(&s1);
    rec.upsert_service(&table[0].service).unwrap();
    // A service given whole: one destination fewer, one changed, one new.
    let mut e = table[1].clone();
    e.destinations.remove(0);
    e.destinations[0].weight = 40;
    e.destinations.push(real(9, 3));
    rec.upsert_entry(&e).unwrap();
    // A new service, a removed destination, a destination of an unknown service.
    let s4 = svc(4);
    rec.upsert_service(&s4).unwrap();
    rec.upsert_destination(&s4.id, &real(1, 1)).unwrap();
    rec.remove_destination(&s3, table[2].destinations[3].socket_addr());
    assert!(matches!(
        rec.upsert_destination(&svc(5).id, &real(1, 1)),
        Err(Error::NoSuchService(_))
    ));
    let ops = rec.pending_ops();
    let mut expected = vec![
        Op::AddService(s4.clone()),
        Op::DeleteDestination(s1, real(1, 1).socket_addr()),
        Op::DeleteDestination(s1, real(2, 1).socket_addr()),
        Op::DeleteDestination(s1, real(3, 1).socket_addr()),
        Op::DeleteDestination(s1, real(4, 1).socket_addr()),
        Op::DeleteDestination(s2, real(1, 1).socket_addr()),
        Op::DeleteDestination(s3, real(4, 1).socket_addr()),
        Op::UpdateDestination(s2, e.destinations[0].clone()),
        Op::AddDestination(s2, real(9, 3)),
        Op::AddDestination(s4.id, real(1, 1)),
    ];
    // s1's destinations go in the order the kernel listed them; the groups in this order.
    assert_eq!(ops[0], expected[0]);
    assert_eq!(ops[5..], expected[5..]);
    let mut s1_deletes = ops[1..5].to_vec();
    s1_deletes.sort_by_key(|op| format!("{op:?}"));
    expected[1..5].sort_by_key(|op| format!("{op:?}"));
    assert_eq!(s1_deletes, expected[1..5]);
    let report = rec.apply(&mut ipvs, now).unwrap().into_result().unwrap();
    assert_eq!(ipvs.transport().writes, ops.len());
    assert_eq!(ipvs.transport().dumps, 0);
    assert_eq!(report.ops, ops);
    assert!(same_config(&kernel_table(&mock), &rec.table()));
    assert!(rec.pending_ops().is_empty());
}

#[test]
fn drift_is_found_at_the_next_resync_reported_and_repaired() {
    let table = desired(5);
    let (mock, mut ipvs, rec) = loaded(&table);
    let mut rec = rec.with_resync_interval(Some(Duration::from_secs(60)));
    let t0 = Instant::now();
    // Another writer, on the same table.
    let mut other = Ipvs::with_transport(mock.clone());
    let id = table[2].service.id;
    let addr = table[2].destinations[0].socket_addr();
    other.set_weight(&id, addr, 77).unwrap();
    other.add_service(&svc(99)).unwrap();

    // Before the interval: not seen, nothing read.
    let r = rec.reconcile(&mut ipvs, &table, t0).unwrap();
    assert!(!r.resynced && r.ops.is_empty());
    assert_eq!(ipvs.transport().dumps, 0);

    // At the interval: read, reported, repaired.
    let r = rec
        .reconcile(&mut ipvs, &table, t0 + Duration::from_secs(60))
        .unwrap()
        .into_result()
        .unwrap();
    assert!(r.resynced);
    assert!(ipvs.transport().dumps > 0);
    assert_eq!(r.drift.len(), 2, "{:?}", r.drift);
    assert!(r.drift.iter().any(|d| matches!(d,
        Difference::ChangedDestination { service, have, .. } if *service == id && have.weight == 77)));
    assert!(r.drift.iter().any(|d| matches!(d,
        Difference::ExtraService(e) if e.service.id == svc(99).id)));
    assert!(
        r.to_string().ends_with("resynced, 2 differences found"),
        "{r}"
    );
    assert_eq!(r.ops.len(), 2); // the weight back, the extra service deleted
    assert!(same_config(&kernel_table(&mock), &table));

    // The next interval starts at that read.
    ipvs.transport().reset();
    let r = rec
        .reconcile(&mut ipvs, &table, t0 + Duration::from_secs(100))
        .unwrap();
    assert!(!r.resynced && r.ops.is_empty());
    assert_eq!(ipvs.transport().dumps, 0);
}

#[test]
fn keeping_other_services_adopts_theirs_at_a_resync() {
    let table = desired(2);
    let mock = MockKernel::new();
    let mut ipvs = counting(&mock);
    let opts = ReconcileOptions::exact().keep_other_services();
    let mut rec = Reconciler::new(opts);
    let now = Instant::now();
    assert!(rec.reconcile(&mut ipvs, &table, now).unwrap().is_ok());
    Ipvs::with_transport(mock.clone())
        .add_service(&svc(50))
        .unwrap();
    rec.mark_resync();
    // Through the delta path: the resync plans from the table as read.
    let mut d = table[0].destinations[0].clone();
    d.weight = 12;
    rec.upsert_destination(&table[0].service.id, &d).unwrap();
    let r = rec.apply(&mut ipvs, now).unwrap().into_result().unwrap();
    assert!(r.resynced);
    assert!(matches!(r.drift[..], [Difference::ExtraService(_)]));
    assert_eq!(r.ops, [Op::UpdateDestination(table[0].service.id, d)]);
    assert!(rec.service(&svc(50).id).is_some(), "adopted");
    assert_eq!(kernel_table(&mock).len(), 3);
}

#[test]
fn a_refusal_makes_the_next_call_resync() {
    let table = desired(4);
    let (mock, mut ipvs, mut rec) = loaded(&table);
    let now = Instant::now();
    let id = table[1].service.id;
    let mut d = table[1].destinations[1].clone();
    d.weight = 33;
    ipvs.transport().refuse = 1;
    rec.upsert_destination(&id, &d).unwrap();
    let r = rec.apply(&mut ipvs, now).unwrap();
    assert!(!r.is_ok() && !r.resynced);
    assert!(rec.needs_resync());
    assert_eq!(rec.destination(&id, d.socket_addr()).unwrap().weight, 2);
    assert!(rec.pending_ops().is_empty(), "a refused write is dropped");

    // The next call reads the table (no drift: the kernel refused), then plans against it.
    ipvs.transport().reset();
    let mut next = table.clone();
    next[1].destinations[1] = d;
    let r = rec
        .reconcile(&mut ipvs, &next, now)
        .unwrap()
        .into_result()
        .unwrap();
    assert!(r.resynced && r.drift.is_empty());
    assert!(ipvs.transport().dumps > 0);
    assert_eq!(r.ops.len(), 1);
    assert!(!rec.needs_resync());
    assert!(same_config(&kernel_table(&mock), &next));
}

#[test]
fn a_transport_error_keeps_the_changes_for_the_resync() {
    let table = desired(3);
    let (mock, mut ipvs, mut rec) = loaded(&table);
    let now = Instant::now();
    let s4 = svc(4);
    rec.upsert_entry(&ServiceEntry {
        service: s4.clone(),
        destinations: vec![real(1, 5)],
    })
    .unwrap();
    ipvs.transport().fail = 1;
    assert!(matches!(
        rec.apply(&mut ipvs, now),
        Err(Error::Timeout { .. })
    ));
    assert!(rec.needs_resync());
    assert_eq!(rec.pending_ops().len(), 2, "kept");
    let r = rec.apply(&mut ipvs, now).unwrap().into_result().unwrap();
    assert!(r.resynced);
    let mut want = table.clone();
    want.push(ServiceEntry {
        service: s4,
        destinations: vec![real(1, 5)],
    });
    assert!(same_config(&kernel_table(&mock), &want));
    assert!(same_config(&rec.table(), &want));
}

#[test]
fn an_invalid_desired_table_sends_nothing() {
    let mut table = desired(2);
    let (_, mut ipvs, mut rec) = loaded(&table);
    table[0].destinations[0].weight = 70_000;
    let e = rec
        .reconcile(&mut ipvs, &table, Instant::now())
        .unwrap_err();
    assert!(matches!(e, Error::Batch { .. }), "{e}");
    assert_eq!(ipvs.transport().writes, 0);
    assert!(rec
        .upsert_destination(&table[0].service.id, &table[0].destinations[0])
        .is_err());
}

/// One step of a random run: a fresh table, or a change to the last one.
#[derive(Debug, Clone)]
enum Step {
    Fresh(Vec<ServiceEntry>),
    Weight(usize, usize, u32),
    DropService(usize),
    DropDestination(usize, usize),
    Scheduler(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => lvs::strategies::table(5, 3).prop_map(Step::Fresh),
        3 => (any::<usize>(), any::<usize>(), 0u32..100).prop_map(|(i, j, w)| Step::Weight(i, j, w)),
        1 => any::<usize>().prop_map(Step::DropService),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Step::DropDestination(i, j)),
        1 => any::<usize>().prop_map(Step::Scheduler),
    ]
}

fn next_table(prev: &[ServiceEntry], step: &Step) -> Vec<ServiceEntry> {
    let mut t = prev.to_vec();
    let n = t.len();
    match step {
        Step::Fresh(new) => {
            // Half old, half new: edits, additions and deletions in one step.
            t.truncate(n / 2);
            let ids: Vec<ServiceId> = t.iter().map(|e| e.service.id).collect();
            t.extend(new.iter().filter(|e| !ids.contains(&e.service.id)).cloned());
        }
        _ if n == 0 => {}
        Step::Weight(i, j, w) => {
            let e = &mut t[i % n];
            if !e.destinations.is_empty() {
                let k = j % e.destinations.len();
                e.destinations[k].weight = *w;
            }
        }
        Step::DropService(i) => {
            t.remove(i % n);
        }
        Step::DropDestination(i, j) => {
            let e = &mut t[i % n];
            if !e.destinations.is_empty() {
                let k = j % e.destinations.len();
                e.destinations.remove(k);
            }
        }
        Step::Scheduler(i) => {
            let s = &mut t[i % n].service;
            s.scheduler = if s.scheduler == Scheduler::Rr {
                Scheduler::Wlc
            } else {
                Scheduler::Rr
            };
            s.sched_flags = Default::default();
        }
    }
    t
}

/// The services of `next` that are not the same in `prev`, and those gone.
fn changes(prev: &[ServiceEntry], next: &[ServiceEntry]) -> (Vec<ServiceEntry>, Vec<ServiceId>) {
    let changed = next
        .iter()
        .filter(|e| {
            !prev.iter().any(|p| {
                p.service.id == e.service.id
                    && same_config(std::slice::from_ref(p), std::slice::from_ref(e))
            })
        })
        .cloned()
        .collect();
    let removed = prev
        .iter()
        .map(|p| p.service.id)
        .filter(|id| !next.iter().any(|e| e.service.id == *id))
        .collect();
    (changed, removed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// After each step the kernel holds the desired table; a step that did not resync sent
    /// exactly its planned writes and read nothing.
    #[test]
    fn every_step_reaches_the_desired_table_with_its_planned_writes_only(
        steps in prop::collection::vec((step(), any::<bool>(), 0u64..40), 1..12),
    ) {
        let mock = MockKernel::new();
        let mut ipvs = counting(&mock);
        let mut rec = Reconciler::from_kernel(&mut ipvs, ReconcileOptions::exact())
            .unwrap()
            .with_resync_interval(Some(Duration::from_secs(60)));
        let mut now = Instant::now();
        let mut prev: Vec<ServiceEntry> = Vec::new();
        for (step, delta, secs) in &steps {
            now += Duration::from_secs(*secs);
            let next = next_table(&prev, step);
            ipvs.transport().reset();
            let report = if *delta {
                let (changed, removed) = changes(&prev, &next);
                rec.reconcile_changed(&mut ipvs, &changed, &removed, now).unwrap()
            } else {
                rec.reconcile(&mut ipvs, &next, now).unwrap()
            };
            prop_assert!(report.is_ok(), "{}", report);
            prop_assert!(report.drift.is_empty(), "{:?}", report.drift);
            let (writes, dumps) = (ipvs.transport().writes, ipvs.transport().dumps);
            if !report.resynced {
                prop_assert_eq!(dumps, 0);
            }
            prop_assert_eq!(writes, report.ops.len());
            prop_assert!(same_config(&kernel_table(&mock), &next));
            prop_assert!(same_config(&rec.table(), &next));
            prev = next;
        }
    }
}

/// Large services (matched through a map) and destinations given twice (the last counts)
/// plan the same writes as `lvs::client::plan` against the kernel's table.
#[test]
fn the_cached_plan_is_the_plan_against_the_table() {
    let mut table = desired(3);
    table[0].destinations = (1..=40).map(|j| real(j, 1)).collect();
    let (mock, mut ipvs, mut rec) = loaded(&table);
    let mut next = table.clone();
    next[0]
        .destinations
        .retain(|d| d.port == 8080 && d.addr.to_string() != "10.1.0.7");
    next[0].destinations[3].weight = 9;
    next[0].destinations.push(real(3, 5)); // given twice: the last counts
    next[0].destinations.push(real(41, 2));
    next[1].destinations.push(real(2, 8)); // the same in a small service
    next[1].destinations.push(real(8, 8));
    let mut expected = lvs::client::plan(&kernel_table(&mock), &next, &ReconcileOptions::exact());
    let r = rec
        .reconcile(&mut ipvs, &next, Instant::now())
        .unwrap()
        .into_result()
        .unwrap();
    let mut ops = r.ops.clone();
    ops.sort_by_key(|op| format!("{op:?}"));
    expected.sort_by_key(|op| format!("{op:?}"));
    assert_eq!(ops, expected);
    assert_eq!(ops.len(), 6);
    assert_eq!(ipvs.transport().writes, 6);
}
