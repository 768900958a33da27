//! Network namespaces keep IPVS tables apart, and a caller without CAP_NET_ADMIN gets a
//! clear error.

use std::process::Command;

use lvs::{Daemon, DaemonState, Service, ServiceId, Timeouts};

use crate::common::{assert_lines, sa, Netns};

#[test]
fn each_handle_sees_only_its_own_namespace() {
    let a = Netns::new("iso-a");
    let b = Netns::new("iso-b");
    let mut ia = a.ipvs();
    let mut ib = b.ipvs();

    let sa_ = Service::tcp(sa("10.0.0.1:80")).build().unwrap();
    let sb = Service::fwmark6(9).build().unwrap();
    ia.add_service(&sa_).unwrap();
    ib.add_service(&sb).unwrap();
    // The same identity in both is two services.
    let both = Service::udp(sa("10.0.0.1:53")).build().unwrap();
    ia.add_service(&both).unwrap();
    ib.add_service(&both).unwrap();

    let ids = |i: &mut crate::common::Handle| {
        let mut v: Vec<ServiceId> = i.services().unwrap().iter().map(|s| s.id).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&mut ia), [sa_.id, both.id]);
    assert_eq!(ids(&mut ib), [both.id, sb.id]);
    assert_lines(
        &a.save(),
        &["-A -t 10.0.0.1:80 -s wlc", "-A -u 10.0.0.1:53 -s wlc"],
    );
    assert_lines(
        &b.save(),
        &["-A -u 10.0.0.1:53 -s wlc", "-A -f 9 -6 -s wlc"],
    );

    // Timeouts and daemons are per namespace too.
    ia.set_timeouts(&Timeouts {
        tcp: 11,
        tcp_fin: 12,
        udp: 13,
    })
    .unwrap();
    assert_eq!(ib.timeouts().unwrap().tcp, 900);
    ia.start_daemon(&Daemon::builder(DaemonState::Master, "lo").build().unwrap())
        .unwrap();
    assert_eq!(ib.daemons().unwrap(), vec![]);
    // Another namespace may run its own master.
    ib.start_daemon(&Daemon::builder(DaemonState::Master, "lo").build().unwrap())
        .unwrap();

    // Flushing one leaves the other.
    ia.flush().unwrap();
    assert_eq!(ia.services().unwrap(), vec![]);
    assert_eq!(ib.services().unwrap().len(), 2);
    a.stop_daemon(&mut ia, DaemonState::Master);
    b.stop_daemon(&mut ib, DaemonState::Master);
}

/// Set in the child process that `permission_denied_without_cap_net_admin` starts.
const CHILD_ENV: &str = "LVS_KERNEL_TEST_UNPRIVILEGED_CHILD";
const CHILD_MARK: &str = "UNPRIVILEGED-RESULT:";

/// The test re-runs itself (the same test binary, only this test) as uid 65534 with no
/// capabilities; the child opens a handle and lists services, and prints the outcome for the
/// parent to check.
#[test]
fn permission_denied_without_cap_net_admin() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // The child: unprivileged.
        let result = lvs::Ipvs::new().and_then(|mut ipvs| ipvs.services());
        println!("{CHILD_MARK} {result:?}");
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .arg(&exe)
        .args([
            "--exact",
            "isolation::permission_denied_without_cap_net_admin",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once(CHILD_MARK).map(|(_, result)| result))
        .unwrap_or_else(|| panic!("no result from the child:\n{stdout}"))
        .trim();
    // Resolving the family needs no privilege; the first IPVS command does.
    assert!(
        line.starts_with("Err(PermissionDenied(KernelContext { errno: 1, operation: GetService,"),
        "{line}"
    );
}
