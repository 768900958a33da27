//! Real kernel replies, pinned as byte fixtures and checked both ways on the host.
//!
//! `tests/fixtures/kernel-{5.10,6.1,6.12,7}/` hold, for every IPVS
//! command, every datagram the kernel sent back to one request (see each directory's
//! `README.txt` for how they were captured in the qemu guest; the requests and the table
//! are `tests/support/reply_scenario.rs`). For each fixture this test checks:
//!
//! - **bytes -> value**: every frame parses; the IPVS messages read back as the model values
//!   of the scenario (services, destinations, daemons, timeouts, info); acknowledgements and
//!   refusals carry the expected errno;
//! - **value -> bytes**: every parsed frame serialises back to exactly its bytes (the kernel's
//!   attribute order, no `NLA_F_NESTED`, unknown attributes kept); the request the kernel
//!   echoes in an acknowledgement or a refusal is exactly what the library's encoder emits
//!   for the scenario's request; and the mock backend, given the same table, answers every
//!   read with exactly the kernel's bytes.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use netlink_packet_core::{NetlinkPayload, NLMSG_DONE, NLMSG_ERROR};

use lvs::transport::{MockKernel, RequestKind, Transport};
use lvs::wire::{frame_request, parse_netlink, IpvsCmd, IpvsMessage};
use lvs::{
    AddressFamily, Daemon, DaemonState, Destination, Ipvs, Netmask, Persistence, Service,
    ServiceId, Timeouts, TunnelFlags,
};

#[path = "support/reply_scenario.rs"]
mod reply_scenario;
use reply_scenario::{requests, scenario, Request, Scenario};

const KERNELS: [&str; 4] = ["kernel-5.10", "kernel-6.1", "kernel-6.12", "kernel-7"];

fn fixture_dir(kernel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kernel)
}

/// One netlink frame of a fixture, parsed.
struct Frame {
    bytes: Vec<u8>,
    kind: u16,
    seq: u32,
    payload: NetlinkPayload<netlink_packet_generic::GenlMessage<IpvsMessage>>,
}

/// Split a fixture (datagrams back to back, each a run of 4-byte aligned frames) into
/// frames, parse each, and check that each serialises back to exactly its bytes.
fn frames(kernel: &str, name: &str) -> Vec<Frame> {
    let path = fixture_dir(kernel).join(format!("{name}.bin"));
    let all = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut off = 0;
    while off < all.len() {
        let len = u32::from_ne_bytes(all[off..off + 4].try_into().unwrap()) as usize;
        assert!(
            len >= 16 && off + len <= all.len(),
            "{kernel}/{name}: bad frame length"
        );
        let bytes = all[off..off + len].to_vec();
        let nl = parse_netlink(&bytes)
            .unwrap_or_else(|e| panic!("{kernel}/{name}: frame at {off} does not parse: {e}"));
        let mut again = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut again);
        assert_eq!(
            again, bytes,
            "{kernel}/{name}: frame at {off} does not serialise back to its bytes"
        );
        out.push(Frame {
            kind: nl.header.message_type,
            seq: nl.header.sequence_number,
            payload: nl.payload,
            bytes,
        });
        off += (len + 3) & !3;
    }
    assert!(!out.is_empty(), "{kernel}/{name}: empty fixture");
    out
}

/// The IPVS messages of a reply, with the final frame's outcome checked against the request.
/// Returns the messages and the family id the kernel used (from the echoed request).
fn reply(kernel: &str, r: &Request) -> (Vec<IpvsMessage>, Vec<Vec<u8>>) {
    let frames = frames(kernel, r.name);
    let (last, body) = frames.split_last().unwrap();
    let mut messages = Vec::new();
    let mut message_bytes = Vec::new();
    for f in body {
        assert_eq!(f.seq, r.seq, "{kernel}/{}: sequence number", r.name);
        match &f.payload {
            NetlinkPayload::InnerMessage(genl) => {
                assert_eq!(genl.header.version, 1, "{kernel}/{}", r.name);
                let m = &genl.payload;
                let nests = m.service_attrs().is_some()
                    || m.dest_attrs().is_some()
                    || m.daemon_attrs().is_some();
                assert!(!(nests && m.nested_flag), "the kernel does not flag nests");
                messages.push(genl.payload.clone());
                message_bytes.push(f.bytes.clone());
            }
            other => panic!("{kernel}/{}: unexpected frame {other:?}", r.name),
        }
    }
    assert_eq!(last.seq, r.seq, "{kernel}/{}: sequence number", r.name);
    match &last.payload {
        NetlinkPayload::Done(_) => {
            assert!(r.dump, "{kernel}/{}: DONE ends only a dump", r.name);
            assert_eq!(last.kind, NLMSG_DONE);
        }
        NetlinkPayload::Error(e) => {
            assert!(!r.dump, "{kernel}/{}: a dump ends with DONE", r.name);
            assert_eq!(last.kind, NLMSG_ERROR);
            assert_eq!(
                e.code.map(|c| -c.get()),
                r.refused,
                "{kernel}/{}: errno",
                r.name
            );
            // The kernel echoes the request: its header for an acknowledgement, all of it
            // for a refusal. The family id is the kernel's, read from the echo.
            let family = u16::from_ne_bytes(e.header[4..6].try_into().unwrap());
            let sent = frame_request(r.msg.clone(), family, r.seq, false);
            let echoed = if r.refused.is_some() {
                &sent[..]
            } else {
                &sent[..16]
            };
            assert_eq!(
                &e.header[..],
                echoed,
                "{kernel}/{}: the echoed request is not what the encoder emits",
                r.name
            );
        }
        other => panic!("{kernel}/{}: unexpected last frame {other:?}", r.name),
    }
    (messages, message_bytes)
}

#[test]
fn every_command_has_a_reply_fixture_from_both_kernels() {
    let sc = scenario();
    for kernel in KERNELS {
        let readme = std::fs::read_to_string(fixture_dir(kernel).join("README.txt")).unwrap();
        let release = kernel.trim_start_matches("kernel-");
        assert!(
            readme.contains(&format!("Captured on kernel {release}.")),
            "{kernel}: README.txt names another kernel: {readme}"
        );
        let cmds: Vec<IpvsCmd> = requests(&sc).iter().map(|r| r.msg.cmd).collect();
        // Every request command of the protocol is covered.
        for cmd in [
            IpvsCmd::NewService,
            IpvsCmd::SetService,
            IpvsCmd::DelService,
            IpvsCmd::GetService,
            IpvsCmd::NewDest,
            IpvsCmd::SetDest,
            IpvsCmd::DelDest,
            IpvsCmd::GetDest,
            IpvsCmd::NewDaemon,
            IpvsCmd::DelDaemon,
            IpvsCmd::GetDaemon,
            IpvsCmd::SetConfig,
            IpvsCmd::GetConfig,
            IpvsCmd::GetInfo,
            IpvsCmd::Zero,
            IpvsCmd::Flush,
        ] {
            assert!(cmds.contains(&cmd), "no fixture for {cmd:?}");
        }
    }
}

#[test]
fn kernel_replies_decode_to_the_scenario() {
    let sc = scenario();
    for kernel in KERNELS {
        for r in requests(&sc) {
            let (messages, _) = reply(kernel, &r);
            check(kernel, &sc, r.name, &messages);
        }
    }
}

/// What each reply says, as model values.
fn check(kernel: &str, sc: &Scenario, name: &str, messages: &[IpvsMessage]) {
    let ctx = format!("{kernel}/{name}");
    match name {
        "get_service_dump" | "get_service_do" => {
            let mut services: Vec<Service> = messages
                .iter()
                .map(|m| {
                    assert_eq!(m.cmd, IpvsCmd::NewService, "{ctx}");
                    m.service().unwrap()
                })
                .collect();
            services.sort_by_key(|s| s.id);
            let want: Vec<&Service> = if name == "get_service_do" {
                vec![&sc.tcp]
            } else {
                vec![&sc.tcp, &sc.fwm6]
            };
            assert_eq!(services.len(), want.len(), "{ctx}");
            for (got, want) in services.iter().zip(want) {
                assert!(got.same_config(want), "{ctx}: {got:?}");
                assert_eq!(got.stats, Some(Default::default()), "{ctx}: no traffic yet");
            }
            assert_eq!(
                services[0].persistence,
                Some(Persistence {
                    timeout: 300,
                    netmask: Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)),
                }),
                "{ctx}"
            );
            if name == "get_service_dump" {
                assert_eq!(services[1].id, ServiceId::fwmark6(7), "{ctx}");
            }
        }
        "get_dest_dump" => {
            let mut dests: Vec<Destination> = messages
                .iter()
                .map(|m| {
                    assert_eq!(m.cmd, IpvsCmd::NewDest, "{ctx}");
                    m.destination(AddressFamily::Inet).unwrap()
                })
                .collect();
            dests.sort_by_key(|d| d.socket_addr());
            assert_eq!(dests.len(), 2, "{ctx}");
            assert!(dests[0].same_config(&sc.masq), "{ctx}: {:?}", dests[0]);
            assert!(dests[1].same_config(&sc.gue), "{ctx}: {:?}", dests[1]);
            assert_eq!(
                dests[1].forward.tunnel().unwrap().flags,
                TunnelFlags::CSUM,
                "{ctx}"
            );
        }
        "get_daemon_dump" => {
            let daemons: Vec<Daemon> = messages.iter().map(|m| m.daemon().unwrap()).collect();
            assert_eq!(daemons.len(), 2, "{ctx}");
            assert_eq!(daemons[0].state, DaemonState::Master, "{ctx}");
            assert_eq!(daemons[0].interface, "lo", "{ctx}");
            assert_eq!(daemons[0].sync_id, 5, "{ctx}");
            assert_eq!(
                daemons[0].group,
                Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81))),
                "{ctx}: the kernel's default group"
            );
            assert_eq!(daemons[1].state, DaemonState::Backup, "{ctx}");
            assert_eq!(daemons[1].interface, "sync0", "{ctx}");
            assert_eq!(daemons[1].group, sc.backup.group, "{ctx}");
            assert_eq!(daemons[1].port, Some(9000), "{ctx}");
            assert_eq!(daemons[1].ttl, Some(3), "{ctx}");
        }
        "get_config" => {
            assert_eq!(messages.len(), 1, "{ctx}");
            assert_eq!(messages[0].cmd, IpvsCmd::SetConfig, "{ctx}");
            assert_eq!(
                messages[0].timeouts(),
                Timeouts {
                    tcp: 900,
                    tcp_fin: 120,
                    udp: 300,
                },
                "{ctx}"
            );
        }
        "get_info" => {
            assert_eq!(messages.len(), 1, "{ctx}");
            assert_eq!(messages[0].cmd, IpvsCmd::SetInfo, "{ctx}");
            let info = messages[0].info().unwrap();
            assert_eq!(info.version.to_string(), "1.2.1", "{ctx}");
            // 7.x: a per-namespace table, 256 entries once a service exists.
            let size = if kernel == "kernel-7" { 256 } else { 4096 };
            assert_eq!(info.conn_table_size, size, "{ctx}");
        }
        _ => assert!(messages.is_empty(), "{ctx}: no IPVS message expected"),
    }
}

/// The mock, set up with the scenario's table, answers each read with exactly the bytes the
/// kernel sent (same messages, same attribute order, same framing of each message).
#[test]
fn mock_replies_are_the_kernel_bytes() {
    let sc = scenario();
    for kernel in KERNELS {
        let builder = MockKernel::builder().interface("sync0", 1500);
        let builder = match kernel {
            "kernel-5.10" => builder.linux_5_10(),
            "kernel-6.1" => builder.linux_6_1(),
            "kernel-6.12" => builder.linux_6_12(),
            _ => builder.linux_7(),
        };
        let mut ipvs = Ipvs::with_transport(builder.build());
        ipvs.add_service(&sc.tcp).unwrap();
        ipvs.add_service(&sc.fwm6).unwrap();
        ipvs.add_destination(&sc.tcp.id, &sc.masq).unwrap();
        ipvs.add_destination(&sc.tcp.id, &sc.gue).unwrap();
        ipvs.start_daemon(&sc.master).unwrap();
        ipvs.start_daemon(&sc.backup).unwrap();
        for r in requests(&sc) {
            if r.name == "flush_ack" {
                ipvs.stop_daemon(DaemonState::Master).unwrap();
                ipvs.stop_daemon(DaemonState::Backup).unwrap();
            }
            let (kernel_messages, kernel_bytes) = reply(kernel, &r);
            let kind = if r.dump {
                RequestKind::Dump
            } else {
                RequestKind::Do
            };
            let mut answer = ipvs.transport().request(&r.msg, kind);
            // 7.x lists services in an order no one outside the kernel can predict (a
            // random hash seed per namespace: Capabilities::service_order); the mock keeps
            // its own. Everything else about the dump must be the kernel's.
            if ipvs.transport().capabilities().unwrap().service_order == lvs::ServiceOrder::Random
                && r.name == "get_service_dump"
            {
                let position = |m: &lvs::wire::IpvsMessage| {
                    let id = m.service().unwrap().id;
                    kernel_messages
                        .iter()
                        .position(|k| k.service().unwrap().id == id)
                };
                if let Ok(messages) = &mut answer {
                    messages.sort_by_key(position);
                }
            }
            match r.refused {
                Some(errno) => match answer {
                    Err(lvs::Error::Kernel(k)) => assert_eq!(k.errno, errno, "{kernel}/{}", r.name),
                    other => panic!("{kernel}/{}: the mock answered {other:?}", r.name),
                },
                None => {
                    let mock = answer.unwrap_or_else(|e| panic!("{kernel}/{}: {e}", r.name));
                    assert_eq!(mock.len(), kernel_bytes.len(), "{kernel}/{}", r.name);
                    for (i, (m, k)) in mock.into_iter().zip(&kernel_bytes).enumerate() {
                        // Frame the mock's message with the kernel frame's own header.
                        let mut nl = parse_netlink(k).unwrap();
                        let NetlinkPayload::InnerMessage(genl) = &mut nl.payload else {
                            unreachable!("checked by reply()")
                        };
                        genl.payload = m;
                        // The kernel frame's length, recomputed for the mock's message.
                        nl.finalize();
                        let mut bytes = vec![0u8; nl.buffer_len()];
                        nl.serialize(&mut bytes);
                        assert_eq!(
                            &bytes, k,
                            "{kernel}/{}: message {i}: the mock's bytes differ from the kernel's",
                            r.name
                        );
                    }
                }
            }
        }
    }
}
