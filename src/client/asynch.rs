//! The async handle (feature `tokio`): [`AsyncIpvs`], the same operations as the blocking
//! [`Ipvs`](super::Ipvs), over an [`AsyncTransport`]. Validation, request messages, error
//! naming and reply decoding are shared with the blocking handle (one implementation of
//! each); only the waiting differs.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use super::batch::{self, BatchOutcome, Op};
use super::drain::{DrainStep, Drainer};
use super::reconcile::{plan, plan_draining, start_drains, ReconcileOptions, ReconcileReport};
use super::transaction::{rolled_back, NotRestored, RollbackReport, TransactionOptions, UndoLog};
use super::{call, ServiceEntry, StatsSnapshot};
use crate::error::{Error, Result};
use crate::model::{Daemon, DaemonState, Destination, Info, Service, ServiceId, Timeouts};
use crate::transport::{AsyncTransport, TokioTransport};
use crate::wire::IpvsMessage;

/// An async handle on one network namespace's IPVS table, for tokio-based control planes.
///
/// Every method of the blocking [`Ipvs`](super::Ipvs) is here, `async`, with the same
/// arguments, checks and errors. The futures are `Send`.
///
/// ```no_run
/// use lvs::{AsyncIpvs, Destination, Scheduler, Service};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut ipvs = AsyncIpvs::new().await?;
/// let svc = Service::tcp("192.168.2.1:80".parse()?).scheduler(Scheduler::Rr).build()?;
/// ipvs.add_service(&svc).await?;
/// let rs = Destination::builder("192.168.2.2:80".parse()?).masquerade().build_for(&svc.id)?;
/// ipvs.add_destination(&svc.id, &rs).await?;
/// for entry in ipvs.table().await? {
///     println!("{} -> {} destinations", entry.service, entry.destinations.len());
/// }
/// # Ok(())
/// # }
/// ```
///
/// The mock kernel works here too (its futures are ready at once):
///
/// ```
/// # #[cfg(feature = "mock")] {
/// use lvs::transport::MockKernel;
/// use lvs::{AsyncIpvs, Service};
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let mut ipvs = AsyncIpvs::with_transport(MockKernel::new());
///     let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
///     ipvs.add_service(&svc).await?;
///     assert!(matches!(ipvs.add_service(&svc).await, Err(lvs::Error::ServiceExists(_))));
///     assert_eq!(ipvs.services().await?.len(), 1);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AsyncIpvs<T: AsyncTransport = TokioTransport> {
    transport: T,
}

impl AsyncIpvs<TokioTransport> {
    /// A handle on the caller's network namespace, through the kernel. Call it from a tokio
    /// runtime with I/O and time enabled.
    pub async fn new() -> Result<AsyncIpvs<TokioTransport>> {
        Ok(AsyncIpvs::with_transport(TokioTransport::open().await?))
    }

    /// A handle on the network namespace named `name` (under `/run/netns`). No thread of the
    /// runtime changes namespace.
    pub async fn in_netns(name: &str) -> Result<AsyncIpvs<TokioTransport>> {
        Ok(AsyncIpvs::with_transport(
            TokioTransport::builder().netns_name(name).open().await?,
        ))
    }

    /// A handle on the network namespace at `path` (for example `/proc/PID/ns/net`).
    pub async fn in_netns_path(path: impl AsRef<Path>) -> Result<AsyncIpvs<TokioTransport>> {
        Ok(AsyncIpvs::with_transport(
            TokioTransport::builder()
                .netns_path(path.as_ref())
                .open()
                .await?,
        ))
    }
}

impl<T: AsyncTransport> AsyncIpvs<T> {
    /// A handle over this transport (the kernel, or a mock in tests).
    pub fn with_transport(transport: T) -> AsyncIpvs<T> {
        AsyncIpvs { transport }
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Unwrap the transport.
    pub fn into_transport(self) -> T {
        self.transport
    }

    async fn run<R>(&mut self, call: call::Call<R>) -> Result<R> {
        let answer = self.transport.request(&call.msg, call.kind).await;
        call.finish(answer)
    }

    /// Add a service (`ipvsadm -A`).
    pub async fn add_service(&mut self, svc: &Service) -> Result<()> {
        self.run(call::add_service(svc)?).await
    }

    /// Edit a service (`ipvsadm -E`).
    pub async fn update_service(&mut self, svc: &Service) -> Result<()> {
        self.run(call::update_service(svc)?).await
    }

    /// Delete a service and its destinations (`ipvsadm -D`).
    pub async fn delete_service(&mut self, id: &ServiceId) -> Result<()> {
        self.run(call::delete_service(id)).await
    }

    /// Read one service, with its stats.
    pub async fn get_service(&mut self, id: &ServiceId) -> Result<Service> {
        self.run(call::get_service(id)).await
    }

    /// Every service, in the kernel's order, with stats.
    pub async fn services(&mut self) -> Result<Vec<Service>> {
        let mut dump = call::ServiceDump::new(true);
        let msg = call::ServiceDump::message();
        let r = self
            .transport
            .dump_each(&msg, &mut |_, attrs| dump.push(attrs))
            .await;
        dump.finish(r)
    }

    /// Add a destination to a service (`ipvsadm -a`).
    pub async fn add_destination(&mut self, id: &ServiceId, dest: &Destination) -> Result<()> {
        self.run(call::add_destination(id, dest)?).await
    }

    /// Edit a destination (`ipvsadm -e`).
    pub async fn update_destination(&mut self, id: &ServiceId, dest: &Destination) -> Result<()> {
        self.run(call::update_destination(id, dest)?).await
    }

    /// Delete a destination (`ipvsadm -d`).
    pub async fn delete_destination(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<()> {
        self.run(call::delete_destination(id, addr)).await
    }

    /// The destinations of a service, with counters and stats (empty for a missing service).
    pub async fn destinations(&mut self, id: &ServiceId) -> Result<Vec<Destination>> {
        let dests = self.destinations_of(id).await?;
        if dests.is_empty() {
            // The kernel lists a missing service's destinations as none: tell them apart.
            self.get_service(id).await?;
        }
        Ok(dests)
    }

    /// The destinations as the kernel lists them (none for a missing service).
    async fn destinations_of(&mut self, id: &ServiceId) -> Result<Vec<Destination>> {
        let mut dump = call::DestDump::new(id, true);
        let msg = dump.message();
        let r = self
            .transport
            .dump_each(&msg, &mut |_, attrs| dump.push(attrs))
            .await;
        dump.finish(r)
    }

    /// The whole table: every service with its destinations.
    pub async fn table(&mut self) -> Result<Vec<ServiceEntry>> {
        let services = self.services().await?;
        let mut out = Vec::with_capacity(services.len());
        for service in services {
            let destinations = self.destinations_of(&service.id).await?;
            out.push(ServiceEntry {
                service,
                destinations,
            });
        }
        Ok(out)
    }

    /// The whole table, read until two reads in a row agree (see
    /// [`Ipvs::table_settled`](super::Ipvs::table_settled)).
    pub async fn table_settled(&mut self, reads: usize) -> Result<Vec<ServiceEntry>> {
        let mut prev = self.table().await?;
        for _ in 1..reads.max(2) {
            let next = self.table().await?;
            if super::same_tables(&prev, &next) {
                return Ok(next);
            }
            prev = next;
        }
        Err(crate::Error::TableChanging {
            reads: reads.max(2),
        })
    }

    /// The whole table, one service at a time (see
    /// [`Ipvs::for_each_entry`](super::Ipvs::for_each_entry)).
    pub async fn for_each_entry<F>(&mut self, mut f: F) -> Result<()>
    where
        F: FnMut(ServiceEntry) -> Result<()> + Send,
    {
        for service in self.services().await? {
            let destinations = self.destinations_of(&service.id).await?;
            f(ServiceEntry {
                service,
                destinations,
            })?;
        }
        Ok(())
    }

    /// The stats of every service and destination, read now.
    pub async fn stats_snapshot(&mut self) -> Result<StatsSnapshot> {
        let table = self.table().await?;
        Ok(StatsSnapshot::of(&table, Instant::now()))
    }

    /// Delete every service (`ipvsadm -C`).
    pub async fn flush(&mut self) -> Result<()> {
        self.run(call::flush()).await
    }

    /// Zero the counters of every service (`ipvsadm -Z`).
    pub async fn zero_all(&mut self) -> Result<()> {
        self.run(call::zero(None)).await
    }

    /// Zero the counters of one service (`ipvsadm -Z -t ...`).
    pub async fn zero_service(&mut self, id: &ServiceId) -> Result<()> {
        self.run(call::zero(Some(id))).await
    }

    /// The connection timeouts (`ipvsadm -L --timeout`).
    pub async fn timeouts(&mut self) -> Result<Timeouts> {
        self.run(call::timeouts()).await
    }

    /// Set the connection timeouts (`ipvsadm --set`); a 0 leaves that timeout unchanged.
    pub async fn set_timeouts(&mut self, t: &Timeouts) -> Result<()> {
        self.run(call::set_timeouts(t)).await
    }

    /// The IPVS version and connection table size.
    pub async fn info(&mut self) -> Result<Info> {
        self.run(call::info()).await
    }

    /// What the running kernel supports ([`Capabilities`](crate::Capabilities)), probed as
    /// [`Ipvs::capabilities`](super::Ipvs::capabilities) does on the kernel backend (the
    /// blocking part of the probe runs on tokio's blocking pool); the connection table is
    /// this handle's.
    pub async fn capabilities(&mut self) -> Result<crate::Capabilities> {
        let size = self.info().await?.conn_table_size;
        tokio::task::spawn_blocking(move || crate::transport::probe::running_kernel(Some(size)))
            .await
            .map_err(|e| crate::Error::Io(std::io::Error::other(e)))
    }

    /// Start a connection sync daemon (`ipvsadm --start-daemon`).
    pub async fn start_daemon(&mut self, d: &Daemon) -> Result<()> {
        self.run(call::start_daemon(d)?).await
    }

    /// Stop the sync daemon of this state (`ipvsadm --stop-daemon`).
    pub async fn stop_daemon(&mut self, state: DaemonState) -> Result<()> {
        self.run(call::stop_daemon(state)).await
    }

    /// The running sync daemons (`ipvsadm -L --daemon`).
    pub async fn daemons(&mut self) -> Result<Vec<Daemon>> {
        self.run(call::daemons()).await
    }

    /// Apply many operations as one batch and report each one's result (see
    /// [`Ipvs::apply`](super::Ipvs::apply)).
    pub async fn apply(&mut self, ops: &[Op]) -> Result<BatchOutcome> {
        let messages = batch::prepare(ops)?;
        let replies = self.transport.request_batch(&messages).await;
        batch::outcome(ops, replies)
    }

    /// A batch without validation (the drains' writes, built from what the kernel holds).
    async fn apply_unvalidated(&mut self, ops: &[Op]) -> Result<BatchOutcome> {
        let messages: Vec<IpvsMessage> = ops.iter().map(IpvsMessage::from).collect();
        let replies = self.transport.request_batch(&messages).await;
        batch::outcome(ops, replies)
    }

    /// One step of every drain of `drainer`, now (see
    /// [`Ipvs::drain_step`](super::Ipvs::drain_step)).
    pub async fn drain_step(&mut self, drainer: &mut Drainer) -> Result<DrainStep> {
        self.drain_step_at(drainer, Instant::now()).await
    }

    /// One step of every drain of `drainer` at `now`: the services involved read, one batch
    /// of writes (see [`Ipvs::drain_step_at`](super::Ipvs::drain_step_at)).
    pub async fn drain_step_at(
        &mut self,
        drainer: &mut Drainer,
        now: Instant,
    ) -> Result<DrainStep> {
        let mut read: Vec<(ServiceId, Option<Vec<Destination>>)> = Vec::new();
        for id in drainer.services() {
            let dests = match self.destinations(&id).await {
                Ok(d) => Some(d),
                Err(Error::NoSuchService(_)) => None,
                Err(e) => return Err(e),
            };
            read.push((id, dests));
        }
        let ops = drainer.plan(now, |id| {
            read.iter()
                .find(|(i, _)| i == id)
                .and_then(|(_, d)| d.as_deref())
        });
        if ops.is_empty() {
            return Ok(DrainStep::default());
        }
        match self.apply_unvalidated(&ops).await {
            Ok(outcome) => {
                drainer.record(&outcome.results);
                Ok(DrainStep { ops, outcome })
            }
            Err(e) => {
                drainer.record_failure(&e);
                Err(e)
            }
        }
    }

    /// Reconcile, draining what is no longer wanted, now (see
    /// [`Ipvs::reconcile_draining`](super::Ipvs::reconcile_draining)).
    pub async fn reconcile_draining(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
        drainer: &mut Drainer,
    ) -> Result<ReconcileReport> {
        self.reconcile_draining_at(desired, opts, drainer, Instant::now())
            .await
    }

    /// Reconcile at `now`, draining what is no longer wanted (see
    /// [`Ipvs::reconcile_draining_at`](super::Ipvs::reconcile_draining_at)).
    pub async fn reconcile_draining_at(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
        drainer: &mut Drainer,
        now: Instant,
    ) -> Result<ReconcileReport> {
        let current = self.table().await?;
        let (mut ops, drains) = plan_draining(&current, desired, opts);
        batch::validate_all(&ops)?;
        let planned = ops.len();
        start_drains(drainer, desired, drains, now);
        ops.extend(drainer.plan(now, |id| {
            current
                .iter()
                .find(|e| e.service.id == *id)
                .map(|e| e.destinations.as_slice())
        }));
        if ops.is_empty() {
            return Ok(ReconcileReport {
                ops,
                outcome: BatchOutcome::default(),
            });
        }
        match self.apply_unvalidated(&ops).await {
            Ok(outcome) => {
                drainer.record(outcome.results.get(planned..).unwrap_or_default());
                Ok(ReconcileReport { ops, outcome })
            }
            Err(e) => {
                drainer.record_failure(&e);
                Err(e)
            }
        }
    }

    /// Apply a batch all or nothing (see
    /// [`Ipvs::apply_or_roll_back`](super::Ipvs::apply_or_roll_back)): the same
    /// transaction, with the same snapshot, undo records and check after a roll back.
    pub async fn apply_or_roll_back(&mut self, ops: &[Op]) -> Result<usize> {
        batch::validate_all(ops)?;
        let opts = TransactionOptions::default();
        let mut log = UndoLog::new(self.table_settled(opts.settle_reads).await?, true);
        if log.needs_timeouts(ops) {
            log.set_timeouts(self.timeouts().await?);
        }
        if log.needs_daemons(ops) {
            log.set_daemons(self.daemons().await?);
        }
        let undos = log.record_all(ops);
        let cause = match self.apply(ops).await {
            Ok(outcome) => {
                log.keep(undos, outcome.results.iter().map(Result::is_ok));
                let applied = outcome.applied();
                match outcome.into_result() {
                    Ok(()) => return Ok(applied),
                    Err(e) => e,
                }
            }
            Err(e) => {
                // The transport failed: which writes were applied is unknown.
                log.keep(undos, std::iter::repeat(true));
                e
            }
        };
        let restore = self.roll_back(&mut log).await;
        Err(rolled_back(cause, restore.into_result()))
    }

    /// Send the undo writes of `log`, newest first, and check the table against its snapshot.
    async fn roll_back(&mut self, log: &mut UndoLog) -> RollbackReport {
        let mut report = RollbackReport::default();
        if log.is_empty() {
            return report;
        }
        let ops = log.undo_ops();
        let messages: Vec<IpvsMessage> = ops.iter().map(IpvsMessage::from).collect();
        report.count(&ops, self.transport.request_batch(&messages).await);
        let checked = async {
            let now = self
                .table_settled(TransactionOptions::default().settle_reads)
                .await?;
            let timeouts = match log.had_timeouts() {
                true => Some(self.timeouts().await?),
                false => None,
            };
            let daemons = match log.had_daemons() {
                true => Some(self.daemons().await?),
                false => None,
            };
            Ok::<_, crate::Error>(log.compare(&ops, &now, timeouts, daemons.as_deref()))
        };
        report.not_restored = match checked.await {
            Ok(n) => n,
            Err(e) => vec![NotRestored::Unverified(e.to_string())],
        };
        report
    }

    /// Make the table the desired one with the fewest writes (see
    /// [`Ipvs::reconcile`](super::Ipvs::reconcile)).
    pub async fn reconcile(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
    ) -> Result<ReconcileReport> {
        let current = self.table().await?;
        let ops = plan(&current, desired, opts);
        let outcome = if ops.is_empty() {
            BatchOutcome::default()
        } else {
            self.apply(&ops).await?
        };
        Ok(ReconcileReport { ops, outcome })
    }

    /// Reconcile with any refused write an error (see
    /// [`Ipvs::reconcile_strict`](super::Ipvs::reconcile_strict)).
    pub async fn reconcile_strict(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
    ) -> Result<Vec<Op>> {
        Ok(self.reconcile(desired, opts).await?.into_result()?.ops)
    }

    /// One destination of a service, as the kernel holds it (see
    /// [`Ipvs::destination`](super::Ipvs::destination)).
    pub async fn destination(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<Destination> {
        self.destinations(id)
            .await?
            .into_iter()
            .find(|d| d.socket_addr() == addr)
            .ok_or_else(|| super::no_such_destination(id, addr))
    }

    /// Set one destination's weight and keep the rest (see
    /// [`Ipvs::set_weight`](super::Ipvs::set_weight)); the weight it had.
    pub async fn set_weight(
        &mut self,
        id: &ServiceId,
        addr: SocketAddr,
        weight: u32,
    ) -> Result<u32> {
        let mut dest = self.destination(id, addr).await?;
        let old = std::mem::replace(&mut dest.weight, weight);
        if old != weight {
            self.run(call::update_destination_raw(id, &dest)).await?;
        }
        Ok(old)
    }

    /// Weight 0, so the destination takes no new connections (see
    /// [`Ipvs::quiesce`](super::Ipvs::quiesce)); the weight to restore.
    pub async fn quiesce(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<u32> {
        self.set_weight(id, addr, 0).await
    }

    /// Give a quiesced destination its weight back.
    pub async fn restore_weight(
        &mut self,
        id: &ServiceId,
        addr: SocketAddr,
        weight: u32,
    ) -> Result<()> {
        self.set_weight(id, addr, weight).await.map(drop)
    }
}
