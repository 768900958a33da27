//! The async handle (`AsyncIpvs`, feature `tokio`) on the mock kernel: random operation
//! sequences give the same results, errors and final table as the blocking handle (the two
//! share validation, error naming and decoding), batches and reconcile included.

use lvs::client::{Op as BatchOp, ReconcileOptions};
use lvs::strategies::{self, Action, ActionReply};
use lvs::transport::{AsyncTransport, MockKernel};
use lvs::{AsyncIpvs, Destination, Ipvs, Service, ServiceEntry, Timeouts};
use proptest::prelude::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// [`Action::apply`] through the async handle.
async fn apply_async(op: &Action, ipvs: &mut AsyncIpvs<MockKernel>) -> lvs::Result<ActionReply> {
    let done = |r: lvs::Result<()>| r.map(|()| ActionReply::Done);
    match op {
        Action::AddService(s) => done(ipvs.add_service(s).await),
        Action::UpdateService(s) => done(ipvs.update_service(s).await),
        Action::DeleteService(id) => done(ipvs.delete_service(id).await),
        Action::GetService(id) => ipvs.get_service(id).await.map(ActionReply::Service),
        Action::Services => ipvs.services().await.map(ActionReply::Services),
        Action::AddDestination(id, d) => done(ipvs.add_destination(id, d).await),
        Action::UpdateDestination(id, d) => done(ipvs.update_destination(id, d).await),
        Action::DeleteDestination(id, a) => done(ipvs.delete_destination(id, *a).await),
        Action::Destinations(id) => ipvs.destinations(id).await.map(ActionReply::Destinations),
        Action::Flush => done(ipvs.flush().await),
        Action::ZeroAll => done(ipvs.zero_all().await),
        Action::ZeroService(id) => done(ipvs.zero_service(id).await),
        Action::SetTimeouts(t) => done(ipvs.set_timeouts(t).await),
        Action::GetTimeouts => ipvs.timeouts().await.map(ActionReply::Timeouts),
        Action::Info => ipvs.info().await.map(ActionReply::Info),
        Action::StartDaemon(d) => done(ipvs.start_daemon(d).await),
        Action::StopDaemon(s) => done(ipvs.stop_daemon(*s).await),
        Action::Daemons => ipvs.daemons().await.map(ActionReply::Daemons),
        Action::Raw(msg, kind) => ipvs
            .transport()
            .request(msg, *kind)
            .await
            .map(ActionReply::Raw),
        other => panic!("operation unknown to this test: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn same_results_as_the_blocking_handle(ops in strategies::actions(30)) {
        let rt = rt();
        let mut blocking = Ipvs::with_transport(MockKernel::new());
        let mut asynch = AsyncIpvs::with_transport(MockKernel::new());
        for (i, op) in ops.iter().enumerate() {
            let want = op.apply(&mut blocking);
            let got = rt.block_on(apply_async(op, &mut asynch));
            prop_assert_eq!(format!("{got:?}"), format!("{want:?}"), "op {} {:?}", i, op);
        }
        let want = blocking.table().unwrap();
        let got = rt.block_on(asynch.table()).unwrap();
        prop_assert_eq!(got, want);
    }
}

fn desired() -> Vec<ServiceEntry> {
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    let d = |a: &str, w| {
        Destination::builder(a.parse().unwrap())
            .masquerade()
            .weight(w)
            .build()
            .unwrap()
    };
    vec![ServiceEntry {
        service: svc,
        destinations: vec![d("10.0.0.2:80", 1), d("10.0.0.3:80", 2)],
    }]
}

#[test]
fn batches_and_reconcile_match_the_blocking_handle() {
    let rt = rt();
    let mut blocking = Ipvs::with_transport(MockKernel::new());
    let mut asynch = AsyncIpvs::with_transport(MockKernel::new());
    let want = desired();

    let a = rt
        .block_on(asynch.reconcile(&want, &ReconcileOptions::exact()))
        .unwrap();
    let b = blocking
        .reconcile(&want, &ReconcileOptions::exact())
        .unwrap();
    assert_eq!(a.ops, b.ops);
    assert_eq!(a.ops.len(), 3);
    assert!(a.outcome.is_ok());
    assert_eq!(
        rt.block_on(asynch.table()).unwrap(),
        blocking.table().unwrap()
    );
    let again = rt
        .block_on(asynch.reconcile(&want, &ReconcileOptions::exact()))
        .unwrap();
    assert!(again.ops.is_empty());

    // A batch with a refusal in the middle: the same per-operation results.
    let id = want[0].service.id;
    let extra = Destination::builder("10.0.0.4:80".parse().unwrap())
        .masquerade()
        .build()
        .unwrap();
    let ops = vec![
        BatchOp::AddDestination(id, extra.clone()),
        BatchOp::AddDestination(id, extra.clone()),
        BatchOp::SetTimeouts(Timeouts {
            tcp: 100,
            tcp_fin: 0,
            udp: 0,
        }),
    ];
    let a = rt.block_on(asynch.apply(&ops)).unwrap();
    let b = blocking.apply(&ops).unwrap();
    assert_eq!(format!("{:?}", a.results), format!("{:?}", b.results));
    assert_eq!(a.applied(), 2);
    assert!(matches!(
        a.results[1],
        Err(lvs::Error::DestinationExists(_))
    ));

    // All or nothing: the refused batch is rolled back, timeouts included.
    let before = rt.block_on(asynch.table()).unwrap();
    let t_before = rt.block_on(asynch.timeouts()).unwrap();
    let bad = vec![
        BatchOp::SetTimeouts(Timeouts {
            tcp: 777,
            tcp_fin: 0,
            udp: 0,
        }),
        BatchOp::DeleteDestination(id, extra.socket_addr()),
        BatchOp::DeleteDestination(id, extra.socket_addr()),
    ];
    let e = rt.block_on(asynch.apply_or_roll_back(&bad)).unwrap_err();
    assert!(matches!(e, lvs::Error::Batch { index: 2, .. }), "{e:?}");
    assert_eq!(rt.block_on(asynch.table()).unwrap(), before);
    assert_eq!(rt.block_on(asynch.timeouts()).unwrap(), t_before);
    let e2 = blocking.apply_or_roll_back(&bad).unwrap_err();
    assert_eq!(format!("{e:?}"), format!("{e2:?}"));

    // Invalid operations are refused before anything is sent, with the same error.
    let mut heavy = extra.clone();
    heavy.weight = Destination::MAX_WEIGHT + 1;
    let invalid = vec![BatchOp::UpdateDestination(id, heavy)];
    let a = rt.block_on(asynch.apply(&invalid)).unwrap_err();
    let b = blocking.apply(&invalid).unwrap_err();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));

    let mut seen = 0;
    rt.block_on(asynch.for_each_entry(|e| {
        seen += e.destinations.len();
        Ok(())
    }))
    .unwrap();
    assert_eq!(seen, 3);
    let snap = rt.block_on(asynch.stats_snapshot()).unwrap();
    assert_eq!(snap.services().len(), 1);
}

/// The handle's futures can be spawned on a multi-threaded runtime.
#[test]
fn futures_are_send() {
    fn send<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let task = rt.spawn(async {
        let mut ipvs = AsyncIpvs::with_transport(MockKernel::new());
        let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
            .build()
            .unwrap();
        send(ipvs.add_service(&svc)).await.unwrap();
        send(ipvs.table()).await.unwrap().len()
    });
    assert_eq!(rt.block_on(task).unwrap(), 1);
    // The kernel handle's futures too (checked at compile time only: no IPVS here).
    #[allow(dead_code)]
    fn kernel_futures_are_send(ipvs: &mut AsyncIpvs) {
        drop(send(ipvs.table()));
        drop(send(ipvs.apply(&[])));
        drop(send(AsyncIpvs::in_netns("x")));
    }
}

#[test]
fn draining_matches_the_blocking_handle() {
    use lvs::client::{DrainPolicy, Drainer};
    use std::time::{Duration, Instant};
    let rt = rt();
    let (m1, m2) = (MockKernel::new(), MockKernel::new());
    let mut blocking = Ipvs::with_transport(m1.clone());
    let mut asynch = AsyncIpvs::with_transport(m2.clone());
    let want = desired();
    blocking
        .reconcile_strict(&want, &ReconcileOptions::exact())
        .unwrap();
    rt.block_on(asynch.reconcile_strict(&want, &ReconcileOptions::exact()))
        .unwrap();
    let id = want[0].service.id;
    for m in [&m1, &m2] {
        for d in &want[0].destinations {
            m.set_connections(&id, d.socket_addr(), 1, 0);
        }
    }
    let empty = vec![ServiceEntry {
        service: want[0].service.clone(),
        destinations: vec![],
    }];
    let policy = DrainPolicy::default().deadline(Duration::from_secs(10));
    let (mut da, mut db) = (Drainer::new(policy), Drainer::new(policy));
    let t0 = Instant::now();
    for t in [0, 1, 10, 11] {
        let now = t0 + Duration::from_secs(t);
        let a = rt
            .block_on(asynch.reconcile_draining_at(
                &empty,
                &ReconcileOptions::exact(),
                &mut da,
                now,
            ))
            .unwrap();
        let b = blocking
            .reconcile_draining_at(&empty, &ReconcileOptions::exact(), &mut db, now)
            .unwrap();
        assert_eq!(a.ops, b.ops, "at {t} s");
        assert_eq!(da.progress(), db.progress(), "at {t} s");
        let a = rt.block_on(asynch.drain_step_at(&mut da, now)).unwrap();
        let b = blocking.drain_step_at(&mut db, now).unwrap();
        assert_eq!(a.ops, b.ops, "at {t} s");
    }
    assert!(da.is_finished());
    assert!(rt.block_on(asynch.destinations(&id)).unwrap().is_empty());
    assert_eq!(
        rt.block_on(asynch.table()).unwrap(),
        blocking.table().unwrap()
    );
}
