//! Reconcile: make the table what it should be with the fewest writes.
//!
//! [`plan`] compares a desired table with the current one and returns the operations that
//! turn one into the other: services and destinations are matched by identity (service
//! identity; destination address and port), edited in place when only their configuration
//! differs, added when missing and deleted when not wanted. The comparison is on
//! configuration only ([`Service::same_config`], [`Destination::same_config`]): what the
//! kernel adds or normalises (the `HASHED` flag, stats and counters, the netmask of a
//! service without persistence, the protocol of a firewall-mark service) never makes a
//! difference, so an unchanged table plans zero operations.
//!
//! [`Ipvs::reconcile`] reads the table (one dump), plans, and applies the plan as one batch.
//! [`Ipvs::reconcile_draining`] does the same, but what is no longer wanted is drained
//! (quiesced, then deleted once idle or at a deadline: [`super::drain`]) instead of deleted
//! at once.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;

use std::time::Instant;

use super::batch::{validate_all, BatchOutcome, Op};
use super::drain::{DrainTarget, Drainer};
use super::{Ipvs, ServiceEntry};
use crate::error::{Error, Result};
use crate::model::{Destination, ServiceId};
use crate::transport::Transport;

/// How [`plan`] treats what the desired table does not mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReconcileOptions {
    /// Delete services that are not in the desired table (default `true`). With `false`,
    /// only the services named in the desired table are managed.
    pub delete_services: bool,
}

impl ReconcileOptions {
    /// Make the table exactly the desired one: delete what is not wanted, at once.
    pub fn exact() -> ReconcileOptions {
        ReconcileOptions {
            delete_services: true,
        }
    }

    /// Manage only the services the desired table names; leave the others alone.
    #[must_use]
    pub fn keep_other_services(mut self) -> ReconcileOptions {
        self.delete_services = false;
        self
    }
}

impl Default for ReconcileOptions {
    fn default() -> ReconcileOptions {
        ReconcileOptions::exact()
    }
}

/// The operations that turn `current` into `desired`, in a safe order: service deletions,
/// service edits and additions, then per service destination deletions, edits and
/// additions. A service in `desired` twice counts once (the last wins), as does a
/// destination.
pub fn plan(
    current: &[ServiceEntry],
    desired: &[ServiceEntry],
    opts: &ReconcileOptions,
) -> Vec<Op> {
    plan_inner(current, desired, opts, None)
}

/// [`plan`] for draining: the same operations without the deletions, and the targets to
/// drain instead (the services, when `opts.delete_services`, and the destinations that are
/// no longer wanted), in the order `plan` would delete them. What
/// [`Ipvs::reconcile_draining`] applies and hands to its [`Drainer`].
///
/// ```
/// use lvs::client::{plan_draining, DrainTarget, ReconcileOptions};
/// use lvs::{Destination, Service, ServiceEntry};
/// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
/// let current = vec![ServiceEntry { service: svc.clone(), destinations: vec![real.clone()] }];
/// let desired = vec![ServiceEntry { service: svc.clone(), destinations: vec![] }];
/// let (ops, drains) = plan_draining(&current, &desired, &ReconcileOptions::exact());
/// assert!(ops.is_empty());
/// assert_eq!(drains, vec![DrainTarget::Destination(svc.id, real.socket_addr())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_draining(
    current: &[ServiceEntry],
    desired: &[ServiceEntry],
    opts: &ReconcileOptions,
) -> (Vec<Op>, Vec<DrainTarget>) {
    let mut drains = Vec::new();
    let ops = plan_inner(current, desired, opts, Some(&mut drains));
    (ops, drains)
}

/// [`plan`], with what is no longer wanted put in `drains` (when given) rather than deleted.
fn plan_inner(
    current: &[ServiceEntry],
    desired: &[ServiceEntry],
    opts: &ReconcileOptions,
    mut drains: Option<&mut Vec<DrainTarget>>,
) -> Vec<Op> {
    let have: HashMap<ServiceId, &ServiceEntry> =
        current.iter().map(|e| (e.service.id, e)).collect();
    let mut want: HashMap<ServiceId, &ServiceEntry> = HashMap::with_capacity(desired.len());
    let mut order: Vec<ServiceId> = Vec::with_capacity(desired.len());
    for e in desired {
        if want.insert(e.service.id, e).is_none() {
            order.push(e.service.id);
        }
    }

    let mut ops = Vec::new();
    if opts.delete_services {
        for e in current {
            if !want.contains_key(&e.service.id) {
                match drains.as_deref_mut() {
                    Some(drains) => drains.push(DrainTarget::Service(e.service.id)),
                    None => ops.push(Op::DeleteService(e.service.id)),
                }
            }
        }
    }
    for id in &order {
        let Some(w) = want.get(id) else { continue };
        match have.get(id) {
            None => ops.push(Op::AddService(w.service.clone())),
            Some(h) if !h.service.same_config(&w.service) => {
                ops.push(Op::UpdateService(w.service.clone()))
            }
            Some(_) => {}
        }
    }
    for id in &order {
        let Some(w) = want.get(id) else { continue };
        let existing: &[Destination] = have.get(id).map_or(&[], |h| &h.destinations);
        plan_destinations(
            &mut ops,
            id,
            existing,
            &w.destinations,
            drains.as_deref_mut(),
        );
    }
    ops
}

fn plan_destinations(
    ops: &mut Vec<Op>,
    id: &ServiceId,
    have: &[Destination],
    want: &[Destination],
    mut drains: Option<&mut Vec<DrainTarget>>,
) {
    let mut wanted: HashMap<SocketAddr, &Destination> = HashMap::with_capacity(want.len());
    let mut order = Vec::with_capacity(want.len());
    for d in want {
        if wanted.insert(d.socket_addr(), d).is_none() {
            order.push(d.socket_addr());
        }
    }
    let existing: HashMap<SocketAddr, &Destination> =
        have.iter().map(|d| (d.socket_addr(), d)).collect();
    let mut seen = HashSet::with_capacity(have.len());
    for d in have {
        let addr = d.socket_addr();
        if wanted.contains_key(&addr) || !seen.insert(addr) {
            continue;
        }
        match drains.as_deref_mut() {
            Some(drains) => drains.push(DrainTarget::Destination(*id, addr)),
            None => ops.push(Op::DeleteDestination(*id, addr)),
        }
    }
    for addr in order {
        let Some(w) = wanted.get(&addr) else { continue };
        match existing.get(&addr) {
            None => ops.push(Op::AddDestination(*id, (*w).clone())),
            Some(h) if !h.same_config(w) => ops.push(Op::UpdateDestination(*id, (*w).clone())),
            Some(_) => {}
        }
    }
}

/// What [`Ipvs::reconcile`] did: the plan and the result of each of its writes.
///
/// Dropping it unread is a warning (`unused_must_use`):
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn sync(ipvs: &mut lvs::Ipvs, desired: &[lvs::ServiceEntry]) -> lvs::Result<()> {
///     ipvs.reconcile(desired, &lvs::client::ReconcileOptions::exact())?; // refusals ignored
///     Ok(())
/// }
/// ```
///
/// ```
/// #![deny(unused_must_use)]
/// fn sync(ipvs: &mut lvs::Ipvs, desired: &[lvs::ServiceEntry]) -> lvs::Result<()> {
///     ipvs.reconcile_strict(desired, &lvs::client::ReconcileOptions::exact())?;
///     Ok(())
/// }
/// ```
///
/// A refused write does not make `reconcile` fail (the others are applied); check the report,
/// or turn any refusal into an error with [`into_result`](Self::into_result) (or call
/// [`Ipvs::reconcile_strict`]). Its `Display` is a line to log: `2 writes: 2 applied, 0
/// refused`.
#[derive(Debug)]
#[must_use = "refused writes are only in the report: check it, or call into_result() or reconcile_strict()"]
pub struct ReconcileReport {
    /// The planned operations, in the order they were applied.
    pub ops: Vec<Op>,
    /// The result of each.
    pub outcome: BatchOutcome,
}

impl ReconcileReport {
    /// Whether every planned write was applied (also when there was nothing to do).
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The report if every write was applied; otherwise [`Error::Refused`] with every
    /// refusal, each naming its operation and object.
    pub fn into_result(self) -> Result<ReconcileReport> {
        if self.is_ok() {
            return Ok(self);
        }
        Err(Error::Refused {
            total: self.ops.len(),
            applied: self.outcome.applied(),
            refused: self.outcome.into_errors(),
        })
    }
}

impl fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ops.is_empty() {
            return f.write_str("nothing to do");
        }
        let refused = self.ops.len() - self.outcome.applied();
        write!(
            f,
            "{} writes: {} applied, {refused} refused",
            self.ops.len(),
            self.outcome.applied()
        )?;
        if let Some((i, e)) = self.outcome.failures().next() {
            write!(f, " (first: {}: {e})", self.ops[i])?;
        }
        Ok(())
    }
}

impl<T: Transport> Ipvs<T> {
    /// Make the table the desired one with the fewest writes: read it (one dump),
    /// [`plan`] the difference, and apply the plan as one batch. An unchanged table costs the
    /// dump and no write. Refused operations are reported in the outcome, each with its
    /// named error; the others are applied.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::ReconcileOptions;
    /// use lvs::transport::MockKernel;
    /// use lvs::{Destination, Ipvs, Scheduler, Service, ServiceEntry};
    ///
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let desired = vec![ServiceEntry {
    ///     service: Service::tcp("10.0.0.1:80".parse()?).scheduler(Scheduler::Rr).build()?,
    ///     destinations: vec![Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?],
    /// }];
    /// let first = ipvs.reconcile(&desired, &ReconcileOptions::exact())?;
    /// assert_eq!(first.ops.len(), 2); // add the service, add the destination
    /// let again = ipvs.reconcile(&desired, &ReconcileOptions::exact())?;
    /// assert!(again.ops.is_empty()); // nothing to do
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
    ) -> Result<ReconcileReport> {
        let current = self.table()?;
        let ops = plan(&current, desired, opts);
        let outcome = if ops.is_empty() {
            BatchOutcome::default()
        } else {
            self.apply(&ops)?
        };
        Ok(ReconcileReport { ops, outcome })
    }

    /// [`reconcile`](Self::reconcile), with any refused write an error: `Ok` with the writes
    /// made (all applied; none when the table was already the desired one) only when the
    /// table is the desired one, [`Error::Refused`] (every refusal named) otherwise.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::ReconcileOptions;
    /// use lvs::transport::MockKernel;
    /// use lvs::{Ipvs, Scheduler, Service, ServiceEntry};
    ///
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// // A scheduler no kernel has: the kernel refuses the service.
    /// let service = Service::tcp("10.0.0.1:80".parse()?).scheduler(Scheduler::Other("rrr".into())).build()?;
    /// let desired = vec![ServiceEntry { service, destinations: vec![] }];
    /// let e = ipvs.reconcile_strict(&desired, &ReconcileOptions::exact()).unwrap_err();
    /// assert!(matches!(e, lvs::Error::Refused { applied: 0, .. }), "{e}");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile_strict(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
    ) -> Result<Vec<Op>> {
        Ok(self.reconcile(desired, opts)?.into_result()?.ops)
    }

    /// [`reconcile`](Self::reconcile), draining what is no longer wanted instead of deleting
    /// it at once, now: see [`reconcile_draining_at`](Self::reconcile_draining_at).
    pub fn reconcile_draining(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
        drainer: &mut Drainer,
    ) -> Result<ReconcileReport> {
        self.reconcile_draining_at(desired, opts, drainer, Instant::now())
    }

    /// [`reconcile`](Self::reconcile), with what is no longer wanted drained by `drainer`
    /// (with its [policy](Drainer::policy)) instead of deleted at once; call it again (every
    /// few seconds, or when the configuration changes) to move the drains on.
    ///
    /// Each call reads the table (one dump) and:
    /// - cancels the drains of what `desired` wants again (a destination, or a service):
    ///   the plan gives a wanted-again destination its configured weight back;
    /// - starts a drain ([`Drainer::start`] at `now`) of every destination, and every
    ///   service when `opts.delete_services`, that is no longer wanted
    ///   ([`plan_draining`]); a service's drain replaces those of its destinations;
    /// - sends the plan's writes and one step of every drain ([`Drainer::plan`]) as one
    ///   batch, and records the drains' results in `drainer`.
    ///
    /// The plan's writes are validated as [`apply`](Self::apply) does (an invalid one sends
    /// nothing and leaves `drainer` as it was); the drains' writes go as they are. The
    /// report has every write, the drains' last; their refusals are in it and in the
    /// drains' progress (retried at the next call).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use std::time::{Duration, Instant};
    /// use lvs::client::{DrainPolicy, Drainer, ReconcileOptions};
    /// use lvs::transport::MockKernel;
    /// use lvs::{Destination, Ipvs, Service, ServiceEntry};
    ///
    /// let mock = MockKernel::new();
    /// let mut ipvs = Ipvs::with_transport(mock.clone());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let a = Destination::builder("10.0.0.2:80".parse()?).masquerade().weight(3).build()?;
    /// let b = Destination::builder("10.0.0.3:80".parse()?).masquerade().weight(3).build()?;
    /// let both = vec![ServiceEntry { service: svc.clone(), destinations: vec![a.clone(), b.clone()] }];
    /// let opts = ReconcileOptions::exact();
    /// let mut drainer = Drainer::new(DrainPolicy::default().deadline(Duration::from_secs(60)));
    /// let t0 = Instant::now();
    /// ipvs.reconcile_draining_at(&both, &opts, &mut drainer, t0)?.into_result()?;
    /// mock.set_connections(&svc.id, b.socket_addr(), 1, 0);
    ///
    /// // b leaves the configuration: quiesced, kept while its connection lasts.
    /// let only_a = vec![ServiceEntry { service: svc.clone(), destinations: vec![a] }];
    /// ipvs.reconcile_draining_at(&only_a, &opts, &mut drainer, t0)?.into_result()?;
    /// ipvs.reconcile_draining_at(&only_a, &opts, &mut drainer, t0 + Duration::from_secs(5))?;
    /// assert_eq!(ipvs.destination(&svc.id, b.socket_addr())?.weight, 0);
    /// // The deadline passed: deleted.
    /// ipvs.reconcile_draining_at(&only_a, &opts, &mut drainer, t0 + Duration::from_secs(60))?;
    /// assert_eq!(ipvs.destinations(&svc.id)?.len(), 1);
    /// assert!(drainer.is_finished());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile_draining_at(
        &mut self,
        desired: &[ServiceEntry],
        opts: &ReconcileOptions,
        drainer: &mut Drainer,
        now: Instant,
    ) -> Result<ReconcileReport> {
        let current = self.table()?;
        let (mut ops, drains) = plan_draining(&current, desired, opts);
        validate_all(&ops)?;
        let planned = ops.len();
        start_drains(drainer, desired, drains, now);
        let have: HashMap<ServiceId, &[Destination]> = current
            .iter()
            .map(|e| (e.service.id, e.destinations.as_slice()))
            .collect();
        ops.extend(drainer.plan(now, |id| have.get(id).copied()));
        if ops.is_empty() {
            return Ok(ReconcileReport {
                ops,
                outcome: BatchOutcome::default(),
            });
        }
        match self.apply_unvalidated(&ops) {
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
}

/// Cancel the drains of what `desired` wants, then start `drains` at `now` (a service's
/// drain replaces those of its destinations).
pub(crate) fn start_drains(
    drainer: &mut Drainer,
    desired: &[ServiceEntry],
    drains: Vec<DrainTarget>,
    now: Instant,
) {
    for p in drainer.progress() {
        let wanted = desired.iter().any(|e| match p.target {
            DrainTarget::Service(id) => e.service.id == id,
            DrainTarget::Destination(id, addr) => {
                e.service.id == id && e.destinations.iter().any(|d| d.socket_addr() == addr)
            }
        });
        if wanted {
            drainer.cancel(&p.target);
        }
    }
    for t in drains {
        if let DrainTarget::Service(id) = t {
            for p in drainer.progress() {
                if matches!(p.target, DrainTarget::Destination(s, _) if s == id) {
                    drainer.cancel(&p.target);
                }
            }
        }
        drainer.start(t, now);
    }
}
