//! Kernel behaviour worth knowing, one named test each, asserted as observed on the guest's
//! kernels (5.10, 6.1, 6.12 and 7.x). A behaviour that differs between kernels is stated for
//! version ranges in `lvs::Capabilities::expected` (the table the mock's profiles follow),
//! and its test checks the running kernel against what that table says of its version
//! (`common::expected()`), so a kernel update that changes one fails here by name. Raw
//! replies are read through the transport where the model hides a detail (the `HASHED`
//! flag, which attributes a reply carries, command tags).
//!
//! The scenarios the mock models too are written once, in `tests/support/scenarios.rs`,
//! and run here on the guest's kernel (the host suite runs them on every mock profile):
//! `guest::Guest` is the real kernel as their backend, ipvsadm in each namespace its oracle.
//! The rest, below, check what only the real kernel (or ipvsadm) can show.

use lvs::transport::RequestKind;
use lvs::wire::{DestAttr, IpvsCmd, IpvsMessage};
use lvs::{
    Destination, ForwardMethod, Scheduler, Service, ServiceId, Tunnel, TunnelFlags, TunnelType,
};

use crate::common::{assert_lines, expected, kernel_version, lines, raw, sa, Netns};
use crate::scenarios::{dump_one, kinds};

// ---- the shared scenarios, on the guest's kernel (`crate::guest`) --------------------

for_each_scenario!(on_the_guest_kernel);

// ---- the real kernel only -------------------------------------------------------------

/// A fwmark service comes back with `AF` and `FWMARK` and no `PROTOCOL`, `ADDR` or `PORT`
/// (the kernel stores protocol TCP for it internally but does not report it); an address
/// service comes back without `FWMARK`. Both carry both stats sets.
#[test]
fn quirk_fwmark_service_reply_has_no_protocol_address_or_port() {
    let ns = Netns::new("q-fwm-attrs");
    let mut ipvs = ns.ipvs();
    ipvs.add_service(&Service::fwmark6(7).build().unwrap())
        .unwrap();
    let reply = dump_one(&mut ipvs, &IpvsMessage::dump_services());
    assert_eq!(
        kinds(reply.service_attrs().unwrap()),
        [
            "Af",
            "Fwmark",
            "SchedName",
            "Flags",
            "Timeout",
            "Netmask",
            "Stats",
            "Stats64"
        ]
    );
    ipvs.flush().unwrap();

    let tcp = Service::tcp(sa("10.0.0.1:80"))
        .persistent(10)
        .pe(lvs::PersistenceEngine::Sip)
        .build()
        .unwrap();
    ipvs.add_service(&tcp).unwrap();
    let reply = dump_one(&mut ipvs, &IpvsMessage::dump_services());
    assert_eq!(
        kinds(reply.service_attrs().unwrap()),
        [
            "Af",
            "Protocol",
            "Addr",
            "Port",
            "SchedName",
            "PeName",
            "Flags",
            "Timeout",
            "Netmask",
            "Stats",
            "Stats64"
        ]
    );
}

/// Which attributes a destination reply carries: the tunnel attributes come with every
/// destination (zero for a non-tunnel one), and `FWD_METHOD` holds only the forwarding
/// bits, not the kernel's internal connection flags.
#[test]
fn quirk_destination_reply_attributes() {
    let ns = Netns::new("q-dst-attrs");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let d = Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .build()
        .unwrap();
    ipvs.add_destination(&id, &d).unwrap();
    let reply = dump_one(&mut ipvs, &IpvsMessage::dump_dests(&id));
    assert_eq!(reply.cmd, IpvsCmd::NewDest);
    let attrs = reply.dest_attrs().unwrap();
    assert_eq!(
        kinds(attrs),
        [
            "Addr",
            "Port",
            "FwdMethod",
            "Weight",
            "TunType",
            "TunPort",
            "TunFlags",
            "UpperThreshold",
            "LowerThreshold",
            "ActiveConns",
            "InactConns",
            "PersistConns",
            "AddrFamily",
            "Stats",
            "Stats64"
        ]
    );
    assert!(attrs.contains(&DestAttr::FwdMethod(0)), "{attrs:?}");
    assert!(attrs.contains(&DestAttr::TunType(0)));
    assert!(attrs.contains(&DestAttr::TunPort(0)));
    assert!(attrs.contains(&DestAttr::TunFlags(0)));

    // A direct-routing destination: FWD_METHOD 3, no NOOUTPUT (0x200) or INACTIVE bits.
    let dr = Destination::builder(sa("10.0.0.3:80")).build().unwrap();
    ipvs.add_destination(&id, &dr).unwrap();
    let replies = raw(&mut ipvs, &IpvsMessage::dump_dests(&id), RequestKind::Dump).unwrap();
    let fwd: Vec<u32> = replies
        .iter()
        .flat_map(|r| r.dest_attrs().unwrap().iter())
        .filter_map(|a| match a {
            DestAttr::FwdMethod(v) => Some(*v),
            _ => None,
        })
        .collect();
    let mut sorted = fwd.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 3]);
}

/// `twos` (power of two choices) came with kernel 6.7: on older kernels it is missing,
/// ENOENT on add (the library's `SchedulerNotFound`, ipvsadm's "Scheduler or persistence
/// engine not found"); from 6.7 it works both ways.
#[test]
fn quirk_twos_scheduler_only_from_kernel_6_7() {
    let ns = Netns::new("q-twos");
    let mut ipvs = ns.ipvs();
    let s = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(Scheduler::Twos)
        .build()
        .unwrap();
    assert_eq!(
        kernel_version() >= (6, 7),
        expected().has_scheduler(&Scheduler::Twos)
    );
    if kernel_version() >= (6, 7) {
        ipvs.add_service(&s).unwrap();
        assert_lines(&ns.save(), &["-A -t 10.0.0.1:80 -s twos"]);
        ns.ipvsadm(&["-A", "-u", "10.0.0.1:53", "-s", "twos"]);
        assert_eq!(
            ipvs.get_service(&ServiceId::udp(sa("10.0.0.1:53")))
                .unwrap()
                .scheduler,
            Scheduler::Twos
        );
    } else {
        assert_refused!(
            ipvs.add_service(&s),
            SchedulerNotFound,
            libc::ENOENT,
            AddService
        );
        let err = ns.ipvsadm_fails(&["-A", "-u", "10.0.0.1:53", "-s", "twos"]);
        assert_eq!(err, "Scheduler or persistence engine not found");
        assert!(!std::path::Path::new("/sys/module/ip_vs_twos").exists());
    }
}

/// The kernel stores tunnel options that ipvsadm refuses to write (checksum flags on IPIP,
/// remote checksum on GRE, a port on GRE), and ipvsadm shows them as stored.
#[test]
fn quirk_kernel_keeps_tunnel_options_ipvsadm_refuses() {
    let ns = Netns::new("q-tunopts");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    let ipip_csum = Tunnel::ipip().csum();
    let gre_remcsum = Tunnel {
        kind: TunnelType::Gre,
        port: 4754,
        flags: TunnelFlags::REMCSUM,
    };
    for (addr, t) in [("10.0.0.2:80", ipip_csum), ("10.0.0.3:80", gre_remcsum)] {
        let d = Destination::builder(sa(addr)).tunnel(t).build().unwrap();
        ipvs.add_destination(&id, &d).unwrap();
        let back = ipvs.destinations(&id).unwrap();
        let back = back.iter().find(|b| b.socket_addr() == sa(addr)).unwrap();
        assert_eq!(back.forward, ForwardMethod::Tunnel(t));
    }
    assert_eq!(
        ns.ipvsadm_fails(&[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.0.0.4:80",
            "-i",
            "--tun-type",
            "ipip",
            "--tun-csum"
        ]),
        "Illegal 'tun-csum' option with the 'ipip' tunnel type"
    );
    assert_eq!(
        ns.ipvsadm_fails(&[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "10.0.0.4:80",
            "-i",
            "--tun-type",
            "gre",
            "--tun-remcsum"
        ]),
        "Illegal 'tun-remcsum' option with the 'gre' tunnel type"
    );
    assert_lines(
        &ns.listing(&["--tun-info"]),
        &[
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 Tunnel ipip 1 0 0",
            "-> 10.0.0.3:80 Tunnel gre:r+c 1 0 0",
        ],
    );
}

/// The kernel takes what ipvsadm and the builder refuse on a service: port 0 without
/// persistence, one-packet scheduling on TCP.
#[test]
fn quirk_kernel_accepts_service_values_ipvsadm_refuses() {
    let ns = Netns::new("q-svcvals");
    let mut ipvs = ns.ipvs();
    let mut port0 = Service::tcp(sa("10.0.0.1:0"))
        .persistent(10)
        .build()
        .unwrap();
    port0.persistence = None;
    raw(
        &mut ipvs,
        &IpvsMessage::new_service(&port0),
        RequestKind::Do,
    )
    .expect("port 0 without persistence");
    let mut ops_tcp = Service::udp(sa("10.0.0.1:80"))
        .one_packet()
        .build()
        .unwrap();
    ops_tcp.id = ServiceId::tcp(sa("10.0.0.1:80"));
    raw(
        &mut ipvs,
        &IpvsMessage::new_service(&ops_tcp),
        RequestKind::Do,
    )
    .expect("one-packet on TCP");
    assert_lines(
        &ns.listing(&[]),
        &["TCP 10.0.0.1:0 wlc", "TCP 10.0.0.1:80 wlc ops"],
    );
    let back = ipvs.get_service(&ops_tcp.id).unwrap();
    assert!(back.one_packet);
}

/// The local-node forwarding code (1) is stored and listed as `Local`; ipvsadm has no
/// option to write it.
#[test]
fn quirk_local_forwarding_is_stored() {
    let ns = Netns::new("q-local");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    let d = Destination::builder(sa("10.0.0.2:80"))
        .forward(ForwardMethod::Local)
        .build()
        .unwrap();
    ipvs.add_destination(&id, &d).unwrap();
    assert_eq!(
        ipvs.destinations(&id).unwrap()[0].forward,
        ForwardMethod::Local
    );
    assert_lines(
        &ns.listing(&[]),
        &["TCP 10.0.0.1:80 rr", "-> 10.0.0.2:80 Local 1 0 0"],
    );
}

/// The kernel stores any forwarding code (it masks the value to 3 bits: bypass 4, and the
/// unnamed 5 to 7), any tunnel type code and both checksum flags at once; the library reads
/// them back as written. ipvsadm 1.31 cannot show them: `-L` prints `(null)`, and `-S`
/// crashes (SIGSEGV) on such a table.
#[test]
fn quirk_kernel_stores_forwarding_and_tunnel_codes_ipvsadm_cannot_show() {
    use std::os::unix::process::ExitStatusExt;

    let ns = Netns::new("q-fwdcodes");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    let odd = [
        ("10.0.0.2:80", ForwardMethod::Bypass),
        ("10.0.0.3:80", ForwardMethod::Other(6)),
        (
            "10.0.0.4:80",
            ForwardMethod::Tunnel(Tunnel {
                kind: TunnelType::Other(7),
                port: 5,
                flags: TunnelFlags::empty(),
            }),
        ),
        (
            "10.0.0.5:80",
            ForwardMethod::Tunnel(Tunnel {
                kind: TunnelType::Gue,
                port: 5,
                flags: TunnelFlags::CSUM | TunnelFlags::REMCSUM,
            }),
        ),
    ];
    for (addr, forward) in odd {
        let d = Destination::builder(sa(addr))
            .forward(forward)
            .build()
            .unwrap();
        ipvs.add_destination(&id, &d).unwrap();
    }
    let back = ipvs.destinations(&id).unwrap();
    for (addr, forward) in odd {
        let d = back.iter().find(|d| d.socket_addr() == sa(addr)).unwrap();
        assert_eq!(d.forward, forward, "{addr}");
    }
    assert_lines(
        &ns.listing(&["--tun-info"]),
        &[
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 (null) n/a 1 0 0",
            "-> 10.0.0.3:80 (null) n/a 1 0 0",
            "-> 10.0.0.4:80 Tunnel n/a 1 0 0",
            "-> 10.0.0.5:80 Tunnel gue:5:(null) 1 0 0",
        ],
    );
    let save = ns.exec("ipvsadm", &["-S", "-n"]);
    assert_eq!(save.status.signal(), Some(libc::SIGSEGV), "{save:?}");
}

/// What `Ipvs::capabilities` probes on the running kernel is what the crate's table of
/// kernel facts says of its version (`Capabilities::expected`, which the mock's profiles
/// follow), field by field: a kernel update that changes one of them fails here by name.
/// The guest has every scheduler module of its kernel, and IPv6.
#[test]
fn capabilities_probe_matches_the_table_of_kernel_facts() {
    let ns = Netns::new("q-caps");
    let mut ipvs = ns.ipvs();
    let got = ipvs.capabilities().unwrap();
    let want = expected();
    assert_eq!(got.kernel, Some(crate::common::running()));
    assert_eq!(got.schedulers, want.schedulers, "schedulers");
    assert_eq!(
        got.persistence_engines, want.persistence_engines,
        "persistence engines"
    );
    assert_eq!(got.tunnel_types, want.tunnel_types, "tunnel types");
    assert_eq!(
        got.mixed_family_destinations,
        want.mixed_family_destinations
    );
    assert_eq!(
        got.max_upper_threshold, want.max_upper_threshold,
        "upper threshold"
    );
    assert_eq!(got.conn_table, want.conn_table, "connection table");
    assert_eq!(got.ipv6, want.ipv6);
    assert_eq!(got, want);
    // The probe left the handle's table alone, and ipvsadm's header agrees on the size
    // (once the namespace uses IPVS: see quirk_conn_table_per_namespace).
    assert_eq!(ipvs.services().unwrap(), []);
    ipvs.add_service(&Service::tcp(sa("10.0.0.1:80")).build().unwrap())
        .unwrap();
    let header = lines(&ns.ipvsadm(&["-L", "-n"]));
    assert!(
        header[0].ends_with(&format!("(size={})", got.conn_table.size)),
        "{header:?}"
    );
}

/// The order of a service dump (`Capabilities::service_order`). Up to 6.x it follows the
/// address and fwmark tables' 256 buckets, seeded by 8 bits of the namespace's kernel
/// address: reproducible, and the same for the same services added in the same order within
/// one namespace (the differential suite finds the seed and compares orders exactly). On
/// 7.x one resizable table with a random seed per namespace: three namespaces given the same
/// 40 services in the same order list them in different orders (40! orders: equal by
/// chance with negligible probability).
#[test]
fn quirk_service_dump_order() {
    let ids: Vec<ServiceId> = (1..=40)
        .map(|i| ServiceId::tcp(sa(&format!("10.0.1.{i}:80"))))
        .collect();
    let mut orders = Vec::new();
    for _ in 0..3 {
        let ns = Netns::new("q-order");
        let mut ipvs = ns.ipvs();
        for id in &ids {
            ipvs.add_service(&Service::builder(*id).build().unwrap())
                .unwrap();
        }
        let order: Vec<ServiceId> = ipvs.services().unwrap().iter().map(|s| s.id).collect();
        let mut sorted = order.clone();
        sorted.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(sorted, want, "every service, once");
        orders.push(order);
    }
    let distinct = orders
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    match expected().service_order {
        lvs::ServiceOrder::Random => assert!(distinct > 1, "{orders:?}"),
        lvs::ServiceOrder::Buckets => {
            // Each namespace's order is the mock's for one of the 256 seeds.
            let mock_orders: Vec<Vec<ServiceId>> = (0..=255u8)
                .map(|seed| {
                    let mut mock = lvs::Ipvs::with_transport(
                        lvs::transport::MockKernel::builder()
                            .kernel(crate::common::running())
                            .hash_seed(seed)
                            .build(),
                    );
                    for id in &ids {
                        mock.add_service(&Service::builder(*id).build().unwrap())
                            .unwrap();
                    }
                    mock.services().unwrap().iter().map(|s| s.id).collect()
                })
                .collect();
            for o in &orders {
                assert!(mock_orders.contains(o), "no seed reproduces {o:?}");
            }
        }
    }
}
