//! Faults: a receive buffer too small for what the kernel queues (ENOBUFS), a receive
//! timeout, dumps while another process changes the table, one handle shared by many
//! threads, two processes writing the same table, and no descriptor or memory growth over
//! 100,000 operations on one handle. (IPVS not loaded: `ipvs_unavailable` in main.rs; no
//! CAP_NET_ADMIN: `isolation`; a kernel refusal in the middle of a batch: `batch`.)

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs::client::Op;
use lvs::transport::{KernelTransport, Transport};
use lvs::wire::IpvsMessage;
use lvs::{Destination, Error, Ipvs, Service, ServiceId, Timeouts};

use crate::common::{lines, sa, Netns};

/// A handle on `ns` with this receive buffer and receive timeout.
fn open(ns: &Netns, rcvbuf: usize, timeout: Duration) -> Ipvs {
    Ipvs::with_transport(
        KernelTransport::builder()
            .netns_name(ns.name())
            .timeout(timeout)
            .receive_buffer(rcvbuf)
            .open()
            .unwrap_or_else(|e| panic!("open a transport with a {rcvbuf}-byte buffer: {e:?}")),
    )
}

/// `NETLINK_NO_ENOBUFS`: the kernel then drops what does not fit without reporting it, so
/// the reply a request waits for never comes.
#[allow(unsafe_code)] // one setsockopt that neither nix nor socket2 offers
fn set_no_enobufs(t: &KernelTransport) {
    let one: libc::c_int = 1;
    // SAFETY: a valid descriptor, and a pointer to a c_int with its exact size.
    let r = unsafe {
        libc::setsockopt(
            t.as_fd().as_raw_fd(),
            libc::SOL_NETLINK,
            libc::NETLINK_NO_ENOBUFS,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt(NETLINK_NO_ENOBUFS)");
}

fn granted_rcvbuf(t: &KernelTransport) -> usize {
    nix::sys::socket::getsockopt(&t.as_fd(), nix::sys::socket::sockopt::RcvBuf)
        .expect("getsockopt(SO_RCVBUF)")
}

/// Service `i` of a range (`10.<k>.<i/250>.<i%250+1>:80`).
fn svc(k: u32, i: u32) -> Service {
    Service::tcp(sa(&format!("10.{k}.{}.{}:80", i / 250, i % 250 + 1)))
        .build()
        .unwrap()
}

fn add_services(ipvs: &mut Ipvs, k: u32, n: u32) -> Vec<ServiceId> {
    let ops: Vec<Op> = (0..n).map(|i| Op::AddService(svc(k, i))).collect();
    let outcome = ipvs.apply(&ops).expect("add services");
    assert_eq!(
        outcome.applied(),
        n as usize,
        "{:?}",
        outcome.failures().next()
    );
    (0..n).map(|i| svc(k, i).id).collect()
}

fn sorted(mut ids: Vec<ServiceId>) -> Vec<ServiceId> {
    ids.sort();
    ids
}

/// The smallest receive buffer the kernel grants (2304 bytes): a dump of 600 services spans
/// many datagrams and comes back whole (the kernel produces dump datagrams only as the
/// reader makes room), and a batch of hundreds of writes succeeds (the transport sends
/// fewer requests per datagram when the buffer holds fewer acknowledgements). Before that,
/// any batch of more than a few writes failed with ENOBUFS on such a handle.
#[test]
fn smallest_receive_buffer_still_dumps_and_batches() {
    let ns = Netns::new("rcvbuf-min");
    let mut ipvs = open(&ns, 0, Duration::from_secs(5));
    let granted = granted_rcvbuf(ipvs.transport());
    assert!(granted < 4096, "granted {granted}");
    let ids = add_services(&mut ipvs, 1, 600);
    let got: Vec<ServiceId> = ipvs.services().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(got.len(), 600);
    assert_eq!(sorted(got), sorted(ids.clone()));
    // 600 destinations in one batch, then the table through the walk.
    let ops: Vec<Op> = ids
        .iter()
        .map(|id| {
            Op::AddDestination(
                *id,
                Destination::builder(sa("10.200.0.1:80"))
                    .masquerade()
                    .build()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(ipvs.apply(&ops).unwrap().applied(), 600);
    let mut seen = 0;
    ipvs.for_each_entry(|e| {
        assert_eq!(e.destinations.len(), 1, "{}", e.service);
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 600);
    assert_eq!(ns.save().len(), 1200);
}

/// Requests whose replies overflow a tiny receive buffer: the kernel drops replies and says
/// ENOBUFS, which comes back as `Error::Protocol` naming it; the handle works again at once
/// (the transport drains what is left of the failed request; before, the kernel kept
/// dropping everything for this socket and the next request timed out).
#[test]
fn enobufs_is_a_typed_error_and_the_handle_recovers() {
    let ns = Netns::new("enobufs");
    let mut ipvs = open(&ns, 0, Duration::from_secs(2));
    let ids = add_services(&mut ipvs, 2, 64);
    // GET_SERVICE replies in one batch: replies and acks outgrow 2304 bytes.
    let gets: Vec<IpvsMessage> = ids.iter().map(IpvsMessage::get_service).collect();
    match ipvs.transport().request_batch(&gets) {
        Err(Error::Protocol { reason, .. }) => {
            assert!(reason.contains("ENOBUFS"), "{reason}")
        }
        other => panic!("expected an ENOBUFS error, got {other:?}"),
    }
    // Usable at once, and every answer is the right one (no stale reply taken for it).
    let t = Instant::now();
    assert!(ipvs.info().unwrap().conn_table_size > 0);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(ipvs.get_service(&ids[5]).unwrap().id, ids[5]);
    assert_eq!(ipvs.services().unwrap().len(), 64);
    assert_eq!(ipvs.timeouts().unwrap().tcp, 900);
}

/// A reply that never comes: the call returns `Error::Timeout` after the handle's timeout,
/// and the handle works at once afterwards (late or stale replies are drained or dropped).
/// The kernel answers IPVS requests synchronously, so the test makes it drop the replies:
/// a tiny receive buffer and `NETLINK_NO_ENOBUFS` (drop silently instead of ENOBUFS).
#[test]
fn receive_timeout_is_typed_and_the_handle_recovers() {
    let ns = Netns::new("timeout");
    let timeout = Duration::from_millis(400);
    let mut ipvs = open(&ns, 0, timeout);
    let ids = add_services(&mut ipvs, 3, 64);
    set_no_enobufs(ipvs.transport());
    let gets: Vec<IpvsMessage> = ids.iter().map(IpvsMessage::get_service).collect();
    let t = Instant::now();
    match ipvs.transport().request_batch(&gets) {
        Err(Error::Timeout { .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    let waited = t.elapsed();
    assert!(
        waited >= timeout && waited < timeout * 10,
        "waited {waited:?} for a {timeout:?} timeout"
    );
    let t = Instant::now();
    assert_eq!(ipvs.get_service(&ids[9]).unwrap().id, ids[9]);
    assert_eq!(ipvs.services().unwrap().len(), 64);
    assert!(t.elapsed() < timeout, "{:?}", t.elapsed());
}

/// A bash loop in the namespace that adds and deletes `churn` services with ipvsadm -R
/// until `stop` exists; it prints the number of rounds when it ends.
fn churner(ns: &Netns, stop: &str, churn: u32) -> Child {
    let mut add = String::new();
    let mut del = String::new();
    for i in 0..churn {
        let a = format!("10.99.{}.{}:80", i / 250, i % 250 + 1);
        add.push_str(&format!("-A -t {a}\n"));
        del.push_str(&format!("-D -t {a}\n"));
    }
    let script = format!(
        "n=0; while [ ! -e {stop} ]; do printf -- '{add}' | ipvsadm -R || exit 1; \
         printf -- '{del}' | ipvsadm -R || exit 1; n=$((n+1)); done; echo $n"
    );
    Command::new("ip")
        .args(["netns", "exec", ns.name(), "bash", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the churning process")
}

fn finish(child: Child, stop: &str) -> u32 {
    std::fs::write(stop, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the churning process failed");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Full dumps while another process adds and removes services: no error, no duplicate, and
/// every service in a dump is one that existed (stable or churned). IPVS dumps are
/// index-based and carry no "interrupted" flag, so a service may repeat when the table
/// changes between two datagrams of a dump (the client drops the repeat) or, when a service
/// before the cursor goes away, a stable one may be skipped in that dump: the test counts
/// those dumps and prints them; a dump after the churn stops is exact.
#[test]
fn dumps_while_another_process_churns() {
    let ns = Netns::new("churn");
    let mut ipvs = ns.ipvs();
    let stable: HashSet<ServiceId> = add_services(&mut ipvs, 4, 500).into_iter().collect();
    let churned: HashSet<ServiceId> = (0..100)
        .map(|i| ServiceId::tcp(sa(&format!("10.99.{}.{}:80", i / 250, i % 250 + 1))))
        .collect();
    let stop = format!("/tmp/lvs-churn-stop-{}", std::process::id());
    let _ = std::fs::remove_file(&stop);
    let child = churner(&ns, &stop, 100);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut dumps, mut short) = (0, 0);
    while dumps < 40 && Instant::now() < deadline {
        let ids: Vec<ServiceId> = if dumps % 2 == 0 {
            ipvs.services().unwrap().iter().map(|s| s.id).collect()
        } else {
            ipvs.table().unwrap().iter().map(|e| e.service.id).collect()
        };
        let set: HashSet<ServiceId> = ids.iter().copied().collect();
        assert_eq!(set.len(), ids.len(), "a duplicate in dump {dumps}");
        for id in &ids {
            assert!(stable.contains(id) || churned.contains(id), "unknown {id}");
        }
        if !stable.is_subset(&set) {
            short += 1;
        }
        dumps += 1;
    }
    // The consistent read: either a table with every stable service, or a clear
    // "still changing, retry".
    let (mut settled, mut changing) = (0, 0);
    for _ in 0..6 {
        match ipvs.table_settled(4) {
            Ok(t) => {
                let ids: HashSet<ServiceId> = t.iter().map(|e| e.service.id).collect();
                assert!(
                    stable.is_subset(&ids),
                    "a settled read missed a stable service"
                );
                settled += 1;
            }
            Err(lvs::Error::TableChanging { reads: 4 }) => changing += 1,
            Err(e) => panic!("table_settled: {e:?}"),
        }
    }
    let rounds = finish(child, &stop);
    let _ = std::fs::remove_file(&stop);
    eprintln!(
        "{dumps} dumps during {rounds} churn rounds; {short} missed a stable service; \
         table_settled: {settled} settled, {changing} still changing"
    );
    assert!(dumps >= 5 && rounds >= 1, "{dumps} dumps, {rounds} rounds");
    assert_eq!(ipvs.table_settled(2).unwrap().len(), stable.len());
    let after: HashSet<ServiceId> = ipvs.services().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(after, stable);
}

/// One handle behind a mutex, used by eight threads at once: every call gets its own
/// answer, and the table ends as the threads left it.
#[test]
fn one_handle_shared_by_many_threads() {
    let ns = Netns::new("threads");
    let ipvs = Arc::new(Mutex::new(ns.ipvs()));
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let ipvs = Arc::clone(&ipvs);
            std::thread::spawn(move || {
                for i in 0..25u32 {
                    let s = svc(10 + t, i);
                    let d = Destination::builder(sa(&format!("10.201.{t}.{}:80", i + 1)))
                        .weight(i + 1)
                        .build()
                        .unwrap();
                    let mut h = ipvs.lock().unwrap();
                    h.add_service(&s).unwrap();
                    drop(h);
                    ipvs.lock().unwrap().add_destination(&s.id, &d).unwrap();
                    let got = ipvs.lock().unwrap().destinations(&s.id).unwrap();
                    assert_eq!(got.len(), 1);
                    assert_eq!(got[0].socket_addr(), d.socket_addr());
                    assert_eq!(got[0].weight, i + 1);
                    if i % 2 == 1 {
                        ipvs.lock().unwrap().delete_service(&s.id).unwrap();
                    }
                    assert!(matches!(
                        ipvs.lock().unwrap().add_destination(&s.id, &d),
                        Err(Error::DestinationExists(_) | Error::NoSuchService(_))
                    ));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread panicked");
    }
    let mut want: Vec<ServiceId> = (0..8u32)
        .flat_map(|t| {
            (0..25u32)
                .filter(|i| i % 2 == 0)
                .map(move |i| svc(10 + t, i).id)
        })
        .collect();
    want.sort();
    let mut ipvs = ipvs.lock().unwrap();
    let table = ipvs.table().unwrap();
    let mut got: Vec<ServiceId> = table.iter().map(|e| e.service.id).collect();
    got.sort();
    assert_eq!(got, want);
    assert!(table.iter().all(|e| e.destinations.len() == 1));
}

/// Two processes write the same table: this one through the library, another with ipvsadm.
/// Both work on one contended service (each add is `Ok` or `ServiceExists`, each delete
/// `Ok` or `NoSuchService`, never anything else) and on services of their own, which are
/// all there at the end.
#[test]
fn two_processes_change_the_same_table() {
    let ns = Netns::new("two-procs");
    let mut ipvs = ns.ipvs();
    let contended = Service::tcp(sa("10.98.0.1:80")).build().unwrap();
    let script = "for i in $(seq 1 60); do ipvsadm -A -t 10.98.0.1:80 2>/dev/null; \
                  ipvsadm -A -t 10.97.0.$i:80 || exit 1; \
                  ipvsadm -D -t 10.98.0.1:80 2>/dev/null; done; echo ok";
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "bash", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut added, mut exists, mut deleted, mut missing) = (0, 0, 0, 0);
    // Until the other process is done (and at least 150 rounds).
    let mut rounds = 0u32;
    while rounds < 150 || (rounds < 20_000 && child.try_wait().unwrap().is_none()) {
        match ipvs.add_service(&contended) {
            Ok(()) => added += 1,
            Err(Error::ServiceExists(_)) => exists += 1,
            Err(e) => panic!("add: {e:?}"),
        }
        if rounds < 150 {
            ipvs.add_service(&svc(5, rounds)).unwrap();
        }
        rounds += 1;
        match ipvs.delete_service(&contended.id) {
            Ok(()) => deleted += 1,
            Err(Error::NoSuchService(_)) => missing += 1,
            Err(e) => panic!("delete: {e:?}"),
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok");
    eprintln!(
        "{rounds} rounds; contended service: {added} added, {exists} existed, \
         {deleted} deleted, {missing} gone"
    );
    assert_eq!(added + exists, rounds);
    assert_eq!(deleted + missing, rounds);
    let _ = ipvs.delete_service(&contended.id);
    let got: HashSet<ServiceId> = ipvs.services().unwrap().iter().map(|s| s.id).collect();
    let mut want: HashSet<ServiceId> = (0..150).map(|i| svc(5, i).id).collect();
    want.extend((1..=60).map(|i| ServiceId::tcp(sa(&format!("10.97.0.{i}:80")))));
    assert_eq!(got, want);
    assert_eq!(lines(&ns.ipvsadm(&["-S", "-n"])).len(), 210);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// 100,000 operations on one handle (reads, refusals, small batches and dumps) open no
/// descriptor and grow the resident memory by less than 1 MiB after a warm-up.
#[test]
fn no_fd_or_memory_growth_over_100k_operations() {
    let ns = Netns::new("leak");
    let mut ipvs = ns.ipvs();
    add_services(&mut ipvs, 6, 20);
    let missing = ServiceId::tcp(sa("10.250.0.1:80"));
    let round = |ipvs: &mut Ipvs, n: u32| -> u32 {
        let mut ops = 0;
        for i in 0..n {
            match i % 10 {
                0 => assert!(matches!(
                    ipvs.get_service(&missing),
                    Err(Error::NoSuchService(_))
                )),
                1 => {
                    let id = svc(6, i % 20).id;
                    assert_eq!(ipvs.get_service(&id).unwrap().id, id);
                }
                2 if i % 100 == 2 => assert_eq!(ipvs.services().unwrap().len(), 20),
                3 if i % 100 == 3 => {
                    let t = Timeouts {
                        tcp: 900 + i % 7,
                        tcp_fin: 120,
                        udp: 300,
                    };
                    let ops = [Op::SetTimeouts(t), Op::DeleteService(missing)];
                    let out = ipvs.apply(&ops).unwrap();
                    assert!(out.results[0].is_ok() && out.results[1].is_err());
                }
                4 | 5 => {
                    ipvs.info().unwrap();
                }
                _ => {
                    ipvs.timeouts().unwrap();
                }
            }
            ops += 1;
        }
        ops
    };
    round(&mut ipvs, 5_000);
    let (fds, rss) = (open_fds(), rss_kib());
    let t = Instant::now();
    let done = round(&mut ipvs, 100_000);
    let (fds2, rss2) = (open_fds(), rss_kib());
    eprintln!(
        "{done} operations in {:?}: fds {fds} -> {fds2}, VmRSS {rss} -> {rss2} KiB",
        t.elapsed()
    );
    assert_eq!(fds2, fds, "descriptors leaked");
    assert!(rss2 < rss + 1024, "VmRSS grew from {rss} to {rss2} KiB");
}
