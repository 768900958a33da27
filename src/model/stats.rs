use std::time::Duration;

/// Traffic counters and rates of a service or destination.
///
/// The kernel keeps 64-bit counters; this crate reads the 64-bit set (`STATS64`, kernel 4.1+)
/// when present and falls back to the older set otherwise. Rates are per second, estimated by
/// the kernel over its averaging window.
///
/// ```
/// use std::time::Duration;
/// use lvs::Stats;
///
/// // Two readings of a service's counters, 10 s apart (from `Ipvs::get_service`).
/// let before = Stats { conns: 100, in_packets: 1_000, in_bytes: 64_000, ..Stats::default() };
/// let after = Stats { conns: 150, in_packets: 1_500, in_bytes: 96_000, ..Stats::default() };
/// let r = after.rates_since(&before, Duration::from_secs(10));
/// assert_eq!((r.cps, r.in_pps, r.in_bps), (5.0, 50.0, 3_200.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Incoming packets.
    pub in_packets: u64,
    /// Outgoing packets.
    pub out_packets: u64,
    /// Incoming bytes.
    pub in_bytes: u64,
    /// Outgoing bytes.
    pub out_bytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub in_pps: u64,
    /// Outgoing packets per second.
    pub out_pps: u64,
    /// Incoming bytes per second.
    pub in_bps: u64,
    /// Outgoing bytes per second.
    pub out_bps: u64,
}

impl Stats {
    /// The kernel's own rate estimates carried by these stats (what `ipvsadm -L --rate`
    /// prints), as [`Rates`].
    pub fn kernel_rates(&self) -> Rates {
        Rates {
            cps: self.cps as f64,
            in_pps: self.in_pps as f64,
            out_pps: self.out_pps as f64,
            in_bps: self.in_bps as f64,
            out_bps: self.out_bps as f64,
        }
    }

    /// The rates between an earlier reading `prev` and this one, taken `elapsed` apart; see
    /// [`rates`].
    pub fn rates_since(&self, prev: &Stats, elapsed: Duration) -> Rates {
        rates(prev, self, elapsed)
    }
}

/// Per-second rates, in the units of `ipvsadm -L --rate`: connections, packets and bytes per
/// second, each direction apart.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Rates {
    /// Connections per second (`CPS`).
    pub cps: f64,
    /// Incoming packets per second (`InPPS`).
    pub in_pps: f64,
    /// Outgoing packets per second (`OutPPS`).
    pub out_pps: f64,
    /// Incoming bytes per second (`InBPS`).
    pub in_bps: f64,
    /// Outgoing bytes per second (`OutBPS`).
    pub out_bps: f64,
}

/// The rates between two readings of the same counters taken `elapsed` apart: each counter's
/// increase divided by the elapsed seconds, the quantities `ipvsadm -L --rate` shows.
///
/// The kernel's own figures ([`Stats::kernel_rates`]) are a moving average refreshed every
/// 2 seconds; these are exact over the interval the caller chose. A counter that went
/// backwards was zeroed in between (`ipvsadm -Z`): its increase counts from zero, so the
/// rate covers what was counted since the reset. A zero `elapsed` gives zero rates.
///
/// ```
/// use std::time::Duration;
/// use lvs::{rates, Stats};
/// let before = Stats { conns: 100, in_bytes: 10_000, ..Stats::default() };
/// let after = Stats { conns: 160, in_bytes: 40_000, ..Stats::default() };
/// let r = rates(&before, &after, Duration::from_secs(2));
/// assert_eq!(r.cps, 30.0);
/// assert_eq!(r.in_bps, 15_000.0);
/// ```
pub fn rates(prev: &Stats, now: &Stats, elapsed: Duration) -> Rates {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return Rates::default();
    }
    let per_sec = |before: u64, after: u64| -> f64 {
        let delta = if after >= before {
            after - before
        } else {
            after
        };
        delta as f64 / secs
    };
    Rates {
        cps: per_sec(prev.conns, now.conns),
        in_pps: per_sec(prev.in_packets, now.in_packets),
        out_pps: per_sec(prev.out_packets, now.out_packets),
        in_bps: per_sec(prev.in_bytes, now.in_bytes),
        out_bps: per_sec(prev.out_bytes, now.out_bytes),
    }
}
