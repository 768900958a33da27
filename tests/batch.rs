//! Batches, roll back and reconcile, on the mock backend (the same properties run against
//! the real kernel in `tests/kernel/batch.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lvs::client::{plan, plan_draining, DrainPolicy, DrainTarget, Drainer, Op, ReconcileOptions};
use lvs::transport::MockKernel;
use lvs::{Destination, Error, Ipvs, Scheduler, Service, ServiceEntry, ServiceId, Timeouts};
use proptest::prelude::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn mock() -> Ipvs<MockKernel> {
    Ipvs::with_transport(MockKernel::new())
}

fn svc(addr: &str) -> Service {
    Service::tcp(sa(addr))
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap()
}

fn masq(addr: &str, weight: u32) -> Destination {
    Destination::builder(sa(addr))
        .masquerade()
        .weight(weight)
        .build()
        .unwrap()
}

/// The table's configuration, comparable (no stats, kernel order).
fn config(ipvs: &mut Ipvs<MockKernel>) -> Vec<(Service, Vec<Destination>)> {
    ipvs.table()
        .unwrap()
        .into_iter()
        .map(|mut e| {
            e.service.stats = None;
            for d in &mut e.destinations {
                d.stats = None;
                d.counters = None;
            }
            (e.service, e.destinations)
        })
        .collect()
}

#[test]
fn a_refusal_mid_batch_is_attributed_to_its_operation_and_the_rest_applies() {
    let mut ipvs = mock();
    let s = svc("10.0.0.1:80");
    let ops = vec![
        Op::AddService(s.clone()),
        Op::AddDestination(s.id, masq("10.0.0.2:80", 1)),
        Op::AddService(s.clone()),
        Op::DeleteDestination(s.id, sa("10.0.0.9:80")),
        Op::AddDestination(s.id, masq("10.0.0.3:80", 2)),
    ];
    let outcome = ipvs.apply(&ops).unwrap();
    assert_eq!(outcome.results.len(), 5);
    assert_eq!(outcome.applied(), 3);
    assert!(
        matches!(outcome.results[2], Err(Error::ServiceExists(ref c)) if c.object == "tcp:10.0.0.1:80")
    );
    assert!(
        matches!(outcome.results[3], Err(Error::NoSuchDestination(ref c)) if c.object == "tcp:10.0.0.1:80 -> 10.0.0.9:80")
    );
    let failures: Vec<usize> = outcome.failures().map(|(i, _)| i).collect();
    assert_eq!(failures, vec![2, 3]);
    assert_eq!(ipvs.destinations(&s.id).unwrap().len(), 2);
    match outcome.into_result() {
        Err(Error::Batch {
            index: 2, source, ..
        }) => {
            assert!(matches!(*source, Error::ServiceExists(_)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_invalid_operation_sends_nothing() {
    let mut ipvs = mock();
    let s = svc("10.0.0.1:80");
    let mut bad = masq("10.0.0.2:80", 1);
    bad.lower_threshold = 10;
    bad.upper_threshold = 5;
    let ops = vec![Op::AddService(s.clone()), Op::AddDestination(s.id, bad)];
    match ipvs.apply(&ops) {
        Err(Error::Batch {
            index: 1, source, ..
        }) => assert!(matches!(*source, Error::Invalid(_))),
        other => panic!("{other:?}"),
    }
    assert!(ipvs.services().unwrap().is_empty(), "nothing was sent");
}

#[test]
fn apply_or_roll_back_leaves_the_table_as_it_was() {
    let mut ipvs = mock();
    let a = svc("10.0.0.1:80");
    let b = svc("10.0.0.1:443");
    ipvs.add_service(&a).unwrap();
    ipvs.add_destination(&a.id, &masq("10.0.0.2:80", 3))
        .unwrap();
    ipvs.add_service(&b).unwrap();
    ipvs.add_destination(&b.id, &masq("10.0.0.2:443", 1))
        .unwrap();
    let before = config(&mut ipvs);
    let t_before = ipvs.timeouts().unwrap();

    let mut a_wlc = a.clone();
    a_wlc.scheduler = Scheduler::Wlc;
    let ops = vec![
        Op::SetTimeouts(Timeouts {
            tcp: 77,
            tcp_fin: 0,
            udp: 0,
        }),
        Op::DeleteService(b.id),
        Op::UpdateService(a_wlc),
        Op::UpdateDestination(a.id, masq("10.0.0.2:80", 9)),
        Op::AddService(svc("10.0.0.5:80")),
        Op::AddDestination(a.id, masq("10.0.0.2:80", 1)), // exists: refused
        Op::AddService(svc("10.0.0.6:80")),
    ];
    match ipvs.apply_or_roll_back(&ops) {
        Err(Error::Batch {
            index: 5, source, ..
        }) => {
            assert!(matches!(*source, Error::DestinationExists(_)))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(config(&mut ipvs), before);
    assert_eq!(ipvs.timeouts().unwrap(), t_before);

    // Without a refusal it applies everything.
    let n = ipvs
        .apply_or_roll_back(&[Op::DeleteService(b.id), Op::AddService(svc("10.0.0.7:80"))])
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(ipvs.services().unwrap().len(), 2);
}

#[test]
fn reconcile_edits_in_place_and_an_unchanged_table_costs_no_write() {
    let mut ipvs = mock();
    let a = svc("10.0.0.1:80");
    ipvs.add_service(&a).unwrap();
    ipvs.add_destination(&a.id, &masq("10.0.0.2:80", 1))
        .unwrap();
    ipvs.add_destination(&a.id, &masq("10.0.0.3:80", 1))
        .unwrap();

    let mut a2 = a.clone();
    a2.scheduler = Scheduler::Wrr;
    let desired = vec![ServiceEntry {
        service: a2.clone(),
        destinations: vec![masq("10.0.0.2:80", 5), masq("10.0.0.4:80", 1)],
    }];
    let report = ipvs
        .reconcile(&desired, &ReconcileOptions::exact())
        .unwrap();
    assert!(report.outcome.is_ok());
    assert_eq!(
        report.ops,
        vec![
            Op::UpdateService(a2.clone()),
            Op::DeleteDestination(a.id, sa("10.0.0.3:80")),
            Op::UpdateDestination(a.id, masq("10.0.0.2:80", 5)),
            Op::AddDestination(a.id, masq("10.0.0.4:80", 1)),
        ]
    );
    let again = ipvs
        .reconcile(&desired, &ReconcileOptions::exact())
        .unwrap();
    assert!(again.ops.is_empty(), "{:?}", again.ops);
}

#[test]
fn reconcile_ignores_what_the_kernel_normalises() {
    let mut ipvs = mock();
    // A fwmark service (the kernel reports protocol TCP, address 0, port 0), persistence
    // with the default netmask, the HASHED flag and stats: none of it is a difference.
    let fw = Service::fwmark(7)
        .scheduler(Scheduler::Sh)
        .persistent(300)
        .build()
        .unwrap();
    let desired = vec![ServiceEntry {
        service: fw.clone(),
        destinations: vec![Destination::builder(sa("10.0.0.2:0"))
            .direct_route()
            .build()
            .unwrap()],
    }];
    ipvs.reconcile(&desired, &ReconcileOptions::exact())
        .unwrap()
        .outcome
        .into_result()
        .unwrap();
    let again = ipvs
        .reconcile(&desired, &ReconcileOptions::exact())
        .unwrap();
    assert!(again.ops.is_empty(), "{:?}", again.ops);
}

#[test]
fn reconcile_can_leave_other_services_alone() {
    let mut ipvs = mock();
    let other = svc("10.0.0.9:80");
    ipvs.add_service(&other).unwrap();
    let desired = vec![ServiceEntry {
        service: svc("10.0.0.1:80"),
        destinations: vec![],
    }];
    let r = ipvs
        .reconcile(&desired, &ReconcileOptions::exact().keep_other_services())
        .unwrap();
    assert_eq!(r.ops, vec![Op::AddService(svc("10.0.0.1:80"))]);
    assert_eq!(ipvs.services().unwrap().len(), 2);
    let r = ipvs
        .reconcile(&desired, &ReconcileOptions::exact())
        .unwrap();
    assert_eq!(r.ops, vec![Op::DeleteService(other.id)]);
}

#[test]
fn reconcile_draining_quiesces_first_then_deletes_when_idle() {
    let mock = MockKernel::new();
    let mut ipvs = Ipvs::with_transport(mock.clone());
    let a = svc("10.0.0.1:80");
    ipvs.add_service(&a).unwrap();
    ipvs.add_destination(&a.id, &masq("10.0.0.2:80", 4))
        .unwrap();
    mock.set_connections(&a.id, sa("10.0.0.2:80"), 1, 0);
    let desired = vec![ServiceEntry {
        service: a.clone(),
        destinations: vec![],
    }];
    let opts = ReconcileOptions::exact();
    let mut drainer = Drainer::new(DrainPolicy::default());
    let t0 = Instant::now();
    let first = ipvs
        .reconcile_draining_at(&desired, &opts, &mut drainer, t0)
        .unwrap();
    assert_eq!(
        first.ops,
        vec![Op::UpdateDestination(a.id, {
            let mut d = ipvs.destinations(&a.id).unwrap().remove(0);
            d.weight = 0;
            d.counters = None;
            d.stats = None;
            d
        })]
    );
    assert_eq!(ipvs.destinations(&a.id).unwrap()[0].weight, 0);
    // Its connection holds it.
    let second = ipvs
        .reconcile_draining_at(&desired, &opts, &mut drainer, t0 + Duration::from_secs(1))
        .unwrap();
    assert!(second.ops.is_empty(), "{:?}", second.ops);
    mock.set_connections(&a.id, sa("10.0.0.2:80"), 0, 0);
    let third = ipvs
        .reconcile_draining_at(&desired, &opts, &mut drainer, t0 + Duration::from_secs(2))
        .unwrap();
    assert_eq!(
        third.ops,
        vec![Op::DeleteDestination(a.id, sa("10.0.0.2:80"))]
    );
    assert!(ipvs.destinations(&a.id).unwrap().is_empty());
    assert!(drainer.is_finished());
}

#[test]
fn plan_draining_leaves_the_deletions_to_the_drainer() {
    let a = svc("10.0.0.1:80");
    let b = svc("10.0.0.9:80");
    let mut busy = masq("10.0.0.2:80", 0);
    busy.counters = Some(lvs::DestCounters {
        active: 3,
        inactive: 0,
        persistent: 0,
    });
    let current = vec![
        ServiceEntry {
            service: a.clone(),
            destinations: vec![busy],
        },
        ServiceEntry {
            service: b.clone(),
            destinations: vec![],
        },
    ];
    let desired = vec![ServiceEntry {
        service: a.clone(),
        destinations: vec![],
    }];
    let (ops, drains) = plan_draining(&current, &desired, &ReconcileOptions::exact());
    assert!(ops.is_empty(), "{ops:?}");
    assert_eq!(
        drains,
        vec![
            DrainTarget::Service(b.id),
            DrainTarget::Destination(a.id, sa("10.0.0.2:80"))
        ]
    );
    assert_eq!(
        plan(&current, &desired, &ReconcileOptions::exact()),
        vec![
            Op::DeleteService(b.id),
            Op::DeleteDestination(a.id, sa("10.0.0.2:80"))
        ],
        "without draining they are deleted at once"
    );
    let (_, drains) = plan_draining(
        &current,
        &desired,
        &ReconcileOptions::exact().keep_other_services(),
    );
    assert_eq!(
        drains,
        vec![DrainTarget::Destination(a.id, sa("10.0.0.2:80"))]
    );
}

/// A table the kernel accepts: services from a small pool of identities, destinations from
/// a small pool of addresses (so random tables overlap and plans have edits).
fn table() -> impl Strategy<Value = Vec<ServiceEntry>> {
    let service = (
        0u8..6,
        prop_oneof![
            Just(Scheduler::Rr),
            Just(Scheduler::Wrr),
            Just(Scheduler::Sh)
        ],
        proptest::option::of(1u32..1000),
    )
        .prop_map(|(n, sched, persist)| {
            let id = if n == 5 {
                ServiceId::fwmark(42)
            } else {
                ServiceId::tcp(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                    80 + u16::from(n),
                ))
            };
            let mut b = Service::builder(id).scheduler(sched);
            if let Some(p) = persist {
                b = b.persistent(p);
            }
            b.build().unwrap()
        });
    let dest = (2u8..8, 0u32..4, 0u8..3).prop_map(|(host, weight, fwd)| {
        let b = Destination::builder(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 1, host)),
            8080,
        ))
        .weight(weight);
        match fwd {
            0 => b.masquerade(),
            1 => b.direct_route(),
            _ => b.tunnel(lvs::Tunnel::ipip()),
        }
        .build()
        .unwrap()
    });
    proptest::collection::vec(
        (service, proptest::collection::vec(dest, 0..5)).prop_map(|(service, destinations)| {
            ServiceEntry {
                service,
                destinations,
            }
        }),
        0..6,
    )
}

/// The table as a set of configurations, keyed so that order and duplicates do not matter
/// (the last of a duplicated identity wins, as in `plan`).
fn normal(entries: &[ServiceEntry]) -> Vec<(String, Vec<String>)> {
    let mut by_id = std::collections::BTreeMap::new();
    for e in entries {
        let mut dests = std::collections::BTreeMap::new();
        for d in &e.destinations {
            dests.insert(d.socket_addr(), d.to_string());
        }
        by_id.insert(
            e.service.id,
            (
                format!(
                    "{} {:?} {:?}",
                    e.service.scheduler, e.service.persistence, e.service.pe
                ),
                dests.into_values().collect::<Vec<_>>(),
            ),
        );
    }
    by_id.into_values().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// From any table to any table: after the plan is applied, the table is the desired one,
    /// and planning again gives nothing to do.
    #[test]
    fn reconcile_reaches_the_desired_table(current in table(), desired in table()) {
        let mut ipvs = mock();
        let first = ipvs.reconcile(&current, &ReconcileOptions::exact()).unwrap();
        prop_assert!(first.outcome.is_ok(), "{:?}", first.outcome);
        let report = ipvs.reconcile(&desired, &ReconcileOptions::exact()).unwrap();
        prop_assert!(report.outcome.is_ok(), "{:?} {:?}", report.ops, report.outcome);
        prop_assert_eq!(normal(&ipvs.table().unwrap()), normal(&desired));
        let again = ipvs.reconcile(&desired, &ReconcileOptions::exact()).unwrap();
        prop_assert!(again.ops.is_empty(), "{:?}", again.ops);
    }
}

#[test]
fn table_settled_returns_a_table_that_holds_still() {
    let mut ipvs = mock();
    let a = svc("10.0.0.1:80");
    ipvs.add_service(&a).unwrap();
    ipvs.add_destination(&a.id, &masq("10.0.0.2:80", 1))
        .unwrap();
    let settled = ipvs.table_settled(3).unwrap();
    assert_eq!(settled, ipvs.table().unwrap());
    assert_eq!(settled[0].destinations.len(), 1);
}

/// A batch over `lvs::transport::PIPELINE_MIN` operations through `Transport::request_batch_with` (what `apply` uses;
/// the kernel transport builds such a batch on a second thread, tests/kernel/batch.rs)
/// gives the same results, refusals at the same indices, and the same table as the same
/// batch built first and sent with `request_batch` (`set_parallel(false)`).
#[test]
fn a_large_batch_gives_the_same_results_either_way() {
    let mut ops = Vec::new();
    for i in 0..2500u32 {
        let s = svc(&format!("10.1.{}.{}:80", i / 250, i % 250 + 1));
        ops.push(Op::AddService(s.clone()));
        ops.push(Op::AddDestination(s.id, masq("10.2.0.1:80", i % 7 + 1)));
        if i % 997 == 5 {
            // Refused: the service exists; the destination exists.
            ops.push(Op::AddService(s.clone()));
            ops.push(Op::AddDestination(s.id, masq("10.2.0.1:80", 1)));
        }
    }
    assert!(ops.len() > lvs::transport::PIPELINE_MIN);
    let mut pipelined = mock();
    let a = pipelined.apply(&ops).unwrap();
    let mut plain = mock();
    plain.set_parallel(false);
    let b = plain.apply(&ops).unwrap();
    let fails = |o: &lvs::client::BatchOutcome| -> Vec<(usize, String)> {
        o.failures().map(|(i, e)| (i, e.to_string())).collect()
    };
    assert_eq!(fails(&a), fails(&b));
    assert_eq!(fails(&a).len(), 6);
    assert_eq!(a.applied(), ops.len() - 6);
    assert_eq!(config(&mut pipelined), config(&mut plain));
}
