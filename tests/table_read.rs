//! The pipelined table read (`Ipvs::table`, `Ipvs::table_map`) on a mock shared by two
//! transports, as the kernel is shared by the kernel transport and its sibling: the same
//! table as a plain read whatever its size, destinations read while the service dump goes
//! on, `f` on two threads, and failures on either side returned without a hang.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs::client::Op;
use lvs::transport::{MockKernel, RequestKind, Transport};
use lvs::wire::{IpvsCmd, IpvsMessage};
use lvs::{Destination, Error, Ipvs, Scheduler, Service, ServiceEntry};
use netlink_packet_core::Emitable;
use proptest::prelude::*;

/// What the test transports share: the table, and what they saw and must do.
#[derive(Default)]
struct Shared {
    kernel: Mutex<MockKernel>,
    /// Siblings opened so far.
    siblings: AtomicUsize,
    /// Destination dumps answered on a sibling.
    sibling_dest_dumps: AtomicUsize,
    /// Destination dumps a sibling answered while a service dump was being handed out.
    during_service_dump: AtomicUsize,
    service_dump_running: AtomicBool,
    /// After this many services of a dump, wait (up to 10 s) for a sibling's destination
    /// dump before handing out the next one.
    wait_for_sibling_after: Option<usize>,
    /// Set by the tests' `f` when it runs on the calling thread.
    caller_ran: AtomicBool,
    /// A sibling's destination dumps wait (up to 10 s) until `caller_ran`.
    sibling_waits_for_caller: bool,
    /// Each destination dump on the main transport, or on a sibling, takes 20 ms more.
    slow_main_dest_dumps: bool,
    slow_sibling_dest_dumps: bool,
    /// Panic in the service dump after this many services (a transport that panics).
    panic_service_dump_after: Option<usize>,
    /// Fail a sibling's destination dump number N (from 1) with an I/O error.
    fail_sibling_dest_dump: Option<usize>,
    /// Fail the main transport's destination dumps with an I/O error.
    fail_main_dest_dumps: bool,
    /// Fail the service dump after this many services with an I/O error.
    fail_service_dump_after: Option<usize>,
}

/// A transport over [`Shared`]; `sibling` says whether it was opened by `sibling()`.
struct Test {
    shared: Arc<Shared>,
    sibling: bool,
}

fn io_error(what: &str) -> Error {
    Error::Io(std::io::Error::other(what.to_owned()))
}

/// Wait until `done()`, for at most 10 s (the test's assertions then fail).
fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Transport for Test {
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> lvs::Result<Vec<IpvsMessage>> {
        self.shared.kernel.lock().unwrap().request(msg, kind)
    }

    fn dump_each(
        &mut self,
        msg: &IpvsMessage,
        f: &mut dyn FnMut(u8, &[u8]) -> lvs::Result<()>,
    ) -> lvs::Result<()> {
        let sh = &*self.shared;
        let services = msg.cmd == IpvsCmd::GetService;
        if !services {
            let slow = if self.sibling {
                sh.slow_sibling_dest_dumps
            } else {
                sh.slow_main_dest_dumps
            };
            if slow {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.sibling {
                let n = sh.sibling_dest_dumps.fetch_add(1, Ordering::SeqCst) + 1;
                if sh.service_dump_running.load(Ordering::SeqCst) {
                    sh.during_service_dump.fetch_add(1, Ordering::SeqCst);
                }
                if sh.sibling_waits_for_caller {
                    wait_until(|| sh.caller_ran.load(Ordering::SeqCst));
                }
                if sh.fail_sibling_dest_dump == Some(n) {
                    return Err(io_error("sibling destination dump"));
                }
            } else if sh.fail_main_dest_dumps {
                return Err(io_error("main destination dump"));
            }
        }
        // The answer is computed under the lock, then handed out without it, so that the
        // other transport can be answered meanwhile (as the kernel answers another socket
        // between two datagrams of a dump).
        let replies = sh.kernel.lock().unwrap().request(msg, RequestKind::Dump)?;
        sh.service_dump_running.store(services, Ordering::SeqCst);
        let r = (|| {
            let mut buf = Vec::new();
            for (i, m) in replies.iter().enumerate() {
                if services && sh.panic_service_dump_after == Some(i) {
                    sh.service_dump_running.store(false, Ordering::SeqCst);
                    panic!("the transport panicked");
                }
                if services && sh.fail_service_dump_after == Some(i) {
                    return Err(io_error("service dump"));
                }
                if services && sh.wait_for_sibling_after == Some(i) {
                    wait_until(|| sh.sibling_dest_dumps.load(Ordering::SeqCst) > 0);
                }
                buf.clear();
                buf.resize(m.buffer_len(), 0);
                m.emit(&mut buf);
                f(m.cmd.into(), &buf)?;
            }
            Ok(())
        })();
        if services {
            sh.service_dump_running.store(false, Ordering::SeqCst);
        }
        r
    }

    fn sibling(&mut self) -> Option<Box<dyn Transport>> {
        self.shared.siblings.fetch_add(1, Ordering::SeqCst);
        Some(Box::new(Test {
            shared: self.shared.clone(),
            sibling: true,
        }))
    }
}

fn service(i: usize) -> Service {
    let ip = Ipv4Addr::from(0x0a00_0000 + i as u32 + 1);
    Service::tcp(SocketAddr::new(IpAddr::V4(ip), 80))
        .scheduler(Scheduler::Wrr)
        .build()
        .unwrap()
}

fn destination(j: usize) -> Destination {
    let ip = Ipv4Addr::from(0xac10_0000 + j as u32 + 1);
    Destination::builder(SocketAddr::new(IpAddr::V4(ip), 8080))
        .masquerade()
        .weight(j as u32 % 10 + 1)
        .build()
        .unwrap()
}

/// A mock holding `services` services, service `i` with `dests(i)` destinations.
fn kernel(services: usize, dests: impl Fn(usize) -> usize) -> MockKernel {
    let mut ipvs = Ipvs::with_transport(MockKernel::new());
    let mut ops = Vec::new();
    for i in 0..services {
        let s = service(i);
        for j in 0..dests(i) {
            ops.push(Op::AddDestination(s.id, destination(j)));
        }
        ops.insert(ops.len() - dests(i), Op::AddService(s));
    }
    ipvs.apply(&ops).unwrap().into_result().unwrap();
    ipvs.into_transport()
}

fn handle(shared: &Arc<Shared>) -> Ipvs<Test> {
    Ipvs::with_transport(Test {
        shared: shared.clone(),
        sibling: false,
    })
}

fn shared(kernel: MockKernel) -> Shared {
    Shared {
        kernel: Mutex::new(kernel),
        ..Shared::default()
    }
}

/// The table read on the mock alone, with no sibling: what the pipelined read must return.
fn plain(kernel: &Mutex<MockKernel>) -> Vec<ServiceEntry> {
    let k = kernel.lock().unwrap().fork();
    Ipvs::with_transport(k).table().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Around the size where the second reader starts (64 services) and well past it, the
    /// pipelined read returns exactly the plain one, in the kernel's order.
    #[test]
    fn the_pipelined_read_returns_the_plain_table(
        services in prop_oneof![0usize..70, 60usize..700],
        dests in proptest::collection::vec(0usize..6, 1..8),
    ) {
        let sh = Arc::new(shared(kernel(services, |i| dests[i % dests.len()])));
        let want = plain(&sh.kernel);
        prop_assert_eq!(want.len(), services);
        let mut ipvs = handle(&sh);
        prop_assert_eq!(ipvs.table().unwrap(), want.clone());
        // Again on the same handle, with the sibling it kept.
        let ids: Vec<_> = ipvs.table_map(|e| (e.service.id, e.destinations.len())).unwrap();
        let want_ids: Vec<_> = want.iter().map(|e| (e.service.id, e.destinations.len())).collect();
        prop_assert_eq!(ids, want_ids);
        prop_assert_eq!(sh.siblings.load(Ordering::SeqCst), 1);
        // Under 64 services, the second reader does not start (at 64 or more it does, but
        // the calling thread may take every chunk before it gets one: see the next test).
        if services < 64 {
            prop_assert_eq!(sh.sibling_dest_dumps.load(Ordering::SeqCst), 0);
        }
    }
}

#[test]
fn destinations_are_read_while_the_service_dump_goes_on() {
    let mut sh = shared(kernel(2000, |_| 2));
    // After the first chunks have been handed to the second reader, the service dump
    // waits for one of its destination dumps: a read that starts the destinations only
    // after the whole service dump would wait 10 s here and count none.
    sh.wait_for_sibling_after = Some(200);
    // And the second reader waits until the caller has run `f` once, so that both must.
    sh.sibling_waits_for_caller = true;
    let sh = Arc::new(sh);
    let want = plain(&sh.kernel);
    let caller = std::thread::current().id();
    let threads = Mutex::new(HashSet::new());
    let got = handle(&sh)
        .table_map(|e| {
            let me = std::thread::current().id();
            if me == caller {
                sh.caller_ran.store(true, Ordering::SeqCst);
            }
            threads.lock().unwrap().insert(me);
            e
        })
        .unwrap();
    assert_eq!(got, want);
    assert!(sh.during_service_dump.load(Ordering::SeqCst) > 0);
    assert_eq!(threads.lock().unwrap().len(), 2, "f runs on both readers");
}

#[test]
fn a_small_table_is_read_on_the_calling_thread_alone() {
    let sh = Arc::new(shared(kernel(63, |_| 1)));
    let threads = Mutex::new(HashSet::new());
    let got = handle(&sh)
        .table_map(|e| {
            threads.lock().unwrap().insert(std::thread::current().id());
            e
        })
        .unwrap();
    assert_eq!(got.len(), 63);
    let threads = threads.into_inner().unwrap();
    assert_eq!(threads.len(), 1);
    assert!(threads.contains(&std::thread::current().id()));
    assert_eq!(sh.sibling_dest_dumps.load(Ordering::SeqCst), 0);
}

#[test]
fn a_failed_sibling_read_is_returned_and_the_sibling_replaced() {
    for n in [1, 5, 100] {
        let mut sh = shared(kernel(500, |_| 3));
        sh.fail_sibling_dest_dump = Some(n);
        let sh = Arc::new(sh);
        let mut ipvs = handle(&sh);
        let e = ipvs.table().unwrap_err();
        assert!(
            e.to_string().contains("sibling destination dump"),
            "dump {n}: {e}"
        );
        // The failed sibling is dropped; the next read opens another and succeeds.
        assert_eq!(ipvs.table().unwrap(), plain(&sh.kernel));
        assert_eq!(sh.siblings.load(Ordering::SeqCst), 2);
    }
}

#[test]
fn a_failed_service_dump_or_main_read_is_returned() {
    for after in [0, 10, 63, 64, 65, 300, 499] {
        let mut sh = shared(kernel(500, |_| 1));
        sh.fail_service_dump_after = Some(after);
        let sh = Arc::new(sh);
        let e = handle(&sh).table().unwrap_err();
        assert!(e.to_string().contains("service dump"), "after {after}: {e}");
    }
    let mut sh = shared(kernel(500, |_| 1));
    sh.fail_main_dest_dumps = true;
    let sh = Arc::new(sh);
    let e = handle(&sh).table().unwrap_err();
    assert!(e.to_string().contains("main destination dump"), "{e}");
    // The sibling did not fail: it is kept.
    let mut ipvs = handle(&sh);
    let _ = ipvs.table();
    let _ = ipvs.table();
    assert_eq!(sh.siblings.load(Ordering::SeqCst), 2);
}

#[test]
fn a_panic_in_f_on_either_reader_reaches_the_caller_and_stops_the_other() {
    for on_caller in [true, false] {
        let mut sh = shared(kernel(1000, |_| 1));
        // Both readers get to run `f` (see above), whichever panics.
        sh.wait_for_sibling_after = Some(200);
        sh.sibling_waits_for_caller = on_caller;
        // The reader that does not panic is slow: reading the rest of the table alone
        // would take it about 18 s, where stopping after its chunk takes under 0.4 s.
        sh.slow_sibling_dest_dumps = on_caller;
        sh.slow_main_dest_dumps = !on_caller;
        let sh = Arc::new(sh);
        let caller = std::thread::current().id();
        let start = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(&sh).table_map(|e| {
                let mine = std::thread::current().id() == caller;
                if mine {
                    sh.caller_ran.store(true, Ordering::SeqCst);
                }
                if mine == on_caller {
                    panic!("f failed");
                }
                e
            })
        }));
        assert!(r.is_err(), "on the caller: {on_caller}");
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "on the caller: {on_caller}: the other reader went on for {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn a_transport_that_panics_mid_dump_does_not_leave_the_second_reader_waiting() {
    let mut sh = shared(kernel(1000, |_| 1));
    sh.wait_for_sibling_after = Some(100);
    sh.panic_service_dump_after = Some(300);
    let sh = Arc::new(sh);
    let (tx, rx) = std::sync::mpsc::channel();
    let sh2 = sh.clone();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(&sh2).table()));
        let _ = tx.send(r.is_err());
    });
    let panicked = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the read hung: the second reader waits for a service dump that ended");
    assert!(panicked);
    assert!(sh.sibling_dest_dumps.load(Ordering::SeqCst) > 0);
}

/// `entries` with every stats value taken out.
fn without_stats(mut entries: Vec<ServiceEntry>) -> Vec<ServiceEntry> {
    for e in &mut entries {
        e.service.stats = None;
        for d in &mut e.destinations {
            d.stats = None;
        }
    }
    entries
}

#[test]
fn reads_without_stats_leave_only_the_stats_out() {
    for services in [3, 300] {
        let sh = Arc::new(shared(kernel(services, |i| i % 4)));
        let full = plain(&sh.kernel);
        assert!(full.iter().all(|e| e.service.stats.is_some()
            && e.destinations
                .iter()
                .all(|d| d.stats.is_some() && d.counters.is_some())));
        let want = without_stats(full.clone());
        // The pipelined read (a handle with a sibling) and the plain one (the mock alone).
        let mut ipvs = handle(&sh);
        ipvs.set_read_stats(false);
        assert_eq!(ipvs.table().unwrap(), want);
        let mut walked = Vec::new();
        ipvs.for_each_entry(|e| {
            walked.push(e);
            Ok(())
        })
        .unwrap();
        assert_eq!(walked, want);
        let svcs = ipvs.services().unwrap();
        assert_eq!(
            svcs,
            want.iter().map(|e| e.service.clone()).collect::<Vec<_>>()
        );
        assert_eq!(
            ipvs.destinations(&want[1].service.id).unwrap(),
            want[1].destinations
        );
        let mut alone = Ipvs::with_transport(sh.kernel.lock().unwrap().fork());
        alone.set_read_stats(false);
        assert_eq!(alone.table().unwrap(), want);
        // And back on.
        ipvs.set_read_stats(true);
        assert_eq!(ipvs.table().unwrap(), full);
    }
}

#[test]
fn a_stats_snapshot_reads_the_stats_and_reconcile_works_without_them() {
    let sh = Arc::new(shared(kernel(100, |_| 2)));
    let full = plain(&sh.kernel);
    let mut ipvs = handle(&sh);
    ipvs.set_read_stats(false);
    let snap = ipvs.stats_snapshot().unwrap();
    assert_eq!(snap.services().len(), 100);
    assert_eq!(snap.destinations().len(), 200);
    // The setting is kept.
    assert!(ipvs
        .table()
        .unwrap()
        .iter()
        .all(|e| e.service.stats.is_none()));
    // An unchanged table plans nothing, with the stats read or not.
    let opts = lvs::client::ReconcileOptions::exact();
    for read_stats in [true, false] {
        ipvs.set_read_stats(read_stats);
        assert!(ipvs.reconcile(&full, &opts).unwrap().ops.is_empty());
        assert_eq!(
            ipvs.table()
                .unwrap()
                .iter()
                .all(|e| e.service.stats.is_some()),
            read_stats
        );
    }
}
