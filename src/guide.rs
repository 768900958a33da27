//! A guided tour: from adding one service to reconciling a whole table.
//!
//! Every example here runs against [`MockKernel`](crate::transport::MockKernel) (feature
//! `mock`), the in-memory kernel that answers like the real one; on a director, replace
//! `Ipvs::with_transport(MockKernel::new())` with [`Ipvs::new()`](crate::Ipvs::new) (needs
//! `CAP_NET_ADMIN`) or [`Ipvs::in_netns`](crate::Ipvs::in_netns).
//!
//! # 1. Add a service and its real servers
//!
//! Values are built with builders that read like ipvsadm lines and refuse what ipvsadm or
//! the kernel would refuse, before anything is sent.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use lvs::transport::MockKernel;
//! use lvs::{Destination, Ipvs, Scheduler, Service};
//!
//! let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! // ipvsadm -A -t 192.168.2.1:80 -s wrr
//! let svc = Service::tcp("192.168.2.1:80".parse()?).scheduler(Scheduler::Wrr).build()?;
//! ipvs.add_service(&svc)?;
//! // ipvsadm -a -t 192.168.2.1:80 -r 192.168.2.2:80 -m -w 3
//! let rs = Destination::builder("192.168.2.2:80".parse()?).masquerade().weight(3).build()?;
//! ipvs.add_destination(&svc.id, &rs)?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 2. Read it back, and handle refusals by name
//!
//! Kernel refusals come back as named [`Error`](crate::Error) cases carrying the errno, the
//! operation and the object: no errno comparisons in user code.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! # use lvs::transport::MockKernel;
//! # use lvs::{Destination, Ipvs, Service};
//! # let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! # let svc = Service::tcp("192.168.2.1:80".parse()?).build()?;
//! # ipvs.add_service(&svc)?;
//! match ipvs.add_service(&svc) {
//!     Err(lvs::Error::ServiceExists(ctx)) => assert_eq!(ctx.object, "tcp:192.168.2.1:80"),
//!     other => panic!("{other:?}"),
//! }
//! for entry in ipvs.table()? {
//!     println!("{} with {} real servers", entry.service, entry.destinations.len());
//! }
//! let svc = ipvs.get_service(&"tcp:192.168.2.1:80".parse()?)?;
//! assert!(svc.stats.is_some()); // read-back values carry their counters
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 3. Change weights; quiesce a real server
//!
//! Weight 0 stops new connections to a real server while its established ones go on (what
//! `examples/health_check.rs` does to a failing server).
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! # use lvs::transport::MockKernel;
//! # use lvs::{Destination, Ipvs, Service};
//! # let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! # let svc = Service::tcp("192.168.2.1:80".parse()?).build()?;
//! # ipvs.add_service(&svc)?;
//! # let rs = Destination::builder("192.168.2.2:80".parse()?).masquerade().weight(3).build()?;
//! # ipvs.add_destination(&svc.id, &rs)?;
//! let mut quiet = rs.clone();
//! quiet.weight = 0;
//! ipvs.update_destination(&svc.id, &quiet)?;
//! assert_eq!(ipvs.destinations(&svc.id)?[0].weight, 0);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 4. Batches: many changes at once, or all or nothing
//!
//! [`Ipvs::apply`](crate::Ipvs::apply) sends many [`Op`](crate::client::Op)s pipelined and
//! reports each one's result; [`Ipvs::apply_or_roll_back`](crate::Ipvs::apply_or_roll_back)
//! puts back what it changed if any is refused. It is one
//! [`Transaction`](crate::client::Transaction): for a change made of several batches (a
//! restore read a chunk at a time), open one with [`Ipvs::transaction`](crate::Ipvs::transaction),
//! `apply` each batch, then `commit` or `roll_back`, whose report names what could not be
//! restored.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use lvs::client::Op;
//! # use lvs::transport::MockKernel;
//! # use lvs::{Destination, Ipvs, Service};
//! # let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! let svc = Service::tcp("10.0.0.1:443".parse()?).build()?;
//! let a = Destination::builder("10.0.0.2:443".parse()?).masquerade().build()?;
//! let ops = vec![
//!     Op::AddService(svc.clone()),
//!     Op::AddDestination(svc.id, a.clone()),
//!     Op::AddDestination(svc.id, a), // refused: it exists
//! ];
//! assert!(matches!(ipvs.apply_or_roll_back(&ops), Err(lvs::Error::Batch { index: 2, .. })));
//! assert!(ipvs.services()?.is_empty()); // rolled back
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 5. Reconcile: declare the table, let the library plan the writes
//!
//! A control plane keeps the desired table and calls
//! [`Ipvs::reconcile`](crate::Ipvs::reconcile): one dump, then the fewest writes, in a safe
//! order. [`plan`](crate::client::plan) alone shows the writes without making them.
//!
//! A refused write does not make `reconcile` fail: the others are applied, and the report
//! ([`ReconcileReport`](crate::client::ReconcileReport), `#[must_use]`) holds each result.
//! Check it, log it (its `Display` is one line), or let
//! [`reconcile_strict`](crate::Ipvs::reconcile_strict) (or
//! [`ReconcileReport::into_result`](crate::client::ReconcileReport::into_result)) turn any
//! refusal into [`Error::Refused`](crate::Error::Refused), which names every refused write
//! and its object.
//!
//! `reconcile` reads the whole table on every call. A long-running control plane that
//! changes a few weights at a time keeps a [`Reconciler`](crate::client::Reconciler)
//! instead: it holds the table it last applied, turns a change into the writes that differ
//! without a dump (one weight: one request), and reads the table again only on a resync
//! interval or after a refusal, reporting what others changed (the drift) and repairing
//! it.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use std::time::{Duration, Instant};
//! use lvs::client::{ReconcileOptions, Reconciler};
//! # use lvs::transport::MockKernel;
//! use lvs::{Destination, Ipvs, Service};
//! # let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! let mut rec = Reconciler::from_kernel(&mut ipvs, ReconcileOptions::exact())?
//!     .with_resync_interval(Some(Duration::from_secs(300)));
//! let svc = Service::tcp("192.168.2.1:80".parse()?).build()?;
//! rec.upsert_service(&svc)?;
//! rec.upsert_destination(&svc.id, &Destination::builder("192.168.2.2:80".parse()?).masquerade().build()?)?;
//! rec.apply(&mut ipvs, Instant::now())?.into_result()?; // two writes, no dump
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The configuration format (feature `serde`)
//!
//! With feature `serde`, a table (`Vec<ServiceEntry>`) reads from and writes to JSON (or any
//! serde format) in ipvsadm's words. A service is `{"service": {...}, "destinations":
//! [...]}`; the fields, each optional but `id` and `addr`:
//!
//! | field | ipvsadm | values | default |
//! |---|---|---|---|
//! | `id` | `-t`/`-u`/`--sctp-service`/`-f` | `tcp:10.0.0.1:80`, `udp:[fd00::1]:53`, `sctp:...`, `fwmark:7`, `fwmark6:7` | |
//! | `scheduler` | `-s` | `rr`, `wrr`, `wlc`, `sh`, `mh`, ... | `wlc` |
//! | `sched_flags` | `-b` | `"sh-fallback,sh-port"`, `mh-*`, `flag-1`..`flag-3` (or a list) | none |
//! | `persistence` | `-p`, `-M` | `{"timeout": 600, "netmask": "255.255.255.0"}`, a timeout, `true` | none; timeout 360, full netmask |
//! | `netmask` | `-M` | beside `persistence`, as in it: `"255.255.255.0"`, `"10.0.0.0/24"`, `"/24"`, `24`; IPv6 `"64"`, `"fd00::/64"` | full length |
//! | `pe` | `--pe` | `sip` | none |
//! | `one_packet` | `-o` | `true` (UDP and fwmark services) | `false` |
//! | `other_flags` | | service flag bits unknown to this crate (above `0x3f`), as a number | 0 |
//! | `addr` | `-r` | `"10.0.0.2:80"`, `"[fd00::2]:80"`; bare `"10.0.0.2"` takes the service's port (0 under a fwmark) | |
//! | `forward` | `-m`/`-g`/`-i` | `masq`, `route`, `tunnel` (every ipvsadm spelling: `masquerading`, `gatewaying`, `ipip`, `dr`, `nat`, ...), `local`, `bypass`, or `{"tunnel": {"type": "gue", "port": 6080, "flags": "csum"}}` (`type` `ipip`/`gue`/`gre`, `flags` `csum`/`remcsum`/`nocsum`) | `route` |
//! | `weight` | `-w` | 0..=65535 | 1 |
//! | `upper_threshold`, `lower_threshold` | `-x`, `-y` | connections | 0 (none) |
//!
//! Reading refuses an unknown field (a misspelt `"wieght"` is an error, not weight 1) and
//! anything the builders refuse, naming the object: `service tcp:10.0.0.1:80: destination
//! 10.0.0.2:80: weight 70000 is out of range 0..=65535`; [`validate_table`](crate::validate_table)
//! also catches a service given twice. Writing gives the configuration only, in the form
//! above: no stats, counters or kernel-set flags, so that a table read back from the kernel
//! and saved reconciles with no write. A complete file, reconciled on the mock:
//!
//! ```
//! # #[cfg(all(feature = "mock", feature = "serde"))] {
//! use lvs::client::ReconcileOptions;
//! # use lvs::transport::MockKernel;
//! # use lvs::Ipvs;
//! use lvs::ServiceEntry;
//! # let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! let config = r#"[
//!   {
//!     "service": { "id": "tcp:192.168.2.1:80", "scheduler": "wrr" },
//!     "destinations": [
//!       { "addr": "192.168.2.2:80", "forward": "masq", "weight": 3 },
//!       { "addr": "192.168.2.3:8080", "forward": "masq", "upper_threshold": 1000, "lower_threshold": 800 },
//!       { "addr": "192.168.2.4", "forward": "masq", "weight": 0 }
//!     ]
//!   },
//!   {
//!     "service": {
//!       "id": "udp:192.168.2.1:5060", "scheduler": "rr",
//!       "persistence": { "timeout": 600, "netmask": "192.168.0.0/16" }, "pe": "sip"
//!     },
//!     "destinations": [ { "addr": "10.0.0.2:5060" }, { "addr": "10.0.0.3:5060", "forward": "tunnel" } ]
//!   },
//!   {
//!     "service": { "id": "fwmark:7", "scheduler": "sh", "sched_flags": "sh-fallback,sh-port" },
//!     "destinations": [
//!       { "addr": "10.0.0.9", "forward": "route" },
//!       { "addr": "10.0.0.10", "forward": { "tunnel": { "type": "gre" } } }
//!     ]
//!   },
//!   {
//!     "service": { "id": "udp:[fd00::1]:53", "scheduler": "mh", "sched_flags": "mh-port", "one_packet": true },
//!     "destinations": [
//!       { "addr": "[fd00::10]:53" },
//!       { "addr": "[fd00::11]:53", "forward": { "tunnel": { "type": "gue", "port": 6080, "flags": "csum" } } },
//!       { "addr": "10.0.0.11:53", "forward": "ipip" }
//!     ]
//!   },
//!   {
//!     "service": { "id": "fwmark6:8", "persistence": { "netmask": "64" } },
//!     "destinations": [ { "addr": "fd00::20", "weight": 5 } ]
//!   }
//! ]"#;
//! let desired: Vec<ServiceEntry> = serde_json::from_str(config)?;
//! lvs::validate_table(&desired)?;
//! let report = ipvs.reconcile(&desired, &ReconcileOptions::exact())?.into_result()?;
//! assert_eq!(report.ops.len(), 5 + 11); // five services, eleven destinations
//! assert_eq!(report.to_string(), "16 writes: 16 applied, 0 refused");
//! // Nothing changed, nothing to write.
//! assert!(ipvs.reconcile_strict(&desired, &ReconcileOptions::exact())?.is_empty());
//! // Saved from the kernel, the table reads back as the same configuration.
//! let saved = serde_json::to_string_pretty(&ipvs.table()?)?;
//! assert!(!saved.contains("stats"));
//! let restored: Vec<ServiceEntry> = serde_json::from_str(&saved)?;
//! assert!(ipvs.reconcile(&restored, &ReconcileOptions::exact())?.ops.is_empty());
//! // Mistakes are errors, not defaults.
//! let typo = r#"[{"service": {"id": "tcp:10.0.0.1:80", "schedular": "rr"}}]"#;
//! assert!(serde_json::from_str::<Vec<ServiceEntry>>(typo).is_err());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/config/table.json` is another file, in the form serializing writes.
//!
//! ## Draining what leaves
//!
//! [`reconcile`](crate::Ipvs::reconcile) deletes at once what the configuration no longer
//! has, cutting the connections it carries.
//! [`reconcile_draining`](crate::Ipvs::reconcile_draining) hands it to a
//! [`Drainer`](crate::client::Drainer) instead ([`lvs::client::drain`](crate::client::drain)):
//! weight 0 first (no new connections), deleted once idle or at the
//! [`DrainPolicy`](crate::client::DrainPolicy)'s deadline; call it again every few seconds
//! to move the drains on. UDP and SCTP services are deleted at once by default, TCP ones
//! wait (for the active connections; no deadline unless one is set). Outside a reconcile,
//! [`Ipvs::drain`](crate::Ipvs::drain) drains one real server or service to the end, and
//! [`Ipvs::drain_step`](crate::Ipvs::drain_step) moves a drainer's drains one step.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use std::time::Duration;
//! use lvs::client::{DrainPolicy, DrainState, Drainer, ReconcileOptions};
//! use lvs::transport::MockKernel;
//! use lvs::{Destination, Ipvs, Service, ServiceEntry};
//!
//! let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! let svc = Service::tcp("192.168.2.1:80".parse()?).build()?;
//! let rs = Destination::builder("192.168.2.2:80".parse()?).masquerade().build()?;
//! ipvs.reconcile_strict(&[ServiceEntry { service: svc.clone(), destinations: vec![rs] }],
//!     &ReconcileOptions::exact())?;
//! let mut drainer = Drainer::new(DrainPolicy::default().deadline(Duration::from_secs(300)));
//! let empty = [ServiceEntry { service: svc.clone(), destinations: vec![] }];
//! ipvs.reconcile_draining(&empty, &ReconcileOptions::exact(), &mut drainer)?; // weight 0
//! assert_eq!(drainer.progress()[0].state, DrainState::Quiescing);
//! ipvs.reconcile_draining(&empty, &ReconcileOptions::exact(), &mut drainer)?; // idle: deleted
//! assert!(drainer.is_finished() && ipvs.destinations(&svc.id)?.is_empty());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # 6. Watch the traffic
//!
//! [`Ipvs::stats_snapshot`](crate::Ipvs::stats_snapshot) reads every counter at once; two
//! snapshots give the rates in between, in the units of `ipvsadm -L --rate`
//! ([`StatsSnapshot::rates_since`](crate::client::StatsSnapshot::rates_since)).
//!
//! # 7. In a tokio control plane
//!
//! With feature `tokio`, [`AsyncIpvs`](crate::client::AsyncIpvs) has every method above as
//! an `async fn` (same checks, same errors), over a netlink socket registered with tokio; it
//! also takes the mock, so the same tests run against both handles.
//!
//! # 8. Which errno, in which order: the kernel's refusals
//!
//! The kernel checks a request in a fixed order and answers the first problem it finds; the
//! client names most errnos as [`Error`](crate::Error) variants, and
//! [`MockKernel`](crate::transport::MockKernel) answers the same, in the same order. Every
//! rule holds on every kernel the crate is tested on (5.10, 6.1, 6.12, 7.x) unless a range
//! is given; [`Capabilities`](crate::Capabilities) has each range-dependent one.
//!
//! Every service or destination request, in this order:
//!
//! 1. EINVAL: a missing nest, or a missing mandatory attribute (the identity first, then
//!    the full entry), before the service lookup (`SET_SERVICE` on a missing service
//!    without its full entry is EINVAL, not ESRCH); or a string longer than the netlink
//!    policy allows (scheduler 15 bytes, engine 16, interface 15).
//! 2. EAFNOSUPPORT: a service family other than IPv4 and IPv6, or IPv6 on a kernel
//!    without it.
//! 3. ESRCH: a missing service, for every command that names one (`GET_SERVICE` and
//!    `ZERO` too), before the destination is even parsed.
//! 4. Destinations: EINVAL for a missing attribute, EAFNOSUPPORT for a family of their
//!    own other than IPv4 and IPv6; then EINVAL for one of the other family than its
//!    service's while a sync daemon runs, or without tunnel forwarding.
//!
//! Then adding or editing a service:
//!
//! 1. EEXIST: the service exists already (add).
//! 2. ENOENT: a scheduler that is not available (`none` is no scheduler and always taken;
//!    `twos` exists from 6.7), then a persistence engine that is not.
//! 3. EINVAL: an IPv6 persistence netmask outside 1..=128.
//!
//! Or adding or editing a destination:
//!
//! 1. ERANGE: a negative weight (read as an int), or a lower threshold above the upper
//!    one, even when the upper one is 0 (the thresholds compare unsigned).
//! 2. EINVAL: an upper threshold above `i32::MAX`, from 6.1.183 in the 6.1 series and from
//!    7.0 (`Capabilities::max_upper_threshold`; stored as unsigned on 5.10, on 6.1 before
//!    6.1.183 and on 6.12).
//! 3. EINVAL: a GUE tunnel type without a port.
//! 4. EEXIST: the destination exists already (add); ENOENT: it does not (edit, delete).
//! 5. EINVAL (add): a real server address the kernel cannot use. IPv4: 0.0.0.0,
//!    255.255.255.255, multicast, `lo`'s broadcast 127.255.255.255, `lo`'s network
//!    address 127.0.0.0 before 6.0 (`Capabilities::network_broadcast_routes`), and any
//!    address while `lo` is down in a new namespace. IPv6: multicast, `::`, link-local,
//!    v4-mapped.
//!
//! Sync daemons:
//!
//! - EINVAL: a missing attribute, a group that is not multicast, a state that is neither
//!   master nor backup (stopping too), or a start while a destination of the other family
//!   exists.
//! - ENODEV: an unknown interface.
//! - EEXIST: a daemon of that state runs already; ESRCH: stopping one that does not.
//! - ENETUNREACH: a master with an IPv6 group on `lo` (the loopback has no IPv6 multicast
//!   route, so the sync socket cannot connect).
//!
//! Timeouts: EINVAL when one value is above `INT_MAX / HZ` seconds (8589934 with HZ 250);
//! the whole request is refused.
//!
//! Any request: EOPNOTSUPP for a command the family does not have, or a request kind it
//! does not take (`GET_DEST` is dump-only; `GET_INFO`, `GET_CONFIG` and the writes are
//! do-only). Not a refusal: `GET_DEST` on a missing service is an empty dump.
//!
//! # 9. Write your own health checker
//!
//! [`lvs::health`](crate::health) has the parts every checker needs, each usable alone.
//!
//! A probe is anything that implements [`Probe`](crate::health::Probe), a closure
//! included; it gets the target and a deadline, and must answer by then. The built-in ones
//! ([`TcpProbe`](crate::health::TcpProbe), [`HttpProbe`](crate::health::HttpProbe),
//! [`DnsProbe`](crate::health::DnsProbe), [`CommandProbe`](crate::health::CommandProbe))
//! hold the deadline for the whole check, so a server that trickles its answer fails on
//! time. A probe that cannot run for a reason of this host returns
//! [`ProbeError::Local`](crate::health::ProbeError::Local), which counts neither way (a
//! full file table does not take healthy servers down).
//!
//! [`Checker`](crate::health::Checker) is the state machine, without I/O or clock: rise
//! and fall, [`OnFailure`](crate::health::OnFailure) (quiesce, remove, quiesce then remove),
//! slow start, a sorry server, and the weight it wants for each destination beside the one
//! the kernel holds. [`HealthChecker`](crate::health::HealthChecker) runs it: a bounded pool
//! of probe threads, each destination at its own phase within the interval, transitions
//! written at once, and a sync every interval that retries refused writes, adopts weights
//! an administrator set and picks up re-created services.
//!
//! Test your policy without a kernel or a clock: the mock, inline probes (`workers(0)`)
//! whose results you set, and made-up instants.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use lvs::health::{HealthChecker, OnFailure, ProbeError, RunnerOptions, ServiceCheck};
//! use lvs::transport::MockKernel;
//! use lvs::{Destination, Ipvs, Service};
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//!
//! let kernel = MockKernel::new();
//! let mut ipvs = Ipvs::with_transport(kernel.clone());
//! let svc = Service::tcp("192.168.2.1:80".parse()?).build()?;
//! ipvs.add_service(&svc)?;
//! let rs = Destination::builder("192.168.2.2:80".parse()?).masquerade().weight(4).build()?;
//! ipvs.add_destination(&svc.id, &rs)?;
//!
//! let healthy = Arc::new(AtomicBool::new(true));
//! let h = healthy.clone();
//! let probe = move |_, _| {
//!     if h.load(Ordering::Relaxed) { Ok(()) } else { Err(ProbeError::failed("refused")) }
//! };
//! let check = ServiceCheck::new(svc.id, probe)
//!     .interval(Duration::from_secs(1))
//!     .fall(2)
//!     .rise(2)
//!     .on_failure(OnFailure::Remove);
//! let mut hc = HealthChecker::new(ipvs, RunnerOptions::default().workers(0))?;
//! hc.add_service(check)?;
//! let t0 = Instant::now();
//! let at = |s: u64| t0 + Duration::from_secs(s);
//! hc.step(at(0));
//! healthy.store(false, Ordering::Relaxed);
//! hc.step(at(1));
//! hc.step(at(2));
//! assert!(kernel.service(&svc.id).unwrap().destinations.is_empty()); // removed
//! healthy.store(true, Ordering::Relaxed);
//! hc.step(at(3));
//! hc.step(at(4));
//! assert_eq!(kernel.service(&svc.id).unwrap().destinations[0].weight, 4); // back
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In production, [`HealthChecker::run`](crate::health::HealthChecker::run) loops until a
//! flag is set, or drive [`step`](crate::health::HealthChecker::step) and
//! [`wait`](crate::health::HealthChecker::wait) yourself (`examples/health_check.rs` does,
//! to stop on SIGTERM). [`HealthConfig`](crate::health::HealthConfig) reads the whole
//! configuration from a file (feature `serde`).
