//! serde support (feature `serde`): every model value survives a JSON round trip, text forms
//! are used where the model has them, and the documented configuration file parses into the
//! table it describes.

use std::net::SocketAddr;

use lvs::strategies;
use lvs::{
    Daemon, DaemonState, DestCounters, Destination, ForwardMethod, Info, Netmask, Persistence,
    Protocol, Rates, SchedFlags, Scheduler, Service, ServiceEntry, ServiceId, Stats, Timeouts,
    Tunnel, Version,
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
    fn service_entries_round_trip((svc, dests) in strategies::service_with_dests(4)) {
        let entry = ServiceEntry { service: svc, destinations: dests };
        prop_assert_eq!(round_trip(&entry), entry);
    }

    #[test]
    fn services_with_stats_round_trip(mut svc in strategies::service(), stats in strategies::stats()) {
        svc.stats = Some(stats);
        prop_assert_eq!(round_trip(&svc), svc);
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
        json("masquerade".into())
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
    let d: Destination = serde_json::from_str(r#"{"addr": "10.0.0.2", "port": 80}"#).unwrap();
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
        r#"{"addr":"10.0.0.2","port":80,"forward":"direct_route","weight":1}"#
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
