//! Batch acknowledgement counting (sans-IO): which requests of a datagram of batched
//! requests ask for an acknowledgement, and the answers to each read back.

use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};

use super::frames::{decode_reply, frame_code, frame_kind, frames, kernel_error, Answer};
use super::recovery::Pending;
use crate::error::{Error, Operation, Result};
use crate::wire::IpvsMessage;

/// Ask for an acknowledgement of the last request of a datagram of batched requests, the
/// one request of it framed at byte `last` of `datagram` (the others are framed without
/// `NLM_F_ACK`). The kernel answers a refused request whatever its flags, and handles the
/// requests of a datagram in order, each to its end before the next: so that one
/// acknowledgement, or the refusal of the last request, means every request before it has
/// been handled, and each of those was applied unless a refusal names it. The kernel then
/// allocates, fills and queues one acknowledgement per datagram instead of one per request.
pub(crate) fn ack_last(datagram: &mut [u8], last: usize) {
    if let Some(flags) = datagram.get_mut(last + 6..last + 8) {
        let f = u16::from_ne_bytes([flags[0], flags[1]]) | netlink_packet_core::NLM_F_ACK;
        flags.copy_from_slice(&f.to_ne_bytes());
    }
}

/// Which requests of a datagram of batched requests ask for an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acks {
    /// Every request: each has an answer, its acknowledgement or its refusal.
    Each,
    /// Only the last one ([`ack_last`]): the others are answered only when refused.
    Last,
}

/// The answers to a batch of `count` requests sent with consecutive sequence numbers from
/// `first_seq` on, in one datagram, read from the reply datagrams one at a time (sans-IO,
/// shared by the blocking and the async transports). Every message names its request by
/// sequence number, and they come in the order of the requests: a request's replies, then
/// its refusal or acknowledgement. With [`Acks::Last`], a message for a later request ends
/// the requests before it, and those that were not refused were applied; with
/// [`Acks::Each`], every request must have its own answer before the next one's.
pub(crate) struct BatchAcks<'r> {
    first_seq: u32,
    count: usize,
    port: u32,
    acks: Acks,
    done: usize,
    pending: Vec<IpvsMessage>,
    results: &'r mut Vec<Result<Vec<IpvsMessage>>>,
}

impl<'r> BatchAcks<'r> {
    /// Start reading the answers of a batch; each request's result is pushed to `results`.
    pub(crate) fn new(
        first_seq: u32,
        count: usize,
        port: u32,
        acks: Acks,
        results: &'r mut Vec<Result<Vec<IpvsMessage>>>,
    ) -> BatchAcks<'r> {
        BatchAcks {
            first_seq,
            count,
            port,
            acks,
            done: 0,
            pending: Vec::new(),
            results,
        }
    }

    /// Whether every request of the batch has its answer.
    pub(crate) fn complete(&self) -> bool {
        self.done >= self.count
    }

    /// What the batch still owes if its reading stops now: the requests not answered yet.
    pub(crate) fn pending(&self) -> Pending {
        Pending {
            last: self
                .first_seq
                .wrapping_add(self.count.saturating_sub(1) as u32),
            answer: Answer::Ack,
            complete: self.complete(),
        }
    }

    /// Read one reply datagram.
    pub(crate) fn datagram(&mut self, dg: &[u8]) -> Result<()> {
        let op = Operation::Other;
        for frame in frames(dg, op) {
            let (header, frame) = frame?;
            let idx = header.seq.wrapping_sub(self.first_seq) as usize;
            if idx >= self.count || header.port != self.port {
                continue; // a stale reply of an earlier request
            }
            if idx < self.done || (idx > self.done && self.acks == Acks::Each) {
                return Err(Error::Protocol {
                    operation: op,
                    reason: format!(
                        "an answer to request {idx} arrived while waiting for the answer to \
                         request {}",
                        self.done
                    ),
                });
            }
            // The requests before this one are done, and were not refused.
            while self.done < idx {
                self.results.push(Ok(std::mem::take(&mut self.pending)));
                self.done += 1;
            }
            match frame_kind(frame) {
                NLMSG_ERROR => {
                    // Acknowledgements are read straight from the bytes.
                    let code = frame_code(frame, op)?;
                    self.results.push(match code {
                        0 => Ok(std::mem::take(&mut self.pending)),
                        c => Err(kernel_error(-c, op)),
                    });
                    self.pending.clear();
                    self.done += 1;
                }
                NLMSG_DONE | NLMSG_NOOP | NLMSG_OVERRUN => {}
                _ => {
                    if let Some(m) = decode_reply(frame)? {
                        self.pending.push(m);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::frames::frames;
    use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST};

    const PORT: u32 = 4242;
    const FIRST: u32 = 10;

    /// An `NLMSG_ERROR` frame (an acknowledgement when `code` is 0) for request `seq`,
    /// capped as the kernel sends it to a socket with `NETLINK_CAP_ACK`.
    fn answer(seq: u32, code: i32) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&36u32.to_ne_bytes());
        f.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        f.extend_from_slice(&0x100u16.to_ne_bytes());
        f.extend_from_slice(&seq.to_ne_bytes());
        f.extend_from_slice(&PORT.to_ne_bytes());
        f.extend_from_slice(&code.to_ne_bytes());
        f.extend_from_slice(&[0; 16]);
        f
    }

    /// A reply message (an IPVS `GET_INFO`) to request `seq`.
    fn reply(seq: u32) -> Vec<u8> {
        let mut f = crate::wire::frame_request(IpvsMessage::get_info(), 30, seq, false);
        f[6..8].copy_from_slice(&0u16.to_ne_bytes());
        f[12..16].copy_from_slice(&PORT.to_ne_bytes());
        f
    }

    /// Read `datagrams` as the answers to 5 requests from sequence number `FIRST` on: each
    /// request's errno (0 when applied) and number of replies, and whether all are answered.
    fn read(datagrams: &[Vec<Vec<u8>>]) -> Result<(Vec<(i32, usize)>, bool)> {
        read_with(Acks::Last, datagrams)
    }

    fn read_with(acks: Acks, datagrams: &[Vec<Vec<u8>>]) -> Result<(Vec<(i32, usize)>, bool)> {
        let mut results = Vec::new();
        let mut acks = BatchAcks::new(FIRST, 5, PORT, acks, &mut results);
        for dg in datagrams {
            acks.datagram(&dg.concat())?;
        }
        let complete = acks.complete();
        let summary = results
            .iter()
            .map(|r| match r {
                Ok(replies) => (0, replies.len()),
                Err(e) => (e.errno().unwrap_or(-1), 0),
            })
            .collect();
        Ok((summary, complete))
    }

    #[test]
    fn one_acknowledgement_ends_the_requests_before_it() {
        let (r, complete) = read(&[vec![answer(14, 0)]]).unwrap();
        assert!(complete);
        assert_eq!(r, [(0, 0); 5]);
        // A refusal in the middle names its request; the others were applied.
        let (r, complete) = read(&[vec![answer(12, -17)], vec![answer(14, 0)]]).unwrap();
        assert!(complete);
        assert_eq!(r, [(0, 0), (0, 0), (17, 0), (0, 0), (0, 0)]);
        // The last request refused is its own answer.
        let (r, complete) = read(&[vec![answer(11, -2), answer(14, -22)]]).unwrap();
        assert!(complete);
        assert_eq!(r, [(0, 0), (2, 0), (0, 0), (0, 0), (22, 0)]);
        // Until the last request is answered, the batch is not complete.
        let (r, complete) = read(&[vec![answer(12, -17)]]).unwrap();
        assert!(!complete);
        assert_eq!(r, [(0, 0), (0, 0), (17, 0)]);
    }

    #[test]
    fn replies_go_to_the_request_they_name() {
        let (r, complete) =
            read(&[vec![reply(11), reply(11)], vec![reply(13), answer(14, 0)]]).unwrap();
        assert!(complete);
        assert_eq!(r, [(0, 0), (0, 2), (0, 0), (0, 1), (0, 0)]);
        // Every request acknowledged, as requests asking for one each are.
        let mut each: Vec<Vec<u8>> = (FIRST..FIRST + 5).map(|s| answer(s, 0)).collect();
        each.insert(1, reply(FIRST + 1));
        for acks in [Acks::Last, Acks::Each] {
            let (r, complete) = read_with(acks, std::slice::from_ref(&each)).unwrap();
            assert!(complete);
            assert_eq!(r, [(0, 0), (0, 1), (0, 0), (0, 0), (0, 0)]);
        }
        // When each request asks for an acknowledgement, a missing one is an error (the
        // kernel dropped it), not a request applied.
        each.remove(0);
        let e = read_with(Acks::Each, &[each]).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
    }

    #[test]
    fn stale_and_out_of_order_answers() {
        // Answers to earlier requests or other sockets are skipped.
        let mut other = answer(12, -1);
        other[12..16].copy_from_slice(&(PORT + 1).to_ne_bytes());
        let (r, complete) = read(&[vec![answer(FIRST - 1, -1), other, answer(14, 0)]]).unwrap();
        assert!(complete);
        assert_eq!(r, [(0, 0); 5]);
        // An answer to a request already ended is a protocol error, not a result.
        let e = read(&[vec![answer(12, 0), answer(11, -1)]]).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
    }

    #[test]
    fn only_the_last_request_of_a_datagram_asks_for_an_acknowledgement() {
        let mut dg = Vec::new();
        let mut last = 0;
        for seq in 1..4 {
            last = dg.len();
            let mut f = crate::wire::frame_request(IpvsMessage::get_info(), 30, seq, false);
            f[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
            dg.extend_from_slice(&f);
        }
        ack_last(&mut dg, last);
        let flags: Vec<u16> = frames(&dg, Operation::Other)
            .map(|f| {
                let (_, f) = f.unwrap();
                u16::from_ne_bytes([f[6], f[7]])
            })
            .collect();
        let plain = NLM_F_REQUEST;
        assert_eq!(flags, [plain, plain, plain | NLM_F_ACK]);
    }
}
