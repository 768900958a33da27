//! Connection sync daemons: start, list and stop, both directions, and their refusals.
//! Daemons belong to a network namespace, like the table.

use std::net::{IpAddr, Ipv4Addr};

use lvs::{Daemon, DaemonState, Destination, Service, ServiceId, Tunnel};

use crate::common::{lines, sa, Netns};

/// A namespace with a dummy interface `sync0` besides `lo`.
fn netns_with_sync_interface(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.ip(&["link", "add", "sync0", "type", "dummy"]);
    ns.ip(&["link", "set", "sync0", "up"]);
    ns
}

fn daemon_lines(ns: &Netns) -> Vec<String> {
    lines(&ns.ipvsadm(&["-L", "--daemon"]))
}

/// What the kernel reports for a daemon started without the optional values: its defaults
/// (IPv4 group 224.0.0.81, port 8848, TTL 1, and the largest message for the interface's
/// MTU, 1472 bytes on an IPv4 group).
fn with_kernel_defaults(d: &Daemon) -> Daemon {
    let mut d = d.clone();
    d.max_len.get_or_insert(1472);
    d.group
        .get_or_insert(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81)));
    d.port.get_or_insert(8848);
    d.ttl.get_or_insert(1);
    d
}

#[test]
fn start_list_stop_library_writes_ipvsadm_reads() {
    let ns = netns_with_sync_interface("dmn");
    let mut ipvs = ns.ipvs();
    assert_eq!(ipvs.daemons().unwrap(), vec![]);
    assert_eq!(daemon_lines(&ns), Vec::<String>::new());

    let master = Daemon::builder(DaemonState::Master, "lo")
        .sync_id(5)
        .build()
        .unwrap();
    let backup = Daemon::builder(DaemonState::Backup, "sync0")
        .sync_id(7)
        .build()
        .unwrap();
    ipvs.start_daemon(&master).unwrap();
    ipvs.start_daemon(&backup).unwrap();
    assert_eq!(
        daemon_lines(&ns),
        [
            "master sync daemon (mcast=lo, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)",
            "backup sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)",
        ]
    );
    assert_eq!(
        ipvs.daemons().unwrap(),
        [with_kernel_defaults(&master), with_kernel_defaults(&backup)]
    );

    ns.stop_daemon(&mut ipvs, DaemonState::Master);
    assert_eq!(
        daemon_lines(&ns),
        ["backup sync daemon (mcast=sync0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"]
    );
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
    assert_eq!(daemon_lines(&ns), Vec::<String>::new());
    assert_eq!(ipvs.daemons().unwrap(), vec![]);
}

#[test]
fn every_daemon_option_library_writes_ipvsadm_reads() {
    let ns = netns_with_sync_interface("dmn-opts");
    let mut ipvs = ns.ipvs();
    let master = Daemon::builder(DaemonState::Master, "sync0")
        .sync_id(255)
        .max_len(1400)
        .group("239.1.2.3".parse().unwrap())
        .port(9000)
        .ttl(5)
        .build()
        .unwrap();
    // An IPv6 group: the default message length is smaller (IPv6 header).
    let backup = Daemon::builder(DaemonState::Backup, "sync0")
        .group("ff02::1234".parse().unwrap())
        .port(9001)
        .build()
        .unwrap();
    ipvs.start_daemon(&master).unwrap();
    ipvs.start_daemon(&backup).unwrap();
    assert_eq!(
        daemon_lines(&ns),
        [
            "master sync daemon (mcast=sync0, syncid=255, maxlen=1400, group=239.1.2.3, port=9000, ttl=5)",
            "backup sync daemon (mcast=sync0, syncid=0, maxlen=1452, group=ff02::1234, port=9001, ttl=1)",
        ]
    );
    let got = ipvs.daemons().unwrap();
    assert_eq!(got[0], master);
    let mut want_backup = backup.clone();
    want_backup.max_len = Some(1452);
    want_backup.ttl = Some(1);
    assert_eq!(got[1], want_backup);
    ns.stop_daemon(&mut ipvs, DaemonState::Master);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
}

#[test]
fn start_list_stop_ipvsadm_writes_library_reads() {
    let ns = netns_with_sync_interface("dmn-r");
    let mut ipvs = ns.ipvs();
    ns.ipvsadm(&[
        "--start-daemon",
        "backup",
        "--mcast-interface",
        "sync0",
        "--syncid",
        "9",
        "--mcast-group",
        "239.9.9.9",
        "--mcast-port",
        "7777",
        "--mcast-ttl",
        "3",
    ]);
    let got = ipvs.daemons().unwrap();
    assert_eq!(got.len(), 1);
    let d = &got[0];
    assert_eq!(d.state, DaemonState::Backup);
    assert_eq!(d.interface, "sync0");
    assert_eq!(d.sync_id, 9);
    assert_eq!(d.group, Some("239.9.9.9".parse().unwrap()));
    assert_eq!(d.port, Some(7777));
    assert_eq!(d.ttl, Some(3));
    assert_eq!(d.max_len, Some(1472));

    ns.ipvsadm(&["--start-daemon", "master", "--mcast-interface", "lo"]);
    let got = ipvs.daemons().unwrap();
    assert_eq!(
        got.iter().map(|d| d.state).collect::<Vec<_>>(),
        [DaemonState::Master, DaemonState::Backup],
        "master first, then backup"
    );
    assert_eq!(
        got[0],
        with_kernel_defaults(&Daemon::builder(DaemonState::Master, "lo").build().unwrap())
    );

    // ipvsadm stops one, the library stops the other.
    ns.ipvsadm(&["--stop-daemon", "master"]);
    assert_eq!(ipvs.daemons().unwrap().len(), 1);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
    assert_eq!(ipvs.daemons().unwrap(), vec![]);
    assert_eq!(daemon_lines(&ns), Vec::<String>::new());
}

#[test]
fn start_twice_is_daemon_exists() {
    let ns = netns_with_sync_interface("dmn-twice");
    let mut ipvs = ns.ipvs();
    let master = Daemon::builder(DaemonState::Master, "lo").build().unwrap();
    ipvs.start_daemon(&master).unwrap();
    let ctx = assert_refused!(
        ipvs.start_daemon(&master),
        DaemonExists,
        libc::EEXIST,
        StartDaemon
    );
    assert_eq!(ctx.object, "master on lo");
    // Also on another interface: one daemon per state.
    let other = Daemon::builder(DaemonState::Master, "sync0")
        .sync_id(3)
        .build()
        .unwrap();
    assert_refused!(
        ipvs.start_daemon(&other),
        DaemonExists,
        libc::EEXIST,
        StartDaemon
    );
    // A backup beside the master is fine.
    ipvs.start_daemon(
        &Daemon::builder(DaemonState::Backup, "sync0")
            .build()
            .unwrap(),
    )
    .unwrap();
    // ipvsadm sees the refusal the same way.
    let err = ns.ipvsadm_fails(&["--start-daemon", "backup", "--mcast-interface", "lo"]);
    assert_eq!(err, "Daemon has already run");
    ns.stop_daemon(&mut ipvs, DaemonState::Master);
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
}

#[test]
fn stop_not_running_is_no_such_daemon() {
    let ns = netns_with_sync_interface("dmn-none");
    let mut ipvs = ns.ipvs();
    let ctx = assert_refused!(
        ipvs.stop_daemon(DaemonState::Master),
        NoSuchDaemon,
        libc::ESRCH,
        StopDaemon
    );
    assert_eq!(ctx.object, "master");
    assert_refused!(
        ipvs.stop_daemon(DaemonState::Backup),
        NoSuchDaemon,
        libc::ESRCH,
        StopDaemon
    );
    // A running master does not make a backup stoppable.
    ipvs.start_daemon(&Daemon::builder(DaemonState::Master, "lo").build().unwrap())
        .unwrap();
    assert_refused!(
        ipvs.stop_daemon(DaemonState::Backup),
        NoSuchDaemon,
        libc::ESRCH,
        StopDaemon
    );
    ns.stop_daemon(&mut ipvs, DaemonState::Master);
    assert_refused!(
        ipvs.stop_daemon(DaemonState::Master),
        NoSuchDaemon,
        libc::ESRCH,
        StopDaemon
    );
    assert_eq!(
        ns.ipvsadm_fails(&["--stop-daemon", "master"]),
        "No daemon is running"
    );
}

/// The sync protocol cannot carry a destination of the other family than its service: the
/// kernel refuses to start a daemon while such a destination exists (EINVAL, for master and
/// backup alike), and refuses such a destination while a daemon runs.
#[test]
fn start_with_mixed_family_destination_is_invalid_request() {
    let ns = netns_with_sync_interface("dmn-mixed");
    let mut ipvs = ns.ipvs();
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    ipvs.add_service(&Service::builder(id).build().unwrap())
        .unwrap();
    let v6 = Destination::builder(sa("[fd00::7]:80"))
        .tunnel(Tunnel::ipip())
        .build_for(&id)
        .unwrap();
    ipvs.add_destination(&id, &v6).unwrap();

    for state in [DaemonState::Master, DaemonState::Backup] {
        let d = Daemon::builder(state, "lo").build().unwrap();
        let ctx = assert_refused!(
            ipvs.start_daemon(&d),
            InvalidRequest,
            libc::EINVAL,
            StartDaemon
        );
        assert_eq!(ctx.object, format!("{state} on lo"));
    }
    assert_eq!(ipvs.daemons().unwrap(), vec![]);

    // Without the mixed destination, the daemon starts; then the mixed one is refused.
    ipvs.delete_destination(&id, v6.socket_addr()).unwrap();
    ipvs.start_daemon(&Daemon::builder(DaemonState::Backup, "lo").build().unwrap())
        .unwrap();
    assert_refused!(
        ipvs.add_destination(&id, &v6),
        InvalidRequest,
        libc::EINVAL,
        AddDestination
    );
    // A destination of the service's own family is fine.
    let v4 = Destination::builder(sa("10.0.0.2:80"))
        .tunnel(Tunnel::ipip())
        .build_for(&id)
        .unwrap();
    ipvs.add_destination(&id, &v4).unwrap();
    ns.stop_daemon(&mut ipvs, DaemonState::Backup);
}

/// A daemon on an interface that does not exist: ENODEV, which the client has no name for
/// (`Error::Kernel`).
#[test]
fn start_on_missing_interface_is_enodev() {
    let ns = Netns::new("dmn-nodev");
    let mut ipvs = ns.ipvs();
    for state in [DaemonState::Master, DaemonState::Backup] {
        let d = Daemon::builder(state, "nosuch0").build().unwrap();
        let ctx = assert_refused!(ipvs.start_daemon(&d), Kernel, libc::ENODEV, StartDaemon);
        assert_eq!(ctx.object, format!("{state} on nosuch0"));
    }
    assert_eq!(ipvs.daemons().unwrap(), vec![]);
}
