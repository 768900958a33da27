//! Prometheus metrics of a table: a [`StatsSnapshot`] rendered in the Prometheus text
//! exposition format (version 0.0.4, what node_exporter serves), with the metric and label
//! names of node_exporter's `ipvs` collector where it has them, so that existing dashboards
//! work, and more under the `lvs_` prefix where it has none.
//!
//! [`Exporter`] keeps what a long-running exporter needs between scrapes: the last counters
//! of each series, so that the counters it exports stay monotonic when the kernel's are
//! zeroed (`ipvsadm -Z`), and nothing else: series of services and destinations that are
//! gone are forgotten at the next scrape.
//!
//! # Metrics
//!
//! node_exporter's names (its labels: `local_address`, `local_port`, `remote_address`,
//! `remote_port`, `proto`, `local_mark`):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `node_ipvs_connections_total` | counter | none |
//! | `node_ipvs_incoming_packets_total` | counter | none |
//! | `node_ipvs_outgoing_packets_total` | counter | none |
//! | `node_ipvs_incoming_bytes_total` | counter | none |
//! | `node_ipvs_outgoing_bytes_total` | counter | none |
//! | `node_ipvs_backend_connections_active` | gauge | the six |
//! | `node_ipvs_backend_connections_inactive` | gauge | the six |
//! | `node_ipvs_backend_weight` | gauge | the six |
//!
//! The labels are rendered as node_exporter renders `/proc/net/ip_vs`: `proto` is the
//! kernel's name (`TCP`, `UDP`, `SCTP`, `IP_<n>` for another protocol number) or `FWM` for a
//! firewall-mark service, whose `local_mark` is the mark in 8 upper-case hexadecimal digits
//! (`0000000A`), `local_address` empty and `local_port` `0`; an address service has an empty
//! `local_mark`. Addresses are in their usual text form (IPv6 compressed, `2001:db8::1`):
//! node_exporter cannot read IPv6 entries of `/proc/net/ip_vs` (it fails its whole backend
//! collection on them), so it has no rendering of its own to follow there. As node_exporter
//! does, backends with the same six labels (an IPv4 and an IPv6 firewall-mark service of the
//! same mark sharing a real server) are summed into one series.
//!
//! The five totals are node_exporter's `/proc/net/ip_vs_stats`, which netlink does not carry:
//! here they are the sum of every service's counters, kept monotonic across scrapes (a
//! service's traffic stays counted after it is deleted or zeroed). They equal the kernel's
//! totals while no service is deleted or zeroed on its own; traffic of services deleted
//! before the exporter's first scrape, or between two scrapes, is not in them.
//!
//! More, under `lvs_` (labels `local_address`, `local_port`, `proto`, `local_mark` and
//! `family`, `inet` or `inet6`, for services; the same and `remote_address`, `remote_port`
//! for destinations):
//!
//! | metric | type |
//! |---|---|
//! | `lvs_service_connections_total` | counter |
//! | `lvs_service_incoming_packets_total`, `lvs_service_outgoing_packets_total` | counter |
//! | `lvs_service_incoming_bytes_total`, `lvs_service_outgoing_bytes_total` | counter |
//! | `lvs_backend_connections_total` | counter |
//! | `lvs_backend_incoming_packets_total`, `lvs_backend_outgoing_packets_total` | counter |
//! | `lvs_backend_incoming_bytes_total`, `lvs_backend_outgoing_bytes_total` | counter |
//! | `lvs_backend_connections_persistent` | gauge |
//! | `lvs_counter_resets_total` | counter (no labels) |
//!
//! # Counter resets
//!
//! The kernel's counters go back to zero when they are zeroed (`ipvsadm -Z`, for the whole
//! table or one service). The exported counters do not: when any of a series' five counters
//! is below its value at the previous scrape, the series was zeroed, and the values it had
//! are added to an offset that is added to every later reading of that series
//! (`lvs_counter_resets_total` counts these). So a counter never goes down while the exporter
//! runs, whatever reads it (`rate()` and `increase()` too, and also sums across series, which
//! a reset would skew); the traffic between the last scrape and the zeroing is the only part
//! lost. A zeroing followed, before the next scrape, by at least as much traffic as the
//! series had counted in each of its five counters cannot be told from no zeroing, here as
//! for Prometheus: the series then goes on from the kernel's value, lower than it should. The alternative, exposing the drop with a `_created` timestamp, needs the OpenMetrics
//! format, which node_exporter does not serve and whose `_created` series Prometheus ignores
//! unless told otherwise. A restarted exporter starts from the kernel's values again, which a
//! scraper sees as an ordinary counter reset.
//!
//! # Why no dependency
//!
//! The text format is a few lines of escaping rules; rendering it here keeps the output
//! byte for byte what node_exporter's dashboards and recording rules were written against
//! (the `prometheus-client` crate writes OpenMetrics, whose counter families are named
//! without `_total`), costs no dependency or feature, and renders a 40,000-destination table
//! without a label-set object per series.
//!
//! ```
//! use std::time::Instant;
//! use lvs::client::StatsSnapshot;
//! use lvs::metrics::Exporter;
//! use lvs::{DestCounters, Destination, Service, ServiceEntry, Stats};
//!
//! let mut svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
//! svc.stats = Some(Stats { conns: 3, ..Stats::default() });
//! let mut rs = Destination::builder("10.0.1.1:80".parse()?).masquerade().build()?;
//! rs.stats = Some(Stats { conns: 3, ..Stats::default() });
//! rs.counters = Some(DestCounters { active: 1, inactive: 2, persistent: 0 });
//! let table = [ServiceEntry { service: svc, destinations: vec![rs] }];
//!
//! let mut exporter = Exporter::new();
//! let text = exporter.render(&StatsSnapshot::of(&table, Instant::now()));
//! assert!(text.contains(
//!     "node_ipvs_backend_connections_inactive{local_address=\"10.0.0.1\",local_port=\"80\",\
//!      remote_address=\"10.0.1.1\",remote_port=\"80\",proto=\"TCP\",local_mark=\"\"} 2\n"
//! ));
//! assert!(text.contains("node_ipvs_connections_total 3\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::client::{Ipvs, StatsSnapshot};
use crate::error::Result;
use crate::model::{AddressFamily, Protocol, ServiceId, Stats};
use crate::transport::Transport;

/// The content type of [`Exporter::render`]'s text, for an HTTP response.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The five traffic counters of a series, in the order of [`COUNTERS`].
type Counters = [u64; 5];

/// The five counters: the name's middle part, and the help text's object.
const COUNTERS: [(&str, &str); 5] = [
    ("connections", "connections scheduled"),
    ("incoming_packets", "incoming packets"),
    ("outgoing_packets", "outgoing packets"),
    ("incoming_bytes", "incoming bytes"),
    ("outgoing_bytes", "outgoing bytes"),
];

fn counters(s: &Stats) -> Counters {
    [
        s.conns,
        s.in_packets,
        s.out_packets,
        s.in_bytes,
        s.out_bytes,
    ]
}

/// A series' counters as last read, and what was added to them because of resets.
#[derive(Debug, Clone, Copy)]
struct Track {
    last: Counters,
    offset: Counters,
}

impl Track {
    fn exported(&self) -> Counters {
        std::array::from_fn(|i| self.last[i].wrapping_add(self.offset[i]))
    }
}

/// A series of counters: a service, or a destination of a service.
type SeriesKey = (ServiceId, Option<SocketAddr>);

/// Renders snapshots of a table as Prometheus metrics, keeping its exported counters
/// monotonic from one scrape to the next (see the [module](self) documentation).
///
/// One exporter serves one table (one namespace): a second table would look like the first
/// one's services deleted and others added at each scrape.
#[derive(Debug, Default)]
pub struct Exporter {
    /// Every series of the last scrape.
    tracks: HashMap<SeriesKey, Track>,
    /// The node_exporter totals, as last exported.
    totals: Counters,
    /// Series found zeroed so far.
    resets: u64,
}

impl Exporter {
    /// An exporter that has seen nothing yet.
    pub fn new() -> Exporter {
        Exporter::default()
    }

    /// Reads the table once ([`Ipvs::stats_snapshot`]) and renders it.
    pub fn scrape<T: Transport>(&mut self, ipvs: &mut Ipvs<T>) -> Result<String> {
        Ok(self.render(&ipvs.stats_snapshot()?))
    }

    /// The metrics of `snap` in the text exposition format ([`CONTENT_TYPE`]); the exporter
    /// remembers its counters for the next call. Series are in the snapshot's order (by
    /// service, then destination).
    pub fn render(&mut self, snap: &StatsSnapshot) -> String {
        let mut out = String::with_capacity(256 + 2_000 * snap.destinations().len());
        self.render_into(snap, &mut out);
        out
    }

    /// [`render`](Self::render), appending to `out`.
    pub fn render_into(&mut self, snap: &StatsSnapshot, out: &mut String) {
        let mut tracks = HashMap::with_capacity(self.tracks.len());
        let mut resets = 0;
        let mut totals = self.totals;
        let mut follow = |key: SeriesKey, stats: &Stats, service: bool| -> Counters {
            let now = counters(stats);
            let track = match self.tracks.get(&key) {
                Some(old) if (0..5).any(|i| now[i] < old.last[i]) => {
                    resets += 1;
                    Track {
                        last: now,
                        offset: std::array::from_fn(|i| old.offset[i].wrapping_add(old.last[i])),
                    }
                }
                Some(old) => Track {
                    last: now,
                    offset: old.offset,
                },
                None => Track {
                    last: now,
                    offset: [0; 5],
                },
            };
            let exported = track.exported();
            if service {
                let before = self.tracks.get(&key).map_or([0; 5], Track::exported);
                for i in 0..5 {
                    totals[i] = totals[i].wrapping_add(exported[i].wrapping_sub(before[i]));
                }
            }
            tracks.insert(key, track);
            exported
        };
        let services: Vec<(ServiceId, String, Counters)> = snap
            .services()
            .iter()
            .map(|(id, s)| (*id, service_labels(id), follow((*id, None), s, true)))
            .collect();
        let dests: Vec<(String, Counters)> = snap
            .destinations()
            .iter()
            .map(|((id, addr), s)| {
                (
                    backend_labels(id, *addr, true),
                    follow((*id, Some(*addr)), s, false),
                )
            })
            .collect();
        self.tracks = tracks;
        self.totals = totals;
        self.resets += resets;

        // node_exporter's families.
        for (i, (name, what)) in COUNTERS.iter().enumerate() {
            family(out, &format!("node_ipvs_{name}_total"), "counter", &format!("The total number of {what}, summed over the services (monotonic across service deletions and zeroing)."));
            let _ = writeln!(out, "node_ipvs_{name}_total {}", totals[i]);
        }
        let backends = node_backends(snap);
        // Index into node_backends' gauges.
        let gauges: [(&str, &str, usize); 3] = [
            (
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
                0,
            ),
            (
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
                1,
            ),
            (
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
                2,
            ),
        ];
        for (name, help, k) in gauges {
            family(out, name, "gauge", help);
            for (labels, g) in &backends {
                let _ = writeln!(out, "{name}{{{labels}}} {}", g[k]);
            }
        }

        // Ours.
        for (i, (name, what)) in COUNTERS.iter().enumerate() {
            let metric = format!("lvs_service_{name}_total");
            family(
                out,
                &metric,
                "counter",
                &format!("The {what} of a virtual service (monotonic across zeroing)."),
            );
            for (_, labels, c) in &services {
                let _ = writeln!(out, "{metric}{{{labels}}} {}", c[i]);
            }
        }
        for (i, (name, what)) in COUNTERS.iter().enumerate() {
            let metric = format!("lvs_backend_{name}_total");
            family(
                out,
                &metric,
                "counter",
                &format!(
                    "The {what} of a real server of a virtual service (monotonic across zeroing)."
                ),
            );
            for (labels, c) in &dests {
                let _ = writeln!(out, "{metric}{{{labels}}} {}", c[i]);
            }
        }
        let metric = "lvs_backend_connections_persistent";
        family(
            out,
            metric,
            "gauge",
            "The current persistent connection templates of a real server of a virtual service.",
        );
        for ((id, addr), st) in snap.destination_states() {
            let labels = backend_labels(id, *addr, true);
            let _ = writeln!(out, "{metric}{{{labels}}} {}", st.counters.persistent);
        }
        let metric = "lvs_counter_resets_total";
        family(out, metric, "counter", "Series whose kernel counters were found zeroed (ipvsadm -Z) since the exporter started.");
        let _ = writeln!(out, "{metric} {}", self.resets);
    }
}

/// A metric family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The node_exporter backend gauges (active, inactive, weight) by label set, backends with
/// the same labels summed, in the snapshot's order of their first backend.
fn node_backends(snap: &StatsSnapshot) -> Vec<(String, [u64; 3])> {
    let mut rows: Vec<(String, [u64; 3])> = Vec::with_capacity(snap.destination_states().len());
    // Only firewall-mark services can share labels (their family is not a label).
    let mut fwmark_rows: HashMap<String, usize> = HashMap::new();
    for ((id, addr), st) in snap.destination_states() {
        let labels = backend_labels(id, *addr, false);
        let g = [
            u64::from(st.counters.active),
            u64::from(st.counters.inactive),
            u64::from(st.weight),
        ];
        if matches!(id, ServiceId::Fwmark { .. }) {
            if let Some(&row) = fwmark_rows.get(&labels) {
                for (sum, v) in rows[row].1.iter_mut().zip(g) {
                    *sum += v;
                }
                continue;
            }
            fwmark_rows.insert(labels.clone(), rows.len());
        }
        rows.push((labels, g));
    }
    rows
}

/// The `proto`, `local_address`, `local_port` and `local_mark` label values of a service.
fn service_parts(id: &ServiceId) -> (String, String, u16, String) {
    match id {
        ServiceId::Addr { protocol, addr } => {
            let proto = match protocol {
                Protocol::Tcp => "TCP".to_owned(),
                Protocol::Udp => "UDP".to_owned(),
                Protocol::Sctp => "SCTP".to_owned(),
                Protocol::Other(n) => format!("IP_{n}"),
            };
            (proto, ip_text(addr.ip()), addr.port(), String::new())
        }
        ServiceId::Fwmark { mark, .. } => {
            ("FWM".to_owned(), String::new(), 0, format!("{mark:08X}"))
        }
    }
}

fn family_name(id: &ServiceId) -> &'static str {
    let af = match id {
        ServiceId::Addr { addr, .. } => AddressFamily::of(&addr.ip()),
        ServiceId::Fwmark { af, .. } => *af,
    };
    match af {
        AddressFamily::Inet => "inet",
        AddressFamily::Inet6 => "inet6",
    }
}

/// An address as a label value: IPv4 dotted, IPv6 compressed (an IPv4-mapped address as
/// its IPv4 form, as Go prints it).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The labels of a service's `lvs_service_*` series.
fn service_labels(id: &ServiceId) -> String {
    let (proto, la, lp, mark) = service_parts(id);
    format!(
        "local_address=\"{la}\",local_port=\"{lp}\",proto=\"{proto}\",local_mark=\"{mark}\",family=\"{}\"",
        family_name(id)
    )
}

/// The labels of a destination's series: node_exporter's six, in its order, and with
/// `family` for the `lvs_backend_*` series.
fn backend_labels(id: &ServiceId, addr: SocketAddr, with_family: bool) -> String {
    let (proto, la, lp, mark) = service_parts(id);
    let mut s = format!(
        "local_address=\"{la}\",local_port=\"{lp}\",remote_address=\"{}\",remote_port=\"{}\",proto=\"{proto}\",local_mark=\"{mark}\"",
        ip_text(addr.ip()),
        addr.port()
    );
    if with_family {
        let _ = write!(s, ",family=\"{}\"", family_name(id));
    }
    s
}

/// A `# HELP` text: backslashes and line feeds escaped.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    use crate::model::{DestCounters, Destination, Service, ServiceEntry};

    fn stats(c: u64) -> Stats {
        Stats {
            conns: c,
            in_packets: c * 10,
            out_packets: c * 9,
            in_bytes: c * 1000,
            out_bytes: c * 2000,
            ..Stats::default()
        }
    }

    fn dest(addr: &str, weight: u32, c: u64, active: u32, inactive: u32) -> Destination {
        let mut d = Destination::builder(addr.parse().unwrap())
            .weight(weight)
            .build()
            .unwrap();
        d.stats = Some(stats(c));
        d.counters = Some(DestCounters {
            active,
            inactive,
            persistent: 7,
        });
        d
    }

    fn table(c: u64) -> Vec<ServiceEntry> {
        let mut tcp = Service::tcp("10.0.0.1:80".parse().unwrap())
            .build()
            .unwrap();
        tcp.stats = Some(stats(3 * c));
        let mut fwm = Service::builder(ServiceId::Fwmark {
            af: AddressFamily::Inet6,
            mark: 10,
        })
        .build()
        .unwrap();
        fwm.stats = Some(stats(c));
        vec![
            ServiceEntry {
                service: tcp,
                destinations: vec![
                    dest("10.0.1.1:8080", 2, c, 1, 2),
                    dest("10.0.1.2:8080", 0, 2 * c, 0, 4),
                ],
            },
            ServiceEntry {
                service: fwm,
                destinations: vec![dest("[2001:db8::1]:0", 5, c, 3, 0)],
            },
        ]
    }

    const EXPECTED: &str = include_str!("../tests/fixtures/metrics/small_table.prom");

    #[test]
    fn renders_a_small_table_exactly() {
        let mut e = Exporter::new();
        let text = e.render(&StatsSnapshot::of(&table(1), Instant::now()));
        if std::env::var_os("LVS_BLESS_METRICS").is_some() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/metrics/small_table.prom"
            );
            std::fs::write(path, &text).unwrap();
        }
        assert_eq!(text, EXPECTED, "got:\n{text}");
    }

    /// The value of the series `line_start` (the metric and its labels) in `text`.
    fn value(text: &str, series: &str) -> u64 {
        let line = text
            .lines()
            .find(|l| l.rsplit_once(' ').is_some_and(|(s, _)| s == series))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    }

    const TCP_SVC: &str = "lvs_service_connections_total{local_address=\"10.0.0.1\",local_port=\"80\",proto=\"TCP\",local_mark=\"\",family=\"inet\"}";
    const TCP_RS1: &str = "lvs_backend_incoming_bytes_total{local_address=\"10.0.0.1\",local_port=\"80\",remote_address=\"10.0.1.1\",remote_port=\"8080\",proto=\"TCP\",local_mark=\"\",family=\"inet\"}";

    #[test]
    fn counters_stay_monotonic_across_zeroing() {
        let mut e = Exporter::new();
        let t0 = Instant::now();
        let a = e.render(&StatsSnapshot::of(&table(5), t0));
        assert_eq!(value(&a, TCP_SVC), 15);
        assert_eq!(value(&a, TCP_RS1), 5000);
        assert_eq!(value(&a, "node_ipvs_connections_total"), 20);
        // More traffic: the raw values.
        let b = e.render(&StatsSnapshot::of(&table(8), t0));
        assert_eq!(value(&b, TCP_SVC), 24);
        assert_eq!(value(&b, "node_ipvs_connections_total"), 32);
        assert_eq!(value(&b, "lvs_counter_resets_total"), 0);
        // Zeroed, then some traffic: what was counted before is kept.
        let c = e.render(&StatsSnapshot::of(&table(1), t0));
        assert_eq!(value(&c, TCP_SVC), 24 + 3);
        assert_eq!(value(&c, TCP_RS1), 8000 + 1000);
        assert_eq!(value(&c, "node_ipvs_connections_total"), 32 + 4);
        // 2 services and 3 destinations were zeroed.
        assert_eq!(value(&c, "lvs_counter_resets_total"), 5);
        // And on from there.
        let d = e.render(&StatsSnapshot::of(&table(2), t0));
        assert_eq!(value(&d, TCP_SVC), 24 + 6);
        assert_eq!(value(&d, "node_ipvs_connections_total"), 32 + 8);
        assert_eq!(value(&d, "lvs_counter_resets_total"), 5);
    }

    #[test]
    fn a_reset_seen_on_one_counter_resets_all_five() {
        // Zeroed, and more connections since than before, but fewer bytes: a reset.
        let mut e = Exporter::new();
        let t0 = Instant::now();
        let mut t = table(5);
        e.render(&StatsSnapshot::of(&t, t0));
        let s = t[0].service.stats.as_mut().unwrap();
        s.conns = 20;
        s.in_bytes = 10;
        let text = e.render(&StatsSnapshot::of(&t, t0));
        assert_eq!(value(&text, TCP_SVC), 15 + 20);
    }

    #[test]
    fn gone_series_are_forgotten() {
        let mut e = Exporter::new();
        let t0 = Instant::now();
        let mut t = table(5);
        e.render(&StatsSnapshot::of(&t, t0));
        assert_eq!(e.tracks.len(), 5);
        t.truncate(1);
        t[0].destinations.truncate(1);
        let text = e.render(&StatsSnapshot::of(&t, t0));
        assert_eq!(e.tracks.len(), 2);
        assert!(!text.contains("2001:db8::1"));
        assert!(!text.contains("10.0.1.2"));
        // The deleted service's traffic stays in the totals.
        assert_eq!(value(&text, "node_ipvs_connections_total"), 20);
        // Back again: a new series, from the kernel's values.
        let text = e.render(&StatsSnapshot::of(&table(6), t0));
        assert_eq!(value(&text, "node_ipvs_connections_total"), 20 + 3 + 6);
    }

    #[test]
    fn fwmark_backends_with_the_same_labels_are_summed() {
        let mut v4 = Service::builder(ServiceId::Fwmark {
            af: AddressFamily::Inet,
            mark: 1,
        })
        .build()
        .unwrap();
        v4.stats = Some(stats(1));
        let mut v6 = v4.clone();
        v6.id = ServiceId::Fwmark {
            af: AddressFamily::Inet6,
            mark: 1,
        };
        let t = vec![
            ServiceEntry {
                service: v4,
                destinations: vec![dest("10.0.1.1:0", 2, 1, 1, 2)],
            },
            ServiceEntry {
                service: v6,
                destinations: vec![dest("10.0.1.1:0", 3, 1, 4, 8)],
            },
        ];
        let text = Exporter::new().render(&StatsSnapshot::of(&t, Instant::now()));
        let labels = "{local_address=\"\",local_port=\"0\",remote_address=\"10.0.1.1\",remote_port=\"0\",proto=\"FWM\",local_mark=\"00000001\"}";
        assert_eq!(
            value(&text, &format!("node_ipvs_backend_weight{labels}")),
            5
        );
        assert_eq!(
            value(
                &text,
                &format!("node_ipvs_backend_connections_active{labels}")
            ),
            5
        );
        assert_eq!(text.matches("node_ipvs_backend_weight{").count(), 1);
        assert_eq!(
            text.matches("lvs_backend_connections_persistent{").count(),
            2
        );
    }

    #[test]
    fn labels_of_other_protocols_and_mapped_addresses() {
        let id = ServiceId::Addr {
            protocol: Protocol::Other(47),
            addr: "[::ffff:10.0.0.1]:0".parse().unwrap(),
        };
        assert_eq!(
            service_parts(&id),
            ("IP_47".into(), "10.0.0.1".into(), 0, String::new())
        );
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }
}
