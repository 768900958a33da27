//! Layer 3: the transport. One trait, [`Transport`], that sends IPVS request messages and
//! returns the kernel's replies; two backends: [`KernelTransport`] (a netlink socket) and,
//! for tests, a mock that behaves like the kernel.
//!
//! A transport answers a kernel refusal with [`Error::Kernel`] carrying the errno; the client
//! layer names the case (service exists, no such destination, ...) from the operation it was
//! doing.

#[cfg(feature = "tokio")]
mod asynch;
mod kernel;
#[cfg(feature = "mock")]
mod mock;
pub(crate) mod probe;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use asynch::{AsyncTransport, TokioTransport, TokioTransportBuilder};
pub use kernel::{KernelTransport, KernelTransportBuilder, DAEMON_TIMEOUT, PIPELINE_MIN};
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use mock::{MockKernel, MockKernelBuilder, MAINLINE_PERSISTENCE_ENGINES, MAINLINE_SCHEDULERS};

use crate::error::{Error, Result};
use crate::model::{Capabilities, KernelVersion, ServiceId};
use crate::wire::IpvsMessage;

/// Whether a request is a single `do` or a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// A `do` request: acknowledged, possibly with one reply message before the ack.
    Do,
    /// A dump: any number of reply messages, ended by `NLMSG_DONE`.
    Dump,
}

/// Something that carries IPVS requests to a kernel (real or mock) and brings back replies.
///
/// Implementations must be `Send`, so a handle can live in a control plane's worker thread.
pub trait Transport: Send {
    /// Send one request and return its reply messages (none for a plain acknowledged write).
    /// A kernel refusal is `Err(Error::Kernel(ctx))` with `ctx.errno` set.
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>>;

    /// Send many `do` requests and return one result per request, in order. The default
    /// sends them one by one; a backend may pipeline them. An `Err` of the outer result means
    /// the transport itself failed and the per-request outcome is unknown past that point.
    fn request_batch(&mut self, msgs: &[IpvsMessage]) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            match self.request(m, RequestKind::Do) {
                Err(e @ Error::Kernel(_)) => out.push(Err(e)),
                Err(e) => return Err(e),
                Ok(r) => out.push(Ok(r)),
            }
        }
        Ok(out)
    }

    /// Like [`request_batch`](Self::request_batch), with request `i` built by `build(i)`
    /// (from any thread), for `count` requests: a backend may build and frame them while
    /// it sends the ones before (the kernel transport does, from [`PIPELINE_MIN`] requests
    /// on). The
    /// default builds them all, then calls `request_batch`.
    fn request_batch_with(
        &mut self,
        count: usize,
        build: &(dyn Fn(usize) -> IpvsMessage + Sync),
    ) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        let msgs: Vec<IpvsMessage> = (0..count).map(build).collect();
        self.request_batch(&msgs)
    }

    /// Send a dump request and hand each reply message to `f`, in order, as its command
    /// and its attribute bytes (what follows the generic netlink header), without building
    /// [`IpvsMessage`] values: the fast path of large dumps (decode the bytes with
    /// [`decode_service_reply`](crate::wire::decode_service_reply) and
    /// [`decode_destination_reply`](crate::wire::decode_destination_reply)). An error from
    /// `f` stops the dump and is returned (the rest of the dump is drained or dropped by the
    /// backend). The default runs [`request`](Self::request) and emits each message.
    fn dump_each(
        &mut self,
        msg: &IpvsMessage,
        f: &mut dyn FnMut(u8, &[u8]) -> Result<()>,
    ) -> Result<()> {
        use netlink_packet_core::Emitable;
        let mut buf = Vec::new();
        for m in self.request(msg, RequestKind::Dump)? {
            buf.clear();
            buf.resize(m.buffer_len(), 0);
            m.emit(&mut buf);
            f(m.cmd.into(), &buf)?;
        }
        Ok(())
    }

    /// A second, independent transport on the same kernel table (the same network
    /// namespace), for reading in parallel: [`Ipvs::table`](crate::Ipvs::table) reads a
    /// large table's destinations on two. `None` when the backend has none (the default),
    /// and whenever one cannot be opened: callers then work on this one alone.
    fn sibling(&mut self) -> Option<Box<dyn Transport>> {
        None
    }

    /// What the kernel behind this transport supports (see [`Capabilities`]): the kernel
    /// transport probes the running kernel, the mock answers its profile. The default: the
    /// expected capabilities of the running kernel's version
    /// ([`Capabilities::expected`]), with the connection table size that `GET_INFO`
    /// reports.
    fn capabilities(&mut self) -> Result<Capabilities> {
        let mut caps = Capabilities::expected(KernelVersion::running()?);
        let info = self.request(&IpvsMessage::get_info(), RequestKind::Do)?;
        if let Some(info) = info.first().and_then(|m| m.info().ok()) {
            caps.conn_table.size = info.conn_table_size;
        }
        Ok(caps)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn request(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        (**self).request(msg, kind)
    }

    fn request_batch(&mut self, msgs: &[IpvsMessage]) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        (**self).request_batch(msgs)
    }

    fn request_batch_with(
        &mut self,
        count: usize,
        build: &(dyn Fn(usize) -> IpvsMessage + Sync),
    ) -> Result<Vec<Result<Vec<IpvsMessage>>>> {
        (**self).request_batch_with(count, build)
    }

    fn dump_each(
        &mut self,
        msg: &IpvsMessage,
        f: &mut dyn FnMut(u8, &[u8]) -> Result<()>,
    ) -> Result<()> {
        (**self).dump_each(msg, f)
    }

    fn sibling(&mut self) -> Option<Box<dyn Transport>> {
        (**self).sibling()
    }

    fn capabilities(&mut self) -> Result<Capabilities> {
        (**self).capabilities()
    }
}

/// The bookkeeping of a verified service dump (see [`kernel::VERIFY_DUMPS`]), shared by the
/// blocking and the async transports: which services the dumps have listed.
#[derive(Debug, Default)]
pub(crate) struct ServiceDumpCheck {
    seen: std::collections::HashSet<ServiceId>,
    added: usize,
}

impl ServiceDumpCheck {
    /// Whether the first dump needs verifying: whenever it listed a service. Every dump
    /// that lists something takes at least two calls of the kernel's dump function (the
    /// last one finds nothing more and ends it), each resuming from a position in the
    /// table, so even a dump whose services fit in one datagram may have stopped short
    /// when the position shifted between the calls (seen on 5.10: 101 of 150).
    pub(crate) fn needed(&self) -> bool {
        !self.seen.is_empty()
    }

    fn id(attrs: &[u8]) -> Option<ServiceId> {
        crate::wire::decode_service_reply_with(attrs, false)
            .ok()
            .map(|s| s.id)
    }

    /// A message of the first dump (always handed on): noted.
    pub(crate) fn first(&mut self, attrs: &[u8]) {
        if let Some(id) = Self::id(attrs) {
            self.seen.insert(id);
        }
    }

    /// Before each verification dump.
    pub(crate) fn start_round(&mut self) {
        self.added = 0;
    }

    /// A message of a verification dump: whether to hand it on (no dump listed it yet; an
    /// undecodable one is handed on, for the caller to report).
    pub(crate) fn is_new(&mut self, attrs: &[u8]) -> bool {
        let new = Self::id(attrs).is_none_or(|id| self.seen.insert(id));
        if new {
            self.added += 1;
        }
        new
    }

    /// Whether the last verification dump found anything new.
    pub(crate) fn found_more(&self) -> bool {
        self.added > 0
    }
}

/// After the kernel refused a service write (`NEW_SERVICE`, `SET_SERVICE`) with ENOENT, name
/// the module it lacks. The kernel looks the scheduler up first, then the persistence engine,
/// and answers ENOENT for either; `has(module)` is the transport's knowledge of which kernel
/// modules exist (`ip_vs_rr`, `ip_vs_pe_sip`). Other errors pass unchanged.
pub(crate) fn name_missing_module(
    msg: &IpvsMessage,
    e: Error,
    has: &dyn Fn(&str) -> bool,
) -> Error {
    use crate::wire::{IpvsCmd, ServiceAttr};
    let Error::Kernel(mut kc) = e else {
        return e;
    };
    if kc.errno != libc::ENOENT || !matches!(msg.cmd, IpvsCmd::NewService | IpvsCmd::SetService) {
        return Error::Kernel(kc);
    }
    let attrs = msg.service_attrs().unwrap_or_default();
    let name = |want: fn(&ServiceAttr) -> Option<&String>| attrs.iter().rev().find_map(want);
    let sched = name(|a| match a {
        ServiceAttr::SchedName(n) => Some(n),
        _ => None,
    });
    let pe = name(|a| match a {
        ServiceAttr::PeName(n) => Some(n),
        _ => None,
    });
    kc.missing = match (sched, pe) {
        // "none" is no scheduler: the kernel looks nothing up for it.
        (Some(s), _) if s != "none" && !has(&format!("ip_vs_{s}")) => {
            Some(crate::error::MissingModule::Scheduler(s.clone()))
        }
        (_, Some(p)) if !p.is_empty() && !has(&format!("ip_vs_pe_{p}")) => {
            Some(crate::error::MissingModule::PersistenceEngine(p.clone()))
        }
        (Some(s), _) if s != "none" => Some(crate::error::MissingModule::Scheduler(s.clone())),
        _ => None,
    };
    Error::Kernel(kc)
}

#[cfg(test)]
mod tests {
    use super::ServiceDumpCheck;
    use crate::wire::IpvsMessage;
    use netlink_packet_core::Emitable;

    /// The attribute bytes of a service reply, as a dump hands them to `dump_each`'s `f`.
    fn attrs(addr: &str) -> Vec<u8> {
        let svc = crate::Service::tcp(addr.parse().unwrap()).build().unwrap();
        let msg = IpvsMessage::new_service(&svc);
        let mut buf = vec![0; msg.buffer_len()];
        msg.emit(&mut buf);
        buf
    }

    #[test]
    fn verification_hands_on_only_what_the_first_dump_missed() {
        let mut check = ServiceDumpCheck::default();
        assert!(!check.needed(), "an empty first dump needs no check");
        check.first(&attrs("10.0.0.1:80"));
        check.first(&attrs("10.0.0.2:80"));
        assert!(check.needed());
        check.start_round();
        assert!(!check.is_new(&attrs("10.0.0.1:80")));
        assert!(
            check.is_new(&attrs("10.0.0.3:80")),
            "missed by the first dump"
        );
        assert!(!check.is_new(&attrs("10.0.0.3:80")), "handed on once");
        assert!(check.found_more());
        check.start_round();
        assert!(!check.is_new(&attrs("10.0.0.2:80")));
        assert!(
            !check.found_more(),
            "a round that adds nothing ends the checks"
        );
        // Bytes that do not decode are handed on, for the caller to report.
        assert!(check.is_new(&[1, 2, 3]));
    }
}
