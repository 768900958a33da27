//! Comparing tables by configuration: whatever the order, without the counters and stats,
//! and without what the kernel adds on its own.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use super::{Destination, Service, ServiceEntry, ServiceId};

/// Whether two tables hold the same configuration: the same services, each with the same
/// destinations, in any order, compared with [`Service::same_config`] and
/// [`Destination::same_config`] (statistics, connection counters and the `HASHED` flag the
/// kernel sets are left out). A desired table and a listing of the kernel's compare equal
/// once the kernel holds it; so do two listings of one table taken in different dump orders
/// (the 7.x kernels' service order changes as their hash table resizes).
///
/// Identities that appear twice count twice (a table with a service twice is not the
/// same as one with it once). [`diff`] says what differs.
///
/// ```
/// use lvs::model::{same_config, ServiceEntry};
/// use lvs::{Destination, Service};
///
/// let entry = |vip: &str, reals: &[&str]| -> Result<ServiceEntry, lvs::InvalidError> {
///     Ok(ServiceEntry {
///         service: Service::tcp(vip.parse().unwrap()).build()?,
///         destinations: reals
///             .iter()
///             .map(|r| Destination::builder(r.parse().unwrap()).masquerade().build())
///             .collect::<Result<_, _>>()?,
///     })
/// };
/// let a = vec![entry("10.0.0.1:80", &["10.0.1.1:80", "10.0.1.2:80"])?, entry("10.0.0.2:53", &[])?];
/// let b = vec![entry("10.0.0.2:53", &[])?, entry("10.0.0.1:80", &["10.0.1.2:80", "10.0.1.1:80"])?];
/// assert!(same_config(&a, &b));
/// assert!(!same_config(&a, &b[..1]));
/// # Ok::<(), lvs::InvalidError>(())
/// ```
pub fn same_config(a: &[ServiceEntry], b: &[ServiceEntry]) -> bool {
    a.len() == b.len() && diff(a, b).is_empty()
}

/// What differs between a wanted table and the one there is, by configuration and whatever
/// the order (as [`same_config`] compares them): services and destinations missing from
/// `have`, extra in `have`, or in both with a different configuration. Empty when
/// [`same_config`] holds.
///
/// The differences come in `want`'s order, then the extras in `have`'s order. A service
/// missing or extra is one difference, its destinations with it; the destinations of a
/// service in both are compared one by one, by address and port.
///
/// ```
/// use lvs::model::{diff, Difference, ServiceEntry};
/// use lvs::{Destination, Service};
///
/// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// let real = Destination::builder("10.0.1.1:80".parse()?).masquerade().build()?;
/// let want = vec![ServiceEntry { service: svc.clone(), destinations: vec![real.clone()] }];
/// let mut heavy = real.clone();
/// heavy.weight = 5;
/// let have = vec![ServiceEntry { service: svc.clone(), destinations: vec![heavy.clone()] }];
/// assert_eq!(
///     diff(&want, &have),
///     [Difference::ChangedDestination { service: svc.id, want: real, have: heavy }]
/// );
/// assert_eq!(diff(&want, &[]), [Difference::MissingService(want[0].clone())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diff(want: &[ServiceEntry], have: &[ServiceEntry]) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut by_id = index(have, |e| e.service.id);
    let mut matched = vec![false; have.len()];
    for w in want {
        let Some(j) = take(&mut by_id, &w.service.id) else {
            out.push(Difference::MissingService(w.clone()));
            continue;
        };
        matched[j] = true;
        let h = &have[j];
        if !w.service.same_config(&h.service) {
            out.push(Difference::ChangedService {
                want: w.service.clone(),
                have: h.service.clone(),
            });
        }
        diff_destinations(w.service.id, &w.destinations, &h.destinations, &mut out);
    }
    out.extend(
        have.iter()
            .zip(matched)
            .filter(|(_, m)| !m)
            .map(|(h, _)| Difference::ExtraService(h.clone())),
    );
    out
}

/// The destinations of service `id`, wanted and there.
fn diff_destinations(
    id: ServiceId,
    want: &[Destination],
    have: &[Destination],
    out: &mut Vec<Difference>,
) {
    let mut by_addr = index(have, Destination::socket_addr);
    let mut matched = vec![false; have.len()];
    for w in want {
        let Some(j) = take(&mut by_addr, &w.socket_addr()) else {
            out.push(Difference::MissingDestination(id, w.clone()));
            continue;
        };
        matched[j] = true;
        if !w.same_config(&have[j]) {
            out.push(Difference::ChangedDestination {
                service: id,
                want: w.clone(),
                have: have[j].clone(),
            });
        }
    }
    out.extend(
        have.iter()
            .zip(matched)
            .filter(|(_, m)| !m)
            .map(|(h, _)| Difference::ExtraDestination(id, h.clone())),
    );
}

/// The positions of each key in `items`, first last (so that `pop` takes the first).
fn index<T, K: std::hash::Hash + Eq>(items: &[T], key: impl Fn(&T) -> K) -> HashMap<K, Vec<usize>> {
    let mut m: HashMap<K, Vec<usize>> = HashMap::with_capacity(items.len());
    for (i, x) in items.iter().enumerate().rev() {
        m.entry(key(x)).or_default().push(i);
    }
    m
}

/// The first position of `key` not taken yet.
fn take<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Vec<usize>>, key: &K) -> Option<usize> {
    m.get_mut(key)?.pop()
}

/// One difference between a wanted table and the one there is (see [`diff`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Difference {
    /// A wanted service that is not there (with the destinations it should have).
    MissingService(ServiceEntry),
    /// A service that is there but not wanted (with its destinations).
    ExtraService(ServiceEntry),
    /// A service in both, configured differently (scheduler, flags, persistence, engine or
    /// netmask).
    ChangedService {
        /// As wanted.
        want: Service,
        /// As it is.
        have: Service,
    },
    /// A wanted destination missing from a service that is there.
    MissingDestination(ServiceId, Destination),
    /// A destination of a wanted service that is not wanted.
    ExtraDestination(ServiceId, Destination),
    /// A destination in both, configured differently (forwarding, weight or thresholds).
    ChangedDestination {
        /// Its service.
        service: ServiceId,
        /// As wanted.
        want: Destination,
        /// As it is.
        have: Destination,
    },
}

impl Difference {
    /// The service the difference is about.
    pub fn service_id(&self) -> ServiceId {
        match self {
            Difference::MissingService(e) | Difference::ExtraService(e) => e.service.id,
            Difference::ChangedService { want, .. } => want.id,
            Difference::MissingDestination(id, _)
            | Difference::ExtraDestination(id, _)
            | Difference::ChangedDestination { service: id, .. } => *id,
        }
    }

    /// The destination the difference is about, if it is about one.
    pub fn destination(&self) -> Option<SocketAddr> {
        match self {
            Difference::MissingDestination(_, d) | Difference::ExtraDestination(_, d) => {
                Some(d.socket_addr())
            }
            Difference::ChangedDestination { want, .. } => Some(want.socket_addr()),
            _ => None,
        }
    }
}

impl fmt::Display for Difference {
    /// `missing service tcp:10.0.0.1:80 (2 destinations)`,
    /// `changed destination 10.0.1.1:80 of tcp:10.0.0.1:80: want ..., have ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::MissingService(e) => write!(
                f,
                "missing service {} ({} destinations)",
                e.service.id,
                e.destinations.len()
            ),
            Difference::ExtraService(e) => write!(
                f,
                "extra service {} ({} destinations)",
                e.service.id,
                e.destinations.len()
            ),
            Difference::ChangedService { want, have } => {
                write!(f, "changed service {}: want {want}, have {have}", want.id)
            }
            Difference::MissingDestination(id, d) => write!(f, "missing destination {d} of {id}"),
            Difference::ExtraDestination(id, d) => write!(f, "extra destination {d} of {id}"),
            Difference::ChangedDestination {
                service,
                want,
                have,
            } => write!(
                f,
                "changed destination {} of {service}: want {want}, have {have}",
                want.socket_addr()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Protocol, Scheduler};

    fn svc(vip: &str, sched: Scheduler) -> Service {
        Service::builder(ServiceId::Addr {
            protocol: Protocol::Tcp,
            addr: vip.parse().unwrap(),
        })
        .scheduler(sched)
        .build()
        .unwrap()
    }

    fn dest(addr: &str, weight: u32) -> Destination {
        Destination::builder(addr.parse().unwrap())
            .masquerade()
            .weight(weight)
            .build()
            .unwrap()
    }

    fn entry(s: Service, d: Vec<Destination>) -> ServiceEntry {
        ServiceEntry {
            service: s,
            destinations: d,
        }
    }

    #[test]
    fn order_stats_and_hashed_do_not_count() {
        let a = vec![
            entry(
                svc("10.0.0.1:80", Scheduler::Rr),
                vec![dest("10.0.1.1:80", 1), dest("10.0.1.2:80", 2)],
            ),
            entry(svc("10.0.0.2:80", Scheduler::Wlc), vec![]),
        ];
        let mut b = vec![a[1].clone(), a[0].clone()];
        b[1].destinations.reverse();
        b[1].service.stats = Some(Default::default());
        b[1].service.other_flags |= crate::model::ServiceFlags::HASHED;
        b[1].destinations[0].counters = Some(Default::default());
        assert!(same_config(&a, &b));
        assert_eq!(diff(&a, &b), []);
    }

    #[test]
    fn each_kind_of_difference_is_named() {
        let s1 = svc("10.0.0.1:80", Scheduler::Rr);
        let s2 = svc("10.0.0.2:80", Scheduler::Rr);
        let s3 = svc("10.0.0.3:80", Scheduler::Rr);
        let want = vec![
            entry(
                s1.clone(),
                vec![dest("10.0.1.1:80", 1), dest("10.0.1.2:80", 1)],
            ),
            entry(s2.clone(), vec![]),
        ];
        let have = vec![
            entry(s3.clone(), vec![]),
            entry(
                svc("10.0.0.1:80", Scheduler::Wlc),
                vec![dest("10.0.1.3:80", 1), dest("10.0.1.1:80", 4)],
            ),
        ];
        let d = diff(&want, &have);
        assert_eq!(
            d,
            [
                Difference::ChangedService {
                    want: s1.clone(),
                    have: have[1].service.clone()
                },
                Difference::ChangedDestination {
                    service: s1.id,
                    want: dest("10.0.1.1:80", 1),
                    have: dest("10.0.1.1:80", 4)
                },
                Difference::MissingDestination(s1.id, dest("10.0.1.2:80", 1)),
                Difference::ExtraDestination(s1.id, dest("10.0.1.3:80", 1)),
                Difference::MissingService(want[1].clone()),
                Difference::ExtraService(have[0].clone()),
            ]
        );
        assert!(!same_config(&want, &have));
        assert_eq!(d[4].service_id(), s2.id);
        assert_eq!(d[2].destination(), Some("10.0.1.2:80".parse().unwrap()));
        assert_eq!(
            d[1].to_string(),
            "changed destination 10.0.1.1:80 of tcp:10.0.0.1:80: want 10.0.1.1:80 masq weight 1, have 10.0.1.1:80 masq weight 4"
        );
        assert_eq!(
            d[5].to_string(),
            "extra service tcp:10.0.0.3:80 (0 destinations)"
        );
    }

    #[test]
    fn duplicates_count_as_many_times_as_they_appear() {
        let e = entry(
            svc("10.0.0.1:80", Scheduler::Rr),
            vec![dest("10.0.1.1:80", 1)],
        );
        let twice = vec![e.clone(), e.clone()];
        assert!(!same_config(&twice, std::slice::from_ref(&e)));
        assert_eq!(
            diff(&twice, std::slice::from_ref(&e)),
            [Difference::MissingService(e.clone())]
        );
        assert!(same_config(&twice, &twice));
        let mut dup_dest = e.clone();
        dup_dest.destinations.push(dest("10.0.1.1:80", 1));
        assert_eq!(
            diff(std::slice::from_ref(&e), &[dup_dest]),
            [Difference::ExtraDestination(
                e.service.id,
                dest("10.0.1.1:80", 1)
            )]
        );
    }
}
