//! proptest strategies for the model, for users' property tests (feature `proptest`).
//!
//! Value strategies ([`service`], [`destination_for`], [`daemon`], ...) yield values that
//! pass the model's validation, so they can be sent to a kernel (or the mock) as they are.
//!
//! Operation sequences ([`ops`], [`op`], [`Op`]) are what a control plane does to a table,
//! valid or not: adds, edits and deletes that meet (on a few services per sequence, at
//! addresses from a small pool, some of which the kernel refuses for a real server), reads,
//! flush, zero, timeouts, sync daemons, and raw requests with one thing broken
//! ([`raw_request`]: a missing attribute, an unknown family, any weight, threshold,
//! forwarding code, netmask or name, an attribute twice, an unknown command...). Apply one
//! with [`Op::apply`]; this is what the differential suite runs on the mock and the kernel.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use lvs::strategies::ops;
//! use lvs::transport::MockKernel;
//! use lvs::Ipvs;
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let seq = ops(20).new_tree(&mut runner).unwrap().current();
//! let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! for op in &seq {
//!     let _ = op.apply(&mut ipvs); // a reply or a typed error, as from the kernel
//! }
//! assert_eq!(ipvs.transport().services(), ipvs.table().unwrap());
//! # }
//! ```

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

/// A valid service.
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

/// A valid destination for a service of this identity.
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

/// A valid service with up to `max_dests` valid destinations (distinct addresses).
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

/// A valid sync daemon.
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

// ---------------------------------------------------------------------------------------
// Operation sequences: what a control plane does to a table, valid or not.
// ---------------------------------------------------------------------------------------

use crate::transport::{RequestKind, Transport};
use crate::wire::{DaemonAttr, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr};
use crate::Ipvs;

/// One operation on an IPVS table, through [`Ipvs`] (or, for [`Op::Raw`], straight through
/// the transport, bypassing the client's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// [`Ipvs::add_service`].
    AddService(Service),
    /// [`Ipvs::update_service`].
    UpdateService(Service),
    /// [`Ipvs::delete_service`].
    DeleteService(ServiceId),
    /// [`Ipvs::get_service`].
    GetService(ServiceId),
    /// [`Ipvs::services`].
    Services,
    /// [`Ipvs::add_destination`].
    AddDestination(ServiceId, Destination),
    /// [`Ipvs::update_destination`].
    UpdateDestination(ServiceId, Destination),
    /// [`Ipvs::delete_destination`].
    DeleteDestination(ServiceId, SocketAddr),
    /// [`Ipvs::destinations`].
    Destinations(ServiceId),
    /// [`Ipvs::flush`].
    Flush,
    /// [`Ipvs::zero_all`].
    ZeroAll,
    /// [`Ipvs::zero_service`].
    ZeroService(ServiceId),
    /// [`Ipvs::set_timeouts`].
    SetTimeouts(Timeouts),
    /// [`Ipvs::timeouts`].
    GetTimeouts,
    /// [`Ipvs::info`].
    Info,
    /// [`Ipvs::start_daemon`].
    StartDaemon(Daemon),
    /// [`Ipvs::stop_daemon`].
    StopDaemon(DaemonState),
    /// [`Ipvs::daemons`].
    Daemons,
    /// A request sent as it is through the transport (no client checks, no error naming).
    Raw(IpvsMessage, RequestKind),
}

/// What an [`Op`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpReply {
    /// A write that succeeded.
    Done,
    /// One service.
    Service(Service),
    /// A service listing.
    Services(Vec<Service>),
    /// A destination listing.
    Destinations(Vec<Destination>),
    /// The timeouts.
    Timeouts(Timeouts),
    /// Version and connection table size.
    Info(Info),
    /// The sync daemons.
    Daemons(Vec<Daemon>),
    /// The reply messages of a raw request.
    Raw(Vec<IpvsMessage>),
}

impl Op {
    /// Apply the operation to a table.
    pub fn apply<T: Transport>(&self, ipvs: &mut Ipvs<T>) -> crate::Result<OpReply> {
        let done = |r: crate::Result<()>| r.map(|()| OpReply::Done);
        match self {
            Op::AddService(s) => done(ipvs.add_service(s)),
            Op::UpdateService(s) => done(ipvs.update_service(s)),
            Op::DeleteService(id) => done(ipvs.delete_service(id)),
            Op::GetService(id) => ipvs.get_service(id).map(OpReply::Service),
            Op::Services => ipvs.services().map(OpReply::Services),
            Op::AddDestination(id, d) => done(ipvs.add_destination(id, d)),
            Op::UpdateDestination(id, d) => done(ipvs.update_destination(id, d)),
            Op::DeleteDestination(id, a) => done(ipvs.delete_destination(id, *a)),
            Op::Destinations(id) => ipvs.destinations(id).map(OpReply::Destinations),
            Op::Flush => done(ipvs.flush()),
            Op::ZeroAll => done(ipvs.zero_all()),
            Op::ZeroService(id) => done(ipvs.zero_service(id)),
            Op::SetTimeouts(t) => done(ipvs.set_timeouts(t)),
            Op::GetTimeouts => ipvs.timeouts().map(OpReply::Timeouts),
            Op::Info => ipvs.info().map(OpReply::Info),
            Op::StartDaemon(d) => done(ipvs.start_daemon(d)),
            Op::StopDaemon(s) => done(ipvs.stop_daemon(*s)),
            Op::Daemons => ipvs.daemons().map(OpReply::Daemons),
            Op::Raw(msg, kind) => ipvs.transport().request(msg, *kind).map(OpReply::Raw),
        }
    }
}

/// Addresses of services and destinations in sequences: a few, so that operations meet
/// (duplicates, deletes of what exists), and some the kernel refuses for a real server.
fn pool_ip(af: AddressFamily) -> BoxedStrategy<IpAddr> {
    let v4 = |a: [u8; 4]| IpAddr::V4(Ipv4Addr::from(a));
    let v6 = |s: &str| -> IpAddr { s.parse().unwrap_or(IpAddr::V6(Ipv6Addr::LOCALHOST)) };
    match af {
        AddressFamily::Inet => prop_oneof![
            12 => proptest::sample::select(vec![
                v4([10, 0, 0, 1]),
                v4([10, 0, 0, 2]),
                v4([10, 0, 0, 3]),
                v4([192, 168, 1, 1]),
            ]),
            2 => proptest::sample::select(vec![
                v4([0, 0, 0, 0]),
                v4([0, 1, 2, 3]),
                v4([127, 0, 0, 1]),
                v4([127, 0, 0, 0]),
                v4([127, 255, 255, 255]),
                v4([224, 0, 0, 1]),
                v4([239, 1, 1, 1]),
                v4([240, 0, 0, 1]),
                v4([255, 255, 255, 255]),
                v4([10, 0, 0, 255]),
            ]),
            1 => any::<[u8; 4]>().prop_map(v4),
        ]
        .boxed(),
        AddressFamily::Inet6 => prop_oneof![
            12 => proptest::sample::select(vec![v6("fd00::1"), v6("fd00::2"), v6("2001:db8::1")]),
            2 => proptest::sample::select(vec![
                v6("::"),
                v6("::1"),
                v6("::10.0.0.1"),
                v6("::ffff:10.0.0.1"),
                v6("fe80::1"),
                v6("febf::1"),
                v6("fec0::1"),
                v6("ff02::1"),
                v6("ff05::2"),
            ]),
            1 => any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
        ]
        .boxed(),
    }
}

/// A service identity from a small pool (so that sequences hit the same services), now
/// and then any identity.
pub fn pool_service_id() -> impl Strategy<Value = ServiceId> {
    let family = prop_oneof![3 => Just(AddressFamily::Inet), 1 => Just(AddressFamily::Inet6)];
    prop_oneof![
        6 => (protocol(), family, proptest::sample::select(vec![80u16, 443, 0]))
            .prop_flat_map(|(protocol, af, port)| {
                pool_ip(af).prop_map(move |ip| ServiceId::Addr {
                    protocol,
                    addr: SocketAddr::new(ip, port),
                })
            }),
        2 => (proptest::sample::select(vec![1u32, 2, 257]), any::<bool>()).prop_map(|(m, v6)| {
            if v6 { ServiceId::fwmark6(m) } else { ServiceId::fwmark(m) }
        }),
        1 => service_id(),
    ]
}

/// A valid service of this identity (port 0 made persistent, as ipvsadm requires), with
/// the schedulers and engines a kernel has, and now and then a name no module has (which
/// makes the kernel try to load a module: slow, so rare).
pub fn service_of(id: ServiceId) -> impl Strategy<Value = Service> {
    let af = id.af();
    let scheduler = prop_oneof![
        40 => proptest::sample::select(Scheduler::ALL.to_vec()),
        2 => Just(Scheduler::Other("none".to_owned())),
        1 => "[a-z][a-z0-9_]{0,14}".prop_map(|s| Scheduler::from_name(&s)),
    ];
    let pe = prop_oneof![
        30 => Just(None),
        10 => Just(Some(PersistenceEngine::Sip)),
        1 => "[a-z]{1,15}".prop_map(|s| Some(PersistenceEngine::from_name(&s))),
    ];
    (
        scheduler,
        0u32..8,
        proptest::option::of((
            prop_oneof![
                3 => 1..=Persistence::MAX_TIMEOUT,
                1 => Just(Persistence::DEFAULT_TIMEOUT),
            ],
            netmask(af),
        )),
        any::<bool>(),
        pe,
        proptest::option::weighted(0.2, netmask(af)),
        prop_oneof![4 => Just(0u32), 1 => any::<u32>()],
        proptest::option::weighted(0.1, 0x40u32..=0x8000_0000),
    )
        .prop_map(
            move |(scheduler, sf, persistence, one_packet, pe, raw_mask, raw_timeout, extra)| {
                let mut s = Service::builder(id)
                    .scheduler(scheduler)
                    .build_unvalidated();
                s.sched_flags = SchedFlags::from_bits_retain(sf << 3);
                s.persistence =
                    persistence.map(|(timeout, netmask)| Persistence { timeout, netmask });
                s.pe = pe;
                if let ServiceId::Addr { addr, protocol } = id {
                    if addr.port() == 0 && s.persistence.is_none() {
                        s.persistence = Some(Persistence {
                            timeout: Persistence::DEFAULT_TIMEOUT,
                            netmask: Netmask::full(af),
                        });
                    }
                    s.one_packet = one_packet && protocol == Protocol::Udp;
                } else {
                    s.one_packet = one_packet;
                }
                if s.persistence.is_none() {
                    s.raw_netmask = raw_mask.filter(|m| *m != Netmask::full(af));
                    s.raw_timeout = raw_timeout;
                }
                s.other_flags = ServiceFlags::from_bits_retain(extra.unwrap_or(0) & !0x3f);
                s
            },
        )
}

/// A valid destination for a service of this identity, at an address from a small pool.
pub fn pool_destination_for(id: ServiceId) -> impl Strategy<Value = Destination> {
    let svc_af = id.af();
    (
        destination_for(id),
        any::<bool>(),
        proptest::sample::select(vec![80u16, 8080, 0]),
    )
        .prop_flat_map(move |(d, _, port)| {
            let af = d.af();
            (Just(d), pool_ip(af), Just(port))
        })
        .prop_map(move |(mut d, ip, port)| {
            d.addr = ip;
            d.port = port;
            debug_assert!(d.af() == svc_af || matches!(d.forward, ForwardMethod::Tunnel(_)));
            d
        })
}

/// A destination address from the pool (for deletes).
fn pool_dest_addr(af: AddressFamily) -> impl Strategy<Value = SocketAddr> {
    let other = match af {
        AddressFamily::Inet => AddressFamily::Inet6,
        AddressFamily::Inet6 => AddressFamily::Inet,
    };
    (
        prop_oneof![4 => Just(af), 1 => Just(other)],
        proptest::sample::select(vec![80u16, 8080, 0]),
    )
        .prop_flat_map(|(af, port)| pool_ip(af).prop_map(move |ip| SocketAddr::new(ip, port)))
}

/// A sync daemon on `lo` (the interface every namespace has) or on a missing interface.
pub fn pool_daemon() -> impl Strategy<Value = Daemon> {
    (daemon(), prop_oneof![6 => Just("lo"), 1 => Just("nosuch0")]).prop_map(|(mut d, ifname)| {
        ifname.clone_into(&mut d.interface);
        d
    })
}

/// Timeouts as a control plane sets them (0 keeps a value), now and then out of range.
pub fn pool_timeouts() -> impl Strategy<Value = Timeouts> {
    let one = prop_oneof![
        4 => Just(0u32),
        4 => 1u32..100_000,
        1 => proptest::sample::select(vec![8_589_934u32, 8_589_935, i32::MAX as u32, u32::MAX]),
    ];
    (one.clone(), one.clone(), one).prop_map(|(tcp, tcp_fin, udp)| Timeouts { tcp, tcp_fin, udp })
}

/// A raw request the client would not send (or would send differently): a valid request
/// with one thing broken, to record how the kernel refuses it.
pub fn raw_request() -> impl Strategy<Value = (IpvsMessage, RequestKind)> {
    raw_request_on(Vec::new())
}

/// [`raw_request`] about services of `ids` (mostly), as [`op_on`] picks them.
pub fn raw_request_on(ids: Vec<ServiceId>) -> impl Strategy<Value = (IpvsMessage, RequestKind)> {
    let kind = prop_oneof![8 => Just(RequestKind::Do), 1 => Just(RequestKind::Dump)];
    (
        id_from(ids),
        any::<u8>(),
        any::<prop::sample::Index>(),
        any::<u32>(),
        kind,
    )
        .prop_flat_map(|(id, pick, index, value, kind)| {
            (
                Just((id, pick, index, value, kind)),
                service_of(id),
                pool_destination_for(id),
                pool_daemon(),
                "[a-z]{0,17}",
            )
        })
        .prop_map(
            |((id, pick, index, value, kind), svc, dest, daemon, name)| {
                let msg = broken_request(id, &svc, &dest, &daemon, pick, index, value, &name);
                (msg, kind)
            },
        )
}

/// `mutation` picks what to break; `index` an attribute to drop; `value` a number to put in.
#[allow(clippy::too_many_arguments)]
fn broken_request(
    id: ServiceId,
    svc: &Service,
    dest: &Destination,
    daemon: &Daemon,
    mutation: u8,
    index: prop::sample::Index,
    value: u32,
    name: &str,
) -> IpvsMessage {
    let svc_cmds = [IpvsCmd::NewService, IpvsCmd::SetService];
    let dest_cmds = [IpvsCmd::NewDest, IpvsCmd::SetDest];
    let with_svc = |cmd: IpvsCmd, attrs: Vec<ServiceAttr>| {
        IpvsMessage::new(cmd, vec![IpvsAttr::Service(attrs)])
    };
    let with_dest = |cmd: IpvsCmd, attrs: Vec<DestAttr>| {
        IpvsMessage::new(
            cmd,
            vec![
                IpvsAttr::Service(ServiceAttr::from_id(&id)),
                IpvsAttr::Dest(attrs),
            ],
        )
    };
    fn drop_at<A>(mut v: Vec<A>, index: prop::sample::Index) -> Vec<A> {
        if !v.is_empty() {
            v.remove(index.index(v.len()));
        }
        v
    }
    let set_svc = |f: &dyn Fn(&mut ServiceAttr)| {
        let mut a = ServiceAttr::from_service(svc);
        a.iter_mut().for_each(f);
        a
    };
    let set_dest = |f: &dyn Fn(&mut DestAttr)| {
        let mut a = DestAttr::from_destination(dest);
        a.iter_mut().for_each(f);
        a
    };
    let svc_cmd = svc_cmds[usize::from(mutation) % 2];
    let dest_cmd = dest_cmds[usize::from(mutation) % 2];
    match mutation % 26 {
        // A service attribute missing (identity or full entry).
        0 | 1 => with_svc(svc_cmd, drop_at(ServiceAttr::from_service(svc), index)),
        2 => with_svc(
            [IpvsCmd::DelService, IpvsCmd::GetService, IpvsCmd::Zero][index.index(3)],
            drop_at(ServiceAttr::from_id(&id), index),
        ),
        // A family IPVS does not know, or a port 0 / one-packet the client refuses.
        3 => with_svc(
            svc_cmd,
            set_svc(&|a| {
                if let ServiceAttr::Af(af) = a {
                    *af = [0, 1, 7, 28, 0xffff][index.index(5)];
                }
            }),
        ),
        4 => with_svc(
            svc_cmd,
            set_svc(&|a| match a {
                ServiceAttr::Port(p) => *p = 0,
                ServiceAttr::Flags { flags, .. } => *flags |= 0x4,
                _ => {}
            }),
        ),
        // Any scheduler or engine name (too long, empty, unknown, "none").
        5 => with_svc(
            svc_cmd,
            set_svc(&|a| {
                if let ServiceAttr::SchedName(s) = a {
                    name.clone_into(s);
                }
            }),
        ),
        6 => {
            let mut a = ServiceAttr::from_service(svc);
            a.retain(|x| !matches!(x, ServiceAttr::PeName(_)));
            a.push(ServiceAttr::PeName(name.to_owned()));
            with_svc(svc_cmd, a)
        }
        7 => with_svc(
            svc_cmd,
            set_svc(&|a| {
                if let ServiceAttr::SchedName(s) = a {
                    "none".clone_into(s);
                }
            }),
        ),
        // Any netmask, timeout or flags word.
        8 => with_svc(
            svc_cmd,
            set_svc(&|a| match a {
                ServiceAttr::Netmask(m) => *m = value % 260,
                ServiceAttr::Timeout(t) => *t = value,
                _ => {}
            }),
        ),
        9 => with_svc(
            svc_cmd,
            set_svc(&|a| {
                if let ServiceAttr::Flags { flags, mask } = a {
                    *flags = value;
                    *mask = value.rotate_left(7) | u32::from(mutation & 1);
                }
            }),
        ),
        // A fwmark of 0.
        10 => with_svc(
            svc_cmd,
            set_svc(&|a| {
                if let ServiceAttr::Fwmark(m) = a {
                    *m = 0;
                }
            }),
        ),
        // A destination attribute missing.
        11 | 12 => with_dest(dest_cmd, drop_at(DestAttr::from_destination(dest), index)),
        13 => with_dest(
            IpvsCmd::DelDest,
            drop_at(DestAttr::from_dest_id(&dest.socket_addr()), index),
        ),
        // Weight and thresholds the kernel reads as int.
        14 => with_dest(
            dest_cmd,
            set_dest(&|a| {
                if let DestAttr::Weight(w) = a {
                    *w = value;
                }
            }),
        ),
        15 => with_dest(
            dest_cmd,
            set_dest(&|a| match a {
                DestAttr::UpperThreshold(u) => *u = value >> (mutation % 32),
                DestAttr::LowerThreshold(l) => *l = value.rotate_left(3) >> (mutation % 29),
                _ => {}
            }),
        ),
        // Forwarding, tunnel type/port/flags and address family as raw numbers.
        16 => with_dest(
            dest_cmd,
            set_dest(&|a| match a {
                DestAttr::FwdMethod(f) => *f = value,
                DestAttr::TunType(t) => *t = (value >> 8) as u8 % 4,
                DestAttr::TunPort(p) => *p = if value & 1 == 0 { 0 } else { *p },
                DestAttr::TunFlags(f) => *f = (value >> 16) as u16,
                _ => {}
            }),
        ),
        17 => with_dest(
            dest_cmd,
            set_dest(&|a| {
                if let DestAttr::AddrFamily(af) = a {
                    *af = [2, 10, 0, 7][index.index(4)];
                }
            }),
        ),
        // A daemon attribute missing or out of range; a stop without state.
        18 => IpvsMessage::new(
            IpvsCmd::NewDaemon,
            vec![IpvsAttr::Daemon(drop_at(
                DaemonAttr::from_daemon(daemon),
                index,
            ))],
        ),
        19 => {
            let mut a = DaemonAttr::from_daemon(daemon);
            for x in &mut a {
                match x {
                    DaemonAttr::State(s) => *s = value % 4,
                    DaemonAttr::McastGroup(g) => *g = Ipv4Addr::from(value),
                    DaemonAttr::McastIfn(n) if mutation & 0x20 != 0 => name.clone_into(n),
                    DaemonAttr::SyncId(id) if mutation & 0x40 != 0 => {
                        *id = value.rotate_left(u32::from(mutation));
                    }
                    _ => {}
                }
            }
            IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(a)])
        }
        20 => IpvsMessage::new(
            IpvsCmd::DelDaemon,
            vec![IpvsAttr::Daemon(if value.is_multiple_of(3) {
                Vec::new()
            } else {
                vec![DaemonAttr::State(value % 4)]
            })],
        ),
        // Timeouts, one at a time.
        21 => IpvsMessage::new(
            IpvsCmd::SetConfig,
            vec![[
                IpvsAttr::TimeoutTcp(value),
                IpvsAttr::TimeoutTcpFin(value),
                IpvsAttr::TimeoutUdp(value),
            ][index.index(3)]
            .clone()],
        ),
        // Commands without their nest, or unknown to the family.
        22 => IpvsMessage::new(
            [
                IpvsCmd::NewService,
                IpvsCmd::NewDest,
                IpvsCmd::DelDest,
                IpvsCmd::NewDaemon,
                IpvsCmd::GetService,
                IpvsCmd::GetDest,
                IpvsCmd::SetInfo,
                IpvsCmd::Other(0),
                IpvsCmd::Other(18),
            ][index.index(9)],
            Vec::new(),
        ),
        // Any protocol number (the kernel checks none).
        23 => with_svc(
            svc_cmd,
            set_svc(&|a| {
                if let ServiceAttr::Protocol(p) = a {
                    *p = [0, 1, 17, 255, 256, 0xffff][index.index(6)];
                }
            }),
        ),
        // An attribute twice: the last one counts.
        24 => {
            let mut a = ServiceAttr::from_service(svc);
            let Some(mut dup) = a.get(index.index(a.len())).cloned() else {
                return with_svc(svc_cmd, a);
            };
            match &mut dup {
                ServiceAttr::Port(p) => *p = p.wrapping_add(1),
                ServiceAttr::Fwmark(m) => *m = m.wrapping_add(256),
                ServiceAttr::SchedName(s) => "rr".clone_into(s),
                ServiceAttr::Timeout(t) => *t = value % 1000,
                ServiceAttr::Flags { flags, .. } => *flags ^= 0x4,
                ServiceAttr::Af(af) => *af = if *af == 2 { 10 } else { 2 },
                _ => {}
            }
            a.push(dup);
            with_svc(svc_cmd, a)
        }
        // A destination sent to the service nest's other family without ADDR_FAMILY.
        _ => {
            let mut a = DestAttr::from_destination(dest);
            a.retain(|x| !matches!(x, DestAttr::AddrFamily(_)));
            with_dest(dest_cmd, a)
        }
    }
}

/// A service identity: mostly one of `ids` (when there are any), else any from
/// [`pool_service_id`].
fn id_from(ids: Vec<ServiceId>) -> BoxedStrategy<ServiceId> {
    if ids.is_empty() {
        pool_service_id().boxed()
    } else {
        prop_oneof![
            9 => proptest::sample::select(ids),
            1 => pool_service_id(),
        ]
        .boxed()
    }
}

/// One operation on a table whose services come from [`pool_service_id`]: mostly valid
/// ones, some the client refuses, some raw requests the kernel refuses.
pub fn op() -> impl Strategy<Value = Op> {
    op_on(Vec::new())
}

/// [`op`], on services of `ids` most of the time (so that a sequence mostly works on a
/// few services, and its destination operations find them).
pub fn op_on(ids: Vec<ServiceId>) -> impl Strategy<Value = Op> {
    let i = ids.clone();
    let id = move || id_from(i.clone());
    prop_oneof![
        10 => id().prop_flat_map(service_of).prop_map(Op::AddService),
        3 => id().prop_flat_map(service_of).prop_map(Op::UpdateService),
        2 => id().prop_map(Op::DeleteService),
        2 => id().prop_map(Op::GetService),
        1 => Just(Op::Services),
        12 => id().prop_flat_map(|id| pool_destination_for(id).prop_map(move |d| Op::AddDestination(id, d))),
        4 => id().prop_flat_map(|id| pool_destination_for(id).prop_map(move |d| Op::UpdateDestination(id, d))),
        3 => id().prop_flat_map(|id| pool_dest_addr(id.af()).prop_map(move |a| Op::DeleteDestination(id, a))),
        2 => id().prop_map(Op::Destinations),
        1 => Just(Op::Flush),
        1 => Just(Op::ZeroAll),
        1 => id().prop_map(Op::ZeroService),
        1 => pool_timeouts().prop_map(Op::SetTimeouts),
        1 => Just(Op::GetTimeouts),
        1 => Just(Op::Info),
        1 => pool_daemon().prop_map(Op::StartDaemon),
        1 => prop_oneof![Just(DaemonState::Master), Just(DaemonState::Backup)].prop_map(Op::StopDaemon),
        1 => Just(Op::Daemons),
        8 => raw_request_on(ids).prop_map(|(m, k)| Op::Raw(m, k)),
    ]
}

/// A sequence of up to `max_len` operations (see [`op`]), most of them on a handful of
/// services chosen for the sequence.
pub fn ops(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(pool_service_id(), 1..=5)
        .prop_flat_map(move |ids| proptest::collection::vec(op_on(ids), 0..=max_len))
}
