//! Kernel behaviour scenarios, each written once and run on both backends: on the mock in
//! the host suite (`tests/mock.rs`, once for every mock kernel profile) and on the real
//! kernel in the guest suite (`tests/kernel/quirks.rs`, on the guest's kernel). The same
//! `#[test]` name runs a scenario on each side.
//!
//! A behaviour that differs between kernels is read from the backend's [`Capabilities`]
//! (the mock's profile, or `Capabilities::expected` of the guest's running kernel), so each
//! scenario checks the behaviour of the kernel range the backend stands for; each
//! scenario's doc says which range that is. What only the real kernel's guest can check
//! (ipvsadm as the oracle, sysfs) runs through [`Lab`]'s optional hooks, and what only the
//! mock can show (its own view of its table) through [`Lab::check_own_view`].

#![allow(dead_code)]

use std::fmt::Debug;
use std::net::SocketAddr;

use lvs::transport::{RequestKind, Transport};
use lvs::wire::{DaemonAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr};
use lvs::{
    Capabilities, Daemon, DaemonState, Destination, Error, Info, Ipvs, Operation, Result,
    Scheduler, Service, ServiceFlags, ServiceId, Timeouts,
};

// ---- the backends ---------------------------------------------------------------------

/// The handle operations the scenarios use: those of `Ipvs` (on any transport) and of the
/// guest suite's blocking face of `AsyncIpvs`, plus a raw request through the transport.
pub trait Handle {
    /// A raw request through the transport, past the client's checks.
    fn raw(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>>;
    fn capabilities(&mut self) -> Result<Capabilities>;
    fn add_service(&mut self, svc: &Service) -> Result<()>;
    fn update_service(&mut self, svc: &Service) -> Result<()>;
    fn delete_service(&mut self, id: &ServiceId) -> Result<()>;
    fn zero_service(&mut self, id: &ServiceId) -> Result<()>;
    fn get_service(&mut self, id: &ServiceId) -> Result<Service>;
    fn services(&mut self) -> Result<Vec<Service>>;
    fn add_destination(&mut self, id: &ServiceId, d: &Destination) -> Result<()>;
    fn update_destination(&mut self, id: &ServiceId, d: &Destination) -> Result<()>;
    fn delete_destination(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<()>;
    fn destinations(&mut self, id: &ServiceId) -> Result<Vec<Destination>>;
    fn flush(&mut self) -> Result<()>;
    fn timeouts(&mut self) -> Result<Timeouts>;
    fn set_timeouts(&mut self, t: &Timeouts) -> Result<()>;
    fn info(&mut self) -> Result<Info>;
    fn start_daemon(&mut self, d: &Daemon) -> Result<()>;
    fn stop_daemon(&mut self, state: DaemonState) -> Result<()>;
    fn daemons(&mut self) -> Result<Vec<Daemon>>;
}

/// Implement [`Handle`] for a type whose methods have the same names (`$raw` answers
/// [`Handle::raw`] for `$this`).
macro_rules! impl_handle {
    ([$($gen:tt)*] $ty:ty, |$this:ident, $msg:ident, $kind:ident| $raw:expr) => {
        impl<$($gen)*> $crate::scenarios::Handle for $ty {
            fn raw(
                &mut self,
                $msg: &lvs::wire::IpvsMessage,
                $kind: lvs::transport::RequestKind,
            ) -> lvs::Result<Vec<lvs::wire::IpvsMessage>> {
                let $this = self;
                $raw
            }
            fn capabilities(&mut self) -> lvs::Result<lvs::Capabilities> {
                <$ty>::capabilities(self)
            }
            fn add_service(&mut self, s: &lvs::Service) -> lvs::Result<()> {
                <$ty>::add_service(self, s)
            }
            fn update_service(&mut self, s: &lvs::Service) -> lvs::Result<()> {
                <$ty>::update_service(self, s)
            }
            fn delete_service(&mut self, id: &lvs::ServiceId) -> lvs::Result<()> {
                <$ty>::delete_service(self, id)
            }
            fn zero_service(&mut self, id: &lvs::ServiceId) -> lvs::Result<()> {
                <$ty>::zero_service(self, id)
            }
            fn get_service(&mut self, id: &lvs::ServiceId) -> lvs::Result<lvs::Service> {
                <$ty>::get_service(self, id)
            }
            fn services(&mut self) -> lvs::Result<Vec<lvs::Service>> {
                <$ty>::services(self)
            }
            fn add_destination(
                &mut self,
                id: &lvs::ServiceId,
                d: &lvs::Destination,
            ) -> lvs::Result<()> {
                <$ty>::add_destination(self, id, d)
            }
            fn update_destination(
                &mut self,
                id: &lvs::ServiceId,
                d: &lvs::Destination,
            ) -> lvs::Result<()> {
                <$ty>::update_destination(self, id, d)
            }
            fn delete_destination(
                &mut self,
                id: &lvs::ServiceId,
                a: std::net::SocketAddr,
            ) -> lvs::Result<()> {
                <$ty>::delete_destination(self, id, a)
            }
            fn destinations(&mut self, id: &lvs::ServiceId) -> lvs::Result<Vec<lvs::Destination>> {
                <$ty>::destinations(self, id)
            }
            fn flush(&mut self) -> lvs::Result<()> {
                <$ty>::flush(self)
            }
            fn timeouts(&mut self) -> lvs::Result<lvs::Timeouts> {
                <$ty>::timeouts(self)
            }
            fn set_timeouts(&mut self, t: &lvs::Timeouts) -> lvs::Result<()> {
                <$ty>::set_timeouts(self, t)
            }
            fn info(&mut self) -> lvs::Result<lvs::Info> {
                <$ty>::info(self)
            }
            fn start_daemon(&mut self, d: &lvs::Daemon) -> lvs::Result<()> {
                <$ty>::start_daemon(self, d)
            }
            fn stop_daemon(&mut self, s: lvs::DaemonState) -> lvs::Result<()> {
                <$ty>::stop_daemon(self, s)
            }
            fn daemons(&mut self) -> lvs::Result<Vec<lvs::Daemon>> {
                <$ty>::daemons(self)
            }
        }
    };
}

impl_handle!([T: Transport] Ipvs<T>, |this, msg, kind| this
    .transport()
    .request(msg, kind));

/// What a scenario's namespace has besides `lo`.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// `lo` left down, as `ip netns add` leaves a new namespace.
    pub loopback_down: bool,
    /// Interfaces (up) with their MTUs, for the sync daemons.
    pub interfaces: Vec<(&'static str, u32)>,
}

impl Setup {
    /// Also an interface `name` (up) of this MTU.
    pub fn interface(mut self, name: &'static str, mtu: u32) -> Setup {
        self.interfaces.push((name, mtu));
        self
    }
}

/// One namespace's IPVS, fresh: a new mock, or a new network namespace in the guest.
pub trait Lab {
    /// The handle on it.
    type Handle: Handle;
    /// The handle.
    fn ipvs(&mut self) -> &mut Self::Handle;
    /// Stop a sync daemon the scenario started (the guest tolerates a late answer).
    fn stop_daemon(&mut self, state: DaemonState) {
        self.ipvs().stop_daemon(state).unwrap();
    }
    /// ipvsadm in the namespace, which must succeed: its standard output, or `None` where
    /// there is no ipvsadm (the mock).
    fn ipvsadm(&self, _args: &[&str]) -> Option<String> {
        None
    }
    /// ipvsadm in the namespace, which must fail: its standard error, or `None`.
    fn ipvsadm_fails(&self, _args: &[&str]) -> Option<String> {
        None
    }
    /// `ipvsadm -S -n` as lines, or `None`.
    fn save(&self) -> Option<Vec<String>> {
        self.ipvsadm(&["-S", "-n"]).map(|o| lines(&o))
    }
    /// `ipvsadm -L -n OPTS...` without its header lines, or `None`.
    fn listing(&self, opts: &[&str]) -> Option<Vec<String>> {
        let mut args = vec!["-L", "-n"];
        args.extend_from_slice(opts);
        self.ipvsadm(&args).map(|o| {
            lines(&o)
                .into_iter()
                .filter(|l| {
                    !l.starts_with("IP Virtual Server version")
                        && !l.starts_with("Prot LocalAddress")
                        && !l.starts_with("-> RemoteAddress:Port")
                })
                .collect()
        })
    }
    /// Bring `lo` up; `false` where the backend cannot (the mock's is fixed when built).
    fn bring_loopback_up(&mut self) -> bool {
        false
    }
    /// Whether a path exists on the machine running the kernel, or `None` (the mock).
    fn path_exists(&self, _path: &str) -> Option<bool> {
        None
    }
    /// Where the backend keeps its own view of the table (the mock), check that it is what
    /// the handle reads back.
    fn check_own_view(&mut self) {}
    /// Keep the namespace after the scenario (never delete it): see
    /// [`quirk_ipv6_master_daemon_on_lo_is_enetunreach`].
    fn keep(self)
    where
        Self: Sized,
    {
    }
}

/// A backend: the kernel whose behaviour the scenarios check, and fresh namespaces on it.
pub trait Backend {
    /// One namespace.
    type Lab: Lab;
    /// What the kernel does, by version (the mock's profile, or
    /// `Capabilities::expected(running)` in the guest).
    fn caps(&self) -> Capabilities;
    /// A fresh namespace (`tag` names it in the guest).
    fn lab(&self, tag: &str, setup: Setup) -> Self::Lab;
    /// A fresh namespace with only `lo`, up.
    fn plain(&self, tag: &str) -> Self::Lab {
        self.lab(tag, Setup::default())
    }
}

// ---- helpers --------------------------------------------------------------------------

/// A socket address.
pub fn sa(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad socket address {s}: {e}"))
}

/// `tcp ADDR`.
pub fn tcp(addr: &str) -> ServiceId {
    ServiceId::tcp(sa(addr))
}

/// A masquerading destination.
pub fn masq(addr: &str) -> Destination {
    Destination::builder(sa(addr)).masquerade().build().unwrap()
}

/// Non-empty lines, whitespace collapsed.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Compare lines with expected ones, where the backend has them (`Some`).
#[track_caller]
pub fn assert_lines_if(got: Option<Vec<String>>, want: &[&str]) {
    if let Some(got) = got {
        assert!(
            got == want,
            "lines differ\n--- got:\n{}\n--- want:\n{}\n",
            got.join("\n"),
            want.join("\n")
        );
    }
}

/// Attribute variant names, in order (`Af`, `Fwmark`, ...).
pub fn kinds<A: Debug>(attrs: &[A]) -> Vec<String> {
    attrs
        .iter()
        .map(|a| {
            let s = format!("{a:?}");
            s.split(['(', ' ', '{']).next().unwrap_or("").to_owned()
        })
        .collect()
}

/// The errno of a raw request's refusal (the transport names no case).
#[track_caller]
pub fn raw_errno<T: Debug>(r: Result<T>) -> i32 {
    match r {
        Err(Error::Kernel(ctx)) => {
            assert_eq!(ctx.operation, Operation::Other, "{ctx:?}");
            ctx.errno
        }
        other => panic!("expected a kernel refusal, got {other:?}"),
    }
}

/// Assert `Err(Error::$variant(ctx))` with this errno and operation; evaluates to `ctx`.
macro_rules! refused {
    ($result:expr, $variant:ident, $errno:expr, $op:ident) => {
        match $result {
            Err(Error::$variant(ctx)) => {
                assert_eq!(ctx.errno, $errno, "{ctx:?}");
                assert_eq!(ctx.operation, Operation::$op, "{ctx:?}");
                ctx
            }
            other => panic!(
                "expected Error::{}({}), got {other:?}",
                stringify!($variant),
                $errno
            ),
        }
    };
}

/// The raw flags word of a service as `GET_SERVICE` reports it (its mask is all ones).
pub fn raw_flags<H: Handle>(ipvs: &mut H, id: &ServiceId) -> u32 {
    let r = ipvs
        .raw(&IpvsMessage::get_service(id), RequestKind::Do)
        .unwrap();
    assert_eq!(r.len(), 1, "one reply to GET_SERVICE");
    r[0].service_attrs()
        .unwrap()
        .iter()
        .find_map(|a| match a {
            ServiceAttr::Flags { flags, mask } => {
                assert_eq!(*mask, u32::MAX, "reads report mask all ones");
                Some(*flags)
            }
            _ => None,
        })
        .unwrap()
}

/// The single reply of a dump that must hold exactly one message.
pub fn dump_one<H: Handle>(ipvs: &mut H, msg: &IpvsMessage) -> IpvsMessage {
    let mut replies = ipvs.raw(msg, RequestKind::Dump).expect("dump");
    assert_eq!(replies.len(), 1, "{replies:#?}");
    replies.remove(0)
}

/// A lab holding `tcp 10.0.0.1:80` (rr).
fn with_service<B: Backend>(b: &B, tag: &str) -> (B::Lab, ServiceId) {
    let mut lab = b.plain(tag);
    let id = tcp("10.0.0.1:80");
    lab.ipvs()
        .add_service(
            &Service::builder(id)
                .scheduler(Scheduler::Rr)
                .build()
                .unwrap(),
        )
        .unwrap();
    (lab, id)
}

fn socket_addrs(ds: &[Destination]) -> Vec<SocketAddr> {
    ds.iter().map(|d| d.socket_addr()).collect()
}

// ---- the scenarios --------------------------------------------------------------------

/// Every kernel: `IP_VS_SVC_F_HASHED` (0x2) is set on every service the kernel holds, and
/// reported, after an add and after an edit alike (whoever added it: ipvsadm too); the model
/// keeps it in `other_flags`, and never writes it.
pub fn quirk_hashed_flag_after_add_and_edit<B: Backend>(b: &B) {
    let mut lab = b.plain("q-hashed");
    let ipvs = lab.ipvs();
    let id = tcp("10.0.0.1:80");
    let s = Service::builder(id)
        .scheduler(Scheduler::Rr)
        .persistent(60)
        .build()
        .unwrap();
    assert_eq!(s.flags().bits(), 0x1, "written: PERSISTENT only");
    ipvs.add_service(&s).unwrap();
    assert_eq!(raw_flags(ipvs, &id), 0x1 | 0x2, "after add");
    let edited = Service::builder(id)
        .scheduler(Scheduler::Sh)
        .sched_flags(lvs::SchedFlags::SH_PORT)
        .build()
        .unwrap();
    ipvs.update_service(&edited).unwrap();
    assert_eq!(raw_flags(ipvs, &id), 0x10 | 0x2, "after edit");
    let back = ipvs.get_service(&id).unwrap();
    assert_eq!(back.other_flags, ServiceFlags::HASHED);
    assert_eq!(back.flags().bits(), 0x10, "HASHED is not written back");
    assert!(back.same_config(&edited));
    // A service ipvsadm adds: the same.
    if lab.ipvsadm(&["-A", "-f", "1", "-s", "rr", "-o"]).is_some() {
        assert_eq!(raw_flags(lab.ipvs(), &ServiceId::fwmark(1)), 0x4 | 0x2);
    }
}

/// Every kernel: a destination is added at the head of its service's list, so a dump
/// returns the newest first (ipvsadm sorts its listing, so it does not show this). An edit
/// does not move a destination; a delete and re-add makes it the newest.
pub fn quirk_destination_dump_order_is_newest_first<B: Backend>(b: &B) {
    let mut lab = b.plain("q-dst-order");
    let ipvs = lab.ipvs();
    let id = ServiceId::udp(sa("10.0.0.1:53"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let order = ["10.0.0.5:53", "10.0.0.2:53", "10.0.0.9:53", "10.0.0.3:53"];
    for a in order {
        ipvs.add_destination(&id, &masq(a)).unwrap();
    }
    let mut newest_first: Vec<SocketAddr> = order.iter().map(|a| sa(a)).collect();
    newest_first.reverse();
    assert_eq!(socket_addrs(&ipvs.destinations(&id).unwrap()), newest_first);
    // An edit does not move it.
    let mut d = masq("10.0.0.9:53");
    d.weight = 9;
    ipvs.update_destination(&id, &d).unwrap();
    assert_eq!(socket_addrs(&ipvs.destinations(&id).unwrap()), newest_first);
    // A delete and re-add makes it the newest.
    ipvs.delete_destination(&id, sa("10.0.0.2:53")).unwrap();
    ipvs.add_destination(&id, &masq("10.0.0.2:53")).unwrap();
    assert_eq!(
        socket_addrs(&ipvs.destinations(&id).unwrap()),
        [
            sa("10.0.0.2:53"),
            sa("10.0.0.3:53"),
            sa("10.0.0.9:53"),
            sa("10.0.0.5:53")
        ]
    );
    lab.check_own_view();
}

/// Every kernel: a `GET_DEST` dump for a service that does not exist is an empty dump, not
/// ESRCH, even without a service nest at all.
pub fn quirk_get_dest_on_missing_service_is_an_empty_list<B: Backend>(b: &B) {
    let mut lab = b.plain("q-getdest");
    let ipvs = lab.ipvs();
    let missing = tcp("10.0.0.9:80");
    let replies = ipvs
        .raw(&IpvsMessage::dump_dests(&missing), RequestKind::Dump)
        .expect("an empty dump, not an error");
    assert!(replies.is_empty());
    // The client tells a missing service from one without destinations.
    let e = ipvs.destinations(&missing).unwrap_err();
    assert!(matches!(e, lvs::Error::NoSuchService(_)), "{e:?}");
    let bare = IpvsMessage::new(IpvsCmd::GetDest, vec![]);
    assert_eq!(ipvs.raw(&bare, RequestKind::Dump).unwrap(), []);
}

/// Every kernel: a daemon dump holds one message per running daemon, master first, then
/// backup (whichever started first), each tagged `NEW_DAEMON` with one daemon nest of every
/// attribute; the kernel reports its defaults (group 224.0.0.81, port 8848, TTL 1) for the
/// options that were not given. Stopping one leaves the other.
pub fn quirk_daemon_dump_master_and_backup_are_separate_entries<B: Backend>(b: &B) {
    let mut lab = b.plain("q-daemons");
    let ipvs = lab.ipvs();
    // Started backup first: the dump still lists master first.
    ipvs.start_daemon(
        &Daemon::builder(DaemonState::Backup, "lo")
            .sync_id(7)
            .build()
            .unwrap(),
    )
    .unwrap();
    ipvs.start_daemon(
        &Daemon::builder(DaemonState::Master, "lo")
            .sync_id(3)
            .build()
            .unwrap(),
    )
    .unwrap();
    let replies = ipvs
        .raw(&IpvsMessage::dump_daemons(), RequestKind::Dump)
        .unwrap();
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
    let ds = ipvs.daemons().unwrap();
    assert_eq!(
        ds.iter().map(|d| (d.state, d.sync_id)).collect::<Vec<_>>(),
        [(DaemonState::Master, 3), (DaemonState::Backup, 7)]
    );
    let m = &ds[0];
    assert_eq!(m.group, Some("224.0.0.81".parse().unwrap()));
    assert_eq!((m.port, m.ttl), (Some(8848), Some(1)));
    lab.check_own_view();
    lab.stop_daemon(DaemonState::Master);
    assert_eq!(lab.ipvs().daemons().unwrap().len(), 1);
    lab.stop_daemon(DaemonState::Backup);
}

/// Every kernel: the reply command tags. `GET_SERVICE` (do and dump) answers `NEW_SERVICE`,
/// `GET_DEST` `NEW_DEST`, `GET_DAEMON` `NEW_DAEMON`, `GET_CONFIG` `SET_CONFIG` (the three
/// timeouts), `GET_INFO` `SET_INFO` (version 1.2.1 and the connection table's size,
/// `Capabilities::conn_table`); a `FLUSH` has no reply message. Replies do not set
/// `NLA_F_NESTED` on their nests (a message without nests reads as flagged: there is
/// nothing to tell).
pub fn quirk_reply_command_tags_and_nested_flag<B: Backend>(b: &B) {
    let caps = b.caps();
    let (mut lab, id) = with_service(b, "q-tags");
    let ipvs = lab.ipvs();
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    ipvs.start_daemon(&Daemon::builder(DaemonState::Master, "lo").build().unwrap())
        .unwrap();
    let tags = [
        (
            ipvs.raw(&IpvsMessage::get_service(&id), RequestKind::Do)
                .unwrap(),
            IpvsCmd::NewService,
        ),
        (
            vec![dump_one(ipvs, &IpvsMessage::dump_services())],
            IpvsCmd::NewService,
        ),
        (
            vec![dump_one(ipvs, &IpvsMessage::dump_dests(&id))],
            IpvsCmd::NewDest,
        ),
        (
            vec![dump_one(ipvs, &IpvsMessage::dump_daemons())],
            IpvsCmd::NewDaemon,
        ),
        (
            ipvs.raw(&IpvsMessage::get_timeouts(), RequestKind::Do)
                .unwrap(),
            IpvsCmd::SetConfig,
        ),
        (
            ipvs.raw(&IpvsMessage::get_info(), RequestKind::Do).unwrap(),
            IpvsCmd::SetInfo,
        ),
    ];
    for (replies, cmd) in &tags {
        assert_eq!(replies.len(), 1, "{cmd:?}");
        assert_eq!(replies[0].cmd, *cmd);
        let nests = replies[0].service_attrs().is_some()
            || replies[0].dest_attrs().is_some()
            || replies[0].daemon_attrs().is_some();
        assert_eq!(replies[0].nested_flag, !nests, "{cmd:?}");
    }
    assert_eq!(
        tags[4].0[0].attrs,
        [
            IpvsAttr::TimeoutTcp(900),
            IpvsAttr::TimeoutTcpFin(120),
            IpvsAttr::TimeoutUdp(300)
        ]
    );
    assert_eq!(
        tags[5].0[0].attrs,
        [
            IpvsAttr::InfoVersion(0x01_02_01),
            IpvsAttr::InfoConnTabSize(caps.conn_table.size)
        ]
    );
    assert_eq!(
        ipvs.raw(&IpvsMessage::flush(), RequestKind::Do).unwrap(),
        []
    );
    lab.stop_daemon(DaemonState::Master);
}

/// Every kernel: in a namespace just made by `ip netns add` (`lo` down) there is no local
/// routing table yet, so the kernel cannot classify an IPv4 real server's address and
/// refuses it with EINVAL (ipvsadm: "Invalid operation"). IPv6 real servers are not
/// affected; bringing `lo` up (in the guest) creates the table.
pub fn quirk_ipv4_destination_needs_lo_up_in_a_new_namespace<B: Backend>(b: &B) {
    let mut lab = b.lab(
        "q-bare",
        Setup {
            loopback_down: true,
            ..Setup::default()
        },
    );
    let ipvs = lab.ipvs();
    let id = tcp("10.0.0.1:80");
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let d = masq("10.0.0.2:80");
    refused!(
        ipvs.add_destination(&id, &d),
        InvalidRequest,
        libc::EINVAL,
        AddDestination
    );
    if let Some(err) = lab.ipvsadm_fails(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.3:80", "-m"]) {
        assert!(err.starts_with("Invalid operation"), "{err}");
    }
    let ipvs = lab.ipvs();
    let v6 = tcp("[fd00::1]:80");
    ipvs.add_service(&Service::builder(v6).build().unwrap())
        .unwrap();
    ipvs.add_destination(&v6, &masq("[fd00::2]:80")).unwrap();
    if lab.bring_loopback_up() {
        lab.ipvs().add_destination(&id, &d).unwrap();
    }
}

/// Every kernel: the scheduler name `none` is the kernel's "no scheduler" (ipvsadm
/// `-s none`): accepted, reported as `none`; the model keeps it as
/// `Scheduler::Other("none")`.
pub fn quirk_scheduler_none_is_accepted<B: Backend>(b: &B) {
    let mut lab = b.plain("q-none");
    let none = Scheduler::Other("none".into());
    let s = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(none.clone())
        .build()
        .unwrap();
    lab.ipvs().add_service(&s).unwrap();
    assert_lines_if(lab.save(), &["-A -t 10.0.0.1:80 -s none"]);
    assert_eq!(lab.ipvs().get_service(&s.id).unwrap().scheduler, none);
    if lab
        .ipvsadm(&["-A", "-u", "10.0.0.1:53", "-s", "none"])
        .is_some()
    {
        let udp = ServiceId::udp(sa("10.0.0.1:53"));
        assert_eq!(lab.ipvs().get_service(&udp).unwrap().scheduler, none);
    }
}

/// Every kernel: only negative weights are refused; anything in 0..=i32::MAX
/// (`Capabilities::max_weight`) is taken, though ipvsadm's documented range (and the
/// client's, which refuses 65536 before sending) ends at 65535.
pub fn quirk_kernel_accepts_weight_above_65535<B: Backend>(b: &B) {
    assert_eq!(b.caps().max_weight, i32::MAX as u32);
    let mut lab = b.plain("q-weight");
    let ipvs = lab.ipvs();
    let id = tcp("10.0.0.1:80");
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let mut d = masq("10.0.0.2:80");
    d.weight = i32::MAX as u32;
    ipvs.raw(&IpvsMessage::new_dest(&id, &d), RequestKind::Do)
        .expect("accepted");
    assert_eq!(ipvs.destinations(&id).unwrap()[0].weight, i32::MAX as u32);
    let mut e = masq("10.0.0.3:80");
    e.weight = 65536;
    assert!(matches!(
        ipvs.add_destination(&id, &e),
        Err(Error::Invalid(lvs::InvalidError::WeightOutOfRange(65536)))
    ));
    assert_lines_if(
        lab.save(),
        &[
            "-A -t 10.0.0.1:80 -s wlc",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 2147483647",
        ],
    );
}

/// Every kernel: an upper threshold of 0 means "no limit", but the kernel checks
/// `lower > upper` all the same: a lower threshold with no upper one is refused with ERANGE
/// (the builder refuses it too, so this goes raw; ipvsadm says "Numerical result out of
/// range").
pub fn quirk_lower_threshold_without_upper_is_erange<B: Backend>(b: &B) {
    let mut lab = b.plain("q-thresh0");
    let ipvs = lab.ipvs();
    let id = tcp("10.0.0.1:80");
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let mut d = Destination::builder(sa("10.0.0.2:80")).build().unwrap();
    d.lower_threshold = 5;
    d.upper_threshold = 0;
    assert_eq!(
        raw_errno(ipvs.raw(&IpvsMessage::new_dest(&id, &d), RequestKind::Do)),
        libc::ERANGE
    );
    if let Some(err) =
        lab.ipvsadm_fails(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2:80", "-y", "5"])
    {
        assert_eq!(err, "Numerical result out of range");
    }
}

/// Every kernel: a direct-routing or tunnelling destination keeps the port it was given
/// (ipvsadm itself rewrites such a port to the service's before sending, so only a netlink
/// client can store another).
pub fn quirk_direct_route_destination_keeps_its_port<B: Backend>(b: &B) {
    let (mut lab, id) = with_service(b, "q-drport");
    let d = Destination::builder(sa("10.0.0.2:8080"))
        .direct_route()
        .build()
        .unwrap();
    lab.ipvs().add_destination(&id, &d).unwrap();
    assert_eq!(
        socket_addrs(&lab.ipvs().destinations(&id).unwrap()),
        [sa("10.0.0.2:8080")]
    );
    assert_lines_if(
        lab.save(),
        &[
            "-A -t 10.0.0.1:80 -s rr",
            "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g -w 1",
        ],
    );
    // ipvsadm, given the same, stores the service's port.
    if lab
        .ipvsadm(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.3:8080", "-g"])
        .is_some()
    {
        let got = socket_addrs(&lab.ipvs().destinations(&id).unwrap());
        assert!(got.contains(&sa("10.0.0.3:80")), "{got:?}");
    }
}

/// Every kernel (HZ 250, as Debian builds it and the mock's default): timeouts are kept in
/// jiffies in an int, so the largest accepted is `INT_MAX / HZ` seconds (8589934); one more
/// is EINVAL, and so is anything negative as an int. One bad value refuses the whole
/// request: the others are not applied.
pub fn quirk_timeouts_limited_to_int_max_jiffies<B: Backend>(b: &B) {
    let mut lab = b.plain("q-timeouts");
    let ipvs = lab.ipvs();
    let max = i32::MAX as u32 / 250;
    ipvs.set_timeouts(&Timeouts {
        tcp: max,
        tcp_fin: 0,
        udp: 0,
    })
    .unwrap();
    assert_eq!(ipvs.timeouts().unwrap().tcp, 8_589_934);
    for bad in [max + 1, 0x8000_0000, u32::MAX] {
        refused!(
            ipvs.set_timeouts(&Timeouts {
                tcp: bad,
                tcp_fin: 5,
                udp: 5,
            }),
            InvalidRequest,
            libc::EINVAL,
            SetTimeouts
        );
        refused!(
            ipvs.set_timeouts(&Timeouts {
                tcp: 5,
                tcp_fin: 5,
                udp: bad
            }),
            InvalidRequest,
            libc::EINVAL,
            SetTimeouts
        );
    }
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: max,
            tcp_fin: 120,
            udp: 300
        }
    );
    assert_lines_if(
        lab.ipvsadm(&["-L", "--timeout"]).map(|o| lines(&o)),
        &["Timeout (tcp tcpfin udp): 8589934 120 300"],
    );
}

/// Every kernel: the sync message length. A master defaults to 1472 (a 1500-byte MTU less
/// the IPv4 and UDP headers) whatever its interface; a backup defaults to its interface's
/// MTU (capped at 65535) less the headers (48 bytes with an IPv6 group), and a given length
/// is raised to at least 1024 for a backup.
pub fn quirk_sync_daemon_max_len_defaults_and_clamping<B: Backend>(b: &B) {
    let mut lab = b.lab("q-maxlen", Setup::default().interface("sync0", 9000));
    let start = |lab: &mut B::Lab, state, ifname, len: Option<u16>| {
        let mut b = Daemon::builder(state, ifname);
        if let Some(len) = len {
            b = b.max_len(len);
        }
        lab.ipvs().start_daemon(&b.build().unwrap()).unwrap();
    };
    let lens = |lab: &mut B::Lab| -> Vec<Option<u16>> {
        lab.ipvs()
            .daemons()
            .unwrap()
            .iter()
            .map(|d| d.max_len)
            .collect()
    };
    start(&mut lab, DaemonState::Master, "sync0", None);
    start(&mut lab, DaemonState::Backup, "lo", None);
    // lo's MTU is 65536: capped at 65535, less 28.
    assert_eq!(lens(&mut lab), [Some(1472), Some(65507)]);
    lab.stop_daemon(DaemonState::Backup);
    start(&mut lab, DaemonState::Backup, "sync0", None);
    assert_eq!(lens(&mut lab), [Some(1472), Some(8972)]);
    lab.stop_daemon(DaemonState::Master);
    lab.stop_daemon(DaemonState::Backup);
    start(&mut lab, DaemonState::Master, "sync0", Some(100));
    start(&mut lab, DaemonState::Backup, "sync0", Some(100));
    assert_eq!(lens(&mut lab), [Some(100), Some(1024)]);
    assert_lines_if(
        lab.ipvsadm(&["-L", "--daemon"]).map(|o| lines(&o)),
        &[
            "master sync daemon (mcast=sync0, syncid=0, maxlen=100, group=224.0.0.81, port=8848, ttl=1)",
            "backup sync daemon (mcast=sync0, syncid=0, maxlen=1024, group=224.0.0.81, port=8848, ttl=1)",
        ],
    );
    lab.stop_daemon(DaemonState::Master);
    lab.stop_daemon(DaemonState::Backup);
    // An IPv6 group: the headers are 48 bytes.
    let b6 = Daemon::builder(DaemonState::Backup, "sync0")
        .group("ff02::1".parse().unwrap())
        .build()
        .unwrap();
    lab.ipvs().start_daemon(&b6).unwrap();
    assert_eq!(lens(&mut lab), [Some(8952)]);
    lab.stop_daemon(DaemonState::Backup);
}

/// Every kernel: a master sync daemon with an IPv6 group cannot start on `lo`: its socket
/// connects to the group through the interface, and the loopback has no IPv6 multicast
/// route (only other interfaces get `ff00::/8`), so the kernel answers ENETUNREACH and
/// nothing runs. (Found by the differential suite.) A backup on `lo`, or a master on
/// another interface, starts. In the guest, deleting a namespace after such a refused start
/// makes a later `DEL_DAEMON` in another namespace go unanswered for over a minute (seen
/// every time on 6.1, once on 6.12): the namespace is kept ([`Lab::keep`]) until the guest
/// powers off.
pub fn quirk_ipv6_master_daemon_on_lo_is_enetunreach<B: Backend>(b: &B) {
    let mut lab = b.lab("q-sync6lo", Setup::default().interface("sync0", 1500));
    let on = |state, ifname| {
        Daemon::builder(state, ifname)
            .group("ff02::1234".parse().unwrap())
            .build()
            .unwrap()
    };
    refused!(
        lab.ipvs().start_daemon(&on(DaemonState::Master, "lo")),
        Kernel,
        libc::ENETUNREACH,
        StartDaemon
    );
    assert_eq!(lab.ipvs().daemons().unwrap(), []);
    lab.ipvs()
        .start_daemon(&on(DaemonState::Backup, "lo"))
        .unwrap();
    lab.stop_daemon(DaemonState::Backup);
    lab.ipvs()
        .start_daemon(&on(DaemonState::Master, "sync0"))
        .unwrap();
    lab.stop_daemon(DaemonState::Master);
    lab.keep();
}

/// Which IPv4 real server addresses the kernel takes in a namespace with only `lo` (up).
/// Every kernel: 0.0.0.0, 255.255.255.255, multicast and `lo`'s broadcast 127.255.255.255
/// are refused (EINVAL); the rest of 0.0.0.0/8 (unicast since Linux 5.3), class E and
/// 255.255.255.254 are taken. `lo`'s network address 127.0.0.0 is refused before 6.0,
/// whose local table has a broadcast route for it, and taken from 6.0 on
/// (`Capabilities::network_broadcast_routes`). (Found by the differential suite: 0.1.2.3 is
/// accepted.)
pub fn quirk_ipv4_destination_address_classes<B: Backend>(b: &B) {
    let network_broadcast = b.caps().network_broadcast_routes;
    let (mut lab, id) = with_service(b, "q-v4classes");
    let ipvs = lab.ipvs();
    let mut bad = vec!["0.0.0.0", "127.255.255.255", "255.255.255.255", "224.0.0.1"];
    if network_broadcast {
        bad.push("127.0.0.0");
    }
    for bad in bad {
        refused!(
            ipvs.add_destination(&id, &masq(&format!("{bad}:80"))),
            InvalidRequest,
            libc::EINVAL,
            AddDestination
        );
    }
    let mut ok = vec![
        "0.0.0.1",
        "0.1.2.3",
        "0.255.255.255",
        "127.0.0.1",
        "240.0.0.1",
        "255.255.255.254",
    ];
    if !network_broadcast {
        ok.insert(3, "127.0.0.0");
    }
    for a in &ok {
        ipvs.add_destination(&id, &masq(&format!("{a}:80")))
            .unwrap();
    }
    let got: Vec<String> = ipvs
        .destinations(&id)
        .unwrap()
        .iter()
        .map(|d| d.addr.to_string())
        .collect();
    let mut want = ok.clone();
    want.reverse();
    assert_eq!(got, want);
}

/// Every kernel: any 32-bit sync id is taken and reported (a raw `NEW_DAEMON` with id
/// 0x1_0107 lists 0x1_0107), though ipvsadm and the builder stop at 255 (the sync protocol
/// carries a byte).
pub fn quirk_sync_id_above_255_is_kept<B: Backend>(b: &B) {
    let mut lab = b.plain("q-syncid");
    let d = Daemon::builder(DaemonState::Backup, "lo").build().unwrap();
    let attrs: Vec<DaemonAttr> = DaemonAttr::from_daemon(&d)
        .into_iter()
        .map(|a| match a {
            DaemonAttr::SyncId(_) => DaemonAttr::SyncId(0x1_0107),
            a => a,
        })
        .collect();
    let msg = IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(attrs)]);
    lab.ipvs().raw(&msg, RequestKind::Do).expect("started");
    assert_eq!(lab.ipvs().daemons().unwrap()[0].sync_id, 0x1_0107);
    lab.stop_daemon(DaemonState::Backup);
}

/// An upper threshold above i32::MAX (the builder refuses it), by
/// `Capabilities::max_upper_threshold`: stored as unsigned (and listed so by ipvsadm) on
/// 5.10, on 6.1 before 6.1.183 and on 6.12 (up to 6.12.95 at least); refused with EINVAL,
/// on add and on edit alike, from 6.1.183 and on 7.x (seen on 7.2.13). The refusal comes
/// after the service lookup (ESRCH first) and after the `lower > upper` check (ERANGE
/// first); `i32::MAX` itself is taken everywhere. The handle's capabilities say the same.
pub fn quirk_upper_threshold_above_i32_max<B: Backend>(b: &B) {
    let want = b.caps().max_upper_threshold;
    let refused = want == i32::MAX as u32;
    assert!(refused || want == u32::MAX, "{want}");
    let (mut lab, id) = with_service(b, "q-uthresh");
    let ipvs = lab.ipvs();
    let dest = |upper: u32, lower: u32| {
        let mut d = masq("10.0.0.2:80");
        d.upper_threshold = upper;
        d.lower_threshold = lower;
        d
    };
    let add = |ipvs: &mut <B::Lab as Lab>::Handle, id: &ServiceId, d: &Destination| {
        ipvs.raw(&IpvsMessage::new_dest(id, d), RequestKind::Do)
    };
    // The order of the checks: ESRCH, then ERANGE, then the range of the upper threshold.
    let missing = tcp("10.0.0.9:80");
    assert_eq!(
        raw_errno(add(ipvs, &missing, &dest(u32::MAX, 0x8000_0000))),
        libc::ESRCH
    );
    assert_eq!(
        raw_errno(add(ipvs, &id, &dest(0x8000_0000, 0x9000_0000))),
        libc::ERANGE
    );
    let big = dest(u32::MAX, 0x8000_0000);
    let r = add(ipvs, &id, &big);
    if refused {
        assert_eq!(raw_errno(r), libc::EINVAL);
        assert_eq!(ipvs.destinations(&id).unwrap(), []);
        // i32::MAX is still taken, and an edit above it is refused too.
        add(ipvs, &id, &dest(i32::MAX as u32, 0)).expect("i32::MAX");
        assert_eq!(
            raw_errno(ipvs.raw(&IpvsMessage::set_dest(&id, &big), RequestKind::Do)),
            libc::EINVAL
        );
        assert_eq!(
            ipvs.destinations(&id).unwrap()[0].upper_threshold,
            i32::MAX as u32
        );
    } else {
        r.expect("stored");
        let back = ipvs.destinations(&id).unwrap();
        assert_eq!(
            (back[0].upper_threshold, back[0].lower_threshold),
            (u32::MAX, 0x8000_0000)
        );
        assert_lines_if(
            lab.listing(&["--thresholds"]),
            &[
                "TCP 10.0.0.1:80 rr",
                "-> 10.0.0.2:80 4294967295 2147483648 0 0",
            ],
        );
    }
    assert_eq!(
        lab.ipvs().capabilities().unwrap().max_upper_threshold,
        want,
        "the handle finds the same range"
    );
}

/// The connection table `GET_INFO` reports (`Capabilities::conn_table`). Up to 6.x: one
/// table of 4096 entries for all namespaces (`conn_tab_bits=12`), reported from the start.
/// On 7.x each namespace has a resizable table of its own (`net.ipv4.vs.conn_lfactor`),
/// allocated when IPVS is first used there: `GET_INFO` (and ipvsadm's `size=`) says 0 until
/// a service is added or a sync daemon started (refused ones do not count, nor do
/// timeouts), then 256, which stays after the services are gone.
pub fn quirk_conn_table_per_namespace<B: Backend>(b: &B) {
    let want = b.caps().conn_table;
    let before = if want.allocated_on_first_use {
        0
    } else {
        want.size
    };
    let size = |lab: &mut B::Lab| lab.ipvs().info().unwrap().conn_table_size;

    let mut lab = b.plain("q-conntab");
    assert_eq!(size(&mut lab), before, "fresh namespace");
    let nosuch = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(Scheduler::Other("nosuch".into()))
        .build()
        .unwrap();
    assert!(lab.ipvs().add_service(&nosuch).is_err());
    lab.ipvs()
        .set_timeouts(&Timeouts {
            tcp: 100,
            tcp_fin: 0,
            udp: 0,
        })
        .unwrap();
    assert_eq!(
        size(&mut lab),
        before,
        "after a refused add and a timeout change"
    );
    lab.ipvs()
        .add_service(&Service::tcp(sa("10.0.0.1:80")).build().unwrap())
        .unwrap();
    assert_eq!(size(&mut lab), want.size, "after the first service");
    lab.ipvs().flush().unwrap();
    assert_eq!(size(&mut lab), want.size, "after a flush");
    lab.check_own_view();
    if let Some(exists) = lab.path_exists("/proc/sys/net/ipv4/vs/conn_lfactor") {
        assert_eq!(exists, want.resizable);
    }

    // A sync daemon allocates it too.
    let mut lab = b.plain("q-conntab2");
    assert_eq!(size(&mut lab), before);
    lab.ipvs()
        .start_daemon(&Daemon::builder(DaemonState::Backup, "lo").build().unwrap())
        .unwrap();
    assert_eq!(size(&mut lab), want.size, "after a daemon start");
    lab.stop_daemon(DaemonState::Backup);
}

// ---- refusals: the kernel's errno, and the error the client names from it ---------------

/// A service `tcp ADDR` with the rr scheduler.
fn rr_service(addr: &str) -> Service {
    Service::tcp(sa(addr))
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap()
}

/// A lab holding `tcp 10.0.0.1:80` (rr), and a destination `10.0.0.2:80` (masquerading,
/// not added) to spoil.
fn service_and_dest<B: Backend>(b: &B, tag: &str) -> (B::Lab, ServiceId, Destination) {
    let (lab, id) = with_service(b, tag);
    (lab, id, masq("10.0.0.2:80"))
}

fn new_dest<H: Handle>(ipvs: &mut H, id: &ServiceId, d: &Destination) -> Result<Vec<IpvsMessage>> {
    ipvs.raw(&IpvsMessage::new_dest(id, d), RequestKind::Do)
}

fn set_dest<H: Handle>(ipvs: &mut H, id: &ServiceId, d: &Destination) -> Result<Vec<IpvsMessage>> {
    ipvs.raw(&IpvsMessage::set_dest(id, d), RequestKind::Do)
}

/// Every kernel: adding a service that exists is EEXIST (`ServiceExists`, naming it), also
/// when the second add differs in everything but the identity, and for a service ipvsadm
/// made.
pub fn add_existing_service_is_service_exists<B: Backend>(b: &B) {
    let mut lab = b.plain("err-svc-exists");
    let ipvs = lab.ipvs();
    let s = rr_service("10.0.0.1:80");
    ipvs.add_service(&s).unwrap();
    let ctx = refused!(
        ipvs.add_service(&s),
        ServiceExists,
        libc::EEXIST,
        AddService
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80");
    let other = Service::builder(s.id)
        .scheduler(Scheduler::Wlc)
        .persistent(10)
        .build()
        .unwrap();
    refused!(
        ipvs.add_service(&other),
        ServiceExists,
        libc::EEXIST,
        AddService
    );
    // Every kind of identity.
    let ids = [
        ServiceId::udp(sa("10.0.0.1:80")),
        ServiceId::sctp(sa("10.0.0.1:80")),
        tcp("[fd00::1]:80"),
        ServiceId::fwmark(1),
        ServiceId::fwmark6(1),
    ];
    for id in &ids {
        ipvs.add_service(&Service::builder(*id).build().unwrap())
            .unwrap();
        refused!(
            ipvs.add_service(&Service::builder(*id).build().unwrap()),
            ServiceExists,
            libc::EEXIST,
            AddService
        );
    }
    if lab.ipvsadm(&["-A", "-f", "5", "-6"]).is_some() {
        let ctx = refused!(
            lab.ipvs()
                .add_service(&Service::fwmark6(5).build().unwrap()),
            ServiceExists,
            libc::EEXIST,
            AddService
        );
        assert_eq!(ctx.object, "fwmark6:5");
    }
}

/// Every kernel: adding a destination that exists (same address and port, whatever its
/// settings) is EEXIST (`DestinationExists`); another port is another destination.
pub fn add_existing_destination_is_destination_exists<B: Backend>(b: &B) {
    let (mut lab, id) = with_service(b, "err-dst-exists");
    let ipvs = lab.ipvs();
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    refused!(
        ipvs.add_destination(&id, &masq("10.0.0.2:80")),
        DestinationExists,
        libc::EEXIST,
        AddDestination
    );
    let again = Destination::builder(sa("10.0.0.2:80"))
        .tunnel(lvs::Tunnel::ipip())
        .weight(5)
        .build()
        .unwrap();
    let ctx = refused!(
        ipvs.add_destination(&id, &again),
        DestinationExists,
        libc::EEXIST,
        AddDestination
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80 -> 10.0.0.2:80");
    ipvs.add_destination(&id, &masq("10.0.0.2:81")).unwrap();
}

/// Every kernel: every command on a service that does not exist is ESRCH
/// (`NoSuchService`), before the destination is even parsed; another protocol at the same
/// address, or a fwmark service of the other family, is another service.
pub fn missing_service_is_no_such_service<B: Backend>(b: &B) {
    let mut lab = b.plain("err-no-svc");
    let ipvs = lab.ipvs();
    // Another service exists, so the table is not empty.
    ipvs.add_service(&rr_service("10.0.0.1:80")).unwrap();
    let missing = rr_service("10.0.0.9:80");
    let id = missing.id;
    let ctx = refused!(
        ipvs.update_service(&missing),
        NoSuchService,
        libc::ESRCH,
        UpdateService
    );
    assert_eq!(ctx.object, "tcp:10.0.0.9:80");
    refused!(
        ipvs.delete_service(&id),
        NoSuchService,
        libc::ESRCH,
        DeleteService
    );
    refused!(ipvs.zero_service(&id), NoSuchService, libc::ESRCH, Zero);
    refused!(
        ipvs.get_service(&id),
        NoSuchService,
        libc::ESRCH,
        GetService
    );
    let d = masq("10.0.0.2:80");
    let ctx = refused!(
        ipvs.add_destination(&id, &d),
        NoSuchService,
        libc::ESRCH,
        AddDestination
    );
    assert_eq!(ctx.object, "tcp:10.0.0.9:80 -> 10.0.0.2:80");
    refused!(
        ipvs.update_destination(&id, &d),
        NoSuchService,
        libc::ESRCH,
        UpdateDestination
    );
    refused!(
        ipvs.delete_destination(&id, sa("10.0.0.2:80")),
        NoSuchService,
        libc::ESRCH,
        DeleteDestination
    );
    // ESRCH comes before the destination is even parsed.
    let bad = IpvsMessage::new(
        IpvsCmd::NewDest,
        vec![
            IpvsAttr::Service(ServiceAttr::from_id(&id)),
            IpvsAttr::Dest(Vec::new()),
        ],
    );
    assert_eq!(raw_errno(ipvs.raw(&bad, RequestKind::Do)), libc::ESRCH);
    refused!(
        ipvs.delete_service(&ServiceId::udp(sa("10.0.0.1:80"))),
        NoSuchService,
        libc::ESRCH,
        DeleteService
    );
    ipvs.add_service(&Service::fwmark(3).build().unwrap())
        .unwrap();
    refused!(
        ipvs.delete_service(&ServiceId::fwmark6(3)),
        NoSuchService,
        libc::ESRCH,
        DeleteService
    );
}

/// Every kernel: editing or deleting a destination that does not exist is ENOENT
/// (`NoSuchDestination`); the same address at another port is another destination.
pub fn missing_destination_is_no_such_destination<B: Backend>(b: &B) {
    let (mut lab, id) = with_service(b, "err-no-dst");
    let ipvs = lab.ipvs();
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    let ctx = refused!(
        ipvs.update_destination(&id, &masq("10.0.0.3:80")),
        NoSuchDestination,
        libc::ENOENT,
        UpdateDestination
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80 -> 10.0.0.3:80");
    for gone in ["10.0.0.3:80", "10.0.0.2:8080"] {
        refused!(
            ipvs.delete_destination(&id, sa(gone)),
            NoSuchDestination,
            libc::ENOENT,
            DeleteDestination
        );
    }
    ipvs.delete_destination(&id, sa("10.0.0.2:80")).unwrap();
    refused!(
        ipvs.delete_destination(&id, sa("10.0.0.2:80")),
        NoSuchDestination,
        libc::ENOENT,
        DeleteDestination
    );
}

/// Every kernel: a scheduler no module provides is ENOENT (`SchedulerNotFound`) on add and
/// on edit, and nothing changes; with a persistence engine that exists, the scheduler is
/// still the one missing.
pub fn unknown_scheduler_is_scheduler_not_found<B: Backend>(b: &B) {
    let mut lab = b.plain("err-sched");
    let ipvs = lab.ipvs();
    let nosuch = Scheduler::Other("nosuch".into());
    let s = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(nosuch.clone())
        .build()
        .unwrap();
    let ctx = refused!(
        ipvs.add_service(&s),
        SchedulerNotFound,
        libc::ENOENT,
        AddService
    );
    assert_eq!(ctx.object, "tcp:10.0.0.1:80");
    assert_eq!(ipvs.services().unwrap(), [], "nothing was added");
    ipvs.add_service(&rr_service("10.0.0.1:80")).unwrap();
    refused!(
        ipvs.update_service(&s),
        SchedulerNotFound,
        libc::ENOENT,
        UpdateService
    );
    assert_eq!(ipvs.get_service(&s.id).unwrap().scheduler, Scheduler::Rr);
    let with_pe = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(nosuch)
        .persistent(60)
        .pe(lvs::PersistenceEngine::Sip)
        .build()
        .unwrap();
    refused!(
        ipvs.add_service(&with_pe),
        SchedulerNotFound,
        libc::ENOENT,
        AddService
    );
}

/// Every kernel: a persistence engine no module provides is ENOENT, after the scheduler
/// lookup; the `sip` engine is taken and read back. With the scheduler `none` (ipvsadm
/// `-s none`, no module) the ENOENT can only be the engine's, and the client says so
/// (`PersistenceEngineNotFound`; with a real scheduler it tells from the machine's loaded
/// modules, which is the guest's business: `errors::unknown_persistence_engine_is_...`).
pub fn unknown_persistence_engine_with_scheduler_none<B: Backend>(b: &B) {
    let mut lab = b.plain("err-pe-none");
    let ipvs = lab.ipvs();
    let s = Service::udp(sa("10.0.0.1:5060"))
        .scheduler(Scheduler::Other("none".into()))
        .persistent(60)
        .pe(lvs::PersistenceEngine::Other("nosuch".into()))
        .build()
        .unwrap();
    // The same service with the `sip` engine is accepted: only the engine is missing.
    let mut with_sip = s.clone();
    with_sip.pe = Some(lvs::PersistenceEngine::Sip);
    ipvs.add_service(&with_sip).unwrap();
    assert_eq!(
        ipvs.get_service(&s.id).unwrap().pe,
        Some(lvs::PersistenceEngine::Sip)
    );
    ipvs.delete_service(&s.id).unwrap();
    refused!(
        ipvs.add_service(&s),
        PersistenceEngineNotFound,
        libc::ENOENT,
        AddService
    );
    // With a real scheduler: ENOENT too (raw: the transport names no case).
    let mut rr = s.clone();
    rr.scheduler = Scheduler::Rr;
    assert_eq!(
        raw_errno(ipvs.raw(&IpvsMessage::new_service(&rr), RequestKind::Do)),
        libc::ENOENT
    );
}

/// Every kernel: real server addresses the kernel refuses with EINVAL
/// (`InvalidRequest`): IPv4 multicast, broadcast, 0.0.0.0 and `lo`'s broadcast; IPv6
/// multicast, `::`, link-local and v4-mapped. Other unicast ones are taken (for 127.0.0.0
/// and the rest of 0.0.0.0/8, see `quirk_ipv4_destination_address_classes`).
pub fn destination_address_not_unicast_is_invalid_request<B: Backend>(b: &B) {
    let (mut lab, id) = with_service(b, "err-mcast-dst");
    let ipvs = lab.ipvs();
    for bad in [
        "224.0.0.1:80",
        "255.255.255.255:80",
        "0.0.0.0:80",
        "127.255.255.255:80",
    ] {
        let ctx = refused!(
            ipvs.add_destination(&id, &masq(bad)),
            InvalidRequest,
            libc::EINVAL,
            AddDestination
        );
        assert_eq!(ctx.object, format!("tcp:10.0.0.1:80 -> {bad}"));
    }
    for ok in ["127.0.0.1:80", "240.0.0.1:80", "10.0.0.255:80"] {
        ipvs.add_destination(&id, &masq(ok)).unwrap();
    }
    let v6 = tcp("[fd00::1]:80");
    ipvs.add_service(&Service::builder(v6).build().unwrap())
        .unwrap();
    for bad in [
        "[ff02::1]:80",
        "[::]:80",
        "[fe80::1]:80",
        "[::ffff:10.0.0.1]:80",
    ] {
        refused!(
            ipvs.add_destination(&v6, &masq(bad)),
            InvalidRequest,
            libc::EINVAL,
            AddDestination
        );
    }
    for ok in [
        "[::1]:80",
        "[::10.0.0.1]:80",
        "[fec0::1]:80",
        "[2001:db8::1]:80",
    ] {
        ipvs.add_destination(&v6, &masq(ok)).unwrap();
    }
}

/// Every kernel: a timeout that is negative as an int, or above `INT_MAX / HZ` seconds, is
/// EINVAL (`InvalidRequest`) and nothing changes (the exact limit:
/// `quirk_timeouts_limited_to_int_max_jiffies`).
pub fn timeouts_out_of_range_are_invalid_request<B: Backend>(b: &B) {
    let mut lab = b.plain("err-timeouts");
    let ipvs = lab.ipvs();
    let before = ipvs.timeouts().unwrap();
    for t in [
        Timeouts {
            tcp: u32::MAX,
            tcp_fin: 0,
            udp: 0,
        },
        Timeouts {
            tcp: 0,
            tcp_fin: 0,
            udp: 100_000_000,
        },
    ] {
        refused!(
            ipvs.set_timeouts(&t),
            InvalidRequest,
            libc::EINVAL,
            SetTimeouts
        );
    }
    assert_eq!(ipvs.timeouts().unwrap(), before, "nothing was changed");
}

/// Every kernel: a weight negative as an int (the builder stops at 65535) is ERANGE, on
/// add and on edit.
pub fn raw_weight_above_i32_max_is_erange<B: Backend>(b: &B) {
    let (mut lab, id, mut d) = service_and_dest(b, "raw-weight");
    let ipvs = lab.ipvs();
    for w in [0x8000_0000, u32::MAX] {
        d.weight = w;
        assert_eq!(raw_errno(new_dest(ipvs, &id, &d)), libc::ERANGE);
    }
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    assert_eq!(raw_errno(set_dest(ipvs, &id, &d)), libc::ERANGE);
    assert_eq!(ipvs.destinations(&id).unwrap()[0].weight, 1);
}

/// Every kernel: a lower threshold above the upper one is ERANGE, even when the upper one
/// is 0 ("no limit"; `quirk_lower_threshold_without_upper_is_erange`), on add and on edit,
/// and before the destination lookup (an edit of a missing one too).
pub fn raw_lower_threshold_above_upper_is_erange<B: Backend>(b: &B) {
    let (mut lab, id, mut d) = service_and_dest(b, "raw-thresh");
    let ipvs = lab.ipvs();
    for (upper, lower) in [(10, 11), (0, 1)] {
        d.upper_threshold = upper;
        d.lower_threshold = lower;
        assert_eq!(raw_errno(new_dest(ipvs, &id, &d)), libc::ERANGE);
    }
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    d.upper_threshold = 10;
    d.lower_threshold = 11;
    assert_eq!(raw_errno(set_dest(ipvs, &id, &d)), libc::ERANGE);
    d.addr = "10.0.0.3".parse().unwrap();
    assert_eq!(raw_errno(set_dest(ipvs, &id, &d)), libc::ERANGE);
}

/// Every kernel: a lower threshold above i32::MAX (the builder stops it) with an upper one
/// at most i32::MAX is ERANGE; i32::MAX is taken for both (an upper threshold above it:
/// `quirk_upper_threshold_above_i32_max`).
pub fn raw_lower_threshold_above_i32_max_is_erange<B: Backend>(b: &B) {
    let (mut lab, id, mut d) = service_and_dest(b, "raw-thresh-max");
    let ipvs = lab.ipvs();
    for upper in [0, i32::MAX as u32] {
        d.upper_threshold = upper;
        d.lower_threshold = 0x8000_0000;
        assert_eq!(raw_errno(new_dest(ipvs, &id, &d)), libc::ERANGE);
    }
    d.upper_threshold = i32::MAX as u32;
    d.lower_threshold = i32::MAX as u32 - 1;
    new_dest(ipvs, &id, &d).expect("i32::MAX");
    let back = &ipvs.destinations(&id).unwrap()[0];
    assert_eq!(
        (back.upper_threshold, back.lower_threshold),
        (i32::MAX as u32, i32::MAX as u32 - 1)
    );
    assert_lines_if(
        lab.listing(&["--thresholds"]),
        &[
            "TCP 10.0.0.1:80 rr",
            "-> 10.0.0.2:80 2147483647 2147483646 0 0",
        ],
    );
}

/// Every kernel: an IPv6 service's netmask outside 1..=128 is EINVAL, persistent or not,
/// on add and on edit.
pub fn raw_ipv6_netmask_out_of_range_is_einval<B: Backend>(b: &B) {
    let mut lab = b.plain("raw-mask6");
    let ipvs = lab.ipvs();
    let mut s = Service::tcp(sa("[fd00::1]:443"))
        .persistent(300)
        .build()
        .unwrap();
    let with_mask = |s: &mut Service, bits| {
        s.persistence = Some(lvs::Persistence {
            timeout: 300,
            netmask: lvs::Netmask::V6(bits),
        });
    };
    for bad in [129u8, 0] {
        with_mask(&mut s, bad);
        let r = ipvs.raw(&IpvsMessage::new_service(&s), RequestKind::Do);
        assert_eq!(raw_errno(r), libc::EINVAL);
    }
    // Also for a service that is not persistent: the kernel checks the prefix regardless.
    let mut plain = Service::tcp(sa("[fd00::1]:443")).build().unwrap();
    plain.raw_netmask = Some(lvs::Netmask::V6(0));
    let r = ipvs.raw(&IpvsMessage::new_service(&plain), RequestKind::Do);
    assert_eq!(raw_errno(r), libc::EINVAL);
    // And on edit.
    ipvs.add_service(&Service::tcp(sa("[fd00::1]:443")).build().unwrap())
        .unwrap();
    for bad in [129u8, 0] {
        with_mask(&mut s, bad);
        let r = ipvs.raw(&IpvsMessage::set_service(&s), RequestKind::Do);
        assert_eq!(raw_errno(r), libc::EINVAL);
    }
    with_mask(&mut s, 64);
    ipvs.update_service(&s).unwrap();
    assert_eq!(ipvs.services().unwrap().len(), 1);
}

/// Every kernel: a GUE tunnel without a port is EINVAL, on add and on edit.
pub fn raw_gue_tunnel_without_port_is_einval<B: Backend>(b: &B) {
    let (mut lab, id, mut d) = service_and_dest(b, "raw-gue");
    let ipvs = lab.ipvs();
    d.forward = lvs::ForwardMethod::Tunnel(lvs::Tunnel {
        kind: lvs::TunnelType::Gue,
        port: 0,
        flags: lvs::TunnelFlags::CSUM,
    });
    assert_eq!(raw_errno(new_dest(ipvs, &id, &d)), libc::EINVAL);
    ipvs.add_destination(&id, &masq("10.0.0.2:80")).unwrap();
    assert_eq!(raw_errno(set_dest(ipvs, &id, &d)), libc::EINVAL);
}

/// Every kernel: a request without its mandatory attributes is EINVAL: a service nest with
/// only the identity, no nest, an identity without its port, a destination nest with only
/// its identity.
pub fn raw_missing_attributes_are_einval<B: Backend>(b: &B) {
    let mut lab = b.plain("raw-missing");
    let ipvs = lab.ipvs();
    let id = tcp("10.0.0.1:80");
    let only_id = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![IpvsAttr::Service(ServiceAttr::from_id(&id))],
    );
    assert_eq!(raw_errno(ipvs.raw(&only_id, RequestKind::Do)), libc::EINVAL);
    let empty = IpvsMessage::new(IpvsCmd::NewService, vec![]);
    assert_eq!(raw_errno(ipvs.raw(&empty, RequestKind::Do)), libc::EINVAL);
    let partial = IpvsMessage::new(
        IpvsCmd::DelService,
        vec![IpvsAttr::Service(vec![
            ServiceAttr::Af(2),
            ServiceAttr::Protocol(6),
        ])],
    );
    assert_eq!(raw_errno(ipvs.raw(&partial, RequestKind::Do)), libc::EINVAL);
    ipvs.add_service(&rr_service("10.0.0.1:80")).unwrap();
    let dest_id = IpvsMessage::new(
        IpvsCmd::NewDest,
        vec![
            IpvsAttr::Service(ServiceAttr::from_id(&id)),
            IpvsAttr::Dest(lvs::wire::DestAttr::from_dest_id(&sa("10.0.0.2:80"))),
        ],
    );
    assert_eq!(raw_errno(ipvs.raw(&dest_id, RequestKind::Do)), libc::EINVAL);
    assert_eq!(ipvs.destinations(&id).unwrap(), []);
}

/// Every kernel: a destination of the other family than its service's without tunnel
/// forwarding is EINVAL (the builder refuses it too).
pub fn raw_mixed_family_without_tunnel_is_einval<B: Backend>(b: &B) {
    let (mut lab, id) = with_service(b, "raw-mixed");
    let ipvs = lab.ipvs();
    for d in [
        Destination::builder(sa("[fd00::2]:80"))
            .masquerade()
            .build()
            .unwrap(),
        Destination::builder(sa("[fd00::2]:80"))
            .direct_route()
            .build()
            .unwrap(),
    ] {
        assert_eq!(raw_errno(new_dest(ipvs, &id, &d)), libc::EINVAL);
    }
}

/// Invoke `$m!(name)` for each scenario: the list both suites run.
macro_rules! for_each_scenario {
    ($m:ident) => {
        $m! {
            quirk_hashed_flag_after_add_and_edit,
            quirk_destination_dump_order_is_newest_first,
            quirk_get_dest_on_missing_service_is_an_empty_list,
            quirk_daemon_dump_master_and_backup_are_separate_entries,
            quirk_reply_command_tags_and_nested_flag,
            quirk_ipv4_destination_needs_lo_up_in_a_new_namespace,
            quirk_scheduler_none_is_accepted,
            quirk_kernel_accepts_weight_above_65535,
            quirk_lower_threshold_without_upper_is_erange,
            quirk_direct_route_destination_keeps_its_port,
            quirk_timeouts_limited_to_int_max_jiffies,
            quirk_sync_daemon_max_len_defaults_and_clamping,
            quirk_ipv6_master_daemon_on_lo_is_enetunreach,
            quirk_ipv4_destination_address_classes,
            quirk_sync_id_above_255_is_kept,
            quirk_upper_threshold_above_i32_max,
            quirk_conn_table_per_namespace,
        }
    };
}

/// Invoke `$m!(name)` for each refusal scenario: the list both suites run.
macro_rules! for_each_refusal_scenario {
    ($m:ident) => {
        $m! {
            add_existing_service_is_service_exists,
            add_existing_destination_is_destination_exists,
            missing_service_is_no_such_service,
            missing_destination_is_no_such_destination,
            unknown_scheduler_is_scheduler_not_found,
            unknown_persistence_engine_with_scheduler_none,
            destination_address_not_unicast_is_invalid_request,
            timeouts_out_of_range_are_invalid_request,
            raw_weight_above_i32_max_is_erange,
            raw_lower_threshold_above_upper_is_erange,
            raw_lower_threshold_above_i32_max_is_erange,
            raw_ipv6_netmask_out_of_range_is_einval,
            raw_gue_tunnel_without_port_is_einval,
            raw_missing_attributes_are_einval,
            raw_mixed_family_without_tunnel_is_einval,
        }
    };
}
