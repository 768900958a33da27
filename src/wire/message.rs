//! The IPVS command set and top-level attributes (`IPVS_CMD_*`, `IPVS_CMD_ATTR_*`,
//! `IPVS_INFO_ATTR_*`), and the [`IpvsMessage`] that carries them.

use std::net::SocketAddr;

use netlink_packet_core::{DefaultNla, Emitable, NlaBuffer, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use super::nla::{self, Attr};
use super::{DaemonAttr, DestAttr, ServiceAttr, IPVS_GENL_NAME, IPVS_GENL_VERSION};
use crate::error::DecodeError;
use crate::model::{Daemon, Destination, Info, Op, Service, ServiceId, Timeouts, Version};

const IPVS_CMD_NEW_SERVICE: u8 = 1;
const IPVS_CMD_SET_SERVICE: u8 = 2;
const IPVS_CMD_DEL_SERVICE: u8 = 3;
const IPVS_CMD_GET_SERVICE: u8 = 4;
const IPVS_CMD_NEW_DEST: u8 = 5;
const IPVS_CMD_SET_DEST: u8 = 6;
const IPVS_CMD_DEL_DEST: u8 = 7;
const IPVS_CMD_GET_DEST: u8 = 8;
const IPVS_CMD_NEW_DAEMON: u8 = 9;
const IPVS_CMD_DEL_DAEMON: u8 = 10;
const IPVS_CMD_GET_DAEMON: u8 = 11;
const IPVS_CMD_SET_CONFIG: u8 = 12;
const IPVS_CMD_GET_CONFIG: u8 = 13;
const IPVS_CMD_SET_INFO: u8 = 14;
const IPVS_CMD_GET_INFO: u8 = 15;
const IPVS_CMD_ZERO: u8 = 16;
const IPVS_CMD_FLUSH: u8 = 17;

const IPVS_CMD_ATTR_SERVICE: u16 = 1;
const IPVS_CMD_ATTR_DEST: u16 = 2;
const IPVS_CMD_ATTR_DAEMON: u16 = 3;
const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

const IPVS_INFO_ATTR_VERSION: u16 = 1;
const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

/// An IPVS generic netlink command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IpvsCmd {
    /// `IPVS_CMD_NEW_SERVICE`: add a service; also the tag of service dump replies.
    NewService,
    /// `IPVS_CMD_SET_SERVICE`: update a service in place.
    SetService,
    /// `IPVS_CMD_DEL_SERVICE`: delete a service.
    DelService,
    /// `IPVS_CMD_GET_SERVICE`: get one service, or dump all.
    GetService,
    /// `IPVS_CMD_NEW_DEST`: add a destination; also the tag of destination dump replies.
    NewDest,
    /// `IPVS_CMD_SET_DEST`: update a destination in place.
    SetDest,
    /// `IPVS_CMD_DEL_DEST`: delete a destination.
    DelDest,
    /// `IPVS_CMD_GET_DEST`: dump the destinations of a service.
    GetDest,
    /// `IPVS_CMD_NEW_DAEMON`: start a sync daemon; also the tag of daemon dump replies.
    NewDaemon,
    /// `IPVS_CMD_DEL_DAEMON`: stop a sync daemon.
    DelDaemon,
    /// `IPVS_CMD_GET_DAEMON`: dump the sync daemons.
    GetDaemon,
    /// `IPVS_CMD_SET_CONFIG`: set timeouts; also the tag of the `GET_CONFIG` reply.
    SetConfig,
    /// `IPVS_CMD_GET_CONFIG`: get timeouts.
    GetConfig,
    /// `IPVS_CMD_SET_INFO`: the tag of the `GET_INFO` reply.
    SetInfo,
    /// `IPVS_CMD_GET_INFO`: get version and connection table size.
    GetInfo,
    /// `IPVS_CMD_ZERO`: zero counters (of one service, or all).
    Zero,
    /// `IPVS_CMD_FLUSH`: delete every service.
    Flush,
    /// A command unknown to this crate.
    Other(u8),
}

impl From<IpvsCmd> for u8 {
    fn from(cmd: IpvsCmd) -> u8 {
        match cmd {
            IpvsCmd::NewService => IPVS_CMD_NEW_SERVICE,
            IpvsCmd::SetService => IPVS_CMD_SET_SERVICE,
            IpvsCmd::DelService => IPVS_CMD_DEL_SERVICE,
            IpvsCmd::GetService => IPVS_CMD_GET_SERVICE,
            IpvsCmd::NewDest => IPVS_CMD_NEW_DEST,
            IpvsCmd::SetDest => IPVS_CMD_SET_DEST,
            IpvsCmd::DelDest => IPVS_CMD_DEL_DEST,
            IpvsCmd::GetDest => IPVS_CMD_GET_DEST,
            IpvsCmd::NewDaemon => IPVS_CMD_NEW_DAEMON,
            IpvsCmd::DelDaemon => IPVS_CMD_DEL_DAEMON,
            IpvsCmd::GetDaemon => IPVS_CMD_GET_DAEMON,
            IpvsCmd::SetConfig => IPVS_CMD_SET_CONFIG,
            IpvsCmd::GetConfig => IPVS_CMD_GET_CONFIG,
            IpvsCmd::SetInfo => IPVS_CMD_SET_INFO,
            IpvsCmd::GetInfo => IPVS_CMD_GET_INFO,
            IpvsCmd::Zero => IPVS_CMD_ZERO,
            IpvsCmd::Flush => IPVS_CMD_FLUSH,
            IpvsCmd::Other(c) => c,
        }
    }
}

impl From<u8> for IpvsCmd {
    fn from(c: u8) -> IpvsCmd {
        match c {
            IPVS_CMD_NEW_SERVICE => IpvsCmd::NewService,
            IPVS_CMD_SET_SERVICE => IpvsCmd::SetService,
            IPVS_CMD_DEL_SERVICE => IpvsCmd::DelService,
            IPVS_CMD_GET_SERVICE => IpvsCmd::GetService,
            IPVS_CMD_NEW_DEST => IpvsCmd::NewDest,
            IPVS_CMD_SET_DEST => IpvsCmd::SetDest,
            IPVS_CMD_DEL_DEST => IpvsCmd::DelDest,
            IPVS_CMD_GET_DEST => IpvsCmd::GetDest,
            IPVS_CMD_NEW_DAEMON => IpvsCmd::NewDaemon,
            IPVS_CMD_DEL_DAEMON => IpvsCmd::DelDaemon,
            IPVS_CMD_GET_DAEMON => IpvsCmd::GetDaemon,
            IPVS_CMD_SET_CONFIG => IpvsCmd::SetConfig,
            IPVS_CMD_GET_CONFIG => IpvsCmd::GetConfig,
            IPVS_CMD_SET_INFO => IpvsCmd::SetInfo,
            IPVS_CMD_GET_INFO => IpvsCmd::GetInfo,
            IPVS_CMD_ZERO => IpvsCmd::Zero,
            IPVS_CMD_FLUSH => IpvsCmd::Flush,
            other => IpvsCmd::Other(other),
        }
    }
}

impl IpvsCmd {
    /// Whether this command's top-level attributes are the `IPVS_INFO_ATTR_*` set.
    fn has_info_attrs(self) -> bool {
        matches!(self, IpvsCmd::SetInfo | IpvsCmd::GetInfo)
    }
}

/// A top-level attribute of an IPVS message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpvsAttr {
    /// `IPVS_CMD_ATTR_SERVICE`: a nested service.
    Service(Vec<ServiceAttr>),
    /// `IPVS_CMD_ATTR_DEST`: a nested destination.
    Dest(Vec<DestAttr>),
    /// `IPVS_CMD_ATTR_DAEMON`: a nested sync daemon.
    Daemon(Vec<DaemonAttr>),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP`, seconds.
    TimeoutTcp(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`, seconds.
    TimeoutTcpFin(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP`, seconds.
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (only in `SET_INFO`/`GET_INFO` messages).
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (only in `SET_INFO`/`GET_INFO` messages).
    InfoConnTabSize(u32),
    /// Any attribute unknown to this crate, kept as is.
    Other(DefaultNla),
}

impl Attr for IpvsAttr {
    fn buffer_len(&self) -> usize {
        match self {
            IpvsAttr::Service(a) => nla::nest_len(a),
            IpvsAttr::Dest(a) => nla::nest_len(a),
            IpvsAttr::Daemon(a) => nla::nest_len(a),
            IpvsAttr::TimeoutTcp(_)
            | IpvsAttr::TimeoutTcpFin(_)
            | IpvsAttr::TimeoutUdp(_)
            | IpvsAttr::InfoVersion(_)
            | IpvsAttr::InfoConnTabSize(_) => nla::value_len(4),
            IpvsAttr::Other(o) => Attr::buffer_len(o),
        }
    }

    fn emit(&self, buf: &mut [u8], nested_flag: bool) {
        let u32_attr = |buf: &mut [u8], kind, v: &u32| nla::emit_value(buf, kind, &v.to_ne_bytes());
        match self {
            IpvsAttr::Service(a) => nla::emit_nest(buf, IPVS_CMD_ATTR_SERVICE, a, nested_flag),
            IpvsAttr::Dest(a) => nla::emit_nest(buf, IPVS_CMD_ATTR_DEST, a, nested_flag),
            IpvsAttr::Daemon(a) => nla::emit_nest(buf, IPVS_CMD_ATTR_DAEMON, a, nested_flag),
            IpvsAttr::TimeoutTcp(v) => u32_attr(buf, IPVS_CMD_ATTR_TIMEOUT_TCP, v),
            IpvsAttr::TimeoutTcpFin(v) => u32_attr(buf, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, v),
            IpvsAttr::TimeoutUdp(v) => u32_attr(buf, IPVS_CMD_ATTR_TIMEOUT_UDP, v),
            IpvsAttr::InfoVersion(v) => u32_attr(buf, IPVS_INFO_ATTR_VERSION, v),
            IpvsAttr::InfoConnTabSize(v) => u32_attr(buf, IPVS_INFO_ATTR_CONN_TAB_SIZE, v),
            IpvsAttr::Other(o) => Attr::emit(o, buf, nested_flag),
        }
    }
}

impl IpvsAttr {
    fn parse(
        nla: &NlaBuffer<&[u8]>,
        cmd: IpvsCmd,
        saw_nested_flag: &mut bool,
    ) -> Result<IpvsAttr, DecodeError> {
        let v = nla.value();
        if cmd.has_info_attrs() {
            return Ok(match nla.kind() {
                IPVS_INFO_ATTR_VERSION => IpvsAttr::InfoVersion(nla::u32_of(v, "VERSION")?),
                IPVS_INFO_ATTR_CONN_TAB_SIZE => {
                    IpvsAttr::InfoConnTabSize(nla::u32_of(v, "CONN_TAB_SIZE")?)
                }
                _ => IpvsAttr::Other(nla::other(nla)?),
            });
        }
        let kind = nla.kind();
        if matches!(
            kind,
            IPVS_CMD_ATTR_SERVICE | IPVS_CMD_ATTR_DEST | IPVS_CMD_ATTR_DAEMON
        ) {
            *saw_nested_flag |= nla.nested_flag();
        }
        Ok(match kind {
            IPVS_CMD_ATTR_SERVICE => IpvsAttr::Service(ServiceAttr::parse_nest(v)?),
            IPVS_CMD_ATTR_DEST => IpvsAttr::Dest(DestAttr::parse_nest(v)?),
            IPVS_CMD_ATTR_DAEMON => IpvsAttr::Daemon(DaemonAttr::parse_nest(v)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP => IpvsAttr::TimeoutTcp(nla::u32_of(v, "TIMEOUT_TCP")?),
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => {
                IpvsAttr::TimeoutTcpFin(nla::u32_of(v, "TIMEOUT_TCP_FIN")?)
            }
            IPVS_CMD_ATTR_TIMEOUT_UDP => IpvsAttr::TimeoutUdp(nla::u32_of(v, "TIMEOUT_UDP")?),
            _ => IpvsAttr::Other(nla::other(nla)?),
        })
    }
}

/// One IPVS generic netlink message: a command and its attributes.
///
/// Requests are built with the constructors (`IpvsMessage::new_service(&svc)`, ...), replies
/// read with the accessors (`msg.service()`, ...).
///
/// ```
/// use lvs::wire::{IpvsCmd, IpvsMessage};
/// use lvs::Service;
/// use netlink_packet_core::Emitable;
/// use netlink_packet_core::ParseableParametrized;
/// use netlink_packet_generic::GenlHeader;
///
/// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// let msg = IpvsMessage::new_service(&svc);
/// let mut buf = vec![0; msg.buffer_len()];
/// msg.emit(&mut buf);
/// let header = GenlHeader { cmd: IpvsCmd::NewService.into(), version: 1 };
/// let back = IpvsMessage::parse_with_param(&buf[..], header)?;
/// assert_eq!(back.service()?, svc);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command.
    pub cmd: IpvsCmd,
    /// The top-level attributes.
    pub attrs: Vec<IpvsAttr>,
    /// Whether nests carry `NLA_F_NESTED`: requests built here set it (the kernel accepts
    /// both); the kernel's own replies do not. Parsing records what it saw.
    pub nested_flag: bool,
}

impl From<&Op> for IpvsMessage {
    /// The request that carries a write: the one place an [`Op`] becomes a message.
    fn from(op: &Op) -> IpvsMessage {
        match op {
            Op::AddService(s) => IpvsMessage::new_service(s),
            Op::UpdateService(s) => IpvsMessage::set_service(s),
            Op::DeleteService(id) => IpvsMessage::del_service(id),
            Op::AddDestination(id, d) => IpvsMessage::new_dest(id, d),
            Op::UpdateDestination(id, d) => IpvsMessage::set_dest(id, d),
            Op::DeleteDestination(id, a) => IpvsMessage::del_dest(id, a),
            Op::SetTimeouts(t) => IpvsMessage::set_timeouts(t),
            Op::Zero(id) => IpvsMessage::zero(id.as_ref()),
            Op::Flush => IpvsMessage::flush(),
            Op::StartDaemon(d) => IpvsMessage::new_daemon(d),
            Op::StopDaemon(state) => IpvsMessage::del_daemon(*state),
        }
    }
}

impl IpvsMessage {
    /// A message of this command with these attributes (nests flagged `NLA_F_NESTED`).
    pub fn new(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> IpvsMessage {
        IpvsMessage {
            cmd,
            attrs,
            nested_flag: true,
        }
    }

    /// `NEW_SERVICE` for this service.
    pub fn new_service(svc: &Service) -> IpvsMessage {
        Self::with_service(IpvsCmd::NewService, svc)
    }

    /// `SET_SERVICE` for this service.
    pub fn set_service(svc: &Service) -> IpvsMessage {
        Self::with_service(IpvsCmd::SetService, svc)
    }

    fn with_service(cmd: IpvsCmd, svc: &Service) -> IpvsMessage {
        Self::new(cmd, vec![IpvsAttr::Service(ServiceAttr::from_service(svc))])
    }

    fn with_id(cmd: IpvsCmd, id: &ServiceId) -> IpvsMessage {
        Self::new(cmd, vec![IpvsAttr::Service(ServiceAttr::from_id(id))])
    }

    /// `DEL_SERVICE` for this service.
    pub fn del_service(id: &ServiceId) -> IpvsMessage {
        Self::with_id(IpvsCmd::DelService, id)
    }

    /// `GET_SERVICE` for one service (a `do` request).
    pub fn get_service(id: &ServiceId) -> IpvsMessage {
        Self::with_id(IpvsCmd::GetService, id)
    }

    /// `GET_SERVICE` with no attributes (a dump request).
    pub fn dump_services() -> IpvsMessage {
        Self::new(IpvsCmd::GetService, Vec::new())
    }

    /// `NEW_DEST` for this destination of this service.
    pub fn new_dest(id: &ServiceId, dest: &Destination) -> IpvsMessage {
        Self::with_dest(IpvsCmd::NewDest, id, DestAttr::from_destination(dest))
    }

    /// `SET_DEST` for this destination of this service.
    pub fn set_dest(id: &ServiceId, dest: &Destination) -> IpvsMessage {
        Self::with_dest(IpvsCmd::SetDest, id, DestAttr::from_destination(dest))
    }

    /// `DEL_DEST` for the destination at `addr` of this service.
    pub fn del_dest(id: &ServiceId, addr: &SocketAddr) -> IpvsMessage {
        Self::with_dest(IpvsCmd::DelDest, id, DestAttr::from_dest_id(addr))
    }

    fn with_dest(cmd: IpvsCmd, id: &ServiceId, dest: Vec<DestAttr>) -> IpvsMessage {
        Self::new(
            cmd,
            vec![
                IpvsAttr::Service(ServiceAttr::from_id(id)),
                IpvsAttr::Dest(dest),
            ],
        )
    }

    /// `GET_DEST` for this service (a dump request).
    pub fn dump_dests(id: &ServiceId) -> IpvsMessage {
        Self::with_id(IpvsCmd::GetDest, id)
    }

    /// `NEW_DAEMON` for this daemon.
    pub fn new_daemon(d: &Daemon) -> IpvsMessage {
        Self::new(
            IpvsCmd::NewDaemon,
            vec![IpvsAttr::Daemon(DaemonAttr::from_daemon(d))],
        )
    }

    /// `DEL_DAEMON` for the daemon of this state (the kernel needs `STATE` only).
    pub fn del_daemon(state: crate::model::DaemonState) -> IpvsMessage {
        Self::new(
            IpvsCmd::DelDaemon,
            vec![IpvsAttr::Daemon(vec![DaemonAttr::State(state.code())])],
        )
    }

    /// `GET_DAEMON` (a dump request).
    pub fn dump_daemons() -> IpvsMessage {
        Self::new(IpvsCmd::GetDaemon, Vec::new())
    }

    /// `SET_CONFIG` with these timeouts (0 leaves a value unchanged; zeros are sent).
    pub fn set_timeouts(t: &Timeouts) -> IpvsMessage {
        Self::new(
            IpvsCmd::SetConfig,
            vec![
                IpvsAttr::TimeoutTcp(t.tcp),
                IpvsAttr::TimeoutTcpFin(t.tcp_fin),
                IpvsAttr::TimeoutUdp(t.udp),
            ],
        )
    }

    /// `GET_CONFIG`.
    pub fn get_timeouts() -> IpvsMessage {
        Self::new(IpvsCmd::GetConfig, Vec::new())
    }

    /// `GET_INFO`.
    pub fn get_info() -> IpvsMessage {
        Self::new(IpvsCmd::GetInfo, Vec::new())
    }

    /// `ZERO` for one service, or every counter when `None`.
    pub fn zero(id: Option<&ServiceId>) -> IpvsMessage {
        match id {
            Some(id) => Self::with_id(IpvsCmd::Zero, id),
            None => Self::new(IpvsCmd::Zero, Vec::new()),
        }
    }

    /// `FLUSH`.
    pub fn flush() -> IpvsMessage {
        Self::new(IpvsCmd::Flush, Vec::new())
    }

    /// The first service nest's attributes.
    pub fn service_attrs(&self) -> Option<&[ServiceAttr]> {
        self.attrs.iter().find_map(|a| match a {
            IpvsAttr::Service(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// The first destination nest's attributes.
    pub fn dest_attrs(&self) -> Option<&[DestAttr]> {
        self.attrs.iter().find_map(|a| match a {
            IpvsAttr::Dest(d) => Some(d.as_slice()),
            _ => None,
        })
    }

    /// The first daemon nest's attributes.
    pub fn daemon_attrs(&self) -> Option<&[DaemonAttr]> {
        self.attrs.iter().find_map(|a| match a {
            IpvsAttr::Daemon(d) => Some(d.as_slice()),
            _ => None,
        })
    }

    /// The service this message carries.
    pub fn service(&self) -> Result<Service, DecodeError> {
        let attrs = self
            .service_attrs()
            .ok_or_else(|| DecodeError::new("message has no service"))?;
        ServiceAttr::to_service(attrs)
    }

    /// The destination this message carries; `service_af` is used when the kernel omits
    /// the destination's family (before 3.18).
    pub fn destination(
        &self,
        service_af: crate::model::AddressFamily,
    ) -> Result<Destination, DecodeError> {
        let attrs = self
            .dest_attrs()
            .ok_or_else(|| DecodeError::new("message has no destination"))?;
        DestAttr::to_destination(attrs, service_af)
    }

    /// The sync daemon this message carries.
    pub fn daemon(&self) -> Result<Daemon, DecodeError> {
        let attrs = self
            .daemon_attrs()
            .ok_or_else(|| DecodeError::new("message has no daemon"))?;
        DaemonAttr::to_daemon(attrs)
    }

    /// The timeouts this message carries (absent ones are 0).
    pub fn timeouts(&self) -> Timeouts {
        let mut t = Timeouts::default();
        for a in &self.attrs {
            match a {
                IpvsAttr::TimeoutTcp(v) => t.tcp = *v,
                IpvsAttr::TimeoutTcpFin(v) => t.tcp_fin = *v,
                IpvsAttr::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        t
    }

    /// The version information this message carries.
    pub fn info(&self) -> Result<Info, DecodeError> {
        let (mut version, mut size) = (None, None);
        for a in &self.attrs {
            match a {
                IpvsAttr::InfoVersion(v) => version = Some(*v),
                IpvsAttr::InfoConnTabSize(v) => size = Some(*v),
                _ => {}
            }
        }
        Ok(Info {
            version: Version(version.ok_or_else(|| DecodeError::new("info: no VERSION"))?),
            conn_table_size: size.ok_or_else(|| DecodeError::new("info: no CONN_TAB_SIZE"))?,
        })
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }

    fn command(&self) -> u8 {
        self.cmd.into()
    }

    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        nla::attrs_len(&self.attrs)
    }

    fn emit(&self, buffer: &mut [u8]) {
        nla::emit_attrs(&self.attrs, buffer, self.nested_flag)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(
        buf: &[u8],
        header: GenlHeader,
    ) -> Result<Self, netlink_packet_core::DecodeError> {
        IpvsMessage::decode(header.cmd, buf).map_err(|e| e.message().into())
    }
}

/// The first nest of kind `kind` among a message's attributes.
fn first_nest(attrs: &[u8], kind: u16) -> Result<Option<&[u8]>, DecodeError> {
    for a in nla::Attrs::new(attrs) {
        let (k, v) = a.map_err(|e| e.context("IPVS message"))?;
        if k == kind {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The service a reply carries, read straight from the message's attribute bytes (what
/// follows the generic netlink header): the fast path of large dumps, with no
/// [`IpvsMessage`] built. Wherever `IpvsMessage::decode` and [`IpvsMessage::service`]
/// succeed, this gives the same service; it reads only the first service nest, so it does
/// not check the other attributes.
pub fn decode_service_reply(attrs: &[u8]) -> Result<Service, DecodeError> {
    decode_service_reply_with(attrs, true)
}

/// [`decode_service_reply`], leaving the stats out (`stats: None`) unless `stats`.
pub(crate) fn decode_service_reply_with(attrs: &[u8], stats: bool) -> Result<Service, DecodeError> {
    let nest = first_nest(attrs, IPVS_CMD_ATTR_SERVICE)?
        .ok_or_else(|| DecodeError::new("message has no service"))?;
    ServiceAttr::decode_nest(nest, stats).map_err(|e| e.context("IPVS message"))
}

/// The destination a reply carries, read straight from the message's attribute bytes: the
/// fast path of large dumps, as [`decode_service_reply`] is for services. `service_af` is
/// used when the kernel omits the destination's family (before 3.18).
pub fn decode_destination_reply(
    attrs: &[u8],
    service_af: crate::model::AddressFamily,
) -> Result<Destination, DecodeError> {
    decode_destination_reply_with(attrs, service_af, true)
}

/// [`decode_destination_reply`], leaving the stats out (`stats: None`) unless `stats`.
pub(crate) fn decode_destination_reply_with(
    attrs: &[u8],
    service_af: crate::model::AddressFamily,
    stats: bool,
) -> Result<Destination, DecodeError> {
    let nest = first_nest(attrs, IPVS_CMD_ATTR_DEST)?
        .ok_or_else(|| DecodeError::new("message has no destination"))?;
    DestAttr::decode_nest(nest, service_af, stats).map_err(|e| e.context("IPVS message"))
}

impl IpvsMessage {
    /// Decode the attributes of a message of command `cmd`.
    pub fn decode(cmd: u8, buf: &[u8]) -> Result<IpvsMessage, DecodeError> {
        let cmd = IpvsCmd::from(cmd);
        let mut saw_nested = false;
        let attrs = nla::parse_attrs(buf, "IPVS message", |n| {
            IpvsAttr::parse(n, cmd, &mut saw_nested)
        })?;
        let has_nest = attrs.iter().any(|a| {
            matches!(
                a,
                IpvsAttr::Service(_) | IpvsAttr::Dest(_) | IpvsAttr::Daemon(_)
            )
        });
        Ok(IpvsMessage {
            cmd,
            attrs,
            nested_flag: saw_nested || !has_nest,
        })
    }
}
