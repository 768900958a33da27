//! Strategies for the model's values: each yields values that pass the model's
//! validation, over a wide range, for codec and decoding tests; a kernel refuses some of
//! them, as each one's documentation says (for values a kernel takes, see `tables`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use crate::model::*;

/// Any IPv4 or IPv6 address.
pub fn ip_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
    ]
}

/// An address of the given family.
pub fn ip_addr_of(af: AddressFamily) -> BoxedStrategy<IpAddr> {
    match af {
        AddressFamily::Inet => any::<[u8; 4]>()
            .prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
            .boxed(),
        AddressFamily::Inet6 => any::<[u8; 16]>()
            .prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
            .boxed(),
    }
}

/// TCP, UDP or SCTP.
pub fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Sctp)
    ]
}

/// Any service identity (port may be 0: pair it with persistence, as [`service`] does).
pub fn service_id() -> impl Strategy<Value = ServiceId> {
    prop_oneof![
        3 => (protocol(), ip_addr(), any::<u16>()).prop_map(|(protocol, ip, port)| {
            ServiceId::Addr { protocol, addr: SocketAddr::new(ip, port) }
        }),
        1 => (1..=u32::MAX, any::<bool>()).prop_map(|(mark, v6)| {
            if v6 { ServiceId::fwmark6(mark) } else { ServiceId::fwmark(mark) }
        }),
    ]
}

/// Any scheduler, including a made-up module name.
pub fn scheduler() -> impl Strategy<Value = Scheduler> {
    prop_oneof![
        8 => proptest::sample::select(Scheduler::ALL.to_vec()),
        1 => "[a-z][a-z0-9_]{0,14}".prop_map(|s| Scheduler::from_name(&s)),
    ]
}

/// A netmask of the given family.
pub fn netmask(af: AddressFamily) -> BoxedStrategy<Netmask> {
    match af {
        AddressFamily::Inet => any::<[u8; 4]>()
            .prop_map(|o| Netmask::V4(Ipv4Addr::from(o)))
            .boxed(),
        AddressFamily::Inet6 => (1u8..=128).prop_map(Netmask::V6).boxed(),
    }
}

/// A service that passes the model's validation, over a wide range, for codec tests: any
/// identity, any scheduler (one in nine a made-up module name, which a kernel refuses with
/// ENOENT), persistence, the `sip` engine or now and then a made-up one (ENOENT), a raw
/// netmask and timeout without persistence, and unknown flag bits. Not all of these are
/// taken by a kernel, nor read back the same: for services a kernel takes, use
/// [`accepted_service`](super::accepted_service).
pub fn service() -> impl Strategy<Value = Service> {
    service_id().prop_flat_map(|id| {
        let af = id.af();
        (
            Just(id),
            scheduler(),
            0u32..8,
            proptest::option::of((1..=Persistence::MAX_TIMEOUT, netmask(af))),
            any::<bool>(),
            proptest::option::of(prop_oneof![
                Just(PersistenceEngine::Sip),
                "[a-z]{1,15}".prop_map(|s| PersistenceEngine::from_name(&s)),
            ]),
            proptest::option::of(netmask(af)),
            any::<u32>(),
            proptest::option::of(0x40u32..=0x8000_0000),
        )
            .prop_map(
                move |(
                    id,
                    scheduler,
                    sf,
                    persistence,
                    one_packet,
                    pe,
                    raw_mask,
                    raw_timeout,
                    extra,
                )| {
                    let mut s = Service::builder(id)
                        .scheduler(scheduler)
                        .build_unvalidated();
                    s.sched_flags = SchedFlags::from_bits_retain(sf << 3);
                    s.persistence =
                        persistence.map(|(timeout, netmask)| Persistence { timeout, netmask });
                    if let ServiceId::Addr { addr, protocol } = &mut s.id {
                        if addr.port() == 0 && s.persistence.is_none() {
                            addr.set_port(1);
                        }
                        s.one_packet = one_packet && *protocol == Protocol::Udp;
                    } else {
                        s.one_packet = one_packet;
                    }
                    s.pe = pe;
                    if s.persistence.is_none() {
                        s.raw_netmask = raw_mask.filter(|m| *m != Netmask::full(af));
                        s.raw_timeout = raw_timeout;
                    }
                    // Bits above the known ones: kept and sent as they are.
                    s.other_flags = ServiceFlags::from_bits_retain(extra.unwrap_or(0) & !0x3f);
                    s
                },
            )
    })
}

/// A forwarding method valid for a destination of family `dest_af` under a service of
/// family `svc_af`.
pub fn forward_method(mixed_family: bool) -> BoxedStrategy<ForwardMethod> {
    let tunnel = prop_oneof![
        Just(Tunnel::ipip()),
        (1u16..).prop_map(Tunnel::gue),
        Just(Tunnel::gre()),
    ];
    let tunnel = (tunnel, 0u16..4).prop_map(|(mut t, f)| {
        t.flags = TunnelFlags::from_bits_retain(f);
        t
    });
    if mixed_family {
        tunnel.prop_map(ForwardMethod::Tunnel).boxed()
    } else {
        prop_oneof![
            Just(ForwardMethod::Masquerade),
            Just(ForwardMethod::Local),
            tunnel.prop_map(ForwardMethod::Tunnel),
            Just(ForwardMethod::DirectRoute),
            Just(ForwardMethod::Bypass),
        ]
        .boxed()
    }
}

/// A destination that passes the model's validation for a service of this identity, over
/// a wide range, for codec tests: any address of the service's family or (half the time)
/// of the other one through a tunnel, any port, weight and thresholds up to `i32::MAX`. A
/// kernel refuses many of them: multicast, broadcast, loopback-broadcast, unspecified and
/// link-local real servers (EINVAL), and mixed families while a sync daemon runs. For
/// destinations a kernel takes, use [`accepted_destination`](super::accepted_destination).
pub fn destination_for(id: ServiceId) -> impl Strategy<Value = Destination> {
    let svc_af = id.af();
    (any::<bool>(), any::<bool>()).prop_flat_map(move |(mixed, _)| {
        let af = if mixed {
            match svc_af {
                AddressFamily::Inet => AddressFamily::Inet6,
                AddressFamily::Inet6 => AddressFamily::Inet,
            }
        } else {
            svc_af
        };
        (
            ip_addr_of(af),
            any::<u16>(),
            forward_method(mixed),
            0u32..=Destination::MAX_WEIGHT,
            0u32..=i32::MAX as u32,
            0u32..=i32::MAX as u32,
        )
            .prop_map(|(ip, port, forward, weight, a, b)| {
                let mut d = Destination::builder(SocketAddr::new(ip, port))
                    .forward(forward)
                    .weight(weight)
                    .build_unvalidated();
                d.upper_threshold = a.max(b);
                d.lower_threshold = a.min(b);
                d
            })
    })
}

/// A [`service`] with up to `max_dests` destinations from [`destination_for`] (distinct
/// addresses): values that pass the model's validation, some of which a kernel refuses.
/// For a service with destinations that a kernel takes, use
/// [`service_entry`](super::service_entry); for a whole table,
/// [`table`](super::table).
pub fn service_with_dests(max_dests: usize) -> impl Strategy<Value = (Service, Vec<Destination>)> {
    service().prop_flat_map(move |svc| {
        let dests = proptest::collection::vec(destination_for(svc.id), 0..=max_dests);
        (Just(svc), dests).prop_map(|(svc, mut dests)| {
            let mut seen = std::collections::HashSet::new();
            dests.retain(|d| seen.insert(d.socket_addr()));
            (svc, dests)
        })
    })
}

/// Any counters.
pub fn stats() -> impl Strategy<Value = Stats> {
    any::<[u64; 10]>().prop_map(|v| Stats {
        conns: v[0],
        in_packets: v[1],
        out_packets: v[2],
        in_bytes: v[3],
        out_bytes: v[4],
        cps: v[5],
        in_pps: v[6],
        out_pps: v[7],
        in_bps: v[8],
        out_bps: v[9],
    })
}

/// A sync daemon that passes the model's validation: any interface name (a kernel without
/// that interface refuses it with ENODEV), group, port, TTL and message length.
pub fn daemon() -> impl Strategy<Value = Daemon> {
    (
        prop_oneof![Just(DaemonState::Master), Just(DaemonState::Backup)],
        "[a-z][a-z0-9]{0,14}",
        0u32..=255,
        proptest::option::of(any::<u16>()),
        proptest::option::of(prop_oneof![
            any::<[u8; 3]>().prop_map(|o| IpAddr::V4(Ipv4Addr::new(
                224 + o[0] % 16,
                o[1],
                o[2],
                1
            ))),
            any::<[u8; 15]>().prop_map(|o| {
                let mut a = [0xffu8; 16];
                a[1..].copy_from_slice(&o);
                IpAddr::V6(Ipv6Addr::from(a))
            }),
        ]),
        proptest::option::of(1u16..),
        proptest::option::of(1u8..),
    )
        .prop_map(|(state, ifname, sync_id, max_len, group, port, ttl)| {
            let mut b = Daemon::builder(state, &ifname).sync_id(sync_id);
            if let Some(v) = max_len {
                b = b.max_len(v);
            }
            if let Some(g) = group {
                b = b.group(g);
            }
            if let Some(p) = port {
                b = b.port(p);
            }
            if let Some(t) = ttl {
                b = b.ttl(t);
            }
            b.build_unvalidated()
        })
}

/// Any timeouts.
pub fn timeouts() -> impl Strategy<Value = Timeouts> {
    any::<(u32, u32, u32)>().prop_map(|(tcp, tcp_fin, udp)| Timeouts { tcp, tcp_fin, udp })
}
