//! The client's API for control planes, on the mock: refusals that cannot pass unseen
//! (strict reconcile, reports that name each operation and its object), weights changed
//! without touching the rest of a destination, and a missing service told from an empty one.

use std::net::SocketAddr;

use lvs::client::ReconcileOptions;
use lvs::transport::{MockKernel, RequestKind, Transport};
use lvs::wire::IpvsMessage;
use lvs::{Destination, Error, ForwardMethod, Ipvs, Scheduler, Service, ServiceEntry};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn entry(addr: &str, sched: Scheduler, dests: &[(&str, u32)]) -> ServiceEntry {
    ServiceEntry {
        service: Service::tcp(sa(addr)).scheduler(sched).build().unwrap(),
        destinations: dests
            .iter()
            .map(|(a, w)| {
                Destination::builder(sa(a))
                    .masquerade()
                    .weight(*w)
                    .build()
                    .unwrap()
            })
            .collect(),
    }
}

#[test]
fn a_strict_reconcile_names_every_refused_write() {
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let desired = vec![
        entry("10.0.0.1:80", Scheduler::Rr, &[("10.0.1.1:80", 1)]),
        // A scheduler no kernel has: the service and its destination are refused.
        entry(
            "10.0.0.2:80",
            Scheduler::Other("rrr".into()),
            &[("10.0.2.1:80", 1)],
        ),
    ];
    let report = ipvs
        .reconcile(&desired, &ReconcileOptions::exact())
        .unwrap();
    assert!(!report.is_ok());
    assert_eq!(
        report.to_string().split(" (first").next().unwrap(),
        "4 writes: 2 applied, 2 refused"
    );
    let Err(Error::Refused {
        total,
        applied,
        refused,
    }) = report.into_result()
    else {
        panic!("a refusal must be an error");
    };
    assert_eq!((total, applied, refused.len()), (4, 2, 2));
    let messages: Vec<String> = refused.iter().map(ToString::to_string).collect();
    assert!(
        messages[0].contains("add service tcp:10.0.0.2:80"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("add destination tcp:10.0.0.2:80 -> 10.0.2.1:80"),
        "{messages:?}"
    );
    // The same through reconcile_strict, on a table where the good half is now in place.
    let e = ipvs
        .reconcile_strict(&desired, &ReconcileOptions::exact())
        .unwrap_err();
    assert!(matches!(e, Error::Refused { applied: 0, .. }), "{e}");
    // And nothing to do: Ok, no writes.
    let ok = ipvs
        .reconcile_strict(&desired[..1], &ReconcileOptions::exact())
        .unwrap();
    assert!(ok.is_empty());
}

#[test]
fn an_invalid_write_in_a_batch_is_named_not_numbered() {
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let svc = Service::tcp(sa("10.0.0.1:80")).build().unwrap();
    let mut heavy = Destination::builder(sa("10.0.0.2:80")).build().unwrap();
    heavy.weight = 70_000;
    let e = ipvs
        .apply(&[
            lvs::Op::AddService(svc.clone()),
            lvs::Op::AddDestination(svc.id, heavy),
        ])
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::Batch { index: 1, .. }));
    assert!(
        text.starts_with("add destination tcp:10.0.0.1:80 -> 10.0.0.2:80"),
        "{text}"
    );
    assert!(text.contains("70000"), "{text}");
}

#[test]
fn set_weight_keeps_forwarding_thresholds_and_a_weight_only_ipvsadm_writes() {
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let svc = Service::tcp(sa("10.0.0.1:80")).build().unwrap();
    ipvs.add_service(&svc).unwrap();
    let nat = Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .weight(5)
        .upper_threshold(100)
        .lower_threshold(10)
        .build()
        .unwrap();
    ipvs.add_destination(&svc.id, &nat).unwrap();
    assert_eq!(ipvs.quiesce(&svc.id, nat.socket_addr()).unwrap(), 5);
    let now = ipvs.destination(&svc.id, nat.socket_addr()).unwrap();
    assert_eq!(now.weight, 0);
    assert_eq!(now.forward, ForwardMethod::Masquerade);
    assert_eq!((now.upper_threshold, now.lower_threshold), (100, 10));
    ipvs.restore_weight(&svc.id, nat.socket_addr(), 5).unwrap();
    assert_eq!(
        ipvs.destination(&svc.id, nat.socket_addr()).unwrap().weight,
        5
    );
    // A weight above the builder's 65535, as ipvsadm writes it, survives a weight change
    // of another destination and can itself be quiesced and restored.
    let mut heavy = Destination::builder(sa("10.0.0.3:80")).build().unwrap();
    heavy.weight = 100_000;
    let msg = IpvsMessage::new_dest(&svc.id, &heavy);
    ipvs.transport().request(&msg, RequestKind::Do).unwrap();
    let old = ipvs.quiesce(&svc.id, heavy.socket_addr()).unwrap();
    assert_eq!(old, 100_000);
    ipvs.restore_weight(&svc.id, heavy.socket_addr(), old)
        .unwrap();
    assert_eq!(
        ipvs.destination(&svc.id, heavy.socket_addr())
            .unwrap()
            .weight,
        100_000
    );
    let e = ipvs.set_weight(&svc.id, sa("10.0.0.9:80"), 1).unwrap_err();
    assert!(matches!(e, Error::NoSuchDestination(_)), "{e:?}");
}

#[test]
fn destinations_of_a_missing_service_is_no_such_service() {
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let svc = Service::tcp(sa("10.0.0.1:80")).build().unwrap();
    ipvs.add_service(&svc).unwrap();
    assert_eq!(ipvs.destinations(&svc.id).unwrap(), []);
    let missing = Service::tcp(sa("10.0.0.9:80")).build().unwrap().id;
    let e = ipvs.destinations(&missing).unwrap_err();
    assert!(matches!(e, Error::NoSuchService(_)), "{e:?}");
}

#[test]
fn the_missing_scheduler_or_engine_is_named_by_the_mock_whatever_the_machine() {
    use lvs::{MissingModule, PersistenceEngine};
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let svc = |sched: Scheduler, pe: Option<&str>| {
        let mut b = Service::tcp(sa("10.0.0.1:80"))
            .scheduler(sched)
            .persistent(300);
        if let Some(p) = pe {
            b = b.pe(if p == "sip" {
                PersistenceEngine::Sip
            } else {
                PersistenceEngine::Other(p.into())
            });
        }
        b.build().unwrap()
    };
    // An engine the mock's kernel lacks, with a scheduler it has: the engine, by name.
    let e = ipvs
        .add_service(&svc(Scheduler::Rr, Some("nosuchpe")))
        .unwrap_err();
    let Error::PersistenceEngineNotFound(ref c) = e else {
        panic!("{e:?}");
    };
    assert_eq!(
        c.missing,
        Some(MissingModule::PersistenceEngine("nosuchpe".into()))
    );
    assert!(e.to_string().contains("persistence engine nosuchpe"), "{e}");
    // A scheduler it lacks (looked up first, so named even with a missing engine too).
    let e = ipvs
        .add_service(&svc(Scheduler::Other("rrr".into()), Some("nosuchpe")))
        .unwrap_err();
    let Error::SchedulerNotFound(ref c) = e else {
        panic!("{e:?}");
    };
    assert_eq!(c.missing, Some(MissingModule::Scheduler("rrr".into())));
    assert!(
        e.to_string()
            .starts_with("scheduler rrr (module ip_vs_rrr) not found"),
        "{e}"
    );
    // A profile without `sip`: the real engine name is missing there.
    let mut old = Ipvs::with_transport(
        MockKernel::builder()
            .persistence_engines(Vec::<String>::new())
            .build(),
    );
    let e = old
        .add_service(&svc(Scheduler::Wlc, Some("sip")))
        .unwrap_err();
    assert!(matches!(e, Error::PersistenceEngineNotFound(_)), "{e:?}");
    assert!(e.to_string().contains("ip_vs_pe_sip"), "{e}");
}

#[test]
fn a_zero_fwmark_is_named_as_such() {
    let e = Service::fwmark(0).build().unwrap_err();
    assert_eq!(e, lvs::InvalidError::ZeroFwmark);
    assert!(e.to_string().contains("firewall mark 0"), "{e}");
}

#[test]
fn a_refusal_names_its_object_as_typed_values() {
    use lvs::RefusedObject;
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let svc = Service::tcp(sa("10.0.0.1:80")).build().unwrap();
    ipvs.add_service(&svc).unwrap();
    let d = Destination::builder(sa("10.0.0.2:80")).build().unwrap();
    ipvs.add_destination(&svc.id, &d).unwrap();
    let Err(Error::DestinationExists(ctx)) = ipvs.add_destination(&svc.id, &d) else {
        panic!("the second add must be refused");
    };
    assert_eq!(ctx.service(), Some(svc.id));
    assert_eq!(ctx.destination(), Some(sa("10.0.0.2:80")));
    let Err(Error::ServiceExists(ctx)) = ipvs.add_service(&svc) else {
        panic!("the second add must be refused");
    };
    assert_eq!((ctx.service(), ctx.destination()), (Some(svc.id), None));
}
