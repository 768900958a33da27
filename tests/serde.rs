//! serde support (feature `serde`): the configuration format. Every model value's
//! configuration survives a JSON round trip, ipvsadm's words and text forms are used and
//! read, unknown fields and values the builders refuse are errors naming the object, and a
//! table read back from the mock serializes to configuration that reconciles with no write.

use std::net::SocketAddr;

use lvs::strategies;
use lvs::{
    Daemon, DaemonState, DestCounters, Destination, ForwardMethod, Info, Netmask, Persistence,
    PersistenceEngine, Protocol, Rates, SchedFlags, Scheduler, Service, ServiceEntry, ServiceFlags,
    ServiceId, Stats, TableError, Timeouts, Tunnel, TunnelFlags, TunnelType, Version,
};
use proptest::prelude::*;

fn round_trip<T>(v: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(v).expect("serialize");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("deserialize {text}: {e}"))
}

proptest! {
    #[test]
    fn service_entries_round_trip((mut svc, dests) in strategies::service_with_dests(4)) {
        // The raw timeout of a non-persistent service is read-back detail a write ignores:
        // not configuration, not serialized.
        svc.raw_timeout = 0;
        let entry = ServiceEntry { service: svc, destinations: dests };
        prop_assert_eq!(round_trip(&entry), entry);
    }

    #[test]
    fn stats_and_counters_are_not_serialized(
        (mut svc, mut dests) in strategies::service_with_dests(3),
        stats in strategies::stats(),
    ) {
        svc.stats = Some(stats);
        svc.other_flags |= ServiceFlags::HASHED;
        for d in &mut dests {
            d.stats = Some(stats);
            d.counters = Some(DestCounters { active: 1, inactive: 2, persistent: 3 });
        }
        let entry = ServiceEntry { service: svc, destinations: dests };
        let text = serde_json::to_string(&entry).unwrap();
        for word in ["stats", "counters", "HASHED", "raw_", "conns", "active"] {
            prop_assert!(!text.contains(word), "{} in {}", word, text);
        }
        let back: ServiceEntry = serde_json::from_str(&text).unwrap();
        prop_assert!(back.service.same_config(&entry.service));
        prop_assert_eq!(back.service.stats, None);
        prop_assert_eq!(back.destinations.len(), entry.destinations.len());
        for (b, d) in back.destinations.iter().zip(&entry.destinations) {
            prop_assert!(b.same_config(d));
            prop_assert_eq!((b.stats, b.counters), (None, None));
        }
    }

    #[test]
    fn service_ids_round_trip_as_text(id in strategies::service_id()) {
        let text = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(&text, &format!("\"{id}\""));
        prop_assert_eq!(serde_json::from_str::<ServiceId>(&text).unwrap(), id);
    }

    #[test]
    fn daemons_round_trip(d in strategies::daemon()) {
        prop_assert_eq!(round_trip(&d), d);
    }

    #[test]
    fn timeouts_round_trip(t in strategies::timeouts()) {
        prop_assert_eq!(round_trip(&t), t);
    }

    #[test]
    fn forward_methods_round_trip(f in strategies::forward_method(true)) {
        prop_assert_eq!(round_trip(&f), f);
    }

    #[test]
    fn schedulers_round_trip(s in strategies::scheduler()) {
        prop_assert_eq!(round_trip(&s), s);
    }
}

#[test]
fn text_forms() {
    let json = |v: serde_json::Value| v;
    assert_eq!(
        serde_json::to_value(ServiceId::tcp("10.0.0.1:80".parse::<SocketAddr>().unwrap())).unwrap(),
        json("tcp:10.0.0.1:80".into())
    );
    assert_eq!(
        serde_json::to_value(ServiceId::fwmark6(9)).unwrap(),
        json("fwmark6:9".into())
    );
    assert_eq!(
        serde_json::to_value(Scheduler::Mh).unwrap(),
        json("mh".into())
    );
    assert_eq!(
        serde_json::to_value(Netmask::V4("255.255.0.0".parse().unwrap())).unwrap(),
        json("255.255.0.0".into())
    );
    assert_eq!(
        serde_json::to_value(Netmask::V6(64)).unwrap(),
        json("64".into())
    );
    assert_eq!(
        serde_json::to_value(Protocol::Other(99)).unwrap(),
        json("proto99".into())
    );
    assert_eq!(
        serde_json::to_value(DaemonState::Backup).unwrap(),
        json("backup".into())
    );
    assert_eq!(
        serde_json::to_value(Version(0x010201)).unwrap(),
        json("1.2.1".into())
    );
    assert_eq!(
        serde_json::to_value(ForwardMethod::Masquerade).unwrap(),
        json("masq".into())
    );
    assert_eq!(
        serde_json::to_value(ForwardMethod::DirectRoute).unwrap(),
        json("route".into())
    );
    assert_eq!(
        serde_json::to_value(ForwardMethod::Tunnel(Tunnel::ipip())).unwrap(),
        json("tunnel".into())
    );
    assert_eq!(
        serde_json::to_value(ForwardMethod::Tunnel(Tunnel::gue(6080).csum())).unwrap(),
        serde_json::json!({"tunnel": {"type": "gue", "port": 6080, "flags": "csum"}})
    );
    assert_eq!(
        serde_json::to_value(SchedFlags::FLAG_1 | SchedFlags::FLAG_3).unwrap(),
        json("flag-1,flag-3".into())
    );
}

#[test]
fn unknown_kernel_values_round_trip() {
    for v in [DaemonState::Other(7), DaemonState::Master] {
        assert_eq!(round_trip(&v), v);
    }
    for v in [Protocol::Other(250), Protocol::Sctp] {
        assert_eq!(round_trip(&v), v);
    }
    for v in [
        ForwardMethod::Other(6),
        ForwardMethod::Bypass,
        ForwardMethod::Local,
    ] {
        assert_eq!(round_trip(&v), v);
    }
    let info = Info {
        version: Version(0x010201),
        conn_table_size: 4096,
    };
    assert_eq!(round_trip(&info), info);
    let stats = Stats {
        conns: 1,
        in_packets: 2,
        out_packets: 3,
        in_bytes: u64::MAX,
        out_bytes: 5,
        cps: 6,
        in_pps: 7,
        out_pps: 8,
        in_bps: 9,
        out_bps: 10,
    };
    assert_eq!(round_trip(&stats), stats);
    let c = DestCounters {
        active: 1,
        inactive: 2,
        persistent: 3,
    };
    assert_eq!(round_trip(&c), c);
    let r = Rates {
        cps: 1.5,
        ..Rates::default()
    };
    assert_eq!(round_trip(&r), r);
}

#[test]
fn bad_values_are_refused_with_a_message() {
    let e = serde_json::from_str::<ServiceId>("\"tcp:10.0.0.1\"").unwrap_err();
    assert!(e.to_string().contains("tcp:10.0.0.1"), "{e}");
    assert!(serde_json::from_str::<Scheduler>("\"no such scheduler name\"").is_err());
    assert!(serde_json::from_str::<Netmask>("\"200\"").is_err());
    assert!(serde_json::from_str::<DaemonState>("\"primary\"").is_err());
    // A service needs its identity.
    assert!(serde_json::from_str::<Service>("{\"scheduler\": \"rr\"}").is_err());
}

#[test]
fn short_forms_take_ipvsadm_defaults() {
    let svc: Service = serde_json::from_str(r#"{"id": "tcp:10.0.0.1:80"}"#).unwrap();
    assert_eq!(
        svc,
        Service::tcp("10.0.0.1:80".parse().unwrap())
            .build()
            .unwrap()
    );
    let d: Destination = serde_json::from_str(r#"{"addr": "10.0.0.2:80"}"#).unwrap();
    assert_eq!(
        d,
        Destination::builder("10.0.0.2:80".parse().unwrap())
            .build()
            .unwrap()
    );
    assert_eq!(d.weight, Destination::DEFAULT_WEIGHT);
    assert_eq!(d.forward, ForwardMethod::DirectRoute);
    // Empty optional fields are not written out.
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"addr":"10.0.0.2:80","forward":"route","weight":1}"#
    );
    let t: Timeouts = serde_json::from_str(r#"{"tcp": 900}"#).unwrap();
    assert_eq!(
        t,
        Timeouts {
            tcp: 900,
            tcp_fin: 0,
            udp: 0
        }
    );
    let d: Daemon = serde_json::from_str(r#"{"state": "master", "interface": "eth0"}"#).unwrap();
    assert_eq!(
        d,
        Daemon::builder(DaemonState::Master, "eth0")
            .build()
            .unwrap()
    );
}

/// The configuration file documented in the crate docs (`examples/config/table.json`).
#[test]
fn example_config_file() {
    let text = include_str!("../examples/config/table.json");
    let table: Vec<ServiceEntry> = serde_json::from_str(text).unwrap();
    let web = Service::tcp("192.168.2.1:80".parse().unwrap())
        .scheduler(Scheduler::Wrr)
        .persistent(600)
        .netmask("255.255.255.0".parse().unwrap())
        .build()
        .unwrap();
    let masq = |a: &str, w: u32| {
        Destination::builder(a.parse().unwrap())
            .masquerade()
            .weight(w)
            .build()
            .unwrap()
    };
    let mut threshold = masq("10.0.0.3:80", 1);
    threshold.upper_threshold = 1000;
    let dns = Service::udp("[fd00::1]:53".parse().unwrap())
        .scheduler(Scheduler::Rr)
        .one_packet()
        .build()
        .unwrap();
    let mark = Service::fwmark(7)
        .scheduler(Scheduler::Sh)
        .sched_flags(SchedFlags::SH_FALLBACK | SchedFlags::SH_PORT)
        .build()
        .unwrap();
    let want = vec![
        ServiceEntry {
            service: web,
            destinations: vec![masq("10.0.0.2:80", 3), threshold, masq("10.0.0.4:80", 0)],
        },
        ServiceEntry {
            service: dns,
            destinations: vec![
                Destination::builder("[fd00::10]:53".parse().unwrap())
                    .direct_route()
                    .build()
                    .unwrap(),
                Destination::builder("[fd00::11]:53".parse().unwrap())
                    .tunnel(Tunnel::gue(6080).csum())
                    .build()
                    .unwrap(),
            ],
        },
        ServiceEntry {
            service: mark,
            destinations: vec![Destination::builder("10.0.0.9:0".parse().unwrap())
                .build()
                .unwrap()],
        },
    ];
    assert_eq!(table, want);
    for e in &table {
        e.service.validate().unwrap();
        for d in &e.destinations {
            d.validate_for(&e.service.id).unwrap();
        }
    }
    lvs::validate_table(&table).unwrap();
    // The file is in the canonical form: serializing the table gives it back.
    let canonical: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_value(&table).unwrap(), canonical);
    // And it plans like a hand-built table: from empty, one add per object.
    let ops = lvs::client::plan(&[], &table, &lvs::client::ReconcileOptions::exact());
    assert_eq!(ops.len(), 3 + 6);
    // The persistence netmask read back is the one written.
    assert_eq!(
        table[0].service.persistence,
        Some(Persistence {
            timeout: 600,
            netmask: "255.255.255.0".parse().unwrap()
        })
    );
}

/// The configuration file of the earlier format (before the ipvsadm forms) still reads, into
/// the same table as `examples/config/table.json`.
#[test]
fn earlier_long_forms_still_read() {
    let old = r#"[
      { "service": { "id": "tcp:192.168.2.1:80", "scheduler": "wrr",
                     "persistence": { "timeout": 600, "netmask": "255.255.255.0" } },
        "destinations": [
          { "addr": "10.0.0.2", "port": 80, "forward": "masquerade", "weight": 3 },
          { "addr": "10.0.0.3", "port": 80, "forward": "masq", "upper_threshold": 1000 },
          { "addr": "10.0.0.4", "port": 80, "forward": "masq", "weight": 0 } ] },
      { "service": { "id": "udp:[fd00::1]:53", "scheduler": "rr", "one_packet": true },
        "destinations": [
          { "addr": "fd00::10", "port": 53, "forward": "direct_route" },
          { "addr": "fd00::11", "port": 53,
            "forward": { "tunnel": { "kind": "gue", "port": 6080, "flags": "CSUM" } } } ] },
      { "service": { "id": "fwmark:7", "scheduler": "sh", "sched_flags": "FLAG_1 | FLAG_2" },
        "destinations": [ { "addr": "10.0.0.9", "port": 0, "forward": "route" } ] }
    ]"#;
    let old: Vec<ServiceEntry> = serde_json::from_str(old).unwrap();
    let new: Vec<ServiceEntry> =
        serde_json::from_str(include_str!("../examples/config/table.json")).unwrap();
    assert_eq!(old, new);
    let ipip: ForwardMethod =
        serde_json::from_str(r#"{"tunnel":{"kind":"ipip","port":0,"flags":""}}"#).unwrap();
    assert_eq!(ipip, ForwardMethod::Tunnel(Tunnel::ipip()));
}

fn refused<T: serde::de::DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
    match serde_json::from_str::<T>(json) {
        Ok(v) => panic!("{json} read as {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    let e = refused::<Destination>(r#"{"addr": "10.0.0.2:80", "wieght": 5}"#);
    assert!(e.contains("wieght"), "{e}");
    let e = refused::<Service>(r#"{"id": "tcp:10.0.0.1:80", "schedular": "rr"}"#);
    assert!(e.contains("schedular"), "{e}");
    for json in [
        r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destination": []}"#,
        r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2", "wieght": 5}]}"#,
        r#"{"service": {"id": "tcp:10.0.0.1:80", "stats": null}}"#,
        r#"{"service": {"id": "tcp:10.0.0.1:80", "persistence": {"timout": 5}}}"#,
        r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2", "counters": null}]}"#,
        r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2", "forward": {"tunnel": {"typ": "gue"}}}]}"#,
        r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2", "forward": {"tunel": {}}}]}"#,
        r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2", "forward": {"tunnel": {}, "x": 1}}]}"#,
    ] {
        refused::<ServiceEntry>(json);
    }
    refused::<Persistence>(r#"{"timeout": 5, "netmask": "255.0.0.0", "x": 1}"#);
    refused::<Tunnel>(r#"{"type": "gre", "prot": 1}"#);
    refused::<Daemon>(r#"{"state": "master", "interface": "eth0", "syncid": 1}"#);
    refused::<Timeouts>(r#"{"tcp": 900, "tcpfin": 1}"#);
    refused::<Info>(r#"{"version": "1.2.1", "conn_table_size": 1, "x": 0}"#);
    refused::<DestCounters>(r#"{"active": 1, "inactive": 2, "persistent": 3, "x": 0}"#);
    refused::<Rates>(
        r#"{"cps": 1.0, "in_pps": 0, "out_pps": 0, "in_bps": 0, "out_bps": 0, "x": 0}"#,
    );
    let stats = serde_json::to_value(Stats::default()).unwrap();
    let mut with_extra = stats.as_object().unwrap().clone();
    with_extra.insert("x".into(), 0.into());
    assert!(serde_json::from_value::<Stats>(with_extra.into()).is_err());
}

#[test]
fn every_ipvsadm_forwarding_word_is_read() {
    let cases = [
        (
            &["masq", "masquerade", "masquerading", "nat", "m", "MASQ"][..],
            ForwardMethod::Masquerade,
        ),
        (
            &["route", "dr", "direct", "gatewaying", "g", "direct_route"][..],
            ForwardMethod::DirectRoute,
        ),
        (
            &["tunnel", "ipip", "tun", "i"][..],
            ForwardMethod::Tunnel(Tunnel::ipip()),
        ),
        (&["local"][..], ForwardMethod::Local),
        (&["bypass"][..], ForwardMethod::Bypass),
    ];
    for (words, want) in cases {
        for w in words {
            let got: ForwardMethod = serde_json::from_str(&format!("\"{w}\"")).unwrap();
            assert_eq!(got, want, "{w}");
            // Every word FromStr takes, serde takes.
            if *w != "direct_route" {
                assert_eq!(w.parse::<ForwardMethod>().unwrap(), want);
            }
        }
    }
    assert!(serde_json::from_str::<ForwardMethod>("\"masqu\"").is_err());
    // Tunnel fields default: IPIP, port 0, no checksum.
    let t = |json: &str| serde_json::from_str::<ForwardMethod>(json).unwrap();
    assert_eq!(
        t(r#"{"tunnel": {}}"#),
        ForwardMethod::Tunnel(Tunnel::ipip())
    );
    assert_eq!(
        t(r#"{"tunnel": {"type": "gre"}}"#),
        ForwardMethod::Tunnel(Tunnel::gre())
    );
    assert_eq!(
        t(r#"{"tunnel": {"type": "gue", "port": 6080, "flags": "remcsum"}}"#),
        ForwardMethod::Tunnel(Tunnel::gue(6080).remcsum())
    );
    assert_eq!(
        t(r#"{"tunnel": {"type": "ipip", "flags": ["csum"]}}"#
            .replace("[\"csum\"]", "\"tun-csum\"")
            .as_str()),
        ForwardMethod::Tunnel(Tunnel::ipip().csum())
    );
    let both: TunnelFlags = serde_json::from_str("\"csum,remcsum\"").unwrap();
    assert_eq!(both, TunnelFlags::CSUM | TunnelFlags::REMCSUM);
    assert_eq!(
        serde_json::from_str::<TunnelFlags>("\"nocsum\"").unwrap(),
        TunnelFlags::empty()
    );
    assert_eq!(
        serde_json::to_value(TunnelFlags::empty()).unwrap(),
        "nocsum"
    );
    for (w, k) in [
        ("ipip", TunnelType::Ipip),
        ("gue", TunnelType::Gue),
        ("gre", TunnelType::Gre),
    ] {
        assert_eq!(
            serde_json::from_str::<TunnelType>(&format!("\"{w}\"")).unwrap(),
            k
        );
        assert_eq!(serde_json::to_value(k).unwrap(), w);
    }
    assert!(serde_json::from_str::<TunnelFlags>("\"crc\"").is_err());
}

#[test]
fn every_scheduler_flag_word_is_read() {
    let svc = |sched: &str, flags: &str| -> Result<Service, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "id": "tcp:10.0.0.1:80", "scheduler": sched, "sched_flags": flags
        }))
    };
    let cases = [
        ("sh", "sh-fallback", SchedFlags::SH_FALLBACK),
        ("sh", "sh-port", SchedFlags::SH_PORT),
        (
            "sh",
            "sh-fallback,sh-port",
            SchedFlags::SH_FALLBACK | SchedFlags::SH_PORT,
        ),
        ("mh", "mh-fallback", SchedFlags::MH_FALLBACK),
        (
            "mh",
            "mh-port, mh-fallback",
            SchedFlags::MH_PORT | SchedFlags::MH_FALLBACK,
        ),
        ("rr", "flag-1", SchedFlags::FLAG_1),
        ("rr", "flag-2", SchedFlags::FLAG_2),
        ("wlc", "flag-3", SchedFlags::FLAG_3),
        ("sh", "flag-3", SchedFlags::FLAG_3),
        (
            "sh",
            "FLAG_1 | FLAG_2",
            SchedFlags::FLAG_1 | SchedFlags::FLAG_2,
        ),
    ];
    for (sched, words, want) in cases {
        let s = svc(sched, words).unwrap_or_else(|e| panic!("{sched} {words}: {e}"));
        assert_eq!(s.sched_flags, want, "{sched} {words}");
        // Written back as ipvsadm's -b list for this scheduler.
        let back = serde_json::to_value(&s).unwrap();
        let names = want.ipvsadm_names(&s.scheduler).join(",");
        assert_eq!(back["sched_flags"], names.as_str());
    }
    // A list works too.
    let s: Service = serde_json::from_str(
        r#"{"id": "fwmark:1", "scheduler": "sh", "sched_flags": ["sh-port", "sh-fallback"]}"#,
    )
    .unwrap();
    assert_eq!(s.sched_flags, SchedFlags::SH_PORT | SchedFlags::SH_FALLBACK);
    // sh-* needs sh, as in ipvsadm; unknown words are refused.
    let e = svc("rr", "sh-port").unwrap_err().to_string();
    assert!(
        e.contains("service tcp:10.0.0.1:80") && e.contains("sh-port"),
        "{e}"
    );
    assert!(svc("sh", "sh-prt").is_err());
    assert!(svc("mh", "sh-port").is_err());
}

#[test]
fn builders_defaults() {
    let svc: Service = serde_json::from_str(r#"{"id": "udp:10.0.0.1:53"}"#).unwrap();
    assert_eq!(svc.scheduler, Scheduler::Wlc);
    assert_eq!(
        svc,
        Service::udp("10.0.0.1:53".parse().unwrap())
            .build()
            .unwrap()
    );
    // Persistence: every spelling with the builder's defaults.
    let want = Service::tcp("10.0.0.1:80".parse().unwrap())
        .persistent_default()
        .build()
        .unwrap();
    for p in [
        "true",
        "{}",
        "360",
        r#"{"timeout": 360}"#,
        r#"{"netmask": "255.255.255.255"}"#,
    ] {
        let json = format!(r#"{{"id": "tcp:10.0.0.1:80", "persistence": {p}}}"#);
        assert_eq!(serde_json::from_str::<Service>(&json).unwrap(), want, "{p}");
    }
    let off: Service =
        serde_json::from_str(r#"{"id": "tcp:10.0.0.1:80", "persistence": false}"#).unwrap();
    assert_eq!(off.persistence, None);
    // Netmask spellings, by family.
    let v4 = Netmask::v4_prefix(24).unwrap();
    for m in [
        r#""255.255.255.0""#,
        r#""10.0.0.0/24""#,
        r#""/24""#,
        r#""24""#,
        "24",
    ] {
        let json = format!(r#"{{"id": "tcp:10.0.0.1:80", "persistence": {{"netmask": {m}}}}}"#);
        let s: Service = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(
            s.persistence,
            Some(Persistence {
                timeout: 360,
                netmask: v4
            }),
            "{m}"
        );
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["persistence"]["netmask"], "255.255.255.0");
    }
    for m in [
        r#""64""#,
        r#""/64""#,
        r#""fd00::/64""#,
        r#""ffff:ffff:ffff:ffff::""#,
        "64",
    ] {
        let json = format!(
            r#"{{"id": "tcp:[fd00::1]:80", "persistence": {{"timeout": 60, "netmask": {m}}}}}"#
        );
        let s: Service = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{m}: {e}"));
        assert_eq!(
            s.persistence,
            Some(Persistence {
                timeout: 60,
                netmask: Netmask::V6(64)
            }),
            "{m}"
        );
    }
    // The netmask beside the persistence is -M, as in the builder.
    let s: Service =
        serde_json::from_str(r#"{"id": "tcp:10.0.0.1:80", "persistence": 600, "netmask": "/16"}"#)
            .unwrap();
    assert_eq!(
        s.persistence.unwrap().netmask,
        Netmask::v4_prefix(16).unwrap()
    );
    // Destinations: route, weight 1, no thresholds, the service's port for a bare address.
    let d: Destination = serde_json::from_str(r#"{"addr": "[fd00::2]:80"}"#).unwrap();
    assert_eq!(
        d,
        Destination::builder("[fd00::2]:80".parse().unwrap())
            .build()
            .unwrap()
    );
    let e: ServiceEntry = serde_json::from_str(
        r#"{"service": {"id": "tcp:10.0.0.1:8080"}, "destinations": [{"addr": "10.0.0.2"}, {"addr": "[fd00::2]", "forward": "tunnel"}]}"#,
    )
    .unwrap();
    assert_eq!(
        e.destinations[0].socket_addr(),
        "10.0.0.2:8080".parse().unwrap()
    );
    assert_eq!(
        e.destinations[1].socket_addr(),
        "[fd00::2]:8080".parse().unwrap()
    );
    let e: ServiceEntry = serde_json::from_str(
        r#"{"service": {"id": "fwmark6:3"}, "destinations": [{"addr": "fd00::2"}]}"#,
    )
    .unwrap();
    assert_eq!(e.destinations[0].port, 0);
    assert_eq!(
        serde_json::to_value(&e).unwrap()["destinations"][0]["addr"],
        "fd00::2"
    );
    // Port 0 under an address service is written out, not left to the service's port.
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    let zero = Destination::builder("10.0.0.2:0".parse().unwrap())
        .build()
        .unwrap();
    let entry = ServiceEntry {
        service: svc,
        destinations: vec![zero],
    };
    assert_eq!(
        serde_json::to_value(&entry).unwrap()["destinations"][0]["addr"],
        "10.0.0.2:0"
    );
    assert_eq!(round_trip(&entry), entry);
}

#[test]
fn invalid_values_are_errors_naming_the_object() {
    let cases = [
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2:80", "weight": 70000}]}"#,
            "service tcp:10.0.0.1:80: destination 10.0.0.2:80: weight 70000 is out of range",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2", "upper_threshold": 1, "lower_threshold": 2}]}"#,
            "service tcp:10.0.0.1:80: destination 10.0.0.2:80: lower threshold 2 is above",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "fd00::2"}]}"#,
            "service tcp:10.0.0.1:80: destination [fd00::2]:80: a destination of another address family",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2", "forward": {"tunnel": {"type": "gue"}}}]}"#,
            "service tcp:10.0.0.1:80: destination 10.0.0.2:80: a GUE tunnel needs",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2"}, {"addr": "10.0.0.2:80"}]}"#,
            "service tcp:10.0.0.1:80: destination 10.0.0.2:80: given twice",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80"}, "destinations": [{"addr": "10.0.0.2:80", "port": 81}]}"#,
            "service tcp:10.0.0.1:80: destination 10.0.0.2:80: the port is given twice",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80", "one_packet": true}}"#,
            "service tcp:10.0.0.1:80: one-packet scheduling is only for UDP",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:0"}}"#,
            "service tcp:10.0.0.1:0: port 0 is only allowed for a persistent service",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80", "persistence": 0}}"#,
            "service tcp:10.0.0.1:80: persistence timeout 0 is out of range",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80", "persistence": {"netmask": "64"}, "pe": "sip"}}"#,
            "", // 64 is no IPv4 prefix length
        ),
        (
            r#"{"service": {"id": "tcp:[fd00::1]:80", "persistence": {"netmask": "255.255.255.0"}}}"#,
            "service tcp:[fd00::1]:80: netmask 255.255.255.0 does not match",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80", "scheduler": "a scheduler"}}"#,
            "",
        ),
        (
            r#"{"service": {"id": "tcp:10.0.0.1:80", "other_flags": 2}}"#,
            "service tcp:10.0.0.1:80: ",
        ),
    ];
    for (json, want) in cases {
        let e = refused::<ServiceEntry>(json);
        assert!(e.contains(want), "{json}: {e}");
    }
    let e = refused::<Destination>(r#"{"addr": "10.0.0.2:80", "weight": 70000}"#);
    assert!(
        e.starts_with("destination 10.0.0.2:80: weight 70000"),
        "{e}"
    );
    let e = refused::<Service>(r#"{"id": "udp:10.0.0.1:53", "persistence": 3000000}"#);
    assert!(
        e.starts_with("service udp:10.0.0.1:53: persistence timeout"),
        "{e}"
    );
}

#[test]
fn validate_table_names_service_and_destination() {
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    let rs = Destination::builder("10.0.0.2:80".parse().unwrap())
        .build()
        .unwrap();
    let entry = ServiceEntry {
        service: svc.clone(),
        destinations: vec![rs.clone()],
    };
    lvs::validate_table(std::slice::from_ref(&entry)).unwrap();
    let twice = [entry.clone(), entry.clone()];
    assert_eq!(
        lvs::validate_table(&twice),
        Err(TableError::DuplicateService(svc.id))
    );
    assert_eq!(
        lvs::validate_table(&twice).unwrap_err().to_string(),
        "service tcp:10.0.0.1:80: given twice"
    );
    let mut dup = entry.clone();
    dup.destinations.push(rs.clone());
    assert_eq!(
        dup.validate(),
        Err(TableError::DuplicateDestination {
            service: svc.id,
            destination: rs.socket_addr()
        })
    );
    let mut heavy = entry.clone();
    heavy.destinations[0].weight = 70_000;
    assert_eq!(
        lvs::validate_table(&[heavy]).unwrap_err().to_string(),
        "service tcp:10.0.0.1:80: destination 10.0.0.2:80: weight 70000 is out of range 0..=65535"
    );
    let mut bad = entry;
    bad.service.persistence = Some(Persistence {
        timeout: 0,
        netmask: Netmask::full(lvs::AddressFamily::Inet),
    });
    assert!(matches!(
        lvs::validate_table(&[bad]),
        Err(TableError::Service { .. })
    ));
}

// ---- A table read back from the mock reconciles with no write ----

/// Addresses the kernel takes for real servers (none multicast, broadcast or loopback).
fn real_server(af: lvs::AddressFamily) -> BoxedStrategy<std::net::IpAddr> {
    match af {
        lvs::AddressFamily::Inet => (1u8..=3, 1u8..=250)
            .prop_map(|(a, b)| std::net::IpAddr::from([10, 1, a, b]))
            .boxed(),
        lvs::AddressFamily::Inet6 => (1u16..=600)
            .prop_map(|n| std::net::IpAddr::from([0xfd01, 0, 0, 0, 0, 0, 0, n]))
            .boxed(),
    }
}

/// A service the default mock takes: a shipped scheduler, the `sip` engine or none.
fn mock_service() -> impl Strategy<Value = Service> {
    (
        strategies::service(),
        proptest::sample::select(Scheduler::ALL.to_vec()),
        any::<bool>(),
    )
        .prop_map(|(mut svc, scheduler, sip)| {
            svc.scheduler = scheduler;
            svc.pe = sip.then_some(PersistenceEngine::Sip);
            svc
        })
}

fn mock_destination(svc: ServiceId) -> impl Strategy<Value = Destination> {
    (strategies::destination_for(svc), any::<bool>()).prop_flat_map(move |(d, bare)| {
        let af = if d.af() == svc.af() { svc.af() } else { d.af() };
        (Just(d), real_server(af), Just(bare)).prop_map(move |(mut d, ip, bare)| {
            d.addr = ip;
            if bare && svc.is_fwmark() {
                d.port = 0;
            }
            d
        })
    })
}

fn mock_table() -> impl Strategy<Value = Vec<ServiceEntry>> {
    proptest::collection::vec(
        mock_service().prop_flat_map(|svc| {
            let dests = proptest::collection::vec(mock_destination(svc.id), 0..=4);
            (Just(svc), dests)
        }),
        0..=5,
    )
    .prop_map(|entries| {
        let mut ids = std::collections::HashSet::new();
        entries
            .into_iter()
            .filter(|(svc, _)| ids.insert(svc.id))
            .map(|(service, mut destinations)| {
                let mut seen = std::collections::HashSet::new();
                destinations.retain(|d| seen.insert(d.socket_addr()));
                ServiceEntry {
                    service,
                    destinations,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn read_serialize_deserialize_reconcile_makes_no_write(table in mock_table()) {
        use lvs::client::ReconcileOptions;
        use lvs::transport::MockKernel;

        let mut ipvs = lvs::Ipvs::with_transport(MockKernel::new());
        let first = ipvs.reconcile(&table, &ReconcileOptions::exact()).unwrap();
        prop_assert!(first.outcome.is_ok(), "{:?}", first.outcome);
        let read = ipvs.table().unwrap();
        prop_assert_eq!(read.len(), table.len());
        let json = serde_json::to_string_pretty(&read).unwrap();
        for word in ["stats", "counters", "HASHED", "raw_"] {
            prop_assert!(!json.contains(word), "{} in {}", word, json);
        }
        let desired: Vec<ServiceEntry> = serde_json::from_str(&json).unwrap();
        lvs::validate_table(&desired).unwrap();
        let again = ipvs.reconcile(&desired, &ReconcileOptions::exact()).unwrap();
        prop_assert!(again.ops.is_empty(), "{:?}\n{}", again.ops, json);
        // And serializing is stable: the desired table writes the same text.
        prop_assert_eq!(serde_json::to_string_pretty(&desired).unwrap(), json);
    }
}
