//! Netlink plumbing shared by the IPVS transports (blocking and async) and the host helpers,
//! one concern per module:
//!
//! - [`netns`]: entering a network namespace without moving the calling thread;
//! - [`socket`]: the blocking socket (open, buffer sizes, sequence numbers, send, receive);
//! - [`frames`]: walking and parsing the frames of reply datagrams (sans-IO);
//! - [`batch`]: which requests of a batch ask for an acknowledgement, and the answers counted
//!   back (sans-IO);
//! - [`recovery`]: one request's reply read to its end, and what a socket still owes after
//!   a request was given up on (sans-IO, the same for both transports);
//! - `fake` (tests only): a fake kernel at the far end of a socket pair, to drive the
//!   transports through late, stale and undecodable answers.

mod batch;
#[cfg(test)]
pub(crate) mod fake;
mod frames;
mod netns;
mod recovery;
mod socket;

pub(crate) use batch::{ack_last, Acks, BatchAcks};
#[cfg(feature = "tokio")]
pub(crate) use frames::decode_reply;
pub(crate) use frames::{dump_frame, Answer};
#[cfg(any(feature = "host", feature = "tokio"))]
pub(crate) use netns::in_netns;
#[cfg(feature = "tokio")]
pub(crate) use recovery::{Pending, Recovery, Reply, DRAIN_LIMIT};
#[cfg(feature = "tokio")]
pub(crate) use socket::RECV_BUF;
pub(crate) use socket::{goodsize, NlSocket, SLOTS};
