//! Desired tables: services with their destinations that a kernel takes as they are
//! ([`table`], [`service_entry`], [`accepted_service`], [`accepted_destination`]), and
//! tables with defects it refuses ([`hostile_table`]).
//!
//! They are built to shrink to the cause of a failure: each choice is a small index or
//! number that shrinks towards the plainest value (the first scheduler, no persistence,
//! masquerading, weight 0), no strategy depends on another's value (no `prop_flat_map`),
//! and services and destinations are `prop::collection::vec` elements, which shrinking
//! removes one by one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use crate::model::*;

/// The schedulers of the default mock and of every mainline kernel from 6.7 on
/// ([`Scheduler::ALL`]), then `none` (no scheduler, always taken): an index into this
/// list shrinks towards `rr`.
fn accepted_scheduler() -> impl Strategy<Value = Scheduler> {
    (0..=Scheduler::ALL.len()).prop_map(|i| {
        Scheduler::ALL
            .get(i)
            .cloned()
            .unwrap_or_else(|| Scheduler::from_name("none"))
    })
}

/// A unicast IPv4 address outside `0.0.0.0/8`, `127.0.0.0/8` and `224.0.0.0/3`: a real
/// server every kernel takes, whatever its routes (shrinks towards `1.0.0.0`).
fn unicast_v4() -> impl Strategy<Value = Ipv4Addr> {
    (1u8..=223, any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| {
        // 127 is the loopback network: some of its addresses are broadcast.
        let a = if a == 127 { 128 } else { a };
        Ipv4Addr::new(a, b, c, d)
    })
}

/// A global unicast (`2000::/3`) or unique local (`fd00::/8`) IPv6 address: a real server
/// every kernel takes.
fn unicast_v6() -> impl Strategy<Value = Ipv6Addr> {
    (any::<bool>(), any::<[u8; 16]>()).prop_map(|(ula, mut o)| {
        o[0] = if ula { 0xfd } else { 0x20 | (o[0] & 0x1f) };
        Ipv6Addr::from(o)
    })
}

/// The parts of a service, before its family is known to the destinations.
#[derive(Debug, Clone)]
struct ServiceParts {
    v6: bool,
    /// 0: TCP, 1: UDP, 2: SCTP, 3: a firewall mark.
    kind: u8,
    v4: Ipv4Addr,
    v6_addr: Ipv6Addr,
    port: u16,
    mark: u32,
    scheduler: Scheduler,
    sched_flags: u32,
    /// `(timeout, IPv4 prefix length, IPv6 prefix length)`.
    persistence: Option<(u32, u8, u8)>,
    one_packet: bool,
    sip: bool,
}

fn service_parts() -> impl Strategy<Value = ServiceParts> {
    (
        (
            any::<bool>(),
            0u8..4,
            any::<[u8; 4]>(),
            unicast_v6(),
            any::<u16>(),
            1..=u32::MAX,
        ),
        (
            accepted_scheduler(),
            0u32..8,
            // Timeouts that read back the same on a kernel with HZ up to 1000 (the
            // kernel keeps them in ticks, in 32 bits).
            proptest::option::of((1..=Persistence::MAX_TIMEOUT, 0u8..=32, 1u8..=128)),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (v6, kind, v4, v6_addr, port, mark),
                (scheduler, sf, persistence, one_packet, sip),
            )| {
                ServiceParts {
                    v6,
                    kind,
                    v4: Ipv4Addr::from(v4),
                    v6_addr,
                    port,
                    mark,
                    scheduler,
                    sched_flags: sf,
                    persistence,
                    one_packet,
                    sip,
                }
            },
        )
}

impl ServiceParts {
    fn build(self) -> Service {
        let af = if self.v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let ip = if self.v6 {
            IpAddr::V6(self.v6_addr)
        } else {
            IpAddr::V4(self.v4)
        };
        // Port 0 (any port) needs persistence, as ipvsadm requires.
        let port = if self.port == 0 && self.persistence.is_none() {
            1
        } else {
            self.port
        };
        let addr = SocketAddr::new(ip, port);
        let id = match self.kind {
            0 => ServiceId::Addr {
                protocol: Protocol::Tcp,
                addr,
            },
            1 => ServiceId::Addr {
                protocol: Protocol::Udp,
                addr,
            },
            2 => ServiceId::Addr {
                protocol: Protocol::Sctp,
                addr,
            },
            _ if self.v6 => ServiceId::fwmark6(self.mark),
            _ => ServiceId::fwmark(self.mark),
        };
        let mut s = Service::builder(id)
            .scheduler(self.scheduler)
            .build_unvalidated();
        s.sched_flags = SchedFlags::from_bits_retain(self.sched_flags << 3);
        s.persistence = self.persistence.map(|(timeout, p4, p6)| Persistence {
            timeout,
            netmask: match af {
                AddressFamily::Inet => Netmask::v4_prefix(p4).unwrap_or_else(|_| Netmask::full(af)),
                AddressFamily::Inet6 => Netmask::V6(p6),
            },
        });
        // One-packet scheduling is for UDP (and firewall marks, which may carry it).
        s.one_packet = self.one_packet
            && matches!(
                s.id,
                ServiceId::Fwmark { .. }
                    | ServiceId::Addr {
                        protocol: Protocol::Udp,
                        ..
                    }
            );
        s.pe = (self.sip && s.persistence.is_some()).then_some(PersistenceEngine::Sip);
        s
    }
}

/// The parts of a destination, before its service's family is known.
#[derive(Debug, Clone)]
struct DestParts {
    /// Of the other family than its service (then tunnelled).
    mixed: bool,
    v4: Ipv4Addr,
    v6: Ipv6Addr,
    port: u16,
    /// 0: masquerade, 1: direct routing, 2: tunnel, 3: local, 4: bypass.
    forward: u8,
    /// 0: IPIP, 1: GUE, 2: GRE.
    tunnel: u8,
    gue_port: u16,
    tunnel_flags: u16,
    weight: u32,
    thresholds: (u32, u32),
}

fn dest_parts() -> impl Strategy<Value = DestParts> {
    (
        (
            prop::bool::weighted(0.1),
            unicast_v4(),
            unicast_v6(),
            any::<u16>(),
        ),
        (0u8..5, 0u8..3, 1u16.., 0u16..4),
        (
            0u32..=Destination::MAX_WEIGHT,
            (0u32..=i32::MAX as u32, 0u32..=i32::MAX as u32),
        ),
    )
        .prop_map(
            |(
                (mixed, v4, v6, port),
                (forward, tunnel, gue_port, tunnel_flags),
                (weight, thresholds),
            )| {
                DestParts {
                    mixed,
                    v4,
                    v6,
                    port,
                    forward,
                    tunnel,
                    gue_port,
                    tunnel_flags,
                    weight,
                    thresholds,
                }
            },
        )
}

impl DestParts {
    fn build(self, service_af: AddressFamily) -> Destination {
        let v6 = (service_af == AddressFamily::Inet6) != self.mixed;
        let ip = if v6 {
            IpAddr::V6(self.v6)
        } else {
            IpAddr::V4(self.v4)
        };
        let mut tunnel = match self.tunnel {
            0 => Tunnel::ipip(),
            1 => Tunnel::gue(self.gue_port),
            _ => Tunnel::gre(),
        };
        tunnel.flags = TunnelFlags::from_bits_retain(self.tunnel_flags);
        // Only a tunnel forwards to the other family.
        let forward = match self.forward {
            _ if self.mixed => ForwardMethod::Tunnel(tunnel),
            0 => ForwardMethod::Masquerade,
            1 => ForwardMethod::DirectRoute,
            2 => ForwardMethod::Tunnel(tunnel),
            3 => ForwardMethod::Local,
            _ => ForwardMethod::Bypass,
        };
        let mut d = Destination::builder(SocketAddr::new(ip, self.port))
            .forward(forward)
            .weight(self.weight)
            .build_unvalidated();
        let (a, b) = self.thresholds;
        d.upper_threshold = a.max(b);
        d.lower_threshold = a.min(b);
        d
    }
}

/// A service that the default [`MockKernel`](crate::transport::MockKernel) (and a mainline
/// kernel from 6.7 on, which has `twos`) takes as it is: a scheduler it has (or `none`),
/// the `sip` engine only with persistence, a persistence timeout ipvsadm accepts, port 0
/// only with persistence; any address, protocol or firewall mark of either family.
pub fn accepted_service() -> impl Strategy<Value = Service> {
    service_parts().prop_map(ServiceParts::build)
}

/// A destination that the default [`MockKernel`](crate::transport::MockKernel) takes as it
/// is under a service of family `service_af`: a unicast real server (never loopback,
/// multicast or broadcast, nor in `0.0.0.0/8`), of the service's family or, now and then,
/// of the other one through a tunnel (which the kernel refuses while a sync daemon runs);
/// GUE tunnels with a port; a weight up to `i32::MAX`; thresholds up to `i32::MAX` (the
/// largest the 7.x kernels take), the lower one not above the upper one.
pub fn accepted_destination(service_af: AddressFamily) -> impl Strategy<Value = Destination> {
    dest_parts().prop_map(move |p| p.build(service_af))
}

/// A service with up to `max_dests` destinations, which the default
/// [`MockKernel`](crate::transport::MockKernel) takes when the service is added, then each
/// destination: an [`accepted_service`] with [`accepted_destination`]s of distinct
/// addresses. Shrinking removes destinations one by one.
pub fn service_entry(max_dests: usize) -> impl Strategy<Value = ServiceEntry> {
    (
        service_parts(),
        prop::collection::vec(dest_parts(), 0..=max_dests),
    )
        .prop_map(|(s, dests)| entry(s, dests))
}

fn entry(s: ServiceParts, dests: Vec<DestParts>) -> ServiceEntry {
    let service = s.build();
    let af = service.id.af();
    let mut seen = std::collections::HashSet::new();
    let destinations = dests
        .into_iter()
        .map(|d| d.build(af))
        .filter(|d| seen.insert(d.socket_addr()))
        .collect();
    ServiceEntry {
        service,
        destinations,
    }
}

/// A desired table of up to `max_services` services with up to `max_dests` destinations
/// each, every one of which the default [`MockKernel`](crate::transport::MockKernel) takes,
/// when applied services first, then destinations (or in one
/// [`reconcile`](crate::Ipvs::reconcile)): [`service_entry`]s with distinct identities.
/// What the kernel then lists is the same table by configuration
/// ([`same_config`](crate::model::same_config)).
///
/// On another profile, mind what it lacks: `twos` before 6.7. Made for shrinking: a
/// failing table shrinks to the fewest services and destinations that still fail, each
/// with its plainest values.
///
/// ```
/// # #[cfg(feature = "mock")] {
/// use lvs::client::ReconcileOptions;
/// use lvs::strategies::table;
/// use lvs::transport::MockKernel;
/// use lvs::Ipvs;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let mut runner = TestRunner::deterministic();
/// let desired = table(8, 4).new_tree(&mut runner).unwrap().current();
/// let mut ipvs = Ipvs::with_transport(MockKernel::new());
/// let report = ipvs.reconcile(&desired, &ReconcileOptions::exact()).unwrap();
/// assert!(report.outcome.results.iter().all(|r| r.is_ok()));
/// assert!(lvs::model::same_config(&desired, &ipvs.table().unwrap()));
/// # }
/// ```
pub fn table(max_services: usize, max_dests: usize) -> impl Strategy<Value = Vec<ServiceEntry>> {
    prop::collection::vec(
        (
            service_parts(),
            prop::collection::vec(dest_parts(), 0..=max_dests),
        ),
        0..=max_services,
    )
    .prop_map(|entries| {
        let mut seen = std::collections::HashSet::new();
        entries
            .into_iter()
            .map(|(s, d)| entry(s, d))
            .filter(|e| seen.insert(e.service.id))
            .collect()
    })
}

/// One defect of a [`hostile_table`], at a position of the table.
#[derive(Debug, Clone)]
enum Defect {
    /// A scheduler no kernel has (ENOENT; a real kernel first tries to load the module).
    Scheduler(String),
    /// A persistence engine no kernel has (ENOENT).
    Engine(String),
    /// A real server of the other family without a tunnel (refused by the client's
    /// check; EINVAL from the kernel).
    MixedFamily,
    /// A multicast, broadcast, unspecified or IPv6 link-local real server (EINVAL).
    BadRealServer(u8),
    /// A service twice (EEXIST).
    DuplicateService,
    /// A destination twice (EEXIST).
    DuplicateDestination,
    /// A lower threshold above the upper one (refused by the client's check; ERANGE from
    /// the kernel).
    Thresholds,
}

fn defect() -> impl Strategy<Value = Defect> {
    prop_oneof![
        "nosuch[a-z]{0,8}".prop_map(Defect::Scheduler),
        "nosuch[a-z]{0,8}".prop_map(Defect::Engine),
        Just(Defect::MixedFamily),
        (0u8..4).prop_map(Defect::BadRealServer),
        Just(Defect::DuplicateService),
        Just(Defect::DuplicateDestination),
        Just(Defect::Thresholds),
    ]
}

/// A table like [`table`]'s with 1 to 3 defects that are refused when it is applied
/// (services first, then destinations), by the kernel (or the mock) or already by the
/// client's checks: a scheduler or a persistence engine no kernel has (ENOENT), a real
/// server of the other family without a tunnel (the client's `MixedFamilyWithoutTunnel`),
/// a multicast, broadcast, unspecified or IPv6 link-local real server (EINVAL), a service or a destination
/// twice (EEXIST), a lower threshold above the upper one (the client's check). Every value
/// has at least one service, and at least one operation of applying it fails; for testing
/// how a control plane reports and survives refusals. Made-up module names make a real
/// kernel try to load a module, which takes a while.
pub fn hostile_table(
    max_services: usize,
    max_dests: usize,
) -> impl Strategy<Value = Vec<ServiceEntry>> {
    (
        service_entry(max_dests),
        table(max_services.saturating_sub(1), max_dests),
        prop::collection::vec((defect(), any::<prop::sample::Index>()), 1..=3),
    )
        .prop_map(|(first, rest, defects)| {
            let mut t: Vec<ServiceEntry> = std::iter::once(first).chain(rest).collect();
            // Distinct identities, so that only the defects are refused.
            let mut seen = std::collections::HashSet::new();
            t.retain(|e| seen.insert(e.service.id));
            for (d, at) in defects {
                let i = at.index(t.len());
                apply_defect(&mut t, i, d);
            }
            t
        })
}

fn apply_defect(t: &mut Vec<ServiceEntry>, i: usize, d: Defect) {
    let e = &mut t[i];
    let af = e.service.id.af();
    let plain = |ip: IpAddr| {
        Destination::builder(SocketAddr::new(ip, 80))
            .masquerade()
            .build_unvalidated()
    };
    match d {
        Defect::Scheduler(name) => e.service.scheduler = Scheduler::from_name(&name),
        Defect::Engine(name) => {
            e.service
                .persistence
                .get_or_insert(Persistence::new(300, af));
            e.service.pe = Some(PersistenceEngine::from_name(&name));
        }
        Defect::MixedFamily => {
            let ip = match af {
                AddressFamily::Inet => {
                    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x77))
                }
                AddressFamily::Inet6 => IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1)),
            };
            e.destinations.push(plain(ip));
        }
        Defect::BadRealServer(k) => {
            let ip = match (af, k) {
                (AddressFamily::Inet, 0) => IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1)),
                (AddressFamily::Inet, 1) => IpAddr::V4(Ipv4Addr::BROADCAST),
                (AddressFamily::Inet, 2) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                (AddressFamily::Inet, _) => IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3)),
                (AddressFamily::Inet6, 0 | 1) => {
                    IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1))
                }
                (AddressFamily::Inet6, 2) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                (AddressFamily::Inet6, _) => IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            };
            e.destinations.push(plain(ip));
        }
        Defect::DuplicateService => {
            let dup = ServiceEntry {
                service: e.service.clone(),
                destinations: Vec::new(),
            };
            t.push(dup);
        }
        Defect::DuplicateDestination => {
            if e.destinations.is_empty() {
                e.destinations.push(plain(match af {
                    AddressFamily::Inet => IpAddr::V4(Ipv4Addr::new(10, 78, 0, 1)),
                    AddressFamily::Inet6 => {
                        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x78))
                    }
                }));
            }
            let dup = e.destinations[0].clone();
            e.destinations.push(dup);
        }
        Defect::Thresholds => {
            let mut d = plain(match af {
                AddressFamily::Inet => IpAddr::V4(Ipv4Addr::new(10, 79, 0, 1)),
                AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x79)),
            });
            d.upper_threshold = 10;
            d.lower_threshold = 20;
            e.destinations.push(d);
        }
    }
}
