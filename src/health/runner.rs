//! The checker at work: a schedule that spreads checks over the interval, a bounded pool of
//! probe threads, and an [`Ipvs`] handle the desired weights are written through.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::checker::{Checker, Event, ServiceCheck};
use super::probe::{Probe, ProbeResult};
use crate::client::{Ipvs, Op};
use crate::error::{Error, InvalidError, Result};
use crate::model::{ServiceEntry, ServiceId};
use crate::transport::{KernelTransport, Transport};

/// How the checker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// Probe threads: at most this many checks run at once, whatever the number of
    /// destinations (default 16). 0 runs each check on the calling thread, in
    /// [`step`](HealthChecker::step) (for tests with probes that return at once).
    pub workers: usize,
    /// How often the kernel's table is read and the desired weights written again (default:
    /// the shortest interval of the services). Transitions are written at once, whatever
    /// this is.
    pub sync_interval: Option<Duration>,
    /// Above this many services checked, a sync reads the whole table in one dump instead
    /// of one read per service (default 16).
    pub dump_above: usize,
    /// The most destinations watched in all; more are reported and not checked (default
    /// 100,000).
    pub max_destinations: usize,
    /// Run the probes in this network namespace (`/run/netns/NAME`): each probe thread
    /// enters it when it starts (default: the caller's namespace). Needs workers.
    pub netns: Option<PathBuf>,
}

impl Default for RunnerOptions {
    fn default() -> RunnerOptions {
        RunnerOptions {
            workers: 16,
            sync_interval: None,
            dump_above: 16,
            max_destinations: 100_000,
            netns: None,
        }
    }
}

impl RunnerOptions {
    /// This many probe threads.
    #[must_use]
    pub fn workers(mut self, n: usize) -> RunnerOptions {
        self.workers = n;
        self
    }

    /// Read the table and write the desired weights this often.
    #[must_use]
    pub fn sync_interval(mut self, every: Duration) -> RunnerOptions {
        self.sync_interval = Some(every);
        self
    }

    /// Probes in the network namespace `NAME` (`/run/netns/NAME`).
    pub fn netns(mut self, name: &str) -> Result<RunnerOptions> {
        crate::model::check_netns_name(name)?;
        self.netns = Some(Path::new("/run/netns").join(name));
        Ok(self)
    }

    /// At most this many destinations.
    #[must_use]
    pub fn max_destinations(mut self, n: usize) -> RunnerOptions {
        self.max_destinations = n;
        self
    }
}

type Key = (ServiceId, SocketAddr);

/// How long past its deadline a check may run before it is reported as overrunning.
const OVERRUN_GRACE: Duration = Duration::from_secs(1);

struct Job {
    key: Key,
    target: SocketAddr,
    probe: Arc<dyn Probe>,
    timeout: Duration,
}

struct Done {
    key: Key,
    result: ProbeResult,
    finished: Instant,
}

/// A fixed set of threads that run probes, each within its deadline.
struct Pool {
    jobs: Option<Sender<Job>>,
    done_tx: Sender<Done>,
    done: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
}

/// Run a check that starts at `start` (now, on a worker).
fn run_job(job: Job, start: Instant) -> Done {
    let deadline = start + job.timeout;
    // A probe that panics is a bug of the probe, not news about the server: reported,
    // counted neither way, and the worker thread lives on.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        job.probe.check(job.target, deadline)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(super::probe::ProbeError::Local(format!(
            "the probe panicked: {what}"
        )))
    });
    Done {
        key: job.key,
        result,
        finished: Instant::now().max(start),
    }
}

impl Pool {
    fn new(workers: usize, netns: Option<&Path>) -> Result<Pool> {
        let (done_tx, done) = mpsc::channel();
        if workers == 0 {
            if let Some(p) = netns {
                return Err(InvalidError::parse(
                    &p.display().to_string(),
                    "probe threads (workers above 0) to run checks in a network namespace",
                )
                .into());
            }
            return Ok(Pool {
                jobs: None,
                done_tx,
                done,
                threads: Vec::new(),
            });
        }
        let ns = match netns {
            Some(p) => Some(Arc::new(std::fs::File::open(p).map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("network namespace {}: {e}", p.display()),
                ))
            })?)),
            None => None,
        };
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let (ready_tx, ready) = mpsc::channel::<std::io::Result<()>>();
        let mut pool = Pool {
            jobs: Some(jobs),
            done_tx,
            done,
            threads: Vec::with_capacity(workers),
        };
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let tx = pool.done_tx.clone();
            let ns = ns.clone();
            let ready_tx = ready_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("lvs-health-{i}"))
                .spawn(move || {
                    if let Some(ns) = ns {
                        let entered = nix::sched::setns(&*ns, nix::sched::CloneFlags::CLONE_NEWNET)
                            .map_err(std::io::Error::from);
                        let failed = entered.is_err();
                        let _ = ready_tx.send(entered);
                        if failed {
                            return;
                        }
                    } else {
                        let _ = ready_tx.send(Ok(()));
                    }
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        if tx.send(run_job(job, Instant::now())).is_err() {
                            return;
                        }
                    }
                });
            match spawned {
                Ok(t) => pool.threads.push(t),
                // Dropping the pool stops the threads started.
                Err(e) => return Err(Error::Io(e)),
            }
        }
        for _ in 0..workers {
            match ready.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(Error::Io(std::io::Error::new(
                        e.kind(),
                        format!("entering the network namespace: {e}"),
                    )))
                }
                Err(_) => return Err(Error::Io(std::io::Error::other("a probe thread ended"))),
            }
        }
        Ok(pool)
    }

    /// Run `job` on a worker; without workers, here, as if it finished at `now` (the
    /// caller's clock, which tests make up).
    fn submit(&self, job: Job, now: Instant) {
        let inline = |job| Done {
            finished: now,
            ..run_job(job, now)
        };
        match &self.jobs {
            Some(tx) => {
                if let Err(mpsc::SendError(job)) = tx.send(job) {
                    let _ = self.done_tx.send(inline(job));
                }
            }
            None => {
                let _ = self.done_tx.send(inline(job));
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Checks the destinations of services and keeps the kernel's weights where their health
/// says.
///
/// Each destination is checked every `interval` of its service, at a phase of its own
/// (random, so that checks spread over the interval instead of all at once), on a pool of
/// [`RunnerOptions::workers`] threads; every check has a total deadline (`timeout`), so a
/// slow or dead server never delays another's checks or transitions. A transition is
/// written at once (one request); every `sync_interval` the kernel's table is read again
/// and every difference from the desired weights written, so a refused write is retried
/// until the kernel agrees, an administrator's weight is adopted, and a service deleted and
/// created again is picked up.
///
/// ```no_run
/// use lvs::health::{HealthChecker, HttpProbe, RunnerOptions, ServiceCheck};
/// use lvs::Ipvs;
/// use std::time::Duration;
///
/// let check = ServiceCheck::new("tcp:192.168.1.2:80".parse()?, HttpProbe::get("/health")?)
///     .interval(Duration::from_secs(2))
///     .timeout(Duration::from_secs(1));
/// let mut checker = HealthChecker::new(Ipvs::new()?, RunnerOptions::default())?;
/// checker.add_service(check)?;
/// let stop = std::sync::atomic::AtomicBool::new(false);
/// checker.run(&stop, |event| println!("{event}"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct HealthChecker<T: Transport = KernelTransport> {
    ipvs: Ipvs<T>,
    checker: Checker,
    opts: RunnerOptions,
    pool: Pool,
    /// Next check of each destination, in time order.
    queue: BTreeSet<(Instant, Key)>,
    due: HashMap<Key, Instant>,
    /// Checks running, with their deadline (and whether an overrun was reported).
    in_flight: HashMap<Key, (Instant, bool)>,
    next_sync: Option<Instant>,
    /// Syncs done.
    rounds: u64,
    seed: std::collections::hash_map::RandomState,
}

impl HealthChecker<KernelTransport> {
    /// A checker of the network namespace `NAME` (`/run/netns/NAME`): its IPVS table, and
    /// probes run from inside it (each probe thread enters it), as with `ip netns exec`,
    /// without moving the calling thread.
    pub fn in_netns(name: &str, opts: RunnerOptions) -> Result<HealthChecker<KernelTransport>> {
        let opts = opts.netns(name)?;
        HealthChecker::new(Ipvs::in_netns(name)?, opts)
    }
}

impl<T: Transport> HealthChecker<T> {
    /// A checker that writes through `ipvs`.
    pub fn new(ipvs: Ipvs<T>, opts: RunnerOptions) -> Result<HealthChecker<T>> {
        if opts
            .sync_interval
            .is_some_and(|d| d.is_zero() || d > super::MAX_DURATION)
        {
            return Err(InvalidError::parse(
                &format!("{:?}", opts.sync_interval),
                "a sync interval above 0 and at most a day",
            )
            .into());
        }
        Ok(HealthChecker {
            ipvs,
            checker: Checker::new(),
            pool: Pool::new(opts.workers, opts.netns.as_deref())?,
            opts,
            queue: BTreeSet::new(),
            due: HashMap::new(),
            in_flight: HashMap::new(),
            next_sync: None,
            rounds: 0,
            seed: Default::default(),
        })
    }

    /// Check a service's destinations (validated). Its destinations are read at the next
    /// [`step`](Self::step).
    pub fn add_service(&mut self, check: ServiceCheck) -> Result<()> {
        self.checker.add_service(check)?;
        self.next_sync = None;
        Ok(())
    }

    /// Stop checking a service; the kernel keeps what it holds.
    pub fn remove_service(&mut self, id: &ServiceId) -> Option<ServiceCheck> {
        let check = self.checker.remove_service(id)?;
        let gone: Vec<Key> = self.due.keys().filter(|k| k.0 == *id).copied().collect();
        for k in gone {
            self.unschedule(&k);
        }
        Some(check)
    }

    /// The state machine (to read the status of destinations).
    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// The IPVS handle.
    pub fn ipvs(&mut self) -> &mut Ipvs<T> {
        &mut self.ipvs
    }

    /// How many times the table was read and the desired weights written (rounds).
    pub fn rounds(&self) -> u64 {
        self.rounds
    }

    /// When [`step`](Self::step) has something to do next: the next check due or the
    /// next sync.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let check = self.queue.first().map(|(t, _)| *t);
        match (check, self.next_sync) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn unschedule(&mut self, key: &Key) {
        if let Some(t) = self.due.remove(key) {
            self.queue.remove(&(t, *key));
        }
    }

    fn schedule(&mut self, key: Key, at: Instant) {
        self.unschedule(&key);
        self.due.insert(key, at);
        self.queue.insert((at, key));
    }

    /// A destination's first check: a phase of its own within the interval.
    fn first_check(&self, key: &Key, now: Instant) -> Instant {
        let interval = self
            .checker
            .service(&key.0)
            .map_or(Duration::from_secs(1), |c| c.interval);
        let nanos = interval.as_nanos().max(1) as u64;
        now + Duration::from_nanos(self.seed.hash_one(key) % nanos)
    }

    fn sync_interval(&self) -> Duration {
        self.opts.sync_interval.unwrap_or_else(|| {
            self.checker
                .services()
                .map(|c| c.interval)
                .min()
                .unwrap_or(Duration::from_secs(1))
        })
    }

    /// Read the services' destinations from the kernel and write every difference.
    fn sync(&mut self, now: Instant) -> Vec<Event> {
        let ids: Vec<ServiceId> = self.checker.services().map(|c| c.service).collect();
        let mut events = Vec::new();
        let mut read: Vec<(ServiceId, Option<Vec<crate::model::Destination>>)> = Vec::new();
        if ids.len() > self.opts.dump_above {
            match self.ipvs.table() {
                Ok(table) => {
                    let mut by_id: HashMap<ServiceId, ServiceEntry> =
                        table.into_iter().map(|e| (e.service.id, e)).collect();
                    for id in &ids {
                        read.push((*id, by_id.remove(id).map(|e| e.destinations)));
                    }
                }
                Err(e) => events.push(Event::ReadFailed {
                    error: e.to_string(),
                }),
            }
        } else {
            for id in &ids {
                match self.ipvs.destinations(id) {
                    Ok(d) => read.push((*id, Some(d))),
                    Err(Error::NoSuchService(_)) => read.push((*id, None)),
                    Err(e) => events.push(Event::ReadFailed {
                        error: format!("{id}: {e}"),
                    }),
                }
            }
        }
        let mut ops = Vec::new();
        for (id, dests) in read {
            let noticed = self.checker.sync(&id, dests.as_deref(), now);
            for e in &noticed {
                match e {
                    Event::Watching { service, addr, .. } => {
                        let key = (*service, *addr);
                        let at = self.first_check(&key, now);
                        self.schedule(key, at);
                    }
                    Event::Forgotten { service, addr } => self.unschedule(&(*service, *addr)),
                    Event::ServiceGone { service } => {
                        let gone: Vec<Key> = self
                            .due
                            .keys()
                            .filter(|k| k.0 == *service)
                            .copied()
                            .collect();
                        for k in gone {
                            self.unschedule(&k);
                        }
                    }
                    _ => {}
                }
            }
            events.extend(noticed);
            ops.extend(self.checker.plan(&id, now));
        }
        if self.due.len() > self.opts.max_destinations {
            let extra: Vec<Key> = self
                .due
                .keys()
                .copied()
                .skip(self.opts.max_destinations)
                .collect();
            events.push(Event::ReadFailed {
                error: format!(
                    "{} destinations watched, more than max_destinations {}: {} not checked",
                    self.due.len(),
                    self.opts.max_destinations,
                    extra.len()
                ),
            });
            for k in extra {
                self.unschedule(&k);
            }
        }
        events.extend(self.write(&ops, now));
        events
    }

    /// Apply planned writes as one batch and tell the state machine what the kernel did.
    fn write(&mut self, ops: &[Op], now: Instant) -> Vec<Event> {
        if ops.is_empty() {
            return Vec::new();
        }
        match self.ipvs.apply_unvalidated(ops) {
            Ok(outcome) => self.checker.record(ops, &outcome.results, now),
            Err(e) => {
                let msg = e.to_string();
                let failed: Vec<std::result::Result<(), Error>> = ops
                    .iter()
                    .map(|_| {
                        Err(Error::Io(std::io::Error::other(format!(
                            "the batch was not sent: {msg}"
                        ))))
                    })
                    .collect();
                self.checker.record(ops, &failed, now)
            }
        }
    }

    /// Take a finished check: its transition, and the writes it makes, at once.
    fn finish(&mut self, done: Done, events: &mut Vec<Event>) {
        self.in_flight.remove(&done.key);
        let (id, addr) = done.key;
        if let Some(e) = self.checker.observe(&id, addr, &done.result, done.finished) {
            let transition = matches!(e, Event::Up { .. } | Event::Down { .. });
            events.push(e);
            if transition {
                let ops = self.checker.plan_destination(&id, addr, done.finished);
                events.extend(self.write(&ops, done.finished));
            }
        }
    }

    /// Do what is due at `now` without blocking (except inline checks, with
    /// `workers: 0`): take the checks finished since the last step, read the table and
    /// write the desired weights if a sync is due, start the checks that are due.
    pub fn step(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        while let Ok(done) = self.pool.done.try_recv() {
            self.finish(done, &mut events);
        }
        if self.next_sync.is_none_or(|t| t <= now) {
            events.extend(self.sync(now));
            self.next_sync = Some(now + self.sync_interval());
            self.rounds += 1;
        }
        while let Some(&(at, key)) = self.queue.first() {
            if at > now {
                break;
            }
            let Some(check) = self.checker.service(&key.0) else {
                self.unschedule(&key);
                continue;
            };
            let interval = check.interval;
            // The next check keeps the phase; one still running skips its turn.
            let mut next = at + interval;
            if next <= now {
                let behind =
                    now.saturating_duration_since(at).as_nanos() / interval.as_nanos().max(1);
                next = at + interval * (behind as u32).saturating_add(1);
            }
            if let std::collections::hash_map::Entry::Vacant(v) = self.in_flight.entry(key) {
                v.insert((now + check.timeout, false));
                let job = Job {
                    key,
                    target: check.target(key.1),
                    probe: Arc::clone(&check.probe),
                    timeout: check.timeout,
                };
                self.pool.submit(job, now);
            }
            self.schedule(key, next);
        }
        // A probe that ignores its deadline holds a worker: say so, once per check.
        for (key, (deadline, told)) in self.in_flight.iter_mut() {
            if !*told && now > *deadline + OVERRUN_GRACE {
                *told = true;
                events.push(Event::Inconclusive {
                    service: key.0,
                    addr: key.1,
                    reason: format!(
                        "the check is still running {:.1} s past its deadline (a probe that ignores its deadline holds a worker)",
                        now.saturating_duration_since(*deadline).as_secs_f64()
                    ),
                });
            }
        }
        // Inline checks (no worker thread) are done already.
        if self.pool.jobs.is_none() {
            while let Ok(done) = self.pool.done.try_recv() {
                self.finish(done, &mut events);
            }
        }
        events
    }

    /// Wait until a check finishes or `until`, whichever comes first (at most `until`).
    pub fn wait(&mut self, until: Instant) {
        let left = until.saturating_duration_since(Instant::now());
        if self.pool.jobs.is_none() || self.in_flight.is_empty() {
            std::thread::sleep(left);
            return;
        }
        match self.pool.done.recv_timeout(left) {
            Ok(done) => {
                // Put it back for the next step to take.
                let _ = self.pool.done_tx.send(done);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
    }

    /// Check and write until `stop` is set, handing every event to `on_event`. Each wait
    /// is bounded: at most until the next check or sync, and at most 100 ms past `stop`.
    pub fn run(&mut self, stop: &std::sync::atomic::AtomicBool, mut on_event: impl FnMut(&Event)) {
        use std::sync::atomic::Ordering;
        while !stop.load(Ordering::Relaxed) {
            for e in self.step(Instant::now()) {
                on_event(&e);
            }
            let now = Instant::now();
            let until = self
                .next_wakeup()
                .unwrap_or(now + Duration::from_millis(100))
                .min(now + Duration::from_millis(100));
            self.wait(until);
        }
    }

    /// Run until `rounds` more syncs are done (for scripts and tests), handing every event
    /// to `on_event`.
    pub fn run_rounds(&mut self, rounds: u64, mut on_event: impl FnMut(&Event)) {
        let end = self.rounds.saturating_add(rounds);
        loop {
            for e in self.step(Instant::now()) {
                on_event(&e);
            }
            if self.rounds >= end {
                return;
            }
            let now = Instant::now();
            let until = self
                .next_wakeup()
                .unwrap_or(now + Duration::from_millis(100));
            self.wait(until);
        }
    }
}
