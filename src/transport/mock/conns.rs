//! Connections injected into the mock, which carries no traffic of its own: per
//! destination, fixed counts, and connections that go from active to inactive and then
//! expire on the mock's clock.

use std::time::Duration;

/// The connections of one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Conns {
    /// Active connections that never expire.
    fixed_active: u32,
    /// Inactive connections that never expire.
    fixed_inactive: u32,
    /// Connections with an end, each active until `inactive_from`, then inactive until
    /// `expires`.
    timed: Vec<Timed>,
}

/// One connection with an end, in times of the mock's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timed {
    inactive_from: Duration,
    expires: Duration,
}

impl Conns {
    /// Replace every connection with `active` and `inactive` ones that never expire.
    pub(crate) fn set(&mut self, active: u32, inactive: u32) {
        self.fixed_active = active;
        self.fixed_inactive = inactive;
        self.timed.clear();
    }

    /// One more connection, active from `now` for `active_for`, then inactive for
    /// `inactive_for`, then gone.
    pub(crate) fn add(&mut self, now: Duration, active_for: Duration, inactive_for: Duration) {
        let inactive_from = now.saturating_add(active_for);
        self.timed.push(Timed {
            inactive_from,
            expires: inactive_from.saturating_add(inactive_for),
        });
    }

    /// `(active, inactive)` at time `now` (the kernel's `activeconns`, `inactconns`).
    pub(crate) fn counts(&self, now: Duration) -> (u32, u32) {
        let (mut active, mut inactive) = (self.fixed_active, self.fixed_inactive);
        for t in self.timed.iter().filter(|t| now < t.expires) {
            if now < t.inactive_from {
                active = active.saturating_add(1);
            } else {
                inactive = inactive.saturating_add(1);
            }
        }
        (active, inactive)
    }

    /// Drop the connections expired at `now`.
    pub(crate) fn expire(&mut self, now: Duration) {
        self.timed.retain(|t| now < t.expires);
    }

    /// Whether any connection is left at `now`.
    pub(crate) fn any(&self, now: Duration) -> bool {
        self.counts(now) != (0, 0)
    }
}
