//! `IPVS_DAEMON_ATTR_*`: the attributes nested in `IPVS_CMD_ATTR_DAEMON`, and the one place
//! where a [`Daemon`] becomes attributes and back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DefaultNla, NlaBuffer};

use super::nla::{self, Attr};
use crate::error::DecodeError;
use crate::model::{Daemon, DaemonState};

const IPVS_DAEMON_ATTR_STATE: u16 = 1;
const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

/// One attribute of a sync daemon nest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DaemonAttr {
    /// `IPVS_DAEMON_ATTR_STATE`: `IP_VS_STATE_MASTER` (1) or `IP_VS_STATE_BACKUP` (2).
    State(u32),
    /// `IPVS_DAEMON_ATTR_MCAST_IFN`.
    McastIfn(String),
    /// `IPVS_DAEMON_ATTR_SYNC_ID`.
    SyncId(u32),
    /// `IPVS_DAEMON_ATTR_SYNC_MAXLEN`.
    SyncMaxLen(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP` (IPv4, network order on the wire).
    McastGroup(Ipv4Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP6`.
    McastGroup6(Ipv6Addr),
    /// `IPVS_DAEMON_ATTR_MCAST_PORT` (host order).
    McastPort(u16),
    /// `IPVS_DAEMON_ATTR_MCAST_TTL`.
    McastTtl(u8),
    /// Any attribute unknown to this crate, kept as is.
    Other(DefaultNla),
}

impl Attr for DaemonAttr {
    fn buffer_len(&self) -> usize {
        match self {
            DaemonAttr::State(_) | DaemonAttr::SyncId(_) | DaemonAttr::McastGroup(_) => {
                nla::value_len(4)
            }
            DaemonAttr::McastIfn(s) => nla::string_len(s),
            DaemonAttr::SyncMaxLen(_) | DaemonAttr::McastPort(_) => nla::value_len(2),
            DaemonAttr::McastGroup6(_) => nla::value_len(16),
            DaemonAttr::McastTtl(_) => nla::value_len(1),
            DaemonAttr::Other(o) => Attr::buffer_len(o),
        }
    }

    fn emit(&self, buf: &mut [u8], nested_flag: bool) {
        match self {
            DaemonAttr::State(v) => nla::emit_value(buf, IPVS_DAEMON_ATTR_STATE, &v.to_ne_bytes()),
            DaemonAttr::McastIfn(s) => nla::emit_string(buf, IPVS_DAEMON_ATTR_MCAST_IFN, s),
            DaemonAttr::SyncId(v) => {
                nla::emit_value(buf, IPVS_DAEMON_ATTR_SYNC_ID, &v.to_ne_bytes())
            }
            DaemonAttr::SyncMaxLen(v) => {
                nla::emit_value(buf, IPVS_DAEMON_ATTR_SYNC_MAXLEN, &v.to_ne_bytes())
            }
            DaemonAttr::McastGroup(a) => {
                nla::emit_value(buf, IPVS_DAEMON_ATTR_MCAST_GROUP, &a.octets())
            }
            DaemonAttr::McastGroup6(a) => {
                nla::emit_value(buf, IPVS_DAEMON_ATTR_MCAST_GROUP6, &a.octets())
            }
            DaemonAttr::McastPort(v) => {
                nla::emit_value(buf, IPVS_DAEMON_ATTR_MCAST_PORT, &v.to_ne_bytes())
            }
            DaemonAttr::McastTtl(v) => nla::emit_value(buf, IPVS_DAEMON_ATTR_MCAST_TTL, &[*v]),
            DaemonAttr::Other(o) => Attr::emit(o, buf, nested_flag),
        }
    }
}

impl DaemonAttr {
    fn parse(nla: &NlaBuffer<&[u8]>) -> Result<DaemonAttr, DecodeError> {
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_DAEMON_ATTR_STATE => DaemonAttr::State(nla::u32_of(v, "STATE")?),
            IPVS_DAEMON_ATTR_MCAST_IFN => DaemonAttr::McastIfn(nla::string_of(v, "MCAST_IFN")?),
            IPVS_DAEMON_ATTR_SYNC_ID => DaemonAttr::SyncId(nla::u32_of(v, "SYNC_ID")?),
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => DaemonAttr::SyncMaxLen(nla::u16_of(v, "SYNC_MAXLEN")?),
            IPVS_DAEMON_ATTR_MCAST_GROUP => {
                let a = nla::addr_of(v, "MCAST_GROUP")?;
                if v.len() != 4 {
                    return Err(DecodeError::new("MCAST_GROUP: expected 4 bytes"));
                }
                DaemonAttr::McastGroup(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
            }
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => {
                if v.len() != 16 {
                    return Err(DecodeError::new("MCAST_GROUP6: expected 16 bytes"));
                }
                DaemonAttr::McastGroup6(Ipv6Addr::from(nla::addr_of(v, "MCAST_GROUP6")?))
            }
            IPVS_DAEMON_ATTR_MCAST_PORT => DaemonAttr::McastPort(nla::u16_of(v, "MCAST_PORT")?),
            IPVS_DAEMON_ATTR_MCAST_TTL => DaemonAttr::McastTtl(nla::u8_of(v, "MCAST_TTL")?),
            _ => DaemonAttr::Other(nla::other(nla)?),
        })
    }

    /// Parse the contents of a daemon nest.
    pub(crate) fn parse_nest(buf: &[u8]) -> Result<Vec<DaemonAttr>, DecodeError> {
        nla::parse_attrs(buf, "daemon", DaemonAttr::parse)
    }

    /// The attributes of `NEW_DAEMON` for this daemon (optional values only when set).
    pub fn from_daemon(d: &Daemon) -> Vec<DaemonAttr> {
        let mut attrs = vec![
            DaemonAttr::State(d.state.code()),
            DaemonAttr::McastIfn(d.interface.clone()),
            DaemonAttr::SyncId(d.sync_id),
        ];
        if let Some(v) = d.max_len {
            attrs.push(DaemonAttr::SyncMaxLen(v));
        }
        match d.group {
            Some(IpAddr::V4(g)) => attrs.push(DaemonAttr::McastGroup(g)),
            Some(IpAddr::V6(g)) => attrs.push(DaemonAttr::McastGroup6(g)),
            None => {}
        }
        if let Some(v) = d.port {
            attrs.push(DaemonAttr::McastPort(v));
        }
        if let Some(v) = d.ttl {
            attrs.push(DaemonAttr::McastTtl(v));
        }
        attrs
    }

    /// The daemon these attributes describe.
    pub fn to_daemon(attrs: &[DaemonAttr]) -> Result<Daemon, DecodeError> {
        let mut state = None;
        let mut d = Daemon {
            state: DaemonState::Master,
            interface: String::new(),
            sync_id: 0,
            max_len: None,
            group: None,
            port: None,
            ttl: None,
        };
        for a in attrs {
            match a {
                DaemonAttr::State(v) => state = Some(DaemonState::from_code(*v)),
                DaemonAttr::McastIfn(s) => d.interface.clone_from(s),
                DaemonAttr::SyncId(v) => d.sync_id = *v,
                DaemonAttr::SyncMaxLen(v) => d.max_len = Some(*v),
                DaemonAttr::McastGroup(g) => d.group = Some(IpAddr::V4(*g)),
                DaemonAttr::McastGroup6(g) => d.group = Some(IpAddr::V6(*g)),
                DaemonAttr::McastPort(v) => d.port = Some(*v),
                DaemonAttr::McastTtl(v) => d.ttl = Some(*v),
                DaemonAttr::Other(_) => {}
            }
        }
        d.state = state.ok_or_else(|| DecodeError::new("daemon: no STATE"))?;
        Ok(d)
    }
}
