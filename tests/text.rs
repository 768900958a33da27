//! ipvsadm's text formats on the host: listings compared with output captured from
//! ipvsadm 1.31 in the guest, and rule parsing round trips.

use lvs::text::{self, parse_args, parse_rules, Command, ListFormat, ListOptions, NoNames};
use lvs::{Destination, Service, ServiceEntry, Tunnel};

fn entry(svc: &str, dests: &[&str]) -> ServiceEntry {
    let words: Vec<&str> = svc.split_whitespace().collect();
    let Ok(Command::Write(lvs::Op::AddService(service))) = parse_args(&words, &NoNames, false)
    else {
        panic!("bad service line {svc}");
    };
    let destinations = dests
        .iter()
        .map(|d| {
            let words: Vec<&str> = d.split_whitespace().collect();
            match parse_args(&words, &NoNames, false) {
                Ok(Command::Write(lvs::Op::AddDestination(_, d))) => d,
                other => panic!("bad destination line {d}: {other:?}"),
            }
        })
        .collect();
    ServiceEntry {
        service,
        destinations,
    }
}

#[test]
fn numeric_listing_matches_ipvsadm() {
    let table = vec![entry(
        "-A -t 10.0.0.1:80 -s rr",
        &[
            "-a -t 10.0.0.1:80 -r 192.168.1.4:8080 -i -w 0",
            "-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 3",
            "-a -t 10.0.0.1:80 -r 192.168.1.3 -g",
        ],
    )];
    let expected = "IP Virtual Server version 1.2.1 (size=4096)\n\
Prot LocalAddress:Port Scheduler Flags\n  \
-> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
TCP  10.0.0.1:80 rr\n  \
-> 192.168.1.2:80               Masq    3      0          0         \n  \
-> 192.168.1.3:80               Route   1      0          0         \n  \
-> 192.168.1.4:80               Tunnel  0      0          0         \n";
    assert_eq!(text::listing(&table, &ListOptions::numeric()), expected);
    let save = "-A -t 10.0.0.1:80 -s rr\n\
-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 3\n\
-a -t 10.0.0.1:80 -r 192.168.1.3:80 -g -w 1\n\
-a -t 10.0.0.1:80 -r 192.168.1.4:80 -i -w 0 --tun-type ipip\n";
    assert_eq!(text::save(&table, true), save);
    // -S output reads back to the same table.
    let rules = parse_rules(save, &NoNames).unwrap();
    assert_eq!(rules.len(), 4);
}

#[test]
fn sort_order_keeps_ipvsadm_wraparound() {
    let table: Vec<ServiceEntry> = [
        "-A -t 10.0.0.1:80 -s wrr",
        "-A -t 1.2.3.4:80",
        "-A -f 3000000000",
        "-A -t 200.0.0.1:80",
    ]
    .iter()
    .map(|s| entry(s, &[]))
    .collect();
    let out = text::listing(&table, &ListOptions::numeric());
    let lines: Vec<&str> = out.lines().skip(3).collect();
    assert_eq!(
        lines,
        [
            "FWM  -1294967296 wlc",
            "TCP  200.0.0.1:80 wlc",
            "TCP  1.2.3.4:80 wlc",
            "TCP  10.0.0.1:80 wrr"
        ]
    );
}

#[test]
fn stats_columns_and_units() {
    let mut e = entry("-A -u [fd00::1]:53 -s sh -b sh-port -p 100 -M 64", &[]);
    let st = lvs::Stats {
        conns: 123_456_789,
        in_packets: 5_000_000_000,
        ..Default::default()
    };
    e.service.stats = Some(st);
    let mut d = Destination::builder("[fd00::2]:53".parse().unwrap())
        .tunnel(Tunnel::gue(6080).csum())
        .build()
        .unwrap();
    d.stats = Some(st);
    e.destinations.push(d);
    let opts = ListOptions::numeric().with_format(ListFormat::Stats);
    let out = text::listing(std::slice::from_ref(&e), &opts);
    assert!(out.contains(
        "UDP  [fd00::1]:53                  123456K    5000M        0        0        0\n"
    ));
    let exact = ListOptions {
        exact: true,
        ..opts
    };
    assert!(text::listing(std::slice::from_ref(&e), &exact).contains(
        "UDP  [fd00::1]:53                 123456789 5000000000        0        0        0\n"
    ));
    let tun = ListOptions::numeric().with_format(ListFormat::TunInfo);
    assert!(text::listing(std::slice::from_ref(&e), &tun).contains(
        "  -> [fd00::2]:53                 Tunnel  gue:6080:+c   1      0          0         \n"
    ));
    assert_eq!(
        text::save(std::slice::from_ref(&e), true),
        "-A -u [fd00::1]:53 -s sh -p 100 -M 64 -b sh-port\n\
-a -u [fd00::1]:53 -r [fd00::2]:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n"
    );
    let _: &Service = &e.service;
}

#[test]
fn rule_errors_name_the_line() {
    let err = parse_rules(
        "-A -t 10.0.0.1:80\n\n-a -t 10.0.0.1:80 -r 10.0.0.2 --bogus\n",
        &NoNames,
    )
    .unwrap_err();
    assert_eq!((err.line, err.error.status), (3, 255));
    assert!(err.to_string().contains("--bogus"));
    let err = parse_rules("ipvsadm -A -t 10.0.0.1:80 -s rr -p 0\n", &NoNames).unwrap_err();
    assert_eq!((err.line, err.error.status), (1, 2));
    assert!(err.to_string().contains("-p/--persistent"));
}

#[test]
fn streamed_rules_are_the_collected_rules() {
    let input = "ipvsadm -A -t 10.0.0.1:80 -s rr\r\n\n\t\n-a\t-t 10.0.0.1:80  -r 10.0.0.2 -m\n\
-A -u [fd00::1]:53 ipvsadm -s sh -b sh-port\n-a -t 10.0.0.1:80 -r 10.0.0.3 -w x\n-C\n";
    let streamed: Vec<_> = text::rules(input, &NoNames).collect();
    assert_eq!(
        streamed.len(),
        4,
        "three rules, then the error, then nothing"
    );
    let sources: Vec<(usize, &str)> = streamed
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| (r.line, r.source))
        .collect();
    assert_eq!(
        sources,
        [
            (1, "ipvsadm -A -t 10.0.0.1:80 -s rr\r"),
            (4, "-a\t-t 10.0.0.1:80  -r 10.0.0.2 -m"),
            (5, "-A -u [fd00::1]:53 ipvsadm -s sh -b sh-port"),
        ]
    );
    let err = streamed[3].clone().unwrap_err();
    assert_eq!(
        Err(err.clone()),
        parse_rules(input, &NoNames),
        "the same error as parse_rules"
    );
    assert_eq!(
        (err.line, err.text.as_str()),
        (6, "-a -t 10.0.0.1:80 -r 10.0.0.3 -w x")
    );
    // Up to the bad line, the streamed rules are parse_rules' lines.
    let good = input.split_inclusive('\n').take(5).collect::<String>();
    let lines: Vec<text::RuleLine> = text::rules(&good, &NoNames)
        .map(|r| r.unwrap().into())
        .collect();
    assert_eq!(lines, parse_rules(&good, &NoNames).unwrap());
    assert_eq!(lines[1].text, "-a -t 10.0.0.1:80 -r 10.0.0.2 -m");
    assert_eq!(lines[2].text, "-A -u [fd00::1]:53 -s sh -b sh-port");
}

#[test]
fn timeouts_daemons_connections() {
    let t = lvs::Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    assert_eq!(
        text::timeouts(&t),
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    );
    let conns = lvs::conn::parse(
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
TCP 0A000002 9C40 0A000001 0050 0A000064 0050 ESTABLISHED     899\n",
    )
    .unwrap();
    assert_eq!(
        text::connections(&conns, true, false),
        "IPVS connection entries\n\
pro expire state       source             virtual            destination\n\
TCP 14:59  ESTABLISHED 10.0.0.2:40000     10.0.0.1:80        10.0.0.100:80\n"
    );
}

#[test]
fn hash_is_not_a_comment() {
    // ipvsadm's restore has no comment syntax: the words of a `#` line are leftovers.
    let err = parse_rules("-A -t 10.0.0.1:81\n# a comment\n", &NoNames).unwrap_err();
    assert_eq!((err.line, err.error.status), (2, 255));
}

/// A service line for the table-text property: TCP and UDP on IPv4 and IPv6, and firewall
/// marks, all where ipvsadm's comparator is a total order (no wrap-around), so that a plain
/// stable sort by [`text::service_order`] is the reference order.
fn prop_service_line(kind: u8, n: u16, port: u16) -> String {
    match kind {
        0 => format!("-A -t 10.0.{}.{}:{port} -s rr", n / 256, n % 256),
        1 => format!("-A -u 10.0.{}.{}:{port} -s wrr -p 60", n / 256, n % 256),
        2 => format!("-A -t [fd00::{n:x}]:{port} -s sh -b sh-port"),
        _ => format!("-A -f {} -s lc", u32::from(n) * 7 + u32::from(port)),
    }
}

proptest::proptest! {
    /// `TableText` (format each service as it arrives, order the services at the end) prints
    /// what sorting the table first and formatting it service by service prints, for
    /// listings and rules, sorted or not.
    #[test]
    fn table_text_is_sort_then_format(
        picks in proptest::collection::vec((0u8..4, 0u16..600, 1u16..4, 0usize..4), 0..40),
        sort in proptest::bool::ANY,
    ) {
        let mut seen = std::collections::HashSet::new();
        let table: Vec<ServiceEntry> = picks
            .iter()
            .map(|&(kind, n, port, dests)| {
                let line = prop_service_line(kind, n, port);
                let target = line.split_whitespace().take(3).collect::<Vec<_>>()[1..].join(" ");
                let dest_lines: Vec<String> = (0..dests)
                    .map(|j| match kind {
                        2 => format!("-a {target} -r [fd01::{}]:80 -m -w {j}", 9 - j),
                        _ => format!("-a {target} -r 192.168.{j}.{} -m -w {j}", 9 - j),
                    })
                    .collect();
                let refs: Vec<&str> = dest_lines.iter().map(String::as_str).collect();
                entry(&line, &refs)
            })
            .filter(|e| seen.insert(e.service.id))
            .collect();
        let mut order: Vec<&ServiceEntry> = table.iter().collect();
        if sort {
            order.sort_by(|a, b| text::service_order(&a.service, &b.service));
        }
        for numeric_listing in [false, true] {
            let opts = ListOptions { sort, ..ListOptions::numeric() };
            let mut text = if numeric_listing {
                text::TableText::listing(&opts, &NoNames)
            } else {
                text::TableText::save(&opts, &NoNames)
            };
            let mut again = if numeric_listing {
                text::TableText::listing(&opts, &NoNames)
            } else {
                text::TableText::save(&opts, &NoNames)
            };
            for e in &table {
                text.push(e);
                again.push(e);
            }
            let got = text.finish();
            let mut written = Vec::new();
            again.write_to(&mut written).unwrap();
            proptest::prop_assert_eq!(&written, got.as_bytes());
            let mut want = if numeric_listing {
                text::header(&opts.info) + &text::title(opts.format)
            } else {
                String::new()
            };
            for e in &order {
                if numeric_listing {
                    let one = text::service_listing_with(e, &opts, &NoNames);
                    want.push_str(&one[text::title(opts.format).len()..]);
                } else {
                    want.push_str(&text::save_with(std::slice::from_ref(*e), &opts, &NoNames));
                }
            }
            proptest::prop_assert_eq!(got, want);
        }
    }
}

proptest::proptest! {
    /// The numeric lines of a listing and of `-S`, which are written without the formatting
    /// machinery, are what C's `printf` formats make of the same values (`%-28s %-7s %-6d
    /// %-10u %-10u` and `-a %s -r %s %s -w %d`), for any IPv4 address, port, weight (shown
    /// as a signed int, as ipvsadm does) and counters.
    #[test]
    fn numeric_lines_are_printf(
        svc in proptest::array::uniform4(proptest::num::u8::ANY),
        svc_port in proptest::num::u16::ANY,
        dest in proptest::array::uniform4(proptest::num::u8::ANY),
        dest_port in proptest::num::u16::ANY,
        weight in proptest::num::u32::ANY,
        active in proptest::num::u32::ANY,
        inactive in proptest::num::u32::ANY,
        fwd in 0usize..3,
    ) {
        use std::net::{IpAddr, Ipv4Addr, SocketAddr};
        let vip = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(svc)), svc_port);
        let rip = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(dest)), dest_port);
        let service = Service::tcp(vip).build().unwrap();
        let mut d = Destination::builder(rip).build().unwrap();
        d.forward = [
            lvs::ForwardMethod::Masquerade,
            lvs::ForwardMethod::DirectRoute,
            lvs::ForwardMethod::Tunnel(Tunnel::ipip()),
        ][fwd];
        d.weight = weight;
        d.counters = Some(lvs::DestCounters { active, inactive, persistent: 0 });
        let e = ServiceEntry { service, destinations: vec![d] };
        let opts = ListOptions::numeric();
        let listing = text::service_listing_with(&e, &opts, &NoNames);
        let (name, sw, extra) = [
            ("Masq", "-m", ""),
            ("Route", "-g", ""),
            ("Tunnel", "-i", " --tun-type ipip"),
        ][fwd];
        // Direct routing keeps the service's port in ipvsadm's output only for port 0;
        // what matters here is the text of the values the destination holds.
        let dport = e.destinations[0].port;
        let addr = format!("{}:{dport}", rip.ip());
        let want = format!(
            "  -> {addr:<28} {name:<7} {:<6} {active:<10} {inactive:<10}\n",
            weight as i32
        );
        proptest::prop_assert_eq!(listing.lines().last().map(|l| format!("{l}\n")), Some(want));
        let save = text::save_with(std::slice::from_ref(&e), &opts, &NoNames);
        let want = format!(
            "-A -t {vip} -s wlc\n-a -t {vip} -r {addr} {sw} -w {}{extra}\n",
            weight as i32
        );
        proptest::prop_assert_eq!(save, want);
    }
}

proptest::proptest! {
    /// Rule lines are split into words as ipvsadm's restore splits them: on spaces, tabs and
    /// carriage returns only (not on other white space), with the word `ipvsadm` dropped.
    #[test]
    fn rule_words_split_on_space_tab_and_cr(
        line in "(ipvsadm|-A|-t|10\\.0\\.0\\.1:80|é|\u{a0}|\u{c}|[ \t\r]{1,3}|[a-z]{1,4}){0,12}"
    ) {
        let want: Vec<String> = line
            .split([' ', '\t', '\r'])
            .filter(|w| !w.is_empty() && *w != "ipvsadm")
            .map(str::to_owned)
            .collect();
        proptest::prop_assert_eq!(text::rules::words(&line), want);
    }

    /// A text with fewer than two colons is never an IPv6 address, so the parser does not
    /// try `host:port` as one.
    #[test]
    fn fewer_than_two_colons_is_never_ipv6(s in "[0-9a-fA-F:.%]{0,45}") {
        if s.bytes().filter(|&b| b == b':').count() < 2 {
            proptest::prop_assert!(s.parse::<std::net::Ipv6Addr>().is_err());
        }
    }
}

/// A writer that records each `write` call's size.
struct Writes(Vec<u8>, Vec<usize>);

impl std::io::Write for Writes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        self.1.push(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_table_is_written_in_64_kib_pieces() {
    let table: Vec<ServiceEntry> = (0..5000u16)
        .map(|n| {
            let line = prop_service_line(0, n, 80);
            let target = format!("-t 10.0.{}.{}:80", n / 256, n % 256);
            let d = format!("-a {target} -r 192.168.0.1:80 -m -w 1");
            entry(&line, &[d.as_str()])
        })
        .collect();
    let opts = ListOptions::numeric();
    let text = text::listing_with(&table, &opts, &NoNames);
    let mut t = text::TableText::listing(&opts, &NoNames);
    table.iter().for_each(|e| t.push(e));
    let mut w = Writes(Vec::new(), Vec::new());
    t.write_to(&mut w).unwrap();
    assert_eq!(w.0, text.as_bytes());
    assert!(text.len() > 4 * 65536);
    // Every piece but the last is full to within one service's block (under 200 bytes here).
    assert!(w.1.len() <= text.len() / (65536 - 200) + 1, "{:?}", w.1);
    assert!(w.1.iter().all(|&n| n <= 65536));
}
