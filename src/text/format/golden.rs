//! Every listing format, the rule format and the other listings of one varied table,
//! against `tests/fixtures/text-format-golden.txt` (written from the formatter before it was split into files;
//! `LVS_WRITE_GOLDEN=1` writes it again).

use super::*;
use crate::model::{
    DestCounters, Destination, ForwardMethod, Persistence, PersistenceEngine, Stats, Tunnel,
};
use crate::text::names::{NoNames, SystemNames};
use std::net::{Ipv4Addr, SocketAddr};

fn stats(k: u64) -> Stats {
    let n = |i: u64| k.wrapping_mul(10u64.pow(i as u32 * 2 + 1)) + i;
    Stats {
        conns: n(0),
        in_packets: n(1),
        out_packets: n(2),
        in_bytes: n(3),
        out_bytes: n(4),
        cps: n(5),
        in_pps: n(0) + 3,
        out_pps: n(1) + 3,
        in_bps: n(6),
        out_bps: n(7),
    }
}

fn dest(addr: &str, port: u16, forward: ForwardMethod, k: u32) -> Destination {
    Destination {
        addr: addr.parse().unwrap(),
        port,
        forward,
        weight: k.wrapping_mul(7) ^ (k << 31),
        upper_threshold: k * 3,
        lower_threshold: k,
        counters: Some(DestCounters {
            active: k * 11,
            inactive: k * 13,
            persistent: k * 17,
        }),
        stats: Some(stats(u64::from(k) * 1_234_567)),
    }
}

fn table() -> Vec<ServiceEntry> {
    let svc = |id: ServiceId, k: u64| {
        let mut s = Service::tcp("10.0.0.1:80".parse().unwrap())
            .build()
            .unwrap();
        s.id = id;
        s.stats = Some(stats(k));
        s
    };
    let addr = |p: Protocol, a: &str| ServiceId::Addr {
        protocol: p,
        addr: a.parse::<SocketAddr>().unwrap(),
    };
    let mut a = svc(addr(Protocol::Tcp, "10.0.0.1:80"), 1);
    a.scheduler = Scheduler::Sh;
    a.sched_flags = SchedFlags::SH_FALLBACK | SchedFlags::SH_PORT;
    a.persistence = Some(Persistence {
        timeout: 600,
        netmask: Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)),
    });
    a.pe = Some(PersistenceEngine::Sip);
    let mut b = svc(addr(Protocol::Udp, "10.0.0.1:53"), 987_654_321);
    b.one_packet = true;
    b.scheduler = Scheduler::from_name("rr");
    b.sched_flags = SchedFlags::FLAG_2;
    let mut c = svc(addr(Protocol::Sctp, "[fd00::1]:5060"), 123_456_789_012);
    c.persistence = Some(Persistence {
        timeout: 360,
        netmask: Netmask::V6(64),
    });
    let d = svc(
        ServiceId::Fwmark {
            af: AddressFamily::Inet6,
            mark: 4_000_000_000,
        },
        99_999_999_999_999,
    );
    let mut e = svc(
        ServiceId::Fwmark {
            af: AddressFamily::Inet,
            mark: 7,
        },
        5,
    );
    e.stats = None;
    let f = svc(addr(Protocol::Tcp, "127.0.0.1:80"), 2);
    let dests = vec![
        dest("10.0.0.3", 8080, ForwardMethod::Masquerade, 3),
        dest("10.0.0.2", 80, ForwardMethod::DirectRoute, 100_000),
        dest("10.0.0.2", 79, ForwardMethod::Local, 0),
        dest(
            "fd00::2",
            80,
            ForwardMethod::Tunnel(Tunnel::gue(6080).csum()),
            9,
        ),
        dest(
            "10.0.0.4",
            80,
            ForwardMethod::Tunnel(Tunnel::gre().remcsum()),
            10,
        ),
        dest("10.0.0.5", 80, ForwardMethod::Tunnel(Tunnel::ipip()), 11),
        dest(
            "10.0.0.6",
            80,
            ForwardMethod::Tunnel(Tunnel::gue(1)),
            4_000_000,
        ),
    ];
    let mut v6 = dests.clone();
    v6.iter_mut().for_each(|d| {
        d.addr = "fd00::9".parse().unwrap();
    });
    [a, b, c, d, e, f]
        .into_iter()
        .enumerate()
        .map(|(i, service)| ServiceEntry {
            destinations: match i {
                2 | 3 => v6.clone(),
                4 => vec![],
                _ => dests.clone(),
            },
            service,
        })
        .collect()
}

fn render() -> String {
    let table = table();
    let system = SystemNames::from_text(
        "127.0.0.1 localhost\n10.0.0.2 rs-two\nfd00::2 six\n",
        "http 80/tcp\ndomain 53/udp\nsip 5060/sctp\n",
    );
    let mut out = String::new();
    for numeric in [true, false] {
        let names: &dyn Names = if numeric { &NoNames } else { &system };
        for format in [
            ListFormat::Default,
            ListFormat::Stats,
            ListFormat::Rate,
            ListFormat::Thresholds,
            ListFormat::PersistentConn,
            ListFormat::TunInfo,
        ] {
            for (exact, sort) in [(false, true), (true, false)] {
                let opts = ListOptions {
                    numeric,
                    format,
                    exact,
                    sort,
                    ..ListOptions::default()
                };
                out += &format!("== -L {opts:?}\n");
                out += &listing_with(&table, &opts, names);
                out += &service_listing_with(&table[0], &opts, names);
            }
        }
        for sort in [true, false] {
            let opts = ListOptions {
                numeric,
                sort,
                ..ListOptions::default()
            };
            out += &format!("== -S {opts:?}\n");
            out += &save_with(&table, &opts, names);
        }
    }
    out
}

#[test]
fn every_format_prints_as_before() {
    let text = render();
    if std::env::var_os("LVS_WRITE_GOLDEN").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/text-format-golden.txt"
        );
        std::fs::write(path, &text).unwrap();
    }
    let golden = include_str!("../../../tests/fixtures/text-format-golden.txt");
    for (i, (a, b)) in text.lines().zip(golden.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(text, golden);
}
