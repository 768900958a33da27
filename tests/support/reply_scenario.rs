//! The table and the requests behind the real-kernel reply fixtures
//! (`tests/fixtures/kernel-*/`): shared by the capture in the guest
//! (`tests/kernel/capture.rs`) and the host test that checks the fixtures
//! (`tests/fixtures_replies.rs`), so both sides use the same values.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};

use lvs::wire::IpvsMessage;
use lvs::{
    Daemon, DaemonState, Destination, Netmask, SchedFlags, Scheduler, Service, ServiceId, Timeouts,
    Tunnel,
};

/// The configuration the fixtures were captured from.
pub struct Scenario {
    /// `ipvsadm -A -t 10.0.0.1:80 -s rr -p 300 -M 255.255.255.0`
    pub tcp: Service,
    /// `ipvsadm -A -f 7 -6 -s sh -b sh-port`
    pub fwm6: Service,
    /// `ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1`
    pub masq: Destination,
    /// `ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.3:80 -i --tun-type gue --tun-port 6080
    /// --tun-csum -w 5 -x 100 -y 10`
    pub gue: Destination,
    /// `ipvsadm --start-daemon master --mcast-interface lo --syncid 5`
    pub master: Daemon,
    /// `ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 7
    /// --mcast-group 239.1.2.3 --mcast-port 9000 --mcast-ttl 3` (sync0: a dummy device)
    pub backup: Daemon,
    /// A service that is never added (for ESRCH).
    pub missing: ServiceId,
    /// `ipvsadm -A -u 10.0.0.1:53` (the write commands' subject).
    pub udp: Service,
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

/// The scenario's values.
pub fn scenario() -> Scenario {
    Scenario {
        tcp: Service::tcp(sa("10.0.0.1:80"))
            .scheduler(Scheduler::Rr)
            .persistent(300)
            .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)))
            .build()
            .expect("valid"),
        fwm6: Service::fwmark6(7)
            .scheduler(Scheduler::Sh)
            .sched_flags(SchedFlags::SH_PORT)
            .build()
            .expect("valid"),
        masq: Destination::builder(sa("10.0.0.2:80"))
            .masquerade()
            .build()
            .expect("valid"),
        gue: Destination::builder(sa("10.0.0.3:80"))
            .tunnel(Tunnel::gue(6080).csum())
            .weight(5)
            .upper_threshold(100)
            .lower_threshold(10)
            .build()
            .expect("valid"),
        master: Daemon::builder(DaemonState::Master, "lo")
            .sync_id(5)
            .build()
            .expect("valid"),
        backup: Daemon::builder(DaemonState::Backup, "sync0")
            .sync_id(7)
            .group("239.1.2.3".parse().expect("an address"))
            .port(9000)
            .ttl(3)
            .build()
            .expect("valid"),
        missing: ServiceId::tcp(sa("10.9.9.9:80")),
        udp: Service::udp(sa("10.0.0.1:53")).build().expect("valid"),
    }
}

/// One captured request: the fixture's name, the request, whether it is a dump, its
/// sequence number, and the errno the kernel refused it with (`None`: accepted).
pub struct Request {
    pub name: &'static str,
    pub msg: IpvsMessage,
    pub dump: bool,
    pub seq: u32,
    pub refused: Option<i32>,
}

fn req(name: &'static str, msg: IpvsMessage, dump: bool, seq: u32) -> Request {
    Request {
        name,
        msg,
        dump,
        seq,
        refused: None,
    }
}

/// Every request, in the order they are sent once the scenario's table is set up (the
/// services, then the destinations of `tcp`, then the master and backup daemons). Before
/// `flush_ack`, both daemons are stopped.
pub fn requests(s: &Scenario) -> Vec<Request> {
    let mut udp_wlc = s.udp.clone();
    udp_wlc.scheduler = Scheduler::Wlc;
    let mut masq_w3 = s.masq.clone();
    masq_w3.weight = 3;
    let mut v = vec![
        req("get_service_dump", IpvsMessage::dump_services(), true, 1),
        req("get_dest_dump", IpvsMessage::dump_dests(&s.tcp.id), true, 2),
        req("get_daemon_dump", IpvsMessage::dump_daemons(), true, 3),
        req("get_config", IpvsMessage::get_timeouts(), false, 4),
        req("get_info", IpvsMessage::get_info(), false, 5),
        req(
            "get_service_do",
            IpvsMessage::get_service(&s.tcp.id),
            false,
            6,
        ),
        Request {
            refused: Some(libc::EEXIST),
            ..req(
                "new_service_eexist",
                IpvsMessage::new_service(&s.tcp),
                false,
                7,
            )
        },
        Request {
            refused: Some(libc::ESRCH),
            ..req(
                "get_service_esrch",
                IpvsMessage::get_service(&s.missing),
                false,
                8,
            )
        },
    ];
    let writes = [
        ("new_service_ack", IpvsMessage::new_service(&s.udp)),
        ("set_service_ack", IpvsMessage::set_service(&udp_wlc)),
        ("new_dest_ack", IpvsMessage::new_dest(&s.udp.id, &s.masq)),
        ("set_dest_ack", IpvsMessage::set_dest(&s.udp.id, &masq_w3)),
        (
            "del_dest_ack",
            IpvsMessage::del_dest(&s.udp.id, &s.masq.socket_addr()),
        ),
        ("del_service_ack", IpvsMessage::del_service(&s.udp.id)),
        (
            "set_config_ack",
            IpvsMessage::set_timeouts(&Timeouts {
                tcp: 1000,
                tcp_fin: 0,
                udp: 0,
            }),
        ),
        ("zero_service_ack", IpvsMessage::zero(Some(&s.tcp.id))),
        ("zero_all_ack", IpvsMessage::zero(None)),
        (
            "del_daemon_ack",
            IpvsMessage::del_daemon(DaemonState::Backup),
        ),
        ("new_daemon_ack", IpvsMessage::new_daemon(&s.backup)),
    ];
    for (i, (name, msg)) in writes.into_iter().enumerate() {
        v.push(req(name, msg, false, 10 + i as u32));
    }
    v.push(req("flush_ack", IpvsMessage::flush(), false, 30));
    v
}
