//! The kernel backend: one generic netlink socket per handle, and a second one, opened on
//! first use, for service dumps.
//!
//! - The `IPVS` family id is resolved once, when the handle opens, and cached.
//! - Every reply's sequence number and port id are checked; stale replies (of a request that
//!   timed out, say) are dropped.
//! - Writes are acknowledged (`NLM_F_ACK`) and matched to their request; dumps are read to
//!   `NLMSG_DONE` across as many datagrams as it takes.
//! - A truncated datagram or `ENOBUFS` (the kernel dropped replies) is an error, never a
//!   silent loss; a receive timeout bounds every call.
//! - Batches pipeline many requests per `sendmsg`, each with its own sequence number. Only
//!   the last request of each datagram asks for an acknowledgement: the kernel answers any
//!   refused request anyway, and handles a datagram's requests in order, so the one
//!   acknowledgement tells that every request before it was handled, and each that no
//!   refusal names was applied (and the kernel builds one acknowledgement per datagram, not
//!   one per request).
//! - Service dumps go to a socket of their own that offers 32 KiB datagrams, everything else
//!   to the main socket, which offers `NLMSG_GOODSIZE`: why, with the measurements, in
//!   `BENCHMARKS.md`, "Dump datagram sizes: two sockets".

use std::path::{Path, PathBuf};
use std::time::Duration;

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::protocols::NETLINK_GENERIC;

use super::{RequestKind, Transport};
use crate::error::{Error, Operation, Result};
use crate::netlink::{dump_frame, goodsize, Acks, Answer, BatchAcks, NlSocket, SLOTS};
use crate::wire::{IpvsCmd, IpvsMessage, IPVS_GENL_NAME};

/// How many request bytes a batch puts in one `sendmsg`.
pub(super) const BATCH_BYTES: usize = 32 * 1024;
/// At most this many requests per datagram: the kernel queues one acknowledgement per
/// request before we read any, and drops what does not fit (ENOBUFS).
pub(super) const BATCH_REQUESTS: usize = 128;
/// The receive buffer one queued acknowledgement takes, with the kernel's overhead (an
/// upper bound): a small receive buffer gets fewer requests per datagram.
const ACK_TRUESIZE: usize = 1024;
/// Default socket receive buffer requested for dumps (`SO_RCVBUF`; the kernel caps it at
/// `net.core.rmem_max`).
pub(super) const DEFAULT_RCVBUF: usize = 4 * 1024 * 1024;

/// The buffer the service-dump socket offers per datagram: the kernel's cap for a dump
/// datagram (`SKB_WITH_OVERHEAD(32768)`), rounded up.
const BULK_SLOT: usize = 32 * 1024;
/// How many of those one `recvmmsg` takes.
const BULK_SLOTS: usize = 8;

/// The least time a sync daemon start or stop waits for its acknowledgement.
pub const DAEMON_TIMEOUT: Duration = Duration::from_secs(60);

/// Options for opening a [`KernelTransport`].
#[derive(Debug, Clone)]
#[must_use]
pub struct KernelTransportBuilder {
    timeout: Duration,
    rcvbuf: usize,
    netns: Option<PathBuf>,
    /// A namespace name that is not one (reported by `open`).
    bad_name: Option<crate::error::InvalidError>,
}

impl Default for KernelTransportBuilder {
    fn default() -> Self {
        KernelTransportBuilder {
            timeout: Duration::from_secs(10),
            rcvbuf: DEFAULT_RCVBUF,
            netns: None,
            bad_name: None,
        }
    }
}

impl KernelTransportBuilder {
    /// How long to wait for each datagram of a reply (default 10 s). Starting and stopping
    /// a sync daemon waits for a kernel thread, which can be slow on a loaded host: those
    /// two requests wait at least [`DAEMON_TIMEOUT`].
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
    /// `ip netns add` creates). A name that is a path (`/`, `.`, `..`) makes
    /// [`open`](Self::open) fail with [`InvalidError::BadName`](crate::InvalidError).
    pub fn netns_name(mut self, name: &str) -> Self {
        if let Err(e) = crate::model::check_netns_name(name) {
            self.bad_name = Some(e);
        }
        self.netns_path(Path::new("/run/netns").join(name))
    }

    /// Open the socket in the network namespace at `path` (for example `/proc/PID/ns/net`).
    pub fn netns_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.netns = Some(path.into());
        self
    }

    /// Open the socket, bind it and resolve the `IPVS` family.
    pub fn open(self) -> Result<KernelTransport> {
        if let Some(e) = self.bad_name {
            return Err(e.into());
        }
        let sock = NlSocket::open(
            NETLINK_GENERIC,
            self.netns.as_deref(),
            self.timeout,
            self.rcvbuf,
        )?;
        // The namespace, held for siblings: the one named, or the calling thread's.
        let netns = std::fs::File::open(
            self.netns
                .as_deref()
                .unwrap_or(Path::new("/proc/thread-self/ns/net")),
        )
        .ok();
        KernelTransport::from_socket(sock, self.timeout, self.rcvbuf, netns)
    }
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
    sock: NlSocket,
    family_id: u16,
    out: Vec<u8>,
    timeout: Duration,
    /// The receive buffer asked for (what a sibling asks for too).
    rcvbuf: usize,
    /// The network namespace the socket was opened in, held open for opening siblings in
    /// it (`None` if it could not be opened).
    netns: Option<std::fs::File>,
    /// The service-dump socket (large datagrams), once opened.
    bulk: Bulk,
}

/// How many verification dumps may follow a service dump that listed a service.
///
/// The kernel makes a dump in calls of its dump function, each resuming from a position in
/// its service table (a dump that lists anything takes at least two: the last finds nothing
/// more and ends it), and nothing flags a dump that a change of that table cut across (no
/// `NLM_F_DUMP_INTR`). Two changes the caller does not see make it skip services:
/// - up to 6.x the table is one for all network namespaces, and the position counts the
///   services of every namespace: another namespace's services coming or going between two
///   calls (a namespace being deleted, say) shift it. Seen on 5.10.223: 1 of 300 missing,
///   and 101 of 150 listed by a dump that fitted in one datagram, right after another
///   namespace with 150 services was deleted;
/// - on 7.x each namespace's table is resized by the kernel on its own, shortly after it
///   grew or shrank. Seen on 7.2.13: 30 to 36 of 150 services missing from about one read
///   in four made within 20 ms of a batch that added them.
///
/// So a service dump that listed anything is followed by one that only looks for services
/// the first did not list (handed on as if they had come last); the dumps stop as soon as
/// one adds nothing. A table read thus makes one more service dump (the destination dumps
/// are unchanged).
pub(crate) const VERIFY_DUMPS: usize = 4;

/// The state of a transport's service-dump socket.
#[derive(Debug)]
enum Bulk {
    /// Not needed yet.
    Unopened,
    Open(NlSocket),
    /// Could not be opened (no namespace file, no file descriptor left): service dumps use
    /// the main socket.
    Unavailable,
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

    fn from_socket(
        sock: NlSocket,
        timeout: Duration,
        rcvbuf: usize,
        netns: Option<std::fs::File>,
    ) -> Result<KernelTransport> {
        let mut sock = sock;
        sock.set_slots(goodsize(), SLOTS);
        let mut t = KernelTransport {
            sock,
            family_id: 0,
            out: Vec::new(),
            timeout,
            rcvbuf,
            netns,
            bulk: Bulk::Unopened,
        };
        t.family_id = t.resolve_family()?;
        Ok(t)
    }

    /// Open a second transport on this one's network namespace (the one it was opened in,
    /// whatever namespace the calling thread is in now), with the same timeout and receive
    /// buffer.
    ///
    /// When that namespace is the calling thread's, the new socket is simply opened;
    /// otherwise it is opened from a thread that enters the namespace, which needs
    /// `CAP_SYS_ADMIN` as [`KernelTransportBuilder::netns_path`] does.
    pub fn open_sibling(&self) -> Result<KernelTransport> {
        let ns = self.netns.as_ref().ok_or_else(no_netns)?;
        let mut sock = self.open_socket()?;
        sock.set_slots(goodsize(), SLOTS);
        Ok(KernelTransport {
            sock,
            // Generic netlink family ids are the same in every namespace.
            family_id: self.family_id,
            out: Vec::new(),
            timeout: self.timeout,
            rcvbuf: self.rcvbuf,
            netns: ns.try_clone().ok(),
            bulk: Bulk::Unopened,
        })
    }

    /// A new socket in this transport's network namespace, with its timeout and receive
    /// buffer.
    fn open_socket(&self) -> Result<NlSocket> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let ns = self.netns.as_ref().ok_or_else(no_netns)?;
        let theirs = ns.metadata()?;
        let ours = std::fs::metadata("/proc/thread-self/ns/net")?;
        let path = (theirs.ino() != ours.ino() || theirs.dev() != ours.dev())
            .then(|| PathBuf::from(format!("/proc/self/fd/{}", ns.as_raw_fd())));
        NlSocket::open(NETLINK_GENERIC, path.as_deref(), self.timeout, self.rcvbuf)
    }

    /// The socket for `msg` sent as `kind`: service dumps go to the service-dump socket
    /// (opened now if need be; the main socket if it cannot be), everything else to the
    /// main socket.
    fn socket_for(&mut self, msg: &IpvsMessage, kind: RequestKind) -> &mut NlSocket {
        if kind != RequestKind::Dump || msg.cmd != IpvsCmd::GetService {
            return &mut self.sock;
        }
        if matches!(self.bulk, Bulk::Unopened) {
            let family = self.family_id;
            self.bulk = match self.open_socket().and_then(|mut sock| {
                sock.set_slots(BULK_SLOT, BULK_SLOTS);
                prime(&mut sock, family)?;
                Ok(sock)
            }) {
                Ok(sock) => Bulk::Open(sock),
                Err(_) => Bulk::Unavailable,
            };
        }
        match &mut self.bulk {
            Bulk::Open(sock) => sock,
            _ => &mut self.sock,
        }
    }

    /// The resolved `IPVS` generic netlink family id.
    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    fn resolve_family(&mut self) -> Result<u16> {
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_owned())],
        };
        let mut genl = GenlMessage::from_payload(ctrl);
        genl.finalize();
        let seq = self.sock.send_message(genl, NLM_F_REQUEST | NLM_F_ACK)?;
        let replies: Vec<GenlMessage<GenlCtrl>> =
            match self
                .sock
                .receive(seq, Answer::Ack, Operation::ResolveFamily)
            {
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

    fn request_inner(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        let (seq, sock) = self.send_ipvs(msg, kind)?;
        let answer = match kind {
            RequestKind::Do => Answer::Ack,
            RequestKind::Dump => Answer::Dump,
        };
        let replies: Vec<GenlMessage<IpvsMessage>> = sock.receive(seq, answer, Operation::Other)?;
        Ok(replies.into_iter().map(|g| g.payload).collect())
    }

    /// How many requests one batch datagram carries: as many acknowledgements as the
    /// granted receive buffer holds, at most [`BATCH_REQUESTS`].
    fn per_datagram(&self) -> usize {
        (self.sock.receive_buffer() / ACK_TRUESIZE).clamp(1, BATCH_REQUESTS)
    }

    /// Send one datagram of `count` requests numbered from `first_seq` on, and read one
    /// acknowledgement (or refusal) per request, in order, into `results`; replies before an
    /// acknowledgement belong to its request.
    fn send_and_ack(
        &mut self,
        datagram: &[u8],
        (first_seq, count, acks): (u32, usize, Acks),
        results: &mut Vec<Result<Vec<IpvsMessage>>>,
    ) -> Result<()> {
        self.sock.send(datagram)?;
        let mut acks = BatchAcks::new(first_seq, count, self.sock.port_id, acks, results);
        let r = (|| {
            while !acks.complete() {
                self.sock.recv_many(Operation::Other)?;
                for i in 0..self.sock.mlens.len() {
                    acks.datagram(self.sock.datagram(i))?;
                }
            }
            Ok(())
        })();
        // Given up on (a timeout, ENOBUFS): the rest of the batch's answers are drained.
        self.sock.settle(acks.pending(), r)
    }

    /// Send `msg` as `kind` on the socket it goes to; its sequence number and that socket.
    fn send_ipvs(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<(u32, &mut NlSocket)> {
        let flags = NLM_F_REQUEST
            | match kind {
                RequestKind::Do => NLM_F_ACK,
                RequestKind::Dump => NLM_F_DUMP,
            };
        let (family, mut out) = (self.family_id, std::mem::take(&mut self.out));
        let sent = send_on(self.socket_for(msg, kind), &mut out, msg, family, flags);
        self.out = out;
        Ok((sent?, self.socket_for(msg, kind)))
    }
}

/// Frame `msg` with `flags` and the socket's next sequence number in `out`, send it on
/// `sock`, and return the sequence number.
fn send_on(
    sock: &mut NlSocket,
    out: &mut Vec<u8>,
    msg: &IpvsMessage,
    family: u16,
    flags: u16,
) -> Result<u32> {
    let seq = sock.next_seq();
    out.clear();
    encode_into(out, msg, family, flags, seq);
    sock.send(out)?;
    Ok(seq)
}

/// Make `sock` a large-datagram socket from its first dump on: the kernel sizes a socket's
/// dump datagrams to the largest buffer a reply was ever received into, and until then to
/// `NLMSG_GOODSIZE`. So one small request (`GET_INFO`) is read with the large buffer first.
/// Without it, the first service dump of every handle would take two datagrams where one
/// does for up to about 90 services, and a dump read in several datagrams can skip
/// services when any namespace adds or deletes services between two of them (the kernel
/// resumes a service dump by position in a table all namespaces share).
fn prime(sock: &mut NlSocket, family: u16) -> Result<()> {
    let msg = IpvsMessage::get_info();
    let seq = send_on(
        sock,
        &mut Vec::new(),
        &msg,
        family,
        NLM_F_REQUEST | NLM_F_ACK,
    )?;
    let _: Vec<GenlMessage<IpvsMessage>> = sock.receive(seq, Answer::Ack, Operation::Other)?;
    Ok(())
}

fn no_netns() -> Error {
    Error::Io(std::io::Error::other(
        "the transport's network namespace is not known (no /proc)",
    ))
}

/// Pack requests `start..` (of `count`) into one datagram in `out` with `encode`, which
/// frames request `i` with the flags it is given: at least one, then as many as fit in
/// [`BATCH_BYTES`] and `per_datagram`, asking for acknowledgements as `acks` says
/// ([`crate::netlink::ack_last`]); returns where it stopped.
fn pack(
    out: &mut Vec<u8>,
    (start, count): (usize, usize),
    per_datagram: usize,
    acks: Acks,
    mut encode: impl FnMut(&mut Vec<u8>, usize, u16),
) -> usize {
    let flags = match acks {
        Acks::Each => NLM_F_REQUEST | NLM_F_ACK,
        Acks::Last => NLM_F_REQUEST,
    };
    let (mut end, mut last) = (start, out.len());
    while end < count && (end == start || (out.len() < BATCH_BYTES && end - start < per_datagram)) {
        last = out.len();
        encode(out, end, flags);
        end += 1;
    }
    if acks == Acks::Last {
        crate::netlink::ack_last(out, last);
    }
    end
}

/// From this many requests on, the kernel transport's
/// [`Transport::request_batch_with`] (what [`Ipvs::apply`](crate::Ipvs::apply) uses) builds
/// and frames the requests on a second, scoped thread, a datagram at a time, while the
/// calling thread sends the datagrams before and reads their acknowledgements; smaller
/// batches are built first, then sent, on the calling thread.
///
/// Why this value: a batch datagram carries at most 128 requests, so a smaller batch is at
/// most 32 datagrams, a few milliseconds of kernel work, against which starting a thread and
/// handing datagrams across gain little; from here on, building the requests is a cost
/// worth overlapping. It is a round number in that range, not a measured optimum. A caller
/// that sends its own batches in chunks (the drop-in `ipvsadm -R`) makes them at least this
/// large to keep the overlap.
pub const PIPELINE_MIN: usize = 4096;
/// How many framed datagrams wait, at most, for their turn.
const PIPELINE_DEPTH: usize = 4;

/// Append one framed IPVS request to `out`, without intermediate allocations.
pub(super) fn encode_into(out: &mut Vec<u8>, msg: &IpvsMessage, family: u16, flags: u16, seq: u32) {
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

/// The netlink socket, for polling it or setting socket options this crate does not set.
/// Reading from it directly would take replies the transport is waiting for.
impl std::os::fd::AsFd for KernelTransport {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.sock.socket)
    }
}

impl KernelTransport {
    /// One dump, each reply message handed to `f`.
    fn dump_once(
        &mut self,
        msg: &IpvsMessage,
        f: &mut dyn FnMut(u8, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let family = self.family_id;
        let (seq, sock) = self.send_ipvs(msg, RequestKind::Dump)?;
        // After an error from `f`, the rest of the dump is still read (and dropped).
        sock.receive_frames(seq, Answer::Dump, Operation::Other, &mut |frame| {
            dump_frame(frame, family, f)
        })
    }

    /// A service dump, verified: see [`VERIFY_DUMPS`].
    fn verified_service_dump(
        &mut self,
        msg: &IpvsMessage,
        f: &mut dyn FnMut(u8, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut check = super::ServiceDumpCheck::default();
        self.dump_once(msg, &mut |cmd, attrs| {
            check.first(attrs);
            f(cmd, attrs)
        })?;
        if !check.needed() {
            return Ok(());
        }
        for _ in 0..VERIFY_DUMPS {
            check.start_round();
            self.dump_once(msg, &mut |cmd, attrs| {
                if check.is_new(attrs) {
                    f(cmd, attrs)?;
                }
                Ok(())
            })?;
            if !check.found_more() {
                break;
            }
        }
        Ok(())
    }
}

impl Transport for KernelTransport {
    fn sibling(&mut self) -> Option<Box<dyn Transport>> {
        Some(Box::new(self.open_sibling().ok()?))
    }

    /// Probes the running kernel without touching this transport's table: see
    /// [`Capabilities`](crate::Capabilities) and the crate's `transport::probe` notes (a scratch network
    /// namespace, which needs `CAP_SYS_ADMIN`, for what must be tried; files for the
    /// modules; the version's expected values where neither can tell).
    fn capabilities(&mut self) -> Result<crate::model::Capabilities> {
        super::probe::capabilities(self)
    }

    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        let r = if matches!(msg.cmd, IpvsCmd::NewDaemon | IpvsCmd::DelDaemon)
            && self.timeout < DAEMON_TIMEOUT
        {
            self.sock.set_timeout(DAEMON_TIMEOUT)?;
            let r = self.request_inner(msg, kind);
            self.sock.set_timeout(self.timeout)?;
            r
        } else {
            self.request_inner(msg, kind)
        };
        r.map_err(|e| super::name_missing_module(msg, e, &super::probe::kernel_has_module))
    }

    fn dump_each(
        &mut self,
        msg: &IpvsMessage,
        f: &mut dyn FnMut(u8, &[u8]) -> Result<()>,
    ) -> Result<()> {
        if msg.cmd == IpvsCmd::GetService && msg.attrs.is_empty() {
            return self.verified_service_dump(msg, f);
        }
        self.dump_once(msg, f)
    }

    fn request_batch(&mut self, msgs: &[IpvsMessage]) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        let mut results: Vec<Result<Vec<IpvsMessage>>> = Vec::with_capacity(msgs.len());
        let per_datagram = self.per_datagram();
        let acks = self.sock.batch_acks();
        let first_seq = self.sock.reserve_seqs(msgs.len());
        let mut out = std::mem::take(&mut self.out);
        let mut start = 0;
        let r = (|| {
            while start < msgs.len() {
                out.clear();
                let end = pack(
                    &mut out,
                    (start, msgs.len()),
                    per_datagram,
                    acks,
                    |out, i, flags| {
                        let seq = first_seq.wrapping_add(i as u32);
                        encode_into(out, &msgs[i], self.family_id, flags, seq)
                    },
                );
                let first = first_seq.wrapping_add(start as u32);
                self.send_and_ack(&out, (first, end - start, acks), &mut results)?;
                start = end;
            }
            Ok(())
        })();
        self.out = out;
        r.map(|()| name_missing_modules(results, |i| msgs[i].clone()))
    }

    /// From [`PIPELINE_MIN`] requests on, the requests are built and framed on a scoped
    /// thread, a datagram at a time (at most four datagrams ahead), while this thread
    /// sends each datagram and reads its acknowledgements: the kernel's work on one
    /// datagram overlaps with the building of the next.
    fn request_batch_with(
        &mut self,
        count: usize,
        build: &(dyn Fn(usize) -> IpvsMessage + Sync),
    ) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        if count < PIPELINE_MIN {
            let msgs: Vec<IpvsMessage> = (0..count).map(build).collect();
            return self.request_batch(&msgs);
        }
        let mut results: Vec<Result<Vec<IpvsMessage>>> = Vec::with_capacity(count);
        let per_datagram = self.per_datagram();
        let acks = self.sock.batch_acks();
        let first_seq = self.sock.reserve_seqs(count);
        let family = self.family_id;
        std::thread::scope(|s| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize, usize)>(PIPELINE_DEPTH);
            s.spawn(move || {
                let mut start = 0;
                while start < count {
                    let mut out = Vec::with_capacity(BATCH_BYTES + 1024);
                    let end = pack(
                        &mut out,
                        (start, count),
                        per_datagram,
                        acks,
                        |out, i, flags| {
                            let seq = first_seq.wrapping_add(i as u32);
                            encode_into(out, &build(i), family, flags, seq)
                        },
                    );
                    // A closed channel: the sender stopped (a transport failure).
                    if tx.send((out, start, end - start)).is_err() {
                        break;
                    }
                    start = end;
                }
            });
            for (out, start, n) in rx {
                let first = first_seq.wrapping_add(start as u32);
                self.send_and_ack(&out, (first, n, acks), &mut results)?;
            }
            Ok(())
        })?;
        Ok(name_missing_modules(results, build))
    }
}

/// Name the missing module of every service write of a batch refused with ENOENT (see
/// [`name_missing_module`](super::name_missing_module)); `msg(i)` rebuilds request `i`, for
/// those only.
pub(crate) fn name_missing_modules(
    mut results: Vec<Result<Vec<IpvsMessage>>>,
    msg: impl Fn(usize) -> IpvsMessage,
) -> Vec<Result<Vec<IpvsMessage>>> {
    for (i, r) in results.iter_mut().enumerate() {
        if matches!(r, Err(Error::Kernel(k)) if k.errno == libc::ENOENT) {
            if let Err(e) = std::mem::replace(r, Ok(Vec::new())) {
                let m = msg(i);
                *r = Err(super::name_missing_module(
                    &m,
                    e,
                    &super::probe::kernel_has_module,
                ));
            }
        }
    }
    results
}

#[cfg(test)]
mod tests {
    //! The transport over a fake kernel (`netlink::fake`): late, stale and undecodable
    //! answers, and the socket left clean for the next request.
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::netlink::fake::{self, ack, done, reply, undecodable, FakeKernel};

    fn transport(timeout: Duration) -> (KernelTransport, FakeKernel) {
        let (fd, kernel) = fake::pair();
        let sock = NlSocket::from_socket(fake::socket(fd), fake::PORT, timeout);
        let t = KernelTransport {
            sock,
            family_id: fake::FAMILY,
            out: Vec::new(),
            timeout,
            rcvbuf: 0,
            netns: None,
            bulk: Bulk::Unavailable,
        };
        (t, kernel)
    }

    fn write() -> IpvsMessage {
        IpvsMessage::flush()
    }

    #[test]
    fn a_late_answer_after_a_timeout_is_not_the_next_requests() {
        let (mut t, kernel) = transport(Duration::from_millis(100));
        let (go, wait) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            s.spawn(move || {
                let a = kernel.request();
                wait.recv().unwrap();
                // A's acknowledgement comes after A timed out: A was applied.
                kernel.send(&[ack(a, 0)]);
                let b = kernel.request();
                kernel.send(&[ack(b, -libc::ENOENT)]);
                // C: a stale refusal of A and an answer to no request, then C's own.
                let c = kernel.request();
                kernel.send(&[ack(a, -libc::EPERM), ack(c + 100, -1), ack(c, 0)]);
            });
            let e = t.request(&write(), RequestKind::Do).unwrap_err();
            assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
            assert_eq!(t.sock.outstanding(), [1], "A is owed an answer");
            go.send(()).unwrap();
            // B is refused: its own answer, not A's late acknowledgement.
            let e = t.request(&write(), RequestKind::Do).unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT), "{e:?}");
            assert!(t.sock.outstanding().is_empty(), "A is over");
            assert_eq!(t.request(&write(), RequestKind::Do).unwrap(), []);
        });
        assert!(!fake::has_queued(&t), "nothing left unread");
    }

    #[test]
    fn a_dump_is_read_to_its_end_after_an_undecodable_frame() {
        let (mut t, kernel) = transport(Duration::from_secs(5));
        let pause = Duration::from_millis(150);
        std::thread::scope(|s| {
            s.spawn(move || {
                for _ in 0..2 {
                    let d = kernel.request();
                    let info = || reply(d, IpvsMessage::get_info());
                    kernel.send(&[info(), undecodable(d), info()]);
                    std::thread::sleep(pause);
                    kernel.send(&[info(), done(d)]);
                    let e = kernel.request();
                    kernel.send(&[ack(e, 0)]);
                }
            });
            // The fast path (dump_each) and the decoding one (request).
            let start = Instant::now();
            let mut seen = 0;
            let e = t
                .dump_each(&IpvsMessage::get_info(), &mut |_, _| {
                    seen += 1;
                    Ok(())
                })
                .unwrap_err();
            assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
            assert_eq!(seen, 1, "the frames after the undecodable one are dropped");
            assert!(
                start.elapsed() >= pause,
                "returned before the end of the dump"
            );
            assert!(!fake::has_queued(&t));
            assert_eq!(t.request(&write(), RequestKind::Do).unwrap(), []);
            let start = Instant::now();
            let e = t
                .request(&IpvsMessage::get_info(), RequestKind::Dump)
                .unwrap_err();
            assert!(
                matches!(e, Error::Protocol { ref reason, .. } if reason.contains("undecodable")),
                "{e:?}"
            );
            assert!(
                start.elapsed() >= pause,
                "returned before the end of the dump"
            );
            assert!(!fake::has_queued(&t));
            assert_eq!(t.request(&write(), RequestKind::Do).unwrap(), []);
        });
        assert!(t.sock.outstanding().is_empty());
    }

    #[test]
    fn a_batch_given_up_on_is_drained_before_the_next_request() {
        let (mut t, kernel) = transport(Duration::from_millis(100));
        let (go, wait) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            let near = std::os::fd::AsFd::as_fd(&t).try_clone_to_owned().unwrap();
            s.spawn(move || {
                // Three requests; only the first one's answer before the timeout.
                let seqs = kernel.requests();
                assert_eq!(seqs.len(), 3);
                kernel.send(&[ack(seqs[0], 0)]);
                wait.recv().unwrap();
                kernel.send(&[ack(seqs[1], 0), ack(seqs[2], -libc::EEXIST)]);
                let next = kernel.request();
                // Sent after the late answers were drained (after ENOBUFS, the kernel
                // would have dropped its answer).
                assert!(!fake::has_queued(&near), "sent before draining");
                kernel.send(&[ack(next, -libc::ESRCH)]);
            });
            let msgs = [write(), write(), write()];
            let e = t.request_batch(&msgs).unwrap_err();
            assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
            assert_eq!(t.sock.outstanding(), [3]);
            go.send(()).unwrap();
            // The late answers wait in the queue until the next request drains them.
            std::thread::sleep(Duration::from_millis(50));
            assert!(fake::has_queued(&t));
            let e = t.request(&write(), RequestKind::Do).unwrap_err();
            assert_eq!(e.errno(), Some(libc::ESRCH), "{e:?}");
            assert!(t.sock.outstanding().is_empty());
        });
    }
}
