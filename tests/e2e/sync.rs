//! The kernel's way to scale past one director: connection sync daemons, started through the
//! library, carrying real connections from a master director to a backup (runs in the qemu
//! guest, as root; `scripts/ci/40-e2e.sh`).
//!
//! Two directors on one bridged segment with a client and a DR real server; both directors
//! carry the same virtual service (as a failover pair does), only the master holds the VIP.
//! The master runs the `master` sync daemon, the backup the `backup` one, both on `eth0` with
//! sync id 7. HTTP connections from the client go through the master; every one of them must
//! then appear in the backup's `/proc/net/ip_vs_conn`, which was empty before.
//! Empty unless built with `--cfg lvs_kernel_tests` (as `scripts/ci/test-binary.sh` builds it).

#![cfg(lvs_kernel_tests)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use lvs::{Daemon, DaemonState, Destination, Ipvs, Scheduler, Service};

const PREFIX: &str = "lvs-sync";

/// The namespaces of the test, deleted (with their processes) on drop.
struct Lab {
    names: Vec<String>,
}

impl Lab {
    fn ns(&self, short: &str) -> String {
        format!("{PREFIX}-{short}-{}", std::process::id())
    }

    fn add(&mut self, short: &str) {
        let name = self.ns(short);
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        self.names.push(name);
    }

    /// `bash -c CMD` in the namespace `short`; its stdout.
    fn sh(&self, short: &str, cmd: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns(short), "bash", "-c", cmd])
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{short}: {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `short`'s interface `ifname` with `addr`, plugged into the bridge of namespace `sw`.
    fn plug(&self, short: &str, ifname: &str, addr: &str) {
        let (ns, sw) = (self.ns(short), self.ns("sw"));
        let port = format!("p{short}");
        run(
            "ip",
            &[
                "link",
                "add",
                "lvs-sync-a",
                "type",
                "veth",
                "peer",
                "name",
                "lvs-sync-b",
            ],
        );
        run(
            "ip",
            &["link", "set", "lvs-sync-a", "netns", &ns, "name", ifname],
        );
        run(
            "ip",
            &["link", "set", "lvs-sync-b", "netns", &sw, "name", &port],
        );
        run(
            "ip",
            &["-n", &sw, "link", "set", &port, "master", "br0", "up"],
        );
        run("ip", &["-n", &ns, "addr", "add", addr, "dev", ifname]);
        run("ip", &["-n", &ns, "link", "set", ifname, "up"]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in &self.names {
            let pids = Command::new("ip").args(["netns", "pids", name]).output();
            if let Ok(out) = pids {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").arg(pid).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn run(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd).args(args).status().expect(cmd);
    assert!(st.success(), "{cmd} {args:?}");
}

/// The TCP connections of a namespace's IPVS connection table, as
/// `(client, virtual, destination)` from `/proc/net/ip_vs_conn` (hexadecimal fields).
fn conns(lab: &Lab, short: &str) -> BTreeSet<(SocketAddr, SocketAddr, SocketAddr)> {
    let text = lab.sh(short, "cat /proc/net/ip_vs_conn");
    let hex_addr = |ip: &str, port: &str| -> SocketAddr {
        let ip = u32::from_str_radix(ip, 16).expect("hex address");
        let port = u16::from_str_radix(port, 16).expect("hex port");
        SocketAddr::from((ip.to_be_bytes(), port))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 7 && f[0] == "TCP").then(|| {
                (
                    hex_addr(f[1], f[2]),
                    hex_addr(f[3], f[4]),
                    hex_addr(f[5], f[6]),
                )
            })
        })
        .collect()
}

#[test]
fn connections_made_through_the_master_appear_on_the_backup() {
    let mut lab = Lab { names: Vec::new() };
    for short in ["sw", "master", "backup", "client", "rs"] {
        lab.add(short);
    }
    lab.sh(
        "sw",
        "ip link add br0 type bridge forward_delay 0 && ip link set br0 up",
    );
    lab.plug("master", "eth0", "10.50.0.1/24");
    lab.plug("backup", "eth0", "10.50.0.2/24");
    lab.plug("client", "eth0", "10.50.0.10/24");
    lab.plug("rs", "eth0", "10.50.0.11/24");
    // DR: the VIP on the master's eth0:0 and on the real server's lo (ARP hidden there).
    lab.sh("master", "ip addr add 10.50.0.100/32 dev eth0 label eth0:0");
    lab.sh(
        "rs",
        "ip addr add 10.50.0.100/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
         net.ipv4.conf.all.arp_announce=2 && mkdir -p /tmp/lvs-sync-www && \
         echo hello >/tmp/lvs-sync-www/index.html && busybox httpd -p 80 -h /tmp/lvs-sync-www",
    );

    let svc = Service::tcp("10.50.0.100:80".parse().unwrap())
        .scheduler(Scheduler::Rr)
        .build()
        .unwrap();
    let rs = Destination::builder("10.50.0.11:80".parse().unwrap())
        .direct_route()
        .build_for(&svc.id)
        .unwrap();
    let mut master = Ipvs::in_netns(&lab.ns("master")).unwrap();
    let mut backup = Ipvs::in_netns(&lab.ns("backup")).unwrap();
    for ipvs in [&mut master, &mut backup] {
        ipvs.add_service(&svc).unwrap();
        ipvs.add_destination(&svc.id, &rs).unwrap();
    }

    // The daemons, through the library; each director lists its own.
    let m = Daemon::builder(DaemonState::Master, "eth0")
        .sync_id(7)
        .build()
        .unwrap();
    let b = Daemon::builder(DaemonState::Backup, "eth0")
        .sync_id(7)
        .build()
        .unwrap();
    master.start_daemon(&m).unwrap();
    backup.start_daemon(&b).unwrap();
    let listed = master.daemons().unwrap();
    assert!(
        listed.len() == 1
            && listed[0].state == DaemonState::Master
            && listed[0].interface == "eth0"
            && listed[0].sync_id == 7,
        "master lists {listed:?}"
    );
    let listed = backup.daemons().unwrap();
    assert!(
        listed.len() == 1 && listed[0].state == DaemonState::Backup && listed[0].sync_id == 7,
        "backup lists {listed:?}"
    );
    // ipvsadm agrees.
    let shown = lab.sh("backup", "ipvsadm -Ln --daemon");
    assert!(
        shown.contains("backup sync daemon (mcast=eth0, syncid=7"),
        "{shown}"
    );
    assert!(conns(&lab, "backup").is_empty(), "backup table not empty");

    // Real connections through the master.
    let answers = lab.sh(
        "client",
        "for i in 1 2 3 4 5 6; do \
             exec 3<>/dev/tcp/10.50.0.100/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && \
             cat <&3 | tail -n 1; exec 3>&-; \
         done",
    );
    assert_eq!(
        answers.lines().filter(|l| *l == "hello").count(),
        6,
        "{answers}"
    );
    let on_master = conns(&lab, "master");
    assert_eq!(on_master.len(), 6, "master table: {on_master:?}");
    for (client, vip, dest) in &on_master {
        assert_eq!(client.ip().to_string(), "10.50.0.10");
        assert_eq!(vip.to_string(), "10.50.0.100:80");
        assert_eq!(dest.to_string(), "10.50.0.11:80");
    }

    // The master flushes its sync buffer at least every two seconds.
    let start = Instant::now();
    let mut on_backup = conns(&lab, "backup");
    while !on_master.is_subset(&on_backup) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(250));
        on_backup = conns(&lab, "backup");
    }
    eprintln!(
        "backup's connection table after {:.1} s:\n{}",
        start.elapsed().as_secs_f64(),
        lab.sh("backup", "cat /proc/net/ip_vs_conn")
    );
    assert!(
        on_master.is_subset(&on_backup),
        "connections of the master {on_master:?} missing on the backup {on_backup:?}"
    );

    // Stopping them through the library leaves no daemon behind.
    master.stop_daemon(DaemonState::Master).unwrap();
    backup.stop_daemon(DaemonState::Backup).unwrap();
    assert!(master.daemons().unwrap().is_empty());
    assert!(backup.daemons().unwrap().is_empty());
}
