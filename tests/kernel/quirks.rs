//! Kernel behaviour worth knowing, one named test each, asserted as observed on the guest's
//! kernels (5.10, 6.1, 6.12 and 7.x). A behaviour that differs between kernels is stated for
//! version ranges in `lvs::Capabilities::expected` (the table the mock's profiles follow),
//! and its test checks the running kernel against what that table says of its version
//! (`common::expected()`), so a kernel update that changes one fails here by name. Raw replies are read through the transport where the model hides
//! a detail (the `HASHED` flag, which attributes a reply carries, command tags).

use std::fmt::Debug;

use lvs::transport::RequestKind;
use lvs::wire::{DaemonAttr, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage};
use lvs::{
    Daemon, DaemonState, Destination, ForwardMethod, Scheduler, Service, ServiceFlags, ServiceId,
    Timeouts, Tunnel, TunnelFlags, TunnelType,
};

use crate::common::{
    assert_lines, expected, kernel_version, lines, raw, raw_service_flags, sa, Netns,
};

/// The variant names of attributes, in order (`Af`, `Fwmark`, ...).
fn kinds<A: Debug>(attrs: &[A]) -> Vec<String> {
    attrs
        .iter()
        .map(|a| {
            let s = format!("{a:?}");
            s.split(['(', ' ', '{']).next().unwrap_or("").to_owned()
        })
        .collect()
}

/// The single reply of a dump that must hold exactly one message.
fn dump_one(ipvs: &mut crate::common::Handle, msg: &IpvsMessage) -> IpvsMessage {
    let mut replies = raw(ipvs, msg, RequestKind::Dump).expect("dump");
    assert_eq!(replies.len(), 1, "{replies:#?}");
    replies.remove(0)
}

/// The kernel sets `IP_VS_SVC_F_HASHED` (0x2) on every service it holds, and reports it,
/// after an add and after an edit alike; the model keeps it in `other_flags`, and never
/// writes it.
#[test]
fn quirk_hashed_flag_after_add_and_edit() {
    let ns = Netns::new("q-hashed");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    let s = Service::builder(id)
        .scheduler(Scheduler::Rr)
        .persistent(60)
        .build()
        .unwrap();
    assert_eq!(s.flags().bits(), 0x1, "written: PERSISTENT only");
    ipvs.add_service(&s).unwrap();
    assert_eq!(raw_service_flags(&mut ipvs, &id), 0x1 | 0x2, "after add");

    let edited = Service::builder(id)
        .scheduler(Scheduler::Sh)
        .sched_flags(lvs::SchedFlags::SH_PORT)
        .build()
        .unwrap();
    ipvs.update_service(&edited).unwrap();
    assert_eq!(raw_service_flags(&mut ipvs, &id), 0x10 | 0x2, "after edit");

    let back = ipvs.get_service(&id).unwrap();
    assert_eq!(back.other_flags, ServiceFlags::HASHED);
    assert_eq!(back.flags().bits(), 0x10, "HASHED is not written back");
    assert!(back.same_config(&edited));

    // A service ipvsadm adds: the same.
    ns.ipvsadm(&["-A", "-f", "1", "-s", "rr", "-o"]);
    assert_eq!(
        raw_service_flags(&mut ipvs, &ServiceId::fwmark(1)),
        0x4 | 0x2
    );
}

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

/// The kernel adds a destination at the head of its service's list: a dump returns the
/// newest first (ipvsadm sorts its listing, so it does not show this).
#[test]
fn quirk_destination_dump_order_is_newest_first() {
    let ns = Netns::new("q-dst-order");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::udp(sa("10.0.0.1:53"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let order = ["10.0.0.5:53", "10.0.0.2:53", "10.0.0.9:53", "10.0.0.3:53"];
    for a in order {
        let d = Destination::builder(sa(a)).masquerade().build().unwrap();
        ipvs.add_destination(&id, &d).unwrap();
    }
    let got: Vec<String> = ipvs
        .destinations(&id)
        .unwrap()
        .iter()
        .map(|d| d.socket_addr().to_string())
        .collect();
    let mut newest_first = order.to_vec();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    // An edit does not move it.
    let d = Destination::builder(sa("10.0.0.9:53"))
        .masquerade()
        .weight(9)
        .build()
        .unwrap();
    ipvs.update_destination(&id, &d).unwrap();
    let again: Vec<String> = ipvs
        .destinations(&id)
        .unwrap()
        .iter()
        .map(|d| d.socket_addr().to_string())
        .collect();
    assert_eq!(again, newest_first);
}

/// A `GET_DEST` dump for a service that does not exist is an empty dump, not ESRCH.
#[test]
fn quirk_get_dest_on_missing_service() {
    let ns = Netns::new("q-getdest");
    let mut ipvs = ns.ipvs();
    let missing = ServiceId::tcp(sa("10.0.0.9:80"));
    let replies = raw(
        &mut ipvs,
        &IpvsMessage::dump_dests(&missing),
        RequestKind::Dump,
    )
    .expect("an empty dump, not an error");
    assert!(replies.is_empty());
    assert_eq!(ipvs.destinations(&missing).unwrap(), vec![]);
    // Also with no service nest at all.
    let bare = IpvsMessage::new(IpvsCmd::GetDest, vec![]);
    assert!(raw(&mut ipvs, &bare, RequestKind::Dump).unwrap().is_empty());
}

/// A daemon dump holds one message per running daemon, master first, then backup, each
/// tagged `NEW_DAEMON` with one daemon nest; the kernel reports its defaults for the options
/// that were not given.
#[test]
fn quirk_daemon_dump_master_and_backup_are_separate_entries() {
    let ns = Netns::new("q-daemons");
    let mut ipvs = ns.ipvs();
    // Started backup first: the dump still lists master first.
    ipvs.start_daemon(
        &Daemon::builder(DaemonState::Backup, "lo")
            .sync_id(2)
            .build()
            .unwrap(),
    )
    .unwrap();
    ipvs.start_daemon(
        &Daemon::builder(DaemonState::Master, "lo")
            .sync_id(1)
            .build()
            .unwrap(),
    )
    .unwrap();
    let replies = raw(&mut ipvs, &IpvsMessage::dump_daemons(), RequestKind::Dump).unwrap();
    assert_eq!(replies.len(), 2);
    for r in &replies {
        assert_eq!(r.cmd, IpvsCmd::NewDaemon);
        assert_eq!(r.attrs.len(), 1);
        assert_eq!(
            kinds(r.daemon_attrs().unwrap()),
            [
                "State",
                "McastIfn",
                "SyncId",
                "SyncMaxLen",
                "McastPort",
                "McastTtl",
                "McastGroup"
            ]
        );
    }
    let states: Vec<DaemonState> = replies.iter().map(|r| r.daemon().unwrap().state).collect();
    assert_eq!(states, [DaemonState::Master, DaemonState::Backup]);
    ns.stop_daemon(&mut ipvs, DaemonState::Master);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
}

/// Reply command tags: `GET_SERVICE` (do and dump) answers `NEW_SERVICE`, `GET_DEST`
/// `NEW_DEST`, `GET_CONFIG` `SET_CONFIG`, `GET_INFO` `SET_INFO`. Replies do not set
/// `NLA_F_NESTED` on their nests.
#[test]
fn quirk_reply_command_tags_and_nested_flag() {
    let ns = Netns::new("q-tags");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    ipvs.add_destination(
        &id,
        &Destination::builder(sa("10.0.0.2:80")).build().unwrap(),
    )
    .unwrap();

    let one = raw(&mut ipvs, &IpvsMessage::get_service(&id), RequestKind::Do).unwrap();
    assert_eq!(one[0].cmd, IpvsCmd::NewService);
    assert!(!one[0].nested_flag, "replies carry no NLA_F_NESTED");
    let all = dump_one(&mut ipvs, &IpvsMessage::dump_services());
    assert_eq!(all.cmd, IpvsCmd::NewService);
    assert!(!all.nested_flag);
    let d = dump_one(&mut ipvs, &IpvsMessage::dump_dests(&id));
    assert_eq!(d.cmd, IpvsCmd::NewDest);
    assert!(!d.nested_flag);
    let c = raw(&mut ipvs, &IpvsMessage::get_timeouts(), RequestKind::Do).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].cmd, IpvsCmd::SetConfig);
    assert_eq!(
        c[0].attrs,
        [
            IpvsAttr::TimeoutTcp(900),
            IpvsAttr::TimeoutTcpFin(120),
            IpvsAttr::TimeoutUdp(300)
        ]
    );
    let i = raw(&mut ipvs, &IpvsMessage::get_info(), RequestKind::Do).unwrap();
    assert_eq!(i.len(), 1);
    assert_eq!(i[0].cmd, IpvsCmd::SetInfo);
    assert_eq!(
        i[0].attrs,
        [
            IpvsAttr::InfoVersion(0x010201),
            IpvsAttr::InfoConnTabSize(expected().conn_table.size)
        ]
    );
}

/// In a namespace just made by `ip netns add` (`lo` down), there is no local routing table
/// yet, so the kernel cannot classify an IPv4 real server's address and refuses it with
/// EINVAL (ipvsadm: "Invalid operation"). Bringing `lo` up creates the table; IPv6 real
/// servers are not affected.
#[test]
fn quirk_ipv4_destination_needs_lo_up_in_a_new_namespace() {
    let ns = Netns::bare("q-bare");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let d = Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .build()
        .unwrap();
    assert_refused!(
        ipvs.add_destination(&id, &d),
        InvalidRequest,
        libc::EINVAL,
        AddDestination
    );
    let err = ns.ipvsadm_fails(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.3:80", "-m"]);
    assert!(err.starts_with("Invalid operation"), "{err}");

    let v6 = ServiceId::tcp(sa("[fd00::1]:80"));
    ipvs.add_service(&Service::builder(v6).build().unwrap())
        .unwrap();
    let d6 = Destination::builder(sa("[fd00::2]:80"))
        .masquerade()
        .build()
        .unwrap();
    ipvs.add_destination(&v6, &d6).unwrap();

    ns.ip(&["link", "set", "lo", "up"]);
    ipvs.add_destination(&id, &d).unwrap();
}

/// The scheduler name `none` is the kernel's "no scheduler" (ipvsadm `-s none`): accepted,
/// reported as `none`; the model keeps it as `Scheduler::Other("none")`.
#[test]
fn quirk_scheduler_none_is_accepted() {
    let ns = Netns::new("q-none");
    let mut ipvs = ns.ipvs();
    let none = Scheduler::Other("none".into());
    let s = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(none.clone())
        .build()
        .unwrap();
    ipvs.add_service(&s).unwrap();
    assert_lines(&ns.save(), &["-A -t 10.0.0.1:80 -s none"]);
    assert_eq!(ipvs.get_service(&s.id).unwrap().scheduler, none);
    ns.ipvsadm(&["-A", "-u", "10.0.0.1:53", "-s", "none"]);
    assert_eq!(
        ipvs.get_service(&ServiceId::udp(sa("10.0.0.1:53")))
            .unwrap()
            .scheduler,
        none
    );
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

/// The kernel refuses only negative weights: anything in 0..=i32::MAX is taken, though
/// ipvsadm's documented range (and the builder's) ends at 65535.
#[test]
fn quirk_kernel_accepts_weight_above_65535() {
    let ns = Netns::new("q-weight");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let mut d = Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .build()
        .unwrap();
    d.weight = i32::MAX as u32;
    raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do).expect("accepted");
    assert_eq!(ipvs.destinations(&id).unwrap()[0].weight, i32::MAX as u32);
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s wlc",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 2147483647",
        ],
    );
}

/// An upper threshold of 0 means "no limit", but the kernel checks `lower > upper` all the
/// same: a lower threshold with no upper one is refused with ERANGE (the builder refuses it
/// too, so this goes raw).
#[test]
fn quirk_lower_threshold_without_upper_is_erange() {
    let ns = Netns::new("q-thresh0");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let mut d = Destination::builder(sa("10.0.0.2:80")).build().unwrap();
    d.lower_threshold = 5;
    d.upper_threshold = 0;
    assert_raw_errno!(
        raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d), RequestKind::Do),
        libc::ERANGE
    );
    let err = ns.ipvsadm_fails(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:80", "-y", "5"]);
    assert_eq!(err, "Numerical result out of range");
}

/// A direct-routing or tunnelling destination keeps the port it was given in the kernel
/// (ipvsadm itself rewrites such a port to the service's before sending, so only a netlink
/// client can store another).
#[test]
fn quirk_direct_route_destination_keeps_its_port() {
    let ns = Netns::new("q-drport");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    let d = Destination::builder(sa("10.0.0.2:8080"))
        .direct_route()
        .build()
        .unwrap();
    ipvs.add_destination(&id, &d).unwrap();
    assert_eq!(
        ipvs.destinations(&id).unwrap()[0].socket_addr(),
        sa("10.0.0.2:8080")
    );
    assert_lines(
        &ns.save(),
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g -w 1",
        ],
    );
    // ipvsadm, given the same, stores the service's port.
    ns.ipvsadm(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.3:8080", "-g"]);
    let got = ipvs.destinations(&id).unwrap();
    assert!(
        got.iter().any(|d| d.socket_addr() == sa("10.0.0.3:80")),
        "{got:?}"
    );
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

/// Timeouts are kept in jiffies in an int: the largest accepted is `INT_MAX / HZ` seconds
/// (8589934 with Debian's HZ=250), one more is EINVAL, and so is anything that is negative
/// as an int.
#[test]
fn quirk_timeouts_limited_to_int_max_jiffies() {
    let ns = Netns::new("q-timeouts");
    let mut ipvs = ns.ipvs();
    let hz = 250;
    let max = i32::MAX as u32 / hz;
    let tcp = |t| Timeouts {
        tcp: t,
        tcp_fin: 0,
        udp: 0,
    };
    ipvs.set_timeouts(&tcp(max)).unwrap();
    assert_eq!(ipvs.timeouts().unwrap().tcp, 8_589_934);
    assert_refused!(
        ipvs.set_timeouts(&tcp(max + 1)),
        InvalidRequest,
        libc::EINVAL,
        SetTimeouts
    );
    assert_refused!(
        ipvs.set_timeouts(&tcp(0x8000_0000)),
        InvalidRequest,
        libc::EINVAL,
        SetTimeouts
    );
    assert_eq!(
        lines(&ns.ipvsadm(&["-L", "--timeout"])),
        ["Timeout (tcp tcpfin udp): 8589934 120 300"]
    );
}

/// The sync message length: a master defaults to 1472 (a 1500-byte MTU less the IPv4 and
/// UDP headers) whatever its interface; a backup defaults to its interface's MTU (capped at
/// 65535) less the headers, and a given length is raised to at least 1024 for a backup.
#[test]
fn quirk_sync_daemon_max_len_defaults_and_clamping() {
    let ns = Netns::new("q-maxlen");
    ns.ip(&["link", "add", "sync0", "type", "dummy"]);
    ns.ip(&["link", "set", "sync0", "mtu", "9000"]);
    ns.ip(&["link", "set", "sync0", "up"]);
    let mut ipvs = ns.ipvs();
    let start = |ipvs: &mut crate::common::Handle, state, ifname, len: Option<u16>| {
        let mut b = Daemon::builder(state, ifname);
        if let Some(len) = len {
            b = b.max_len(len);
        }
        ipvs.start_daemon(&b.build().unwrap()).unwrap();
    };
    let max_lens = |ipvs: &mut crate::common::Handle| -> Vec<Option<u16>> {
        ipvs.daemons().unwrap().iter().map(|d| d.max_len).collect()
    };

    start(&mut ipvs, DaemonState::Master, "sync0", None);
    start(&mut ipvs, DaemonState::Backup, "lo", None);
    // lo's MTU is 65536: capped at 65535, less 28.
    assert_eq!(max_lens(&mut ipvs), [Some(1472), Some(65507)]);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
    start(&mut ipvs, DaemonState::Backup, "sync0", None);
    assert_eq!(max_lens(&mut ipvs), [Some(1472), Some(8972)]);
    ns.stop_daemon(&mut ipvs, DaemonState::Master);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);

    start(&mut ipvs, DaemonState::Master, "sync0", Some(100));
    start(&mut ipvs, DaemonState::Backup, "sync0", Some(100));
    assert_eq!(max_lens(&mut ipvs), [Some(100), Some(1024)]);
    assert_eq!(
        lines(&ns.ipvsadm(&["-L", "--daemon"])),
        [
            "master sync daemon (mcast=sync0, syncid=0, maxlen=100, group=224.0.0.81, port=8848, ttl=1)",
            "backup sync daemon (mcast=sync0, syncid=0, maxlen=1024, group=224.0.0.81, port=8848, ttl=1)",
        ]
    );
    ns.stop_daemon(&mut ipvs, DaemonState::Master);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
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

/// An upper threshold above i32::MAX (the builder refuses it). Stored as unsigned and
/// listed so by ipvsadm on 5.10, on 6.1 before 6.1.183, on 6.12 (up to 6.12.95 at least);
/// refused with EINVAL, on add and on edit alike, from 6.1.183 and on 7.x (seen on 7.2.13):
/// `Capabilities::max_upper_threshold`, which the mock's profiles follow. The refusal
/// comes after the service lookup (ESRCH first) and after the `lower > upper` check (ERANGE
/// first); `i32::MAX` itself is taken everywhere.
#[test]
fn quirk_upper_threshold_above_i32_max() {
    let ns = Netns::new("q-uthresh");
    let mut ipvs = ns.ipvs();
    let refused = expected().max_upper_threshold == i32::MAX as u32;
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    let missing = ServiceId::tcp(sa("10.0.0.9:80"));
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    let dest = |upper: u32, lower: u32| {
        let mut d = Destination::builder(sa("10.0.0.2:80"))
            .masquerade()
            .build()
            .unwrap();
        d.upper_threshold = upper;
        d.lower_threshold = lower;
        d
    };
    // The order of the checks: ESRCH, then ERANGE, then the range of the upper threshold.
    let r = raw(
        &mut ipvs,
        &IpvsMessage::new_dest(&missing, &dest(u32::MAX, 0)),
        RequestKind::Do,
    );
    assert_raw_errno!(r, libc::ESRCH);
    let r = raw(
        &mut ipvs,
        &IpvsMessage::new_dest(&id, &dest(0x8000_0000, 0x9000_0000)),
        RequestKind::Do,
    );
    assert_raw_errno!(r, libc::ERANGE);

    let big = dest(u32::MAX, 0x8000_0000);
    let add = raw(
        &mut ipvs,
        &IpvsMessage::new_dest(&id, &big),
        RequestKind::Do,
    );
    if refused {
        assert_raw_errno!(add, libc::EINVAL);
        assert_eq!(ipvs.destinations(&id).unwrap(), []);
        // i32::MAX is still taken, and an edit above it is refused too.
        let top = dest(i32::MAX as u32, 0);
        raw(
            &mut ipvs,
            &IpvsMessage::new_dest(&id, &top),
            RequestKind::Do,
        )
        .expect("i32::MAX");
        let edit = raw(
            &mut ipvs,
            &IpvsMessage::set_dest(&id, &big),
            RequestKind::Do,
        );
        assert_raw_errno!(edit, libc::EINVAL);
        assert_eq!(
            ipvs.destinations(&id).unwrap()[0].upper_threshold,
            i32::MAX as u32
        );
    } else {
        add.expect("stored");
        let back = ipvs.destinations(&id).unwrap();
        assert_eq!(
            (back[0].upper_threshold, back[0].lower_threshold),
            (u32::MAX, 0x8000_0000)
        );
        assert_lines(
            &ns.listing(&["--thresholds"]),
            &[
                "TCP 10.0.0.1:80 rr",
                "-> 10.0.0.2:80 4294967295 2147483648 0 0",
            ],
        );
    }
    assert_eq!(
        ipvs.capabilities().unwrap().max_upper_threshold,
        expected().max_upper_threshold,
        "the probe finds the same range"
    );
}

/// A master sync daemon with an IPv6 group cannot start on `lo`: its socket connects to the
/// group through the interface, and the loopback has no IPv6 multicast route (only other
/// interfaces get `ff00::/8`), so the kernel answers ENETUNREACH and nothing runs. (Found
/// by the differential suite; the mock models it, and lets a backup or a master on another
/// interface start.) Deleting a namespace after such a refused start makes a later
/// `DEL_DAEMON` in another namespace go unanswered for over a minute (seen every time on
/// 6.1, once on 6.12): the namespace is kept (leaked) until the guest powers off.
#[test]
fn quirk_ipv6_master_daemon_on_lo_is_enetunreach() {
    let ns = Netns::new("q-sync6lo");
    let mut ipvs = ns.ipvs();
    let master = Daemon::builder(DaemonState::Master, "lo")
        .group("ff02::1234".parse().unwrap())
        .build()
        .unwrap();
    match ipvs.start_daemon(&master) {
        Err(lvs::Error::Kernel(ctx)) => {
            assert_eq!(ctx.errno, libc::ENETUNREACH, "{ctx:?}");
            assert_eq!(ctx.operation, lvs::Operation::StartDaemon);
        }
        other => panic!("expected ENETUNREACH, got {other:?}"),
    }
    assert_eq!(ipvs.daemons().unwrap(), []);
    std::mem::forget(ns);
}

/// Which IPv4 real server addresses the kernel takes in a namespace with only `lo` (up):
/// 0.0.0.0, 255.255.255.255, multicast and `lo`'s broadcast 127.255.255.255 are refused
/// (EINVAL); the rest of 0.0.0.0/8 (unicast since Linux 5.3), class E and 255.255.255.254
/// are taken. `lo`'s network address 127.0.0.0 is taken from 6.0 on (no network broadcast
/// route) and refused on 5.10, whose local table has a broadcast route for it
/// (`Capabilities::network_broadcast_routes`). (Found by the differential suite: 0.1.2.3 is
/// accepted; the mock models it.)
#[test]
fn quirk_ipv4_destination_address_classes() {
    let ns = Netns::new("q-v4classes");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let masq = |a: &str| {
        Destination::builder(sa(&format!("{a}:80")))
            .masquerade()
            .build()
            .unwrap()
    };
    let network_broadcast = expected().network_broadcast_routes;
    let mut bad = vec!["0.0.0.0", "127.255.255.255", "255.255.255.255", "224.0.0.1"];
    if network_broadcast {
        bad.push("127.0.0.0");
    }
    for bad in bad {
        assert_refused!(
            ipvs.add_destination(&id, &masq(bad)),
            InvalidRequest,
            libc::EINVAL,
            AddDestination
        );
    }
    let mut ok = vec![
        "0.0.0.1",
        "0.1.2.3",
        "0.255.255.255",
        "240.0.0.1",
        "255.255.255.254",
    ];
    if !network_broadcast {
        ok.insert(3, "127.0.0.0");
    }
    for a in ok.iter().copied() {
        ipvs.add_destination(&id, &masq(a)).unwrap();
    }
    let got: Vec<String> = ipvs
        .destinations(&id)
        .unwrap()
        .iter()
        .map(|d| d.addr.to_string())
        .collect();
    let mut want: Vec<&str> = ok.clone();
    want.reverse();
    assert_eq!(got, want);
}

/// The kernel takes and reports any 32-bit sync id (a raw `NEW_DAEMON` with id 0x1_0107
/// lists 0x1_0107), though ipvsadm and the builder stop at 255 (the sync protocol carries
/// a byte).
#[test]
fn quirk_sync_id_above_255_is_kept() {
    let ns = Netns::new("q-syncid");
    let mut ipvs = ns.ipvs();
    let d = Daemon::builder(DaemonState::Backup, "lo").build().unwrap();
    let attrs: Vec<DaemonAttr> = DaemonAttr::from_daemon(&d)
        .into_iter()
        .map(|a| match a {
            DaemonAttr::SyncId(_) => DaemonAttr::SyncId(0x1_0107),
            a => a,
        })
        .collect();
    let msg = IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(attrs)]);
    raw(&mut ipvs, &msg, RequestKind::Do).expect("started");
    let got = ipvs.daemons().unwrap();
    assert_eq!(got[0].sync_id, 0x1_0107);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
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

/// The connection table `GET_INFO` reports. Up to 6.x: one table of 4096 entries for all
/// namespaces (`conn_tab_bits=12`), reported from the start. On 7.x each namespace has a
/// resizable table of its own (`net.ipv4.vs.conn_lfactor`), allocated when IPVS is first
/// used there: `GET_INFO` (and ipvsadm's `size=`) says 0 until a service is added or a sync
/// daemon started (refused ones do not count, nor do timeouts), then 256, which stays after
/// the services are gone. `Capabilities::conn_table`; the mock's profiles model it.
#[test]
fn quirk_conn_table_per_namespace() {
    let want = expected().conn_table;
    let before = if want.allocated_on_first_use {
        0
    } else {
        want.size
    };
    let size = |ipvs: &mut crate::common::Handle| ipvs.info().unwrap().conn_table_size;

    let ns = Netns::new("q-conntab");
    let mut ipvs = ns.ipvs();
    assert_eq!(size(&mut ipvs), before, "fresh namespace");
    let nosuch = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(Scheduler::Other("nosuch".into()))
        .build()
        .unwrap();
    assert!(ipvs.add_service(&nosuch).is_err());
    ipvs.set_timeouts(&Timeouts {
        tcp: 100,
        tcp_fin: 0,
        udp: 0,
    })
    .unwrap();
    assert_eq!(
        size(&mut ipvs),
        before,
        "after a refused add and a timeout change"
    );
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    assert_eq!(size(&mut ipvs), want.size, "after the first service");
    ipvs.flush().unwrap();
    assert_eq!(size(&mut ipvs), want.size, "after a flush");
    assert_eq!(
        std::path::Path::new("/proc/sys/net/ipv4/vs/conn_lfactor").exists(),
        want.resizable
    );

    // A sync daemon allocates it too.
    let ns = Netns::new("q-conntab2");
    let mut ipvs = ns.ipvs();
    assert_eq!(size(&mut ipvs), before);
    ipvs.start_daemon(&Daemon::builder(DaemonState::Backup, "lo").build().unwrap())
        .unwrap();
    assert_eq!(size(&mut ipvs), want.size, "after a daemon start");
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
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
