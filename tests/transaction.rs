//! Transactions on the mock backend: undo records built from what the kernel held, a roll
//! back that leaves other writers' services alone and reports what it could not restore.
//! (`tests/kernel/batch.rs` runs the roll back against the real kernel, and the drop-in's
//! `-R` cases run in `tests/ipvsadm-compat/restore-rollback.sh`.)

use std::net::SocketAddr;

use lvs::client::{NotRestored, TransactionOptions};
use lvs::transport::{MockKernel, RequestKind, Transport};
use lvs::wire::IpvsMessage;
use lvs::{
    Daemon, DaemonState, Destination, Error, Ipvs, Op, Scheduler, Service, ServiceEntry, Timeouts,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn svc(addr: &str) -> Service {
    Service::tcp(sa(addr))
        .scheduler(Scheduler::Wlc)
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

/// The table's configuration: services in the kernel's order, each one's destinations sorted
/// (a destination put back goes to the head of its service's list).
fn config(ipvs: &mut Ipvs<MockKernel>) -> Vec<ServiceEntry> {
    ipvs.table()
        .unwrap()
        .into_iter()
        .map(|mut e| {
            e.service.stats = None;
            for d in &mut e.destinations {
                d.stats = None;
                d.counters = None;
            }
            e.destinations.sort_by_key(Destination::socket_addr);
            e
        })
        .collect()
}

/// A table of three services with destinations, one with a weight only ipvsadm writes.
fn seeded() -> Ipvs<MockKernel> {
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    for (i, s) in ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
        .iter()
        .enumerate()
    {
        let s = svc(s);
        ipvs.add_service(&s).unwrap();
        for j in 0..3 {
            let d = masq(&format!("10.1.{i}.{j}:80"), j + 1);
            ipvs.add_destination(&s.id, &d).unwrap();
        }
    }
    // ipvsadm passes weights up to i32::MAX on to the kernel; the builder stops at 65535.
    let mut heavy = masq("10.1.9.9:80", 1);
    heavy.weight = 100_000;
    let msg = IpvsMessage::new_dest(&svc("10.0.0.2:80").id, &heavy);
    ipvs.transport().request(&msg, RequestKind::Do).unwrap();
    ipvs
}

#[test]
fn a_refused_write_rolls_back_deletes_edits_and_adds_exactly() {
    let mut ipvs = seeded();
    let before = config(&mut ipvs);
    let (a, b) = (svc("10.0.0.1:80"), svc("10.0.0.2:80"));
    let mut edited = a.clone();
    edited.scheduler = Scheduler::Rr;
    let ops = vec![
        Op::UpdateService(edited),
        Op::DeleteDestination(a.id, sa("10.1.0.1:80")),
        Op::UpdateDestination(a.id, masq("10.1.0.2:80", 9)),
        // The service holding the weight the builder refuses: its undo must re-add it raw.
        Op::DeleteService(b.id),
        Op::AddService(svc("10.0.0.4:80")),
        Op::AddDestination(svc("10.0.0.4:80").id, masq("10.1.4.1:80", 1)),
        Op::AddService(svc("10.0.0.4:80")), // refused: EEXIST
    ];
    let e = ipvs.apply_or_roll_back(&ops).unwrap_err();
    assert!(
        matches!(e, Error::Batch { index: 6, ref source, .. } if matches!(**source, Error::ServiceExists(_))),
        "{e:?}"
    );
    assert_eq!(
        config(&mut ipvs),
        before,
        "the table must be exactly as before"
    );
}

#[test]
fn a_refusal_late_in_a_large_transaction_undoes_every_batch_before_it() {
    let mut ipvs = seeded();
    let before = config(&mut ipvs);
    let opts = TransactionOptions {
        chunk: 1000,
        ..TransactionOptions::default()
    };
    let mut ops = Vec::new();
    for i in 0..3000u32 {
        let s = svc(&format!("10.2.{}.{}:80", i / 250, i % 250));
        ops.push(Op::AddService(s.clone()));
        ops.push(Op::AddDestination(s.id, masq("10.9.0.1:80", 1)));
    }
    ops.push(Op::DeleteService(svc("10.0.0.3:80").id));
    ops.push(Op::DeleteService(svc("10.0.0.3:80").id)); // refused: ESRCH
    ops.push(Op::AddService(svc("10.3.0.1:80"))); // same batch: applied
    let mut tx = ipvs.transaction_with(opts).unwrap();
    let e = tx.apply(&ops).unwrap_err();
    assert!(matches!(e, Error::Batch { index: 6001, .. }), "{e:?}");
    assert_eq!(tx.applied(), 6002);
    let report = tx.roll_back();
    assert!(report.is_complete(), "{report}");
    // 3,000 services and destinations deleted, one service re-created with its three
    // destinations, and the service added after the refusal deleted.
    assert_eq!(report.undone, 6000 + 4 + 1);
    assert!(report.failed.is_empty());
    assert_eq!(config(&mut ipvs), before);
}

/// A mock whose table another writer changes just before the `n`-th batch (counting from
/// 1): `writes` go in first, as if from another process.
#[derive(Debug)]
struct Interloper {
    inner: MockKernel,
    batches: usize,
    at: usize,
    writes: Vec<IpvsMessage>,
}

impl Transport for Interloper {
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> lvs::Result<Vec<IpvsMessage>> {
        self.inner.request(msg, kind)
    }

    fn request_batch(
        &mut self,
        msgs: &[IpvsMessage],
    ) -> lvs::Result<Vec<lvs::Result<Vec<IpvsMessage>>>> {
        self.batches += 1;
        if self.batches == self.at {
            for w in std::mem::take(&mut self.writes) {
                self.inner.request(&w, RequestKind::Do).unwrap();
            }
        }
        self.inner.request_batch(msgs)
    }
}

fn interloper(at: usize, writes: Vec<IpvsMessage>) -> Ipvs<Interloper> {
    let mut seeded = seeded();
    let inner = std::mem::take(seeded.transport());
    Ipvs::with_transport(Interloper {
        inner,
        batches: 0,
        at,
        writes,
    })
}

#[test]
fn a_roll_back_leaves_what_another_writer_added_meanwhile() {
    let other = svc("10.0.0.99:80");
    // Batch 1 is the transaction's write, batch 2 its roll back.
    let mut ipvs = interloper(2, vec![IpvsMessage::new_service(&other)]);
    let mut tx = ipvs.transaction().unwrap();
    tx.apply(&[
        Op::DeleteService(svc("10.0.0.1:80").id),
        Op::AddService(svc("10.0.0.5:80")),
    ])
    .unwrap();
    drop(tx); // dropped without commit: rolled back
    let ids: Vec<_> = ipvs
        .table()
        .unwrap()
        .into_iter()
        .map(|e| e.service.id)
        .collect();
    assert!(ids.contains(&other.id), "the other writer's service stays");
    assert!(
        ids.contains(&svc("10.0.0.1:80").id),
        "the deleted service is back"
    );
    assert!(
        !ids.contains(&svc("10.0.0.5:80").id),
        "the added service is gone"
    );
    assert_eq!(ids.len(), 4);
}

#[test]
fn what_a_roll_back_cannot_restore_is_named() {
    let a = svc("10.0.0.1:80");
    // Someone re-creates the deleted service differently just before the roll back: putting
    // it back is refused (EEXIST) and the report names it.
    let mut other = a.clone();
    other.scheduler = Scheduler::Sh;
    let mut ipvs = interloper(2, vec![IpvsMessage::new_service(&other)]);
    let mut tx = ipvs.transaction().unwrap();
    tx.apply(&[Op::DeleteService(a.id)]).unwrap();
    let report = tx.roll_back();
    assert!(!report.is_complete());
    assert!(
        matches!(report.failed[0].0, Op::AddService(_)),
        "{report:?}"
    );
    assert!(
        matches!(&report.not_restored[..], [NotRestored::Service { id, before: Some(_), now: Some(_) }] if *id == a.id),
        "{report:?}"
    );
    // The service's three destinations went back onto the other writer's service.
    assert_eq!(report.undone, 3);
    let e = report.into_result().unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotRestored {
                failed_writes: 1,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn timeouts_and_daemons_are_put_back() {
    let mut ipvs = seeded();
    ipvs.set_timeouts(&Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    })
    .unwrap();
    let daemon = Daemon::builder(DaemonState::Backup, "lo").build().unwrap();
    let before = ipvs.timeouts().unwrap();
    let ops = vec![
        Op::SetTimeouts(Timeouts {
            tcp: 10,
            tcp_fin: 0,
            udp: 20,
        }),
        Op::StartDaemon(daemon),
        Op::DeleteService(svc("10.0.0.7:80").id), // refused: ESRCH
    ];
    assert!(ipvs.apply_or_roll_back(&ops).is_err());
    assert_eq!(ipvs.timeouts().unwrap(), before);
    assert!(ipvs.daemons().unwrap().is_empty());
}

#[test]
fn a_transaction_without_tracked_adds_refuses_what_it_could_not_undo() {
    let mut ipvs = seeded();
    let before = config(&mut ipvs);
    let opts = TransactionOptions {
        track_adds: false,
        ..TransactionOptions::default()
    };
    let mut tx = ipvs.transaction_with(opts).unwrap();
    tx.apply(&[Op::AddService(svc("10.0.0.8:80"))]).unwrap();
    let e = tx
        .apply(&[Op::AddService(svc("10.0.0.9:80")), Op::Flush])
        .unwrap_err();
    assert!(
        matches!(e, Error::Batch { index: 1, ref source, .. } if matches!(**source, Error::TransactionState { .. })),
        "{e:?}"
    );
    assert_eq!(tx.applied(), 1, "nothing of the refused call was sent");
    assert!(tx.roll_back().is_complete());
    assert_eq!(config(&mut ipvs), before);
}

#[test]
fn a_failed_transaction_takes_no_more_writes_and_commit_keeps_what_was_applied() {
    let mut ipvs = seeded();
    let mut tx = ipvs.transaction().unwrap();
    assert!(tx.apply(&[Op::AddService(svc("10.0.0.1:80"))]).is_err());
    let e = tx.apply(&[Op::AddService(svc("10.0.0.6:80"))]).unwrap_err();
    assert!(matches!(e, Error::TransactionState { .. }), "{e:?}");
    drop(tx);
    let mut tx = ipvs.transaction().unwrap();
    tx.apply(&[Op::AddService(svc("10.0.0.6:80"))]).unwrap();
    assert_eq!(tx.commit(), 1);
    assert_eq!(ipvs.table().unwrap().len(), 4);
}
