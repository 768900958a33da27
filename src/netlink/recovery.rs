//! Recovery (sans-IO), the same for the blocking and the async transports: reading one
//! request's reply to its end even when a frame of it cannot be used, and what a socket
//! still owes after a request was given up on (a receive timeout, `ENOBUFS`, a truncated or
//! malformed datagram).
//!
//! - [`Reply`] walks the datagrams of one request: frames of other requests are stale and
//!   skipped; after a frame its handler refuses (an undecodable reply), the rest of the reply
//!   is still read, to its acknowledgement or `NLMSG_DONE`, and the handler's error is
//!   returned then. A dump left unread would make the kernel refuse the socket's next dump
//!   (`EBUSY`), and its datagrams would wait in the receive queue.
//! - [`Recovery`] keeps the requests given up on before their last answer: the socket is
//!   drained (every datagram already queued is read without waiting, and dropped) at once
//!   and again before each later request while one of them may still be answered. After
//!   `ENOBUFS` the kernel drops everything sent to the socket until its receive queue has
//!   been emptied, so without the drain the next request's answer would be lost and an
//!   applied write reported as a timeout. An abandoned request is over when its last answer
//!   is read (its acknowledgement or refusal, or a dump's `NLMSG_DONE`), or when an answer
//!   to a later request is: the kernel answers a socket's requests in order.

use std::io;

use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};

use super::frames::{frame_code, frame_kind, frames, kernel_error, Answer};
use crate::error::{Error, Operation, Result};

/// The most datagrams one drain discards before giving up (a dump the kernel is still
/// producing goes on while it is drained: each read makes room for its next datagram).
pub(crate) const DRAIN_LIMIT: usize = 1 << 20;

/// The reply of one request, read datagram by datagram.
#[derive(Debug)]
pub(crate) struct Reply {
    seq: u32,
    port: u32,
    answer: Answer,
    op: Operation,
    /// The reply's last frame has been read.
    complete: bool,
    /// The first error of the frame handler: the frames after it are skipped.
    failed: Option<Error>,
}

impl Reply {
    /// The reply to request `seq` on the socket with port id `port`.
    pub(crate) fn new(seq: u32, port: u32, answer: Answer, op: Operation) -> Reply {
        Reply {
            seq,
            port,
            answer,
            op,
            complete: false,
            failed: None,
        }
    }

    /// Walk one datagram: the reply's data frames go to `f` (until it fails once); returns
    /// whether the reply is complete (its acknowledgement, or `NLMSG_DONE`). A refusal is a
    /// kernel error, and the reply is complete; a malformed frame or an overrun is a protocol
    /// error, and the reply is not (what is left of it may still come).
    pub(crate) fn datagram(
        &mut self,
        dg: &[u8],
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        let op = self.op;
        for frame in frames(dg, op) {
            let (id, frame) = frame?;
            if id.seq != self.seq || id.port != self.port {
                continue; // a stale reply of an earlier request
            }
            match frame_kind(frame) {
                NLMSG_NOOP => {}
                NLMSG_ERROR => match frame_code(frame, op)? {
                    0 if self.answer == Answer::Ack => return Ok(self.end()),
                    0 => {}
                    c => {
                        self.end();
                        return Err(kernel_error(-c, op));
                    }
                },
                NLMSG_DONE => {
                    // A DONE without a code is a plain end of dump.
                    let c = if frame.len() >= 20 {
                        frame_code(frame, op)?
                    } else {
                        0
                    };
                    self.end();
                    if c != 0 {
                        return Err(kernel_error(-c, op));
                    }
                    return Ok(true);
                }
                NLMSG_OVERRUN => {
                    return Err(Error::Protocol {
                        operation: op,
                        reason: "the kernel reported an overrun".into(),
                    })
                }
                _ if self.failed.is_some() => {}
                _ => {
                    if let Err(e) = f(frame) {
                        self.failed = Some(e);
                    }
                }
            }
        }
        Ok(false)
    }

    fn end(&mut self) -> bool {
        self.complete = true;
        true
    }

    /// What the request still owes if its reading stops now.
    pub(crate) fn pending(&self) -> Pending {
        Pending {
            last: self.seq,
            answer: self.answer,
            complete: self.complete,
        }
    }

    /// The outcome once the reply is complete: the handler's first error, if any.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.failed.take().map_or(Ok(()), Err)
    }
}

/// Requests up to sequence number `last` (one request, or the rest of a batch), answered as
/// `answer`, and whether the last one's final answer has been read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) last: u32,
    pub(crate) answer: Answer,
    pub(crate) complete: bool,
}

/// The requests a socket gave up on before their last answer came.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// At most a few: each is over once a later request is answered.
    abandoned: Vec<Pending>,
}

/// Whether sequence number `a` comes after `b` (they wrap).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Recovery {
    /// The outcome `r` of reading the answers `p` waited for: when it stopped before their
    /// last answer, they are abandoned (and [`needs_drain`](Self::needs_drain) says so);
    /// when their last answer came, every request before them is over. `r` is returned
    /// as is.
    pub(crate) fn settle<T>(&mut self, p: Pending, r: Result<T>) -> Result<T> {
        if p.complete {
            self.answered(p.last);
        } else if r.is_err() {
            self.abandoned.push(p);
        }
        r
    }

    /// The last answer of request `seq` was read: the requests sent before it are over.
    fn answered(&mut self, seq: u32) {
        self.abandoned.retain(|p| after(p.last, seq));
    }

    /// Whether the socket may hold answers of requests given up on: drain it (before the
    /// next request, and at once after giving up).
    pub(crate) fn needs_drain(&self) -> bool {
        !self.abandoned.is_empty()
    }

    /// The last sequence number of each group of requests still owed an answer, oldest first (for tests and debugging).
    #[cfg(test)]
    pub(crate) fn outstanding(&self) -> Vec<u32> {
        self.abandoned.iter().map(|p| p.last).collect()
    }

    /// One datagram read (and dropped) by a drain, from the socket with port id `port`:
    /// the abandoned requests whose last answer it holds, or the answer of a later request,
    /// are over. A malformed frame ends the walk of the datagram.
    pub(crate) fn drained(&mut self, dg: &[u8], port: u32) {
        for frame in frames(dg, Operation::Other) {
            let Ok((id, frame)) = frame else { break };
            if id.port != port {
                continue;
            }
            let kind = frame_kind(frame);
            self.abandoned.retain(|p| {
                if id.seq != p.last {
                    return !after(id.seq, p.last);
                }
                // The last request's final frame ends it: its acknowledgement or refusal,
                // a dump's DONE or refusal (an acknowledgement inside a dump does not).
                let code = frame_code(frame, Operation::Other).unwrap_or(0);
                let over = match (kind, p.answer) {
                    (NLMSG_ERROR, Answer::Ack) => true,
                    (NLMSG_ERROR, Answer::Dump) => code != 0,
                    (NLMSG_DONE, Answer::Dump) => true,
                    _ => false,
                };
                !over
            });
        }
    }

    /// Whether a drain goes on after the receive error `e`: an empty queue ends it; a
    /// pending `ENOBUFS` (or an interruption) is reported once and leaves the queue to read.
    pub(crate) fn drain_goes_on(e: &io::Error) -> bool {
        matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EINTR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::NLMSG_DONE;

    const PORT: u32 = 77;

    /// A control frame (`NLMSG_ERROR`, `NLMSG_DONE`) with `code`, for request `seq`.
    fn control(kind: u16, seq: u32, port: u32, code: i32) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&20u32.to_ne_bytes());
        f.extend_from_slice(&kind.to_ne_bytes());
        f.extend_from_slice(&0u16.to_ne_bytes());
        f.extend_from_slice(&seq.to_ne_bytes());
        f.extend_from_slice(&port.to_ne_bytes());
        f.extend_from_slice(&code.to_ne_bytes());
        f
    }

    /// A data frame (type 0x30) for request `seq`, with `body` after the header.
    fn data(seq: u32, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&(16 + body.len() as u32).to_ne_bytes());
        f.extend_from_slice(&0x30u16.to_ne_bytes());
        f.extend_from_slice(&0u16.to_ne_bytes());
        f.extend_from_slice(&seq.to_ne_bytes());
        f.extend_from_slice(&PORT.to_ne_bytes());
        f.extend_from_slice(body);
        while f.len() % 4 != 0 {
            f.push(0);
        }
        f
    }

    /// A handler that takes frames whose first body byte is not 0xff, and counts them.
    fn handler(seen: &mut Vec<u8>) -> impl FnMut(&[u8]) -> Result<()> + '_ {
        move |frame| match frame.get(16) {
            Some(&0xff) => Err(Error::Protocol {
                operation: Operation::Other,
                reason: "undecodable reply".into(),
            }),
            Some(&b) => {
                seen.push(b);
                Ok(())
            }
            None => Ok(()),
        }
    }

    #[test]
    fn a_dump_is_read_to_its_end_after_an_undecodable_frame() {
        let mut seen = Vec::new();
        let mut f = handler(&mut seen);
        let mut reply = Reply::new(5, PORT, Answer::Dump, Operation::Other);
        let dg1 = [
            data(5, &[1, 0, 0, 0]),
            data(5, &[0xff, 0, 0, 0]),
            data(5, &[2, 0, 0, 0]),
        ]
        .concat();
        assert!(!reply.datagram(&dg1, &mut f).unwrap());
        assert!(!reply.pending().complete);
        let dg2 = [data(5, &[3, 0, 0, 0]), control(NLMSG_DONE, 5, PORT, 0)].concat();
        assert!(reply.datagram(&dg2, &mut f).unwrap());
        drop(f);
        assert!(reply.pending().complete);
        let e = reply.finish().unwrap_err();
        assert!(
            matches!(e, Error::Protocol { ref reason, .. } if reason.contains("undecodable")),
            "{e:?}"
        );
        assert_eq!(
            seen,
            [1],
            "the frames after the undecodable one are skipped"
        );
    }

    #[test]
    fn stale_frames_are_skipped_and_a_refusal_ends_the_reply() {
        let mut seen = Vec::new();
        let mut f = handler(&mut seen);
        let mut reply = Reply::new(9, PORT, Answer::Ack, Operation::Other);
        // A late acknowledgement of request 8, a frame for another socket, then the reply.
        let dg = [
            control(NLMSG_ERROR, 8, PORT, 0),
            control(NLMSG_ERROR, 9, PORT + 1, 0),
            data(9, &[4, 0, 0, 0]),
            control(NLMSG_ERROR, 9, PORT, -17),
        ]
        .concat();
        let e = reply.datagram(&dg, &mut f).unwrap_err();
        drop(f);
        assert_eq!(e.errno(), Some(17));
        assert!(reply.pending().complete);
        assert_eq!(seen, [4]);
        // A dump ended by a refusal in its DONE.
        let mut reply = Reply::new(3, PORT, Answer::Dump, Operation::Other);
        let e = reply
            .datagram(&control(NLMSG_DONE, 3, PORT, -16), &mut |_| Ok(()))
            .unwrap_err();
        assert_eq!(e.errno(), Some(16));
        assert!(reply.pending().complete);
    }

    #[test]
    fn a_malformed_frame_leaves_the_reply_open() {
        let mut reply = Reply::new(2, PORT, Answer::Dump, Operation::Other);
        let mut dg = data(2, &[1, 0, 0, 0]);
        dg.extend_from_slice(&[200, 0, 0, 0, 0, 0]); // a frame longer than the datagram
        let e = reply.datagram(&dg, &mut |_| Ok(())).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
        assert!(!reply.pending().complete);
    }

    /// Abandon request `seq` (its reading stopped with an error before its last answer).
    fn abandon(r: &mut Recovery, seq: u32, answer: Answer) {
        let mut reply = Reply::new(seq, PORT, answer, Operation::Other);
        let err: Result<()> = Err(Error::Timeout {
            operation: Operation::Other,
        });
        assert!(r.settle(reply.pending(), err).is_err());
        assert!(reply.finish().is_ok());
    }

    #[test]
    fn an_abandoned_request_is_over_at_its_last_answer() {
        let mut r = Recovery::default();
        assert!(!r.needs_drain());
        abandon(&mut r, 4, Answer::Ack);
        assert!(r.needs_drain());
        assert_eq!(r.outstanding(), [4]);
        // Stale frames of earlier requests, and of other sockets, change nothing.
        r.drained(&control(NLMSG_ERROR, 3, PORT, 0), PORT);
        r.drained(&control(NLMSG_ERROR, 4, PORT + 1, 0), PORT);
        assert_eq!(r.outstanding(), [4]);
        // Its late acknowledgement ends it.
        r.drained(&control(NLMSG_ERROR, 4, PORT, 0), PORT);
        assert!(!r.needs_drain());
    }

    #[test]
    fn an_abandoned_dump_is_over_at_its_done() {
        let mut r = Recovery::default();
        abandon(&mut r, 6, Answer::Dump);
        r.drained(
            &[data(6, &[1, 0, 0, 0]), data(6, &[2, 0, 0, 0])].concat(),
            PORT,
        );
        // An acknowledgement inside a dump (NLM_F_ACK) does not end it.
        r.drained(&control(NLMSG_ERROR, 6, PORT, 0), PORT);
        assert_eq!(r.outstanding(), [6]);
        r.drained(&control(NLMSG_DONE, 6, PORT, 0), PORT);
        assert!(!r.needs_drain());
        // A dump refused at its start is over too.
        abandon(&mut r, 7, Answer::Dump);
        r.drained(&control(NLMSG_ERROR, 7, PORT, -16), PORT);
        assert!(!r.needs_drain());
    }

    #[test]
    fn a_later_answer_ends_the_requests_before_it() {
        let mut r = Recovery::default();
        abandon(&mut r, u32::MAX, Answer::Ack);
        abandon(&mut r, 1, Answer::Dump);
        assert_eq!(r.outstanding(), [u32::MAX, 1]);
        // Request 0 (after u32::MAX, wrapping) answered while draining: u32::MAX is over.
        r.drained(&control(NLMSG_ERROR, 0, PORT, 0), PORT);
        assert_eq!(r.outstanding(), [1]);
        // Request 2's reply read to its end: 1 is over.
        let mut reply = Reply::new(2, PORT, Answer::Ack, Operation::Other);
        assert!(reply
            .datagram(&control(NLMSG_ERROR, 2, PORT, 0), &mut |_| Ok(()))
            .unwrap());
        r.settle(reply.pending(), Ok(())).unwrap();
        assert!(!r.needs_drain());
        // An error after the last answer (a kernel refusal) abandons nothing.
        let mut reply = Reply::new(3, PORT, Answer::Ack, Operation::Other);
        let refused = reply.datagram(&control(NLMSG_ERROR, 3, PORT, -2), &mut |_| Ok(()));
        assert!(r.settle(reply.pending(), refused).is_err());
        assert!(!r.needs_drain());
    }

    #[test]
    fn a_drain_reads_on_after_enobufs_and_stops_when_empty() {
        assert!(Recovery::drain_goes_on(&io::Error::from_raw_os_error(
            libc::ENOBUFS
        )));
        assert!(!Recovery::drain_goes_on(&io::Error::from_raw_os_error(
            libc::EAGAIN
        )));
        assert!(!Recovery::drain_goes_on(&io::Error::from_raw_os_error(
            libc::EBADF
        )));
    }
}
