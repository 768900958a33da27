//! Host preparation in a real kernel (runs in the qemu guest, as root): each step does what
//! the seed scripts did, is idempotent, and `undo` leaves the namespace exactly as it was.
//! Empty unless built with `--cfg lvs_kernel_tests` (`scripts/ci/50-faults.sh` does).

#![cfg(lvs_kernel_tests)]

use std::net::IpAddr;
use std::process::Command;

use lvs::host::{Change, Host, VipDevice};

/// A fresh network namespace, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("lvs-host-{tag}-{}", std::process::id());
        run(&["ip", "netns", "add", &name]);
        // Every real host has its loopback up (bringing it up adds 127.0.0.1, which setting
        // it down again would not remove).
        run(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns(name)
    }

    fn sh(&self, cmd: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "bash", "-c", cmd])
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Everything `undo` must restore: addresses, routes, links, the sysctls we touch.
    fn snapshot(&self) -> String {
        self.sh(
            "ip -o addr show; ip -o link show | sed -e 's/link\\/.*//' -e 's/qdisc [a-z_]* //'; ip route show table all; \
             for f in /proc/sys/net/ipv4/conf/*/arp_ignore /proc/sys/net/ipv4/conf/*/arp_announce \
                      /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/ip_forward; do \
                 echo \"$f $(cat $f)\"; done",
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect(args[0]);
    assert!(st.success(), "{args:?}");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn dr_real_server_vip_on_loopback_and_arp_hidden() {
    let ns = Netns::new("dr");
    let before = ns.snapshot();
    let mut host = Host::in_netns(&ns.0).unwrap();
    host.bind_vip(ip("192.168.1.3"), &VipDevice::Loopback)
        .unwrap();
    host.hide_arp("lo").unwrap();
    let addrs = ns.sh("ip -o addr show dev lo");
    assert!(addrs.contains("inet 192.168.1.3/32"), "{addrs}");
    assert!(addrs.contains("lo:0"), "label lo:0: {addrs}");
    assert!(ns
        .sh("ip route show table main")
        .contains("192.168.1.3 dev lo"));
    assert_eq!(host.sysctl("net/ipv4/conf/lo/arp_ignore").unwrap(), "1");
    assert_eq!(host.sysctl("net/ipv4/conf/all/arp_announce").unwrap(), "2");
    assert_eq!(
        ns.sh("cat /proc/sys/net/ipv4/conf/all/arp_ignore").trim(),
        "1"
    );
    let journal = host.take_changes();
    // Idempotent: doing it again changes nothing and records nothing.
    host.bind_vip(ip("192.168.1.3"), &VipDevice::Loopback)
        .unwrap();
    host.hide_arp("lo").unwrap();
    assert!(host.changes().is_empty(), "{:?}", host.changes());
    // The journal survives its text form, and undoing it restores everything.
    let text: Vec<String> = journal.iter().map(ToString::to_string).collect();
    let parsed: Vec<Change> = text.iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(parsed, journal);
    host.undo(&parsed).unwrap();
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn director_alias_label_and_forwarding() {
    let ns = Netns::new("dir");
    ns.sh(
        "ip link add eth0 type dummy && ip link set eth0 up && ip addr add 192.168.1.2/24 dev eth0",
    );
    let before = ns.snapshot();
    let mut host = Host::in_netns(&ns.0).unwrap();
    let dev = VipDevice::parse("eth0:0").unwrap();
    host.bind_vip(ip("192.168.1.3"), &dev).unwrap();
    host.enable_forwarding(false).unwrap();
    let addrs = ns.sh("ip -o addr show dev eth0");
    assert!(
        addrs.contains("192.168.1.3/32") && addrs.contains("eth0:0"),
        "{addrs}"
    );
    assert_eq!(host.sysctl("net/ipv4/ip_forward").unwrap(), "1");
    // A VIP already present is left alone.
    let mut other = Host::in_netns(&ns.0).unwrap();
    other
        .bind_vip(ip("192.168.1.2"), &VipDevice::Loopback)
        .unwrap();
    assert!(other.changes().is_empty());
    let journal = host.take_changes();
    host.undo(&journal).unwrap();
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn tun_real_server_on_tunl0_and_dummy_device() {
    let ns = Netns::new("tun");
    let before = ns.snapshot();
    let mut host = Host::in_netns(&ns.0).unwrap();
    host.bind_vip(ip("192.168.1.3"), &VipDevice::Tunl0).unwrap();
    host.hide_arp("tunl0").unwrap();
    host.relax_rp_filter("tunl0").unwrap();
    let addrs = ns.sh("ip -o addr show dev tunl0");
    assert!(addrs.contains("192.168.1.3/32"), "{addrs}");
    assert!(ns.sh("ip -o link show tunl0").contains("UP"));
    host.bind_vip(ip("10.9.9.9"), &VipDevice::Dummy("vip0".into()))
        .unwrap();
    assert!(ns.sh("ip -d -o link show vip0").contains("dummy"));
    let journal = host.take_changes();
    assert!(journal
        .iter()
        .any(|c| matches!(c, Change::LinkCreated { name, .. } if name == "vip0")));
    host.undo(&journal).unwrap();
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn nat_real_server_default_route_through_director() {
    let ns = Netns::new("nat");
    ns.sh("ip link add eth0 type dummy && ip link set eth0 up && ip addr add 192.168.2.2/24 dev eth0 \
           && ip route add default via 192.168.2.254");
    let before = ns.snapshot();
    let mut host = Host::in_netns(&ns.0).unwrap();
    host.set_default_gateway(ip("192.168.2.1")).unwrap();
    let routes = ns.sh("ip route show default");
    assert_eq!(
        routes.trim(),
        "default via 192.168.2.1 dev eth0",
        "{routes}"
    );
    let journal = host.take_changes();
    host.set_default_gateway(ip("192.168.2.1")).unwrap();
    assert!(host.changes().is_empty());
    host.undo(&journal).unwrap();
    assert_eq!(ns.snapshot(), before);
    // A gateway that is not on-link is a typed error, and nothing changed.
    let err = host.set_default_gateway(ip("10.1.2.3")).unwrap_err();
    assert!(matches!(err, lvs::Error::Host { .. }), "{err}");
    assert_eq!(ns.snapshot(), before);
}

#[test]
fn bad_input_is_rejected_before_any_change() {
    let ns = Netns::new("bad");
    let before = ns.snapshot();
    let mut host = Host::in_netns(&ns.0).unwrap();
    assert!(host.set_sysctl("../etc/passwd", "1").is_err());
    assert!(host.set_sysctl("net/ipv4/ip_forward", "1 2").is_err());
    assert!(host
        .bind_vip(ip("10.0.0.1"), &VipDevice::parse("nosuchdev").unwrap())
        .is_err());
    assert!(VipDevice::parse("an-interface-name-too-long").is_err());
    assert!(host.changes().is_empty());
    assert_eq!(ns.snapshot(), before);
}

/// A state directory of its own for one test, removed on drop.
struct StateDir(std::path::PathBuf);

impl StateDir {
    fn new(tag: &str) -> StateDir {
        let p = std::env::temp_dir().join(format!("lvs-host-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        StateDir(p.join("state"))
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

const WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// With a journal attached, each change is on disk before it is made: after the handle is
/// dropped without any undo (a crash), another process's journal undoes everything, a second
/// undo has nothing left to do, and the journal file is gone.
#[test]
fn journal_written_ahead_and_undone_after_a_crash() {
    use lvs::host::{Entry, Journal};
    let ns = Netns::new("jrnl");
    let sd = StateDir::new("jrnl");
    let before = ns.snapshot();
    {
        let mut host = Host::in_netns(&ns.0).unwrap();
        host.attach_journal(Journal::open(&sd.0, "t", WAIT).unwrap());
        host.bind_vip(ip("192.168.1.3"), &VipDevice::Tunl0).unwrap();
        host.hide_arp("tunl0").unwrap();
        host.relax_rp_filter("tunl0").unwrap();
        // A change that fails is cancelled: the journal does not keep it.
        let err = host
            .add_address("nosuch0", ip("10.0.0.1"), 32, None)
            .unwrap_err();
        assert!(
            matches!(err, lvs::Error::Host(lvs::HostError::NoSuchDevice(ref d)) if d == "nosuch0"),
            "{err}"
        );
        let err = host
            .add_address("tunl0", ip("192.168.1.3"), 32, None)
            .unwrap_err();
        assert!(
            matches!(err, lvs::Error::Host(lvs::HostError::AddressExists { .. })),
            "{err}"
        );
        // A sysctl the journal does not accept is not made at all.
        let somaxconn = host.sysctl("net/core/somaxconn").unwrap();
        assert!(host.set_sysctl("net/core/somaxconn", "17").is_err());
        assert_eq!(host.sysctl("net/core/somaxconn").unwrap(), somaxconn);
        // Dropped here without an undo: a crash, as far as the journal can tell.
    }
    assert_ne!(ns.snapshot(), before);
    let mut journal = Journal::open(&sd.0, "t", WAIT).unwrap();
    let entries: Vec<Entry> = journal.entries().cloned().collect();
    assert!(entries.len() >= 6, "{entries:?}");
    let path = journal.path().to_owned();
    let mut host = Host::in_netns(&ns.0).unwrap();
    let undone = journal.undo(&mut host, None::<&mut lvs::Ipvs>).unwrap();
    assert_eq!(undone.len(), entries.len());
    assert_eq!(ns.snapshot(), before);
    assert!(!path.exists(), "the journal is removed once empty");
    // One holder at a time: the first must let go before the journal can be opened again.
    assert!(matches!(
        Journal::open(&sd.0, "t", std::time::Duration::from_millis(100)),
        Err(lvs::Error::Host(lvs::HostError::JournalLocked { .. }))
    ));
    drop(journal);
    let mut journal = Journal::open(&sd.0, "t", WAIT).unwrap();
    assert!(journal.is_empty());
    assert!(journal
        .undo(&mut host, None::<&mut lvs::Ipvs>)
        .unwrap()
        .is_empty());
}

/// Undo is idempotent change by change, and a value someone else changed since is reported
/// by name and left alone.
#[test]
fn undo_is_idempotent_and_reports_conflicts() {
    let ns = Netns::new("undo2");
    ns.sh("ip link add eth0 type dummy && ip link set eth0 up && ip addr add 192.168.2.2/24 dev eth0 \
           && ip route add default via 192.168.2.254");
    let before = ns.snapshot();
    let mut host = Host::in_netns(&ns.0).unwrap();
    host.set_default_gateway(ip("192.168.2.1")).unwrap();
    host.hide_arp("eth0").unwrap();
    let changes = host.take_changes();
    host.undo(&changes).unwrap();
    assert_eq!(ns.snapshot(), before);
    // Twice: nothing to do, no error (the deleted default route is back already).
    host.undo(&changes).unwrap();
    assert_eq!(ns.snapshot(), before);

    host.hide_arp("eth0").unwrap();
    let changes = host.take_changes();
    ns.sh("sysctl -qw net.ipv4.conf.all.arp_announce=1");
    match host.undo(&changes) {
        Err(lvs::Error::Host(lvs::HostError::UndoIncomplete(failed))) => {
            assert_eq!(failed.len(), 1, "{failed:?}");
            assert!(failed[0].0.contains("all/arp_announce"), "{failed:?}");
        }
        other => panic!("expected UndoIncomplete, got {other:?}"),
    }
    // Everything else was undone; the conflicting value was left as it is.
    assert_eq!(
        ns.sh("sysctl -n net.ipv4.conf.all.arp_announce").trim(),
        "1"
    );
    assert_eq!(ns.sh("sysctl -n net.ipv4.conf.eth0.arp_ignore").trim(), "0");
}

/// The running kernel's (major, minor), from `uname -r` (`7.2.13+deb14-amd64`).
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next().unwrap().parse().unwrap();
    let minor = parts.next().unwrap().parse().unwrap();
    (major, minor)
}

/// The IPVS sysctls of a namespace exist while `ip_vs` is loaded (the guest loads it; so
/// does this, in case).
fn load_ip_vs() {
    run(&["modprobe", "ip_vs"]);
}

/// Every IPVS sysctl of the namespace, `name value` per line (to compare before and after).
fn ipvs_snapshot(ns: &Netns) -> String {
    ns.sh("cd /proc/sys/net/ipv4/vs && for f in *; do echo \"$f $(cat $f)\"; done")
}

/// Which IPVS sysctls this kernel has is a fact about its version: those of every kernel
/// from 5.10 are there, those that came later are there exactly from their version on
/// (`IpvsSysctl::since`), and reading one that is not says so by version.
#[test]
fn ipvs_sysctls_present_by_kernel_version() {
    use lvs::host::IpvsSysctl;
    load_ip_vs();
    let ns = Netns::new("vsver");
    let host = Host::in_netns(&ns.0).unwrap();
    let version = kernel_version();
    let present: Vec<IpvsSysctl> = host
        .ipvs_sysctls()
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    for &s in IpvsSysctl::ALL {
        let here = present.contains(&s);
        let file = std::path::Path::new("/proc/sys/net/ipv4/vs").join(s.name());
        match (s.since(), s.requires()) {
            (_, Some(needs)) => {
                // Present or not by the kernel's build and the modules loaded.
                assert_eq!(here, file.exists(), "{s}");
                eprintln!("{s}: {} ({needs})", if here { "present" } else { "absent" });
            }
            (None, None) => assert!(here, "{s} is in every kernel from 5.10 on"),
            (Some(since), None) => {
                assert_eq!(
                    here,
                    version >= since,
                    "{s}: first in {since:?}, this kernel is {version:?}"
                );
                if !here {
                    eprintln!("{s}: absent on {version:?}, as expected before {since:?}");
                    match host.ipvs_sysctl(s) {
                        Err(lvs::Error::Host(lvs::HostError::Sysctl { reason, .. })) => {
                            let want = format!("{}.{}", since.0, since.1);
                            assert!(reason.contains(&want), "{reason}");
                        }
                        other => panic!("{s}: expected HostError::Sysctl, got {other:?}"),
                    }
                }
            }
        }
    }
    // The guest's Debian kernels have conntrack (CONFIG_IP_VS_NFCT), not debug_level, and
    // the lblc schedulers loaded.
    assert!(present.contains(&IpvsSysctl::Conntrack));
    assert!(!present.contains(&IpvsSysctl::DebugLevel));
}

/// Set through `Host`, read back through `Host` and `sysctl`, undone exactly; only this
/// namespace's values change; idempotent; an out-of-range value is refused with nothing
/// written.
#[test]
fn ipvs_sysctls_set_read_back_and_undone() {
    use lvs::host::IpvsSysctl::{self, *};
    load_ip_vs();
    let ns = Netns::new("vsset");
    let before = ipvs_snapshot(&ns);
    let init_ns = |s: IpvsSysctl| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/vs/{s}"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let outside: Vec<String> = IpvsSysctl::ALL
        .iter()
        .filter(|s| s.since().is_none() && s.requires().is_none())
        .map(|s| init_ns(*s))
        .collect();
    let mut host = Host::in_netns(&ns.0).unwrap();
    let wanted = [
        (ExpireNodestConn, 1),
        (ConnReuseMode, 0),
        (SloppyTcp, 1),
        (ExpireQuiescentTemplate, 1),
    ];
    for (s, v) in wanted {
        assert_ne!(host.ipvs_sysctl(s).unwrap(), v, "{s} starts at its default");
        host.set_ipvs_sysctl(s, v).unwrap();
    }
    for (s, v) in wanted {
        assert_eq!(host.ipvs_sysctl(s).unwrap(), v, "{s}");
        let seen = ns.sh(&format!("sysctl -n net.ipv4.vs.{s}"));
        assert_eq!(seen.trim(), v.to_string(), "{s} through sysctl(8)");
        // Again: already so, nothing done nor recorded.
        host.set_ipvs_sysctl(s, v).unwrap();
    }
    assert_eq!(host.changes().len(), wanted.len());
    assert!(matches!(
        &host.changes()[1],
        Change::Sysctl { key, previous, value }
            if key == "net/ipv4/vs/conn_reuse_mode" && previous == "1" && value == "0"
    ));
    let now: std::collections::HashMap<IpvsSysctl, i64> =
        host.ipvs_sysctls().unwrap().into_iter().collect();
    for (s, v) in wanted {
        assert_eq!(now[&s], v, "{s} in ipvs_sysctls");
    }
    // The initial namespace is untouched.
    let outside_now: Vec<String> = IpvsSysctl::ALL
        .iter()
        .filter(|s| s.since().is_none() && s.requires().is_none())
        .map(|s| init_ns(*s))
        .collect();
    assert_eq!(outside_now, outside);

    // Out of range: a typed error, nothing read, written or recorded.
    let snap = ipvs_snapshot(&ns);
    for (s, v) in [
        (ConnReuseMode, 4),
        (SloppyTcp, 2),
        (SyncPorts, 3),
        (SyncRetries, -1),
    ] {
        match host.set_ipvs_sysctl(s, v) {
            Err(lvs::Error::Invalid(lvs::InvalidError::SysctlOutOfRange {
                name, value, ..
            })) => {
                assert_eq!((name, value), (s.name(), v));
            }
            other => panic!("{s}={v}: expected SysctlOutOfRange, got {other:?}"),
        }
    }
    assert_eq!(ipvs_snapshot(&ns), snap);
    assert_eq!(host.changes().len(), wanted.len());

    let changes = host.take_changes();
    host.undo(&changes).unwrap();
    assert_eq!(ipvs_snapshot(&ns), before);
    for (s, _) in wanted {
        let seen = ns.sh(&format!("sysctl -n net.ipv4.vs.{s}"));
        assert_eq!(seen.trim(), host.ipvs_sysctl(s).unwrap().to_string());
    }
    // Twice: nothing to do.
    host.undo(&changes).unwrap();
    assert_eq!(ipvs_snapshot(&ns), before);

    // The automatic defense modes: the kernel turns a 2 into 1 (or back) by itself; undo
    // takes them as one setting.
    host.set_ipvs_sysctl(DropEntry, 2).unwrap();
    assert_eq!(host.ipvs_sysctl(DropEntry).unwrap(), 1, "2 reads back as 1");
    let changes = host.take_changes();
    host.undo(&changes).unwrap();
    assert_eq!(ipvs_snapshot(&ns), before);
}

/// Journalled: on disk before each change; after the handle is dropped without an undo,
/// a journal reopened undoes them. A value out of range, even through the untyped
/// `set_sysctl`, is refused by the journal and not written.
#[test]
fn ipvs_sysctls_journalled_and_undone_after_reopening() {
    use lvs::host::{IpvsSysctl::*, Journal};
    load_ip_vs();
    let ns = Netns::new("vsjrnl");
    let sd = StateDir::new("vsjrnl");
    let before = ipvs_snapshot(&ns);
    {
        let mut host = Host::in_netns(&ns.0).unwrap();
        host.attach_journal(Journal::open(&sd.0, "t", WAIT).unwrap());
        host.set_ipvs_sysctl(ExpireNodestConn, 1).unwrap();
        host.set_ipvs_sysctl(ConnReuseMode, 0).unwrap();
        host.set_ipvs_sysctl(SyncPorts, 4).unwrap();
        assert!(host.set_sysctl("net/ipv4/vs/conn_reuse_mode", "7").is_err());
        assert!(host.set_sysctl("net/ipv4/vs/sync_ports", "3").is_err());
        assert_eq!(host.ipvs_sysctl(ConnReuseMode).unwrap(), 0);
        assert_eq!(host.ipvs_sysctl(SyncPorts).unwrap(), 4);
        assert_eq!(host.journal().unwrap().entries().count(), 3);
    }
    assert_ne!(ipvs_snapshot(&ns), before);
    let mut journal = Journal::open(&sd.0, "t", WAIT).unwrap();
    assert_eq!(journal.entries().count(), 3);
    let mut host = Host::in_netns(&ns.0).unwrap();
    let undone = journal.undo(&mut host, None::<&mut lvs::Ipvs>).unwrap();
    assert_eq!(undone.len(), 3);
    assert_eq!(ipvs_snapshot(&ns), before);
}

#[test]
fn release_vip_is_recorded_and_announce_needs_an_ethernet_device() {
    use lvs::host::Announce;
    use std::time::Duration;
    let ns = Netns::new("failover");
    ns.sh("ip link add eth0 type dummy && ip link set eth0 address 02:00:00:00:00:01 up");
    // Someone else's VIP, with a label and a host route: released, then put back by undo.
    ns.sh(
        "ip addr add 192.168.1.3/32 dev eth0 label eth0:0 && ip route add 192.168.1.3/32 dev eth0",
    );
    let before = ns.snapshot();
    let mut host = Host::in_netns(&ns.0).unwrap();
    assert!(host.release_vip(ip("192.168.1.3")).unwrap());
    assert!(
        !host.release_vip(ip("192.168.1.3")).unwrap(),
        "released twice"
    );
    assert!(!ns.sh("ip -o addr show").contains("192.168.1.3"));
    let changes = host.changes().to_vec();
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::AddressRemoved { label: Some(l), .. } if l == "eth0:0")));
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::RouteDeleted { .. })));
    // Binding it again puts back what was removed (label included) and forgets the removal.
    host.bind_vip(ip("192.168.1.3"), &VipDevice::parse("eth0:0").unwrap())
        .unwrap();
    assert!(host.changes().is_empty(), "{:?}", host.changes());
    assert_eq!(ns.snapshot(), before);
    // Released again, and undone.
    host.release_vip(ip("192.168.1.3")).unwrap();
    let changes = host.take_changes();
    host.undo(&changes).unwrap();
    assert_eq!(ns.snapshot(), before);

    // Announcing: on an Ethernet device it sends; on lo and tunl0 it is a typed error.
    let quick = Announce {
        repeat: 2,
        interval: Duration::from_millis(10),
    };
    let sent = host.announce(ip("192.168.1.3"), "eth0", &quick).unwrap();
    assert_eq!(sent.sent, 2);
    assert_eq!(sent.mac, [2, 0, 0, 0, 0, 1]);
    let sent = host.announce(ip("fd00::3"), "eth0", &quick).unwrap();
    assert_eq!(sent.sent, 2);
    let err = host.announce(ip("192.168.1.3"), "lo", &quick).unwrap_err();
    assert!(
        matches!(err, lvs::Error::Host(lvs::HostError::NoLinkAddress { .. })),
        "{err}"
    );
    ns.sh("modprobe ipip 2>/dev/null; ip link show tunl0 >/dev/null 2>&1 || ip link add tunl0 type ipip");
    let err = host
        .announce(ip("192.168.1.3"), "tunl0", &quick)
        .unwrap_err();
    assert!(
        matches!(err, lvs::Error::Host(lvs::HostError::NoLinkAddress { .. })),
        "{err}"
    );
    let err = host
        .announce(ip("192.168.1.3"), "nosuch0", &quick)
        .unwrap_err();
    assert!(
        matches!(err, lvs::Error::Host(lvs::HostError::NoSuchDevice(_))),
        "{err}"
    );
}
