//! Layer 4: the client. [`Ipvs`] is the handle users call: services, destinations, the whole
//! table, flush, zero, timeouts, info and sync daemons, over any [`Transport`].
//!
//! Every write is validated before it is sent, so a value the kernel or ipvsadm would reject
//! never reaches the kernel; kernel refusals come back as named [`Error`] cases that carry the
//! errno, the operation and the object.

#[cfg(feature = "tokio")]
mod asynch;
mod batch;
mod call;
pub mod drain;
mod pipeline;
mod reconcile;
mod reconciler;
mod signals;
mod snapshot;
mod transaction;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use asynch::AsyncIpvs;
pub use batch::{BatchOutcome, Op};
pub use drain::{
    DeleteReason, DrainPolicy, DrainProgress, DrainState, DrainStep, DrainTarget, DrainWait,
    Drainer, ProtocolDrain,
};
pub use reconcile::{plan, plan_draining, ReconcileOptions, ReconcileReport};
pub use reconciler::{Reconciler, ReconcilerReport};
pub use signals::DeferredSignals;
pub use snapshot::{DestState, RateReport, StatsSnapshot};
pub use transaction::{
    NotRestored, RollbackReport, Transaction, TransactionOptions, TRANSACTION_CHUNK,
};

/// Re-exported from [`crate::model`], where it lives (the text formats and the mock use it too).
pub use crate::model::ServiceEntry;

use std::net::SocketAddr;
use std::path::Path;

use crate::error::{Error, KernelContext, MissingModule, Operation, Result};
use crate::model::{Daemon, DaemonState, Destination, Info, Service, ServiceId, Timeouts};
use crate::transport::{KernelTransport, Transport};

/// A handle on one network namespace's IPVS table.
///
/// ```no_run
/// use lvs::{Destination, Ipvs, Scheduler, Service};
/// let mut ipvs = Ipvs::new()?;
/// let svc = Service::tcp("192.168.2.1:80".parse()?).scheduler(Scheduler::Rr).build()?;
/// ipvs.add_service(&svc)?;
/// let rs = Destination::builder("192.168.2.2:80".parse()?).masquerade().build_for(&svc.id)?;
/// ipvs.add_destination(&svc.id, &rs)?;
/// for entry in ipvs.table()? {
///     println!("{} -> {} destinations", entry.service, entry.destinations.len());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Ipvs<T: Transport = KernelTransport> {
    transport: T,
    /// A second transport for reading large tables in parallel, opened on first use.
    sibling: Option<Box<dyn Transport>>,
    /// Whether large reads and batches may use a second thread.
    parallel: bool,
    /// Whether reads decode the stats.
    read_stats: bool,
}

impl<T: Transport + std::fmt::Debug> std::fmt::Debug for Ipvs<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ipvs")
            .field("transport", &self.transport)
            .field("sibling", &self.sibling.is_some())
            .field("parallel", &self.parallel)
            .field("read_stats", &self.read_stats)
            .finish()
    }
}

/// From this many services on, [`Ipvs::table`] reads destinations on two transports.
const PARALLEL_TABLE_MIN: usize = 64;

/// How many services' destinations [`Ipvs::for_each_entry`] reads at a time on each
/// transport.
const WALK_CHUNK: usize = 32;

impl Ipvs<KernelTransport> {
    /// A handle on the caller's network namespace, through the kernel.
    pub fn new() -> Result<Ipvs<KernelTransport>> {
        Ok(Ipvs::with_transport(KernelTransport::open()?))
    }

    /// A handle on the network namespace named `name` (under `/run/netns`). The calling
    /// thread stays in its own namespace.
    pub fn in_netns(name: &str) -> Result<Ipvs<KernelTransport>> {
        Ok(Ipvs::with_transport(
            KernelTransport::builder().netns_name(name).open()?,
        ))
    }

    /// A handle on the network namespace at `path` (for example `/proc/PID/ns/net`).
    pub fn in_netns_path(path: impl AsRef<Path>) -> Result<Ipvs<KernelTransport>> {
        Ok(Ipvs::with_transport(
            KernelTransport::builder()
                .netns_path(path.as_ref())
                .open()?,
        ))
    }
}

/// The destinations of one service, on `t` (a missing service has none).
fn destinations_on<T: Transport + ?Sized>(
    t: &mut T,
    id: &ServiceId,
    stats: bool,
) -> Result<Vec<Destination>> {
    let mut dump = call::DestDump::new(id, stats);
    let msg = dump.message();
    let r = t.dump_each(&msg, &mut |_, attrs| dump.push(attrs));
    dump.finish(r)
}

/// Each of `services` with its destinations read on `t`, through `f`, in order.
fn map_entries<T: Transport + ?Sized, R>(
    t: &mut T,
    services: Vec<Service>,
    f: &impl Fn(ServiceEntry) -> R,
    stats: bool,
) -> Result<Vec<R>> {
    services
        .into_iter()
        .map(|service| {
            let destinations = destinations_on(t, &service.id, stats)?;
            Ok(f(ServiceEntry {
                service,
                destinations,
            }))
        })
        .collect()
}

/// The destinations of each service of `ids`, in order, on `t`.
fn destinations_of_ids<T: Transport + ?Sized>(
    t: &mut T,
    ids: &[ServiceId],
    stats: bool,
) -> Result<Vec<Vec<Destination>>> {
    ids.iter().map(|id| destinations_on(t, id, stats)).collect()
}

impl<T: Transport> Ipvs<T> {
    /// A handle over this transport (the kernel, or a mock in tests).
    pub fn with_transport(transport: T) -> Ipvs<T> {
        Ipvs {
            transport,
            sibling: None,
            parallel: true,
            read_stats: true,
        }
    }

    /// Whether large reads and batches may use a second, scoped thread (default: yes).
    ///
    /// - [`table`](Self::table) reads a large table (64 services or more) on two
    ///   transports at once; the second one ([`Transport::sibling`]) is opened by the first
    ///   table read, whatever its size (the size is known only as the services come in),
    ///   and kept. With a backend that has none, everything is read on this handle's
    ///   transport.
    /// - [`apply`](Self::apply) hands a batch to [`Transport::request_batch_with`]: the
    ///   kernel transport builds the requests of a large batch (of
    ///   [`PIPELINE_MIN`](crate::transport::PIPELINE_MIN) operations or more)
    ///   on a second thread while this one sends them and reads the answers.
    ///
    /// Off, everything runs in the calling thread.
    pub fn set_parallel(&mut self, on: bool) {
        self.parallel = on;
        if !on {
            self.sibling = None;
        }
    }

    /// Whether reads of the table decode the traffic statistics (default: yes).
    ///
    /// Off, [`services`](Self::services), [`destinations`](Self::destinations),
    /// [`table`](Self::table), [`table_map`](Self::table_map),
    /// [`for_each_entry`](Self::for_each_entry) and [`table_settled`](Self::table_settled)
    /// return every service and destination with `stats: None`, and everything else as
    /// before, connection counters included ([`stats_snapshot`](Self::stats_snapshot)
    /// still reads them). The kernel still sends the statistics; they
    /// are not decoded, which is a good part of the decoding work of a large table, for
    /// callers that read only the configuration or the counters (`ipvsadm -S`, a listing
    /// without `--stats` or `--rate`, a check of what is configured).
    /// [`get_service`](Self::get_service) always decodes them.
    pub fn set_read_stats(&mut self, on: bool) {
        self.read_stats = on;
    }

    /// This handle's transport and the second one, for reading `services` services' worth
    /// of destinations in parallel; `None` when that is off, not worth it, or impossible.
    #[allow(clippy::type_complexity)]
    fn split(&mut self, services: usize) -> Option<(&mut T, &mut Box<dyn Transport>)> {
        if !self.parallel || services < PARALLEL_TABLE_MIN {
            return None;
        }
        if self.sibling.is_none() {
            self.sibling = self.transport.sibling();
        }
        let other = self.sibling.as_mut()?;
        Some((&mut self.transport, other))
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Unwrap the transport.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Send one call and finish it (name its error, decode its replies).
    fn run<R>(&mut self, call: call::Call<R>) -> Result<R> {
        let answer = self.transport.request(&call.msg, call.kind);
        call.finish(answer)
    }

    /// Add a service (`ipvsadm -A`).
    pub fn add_service(&mut self, svc: &Service) -> Result<()> {
        self.run(call::add_service(svc)?)
    }

    /// Edit a service (`ipvsadm -E`): scheduler, flags, persistence and engine are replaced.
    pub fn update_service(&mut self, svc: &Service) -> Result<()> {
        self.run(call::update_service(svc)?)
    }

    /// Delete a service and its destinations (`ipvsadm -D`).
    pub fn delete_service(&mut self, id: &ServiceId) -> Result<()> {
        self.run(call::delete_service(id))
    }

    /// Read one service, with its stats.
    pub fn get_service(&mut self, id: &ServiceId) -> Result<Service> {
        self.run(call::get_service(id))
    }

    /// Every service, in the kernel's order, with stats (unless
    /// [`set_read_stats(false)`](Self::set_read_stats)).
    pub fn services(&mut self) -> Result<Vec<Service>> {
        let mut dump = call::ServiceDump::new(self.read_stats);
        let r = self
            .transport
            .dump_each(&call::ServiceDump::message(), &mut |_, attrs| {
                dump.push(attrs)
            });
        dump.finish(r)
    }

    /// Add a destination to a service (`ipvsadm -a`).
    pub fn add_destination(&mut self, id: &ServiceId, dest: &Destination) -> Result<()> {
        self.run(call::add_destination(id, dest)?)
    }

    /// Edit a destination (`ipvsadm -e`): forwarding, weight and thresholds are replaced.
    pub fn update_destination(&mut self, id: &ServiceId, dest: &Destination) -> Result<()> {
        self.run(call::update_destination(id, dest)?)
    }

    /// Delete a destination (`ipvsadm -d`).
    pub fn delete_destination(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<()> {
        self.run(call::delete_destination(id, addr))
    }

    /// The destinations of a service, with counters and stats (unless
    /// [`set_read_stats(false)`](Self::set_read_stats)).
    ///
    /// A missing service is [`Error::NoSuchService`]: the kernel lists a missing service's
    /// destinations as none, so an empty list is checked with one more request (a
    /// mistyped id must not read as a service without destinations).
    pub fn destinations(&mut self, id: &ServiceId) -> Result<Vec<Destination>> {
        let dests = destinations_on(&mut self.transport, id, self.read_stats)?;
        if dests.is_empty() {
            self.get_service(id)?;
        }
        Ok(dests)
    }

    /// Set one destination's weight, keeping its forwarding method, thresholds and tunnel
    /// options as the kernel holds them (a fresh [`Destination::builder`] would reset them).
    /// Returns the weight it had. Two requests: the service's destinations are read, then
    /// the one destination is updated. [`Error::NoSuchDestination`] if it is not there.
    ///
    /// The weight goes as it is: the kernel takes up to `i32::MAX`, as ipvsadm does.
    pub fn set_weight(&mut self, id: &ServiceId, addr: SocketAddr, weight: u32) -> Result<u32> {
        let mut dest = self.destination(id, addr)?;
        let old = std::mem::replace(&mut dest.weight, weight);
        if old != weight {
            self.run(call::update_destination_raw(id, &dest))?;
        }
        Ok(old)
    }

    /// Quiesce a destination: weight 0, so it takes no new connections while its current
    /// ones finish (the LVS way to drain a real server). Returns the weight to give back to
    /// [`restore_weight`](Self::restore_weight).
    pub fn quiesce(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<u32> {
        self.set_weight(id, addr, 0)
    }

    /// Give a quiesced destination its weight back (what [`quiesce`](Self::quiesce) returned).
    pub fn restore_weight(&mut self, id: &ServiceId, addr: SocketAddr, weight: u32) -> Result<()> {
        self.set_weight(id, addr, weight).map(drop)
    }

    /// One destination of a service, as the kernel holds it.
    pub fn destination(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<Destination> {
        self.destinations(id)?
            .into_iter()
            .find(|d| d.socket_addr() == addr)
            .ok_or_else(|| no_such_destination(id, addr))
    }

    /// The whole table: every service with its destinations (one service dump, then one
    /// destination dump per service).
    ///
    /// IPVS answers one destination dump per service, so a large table costs as many
    /// round trips. From the 64th service the service dump returns, destinations are read
    /// on a second transport from a scoped thread while the service dump goes on; once it
    /// has ended, this thread reads destinations too (see
    /// [`set_parallel`](Self::set_parallel)). The result is the same, in the kernel's
    /// order.
    pub fn table(&mut self) -> Result<Vec<ServiceEntry>> {
        self.table_map(|e| e)
    }

    /// The whole table, each service with its destinations handed to `f` as soon as they
    /// are read, on the thread that read them; `f`'s results in the kernel's order.
    ///
    /// [`table`](Self::table) is `table_map(|e| e)`. For callers with work to do per
    /// service (formatting it, converting it to their own types, checking it), this does
    /// that work while the table is read: from 64 services on, the two threads that read
    /// destinations (see [`table`](Self::table)) take a few services at a time and run `f`
    /// on each, so the work overlaps the kernel's (which serialises the dumps themselves).
    /// `f` runs on two threads at once, hence `Sync`; with
    /// [`set_parallel(false)`](Self::set_parallel) or a small table, only on the calling
    /// thread.
    ///
    /// ```no_run
    /// # fn main() -> lvs::Result<()> {
    /// let mut ipvs = lvs::Ipvs::new()?;
    /// // Each service's weight total, computed as the table is read.
    /// let totals: Vec<(lvs::ServiceId, u32)> = ipvs.table_map(|e| {
    ///     (e.service.id, e.destinations.iter().map(|d| d.weight).sum())
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn table_map<R, F>(&mut self, f: F) -> Result<Vec<R>>
    where
        R: Send,
        F: Fn(ServiceEntry) -> R + Sync,
    {
        let stats = self.read_stats;
        // The table's size is known only as the services come in: the second transport is
        // made ready whatever it is (the pipeline starts it from the 64th service).
        let read = match self.split(PARALLEL_TABLE_MIN) {
            Some((transport, other)) => pipeline::table_map(transport, &mut **other, &f, stats),
            None => {
                let services = self.services()?;
                return map_entries(&mut self.transport, services, &f, stats);
            }
        };
        read.map_err(|(e, other_failed)| {
            if other_failed {
                // A transport that failed may hold unread replies: start afresh.
                self.sibling = None;
            }
            e
        })
    }

    /// One service with its destinations (`ipvsadm -L -t ...`): two requests.
    pub fn service_entry(&mut self, id: &ServiceId) -> Result<ServiceEntry> {
        let service = self.get_service(id)?;
        let destinations = self.destinations(id)?;
        Ok(ServiceEntry {
            service,
            destinations,
        })
    }

    /// The whole table, read until two reads in a row agree, for callers that need a
    /// consistent picture while other processes may be changing the table.
    ///
    /// A dump is index-based and IPVS does not flag a dump the table changed under: when a
    /// service is deleted during a read, a service that did not change can be missed by that
    /// read (a repeated one is dropped by [`table`](Self::table) already). This reads the
    /// table up to `reads` times (at least 2) and returns the last read once it agrees with
    /// the one before in configuration (services and destinations, not counters or stats);
    /// if the table never holds still that long, [`Error::TableChanging`].
    pub fn table_settled(&mut self, reads: usize) -> Result<Vec<ServiceEntry>> {
        let mut prev = self.table()?;
        for _ in 1..reads.max(2) {
            let next = self.table()?;
            if same_tables(&prev, &next) {
                return Ok(next);
            }
            prev = next;
        }
        Err(Error::TableChanging {
            reads: reads.max(2),
        })
    }

    /// The whole table, one service at a time, without holding it all in memory: `f` gets
    /// each service with its destinations, in the kernel's order, as soon as they are read;
    /// an error from `f` stops the walk and is returned.
    ///
    /// Services are read first (one dump), then each one's destinations; a service deleted
    /// in between shows with no destinations.
    ///
    /// From 64 services on, destinations are read on two transports as
    /// [`table`](Self::table) does, alternately a few services at a time: at most a few
    /// dozen services' destinations wait for `f`.
    pub fn for_each_entry<F>(&mut self, mut f: F) -> Result<()>
    where
        F: FnMut(ServiceEntry) -> Result<()>,
    {
        let services = self.services()?;
        let stats = self.read_stats;
        let Some((transport, other)) = self.split(services.len()) else {
            for service in services {
                let destinations = destinations_on(&mut self.transport, &service.id, stats)?;
                f(ServiceEntry {
                    service,
                    destinations,
                })?;
            }
            return Ok(());
        };
        let ids: Vec<ServiceId> = services.iter().map(|s| s.id).collect();
        let chunks = ids.len().div_ceil(WALK_CHUNK);
        let part = |k: usize| &ids[k * WALK_CHUNK..((k + 1) * WALK_CHUNK).min(ids.len())];
        let r = std::thread::scope(|s| -> Result<()> {
            // The second transport reads the odd chunks, at most one ahead of `f`.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<Vec<Destination>>>>(1);
            s.spawn(move || {
                for k in (1..chunks).step_by(2) {
                    let r = destinations_of_ids(&mut **other, part(k), stats);
                    let failed = r.is_err();
                    // A closed channel: the walk stopped.
                    if tx.send(r).is_err() || failed {
                        break;
                    }
                }
            });
            let mut services = services.into_iter();
            for k in 0..chunks {
                let dests = if k % 2 == 0 {
                    destinations_of_ids(transport, part(k), stats)?
                } else {
                    // A closed channel here means the reader panicked; the scope re-raises it.
                    rx.recv().map_err(|_| Error::Protocol {
                        operation: crate::error::Operation::Other,
                        reason: "the second reader stopped".into(),
                    })??
                };
                // `dests` first: zip stops on it without taking a service too many.
                for (destinations, service) in dests.into_iter().zip(services.by_ref()) {
                    f(ServiceEntry {
                        service,
                        destinations,
                    })?;
                }
            }
            Ok(())
        });
        if r.is_err() {
            // The second transport may have failed: start afresh next time.
            self.sibling = None;
        }
        r
    }

    /// The stats of every service and destination, read now (one table walk); see
    /// [`StatsSnapshot`] for rates between two snapshots. The stats are read whatever
    /// [`set_read_stats`](Self::set_read_stats) says.
    pub fn stats_snapshot(&mut self) -> Result<StatsSnapshot> {
        let stats = std::mem::replace(&mut self.read_stats, true);
        let table = self.table();
        self.read_stats = stats;
        Ok(StatsSnapshot::of(&table?, std::time::Instant::now()))
    }

    /// Delete every service (`ipvsadm -C`).
    pub fn flush(&mut self) -> Result<()> {
        self.run(call::flush())
    }

    /// Zero the counters of every service (`ipvsadm -Z`).
    pub fn zero_all(&mut self) -> Result<()> {
        self.run(call::zero(None))
    }

    /// Zero the counters of one service (`ipvsadm -Z -t ...`).
    pub fn zero_service(&mut self, id: &ServiceId) -> Result<()> {
        self.run(call::zero(Some(id)))
    }

    /// The connection timeouts (`ipvsadm -L --timeout`).
    pub fn timeouts(&mut self) -> Result<Timeouts> {
        self.run(call::timeouts())
    }

    /// Set the connection timeouts (`ipvsadm --set`); a 0 leaves that timeout unchanged.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<()> {
        self.run(call::set_timeouts(t))
    }

    /// The IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info> {
        self.run(call::info())
    }

    /// What the kernel supports, so that a control plane can adapt to it without parsing
    /// `uname`: schedulers, tunnel encapsulations, mixed-family destinations, the upper
    /// threshold range, the connection table, ... ([`Capabilities`](crate::Capabilities)).
    /// On the kernel backend it is probed (without touching this handle's table); on the
    /// mock it is the mock's profile.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::{transport::MockKernel, Ipvs, Scheduler};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::builder().linux_6_1().build());
    /// let caps = ipvs.capabilities()?;
    /// let scheduler = if caps.has_scheduler(&Scheduler::Twos) { Scheduler::Twos } else { Scheduler::Wlc };
    /// assert_eq!(scheduler, Scheduler::Wlc);
    /// # }
    /// # Ok::<(), lvs::Error>(())
    /// ```
    pub fn capabilities(&mut self) -> Result<crate::Capabilities> {
        self.transport.capabilities()
    }

    /// Start a connection sync daemon (`ipvsadm --start-daemon`).
    pub fn start_daemon(&mut self, d: &Daemon) -> Result<()> {
        self.run(call::start_daemon(d)?)
    }

    /// Stop the sync daemon of this state (`ipvsadm --stop-daemon`).
    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<()> {
        self.run(call::stop_daemon(state))
    }

    /// The running sync daemons (`ipvsadm -L --daemon`).
    pub fn daemons(&mut self) -> Result<Vec<Daemon>> {
        self.run(call::daemons())
    }
}

/// What an ENOENT on a service write could be about.
struct ErrCtx {
    scheduler: Option<String>,
    pe: Option<String>,
}

impl ErrCtx {
    const NONE: ErrCtx = ErrCtx {
        scheduler: None,
        pe: None,
    };

    fn service(svc: &Service) -> ErrCtx {
        ErrCtx {
            scheduler: Some(svc.scheduler.name().to_owned()),
            pe: svc.pe.as_ref().map(|p| p.name().to_owned()),
        }
    }

    /// The kernel looks the scheduler up before the persistence engine, and both answer
    /// ENOENT: the transport that knows the kernel's modules named the missing one
    /// ([`KernelContext::missing`]). A transport that could not tell leaves it out: then it
    /// is the scheduler, unless the service has the scheduler `none` (nothing to look up)
    /// and an engine.
    fn enoent_is_pe(&self, kc: &KernelContext) -> bool {
        match &kc.missing {
            Some(MissingModule::PersistenceEngine(_)) => true,
            Some(_) => false,
            None => self.scheduler.as_deref() == Some("none") && self.pe.is_some(),
        }
    }
}

/// A destination not in its service's list, named as the kernel names a missing one.
fn no_such_destination(id: &ServiceId, addr: SocketAddr) -> Error {
    Error::NoSuchDestination(KernelContext::new(
        libc::ENOENT,
        Operation::GetDestinations,
        format!("{id} -> {addr}"),
    ))
}

/// Whether two reads of the table agree in configuration, in any order (on Linux 7.0 and
/// later the dump order follows a hash table the kernel resizes in the background).
pub(crate) fn same_tables(a: &[ServiceEntry], b: &[ServiceEntry]) -> bool {
    crate::model::same_config(a, b)
}

/// Name the case of a kernel refusal from the operation that got it.
fn classify(e: Error, op: Operation, object: impl FnOnce() -> String, ctx: &ErrCtx) -> Error {
    let (errno, missing) = match e {
        Error::Kernel(k) => (k.errno, k.missing),
        Error::Timeout { .. } => return Error::Timeout { operation: op },
        Error::Protocol { reason, .. } => {
            return Error::Protocol {
                operation: op,
                reason,
            }
        }
        other => return other,
    };
    let kc = KernelContext {
        errno,
        operation: op,
        object: object(),
        missing,
    };
    use Operation::*;
    match (errno, op) {
        (libc::EPERM | libc::EACCES, _) => Error::PermissionDenied(kc),
        (libc::EEXIST, AddService) => Error::ServiceExists(kc),
        (libc::EEXIST, AddDestination) => Error::DestinationExists(kc),
        (libc::EEXIST, StartDaemon) => Error::DaemonExists(kc),
        (libc::ESRCH, StopDaemon) => Error::NoSuchDaemon(kc),
        (libc::ESRCH, _) => Error::NoSuchService(kc),
        (libc::ENOENT, UpdateDestination | DeleteDestination) => Error::NoSuchDestination(kc),
        (libc::ENOENT, AddService | UpdateService) if ctx.enoent_is_pe(&kc) => {
            Error::PersistenceEngineNotFound(kc)
        }
        (libc::ENOENT, AddService | UpdateService) => Error::SchedulerNotFound(kc),
        (libc::ERANGE, _) => Error::OutOfRange(kc),
        (libc::EINVAL, _) => Error::InvalidRequest(kc),
        (libc::EAFNOSUPPORT, _) => Error::AddressFamilyNotSupported(kc),
        _ => Error::Kernel(kc),
    }
}
