//! proptest strategies for the model, for users' property tests (feature `proptest`).
//!
//! Desired tables ([`table`], [`service_entry`], [`accepted_service`],
//! [`accepted_destination`]) yield services and destinations that the default
//! [`MockKernel`](crate::transport::MockKernel) (and a mainline kernel from 6.7 on) takes as
//! they are, applied services first: real schedulers and engines, consistent address
//! families, unicast real servers, distinct identities, tunnels where needed. They shrink
//! to the cause of a failure. [`hostile_table`] yields tables with defects that are
//! refused (made-up module names, mixed families without a tunnel, multicast real
//! servers, duplicates), to test how refusals are handled.
//!
//! Value strategies ([`service`], [`destination_for`], [`daemon`], ...) yield values that
//! pass the model's validation, and so can be encoded and sent, but not all of which a
//! kernel takes: they range wider, for codec and decoding tests (made-up scheduler and
//! engine names, any address for a real server, mixed-family tunnels, unusual flags); each
//! says what it yields.
//!
//! Action sequences ([`actions`], [`action`], [`Action`]) are what a control plane does to a table,
//! valid or not: adds, edits and deletes that meet (on a few services per sequence, at
//! addresses from a small pool, some of which the kernel refuses for a real server), reads,
//! flush, zero, timeouts, sync daemons, and raw requests with one thing broken
//! ([`raw_request`]: a missing attribute, an unknown family, any weight, threshold,
//! forwarding code, netmask or name, an attribute twice, an unknown command...). Apply one
//! with [`Action::apply`]; this is what the differential suite runs on the mock and the kernel.
//!
//! ```
//! # #[cfg(feature = "mock")] {
//! use lvs::strategies::actions;
//! use lvs::transport::MockKernel;
//! use lvs::Ipvs;
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let seq = actions(20).new_tree(&mut runner).unwrap().current();
//! let mut ipvs = Ipvs::with_transport(MockKernel::new());
//! for action in &seq {
//!     let _ = action.apply(&mut ipvs); // a reply or a typed error, as from the kernel
//! }
//! assert_eq!(ipvs.transport().services(), ipvs.table().unwrap());
//! # }
//! ```

//!
//! The value strategies are in `values`, the desired tables in `tables`, the action
//! sequences in `actions`; all are re-exported here.

mod actions;
mod tables;
mod values;

pub use actions::*;
pub use tables::*;
pub use values::*;
