//! A long-running reconciler: updates in O(changes) (see [`Reconciler`]).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::batch::{validate_all, BatchOutcome, Op};
use super::reconcile::ReconcileOptions;
use super::{Ipvs, ServiceEntry};
use crate::error::{Error, KernelContext, Operation, Result};
use crate::model::{diff, Destination, Difference, Service, ServiceId};
use crate::transport::Transport;

/// One service of the cache, as last applied (configuration only: no stats or counters).
#[derive(Debug, Clone)]
struct Cached {
    /// Insertion order, for a stable listing.
    seq: u64,
    service: Service,
    destinations: HashMap<SocketAddr, (u64, Destination)>,
}

impl Cached {
    /// The destinations in insertion order.
    fn sorted_destinations(&self) -> Vec<&Destination> {
        let mut v: Vec<&(u64, Destination)> = self.destinations.values().collect();
        v.sort_unstable_by_key(|(seq, _)| *seq);
        v.into_iter().map(|(_, d)| d).collect()
    }
}

/// What the caller wants done to a service's own configuration.
#[derive(Debug, Clone)]
enum Intent {
    /// Nothing (only its destinations change).
    Keep,
    /// Add it, or edit it to this configuration.
    Upsert(Box<Service>),
    /// Delete it, with its destinations.
    Remove,
}

/// The changes recorded for one service and not applied yet.
#[derive(Debug, Clone)]
struct Pending {
    service: Intent,
    /// The cached destinations not named in `destinations` go (the service was given whole,
    /// or removed).
    replace_destinations: bool,
    /// Wanted (`Some`) or to delete (`None`), by address, in the order first named.
    destinations: Vec<(SocketAddr, Option<Destination>)>,
    index: HashMap<SocketAddr, usize>,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            service: Intent::Keep,
            replace_destinations: false,
            destinations: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn clear_destinations(&mut self) {
        self.destinations.clear();
        self.index.clear();
    }

    fn set_destination(&mut self, addr: SocketAddr, d: Option<Destination>) {
        match self.index.get(&addr) {
            Some(&i) => self.destinations[i].1 = d,
            None => {
                self.index.insert(addr, self.destinations.len());
                self.destinations.push((addr, d));
            }
        }
    }
}

/// Keeps the table it last applied and applies changes in O(changes).
///
/// [`Ipvs::reconcile`](super::Ipvs::reconcile) reads the whole table (one dump) on every
/// call, so changing one weight of a 10,000-service table costs the dump of 10,000 services.
/// A [`Reconciler`] keeps the table it last applied instead, indexed by service identity and
/// destination address, and turns a change into the few writes that differ without reading
/// the kernel:
///
/// - the delta API ([`upsert_service`](Reconciler::upsert_service),
///   [`upsert_entry`](Reconciler::upsert_entry), [`remove_service`](Reconciler::remove_service),
///   [`upsert_destination`](Reconciler::upsert_destination),
///   [`remove_destination`](Reconciler::remove_destination)) records changes, each compared
///   with the cached table in O(size of the change); [`apply`](Reconciler::apply) sends the
///   writes they need as one batch;
/// - [`reconcile_changed`](Reconciler::reconcile_changed) does both for a list of changed
///   and removed services;
/// - [`reconcile`](Reconciler::reconcile) takes a whole desired table, as `Ipvs::reconcile`
///   does, and plans it against the cache: that is O(desired table) hashing, since the
///   caller hands the whole table, but no dump.
///
/// The cache is updated from what the kernel accepted. The kernel's table is read again
/// (a *resync*) only when the configured interval has passed
/// ([`with_resync_interval`](Reconciler::with_resync_interval)) or after a refused write or a
/// transport error: what others changed in between (the drift) is reported as typed
/// [`Difference`]s, and the writes are then planned against the table as read, so drift is
/// **repaired** toward the desired state (a service another writer added is deleted under
/// [`ReconcileOptions::exact`], and adopted, left alone, under
/// [`keep_other_services`](ReconcileOptions::keep_other_services)).
///
/// Built by one read of the table ([`from_kernel`](Self::from_kernel)), or empty
/// ([`new`](Self::new), which reads it at the first apply). Changes go either through the
/// delta API, whose calls only record them, then [`apply`](Self::apply) (one batch), or
/// through [`reconcile`](Self::reconcile) (a whole desired table) and
/// [`reconcile_changed`](Self::reconcile_changed). The time is an argument (`now`), so that
/// the resync interval can be tested without a clock.
///
/// ```
/// # #[cfg(feature = "mock")] {
/// use std::time::{Duration, Instant};
/// use lvs::client::{ReconcileOptions, Reconciler};
/// use lvs::transport::MockKernel;
/// use lvs::{Destination, Ipvs, Service, ServiceEntry};
///
/// let mut ipvs = Ipvs::with_transport(MockKernel::new());
/// let mut rec = Reconciler::from_kernel(&mut ipvs, ReconcileOptions::exact())?
///     .with_resync_interval(Some(Duration::from_secs(60)));
/// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// let mut real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
/// let desired = vec![ServiceEntry { service: svc.clone(), destinations: vec![real.clone()] }];
/// let now = Instant::now();
/// rec.reconcile(&mut ipvs, &desired, now)?.into_result()?; // two writes, no dump
///
/// // One weight: one write.
/// real.weight = 5;
/// rec.upsert_destination(&svc.id, &real)?;
/// let report = rec.apply(&mut ipvs, now)?.into_result()?;
/// assert_eq!(report.ops.len(), 1);
/// assert_eq!(ipvs.destination(&svc.id, real.socket_addr())?.weight, 5);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reconciler {
    opts: ReconcileOptions,
    resync_every: Option<Duration>,
    /// When the table was last read; `None` before the first read.
    last_sync: Option<Instant>,
    needs_resync: bool,
    next_seq: u64,
    cache: HashMap<ServiceId, Cached>,
    pending: HashMap<ServiceId, Pending>,
    /// The services of `pending`, in the order first changed.
    pending_order: Vec<ServiceId>,
}

impl Reconciler {
    /// A reconciler that knows nothing yet: the first [`apply`](Self::apply) or
    /// [`reconcile`](Self::reconcile) reads the table (a resync with no drift to report).
    /// No resync interval: the table is read again only after a refusal or a transport
    /// error.
    ///
    /// ```
    /// use lvs::client::{ReconcileOptions, Reconciler};
    /// let rec = Reconciler::new(ReconcileOptions::exact());
    /// assert!(rec.needs_resync() && rec.is_empty());
    /// ```
    pub fn new(opts: ReconcileOptions) -> Reconciler {
        Reconciler {
            opts,
            resync_every: None,
            last_sync: None,
            needs_resync: true,
            next_seq: 0,
            cache: HashMap::new(),
            pending: HashMap::new(),
            pending_order: Vec::new(),
        }
    }

    /// A reconciler that starts from the table as it is now: one full read.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::{ReconcileOptions, Reconciler};
    /// use lvs::{transport::MockKernel, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// ipvs.add_service(&svc)?;
    /// let rec = Reconciler::from_kernel(&mut ipvs, ReconcileOptions::exact())?;
    /// assert!(rec.service(&svc.id).is_some() && !rec.needs_resync());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_kernel<T: Transport>(
        ipvs: &mut Ipvs<T>,
        opts: ReconcileOptions,
    ) -> Result<Reconciler> {
        let mut r = Reconciler::new(opts);
        r.resync(ipvs, Instant::now())?;
        Ok(r)
    }

    /// Read the table again when `every` has passed since the last read (`None`, the
    /// default: only after a refusal or a transport error). The check is made at each
    /// [`apply`](Self::apply) and [`reconcile`](Self::reconcile), against their `now`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use lvs::client::{ReconcileOptions, Reconciler};
    /// let rec = Reconciler::new(ReconcileOptions::exact())
    ///     .with_resync_interval(Some(Duration::from_secs(300)));
    /// assert_eq!(rec.resync_interval(), Some(Duration::from_secs(300)));
    /// assert!(rec.resync_due(Instant::now())); // never read yet
    /// ```
    #[must_use]
    pub fn with_resync_interval(mut self, every: Option<Duration>) -> Reconciler {
        self.resync_every = every;
        self
    }

    /// The resync interval ([`with_resync_interval`](Self::with_resync_interval)).
    ///
    /// ```
    /// let rec = lvs::client::Reconciler::new(Default::default());
    /// assert_eq!(rec.resync_interval(), None);
    /// ```
    pub fn resync_interval(&self) -> Option<Duration> {
        self.resync_every
    }

    /// The options (what is done with services the desired table does not name).
    ///
    /// ```
    /// use lvs::client::{ReconcileOptions, Reconciler};
    /// let rec = Reconciler::new(ReconcileOptions::exact().keep_other_services());
    /// assert!(!rec.options().delete_services);
    /// ```
    pub fn options(&self) -> &ReconcileOptions {
        &self.opts
    }

    /// Whether the next apply reads the table first because something went wrong (a
    /// refused write, a transport error, [`mark_resync`](Self::mark_resync)) or it was never
    /// read.
    ///
    /// ```
    /// let mut rec = lvs::client::Reconciler::new(Default::default());
    /// assert!(rec.needs_resync());
    /// ```
    pub fn needs_resync(&self) -> bool {
        self.needs_resync
    }

    /// Whether the next apply at `now` reads the table first: [`needs_resync`](Self::needs_resync),
    /// or the resync interval has passed.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use std::time::{Duration, Instant};
    /// use lvs::client::Reconciler;
    /// let mut ipvs = lvs::Ipvs::with_transport(lvs::transport::MockKernel::new());
    /// let rec = Reconciler::from_kernel(&mut ipvs, Default::default())?
    ///     .with_resync_interval(Some(Duration::from_secs(60)));
    /// let now = Instant::now();
    /// assert!(!rec.resync_due(now));
    /// assert!(rec.resync_due(now + Duration::from_secs(61)));
    /// # }
    /// # Ok::<(), lvs::Error>(())
    /// ```
    pub fn resync_due(&self, now: Instant) -> bool {
        match (self.needs_resync, self.last_sync, self.resync_every) {
            (true, _, _) | (_, None, _) => true,
            (false, Some(last), Some(every)) => now.saturating_duration_since(last) >= every,
            (false, Some(_), None) => false,
        }
    }

    /// Read the table again at the next apply (for example when the caller suspects that
    /// someone else wrote to it).
    ///
    /// ```
    /// let mut rec = lvs::client::Reconciler::new(Default::default());
    /// rec.mark_resync();
    /// assert!(rec.needs_resync());
    /// ```
    pub fn mark_resync(&mut self) {
        self.needs_resync = true;
    }

    /// How many services the cache holds.
    ///
    /// ```
    /// assert_eq!(lvs::client::Reconciler::new(Default::default()).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether the cache holds no service.
    ///
    /// ```
    /// assert!(lvs::client::Reconciler::new(Default::default()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// A service as last applied (or read), in O(1); `None` if the cache does not have it.
    /// Recorded changes not applied yet are not in it.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// rec.upsert_service(&svc)?;
    /// assert!(rec.service(&svc.id).is_none()); // recorded, not applied
    /// rec.apply(&mut ipvs, std::time::Instant::now())?.into_result()?;
    /// assert!(rec.service(&svc.id).unwrap().same_config(&svc));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn service(&self, id: &ServiceId) -> Option<&Service> {
        self.cache.get(id).map(|c| &c.service)
    }

    /// A destination as last applied (or read), in O(1).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Destination, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// ipvs.add_service(&svc)?;
    /// ipvs.add_destination(&svc.id, &real)?;
    /// let rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// assert_eq!(rec.destination(&svc.id, real.socket_addr()).unwrap().weight, 1);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destination(&self, id: &ServiceId, addr: SocketAddr) -> Option<&Destination> {
        self.cache.get(id)?.destinations.get(&addr).map(|(_, d)| d)
    }

    /// The cached table, as a listing (O(table)): what the reconciler believes the kernel
    /// holds, configuration only (no stats or counters).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// ipvs.add_service(&Service::tcp("10.0.0.1:80".parse()?).build()?)?;
    /// let rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// assert!(lvs::model::same_config(&rec.table(), &ipvs.table()?));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn table(&self) -> Vec<ServiceEntry> {
        self.sorted_cache()
            .into_iter()
            .map(|c| ServiceEntry {
                service: c.service.clone(),
                destinations: c.sorted_destinations().into_iter().cloned().collect(),
            })
            .collect()
    }

    /// Record a service's configuration (scheduler, flags, persistence, engine): added if
    /// the cache does not have it, edited if it differs, nothing if it is the same. Its
    /// destinations are left as they are (after a [`remove_service`](Self::remove_service),
    /// it comes back without any). Checked as [`Ipvs::add_service`] checks it; nothing is
    /// sent before [`apply`](Self::apply).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Ipvs, Scheduler, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).scheduler(Scheduler::Rr).build()?;
    /// rec.upsert_service(&svc)?;
    /// assert_eq!(rec.pending_ops().len(), 1); // add
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert_service(&mut self, service: &Service) -> Result<()> {
        service.validate()?;
        // After a removal, `replace_destinations` is set: the service comes back empty.
        self.pending_mut(service.id).service = Intent::Upsert(Box::new(service.clone()));
        Ok(())
    }

    /// Record a service whole: its configuration as [`upsert_service`](Self::upsert_service)
    /// does, and exactly these destinations (the others it has go; a destination given twice
    /// counts once, the last). O(its destinations).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Destination, Ipvs, Service, ServiceEntry};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// let service = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// rec.upsert_entry(&ServiceEntry { service, destinations: vec![real] })?;
    /// assert_eq!(rec.pending_ops().len(), 2);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert_entry(&mut self, entry: &ServiceEntry) -> Result<()> {
        let id = entry.service.id;
        entry.service.validate()?;
        for d in &entry.destinations {
            d.validate_for(&id)?;
        }
        let p = self.pending_mut(id);
        p.service = Intent::Upsert(Box::new(entry.service.clone()));
        p.replace_destinations = true;
        p.clear_destinations();
        for d in &entry.destinations {
            p.set_destination(d.socket_addr(), Some(d.clone()));
        }
        Ok(())
    }

    /// Record the removal of a service and its destinations (nothing if the cache does not
    /// have it). O(1).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::{Op, Reconciler};
    /// use lvs::{transport::MockKernel, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// ipvs.add_service(&svc)?;
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// rec.remove_service(&svc.id);
    /// assert_eq!(rec.pending_ops(), [Op::DeleteService(svc.id)]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_service(&mut self, id: &ServiceId) {
        let p = self.pending_mut(*id);
        p.service = Intent::Remove;
        p.replace_destinations = true;
        p.clear_destinations();
    }

    /// Record a destination of a service: added if the cache does not have it, edited if
    /// its configuration (forwarding, weight, thresholds) differs, nothing if it is the
    /// same. Checked for its service as [`Ipvs::add_destination`] checks it. O(1).
    ///
    /// [`Error::NoSuchService`] if the service is neither in the cache nor recorded (or its
    /// removal is recorded).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Destination, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let mut real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// ipvs.add_service(&svc)?;
    /// ipvs.add_destination(&svc.id, &real)?;
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// rec.upsert_destination(&svc.id, &real)?;
    /// assert!(rec.pending_ops().is_empty()); // the same: nothing to do
    /// real.weight = 3;
    /// rec.upsert_destination(&svc.id, &real)?;
    /// assert_eq!(rec.pending_ops().len(), 1); // one edit
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert_destination(&mut self, id: &ServiceId, dest: &Destination) -> Result<()> {
        dest.validate_for(id)?;
        let known = match self.pending.get(id).map(|p| &p.service) {
            Some(Intent::Upsert(_)) => true,
            Some(Intent::Remove) => false,
            Some(Intent::Keep) | None => self.cache.contains_key(id),
        };
        if !known {
            return Err(Error::NoSuchService(KernelContext::new(
                libc::ESRCH,
                Operation::AddDestination,
                format!("{id} -> {}", dest.socket_addr()),
            )));
        }
        self.pending_mut(*id)
            .set_destination(dest.socket_addr(), Some(dest.clone()));
        Ok(())
    }

    /// Record the removal of a destination (nothing if the cache does not have it). O(1).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::{Op, Reconciler};
    /// use lvs::{transport::MockKernel, Destination, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// ipvs.add_service(&svc)?;
    /// ipvs.add_destination(&svc.id, &real)?;
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// rec.remove_destination(&svc.id, real.socket_addr());
    /// assert_eq!(rec.pending_ops(), [Op::DeleteDestination(svc.id, real.socket_addr())]);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_destination(&mut self, id: &ServiceId, addr: SocketAddr) {
        self.pending_mut(*id).set_destination(addr, None);
    }

    /// The writes the recorded changes need against the cache, in the order
    /// [`apply`](Self::apply) sends them when no resync is due: service deletions, service
    /// additions and edits, destination deletions, destination additions and edits.
    /// O(recorded changes).
    ///
    /// ```
    /// let rec = lvs::client::Reconciler::new(Default::default());
    /// assert!(rec.pending_ops().is_empty());
    /// ```
    pub fn pending_ops(&self) -> Vec<Op> {
        let (mut del_svc, mut svc, mut del_dest, mut dest) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for id in &self.pending_order {
            let Some(p) = self.pending.get(id) else {
                continue;
            };
            let cached = self.cache.get(id);
            match (&p.service, cached) {
                (Intent::Remove, Some(_)) => {
                    del_svc.push(Op::DeleteService(*id));
                    continue;
                }
                (Intent::Remove, None) => continue,
                (Intent::Upsert(s), None) => svc.push(Op::AddService((**s).clone())),
                (Intent::Upsert(s), Some(c)) if !c.service.same_config(s) => {
                    svc.push(Op::UpdateService((**s).clone()))
                }
                _ => {}
            }
            if let (Some(c), true) = (cached, p.replace_destinations) {
                for d in c.sorted_destinations() {
                    if !p.index.contains_key(&d.socket_addr()) {
                        del_dest.push(Op::DeleteDestination(*id, d.socket_addr()));
                    }
                }
            }
            for (addr, want) in &p.destinations {
                let have = cached
                    .and_then(|c| c.destinations.get(addr))
                    .map(|(_, d)| d);
                match (want, have) {
                    (Some(w), None) => dest.push(Op::AddDestination(*id, w.clone())),
                    (Some(w), Some(h)) if !h.same_config(w) => {
                        dest.push(Op::UpdateDestination(*id, w.clone()))
                    }
                    (None, Some(_)) => del_dest.push(Op::DeleteDestination(*id, *addr)),
                    _ => {}
                }
            }
        }
        del_svc.extend(svc);
        del_svc.extend(del_dest);
        del_svc.extend(dest);
        del_svc
    }

    /// Forget the recorded changes.
    ///
    /// ```
    /// let mut rec = lvs::client::Reconciler::new(Default::default());
    /// rec.remove_service(&lvs::ServiceId::fwmark(7));
    /// rec.clear_pending();
    /// assert!(rec.pending_ops().is_empty());
    /// ```
    pub fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_order.clear();
    }

    /// Send the recorded changes as one batch; the cache takes what the kernel accepted.
    ///
    /// When no resync is due ([`resync_due`](Self::resync_due)), the writes are those of
    /// [`pending_ops`](Self::pending_ops): O(changes), no read, nothing sent when there is
    /// nothing to change. When one is due, the table is read first (one dump), the drift
    /// (what differs from the cache) goes in the report, and the writes are planned from
    /// the table as read to the cache with the recorded changes: drift is repaired.
    ///
    /// A refused write is in the report (the others are applied), is dropped from the
    /// recorded changes, and makes the next call resync. A transport error is returned, the
    /// recorded changes are kept, and the next call resyncs (writes of the failed batch
    /// that did reach the kernel then show as drift).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use std::time::Instant;
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Destination, Ipvs, Service};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// rec.upsert_service(&svc)?;
    /// rec.upsert_destination(&svc.id, &Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?)?;
    /// let report = rec.apply(&mut ipvs, Instant::now())?;
    /// assert_eq!(report.to_string(), "2 writes: 2 applied, 0 refused");
    /// assert!(rec.apply(&mut ipvs, Instant::now())?.ops.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        now: Instant,
    ) -> Result<ReconcilerReport> {
        if !self.resync_due(now) {
            let ops = self.pending_ops();
            let report = self.send(ipvs, ops, false, None)?;
            self.clear_pending();
            return Ok(report);
        }
        // The desired table: the cache with the recorded changes, as it is before the read.
        let removed: Vec<ServiceId> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p.service, Intent::Remove))
            .map(|(id, _)| *id)
            .collect();
        let target = self.target_table();
        let drift = self.resync(ipvs, now)?;
        let ops = self.plan_cached(&target, &removed);
        // Kernel-held values (a weight above the builders' limit) may be written back as
        // they are; the recorded changes were checked when recorded.
        let report = self.send(ipvs, ops, false, Some(drift))?;
        self.clear_pending();
        Ok(report)
    }

    /// Make the table the desired one, planned against the cache: the writes
    /// [`plan`](super::plan) would plan against the table, without reading it (unless a
    /// resync is due: see [`apply`](Self::apply)), sent as one batch. This hashes the whole
    /// desired table (O(desired)): the caller hands it whole; for O(changes), use
    /// [`reconcile_changed`](Self::reconcile_changed) or the delta API. Recorded changes not
    /// applied yet are dropped: `desired` says it all. The writes are checked as
    /// [`Ipvs::apply`] checks them (an invalid one sends nothing).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use std::time::Instant;
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Destination, Ipvs, Service, ServiceEntry};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// let service = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// let desired = vec![ServiceEntry { service, destinations: vec![real] }];
    /// assert_eq!(rec.reconcile(&mut ipvs, &desired, Instant::now())?.ops.len(), 2);
    /// assert!(rec.reconcile(&mut ipvs, &desired, Instant::now())?.ops.is_empty());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        desired: &[ServiceEntry],
        now: Instant,
    ) -> Result<ReconcilerReport> {
        self.clear_pending();
        let drift = if self.resync_due(now) {
            Some(self.resync(ipvs, now)?)
        } else {
            None
        };
        let ops = self.plan_cached(desired, &[]);
        self.send(ipvs, ops, true, drift)
    }

    /// Apply a change given as the services that changed (each whole, as
    /// [`upsert_entry`](Self::upsert_entry) takes it) and those removed: O(size of the
    /// change), then [`apply`](Self::apply). Services not named are left as they are
    /// (whatever the options). Changes recorded before are applied with these.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use std::time::Instant;
    /// use lvs::client::Reconciler;
    /// use lvs::{transport::MockKernel, Destination, Ipvs, Service, ServiceEntry};
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let old = Service::tcp("10.0.0.9:80".parse()?).build()?;
    /// ipvs.add_service(&old)?;
    /// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// let service = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let real = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// let changed = [ServiceEntry { service, destinations: vec![real] }];
    /// let report = rec.reconcile_changed(&mut ipvs, &changed, &[old.id], Instant::now())?;
    /// assert_eq!(report.ops.len(), 3); // delete the old, add the new and its destination
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile_changed<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        changed: &[ServiceEntry],
        removed: &[ServiceId],
        now: Instant,
    ) -> Result<ReconcilerReport> {
        for e in changed {
            e.service.validate()?;
            for d in &e.destinations {
                d.validate_for(&e.service.id)?;
            }
        }
        for e in changed {
            self.upsert_entry(e)?;
        }
        for id in removed {
            self.remove_service(id);
        }
        self.apply(ipvs, now)
    }

    fn pending_mut(&mut self, id: ServiceId) -> &mut Pending {
        let order = &mut self.pending_order;
        self.pending.entry(id).or_insert_with(|| {
            order.push(id);
            Pending::new()
        })
    }

    fn sorted_cache(&self) -> Vec<&Cached> {
        let mut v: Vec<&Cached> = self.cache.values().collect();
        v.sort_unstable_by_key(|c| c.seq);
        v
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The cache with the recorded changes: the desired table of a delta apply. O(table).
    fn target_table(&self) -> Vec<ServiceEntry> {
        let mut out = Vec::with_capacity(self.cache.len() + self.pending.len());
        for c in self.sorted_cache() {
            let Some(p) = self.pending.get(&c.service.id) else {
                out.push(ServiceEntry {
                    service: c.service.clone(),
                    destinations: c.sorted_destinations().into_iter().cloned().collect(),
                });
                continue;
            };
            let service = match &p.service {
                Intent::Remove => continue,
                Intent::Upsert(s) => (**s).clone(),
                Intent::Keep => c.service.clone(),
            };
            let mut destinations: Vec<Destination> = Vec::new();
            if !p.replace_destinations {
                destinations.extend(
                    c.sorted_destinations()
                        .into_iter()
                        .filter(|d| !p.index.contains_key(&d.socket_addr()))
                        .cloned(),
                );
            }
            destinations.extend(p.destinations.iter().filter_map(|(_, d)| d.clone()));
            out.push(ServiceEntry {
                service,
                destinations,
            });
        }
        for id in &self.pending_order {
            if self.cache.contains_key(id) {
                continue;
            }
            if let Some(Pending {
                service: Intent::Upsert(s),
                destinations,
                ..
            }) = self.pending.get(id)
            {
                out.push(ServiceEntry {
                    service: (**s).clone(),
                    destinations: destinations.iter().filter_map(|(_, d)| d.clone()).collect(),
                });
            }
        }
        out
    }

    /// What [`plan`](super::plan) plans from the cache to `desired`, plus the deletion of
    /// `removed` services the desired table does not name (whatever the options):
    /// O(desired) and the cache's services, which are walked only when services are to be
    /// deleted and some are not in `desired`.
    fn plan_cached(&self, desired: &[ServiceEntry], removed: &[ServiceId]) -> Vec<Op> {
        let mut want: HashMap<ServiceId, &ServiceEntry> = HashMap::with_capacity(desired.len());
        let mut order: Vec<ServiceId> = Vec::with_capacity(desired.len());
        for e in desired {
            if want.insert(e.service.id, e).is_none() {
                order.push(e.service.id);
            }
        }
        let mut ops = Vec::new();
        let cached_wanted = order
            .iter()
            .filter(|id| self.cache.contains_key(id))
            .count();
        if self.opts.delete_services && cached_wanted < self.cache.len() {
            for c in self.sorted_cache() {
                if !want.contains_key(&c.service.id) {
                    ops.push(Op::DeleteService(c.service.id));
                }
            }
        } else {
            for id in removed {
                if self.cache.contains_key(id) && !want.contains_key(id) {
                    ops.push(Op::DeleteService(*id));
                }
            }
        }
        for id in &order {
            let w = want[id];
            match self.cache.get(id) {
                None => ops.push(Op::AddService(w.service.clone())),
                Some(c) if !c.service.same_config(&w.service) => {
                    ops.push(Op::UpdateService(w.service.clone()))
                }
                Some(_) => {}
            }
        }
        for id in &order {
            let w = want[id];
            let cached = self.cache.get(id);
            plan_cached_destinations(&mut ops, id, cached, &w.destinations);
        }
        ops
    }

    /// Read the table (one dump, without stats) into the cache; the drift from the cache
    /// as it was (none at the first read).
    fn resync<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        now: Instant,
    ) -> Result<Vec<Difference>> {
        let stats = std::mem::replace(&mut ipvs.read_stats, false);
        let read = ipvs.table();
        ipvs.read_stats = stats;
        let kernel = match read {
            Ok(t) => t,
            Err(e) => {
                self.needs_resync = true;
                return Err(e);
            }
        };
        let drift = if self.last_sync.is_some() {
            diff(&self.table(), &kernel)
        } else {
            Vec::new()
        };
        self.cache.clear();
        for e in kernel {
            self.record(&Op::AddService(e.service.clone()));
            for d in e.destinations {
                self.record(&Op::AddDestination(e.service.id, d));
            }
        }
        self.last_sync = Some(now);
        self.needs_resync = false;
        Ok(drift)
    }

    /// Send `ops` as one batch (nothing when there are none) and record what was applied.
    fn send<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        ops: Vec<Op>,
        validate: bool,
        drift: Option<Vec<Difference>>,
    ) -> Result<ReconcilerReport> {
        let resynced = drift.is_some();
        let drift = drift.unwrap_or_default();
        if ops.is_empty() {
            return Ok(ReconcilerReport {
                ops,
                outcome: BatchOutcome::default(),
                resynced,
                drift,
            });
        }
        if validate {
            validate_all(&ops)?;
        }
        let sent = match &ops[..] {
            [op] => ipvs.apply_one_unvalidated(op),
            _ => ipvs.apply_unvalidated(&ops),
        };
        let outcome = match sent {
            Ok(o) => o,
            Err(e) => {
                self.needs_resync = true;
                return Err(e);
            }
        };
        for (op, r) in ops.iter().zip(&outcome.results) {
            match r {
                Ok(()) => self.record(op),
                Err(_) => self.needs_resync = true,
            }
        }
        Ok(ReconcilerReport {
            ops,
            outcome,
            resynced,
            drift,
        })
    }

    /// Update the cache with a write the kernel accepted.
    fn record(&mut self, op: &Op) {
        match op {
            Op::AddService(s) | Op::UpdateService(s) => {
                let mut s = s.clone();
                s.stats = None;
                let add = matches!(op, Op::AddService(_));
                match self.cache.get_mut(&s.id) {
                    Some(c) => {
                        c.service = s;
                        if add {
                            c.destinations.clear();
                        }
                    }
                    None => {
                        let seq = self.seq();
                        self.cache.insert(
                            s.id,
                            Cached {
                                seq,
                                service: s,
                                destinations: HashMap::new(),
                            },
                        );
                    }
                }
            }
            Op::DeleteService(id) => {
                self.cache.remove(id);
            }
            Op::AddDestination(id, d) | Op::UpdateDestination(id, d) => {
                let seq = self.seq();
                if let Some(c) = self.cache.get_mut(id) {
                    let mut d = d.clone();
                    d.stats = None;
                    d.counters = None;
                    let seq = c
                        .destinations
                        .get(&d.socket_addr())
                        .map_or(seq, |(s, _)| *s);
                    c.destinations.insert(d.socket_addr(), (seq, d));
                }
            }
            Op::DeleteDestination(id, addr) => {
                if let Some(c) = self.cache.get_mut(id) {
                    c.destinations.remove(addr);
                }
            }
            Op::Flush => self.cache.clear(),
            _ => {}
        }
    }
}

/// The writes that turn service `id`'s cached destinations into `want` (a destination given
/// twice counts once, the last, in the place of the first): deletions, then additions and
/// edits. A service's few destinations are matched by a scan, without building a map.
fn plan_cached_destinations(
    ops: &mut Vec<Op>,
    id: &ServiceId,
    cached: Option<&Cached>,
    want: &[Destination],
) {
    const SCAN_MAX: usize = 16;
    let mut map: HashMap<SocketAddr, &Destination> = HashMap::new();
    let mut order: Vec<SocketAddr> = Vec::new();
    fn wanted<'a>(
        want: &'a [Destination],
        addr: &SocketAddr,
        map: &HashMap<SocketAddr, &'a Destination>,
    ) -> Option<&'a Destination> {
        if want.len() <= SCAN_MAX {
            want.iter().rev().find(|d| d.socket_addr() == *addr)
        } else {
            map.get(addr).copied()
        }
    }
    if want.len() > SCAN_MAX {
        map.reserve(want.len());
        for d in want {
            if map.insert(d.socket_addr(), d).is_none() {
                order.push(d.socket_addr());
            }
        }
    } else {
        for (i, d) in want.iter().enumerate() {
            let addr = d.socket_addr();
            if !want[..i].iter().any(|e| e.socket_addr() == addr) {
                order.push(addr);
            }
        }
    }
    if let Some(c) = cached {
        let kept = order
            .iter()
            .filter(|a| c.destinations.contains_key(a))
            .count();
        if kept < c.destinations.len() {
            for d in c.sorted_destinations() {
                if wanted(want, &d.socket_addr(), &map).is_none() {
                    ops.push(Op::DeleteDestination(*id, d.socket_addr()));
                }
            }
        }
    }
    for addr in order {
        let Some(w) = wanted(want, &addr, &map) else {
            continue;
        };
        match cached.and_then(|c| c.destinations.get(&addr)) {
            None => ops.push(Op::AddDestination(*id, w.clone())),
            Some((_, h)) if !h.same_config(w) => ops.push(Op::UpdateDestination(*id, w.clone())),
            Some(_) => {}
        }
    }
}

/// What a [`Reconciler`] did: the writes sent and their results, and, when it read the
/// table first (a resync), the drift it found.
///
/// Its `Display` is a line to log: `1 writes: 1 applied, 0 refused; resynced, 2 differences
/// found`.
///
/// ```
/// # #[cfg(feature = "mock")] {
/// use std::time::Instant;
/// use lvs::client::Reconciler;
/// use lvs::model::Difference;
/// use lvs::{transport::MockKernel, Ipvs, Service, ServiceEntry};
/// let mock = MockKernel::new();
/// let mut ipvs = Ipvs::with_transport(mock.clone());
/// let mut rec = Reconciler::from_kernel(&mut ipvs, Default::default())?;
/// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// let desired = vec![ServiceEntry { service: svc.clone(), destinations: vec![] }];
/// rec.reconcile(&mut ipvs, &desired, Instant::now())?.into_result()?;
/// // Someone else deletes the service; a resync finds it and puts it back.
/// Ipvs::with_transport(mock.clone()).delete_service(&svc.id)?;
/// rec.mark_resync();
/// let report = rec.reconcile(&mut ipvs, &desired, Instant::now())?;
/// assert!(report.resynced);
/// assert!(matches!(report.drift[..], [Difference::MissingService(_)]));
/// assert_eq!(report.ops.len(), 1);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "refused writes and drift are only in the report: check it, or call into_result()"]
pub struct ReconcilerReport {
    /// The writes, in the order they were sent.
    pub ops: Vec<Op>,
    /// The result of each.
    pub outcome: BatchOutcome,
    /// Whether the table was read first (a resync).
    pub resynced: bool,
    /// When it was: how the table differed from what the reconciler had applied (`want`:
    /// the cache; `have`: the table as read), that is what others changed. Repaired by
    /// `ops`, as far as the options say.
    pub drift: Vec<Difference>,
}

impl ReconcilerReport {
    /// Whether every write was applied (also when there was nothing to do).
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// let mut ipvs = lvs::Ipvs::with_transport(lvs::transport::MockKernel::new());
    /// let mut rec = lvs::client::Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// assert!(rec.apply(&mut ipvs, std::time::Instant::now())?.is_ok());
    /// # }
    /// # Ok::<(), lvs::Error>(())
    /// ```
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The report if every write was applied; otherwise [`Error::Refused`] with every
    /// refusal, each naming its operation and object.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::{Scheduler, Service, ServiceEntry};
    /// let mut ipvs = lvs::Ipvs::with_transport(lvs::transport::MockKernel::new());
    /// let mut rec = lvs::client::Reconciler::from_kernel(&mut ipvs, Default::default())?;
    /// // A scheduler no kernel has: refused, and the next call reads the table again.
    /// let service = Service::tcp("10.0.0.1:80".parse()?).scheduler(Scheduler::Other("rrr".into())).build()?;
    /// rec.upsert_service(&service)?;
    /// let e = rec.apply(&mut ipvs, std::time::Instant::now())?.into_result().unwrap_err();
    /// assert!(matches!(e, lvs::Error::Refused { applied: 0, .. }));
    /// assert!(rec.needs_resync());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_result(self) -> Result<ReconcilerReport> {
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

impl fmt::Display for ReconcilerReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ops.is_empty() {
            f.write_str("nothing to do")?;
        } else {
            let applied = self.outcome.applied();
            write!(
                f,
                "{} writes: {applied} applied, {} refused",
                self.ops.len(),
                self.ops.len() - applied
            )?;
            if let Some((i, e)) = self.outcome.failures().next() {
                write!(f, " (first: {}: {e})", self.ops[i])?;
            }
        }
        if self.resynced {
            write!(f, "; resynced, {} differences found", self.drift.len())?;
        }
        Ok(())
    }
}
