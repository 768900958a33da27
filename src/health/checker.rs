//! The health state machine, without I/O and without a clock: probe results, kernel reads
//! and write outcomes go in (each with the time it happened), the writes that make the
//! kernel's table the desired one come out.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::probe::{Probe, ProbeError, ProbeResult};
use crate::client::Op;
use crate::error::{Error, InvalidError};
use crate::model::{Destination, ServiceId};

/// What happens to a destination that fails `fall` checks in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnFailure {
    /// Weight 0 (keepalived's `inhibit_on_failure`): no new connections, the established
    /// ones go on; it stays listed, and gets its weight back when it recovers.
    Quiesce,
    /// Deleted from the service at once (keepalived's default); added back, with its
    /// configuration, when it recovers.
    Remove,
    /// Weight 0 first, deleted once it has been down this long; added back when it
    /// recovers.
    QuiesceThenRemove(Duration),
}

/// Rise and fall, what a failure does, slow start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Good checks in a row that bring a down destination back (default 2).
    pub rise: u32,
    /// Failed checks in a row that take an up destination down (default 3).
    pub fall: u32,
    /// What a destination that goes down gets (default [`OnFailure::Quiesce`]).
    pub on_failure: OnFailure,
    /// After recovering, the weight ramps from 1 to the configured weight over this long
    /// (keepalived's `delay_loop`-based slow start; default none: the full weight at once).
    pub slow_start: Option<Duration>,
    /// The weight of a destination first seen with weight 0 once it passes its checks
    /// (default 1, ipvsadm's default weight).
    pub default_weight: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            rise: 2,
            fall: 3,
            on_failure: OnFailure::Quiesce,
            slow_start: None,
            default_weight: Destination::DEFAULT_WEIGHT,
        }
    }
}

/// How one service's destinations are checked: the probe, its timing, the policy and an
/// optional sorry server.
///
/// ```
/// use lvs::health::{HttpProbe, OnFailure, ServiceCheck};
/// use std::time::Duration;
/// let check = ServiceCheck::new("tcp:192.168.1.2:80".parse()?, HttpProbe::get("/health")?)
///     .interval(Duration::from_secs(2))
///     .timeout(Duration::from_secs(1))
///     .rise(2)
///     .fall(3)
///     .on_failure(OnFailure::QuiesceThenRemove(Duration::from_secs(60)))
///     .slow_start(Duration::from_secs(30));
/// check.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServiceCheck {
    /// The service whose destinations are checked (they are read from the kernel).
    pub service: ServiceId,
    /// The probe.
    pub probe: Arc<dyn Probe>,
    /// Time between two checks of one destination (default 2 s).
    pub interval: Duration,
    /// The total time one check may take: connect, write and read together (default 1 s).
    pub timeout: Duration,
    /// The port checked (default: the destination's port, or the service's when the
    /// destination has none; a firewall-mark service needs it).
    pub port: Option<u16>,
    /// Rise, fall, failure action, slow start.
    pub policy: Policy,
    /// A destination added while every real server of the service is down, deleted when
    /// one is back (keepalived's `sorry_server`).
    pub sorry_server: Option<Destination>,
}

impl fmt::Debug for ServiceCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceCheck")
            .field("service", &self.service)
            .field("probe", &self.probe.describe())
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("port", &self.port)
            .field("policy", &self.policy)
            .field("sorry_server", &self.sorry_server)
            .finish()
    }
}

/// The longest interval, timeout, slow start or removal delay: a day (a longer wait is a
/// typo, and a huge value would overflow the clock's arithmetic).
pub const MAX_DURATION: Duration = Duration::from_secs(86_400);

impl ServiceCheck {
    /// Check `service`'s destinations with `probe`, with the defaults: every 2 s, 1 s
    /// timeout, [`Policy::default`].
    pub fn new(service: ServiceId, probe: impl Probe + 'static) -> ServiceCheck {
        ServiceCheck::with_probe(service, Arc::new(probe))
    }

    /// [`new`](Self::new) with a probe already shared.
    pub fn with_probe(service: ServiceId, probe: Arc<dyn Probe>) -> ServiceCheck {
        ServiceCheck {
            service,
            probe,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            port: None,
            policy: Policy::default(),
            sorry_server: None,
        }
    }

    /// Time between two checks of a destination.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> ServiceCheck {
        self.interval = interval;
        self
    }

    /// Total time a check may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> ServiceCheck {
        self.timeout = timeout;
        self
    }

    /// Good checks in a row to come back.
    #[must_use]
    pub fn rise(mut self, rise: u32) -> ServiceCheck {
        self.policy.rise = rise;
        self
    }

    /// Failed checks in a row to go down.
    #[must_use]
    pub fn fall(mut self, fall: u32) -> ServiceCheck {
        self.policy.fall = fall;
        self
    }

    /// What going down does.
    #[must_use]
    pub fn on_failure(mut self, on_failure: OnFailure) -> ServiceCheck {
        self.policy.on_failure = on_failure;
        self
    }

    /// Ramp the weight up over this long after a recovery.
    #[must_use]
    pub fn slow_start(mut self, ramp: Duration) -> ServiceCheck {
        self.policy.slow_start = Some(ramp);
        self
    }

    /// The weight a destination first seen at weight 0 gets when it passes its checks.
    #[must_use]
    pub fn default_weight(mut self, weight: u32) -> ServiceCheck {
        self.policy.default_weight = weight;
        self
    }

    /// The port to check.
    #[must_use]
    pub fn port(mut self, port: u16) -> ServiceCheck {
        self.port = Some(port);
        self
    }

    /// The sorry server.
    #[must_use]
    pub fn sorry_server(mut self, dest: Destination) -> ServiceCheck {
        self.sorry_server = Some(dest);
        self
    }

    /// Check the values: rise and fall at least 1, interval and timeout (and slow start,
    /// removal delay) above zero and at most [`MAX_DURATION`], a default weight from 1 to
    /// [`Destination::MAX_WEIGHT`], a valid sorry server, a port for a firewall-mark service.
    pub fn validate(&self) -> Result<(), InvalidError> {
        let dur = |d: Duration, what: &'static str| {
            if d.is_zero() || d > MAX_DURATION {
                Err(InvalidError::parse(&format!("{d:?}"), what))
            } else {
                Ok(())
            }
        };
        dur(self.interval, "an interval above 0 and at most a day")?;
        dur(self.timeout, "a timeout above 0 and at most a day")?;
        if let Some(s) = self.policy.slow_start {
            dur(s, "a slow start above 0 and at most a day")?;
        }
        if let OnFailure::QuiesceThenRemove(d) = self.policy.on_failure {
            dur(d, "a removal delay above 0 and at most a day")?;
        }
        if self.policy.rise == 0 {
            return Err(InvalidError::parse("0", "a rise count of 1 or more"));
        }
        if self.policy.fall == 0 {
            return Err(InvalidError::parse("0", "a fall count of 1 or more"));
        }
        let w = self.policy.default_weight;
        if w == 0 || w > Destination::MAX_WEIGHT {
            return Err(InvalidError::parse(
                &w.to_string(),
                "a default weight from 1 to 65535",
            ));
        }
        if self.service.addr().is_none() && self.port.is_none() {
            return Err(InvalidError::parse(
                &self.service.to_string(),
                "a check port for a firewall-mark service (its destinations have no port of their own)",
            ));
        }
        if let Some(sorry) = &self.sorry_server {
            sorry.validate()?;
        }
        Ok(())
    }

    /// The address a destination is checked at.
    pub fn target(&self, dest: SocketAddr) -> SocketAddr {
        let port = self
            .port
            .or((dest.port() != 0).then_some(dest.port()))
            .or(self.service.addr().map(|a| a.port()))
            .unwrap_or(0);
        SocketAddr::new(dest.ip(), port)
    }
}

/// What the checker saw and did, one line each when displayed (`DOWN 10.0.0.2:80: 3 failed
/// checks (timed out connecting): weight 0 (was 5) [tcp:10.0.0.1:80]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A destination is watched from now on.
    Watching {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// Its weight in the kernel.
        weight: u32,
        /// Whether it starts as up (a weight above 0) or down.
        up: bool,
    },
    /// `fall` failed checks in a row: the destination is down.
    Down {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// The failures in a row.
        fall: u32,
        /// The last failure.
        reason: String,
        /// Its configured weight (what it gets back).
        weight: u32,
    },
    /// `rise` good checks in a row: the destination is up.
    Up {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// The successes in a row.
        rise: u32,
        /// The configured weight it goes back to.
        weight: u32,
        /// Whether it is absent from the kernel (removed while down) and is added back.
        added_back: bool,
        /// The slow start over which the weight ramps up, if any.
        slow_start: Option<Duration>,
    },
    /// A check could not be made (a local shortage); it counts neither way.
    Inconclusive {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The kernel accepted a weight.
    Weight {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// The weight the kernel had.
        from: u32,
        /// The weight it has now.
        to: u32,
    },
    /// A down destination was deleted from the service (it is still checked).
    Removed {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// How long it had been down.
        down_for: Duration,
    },
    /// A recovered destination was added back.
    AddedBack {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// Its weight.
        weight: u32,
    },
    /// The kernel holds a weight this checker did not write: it is the configured weight
    /// from now on.
    Adopted {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
        /// The weight adopted.
        weight: u32,
    },
    /// A destination someone else deleted: no longer watched.
    Forgotten {
        /// Its service.
        service: ServiceId,
        /// The destination.
        addr: SocketAddr,
    },
    /// The sorry server was added (every real server down) or deleted (one is back).
    SorryServer {
        /// Its service.
        service: ServiceId,
        /// The sorry server.
        addr: SocketAddr,
        /// Added (`true`) or deleted.
        active: bool,
    },
    /// The service is not in the kernel (deleted): its destinations are forgotten until it
    /// is back.
    ServiceGone {
        /// The service.
        service: ServiceId,
    },
    /// The service is in the kernel (again).
    ServiceFound {
        /// The service.
        service: ServiceId,
    },
    /// The kernel refused a write; it is tried again at the next round.
    WriteFailed {
        /// The service.
        service: ServiceId,
        /// The write.
        op: String,
        /// The refusal.
        error: String,
    },
    /// Reading the table failed; tried again at the next round.
    ReadFailed {
        /// The error.
        error: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Watching {
                service,
                addr,
                weight,
                up,
            } => write!(
                f,
                "watching {addr} (weight {weight}, {}) [{service}]",
                if *up {
                    "up"
                } else {
                    "down until it passes its checks"
                }
            ),
            Event::Down {
                service,
                addr,
                fall,
                reason,
                weight,
            } => write!(
                f,
                "DOWN {addr}: {fall} failed checks ({reason}): was weight {weight} [{service}]"
            ),
            Event::Up {
                service,
                addr,
                rise,
                weight,
                added_back,
                slow_start,
            } => {
                write!(f, "UP {addr}: {rise} good checks: weight {weight}")?;
                if *added_back {
                    f.write_str(" (added back)")?;
                }
                if let Some(s) = slow_start {
                    write!(f, " (slow start over {s:?})")?;
                }
                write!(f, " [{service}]")
            }
            Event::Inconclusive {
                service,
                addr,
                reason,
            } => write!(f, "UNCHECKED {addr}: {reason} [{service}]"),
            Event::Weight {
                service,
                addr,
                from,
                to,
            } => write!(f, "WEIGHT {addr}: {from} -> {to} [{service}]"),
            Event::Removed {
                service,
                addr,
                down_for,
            } => write!(
                f,
                "REMOVED {addr}: down for {:.1} s [{service}]",
                down_for.as_secs_f64()
            ),
            Event::AddedBack {
                service,
                addr,
                weight,
            } => write!(f, "ADDED {addr}: weight {weight} [{service}]"),
            Event::Adopted {
                service,
                addr,
                weight,
            } => write!(
                f,
                "ADOPTED {addr}: weight {weight} set by someone else is its weight now [{service}]"
            ),
            Event::Forgotten { service, addr } => {
                write!(f, "FORGOTTEN {addr}: deleted by someone else [{service}]")
            }
            Event::SorryServer {
                service,
                addr,
                active,
            } => {
                if *active {
                    write!(
                        f,
                        "SORRY {addr}: every real server is down, sorry server in [{service}]"
                    )
                } else {
                    write!(
                        f,
                        "SORRY {addr}: a real server is back, sorry server out [{service}]"
                    )
                }
            }
            Event::ServiceGone { service } => {
                write!(
                    f,
                    "GONE {service}: not in the kernel; its destinations are forgotten"
                )
            }
            Event::ServiceFound { service } => write!(f, "FOUND {service}: in the kernel"),
            Event::WriteFailed { service, op, error } => {
                write!(
                    f,
                    "RETRY {op}: {error} (tried again next round) [{service}]"
                )
            }
            Event::ReadFailed { error } => {
                write!(
                    f,
                    "RETRY reading the table: {error} (tried again next round)"
                )
            }
        }
    }
}

/// Where one destination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationStatus {
    /// Whether it passes its checks.
    pub up: bool,
    /// The weight it has while up and fully started.
    pub configured: u32,
    /// The weight the kernel holds as far as the checker knows (`None`: not in the service).
    pub kernel: Option<u32>,
    /// The weight the checker wants now (`None`: not in the service).
    pub desired: Option<u32>,
}

#[derive(Debug, Clone)]
struct Dest {
    up: bool,
    /// Results in a row against the current state.
    streak: u32,
    /// When the current state began (down since, or up since).
    since: Instant,
    /// Slow start: ramping since.
    ramp_from: Option<Instant>,
    configured: u32,
    /// The destination's configuration (counters and stats cleared).
    dest: Destination,
    /// The weight the kernel holds as far as we know; `None`: not in the service.
    kernel: Option<u32>,
    /// We deleted it (it is still watched, and added back when it recovers).
    removed: bool,
}

#[derive(Debug, Clone)]
struct Svc {
    check: ServiceCheck,
    /// Whether the service was in the kernel at the last read (`None`: not read yet).
    exists: Option<bool>,
    dests: BTreeMap<SocketAddr, Dest>,
    /// The sorry server's weight in the kernel (`None`: not in the service).
    sorry_kernel: Option<u32>,
}

/// The health state of every checked destination, without I/O: feed it probe results
/// ([`observe`](Self::observe)), the kernel's destinations ([`sync`](Self::sync)) and the
/// outcome of the writes it planned ([`record`](Self::record)); it says what to write
/// ([`plan`](Self::plan), [`plan_destination`](Self::plan_destination)) so that the kernel
/// holds the weight it wants for each destination.
///
/// Times are given by the caller, so a test drives it with made-up instants and results.
///
/// ```
/// use lvs::health::{Checker, ProbeError, ServiceCheck, TcpProbe};
/// use lvs::{Destination, Op};
/// use std::time::Instant;
///
/// let svc = "tcp:10.0.0.1:80".parse()?;
/// let mut checker = Checker::new();
/// checker.add_service(ServiceCheck::new(svc, TcpProbe).fall(2))?;
/// let rs = Destination::builder("10.0.0.2:80".parse()?).masquerade().weight(5).build()?;
/// let t = Instant::now();
/// checker.sync(&svc, Some(&[rs.clone()]), t); // what the kernel holds
/// let fail = Err(ProbeError::failed("refused"));
/// checker.observe(&svc, rs.socket_addr(), &fail, t);
/// assert!(checker.plan(&svc, t).is_empty()); // one failure: still up
/// checker.observe(&svc, rs.socket_addr(), &fail, t);
/// let ops = checker.plan(&svc, t); // two: quiesce it
/// assert!(matches!(&ops[..], [Op::UpdateDestination(_, d)] if d.weight == 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Checker {
    services: BTreeMap<ServiceId, Svc>,
}

impl Checker {
    /// No service checked yet.
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Check a service (validated first; a service already checked is replaced, its
    /// destinations' state kept).
    pub fn add_service(&mut self, check: ServiceCheck) -> Result<(), InvalidError> {
        check.validate()?;
        match self.services.get_mut(&check.service) {
            Some(s) => s.check = check,
            None => {
                self.services.insert(
                    check.service,
                    Svc {
                        check,
                        exists: None,
                        dests: BTreeMap::new(),
                        sorry_kernel: None,
                    },
                );
            }
        }
        Ok(())
    }

    /// Stop checking a service (the kernel is left as it is).
    pub fn remove_service(&mut self, id: &ServiceId) -> Option<ServiceCheck> {
        self.services.remove(id).map(|s| s.check)
    }

    /// The services checked.
    pub fn services(&self) -> impl Iterator<Item = &ServiceCheck> {
        self.services.values().map(|s| &s.check)
    }

    /// The check of one service.
    pub fn service(&self, id: &ServiceId) -> Option<&ServiceCheck> {
        self.services.get(id).map(|s| &s.check)
    }

    /// The destinations watched in a service.
    pub fn destinations(&self, id: &ServiceId) -> impl Iterator<Item = SocketAddr> + '_ {
        self.services
            .get(id)
            .into_iter()
            .flat_map(|s| s.dests.keys().copied())
    }

    /// How many destinations are watched, in all services.
    pub fn len(&self) -> usize {
        self.services.values().map(|s| s.dests.len()).sum()
    }

    /// Whether no destination is watched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where a destination stands at `now`.
    pub fn status(
        &self,
        id: &ServiceId,
        addr: SocketAddr,
        now: Instant,
    ) -> Option<DestinationStatus> {
        let s = self.services.get(id)?;
        let d = s.dests.get(&addr)?;
        Some(DestinationStatus {
            up: d.up,
            configured: d.configured,
            kernel: d.kernel,
            desired: desired(&s.check.policy, d, now),
        })
    }

    /// Take one check result of a destination (ignored if it is not watched). Returns the
    /// transition it makes, if any: `fall` failures in a row take an up destination down,
    /// `rise` successes in a row bring a down one up; a [`ProbeError::Local`] result counts
    /// neither way.
    pub fn observe(
        &mut self,
        id: &ServiceId,
        addr: SocketAddr,
        result: &ProbeResult,
        now: Instant,
    ) -> Option<Event> {
        let s = self.services.get_mut(id)?;
        let policy = s.check.policy;
        let d = s.dests.get_mut(&addr)?;
        let ok = match result {
            Ok(()) => true,
            Err(ProbeError::Local(reason)) => {
                return Some(Event::Inconclusive {
                    service: *id,
                    addr,
                    reason: reason.clone(),
                })
            }
            Err(ProbeError::Failed(_)) => false,
        };
        if ok == d.up {
            d.streak = 0;
            return None;
        }
        d.streak += 1;
        let threshold = if d.up { policy.fall } else { policy.rise };
        if d.streak < threshold {
            return None;
        }
        d.streak = 0;
        d.up = ok;
        d.since = now;
        if ok {
            d.ramp_from = policy.slow_start.map(|_| now);
            Some(Event::Up {
                service: *id,
                addr,
                rise: policy.rise,
                weight: d.configured,
                added_back: d.kernel.is_none(),
                slow_start: policy.slow_start,
            })
        } else {
            d.ramp_from = None;
            let reason = match result {
                Err(e) => e.to_string(),
                Ok(()) => String::new(),
            };
            Some(Event::Down {
                service: *id,
                addr,
                fall: policy.fall,
                reason,
                weight: d.configured,
            })
        }
    }

    /// Take what the kernel holds for a service: its destinations (`None`: the service is
    /// not there). New destinations are watched (up if their weight is above 0; one at 0
    /// starts down and comes up with the default weight); a weight the checker did not
    /// write is adopted as the configured weight; destinations someone else deleted are
    /// forgotten, those the checker removed are kept. Returns what it noticed.
    pub fn sync(
        &mut self,
        id: &ServiceId,
        kernel: Option<&[Destination]>,
        now: Instant,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        let Some(s) = self.services.get_mut(id) else {
            return events;
        };
        let Some(current) = kernel else {
            if s.exists != Some(false) {
                events.push(Event::ServiceGone { service: *id });
            }
            s.exists = Some(false);
            s.dests.clear();
            s.sorry_kernel = None;
            return events;
        };
        if s.exists == Some(false) {
            events.push(Event::ServiceFound { service: *id });
        }
        s.exists = Some(true);
        let policy = s.check.policy;
        let sorry = s.check.sorry_server.as_ref().map(Destination::socket_addr);
        s.sorry_kernel = None;
        let mut seen = std::collections::BTreeSet::new();
        for k in current {
            let addr = k.socket_addr();
            if Some(addr) == sorry {
                s.sorry_kernel = Some(k.weight);
                continue;
            }
            if !seen.insert(addr) {
                continue;
            }
            let mut config = k.clone();
            config.counters = None;
            config.stats = None;
            match s.dests.get_mut(&addr) {
                Some(d) => {
                    let want = desired(&policy, d, now);
                    if d.kernel != Some(k.weight) && want != Some(k.weight) {
                        // Written by someone else: the administrator's weight.
                        if d.up || k.weight > 0 {
                            d.configured = k.weight;
                            d.ramp_from = None;
                            events.push(Event::Adopted {
                                service: *id,
                                addr,
                                weight: k.weight,
                            });
                        }
                    }
                    d.kernel = Some(k.weight);
                    d.removed = false;
                    d.dest = config;
                }
                None => {
                    let up = k.weight > 0;
                    events.push(Event::Watching {
                        service: *id,
                        addr,
                        weight: k.weight,
                        up,
                    });
                    s.dests.insert(
                        addr,
                        Dest {
                            up,
                            streak: 0,
                            since: now,
                            ramp_from: None,
                            configured: if up { k.weight } else { policy.default_weight },
                            dest: config,
                            kernel: Some(k.weight),
                            removed: false,
                        },
                    );
                }
            }
        }
        s.dests.retain(|addr, d| {
            if seen.contains(addr) {
                return true;
            }
            if d.removed {
                d.kernel = None;
                return true;
            }
            events.push(Event::Forgotten {
                service: *id,
                addr: *addr,
            });
            false
        });
        events
    }

    /// The writes that make one service's table what the checker wants at `now`, as far
    /// as it knows the kernel's table (see [`sync`](Self::sync)): weights, removals, adds
    /// back, the sorry server. Nothing when the service is not in the kernel.
    pub fn plan(&self, id: &ServiceId, now: Instant) -> Vec<Op> {
        let mut ops = Vec::new();
        let Some(s) = self.services.get(id) else {
            return ops;
        };
        if s.exists != Some(true) {
            return ops;
        }
        for (addr, d) in &s.dests {
            plan_one(&mut ops, id, &s.check.policy, *addr, d, now);
        }
        plan_sorry(&mut ops, id, s);
        ops
    }

    /// [`plan`](Self::plan) for one destination (and the service's sorry server): the
    /// writes after a transition.
    pub fn plan_destination(&self, id: &ServiceId, addr: SocketAddr, now: Instant) -> Vec<Op> {
        let mut ops = Vec::new();
        let Some(s) = self.services.get(id) else {
            return ops;
        };
        if s.exists != Some(true) {
            return ops;
        }
        if let Some(d) = s.dests.get(&addr) {
            plan_one(&mut ops, id, &s.check.policy, addr, d, now);
        }
        plan_sorry(&mut ops, id, s);
        ops
    }

    /// Take the outcome of planned writes (`results[i]` for `ops[i]`): what the kernel
    /// accepted is what it holds now; a refusal is reported and planned again at the next
    /// round.
    pub fn record(
        &mut self,
        ops: &[Op],
        results: &[Result<(), Error>],
        now: Instant,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        for (op, result) in ops.iter().zip(results) {
            let Some(&id) = op.service_id() else { continue };
            let Some(s) = self.services.get_mut(&id) else {
                continue;
            };
            let sorry = s.check.sorry_server.as_ref().map(Destination::socket_addr);
            if let Err(e) = result {
                events.push(Event::WriteFailed {
                    service: id,
                    op: op.to_string(),
                    error: e.to_string(),
                });
                continue;
            }
            match op {
                Op::UpdateDestination(_, dest) => {
                    let addr = dest.socket_addr();
                    if Some(addr) == sorry {
                        s.sorry_kernel = Some(dest.weight);
                    } else if let Some(d) = s.dests.get_mut(&addr) {
                        events.push(Event::Weight {
                            service: id,
                            addr,
                            from: d.kernel.unwrap_or(0),
                            to: dest.weight,
                        });
                        d.kernel = Some(dest.weight);
                    }
                }
                Op::DeleteDestination(_, addr) => {
                    if Some(*addr) == sorry {
                        s.sorry_kernel = None;
                        events.push(Event::SorryServer {
                            service: id,
                            addr: *addr,
                            active: false,
                        });
                    } else if let Some(d) = s.dests.get_mut(addr) {
                        d.kernel = None;
                        d.removed = true;
                        events.push(Event::Removed {
                            service: id,
                            addr: *addr,
                            down_for: now.saturating_duration_since(d.since),
                        });
                    }
                }
                Op::AddDestination(_, dest) => {
                    let addr = dest.socket_addr();
                    if Some(addr) == sorry {
                        s.sorry_kernel = Some(dest.weight);
                        events.push(Event::SorryServer {
                            service: id,
                            addr,
                            active: true,
                        });
                    } else if let Some(d) = s.dests.get_mut(&addr) {
                        d.kernel = Some(dest.weight);
                        d.removed = false;
                        events.push(Event::AddedBack {
                            service: id,
                            addr,
                            weight: dest.weight,
                        });
                    }
                }
                _ => {}
            }
        }
        events
    }
}

/// The weight the checker wants for a destination at `now` (`None`: not in the service).
fn desired(policy: &Policy, d: &Dest, now: Instant) -> Option<u32> {
    if !d.up {
        return match policy.on_failure {
            OnFailure::Quiesce => Some(0),
            OnFailure::Remove => None,
            OnFailure::QuiesceThenRemove(after) => {
                if now.saturating_duration_since(d.since) >= after {
                    None
                } else {
                    Some(0)
                }
            }
        };
    }
    match (policy.slow_start, d.ramp_from) {
        (Some(ramp), Some(from)) if d.configured > 1 => {
            let elapsed = now.saturating_duration_since(from);
            if elapsed >= ramp {
                return Some(d.configured);
            }
            // From 1 to the configured weight, in proportion of the ramp done.
            let share = elapsed.as_secs_f64() / ramp.as_secs_f64();
            let w = (f64::from(d.configured) * share).ceil() as u32;
            Some(w.clamp(1, d.configured))
        }
        _ => Some(d.configured),
    }
}

fn plan_one(
    ops: &mut Vec<Op>,
    id: &ServiceId,
    policy: &Policy,
    addr: SocketAddr,
    d: &Dest,
    now: Instant,
) {
    match (d.kernel, desired(policy, d, now)) {
        (Some(k), Some(w)) if k != w => {
            let mut dest = d.dest.clone();
            dest.weight = w;
            ops.push(Op::UpdateDestination(*id, dest));
        }
        (Some(_), None) => ops.push(Op::DeleteDestination(*id, addr)),
        (None, Some(w)) if d.removed => {
            let mut dest = d.dest.clone();
            dest.weight = w;
            ops.push(Op::AddDestination(*id, dest));
        }
        _ => {}
    }
}

fn plan_sorry(ops: &mut Vec<Op>, id: &ServiceId, s: &Svc) {
    let Some(sorry) = &s.check.sorry_server else {
        return;
    };
    let wanted = !s.dests.values().any(|d| d.up);
    match (wanted, s.sorry_kernel) {
        (true, None) => ops.push(Op::AddDestination(*id, sorry.clone())),
        (true, Some(w)) if w != sorry.weight => ops.push(Op::UpdateDestination(*id, sorry.clone())),
        (false, Some(_)) => ops.push(Op::DeleteDestination(*id, sorry.socket_addr())),
        _ => {}
    }
}
