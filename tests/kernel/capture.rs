//! Real kernel replies as byte fixtures.
//!
//! `capture_reply_fixtures` sends requests on a plain netlink socket (not the library's
//! transport), framed with `lvs::wire::frame_request`, and keeps the reply datagrams as the
//! kernel sent them. With `LVS_CAPTURE_DIR` set, it writes each reply to
//! `<dir>/<name>.bin`: every datagram received for the request, back to back, up to and
//! including the one with the final `NLMSG_DONE` (dumps) or acknowledgement (do requests),
//! and a `README.txt` saying how and on which kernel they were captured. Either way it
//! decodes every reply with `lvs::wire` and checks what it says.
//!
//! ```sh
//! LVS_CAPTURE_DIR=$PWD/tests/fixtures/kernel-6.1 scripts/guest/run.sh --kernel 6.1 -- \
//!     target/debug/deps/kernel-HASH --exact capture::capture_reply_fixtures
//! ```

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use netlink_packet_core::{NetlinkPayload, NLMSG_DONE, NLMSG_ERROR};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use lvs::wire::{frame_request, parse_netlink, IpvsCmd, IpvsMessage};
use lvs::{
    AddressFamily, Daemon, DaemonState, Destination, Netmask, Persistence, Service, ServiceId,
    Timeouts, TunnelFlags,
};

use crate::common::{family_id, kernel_release, Netns};

#[path = "../support/reply_scenario.rs"]
mod reply_scenario;
use reply_scenario::{requests, scenario, Scenario};

/// A plain generic netlink socket, opened inside the namespace.
fn socket_in(ns: &Netns) -> Socket {
    let path = Path::new("/run/netns").join(ns.name());
    let file = File::open(&path).expect("open the namespace");
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let mut socket = Socket::new(NETLINK_GENERIC).expect("netlink socket");
            socket.bind_auto().expect("bind");
            socket.connect(&SocketAddr::new(0, 0)).expect("connect");
            socket
        })
        .join()
        .expect("the namespace thread")
    })
}

/// One request and everything the kernel answered to it.
struct Exchange {
    /// Every reply datagram, back to back.
    bytes: Vec<u8>,
    /// The IPVS messages among the replies, decoded.
    messages: Vec<IpvsMessage>,
    /// The errno of a refusal; `None` for an acknowledgement or a finished dump.
    refused: Option<i32>,
}

fn exchange(socket: &Socket, family: u16, seq: u32, msg: IpvsMessage, dump: bool) -> Exchange {
    let request = frame_request(msg, family, seq, dump);
    socket.send(&request, 0).expect("send");
    let mut bytes = Vec::new();
    let mut messages = Vec::new();
    let mut refused = None;
    loop {
        let (datagram, from) = socket.recv_from_full().expect("receive");
        assert_eq!(from.port_number(), 0, "from the kernel");
        bytes.extend_from_slice(&datagram);
        let mut finished = false;
        let mut off = 0;
        while off < datagram.len() {
            let len = u32::from_ne_bytes(datagram[off..off + 4].try_into().unwrap()) as usize;
            let kind = u16::from_ne_bytes(datagram[off + 4..off + 6].try_into().unwrap());
            let frame = &datagram[off..off + len];
            let nl = parse_netlink(frame).expect("every reply frame decodes");
            assert_eq!(nl.header.sequence_number, seq);
            match nl.payload {
                NetlinkPayload::InnerMessage(genl) => messages.push(genl.payload),
                NetlinkPayload::Error(e) => {
                    assert_eq!(kind, NLMSG_ERROR);
                    refused = e.code.map(|c| -c.get());
                    finished = true;
                }
                NetlinkPayload::Done(_) => {
                    assert_eq!(kind, NLMSG_DONE);
                    finished = true;
                }
                other => panic!("unexpected reply {other:?}"),
            }
            off += (len + 3) & !3;
        }
        if finished {
            return Exchange {
                bytes,
                messages,
                refused,
            };
        }
    }
}

#[test]
fn capture_reply_fixtures() {
    let ns = Netns::new("capture");
    ns.ip(&["link", "add", "sync0", "type", "dummy"]);
    ns.ip(&["link", "set", "sync0", "up"]);
    let mut ipvs = ns.ipvs();
    let sc = scenario();
    ipvs.add_service(&sc.tcp).unwrap();
    ipvs.add_service(&sc.fwm6).unwrap();
    ipvs.add_destination(&sc.tcp.id, &sc.masq).unwrap();
    ipvs.add_destination(&sc.tcp.id, &sc.gue).unwrap();
    ipvs.start_daemon(&sc.master).unwrap();
    ipvs.start_daemon(&sc.backup).unwrap();

    let family = family_id(&ns);
    let socket = socket_in(&ns);
    let mut captured: Vec<(&str, Exchange)> = Vec::new();
    for r in requests(&sc) {
        if r.name == "flush_ack" {
            ns.stop_daemon(&mut ipvs, DaemonState::Master);
            ns.stop_daemon(&mut ipvs, DaemonState::Backup);
        }
        let ex = exchange(&socket, family, r.seq, r.msg, r.dump);
        assert_eq!(ex.refused, r.refused, "{}", r.name);
        check_reply(&sc, r.name, &ex.messages);
        captured.push((r.name, ex));
    }
    // The partial timeout update kept TCP FIN and UDP; FLUSH emptied the table.
    assert_eq!(
        ipvs.timeouts().unwrap(),
        Timeouts {
            tcp: 1000,
            tcp_fin: 120,
            udp: 300,
        }
    );
    assert!(ipvs.services().unwrap().is_empty());

    if let Some(dir) = std::env::var_os("LVS_CAPTURE_DIR") {
        write_fixtures(&PathBuf::from(dir), &captured);
    }
}

/// What each reply must say (the host test `tests/fixtures_replies.rs` checks the same of
/// the pinned bytes).
fn check_reply(sc: &Scenario, name: &str, messages: &[IpvsMessage]) {
    match name {
        "get_service_dump" => {
            let mut services: Vec<Service> = messages
                .iter()
                .map(|m| {
                    assert_eq!(m.cmd, IpvsCmd::NewService);
                    m.service().unwrap()
                })
                .collect();
            services.sort_by_key(|s| s.id);
            assert_eq!(services.len(), 2);
            assert!(services[0].same_config(&sc.tcp), "{:?}", services[0]);
            assert_eq!(
                services[0].persistence,
                Some(Persistence {
                    timeout: 300,
                    netmask: Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)),
                })
            );
            assert!(services[1].same_config(&sc.fwm6), "{:?}", services[1]);
            assert_eq!(services[1].id, ServiceId::fwmark6(7));
        }
        "get_dest_dump" => {
            let mut dests: Vec<Destination> = messages
                .iter()
                .map(|m| {
                    assert_eq!(m.cmd, IpvsCmd::NewDest);
                    m.destination(AddressFamily::Inet).unwrap()
                })
                .collect();
            dests.sort_by_key(|d| d.socket_addr());
            assert_eq!(dests.len(), 2);
            assert!(dests[0].same_config(&sc.masq), "{:?}", dests[0]);
            assert!(dests[1].same_config(&sc.gue), "{:?}", dests[1]);
            assert_eq!(dests[1].forward.tunnel().unwrap().flags, TunnelFlags::CSUM);
        }
        "get_daemon_dump" => {
            let daemons: Vec<Daemon> = messages.iter().map(|m| m.daemon().unwrap()).collect();
            assert_eq!(daemons.len(), 2);
            assert_eq!(daemons[0].state, DaemonState::Master);
            assert_eq!(daemons[0].interface, "lo");
            assert_eq!(daemons[0].sync_id, 5);
            assert_eq!(
                daemons[0].group,
                Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81)))
            );
            assert_eq!(daemons[1].state, DaemonState::Backup);
            assert_eq!(daemons[1].interface, "sync0");
            assert_eq!(daemons[1].group, sc.backup.group);
            assert_eq!(daemons[1].port, Some(9000));
            assert_eq!(daemons[1].ttl, Some(3));
        }
        "get_config" => {
            assert_eq!(messages.len(), 1);
            assert_eq!(messages[0].cmd, IpvsCmd::SetConfig);
            assert_eq!(
                messages[0].timeouts(),
                Timeouts {
                    tcp: 900,
                    tcp_fin: 120,
                    udp: 300,
                }
            );
        }
        "get_info" => {
            assert_eq!(messages.len(), 1);
            assert_eq!(messages[0].cmd, IpvsCmd::SetInfo);
            let info = messages[0].info().unwrap();
            assert_eq!(info.version.to_string(), "1.2.1");
            assert_eq!(
                info.conn_table_size,
                crate::common::expected().conn_table.size
            );
        }
        "get_service_do" => {
            assert_eq!(messages.len(), 1);
            assert!(messages[0].service().unwrap().same_config(&sc.tcp));
        }
        other => assert!(messages.is_empty(), "{other}: no IPVS message expected"),
    }
}

fn write_fixtures(dir: &Path, captured: &[(&str, Exchange)]) {
    std::fs::create_dir_all(dir).expect("create the capture directory");
    for (name, ex) in captured {
        std::fs::write(dir.join(format!("{name}.bin")), &ex.bytes).expect("write a fixture");
    }
    let release = kernel_release();
    let version = crate::common::running();
    let generation = std::env::var("LVS_CAPTURE_GENERATION")
        .unwrap_or_else(|_| format!("{}.{}", version.major, version.minor));
    let readme = format!(
        "Captured on kernel {release} (uname -r in the qemu guest; upstream {version}) by: \
         LVS_CAPTURE_DIR=$PWD/tests/fixtures/kernel-{generation} \
         LVS_CAPTURE_GENERATION={generation} \
         scripts/guest/run.sh --kernel {generation} -- \
         target/debug/deps/kernel-HASH --exact capture::capture_reply_fixtures \
         (tests/kernel/capture.rs; each .bin holds every reply datagram of one request, \
         back to back, through the final NLMSG_DONE or ack)\n"
    );
    std::fs::write(dir.join("README.txt"), readme).expect("write README.txt");
}
