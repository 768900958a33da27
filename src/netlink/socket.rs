//! The netlink socket: opening it (in another network namespace if asked), buffer sizes,
//! sequence numbers, sending, and receiving datagrams (one at a time or many per
//! `recvmmsg`) and the replies of one request.

use std::io;
use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
};
use netlink_sys::{Socket, SocketAddr};
use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, NetlinkAddr};

use super::batch::Acks;
use super::frames::Answer;
use super::netns::in_netns;
use super::recovery::{Pending, Recovery, Reply, DRAIN_LIMIT};
use crate::error::{Error, Operation, Result};

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
    /// The requests given up on before their last answer (see [`Recovery`]).
    recovery: Recovery,
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
        Ok(NlSocket::over(socket, addr.port_number(), granted))
    }

    /// The socket's state over a ready descriptor: nothing sent yet, one datagram's buffer.
    fn over(socket: Socket, port_id: u32, rcvbuf: usize) -> NlSocket {
        NlSocket {
            socket,
            port_id,
            seq: 0,
            buf: Vec::with_capacity(datagram_size()),
            mbuf: Vec::new(),
            mlens: Vec::new(),
            mslot: 0,
            slot_size: datagram_size(),
            slot_count: SLOTS,
            rcvbuf,
            recovery: Recovery::default(),
        }
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

    /// Discard every datagram already queued, without waiting, telling [`Recovery`] what
    /// they answered. After `ENOBUFS` the kernel marks the socket congested and silently
    /// drops everything sent to it until its receive queue has been emptied: without this,
    /// the next request's reply would be lost and that request would time out. The
    /// discarded datagrams all belong to requests given up on (or to earlier ones): their
    /// sequence numbers are stale.
    fn drain(&mut self) {
        let port = self.port_id;
        for _ in 0..DRAIN_LIMIT {
            self.buf.clear();
            match self
                .socket
                .recv_from(&mut self.buf, libc::MSG_DONTWAIT | libc::MSG_TRUNC)
            {
                Ok((_, from)) if from.port_number() == 0 => self.recovery.drained(&self.buf, port),
                Ok(_) => {}
                Err(e) if Recovery::drain_goes_on(&e) => {}
                Err(_) => break,
            }
        }
        self.buf.clear();
    }

    /// The outcome `r` of reading the answers `p` waited for, through [`Recovery`]: the
    /// socket is drained at once if they were given up on.
    pub(crate) fn settle<T>(&mut self, p: Pending, r: Result<T>) -> Result<T> {
        let r = self.recovery.settle(p, r);
        if self.recovery.needs_drain() {
            self.drain();
        }
        r
    }

    /// Send `bytes` (one datagram of requests), after draining what requests given up on
    /// may have left queued.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<()> {
        if self.recovery.needs_drain() {
            self.drain();
        }
        self.socket.send(bytes, 0)?;
        Ok(())
    }

    /// The requests still owed an answer (for tests).
    #[cfg(test)]
    pub(crate) fn outstanding(&self) -> Vec<u32> {
        self.recovery.outstanding()
    }

    /// A socket over an already connected descriptor that is not a netlink socket (a fake
    /// kernel's socket pair, in tests), with port id `port_id`.
    #[cfg(test)]
    pub(crate) fn from_socket(socket: Socket, port_id: u32, timeout: Duration) -> NlSocket {
        socket2::SockRef::from(&socket)
            .set_read_timeout(Some(timeout))
            .expect("SO_RCVTIMEO");
        NlSocket::over(socket, port_id, 1 << 20)
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
        self.send(&bytes)?;
        Ok(seq)
    }

    /// Read replies to request `seq` until its ack or `NLMSG_DONE` (see [`Reply`]: after an
    /// undecodable reply the rest is still read, then the decode error returned).
    pub(crate) fn receive<I>(&mut self, seq: u32, answer: Answer, op: Operation) -> Result<Vec<I>>
    where
        I: NetlinkDeserializable + std::fmt::Debug,
    {
        let mut replies = Vec::new();
        let mut reply = Reply::new(seq, self.port_id, answer, op);
        let r = self.read_reply(&mut reply, op, &mut |frame| {
            let msg = NetlinkMessage::<I>::deserialize(frame).map_err(|e| Error::Protocol {
                operation: op,
                reason: format!("undecodable reply: {e}"),
            })?;
            if let NetlinkPayload::InnerMessage(m) = msg.payload {
                replies.push(m);
            }
            Ok(())
        });
        self.settle(reply.pending(), r.and_then(|()| reply.finish()))?;
        Ok(replies)
    }

    /// Read `reply` one datagram at a time until it is complete.
    fn read_reply(
        &mut self,
        reply: &mut Reply,
        op: Operation,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        loop {
            let n = self.recv_datagram(op)?;
            if reply.datagram(self.buf.get(..n).unwrap_or(&[]), f)? {
                return Ok(());
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
        let mut reply = Reply::new(seq, self.port_id, answer, op);
        let r = self.read_many(&mut reply, op, f);
        self.settle(reply.pending(), r.and_then(|()| reply.finish()))
    }

    /// Read `reply` many datagrams at a time until it is complete.
    fn read_many(
        &mut self,
        reply: &mut Reply,
        op: Operation,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        loop {
            self.recv_many(op)?;
            for i in 0..self.mlens.len() {
                if reply.datagram(self.datagram(i), f)? {
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
            Err(e) => return Err(recv_error(e, op)),
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
            Err(e) => return Err(recv_error(e, op)),
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
