//! The mock kernel (feature `mock`): an in-memory model of one network namespace's IPVS,
//! behind the [`Transport`] trait, that answers every request as Linux does: 5.10, 6.1, 6.12
//! and 7.x, each through a profile of its version ([`MockKernelBuilder::kernel`]).
//!
//! [`MockKernel`] is meant for testing control-plane code without a kernel: hand it to
//! [`Ipvs::with_transport`](crate::Ipvs::with_transport) and the code under test cannot tell
//! it from a real namespace. It is checked against the real kernels by a differential test
//! (`tests/differential.rs`, random operation sequences applied to both, replies compared).
//!
//! Everything it models, and what it does not, is documented on [`MockKernel`].

mod addr;
mod conns;
mod parse;
mod table;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use netlink_packet_core::{Emitable, NetlinkPayload, NLM_F_DUMP};

use super::{RequestKind, Transport};
use crate::error::{DecodeError, Error, KernelContext, Operation, Result};
use crate::model::ServiceEntry;
use crate::model::{
    Capabilities, ConnTable, Daemon, Info, KernelVersion, Scheduler, ServiceId, Timeouts, Version,
};
use crate::wire::{self, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr};

use table::Table;

/// A kernel errno the mock answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Errno(i32);

impl Errno {
    const ENOENT: Errno = Errno(libc::ENOENT);
    const ESRCH: Errno = Errno(libc::ESRCH);
    const EEXIST: Errno = Errno(libc::EEXIST);
    const ENODEV: Errno = Errno(libc::ENODEV);
    const ENETUNREACH: Errno = Errno(libc::ENETUNREACH);
    const EINVAL: Errno = Errno(libc::EINVAL);
    const ERANGE: Errno = Errno(libc::ERANGE);
    const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
    const EAFNOSUPPORT: Errno = Errno(libc::EAFNOSUPPORT);

    fn into_error(self) -> Error {
        Error::Kernel(KernelContext::new(self.0, Operation::Other, ""))
    }
}

/// The schedulers of mainline Linux (6.7 and later: with `twos`).
pub const MAINLINE_SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// The persistence engines of mainline Linux.
pub const MAINLINE_PERSISTENCE_ENGINES: [&str; 1] = ["sip"];

/// `IP_VS_VERSION_CODE`: 1.2.1.
const VERSION_CODE: u32 = 0x01_02_01;

/// The configuration of the modelled kernel: fixed when the mock is built.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    schedulers: Vec<String>,
    persistence_engines: Vec<String>,
    hz: u32,
    conn_tab_size: u32,
    version: u32,
    /// Interface names and MTUs, for the sync daemons.
    interfaces: Vec<(String, u32)>,
    hash_seed: u8,
    loopback_up: bool,
    ipv6: bool,
    /// The kernel version the profile is for, if one was chosen.
    kernel: Option<KernelVersion>,
    /// The largest upper threshold taken (above it: EINVAL).
    max_upper_threshold: u32,
    /// Whether 127.0.0.0 (`lo`'s network address) has a broadcast route (refused).
    network_broadcast_routes: bool,
    /// Whether the connection table is resizable (7.x).
    conn_tab_resizable: bool,
    /// Whether the connection table is allocated only when IPVS is first used in the
    /// namespace (7.x): `GET_INFO` reports 0 before.
    conn_tab_lazy: bool,
}

/// Options for a [`MockKernel`]: which kernel it imitates.
///
/// The default behaves as Linux 6.12 (all 14 schedulers, the `sip` persistence engine,
/// `HZ` 250, a 4096-entry connection table, upper thresholds up to `u32::MAX`, IPv6, and a
/// namespace whose only interface is `lo`, up, MTU 65536).
///
/// A profile for a kernel version sets every behaviour that differs between kernels from
/// the same table of kernel facts as [`Capabilities::expected`] (each documented there with
/// its version range): [`kernel`](Self::kernel) for any version, or the shortcuts for the
/// kernels the crate is tested on, [`linux_5_10`](Self::linux_5_10),
/// [`linux_6_1`](Self::linux_6_1), [`linux_6_12`](Self::linux_6_12) and
/// [`linux_7`](Self::linux_7). To imitate the machine's own kernel:
///
/// ```no_run
/// use lvs::transport::MockKernel;
/// let mock = MockKernel::builder().kernel(lvs::KernelVersion::running()?).build();
/// # Ok::<(), lvs::Error>(())
/// ```
///
/// ```
/// use lvs::transport::MockKernel;
/// let mock = MockKernel::builder()
///     .schedulers(["rr", "wlc"])
///     .persistence_engines(Vec::<String>::new())
///     .interface("eth0", 1500)
///     .build();
/// assert!(mock.services().is_empty());
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MockKernelBuilder {
    config: Config,
}

impl Default for MockKernelBuilder {
    fn default() -> Self {
        MockKernelBuilder {
            config: Config {
                schedulers: MAINLINE_SCHEDULERS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                persistence_engines: MAINLINE_PERSISTENCE_ENGINES
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                hz: 250,
                conn_tab_size: 4096,
                version: VERSION_CODE,
                interfaces: vec![("lo".to_owned(), 65536)],
                hash_seed: 0,
                loopback_up: true,
                ipv6: true,
                kernel: None,
                max_upper_threshold: u32::MAX,
                network_broadcast_routes: false,
                conn_tab_resizable: false,
                conn_tab_lazy: false,
            },
        }
    }
}

impl MockKernelBuilder {
    /// The scheduler modules available (a service naming another gets ENOENT; `none` is
    /// always accepted).
    pub fn schedulers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.schedulers = names.into_iter().map(Into::into).collect();
        self
    }

    /// The persistence engine modules available (a service naming another gets ENOENT).
    pub fn persistence_engines<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.persistence_engines = names.into_iter().map(Into::into).collect();
        self
    }

    /// The profile of kernel version `v`: its schedulers (`twos` from 6.7), the `sip`
    /// engine, its connection table size (4096, or 256 and resizable from 7.0), its largest
    /// upper threshold (`i32::MAX` from 6.1.183 in the 6.1 series and from 7.0, `u32::MAX`
    /// otherwise) and whether `lo`'s network address 127.0.0.0 is refused as a real server
    /// (before 6.0): [`Capabilities::expected`] documents each range. Options set after it
    /// override it.
    pub fn kernel(mut self, v: KernelVersion) -> Self {
        let caps = Capabilities::expected(v);
        self.config.schedulers = caps
            .schedulers
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
        self.config.persistence_engines = caps.persistence_engines;
        self.config.conn_tab_size = caps.conn_table.size;
        self.config.conn_tab_resizable = caps.conn_table.resizable;
        self.config.conn_tab_lazy = caps.conn_table.allocated_on_first_use;
        self.config.max_upper_threshold = caps.max_upper_threshold;
        self.config.network_broadcast_routes = caps.network_broadcast_routes;
        self.config.kernel = Some(v);
        self
    }

    /// Linux 5.10 as Debian bullseye ships it (5.10.223): no `twos`, and `lo`'s network
    /// address 127.0.0.0 refused as a real server.
    pub fn linux_5_10(self) -> Self {
        self.kernel(KernelVersion::new(5, 10, 223))
    }

    /// Linux 6.1 as Debian bookworm ships it (6.1.192): no `twos` (it came with 6.7), and
    /// an upper threshold above `i32::MAX` refused (from 6.1.183; for an earlier 6.1, use
    /// [`kernel`](Self::kernel) with its version).
    pub fn linux_6_1(self) -> Self {
        self.kernel(KernelVersion::new(6, 1, 192))
    }

    /// Linux 6.12 as Debian's bookworm-backports ships it (6.12.95): every mainline
    /// scheduler, `twos` included.
    pub fn linux_6_12(self) -> Self {
        self.kernel(KernelVersion::new(6, 12, 95))
    }

    /// Linux 7.x as Debian's unstable suite ships it (7.2.13): a resizable connection table
    /// that `GET_INFO` reports as 256 entries, and an upper threshold above `i32::MAX`
    /// refused.
    pub fn linux_7(self) -> Self {
        self.kernel(KernelVersion::new(7, 2, 13))
    }

    /// The largest upper connection threshold the kernel takes: above it, adding or editing
    /// a destination is refused with EINVAL (see [`Capabilities::max_upper_threshold`]).
    pub fn max_upper_threshold(mut self, max: u32) -> Self {
        self.config.max_upper_threshold = max;
        self
    }

    /// Whether the local routing table has a broadcast route for `lo`'s network address
    /// 127.0.0.0, which the kernel then refuses as a real server (EINVAL; see
    /// [`Capabilities::network_broadcast_routes`]).
    pub fn network_broadcast_routes(mut self, yes: bool) -> Self {
        self.config.network_broadcast_routes = yes;
        self
    }

    /// The kernel's `HZ` (default 250, as Debian's and mainline's default configuration):
    /// timeouts are kept in ticks, which bounds them (`INT_MAX / HZ` seconds) and makes a
    /// persistence timeout above `u32::MAX / HZ` wrap. 0 is taken as 1.
    pub fn hz(mut self, hz: u32) -> Self {
        self.config.hz = hz.max(1);
        self
    }

    /// The connection table size `GET_INFO` reports (default 4096, the `ip_vs` module's
    /// `conn_tab_bits=12`; 256 on 7.x, whose table is resizable).
    pub fn conn_table_size(mut self, size: u32) -> Self {
        self.config.conn_tab_size = size;
        self
    }

    /// Add (or replace) a network interface, by name and MTU, on which sync daemons can
    /// start. The default namespace has `lo` with MTU 65536. An interface other than `lo` is
    /// taken as up, with IPv6 (so with a multicast route: a master daemon can use an IPv6
    /// group on it).
    pub fn interface(mut self, name: &str, mtu: u32) -> Self {
        self.config.interfaces.retain(|(n, _)| n != name);
        self.config.interfaces.push((name.to_owned(), mtu));
        self
    }

    /// The seed of the service hash (bits 8..16 of the kernel address of the namespace's
    /// IPVS state), which decides the order of a service dump. Any value gives a valid
    /// kernel order; to reproduce one namespace's exact order, find its seed from a dump.
    pub fn hash_seed(mut self, seed: u8) -> Self {
        self.config.hash_seed = seed;
        self
    }

    /// Whether `lo` is up (default). In a namespace just made by `ip netns add`, `lo` is down
    /// and there is no local routing table, so the kernel refuses every IPv4 destination
    /// with EINVAL.
    pub fn loopback_up(mut self, up: bool) -> Self {
        self.config.loopback_up = up;
        self
    }

    /// Whether the kernel has IPv6 (default): without it, IPv6 services and destinations
    /// get EAFNOSUPPORT.
    pub fn ipv6(mut self, enabled: bool) -> Self {
        self.config.ipv6 = enabled;
        self
    }

    /// The mock, with an empty table and the default timeouts.
    pub fn build(self) -> MockKernel {
        MockKernel {
            config: self.config,
            table: Arc::new(Mutex::new(Table::default())),
        }
    }
}

/// An in-memory IPVS table (one network namespace's) that answers requests as the kernel
/// would, for testing control-plane code without a kernel: hand it to
/// [`Ipvs::with_transport`](crate::Ipvs::with_transport) and the code under test cannot tell
/// it from a real namespace.
///
/// It is `Send`, `Sync` and `Clone`, and **a clone shares the table**: like two netlink
/// sockets on one namespace, every clone sees what any of them changed, so a health checker
/// and a reconciler (or a test and the code under test) can each hold a handle on one table.
/// For an independent copy of the state as it is now (to compare states, or to try
/// something without touching the original), use [`fork`](Self::fork). Two mocks are equal
/// (`==`) when their profiles and states are, shared or not. Its state can be read
/// directly: [`services`](Self::services), [`timeouts`](Self::timeouts),
/// [`daemons`](Self::daemons), [`info`](Self::info). Build one for a given kernel with
/// [`MockKernel::builder`].
///
/// ```
/// use lvs::transport::MockKernel;
/// use lvs::{Ipvs, Service};
///
/// let mock = MockKernel::new();
/// let mut reconciler = Ipvs::with_transport(mock.clone());
/// let mut checker = Ipvs::with_transport(mock.clone());
/// let copy = mock.fork();
/// reconciler.add_service(&Service::tcp("10.0.0.1:80".parse()?).build()?)?;
/// assert_eq!(checker.services()?.len(), 1, "a clone shares the table");
/// assert_eq!(mock.services().len(), 1);
/// assert!(copy.services().is_empty(), "a fork does not");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// What it models, after `net/netfilter/ipvs/ip_vs_ctl.c` and `ip_vs_sync.c`, each point
/// checked against Debian's 5.10, 6.1, 6.12 and 7.x kernels by the differential suite (and
/// the `quirk_*` scenarios of `tests/support/scenarios.rs`, run on both). What differs
/// between kernels follows the profile chosen on the builder ([`MockKernelBuilder::kernel`],
/// [`Capabilities::expected`] for the version ranges): the schedulers, the largest upper
/// threshold, whether `lo`'s network address is refused, and the connection table that
/// `GET_INFO` reports (0 on 7.x until the namespace's first service or daemon). On a 7.x
/// profile the service dump keeps the mock's bucket order, which is one of the orders the
/// real kernel's random seed can give ([`ServiceOrder::Random`](crate::ServiceOrder)):
/// compare 7.x dumps as sets.
///
/// - **Decoding.** Each request is framed to bytes and parsed back with [`crate::wire`], so
///   the mock sees exactly the attributes the kernel would; the last occurrence of an
///   attribute wins, as with the kernel's `nla_parse`; attributes it does not know are
///   ignored.
/// - **Identity.** A service is `AF` + `FWMARK`, or `AF` + `PROTOCOL` + `ADDR` + `PORT`; with
///   a `FWMARK` attribute (even 0) the protocol is forced to TCP and the address and port
///   ignored (so `FWMARK` 0 names the TCP service at the unspecified address, port 0); an
///   IPv4 address is its first 4 bytes; any protocol number is taken. A destination is its
///   family, address and port within its service.
/// - **Refusals, in the kernel's order**, with the kernel's errno: the rules, one a line
///   with their kernel ranges, are in
///   [the guide](crate::guide#8-which-errno-in-which-order-the-kernels-refusals).
/// - **Values as the kernel keeps them.** Flags merged under their mask
///   (`(old & !mask) | (flags & mask)`), `HASHED` (0x2) set on every service, after an add
///   as after an edit; the persistence timeout kept in ticks (`timeout * HZ`, wrapping in
///   32 bits as in C); the netmask as sent; tunnel attributes stored whatever the
///   forwarding method (absent: 0); `FWD_METHOD` masked to its 3 bits; weights up to
///   `i32::MAX` and any unsigned thresholds; a destination's port kept whatever the
///   forwarding; timeouts (default TCP 900, TCP FIN 120, UDP 300 s) where an absent
///   attribute or 0 leaves a value unchanged and one value above `INT_MAX / HZ` refuses
///   the whole request (EINVAL); sync daemon defaults (group 224.0.0.81, port 8848, TTL 1,
///   message length: 1500 less the headers for a master, the interface's MTU clamped to
///   1500..=65535 less the headers for a backup; a given length clamped to 1 (master) or
///   1024 (backup) ..= 65535 less the headers).
/// - **Replies, kernel-style.** The kernel's command tags (`NEW_SERVICE`, `NEW_DEST`,
///   `NEW_DAEMON`, `SET_CONFIG`, `SET_INFO`) and attribute order, no `NLA_F_NESTED`,
///   `STATS` and `STATS64` with zero counters, the active and inactive connection counters
///   as the test injected them (below), persistent ones 0; `GET_DEST` for a missing (or badly named) service is an empty dump; the
///   daemon dump lists the master, then the backup; info is version 1.2.1 and a connection
///   table of 4096 entries (configurable; the 7.x profile: 0, then 256).
/// - **Dump order.** Destinations newest first (the kernel adds at the head of the list;
///   an edit does not move one). Services in hash-table order: the address table's 256
///   buckets, then the fwmark table's, newest first within a bucket. The hash mixes in
///   bits 8..16 of the kernel address of the namespace's IPVS state, which user space
///   cannot know: it is the builder's [`hash_seed`](MockKernelBuilder::hash_seed) (the
///   differential test finds the real namespace's seed from one dump).
/// - **Flush** deletes every service with its destinations and nothing else (timeouts and
///   daemons stay); **zero** succeeds on any existing service (ESRCH otherwise) or on all.
/// - **Connections, injected.** The mock carries no traffic, but a test can give a
///   destination connections: fixed counts ([`set_connections`](Self::set_connections)) or
///   connections that go inactive and expire on the mock's clock
///   ([`add_connection`](Self::add_connection), [`advance`](Self::advance)), reported in
///   the destination's counters as the kernel reports them. A destination deleted (alone,
///   with its service, or by a flush) while it has connections leaves every listing but
///   stays in the kernel's trash ([`trash_len`](Self::trash_len)) until they expire;
///   adding it again to a service of the same identity brings it back with them.
///
/// Not modelled: traffic (the statistics, rates and the estimator stay 0; connections are
/// only those injected, and nothing is scheduled); routing beyond a namespace with only
/// `lo` (an address made local or routable by other interfaces is judged as in a
/// namespace with `lo` alone; see [`loopback_up`](MockKernelBuilder::loopback_up));
/// interfaces that are down or lack IPv4/IPv6 (a daemon starts on any interface the
/// builder lists, and only `lo` lacks an IPv6 multicast route); scheduler modules that
/// exist on disk but are not loaded (the kernel loads them on demand: list every module
/// the modelled kernel can load); failures of memory, threads or sockets; the kernel's
/// stalls of `DEL_DAEMON` (over a minute without an answer: after a namespace whose IPv6
/// master daemon start was refused is deleted, and now and then under TCG); attributes of the wrong
/// length, which the crate's decoder already refuses (the mock answers EINVAL for any
/// request it cannot decode, where the kernel may take a longer attribute). Which of a
/// scheduler or an engine an ENOENT was about is named by the client from the modules
/// loaded on the machine it runs on (`/sys/module`), with the mock as with the kernel.
///
/// ```
/// use lvs::transport::{MockKernel, Transport};
/// use lvs::{Destination, Ipvs, Scheduler, Service, ServiceId};
///
/// /// Control-plane logic under test: make the service exist with this configuration.
/// fn ensure_service(ipvs: &mut Ipvs<impl Transport>, want: &Service) -> lvs::Result<bool> {
///     match ipvs.get_service(&want.id) {
///         Ok(have) if have.same_config(want) => Ok(false),
///         Ok(_) => ipvs.update_service(want).map(|()| true),
///         Err(lvs::Error::NoSuchService(_)) => ipvs.add_service(want).map(|()| true),
///         Err(e) => Err(e),
///     }
/// }
///
/// let mut ipvs = Ipvs::with_transport(MockKernel::new());
/// let svc = Service::tcp("10.0.0.1:80".parse()?).scheduler(Scheduler::Rr).build()?;
/// assert!(ensure_service(&mut ipvs, &svc)?, "added");
/// assert!(!ensure_service(&mut ipvs, &svc)?, "already as wanted");
/// let sh = Service::tcp("10.0.0.1:80".parse()?).scheduler(Scheduler::Sh).build()?;
/// assert!(ensure_service(&mut ipvs, &sh)?, "edited");
///
/// // The table, read directly.
/// let table = ipvs.transport().services();
/// assert_eq!(table.len(), 1);
/// assert_eq!(table[0].service.scheduler, Scheduler::Sh);
///
/// // A kernel without the scheduler module: the same refusal as the kernel's.
/// let mut old = Ipvs::with_transport(MockKernel::builder().linux_6_1().build());
/// let twos = Service::tcp("10.0.0.1:80".parse()?).scheduler(Scheduler::Twos).build()?;
/// assert!(matches!(old.add_service(&twos), Err(lvs::Error::SchedulerNotFound(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MockKernel {
    /// The profile: fixed when built, so each clone keeps its own copy.
    config: Config,
    /// The namespace's state, shared by every clone.
    table: Arc<Mutex<Table>>,
}

impl PartialEq for MockKernel {
    /// The same profile and the same state (services, destinations, connections, clock,
    /// timeouts, daemons), whether or not the two share it.
    fn eq(&self, other: &MockKernel) -> bool {
        if self.config != other.config {
            return false;
        }
        if Arc::ptr_eq(&self.table, &other.table) {
            return true;
        }
        // One lock at a time: two threads comparing a == b and b == a cannot deadlock.
        let mine = self.state().clone();
        mine == *other.state()
    }
}

impl Eq for MockKernel {}

impl Default for MockKernel {
    fn default() -> Self {
        MockKernel::new()
    }
}

impl MockKernel {
    /// A mock of a mainline kernel with an empty table.
    pub fn new() -> MockKernel {
        MockKernelBuilder::default().build()
    }

    /// Options: which schedulers and engines exist, `HZ`, interfaces, hash seed, ...
    pub fn builder() -> MockKernelBuilder {
        MockKernelBuilder::default()
    }

    /// An independent copy of this mock: the same profile and a copy of the state as it is
    /// now (services, destinations, connections, clock, timeouts, daemons), which no longer
    /// follows this one (a [`clone`](Clone::clone) shares the state instead).
    pub fn fork(&self) -> MockKernel {
        MockKernel {
            config: self.config.clone(),
            table: Arc::new(Mutex::new(self.state().clone())),
        }
    }

    /// Whether `self` and `other` are handles on one table (one is a clone of the other).
    pub fn shares_table_with(&self, other: &MockKernel) -> bool {
        Arc::ptr_eq(&self.table, &other.table)
    }

    /// The shared state, locked. A panic while it was held (in a test's thread) leaves the
    /// state as it was: every change is made whole or not at all.
    fn state(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every service with its destinations, in the order a kernel dump lists them, as the
    /// client would read them (stats zero, connection counters as injected).
    pub fn services(&self) -> Vec<ServiceEntry> {
        let table = self.state();
        table
            .ordered(&self.config)
            .into_iter()
            .filter_map(|s| self.entry(s, table.now).ok())
            .collect()
    }

    /// One service with its destinations, if it exists.
    pub fn service(&self, id: &ServiceId) -> Option<ServiceEntry> {
        self.services().into_iter().find(|e| e.service.id == *id)
    }

    fn entry(&self, s: &table::Svc, now: Duration) -> Result<ServiceEntry, DecodeError> {
        let service = ServiceAttr::to_service(&table::service_attrs(&self.config, s))?;
        let af = service.id.af();
        let destinations = s
            .dests
            .iter()
            .map(|d| DestAttr::to_destination(&table::dest_attrs(d, now), af))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServiceEntry {
            service,
            destinations,
        })
    }

    /// Set the connections of a destination: `active` and `inactive` ones that never
    /// expire, in place of all it had (timed ones included). Listings report them as the
    /// kernel does, in the destination's [`counters`](crate::Destination::counters)
    /// (`activeconns`, `inactconns`; persistent templates stay 0). `false` (and nothing
    /// changed) when the service or the destination does not exist.
    ///
    /// The mock carries no traffic and schedules nothing: the connections are there because
    /// the test put them there, whatever the destination's weight.
    pub fn set_connections(
        &self,
        service: &ServiceId,
        dest: SocketAddr,
        active: u32,
        inactive: u32,
    ) -> bool {
        self.with_dest(service, dest, |d, _| d.conns.set(active, inactive))
    }

    /// Add one connection to a destination, active for `active_for` from now on the
    /// mock's clock, then inactive (as a closed TCP connection in `TIME_WAIT` or
    /// `FIN_WAIT`) for `inactive_for`, then gone. The clock moves only with
    /// [`advance`](Self::advance). `false` (and nothing changed) when the service or the
    /// destination does not exist.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lvs::transport::MockKernel;
    /// use lvs::{Destination, Ipvs, Service};
    ///
    /// let mock = MockKernel::new();
    /// let mut ipvs = Ipvs::with_transport(mock.clone());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// ipvs.add_service(&svc)?;
    /// ipvs.add_destination(&svc.id, &real)?;
    /// let secs = Duration::from_secs;
    /// assert!(mock.add_connection(&svc.id, real.socket_addr(), secs(10), secs(60)));
    /// let counters = |ipvs: &mut Ipvs<MockKernel>| ipvs.destinations(&svc.id).map(|d| d[0].counters);
    /// assert_eq!(counters(&mut ipvs)?.map(|c| (c.active, c.inactive)), Some((1, 0)));
    /// mock.advance(secs(10));
    /// assert_eq!(counters(&mut ipvs)?.map(|c| (c.active, c.inactive)), Some((0, 1)));
    /// mock.advance(secs(60));
    /// assert_eq!(counters(&mut ipvs)?.map(|c| (c.active, c.inactive)), Some((0, 0)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_connection(
        &self,
        service: &ServiceId,
        dest: SocketAddr,
        active_for: Duration,
        inactive_for: Duration,
    ) -> bool {
        self.with_dest(service, dest, |d, now| {
            d.conns.add(now, active_for, inactive_for)
        })
    }

    /// Move the mock's clock on by `by`: timed connections (see
    /// [`add_connection`](Self::add_connection)) go inactive and expire, and deleted
    /// destinations whose last connection expired leave the trash. Every clone sees the
    /// same clock.
    pub fn advance(&self, by: Duration) {
        self.state().advance(by);
    }

    /// The mock's clock: the sum of every [`advance`](Self::advance) so far.
    pub fn now(&self) -> Duration {
        self.state().now
    }

    /// How many deleted destinations the kernel still keeps, with their connections, in
    /// its trash list. The kernel keeps a destination deleted (alone or with its service,
    /// or by a flush) while connections still point to it: no listing shows it, and adding
    /// the same destination again to a service of the same identity brings it back with
    /// its connections. The mock keeps one there until its last connection expires (the
    /// kernel frees it a little later, which no reply can tell apart).
    pub fn trash_len(&self) -> usize {
        self.state().trash.len()
    }

    /// Run `f` on the destination `dest` of `service`, with the clock; whether it exists.
    fn with_dest(
        &self,
        service: &ServiceId,
        dest: SocketAddr,
        f: impl FnOnce(&mut table::Dest, Duration),
    ) -> bool {
        let ids = ServiceAttr::from_id(service);
        let Ok(u) = parse::parse_service(Some(&ids), false, self.config.ipv6) else {
            return false;
        };
        let (af, addr) = match dest.ip() {
            std::net::IpAddr::V4(ip) => {
                let mut a = [0u8; 16];
                a[..4].copy_from_slice(&ip.octets());
                (addr::AF_INET, a)
            }
            std::net::IpAddr::V6(ip) => (addr::AF_INET6, ip.octets()),
        };
        let mut table = self.state();
        let now = table.now;
        match table.dest_mut(&u, af, addr, dest.port()) {
            Some(d) => {
                f(d, now);
                true
            }
            None => false,
        }
    }

    /// The connection timeouts.
    pub fn timeouts(&self) -> Timeouts {
        let [tcp, tcp_fin, udp] = self.state().timeouts;
        Timeouts { tcp, tcp_fin, udp }
    }

    /// The running sync daemons (master first), with the defaults the kernel filled in.
    pub fn daemons(&self) -> Vec<Daemon> {
        self.state()
            .dump_daemons()
            .iter()
            .filter_map(|m| m.daemon().ok())
            .collect()
    }

    /// What `GET_INFO` reports.
    pub fn info(&self) -> Info {
        Info {
            version: Version(self.config.version),
            conn_table_size: self.conn_table_size(),
        }
    }

    /// The connection table size `GET_INFO` reports: 0 on 7.x before the namespace's first
    /// service or sync daemon, which allocate the table.
    fn conn_table_size(&self) -> u32 {
        if self.config.conn_tab_lazy && !self.state().enabled {
            0
        } else {
            self.config.conn_tab_size
        }
    }

    /// What the modelled kernel supports: its profile (see [`MockKernelBuilder::kernel`]) with
    /// the options given to the builder. This is what
    /// [`Ipvs::capabilities`](crate::Ipvs::capabilities) returns on the mock.
    pub fn capabilities(&self) -> Capabilities {
        let cfg = &self.config;
        let mut caps = Capabilities::expected(cfg.kernel.unwrap_or(KernelVersion::new(6, 12, 95)));
        caps.kernel = cfg.kernel;
        caps.schedulers = cfg
            .schedulers
            .iter()
            .filter_map(|name| name.parse::<Scheduler>().ok())
            .collect();
        caps.persistence_engines = cfg.persistence_engines.clone();
        caps.ipv6 = cfg.ipv6;
        caps.max_upper_threshold = cfg.max_upper_threshold;
        caps.network_broadcast_routes = cfg.network_broadcast_routes;
        caps.conn_table = ConnTable {
            size: cfg.conn_tab_size,
            resizable: cfg.conn_tab_resizable,
            allocated_on_first_use: cfg.conn_tab_lazy,
        };
        caps
    }

    /// Answer one request: framed and parsed back as the kernel would receive it, then
    /// dispatched as `ip_vs_ctl.c` does.
    fn answer(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        let dump = kind == RequestKind::Dump;
        let bytes = wire::frame_request(msg.clone(), FAMILY_ID, 1, dump);
        let Ok(nl) = wire::parse_netlink(&bytes) else {
            return Err(Errno::EINVAL.into_error());
        };
        let dump = nl.header.flags & NLM_F_DUMP == NLM_F_DUMP;
        let NetlinkPayload::InnerMessage(genl) = nl.payload else {
            return Err(Errno::EINVAL.into_error());
        };
        let req = genl.payload;
        let replies = self
            .dispatch(req.cmd, dump, &req.attrs)
            .map_err(Errno::into_error)?;
        replies.iter().map(roundtrip_reply).collect()
    }

    fn dispatch(
        &self,
        cmd: IpvsCmd,
        dump: bool,
        attrs: &[IpvsAttr],
    ) -> Result<Vec<IpvsMessage>, Errno> {
        let conn_table_size = self.conn_table_size();
        let cfg = &self.config;
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if dump {
            return match cmd {
                IpvsCmd::GetService => Ok(table
                    .ordered(cfg)
                    .into_iter()
                    .map(|s| table::service_reply(cfg, s))
                    .collect()),
                IpvsCmd::GetDest => Ok(table.dump_dests(cfg, attrs)),
                IpvsCmd::GetDaemon => Ok(table.dump_daemons()),
                _ => Err(Errno::EOPNOTSUPP),
            };
        }
        match cmd {
            IpvsCmd::NewService
            | IpvsCmd::SetService
            | IpvsCmd::DelService
            | IpvsCmd::NewDest
            | IpvsCmd::SetDest
            | IpvsCmd::DelDest
            | IpvsCmd::SetConfig
            | IpvsCmd::Zero
            | IpvsCmd::Flush => table.set_cmd(cfg, cmd, attrs).map(|()| Vec::new()),
            IpvsCmd::NewDaemon | IpvsCmd::DelDaemon => {
                table.set_daemon(cfg, cmd, attrs).map(|()| Vec::new())
            }
            IpvsCmd::GetService => Ok(vec![table.get_service(cfg, attrs)?]),
            IpvsCmd::GetConfig => Ok(vec![table.timeouts_reply()]),
            IpvsCmd::GetInfo => Ok(vec![table::reply(
                IpvsCmd::SetInfo,
                vec![
                    IpvsAttr::InfoVersion(cfg.version),
                    IpvsAttr::InfoConnTabSize(conn_table_size),
                ],
            )]),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }
}

/// The generic netlink family id the mock frames requests with (any value would do).
const FAMILY_ID: u16 = 0x20;

/// A reply as the client receives it: emitted to bytes and decoded, like the kernel's.
fn roundtrip_reply(msg: &IpvsMessage) -> Result<IpvsMessage> {
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.emit(&mut buf);
    Ok(IpvsMessage::decode(msg.cmd.into(), &buf)?)
}

impl Transport for MockKernel {
    fn capabilities(&mut self) -> Result<Capabilities> {
        Ok(MockKernel::capabilities(self))
    }

    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        self.answer(msg, kind).map_err(|e| {
            // The mock knows which modules its kernel has: its profile.
            let has = |m: &str| {
                let cfg = &self.config;
                m.strip_prefix("ip_vs_pe_").map_or_else(
                    || {
                        m.strip_prefix("ip_vs_")
                            .is_some_and(|s| cfg.schedulers.iter().any(|x| x == s))
                    },
                    |p| cfg.persistence_engines.iter().any(|x| x == p),
                )
            };
            super::name_missing_module(msg, e, &has)
        })
    }
}
