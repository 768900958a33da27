//! The metrics exporter (`lvs::metrics`) against the mock kernel: one scrape reads the table
//! and renders what it holds (weights, connection counters, node_exporter's labels for each
//! kind of service), and series of deleted services and destinations go away.

use lvs::metrics::Exporter;
use lvs::transport::MockKernel;
use lvs::{AddressFamily, Destination, Ipvs, Service, ServiceId};

/// The value of the series `series` (a metric and its labels) in `text`, if present.
fn value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| match l.rsplit_once(' ') {
            Some((s, v)) if s == series => Some(v.parse().unwrap()),
            _ => None,
        })
}

fn node(
    metric: &str,
    local: &str,
    port: u16,
    remote: &str,
    rport: u16,
    proto: &str,
    mark: &str,
) -> String {
    format!(
        "node_ipvs_{metric}{{local_address=\"{local}\",local_port=\"{port}\",remote_address=\"{remote}\",remote_port=\"{rport}\",proto=\"{proto}\",local_mark=\"{mark}\"}}"
    )
}

#[test]
fn a_scrape_renders_the_mock_table() -> lvs::Result<()> {
    let mock = MockKernel::new();
    let mut ipvs = Ipvs::with_transport(mock.clone());
    let tcp = Service::tcp("192.168.1.2:80".parse().unwrap()).build()?;
    let udp = Service::udp("192.168.1.2:53".parse().unwrap()).build()?;
    let fwm = Service::builder(ServiceId::Fwmark {
        af: AddressFamily::Inet,
        mark: 42,
    })
    .build()?;
    let v6 = Service::tcp("[2001:db8::2]:443".parse().unwrap()).build()?;
    let r1 = Destination::builder("10.40.0.11:8080".parse().unwrap())
        .masquerade()
        .weight(3)
        .build()?;
    let r2 = Destination::builder("10.40.0.12:8080".parse().unwrap())
        .masquerade()
        .weight(0)
        .build()?;
    let r53 = Destination::builder("10.40.0.11:53".parse().unwrap())
        .masquerade()
        .build()?;
    let rfw = Destination::builder("10.40.0.13:0".parse().unwrap())
        .weight(7)
        .build()?;
    let r6 = Destination::builder("[2001:db8:1::11]:443".parse().unwrap())
        .masquerade()
        .weight(2)
        .build()?;
    for (svc, dests) in [
        (&tcp, vec![&r1, &r2]),
        (&udp, vec![&r53]),
        (&fwm, vec![&rfw]),
        (&v6, vec![&r6]),
    ] {
        ipvs.add_service(svc)?;
        for d in dests {
            ipvs.add_destination(&svc.id, d)?;
        }
    }
    assert!(mock.set_connections(&tcp.id, r1.socket_addr(), 4, 9));
    assert!(mock.set_connections(&fwm.id, rfw.socket_addr(), 1, 0));
    assert!(mock.set_connections(&v6.id, r6.socket_addr(), 0, 5));

    let mut exporter = Exporter::new();
    let text = exporter.scrape(&mut ipvs)?;
    let n = |m, l, p, r, rp, proto, mark| value(&text, &node(m, l, p, r, rp, proto, mark));
    assert_eq!(
        n(
            "backend_weight",
            "192.168.1.2",
            80,
            "10.40.0.11",
            8080,
            "TCP",
            ""
        ),
        Some(3)
    );
    assert_eq!(
        n(
            "backend_connections_active",
            "192.168.1.2",
            80,
            "10.40.0.11",
            8080,
            "TCP",
            ""
        ),
        Some(4)
    );
    assert_eq!(
        n(
            "backend_connections_inactive",
            "192.168.1.2",
            80,
            "10.40.0.11",
            8080,
            "TCP",
            ""
        ),
        Some(9)
    );
    assert_eq!(
        n(
            "backend_weight",
            "192.168.1.2",
            80,
            "10.40.0.12",
            8080,
            "TCP",
            ""
        ),
        Some(0)
    );
    assert_eq!(
        n(
            "backend_weight",
            "192.168.1.2",
            53,
            "10.40.0.11",
            53,
            "UDP",
            ""
        ),
        Some(1)
    );
    assert_eq!(
        n("backend_weight", "", 0, "10.40.0.13", 0, "FWM", "0000002A"),
        Some(7)
    );
    assert_eq!(
        n(
            "backend_connections_active",
            "",
            0,
            "10.40.0.13",
            0,
            "FWM",
            "0000002A"
        ),
        Some(1)
    );
    assert_eq!(
        n(
            "backend_weight",
            "2001:db8::2",
            443,
            "2001:db8:1::11",
            443,
            "TCP",
            ""
        ),
        Some(2)
    );
    assert_eq!(
        n(
            "backend_connections_inactive",
            "2001:db8::2",
            443,
            "2001:db8:1::11",
            443,
            "TCP",
            ""
        ),
        Some(5)
    );
    // The mock carries no traffic: every counter is there, at 0.
    assert_eq!(value(&text, "node_ipvs_connections_total"), Some(0));
    assert_eq!(
        value(&text, "lvs_service_incoming_bytes_total{local_address=\"\",local_port=\"0\",proto=\"FWM\",local_mark=\"0000002A\",family=\"inet\"}"),
        Some(0)
    );
    assert_eq!(text.matches("node_ipvs_backend_weight{").count(), 5);
    assert_eq!(text.matches("lvs_service_connections_total{").count(), 4);
    assert_eq!(text.matches("lvs_backend_connections_total{").count(), 5);

    // A weight changed, a destination and a service deleted: the next scrape shows it.
    ipvs.set_weight(&tcp.id, r1.socket_addr(), 9)?;
    ipvs.delete_destination(&tcp.id, r2.socket_addr())?;
    ipvs.delete_service(&udp.id)?;
    let text = exporter.scrape(&mut ipvs)?;
    assert_eq!(
        value(
            &text,
            &node(
                "backend_weight",
                "192.168.1.2",
                80,
                "10.40.0.11",
                8080,
                "TCP",
                ""
            )
        ),
        Some(9)
    );
    assert!(!text.contains("10.40.0.12"), "{text}");
    assert!(!text.contains("proto=\"UDP\""), "{text}");
    assert_eq!(text.matches("node_ipvs_backend_weight{").count(), 3);
    assert_eq!(text.matches("lvs_service_connections_total{").count(), 3);
    Ok(())
}
