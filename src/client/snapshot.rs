//! Stats snapshots: the counters of every service and destination at one instant, and the
//! rates between two snapshots (what `ipvsadm -L --rate` shows, over an interval the caller
//! chooses).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::ServiceEntry;
use crate::model::{rates, DestCounters, Rates, ServiceId, Stats};

/// The counters of every service and destination of a table, and when they were read.
///
/// Take one with [`Ipvs::stats_snapshot`](super::Ipvs::stats_snapshot) (or
/// [`StatsSnapshot::of`] on a table already read), take another later, and
/// [`rates_since`](StatsSnapshot::rates_since) gives the rates in between.
///
/// ```
/// use std::time::{Duration, Instant};
/// use lvs::client::StatsSnapshot;
/// use lvs::{Service, ServiceEntry, Stats};
///
/// let mut svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// let t0 = Instant::now();
/// svc.stats = Some(Stats { conns: 10, ..Stats::default() });
/// let before = StatsSnapshot::of(&[ServiceEntry { service: svc.clone(), destinations: vec![] }], t0);
/// svc.stats = Some(Stats { conns: 50, ..Stats::default() });
/// let after = StatsSnapshot::of(
///     &[ServiceEntry { service: svc.clone(), destinations: vec![] }],
///     t0 + Duration::from_secs(4),
/// );
/// let report = after.rates_since(&before);
/// assert_eq!(report.services[&svc.id].cps, 10.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    taken: Instant,
    services: BTreeMap<ServiceId, Stats>,
    destinations: BTreeMap<(ServiceId, SocketAddr), Stats>,
    states: BTreeMap<(ServiceId, SocketAddr), DestState>,
}

/// What a snapshot keeps of a destination besides its stats: its weight and connection
/// counters at that instant (the gauges of an exporter, where the stats are its counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DestState {
    /// The weight (`-w`).
    pub weight: u32,
    /// Active, inactive and persistent connections.
    pub counters: DestCounters,
}

/// The rates between two snapshots, per service and per destination.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RateReport {
    /// The time between the two snapshots.
    pub elapsed: Duration,
    /// Each service present in both snapshots.
    pub services: BTreeMap<ServiceId, Rates>,
    /// Each destination present in both snapshots, by its service and address.
    pub destinations: BTreeMap<(ServiceId, SocketAddr), Rates>,
}

impl StatsSnapshot {
    /// The stats of a table read at `taken`. Services and destinations without stats (built
    /// locally rather than read back) are left out, and destinations without connection
    /// counters are left out of [`destination_states`](Self::destination_states).
    pub fn of(table: &[ServiceEntry], taken: Instant) -> StatsSnapshot {
        let mut services = BTreeMap::new();
        let mut destinations = BTreeMap::new();
        let mut states = BTreeMap::new();
        for e in table {
            if let Some(s) = e.service.stats {
                services.insert(e.service.id, s);
            }
            for d in &e.destinations {
                if let Some(s) = d.stats {
                    destinations.insert((e.service.id, d.socket_addr()), s);
                }
                if let Some(counters) = d.counters {
                    let state = DestState {
                        weight: d.weight,
                        counters,
                    };
                    states.insert((e.service.id, d.socket_addr()), state);
                }
            }
        }
        StatsSnapshot {
            taken,
            services,
            destinations,
            states,
        }
    }

    /// When the table was read.
    pub fn taken(&self) -> Instant {
        self.taken
    }

    /// A service's stats.
    pub fn service(&self, id: &ServiceId) -> Option<&Stats> {
        self.services.get(id)
    }

    /// A destination's stats.
    pub fn destination(&self, id: &ServiceId, addr: SocketAddr) -> Option<&Stats> {
        self.destinations.get(&(*id, addr))
    }

    /// Every service's stats.
    pub fn services(&self) -> &BTreeMap<ServiceId, Stats> {
        &self.services
    }

    /// Every destination's stats, by service and address.
    pub fn destinations(&self) -> &BTreeMap<(ServiceId, SocketAddr), Stats> {
        &self.destinations
    }

    /// A destination's weight and connection counters.
    pub fn destination_state(&self, id: &ServiceId, addr: SocketAddr) -> Option<&DestState> {
        self.states.get(&(*id, addr))
    }

    /// Every destination's weight and connection counters, by service and address.
    pub fn destination_states(&self) -> &BTreeMap<(ServiceId, SocketAddr), DestState> {
        &self.states
    }

    /// The rates from the earlier snapshot `prev` to this one ([`rates`] for each object).
    /// Objects present in only one of the two are left out (a service added in between has
    /// no starting point); a snapshot older than `prev` gives zero elapsed time and zero
    /// rates.
    pub fn rates_since(&self, prev: &StatsSnapshot) -> RateReport {
        let elapsed = self.taken.saturating_duration_since(prev.taken);
        let services = self
            .services
            .iter()
            .filter_map(|(id, now)| {
                let before = prev.services.get(id)?;
                Some((*id, rates(before, now, elapsed)))
            })
            .collect();
        let destinations = self
            .destinations
            .iter()
            .filter_map(|(key, now)| {
                let before = prev.destinations.get(key)?;
                Some((*key, rates(before, now, elapsed)))
            })
            .collect();
        RateReport {
            elapsed,
            services,
            destinations,
        }
    }
}
