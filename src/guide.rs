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
//! puts the table back if any is refused.
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
//! A control plane keeps the desired table (from a configuration file, say: with feature
//! `serde` every model type (de)serializes, [`ServiceId`](crate::ServiceId) as its text form
//! `tcp:10.0.0.1:80`; `examples/config/table.json` is a complete file) and calls
//! [`Ipvs::reconcile`](crate::Ipvs::reconcile): one dump, then the fewest writes, in a safe
//! order. [`plan`](crate::client::plan) alone shows the writes without making them.
//!
//! ```
//! # #[cfg(all(feature = "mock", feature = "serde"))] {
//! use lvs::client::ReconcileOptions;
//! # use lvs::transport::MockKernel;
//! # use lvs::Ipvs;
//! use lvs::ServiceEntry;
//! # let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! let config = r#"[{
//!     "service": { "id": "tcp:192.168.2.1:80", "scheduler": "rr" },
//!     "destinations": [
//!         { "addr": "192.168.2.2", "port": 80, "forward": "masq" },
//!         { "addr": "192.168.2.3", "port": 80, "forward": "masq" }
//!     ]
//! }]"#;
//! let desired: Vec<ServiceEntry> = serde_json::from_str(config)?;
//! let report = ipvs.reconcile(&desired, &ReconcileOptions::exact())?;
//! assert_eq!(report.ops.len(), 3); // one service, two destinations
//! assert!(report.outcome.is_ok());
//! // Nothing changed, nothing to write.
//! assert!(ipvs.reconcile(&desired, &ReconcileOptions::exact())?.ops.is_empty());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With [`ReconcileOptions::quiesce`](crate::client::ReconcileOptions::quiesce), real servers
//! that leave the configuration are first set to weight 0 and deleted by a later reconcile,
//! once their connections are gone.
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
