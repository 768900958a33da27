//! Async transports (feature `tokio`): [`AsyncTransport`], the async counterpart of
//! [`Transport`](super::Transport), with [`TokioTransport`] over netlink-sys's tokio socket
//! and, with feature `mock`, the in-memory [`MockKernel`](super::MockKernel).
//!
//! The messages, the framing and the checks are those of the blocking
//! [`KernelTransport`](super::KernelTransport): the `IPVS` family id is resolved once,
//! every reply's sequence number and port id are checked, writes are acknowledged, dumps are
//! read to `NLMSG_DONE`, batches are pipelined (many requests per datagram), and every wait
//! for a datagram is bounded by the timeout.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::protocols::NETLINK_GENERIC;
use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket};

use super::kernel::{encode_into, BATCH_BYTES, BATCH_REQUESTS, DAEMON_TIMEOUT, DEFAULT_RCVBUF};
use super::RequestKind;
use crate::error::{Error, Operation, Result};
use crate::netlink::{
    decode_reply, dump_frame, in_netns, Acks, Answer, BatchAcks, Pending, Recovery, Reply,
    DRAIN_LIMIT, RECV_BUF,
};
use crate::wire::{IpvsCmd, IpvsMessage, IPVS_GENL_NAME};

/// Something that carries IPVS requests to a kernel (real or mock) and brings back replies,
/// without blocking the caller's executor: the async counterpart of
/// [`Transport`](super::Transport), with the same contract for each method.
///
/// The futures are `Send`, so a handle can be used from any task of a multi-threaded
/// runtime.
pub trait AsyncTransport: Send {
    /// Send one request and return its reply messages (none for a plain acknowledged write).
    /// A kernel refusal is `Err(Error::Kernel(ctx))` with `ctx.errno` set.
    fn request(
        &mut self,
        msg: &IpvsMessage,
        kind: RequestKind,
    ) -> impl Future<Output = Result<Vec<IpvsMessage>>> + Send;

    /// Send many `do` requests and return one result per request, in order; an outer `Err`
    /// means the transport itself failed (see
    /// [`Transport::request_batch`](super::Transport::request_batch)).
    fn request_batch(
        &mut self,
        msgs: &[IpvsMessage],
    ) -> impl Future<Output = Result<Vec<Result<Vec<IpvsMessage>>>>> + Send;

    /// Send a dump request and hand each reply message to `f` as its command and attribute
    /// bytes (see [`Transport::dump_each`](super::Transport::dump_each)).
    fn dump_each(
        &mut self,
        msg: &IpvsMessage,
        f: &mut (dyn FnMut(u8, &[u8]) -> Result<()> + Send),
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The mock answers at once: its futures are ready when created.
#[cfg(feature = "mock")]
impl AsyncTransport for super::MockKernel {
    fn request(
        &mut self,
        msg: &IpvsMessage,
        kind: RequestKind,
    ) -> impl Future<Output = Result<Vec<IpvsMessage>>> + Send {
        std::future::ready(super::Transport::request(self, msg, kind))
    }

    fn request_batch(
        &mut self,
        msgs: &[IpvsMessage],
    ) -> impl Future<Output = Result<Vec<Result<Vec<IpvsMessage>>>>> + Send {
        std::future::ready(super::Transport::request_batch(self, msgs))
    }

    fn dump_each(
        &mut self,
        msg: &IpvsMessage,
        f: &mut (dyn FnMut(u8, &[u8]) -> Result<()> + Send),
    ) -> impl Future<Output = Result<()>> + Send {
        std::future::ready(super::Transport::dump_each(self, msg, f))
    }
}

/// Options for opening a [`TokioTransport`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TokioTransportBuilder {
    timeout: Duration,
    rcvbuf: usize,
    netns: Option<PathBuf>,
}

impl Default for TokioTransportBuilder {
    fn default() -> Self {
        TokioTransportBuilder {
            timeout: Duration::from_secs(10),
            rcvbuf: DEFAULT_RCVBUF,
            netns: None,
        }
    }
}

impl TokioTransportBuilder {
    /// How long to wait for each datagram of a reply (default 10 s; sync daemon start and
    /// stop wait at least [`DAEMON_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The socket receive buffer to ask for (default 4 MiB, capped by the kernel at
    /// `net.core.rmem_max` without `CAP_NET_ADMIN`).
    pub fn receive_buffer(mut self, bytes: usize) -> Self {
        self.rcvbuf = bytes;
        self
    }

    /// Open the socket in the network namespace named `name` (under `/run/netns`).
    pub fn netns_name(self, name: &str) -> Self {
        self.netns_path(Path::new("/run/netns").join(name))
    }

    /// Open the socket in the network namespace at `path` (for example `/proc/PID/ns/net`).
    pub fn netns_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.netns = Some(path.into());
        self
    }

    /// Open the socket, bind it and resolve the `IPVS` family. Must be called from a tokio
    /// runtime with I/O and time enabled (`enable_all`).
    pub async fn open(self) -> Result<TokioTransport> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let make = || -> Result<TokioSocket> {
            let _runtime = handle.enter();
            Ok(TokioSocket::new(NETLINK_GENERIC)?)
        };
        let mut sock = match &self.netns {
            None => make()?,
            Some(path) => in_netns(path, make)?,
        };
        let socket = sock.socket_mut();
        let addr = socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        socket.set_cap_ack(true)?;
        if nix::sys::socket::setsockopt(
            &*socket,
            nix::sys::socket::sockopt::RcvBufForce,
            &self.rcvbuf,
        )
        .is_err()
        {
            socket.set_rx_buf_sz(self.rcvbuf)?;
        }
        let mut t = TokioTransport {
            sock,
            port_id: addr.port_number(),
            seq: 0,
            family_id: 0,
            timeout: self.timeout,
            out: Vec::new(),
            buf: Vec::with_capacity(RECV_BUF),
            recovery: Recovery::default(),
        };
        t.family_id = t.resolve_family().await?;
        Ok(t)
    }
}

/// An [`AsyncTransport`] over a generic netlink socket registered with tokio (netlink-sys's
/// `TokioSocket`).
///
/// ```no_run
/// # async fn demo() -> lvs::Result<()> {
/// use lvs::transport::{AsyncTransport, RequestKind, TokioTransport};
/// use lvs::wire::IpvsMessage;
/// let mut t = TokioTransport::open().await?;
/// let info = t.request(&IpvsMessage::get_info(), RequestKind::Do).await?;
/// println!("IPVS {}", info[0].info()?.version);
/// # Ok(())
/// # }
/// ```
pub struct TokioTransport {
    sock: TokioSocket,
    port_id: u32,
    seq: u32,
    family_id: u16,
    timeout: Duration,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// The requests given up on before their last answer: drained as the blocking
    /// transport drains them (see `netlink::recovery`).
    recovery: Recovery,
}

impl std::fmt::Debug for TokioTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioTransport")
            .field("port_id", &self.port_id)
            .field("family_id", &self.family_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TokioTransport {
    /// Open a transport in the caller's network namespace with default options.
    pub async fn open() -> Result<TokioTransport> {
        TokioTransportBuilder::default().open().await
    }

    /// Options for opening a transport (timeout, receive buffer, network namespace).
    pub fn builder() -> TokioTransportBuilder {
        TokioTransportBuilder::default()
    }

    /// The resolved `IPVS` generic netlink family id.
    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Send `self.out`, after draining what requests given up on may have left queued.
    async fn send_out(&mut self) -> Result<()> {
        if self.recovery.needs_drain() {
            self.drain();
        }
        self.sock.send(&self.out).await?;
        Ok(())
    }

    /// Discard every datagram already queued, without waiting, telling the recovery what
    /// they answered (the socket is non-blocking): after `ENOBUFS` the kernel drops
    /// everything sent to the socket until its queue has been emptied.
    fn drain(&mut self) {
        let port = self.port_id;
        for _ in 0..DRAIN_LIMIT {
            self.buf.clear();
            match self
                .sock
                .socket_ref()
                .recv_from(&mut self.buf, libc::MSG_DONTWAIT)
            {
                Ok((_, from)) if from.port_number() == 0 => self.recovery.drained(&self.buf, port),
                Ok(_) => {}
                Err(e) if Recovery::drain_goes_on(&e) => {}
                Err(_) => break,
            }
        }
        self.buf.clear();
    }

    /// The outcome `r` of reading the answers `p` waited for, through the recovery: the
    /// socket is drained at once if they were given up on.
    fn settle<T>(&mut self, p: Pending, r: Result<T>) -> Result<T> {
        let r = self.recovery.settle(p, r);
        if self.recovery.needs_drain() {
            self.drain();
        }
        r
    }

    /// Receive one datagram from the kernel into `self.buf` (others are dropped).
    async fn recv(&mut self, timeout: Duration, op: Operation) -> Result<()> {
        loop {
            self.buf.clear();
            let from = tokio::time::timeout(timeout, self.sock.recv_from(&mut self.buf))
                .await
                .map_err(|_| Error::Timeout { operation: op })?
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::ENOBUFS) => Error::Protocol {
                        operation: op,
                        reason: "the kernel dropped replies (ENOBUFS): the receive buffer \
                                 overflowed"
                            .into(),
                    },
                    _ => Error::Io(e),
                })?;
            if self.buf.len() >= RECV_BUF {
                return Err(Error::Protocol {
                    operation: op,
                    reason: format!(
                        "a reply datagram filled {RECV_BUF} bytes and may be truncated"
                    ),
                });
            }
            if from.port_number() == 0 {
                return Ok(());
            }
        }
    }

    /// One dump, each reply message handed to `f`.
    async fn dump_once(
        &mut self,
        msg: &IpvsMessage,
        f: &mut (dyn FnMut(u8, &[u8]) -> Result<()> + Send),
    ) -> Result<()> {
        let seq = self.encode(msg, RequestKind::Dump);
        self.send_out().await?;
        let family = self.family_id;
        // After an error from `f`, the rest of the dump is still read (and dropped).
        let timeout = self.timeout;
        self.receive(seq, Answer::Dump, timeout, Operation::Other, &mut |frame| {
            dump_frame(frame, family, f)
        })
        .await
    }

    /// Read the replies of request `seq`, handing each data frame to `f`, until its ack or
    /// `NLMSG_DONE` (see `netlink::recovery::Reply`: after an error from `f` the rest is
    /// still read, then that error returned).
    async fn receive(
        &mut self,
        seq: u32,
        answer: Answer,
        timeout: Duration,
        op: Operation,
        f: &mut (dyn FnMut(&[u8]) -> Result<()> + Send),
    ) -> Result<()> {
        let mut reply = Reply::new(seq, self.port_id, answer, op);
        let r = async {
            loop {
                self.recv(timeout, op).await?;
                if reply.datagram(&self.buf, f)? {
                    return Ok(());
                }
            }
        }
        .await;
        self.settle(reply.pending(), r.and_then(|()| reply.finish()))
    }

    async fn resolve_family(&mut self) -> Result<u16> {
        let ctrl = GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_owned())],
        };
        let mut genl = GenlMessage::from_payload(ctrl);
        genl.finalize();
        let seq = self.next_seq();
        let mut nl = NetlinkMessage::from(genl);
        nl.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        nl.header.sequence_number = seq;
        nl.finalize();
        self.out.clear();
        self.out.resize(nl.buffer_len(), 0);
        nl.serialize(&mut self.out);
        self.send_out().await?;
        let mut family = None;
        let mut decode_err = None;
        let r = self
            .receive(
                seq,
                Answer::Ack,
                self.timeout,
                Operation::ResolveFamily,
                &mut |frame| {
                    match NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(frame) {
                        Ok(m) => {
                            if let NetlinkPayload::InnerMessage(g) = m.payload {
                                family = family.or(g.payload.nlas.iter().find_map(|a| match a {
                                    GenlCtrlAttrs::FamilyId(id) => Some(*id),
                                    _ => None,
                                }));
                            }
                        }
                        Err(e) => decode_err = Some(e.to_string()),
                    }
                    Ok(())
                },
            )
            .await;
        match r {
            Err(Error::Kernel(ctx)) if ctx.errno == libc::ENOENT => {
                return Err(Error::IpvsUnavailable)
            }
            other => other?,
        }
        family.ok_or_else(|| Error::Protocol {
            operation: Operation::ResolveFamily,
            reason: match decode_err {
                Some(e) => format!("undecodable controller reply: {e}"),
                None => "the controller's reply has no family id".into(),
            },
        })
    }

    fn encode(&mut self, msg: &IpvsMessage, kind: RequestKind) -> u32 {
        let seq = self.next_seq();
        let flags = NLM_F_REQUEST
            | match kind {
                RequestKind::Do => NLM_F_ACK,
                RequestKind::Dump => NLM_F_DUMP,
            };
        self.out.clear();
        encode_into(&mut self.out, msg, self.family_id, flags, seq);
        seq
    }

    fn timeout_for(&self, msg: &IpvsMessage) -> Duration {
        if matches!(msg.cmd, IpvsCmd::NewDaemon | IpvsCmd::DelDaemon) {
            self.timeout.max(DAEMON_TIMEOUT)
        } else {
            self.timeout
        }
    }
}

impl AsyncTransport for TokioTransport {
    async fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        let seq = self.encode(msg, kind);
        self.send_out().await?;
        let answer = match kind {
            RequestKind::Do => Answer::Ack,
            RequestKind::Dump => Answer::Dump,
        };
        let mut replies = Vec::new();
        let timeout = self.timeout_for(msg);
        self.receive(seq, answer, timeout, Operation::Other, &mut |frame| {
            if let Some(m) = decode_reply(frame)? {
                replies.push(m);
            }
            Ok(())
        })
        .await
        .map_err(|e| super::name_missing_module(msg, e, &super::probe::kernel_has_module))?;
        Ok(replies)
    }

    /// A service dump that listed anything is followed by verification dumps, as on the
    /// blocking transport (see `transport::kernel::VERIFY_DUMPS`).
    async fn dump_each(
        &mut self,
        msg: &IpvsMessage,
        f: &mut (dyn FnMut(u8, &[u8]) -> Result<()> + Send),
    ) -> Result<()> {
        if msg.cmd != IpvsCmd::GetService || !msg.attrs.is_empty() {
            return self.dump_once(msg, f).await;
        }
        let mut check = super::ServiceDumpCheck::default();
        self.dump_once(msg, &mut |cmd, attrs| {
            check.first(attrs);
            f(cmd, attrs)
        })
        .await?;
        if !check.needed() {
            return Ok(());
        }
        for _ in 0..super::kernel::VERIFY_DUMPS {
            check.start_round();
            self.dump_once(msg, &mut |cmd, attrs| {
                if check.is_new(attrs) {
                    f(cmd, attrs)?;
                }
                Ok(())
            })
            .await?;
            if !check.found_more() {
                break;
            }
        }
        Ok(())
    }

    async fn request_batch(
        &mut self,
        msgs: &[IpvsMessage],
    ) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        let mut results: Vec<Result<Vec<IpvsMessage>>> = Vec::with_capacity(msgs.len());
        let mut start = 0;
        while start < msgs.len() {
            // Pack as many requests as fit in one datagram.
            self.out.clear();
            let first_seq = self.seq.wrapping_add(1);
            let mut end = start;
            let mut timeout = self.timeout;
            while let Some(m) = msgs.get(end) {
                if end > start && (self.out.len() >= BATCH_BYTES || end - start >= BATCH_REQUESTS) {
                    break;
                }
                let seq = self.next_seq();
                encode_into(
                    &mut self.out,
                    m,
                    self.family_id,
                    NLM_F_REQUEST | NLM_F_ACK,
                    seq,
                );
                timeout = timeout.max(self.timeout_for(m));
                end += 1;
            }
            self.send_out().await?;
            // One ack (or error) per request, in order; replies before an ack belong to it.
            let mut acks = BatchAcks::new(
                first_seq,
                end - start,
                self.port_id,
                Acks::Each,
                &mut results,
            );
            let r = async {
                while !acks.complete() {
                    self.recv(timeout, Operation::Other).await?;
                    acks.datagram(&self.buf)?;
                }
                Ok(())
            }
            .await;
            self.settle(acks.pending(), r)?;
            start = end;
        }
        Ok(super::kernel::name_missing_modules(results, |i| {
            msgs[i].clone()
        }))
    }
}

#[cfg(test)]
mod tests {
    //! The transport over a fake kernel (`netlink::fake`), as the blocking one's tests:
    //! late, stale and undecodable answers, and the socket left clean for the next request.
    use std::os::fd::AsFd;
    use std::sync::mpsc;
    use std::time::Instant;

    use super::*;
    use crate::netlink::fake::{self, ack, done, reply, undecodable, FakeKernel};

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    /// Within a runtime.
    fn transport(timeout: Duration) -> (TokioTransport, FakeKernel) {
        let (fd, kernel) = fake::pair();
        let t = TokioTransport {
            sock: fake::tokio_socket(fd),
            port_id: fake::PORT,
            seq: 0,
            family_id: fake::FAMILY,
            timeout,
            out: Vec::new(),
            buf: Vec::with_capacity(RECV_BUF),
            recovery: Recovery::default(),
        };
        (t, kernel)
    }

    fn write() -> IpvsMessage {
        IpvsMessage::flush()
    }

    fn queued(t: &TokioTransport) -> bool {
        fake::has_queued(&t.sock.socket_ref().as_fd())
    }

    #[test]
    fn a_late_answer_after_a_timeout_is_not_the_next_requests() {
        run(async {
            let (mut t, kernel) = transport(Duration::from_millis(100));
            let (go, wait) = mpsc::channel::<()>();
            let (sent, late) = mpsc::channel::<()>();
            let fake = std::thread::spawn(move || {
                let a = kernel.request();
                wait.recv().unwrap();
                // A's refusal comes after A timed out; then B is applied.
                kernel.send(&[ack(a, -libc::EEXIST)]);
                sent.send(()).unwrap();
                let b = kernel.request();
                kernel.send(&[ack(b, 0)]);
                // C: a stale acknowledgement of A and an answer to no request, then C's
                // refusal.
                let c = kernel.request();
                kernel.send(&[ack(a, 0), ack(c + 100, 0), ack(c, -libc::ENOENT)]);
            });
            let e = t.request(&write(), RequestKind::Do).await.unwrap_err();
            assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
            assert_eq!(t.recovery.outstanding(), [1], "A is owed an answer");
            go.send(()).unwrap();
            late.recv().unwrap();
            assert!(queued(&t), "A's late answer waits");
            // B was applied: its own acknowledgement, not A's late refusal.
            assert_eq!(t.request(&write(), RequestKind::Do).await.unwrap(), []);
            assert!(t.recovery.outstanding().is_empty(), "A is over");
            let e = t.request(&write(), RequestKind::Do).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ENOENT), "{e:?}");
            assert!(!queued(&t), "nothing left unread");
            fake.join().unwrap();
        });
    }

    #[test]
    fn a_dump_is_read_to_its_end_after_an_undecodable_frame() {
        run(async {
            let (mut t, kernel) = transport(Duration::from_secs(5));
            let pause = Duration::from_millis(150);
            let fake = std::thread::spawn(move || {
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
            let start = Instant::now();
            let mut seen = 0;
            let e = t
                .dump_each(&IpvsMessage::get_info(), &mut |_, _| {
                    seen += 1;
                    Ok(())
                })
                .await
                .unwrap_err();
            assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
            assert_eq!(seen, 1, "the frames after the undecodable one are dropped");
            assert!(
                start.elapsed() >= pause,
                "returned before the end of the dump"
            );
            assert!(!queued(&t));
            assert_eq!(t.request(&write(), RequestKind::Do).await.unwrap(), []);
            let start = Instant::now();
            let e = t
                .request(&IpvsMessage::get_info(), RequestKind::Dump)
                .await
                .unwrap_err();
            assert!(
                matches!(e, Error::Protocol { ref reason, .. } if reason.contains("undecodable")),
                "{e:?}"
            );
            assert!(
                start.elapsed() >= pause,
                "returned before the end of the dump"
            );
            assert!(!queued(&t));
            assert_eq!(t.request(&write(), RequestKind::Do).await.unwrap(), []);
            assert!(t.recovery.outstanding().is_empty());
            fake.join().unwrap();
        });
    }

    #[test]
    fn a_batch_given_up_on_is_drained_before_the_next_request() {
        run(async {
            let (mut t, kernel) = transport(Duration::from_millis(100));
            let (go, wait) = mpsc::channel::<()>();
            let (sent, late) = mpsc::channel::<()>();
            let near = t.sock.socket_ref().as_fd().try_clone_to_owned().unwrap();
            let fake = std::thread::spawn(move || {
                let seqs = kernel.requests();
                assert_eq!(seqs.len(), 3);
                kernel.send(&[ack(seqs[0], 0)]);
                wait.recv().unwrap();
                kernel.send(&[ack(seqs[1], 0), ack(seqs[2], -libc::EEXIST)]);
                sent.send(()).unwrap();
                let next = kernel.request();
                // Sent after the late answers were drained (after ENOBUFS, the kernel
                // would have dropped its answer).
                assert!(!fake::has_queued(&near), "sent before draining");
                kernel.send(&[ack(next, -libc::ESRCH)]);
            });
            let e = t
                .request_batch(&[write(), write(), write()])
                .await
                .unwrap_err();
            assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
            assert_eq!(t.recovery.outstanding(), [3]);
            go.send(()).unwrap();
            late.recv().unwrap();
            assert!(queued(&t), "the late answers wait for the next request");
            let e = t.request(&write(), RequestKind::Do).await.unwrap_err();
            assert_eq!(e.errno(), Some(libc::ESRCH), "{e:?}");
            assert!(t.recovery.outstanding().is_empty());
            assert!(!queued(&t));
            fake.join().unwrap();
        });
    }
}
