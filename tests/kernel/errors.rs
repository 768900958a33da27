//! Kernel refusals, each as its typed error with the errno, the operation and the object; and
//! values the builders would stop, sent raw through the transport to record the kernel's own
//! answer (the transport names no case: `Error::Kernel` with operation `Other`).

use lvs::transport::RequestKind;
use lvs::wire::{DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr};
use lvs::{
    Destination, Netmask, Persistence, PersistenceEngine, Scheduler, Service, ServiceId, Timeouts,
    Tunnel, TunnelType,
};

use crate::common::{raw, sa, Netns};

fn tcp_service(addr: &str) -> Service {
    Service::tcp(sa(addr))
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap()
}

fn masq(addr: &str) -> Destination {
    Destination::builder(sa(addr)).masquerade().build().unwrap()
}

#[test]
fn add_existing_service_is_service_exists() {
    let ns = Netns::new("err-svc-exists");
    let mut ipvs = ns.ipvs();
    let s = tcp_service("10.0.0.1:80");
    ipvs.add_service(&s).unwrap();
    let ctx = assert_refused!(
        ipvs.add_service(&s),
        ServiceExists,
        libc::EEXIST,
        AddService
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80");
    // Also when the second add differs in everything but the identity.
    let other = Service::builder(s.id)
        .scheduler(Scheduler::Wlc)
        .persistent(10)
        .build()
        .unwrap();
    assert_refused!(
        ipvs.add_service(&other),
        ServiceExists,
        libc::EEXIST,
        AddService
    );
    // A service that ipvsadm made exists just the same.
    ns.ipvsadm(&["-A", "-f", "5", "-6"]);
    let ctx = assert_refused!(
        ipvs.add_service(&Service::fwmark6(5).build().unwrap()),
        ServiceExists,
        libc::EEXIST,
        AddService
    );
    assert_eq!(ctx.object, "fwmark6:5");
}

#[test]
fn add_existing_destination_is_destination_exists() {
    let ns = Netns::new("err-dst-exists");
    let mut ipvs = ns.ipvs();
    let s = tcp_service("10.0.0.1:80");
    ipvs.add_service(&s).unwrap();
    ipvs.add_destination(&s.id, &masq("10.0.0.2:80")).unwrap();
    // Same address and port, other settings: still the same destination.
    let again = Destination::builder(sa("10.0.0.2:80"))
        .tunnel(Tunnel::ipip())
        .weight(5)
        .build()
        .unwrap();
    let ctx = assert_refused!(
        ipvs.add_destination(&s.id, &again),
        DestinationExists,
        libc::EEXIST,
        AddDestination
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80 -> 10.0.0.2:80");
    // Another port is another destination.
    ipvs.add_destination(&s.id, &masq("10.0.0.2:81")).unwrap();
}

#[test]
fn missing_service_is_no_such_service() {
    let ns = Netns::new("err-no-svc");
    let mut ipvs = ns.ipvs();
    // Another service exists, so the table is not empty.
    ipvs.add_service(&tcp_service("10.0.0.1:80")).unwrap();
    let missing = tcp_service("10.0.0.9:80");
    let id = missing.id;

    let ctx = assert_refused!(
        ipvs.update_service(&missing),
        NoSuchService,
        libc::ESRCH,
        UpdateService
    );
    assert_eq!(ctx.object, "tcp:10.0.0.9:80");
    assert_refused!(
        ipvs.delete_service(&id),
        NoSuchService,
        libc::ESRCH,
        DeleteService
    );
    assert_refused!(ipvs.zero_service(&id), NoSuchService, libc::ESRCH, Zero);
    assert_refused!(
        ipvs.get_service(&id),
        NoSuchService,
        libc::ESRCH,
        GetService
    );
    let d = masq("10.0.0.2:80");
    let ctx = assert_refused!(
        ipvs.add_destination(&id, &d),
        NoSuchService,
        libc::ESRCH,
        AddDestination
    );
    assert_eq!(ctx.object, "tcp:10.0.0.9:80 -> 10.0.0.2:80");
    assert_refused!(
        ipvs.update_destination(&id, &d),
        NoSuchService,
        libc::ESRCH,
        UpdateDestination
    );
    assert_refused!(
        ipvs.delete_destination(&id, sa("10.0.0.2:80")),
        NoSuchService,
        libc::ESRCH,
        DeleteDestination
    );
    // Same address, other protocol: another service.
    assert_refused!(
        ipvs.delete_service(&ServiceId::udp(sa("10.0.0.1:80"))),
        NoSuchService,
        libc::ESRCH,
        DeleteService
    );
    // A fwmark service of the other family.
    ipvs.add_service(&Service::fwmark(3).build().unwrap())
        .unwrap();
    assert_refused!(
        ipvs.delete_service(&ServiceId::fwmark6(3)),
        NoSuchService,
        libc::ESRCH,
        DeleteService
    );
}

#[test]
fn missing_destination_is_no_such_destination() {
    let ns = Netns::new("err-no-dst");
    let mut ipvs = ns.ipvs();
    let s = tcp_service("10.0.0.1:80");
    ipvs.add_service(&s).unwrap();
    ipvs.add_destination(&s.id, &masq("10.0.0.2:80")).unwrap();

    let other = masq("10.0.0.3:80");
    let ctx = assert_refused!(
        ipvs.update_destination(&s.id, &other),
        NoSuchDestination,
        libc::ENOENT,
        UpdateDestination
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80 -> 10.0.0.3:80");
    assert_refused!(
        ipvs.delete_destination(&s.id, sa("10.0.0.3:80")),
        NoSuchDestination,
        libc::ENOENT,
        DeleteDestination
    );
    // Same address, other port.
    assert_refused!(
        ipvs.delete_destination(&s.id, sa("10.0.0.2:8080")),
        NoSuchDestination,
        libc::ENOENT,
        DeleteDestination
    );
    // Deleted once, gone.
    ipvs.delete_destination(&s.id, sa("10.0.0.2:80")).unwrap();
    assert_refused!(
        ipvs.delete_destination(&s.id, sa("10.0.0.2:80")),
        NoSuchDestination,
        libc::ENOENT,
        DeleteDestination
    );
}

#[test]
fn unknown_scheduler_is_scheduler_not_found() {
    let ns = Netns::new("err-sched");
    let mut ipvs = ns.ipvs();
    let nosuch = Scheduler::Other("nosuch".into());
    let s = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(nosuch.clone())
        .build()
        .unwrap();
    let ctx = assert_refused!(
        ipvs.add_service(&s),
        SchedulerNotFound,
        libc::ENOENT,
        AddService
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80");
    assert_eq!(ipvs.services().unwrap(), vec![], "nothing was added");

    // On edit too; the service keeps its scheduler.
    ipvs.add_service(&tcp_service("10.0.0.1:80")).unwrap();
    assert_refused!(
        ipvs.update_service(&s),
        SchedulerNotFound,
        libc::ENOENT,
        UpdateService
    );
    assert_eq!(ipvs.get_service(&s.id).unwrap().scheduler, Scheduler::Rr);

    // With a persistence engine that exists, the scheduler is still the one missing.
    let with_pe = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(nosuch)
        .persistent(60)
        .pe(PersistenceEngine::Sip)
        .build()
        .unwrap();
    assert_refused!(
        ipvs.add_service(&with_pe),
        SchedulerNotFound,
        libc::ENOENT,
        AddService
    );
}

#[test]
fn unknown_persistence_engine_is_persistence_engine_not_found() {
    let ns = Netns::new("err-pe");
    let mut ipvs = ns.ipvs();
    let s = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(Scheduler::Rr)
        .persistent(60)
        .pe(PersistenceEngine::Other("nosuch".into()))
        .build()
        .unwrap();
    let ctx = assert_refused!(
        ipvs.add_service(&s),
        PersistenceEngineNotFound,
        libc::ENOENT,
        AddService
    );
    assert_eq!(ctx.object, "udp:10.0.0.1:5060");
    assert_eq!(ipvs.services().unwrap(), vec![]);

    let plain = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap();
    ipvs.add_service(&plain).unwrap();
    assert_refused!(
        ipvs.update_service(&s),
        PersistenceEngineNotFound,
        libc::ENOENT,
        UpdateService
    );
    assert_eq!(ipvs.get_service(&s.id).unwrap().pe, None);
}

/// The kernel accepts the scheduler name `none` (ipvsadm `-s none`, see
/// `quirks::quirk_scheduler_none_is_accepted`). With it and an unknown persistence engine,
/// the kernel's ENOENT is about the engine; the client must say so.
#[test]
fn unknown_persistence_engine_with_scheduler_none() {
    let ns = Netns::new("err-pe-none");
    let mut ipvs = ns.ipvs();
    let s = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(Scheduler::Other("none".into()))
        .persistent(60)
        .pe(PersistenceEngine::Other("nosuch".into()))
        .build()
        .unwrap();
    // The same service with the `sip` engine is accepted: only the engine is missing.
    let mut with_sip = s.clone();
    with_sip.pe = Some(PersistenceEngine::Sip);
    ipvs.add_service(&with_sip).unwrap();
    ipvs.delete_service(&s.id).unwrap();
    assert_refused!(
        ipvs.add_service(&s),
        PersistenceEngineNotFound,
        libc::ENOENT,
        AddService
    );
}

#[test]
fn destination_address_not_unicast_is_invalid_request() {
    let ns = Netns::new("err-mcast-dst");
    let mut ipvs = ns.ipvs();
    let s = tcp_service("10.0.0.1:80");
    ipvs.add_service(&s).unwrap();
    for bad in ["224.0.0.1:80", "255.255.255.255:80", "0.0.0.0:80"] {
        let ctx = assert_refused!(
            ipvs.add_destination(&s.id, &masq(bad)),
            InvalidRequest,
            libc::EINVAL,
            AddDestination
        );
        assert_eq!(ctx.object, format!("tcp:10.0.0.1:80 -> {bad}"));
    }
    let v6 = ServiceId::tcp(sa("[fd00::1]:80"));
    ipvs.add_service(&Service::builder(v6).build().unwrap())
        .unwrap();
    for bad in ["[ff02::1]:80", "[fe80::1]:80"] {
        assert_refused!(
            ipvs.add_destination(&v6, &masq(bad)),
            InvalidRequest,
            libc::EINVAL,
            AddDestination
        );
    }
}

#[test]
fn timeouts_out_of_range_are_invalid_request() {
    let ns = Netns::new("err-timeouts");
    let mut ipvs = ns.ipvs();
    let before = ipvs.timeouts().unwrap();
    // Read as an int: u32::MAX is -1.
    assert_refused!(
        ipvs.set_timeouts(&Timeouts {
            tcp: u32::MAX,
            tcp_fin: 0,
            udp: 0,
        }),
        InvalidRequest,
        libc::EINVAL,
        SetTimeouts
    );
    // Above INT_MAX / HZ seconds (whatever HZ, from 100 up): see
    // `quirks::quirk_timeouts_limited_to_int_max_jiffies` for the exact limit.
    assert_refused!(
        ipvs.set_timeouts(&Timeouts {
            tcp: 0,
            tcp_fin: 0,
            udp: 100_000_000,
        }),
        InvalidRequest,
        libc::EINVAL,
        SetTimeouts
    );
    assert_eq!(ipvs.timeouts().unwrap(), before, "nothing was changed");
}

// ---------------------------------------------------------------------------------------
// Raw requests: values the builders stop, to record the kernel's own answer.
// ---------------------------------------------------------------------------------------

/// A service with one destination, and that destination as a value to spoil.
fn service_and_dest(ns: &Netns) -> (crate::common::Handle, ServiceId, Destination) {
    let mut ipvs = ns.ipvs();
    let s = tcp_service("10.0.0.1:80");
    ipvs.add_service(&s).unwrap();
    (ipvs, s.id, masq("10.0.0.2:80"))
}

#[test]
fn raw_weight_above_i32_max_is_erange() {
    let ns = Netns::new("raw-weight");
    let (mut ipvs, id, mut d) = service_and_dest(&ns);
    d.weight = 0x8000_0000; // negative as the kernel's int
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::ERANGE
    );
    d.weight = u32::MAX;
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::ERANGE
    );
    // The same on edit.
    let ok = masq("10.0.0.2:80");
    ipvs.add_destination(&id, &ok).unwrap();
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::set_dest(&id, &d), RequestKind::Do),
        libc::ERANGE
    );
    assert_eq!(ipvs.destinations(&id).unwrap()[0].weight, 1);
}

#[test]
fn raw_lower_threshold_above_upper_is_erange() {
    let ns = Netns::new("raw-thresh");
    let (mut ipvs, id, mut d) = service_and_dest(&ns);
    d.upper_threshold = 10;
    d.lower_threshold = 11;
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::ERANGE
    );
    // An upper threshold of 0 means "no limit", yet the kernel compares all the same (see
    // `quirks::quirk_lower_threshold_without_upper_is_erange`).
    d.upper_threshold = 0;
    d.lower_threshold = 1;
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::ERANGE
    );
    // On edit too.
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    d.upper_threshold = 10;
    d.lower_threshold = 11;
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::set_dest(&id, &d), RequestKind::Do),
        libc::ERANGE
    );
}

/// The builder stops thresholds above i32::MAX. A lower threshold above i32::MAX with an
/// upper one at most i32::MAX is ERANGE on every kernel; for an upper threshold above
/// i32::MAX, see `quirks::quirk_upper_threshold_above_i32_max`.
#[test]
fn raw_lower_threshold_above_i32_max_is_erange() {
    let ns = Netns::new("raw-thresh-max");
    let (mut ipvs, id, mut d) = service_and_dest(&ns);
    for upper in [0, i32::MAX as u32] {
        d.upper_threshold = upper;
        d.lower_threshold = 0x8000_0000;
        assert_raw_errno!(
            raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
            libc::ERANGE
        );
    }
    // i32::MAX itself is fine, for both.
    d.upper_threshold = i32::MAX as u32;
    d.lower_threshold = i32::MAX as u32 - 1;
    raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do).expect("i32::MAX");
    assert_eq!(
        ns.listing(&["--thresholds"]),
        [
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 2147483647 2147483646 0 0"
        ]
    );
}

#[test]
fn raw_ipv6_netmask_out_of_range_is_einval() {
    let ns = Netns::new("raw-mask6");
    let mut ipvs = ns.ipvs();
    let mut s = Service::tcp(sa("[fd00::1]:443"))
        .persistent(300)
        .build()
        .unwrap();
    for bad in [129u8, 0] {
        s.persistence = Some(Persistence {
            timeout: 300,
            netmask: Netmask::V6(bad),
        });
        assert_raw_errno!(
            raw(&mut ipvs, &IpvsMessage::new_service(&s), RequestKind::Do),
            libc::EINVAL
        );
    }
    // Also for a service that is not persistent: the kernel checks the prefix regardless.
    let mut plain = Service::tcp(sa("[fd00::1]:443")).build().unwrap();
    plain.raw_netmask = Some(Netmask::V6(0));
    assert_raw_errno!(
        raw(
            &mut ipvs,
            &IpvsMessage::new_service(&plain),
            RequestKind::Do
        ),
        libc::EINVAL
    );
    // And on edit.
    let good = Service::tcp(sa("[fd00::1]:443")).build().unwrap();
    ipvs.add_service(&good).unwrap();
    s.persistence = Some(Persistence {
        timeout: 300,
        netmask: Netmask::V6(129),
    });
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::set_service(&s), RequestKind::Do),
        libc::EINVAL
    );
    assert_eq!(ipvs.services().unwrap().len(), 1);
}

#[test]
fn raw_gue_tunnel_without_port_is_einval() {
    let ns = Netns::new("raw-gue");
    let (mut ipvs, id, mut d) = service_and_dest(&ns);
    d.forward = lvs::ForwardMethod::Tunnel(Tunnel {
        kind: TunnelType::Gue,
        port: 0,
        flags: lvs::TunnelFlags::CSUM,
    });
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::EINVAL
    );
    // GRE and IPIP ignore the port; GUE on edit is checked too.
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::set_dest(&id, &d), RequestKind::Do),
        libc::EINVAL
    );
}

#[test]
fn raw_missing_attributes_are_einval() {
    let ns = Netns::new("raw-missing");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    // NEW_SERVICE with only the identity: scheduler, flags, timeout, netmask missing.
    let only_id = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![IpvsAttr::Service(ServiceAttr::from_id(&id))],
    );
    assert_raw_errno!(raw(&mut ipvs, &only_id, RequestKind::Do), libc::EINVAL);
    // No service nest at all.
    let empty = IpvsMessage::new(IpvsCmd::NewService, vec![]);
    assert_raw_errno!(raw(&mut ipvs, &empty, RequestKind::Do), libc::EINVAL);
    // An identity without the port.
    let partial = IpvsMessage::new(
        IpvsCmd::DelService,
        vec![IpvsAttr::Service(vec![
            ServiceAttr::Af(2),
            ServiceAttr::Protocol(6),
        ])],
    );
    assert_raw_errno!(raw(&mut ipvs, &partial, RequestKind::Do), libc::EINVAL);

    // NEW_DEST with only the destination's identity.
    ipvs.add_service(&tcp_service("10.0.0.1:80")).unwrap();
    let dest_id = IpvsMessage::new(
        IpvsCmd::NewDest,
        vec![
            IpvsAttr::Service(ServiceAttr::from_id(&id)),
            IpvsAttr::Dest(DestAttr::from_dest_id(&sa("10.0.0.2:80"))),
        ],
    );
    assert_raw_errno!(raw(&mut ipvs, &dest_id, RequestKind::Do), libc::EINVAL);
    assert_eq!(ipvs.destinations(&id).unwrap(), vec![]);
}

/// The builder refuses a destination of the other family without a tunnel; the kernel does
/// too, with EINVAL.
#[test]
fn raw_mixed_family_without_tunnel_is_einval() {
    let ns = Netns::new("raw-mixed");
    let (mut ipvs, id, _) = service_and_dest(&ns);
    let d = Destination::builder(sa("[fd00::2]:80"))
        .masquerade()
        .build()
        .unwrap();
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::EINVAL
    );
    let d = Destination::builder(sa("[fd00::2]:80"))
        .direct_route()
        .build()
        .unwrap();
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::EINVAL
    );
}
