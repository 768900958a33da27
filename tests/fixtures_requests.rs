//! Byte fixtures for every IPVS request command.
//!
//! Each fixture below was assembled BY HAND from the kernel's protocol
//! (`include/uapi/linux/ip_vs.h`, `net/netfilter/ipvs/ip_vs_ctl.c`), not by running the
//! encoder: it is an independent check of the encoder and the decoder. A fixture is a
//! generic netlink payload (genl header: cmd u8, version u8 = 1, reserved u16 = 0, then
//! the attributes), written as an annotated hex dump, one attribute per line.
//!
//! Conventions (x86_64, little-endian host):
//! - attribute header: u16 len (header + value, without padding), u16 type; values are
//!   padded with zeros to 4 bytes;
//! - requests set `NLA_F_NESTED` (0x8000) on the SERVICE/DEST/DAEMON nests, so a SERVICE
//!   nest's type reads `01 80`, DEST `02 80`, DAEMON `03 80`;
//! - ports (service, destination, tunnel) are big-endian; every other integer is host order,
//!   except the IPv4 netmask and multicast group, which are network-order bytes.
//!
//! For each fixture, both directions are checked: the model value built with the public API
//! and turned into a message emits exactly the fixture, and the fixture decodes to that
//! message, from which the model value reads back unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use lvs::wire::{
    frame_request, parse_netlink, DaemonAttr, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr,
};
use lvs::{
    AddressFamily, Daemon, DaemonState, Destination, Netmask, PersistenceEngine, SchedFlags,
    Scheduler, Service, ServiceId, Timeouts, Tunnel,
};
use netlink_packet_core::{DefaultNla, Emitable, NetlinkPayload};
use netlink_packet_generic::GenlMessage;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Turn an annotated hex dump into bytes: `#` starts a comment that runs to the end of the
/// line; whitespace is ignored; what is left must be pairs of hex digits.
fn bytes(fixture: &str) -> Vec<u8> {
    let digits: String = fixture
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "fixture has an odd number of hex digits"
    );
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .unwrap_or_else(|_| panic!("bad hex byte {:?}", &digits[i..i + 2]))
        })
        .collect()
}

/// Bytes as hex, four per group, for readable assertion failures.
fn hex(b: &[u8]) -> String {
    b.chunks(4)
        .map(|c| {
            c.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn assert_bytes(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{what}: bytes differ\n  got:  {}\n  want: {}",
        hex(got),
        hex(want)
    );
}

/// Check `msg` against a fixture (genl header + attributes), both ways:
/// - the genl header is `cmd, 1, 0, 0` with `cmd` = `msg.cmd`;
/// - `msg` emits exactly the attribute bytes (into a poisoned buffer, so that unzeroed
///   padding shows), and as a `GenlMessage`, exactly the whole fixture;
/// - the attribute bytes decode to `msg`, and that decoded message re-emits them.
///
/// Returns the decoded message, for the model read-back checks.
fn check(fixture: &str, msg: &IpvsMessage) -> IpvsMessage {
    let fx = bytes(fixture);
    assert!(fx.len() >= 4, "fixture shorter than a genl header");
    let cmd = fx[0];
    assert_eq!(u8::from(msg.cmd), cmd, "command byte");
    assert_eq!(&fx[1..4], &[1, 0, 0], "genl version 1, reserved 0");
    let attrs = &fx[4..];

    // (1) model -> message -> bytes.
    assert_eq!(msg.buffer_len(), attrs.len(), "buffer_len");
    let mut buf = vec![0xa5; msg.buffer_len()];
    msg.emit(&mut buf);
    assert_bytes("emit", &buf, attrs);

    let mut genl = GenlMessage::from_payload(msg.clone());
    genl.finalize();
    let mut gbuf = vec![0xa5; genl.buffer_len()];
    genl.emit(&mut gbuf);
    assert_bytes("genl emit", &gbuf, &fx);

    // (2) bytes -> message.
    let back = IpvsMessage::decode(cmd, attrs).expect("fixture decodes");
    assert_eq!(&back, msg, "decoded message");
    let mut rebuf = vec![0x5a; back.buffer_len()];
    back.emit(&mut rebuf);
    assert_bytes("re-emit of decoded", &rebuf, attrs);
    back
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn tcp_10_0_0_1_80() -> ServiceId {
    ServiceId::tcp(sa("10.0.0.1:80"))
}

// ---------------------------------------------------------------------------------------
// NEW_SERVICE / SET_SERVICE
// ---------------------------------------------------------------------------------------

const NEW_SERVICE_TCP4_RR: &str = "
01 01 00 00                     # genl: cmd NEW_SERVICE (1), version 1, reserved 0
# SERVICE nest, len 84, type 1|NLA_F_NESTED
54 00 01 80
  06 00 01 00  02 00 00 00      # AF, len 6: AF_INET (2, u16 host order), 2 bytes padding
  06 00 02 00  06 00 00 00      # PROTOCOL, len 6: IPPROTO_TCP (6), 2 bytes padding
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR, len 20: 10.0.0.1, then 12 zero bytes
  06 00 04 00  00 50 00 00      # PORT, len 6: 80 big-endian, 2 bytes padding
  07 00 06 00  72 72 00 00      # SCHED_NAME, len 7: \"rr\\0\", 1 byte padding
  0c 00 07 00  00 00 00 00  ff ff ff ff
                                # FLAGS, len 12: flags 0, mask 0xffffffff
  08 00 08 00  00 00 00 00      # TIMEOUT, len 8: 0 (not persistent)
  08 00 09 00  ff ff ff ff      # NETMASK, len 8: 255.255.255.255
";

#[test]
fn new_service_tcp_ipv4_rr() {
    let svc = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap();
    let back = check(NEW_SERVICE_TCP4_RR, &IpvsMessage::new_service(&svc));
    assert_eq!(back.cmd, IpvsCmd::NewService);
    assert!(back.nested_flag);
    assert_eq!(back.service().unwrap(), svc);
}

#[test]
fn set_service_udp_ipv6_persistent_pe_sip_one_packet() {
    let fixture = "
02 01 00 00                     # genl: cmd SET_SERVICE (2), version 1
# SERVICE nest, len 92, type 1|NLA_F_NESTED
5c 00 01 80
  06 00 01 00  0a 00 00 00      # AF: AF_INET6 (10)
  06 00 02 00  11 00 00 00      # PROTOCOL: IPPROTO_UDP (17)
  14 00 03 00  fd 00 00 00  00 00 00 00  00 00 00 00  00 00 00 01
                                # ADDR, len 20: fd00::1
  06 00 04 00  13 c4 00 00      # PORT: 5060 big-endian
  08 00 06 00  77 6c 63 00      # SCHED_NAME, len 8: \"wlc\\0\", no padding
  08 00 0b 00  73 69 70 00      # PE_NAME (11), len 8: \"sip\\0\"
  0c 00 07 00  05 00 00 00  ff ff ff ff
                                # FLAGS: PERSISTENT|ONEPACKET (0x5), mask ~0
  08 00 08 00  08 07 00 00      # TIMEOUT: 1800
  08 00 09 00  40 00 00 00      # NETMASK: IPv6 prefix length 64 (plain u32)
";
    let svc = Service::udp(sa("[fd00::1]:5060"))
        .persistent(1800)
        .netmask(Netmask::V6(64))
        .pe(PersistenceEngine::Sip)
        .one_packet()
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::set_service(&svc));
    assert_eq!(back.cmd, IpvsCmd::SetService);
    assert_eq!(back.service().unwrap(), svc);
}

#[test]
fn new_service_sctp() {
    let fixture = "
01 01 00 00                     # genl: NEW_SERVICE
54 00 01 80                     # SERVICE nest, len 84
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  84 00 00 00      # PROTOCOL: IPPROTO_SCTP (132)
  14 00 03 00  c0 a8 01 0a  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 192.168.1.10
  06 00 04 00  0f 1c 00 00      # PORT: 3868 big-endian
  07 00 06 00  6c 63 00 00      # SCHED_NAME: \"lc\\0\" + 1 byte padding
  0c 00 07 00  00 00 00 00  ff ff ff ff   # FLAGS: 0, mask ~0
  08 00 08 00  00 00 00 00      # TIMEOUT: 0
  08 00 09 00  ff ff ff ff      # NETMASK: 255.255.255.255
";
    let svc = Service::sctp(sa("192.168.1.10:3868"))
        .scheduler(Scheduler::Lc)
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_service(&svc));
    assert_eq!(back.service().unwrap(), svc);
}

#[test]
fn new_service_fwmark_ipv4() {
    let fixture = "
01 01 00 00                     # genl: NEW_SERVICE
38 00 01 80                     # SERVICE nest, len 56
  06 00 01 00  02 00 00 00      # AF: AF_INET
  08 00 05 00  2a 00 00 00      # FWMARK (5), len 8: 42
  08 00 06 00  77 72 72 00      # SCHED_NAME: \"wrr\\0\"
  0c 00 07 00  00 00 00 00  ff ff ff ff   # FLAGS: 0, mask ~0
  08 00 08 00  00 00 00 00      # TIMEOUT: 0
  08 00 09 00  ff ff ff ff      # NETMASK: 255.255.255.255
";
    let svc = Service::fwmark(42)
        .scheduler(Scheduler::Wrr)
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_service(&svc));
    assert_eq!(back.service().unwrap(), svc);
}

#[test]
fn new_service_fwmark_ipv6() {
    let fixture = "
01 01 00 00                     # genl: NEW_SERVICE
38 00 01 80                     # SERVICE nest, len 56
  06 00 01 00  0a 00 00 00      # AF: AF_INET6
  08 00 05 00  e8 03 00 00      # FWMARK: 1000
  08 00 06 00  77 6c 63 00      # SCHED_NAME: \"wlc\\0\" (the default)
  0c 00 07 00  00 00 00 00  ff ff ff ff   # FLAGS: 0, mask ~0
  08 00 08 00  00 00 00 00      # TIMEOUT: 0
  08 00 09 00  80 00 00 00      # NETMASK: IPv6 prefix length 128
";
    let svc = Service::fwmark6(1000).build().unwrap();
    let back = check(fixture, &IpvsMessage::new_service(&svc));
    assert_eq!(back.service().unwrap(), svc);
}

#[test]
fn new_service_sh_with_sh_port() {
    let fixture = "
01 01 00 00                     # genl: NEW_SERVICE
54 00 01 80                     # SERVICE nest, len 84
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  01 bb 00 00      # PORT: 443 big-endian
  07 00 06 00  73 68 00 00      # SCHED_NAME: \"sh\\0\" + 1 byte padding
  0c 00 07 00  10 00 00 00  ff ff ff ff
                                # FLAGS: SCHED2 (0x10, sh-port), mask ~0
  08 00 08 00  00 00 00 00      # TIMEOUT: 0
  08 00 09 00  ff ff ff ff      # NETMASK: 255.255.255.255
";
    let svc = Service::tcp(sa("10.0.0.1:443"))
        .scheduler(Scheduler::Sh)
        .sched_flags(SchedFlags::SH_PORT)
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_service(&svc));
    let read = back.service().unwrap();
    assert_eq!(read.sched_flags, SchedFlags::SH_PORT);
    assert_eq!(read, svc);
}

#[test]
fn new_service_persistent_ipv4_netmask_24() {
    let fixture = "
01 01 00 00                     # genl: NEW_SERVICE
54 00 01 80                     # SERVICE nest, len 84
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  c0 a8 02 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 192.168.2.1
  06 00 04 00  00 50 00 00      # PORT: 80 big-endian
  07 00 06 00  72 72 00 00      # SCHED_NAME: \"rr\\0\"
  0c 00 07 00  01 00 00 00  ff ff ff ff
                                # FLAGS: PERSISTENT (0x1), mask ~0
  08 00 08 00  58 02 00 00      # TIMEOUT: 600
  08 00 09 00  ff ff ff 00      # NETMASK: 255.255.255.0, network-order bytes
";
    let svc = Service::tcp(sa("192.168.2.1:80"))
        .scheduler(Scheduler::Rr)
        .persistent(600)
        .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)))
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_service(&svc));
    let read = back.service().unwrap();
    assert_eq!(
        read.persistence.unwrap().netmask,
        Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))
    );
    assert_eq!(read, svc);
}

// ---------------------------------------------------------------------------------------
// Identity-only service commands: DEL_SERVICE, GET_SERVICE (do), ZERO (one service)
// ---------------------------------------------------------------------------------------

#[test]
fn del_service_tcp_ipv4() {
    let fixture = "
03 01 00 00                     # genl: cmd DEL_SERVICE (3)
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80 big-endian
";
    let id = tcp_10_0_0_1_80();
    let back = check(fixture, &IpvsMessage::del_service(&id));
    assert_eq!(
        ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
}

#[test]
fn del_service_fwmark_ipv6() {
    let fixture = "
03 01 00 00                     # genl: DEL_SERVICE
14 00 01 80                     # SERVICE nest, len 20
  06 00 01 00  0a 00 00 00      # AF: AF_INET6
  08 00 05 00  e8 03 00 00      # FWMARK: 1000
";
    let id = ServiceId::fwmark6(1000);
    let back = check(fixture, &IpvsMessage::del_service(&id));
    assert_eq!(
        ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
}

#[test]
fn get_service_one_udp_ipv6() {
    let fixture = "
04 01 00 00                     # genl: cmd GET_SERVICE (4)
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  0a 00 00 00      # AF: AF_INET6
  06 00 02 00  11 00 00 00      # PROTOCOL: UDP
  14 00 03 00  fd 00 00 00  00 00 00 00  00 00 00 00  00 00 00 01
                                # ADDR: fd00::1
  06 00 04 00  00 35 00 00      # PORT: 53 big-endian
";
    let id = ServiceId::udp(sa("[fd00::1]:53"));
    let back = check(fixture, &IpvsMessage::get_service(&id));
    assert_eq!(
        ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
}

#[test]
fn zero_one_service() {
    let fixture = "
10 01 00 00                     # genl: cmd ZERO (16)
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80 big-endian
";
    let id = tcp_10_0_0_1_80();
    let back = check(fixture, &IpvsMessage::zero(Some(&id)));
    assert_eq!(
        ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
}

#[test]
fn zero_one_fwmark_service() {
    let fixture = "
10 01 00 00                     # genl: ZERO
14 00 01 80                     # SERVICE nest, len 20
  06 00 01 00  02 00 00 00      # AF: AF_INET
  08 00 05 00  2a 00 00 00      # FWMARK: 42
";
    let id = ServiceId::fwmark(42);
    let back = check(fixture, &IpvsMessage::zero(Some(&id)));
    assert_eq!(
        ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
}

// ---------------------------------------------------------------------------------------
// Destinations: NEW_DEST, SET_DEST, DEL_DEST, GET_DEST
// ---------------------------------------------------------------------------------------

/// Check a destination command's read-back: service identity, then destination.
fn check_dest_readback(back: &IpvsMessage, id: &ServiceId, dest: &Destination) {
    assert_eq!(
        &ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
    assert_eq!(&back.destination(id.af()).unwrap(), dest);
}

#[test]
fn new_dest_masquerade() {
    let fixture = "
05 01 00 00                     # genl: cmd NEW_DEST (5)
30 00 01 80                     # SERVICE nest, len 48 (identity only)
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80 big-endian
48 00 02 80                     # DEST nest, len 72, type 2|NLA_F_NESTED
  06 00 0b 00  02 00 00 00      # ADDR_FAMILY (11): AF_INET
  14 00 01 00  0a 00 00 02  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR (1): 10.0.0.2
  06 00 02 00  00 50 00 00      # PORT (2): 80 big-endian
  08 00 03 00  00 00 00 00      # FWD_METHOD (3): MASQ (0)
  08 00 04 00  03 00 00 00      # WEIGHT (4): 3
  08 00 05 00  00 00 00 00      # U_THRESH (5): 0
  08 00 06 00  00 00 00 00      # L_THRESH (6): 0
";
    let id = tcp_10_0_0_1_80();
    let dest = Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .weight(3)
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_dest(&id, &dest));
    check_dest_readback(&back, &id, &dest);
}

#[test]
fn new_dest_direct_route() {
    let fixture = "
05 01 00 00                     # genl: NEW_DEST
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
48 00 02 80                     # DEST nest, len 72
  06 00 0b 00  02 00 00 00      # ADDR_FAMILY: AF_INET
  14 00 01 00  0a 00 00 03  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.3
  06 00 02 00  1f 90 00 00      # PORT: 8080 big-endian
  08 00 03 00  03 00 00 00      # FWD_METHOD: DROUTE (3)
  08 00 04 00  01 00 00 00      # WEIGHT: 1 (the default)
  08 00 05 00  00 00 00 00      # U_THRESH: 0
  08 00 06 00  00 00 00 00      # L_THRESH: 0
";
    let id = tcp_10_0_0_1_80();
    let dest = Destination::builder(sa("10.0.0.3:8080"))
        .direct_route()
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_dest(&id, &dest));
    check_dest_readback(&back, &id, &dest);
}

#[test]
fn set_dest_tunnel_ipip() {
    let fixture = "
06 01 00 00                     # genl: cmd SET_DEST (6)
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
60 00 02 80                     # DEST nest, len 96
  06 00 0b 00  02 00 00 00      # ADDR_FAMILY: AF_INET
  14 00 01 00  0a 00 00 04  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.4
  06 00 02 00  00 50 00 00      # PORT: 80
  08 00 03 00  02 00 00 00      # FWD_METHOD: TUNNEL (2)
  08 00 04 00  02 00 00 00      # WEIGHT: 2
  08 00 05 00  00 00 00 00      # U_THRESH: 0
  08 00 06 00  00 00 00 00      # L_THRESH: 0
  05 00 0d 00  00 00 00 00      # TUN_TYPE (13), len 5: IPIP (0), 3 bytes padding
  06 00 0e 00  00 00 00 00      # TUN_PORT (14): 0
  06 00 0f 00  00 00 00 00      # TUN_FLAGS (15): 0 (nocsum)
";
    let id = tcp_10_0_0_1_80();
    let dest = Destination::builder(sa("10.0.0.4:80"))
        .tunnel(Tunnel::ipip())
        .weight(2)
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::set_dest(&id, &dest));
    check_dest_readback(&back, &id, &dest);
}

#[test]
fn new_dest_tunnel_gue_port_6080_csum() {
    let fixture = "
05 01 00 00                     # genl: NEW_DEST
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
60 00 02 80                     # DEST nest, len 96
  06 00 0b 00  02 00 00 00      # ADDR_FAMILY: AF_INET
  14 00 01 00  0a 00 00 05  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.5
  06 00 02 00  00 50 00 00      # PORT: 80
  08 00 03 00  02 00 00 00      # FWD_METHOD: TUNNEL (2)
  08 00 04 00  01 00 00 00      # WEIGHT: 1
  08 00 05 00  00 00 00 00      # U_THRESH: 0
  08 00 06 00  00 00 00 00      # L_THRESH: 0
  05 00 0d 00  01 00 00 00      # TUN_TYPE: GUE (1), 3 bytes padding
  06 00 0e 00  17 c0 00 00      # TUN_PORT: 6080 big-endian
  06 00 0f 00  01 00 00 00      # TUN_FLAGS: CSUM (1), host order
";
    let id = tcp_10_0_0_1_80();
    let dest = Destination::builder(sa("10.0.0.5:80"))
        .tunnel(Tunnel::gue(6080).csum())
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_dest(&id, &dest));
    check_dest_readback(&back, &id, &dest);
}

#[test]
fn new_dest_tunnel_gre_remcsum_under_fwmark() {
    let fixture = "
05 01 00 00                     # genl: NEW_DEST
14 00 01 80                     # SERVICE nest, len 20 (fwmark identity)
  06 00 01 00  02 00 00 00      # AF: AF_INET
  08 00 05 00  2a 00 00 00      # FWMARK: 42
60 00 02 80                     # DEST nest, len 96
  06 00 0b 00  02 00 00 00      # ADDR_FAMILY: AF_INET
  14 00 01 00  0a 00 00 06  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.6
  06 00 02 00  00 00 00 00      # PORT: 0 (fwmark service)
  08 00 03 00  02 00 00 00      # FWD_METHOD: TUNNEL (2)
  08 00 04 00  01 00 00 00      # WEIGHT: 1
  08 00 05 00  00 00 00 00      # U_THRESH: 0
  08 00 06 00  00 00 00 00      # L_THRESH: 0
  05 00 0d 00  02 00 00 00      # TUN_TYPE: GRE (2)
  06 00 0e 00  00 00 00 00      # TUN_PORT: 0
  06 00 0f 00  02 00 00 00      # TUN_FLAGS: REMCSUM (2)
";
    let id = ServiceId::fwmark(42);
    let dest = Destination::builder(sa("10.0.0.6:0"))
        .tunnel(Tunnel::gre().remcsum())
        .build_for(&id)
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_dest(&id, &dest));
    check_dest_readback(&back, &id, &dest);
}

#[test]
fn new_dest_ipv6_under_ipv4_service_via_tunnel() {
    let fixture = "
05 01 00 00                     # genl: NEW_DEST
30 00 01 80                     # SERVICE nest, len 48 (IPv4 service)
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
60 00 02 80                     # DEST nest, len 96
  06 00 0b 00  0a 00 00 00      # ADDR_FAMILY: AF_INET6 (differs from the service)
  14 00 01 00  20 01 0d b8  00 00 00 00  00 00 00 00  00 00 00 10
                                # ADDR: 2001:db8::10
  06 00 02 00  00 50 00 00      # PORT: 80
  08 00 03 00  02 00 00 00      # FWD_METHOD: TUNNEL (2)
  08 00 04 00  01 00 00 00      # WEIGHT: 1
  08 00 05 00  00 00 00 00      # U_THRESH: 0
  08 00 06 00  00 00 00 00      # L_THRESH: 0
  05 00 0d 00  00 00 00 00      # TUN_TYPE: IPIP (0)
  06 00 0e 00  00 00 00 00      # TUN_PORT: 0
  06 00 0f 00  00 00 00 00      # TUN_FLAGS: 0
";
    let id = tcp_10_0_0_1_80();
    let dest = Destination::builder(sa("[2001:db8::10]:80"))
        .tunnel(Tunnel::ipip())
        .build_for(&id)
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_dest(&id, &dest));
    // Read back with the service's family: ADDR_FAMILY must win.
    let read = back.destination(AddressFamily::Inet).unwrap();
    assert_eq!(read.af(), AddressFamily::Inet6);
    check_dest_readback(&back, &id, &dest);
}

#[test]
fn set_dest_thresholds() {
    let fixture = "
06 01 00 00                     # genl: SET_DEST
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
48 00 02 80                     # DEST nest, len 72
  06 00 0b 00  02 00 00 00      # ADDR_FAMILY: AF_INET
  14 00 01 00  0a 00 00 02  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.2
  06 00 02 00  00 50 00 00      # PORT: 80
  08 00 03 00  00 00 00 00      # FWD_METHOD: MASQ (0)
  08 00 04 00  05 00 00 00      # WEIGHT: 5
  08 00 05 00  e8 03 00 00      # U_THRESH: 1000
  08 00 06 00  64 00 00 00      # L_THRESH: 100
";
    let id = tcp_10_0_0_1_80();
    let dest = Destination::builder(sa("10.0.0.2:80"))
        .masquerade()
        .weight(5)
        .upper_threshold(1000)
        .lower_threshold(100)
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::set_dest(&id, &dest));
    check_dest_readback(&back, &id, &dest);
}

#[test]
fn del_dest() {
    let fixture = "
07 01 00 00                     # genl: cmd DEL_DEST (7)
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
28 00 02 80                     # DEST nest, len 40 (identity only)
  06 00 0b 00  02 00 00 00      # ADDR_FAMILY: AF_INET
  14 00 01 00  0a 00 00 02  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.2
  06 00 02 00  00 50 00 00      # PORT: 80
";
    let id = tcp_10_0_0_1_80();
    let addr = sa("10.0.0.2:80");
    let back = check(fixture, &IpvsMessage::del_dest(&id, &addr));
    assert_eq!(
        ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[10, 0, 0, 2]);
    assert_eq!(
        back.dest_attrs().unwrap(),
        &[
            DestAttr::AddrFamily(2),
            DestAttr::Addr(a),
            DestAttr::Port(80)
        ][..]
    );
    assert_eq!(back.dest_attrs().unwrap(), DestAttr::from_dest_id(&addr));
}

const GET_DEST_TCP: &str = "
08 01 00 00                     # genl: cmd GET_DEST (8)
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
";

#[test]
fn get_dest() {
    let id = tcp_10_0_0_1_80();
    let back = check(GET_DEST_TCP, &IpvsMessage::dump_dests(&id));
    assert_eq!(
        ServiceAttr::to_id(back.service_attrs().unwrap()).unwrap(),
        id
    );
    assert!(back.dest_attrs().is_none());
}

// ---------------------------------------------------------------------------------------
// Sync daemons: NEW_DAEMON, DEL_DAEMON
// ---------------------------------------------------------------------------------------

#[test]
fn new_daemon_master_all_fields_ipv4_group() {
    let fixture = "
09 01 00 00                     # genl: cmd NEW_DAEMON (9)
40 00 03 80                     # DAEMON nest, len 64, type 3|NLA_F_NESTED
  08 00 01 00  01 00 00 00      # STATE (1): MASTER (1)
  09 00 02 00  65 74 68 30  00 00 00 00
                                # MCAST_IFN (2), len 9: \"eth0\\0\", 3 bytes padding
  08 00 03 00  07 00 00 00      # SYNC_ID (3): 7
  06 00 04 00  c0 05 00 00      # SYNC_MAXLEN (4), u16 host order: 1472
  08 00 05 00  ef 01 02 03      # MCAST_GROUP (5): 239.1.2.3, network order
  06 00 07 00  90 22 00 00      # MCAST_PORT (7), u16 HOST order: 8848
  05 00 08 00  02 00 00 00      # MCAST_TTL (8), u8: 2, 3 bytes padding
";
    let d = Daemon::builder(DaemonState::Master, "eth0")
        .sync_id(7)
        .max_len(1472)
        .group(IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3)))
        .port(8848)
        .ttl(2)
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_daemon(&d));
    assert_eq!(back.daemon().unwrap(), d);
}

#[test]
fn new_daemon_backup_ipv6_group() {
    let fixture = "
09 01 00 00                     # genl: NEW_DAEMON
34 00 03 80                     # DAEMON nest, len 52
  08 00 01 00  02 00 00 00      # STATE: BACKUP (2)
  0c 00 02 00  76 6c 61 6e  31 30 30 00
                                # MCAST_IFN, len 12: \"vlan100\\0\", no padding
  08 00 03 00  c8 00 00 00      # SYNC_ID: 200
  14 00 06 00  ff 15 00 00  00 00 00 00  00 00 00 00  00 00 42 42
                                # MCAST_GROUP6 (6), len 20: ff15::4242
";
    let d = Daemon::builder(DaemonState::Backup, "vlan100")
        .sync_id(200)
        .group("ff15::4242".parse().unwrap())
        .build()
        .unwrap();
    let back = check(fixture, &IpvsMessage::new_daemon(&d));
    assert_eq!(back.daemon().unwrap(), d);
}

#[test]
fn del_daemon() {
    let fixture = "
0a 01 00 00                     # genl: cmd DEL_DAEMON (10)
0c 00 03 80                     # DAEMON nest, len 12
  08 00 01 00  02 00 00 00      # STATE: BACKUP (2), nothing else
";
    let back = check(fixture, &IpvsMessage::del_daemon(DaemonState::Backup));
    assert_eq!(back.daemon_attrs().unwrap(), &[DaemonAttr::State(2)][..]);
    assert_eq!(back.daemon().unwrap().state, DaemonState::Backup);

    let fixture = "
0a 01 00 00                     # genl: DEL_DAEMON
0c 00 03 80                     # DAEMON nest, len 12
  08 00 01 00  01 00 00 00      # STATE: MASTER (1)
";
    let back = check(fixture, &IpvsMessage::del_daemon(DaemonState::Master));
    assert_eq!(back.daemon().unwrap().state, DaemonState::Master);
}

// ---------------------------------------------------------------------------------------
// SET_CONFIG
// ---------------------------------------------------------------------------------------

#[test]
fn set_config() {
    let fixture = "
0c 01 00 00                     # genl: cmd SET_CONFIG (12)
08 00 04 00  84 03 00 00        # TIMEOUT_TCP (4): 900
08 00 05 00  78 00 00 00        # TIMEOUT_TCP_FIN (5): 120
08 00 06 00  2c 01 00 00        # TIMEOUT_UDP (6): 300
";
    let t = Timeouts {
        tcp: 900,
        tcp_fin: 120,
        udp: 300,
    };
    let back = check(fixture, &IpvsMessage::set_timeouts(&t));
    assert_eq!(back.timeouts(), t);
    assert_eq!(
        back.attrs,
        vec![
            IpvsAttr::TimeoutTcp(900),
            IpvsAttr::TimeoutTcpFin(120),
            IpvsAttr::TimeoutUdp(300)
        ]
    );
}

#[test]
fn set_config_zeros_are_sent() {
    let fixture = "
0c 01 00 00                     # genl: SET_CONFIG
08 00 04 00  00 00 00 00        # TIMEOUT_TCP: 0 (unchanged)
08 00 05 00  3c 00 00 00        # TIMEOUT_TCP_FIN: 60
08 00 06 00  00 00 00 00        # TIMEOUT_UDP: 0 (unchanged)
";
    let t = Timeouts {
        tcp: 0,
        tcp_fin: 60,
        udp: 0,
    };
    let back = check(fixture, &IpvsMessage::set_timeouts(&t));
    assert_eq!(back.timeouts(), t);
}

// ---------------------------------------------------------------------------------------
// Attribute-less commands
// ---------------------------------------------------------------------------------------

#[test]
fn attribute_less_commands() {
    let cases: [(&str, IpvsMessage, IpvsCmd); 6] = [
        (
            "04 01 00 00   # GET_SERVICE (4), dump: no attributes",
            IpvsMessage::dump_services(),
            IpvsCmd::GetService,
        ),
        (
            "0b 01 00 00   # GET_DAEMON (11)",
            IpvsMessage::dump_daemons(),
            IpvsCmd::GetDaemon,
        ),
        (
            "0d 01 00 00   # GET_CONFIG (13)",
            IpvsMessage::get_timeouts(),
            IpvsCmd::GetConfig,
        ),
        (
            "0f 01 00 00   # GET_INFO (15)",
            IpvsMessage::get_info(),
            IpvsCmd::GetInfo,
        ),
        (
            "10 01 00 00   # ZERO (16), all services: no attributes",
            IpvsMessage::zero(None),
            IpvsCmd::Zero,
        ),
        (
            "11 01 00 00   # FLUSH (17)",
            IpvsMessage::flush(),
            IpvsCmd::Flush,
        ),
    ];
    for (fixture, msg, cmd) in cases {
        assert_eq!(msg.cmd, cmd);
        assert!(msg.attrs.is_empty(), "{cmd:?} carries attributes");
        let back = check(fixture, &msg);
        assert!(back.attrs.is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// Unknown attributes survive decode and re-emit
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_attributes_are_kept_and_reemitted() {
    let fixture = "
01 01 00 00                     # genl: NEW_SERVICE
40 00 01 80                     # SERVICE nest, len 64
  06 00 01 00  02 00 00 00      # AF: AF_INET
  08 00 05 00  2a 00 00 00      # FWMARK: 42
  08 00 2a 00  de ad be ef      # unknown service attribute, type 42, 4 bytes
  08 00 06 00  77 72 72 00      # SCHED_NAME: \"wrr\\0\"
  0c 00 07 00  00 00 00 00  ff ff ff ff   # FLAGS: 0, mask ~0
  08 00 08 00  00 00 00 00      # TIMEOUT: 0
  08 00 09 00  ff ff ff ff      # NETMASK: 255.255.255.255
08 00 63 00  01 02 03 04        # unknown top-level attribute, type 99, 4 bytes
07 00 64 00  aa bb cc 00        # unknown top-level attribute, type 100, 3 bytes + 1 padding
";
    let svc = Service::fwmark(42)
        .scheduler(Scheduler::Wrr)
        .build()
        .unwrap();
    let mut nest = ServiceAttr::from_service(&svc);
    nest.insert(
        2,
        ServiceAttr::Other(DefaultNla::new(42, vec![0xde, 0xad, 0xbe, 0xef])),
    );
    let expected = IpvsMessage::new(
        IpvsCmd::NewService,
        vec![
            IpvsAttr::Service(nest),
            IpvsAttr::Other(DefaultNla::new(99, vec![1, 2, 3, 4])),
            IpvsAttr::Other(DefaultNla::new(100, vec![0xaa, 0xbb, 0xcc])),
        ],
    );
    // `check` decodes (unknowns kept as `Other`, in place) and re-emits identical bytes.
    let back = check(fixture, &expected);
    assert!(matches!(
        back.service_attrs().unwrap()[2],
        ServiceAttr::Other(_)
    ));
    assert!(matches!(back.attrs[1], IpvsAttr::Other(_)));
    assert!(matches!(back.attrs[2], IpvsAttr::Other(_)));
    // The model ignores what it does not know.
    assert_eq!(back.service().unwrap(), svc);
}

// ---------------------------------------------------------------------------------------
// Complete framed requests (nlmsghdr + genl header + attributes)
// ---------------------------------------------------------------------------------------

const FAMILY_ID: u16 = 0x0023;

fn check_framed(fixture: &str, got: &[u8], cmd: IpvsCmd, family: u16, seq: u32, flags: u16) {
    let fx = bytes(fixture);
    assert_bytes("framed request", got, &fx);
    let nl = parse_netlink(&fx).expect("framed fixture parses");
    assert_eq!(nl.header.length as usize, fx.len());
    assert_eq!(nl.header.message_type, family);
    assert_eq!(nl.header.flags, flags);
    assert_eq!(nl.header.sequence_number, seq);
    assert_eq!(nl.header.port_number, 0);
    match nl.payload {
        NetlinkPayload::InnerMessage(genl) => {
            assert_eq!(genl.header.cmd, u8::from(cmd));
            assert_eq!(genl.header.version, 1);
            assert_eq!(genl.payload.cmd, cmd);
        }
        other => panic!("not an inner message: {other:?}"),
    }
}

#[test]
fn framed_new_service_do_request() {
    let fixture = "
# nlmsghdr
68 00 00 00                     # nlmsg_len: 104 = 16 + 4 + 84
23 00                           # nlmsg_type: the IPVS family id (0x23 here)
05 00                           # nlmsg_flags: NLM_F_REQUEST (0x1) | NLM_F_ACK (0x4)
01 00 00 00                     # nlmsg_seq: 1
00 00 00 00                     # nlmsg_pid: 0
# genl header
01 01 00 00                     # cmd NEW_SERVICE, version 1
# SERVICE nest, len 84
54 00 01 80
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80 big-endian
  07 00 06 00  72 72 00 00      # SCHED_NAME: \"rr\\0\"
  0c 00 07 00  00 00 00 00  ff ff ff ff   # FLAGS: 0, mask ~0
  08 00 08 00  00 00 00 00      # TIMEOUT: 0
  08 00 09 00  ff ff ff ff      # NETMASK: 255.255.255.255
";
    let svc = Service::tcp(sa("10.0.0.1:80"))
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap();
    let got = frame_request(IpvsMessage::new_service(&svc), FAMILY_ID, 1, false);
    check_framed(fixture, &got, IpvsCmd::NewService, FAMILY_ID, 1, 0x0005);
    // The framed fixture's tail is the same payload as the unframed one.
    assert_eq!(&bytes(fixture)[16..], &bytes(NEW_SERVICE_TCP4_RR)[..]);
}

#[test]
fn framed_get_service_dump_request() {
    let fixture = "
14 00 00 00                     # nlmsg_len: 20 = 16 + 4
23 00                           # nlmsg_type: family id 0x23
01 03                           # nlmsg_flags: NLM_F_REQUEST (0x1) | NLM_F_DUMP (0x300)
78 56 34 12                     # nlmsg_seq: 0x12345678
00 00 00 00                     # nlmsg_pid: 0
04 01 00 00                     # genl: GET_SERVICE, version 1; no attributes
";
    let got = frame_request(IpvsMessage::dump_services(), FAMILY_ID, 0x1234_5678, true);
    check_framed(
        fixture,
        &got,
        IpvsCmd::GetService,
        FAMILY_ID,
        0x1234_5678,
        0x0301,
    );
}

#[test]
fn framed_get_dest_dump_request() {
    let fixture = "
44 00 00 00                     # nlmsg_len: 68 = 16 + 4 + 48
1a 01                           # nlmsg_type: family id 0x011a
01 03                           # nlmsg_flags: NLM_F_REQUEST | NLM_F_DUMP
ff ff ff ff                     # nlmsg_seq: 0xffffffff
00 00 00 00                     # nlmsg_pid: 0
08 01 00 00                     # genl: GET_DEST, version 1
30 00 01 80                     # SERVICE nest, len 48
  06 00 01 00  02 00 00 00      # AF: AF_INET
  06 00 02 00  06 00 00 00      # PROTOCOL: TCP
  14 00 03 00  0a 00 00 01  00 00 00 00  00 00 00 00  00 00 00 00
                                # ADDR: 10.0.0.1
  06 00 04 00  00 50 00 00      # PORT: 80
";
    let got = frame_request(
        IpvsMessage::dump_dests(&tcp_10_0_0_1_80()),
        0x011a,
        u32::MAX,
        true,
    );
    check_framed(fixture, &got, IpvsCmd::GetDest, 0x011a, u32::MAX, 0x0301);
    assert_eq!(&bytes(fixture)[16..], &bytes(GET_DEST_TCP)[..]);
}

#[test]
fn framed_del_daemon_do_request() {
    let fixture = "
20 00 00 00                     # nlmsg_len: 32 = 16 + 4 + 12
23 00                           # nlmsg_type: family id 0x23
05 00                           # nlmsg_flags: NLM_F_REQUEST | NLM_F_ACK
02 00 00 00                     # nlmsg_seq: 2
00 00 00 00                     # nlmsg_pid: 0
0a 01 00 00                     # genl: DEL_DAEMON, version 1
0c 00 03 80                     # DAEMON nest, len 12
  08 00 01 00  01 00 00 00      # STATE: MASTER
";
    let got = frame_request(
        IpvsMessage::del_daemon(DaemonState::Master),
        FAMILY_ID,
        2,
        false,
    );
    check_framed(fixture, &got, IpvsCmd::DelDaemon, FAMILY_ID, 2, 0x0005);
}

// ---------------------------------------------------------------------------------------
// The helper itself
// ---------------------------------------------------------------------------------------

#[test]
fn hex_helper_strips_comments_and_whitespace() {
    assert_eq!(
        bytes("# header\n 01 02\t03 # trailing 04\n0a0B  # ff\n"),
        vec![1, 2, 3, 0x0a, 0x0b]
    );
}
