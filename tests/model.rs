//! Builders reject what ipvsadm or the kernel would reject, with a typed error; text forms
//! round-trip.

use std::net::SocketAddr;

use lvs::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn port_zero_needs_persistence() {
    assert_eq!(
        Service::tcp(sa("10.0.0.1:0")).build().unwrap_err(),
        InvalidError::ZeroPortWithoutPersistence
    );
    let svc = Service::tcp(sa("10.0.0.1:0"))
        .persistent(60)
        .build()
        .unwrap();
    assert_eq!(svc.persistence.unwrap().timeout, 60);
    // fwmark services have no port at all
    assert!(Service::fwmark(1).build().is_ok());
}

#[test]
fn one_packet_only_for_udp_and_fwmark() {
    assert_eq!(
        Service::tcp(sa("10.0.0.1:80"))
            .one_packet()
            .build()
            .unwrap_err(),
        InvalidError::OnePacketNotUdp("tcp".into())
    );
    assert_eq!(
        Service::sctp(sa("10.0.0.1:80"))
            .one_packet()
            .build()
            .unwrap_err(),
        InvalidError::OnePacketNotUdp("sctp".into())
    );
    assert!(
        Service::udp(sa("10.0.0.1:53"))
            .one_packet()
            .build()
            .unwrap()
            .one_packet
    );
    assert!(Service::fwmark(7).one_packet().build().unwrap().one_packet);
}

#[test]
fn scheduler_names() {
    for s in Scheduler::ALL {
        assert_eq!(s.name().parse::<Scheduler>().unwrap(), s);
    }
    assert_eq!(
        "fifteen-bytes-x".parse::<Scheduler>().unwrap().name(),
        "fifteen-bytes-x"
    );
    assert!(matches!(
        "sixteen-bytes-xx".parse::<Scheduler>(),
        Err(InvalidError::BadName {
            what: "scheduler",
            ..
        })
    ));
    assert!("".parse::<Scheduler>().is_err());
    assert!("r r".parse::<Scheduler>().is_err());
    let long = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(Scheduler::Other("a-very-long-scheduler".into()))
        .build();
    assert!(matches!(long, Err(InvalidError::BadName { .. })));
}

#[test]
fn scheduler_flags_follow_ipvsadm_names() {
    let f = SchedFlags::parse_ipvsadm_list("sh-fallback,sh-port", &Scheduler::Sh).unwrap();
    assert_eq!(f, SchedFlags::FLAG_1 | SchedFlags::FLAG_2);
    assert_eq!(f.ipvsadm_names(&Scheduler::Sh), ["sh-fallback", "sh-port"]);
    assert_eq!(f.ipvsadm_names(&Scheduler::Mh), ["mh-fallback", "mh-port"]);
    assert_eq!(f.ipvsadm_names(&Scheduler::Rr), ["flag-1", "flag-2"]);
    assert_eq!(
        SchedFlags::parse_ipvsadm_list("sh-port", &Scheduler::Rr).unwrap_err(),
        InvalidError::SchedulerFlagMismatch {
            flag: "sh-port",
            scheduler: "rr".into()
        }
    );
    assert!(SchedFlags::parse_ipvsadm_list("mh-port", &Scheduler::Sh).is_err());
    assert_eq!(
        SchedFlags::parse_ipvsadm_list("flag-3", &Scheduler::Wlc).unwrap(),
        SchedFlags::FLAG_3
    );
    assert!(SchedFlags::parse_ipvsadm_list("flag-4", &Scheduler::Wlc).is_err());
}

#[test]
fn persistence_rules() {
    assert_eq!(
        Service::tcp(sa("10.0.0.1:80"))
            .persistent(0)
            .build()
            .unwrap_err(),
        InvalidError::PersistenceTimeoutOutOfRange(0)
    );
    assert!(Service::tcp(sa("10.0.0.1:80"))
        .persistent(2_678_400)
        .build()
        .is_ok());
    assert!(Service::tcp(sa("10.0.0.1:80"))
        .persistent(2_678_401)
        .build()
        .is_err());
    let svc = Service::tcp(sa("10.0.0.1:80"))
        .persistent_default()
        .build()
        .unwrap();
    assert_eq!(svc.persistence.unwrap().timeout, 360);
    // IPv6 prefix 1..=128 only
    assert_eq!(
        "129".parse::<Netmask>().unwrap_err(),
        InvalidError::PrefixOutOfRange(129)
    );
    assert_eq!(
        "0".parse::<Netmask>().unwrap_err(),
        InvalidError::PrefixOutOfRange(0)
    );
    let v6 = Service::tcp(sa("[fd00::1]:80"))
        .persistent(60)
        .netmask(Netmask::V6(64))
        .build()
        .unwrap();
    assert_eq!(v6.persistence.unwrap().netmask, Netmask::V6(64));
    assert!(matches!(
        Service::tcp(sa("[fd00::1]:80"))
            .persistent(60)
            .netmask(Netmask::V6(0))
            .build(),
        Err(InvalidError::PrefixOutOfRange(0))
    ));
    // a netmask of the other family
    assert!(matches!(
        Service::tcp(sa("10.0.0.1:80"))
            .persistent(60)
            .netmask(Netmask::V6(64))
            .build(),
        Err(InvalidError::NetmaskFamilyMismatch { .. })
    ));
    assert_eq!(Netmask::v4_prefix(24).unwrap().to_string(), "255.255.255.0");
    assert!(Netmask::v4_prefix(33).is_err());
    assert_eq!(
        "255.255.0.0".parse::<Netmask>().unwrap().prefix_len(),
        Some(16)
    );
    assert_eq!("255.0.255.0".parse::<Netmask>().unwrap().prefix_len(), None);
}

#[test]
fn persistence_engine_names() {
    assert_eq!(
        "sip".parse::<PersistenceEngine>().unwrap(),
        PersistenceEngine::Sip
    );
    assert!("sixteen-bytes-xx".parse::<PersistenceEngine>().is_err());
}

#[test]
fn destination_rules() {
    let b = || Destination::builder(sa("10.0.0.2:80"));
    assert_eq!(
        b().upper_threshold(10)
            .lower_threshold(11)
            .build()
            .unwrap_err(),
        InvalidError::LowerThresholdAboveUpper {
            lower: 11,
            upper: 10
        }
    );
    // the kernel's rule holds when the upper threshold is 0 too
    assert!(b().lower_threshold(1).build().is_err());
    assert!(b().upper_threshold(10).lower_threshold(10).build().is_ok());
    assert_eq!(
        b().weight(65536).build().unwrap_err(),
        InvalidError::WeightOutOfRange(65536)
    );
    assert!(b().weight(0).build().is_ok());
    assert!(b().weight(65535).build().is_ok());
    assert_eq!(
        b().upper_threshold(u32::MAX).build().unwrap_err(),
        InvalidError::ThresholdOutOfRange(u32::MAX)
    );
    assert_eq!(
        b().tunnel(Tunnel::gue(0)).build().unwrap_err(),
        InvalidError::GueWithoutPort
    );
    assert!(b().tunnel(Tunnel::gue(6080)).build().is_ok());
    let d = b().build().unwrap();
    assert_eq!(d.forward, ForwardMethod::DirectRoute);
    assert_eq!(d.weight, 1);
}

#[test]
fn mixed_family_needs_tunnel() {
    let v4svc = ServiceId::tcp(sa("10.0.0.1:80"));
    let v6dest = || Destination::builder(sa("[fd00::2]:80"));
    assert_eq!(
        v6dest().masquerade().build_for(&v4svc).unwrap_err(),
        InvalidError::MixedFamilyWithoutTunnel
    );
    assert_eq!(
        v6dest().direct_route().build_for(&v4svc).unwrap_err(),
        InvalidError::MixedFamilyWithoutTunnel
    );
    assert!(v6dest().tunnel(Tunnel::ipip()).build_for(&v4svc).is_ok());
    assert!(Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .build_for(&ServiceId::fwmark6(3))
        .is_err());
}

#[test]
fn service_id_text() {
    for (text, id) in [
        ("tcp:10.0.0.1:80", ServiceId::tcp(sa("10.0.0.1:80"))),
        ("udp:[fd00::1]:53", ServiceId::udp(sa("[fd00::1]:53"))),
        ("sctp:10.0.0.1:9", ServiceId::sctp(sa("10.0.0.1:9"))),
        ("fwmark:42", ServiceId::fwmark(42)),
        ("fwmark6:42", ServiceId::fwmark6(42)),
    ] {
        assert_eq!(text.parse::<ServiceId>().unwrap(), id, "{text}");
        assert_eq!(id.to_string(), text);
    }
    assert_eq!(
        "TCP:10.0.0.1:80".parse::<ServiceId>().unwrap(),
        ServiceId::tcp(sa("10.0.0.1:80"))
    );
    for bad in [
        "",
        "tcp",
        "tcp:10.0.0.1",
        "icmp:10.0.0.1:80",
        "fwmark:0",
        "fwmark:x",
        "tcp:[fd00::1]",
    ] {
        assert!(
            matches!(bad.parse::<ServiceId>(), Err(InvalidError::Parse { .. })),
            "{bad:?} must be rejected"
        );
    }
}

#[test]
fn forward_method_text() {
    for (text, m) in [
        ("masq", ForwardMethod::Masquerade),
        ("nat", ForwardMethod::Masquerade),
        ("ipip", ForwardMethod::Tunnel(Tunnel::ipip())),
        ("dr", ForwardMethod::DirectRoute),
        ("route", ForwardMethod::DirectRoute),
        ("local", ForwardMethod::Local),
        ("bypass", ForwardMethod::Bypass),
    ] {
        assert_eq!(text.parse::<ForwardMethod>().unwrap(), m);
    }
    assert!("teleport".parse::<ForwardMethod>().is_err());
    assert_eq!(
        ForwardMethod::Tunnel(Tunnel::gre().remcsum()).to_string(),
        "tunnel gre remcsum"
    );
    assert_eq!("gue".parse::<TunnelType>().unwrap(), TunnelType::Gue);
}

#[test]
fn daemon_rules() {
    assert!(Daemon::builder(DaemonState::Master, "eth0").build().is_ok());
    assert!(Daemon::builder(DaemonState::Master, "").build().is_err());
    assert!(
        Daemon::builder(DaemonState::Master, "an-interface-too-long")
            .build()
            .is_err()
    );
    assert!(Daemon::builder(DaemonState::Backup, "eth0")
        .sync_id(256)
        .build()
        .is_err());
    assert!(Daemon::builder(DaemonState::Backup, "eth0")
        .ttl(0)
        .build()
        .is_err());
    assert!(Daemon::builder(DaemonState::Backup, "eth0")
        .group("10.0.0.1".parse().unwrap())
        .build()
        .is_err());
    assert!(Daemon::builder(DaemonState::Backup, "eth0")
        .group("ff02::81".parse().unwrap())
        .build()
        .is_ok());
    assert_eq!(
        "backup".parse::<DaemonState>().unwrap(),
        DaemonState::Backup
    );
}

#[test]
fn version_text() {
    let v: Version = "1.2.1".parse().unwrap();
    assert_eq!(v, Version(0x010201));
    assert_eq!(v.to_string(), "1.2.1");
    assert!("1.2".parse::<Version>().is_err());
    assert!("1.2.3.4".parse::<Version>().is_err());
    assert!("1.2.256".parse::<Version>().is_err());
}

#[test]
fn service_display_reads_like_a_listing() {
    let svc = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(Scheduler::Sh)
        .sched_flags(SchedFlags::SH_PORT)
        .persistent(60)
        .netmask(Netmask::v4_prefix(24).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        svc.to_string(),
        "tcp:10.0.0.1:80 sh (sh-port) persistent 60 mask 255.255.255.0"
    );
}

#[test]
fn handles_are_send() {
    fn send<T: Send>() {}
    send::<Ipvs>();
    send::<lvs::transport::KernelTransport>();
    send::<Error>();
}
