//! Services, both directions: the library writes and ipvsadm reads (`-S -n` lines and the
//! `-L -n` listing), ipvsadm writes and the library reads typed values.

use std::net::Ipv4Addr;

use lvs::{
    Netmask, Persistence, PersistenceEngine, Protocol, SchedFlags, Scheduler, Service, ServiceId,
};

use crate::common::{assert_lines, assert_same_service, sa, Netns};

fn build(b: lvs::ServiceBuilder) -> Service {
    b.build().expect("a valid service")
}

/// Add `services` through the library, then check each reads back from the library as
/// written, from the dump and from a single `GET_SERVICE`.
fn add_and_read_back(ipvs: &mut crate::common::Handle, services: &[Service]) {
    for s in services {
        ipvs.add_service(s)
            .unwrap_or_else(|e| panic!("add {s}: {e:?}"));
    }
    let dumped = ipvs.services().expect("services()");
    assert_eq!(dumped.len(), services.len(), "{dumped:#?}");
    for want in services {
        let got = dumped
            .iter()
            .find(|s| s.id == want.id)
            .unwrap_or_else(|| panic!("{} missing from the dump", want.id));
        assert_same_service(got, want);
        assert_same_service(&ipvs.get_service(&want.id).expect("get_service"), want);
    }
}

#[test]
fn every_kind_of_service_library_writes_ipvsadm_reads() {
    let ns = Netns::new("svc-kinds");
    let mut ipvs = ns.ipvs();
    let services = [
        build(Service::tcp(sa("10.0.0.1:80")).scheduler(Scheduler::Rr)),
        build(Service::udp(sa("10.0.0.1:53")).scheduler(Scheduler::Wlc)),
        build(Service::sctp(sa("10.0.0.1:9")).scheduler(Scheduler::Lc)),
        build(Service::tcp(sa("[fd00::1]:443")).scheduler(Scheduler::Wrr)),
        build(Service::udp(sa("[fd00::1]:53")).scheduler(Scheduler::Sed)),
        build(Service::sctp(sa("[fd00::1]:9")).scheduler(Scheduler::Nq)),
        build(Service::fwmark(42).scheduler(Scheduler::Dh)),
        build(Service::fwmark6(43).scheduler(Scheduler::Sh)),
    ];
    add_and_read_back(&mut ipvs, &services);
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-A -u 10.0.0.1:53 -s wlc",
            "-A --sctp-service 10.0.0.1:9 -s lc",
            "-A -t [fd00::1]:443 -s wrr",
            "-A -u [fd00::1]:53 -s sed",
            "-A --sctp-service [fd00::1]:9 -s nq",
            "-A -f 42 -s dh",
            "-A -f 43 -6 -s sh",
        ],
    );
    assert_lines(
        &ns.listing(&[]),
        &[
            "TCP 10.0.0.1:80 rr",
            "UDP 10.0.0.1:53 wlc",
            "SCTP 10.0.0.1:9 lc",
            "TCP [fd00::1]:443 wrr",
            "UDP [fd00::1]:53 sed",
            "SCTP [fd00::1]:9 nq",
            "FWM 42 dh",
            "FWM 43 IPv6 sh",
        ],
    );
}

#[test]
fn every_kind_of_service_ipvsadm_writes_library_reads() {
    let ns = Netns::new("svc-kinds-r");
    ns.ipvsadm_lines(&[
        "-A -t 10.0.0.1:80 -s rr",
        "-A -u 10.0.0.1:53",
        "-A --sctp-service 10.0.0.1:9 -s lc",
        "-A -t [fd00::1]:443 -s wrr",
        "-A -u [fd00::1]:53 -s sed",
        "-A --sctp-service [fd00::1]:9 -s nq",
        "-A -f 42 -s dh",
        "-A -f 43 -6 -s sh",
    ]);
    let mut ipvs = ns.ipvs();
    let got = ipvs.services().unwrap();
    let find = |id: ServiceId| {
        got.iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{id} missing: {got:#?}"))
            .clone()
    };
    let expect = [
        (ServiceId::tcp(sa("10.0.0.1:80")), Scheduler::Rr),
        // ipvsadm's default scheduler
        (ServiceId::udp(sa("10.0.0.1:53")), Scheduler::Wlc),
        (ServiceId::sctp(sa("10.0.0.1:9")), Scheduler::Lc),
        (ServiceId::tcp(sa("[fd00::1]:443")), Scheduler::Wrr),
        (ServiceId::udp(sa("[fd00::1]:53")), Scheduler::Sed),
        (ServiceId::sctp(sa("[fd00::1]:9")), Scheduler::Nq),
        (ServiceId::fwmark(42), Scheduler::Dh),
        (ServiceId::fwmark6(43), Scheduler::Sh),
    ];
    assert_eq!(got.len(), expect.len());
    for (id, sched) in expect {
        for s in [find(id), ipvs.get_service(&id).unwrap()] {
            assert_eq!(s.id, id);
            assert_eq!(s.scheduler, sched, "{id}");
            assert_eq!(s.sched_flags, SchedFlags::empty());
            assert_eq!(s.persistence, None);
            assert!(!s.one_packet);
            assert_eq!(s.pe, None);
            assert_eq!(s.raw_netmask, None, "ipvsadm writes the full netmask");
            assert_eq!(s.raw_timeout, 0);
            assert_eq!(s.stats, Some(lvs::Stats::default()));
        }
    }
    // Typed identity details.
    let v6 = find(ServiceId::sctp(sa("[fd00::1]:9")));
    assert_eq!(v6.id.protocol(), Some(Protocol::Sctp));
    assert_eq!(v6.id.af(), lvs::AddressFamily::Inet6);
    assert_eq!(find(ServiceId::fwmark6(43)).id.fwmark_value(), Some(43));
}

/// Every scheduler the kernel ships, both ways. `twos` exists from kernel 6.7 only: see
/// `quirks::quirk_twos_scheduler_only_from_kernel_6_7`, which checks it on every kernel.
#[test]
fn every_scheduler_both_directions() {
    let ns = Netns::new("sched");
    let mut ipvs = ns.ipvs();
    let schedulers: Vec<Scheduler> = Scheduler::ALL
        .iter()
        .filter(|s| **s != Scheduler::Twos)
        .cloned()
        .collect();
    assert_eq!(schedulers.len(), 13);

    // The library writes, ipvsadm reads.
    let mut want_save = Vec::new();
    for (i, sched) in schedulers.iter().enumerate() {
        let addr = format!("10.0.1.{}:80", i + 1);
        let svc = build(Service::tcp(sa(&addr)).scheduler(sched.clone()));
        ipvs.add_service(&svc)
            .unwrap_or_else(|e| panic!("scheduler {sched}: {e:?}"));
        want_save.push(format!("-A -t {addr} -s {sched}"));
    }
    let want: Vec<&str> = want_save.iter().map(String::as_str).collect();
    assert_lines(&ns.save(), &want);

    // ipvsadm writes, the library reads.
    ns.ipvsadm(&["-C"]);
    for (i, sched) in schedulers.iter().enumerate() {
        let addr = format!("10.0.2.{}:53", i + 1);
        ns.ipvsadm(&["-A", "-u", &addr, "-s", sched.name()]);
        let got = ipvs.get_service(&ServiceId::udp(sa(&addr))).unwrap();
        assert_eq!(&got.scheduler, sched);
    }
    assert_eq!(ipvs.services().unwrap().len(), schedulers.len());
}

#[test]
fn scheduler_flags_library_writes_ipvsadm_reads() {
    let ns = Netns::new("schedflags");
    let mut ipvs = ns.ipvs();
    let services = [
        build(
            Service::udp(sa("10.0.0.1:53"))
                .scheduler(Scheduler::Sh)
                .sched_flags(SchedFlags::SH_FALLBACK | SchedFlags::SH_PORT),
        ),
        build(
            Service::tcp(sa("10.0.0.1:80"))
                .scheduler(Scheduler::Sh)
                .sched_flags(SchedFlags::SH_FALLBACK),
        ),
        build(
            Service::sctp(sa("10.0.0.1:9"))
                .scheduler(Scheduler::Mh)
                .sched_flags(SchedFlags::MH_FALLBACK | SchedFlags::MH_PORT),
        ),
        build(
            Service::tcp(sa("10.0.0.1:81"))
                .scheduler(Scheduler::Mh)
                .sched_flags(SchedFlags::MH_PORT),
        ),
        build(
            Service::tcp(sa("10.0.0.1:82"))
                .scheduler(Scheduler::Rr)
                .sched_flags(SchedFlags::FLAG_3),
        ),
        build(
            Service::fwmark6(43)
                .scheduler(Scheduler::Sh)
                .sched_flags(SchedFlags::SH_PORT),
        ),
    ];
    add_and_read_back(&mut ipvs, &services);
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s sh -b sh-fallback",
            "-A -t 10.0.0.1:81 -s mh -b mh-port",
            "-A -t 10.0.0.1:82 -s rr -b flag-3",
            "-A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port",
            "-A --sctp-service 10.0.0.1:9 -s mh -b mh-fallback,mh-port",
            "-A -f 43 -6 -s sh -b sh-port",
        ],
    );
    assert_lines(
        &ns.listing(&[]),
        &[
            "TCP 10.0.0.1:80 sh (sh-fallback)",
            "TCP 10.0.0.1:81 mh (mh-port)",
            "TCP 10.0.0.1:82 rr (flag-3)",
            "UDP 10.0.0.1:53 sh (sh-fallback,sh-port)",
            "SCTP 10.0.0.1:9 mh (mh-fallback,mh-port)",
            "FWM 43 IPv6 sh (sh-port)",
        ],
    );
}

#[test]
fn scheduler_flags_ipvsadm_writes_library_reads() {
    let ns = Netns::new("schedflags-r");
    ns.ipvsadm_lines(&[
        "-A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port",
        "-A --sctp-service 10.0.0.1:9 -s mh -b mh-fallback,mh-port",
        "-A -t 10.0.0.1:82 -s wlc -b flag-3",
        "-A -f 43 -6 -s mh -b mh-port",
    ]);
    let mut ipvs = ns.ipvs();
    let flags = |ipvs: &mut crate::common::Handle, id: ServiceId| {
        ipvs.get_service(&id).unwrap().sched_flags
    };
    assert_eq!(
        flags(&mut ipvs, ServiceId::udp(sa("10.0.0.1:53"))),
        SchedFlags::SH_FALLBACK | SchedFlags::SH_PORT
    );
    assert_eq!(
        flags(&mut ipvs, ServiceId::sctp(sa("10.0.0.1:9"))),
        SchedFlags::MH_FALLBACK | SchedFlags::MH_PORT
    );
    assert_eq!(
        flags(&mut ipvs, ServiceId::tcp(sa("10.0.0.1:82"))),
        SchedFlags::FLAG_3
    );
    assert_eq!(
        flags(&mut ipvs, ServiceId::fwmark6(43)),
        SchedFlags::MH_PORT
    );
    // The flag bits are modelled, not left in `other_flags`.
    for s in ipvs.services().unwrap() {
        assert_eq!(
            s.other_flags - lvs::ServiceFlags::HASHED,
            lvs::ServiceFlags::empty(),
            "{s:?}"
        );
    }
}

#[test]
fn persistence_library_writes_ipvsadm_reads() {
    let ns = Netns::new("persist");
    let mut ipvs = ns.ipvs();
    let services = [
        build(
            Service::tcp(sa("10.0.0.1:443"))
                .scheduler(Scheduler::Wrr)
                .persistent(300)
                .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))),
        ),
        build(
            Service::tcp(sa("[fd00::1]:443"))
                .scheduler(Scheduler::Wlc)
                .persistent(300)
                .netmask(Netmask::V6(64)),
        ),
        // Port 0 (all ports) needs persistence; `-p` alone is 360 s.
        build(
            Service::tcp(sa("10.0.0.1:0"))
                .scheduler(Scheduler::Rr)
                .persistent_default(),
        ),
        build(
            Service::udp(sa("10.0.0.1:5060"))
                .scheduler(Scheduler::Rr)
                .persistent(60)
                .pe(PersistenceEngine::Sip),
        ),
        build(
            Service::fwmark6(45)
                .scheduler(Scheduler::Rr)
                .persistent(10)
                .netmask(Netmask::V6(48))
                .pe(PersistenceEngine::Sip),
        ),
        build(
            Service::fwmark(46)
                .scheduler(Scheduler::Lblc)
                .persistent(Persistence::MAX_TIMEOUT),
        ),
    ];
    add_and_read_back(&mut ipvs, &services);
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:0 -s rr -p 360",
            "-A -t 10.0.0.1:443 -s wrr -p 300 -M 255.255.255.0",
            "-A -u 10.0.0.1:5060 -s rr -p 60 --pe sip",
            "-A -t [fd00::1]:443 -s wlc -p 300 -M 64",
            "-A -f 45 -6 -s rr -p 10 -M 48 --pe sip",
            "-A -f 46 -s lblc -p 2678400",
        ],
    );
    assert_lines(
        &ns.listing(&[]),
        &[
            "TCP 10.0.0.1:0 rr persistent 360",
            "TCP 10.0.0.1:443 wrr persistent 300 mask 255.255.255.0",
            "UDP 10.0.0.1:5060 rr persistent 60 pe sip",
            "TCP [fd00::1]:443 wlc persistent 300 mask 64",
            "FWM 45 IPv6 rr persistent 10 mask 48 pe sip",
            "FWM 46 lblc persistent 2678400",
        ],
    );
}

#[test]
fn persistence_ipvsadm_writes_library_reads() {
    let ns = Netns::new("persist-r");
    ns.ipvsadm_lines(&[
        "-A -t 10.0.0.1:443 -s wrr -p 300 -M 255.255.255.0",
        "-A -t [fd00::1]:443 -s wlc -p 300 -M 64",
        "-A -t 10.0.0.1:0 -s rr -p",
        "-A -u 10.0.0.1:5060 -s rr -p 60 --pe sip",
        "-A -f 45 -6 -p 10 -M 48",
    ]);
    let mut ipvs = ns.ipvs();
    let mut get = |id: &str| ipvs.get_service(&id.parse().unwrap()).unwrap();

    let s = get("tcp:10.0.0.1:443");
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout: 300,
            netmask: Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)),
        })
    );
    assert_eq!(s.persistence.unwrap().netmask.prefix_len(), Some(24));
    assert_eq!(s.pe, None);

    let s = get("tcp:[fd00::1]:443");
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout: 300,
            netmask: Netmask::V6(64),
        })
    );

    let s = get("tcp:10.0.0.1:0");
    assert_eq!(s.id.addr().unwrap().port(), 0);
    assert_eq!(
        s.persistence,
        Some(Persistence::new(360, lvs::AddressFamily::Inet))
    );

    let s = get("udp:10.0.0.1:5060");
    assert_eq!(s.persistence.unwrap().timeout, 60);
    assert_eq!(s.pe, Some(PersistenceEngine::Sip));

    let s = get("fwmark6:45");
    assert_eq!(s.scheduler, Scheduler::Wlc);
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout: 10,
            netmask: Netmask::V6(48),
        })
    );
}

#[test]
fn one_packet_scheduling_both_directions() {
    let ns = Netns::new("ops");
    let mut ipvs = ns.ipvs();
    let services = [
        build(
            Service::udp(sa("10.0.0.1:53"))
                .scheduler(Scheduler::Rr)
                .one_packet(),
        ),
        build(
            Service::udp(sa("[fd00::1]:53"))
                .scheduler(Scheduler::Rr)
                .persistent(100)
                .one_packet(),
        ),
        build(Service::fwmark(44).scheduler(Scheduler::Rr).one_packet()),
    ];
    add_and_read_back(&mut ipvs, &services);
    assert_lines(
        &ns.save(),
        &[
            "-A -u 10.0.0.1:53 -s rr -o",
            "-A -u [fd00::1]:53 -s rr -p 100 -o",
            "-A -f 44 -s rr -o",
        ],
    );
    assert_lines(
        &ns.listing(&[]),
        &[
            "UDP 10.0.0.1:53 rr ops",
            "UDP [fd00::1]:53 rr persistent 100 ops",
            "FWM 44 rr ops",
        ],
    );

    ns.ipvsadm(&["-A", "-u", "10.0.0.2:53", "-s", "sh", "-o", "-b", "sh-port"]);
    let s = ipvs
        .get_service(&ServiceId::udp(sa("10.0.0.2:53")))
        .unwrap();
    assert!(s.one_packet);
    assert_eq!(s.sched_flags, SchedFlags::SH_PORT);
    assert_eq!(s.to_string(), "udp:10.0.0.2:53 sh (sh-port) ops");
}

#[test]
fn update_service_library_writes_ipvsadm_reads() {
    let ns = Netns::new("svc-edit");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    let first = build(Service::builder(id).scheduler(Scheduler::Rr));
    ipvs.add_service(&first).unwrap();

    // Scheduler, persistence and netmask replaced.
    let second = build(
        Service::builder(id)
            .scheduler(Scheduler::Wlc)
            .persistent(120)
            .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 0, 0))),
    );
    ipvs.update_service(&second).unwrap();
    assert_lines(
        &ns.save(),
        &["-A -t 10.0.0.1:80 -s wlc -p 120 -M 255.255.0.0"],
    );
    assert_same_service(&ipvs.get_service(&id).unwrap(), &second);

    // Persistence dropped, scheduler flags added: nothing of the previous state remains.
    let third = build(
        Service::builder(id)
            .scheduler(Scheduler::Sh)
            .sched_flags(SchedFlags::SH_PORT),
    );
    ipvs.update_service(&third).unwrap();
    assert_lines(&ns.save(), &["-A -t 10.0.0.1:80 -s sh -b sh-port"]);
    assert_lines(&ns.listing(&[]), &["TCP 10.0.0.1:80 sh (sh-port)"]);
    assert_same_service(&ipvs.get_service(&id).unwrap(), &third);

    // One-packet on and off, persistence engine on a UDP service.
    let udp = ServiceId::udp(sa("10.0.0.1:5060"));
    ipvs.add_service(&build(Service::builder(udp).one_packet()))
        .unwrap();
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s sh -b sh-port",
            "-A -u 10.0.0.1:5060 -s wlc -o",
        ],
    );
    let sip = build(
        Service::builder(udp)
            .scheduler(Scheduler::Rr)
            .persistent(30)
            .pe(PersistenceEngine::Sip),
    );
    ipvs.update_service(&sip).unwrap();
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s sh -b sh-port",
            "-A -u 10.0.0.1:5060 -s rr -p 30 --pe sip",
        ],
    );
    assert_same_service(&ipvs.get_service(&udp).unwrap(), &sip);
}

#[test]
fn update_service_ipvsadm_writes_library_reads() {
    let ns = Netns::new("svc-edit-r");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::fwmark6(7);
    ipvs.add_service(&build(Service::builder(id).scheduler(Scheduler::Rr)))
        .unwrap();
    ns.ipvsadm(&[
        "-E",
        "-f",
        "7",
        "-6",
        "-s",
        "mh",
        "-b",
        "mh-fallback",
        "-p",
        "50",
        "-M",
        "96",
    ]);
    let got = ipvs.get_service(&id).unwrap();
    assert_eq!(got.scheduler, Scheduler::Mh);
    assert_eq!(got.sched_flags, SchedFlags::MH_FALLBACK);
    assert_eq!(
        got.persistence,
        Some(Persistence {
            timeout: 50,
            netmask: Netmask::V6(96),
        })
    );
    ns.ipvsadm(&["-E", "-f", "7", "-6", "-s", "lc"]);
    let got = ipvs.get_service(&id).unwrap();
    assert_eq!(got.scheduler, Scheduler::Lc);
    assert_eq!(got.sched_flags, SchedFlags::empty());
    assert_eq!(got.persistence, None);
}

#[test]
fn delete_service_both_directions() {
    let ns = Netns::new("svc-del");
    let mut ipvs = ns.ipvs();
    let a = build(Service::tcp(sa("10.0.0.1:80")));
    let b = build(Service::fwmark6(9));
    let c = build(Service::sctp(sa("[fd00::1]:9")));
    for s in [&a, &b, &c] {
        ipvs.add_service(s).unwrap();
    }
    // A service goes with its destinations.
    let d = lvs::Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .build()
        .unwrap();
    ipvs.add_destination(&a.id, &d).unwrap();

    ipvs.delete_service(&a.id).unwrap();
    assert_lines(
        &ns.save(),
        &["-A --sctp-service [fd00::1]:9 -s wlc", "-A -f 9 -6 -s wlc"],
    );
    ipvs.delete_service(&b.id).unwrap();
    assert_lines(&ns.save(), &["-A --sctp-service [fd00::1]:9 -s wlc"]);

    ns.ipvsadm(&["-D", "--sctp-service", "[fd00::1]:9"]);
    assert_eq!(ipvs.services().unwrap(), vec![]);
    assert_eq!(ipvs.table().unwrap(), vec![]);
}

/// A table larger than one dump datagram (the kernel fills at most a page or 32 KiB per
/// datagram): every service comes back exactly once.
#[test]
fn many_services_span_several_dump_datagrams() {
    let ns = Netns::new("svc-many");
    let mut ipvs = ns.ipvs();
    let n = 600u16;
    for i in 0..n {
        let addr = format!("10.{}.{}.1:{}", 1 + i / 200, i % 200, 1000 + i);
        let s = build(Service::tcp(sa(&addr)).scheduler(Scheduler::Rr));
        ipvs.add_service(&s).unwrap();
    }
    let got = ipvs.services().unwrap();
    assert_eq!(got.len(), usize::from(n));
    let mut ids: Vec<ServiceId> = got.iter().map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), usize::from(n), "a service came back twice");
    assert_eq!(ns.save().len(), usize::from(n));
}
