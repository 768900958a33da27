//! The client logic shared by the blocking [`Ipvs`](super::Ipvs) and the async handle: for
//! each operation, the validation, the request message, how its errors are named and how its
//! replies are decoded. A handle only carries the message to its transport and hands the
//! result back to [`Call::finish`]; dumps go through [`ServiceDump`] and [`DestDump`].

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;

use super::{classify, ErrCtx};
use crate::error::{Error, Operation, Result};
use crate::model::{Daemon, DaemonState, Destination, Info, Service, ServiceId, Timeouts};
use crate::transport::RequestKind;
use crate::wire::{decode_destination_reply_with, decode_service_reply_with, IpvsMessage};

/// What a request is about, as its errors name it; formatted only when an error needs it.
pub(crate) enum Object {
    None,
    Service(ServiceId),
    Dest(ServiceId, SocketAddr),
    State(DaemonState),
    Text(String),
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::None => Ok(()),
            Object::Service(id) => write!(f, "{id}"),
            Object::Dest(id, addr) => write!(f, "{id} -> {addr}"),
            Object::State(s) => write!(f, "{s}"),
            Object::Text(t) => f.write_str(t),
        }
    }
}

/// One request of the client, ready to send: the message, the kind of request, and how to
/// turn the transport's answer into the call's result.
pub(crate) struct Call<R> {
    pub(crate) msg: IpvsMessage,
    pub(crate) kind: RequestKind,
    op: Operation,
    object: Object,
    ctx: ErrCtx,
    decode: fn(Vec<IpvsMessage>) -> Result<R>,
}

impl<R> Call<R> {
    fn new(
        msg: IpvsMessage,
        kind: RequestKind,
        op: Operation,
        object: Object,
        decode: fn(Vec<IpvsMessage>) -> Result<R>,
    ) -> Call<R> {
        Call {
            msg,
            kind,
            op,
            object,
            ctx: ErrCtx::NONE,
            decode,
        }
    }

    /// The call's result from the transport's answer: a refusal named for this operation and
    /// object, or the replies decoded.
    pub(crate) fn finish(self, answer: Result<Vec<IpvsMessage>>) -> Result<R> {
        let Call {
            op,
            object,
            ctx,
            decode,
            ..
        } = self;
        let replies = answer.map_err(|e| classify(e, op, || object.to_string(), &ctx))?;
        decode(replies)
    }
}

fn unit(_: Vec<IpvsMessage>) -> Result<()> {
    Ok(())
}

fn first(replies: Vec<IpvsMessage>, op: Operation) -> Result<IpvsMessage> {
    replies.into_iter().next().ok_or_else(|| Error::Protocol {
        operation: op,
        reason: "no reply message".into(),
    })
}

pub(crate) fn add_service(svc: &Service) -> Result<Call<()>> {
    svc.validate()?;
    let mut c = Call::new(
        IpvsMessage::new_service(svc),
        RequestKind::Do,
        Operation::AddService,
        Object::Service(svc.id),
        unit,
    );
    c.ctx = ErrCtx::service(svc);
    Ok(c)
}

pub(crate) fn update_service(svc: &Service) -> Result<Call<()>> {
    svc.validate()?;
    let mut c = Call::new(
        IpvsMessage::set_service(svc),
        RequestKind::Do,
        Operation::UpdateService,
        Object::Service(svc.id),
        unit,
    );
    c.ctx = ErrCtx::service(svc);
    Ok(c)
}

pub(crate) fn delete_service(id: &ServiceId) -> Call<()> {
    Call::new(
        IpvsMessage::del_service(id),
        RequestKind::Do,
        Operation::DeleteService,
        Object::Service(*id),
        unit,
    )
}

pub(crate) fn get_service(id: &ServiceId) -> Call<Service> {
    Call::new(
        IpvsMessage::get_service(id),
        RequestKind::Do,
        Operation::GetService,
        Object::Service(*id),
        |r| Ok(first(r, Operation::GetService)?.service()?),
    )
}

pub(crate) fn add_destination(id: &ServiceId, dest: &Destination) -> Result<Call<()>> {
    dest.validate_for(id)?;
    Ok(Call::new(
        IpvsMessage::new_dest(id, dest),
        RequestKind::Do,
        Operation::AddDestination,
        Object::Dest(*id, dest.socket_addr()),
        unit,
    ))
}

pub(crate) fn update_destination(id: &ServiceId, dest: &Destination) -> Result<Call<()>> {
    dest.validate_for(id)?;
    Ok(update_destination_raw(id, dest))
}

/// Update a destination as given, unchecked: for values read from the kernel (a weight
/// ipvsadm wrote above the builder's limit must survive a weight change).
pub(crate) fn update_destination_raw(id: &ServiceId, dest: &Destination) -> Call<()> {
    Call::new(
        IpvsMessage::set_dest(id, dest),
        RequestKind::Do,
        Operation::UpdateDestination,
        Object::Dest(*id, dest.socket_addr()),
        unit,
    )
}

pub(crate) fn delete_destination(id: &ServiceId, addr: SocketAddr) -> Call<()> {
    Call::new(
        IpvsMessage::del_dest(id, &addr),
        RequestKind::Do,
        Operation::DeleteDestination,
        Object::Dest(*id, addr),
        unit,
    )
}

pub(crate) fn flush() -> Call<()> {
    Call::new(
        IpvsMessage::flush(),
        RequestKind::Do,
        Operation::Flush,
        Object::None,
        unit,
    )
}

pub(crate) fn zero(id: Option<&ServiceId>) -> Call<()> {
    Call::new(
        IpvsMessage::zero(id),
        RequestKind::Do,
        Operation::Zero,
        id.map_or(Object::None, |id| Object::Service(*id)),
        unit,
    )
}

pub(crate) fn timeouts() -> Call<Timeouts> {
    Call::new(
        IpvsMessage::get_timeouts(),
        RequestKind::Do,
        Operation::GetTimeouts,
        Object::None,
        |r| Ok(first(r, Operation::GetTimeouts)?.timeouts()),
    )
}

pub(crate) fn set_timeouts(t: &Timeouts) -> Call<()> {
    Call::new(
        IpvsMessage::set_timeouts(t),
        RequestKind::Do,
        Operation::SetTimeouts,
        Object::None,
        unit,
    )
}

pub(crate) fn info() -> Call<Info> {
    Call::new(
        IpvsMessage::get_info(),
        RequestKind::Do,
        Operation::GetInfo,
        Object::None,
        |r| Ok(first(r, Operation::GetInfo)?.info()?),
    )
}

pub(crate) fn start_daemon(d: &Daemon) -> Result<Call<()>> {
    d.validate()?;
    Ok(Call::new(
        IpvsMessage::new_daemon(d),
        RequestKind::Do,
        Operation::StartDaemon,
        Object::Text(format!("{} on {}", d.state, d.interface)),
        unit,
    ))
}

pub(crate) fn stop_daemon(state: DaemonState) -> Call<()> {
    Call::new(
        IpvsMessage::del_daemon(state),
        RequestKind::Do,
        Operation::StopDaemon,
        Object::State(state),
        unit,
    )
}

pub(crate) fn daemons() -> Call<Vec<Daemon>> {
    Call::new(
        IpvsMessage::dump_daemons(),
        RequestKind::Dump,
        Operation::GetDaemons,
        Object::None,
        |r| r.iter().map(|m| m.daemon().map_err(Error::from)).collect(),
    )
}

/// The service dump: decodes each reply straight from its bytes and drops repeats (dumps are
/// index-based: an entry may repeat if the table changed mid-dump).
pub(crate) struct ServiceDump {
    seen: HashSet<ServiceId>,
    out: Vec<Service>,
    /// Whether the stats are decoded (else `stats` is `None`).
    stats: bool,
}

impl ServiceDump {
    pub(crate) fn new(stats: bool) -> ServiceDump {
        ServiceDump {
            seen: HashSet::new(),
            out: Vec::new(),
            stats,
        }
    }

    pub(crate) fn message() -> IpvsMessage {
        IpvsMessage::dump_services()
    }

    /// Take one reply's attribute bytes.
    pub(crate) fn push(&mut self, attrs: &[u8]) -> Result<()> {
        let svc = decode_service_reply_with(attrs, self.stats)?;
        if self.seen.insert(svc.id) {
            self.out.push(svc);
        }
        Ok(())
    }

    /// Take one reply's attribute bytes and return the service, unless it is a repeat;
    /// for a caller that keeps the services itself (nothing is kept here but their ids).
    pub(crate) fn push_new(&mut self, attrs: &[u8]) -> Result<Option<Service>> {
        let svc = decode_service_reply_with(attrs, self.stats)?;
        Ok(self.seen.insert(svc.id).then_some(svc))
    }

    /// The services, or the dump's error named for the operation.
    pub(crate) fn finish(self, r: Result<()>) -> Result<Vec<Service>> {
        Self::finish_stream(r)?;
        Ok(self.out)
    }

    /// The dump's error named for the operation, for [`push_new`](Self::push_new)'s callers.
    pub(crate) fn finish_stream(r: Result<()>) -> Result<()> {
        r.map_err(|e| classify(e, Operation::GetService, String::new, &ErrCtx::NONE))
    }
}

/// A destination dump of one service; repeats are dropped as in [`ServiceDump`].
pub(crate) struct DestDump {
    id: ServiceId,
    out: Vec<Destination>,
    /// Most lists are short, where a linear check costs less than a set.
    seen: Option<HashSet<SocketAddr>>,
    /// Whether the stats are decoded (else `stats` is `None`).
    stats: bool,
}

impl DestDump {
    pub(crate) fn new(id: &ServiceId, stats: bool) -> DestDump {
        DestDump {
            id: *id,
            out: Vec::new(),
            seen: None,
            stats,
        }
    }

    pub(crate) fn message(&self) -> IpvsMessage {
        IpvsMessage::dump_dests(&self.id)
    }

    /// Take one reply's attribute bytes.
    pub(crate) fn push(&mut self, attrs: &[u8]) -> Result<()> {
        let d = decode_destination_reply_with(attrs, self.id.af(), self.stats)?;
        let addr = d.socket_addr();
        let new = match &mut self.seen {
            Some(set) => set.insert(addr),
            None if self.out.len() < 32 => !self.out.iter().any(|o| o.socket_addr() == addr),
            None => {
                let mut set: HashSet<SocketAddr> =
                    self.out.iter().map(Destination::socket_addr).collect();
                let new = set.insert(addr);
                self.seen = Some(set);
                new
            }
        };
        if new {
            self.out.push(d);
        }
        Ok(())
    }

    /// The destinations, or the dump's error named for the operation.
    pub(crate) fn finish(self, r: Result<()>) -> Result<Vec<Destination>> {
        let id = self.id;
        r.map_err(|e| {
            classify(
                e,
                Operation::GetDestinations,
                || id.to_string(),
                &ErrCtx::NONE,
            )
        })?;
        Ok(self.out)
    }
}
