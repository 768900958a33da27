//! Property tests: model -> message -> bytes -> message -> model is the identity for every
//! object, and decoding arbitrary bytes returns `Ok` or `Err` without panicking.

use lvs::strategies;
use lvs::wire::{self, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr, StatsAttr};
use lvs::{AddressFamily, Service};
use netlink_packet_core::Emitable;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

fn to_bytes(msg: &IpvsMessage) -> Vec<u8> {
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.emit(&mut buf);
    buf
}

/// Emit, decode, and check the message survived the trip; return it.
fn trip(msg: &IpvsMessage) -> IpvsMessage {
    let bytes = to_bytes(msg);
    let back = IpvsMessage::decode(msg.cmd.into(), &bytes).expect("decode of own bytes");
    assert_eq!(&back, msg);
    assert_eq!(to_bytes(&back), bytes, "re-emission is byte-identical");
    back
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn service_roundtrip(svc in strategies::service()) {
        for msg in [IpvsMessage::new_service(&svc), IpvsMessage::set_service(&svc)] {
            let back = trip(&msg);
            prop_assert_eq!(back.service().unwrap(), svc.clone());
        }
        let back = trip(&IpvsMessage::del_service(&svc.id));
        prop_assert_eq!(ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(), svc.id);
    }

    #[test]
    fn service_id_text_roundtrip(id in strategies::service_id()) {
        prop_assert_eq!(id.to_string().parse::<lvs::ServiceId>().unwrap(), id);
    }

    #[test]
    fn destination_roundtrip((svc, dests) in strategies::service_with_dests(4)) {
        for d in &dests {
            prop_assert!(d.validate_for(&svc.id).is_ok());
            for msg in [IpvsMessage::new_dest(&svc.id, d), IpvsMessage::set_dest(&svc.id, d)] {
                let back = trip(&msg);
                prop_assert_eq!(ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(), svc.id);
                prop_assert_eq!(back.destination(svc.id.af()).unwrap(), d.clone());
            }
            let back = trip(&IpvsMessage::del_dest(&svc.id, &d.socket_addr()));
            let attrs = back.dest_attrs().unwrap();
            prop_assert!(attrs.contains(&DestAttr::Port(d.port)));
        }
    }

    /// A kernel-style reply (no NLA_F_NESTED) with stats: both stat sets survive, STATS64
    /// exactly and STATS within its 32-bit counters.
    #[test]
    fn service_reply_with_stats(svc in strategies::service(), st in strategies::stats()) {
        // The kernel's legacy set holds 32-bit counters (its byte counters are 64-bit).
        let mut legacy = st;
        for c in [&mut legacy.conns, &mut legacy.in_packets, &mut legacy.out_packets,
                  &mut legacy.cps, &mut legacy.in_pps, &mut legacy.out_pps,
                  &mut legacy.in_bps, &mut legacy.out_bps] {
            *c = *c as u32 as u64;
        }
        let mut attrs = ServiceAttr::from_service(&svc);
        attrs.push(ServiceAttr::Stats(StatsAttr::from_stats(&legacy)));
        attrs.push(ServiceAttr::Stats64(StatsAttr::from_stats(&st)));
        let mut msg = IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(attrs)]);
        msg.nested_flag = false;
        let back = trip(&msg);
        let mut expected = svc.clone();
        expected.stats = Some(st);
        prop_assert_eq!(back.service().unwrap(), expected);
        // The legacy set alone (kernels before 4.1) is read when STATS64 is absent.
        let mut attrs = ServiceAttr::from_service(&svc);
        attrs.push(ServiceAttr::Stats(StatsAttr::from_stats(&legacy)));
        let back = trip(&IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(attrs)]));
        prop_assert_eq!(back.service().unwrap().stats, Some(legacy));
    }

    #[test]
    fn daemon_roundtrip(d in strategies::daemon()) {
        let back = trip(&IpvsMessage::new_daemon(&d));
        prop_assert_eq!(back.daemon().unwrap(), d.clone());
        let back = trip(&IpvsMessage::del_daemon(d.state));
        prop_assert_eq!(back.daemon().unwrap().state, d.state);
    }

    #[test]
    fn timeouts_roundtrip(t in strategies::timeouts()) {
        let back = trip(&IpvsMessage::set_timeouts(&t));
        prop_assert_eq!(back.timeouts(), t);
    }

    #[test]
    fn info_roundtrip(version in any::<u32>(), size in any::<u32>()) {
        let msg = IpvsMessage::new(
            IpvsCmd::SetInfo,
            vec![IpvsAttr::InfoVersion(version), IpvsAttr::InfoConnTabSize(size)],
        );
        let back = trip(&msg);
        let info = back.info().unwrap();
        prop_assert_eq!(info.version.0, version);
        prop_assert_eq!(info.conn_table_size, size);
    }

    /// Whole framed requests survive the netlink layer too.
    #[test]
    fn framed_roundtrip(svc in strategies::service(), seq in any::<u32>(), family in 16u16..) {
        let msg = IpvsMessage::new_service(&svc);
        let bytes = wire::frame_request(msg.clone(), family, seq, false);
        let nl = wire::parse_netlink(&bytes).unwrap();
        prop_assert_eq!(nl.header.sequence_number, seq);
        prop_assert_eq!(nl.header.message_type, family);
        match nl.payload {
            netlink_packet_core::NetlinkPayload::InnerMessage(genl) => {
                prop_assert_eq!(genl.payload, msg);
            }
            other => prop_assert!(false, "unexpected payload {:?}", other),
        }
    }
}

/// Read everything a client would read from a decoded message.
fn read_all(msg: &IpvsMessage) {
    let _ = msg.service();
    let _ = msg.destination(AddressFamily::Inet);
    let _ = msg.destination(AddressFamily::Inet6);
    let _ = msg.daemon();
    let _ = msg.timeouts();
    let _ = msg.info();
    let _ = msg.service_attrs().map(ServiceAttr::to_id);
    let _ = to_bytes(msg);
}

/// Well-framed attributes of random kinds and contents, nested up to three levels: reaches
/// the value decoders, not just the framing checks.
fn nla_tree(depth: u32) -> BoxedStrategy<Vec<u8>> {
    let leaf = (0u16..20, proptest::collection::vec(any::<u8>(), 0..24)).prop_map(|(k, v)| (k, v));
    let node = if depth == 0 {
        leaf.boxed()
    } else {
        prop_oneof![
            3 => leaf,
            1 => (0u16..4, nla_tree(depth - 1)).prop_map(|(k, v)| (k | 0x8000, v)),
        ]
        .boxed()
    };
    proptest::collection::vec(node, 0..8)
        .prop_map(|attrs| {
            let mut out = Vec::new();
            for (kind, value) in attrs {
                let len = 4 + value.len();
                out.extend_from_slice(&(len as u16).to_ne_bytes());
                out.extend_from_slice(&kind.to_ne_bytes());
                out.extend_from_slice(&value);
                while out.len() % 4 != 0 {
                    out.push(0);
                }
            }
            out
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(5000))]

    #[test]
    fn decode_any_bytes_never_panics(cmd in any::<u8>(), bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(msg) = IpvsMessage::decode(cmd, &bytes) {
            read_all(&msg);
        }
        let _ = wire::parse_netlink(&bytes);
    }

    #[test]
    fn decode_structured_never_panics(cmd in 0u8..20, tree in nla_tree(3)) {
        if let Ok(msg) = IpvsMessage::decode(cmd, &tree) {
            read_all(&msg);
        }
    }

    #[test]
    fn parse_netlink_frames_never_panic(
        len in any::<u32>(), kind in any::<u16>(), flags in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut buf = Vec::new();
        buf.extend_from_slice(&len.to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&body);
        let _ = wire::parse_netlink(&buf);
        let exact = (16 + body.len()) as u32;
        buf[..4].copy_from_slice(&exact.to_ne_bytes());
        if let Ok(nl) = wire::parse_netlink(&buf) {
            if let netlink_packet_core::NetlinkPayload::InnerMessage(genl) = nl.payload {
                read_all(&genl.payload);
            }
        }
    }
}

#[test]
fn hashed_flag_is_kept_on_read_and_never_written() {
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .build()
        .unwrap();
    let mut attrs = ServiceAttr::from_service(&svc);
    for a in &mut attrs {
        if let ServiceAttr::Flags { flags, .. } = a {
            *flags |= 0x2; // HASHED, as the kernel reports it
        }
    }
    let read = ServiceAttr::to_service(&attrs).unwrap();
    assert!(read.other_flags.contains(lvs::ServiceFlags::HASHED));
    assert!(read.same_config(&svc));
    assert!(!read.flags().contains(lvs::ServiceFlags::HASHED));
}
