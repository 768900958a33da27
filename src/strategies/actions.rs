//! Action sequences: what a control plane does to a table, valid or not, as values to
//! apply to a handle ([`Action::apply`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::values::{daemon, destination_for, netmask, protocol, service_id};
use crate::model::*;
use crate::transport::{RequestKind, Transport};
use crate::wire::{DaemonAttr, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr};
use crate::Ipvs;

/// One step a control plane takes on an IPVS table, through [`Ipvs`] (or, for [`Action::Raw`], straight through
/// the transport, bypassing the client's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
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

/// What an [`Action`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionReply {
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

impl Action {
    /// Apply the operation to a table.
    pub fn apply<T: Transport>(&self, ipvs: &mut Ipvs<T>) -> crate::Result<ActionReply> {
        let done = |r: crate::Result<()>| r.map(|()| ActionReply::Done);
        match self {
            Action::AddService(s) => done(ipvs.add_service(s)),
            Action::UpdateService(s) => done(ipvs.update_service(s)),
            Action::DeleteService(id) => done(ipvs.delete_service(id)),
            Action::GetService(id) => ipvs.get_service(id).map(ActionReply::Service),
            Action::Services => ipvs.services().map(ActionReply::Services),
            Action::AddDestination(id, d) => done(ipvs.add_destination(id, d)),
            Action::UpdateDestination(id, d) => done(ipvs.update_destination(id, d)),
            Action::DeleteDestination(id, a) => done(ipvs.delete_destination(id, *a)),
            Action::Destinations(id) => ipvs.destinations(id).map(ActionReply::Destinations),
            Action::Flush => done(ipvs.flush()),
            Action::ZeroAll => done(ipvs.zero_all()),
            Action::ZeroService(id) => done(ipvs.zero_service(id)),
            Action::SetTimeouts(t) => done(ipvs.set_timeouts(t)),
            Action::GetTimeouts => ipvs.timeouts().map(ActionReply::Timeouts),
            Action::Info => ipvs.info().map(ActionReply::Info),
            Action::StartDaemon(d) => done(ipvs.start_daemon(d)),
            Action::StopDaemon(s) => done(ipvs.stop_daemon(*s)),
            Action::Daemons => ipvs.daemons().map(ActionReply::Daemons),
            Action::Raw(msg, kind) => ipvs.transport().request(msg, *kind).map(ActionReply::Raw),
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

/// [`raw_request`] about services of `ids` (mostly), as [`action_on`] picks them.
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
pub fn action() -> impl Strategy<Value = Action> {
    action_on(Vec::new())
}

/// [`action`], on services of `ids` most of the time (so that a sequence mostly works on a
/// few services, and its destination operations find them).
pub fn action_on(ids: Vec<ServiceId>) -> impl Strategy<Value = Action> {
    let i = ids.clone();
    let id = move || id_from(i.clone());
    prop_oneof![
        10 => id().prop_flat_map(service_of).prop_map(Action::AddService),
        3 => id().prop_flat_map(service_of).prop_map(Action::UpdateService),
        2 => id().prop_map(Action::DeleteService),
        2 => id().prop_map(Action::GetService),
        1 => Just(Action::Services),
        12 => id().prop_flat_map(|id| pool_destination_for(id).prop_map(move |d| Action::AddDestination(id, d))),
        4 => id().prop_flat_map(|id| pool_destination_for(id).prop_map(move |d| Action::UpdateDestination(id, d))),
        3 => id().prop_flat_map(|id| pool_dest_addr(id.af()).prop_map(move |a| Action::DeleteDestination(id, a))),
        2 => id().prop_map(Action::Destinations),
        1 => Just(Action::Flush),
        1 => Just(Action::ZeroAll),
        1 => id().prop_map(Action::ZeroService),
        1 => pool_timeouts().prop_map(Action::SetTimeouts),
        1 => Just(Action::GetTimeouts),
        1 => Just(Action::Info),
        1 => pool_daemon().prop_map(Action::StartDaemon),
        1 => prop_oneof![Just(DaemonState::Master), Just(DaemonState::Backup)].prop_map(Action::StopDaemon),
        1 => Just(Action::Daemons),
        8 => raw_request_on(ids).prop_map(|(m, k)| Action::Raw(m, k)),
    ]
}

/// A sequence of up to `max_len` operations (see [`action`]), most of them on a handful of
/// services chosen for the sequence.
pub fn actions(max_len: usize) -> impl Strategy<Value = Vec<Action>> {
    proptest::collection::vec(pool_service_id(), 1..=5)
        .prop_flat_map(move |ids| proptest::collection::vec(action_on(ids), 0..=max_len))
}
