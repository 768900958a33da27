//! The kernel backend: one generic netlink socket per handle.
//!
//! - The `IPVS` family id is resolved once, when the handle opens, and cached.
//! - Every reply's sequence number and port id are checked; stale replies (of a request that
//!   timed out, say) are dropped.
//! - Writes are acknowledged (`NLM_F_ACK`) and matched to their request; dumps are read to
//!   `NLMSG_DONE` across as many datagrams as it takes.
//! - A truncated datagram or `ENOBUFS` (the kernel dropped replies) is an error, never a
//!   silent loss; a receive timeout bounds every call.
//! - Batches pipeline many requests per `sendmsg`, each with its own sequence number, and
//!   read one acknowledgement per request.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use super::{RequestKind, Transport};
use crate::error::{Error, KernelContext, Operation, Result};
use crate::wire::{IpvsMessage, IPVS_GENL_NAME};

/// Receive buffer for one datagram. The kernel sizes dump datagrams to at most 32 KiB
/// (or a page, if larger); 64 KiB leaves room, and `MSG_TRUNC` detects anything bigger.
const RECV_BUF: usize = 64 * 1024;
/// How many request bytes a batch puts in one `sendmsg`.
const BATCH_BYTES: usize = 32 * 1024;
/// Default socket receive buffer requested for dumps (`SO_RCVBUF`; the kernel caps it at
/// `net.core.rmem_max`).
const DEFAULT_RCVBUF: usize = 4 * 1024 * 1024;

/// Options for opening a [`KernelTransport`].
#[derive(Debug, Clone)]
#[must_use]
pub struct KernelTransportBuilder {
    timeout: Duration,
    rcvbuf: usize,
    netns: Option<PathBuf>,
}

impl Default for KernelTransportBuilder {
    fn default() -> Self {
        KernelTransportBuilder {
            timeout: Duration::from_secs(10),
            rcvbuf: DEFAULT_RCVBUF,
            netns: None,
        }
    }
}

impl KernelTransportBuilder {
    /// How long to wait for each datagram of a reply (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The socket receive buffer to ask for (default 4 MiB, capped by the kernel at
    /// `net.core.rmem_max`).
    pub fn receive_buffer(mut self, bytes: usize) -> Self {
        self.rcvbuf = bytes;
        self
    }

    /// Open the socket in the network namespace named `name` (a file under `/run/netns`, as
    /// `ip netns add` creates).
    pub fn netns_name(self, name: &str) -> Self {
        self.netns_path(Path::new("/run/netns").join(name))
    }

    /// Open the socket in the network namespace at `path` (for example `/proc/PID/ns/net`).
    pub fn netns_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.netns = Some(path.into());
        self
    }

    /// Open the socket, bind it and resolve the `IPVS` family.
    pub fn open(self) -> Result<KernelTransport> {
        let socket = match &self.netns {
            None => Socket::new(NETLINK_GENERIC)?,
            Some(path) => socket_in_netns(path)?,
        };
        KernelTransport::from_socket(socket, &self)
    }
}

/// Create a generic netlink socket inside the network namespace at `path`, on a short-lived
/// thread, so the calling thread never changes namespace. A socket belongs to the namespace
/// it was created in for its whole life.
fn socket_in_netns(path: &Path) -> Result<Socket> {
    let ns = File::open(path)?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<Socket> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| Error::Io(io::Error::from(e)))?;
            Ok(Socket::new(NETLINK_GENERIC)?)
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Io(io::Error::other("netns thread panicked"))))
    })
}

/// A [`Transport`] over a real generic netlink socket.
///
/// ```no_run
/// use lvs::transport::{KernelTransport, RequestKind, Transport};
/// use lvs::wire::IpvsMessage;
/// let mut t = KernelTransport::open()?;
/// let info = t.request(&IpvsMessage::get_info(), RequestKind::Do)?;
/// println!("IPVS {}", info[0].info()?.version);
/// # Ok::<(), lvs::Error>(())
/// ```
#[derive(Debug)]
pub struct KernelTransport {
    socket: Socket,
    family_id: u16,
    port_id: u32,
    seq: u32,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl KernelTransport {
    /// Open a transport in the caller's network namespace with default options.
    pub fn open() -> Result<KernelTransport> {
        KernelTransportBuilder::default().open()
    }

    /// Options for opening a transport (timeout, receive buffer, network namespace).
    pub fn builder() -> KernelTransportBuilder {
        KernelTransportBuilder::default()
    }

    fn from_socket(mut socket: Socket, opts: &KernelTransportBuilder) -> Result<KernelTransport> {
        let addr = socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Acknowledgements of failed requests echo only the header, not the whole request.
        socket.set_cap_ack(true)?;
        socket.set_rx_buf_sz(opts.rcvbuf)?;
        socket2::SockRef::from(&socket).set_read_timeout(Some(opts.timeout))?;
        let mut t = KernelTransport {
            socket,
            family_id: 0,
            port_id: addr.port_number(),
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
            out: Vec::new(),
        };
        t.family_id = t.resolve_family()?;
        Ok(t)
    }

    /// The resolved `IPVS` generic netlink family id.
    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn resolve_family(&mut self) -> Result<u16> {
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_owned())],
        };
        let mut genl = GenlMessage::from_payload(ctrl);
        genl.finalize();
        let seq = self.next_seq();
        let bytes = serialize(genl, NLM_F_REQUEST | NLM_F_ACK, seq);
        self.socket.send(&bytes, 0)?;
        let replies: Vec<GenlMessage<GenlCtrl>> =
            match self.receive(seq, RequestKind::Do, Operation::ResolveFamily) {
                Err(Error::Kernel(ctx)) if ctx.errno == libc::ENOENT => {
                    return Err(Error::IpvsUnavailable)
                }
                other => other?,
            };
        replies
            .iter()
            .flat_map(|m| m.payload.nlas.iter())
            .find_map(|a| match a {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| Error::Protocol {
                operation: Operation::ResolveFamily,
                reason: "the controller's reply has no family id".into(),
            })
    }

    /// Read replies to request `seq` until its ack (do) or `NLMSG_DONE` (dump).
    fn receive<I>(&mut self, seq: u32, kind: RequestKind, op: Operation) -> Result<Vec<I>>
    where
        I: NetlinkDeserializable + std::fmt::Debug,
    {
        let mut replies = Vec::new();
        loop {
            let n = self.recv_datagram(op)?;
            let mut off = 0;
            while off < n {
                let (header, len) = frame_at(&self.buf[off..n], op)?;
                let frame = off..off + len;
                off += (len + 3) & !3;
                if header.seq != seq || header.port != self.port_id {
                    continue; // a stale reply of an earlier request
                }
                let msg = NetlinkMessage::<I>::deserialize(&self.buf[frame]).map_err(|e| {
                    Error::Protocol {
                        operation: op,
                        reason: format!("undecodable reply: {e}"),
                    }
                })?;
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    NetlinkPayload::Error(e) => match e.code {
                        None if kind == RequestKind::Do => return Ok(replies),
                        None => {}
                        Some(code) => return Err(kernel_error(-code.get(), op)),
                    },
                    NetlinkPayload::Done(d) => {
                        if d.code != 0 {
                            return Err(kernel_error(-d.code, op));
                        }
                        return Ok(replies);
                    }
                    NetlinkPayload::Noop => {}
                    NetlinkPayload::Overrun(_) => {
                        return Err(Error::Protocol {
                            operation: op,
                            reason: "the kernel reported an overrun".into(),
                        })
                    }
                    _ => {}
                }
            }
        }
    }

    /// Receive one datagram into `self.buf`, returning its length.
    fn recv_datagram(&mut self, op: Operation) -> Result<usize> {
        self.buf.clear();
        let (n, from) = match self.socket.recv_from(&mut self.buf, libc::MSG_TRUNC) {
            Ok(r) => r,
            Err(e) => return Err(recv_error(e, op)),
        };
        if n > self.buf.capacity() {
            return Err(Error::Protocol {
                operation: op,
                reason: format!("reply datagram of {n} bytes truncated to {}", RECV_BUF),
            });
        }
        if from.port_number() != 0 {
            // Not from the kernel: ignore it.
            return Ok(0);
        }
        Ok(n)
    }

    fn send_ipvs(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<u32> {
        let seq = self.next_seq();
        let flags = NLM_F_REQUEST
            | match kind {
                RequestKind::Do => NLM_F_ACK,
                RequestKind::Dump => NLM_F_DUMP,
            };
        self.out.clear();
        encode_into(&mut self.out, msg, self.family_id, flags, seq);
        self.socket.send(&self.out, 0)?;
        Ok(seq)
    }
}

/// Where a reply frame belongs: its sequence number and destination port id.
struct FrameId {
    seq: u32,
    port: u32,
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

fn serialize<T>(payload: T, flags: u16, seq: u32) -> Vec<u8>
where
    T: NetlinkSerializable + std::fmt::Debug,
    NetlinkPayload<T>: From<T>,
{
    let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(payload));
    nl.header.flags = flags;
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// Append one framed IPVS request to `out`, without intermediate allocations.
fn encode_into(out: &mut Vec<u8>, msg: &IpvsMessage, family: u16, flags: u16, seq: u32) {
    use netlink_packet_core::Emitable;
    let payload = msg.buffer_len();
    let len = 16 + 4 + payload;
    let start = out.len();
    out.resize(start + len, 0);
    let b = &mut out[start..];
    b[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&family.to_ne_bytes());
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // bytes 12..16: port id 0 (the kernel fills in ours)
    b[16] = u8::from(msg.cmd);
    b[17] = crate::wire::IPVS_GENL_VERSION;
    msg.emit(&mut b[20..]);
}

fn kernel_error(errno: i32, op: Operation) -> Error {
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

impl Transport for KernelTransport {
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        let seq = self.send_ipvs(msg, kind)?;
        let replies: Vec<GenlMessage<IpvsMessage>> = self.receive(seq, kind, Operation::Other)?;
        Ok(replies.into_iter().map(|g| g.payload).collect())
    }

    fn request_batch(&mut self, msgs: &[IpvsMessage]) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        let mut results: Vec<Result<Vec<IpvsMessage>>> = Vec::with_capacity(msgs.len());
        let mut start = 0;
        while start < msgs.len() {
            // Pack as many requests as fit in one datagram.
            self.out.clear();
            let first_seq = self.seq.wrapping_add(1);
            let mut end = start;
            while end < msgs.len() && (end == start || self.out.len() < BATCH_BYTES) {
                let seq = self.next_seq();
                let m = &msgs[end];
                encode_into(
                    &mut self.out,
                    m,
                    self.family_id,
                    NLM_F_REQUEST | NLM_F_ACK,
                    seq,
                );
                end += 1;
            }
            self.socket.send(&self.out, 0)?;
            // One ack (or error) per request, in order; replies before an ack belong to it.
            let count = end - start;
            let mut pending: Vec<IpvsMessage> = Vec::new();
            let mut done = 0;
            while done < count {
                let n = self.recv_datagram(Operation::Other)?;
                let mut off = 0;
                while off < n {
                    let (header, len) = frame_at(&self.buf[off..n], Operation::Other)?;
                    let frame = off..off + len;
                    off += (len + 3) & !3;
                    let idx = header.seq.wrapping_sub(first_seq) as usize;
                    if idx >= count || header.port != self.port_id {
                        continue;
                    }
                    let msg =
                        NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(&self.buf[frame])
                            .map_err(|e| Error::Protocol {
                            operation: Operation::Other,
                            reason: format!("undecodable reply: {e}"),
                        })?;
                    match msg.payload {
                        NetlinkPayload::InnerMessage(m) => pending.push(m.payload),
                        NetlinkPayload::Error(e) => {
                            if idx != done {
                                return Err(Error::Protocol {
                                    operation: Operation::Other,
                                    reason: format!(
                                        "acknowledgement for request {idx} arrived while \
                                         waiting for request {done}"
                                    ),
                                });
                            }
                            results.push(match e.code {
                                None => Ok(std::mem::take(&mut pending)),
                                Some(c) => Err(kernel_error(-c.get(), Operation::Other)),
                            });
                            pending.clear();
                            done += 1;
                        }
                        _ => {}
                    }
                }
            }
            start = end;
        }
        Ok(results)
    }
}
