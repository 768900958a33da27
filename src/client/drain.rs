//! Graceful draining: take a destination or a whole service out of service without cutting
//! the connections it carries.
//!
//! A drain quiesces its target (weight 0 on the destination, or on every destination of the
//! service: the scheduler sends it no new connection, established ones go on), watches the
//! connection counters the kernel reports, and deletes the target once it is idle or once
//! its deadline has passed. What "idle" means, the deadline and what to do per protocol are
//! a [`DrainPolicy`].
//!
//! [`Drainer`] is the state machine, without I/O and without a clock: every call takes the
//! current time, [`Drainer::plan`] takes the table as read and returns the writes, and
//! [`Drainer::record`] takes their results. [`Ipvs::drain_step`] runs one step against a
//! table (reading only the services involved, writing as one batch),
//! [`Ipvs::drain`] drains one target to the end, and
//! [`Ipvs::reconcile_draining`](super::Ipvs::reconcile_draining) drains what leaves the
//! configuration instead of deleting it at once.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use std::time::{Duration, Instant};
//! use lvs::client::{DeleteReason, DrainPolicy, DrainState, DrainTarget, Drainer};
//! use lvs::transport::MockKernel;
//! use lvs::{Destination, Ipvs, Service};
//!
//! let mock = MockKernel::new();
//! let mut ipvs = Ipvs::with_transport(mock.clone());
//! let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
//! let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().weight(5).build()?;
//! ipvs.add_service(&svc)?;
//! ipvs.add_destination(&svc.id, &real)?;
//! mock.set_connections(&svc.id, real.socket_addr(), 2, 0); // two established connections
//!
//! let t0 = Instant::now();
//! let mut drainer = Drainer::new(DrainPolicy::default());
//! drainer.start(DrainTarget::Destination(svc.id, real.socket_addr()), t0);
//! ipvs.drain_step_at(&mut drainer, t0)?; // weight 0
//! assert_eq!(ipvs.destinations(&svc.id)?[0].weight, 0);
//! ipvs.drain_step_at(&mut drainer, t0 + Duration::from_secs(1))?; // still busy: waits
//! assert_eq!(drainer.progress()[0].state, DrainState::Waiting { active: 2, inactive: 0 });
//! mock.set_connections(&svc.id, real.socket_addr(), 0, 0); // they ended
//! ipvs.drain_step_at(&mut drainer, t0 + Duration::from_secs(2))?; // deleted
//! assert_eq!(drainer.progress()[0].state, DrainState::Deleted { why: DeleteReason::Idle });
//! assert!(drainer.is_finished());
//! assert!(ipvs.destinations(&svc.id)?.is_empty());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::batch::{BatchOutcome, Op};
use super::Ipvs;
use crate::error::{Error, Result};
use crate::model::{Destination, Protocol, ServiceId};
use crate::transport::Transport;

/// What to do with a target of one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolDrain {
    /// Quiesce, then wait until the target is idle (or the deadline passes) to delete it.
    Wait,
    /// Delete at once, without quiescing or waiting. The kernel keeps the connection
    /// entries of a deleted destination until they time out, and their packets are lost:
    /// with `net.ipv4.vs.expire_nodest_conn = 0` (the default) it drops them silently; with
    /// `1` it ends the entry at its next packet and schedules that packet afresh, so that
    /// a UDP flow's next datagram (or a restarted SCTP association) goes to a live
    /// destination at once. Set `expire_nodest_conn = 1` with this policy.
    DeleteAtOnce,
}

/// When a quiesced target counts as idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DrainWait {
    /// No active connection left (`ActiveConn` 0: for TCP, none established); the inactive
    /// ones (closing, `TIME_WAIT`, UDP entries) do not hold the drain.
    #[default]
    Active,
    /// No connection at all (`ActiveConn + InActConn` 0). A closed TCP connection stays in
    /// the table as inactive in `TIME_WAIT` for 2 minutes (the `tcp_fin` timeout:
    /// `ipvsadm --set`), so this waits that much longer after the last connection ends.
    AllConnections,
}

/// How to drain: the deadline, what counts as idle, and what to do per protocol.
///
/// The default ([`DrainPolicy::default`]): **no deadline** (wait until idle, however long
/// that takes: the library does not choose when to cut a client's connection; set one
/// with [`deadline`](Self::deadline) when a bound matters more), idle when no connection is
/// active ([`DrainWait::Active`]), TCP and firewall-mark services wait, UDP and SCTP ones
/// are deleted at once ([`ProtocolDrain::DeleteAtOnce`], relying on
/// `net.ipv4.vs.expire_nodest_conn`). A service of another protocol waits.
///
/// ```
/// use std::time::Duration;
/// use lvs::client::{DrainPolicy, DrainWait, ProtocolDrain};
/// use lvs::Protocol;
/// let policy = DrainPolicy::default()
///     .deadline(Duration::from_secs(300))
///     .wait(DrainWait::AllConnections)
///     .protocol(Protocol::Udp, ProtocolDrain::Wait);
/// assert_eq!(policy.for_protocol(Some(Protocol::Udp)), ProtocolDrain::Wait);
/// assert_eq!(policy.for_protocol(None), ProtocolDrain::Wait); // firewall mark
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DrainPolicy {
    /// How long after its start a drain deletes its target even if it is not idle; `None`:
    /// never (wait until idle). The connections still there when it is deleted stop working:
    /// the kernel drops their packets (see [`ProtocolDrain::DeleteAtOnce`]).
    pub deadline: Option<Duration>,
    /// What counts as idle.
    pub wait: DrainWait,
    /// TCP services (default: wait).
    pub tcp: ProtocolDrain,
    /// UDP services (default: delete at once).
    pub udp: ProtocolDrain,
    /// SCTP services (default: delete at once).
    pub sctp: ProtocolDrain,
    /// Firewall-mark services, whatever protocols they carry (default: wait).
    pub fwmark: ProtocolDrain,
}

impl Default for DrainPolicy {
    fn default() -> DrainPolicy {
        DrainPolicy {
            deadline: None,
            wait: DrainWait::Active,
            tcp: ProtocolDrain::Wait,
            udp: ProtocolDrain::DeleteAtOnce,
            sctp: ProtocolDrain::DeleteAtOnce,
            fwmark: ProtocolDrain::Wait,
        }
    }
}

impl DrainPolicy {
    /// Delete the target `after` its drain started, idle or not.
    #[must_use]
    pub fn deadline(mut self, after: Duration) -> DrainPolicy {
        self.deadline = Some(after);
        self
    }

    /// No deadline: wait until the target is idle.
    #[must_use]
    pub fn no_deadline(mut self) -> DrainPolicy {
        self.deadline = None;
        self
    }

    /// What counts as idle.
    #[must_use]
    pub fn wait(mut self, wait: DrainWait) -> DrainPolicy {
        self.wait = wait;
        self
    }

    /// What to do with services of this protocol (another protocol than TCP, UDP and SCTP
    /// is ignored: such services always wait).
    #[must_use]
    pub fn protocol(mut self, protocol: Protocol, what: ProtocolDrain) -> DrainPolicy {
        match protocol {
            Protocol::Tcp => self.tcp = what,
            Protocol::Udp => self.udp = what,
            Protocol::Sctp => self.sctp = what,
            Protocol::Other(_) => {}
        }
        self
    }

    /// What to do with firewall-mark services.
    #[must_use]
    pub fn fwmark(mut self, what: ProtocolDrain) -> DrainPolicy {
        self.fwmark = what;
        self
    }

    /// What to do with a service of this protocol (`None`: a firewall-mark service, as
    /// [`ServiceId::protocol`] gives it).
    pub fn for_protocol(&self, protocol: Option<Protocol>) -> ProtocolDrain {
        match protocol {
            Some(Protocol::Tcp) => self.tcp,
            Some(Protocol::Udp) => self.udp,
            Some(Protocol::Sctp) => self.sctp,
            Some(Protocol::Other(_)) => ProtocolDrain::Wait,
            None => self.fwmark,
        }
    }

    /// Whether counters of `active` and `inactive` connections are idle by this policy.
    pub fn is_idle(&self, active: u32, inactive: u32) -> bool {
        match self.wait {
            DrainWait::Active => active == 0,
            DrainWait::AllConnections => active == 0 && inactive == 0,
        }
    }
}

/// What a drain takes out of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrainTarget {
    /// One destination of a service.
    Destination(ServiceId, SocketAddr),
    /// A whole service: every destination is quiesced, then the service is deleted.
    Service(ServiceId),
}

impl DrainTarget {
    /// The service the target is, or belongs to.
    pub fn service(&self) -> &ServiceId {
        match self {
            DrainTarget::Destination(id, _) | DrainTarget::Service(id) => id,
        }
    }
}

impl fmt::Display for DrainTarget {
    /// `tcp:10.0.0.1:80 -> 10.0.0.2:80`, `tcp:10.0.0.1:80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainTarget::Destination(id, addr) => write!(f, "{id} -> {addr}"),
            DrainTarget::Service(id) => write!(f, "{id}"),
        }
    }
}

/// Why a drain deleted its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeleteReason {
    /// It was idle (by the policy's [`DrainWait`]).
    Idle,
    /// The deadline passed first.
    Deadline,
    /// Its protocol is deleted at once ([`ProtocolDrain::DeleteAtOnce`]).
    AtOnce,
}

impl fmt::Display for DeleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeleteReason::Idle => "idle",
            DeleteReason::Deadline => "deadline",
            DeleteReason::AtOnce => "at once",
        })
    }
}

/// Where a drain stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DrainState {
    /// Started, or its weight-0 writes are under way.
    Quiescing,
    /// Quiesced, waiting for these connection counts to reach idle (summed over the
    /// destinations for a service).
    Waiting {
        /// Active connections at the last read.
        active: u32,
        /// Inactive connections at the last read.
        inactive: u32,
    },
    /// Deleted by the drain (finished).
    Deleted {
        /// Why.
        why: DeleteReason,
    },
    /// The target was no longer there: deleted by someone else (finished).
    Gone,
    /// The last write was refused (this error text); the next step tries again.
    Failed(String),
}

impl DrainState {
    /// Whether the drain is over (the target is deleted, by it or by someone else).
    pub fn is_finished(&self) -> bool {
        matches!(self, DrainState::Deleted { .. } | DrainState::Gone)
    }
}

impl fmt::Display for DrainState {
    /// `quiescing`, `waiting: 2 active, 0 inactive`, `deleted (idle)`, `gone`,
    /// `failed: ... (retrying)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainState::Quiescing => f.write_str("quiescing"),
            DrainState::Waiting { active, inactive } => {
                write!(f, "waiting: {active} active, {inactive} inactive")
            }
            DrainState::Deleted { why } => write!(f, "deleted ({why})"),
            DrainState::Gone => f.write_str("gone (deleted by someone else)"),
            DrainState::Failed(e) => write!(f, "failed: {e} (retrying)"),
        }
    }
}

/// One drain's progress, as [`Drainer::progress`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainProgress {
    /// What is drained.
    pub target: DrainTarget,
    /// When the drain started (the `now` given to [`Drainer::start`]).
    pub started: Instant,
    /// When it deletes the target whatever its connections, if ever.
    pub deadline: Option<Instant>,
    /// Where it stands.
    pub state: DrainState,
}

impl fmt::Display for DrainProgress {
    /// `tcp:10.0.0.1:80 -> 10.0.0.2:80: waiting: 1 active, 0 inactive`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.target, self.state)
    }
}

/// What the last plan asked of one drain's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Nothing written.
    None,
    /// `count` writes from `first`: weight-0 updates.
    Quiesce { first: usize, count: usize },
    /// One delete at `at`.
    Delete { at: usize, why: DeleteReason },
}

#[derive(Debug, Clone)]
struct Drain {
    progress: DrainProgress,
    policy: DrainPolicy,
    pending: Pending,
}

/// The drains in progress: a state machine without I/O or clock (see the [module
/// docs](self)), so that it can be driven by any handle and tested with made-up times.
///
/// Each step: [`services`](Self::services) names the services to read,
/// [`plan`](Self::plan) turns what was read into writes, and [`record`](Self::record) takes
/// their results. [`Ipvs::drain_step`] does the three.
///
/// A quiesced destination is deleted only by a step that reads it at weight 0 and idle
/// (never by the step that quiesced it: a connection scheduled just before the weight-0
/// write shows in the next read), or by the first step after the deadline.
#[derive(Debug, Clone)]
pub struct Drainer {
    policy: DrainPolicy,
    drains: Vec<Drain>,
}

impl Default for Drainer {
    fn default() -> Drainer {
        Drainer::new(DrainPolicy::default())
    }
}

impl Drainer {
    /// No drain yet; [`start`](Self::start) uses `policy`.
    pub fn new(policy: DrainPolicy) -> Drainer {
        Drainer {
            policy,
            drains: Vec::new(),
        }
    }

    /// The policy [`start`](Self::start) uses.
    pub fn policy(&self) -> &DrainPolicy {
        &self.policy
    }

    /// Start draining `target` at `now` with this drainer's policy. `false` (and nothing
    /// changed) if it is being drained already; a finished drain of it is replaced.
    pub fn start(&mut self, target: DrainTarget, now: Instant) -> bool {
        let policy = self.policy;
        self.start_with(target, &policy, now)
    }

    /// Start draining `target` at `now` with its own policy (see [`start`](Self::start)).
    pub fn start_with(&mut self, target: DrainTarget, policy: &DrainPolicy, now: Instant) -> bool {
        if let Some(i) = self.index(&target) {
            if !self.drains[i].progress.state.is_finished() {
                return false;
            }
            self.drains.remove(i);
        }
        self.drains.push(Drain {
            progress: DrainProgress {
                target,
                started: now,
                deadline: policy.deadline.and_then(|d| now.checked_add(d)),
                state: DrainState::Quiescing,
            },
            policy: *policy,
            pending: Pending::None,
        });
        true
    }

    /// Stop draining `target` and forget it; whether it was there. Its weight stays as the
    /// drain left it (0 once quiesced): give it back with
    /// [`Ipvs::restore_weight`](super::Ipvs::restore_weight) or a reconcile.
    pub fn cancel(&mut self, target: &DrainTarget) -> bool {
        match self.index(target) {
            Some(i) => {
                self.drains.remove(i);
                true
            }
            None => false,
        }
    }

    fn index(&self, target: &DrainTarget) -> Option<usize> {
        self.drains
            .iter()
            .position(|d| d.progress.target == *target)
    }

    /// Whether `target` has a drain (finished or not).
    pub fn contains(&self, target: &DrainTarget) -> bool {
        self.index(target).is_some()
    }

    /// Every drain's progress, in the order they were started.
    pub fn progress(&self) -> Vec<DrainProgress> {
        self.drains.iter().map(|d| d.progress.clone()).collect()
    }

    /// The progress of the drain of `target`, if any.
    pub fn progress_of(&self, target: &DrainTarget) -> Option<&DrainProgress> {
        self.index(target).map(|i| &self.drains[i].progress)
    }

    /// Whether every drain is over (also when there is none).
    pub fn is_finished(&self) -> bool {
        self.drains.iter().all(|d| d.progress.state.is_finished())
    }

    /// Forget the finished drains and return their last progress.
    pub fn remove_finished(&mut self) -> Vec<DrainProgress> {
        let (done, going): (Vec<Drain>, Vec<Drain>) = std::mem::take(&mut self.drains)
            .into_iter()
            .partition(|d| d.progress.state.is_finished());
        self.drains = going;
        done.into_iter().map(|d| d.progress).collect()
    }

    /// The services [`plan`](Self::plan) needs read (those of the drains not finished),
    /// each once.
    pub fn services(&self) -> Vec<ServiceId> {
        let mut ids: Vec<ServiceId> = Vec::new();
        for d in self
            .drains
            .iter()
            .filter(|d| !d.progress.state.is_finished())
        {
            let id = d.progress.target.service();
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        ids
    }

    /// The writes of one step at `now`, given the destinations of each service of
    /// [`services`](Self::services) as just read (`current(id)`: `None` when the service
    /// does not exist). Then hand their results to [`record`](Self::record), in the same
    /// order.
    ///
    /// For each drain not finished: a target that is not there is [`DrainState::Gone`]; a
    /// protocol deleted at once is deleted; past the deadline, deleted; a destination with
    /// a weight other than 0 gets weight 0 (an [`Op::UpdateDestination`] with everything
    /// else as read: send it as it is, unvalidated, as [`Ipvs::drain_step`] does, since
    /// what the kernel holds may be beyond what the builders take); quiesced and idle,
    /// deleted; otherwise it waits.
    pub fn plan<'a>(
        &mut self,
        now: Instant,
        current: impl Fn(&ServiceId) -> Option<&'a [Destination]>,
    ) -> Vec<Op> {
        let mut ops = Vec::new();
        for d in &mut self.drains {
            d.pending = Pending::None;
            if d.progress.state.is_finished() {
                continue;
            }
            let target = d.progress.target;
            let id = *target.service();
            let Some(dests) = current(&id) else {
                d.progress.state = DrainState::Gone;
                continue;
            };
            let mine: Vec<&Destination> = match target {
                DrainTarget::Destination(_, addr) => {
                    match dests.iter().find(|x| x.socket_addr() == addr) {
                        Some(x) => vec![x],
                        None => {
                            d.progress.state = DrainState::Gone;
                            continue;
                        }
                    }
                }
                DrainTarget::Service(_) => dests.iter().collect(),
            };
            let delete = |ops: &mut Vec<Op>, why| {
                ops.push(match target {
                    DrainTarget::Destination(id, addr) => Op::DeleteDestination(id, addr),
                    DrainTarget::Service(id) => Op::DeleteService(id),
                });
                Pending::Delete {
                    at: ops.len() - 1,
                    why,
                }
            };
            if d.policy.for_protocol(id.protocol()) == ProtocolDrain::DeleteAtOnce {
                d.pending = delete(&mut ops, DeleteReason::AtOnce);
                continue;
            }
            if d.progress.deadline.is_some_and(|t| now >= t) {
                d.pending = delete(&mut ops, DeleteReason::Deadline);
                continue;
            }
            let first = ops.len();
            for x in mine.iter().filter(|x| x.weight != 0) {
                let mut quiet = (*x).clone();
                quiet.weight = 0;
                quiet.counters = None;
                quiet.stats = None;
                ops.push(Op::UpdateDestination(id, quiet));
            }
            if ops.len() > first {
                d.pending = Pending::Quiesce {
                    first,
                    count: ops.len() - first,
                };
                if !matches!(d.progress.state, DrainState::Failed(_)) {
                    d.progress.state = DrainState::Quiescing;
                }
                continue;
            }
            let (active, inactive) = mine.iter().fold((0u32, 0u32), |(a, i), x| {
                let c = x.counters.unwrap_or_default();
                (a.saturating_add(c.active), i.saturating_add(c.inactive))
            });
            if d.policy.is_idle(active, inactive) {
                d.pending = delete(&mut ops, DeleteReason::Idle);
            } else {
                d.progress.state = DrainState::Waiting { active, inactive };
            }
        }
        ops
    }

    /// Take the results of the writes of the last [`plan`](Self::plan), in its order (for
    /// [`Ipvs::apply`]'s outcome, `&outcome.results`). A delete applied finishes its
    /// drain; a write refused because its target is missing makes it
    /// [`DrainState::Gone`]; any other refusal is [`DrainState::Failed`], and the next
    /// plan tries again. Missing results (a shorter slice) count as not known: the drain
    /// stays as it was.
    pub fn record(&mut self, results: &[Result<()>]) {
        for d in &mut self.drains {
            match std::mem::replace(&mut d.pending, Pending::None) {
                Pending::None => {}
                Pending::Quiesce { first, count } => {
                    let Some(rs) = results.get(first..first + count) else {
                        continue;
                    };
                    match rs.iter().find_map(|r| r.as_ref().err()) {
                        None => {
                            if matches!(d.progress.state, DrainState::Failed(_)) {
                                d.progress.state = DrainState::Quiescing;
                            }
                        }
                        Some(e) => d.progress.state = refused(e, &d.progress.target),
                    }
                }
                Pending::Delete { at, why } => match results.get(at) {
                    None => {}
                    Some(Ok(())) => d.progress.state = DrainState::Deleted { why },
                    Some(Err(e)) => d.progress.state = refused(e, &d.progress.target),
                },
            }
        }
    }

    /// The writes of the last [`plan`](Self::plan) could not be sent, or their results not
    /// read (a transport failure): each drain that had writes is [`DrainState::Failed`]
    /// with this error, and the next plan tries again.
    pub fn record_failure(&mut self, error: &Error) {
        for d in &mut self.drains {
            if std::mem::replace(&mut d.pending, Pending::None) != Pending::None {
                d.progress.state = DrainState::Failed(error.to_string());
            }
        }
    }
}

/// The state after a refused write for `target`.
fn refused(e: &Error, target: &DrainTarget) -> DrainState {
    let e = match e {
        Error::Batch { source, .. } => source,
        e => e,
    };
    match (e, target) {
        (Error::NoSuchService(_), _)
        | (Error::NoSuchDestination(_), DrainTarget::Destination(..)) => DrainState::Gone,
        _ => DrainState::Failed(e.to_string()),
    }
}

/// What one [`Ipvs::drain_step`] wrote.
#[derive(Debug, Default)]
pub struct DrainStep {
    /// The writes, in the order they were sent (none when every drain waits).
    pub ops: Vec<Op>,
    /// Their results (also recorded in the drainer's progress).
    pub outcome: BatchOutcome,
}

impl<T: Transport> Ipvs<T> {
    /// One step of every drain of `drainer`, now: see [`drain_step_at`](Self::drain_step_at).
    pub fn drain_step(&mut self, drainer: &mut Drainer) -> Result<DrainStep> {
        self.drain_step_at(drainer, Instant::now())
    }

    /// One step of every drain of `drainer` at `now`: read the destinations of the
    /// services involved (one dump each, not the whole table), [`Drainer::plan`], send the
    /// writes as one batch (unvalidated: a weight-0 write keeps what the kernel holds),
    /// [`Drainer::record`] their results.
    ///
    /// A refused write is not an error: it is in the drain's progress
    /// ([`DrainState::Failed`]) and the next step tries again. `Err` is a failed read or a
    /// failed transport; then the writes' results are unknown, the drains that had writes
    /// are `Failed`, and the next step reads again.
    pub fn drain_step_at(&mut self, drainer: &mut Drainer, now: Instant) -> Result<DrainStep> {
        let mut read: Vec<(ServiceId, Option<Vec<Destination>>)> = Vec::new();
        for id in drainer.services() {
            let dests = match self.destinations(&id) {
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
        match self.apply_unvalidated(&ops) {
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

    /// Drain one target to the end with `policy`, a step every `poll`, and return its last
    /// progress: [`DrainState::Deleted`] or [`DrainState::Gone`], or
    /// [`DrainState::Failed`] when the delete due at the deadline was refused (the target
    /// is then still there). Blocks the calling thread.
    ///
    /// With a deadline, it returns at most one `poll` after it (the step at the deadline
    /// deletes); **without a deadline, it waits until the target is idle, however long
    /// that is.** A step that fails to read or send is an error at once. For a drain
    /// among other work, or to report its progress, drive a [`Drainer`] with
    /// [`drain_step`](Self::drain_step) instead.
    pub fn drain(
        &mut self,
        target: DrainTarget,
        policy: &DrainPolicy,
        poll: Duration,
    ) -> Result<DrainProgress> {
        let mut drainer = Drainer::new(*policy);
        drainer.start(target, Instant::now());
        loop {
            let now = Instant::now();
            self.drain_step_at(&mut drainer, now)?;
            let p = drainer.progress().remove(0);
            let past_deadline = p.deadline.is_some_and(|t| now >= t);
            if p.state.is_finished() || (past_deadline && matches!(p.state, DrainState::Failed(_)))
            {
                return Ok(p);
            }
            let mut wait = poll;
            if let Some(t) = p.deadline {
                // Wake at the deadline (or just after the poll) rather than a poll late.
                wait = wait.min(t.saturating_duration_since(Instant::now()));
            }
            std::thread::sleep(wait);
        }
    }
}
