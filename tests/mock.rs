//! The mock kernel (`lvs::transport::MockKernel`, feature `mock`) through `Ipvs`: every rule
//! and refusal it models, one test each, with the kernel's errno. The kernel behaviour
//! scenarios the real-kernel suite checks too (the `quirk_*` tests, many found or confirmed
//! by the differential suite, `tests/differential.rs`) are written once, in
//! `tests/support/scenarios.rs`, and run here on every mock kernel profile.

use lvs::strategies::{actions, Action};
use lvs::transport::{MockKernel, MockKernelBuilder, RequestKind, Transport};
use lvs::wire::{DaemonAttr, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr};
use lvs::{
    Daemon, DaemonState, Destination, Error, ForwardMethod, Ipvs, KernelVersion, Operation,
    PersistenceEngine, Scheduler, Service, ServiceId, Timeouts, Tunnel,
};
use proptest::prelude::*;

#[macro_use]
#[path = "support/scenarios.rs"]
mod scenarios;

use scenarios::{kinds, masq, raw_errno, raw_flags, sa, tcp, Backend, Lab, Setup};

// ---- the scenarios shared with the real-kernel suite ----------------------------------

/// The mock as a scenario backend: one kernel profile.
struct MockBackend {
    /// The kernel it stands for, in failure messages.
    name: &'static str,
    profile: MockKernelBuilder,
}

/// One mock, as a scenario's namespace.
struct MockLab(Ipvs<MockKernel>);

impl Lab for MockLab {
    type Handle = Ipvs<MockKernel>;

    fn ipvs(&mut self) -> &mut Ipvs<MockKernel> {
        &mut self.0
    }

    /// The mock's own view of its table is what the handle reads back.
    fn check_own_view(&mut self) {
        let table = self.0.table().unwrap();
        assert_eq!(self.0.transport().services(), table);
        let timeouts = self.0.timeouts().unwrap();
        assert_eq!(self.0.transport().timeouts(), timeouts);
        let daemons = self.0.daemons().unwrap();
        assert_eq!(self.0.transport().daemons(), daemons);
        let info = self.0.info().unwrap();
        assert_eq!(self.0.transport().info(), info);
    }
}

impl Backend for MockBackend {
    type Lab = MockLab;

    fn caps(&self) -> lvs::Capabilities {
        self.profile.clone().build().capabilities()
    }

    fn lab(&self, _tag: &str, setup: Setup) -> MockLab {
        let mut b = self.profile.clone().loopback_up(!setup.loopback_down);
        for (name, mtu) in setup.interfaces {
            b = b.interface(name, mtu);
        }
        MockLab(Ipvs::with_transport(b.build()))
    }
}

/// Every mock kernel the scenarios run on: the four generations' profiles, 6.1 before the
/// upper-threshold change of 6.1.183 and at it, and the default mock (6.12's behaviour, no
/// version named).
fn mock_kernels() -> Vec<MockBackend> {
    let at = |name, v| MockBackend {
        name,
        profile: MockKernel::builder().kernel(v),
    };
    let k = KernelVersion::new;
    vec![
        MockBackend {
            name: "5.10",
            profile: MockKernel::builder().linux_5_10(),
        },
        MockBackend {
            name: "6.1",
            profile: MockKernel::builder().linux_6_1(),
        },
        MockBackend {
            name: "6.12",
            profile: MockKernel::builder().linux_6_12(),
        },
        MockBackend {
            name: "7",
            profile: MockKernel::builder().linux_7(),
        },
        at("6.1.182", k(6, 1, 182)),
        at("6.1.183", k(6, 1, 183)),
        MockBackend {
            name: "default",
            profile: MockKernel::builder(),
        },
    ]
}

/// One `#[test]` per scenario, run on every mock kernel.
macro_rules! on_every_mock_kernel {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                for kernel in mock_kernels() {
                    eprintln!("-- {} on the mock of Linux {}", stringify!($name), kernel.name);
                    scenarios::$name(&kernel);
                }
            }
        )*
    };
}

for_each_scenario!(on_every_mock_kernel);
for_each_refusal_scenario!(on_every_mock_kernel);

// ---- the mock on its own ----------------------------------------------------------------

fn mock() -> Ipvs<MockKernel> {
    Ipvs::with_transport(MockKernel::new())
}

/// A mock holding `tcp 10.0.0.1:80` (rr).
fn with_service() -> (Ipvs<MockKernel>, ServiceId) {
    let mut ipvs = mock();
    let id = tcp("10.0.0.1:80");
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    (ipvs, id)
}

fn raw(ipvs: &mut Ipvs<MockKernel>, msg: &IpvsMessage) -> lvs::Result<Vec<IpvsMessage>> {
    ipvs.transport().request(msg, RequestKind::Do)
}

fn dump(ipvs: &mut Ipvs<MockKernel>, msg: &IpvsMessage) -> lvs::Result<Vec<IpvsMessage>> {
    ipvs.transport().request(msg, RequestKind::Dump)
}

/// Assert `Err(Error::$variant(ctx))` with this errno and operation.
macro_rules! assert_refused {
    ($result:expr, $variant:ident, $errno:expr, $op:ident) => {
        match $result {
            Err(Error::$variant(ctx)) => {
                assert_eq!(ctx.errno, $errno, "{ctx:?}");
                assert_eq!(ctx.operation, Operation::$op, "{ctx:?}");
            }
            other => panic!(
                "expected Error::{}({}), got {other:?}",
                stringify!($variant),
                $errno
            ),
        }
    };
}

/// A full service nest with one attribute replaced or removed.
fn svc_attrs(svc: &Service, f: impl Fn(&ServiceAttr) -> Option<ServiceAttr>) -> IpvsAttr {
    IpvsAttr::Service(
        ServiceAttr::from_service(svc)
            .iter()
            .filter_map(f)
            .collect(),
    )
}

fn dest_msg(cmd: IpvsCmd, id: &ServiceId, dest: Vec<DestAttr>) -> IpvsMessage {
    IpvsMessage::new(
        cmd,
        vec![
            IpvsAttr::Service(ServiceAttr::from_id(id)),
            IpvsAttr::Dest(dest),
        ],
    )
}

// ---- identity -------------------------------------------------------------------------

#[test]
fn identity_is_family_protocol_address_port_or_family_fwmark() {
    let mut ipvs = mock();
    let ids = [
        tcp("10.0.0.1:80"),
        ServiceId::udp(sa("10.0.0.1:80")),
        ServiceId::sctp(sa("10.0.0.1:80")),
        tcp("10.0.0.1:81"),
        tcp("10.0.0.2:80"),
        tcp("[fd00::1]:80"),
        ServiceId::fwmark(1),
        ServiceId::fwmark6(1),
        ServiceId::fwmark(2),
    ];
    for id in &ids {
        ipvs.add_service(&Service::builder(*id).build().unwrap())
            .unwrap();
    }
    for id in &ids {
        assert_eq!(ipvs.get_service(id).unwrap().id, *id);
        assert_refused!(
            ipvs.add_service(&Service::builder(*id).build().unwrap()),
            ServiceExists,
            libc::EEXIST,
            AddService
        );
    }
    assert_eq!(ipvs.services().unwrap().len(), ids.len());
}

#[test]
fn ipv4_service_address_is_its_first_four_bytes() {
    let mut ipvs = mock();
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[10, 0, 0, 1]);
    addr[4..].fill(0xaa);
    let msg = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![IpvsAttr::Service(vec![
            ServiceAttr::Af(2),
            ServiceAttr::Protocol(6),
            ServiceAttr::Addr(addr),
            ServiceAttr::Port(80),
            ServiceAttr::SchedName("rr".into()),
            ServiceAttr::Flags { flags: 0, mask: !0 },
            ServiceAttr::Timeout(0),
            ServiceAttr::Netmask(u32::MAX),
        ])],
    );
    raw(&mut ipvs, &msg).unwrap();
    let r = raw(&mut ipvs, &IpvsMessage::get_service(&tcp("10.0.0.1:80"))).unwrap();
    let stored = r[0].service_attrs().unwrap().iter().find_map(|a| match a {
        ServiceAttr::Addr(a) => Some(*a),
        _ => None,
    });
    let mut want = [0u8; 16];
    want[..4].copy_from_slice(&[10, 0, 0, 1]);
    assert_eq!(stored, Some(want));
    assert_eq!(raw_errno(raw(&mut ipvs, &msg)), libc::EEXIST);
}

#[test]
fn fwmark_service_is_tcp_and_its_address_and_port_are_ignored() {
    let mut ipvs = mock();
    let msg = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![IpvsAttr::Service(vec![
            ServiceAttr::Af(2),
            ServiceAttr::Fwmark(5),
            ServiceAttr::Protocol(17),
            ServiceAttr::Addr([9; 16]),
            ServiceAttr::Port(53),
            ServiceAttr::SchedName("wlc".into()),
            ServiceAttr::Flags { flags: 0, mask: !0 },
            ServiceAttr::Timeout(0),
            ServiceAttr::Netmask(u32::MAX),
        ])],
    );
    raw(&mut ipvs, &msg).unwrap();
    // Found by its mark, whatever protocol the request names.
    let get = IpvsMessage::new(
        IpvsCmd::GetService,
        vec![IpvsAttr::Service(vec![
            ServiceAttr::Af(2),
            ServiceAttr::Fwmark(5),
            ServiceAttr::Protocol(132),
        ])],
    );
    let r = raw(&mut ipvs, &get).unwrap();
    assert_eq!(
        kinds(r[0].service_attrs().unwrap()),
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
    assert_eq!(
        ipvs.get_service(&ServiceId::fwmark(5)).unwrap().id,
        ServiceId::fwmark(5)
    );
    // Not the IPv6 service of the same mark.
    assert_refused!(
        ipvs.get_service(&ServiceId::fwmark6(5)),
        NoSuchService,
        libc::ESRCH,
        GetService
    );
}

#[test]
fn fwmark_zero_names_the_tcp_service_at_the_unspecified_address_port_0() {
    let mut ipvs = mock();
    let svc = Service::fwmark(9).build().unwrap();
    let msg = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![svc_attrs(&svc, |a| match a {
            ServiceAttr::Fwmark(_) => Some(ServiceAttr::Fwmark(0)),
            a => Some(a.clone()),
        })],
    );
    raw(&mut ipvs, &msg).unwrap();
    assert_eq!(ipvs.services().unwrap()[0].id, tcp("0.0.0.0:0"));
}

// ---- required attributes --------------------------------------------------------------

#[test]
fn service_commands_need_their_attributes() {
    let mut ipvs = mock();
    let svc = Service::tcp(sa("10.0.0.1:80"))
        .persistent(60)
        .build()
        .unwrap();
    let full = ServiceAttr::from_service(&svc);
    for cmd in [IpvsCmd::NewService, IpvsCmd::SetService] {
        for i in 0..full.len() {
            let mut attrs = full.clone();
            let removed = attrs.remove(i);
            let msg = IpvsMessage::new(cmd, vec![IpvsAttr::Service(attrs)]);
            let r = raw(&mut ipvs, &msg);
            if matches!(removed, ServiceAttr::PeName(_)) {
                continue;
            }
            // Without an identity or a full entry: EINVAL, before the service lookup
            // (so SET_SERVICE on a missing service is EINVAL too, not ESRCH).
            assert_eq!(raw_errno(r), libc::EINVAL, "{cmd:?} without {removed:?}");
        }
        let no_nest = IpvsMessage::new(cmd, Vec::new());
        assert_eq!(raw_errno(raw(&mut ipvs, &no_nest)), libc::EINVAL);
    }
    // The persistence engine is optional.
    let no_pe: Vec<_> = full
        .iter()
        .filter(|a| !matches!(a, ServiceAttr::PeName(_)))
        .cloned()
        .collect();
    raw(
        &mut ipvs,
        &IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(no_pe)]),
    )
    .unwrap();
    // Other commands need the identity only.
    for cmd in [IpvsCmd::GetService, IpvsCmd::DelService, IpvsCmd::Zero] {
        let ident = ServiceAttr::from_id(&svc.id);
        for i in 0..ident.len() {
            let mut attrs = ident.clone();
            attrs.remove(i);
            let msg = IpvsMessage::new(cmd, vec![IpvsAttr::Service(attrs)]);
            assert_eq!(raw_errno(raw(&mut ipvs, &msg)), libc::EINVAL, "{cmd:?}");
        }
    }
    raw(&mut ipvs, &IpvsMessage::del_service(&svc.id)).unwrap();
}

#[test]
fn destination_commands_need_their_attributes() {
    let (mut ipvs, id) = with_service();
    let d = masq("10.0.0.2:80");
    let full = DestAttr::from_destination(&d);
    for cmd in [IpvsCmd::NewDest, IpvsCmd::SetDest] {
        for i in 0..full.len() {
            let mut attrs = full.clone();
            let removed = attrs.remove(i);
            let r = raw(&mut ipvs, &dest_msg(cmd, &id, attrs));
            match removed {
                DestAttr::Addr(_)
                | DestAttr::Port(_)
                | DestAttr::FwdMethod(_)
                | DestAttr::Weight(_)
                | DestAttr::UpperThreshold(_)
                | DestAttr::LowerThreshold(_) => {
                    assert_eq!(raw_errno(r), libc::EINVAL, "{cmd:?} without {removed:?}")
                }
                // Optional: the family (the service's), the tunnel attributes (0).
                _ => {
                    if cmd == IpvsCmd::NewDest {
                        r.unwrap();
                        raw(&mut ipvs, &IpvsMessage::del_dest(&id, &d.socket_addr())).unwrap();
                    }
                }
            }
        }
    }
    // DEL_DEST needs the address and port only.
    raw(&mut ipvs, &IpvsMessage::new_dest(&id, &d)).unwrap();
    let del = vec![DestAttr::Addr(full_addr(&d)), DestAttr::Port(80)];
    raw(&mut ipvs, &dest_msg(IpvsCmd::DelDest, &id, del)).unwrap();
    let no_port = vec![DestAttr::Addr(full_addr(&d))];
    assert_eq!(
        raw_errno(raw(&mut ipvs, &dest_msg(IpvsCmd::DelDest, &id, no_port))),
        libc::EINVAL
    );
    // No destination nest at all.
    let msg = IpvsMessage::new(
        IpvsCmd::NewDest,
        vec![IpvsAttr::Service(ServiceAttr::from_id(&id))],
    );
    assert_eq!(raw_errno(raw(&mut ipvs, &msg)), libc::EINVAL);
}

fn full_addr(d: &Destination) -> [u8; 16] {
    DestAttr::from_destination(d)
        .iter()
        .find_map(|a| match a {
            DestAttr::Addr(a) => Some(*a),
            _ => None,
        })
        .unwrap()
}

#[test]
fn strings_longer_than_the_policy_are_einval() {
    let mut ipvs = mock();
    let svc = Service::tcp(sa("10.0.0.1:80")).build().unwrap();
    let with = |sched: &str, pe: Option<&str>| {
        let mut a = ServiceAttr::from_service(&svc);
        for x in &mut a {
            if let ServiceAttr::SchedName(s) = x {
                *s = sched.to_owned();
            }
        }
        if let Some(pe) = pe {
            a.push(ServiceAttr::PeName(pe.to_owned()));
        }
        IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(a)])
    };
    // A scheduler name has at most 15 bytes, an engine name 16 (the policy's limits):
    // past them EINVAL, within them the module lookup (ENOENT).
    assert_eq!(
        raw_errno(raw(&mut ipvs, &with(&"a".repeat(16), None))),
        libc::EINVAL
    );
    assert_eq!(
        raw_errno(raw(&mut ipvs, &with(&"a".repeat(15), None))),
        libc::ENOENT
    );
    assert_eq!(
        raw_errno(raw(&mut ipvs, &with("rr", Some(&"b".repeat(17))))),
        libc::EINVAL
    );
    assert_eq!(
        raw_errno(raw(&mut ipvs, &with("rr", Some(&"b".repeat(16))))),
        libc::ENOENT
    );
    // An empty engine name is no engine.
    raw(&mut ipvs, &with("rr", Some(""))).unwrap();
    assert_eq!(ipvs.get_service(&svc.id).unwrap().pe, None);
}

// ---- flags ----------------------------------------------------------------------------

#[test]
fn flags_merge_under_their_mask() {
    let mut ipvs = mock();
    let svc = Service::udp(sa("10.0.0.1:53"))
        .persistent(60)
        .build()
        .unwrap();
    ipvs.add_service(&svc).unwrap();
    let set = |flags: u32, mask: u32| {
        IpvsMessage::new(
            IpvsCmd::SetService,
            vec![svc_attrs(&svc, |a| match a {
                ServiceAttr::Flags { .. } => Some(ServiceAttr::Flags { flags, mask }),
                a => Some(a.clone()),
            })],
        )
    };
    // Only ONEPACKET changes: PERSISTENT stays.
    raw(&mut ipvs, &set(0x4, 0x4)).unwrap();
    assert_eq!(raw_flags(&mut ipvs, &svc.id), 0x1 | 0x2 | 0x4);
    // Bits outside the mask are ignored; bits under it cleared.
    raw(&mut ipvs, &set(0x8 | 0x10, 0x1 | 0x10)).unwrap();
    assert_eq!(raw_flags(&mut ipvs, &svc.id), 0x2 | 0x4 | 0x10);
    // HASHED cannot be cleared: the kernel sets it on every service it holds.
    raw(&mut ipvs, &set(0, u32::MAX)).unwrap();
    assert_eq!(raw_flags(&mut ipvs, &svc.id), 0x2);
    // On add there is nothing to merge with: only the masked bits count.
    let other = Service::udp(sa("10.0.0.2:53")).build().unwrap();
    let add = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![svc_attrs(&other, |a| match a {
            ServiceAttr::Flags { .. } => Some(ServiceAttr::Flags {
                flags: 0x1 | 0x4 | 0x100,
                mask: 0x4 | 0x100,
            }),
            a => Some(a.clone()),
        })],
    );
    raw(&mut ipvs, &add).unwrap();
    assert_eq!(raw_flags(&mut ipvs, &other.id), 0x2 | 0x4 | 0x100);
}

// ---- defaults and values as the kernel keeps them ---------------------------------------

#[test]
fn defaults_the_kernel_fills_in() {
    let mut ipvs = mock();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
    let info = ipvs.info().unwrap();
    assert_eq!(info.version.0, 0x01_02_01);
    assert_eq!(info.version.to_string(), "1.2.1");
    assert_eq!(info.conn_table_size, 4096);
    assert_eq!(ipvs.daemons().unwrap(), []);
    // A destination without tunnel attributes: type, port and flags 0.
    let (mut ipvs, id) = with_service();
    let d = Destination::builder(sa("10.0.0.2:80"))
        .tunnel(Tunnel::ipip())
        .build()
        .unwrap();
    let attrs: Vec<DestAttr> = DestAttr::from_destination(&d)
        .into_iter()
        .filter(|a| {
            !matches!(
                a,
                DestAttr::TunType(_) | DestAttr::TunPort(_) | DestAttr::TunFlags(_)
            )
        })
        .collect();
    raw(&mut ipvs, &dest_msg(IpvsCmd::NewDest, &id, attrs)).unwrap();
    assert_eq!(
        ipvs.destinations(&id).unwrap()[0].forward,
        ForwardMethod::Tunnel(Tunnel::ipip())
    );
    let r = dump(&mut ipvs, &IpvsMessage::dump_dests(&id)).unwrap();
    assert_eq!(
        kinds(r[0].dest_attrs().unwrap()),
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
}

#[test]
fn forwarding_method_is_masked_to_three_bits_and_stored_as_is() {
    let (mut ipvs, id) = with_service();
    let d = masq("10.0.0.2:80");
    let attrs: Vec<DestAttr> = DestAttr::from_destination(&d)
        .into_iter()
        .map(|a| match a {
            DestAttr::FwdMethod(_) => DestAttr::FwdMethod(0xf0 | 6),
            a => a,
        })
        .collect();
    raw(&mut ipvs, &dest_msg(IpvsCmd::NewDest, &id, attrs)).unwrap();
    assert_eq!(
        ipvs.destinations(&id).unwrap()[0].forward,
        ForwardMethod::Other(6)
    );
}

#[test]
fn persistence_timeout_is_kept_in_ticks_and_wraps() {
    let mut ipvs = mock();
    let mut s = Service::tcp(sa("10.0.0.1:80"))
        .persistent(60)
        .build()
        .unwrap();
    // HZ 250: u32::MAX / 250 + 1 seconds wraps around 2^32 ticks.
    let t = u32::MAX / 250 + 1;
    s.persistence.as_mut().unwrap().timeout = t;
    raw(&mut ipvs, &IpvsMessage::new_service(&s)).unwrap();
    let back = ipvs.get_service(&s.id).unwrap();
    assert_eq!(back.persistence.unwrap().timeout, t.wrapping_mul(250) / 250);
    assert_ne!(back.persistence.unwrap().timeout, t);

    // With HZ 100 the same value fits.
    let mut ipvs = Ipvs::with_transport(MockKernel::builder().hz(100).build());
    raw(&mut ipvs, &IpvsMessage::new_service(&s)).unwrap();
    assert_eq!(
        ipvs.get_service(&s.id)
            .unwrap()
            .persistence
            .unwrap()
            .timeout,
        t
    );
}

// ---- dump order -----------------------------------------------------------------------

fn order(ipvs: &mut Ipvs<MockKernel>) -> Vec<ServiceId> {
    ipvs.services().unwrap().iter().map(|s| s.id).collect()
}

#[test]
fn service_dump_order_follows_the_hash_and_its_seed() {
    // fwmark services land in bucket (seed ^ mark) & 0xff; buckets are walked in order.
    for seed in [0u8, 7, 200] {
        let mut ipvs = Ipvs::with_transport(MockKernel::builder().hash_seed(seed).build());
        for m in 256..512 {
            ipvs.add_service(&Service::fwmark(m).build().unwrap())
                .unwrap();
        }
        let got = order(&mut ipvs);
        let want: Vec<ServiceId> = (0..256u32)
            .map(|bucket| ServiceId::fwmark(256 + (bucket ^ u32::from(seed))))
            .collect();
        assert_eq!(got, want, "seed {seed}");
    }
    // Address services come before fwmark services, whatever their buckets; within a
    // bucket the newest first (marks 1 and 257 share a bucket).
    let mut ipvs = mock();
    for id in [
        ServiceId::fwmark(1),
        ServiceId::fwmark(257),
        tcp("10.0.0.1:80"),
    ] {
        ipvs.add_service(&Service::builder(id).build().unwrap())
            .unwrap();
    }
    assert_eq!(
        order(&mut ipvs),
        [
            tcp("10.0.0.1:80"),
            ServiceId::fwmark(257),
            ServiceId::fwmark(1)
        ]
    );
    // Address services: bucket = (protocol ^ address ^ seed ^ (port >> 8) ^ port) & 0xff,
    // the address folded to its low byte (IPv4: the last octet).
    let mut ipvs = mock();
    for id in [tcp("10.0.0.3:80"), tcp("10.0.0.1:80"), tcp("10.0.0.2:80")] {
        ipvs.add_service(&Service::builder(id).build().unwrap())
            .unwrap();
    }
    // 6^1^80 = 87, 6^2^80 = 84, 6^3^80 = 85.
    assert_eq!(
        order(&mut ipvs),
        [tcp("10.0.0.2:80"), tcp("10.0.0.3:80"), tcp("10.0.0.1:80")]
    );
    // The mock's own listing is the dump's.
    let listed: Vec<ServiceId> = ipvs
        .transport()
        .services()
        .iter()
        .map(|e| e.service.id)
        .collect();
    assert_eq!(listed, order(&mut ipvs));
}

// ---- refusals -------------------------------------------------------------------------

#[test]
fn available_schedulers_and_engines_are_configurable() {
    let mut ipvs = Ipvs::with_transport(
        MockKernel::builder()
            .schedulers(["rr"])
            .persistence_engines(Vec::<String>::new())
            .build(),
    );
    let with = |s: Scheduler| {
        Service::tcp(sa("10.0.0.1:80"))
            .scheduler(s)
            .build()
            .unwrap()
    };
    assert_refused!(
        ipvs.add_service(&with(Scheduler::Wlc)),
        SchedulerNotFound,
        libc::ENOENT,
        AddService
    );
    ipvs.add_service(&with(Scheduler::Rr)).unwrap();
    let sip = Service::tcp(sa("10.0.0.1:80"))
        .persistent(10)
        .pe(PersistenceEngine::Sip)
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap();
    assert_eq!(
        raw_errno(raw(&mut ipvs, &IpvsMessage::set_service(&sip))),
        libc::ENOENT
    );

    // `none` is no module: taken even by a kernel without any scheduler module.
    let mut bare = Ipvs::with_transport(
        MockKernel::builder()
            .schedulers(Vec::<String>::new())
            .build(),
    );
    let none = with(Scheduler::Other("none".into()));
    bare.add_service(&none).unwrap();
    assert_eq!(
        bare.get_service(&none.id).unwrap().scheduler,
        Scheduler::Other("none".into())
    );

    let twos = with(Scheduler::Twos);
    let mut old = Ipvs::with_transport(MockKernel::builder().linux_6_1().build());
    assert_refused!(
        old.add_service(&twos),
        SchedulerNotFound,
        libc::ENOENT,
        AddService
    );
    let mut new = Ipvs::with_transport(MockKernel::builder().linux_6_12().build());
    new.add_service(&twos).unwrap();
    assert_eq!(
        new.get_service(&twos.id).unwrap().scheduler,
        Scheduler::Twos
    );
}

/// Each profile's capabilities are the table of kernel facts for its version, and that
/// table says what the scenarios above were seen to do on each kernel (they read the
/// behaviour from the capabilities: this pins the capabilities themselves).
#[test]
fn profiles_follow_the_table_of_kernel_facts() {
    for kernel in mock_kernels() {
        let name = kernel.name;
        let caps = kernel.caps();
        let Some(v) = caps.kernel else {
            // The default mock: 6.12's behaviour, no version named.
            assert_eq!(name, "default");
            let mut as_612 = lvs::Capabilities::expected(KernelVersion::new(6, 12, 95));
            as_612.kernel = None;
            assert_eq!(caps, as_612);
            continue;
        };
        assert_eq!(caps, lvs::Capabilities::expected(v), "{name}");
        assert!(v.to_string().starts_with(name), "{name}: {v}");
        let threshold_refused = ["6.1", "6.1.183", "7"].contains(&name);
        assert_eq!(
            caps.max_upper_threshold,
            if threshold_refused {
                i32::MAX as u32
            } else {
                u32::MAX
            },
            "{name}"
        );
        assert_eq!(caps.network_broadcast_routes, name == "5.10", "{name}");
        assert_eq!(
            caps.conn_table.size,
            if name == "7" { 256 } else { 4096 },
            "{name}"
        );
        assert_eq!(caps.conn_table.allocated_on_first_use, name == "7");
    }
    assert_eq!(MockKernel::new().capabilities().kernel, None);
}

/// The timeouts' limit is `INT_MAX / HZ` seconds for the mock's `HZ`
/// (`quirk_timeouts_limited_to_int_max_jiffies` runs with 250): with 100, more fits.
#[test]
fn timeouts_limit_follows_hz() {
    let max_at_250 = i32::MAX as u32 / 250;
    let mut hz100 = Ipvs::with_transport(MockKernel::builder().hz(100).build());
    hz100
        .set_timeouts(&Timeouts {
            tcp: max_at_250 + 1,
            tcp_fin: 0,
            udp: 0,
        })
        .unwrap();
    assert_refused!(
        hz100.set_timeouts(&Timeouts {
            tcp: i32::MAX as u32 / 100 + 1,
            tcp_fin: 0,
            udp: 0,
        }),
        InvalidRequest,
        libc::EINVAL,
        SetTimeouts
    );
}

#[test]
fn eafnosupport_for_an_unknown_family_or_without_ipv6() {
    let mut ipvs = mock();
    let svc = Service::tcp(sa("10.0.0.1:80")).build().unwrap();
    for af in [0u16, 7, 28] {
        let msg = IpvsMessage::new(
            IpvsCmd::NewService,
            vec![svc_attrs(&svc, |a| match a {
                ServiceAttr::Af(_) => Some(ServiceAttr::Af(af)),
                a => Some(a.clone()),
            })],
        );
        assert_eq!(
            raw_errno(raw(&mut ipvs, &msg)),
            libc::EAFNOSUPPORT,
            "af {af}"
        );
    }
    let mut no6 = Ipvs::with_transport(MockKernel::builder().ipv6(false).build());
    assert_refused!(
        no6.add_service(&Service::tcp(sa("[fd00::1]:80")).build().unwrap()),
        AddressFamilyNotSupported,
        libc::EAFNOSUPPORT,
        AddService
    );
    // A destination's own family is checked too.
    let (mut ipvs, id) = with_service();
    let attrs: Vec<DestAttr> = DestAttr::from_destination(&masq("10.0.0.2:80"))
        .into_iter()
        .map(|a| match a {
            DestAttr::AddrFamily(_) => DestAttr::AddrFamily(7),
            a => a,
        })
        .collect();
    assert_eq!(
        raw_errno(raw(&mut ipvs, &dest_msg(IpvsCmd::NewDest, &id, attrs))),
        libc::EAFNOSUPPORT
    );
}

#[test]
fn eopnotsupp_for_commands_the_family_does_not_have() {
    let mut ipvs = mock();
    for cmd in [IpvsCmd::Other(0), IpvsCmd::Other(18), IpvsCmd::SetInfo] {
        assert_eq!(
            raw_errno(raw(&mut ipvs, &IpvsMessage::new(cmd, Vec::new()))),
            libc::EOPNOTSUPP
        );
    }
    // GET_DEST is dump-only; GET_INFO and GET_CONFIG are do-only.
    assert_eq!(
        raw_errno(raw(
            &mut ipvs,
            &IpvsMessage::dump_dests(&tcp("10.0.0.1:80"))
        )),
        libc::EOPNOTSUPP
    );
    assert_eq!(
        raw_errno(dump(&mut ipvs, &IpvsMessage::get_info())),
        libc::EOPNOTSUPP
    );
    assert_eq!(
        raw_errno(dump(&mut ipvs, &IpvsMessage::get_timeouts())),
        libc::EOPNOTSUPP
    );
}

// ---- mixed families -------------------------------------------------------------------

#[test]
fn mixed_family_destinations_need_tunnelling_and_no_sync_daemon() {
    let (mut ipvs, id) = with_service();
    let v6 = Destination::builder(sa("[fd00::2]:80"))
        .tunnel(Tunnel::ipip())
        .build()
        .unwrap();
    ipvs.add_destination(&id, &v6).unwrap();
    assert_eq!(ipvs.destinations(&id).unwrap()[0].addr, v6.addr);
    // Without tunnelling: EINVAL (the client refuses before sending; raw here).
    let mut nat = v6.clone();
    nat.addr = "fd00::3".parse().unwrap();
    nat.forward = ForwardMethod::Masquerade;
    assert_eq!(
        raw_errno(raw(&mut ipvs, &IpvsMessage::new_dest(&id, &nat))),
        libc::EINVAL
    );
    // Editing one to non-tunnel forwarding: EINVAL too.
    let mut edit = v6.clone();
    edit.forward = ForwardMethod::DirectRoute;
    assert_eq!(
        raw_errno(raw(&mut ipvs, &IpvsMessage::set_dest(&id, &edit))),
        libc::EINVAL
    );
    // No sync daemon while one exists.
    let master = Daemon::builder(DaemonState::Master, "lo").build().unwrap();
    assert_refused!(
        ipvs.start_daemon(&master),
        InvalidRequest,
        libc::EINVAL,
        StartDaemon
    );
    // Deleting it is allowed, and then the daemon starts...
    ipvs.delete_destination(&id, v6.socket_addr()).unwrap();
    ipvs.start_daemon(&master).unwrap();
    // ... and no mixed-family destination can be added while it runs.
    assert_refused!(
        ipvs.add_destination(&id, &v6),
        InvalidRequest,
        libc::EINVAL,
        AddDestination
    );
    ipvs.stop_daemon(DaemonState::Master).unwrap();
    ipvs.add_destination(&id, &v6).unwrap();
    // A service delete or a flush takes them away.
    ipvs.flush().unwrap();
    ipvs.start_daemon(&master).unwrap();
}

#[test]
fn a_destination_without_family_takes_its_services() {
    let mut ipvs = mock();
    let id = tcp("[fd00::1]:80");
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let d = masq("[fd00::2]:80");
    let attrs: Vec<DestAttr> = DestAttr::from_destination(&d)
        .into_iter()
        .filter(|a| !matches!(a, DestAttr::AddrFamily(_)))
        .collect();
    raw(&mut ipvs, &dest_msg(IpvsCmd::NewDest, &id, attrs)).unwrap();
    assert_eq!(ipvs.destinations(&id).unwrap()[0].addr, d.addr);
}

// ---- timeouts, zero, flush, info ------------------------------------------------------

#[test]
fn timeouts_update_partially() {
    let mut ipvs = mock();
    ipvs.set_timeouts(&Timeouts {
        tcp: 10,
        tcp_fin: 0,
        udp: 0,
    })
    .unwrap();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 10,
            tcp_fin: 120,
            udp: 300
        }
    );
    // An absent attribute keeps its value too.
    let msg = IpvsMessage::new(IpvsCmd::SetConfig, vec![IpvsAttr::TimeoutUdp(7)]);
    raw(&mut ipvs, &msg).unwrap();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 10,
            tcp_fin: 120,
            udp: 7
        }
    );
    // Nothing at all: nothing changes.
    raw(&mut ipvs, &IpvsMessage::new(IpvsCmd::SetConfig, Vec::new())).unwrap();
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 10,
            tcp_fin: 120,
            udp: 7
        }
    );
}

#[test]
fn zero_and_flush() {
    let (mut ipvs, id) = with_service();
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    ipvs.zero_all().unwrap();
    ipvs.zero_service(&id).unwrap();
    let s = ipvs.get_service(&id).unwrap();
    assert_eq!(s.stats, Some(lvs::Stats::default()));
    let d = &ipvs.destinations(&id).unwrap()[0];
    assert_eq!(d.stats, Some(lvs::Stats::default()));
    assert_eq!(d.counters, Some(lvs::DestCounters::default()));
    // A flush deletes services with their destinations, and nothing else.
    ipvs.set_timeouts(&Timeouts {
        tcp: 1,
        tcp_fin: 2,
        udp: 3,
    })
    .unwrap();
    ipvs.start_daemon(&Daemon::builder(DaemonState::Backup, "lo").build().unwrap())
        .unwrap();
    ipvs.flush().unwrap();
    assert_eq!(ipvs.table().unwrap(), []);
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 1,
            tcp_fin: 2,
            udp: 3
        }
    );
    assert_eq!(ipvs.daemons().unwrap().len(), 1);
    ipvs.flush().unwrap();
    ipvs.zero_all().unwrap();
    // The same service again: a new one, without the old destinations.
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    assert_eq!(ipvs.destinations(&id).unwrap(), []);
}

#[test]
fn info_reports_version_and_a_configurable_table_size() {
    let mut ipvs = Ipvs::with_transport(MockKernel::builder().conn_table_size(1 << 20).build());
    let info = ipvs.info().unwrap();
    assert_eq!(info.conn_table_size, 1 << 20);
    assert_eq!(ipvs.transport().info(), info);
}

// ---- sync daemons ---------------------------------------------------------------------

#[test]
fn daemon_refusals() {
    let mut ipvs = mock();
    // A second daemon of a state that runs: EEXIST; stopping one that does not: ESRCH.
    let d = Daemon::builder(DaemonState::Master, "lo").build().unwrap();
    ipvs.start_daemon(&d).unwrap();
    assert_refused!(
        ipvs.start_daemon(&d),
        DaemonExists,
        libc::EEXIST,
        StartDaemon
    );
    ipvs.stop_daemon(DaemonState::Master).unwrap();
    assert_refused!(
        ipvs.stop_daemon(DaemonState::Backup),
        NoSuchDaemon,
        libc::ESRCH,
        StopDaemon
    );
    assert_refused!(
        ipvs.start_daemon(
            &Daemon::builder(DaemonState::Master, "eth9")
                .build()
                .unwrap()
        ),
        Kernel,
        libc::ENODEV,
        StartDaemon
    );
    // Raw: a missing attribute, a group that is not multicast, a state that is neither.
    let d = Daemon::builder(DaemonState::Master, "lo").build().unwrap();
    let full = DaemonAttr::from_daemon(&d);
    for i in 0..full.len() {
        let mut attrs = full.clone();
        attrs.remove(i);
        let msg = IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(attrs)]);
        assert_eq!(raw_errno(raw(&mut ipvs, &msg)), libc::EINVAL);
    }
    let mut attrs = full.clone();
    attrs.push(DaemonAttr::McastGroup("10.0.0.1".parse().unwrap()));
    let msg = IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(attrs)]);
    assert_eq!(raw_errno(raw(&mut ipvs, &msg)), libc::EINVAL);
    let state3: Vec<DaemonAttr> = full
        .iter()
        .map(|a| match a {
            DaemonAttr::State(_) => DaemonAttr::State(3),
            a => a.clone(),
        })
        .collect();
    let msg = IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(state3)]);
    assert_eq!(raw_errno(raw(&mut ipvs, &msg)), libc::EINVAL);
    // Stopping: STATE is required; an unknown state is EINVAL.
    for attrs in [vec![], vec![DaemonAttr::State(0)]] {
        let msg = IpvsMessage::new(IpvsCmd::DelDaemon, vec![IpvsAttr::Daemon(attrs)]);
        assert_eq!(raw_errno(raw(&mut ipvs, &msg)), libc::EINVAL);
    }
    assert_eq!(ipvs.daemons().unwrap(), []);
}

// ---- one table, several handles ------------------------------------------------------

#[test]
fn a_checker_and_a_reconciler_share_one_mock_table() {
    use lvs::client::ReconcileOptions;
    use lvs::model::{diff, same_config, Difference};
    use lvs::ServiceEntry;

    let mock = MockKernel::new();
    let copy = mock.fork();
    let mut reconciler = Ipvs::with_transport(mock.clone());
    let mut checker = Ipvs::with_transport(mock.clone());
    assert!(mock.shares_table_with(reconciler.transport()));
    assert!(!mock.shares_table_with(&copy));
    let id = tcp("10.0.0.1:80");
    let desired = vec![ServiceEntry {
        service: Service::builder(id)
            .scheduler(Scheduler::Wrr)
            .build()
            .unwrap(),
        destinations: vec![masq("10.0.0.2:80"), masq("10.0.0.3:80")],
    }];
    // Before: the checker sees the service missing.
    let seen = checker.table().unwrap();
    assert_eq!(
        diff(&desired, &seen),
        [Difference::MissingService(desired[0].clone())]
    );
    reconciler
        .reconcile_strict(&desired, &ReconcileOptions::exact())
        .unwrap();
    // After: the checker, on its own handle, sees the reconciler's work.
    assert!(same_config(&desired, &checker.table().unwrap()));
    // An operator's change by hand, on a third handle: the checker names the drift...
    let mut operator = Ipvs::with_transport(mock.clone());
    operator.delete_destination(&id, sa("10.0.0.3:80")).unwrap();
    assert_eq!(
        diff(&desired, &checker.table().unwrap()),
        [Difference::MissingDestination(id, masq("10.0.0.3:80"))]
    );
    // ... the reconciler, from another thread, puts it back, and the checker sees that.
    let t = std::thread::spawn(move || {
        reconciler
            .reconcile_strict(&desired, &ReconcileOptions::exact())
            .unwrap();
        desired
    });
    let desired = t.join().unwrap();
    assert!(same_config(&desired, &checker.table().unwrap()));
    // The fork made at the start saw none of it.
    assert!(copy.services().is_empty());
    assert_eq!(mock, *checker.transport());
    assert_ne!(mock, copy);
}

// ---- connections and the clock ------------------------------------------------------

/// `(active, inactive)` of each destination of `id`, by address, as a listing reports them.
fn conn_counts(
    ipvs: &mut Ipvs<MockKernel>,
    id: &ServiceId,
) -> Vec<(std::net::SocketAddr, u32, u32)> {
    let mut v: Vec<_> = ipvs
        .destinations(id)
        .unwrap()
        .iter()
        .map(|d| {
            let c = d.counters.expect("a listing carries the counters");
            (d.socket_addr(), c.active, c.inactive)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn injected_connections_show_in_the_counters_and_expire_on_the_clock() {
    let (mut ipvs, id) = with_service();
    let mock = ipvs.transport().clone();
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    ipvs.add_destination(&id, &masq("10.0.0.3:80")).unwrap();
    let secs = std::time::Duration::from_secs;
    assert!(mock.set_connections(&id, sa("10.0.0.2:80"), 7, 3));
    assert!(mock.add_connection(&id, sa("10.0.0.3:80"), secs(5), secs(20)));
    assert!(mock.add_connection(&id, sa("10.0.0.3:80"), secs(30), secs(20)));
    // Unknown service or destination: nothing set.
    assert!(!mock.set_connections(&id, sa("10.0.0.9:80"), 1, 1));
    assert!(!mock.set_connections(&tcp("10.0.0.9:80"), sa("10.0.0.2:80"), 1, 1));
    let at = |ipvs: &mut Ipvs<MockKernel>| conn_counts(ipvs, &id);
    assert_eq!(
        at(&mut ipvs),
        [(sa("10.0.0.2:80"), 7, 3), (sa("10.0.0.3:80"), 2, 0)]
    );
    mock.advance(secs(5));
    assert_eq!(at(&mut ipvs)[1], (sa("10.0.0.3:80"), 1, 1));
    mock.advance(secs(20));
    assert_eq!(at(&mut ipvs)[1], (sa("10.0.0.3:80"), 1, 0));
    mock.advance(secs(20));
    assert_eq!(at(&mut ipvs)[1], (sa("10.0.0.3:80"), 0, 1));
    mock.advance(secs(10));
    assert_eq!(
        at(&mut ipvs),
        [(sa("10.0.0.2:80"), 7, 3), (sa("10.0.0.3:80"), 0, 0)]
    );
    assert_eq!(mock.now(), secs(55));
    // The mock's own view carries the same counters; an edit keeps the connections.
    let entry = mock.service(&id).unwrap();
    assert_eq!(
        entry
            .destinations
            .iter()
            .filter_map(|d| d.counters)
            .map(|c| c.active)
            .sum::<u32>(),
        7
    );
    let mut heavier = masq("10.0.0.2:80");
    heavier.weight = 5;
    ipvs.update_destination(&id, &heavier).unwrap();
    assert_eq!(at(&mut ipvs)[0], (sa("10.0.0.2:80"), 7, 3));
    // Setting replaces: fixed counts and timed connections alike.
    assert!(mock.add_connection(&id, sa("10.0.0.2:80"), secs(1), secs(1)));
    assert!(mock.set_connections(&id, sa("10.0.0.2:80"), 0, 1));
    assert_eq!(at(&mut ipvs)[0], (sa("10.0.0.2:80"), 0, 1));
}

#[test]
fn a_destination_deleted_with_connections_stays_in_the_trash_until_they_expire() {
    let (mut ipvs, id) = with_service();
    let mock = ipvs.transport().clone();
    let secs = std::time::Duration::from_secs;
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    ipvs.add_destination(&id, &masq("10.0.0.3:80")).unwrap();
    assert!(mock.add_connection(&id, sa("10.0.0.2:80"), secs(10), secs(10)));
    ipvs.delete_destination(&id, sa("10.0.0.2:80")).unwrap();
    ipvs.delete_destination(&id, sa("10.0.0.3:80")).unwrap();
    // Gone from every listing; the one with a connection is in the trash, the other freed.
    assert!(ipvs.destinations(&id).unwrap().is_empty());
    assert_eq!(mock.trash_len(), 1);
    // Added again: back from the trash, with its connection.
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    assert_eq!(mock.trash_len(), 0);
    assert_eq!(conn_counts(&mut ipvs, &id), [(sa("10.0.0.2:80"), 1, 0)]);
    // With its service: the same; a new service of that identity finds it there.
    ipvs.delete_service(&id).unwrap();
    assert_eq!(mock.trash_len(), 1);
    mock.advance(secs(5));
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    assert_eq!(conn_counts(&mut ipvs, &id), [(sa("10.0.0.2:80"), 1, 0)]);
    // By a flush, then expired: the trash empties and a new one starts without connections.
    ipvs.flush().unwrap();
    assert_eq!(mock.trash_len(), 1);
    mock.advance(secs(15));
    assert_eq!(mock.trash_len(), 0);
    ipvs.add_service(
        &Service::builder(id)
            .scheduler(Scheduler::Rr)
            .build()
            .unwrap(),
    )
    .unwrap();
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    assert_eq!(conn_counts(&mut ipvs, &id), [(sa("10.0.0.2:80"), 0, 0)]);
}

/// A drain as a control plane writes it: weight 0, then wait (here: on the mock's clock)
/// until the real server has no active connection left, then delete it.
fn drain(
    ipvs: &mut Ipvs<MockKernel>,
    id: &ServiceId,
    real: &Destination,
    tick: std::time::Duration,
    max_ticks: u32,
) -> Option<u32> {
    let mut quiet = real.clone();
    quiet.weight = 0;
    ipvs.update_destination(id, &quiet).unwrap();
    for waited in 0..=max_ticks {
        let dests = ipvs.destinations(id).unwrap();
        let me = dests
            .iter()
            .find(|d| d.socket_addr() == real.socket_addr())?;
        assert_eq!(me.weight, 0, "drained at weight 0");
        if me.counters.map_or(0, |c| c.active) == 0 {
            ipvs.delete_destination(id, real.socket_addr()).unwrap();
            return Some(waited);
        }
        ipvs.transport().advance(tick);
    }
    None
}

#[test]
fn a_drain_loop_waits_for_the_active_connections_to_end() {
    let (mut ipvs, id) = with_service();
    let mock = ipvs.transport().clone();
    let secs = std::time::Duration::from_secs;
    let real = masq("10.0.0.2:80");
    ipvs.add_destination(&id, &real).unwrap();
    ipvs.add_destination(&id, &masq("10.0.0.3:80")).unwrap();
    for i in 1..=5 {
        assert!(mock.add_connection(&id, real.socket_addr(), secs(10 * i), secs(120)));
    }
    assert!(mock.add_connection(&id, sa("10.0.0.3:80"), secs(1000), secs(1)));
    // The last active connection ends at 50 s: the drain waits 50 ticks of 1 s, no fewer.
    assert_eq!(drain(&mut ipvs, &id, &real, secs(1), 100), Some(50));
    assert_eq!(mock.now(), secs(50));
    // Deleted with its inactive connections left: in the trash, out of the listing.
    assert_eq!(conn_counts(&mut ipvs, &id), [(sa("10.0.0.3:80"), 1, 0)]);
    assert_eq!(mock.trash_len(), 1);
    // A real server whose connections never end is never drained.
    assert!(mock.set_connections(&id, sa("10.0.0.3:80"), 1, 0));
    assert_eq!(
        drain(&mut ipvs, &id, &masq("10.0.0.3:80"), secs(1), 20),
        None
    );
    mock.advance(secs(200));
    assert_eq!(mock.trash_len(), 0);
}

// ---- the table strategies on the default mock ---------------------------------------

/// Apply a table as a control plane would, services first, then destinations: the
/// refusals, each with the operation that got it.
fn apply_table(ipvs: &mut Ipvs<MockKernel>, table: &[lvs::ServiceEntry]) -> Vec<String> {
    let mut refused = Vec::new();
    for e in table {
        if let Err(err) = ipvs.add_service(&e.service) {
            refused.push(format!("add {}: {err}", e.service.id));
        }
    }
    for e in table {
        for d in &e.destinations {
            if let Err(err) = ipvs.add_destination(&e.service.id, d) {
                refused.push(format!(
                    "add {} to {}: {err}",
                    d.socket_addr(),
                    e.service.id
                ));
            }
        }
    }
    refused
}

/// The shrinking demonstration: a property that fails only on one scheduler (`mh`), over
/// tables of up to 8 services with up to 4 destinations each, shrinks to a table of that
/// one service, with no destination and nothing else but plain values.
#[test]
fn a_table_failing_on_one_scheduler_shrinks_to_that_one_service() {
    use lvs::strategies::table;
    use proptest::test_runner::{Config, TestError, TestRunner};

    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&table(8, 4), |t| {
        prop_assert!(t.iter().all(|e| e.service.scheduler != Scheduler::Mh));
        Ok(())
    });
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("no table with mh in 1000 cases: {result:?}");
    };
    assert_eq!(minimal.len(), 1, "shrunk to one service: {minimal:#?}");
    let e = &minimal[0];
    assert_eq!(e.service.scheduler, Scheduler::Mh);
    assert!(
        e.destinations.is_empty(),
        "destinations shrink away: {e:#?}"
    );
    assert_eq!(e.service.persistence, None, "{e:#?}");
    assert_eq!(e.service.pe, None, "{e:#?}");
    assert!(e.service.sched_flags.is_empty(), "{e:#?}");
    // And it is still a table the kernel takes.
    let mut ipvs = mock();
    assert_eq!(apply_table(&mut ipvs, &minimal), Vec::<String>::new());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every desired table is taken whole by the default mock, and listed back the same
    /// by configuration.
    #[test]
    fn the_default_mock_takes_every_desired_table(t in lvs::strategies::table(6, 4)) {
        let mut ipvs = mock();
        let refused = apply_table(&mut ipvs, &t);
        prop_assert!(refused.is_empty(), "refused: {:?}", refused);
        let listed = ipvs.table().unwrap();
        let d = lvs::model::diff(&t, &listed);
        prop_assert!(d.is_empty(), "listed back differently: {:?}", d);
    }

    /// The same through a reconcile: nothing refused, and a second one has nothing to do.
    #[test]
    fn a_desired_table_reconciles_in_one_go(t in lvs::strategies::table(6, 4)) {
        let mut ipvs = mock();
        let exact = lvs::client::ReconcileOptions::exact();
        let report = ipvs.reconcile(&t, &exact).unwrap();
        prop_assert!(report.outcome.results.iter().all(|r| r.is_ok()), "{:?}", report.outcome);
        prop_assert!(ipvs.reconcile(&t, &exact).unwrap().ops.is_empty());
    }

    /// Every hostile table has at least one refusal; a desired table never (above).
    #[test]
    fn every_hostile_table_is_refused_somewhere(t in lvs::strategies::hostile_table(6, 4)) {
        let mut ipvs = mock();
        prop_assert!(!apply_table(&mut ipvs, &t).is_empty());
    }
}

// ---- properties -----------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any operation sequence: the mock answers without panicking, a second mock answers the same,
    /// and its own view of the table is what the client reads back.
    #[test]
    fn any_sequence_is_answered_consistently(seq in actions(40)) {
        let mut a = mock();
        let mut b = mock();
        for op in &seq {
            let ra = format!("{:?}", op.apply(&mut a));
            let rb = format!("{:?}", op.apply(&mut b));
            prop_assert_eq!(ra, rb);
        }
        let table = a.table().unwrap();
        prop_assert_eq!(&a.transport().services(), &table);
        prop_assert_eq!(a.transport().timeouts(), a.timeouts().unwrap());
        prop_assert_eq!(a.transport().daemons(), a.daemons().unwrap());
        prop_assert_eq!(a.transport().fork(), b.into_transport());
    }

    /// Adding what a listing shows to a fresh mock rebuilds the same listing.
    #[test]
    fn a_listing_replays_to_the_same_table(seq in actions(40)) {
        let mut a = mock();
        for op in &seq {
            let _ = op.apply(&mut a);
        }
        let table = a.table().unwrap();
        let mut b = mock();
        for e in table.iter().rev() {
            let mut s = e.service.clone();
            s.stats = None;
            if Action::Raw(IpvsMessage::new_service(&s), RequestKind::Do).apply(&mut b).is_ok() {
                for d in e.destinations.iter().rev() {
                    let _ = Action::Raw(IpvsMessage::new_dest(&s.id, d), RequestKind::Do).apply(&mut b);
                }
            }
        }
        let again = b.table().unwrap();
        let ids = |t: &[lvs::ServiceEntry]| t.iter().map(|e| (e.service.id, e.destinations.len())).collect::<Vec<_>>();
        let mut want = ids(&table);
        let mut got = ids(&again);
        want.sort_by_key(|x| format!("{x:?}"));
        got.sort_by_key(|x| format!("{x:?}"));
        prop_assert_eq!(got, want);
    }
}
