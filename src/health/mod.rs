//! Health checking for real servers, as a library: probes, a state machine and a scheduler
//! that keep each destination's weight where its health says.
//!
//! Three layers, each usable on its own:
//!
//! - [`Probe`]: how one destination is checked, within a total deadline (connect, write and
//!   read together). Built in: [`TcpProbe`] (the handshake completes), [`HttpProbe`] (`GET`
//!   with an expected status and an optional body string), [`DnsProbe`] (a query over UDP
//!   is answered), [`CommandProbe`] (a command exits 0). A closure
//!   `Fn(SocketAddr, Instant) -> ProbeResult` is a probe too. A check that cannot be made
//!   for a reason of this host (no file descriptor left, say) is a [`ProbeError::Local`]
//!   and counts neither way. No HTTPS probe is built in: write one on your TLS crate of
//!   choice as a closure or a [`Probe`].
//! - [`Checker`]: the state machine, without I/O and without a clock. Rise and fall, what a
//!   failure does ([`OnFailure`]: quiesce, remove, quiesce then remove), slow start, a sorry
//!   server; it keeps the weight it wants for each destination (*desired*) beside what the
//!   kernel holds (*actual*) and plans the writes between them; a weight someone else
//!   wrote is adopted as the configured weight, and a refused write is planned again.
//! - [`HealthChecker`]: the checker at work over an [`Ipvs`](crate::Ipvs) handle. Checks run
//!   on a bounded pool of threads ([`RunnerOptions::workers`]), each destination at a phase
//!   of its own within its interval; transitions are written at once (one request each),
//!   and every sync interval the table is read and every difference written again.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use lvs::health::{HealthChecker, ProbeError, RunnerOptions, ServiceCheck};
//! use lvs::transport::MockKernel;
//! use lvs::{Destination, Ipvs, Service};
//! use std::time::{Duration, Instant};
//!
//! let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
//! ipvs.add_service(&svc)?;
//! let rs = Destination::builder("10.0.0.2:80".parse()?).masquerade().weight(5).build()?;
//! ipvs.add_destination(&svc.id, &rs)?;
//!
//! // A probe that always fails, run inline (no thread), with made-up times.
//! let down = |_, _| Err(ProbeError::failed("connection refused"));
//! let check = ServiceCheck::new(svc.id, down).interval(Duration::from_secs(1)).fall(2);
//! let mut hc = HealthChecker::new(ipvs, RunnerOptions::default().workers(0))?;
//! hc.add_service(check)?;
//! let t0 = Instant::now();
//! for s in 0..3 {
//!     hc.step(t0 + Duration::from_secs(s));
//! }
//! assert_eq!(hc.ipvs().destination(&svc.id, rs.socket_addr())?.weight, 0); // quiesced
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checker;
mod config;
mod probe;
mod runner;

pub use checker::{
    Checker, DestinationStatus, Event, OnFailure, Policy, ServiceCheck, MAX_DURATION,
};
pub use config::{seconds, FailureAction, HealthConfig, ProbeSpec, ServiceConfig, MAX_WORKERS};
pub use probe::{
    CommandProbe, DnsProbe, HttpProbe, Probe, ProbeError, ProbeResult, TcpProbe, HTTP_MAX_ANSWER,
};
pub use runner::{HealthChecker, RunnerOptions};
