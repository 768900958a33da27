//! Netlink socket plumbing shared by the IPVS kernel transport and the host helpers: opening
//! a socket (in another network namespace if asked, without moving the calling thread),
//! sequence numbers, and reading the replies of one request with sequence and port checks.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN,
};
use netlink_sys::{Socket, SocketAddr};
use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, NetlinkAddr};
use std::io::IoSliceMut;
use std::os::fd::AsRawFd;

use crate::error::{Error, KernelContext, Operation, Result};
use crate::wire::IpvsMessage;
use netlink_packet_generic::GenlMessage;

/// The receive buffer offered for one datagram: `NLMSG_GOODSIZE`'s page (at most 8 KiB).
///
/// The kernel sizes each dump datagram to the larger of `NLMSG_GOODSIZE` (about a page) and
/// the largest buffer this socket ever offered to `recvmsg` (capped at 32 KiB). Offering
/// only a page keeps every dump datagram at one page: cheaper for the kernel to allocate
/// than 32 KiB blocks, and `recvmmsg` takes many of them per call. Every reply message of
/// IPVS is far below a page; `MSG_TRUNC` reports anything bigger as an error.
pub(crate) fn datagram_size() -> usize {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SIZE.get_or_init(
        || match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
            Ok(Some(page)) if page >= 4096 => (page as usize).min(8192),
            _ => 4096,
        },
    )
}

/// What the kernel's `NLMSG_GOODSIZE` is on a 64-bit kernel: [`datagram_size`] less the
/// kernel's `struct skb_shared_info` (320 bytes with the default `MAX_SKB_FRAGS` of 17 and
/// 64-byte cache lines); on a 32-bit userland (whose kernel may be 32-bit, with a smaller
/// `skb_shared_info`), [`datagram_size`].
///
/// Offering exactly this much per datagram is what makes IPVS sockets cheap to dump on: the
/// kernel allocates each dump datagram's buffer with room for `skb_shared_info` after the
/// data, so a page offered (4,096 bytes) costs an 8 KiB allocation per datagram and
/// `NLMSG_GOODSIZE` (3,776 bytes) a 4 KiB one. A table read of 10,000 services, which is
/// 20,000 dump datagrams, was 15-20% faster so on Linux 6.1. A kernel whose
/// `NLMSG_GOODSIZE` is larger (not seen on 64-bit kernels: a larger `MAX_SKB_FRAGS` or
/// cache line makes it smaller) would send datagrams that do not fit: the first
/// truncation is an error, and from then on every socket offers [`datagram_size`].
pub(crate) fn goodsize() -> usize {
    const SHARED_INFO: usize = 320;
    if cfg!(target_pointer_width = "64")
        && !GOODSIZE_TOO_SMALL.load(std::sync::atomic::Ordering::Relaxed)
    {
        datagram_size() - SHARED_INFO
    } else {
        datagram_size()
    }
}

/// Set when a datagram did not fit in [`goodsize`]: the guess was wrong for this kernel.
static GOODSIZE_TOO_SMALL: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The receive buffer of the async transport's socket (tokio), which reads one datagram per
/// call: 64 KiB holds the largest datagram the kernel sends (32 KiB).
#[cfg(feature = "tokio")]
pub(crate) const RECV_BUF: usize = 64 * 1024;

/// How many datagrams one `recvmmsg` takes at most.
pub(crate) const SLOTS: usize = 64;

/// Whether a request is answered by an acknowledgement or by a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Replies (if any), then an acknowledgement.
    Ack,
    /// Replies until `NLMSG_DONE`.
    Dump,
}

/// Run `f` on a short-lived thread that has entered the network namespace at `path`, so the
/// calling thread never changes namespace. Sockets and `/proc/sys/net` files opened there
/// belong to that namespace for their whole life.
pub(crate) fn in_netns<T: Send>(path: &Path, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let ns = File::open(path)?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| Error::Io(io::Error::from(e)))?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Io(io::Error::other("netns thread panicked"))))
    })
}

/// A bound, connected netlink socket with its sequence counter and receive buffer.
#[derive(Debug)]
pub(crate) struct NlSocket {
    pub(crate) socket: Socket,
    pub(crate) port_id: u32,
    seq: u32,
    pub(crate) buf: Vec<u8>,
    /// Slots for receiving many datagrams in one `recvmmsg` (allocated on first use).
    mbuf: Vec<u8>,
    /// The lengths of the datagrams the last `recv_many` received, one per slot used.
    pub(crate) mlens: Vec<usize>,
    /// The slot size of the last `recv_many`.
    mslot: usize,
    /// The size of each slot `recv_many` offers (the largest datagram it takes; see
    /// [`datagram_size`]) and how many slots it offers.
    slot_size: usize,
    slot_count: usize,
    /// The receive buffer the kernel granted (`SO_RCVBUF` as read back: twice what was
    /// asked, at least the kernel's minimum).
    rcvbuf: usize,
}

/// The most datagrams [`NlSocket::drain`] discards before giving up (a dump the kernel is
/// still producing goes on while it is drained).
const DRAIN_LIMIT: usize = 1 << 20;

/// Where a reply frame belongs: its sequence number and destination port id.
pub(crate) struct FrameId {
    pub(crate) seq: u32,
    pub(crate) port: u32,
}

impl NlSocket {
    /// Open a socket of `protocol`, in the namespace at `netns` if given.
    pub(crate) fn open(
        protocol: isize,
        netns: Option<&Path>,
        timeout: Duration,
        rcvbuf: usize,
    ) -> Result<NlSocket> {
        let mut socket = match netns {
            None => Socket::new(protocol)?,
            Some(path) => in_netns(path, || Ok(Socket::new(protocol)?))?,
        };
        let addr = socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Acknowledgements of failed requests echo only the header, not the whole request.
        socket.set_cap_ack(true)?;
        // Above net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE), which IPVS
        // needs anyway; without it, as much as rmem_max allows.
        if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &rcvbuf)
            .is_err()
        {
            socket.set_rx_buf_sz(rcvbuf)?;
        }
        socket2::SockRef::from(&socket).set_read_timeout(Some(timeout))?;
        let granted = nix::sys::socket::getsockopt(&socket, nix::sys::socket::sockopt::RcvBuf)
            .map_err(|e| Error::Io(io::Error::from(e)))?;
        Ok(NlSocket {
            socket,
            port_id: addr.port_number(),
            seq: 0,
            buf: Vec::with_capacity(datagram_size()),
            mbuf: Vec::new(),
            mlens: Vec::new(),
            mslot: 0,
            slot_size: datagram_size(),
            slot_count: SLOTS,
            rcvbuf: granted,
        })
    }

    /// Offer datagrams of `size` bytes, `count` at a time, to `recv_many` and `receive`
    /// from now on. The kernel sizes every later dump datagram of this socket to the largest
    /// buffer it was ever offered (up to 32 KiB), so a socket that offered large buffers
    /// stays a large-datagram socket.
    pub(crate) fn set_slots(&mut self, size: usize, count: usize) {
        self.slot_size = size.max(goodsize());
        self.slot_count = count.max(1);
        self.buf = Vec::with_capacity(self.slot_size);
    }

    /// The receive buffer the kernel granted, in bytes.
    pub(crate) fn receive_buffer(&self) -> usize {
        self.rcvbuf
    }

    /// How a batch on this socket asks for acknowledgements: [`Acks::Last`], unless
    /// `NETLINK_NO_ENOBUFS` is set on it (this crate never sets it; a caller can, through
    /// the descriptor). With it, the kernel drops what does not fit in the receive buffer
    /// without a word, and a dropped refusal would go unseen if only the last request were
    /// acknowledged; with every request acknowledged, a drop is a missing answer instead.
    pub(crate) fn batch_acks(&self) -> Acks {
        match self.socket.get_no_enobufs() {
            Ok(false) => Acks::Last,
            _ => Acks::Each,
        }
    }

    /// Discard every datagram already queued, without waiting. After `ENOBUFS` the kernel
    /// marks the socket congested and silently drops everything sent to it until its
    /// receive queue has been emptied: without this, the next request's reply would be
    /// lost and that request would time out. The discarded datagrams all belong to the
    /// request that failed (or to earlier ones): their sequence numbers are stale.
    fn drain(&mut self) {
        for _ in 0..DRAIN_LIMIT {
            self.buf.clear();
            if self
                .socket
                .recv(&mut self.buf, libc::MSG_DONTWAIT | libc::MSG_TRUNC)
                .is_err()
            {
                break;
            }
        }
        self.buf.clear();
    }

    /// A receive error as this crate's error; after an overflow or a timeout the queue is
    /// drained first, so that the handle is usable again at once.
    fn recv_failed(&mut self, e: io::Error, op: Operation) -> Error {
        let err = recv_error(e, op);
        if matches!(err, Error::Timeout { .. } | Error::Protocol { .. }) {
            self.drain();
        }
        err
    }

    /// How long a receive waits for a datagram.
    pub(crate) fn set_timeout(&mut self, timeout: Duration) -> Result<()> {
        socket2::SockRef::from(&self.socket).set_read_timeout(Some(timeout))?;
        Ok(())
    }

    /// The next sequence number.
    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Reserve `n` consecutive sequence numbers and return the first.
    pub(crate) fn reserve_seqs(&mut self, n: usize) -> u32 {
        let first = self.seq.wrapping_add(1);
        self.seq = self.seq.wrapping_add(n as u32);
        first
    }

    /// Frame `payload` with `flags` and a new sequence number, send it, and return the
    /// sequence number.
    pub(crate) fn send_message<T>(&mut self, payload: T, flags: u16) -> Result<u32>
    where
        T: NetlinkSerializable + std::fmt::Debug,
        NetlinkPayload<T>: From<T>,
    {
        let seq = self.next_seq();
        let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(payload));
        nl.header.flags = flags;
        nl.header.sequence_number = seq;
        nl.finalize();
        let mut bytes = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;
        Ok(seq)
    }

    /// Read replies to request `seq` until its ack or `NLMSG_DONE`.
    pub(crate) fn receive<I>(&mut self, seq: u32, answer: Answer, op: Operation) -> Result<Vec<I>>
    where
        I: NetlinkDeserializable + std::fmt::Debug,
    {
        let mut replies = Vec::new();
        let port = self.port_id;
        loop {
            let n = self.recv_datagram(op)?;
            let datagram = self.buf.get(..n).unwrap_or(&[]);
            let done = walk_reply(datagram, seq, port, answer, op, &mut |frame| {
                let msg = NetlinkMessage::<I>::deserialize(frame).map_err(|e| Error::Protocol {
                    operation: op,
                    reason: format!("undecodable reply: {e}"),
                })?;
                if let NetlinkPayload::InnerMessage(m) = msg.payload {
                    replies.push(m);
                }
                Ok(())
            })?;
            if done {
                return Ok(replies);
            }
        }
    }

    /// Read replies to request `seq` until its ack or `NLMSG_DONE`, handing each reply
    /// message's bytes (the whole netlink frame) to `f` straight from the receive buffer,
    /// without decoding them: the fast path for large dumps. Errors and checks as
    /// [`receive`](Self::receive).
    pub(crate) fn receive_frames(
        &mut self,
        seq: u32,
        answer: Answer,
        op: Operation,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let port_id = self.port_id;
        loop {
            self.recv_many(op)?;
            for i in 0..self.mlens.len() {
                if walk_reply(self.datagram(i), seq, port_id, answer, op, f)? {
                    return Ok(());
                }
            }
        }
    }

    /// Receive up to [`SLOTS`] datagrams of at most [`datagram_size`] bytes each (unless
    /// [`set_slots`](Self::set_slots) said otherwise) with one `recvmmsg`: it waits for the first one (up to the socket's timeout), then takes what is
    /// already queued (a dump's next datagrams are produced while the previous one is read,
    /// so one call takes a whole short dump, `NLMSG_DONE` included; a batch's
    /// acknowledgements are a datagram each). Datagrams not from the kernel are dropped. The datagrams are
    /// [`datagram`](Self::datagram)`(i)` for `i` in `0..self.mlens.len()`. A datagram larger
    /// than a slot is an error (its end is lost).
    pub(crate) fn recv_many(&mut self, op: Operation) -> Result<()> {
        let (size, count) = (self.slot_size, self.slot_count);
        if self.mbuf.len() < size * count {
            self.mbuf.resize(size * count, 0);
        }
        // (length, sender port, truncated) of each datagram received.
        let got: io::Result<Vec<(usize, u32, bool)>> = {
            let mut headers = MultiHeaders::<NetlinkAddr>::preallocate(count, None);
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
                .mbuf
                .chunks_mut(size)
                .take(count)
                .map(|c| [IoSliceMut::new(c)])
                .collect();
            let results = recvmmsg(
                self.socket.as_raw_fd(),
                &mut headers,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            );
            match results {
                Ok(results) => Ok(results
                    .map(|r| {
                        (
                            r.bytes,
                            r.address.map_or(0, |a| a.pid()),
                            r.flags.contains(MsgFlags::MSG_TRUNC),
                        )
                    })
                    .collect()),
                Err(e) => Err(io::Error::from(e)),
            }
        };
        let got = match got {
            Ok(g) => g,
            Err(e) => return Err(self.recv_failed(e, op)),
        };
        self.mlens.clear();
        let mut kept = 0;
        for (i, &(len, pid, truncated)) in got.iter().enumerate() {
            if truncated {
                if size < datagram_size() {
                    // The kernel's NLMSG_GOODSIZE is larger than goodsize() guessed: offer
                    // whole pages from now on.
                    GOODSIZE_TOO_SMALL.store(true, std::sync::atomic::Ordering::Relaxed);
                    self.set_slots(datagram_size(), self.slot_count);
                }
                return Err(Error::Protocol {
                    operation: op,
                    reason: format!("a reply datagram was larger than {size} bytes and truncated"),
                });
            }
            if pid != 0 {
                continue; // not from the kernel
            }
            if kept != i {
                self.mbuf.copy_within(i * size..i * size + len, kept * size);
            }
            self.mlens.push(len);
            kept += 1;
        }
        self.mslot = size;
        Ok(())
    }

    /// Datagram `i` of the last [`recv_many`](Self::recv_many).
    pub(crate) fn datagram(&self, i: usize) -> &[u8] {
        let start = i * self.mslot;
        let len = self.mlens.get(i).copied().unwrap_or(0);
        self.mbuf.get(start..start + len).unwrap_or(&[])
    }

    /// Receive one datagram into `self.buf`, returning its length (0 for a datagram that did
    /// not come from the kernel, which is ignored).
    pub(crate) fn recv_datagram(&mut self, op: Operation) -> Result<usize> {
        self.buf.clear();
        let (n, from) = match self.socket.recv_from(&mut self.buf, libc::MSG_TRUNC) {
            Ok(r) => r,
            Err(e) => return Err(self.recv_failed(e, op)),
        };
        if n > self.buf.capacity() {
            return Err(Error::Protocol {
                operation: op,
                reason: format!(
                    "reply datagram of {n} bytes truncated to {}",
                    self.buf.capacity()
                ),
            });
        }
        if from.port_number() != 0 {
            return Ok(0);
        }
        Ok(n)
    }
}

/// The frames of one datagram, in order, each with its identity; a malformed frame is an
/// error and ends the walk (what follows it cannot be framed).
fn frames(buf: &[u8], op: Operation) -> impl Iterator<Item = Result<(FrameId, &[u8])>> + '_ {
    let mut off = 0;
    std::iter::from_fn(move || {
        let rest = buf.get(off..).filter(|r| !r.is_empty())?;
        match frame_at(rest, op) {
            Ok((id, len)) => {
                off += (len + 3) & !3;
                Some(Ok((id, rest.get(..len).unwrap_or(&[]))))
            }
            Err(e) => {
                off = buf.len();
                Some(Err(e))
            }
        }
    })
}

/// The identity and length of the netlink frame at the start of `buf`.
fn frame_at(buf: &[u8], op: Operation) -> Result<(FrameId, usize)> {
    let bad = |reason: String| Error::Protocol {
        operation: op,
        reason,
    };
    let nb = NetlinkBuffer::new_checked(buf).map_err(|e| bad(format!("bad netlink frame: {e}")))?;
    let len = nb.length() as usize;
    if len < 16 || len > buf.len() {
        return Err(bad(format!("netlink frame length {len} out of bounds")));
    }
    let id = FrameId {
        seq: nb.sequence_number(),
        port: nb.port_number(),
    };
    Ok((id, len))
}

/// One frame of a dump read by a transport's `dump_each`: checks that it is a generic
/// netlink frame of `family` and hands its command and attributes to `f`. An error from `f`
/// is kept in `failed`, and the frames after it are skipped: the caller still reads the dump
/// to its end (a dump left unread would make the kernel refuse the socket's next dump with
/// `EBUSY`), then returns that error.
pub(crate) fn dump_frame(
    frame: &[u8],
    family: u16,
    failed: &mut Option<Error>,
    f: &mut dyn FnMut(u8, &[u8]) -> Result<()>,
) -> Result<()> {
    if failed.is_some() {
        return Ok(());
    }
    let (Some(&cmd), Some(attrs), Some(ty)) = (frame.get(16), frame.get(20..), frame.get(4..6))
    else {
        return Err(Error::Protocol {
            operation: Operation::Other,
            reason: format!("reply frame of {} bytes", frame.len()),
        });
    };
    if u16::from_ne_bytes([ty[0], ty[1]]) != family {
        return Err(Error::Protocol {
            operation: Operation::Other,
            reason: "reply of another netlink family".into(),
        });
    }
    if let Err(e) = f(cmd, attrs) {
        *failed = Some(e);
    }
    Ok(())
}

/// A kernel refusal with its errno, before the client names it.
pub(crate) fn kernel_error(errno: i32, op: Operation) -> Error {
    Error::Kernel(KernelContext {
        errno,
        operation: op,
        object: String::new(),
    })
}

fn recv_error(e: io::Error, op: Operation) -> Error {
    match e.raw_os_error() {
        Some(libc::EAGAIN) => Error::Timeout { operation: op },
        Some(libc::ENOBUFS) => Error::Protocol {
            operation: op,
            reason: "the kernel dropped replies (ENOBUFS): the receive buffer overflowed".into(),
        },
        _ => Error::Io(e),
    }
}

/// Walk the frames of one reply datagram of request `seq` (sans-IO: the blocking and the
/// async transports read replies with it): data frames go to `f`; returns whether the
/// reply is complete (its ack, or `NLMSG_DONE`). Frames of other requests or ports are
/// skipped; a refusal is a kernel error.
pub(crate) fn walk_reply(
    buf: &[u8],
    seq: u32,
    port: u32,
    answer: Answer,
    op: Operation,
    f: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<bool> {
    for frame in frames(buf, op) {
        let (id, frame) = frame?;
        if id.seq != seq || id.port != port {
            continue; // a stale reply of an earlier request
        }
        match frame_kind(frame) {
            NLMSG_NOOP => {}
            NLMSG_ERROR => match frame_code(frame, op)? {
                0 if answer == Answer::Ack => return Ok(true),
                0 => {}
                c => return Err(kernel_error(-c, op)),
            },
            NLMSG_DONE => {
                // A DONE without a code is a plain end of dump.
                let c = if frame.len() >= 20 {
                    frame_code(frame, op)?
                } else {
                    0
                };
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
            _ => f(frame)?,
        }
    }
    Ok(false)
}

/// A frame's netlink message type.
fn frame_kind(frame: &[u8]) -> u16 {
    frame
        .get(4..6)
        .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]))
}

/// The error code of an `NLMSG_ERROR` or `NLMSG_DONE` frame: the i32 after the header.
fn frame_code(frame: &[u8], op: Operation) -> Result<i32> {
    frame
        .get(16..20)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
        .ok_or_else(|| Error::Protocol {
            operation: op,
            reason: format!("netlink control message of {} bytes", frame.len()),
        })
}

/// The IPVS message a reply frame carries (`None` for a control frame).
pub(crate) fn decode_reply(frame: &[u8]) -> Result<Option<IpvsMessage>> {
    let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(frame).map_err(|e| {
        Error::Protocol {
            operation: Operation::Other,
            reason: format!("undecodable reply: {e}"),
        }
    })?;
    Ok(match msg.payload {
        NetlinkPayload::InnerMessage(m) => Some(m.payload),
        _ => None,
    })
}

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
