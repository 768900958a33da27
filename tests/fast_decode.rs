//! The fast dump decoders (`wire::decode_service_reply`, `wire::decode_destination_reply`),
//! which read a reply's bytes straight into model values, agree with the full decoder
//! (`IpvsMessage::decode` then `.service()` / `.destination()`) on kernel-style replies,
//! on the pinned real-kernel replies, and on arbitrary bytes wherever the full decoder
//! succeeds; and never panic.

use lvs::strategies;
use lvs::wire::{
    decode_destination_reply, decode_service_reply, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage,
    ServiceAttr, StatsAttr,
};
use lvs::{AddressFamily, DestCounters};
use netlink_packet_core::Emitable;
use proptest::prelude::*;

fn to_bytes(msg: &IpvsMessage) -> Vec<u8> {
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.emit(&mut buf);
    buf
}

/// What a stats value reads as from the 32-bit set: every counter but the byte counts (64
/// bits there too) truncated to 32 bits.
fn st32(s: &lvs::Stats) -> lvs::Stats {
    let t = |v: u64| v & 0xffff_ffff;
    lvs::Stats {
        conns: t(s.conns),
        in_packets: t(s.in_packets),
        out_packets: t(s.out_packets),
        cps: t(s.cps),
        in_pps: t(s.in_pps),
        out_pps: t(s.out_pps),
        in_bps: t(s.in_bps),
        out_bps: t(s.out_bps),
        ..*s
    }
}

/// A reply as the kernel sends it: no `NLA_F_NESTED`, stats and stats64 nests.
fn reply(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> IpvsMessage {
    let mut m = IpvsMessage::new(cmd, attrs);
    m.nested_flag = false;
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn service_replies_agree(svc in strategies::service(), st in strategies::stats(), st64 in strategies::stats()) {
        let mut attrs = ServiceAttr::from_service(&svc);
        attrs.push(ServiceAttr::Stats(StatsAttr::from_stats(&st)));
        attrs.push(ServiceAttr::Stats64(StatsAttr::from_stats(&st64)));
        let bytes = to_bytes(&reply(IpvsCmd::NewService, vec![IpvsAttr::Service(attrs)]));
        let slow = IpvsMessage::decode(IpvsCmd::NewService.into(), &bytes).unwrap().service().unwrap();
        let fast = decode_service_reply(&bytes).unwrap();
        prop_assert_eq!(&fast, &slow);
        prop_assert_eq!(fast.stats, Some(st64));
    }

    #[test]
    fn destination_replies_agree(
        (svc, dests) in strategies::service_with_dests(3),
        st in strategies::stats(),
        st64 in strategies::stats(),
        conns in any::<(u32, u32, u32)>(),
    ) {
        for d in dests {
            let mut attrs = DestAttr::from_destination(&d);
            attrs.push(DestAttr::ActiveConns(conns.0));
            attrs.push(DestAttr::InactConns(conns.1));
            attrs.push(DestAttr::PersistConns(conns.2));
            attrs.push(DestAttr::Stats(StatsAttr::from_stats(&st)));
            let mut attrs_both = attrs.clone();
            let bytes = to_bytes(&reply(IpvsCmd::NewDest, vec![IpvsAttr::Dest(attrs)]));
            let af = svc.id.af();
            let slow = IpvsMessage::decode(IpvsCmd::NewDest.into(), &bytes).unwrap().destination(af).unwrap();
            let fast = decode_destination_reply(&bytes, af).unwrap();
            prop_assert_eq!(&fast, &slow);
            prop_assert_eq!(fast.counters, Some(DestCounters { active: conns.0, inactive: conns.1, persistent: conns.2 }));
            // Only the 32-bit stats (kernels before 4.1): they are the stats.
            prop_assert_eq!(fast.stats, Some(st32(&st)));
            // With the 64-bit set too, as every kernel since sends: the 64-bit set wins.
            attrs_both.push(DestAttr::Stats64(StatsAttr::from_stats(&st64)));
            let bytes = to_bytes(&reply(IpvsCmd::NewDest, vec![IpvsAttr::Dest(attrs_both.clone())]));
            let slow = IpvsMessage::decode(IpvsCmd::NewDest.into(), &bytes).unwrap().destination(af).unwrap();
            let fast = decode_destination_reply(&bytes, af).unwrap();
            prop_assert_eq!(&fast, &slow);
            prop_assert_eq!(fast.stats, Some(st64));
        }
    }

    /// Arbitrary bytes: no panic; where the full decoder reads a service or destination, the
    /// fast one reads the same.
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512), v6 in any::<bool>()) {
        let af = if v6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
        let fast_s = decode_service_reply(&bytes);
        let fast_d = decode_destination_reply(&bytes, af);
        if let Ok(m) = IpvsMessage::decode(IpvsCmd::NewService.into(), &bytes) {
            if let Ok(s) = m.service() {
                prop_assert_eq!(fast_s.unwrap(), s);
            }
            if let Ok(d) = m.destination(af) {
                prop_assert_eq!(fast_d.unwrap(), d);
            }
        }
    }
}

/// The pinned real-kernel dumps read the same both ways.
#[test]
fn kernel_fixtures_agree() {
    for kernel in ["kernel-6.1", "kernel-6.12"] {
        for (name, cmd) in [
            ("get_service_dump", IpvsCmd::NewService),
            ("get_dest_dump", IpvsCmd::NewDest),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(kernel)
                .join(format!("{name}.bin"));
            let all = std::fs::read(&path).unwrap();
            let mut off = 0;
            let mut seen = 0;
            while off < all.len() {
                let len = u32::from_ne_bytes(all[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(all[off + 4..off + 6].try_into().unwrap());
                if kind > 3 {
                    let attrs = &all[off + 20..off + len];
                    let slow = IpvsMessage::decode(cmd.into(), attrs).unwrap();
                    if cmd == IpvsCmd::NewService {
                        assert_eq!(
                            decode_service_reply(attrs).unwrap(),
                            slow.service().unwrap()
                        );
                    } else {
                        assert_eq!(
                            decode_destination_reply(attrs, AddressFamily::Inet).unwrap(),
                            slow.destination(AddressFamily::Inet).unwrap()
                        );
                    }
                    seen += 1;
                }
                off += (len + 3) & !3;
            }
            assert_eq!(seen, 2, "{kernel}/{name}");
        }
    }
}
