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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;

use super::batch::{BatchOutcome, Op};
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
    /// Quiesce destinations before removing them (default `false`): a destination that is no
    /// longer wanted first gets weight 0 (new connections stop, existing ones go on); it is
    /// deleted by a later reconcile, once it has weight 0 and no active or inactive
    /// connections left.
    pub quiesce: bool,
}

impl ReconcileOptions {
    /// Make the table exactly the desired one: delete what is not wanted, at once.
    pub fn exact() -> ReconcileOptions {
        ReconcileOptions {
            delete_services: true,
            quiesce: false,
        }
    }

    /// Manage only the services the desired table names; leave the others alone.
    #[must_use]
    pub fn keep_other_services(mut self) -> ReconcileOptions {
        self.delete_services = false;
        self
    }

    /// Quiesce unwanted destinations (weight 0) before deleting them.
    #[must_use]
    pub fn quiesce(mut self) -> ReconcileOptions {
        self.quiesce = true;
        self
    }
}

impl Default for ReconcileOptions {
    fn default() -> ReconcileOptions {
        ReconcileOptions::exact()
    }
}

/// The operations that turn `current` into `desired`, in a safe order: service deletions,
/// service edits and additions, then per service destination deletions (or quiescing),
/// edits and additions. A service in `desired` twice counts once (the last wins), as does a
/// destination.
pub fn plan(
    current: &[ServiceEntry],
    desired: &[ServiceEntry],
    opts: &ReconcileOptions,
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
                ops.push(Op::DeleteService(e.service.id));
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
        plan_destinations(&mut ops, id, existing, &w.destinations, opts);
    }
    ops
}

fn plan_destinations(
    ops: &mut Vec<Op>,
    id: &ServiceId,
    have: &[Destination],
    want: &[Destination],
    opts: &ReconcileOptions,
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
        if !opts.quiesce {
            ops.push(Op::DeleteDestination(*id, addr));
        } else if d.weight != 0 {
            let mut quiet = d.clone();
            quiet.weight = 0;
            ops.push(Op::UpdateDestination(*id, quiet));
        } else if d.counters.is_none_or(|c| c.active == 0 && c.inactive == 0) {
            ops.push(Op::DeleteDestination(*id, addr));
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
}
