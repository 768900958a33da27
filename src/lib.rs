//! `lvs`: program Linux IPVS, the kernel's layer-4 load balancer, from Rust.
//!
//! The crate is layered (data flows down on writes and up on reads); every module uses only
//! modules below it, and no two sibling files use each other:
//!
//! 1. [`error`]: the [`Error`] cases, kernel refusals named ([`Operation`],
//!    [`KernelContext`], [`InvalidError`]).
//! 2. [`model`]: plain values ([`Service`], [`Destination`], [`Scheduler`], ...), validated
//!    by builders that read like ipvsadm lines, and [`Op`], the one write vocabulary of
//!    batches, transactions, reconcile plans and ipvsadm commands.
//! 3. [`wire`]: the `IPVS` generic netlink family, encoded and decoded; conversions between
//!    the model and attributes, one place per object (`IpvsMessage::from(&Op)` for writes).
//! 4. `netlink` (private): entering a network namespace, the socket, frame walking, batch
//!    acknowledgements, and the recovery both transports share after a timeout or an
//!    undecodable frame.
//! 5. [`transport`]: one trait, [`transport::Transport`], that carries requests to a kernel
//!    and brings back replies; [`transport::KernelTransport`] is the real netlink socket, the
//!    mock (feature `mock`) an in-memory kernel.
//! 6. [`client`]: [`Ipvs`], the handle users call (services, destinations, the whole table,
//!    flush, zero, timeouts, info, sync daemons, batches, transactions, reconcile, stats
//!    snapshots), with kernel refusals named as [`Error`] cases; with feature `tokio`,
//!    `AsyncIpvs`, the same handle for async code.
//! 7. Around the client: [`host`] (preparing directors and real servers), [`text`]
//!    (ipvsadm's command line, rule format and listings), [`conn`] (the connection table),
//!    [`health`] (probes, the health state machine and the checker that keeps weights where
//!    health says), [`metrics`] (a table's Prometheus metrics, node_exporter's names and
//!    more); then `strategies` (feature `proptest`) and the [`guide`].
//!
//! The [`guide`] walks from adding a service to reconciling a whole table. Features: `host`
//! (on by default: `lvs::host`, host preparation), `mock` (the in-memory kernel, for tests),
//! `serde` (the model in configuration files), `tokio` (the async handle), `proptest`
//! (strategies for the model).
//!
//! ```
//! use lvs::{Destination, Scheduler, Service};
//! // ipvsadm -A -t 192.168.2.1:80 -s rr
//! let svc = Service::tcp("192.168.2.1:80".parse()?).scheduler(Scheduler::Rr).build()?;
//! // ipvsadm -a -t 192.168.2.1:80 -r 192.168.2.2:80 -m
//! let rs = Destination::builder("192.168.2.2:80".parse()?).masquerade().build_for(&svc.id)?;
//! assert_eq!(rs.to_string(), "192.168.2.2:80 masq weight 1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod conn;
pub mod error;
pub mod guide;
pub mod health;
#[cfg(feature = "host")]
#[cfg_attr(docsrs, doc(cfg(feature = "host")))]
pub mod host;
pub mod metrics;
pub mod model;
mod netlink;
pub mod text;
pub mod transport;
pub mod wire;

#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategies;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use client::AsyncIpvs;
pub use client::{Ipvs, ServiceEntry};
pub use error::{
    DecodeError, Error, HostError, InvalidError, KernelContext, MissingModule, Operation, Result,
};
pub use model::*;
