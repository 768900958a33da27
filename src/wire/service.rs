//! `IPVS_SVC_ATTR_*`: the attributes nested in `IPVS_CMD_ATTR_SERVICE`, and the one place
//! where a [`Service`] becomes attributes and back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netlink_packet_core::{DefaultNla, NlaBuffer};

use super::nla::{self, Attr};
use super::stats::{self, StatsAttr, StatsNest, Width};
use super::{AF_INET, AF_INET6};
use crate::error::DecodeError;
use crate::model::{
    AddressFamily, Netmask, Persistence, PersistenceEngine, Protocol, SchedFlags, Scheduler,
    Service, ServiceFlags, ServiceId,
};

const IPVS_SVC_ATTR_AF: u16 = 1;
const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
const IPVS_SVC_ATTR_ADDR: u16 = 3;
const IPVS_SVC_ATTR_PORT: u16 = 4;
const IPVS_SVC_ATTR_FWMARK: u16 = 5;
const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
const IPVS_SVC_ATTR_FLAGS: u16 = 7;
const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
const IPVS_SVC_ATTR_NETMASK: u16 = 9;
const IPVS_SVC_ATTR_STATS: u16 = 10;
const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
const IPVS_SVC_ATTR_STATS64: u16 = 12;

/// One attribute of a service nest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceAttr {
    /// `IPVS_SVC_ATTR_AF`: address family (2 or 10).
    Af(u16),
    /// `IPVS_SVC_ATTR_PROTOCOL`: IP protocol number.
    Protocol(u16),
    /// `IPVS_SVC_ATTR_ADDR`: `union nf_inet_addr` (IPv4 in the first 4 bytes).
    Addr([u8; 16]),
    /// `IPVS_SVC_ATTR_PORT`: port (big-endian on the wire; host order here).
    Port(u16),
    /// `IPVS_SVC_ATTR_FWMARK`.
    Fwmark(u32),
    /// `IPVS_SVC_ATTR_SCHED_NAME`.
    SchedName(String),
    /// `IPVS_SVC_ATTR_FLAGS`: `{flags, mask}`; the kernel applies
    /// `(old & !mask) | (flags & mask)`.
    Flags {
        /// Flag bits.
        flags: u32,
        /// Which bits to change.
        mask: u32,
    },
    /// `IPVS_SVC_ATTR_TIMEOUT`: persistence timeout, seconds.
    Timeout(u32),
    /// `IPVS_SVC_ATTR_NETMASK`: IPv4 mask (network order, as stored here in `u32::from_ne_bytes`
    /// of its octets) or IPv6 prefix length.
    Netmask(u32),
    /// `IPVS_SVC_ATTR_STATS`.
    Stats(Vec<StatsAttr>),
    /// `IPVS_SVC_ATTR_PE_NAME`.
    PeName(String),
    /// `IPVS_SVC_ATTR_STATS64`.
    Stats64(Vec<StatsAttr>),
    /// Any attribute unknown to this crate, kept as is.
    Other(DefaultNla),
}

impl Attr for ServiceAttr {
    fn buffer_len(&self) -> usize {
        match self {
            ServiceAttr::Af(_) | ServiceAttr::Protocol(_) | ServiceAttr::Port(_) => {
                nla::value_len(2)
            }
            ServiceAttr::Fwmark(_) | ServiceAttr::Timeout(_) | ServiceAttr::Netmask(_) => {
                nla::value_len(4)
            }
            ServiceAttr::Addr(_) => nla::value_len(16),
            ServiceAttr::Flags { .. } => nla::value_len(8),
            ServiceAttr::SchedName(s) | ServiceAttr::PeName(s) => nla::string_len(s),
            ServiceAttr::Stats(a) => StatsNest {
                attrs: a,
                width: Width::Legacy,
            }
            .buffer_len(),
            ServiceAttr::Stats64(a) => StatsNest {
                attrs: a,
                width: Width::Wide,
            }
            .buffer_len(),
            ServiceAttr::Other(o) => Attr::buffer_len(o),
        }
    }

    fn emit(&self, buf: &mut [u8], nested_flag: bool) {
        match self {
            ServiceAttr::Af(v) => nla::emit_value(buf, IPVS_SVC_ATTR_AF, &v.to_ne_bytes()),
            ServiceAttr::Protocol(v) => {
                nla::emit_value(buf, IPVS_SVC_ATTR_PROTOCOL, &v.to_ne_bytes())
            }
            ServiceAttr::Addr(a) => nla::emit_value(buf, IPVS_SVC_ATTR_ADDR, a),
            ServiceAttr::Port(p) => nla::emit_value(buf, IPVS_SVC_ATTR_PORT, &p.to_be_bytes()),
            ServiceAttr::Fwmark(v) => nla::emit_value(buf, IPVS_SVC_ATTR_FWMARK, &v.to_ne_bytes()),
            ServiceAttr::SchedName(s) => nla::emit_string(buf, IPVS_SVC_ATTR_SCHED_NAME, s),
            ServiceAttr::Flags { flags, mask } => {
                let mut v = [0u8; 8];
                v[..4].copy_from_slice(&flags.to_ne_bytes());
                v[4..].copy_from_slice(&mask.to_ne_bytes());
                nla::emit_value(buf, IPVS_SVC_ATTR_FLAGS, &v)
            }
            ServiceAttr::Timeout(v) => {
                nla::emit_value(buf, IPVS_SVC_ATTR_TIMEOUT, &v.to_ne_bytes())
            }
            ServiceAttr::Netmask(v) => {
                nla::emit_value(buf, IPVS_SVC_ATTR_NETMASK, &v.to_ne_bytes())
            }
            ServiceAttr::Stats(a) => StatsNest {
                attrs: a,
                width: Width::Legacy,
            }
            .emit(buf, IPVS_SVC_ATTR_STATS, nested_flag),
            ServiceAttr::PeName(s) => nla::emit_string(buf, IPVS_SVC_ATTR_PE_NAME, s),
            ServiceAttr::Stats64(a) => StatsNest {
                attrs: a,
                width: Width::Wide,
            }
            .emit(buf, IPVS_SVC_ATTR_STATS64, nested_flag),
            ServiceAttr::Other(o) => Attr::emit(o, buf, nested_flag),
        }
    }
}

impl ServiceAttr {
    fn parse(nla: &NlaBuffer<&[u8]>) -> Result<ServiceAttr, DecodeError> {
        match ServiceAttr::parse_value(nla.kind(), nla.value())? {
            Some(a) => Ok(a),
            None => Ok(ServiceAttr::Other(nla::other(nla)?)),
        }
    }

    /// A known attribute from its kind and value; `None` for an unknown kind.
    fn parse_value(kind: u16, v: &[u8]) -> Result<Option<ServiceAttr>, DecodeError> {
        Ok(Some(match kind {
            IPVS_SVC_ATTR_AF => ServiceAttr::Af(nla::u16_of(v, "AF")?),
            IPVS_SVC_ATTR_PROTOCOL => ServiceAttr::Protocol(nla::u16_of(v, "PROTOCOL")?),
            IPVS_SVC_ATTR_ADDR => ServiceAttr::Addr(nla::addr_of(v, "ADDR")?),
            IPVS_SVC_ATTR_PORT => ServiceAttr::Port(nla::u16_be_of(v, "PORT")?),
            IPVS_SVC_ATTR_FWMARK => ServiceAttr::Fwmark(nla::u32_of(v, "FWMARK")?),
            IPVS_SVC_ATTR_SCHED_NAME => ServiceAttr::SchedName(nla::string_of(v, "SCHED_NAME")?),
            IPVS_SVC_ATTR_FLAGS => {
                if v.len() != 8 {
                    return Err(DecodeError::new(format!(
                        "FLAGS: expected 8 bytes, got {}",
                        v.len()
                    )));
                }
                ServiceAttr::Flags {
                    flags: nla::u32_of(&v[..4], "FLAGS")?,
                    mask: nla::u32_of(&v[4..], "FLAGS")?,
                }
            }
            IPVS_SVC_ATTR_TIMEOUT => ServiceAttr::Timeout(nla::u32_of(v, "TIMEOUT")?),
            IPVS_SVC_ATTR_NETMASK => ServiceAttr::Netmask(nla::u32_of(v, "NETMASK")?),
            IPVS_SVC_ATTR_STATS => ServiceAttr::Stats(stats::parse_stats(v)?),
            IPVS_SVC_ATTR_PE_NAME => ServiceAttr::PeName(nla::string_of(v, "PE_NAME")?),
            IPVS_SVC_ATTR_STATS64 => ServiceAttr::Stats64(stats::parse_stats(v)?),
            _ => return Ok(None),
        }))
    }

    /// Parse the contents of a service nest.
    pub(crate) fn parse_nest(buf: &[u8]) -> Result<Vec<ServiceAttr>, DecodeError> {
        nla::parse_attrs(buf, "service", ServiceAttr::parse)
    }

    /// The identity attributes of a service: `AF` and `FWMARK`, or `AF`, `PROTOCOL`, `ADDR`
    /// and `PORT` (what delete, get, zero and the destination commands carry).
    pub fn from_id(id: &ServiceId) -> Vec<ServiceAttr> {
        let mut attrs = Vec::with_capacity(9);
        push_id(&mut attrs, id);
        attrs
    }

    /// Every attribute `NEW_SERVICE` and `SET_SERVICE` need: identity, scheduler, persistence
    /// engine, flags (mask all ones, `HASHED` never sent), timeout and netmask.
    pub fn from_service(svc: &Service) -> Vec<ServiceAttr> {
        let mut attrs = Vec::with_capacity(9);
        push_id(&mut attrs, &svc.id);
        attrs.push(ServiceAttr::SchedName(svc.scheduler.name().to_owned()));
        if let Some(pe) = &svc.pe {
            attrs.push(ServiceAttr::PeName(pe.name().to_owned()));
        }
        attrs.push(ServiceAttr::Flags {
            flags: svc.flags().bits(),
            mask: !0,
        });
        attrs.push(ServiceAttr::Timeout(svc.timeout()));
        attrs.push(ServiceAttr::Netmask(netmask_to_wire(&svc.netmask())));
        attrs
    }

    /// The service these attributes describe (a kernel reply, or a request that carries the
    /// full set). Unknown attributes are ignored; a missing identity is an error.
    pub fn to_service(attrs: &[ServiceAttr]) -> Result<Service, DecodeError> {
        let mut fold = ServiceFold::default();
        for a in attrs {
            fold.apply(a);
        }
        fold.finish()
    }

    /// The service identity these attributes describe.
    pub fn to_id(attrs: &[ServiceAttr]) -> Result<ServiceId, DecodeError> {
        let mut fold = ServiceFold::default();
        for a in attrs {
            fold.apply(a);
        }
        fold.id()
    }

    /// The service in the contents of a service nest, read straight from the bytes (the
    /// fast path of large dumps: no attribute list is built, the stats nests are read into
    /// their values directly). Same result as parsing the nest and
    /// [`to_service`](Self::to_service). With `stats` false the stats nests are skipped
    /// (`stats` is `None`).
    pub(crate) fn decode_nest(buf: &[u8], stats: bool) -> Result<Service, DecodeError> {
        let mut fold = ServiceFold::default();
        // The 32-bit stats are read only if the 64-bit set is missing (before Linux 4.1).
        let mut stats32 = None;
        let ctx = |e: DecodeError| e.context("service");
        for a in nla::Attrs::new(buf) {
            let (kind, v) = a.map_err(ctx)?;
            match kind {
                IPVS_SVC_ATTR_STATS | IPVS_SVC_ATTR_STATS64 if !stats => {}
                IPVS_SVC_ATTR_STATS => stats32 = Some(v),
                IPVS_SVC_ATTR_STATS64 => fold.stats64 = Some(stats::decode_stats(v)?),
                // Names are read without a copy (what `apply` does with the owned ones).
                IPVS_SVC_ATTR_SCHED_NAME => {
                    let name = nla::str_of(v, "SCHED_NAME").map_err(ctx)?;
                    fold.sched = Some(Scheduler::from_name(name));
                }
                IPVS_SVC_ATTR_PE_NAME => {
                    let name = nla::str_of(v, "PE_NAME").map_err(ctx)?;
                    if !name.is_empty() {
                        fold.pe = Some(PersistenceEngine::from_name(name));
                    }
                }
                _ => {
                    if let Some(a) = ServiceAttr::parse_value(kind, v).map_err(ctx)? {
                        fold.apply(&a);
                    }
                }
            }
        }
        if let (None, Some(v)) = (&fold.stats64, stats32) {
            fold.stats = Some(stats::decode_stats(v)?);
        }
        fold.finish()
    }
}

/// The one place where service attributes become a [`Service`], one attribute at a time.
#[derive(Default)]
struct ServiceFold {
    af: Option<u16>,
    proto: Option<u16>,
    addr: Option<[u8; 16]>,
    port: Option<u16>,
    mark: Option<u32>,
    sched: Option<Scheduler>,
    pe: Option<PersistenceEngine>,
    flags: u32,
    timeout: u32,
    netmask: Option<u32>,
    stats: Option<crate::model::Stats>,
    stats64: Option<crate::model::Stats>,
}

impl ServiceFold {
    fn apply(&mut self, a: &ServiceAttr) {
        match a {
            ServiceAttr::Af(v) => self.af = Some(*v),
            ServiceAttr::Protocol(v) => self.proto = Some(*v),
            ServiceAttr::Addr(v) => self.addr = Some(*v),
            ServiceAttr::Port(v) => self.port = Some(*v),
            ServiceAttr::Fwmark(v) => self.mark = Some(*v),
            ServiceAttr::SchedName(s) => self.sched = Some(Scheduler::from_name(s)),
            ServiceAttr::PeName(s) if !s.is_empty() => {
                self.pe = Some(PersistenceEngine::from_name(s))
            }
            ServiceAttr::Flags { flags, .. } => self.flags = *flags,
            ServiceAttr::Timeout(t) => self.timeout = *t,
            ServiceAttr::Netmask(m) => self.netmask = Some(*m),
            ServiceAttr::Stats(s) => self.stats = Some(StatsAttr::to_stats(s)),
            ServiceAttr::Stats64(s) => self.stats64 = Some(StatsAttr::to_stats(s)),
            _ => {}
        }
    }

    fn id(&self) -> Result<ServiceId, DecodeError> {
        let af = family(self.af.ok_or_else(|| DecodeError::new("service: no AF"))?)?;
        match self.mark {
            Some(mark) if mark != 0 => Ok(ServiceId::Fwmark { af, mark }),
            _ => {
                let (Some(proto), Some(addr), Some(port)) = (self.proto, self.addr, self.port)
                else {
                    return Err(DecodeError::new(
                        "service: neither FWMARK nor PROTOCOL, ADDR and PORT",
                    ));
                };
                Ok(ServiceId::Addr {
                    protocol: Protocol::from_number(proto),
                    addr: SocketAddr::new(ip_from_wire(&addr, af), port),
                })
            }
        }
    }

    fn finish(self) -> Result<Service, DecodeError> {
        let id = self.id()?;
        let af = id.af();
        let sched = self
            .sched
            .ok_or_else(|| DecodeError::new("service: no SCHED_NAME"))?;
        let flags = ServiceFlags::from_bits_retain(self.flags);
        let persistent = flags.contains(ServiceFlags::PERSISTENT);
        let netmask = self
            .netmask
            .map_or_else(|| Netmask::full(af), |m| netmask_from_wire(m, af));
        let timeout = self.timeout;
        let sched_bits = ServiceFlags::SCHED1 | ServiceFlags::SCHED2 | ServiceFlags::SCHED3;
        Ok(Service {
            id,
            scheduler: sched,
            sched_flags: SchedFlags::from_bits_retain((flags & sched_bits).bits()),
            persistence: persistent.then_some(Persistence { timeout, netmask }),
            one_packet: flags.contains(ServiceFlags::ONEPACKET),
            pe: self.pe,
            other_flags: flags - (ServiceFlags::PERSISTENT | ServiceFlags::ONEPACKET | sched_bits),
            raw_netmask: (!persistent && netmask != Netmask::full(af)).then_some(netmask),
            raw_timeout: if persistent { 0 } else { timeout },
            stats: self.stats64.or(self.stats),
        })
    }
}

fn push_id(attrs: &mut Vec<ServiceAttr>, id: &ServiceId) {
    attrs.push(ServiceAttr::Af(family_to_wire(id.af())));
    match id {
        ServiceId::Fwmark { mark, .. } => attrs.push(ServiceAttr::Fwmark(*mark)),
        ServiceId::Addr { protocol, addr } => {
            attrs.push(ServiceAttr::Protocol(protocol.number()));
            attrs.push(ServiceAttr::Addr(ip_to_wire(&addr.ip())));
            attrs.push(ServiceAttr::Port(addr.port()));
        }
    }
}

pub(crate) fn family_to_wire(af: AddressFamily) -> u16 {
    match af {
        AddressFamily::Inet => AF_INET,
        AddressFamily::Inet6 => AF_INET6,
    }
}

pub(crate) fn family(v: u16) -> Result<AddressFamily, DecodeError> {
    match v {
        AF_INET => Ok(AddressFamily::Inet),
        AF_INET6 => Ok(AddressFamily::Inet6),
        other => Err(DecodeError::new(format!("unknown address family {other}"))),
    }
}

pub(crate) fn ip_to_wire(ip: &IpAddr) -> [u8; 16] {
    let mut a = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => a[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => a = v6.octets(),
    }
    a
}

pub(crate) fn ip_from_wire(a: &[u8; 16], af: AddressFamily) -> IpAddr {
    match af {
        AddressFamily::Inet => IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
        AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::from(*a)),
    }
}

fn netmask_to_wire(m: &Netmask) -> u32 {
    match m {
        Netmask::V4(mask) => u32::from_ne_bytes(mask.octets()),
        Netmask::V6(len) => u32::from(*len),
    }
}

fn netmask_from_wire(v: u32, af: AddressFamily) -> Netmask {
    match af {
        AddressFamily::Inet => Netmask::V4(Ipv4Addr::from(v.to_ne_bytes())),
        AddressFamily::Inet6 => Netmask::V6(v.min(255) as u8),
    }
}
