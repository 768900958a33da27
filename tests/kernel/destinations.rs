//! Destinations (real servers), both directions: every forwarding method, every tunnel type
//! and checksum option, weights 0, 1 and 65535, thresholds, mixed address families through
//! tunnels, fwmark services, edit and delete.

use lvs::{
    Destination, ForwardMethod, Scheduler, Service, ServiceId, Tunnel, TunnelFlags, TunnelType,
};

use crate::common::{assert_lines, sa, Netns};

fn dest(addr: &str) -> lvs::DestinationBuilder {
    Destination::builder(sa(addr))
}

/// Find the destination at `addr` in a list read back from the library.
#[track_caller]
fn find<'a>(dests: &'a [Destination], addr: &str) -> &'a Destination {
    let addr = sa(addr);
    dests
        .iter()
        .find(|d| d.socket_addr() == addr)
        .unwrap_or_else(|| panic!("{addr} missing from {dests:#?}"))
}

/// Add `dests` to `id` through the library and check they read back as written.
fn add_and_read_back(ipvs: &mut crate::common::Handle, id: &ServiceId, dests: &[Destination]) {
    for d in dests {
        ipvs.add_destination(id, d)
            .unwrap_or_else(|e| panic!("add {d}: {e:?}"));
    }
    let got = ipvs.destinations(id).unwrap();
    assert_eq!(got.len(), dests.len(), "{got:#?}");
    for want in dests {
        let back = find(&got, &want.socket_addr().to_string());
        assert!(
            back.same_config(want),
            "destination read back differs\n  got:  {back:?}\n  want: {want:?}"
        );
        assert_eq!(back.counters, Some(lvs::DestCounters::default()));
        assert_eq!(back.stats, Some(lvs::Stats::default()));
    }
}

fn svc_rr(ipvs: &mut crate::common::Handle, id: ServiceId) {
    let s = Service::builder(id)
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap();
    ipvs.add_service(&s).unwrap();
}

#[test]
fn forwarding_methods_and_tunnels_library_writes_ipvsadm_reads() {
    let ns = Netns::new("dst-fwd");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    svc_rr(&mut ipvs, id);
    let dests = [
        dest("10.0.0.2:80").masquerade().weight(1).build().unwrap(),
        dest("10.0.0.3:80")
            .direct_route()
            .weight(0)
            .build()
            .unwrap(),
        dest("10.0.0.4:80")
            .tunnel(Tunnel::ipip())
            .weight(65535)
            .upper_threshold(100)
            .lower_threshold(50)
            .build()
            .unwrap(),
        dest("10.0.0.5:80")
            .tunnel(Tunnel::gue(6080).csum())
            .build()
            .unwrap(),
        dest("10.0.0.6:80")
            .tunnel(Tunnel::gue(6081).remcsum())
            .build()
            .unwrap(),
        dest("10.0.0.7:80")
            .tunnel(Tunnel::gue(6082))
            .build()
            .unwrap(),
        dest("10.0.0.8:80")
            .tunnel(Tunnel::gre().csum())
            .weight(7)
            .build()
            .unwrap(),
        dest("10.0.0.9:80")
            .tunnel(Tunnel::gre())
            .upper_threshold(10)
            .build()
            .unwrap(),
    ];
    add_and_read_back(&mut ipvs, &id, &dests);

    // ipvsadm -S does not save thresholds: --thresholds below shows them.
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1",
            "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 0",
            "-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 65535 --tun-type ipip",
            "-a -t 10.0.0.1:80 -r 10.0.0.5:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum",
            "-a -t 10.0.0.1:80 -r 10.0.0.6:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-remcsum",
            "-a -t 10.0.0.1:80 -r 10.0.0.7:80 -i -w 1 --tun-type gue --tun-port 6082 --tun-nocsum",
            "-a -t 10.0.0.1:80 -r 10.0.0.8:80 -i -w 7 --tun-type gre --tun-csum",
            "-a -t 10.0.0.1:80 -r 10.0.0.9:80 -i -w 1 --tun-type gre --tun-nocsum",
        ],
    );
    assert_lines(
        &ns.listing(&[]),
        &[
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 Masq 1 0 0",
            "-> 10.0.0.3:80 Route 0 0 0",
            "-> 10.0.0.4:80 Tunnel 65535 0 0",
            "-> 10.0.0.5:80 Tunnel 1 0 0",
            "-> 10.0.0.6:80 Tunnel 1 0 0",
            "-> 10.0.0.7:80 Tunnel 1 0 0",
            "-> 10.0.0.8:80 Tunnel 7 0 0",
            "-> 10.0.0.9:80 Tunnel 1 0 0",
        ],
    );
    assert_lines(
        &ns.listing(&["--tun-info"]),
        &[
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 Masq n/a 1 0 0",
            "-> 10.0.0.3:80 Route n/a 0 0 0",
            "-> 10.0.0.4:80 Tunnel ipip 65535 0 0",
            "-> 10.0.0.5:80 Tunnel gue:6080:+c 1 0 0",
            // ipvsadm shows remote checksum offload as "r+c".
            "-> 10.0.0.6:80 Tunnel gue:6081:r+c 1 0 0",
            "-> 10.0.0.7:80 Tunnel gue:6082:-c 1 0 0",
            "-> 10.0.0.8:80 Tunnel gre:+c 7 0 0",
            "-> 10.0.0.9:80 Tunnel gre:-c 1 0 0",
        ],
    );
    assert_lines(
        &ns.listing(&["--thresholds"]),
        &[
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 0 0 0 0",
            "-> 10.0.0.3:80 0 0 0 0",
            "-> 10.0.0.4:80 100 50 0 0",
            "-> 10.0.0.5:80 0 0 0 0",
            "-> 10.0.0.6:80 0 0 0 0",
            "-> 10.0.0.7:80 0 0 0 0",
            "-> 10.0.0.8:80 0 0 0 0",
            "-> 10.0.0.9:80 10 0 0 0",
        ],
    );
    assert_lines(
        &ns.listing(&["--persistent-conn"]),
        &[
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 1 0 0 0",
            "-> 10.0.0.3:80 0 0 0 0",
            "-> 10.0.0.4:80 65535 0 0 0",
            "-> 10.0.0.5:80 1 0 0 0",
            "-> 10.0.0.6:80 1 0 0 0",
            "-> 10.0.0.7:80 1 0 0 0",
            "-> 10.0.0.8:80 7 0 0 0",
            "-> 10.0.0.9:80 1 0 0 0",
        ],
    );
}

#[test]
fn forwarding_methods_and_tunnels_ipvsadm_writes_library_reads() {
    let ns = Netns::new("dst-fwd-r");
    ns.ipvsadm_lines(&[
        "-A -t 10.0.0.1:80 -s rr",
        "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1",
        "-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 0",
        "-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 65535 -x 100 -y 50",
        "-a -t 10.0.0.1:80 -r 10.0.0.5:80 -i --tun-type gue --tun-port 6080 --tun-csum",
        "-a -t 10.0.0.1:80 -r 10.0.0.6:80 -i --tun-type gue --tun-port 6081 --tun-remcsum",
        "-a -t 10.0.0.1:80 -r 10.0.0.7:80 -i --tun-type gue --tun-port 6082 --tun-nocsum",
        "-a -t 10.0.0.1:80 -r 10.0.0.8:80 -i --tun-type gre --tun-csum -w 7",
        "-a -t 10.0.0.1:80 -r 10.0.0.9:80 -i --tun-type gre -x 10",
    ]);
    let mut ipvs = ns.ipvs();
    let got = ipvs
        .destinations(&ServiceId::tcp(sa("10.0.0.1:80")))
        .unwrap();
    assert_eq!(got.len(), 8);
    let check = |addr: &str, forward: ForwardMethod, weight: u32, upper: u32, lower: u32| {
        let d = find(&got, addr);
        assert_eq!(d.forward, forward, "{addr}");
        assert_eq!(d.weight, weight, "{addr}");
        assert_eq!(d.upper_threshold, upper, "{addr}");
        assert_eq!(d.lower_threshold, lower, "{addr}");
        assert_eq!(d.af(), lvs::AddressFamily::Inet);
        assert_eq!(d.counters, Some(lvs::DestCounters::default()));
    };
    let tunnel = |kind, port, flags| ForwardMethod::Tunnel(Tunnel { kind, port, flags });
    check("10.0.0.2:80", ForwardMethod::Masquerade, 1, 0, 0);
    check("10.0.0.3:80", ForwardMethod::DirectRoute, 0, 0, 0);
    check(
        "10.0.0.4:80",
        tunnel(TunnelType::Ipip, 0, TunnelFlags::empty()),
        65535,
        100,
        50,
    );
    check(
        "10.0.0.5:80",
        tunnel(TunnelType::Gue, 6080, TunnelFlags::CSUM),
        1,
        0,
        0,
    );
    check(
        "10.0.0.6:80",
        tunnel(TunnelType::Gue, 6081, TunnelFlags::REMCSUM),
        1,
        0,
        0,
    );
    check(
        "10.0.0.7:80",
        tunnel(TunnelType::Gue, 6082, TunnelFlags::empty()),
        1,
        0,
        0,
    );
    check(
        "10.0.0.8:80",
        tunnel(TunnelType::Gre, 0, TunnelFlags::CSUM),
        7,
        0,
        0,
    );
    check(
        "10.0.0.9:80",
        tunnel(TunnelType::Gre, 0, TunnelFlags::empty()),
        1,
        10,
        0,
    );
    assert_eq!(
        find(&got, "10.0.0.5:80").to_string(),
        "10.0.0.5:80 tunnel gue port 6080 csum weight 1"
    );
}

/// A destination of the other family than its service is allowed through a tunnel, both
/// ways round (IPv6 real server under an IPv4 service, and IPv4 under IPv6).
#[test]
fn mixed_family_destinations_through_tunnels_both_directions() {
    let ns = Netns::new("dst-mixed");
    let mut ipvs = ns.ipvs();
    let v4 = ServiceId::tcp(sa("10.0.0.1:80"));
    let v6 = ServiceId::tcp(sa("[fd00::1]:80"));
    svc_rr(&mut ipvs, v4);
    svc_rr(&mut ipvs, v6);
    add_and_read_back(
        &mut ipvs,
        &v4,
        &[
            dest("[fd00::7]:80").tunnel(Tunnel::ipip()).build().unwrap(),
            dest("[fd00::8]:80")
                .tunnel(Tunnel::gue(5555).csum())
                .build()
                .unwrap(),
        ],
    );
    add_and_read_back(
        &mut ipvs,
        &v6,
        &[dest("10.1.1.1:80").tunnel(Tunnel::gre()).build().unwrap()],
    );
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r [fd00::7]:80 -i -w 1 --tun-type ipip",
            "-a -t 10.0.0.1:80 -r [fd00::8]:80 -i -w 1 --tun-type gue --tun-port 5555 --tun-csum",
            "-A -t [fd00::1]:80 -s rr",
            "-a -t [fd00::1]:80 -r 10.1.1.1:80 -i -w 1 --tun-type gre --tun-nocsum",
        ],
    );

    // ipvsadm writes one more each way; the library reads the families right.
    ns.ipvsadm(&[
        "-a",
        "-t",
        "10.0.0.1:80",
        "-r",
        "[fd00::9]:80",
        "-i",
        "-w",
        "3",
    ]);
    ns.ipvsadm(&["-a", "-t", "[fd00::1]:80", "-r", "10.1.1.2:80", "-i"]);
    let got = ipvs.destinations(&v4).unwrap();
    let d = find(&got, "[fd00::9]:80");
    assert_eq!(d.af(), lvs::AddressFamily::Inet6);
    assert_eq!(d.forward, ForwardMethod::Tunnel(Tunnel::ipip()));
    assert_eq!(d.weight, 3);
    let got = ipvs.destinations(&v6).unwrap();
    assert_eq!(find(&got, "10.1.1.2:80").af(), lvs::AddressFamily::Inet);
}

#[test]
fn fwmark_destinations_both_directions() {
    let ns = Netns::new("dst-fwm");
    let mut ipvs = ns.ipvs();
    let m4 = ServiceId::fwmark(42);
    let m6 = ServiceId::fwmark6(43);
    svc_rr(&mut ipvs, m4);
    svc_rr(&mut ipvs, m6);
    add_and_read_back(
        &mut ipvs,
        &m4,
        &[
            dest("10.0.0.2:0").masquerade().build().unwrap(),
            dest("10.0.0.3:8080")
                .masquerade()
                .weight(2)
                .build()
                .unwrap(),
            dest("10.0.0.4:0").direct_route().build().unwrap(),
        ],
    );
    add_and_read_back(
        &mut ipvs,
        &m6,
        &[dest("[fd00::2]:0").masquerade().build().unwrap()],
    );
    assert_lines(
        &ns.save(),
        &[
            "-A -f 42 -s rr",
            "-a -f 42 -r 10.0.0.2:0 -m -w 1",
            "-a -f 42 -r 10.0.0.3:8080 -m -w 2",
            "-a -f 42 -r 10.0.0.4:0 -g -w 1",
            "-A -f 43 -6 -s rr",
            "-a -f 43 -6 -r [fd00::2]:0 -m -w 1",
        ],
    );
    assert_lines(
        &ns.listing(&[]),
        &[
            "FWM 42 rr",
            "-> 10.0.0.2:0 Masq 1 0 0",
            "-> 10.0.0.3:8080 Masq 2 0 0",
            "-> 10.0.0.4:0 Route 1 0 0",
            "FWM 43 IPv6 rr",
            "-> [fd00::2]:0 Masq 1 0 0",
        ],
    );

    ns.ipvsadm(&["-a", "-f", "43", "-6", "-r", "fd00::3", "-g", "-w", "4"]);
    let got = ipvs.destinations(&m6).unwrap();
    let d = find(&got, "[fd00::3]:0");
    assert_eq!(d.forward, ForwardMethod::DirectRoute);
    assert_eq!(d.weight, 4);
}

#[test]
fn update_destination_library_writes_ipvsadm_reads() {
    let ns = Netns::new("dst-edit");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::udp(sa("10.0.0.1:53"));
    svc_rr(&mut ipvs, id);
    let d = dest("10.0.0.2:53").masquerade().build().unwrap();
    ipvs.add_destination(&id, &d).unwrap();

    // Weight and thresholds.
    let d2 = dest("10.0.0.2:53")
        .masquerade()
        .weight(65535)
        .upper_threshold(2000)
        .lower_threshold(1000)
        .build()
        .unwrap();
    ipvs.update_destination(&id, &d2).unwrap();
    assert_lines(
        &ns.save(),
        &[
            "-A -u 10.0.0.1:53 -s rr",
            "-a -u 10.0.0.1:53 -r 10.0.0.2:53 -m -w 65535",
        ],
    );
    assert_lines(
        &ns.listing(&["--thresholds"]),
        &["UDP 10.0.0.1:53 rr", "-> 10.0.0.2:53 2000 1000 0 0"],
    );

    // Forwarding method: masquerade to a GUE tunnel, thresholds cleared, weight 0.
    let d3 = dest("10.0.0.2:53")
        .tunnel(Tunnel::gue(7777).remcsum())
        .weight(0)
        .build()
        .unwrap();
    ipvs.update_destination(&id, &d3).unwrap();
    assert_lines(
        &ns.save(),
        &[
            "-A -u 10.0.0.1:53 -s rr",
            "-a -u 10.0.0.1:53 -r 10.0.0.2:53 -i -w 0 --tun-type gue --tun-port 7777 --tun-remcsum",
        ],
    );
    assert_lines(
        &ns.listing(&["--thresholds"]),
        &["UDP 10.0.0.1:53 rr", "-> 10.0.0.2:53 0 0 0 0"],
    );
    let back = ipvs.destinations(&id).unwrap();
    assert_eq!(back.len(), 1);
    assert!(back[0].same_config(&d3), "{:?}", back[0]);

    // And back to direct routing.
    let d4 = dest("10.0.0.2:53")
        .direct_route()
        .weight(3)
        .build()
        .unwrap();
    ipvs.update_destination(&id, &d4).unwrap();
    assert_lines(
        &ns.listing(&["--tun-info"]),
        &["UDP 10.0.0.1:53 rr", "-> 10.0.0.2:53 Route n/a 3 0 0"],
    );
}

#[test]
fn update_destination_ipvsadm_writes_library_reads() {
    let ns = Netns::new("dst-edit-r");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("[fd00::1]:443"));
    svc_rr(&mut ipvs, id);
    let d = dest("[fd00::2]:443").masquerade().build().unwrap();
    ipvs.add_destination(&id, &d).unwrap();

    ns.ipvsadm(&[
        "-e",
        "-t",
        "[fd00::1]:443",
        "-r",
        "[fd00::2]:443",
        "-i",
        "--tun-type",
        "gue",
        "--tun-port",
        "9999",
        "--tun-csum",
        "-w",
        "12",
        "-x",
        "40",
        "-y",
        "20",
    ]);
    let got = ipvs.destinations(&id).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].forward,
        ForwardMethod::Tunnel(Tunnel::gue(9999).csum())
    );
    assert_eq!(got[0].weight, 12);
    assert_eq!((got[0].upper_threshold, got[0].lower_threshold), (40, 20));
}

#[test]
fn delete_destination_both_directions() {
    let ns = Netns::new("dst-del");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::sctp(sa("10.0.0.1:9"));
    svc_rr(&mut ipvs, id);
    for a in ["10.0.0.2:9", "10.0.0.3:9", "10.0.0.4:9"] {
        ipvs.add_destination(&id, &dest(a).masquerade().build().unwrap())
            .unwrap();
    }
    ipvs.delete_destination(&id, sa("10.0.0.3:9")).unwrap();
    assert_lines(
        &ns.save(),
        &[
            "-A --sctp-service 10.0.0.1:9 -s rr",
            "-a --sctp-service 10.0.0.1:9 -r 10.0.0.2:9 -m -w 1",
            "-a --sctp-service 10.0.0.1:9 -r 10.0.0.4:9 -m -w 1",
        ],
    );
    ns.ipvsadm(&["-d", "--sctp-service", "10.0.0.1:9", "-r", "10.0.0.2:9"]);
    let left = ipvs.destinations(&id).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].socket_addr(), sa("10.0.0.4:9"));
    ipvs.delete_destination(&id, sa("10.0.0.4:9")).unwrap();
    assert_eq!(ipvs.destinations(&id).unwrap(), vec![]);
    assert_lines(&ns.save(), &["-A --sctp-service 10.0.0.1:9 -s rr"]);
}

/// Weights at the edges of ipvsadm's range, and thresholds written by ipvsadm.
#[test]
fn weights_and_thresholds_ipvsadm_writes_library_reads() {
    let ns = Netns::new("dst-weights");
    ns.ipvsadm_lines(&[
        "-A -u [fd00::1]:53 -s wrr",
        "-a -u [fd00::1]:53 -r [fd00::2]:53 -m -w 0",
        "-a -u [fd00::1]:53 -r [fd00::3]:53 -m -w 1",
        "-a -u [fd00::1]:53 -r [fd00::4]:53 -m -w 65535 -x 2147483647 -y 1",
    ]);
    let mut ipvs = ns.ipvs();
    let got = ipvs
        .destinations(&ServiceId::udp(sa("[fd00::1]:53")))
        .unwrap();
    assert_eq!(find(&got, "[fd00::2]:53").weight, 0);
    assert_eq!(find(&got, "[fd00::3]:53").weight, 1);
    let top = find(&got, "[fd00::4]:53");
    assert_eq!(top.weight, 65535);
    assert_eq!(top.upper_threshold, 2147483647);
    assert_eq!(top.lower_threshold, 1);
}
