//! Transactions: writes applied with a record of how to undo each one, and a roll back that
//! puts back exactly what the kernel held and says what it could not ([`Transaction`] says
//! how; the bookkeeping, [`UndoLog`], is shared with the async handle).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;

use super::batch::{classify_op, validate_all};
use super::{classify, ErrCtx, Ipvs, ServiceEntry};
use crate::error::{Error, Operation, Result};
use crate::model::{Daemon, DaemonState, Destination, Op, Service, ServiceId, Timeouts};
use crate::transport::Transport;
use crate::wire::IpvsMessage;

/// How many writes a transaction sends in one batch before it looks at their results: a
/// refusal stops the transaction after the batch it is in. Twice
/// [`PIPELINE_MIN`](crate::transport::PIPELINE_MIN), so a full batch is framed on the
/// transport's second thread while it is sent.
pub const TRANSACTION_CHUNK: usize = 8192;

/// From this many writes in one call, a transaction computes the undo records on a second
/// thread while the batch is being sent.
const PARALLEL_UNDO_MIN: usize = 512;

/// How a [`Transaction`] reads its snapshot and what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionOptions {
    /// How many table reads the snapshot may take to settle ([`Ipvs::table_settled`]).
    pub settle_reads: usize,
    /// Whether the transaction follows the services and destinations it adds. It must, to
    /// undo an edit or a delete of something it added itself; a transaction of adds only
    /// (most restores) can skip copying every value it adds. With `false`, an edit, delete
    /// or flush is refused before it is sent ([`Error::TransactionState`]).
    pub track_adds: bool,
    /// How many writes go in one batch ([`TRANSACTION_CHUNK`] by default).
    pub chunk: usize,
}

impl Default for TransactionOptions {
    fn default() -> TransactionOptions {
        TransactionOptions {
            settle_reads: 4,
            track_adds: true,
            chunk: TRANSACTION_CHUNK,
        }
    }
}

/// The table as the transaction believes it to be while applying, to compute each undo.
#[derive(Debug)]
struct Shadow {
    services: BTreeMap<ServiceId, (Service, Vec<Destination>)>,
    /// The timeouts, once a write of the transaction is about to change them.
    timeouts: Option<Timeouts>,
    /// The sync daemons, once a write of the transaction is about to start or stop one.
    daemons: Option<Vec<Daemon>>,
    track_adds: bool,
}

/// How to undo one applied write. The two writes a restore is mostly made of are recorded
/// without building anything (the undo writes are built only if a roll back needs them).
#[derive(Debug)]
pub(crate) enum Undo {
    Nothing,
    DeleteService(ServiceId),
    DeleteDestination(ServiceId, SocketAddr),
    Ops(Vec<Op>),
}

impl Undo {
    fn ops(self, out: &mut Vec<Op>) {
        match self {
            Undo::Nothing => {}
            Undo::DeleteService(id) => out.push(Op::DeleteService(id)),
            Undo::DeleteDestination(id, addr) => out.push(Op::DeleteDestination(id, addr)),
            Undo::Ops(v) => out.extend(v),
        }
    }
}

/// The writes that put back a service as the kernel held it: the service, then its
/// destinations oldest first, so that the kernel's list (newest first) is in the same order.
fn recreate(svc: &Service, dests: &[Destination]) -> Vec<Op> {
    let mut v = Vec::with_capacity(dests.len() + 1);
    v.push(Op::AddService(svc.clone()));
    v.extend(
        dests
            .iter()
            .rev()
            .map(|d| Op::AddDestination(svc.id, d.clone())),
    );
    v
}

impl Shadow {
    /// Record `op` as applied and return how to undo it. A write the kernel is bound to
    /// refuse (adding what exists, changing what does not) changes nothing here.
    fn record(&mut self, op: &Op) -> Undo {
        match op {
            Op::AddService(s) if !self.track_adds => Undo::DeleteService(s.id),
            Op::AddDestination(id, d) if !self.track_adds => {
                Undo::DeleteDestination(*id, d.socket_addr())
            }
            Op::AddService(s) => {
                if self.services.contains_key(&s.id) {
                    return Undo::Nothing;
                }
                self.services.insert(s.id, (s.clone(), Vec::new()));
                Undo::DeleteService(s.id)
            }
            Op::UpdateService(s) => match self.services.get_mut(&s.id) {
                Some((old, _)) => {
                    Undo::Ops(vec![Op::UpdateService(std::mem::replace(old, s.clone()))])
                }
                None => Undo::Nothing,
            },
            Op::DeleteService(id) => match self.services.remove(id) {
                Some((svc, dests)) => Undo::Ops(recreate(&svc, &dests)),
                None => Undo::Nothing,
            },
            Op::Flush => Undo::Ops(
                std::mem::take(&mut self.services)
                    .values()
                    .flat_map(|(s, d)| recreate(s, d))
                    .collect(),
            ),
            Op::AddDestination(id, d) => match self.services.get_mut(id) {
                Some((_, dests)) if dests.iter().any(|x| x.socket_addr() == d.socket_addr()) => {
                    Undo::Nothing
                }
                Some((_, dests)) => {
                    dests.insert(0, d.clone());
                    Undo::DeleteDestination(*id, d.socket_addr())
                }
                None => Undo::Nothing,
            },
            Op::UpdateDestination(id, d) => {
                let Some((_, dests)) = self.services.get_mut(id) else {
                    return Undo::Nothing;
                };
                match dests
                    .iter_mut()
                    .find(|x| x.socket_addr() == d.socket_addr())
                {
                    Some(old) => Undo::Ops(vec![Op::UpdateDestination(
                        *id,
                        std::mem::replace(old, d.clone()),
                    )]),
                    None => Undo::Nothing,
                }
            }
            Op::DeleteDestination(id, addr) => {
                let Some((_, dests)) = self.services.get_mut(id) else {
                    return Undo::Nothing;
                };
                match dests.iter().position(|x| x.socket_addr() == *addr) {
                    Some(i) => Undo::Ops(vec![Op::AddDestination(*id, dests.remove(i))]),
                    None => Undo::Nothing,
                }
            }
            Op::SetTimeouts(t) => {
                let Some(old) = self.timeouts.as_mut() else {
                    return Undo::Nothing;
                };
                let undo = Op::SetTimeouts(*old);
                let keep = |new: u32, old: u32| if new == 0 { old } else { new };
                *old = Timeouts {
                    tcp: keep(t.tcp, old.tcp),
                    tcp_fin: keep(t.tcp_fin, old.tcp_fin),
                    udp: keep(t.udp, old.udp),
                };
                Undo::Ops(vec![undo])
            }
            Op::StartDaemon(d) => {
                let Some(daemons) = self.daemons.as_mut() else {
                    return Undo::Nothing;
                };
                if daemons.iter().any(|x| x.state == d.state) {
                    return Undo::Nothing;
                }
                daemons.push(d.clone());
                Undo::Ops(vec![Op::StopDaemon(d.state)])
            }
            Op::StopDaemon(state) => {
                let Some(daemons) = self.daemons.as_mut() else {
                    return Undo::Nothing;
                };
                match daemons.iter().position(|d| d.state == *state) {
                    Some(i) => Undo::Ops(vec![Op::StartDaemon(daemons.remove(i))]),
                    None => Undo::Nothing,
                }
            }
            // Zeroing counters cannot be undone, and changes nothing a roll back restores.
            Op::Zero(_) => Undo::Nothing,
        }
    }
}

/// Whether a write needs the transaction to know what it added before.
fn needs_tracking(op: &Op) -> bool {
    matches!(
        op,
        Op::UpdateService(_)
            | Op::DeleteService(_)
            | Op::UpdateDestination(..)
            | Op::DeleteDestination(..)
            | Op::Flush
    )
}

/// One object a roll back did not put back as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotRestored {
    /// A service the transaction touched differs from the snapshot: it is missing, is
    /// there but was not, or its configuration or destinations differ. Both states are
    /// given (`None`: absent).
    Service {
        /// The service.
        id: ServiceId,
        /// As it was before the transaction.
        before: Option<Box<ServiceEntry>>,
        /// As it is after the roll back.
        now: Option<Box<ServiceEntry>>,
    },
    /// The timeouts differ from those before the transaction.
    Timeouts {
        /// Before the transaction.
        before: Timeouts,
        /// After the roll back.
        now: Timeouts,
    },
    /// The sync daemon of this state is not as it was (running, stopped, or configured
    /// differently).
    Daemon(DaemonState),
    /// The table could not be read after the roll back, so nothing could be checked.
    Unverified(String),
}

impl fmt::Display for NotRestored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotRestored::Service { id, before, now } => match (before, now) {
                (None, Some(_)) => write!(f, "service {id} is still there"),
                (Some(_), None) => write!(f, "service {id} is missing"),
                _ => write!(f, "service {id} differs from before"),
            },
            NotRestored::Timeouts { before, now } => write!(
                f,
                "timeouts are {} {} {}, were {} {} {}",
                now.tcp, now.tcp_fin, now.udp, before.tcp, before.tcp_fin, before.udp
            ),
            NotRestored::Daemon(state) => write!(f, "the {state} sync daemon is not as it was"),
            NotRestored::Unverified(why) => write!(f, "the table could not be checked: {why}"),
        }
    }
}

/// What a roll back did: the undo writes the kernel refused, and what is not as it was.
#[derive(Debug, Default)]
pub struct RollbackReport {
    /// How many undo writes the kernel accepted.
    pub undone: usize,
    /// The undo writes that failed, with why. A failed undo write need not leave a
    /// difference (the value may be back some other way); [`not_restored`](Self::not_restored)
    /// is the verdict.
    pub failed: Vec<(Op, Error)>,
    /// What the table read after the roll back shows is not as it was before the
    /// transaction, among the objects the transaction changed. Empty: the roll back is
    /// complete.
    pub not_restored: Vec<NotRestored>,
}

impl RollbackReport {
    /// Whether everything the transaction changed is back as it was.
    pub fn is_complete(&self) -> bool {
        self.not_restored.is_empty()
    }

    /// The report as an error, if the roll back is incomplete.
    pub fn into_result(self) -> Result<()> {
        if self.is_complete() {
            return Ok(());
        }
        Err(Error::NotRestored {
            objects: self.not_restored.iter().map(ToString::to_string).collect(),
            failed_writes: self.failed.len(),
        })
    }
}

impl RollbackReport {
    /// Count the answers to one batch of undo writes.
    pub(crate) fn count(&mut self, ops: &[Op], replies: Result<Vec<Result<Vec<IpvsMessage>>>>) {
        match replies {
            Ok(rs) if rs.len() == ops.len() => {
                for (op, r) in ops.iter().zip(rs) {
                    match r {
                        Ok(_) => self.undone += 1,
                        Err(e) => self.failed.push((op.clone(), classify_op(op, e))),
                    }
                }
            }
            Ok(_) | Err(_) => {
                // The transport failed: which undo writes were applied is unknown; the check
                // after the roll back says what is not restored.
                let e = Error::Protocol {
                    operation: Operation::Other,
                    reason: "the roll back's batch failed".to_owned(),
                };
                self.failed.push((ops[0].clone(), e));
            }
        }
    }
}

impl fmt::Display for RollbackReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_complete() {
            return write!(f, "rolled back ({} undo writes)", self.undone);
        }
        write!(
            f,
            "roll back incomplete ({} undo writes failed): ",
            self.failed.len()
        )?;
        for (i, n) in self.not_restored.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// The bookkeeping of a transaction, apart from any transport: the snapshot, the shadow
/// table and the undo records (shared by the blocking and async handles).
#[derive(Debug)]
pub(crate) struct UndoLog {
    before: BTreeMap<ServiceId, ServiceEntry>,
    timeouts_before: Option<Timeouts>,
    daemons_before: Option<Vec<Daemon>>,
    shadow: Shadow,
    undo: Vec<Undo>,
}

impl UndoLog {
    pub(crate) fn new(snapshot: Vec<ServiceEntry>, track_adds: bool) -> UndoLog {
        let before: BTreeMap<ServiceId, ServiceEntry> =
            snapshot.into_iter().map(|e| (e.service.id, e)).collect();
        let services = before
            .values()
            .map(|e| (e.service.id, (e.service.clone(), e.destinations.clone())))
            .collect();
        UndoLog {
            before,
            timeouts_before: None,
            daemons_before: None,
            shadow: Shadow {
                services,
                timeouts: None,
                daemons: None,
                track_adds,
            },
            undo: Vec::new(),
        }
    }

    /// Refuse writes that cannot be undone without tracking adds; the index of the first.
    pub(crate) fn check<O: Borrow<Op>>(&self, ops: &[O]) -> Result<()> {
        if self.shadow.track_adds {
            return Ok(());
        }
        match ops.iter().position(|o| needs_tracking(o.borrow())) {
            Some(index) => Err(Error::Batch {
                index,
                op: ops[index].borrow().to_string(),
                source: Box::new(Error::TransactionState {
                    reason: "an edit, delete or flush in a transaction that does not track adds",
                }),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn needs_timeouts<O: Borrow<Op>>(&self, ops: &[O]) -> bool {
        self.shadow.timeouts.is_none()
            && ops.iter().any(|o| matches!(o.borrow(), Op::SetTimeouts(_)))
    }

    pub(crate) fn needs_daemons<O: Borrow<Op>>(&self, ops: &[O]) -> bool {
        self.shadow.daemons.is_none()
            && ops
                .iter()
                .any(|o| matches!(o.borrow(), Op::StartDaemon(_) | Op::StopDaemon(_)))
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // the async handle's
    pub(crate) fn had_timeouts(&self) -> bool {
        self.timeouts_before.is_some()
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // the async handle's
    pub(crate) fn had_daemons(&self) -> bool {
        self.daemons_before.is_some()
    }

    pub(crate) fn set_timeouts(&mut self, t: Timeouts) {
        self.timeouts_before = Some(t);
        self.shadow.timeouts = Some(t);
    }

    pub(crate) fn set_daemons(&mut self, d: Vec<Daemon>) {
        self.daemons_before = Some(d.clone());
        self.shadow.daemons = Some(d);
    }

    pub(crate) fn record_all<O: Borrow<Op>>(&mut self, ops: &[O]) -> Vec<Undo> {
        ops.iter().map(|o| self.shadow.record(o.borrow())).collect()
    }

    /// Keep the undo records of the writes whose result is `Ok` or unknown (`None`: the
    /// transport failed; a wrong guess costs a refused undo write, and the check after the
    /// roll back is the verdict).
    pub(crate) fn keep(&mut self, undos: Vec<Undo>, applied: impl Iterator<Item = bool>) {
        for (u, ok) in undos.into_iter().zip(applied) {
            if ok {
                self.undo.push(u);
            }
        }
    }

    /// Whether any undo record was kept.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // the async handle's
    pub(crate) fn is_empty(&self) -> bool {
        self.undo.is_empty()
    }

    /// The undo writes, newest first.
    pub(crate) fn undo_ops(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        for u in std::mem::take(&mut self.undo).into_iter().rev() {
            u.ops(&mut ops);
        }
        ops
    }

    /// What is not as it was among what `undo` (the undo writes) touches.
    pub(crate) fn compare(
        &self,
        undo: &[Op],
        now: &[ServiceEntry],
        timeouts: Option<Timeouts>,
        daemons: Option<&[Daemon]>,
    ) -> Vec<NotRestored> {
        let touched: BTreeSet<ServiceId> = undo
            .iter()
            .filter_map(|o| o.service_id().copied())
            .collect();
        let now: BTreeMap<&ServiceId, &ServiceEntry> =
            now.iter().map(|e| (&e.service.id, e)).collect();
        let mut out = Vec::new();
        for id in touched {
            let before = self.before.get(&id);
            let after = now.get(&id).copied();
            let same = match (before, after) {
                (None, None) => true,
                (Some(a), Some(b)) => same_entry(a, b),
                _ => false,
            };
            if !same {
                out.push(NotRestored::Service {
                    id,
                    before: before.cloned().map(Box::new),
                    now: after.cloned().map(Box::new),
                });
            }
        }
        if let (Some(before), Some(now)) = (self.timeouts_before, timeouts) {
            if before != now {
                out.push(NotRestored::Timeouts { before, now });
            }
        }
        if let (Some(before), Some(now)) = (&self.daemons_before, daemons) {
            for state in [DaemonState::Master, DaemonState::Backup] {
                let a = before.iter().find(|d| d.state == state);
                let b = now.iter().find(|d| d.state == state);
                if a != b {
                    out.push(NotRestored::Daemon(state));
                }
            }
        }
        out
    }
}

/// Same configuration, same destinations (in any order: a destination deleted and put back
/// goes to the head of the kernel's list, as `ipvsadm -a` would put it; `ipvsadm -L` sorts
/// them).
fn same_entry(a: &ServiceEntry, b: &ServiceEntry) -> bool {
    a.service.same_config(&b.service)
        && a.destinations.len() == b.destinations.len()
        && a.destinations.iter().all(|x| {
            b.destinations
                .iter()
                .any(|y| y.socket_addr() == x.socket_addr() && y.same_config(x))
        })
}

/// Writes applied to one table with a record of how to undo them.
///
/// IPVS has no transactions of its own. This one reads a settled snapshot first
/// ([`Ipvs::table_settled`]); for every write the kernel accepts, it keeps the writes that
/// undo it, built from what the kernel held (sent as they are, never through
/// [`Op::validate`], so a weight ipvsadm wrote above [`Destination::MAX_WEIGHT`] comes back as
/// it was). Only what the transaction changed is undone: a service another process added
/// meanwhile stays. [`roll_back`](Self::roll_back) sends the undo writes newest first, reads
/// the table again and reports exactly what is not as it was ([`RollbackReport`]).
///
/// What a roll back cannot give back: counters and rates of what it re-creates, the
/// scheduler's position, and the place of a single destination put back in its service's
/// list (it goes to the head, as with `ipvsadm -a`; a deleted service is re-created with its
/// destinations in their order).
///
/// ```
/// # #[cfg(feature = "mock")] {
/// use lvs::transport::MockKernel;
/// use lvs::{Destination, Ipvs, Op, Service};
///
/// let mut ipvs = Ipvs::with_transport(MockKernel::new());
/// let a = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// ipvs.add_service(&a)?;
/// let b = Service::tcp("10.0.0.2:80".parse()?).build()?;
/// let mut tx = ipvs.transaction()?;
/// tx.apply(&[Op::DeleteService(a.id), Op::AddService(b.clone())])?;
/// // The same service twice: the kernel refuses the second add (EEXIST).
/// assert!(tx.apply(&[Op::AddService(b)]).is_err());
/// let report = tx.roll_back();
/// assert!(report.is_complete(), "{report}");
/// assert_eq!(ipvs.table()?.len(), 1); // `a` is back, `b` is gone
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A transaction that is dropped without [`commit`](Self::commit) or
/// [`roll_back`](Self::roll_back) is rolled back (the report is lost: call `roll_back` to
/// see it).
#[must_use = "a transaction dropped without commit() is rolled back"]
pub struct Transaction<'a, T: Transport> {
    ipvs: &'a mut Ipvs<T>,
    log: UndoLog,
    chunk: usize,
    applied: usize,
    /// A write was refused or the transport failed: only a roll back may follow.
    failed: bool,
    done: bool,
}

impl<T: Transport> fmt::Debug for Transaction<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("applied", &self.applied)
            .field("undo_records", &self.log.undo.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl<T: Transport> Ipvs<T> {
    /// Begin a [`Transaction`] with the default options (a settled snapshot of up to four
    /// reads, adds tracked).
    pub fn transaction(&mut self) -> Result<Transaction<'_, T>> {
        self.transaction_with(TransactionOptions::default())
    }

    /// Begin a [`Transaction`]: read a settled snapshot of the table (configuration only:
    /// statistics are not decoded for it).
    pub fn transaction_with(&mut self, opts: TransactionOptions) -> Result<Transaction<'_, T>> {
        let stats = self.read_stats;
        self.read_stats = false;
        let snapshot = self.table_settled(opts.settle_reads);
        self.read_stats = stats;
        Ok(Transaction {
            log: UndoLog::new(snapshot?, opts.track_adds),
            ipvs: self,
            chunk: opts.chunk.max(1),
            applied: 0,
            failed: false,
            done: false,
        })
    }

    /// Apply a batch all or nothing: if the kernel refuses any operation, everything the
    /// batch changed is put back as it was, and the error names the first refused
    /// operation by its index ([`Error::Batch`]). Every operation is validated first
    /// ([`Op::validate`]): if one is invalid, nothing is sent.
    ///
    /// This is one [`Transaction`]: a settled snapshot, undo writes built from what the
    /// kernel held, a check of the table after the roll back. If the roll back is
    /// incomplete, [`Error::RollbackFailed`] carries the cause and what is not restored
    /// ([`Error::NotRestored`]). Services other processes change meanwhile are left alone.
    pub fn apply_or_roll_back(&mut self, ops: &[Op]) -> Result<usize> {
        validate_all(ops)?;
        let mut tx = self.transaction()?;
        match tx.apply(ops) {
            Ok(n) => {
                tx.commit();
                Ok(n)
            }
            Err(cause) => Err(rolled_back(cause, tx.roll_back().into_result())),
        }
    }
}

/// The error of a rolled-back change: its cause, or both errors if the roll back failed.
pub(crate) fn rolled_back(cause: Error, restore: Result<()>) -> Error {
    match restore {
        Ok(()) => cause,
        Err(rollback) => Error::RollbackFailed {
            cause: Box::new(cause),
            rollback: Box::new(rollback),
        },
    }
}

impl<T: Transport> Transaction<'_, T> {
    /// Apply `ops` in order, in batches of [`TransactionOptions::chunk`], recording how to
    /// undo each write the kernel accepts. The writes are sent as they are (no
    /// [`Op::validate`]: check them first if they come from users).
    ///
    /// A refusal stops the transaction after the batch it is in: the error names the first
    /// refused write by its index in `ops` ([`Error::Batch`]), and only
    /// [`roll_back`](Self::roll_back) (or [`commit`](Self::commit), to keep what was
    /// applied) may follow. The number of writes applied (all of them) otherwise.
    pub fn apply<O: Borrow<Op> + Sync>(&mut self, ops: &[O]) -> Result<usize> {
        if self.failed {
            return Err(Error::TransactionState {
                reason: "a write of this transaction failed already: roll it back",
            });
        }
        self.log.check(ops)?;
        if self.log.needs_timeouts(ops) {
            let t = self.ipvs.timeouts()?;
            self.log.set_timeouts(t);
        }
        if self.log.needs_daemons(ops) {
            let d = self.ipvs.daemons()?;
            self.log.set_daemons(d);
        }
        for (n, chunk) in ops.chunks(self.chunk).enumerate() {
            let base = n * self.chunk;
            let (replies, undos) = self.send(chunk);
            let replies = match replies {
                Ok(r) if r.len() == chunk.len() => r,
                other => {
                    // The transport failed: which writes were applied is unknown.
                    self.failed = true;
                    self.log.keep(undos, std::iter::repeat(true));
                    let e = match other {
                        Err(e) => e,
                        Ok(r) => Error::Protocol {
                            operation: Operation::Other,
                            reason: format!("{} results for {} requests", r.len(), chunk.len()),
                        },
                    };
                    return Err(classify(e, Operation::Other, String::new, &ErrCtx::NONE));
                }
            };
            self.log.keep(undos, replies.iter().map(Result::is_ok));
            let mut first = None;
            for (i, r) in replies.into_iter().enumerate() {
                match r {
                    Ok(_) => self.applied += 1,
                    Err(e) if first.is_none() => first = Some((i, e)),
                    Err(_) => {}
                }
            }
            if let Some((i, e)) = first {
                self.failed = true;
                return Err(Error::Batch {
                    index: base + i,
                    op: chunk[i].borrow().to_string(),
                    source: Box::new(classify_op(chunk[i].borrow(), e)),
                });
            }
        }
        Ok(ops.len())
    }

    /// Send one batch; its undo records are computed meanwhile (on a second thread for a
    /// large batch).
    #[allow(clippy::type_complexity)]
    fn send<O: Borrow<Op> + Sync>(
        &mut self,
        chunk: &[O],
    ) -> (Result<Vec<Result<Vec<IpvsMessage>>>>, Vec<Undo>) {
        let build = |i: usize| IpvsMessage::from(chunk[i].borrow());
        if chunk.len() < PARALLEL_UNDO_MIN || !self.ipvs.parallel {
            let undos = self.log.record_all(chunk);
            return (
                self.ipvs.transport.request_batch_with(chunk.len(), &build),
                undos,
            );
        }
        let (log, transport) = (&mut self.log, &mut self.ipvs.transport);
        std::thread::scope(|s| {
            let undos = s.spawn(|| log.record_all(chunk));
            let replies = transport.request_batch_with(chunk.len(), &build);
            let undos = undos
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (replies, undos)
        })
    }

    /// Follow (`true`) or stop following the services and destinations this transaction
    /// adds ([`TransactionOptions::track_adds`]). Following can only start before the first
    /// write: adds applied untracked cannot be followed afterwards.
    pub fn set_track_adds(&mut self, on: bool) -> Result<()> {
        if on && !self.log.shadow.track_adds && self.applied > 0 {
            return Err(Error::TransactionState {
                reason: "adds were applied untracked: they cannot be followed now",
            });
        }
        self.log.shadow.track_adds = on;
        Ok(())
    }

    /// The handle, for reads during the transaction (a listing between two batches). Writes
    /// made through it are not recorded, so a roll back does not undo them.
    pub fn ipvs(&mut self) -> &mut Ipvs<T> {
        self.ipvs
    }

    /// How many writes the kernel accepted so far.
    pub fn applied(&self) -> usize {
        self.applied
    }

    /// Keep what was applied; the undo records are dropped.
    pub fn commit(mut self) -> usize {
        self.done = true;
        self.applied
    }

    /// Undo every write the kernel accepted, newest first, then read the table and check
    /// everything the transaction touched against the snapshot. The report says exactly
    /// what is not as it was.
    pub fn roll_back(mut self) -> RollbackReport {
        self.done = true;
        self.undo()
    }

    fn undo(&mut self) -> RollbackReport {
        let ops = self.log.undo_ops();
        let mut report = RollbackReport::default();
        if ops.is_empty() {
            return report;
        }
        for chunk in ops.chunks(self.chunk) {
            let build = |i: usize| IpvsMessage::from(&chunk[i]);
            let replies = self.ipvs.transport.request_batch_with(chunk.len(), &build);
            report.count(chunk, replies);
        }
        report.not_restored = self.check(&ops);
        report
    }

    /// Read back what the undo writes touched and compare it with the snapshot.
    fn check(&mut self, undo: &[Op]) -> Vec<NotRestored> {
        let stats = self.ipvs.read_stats;
        self.ipvs.read_stats = false;
        let now = self
            .ipvs
            .table_settled(TransactionOptions::default().settle_reads);
        self.ipvs.read_stats = stats;
        let now = match now {
            Ok(t) => t,
            Err(e) => return vec![NotRestored::Unverified(e.to_string())],
        };
        let timeouts = match self.log.timeouts_before {
            Some(_) => match self.ipvs.timeouts() {
                Ok(t) => Some(t),
                Err(e) => return vec![NotRestored::Unverified(e.to_string())],
            },
            None => None,
        };
        let daemons = match self.log.daemons_before {
            Some(_) => match self.ipvs.daemons() {
                Ok(d) => Some(d),
                Err(e) => return vec![NotRestored::Unverified(e.to_string())],
            },
            None => None,
        };
        self.log.compare(undo, &now, timeouts, daemons.as_deref())
    }
}

impl<T: Transport> Drop for Transaction<'_, T> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.undo();
        }
    }
}
