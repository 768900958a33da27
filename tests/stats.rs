//! Stats snapshots and rates (`lvs::rates`, `StatsSnapshot`): the arithmetic of
//! `ipvsadm --rate` over a chosen interval.

use std::time::{Duration, Instant};

use lvs::client::StatsSnapshot;
use lvs::transport::MockKernel;
use lvs::{rates, Destination, Ipvs, Rates, Service, ServiceEntry, Stats};

fn stats(conns: u64, pkts: u64, bytes: u64) -> Stats {
    Stats {
        conns,
        in_packets: pkts,
        out_packets: pkts * 2,
        in_bytes: bytes,
        out_bytes: bytes * 3,
        ..Stats::default()
    }
}

#[test]
fn rates_are_counter_increases_per_second() {
    let r = rates(
        &stats(10, 100, 1_000),
        &stats(30, 400, 9_000),
        Duration::from_millis(4_000),
    );
    assert_eq!(
        r,
        Rates {
            cps: 5.0,
            in_pps: 75.0,
            out_pps: 150.0,
            in_bps: 2_000.0,
            out_bps: 6_000.0,
        }
    );
    // Fractions of a second count.
    let r = rates(&stats(0, 0, 0), &stats(1, 0, 0), Duration::from_millis(250));
    assert_eq!(r.cps, 4.0);
    // Same method on Stats.
    assert_eq!(
        stats(30, 400, 9_000).rates_since(&stats(10, 100, 1_000), Duration::from_secs(4)),
        rates(
            &stats(10, 100, 1_000),
            &stats(30, 400, 9_000),
            Duration::from_secs(4)
        )
    );
}

#[test]
fn zeroed_counters_count_from_zero() {
    // ipvsadm -Z in between: the counters went back to 0 and then counted 8 connections.
    let r = rates(&stats(1_000, 0, 0), &stats(8, 0, 0), Duration::from_secs(2));
    assert_eq!(r.cps, 4.0);
}

#[test]
fn no_time_no_rate() {
    let r = rates(&stats(0, 0, 0), &stats(100, 100, 100), Duration::ZERO);
    assert_eq!(r, Rates::default());
}

#[test]
fn kernel_rates_are_the_estimator_fields() {
    let s = Stats {
        cps: 3,
        in_pps: 4,
        out_pps: 5,
        in_bps: 6,
        out_bps: 7,
        ..Stats::default()
    };
    assert_eq!(
        s.kernel_rates(),
        Rates {
            cps: 3.0,
            in_pps: 4.0,
            out_pps: 5.0,
            in_bps: 6.0,
            out_bps: 7.0
        }
    );
}

fn entry(svc_stats: Option<Stats>, dests: &[(&str, Option<Stats>)]) -> ServiceEntry {
    let mut service = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    service.stats = svc_stats;
    let destinations = dests
        .iter()
        .map(|(a, s)| {
            let mut d = Destination::builder(a.parse().unwrap())
                .masquerade()
                .build()
                .unwrap();
            d.stats = *s;
            d
        })
        .collect();
    ServiceEntry {
        service,
        destinations,
    }
}

#[test]
fn snapshots_give_rates_per_object_present_in_both() {
    let t0 = Instant::now();
    let before = StatsSnapshot::of(
        &[entry(
            Some(stats(10, 0, 0)),
            &[
                ("10.0.0.2:80", Some(stats(4, 0, 0))),
                ("10.0.0.3:80", Some(stats(6, 0, 0))),
            ],
        )],
        t0,
    );
    let after = StatsSnapshot::of(
        &[entry(
            Some(stats(30, 0, 0)),
            &[
                ("10.0.0.2:80", Some(stats(14, 0, 0))),
                // 10.0.0.3 was removed; 10.0.0.4 is new.
                ("10.0.0.4:80", Some(stats(100, 0, 0))),
                // Built locally, no stats: not in the snapshot.
                ("10.0.0.5:80", None),
            ],
        )],
        t0 + Duration::from_secs(2),
    );
    let id = "tcp:10.0.0.1:80".parse().unwrap();
    assert_eq!(after.destinations().len(), 2);
    assert_eq!(after.service(&id).map(|s| s.conns), Some(30));
    let report = after.rates_since(&before);
    assert_eq!(report.elapsed, Duration::from_secs(2));
    assert_eq!(report.services[&id].cps, 10.0);
    assert_eq!(report.destinations.len(), 1);
    assert_eq!(
        report.destinations[&(id, "10.0.0.2:80".parse().unwrap())].cps,
        5.0
    );
    // The wrong way round: no time elapsed, no rates.
    let back = before.rates_since(&after);
    assert_eq!(back.elapsed, Duration::ZERO);
    assert!(back.services.values().all(|r| *r == Rates::default()));
}

#[test]
fn snapshot_through_the_client() {
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    ipvs.add_service(&svc).unwrap();
    let d = Destination::builder("10.0.0.2:80".parse().unwrap())
        .masquerade()
        .build()
        .unwrap();
    ipvs.add_destination(&svc.id, &d).unwrap();
    let before = Instant::now();
    let snap = ipvs.stats_snapshot().unwrap();
    assert!(snap.taken() >= before);
    // Read back objects carry stats (zero on the mock): both are in the snapshot.
    assert_eq!(snap.service(&svc.id), Some(&Stats::default()));
    assert_eq!(
        snap.destination(&svc.id, d.socket_addr()),
        Some(&Stats::default())
    );
}
