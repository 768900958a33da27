//! `IPVS_DEST_ATTR_*`: the attributes nested in `IPVS_CMD_ATTR_DEST`, and the one place where
//! a [`Destination`] becomes attributes and back.

use netlink_packet_core::{DefaultNla, NlaBuffer};

use super::nla::{self, Attr};
use super::service::{family, family_to_wire, ip_from_wire, ip_to_wire};
use super::stats::{self, StatsAttr, StatsNest, Width};
use crate::error::DecodeError;
use crate::model::{
    AddressFamily, DestCounters, Destination, ForwardMethod, Tunnel, TunnelFlags, TunnelType,
};

const IPVS_DEST_ATTR_ADDR: u16 = 1;
const IPVS_DEST_ATTR_PORT: u16 = 2;
const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
const IPVS_DEST_ATTR_STATS: u16 = 10;
const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
const IPVS_DEST_ATTR_STATS64: u16 = 12;
const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

/// `IP_VS_CONN_F_FWD_MASK`: the forwarding method's bits in `FWD_METHOD`.
const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;

/// One attribute of a destination nest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestAttr {
    /// `IPVS_DEST_ATTR_ADDR`.
    Addr([u8; 16]),
    /// `IPVS_DEST_ATTR_PORT` (big-endian on the wire; host order here).
    Port(u16),
    /// `IPVS_DEST_ATTR_FWD_METHOD`: `IP_VS_CONN_F_*` (forwarding in the low 3 bits).
    FwdMethod(u32),
    /// `IPVS_DEST_ATTR_WEIGHT` (the kernel reads it as a signed int).
    Weight(u32),
    /// `IPVS_DEST_ATTR_U_THRESH`.
    UpperThreshold(u32),
    /// `IPVS_DEST_ATTR_L_THRESH`.
    LowerThreshold(u32),
    /// `IPVS_DEST_ATTR_ACTIVE_CONNS` (read-only).
    ActiveConns(u32),
    /// `IPVS_DEST_ATTR_INACT_CONNS` (read-only).
    InactConns(u32),
    /// `IPVS_DEST_ATTR_PERSIST_CONNS` (read-only).
    PersistConns(u32),
    /// `IPVS_DEST_ATTR_STATS`.
    Stats(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_ADDR_FAMILY` (kernel 3.18+).
    AddrFamily(u16),
    /// `IPVS_DEST_ATTR_STATS64`.
    Stats64(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_TUN_TYPE` (kernel 5.2+).
    TunType(u8),
    /// `IPVS_DEST_ATTR_TUN_PORT` (big-endian on the wire; host order here).
    TunPort(u16),
    /// `IPVS_DEST_ATTR_TUN_FLAGS`.
    TunFlags(u16),
    /// Any attribute unknown to this crate, kept as is.
    Other(DefaultNla),
}

impl Attr for DestAttr {
    fn buffer_len(&self) -> usize {
        match self {
            DestAttr::Addr(_) => nla::value_len(16),
            DestAttr::Port(_)
            | DestAttr::AddrFamily(_)
            | DestAttr::TunPort(_)
            | DestAttr::TunFlags(_) => nla::value_len(2),
            DestAttr::TunType(_) => nla::value_len(1),
            DestAttr::FwdMethod(_)
            | DestAttr::Weight(_)
            | DestAttr::UpperThreshold(_)
            | DestAttr::LowerThreshold(_)
            | DestAttr::ActiveConns(_)
            | DestAttr::InactConns(_)
            | DestAttr::PersistConns(_) => nla::value_len(4),
            DestAttr::Stats(a) => StatsNest {
                attrs: a,
                width: Width::Legacy,
            }
            .buffer_len(),
            DestAttr::Stats64(a) => StatsNest {
                attrs: a,
                width: Width::Wide,
            }
            .buffer_len(),
            DestAttr::Other(o) => Attr::buffer_len(o),
        }
    }

    fn emit(&self, buf: &mut [u8], nested_flag: bool) {
        let u32_attr = |buf: &mut [u8], kind, v: &u32| nla::emit_value(buf, kind, &v.to_ne_bytes());
        match self {
            DestAttr::Addr(a) => nla::emit_value(buf, IPVS_DEST_ATTR_ADDR, a),
            DestAttr::Port(p) => nla::emit_value(buf, IPVS_DEST_ATTR_PORT, &p.to_be_bytes()),
            DestAttr::FwdMethod(v) => u32_attr(buf, IPVS_DEST_ATTR_FWD_METHOD, v),
            DestAttr::Weight(v) => u32_attr(buf, IPVS_DEST_ATTR_WEIGHT, v),
            DestAttr::UpperThreshold(v) => u32_attr(buf, IPVS_DEST_ATTR_U_THRESH, v),
            DestAttr::LowerThreshold(v) => u32_attr(buf, IPVS_DEST_ATTR_L_THRESH, v),
            DestAttr::ActiveConns(v) => u32_attr(buf, IPVS_DEST_ATTR_ACTIVE_CONNS, v),
            DestAttr::InactConns(v) => u32_attr(buf, IPVS_DEST_ATTR_INACT_CONNS, v),
            DestAttr::PersistConns(v) => u32_attr(buf, IPVS_DEST_ATTR_PERSIST_CONNS, v),
            DestAttr::Stats(a) => StatsNest {
                attrs: a,
                width: Width::Legacy,
            }
            .emit(buf, IPVS_DEST_ATTR_STATS, nested_flag),
            DestAttr::AddrFamily(v) => {
                nla::emit_value(buf, IPVS_DEST_ATTR_ADDR_FAMILY, &v.to_ne_bytes())
            }
            DestAttr::Stats64(a) => StatsNest {
                attrs: a,
                width: Width::Wide,
            }
            .emit(buf, IPVS_DEST_ATTR_STATS64, nested_flag),
            DestAttr::TunType(v) => nla::emit_value(buf, IPVS_DEST_ATTR_TUN_TYPE, &[*v]),
            DestAttr::TunPort(p) => nla::emit_value(buf, IPVS_DEST_ATTR_TUN_PORT, &p.to_be_bytes()),
            DestAttr::TunFlags(v) => {
                nla::emit_value(buf, IPVS_DEST_ATTR_TUN_FLAGS, &v.to_ne_bytes())
            }
            DestAttr::Other(o) => Attr::emit(o, buf, nested_flag),
        }
    }
}

impl DestAttr {
    fn parse(nla: &NlaBuffer<&[u8]>) -> Result<DestAttr, DecodeError> {
        match DestAttr::parse_value(nla.kind(), nla.value())? {
            Some(a) => Ok(a),
            None => Ok(DestAttr::Other(nla::other(nla)?)),
        }
    }

    /// A known attribute from its kind and value; `None` for an unknown kind.
    fn parse_value(kind: u16, v: &[u8]) -> Result<Option<DestAttr>, DecodeError> {
        Ok(Some(match kind {
            IPVS_DEST_ATTR_ADDR => DestAttr::Addr(nla::addr_of(v, "ADDR")?),
            IPVS_DEST_ATTR_PORT => DestAttr::Port(nla::u16_be_of(v, "PORT")?),
            IPVS_DEST_ATTR_FWD_METHOD => DestAttr::FwdMethod(nla::u32_of(v, "FWD_METHOD")?),
            IPVS_DEST_ATTR_WEIGHT => DestAttr::Weight(nla::u32_of(v, "WEIGHT")?),
            IPVS_DEST_ATTR_U_THRESH => DestAttr::UpperThreshold(nla::u32_of(v, "U_THRESH")?),
            IPVS_DEST_ATTR_L_THRESH => DestAttr::LowerThreshold(nla::u32_of(v, "L_THRESH")?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => DestAttr::ActiveConns(nla::u32_of(v, "ACTIVE_CONNS")?),
            IPVS_DEST_ATTR_INACT_CONNS => DestAttr::InactConns(nla::u32_of(v, "INACT_CONNS")?),
            IPVS_DEST_ATTR_PERSIST_CONNS => {
                DestAttr::PersistConns(nla::u32_of(v, "PERSIST_CONNS")?)
            }
            IPVS_DEST_ATTR_STATS => DestAttr::Stats(stats::parse_stats(v)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => DestAttr::AddrFamily(nla::u16_of(v, "ADDR_FAMILY")?),
            IPVS_DEST_ATTR_STATS64 => DestAttr::Stats64(stats::parse_stats(v)?),
            IPVS_DEST_ATTR_TUN_TYPE => DestAttr::TunType(nla::u8_of(v, "TUN_TYPE")?),
            IPVS_DEST_ATTR_TUN_PORT => DestAttr::TunPort(nla::u16_be_of(v, "TUN_PORT")?),
            IPVS_DEST_ATTR_TUN_FLAGS => DestAttr::TunFlags(nla::u16_of(v, "TUN_FLAGS")?),
            _ => return Ok(None),
        }))
    }

    /// Parse the contents of a destination nest.
    pub(crate) fn parse_nest(buf: &[u8]) -> Result<Vec<DestAttr>, DecodeError> {
        nla::parse_attrs(buf, "destination", DestAttr::parse)
    }

    /// The identity attributes of a destination (`ADDR_FAMILY`, `ADDR`, `PORT`): what
    /// `DEL_DEST` needs.
    pub fn from_dest_id(addr: &std::net::SocketAddr) -> Vec<DestAttr> {
        let mut attrs = Vec::with_capacity(3);
        push_dest_id(&mut attrs, addr);
        attrs
    }

    /// Every attribute `NEW_DEST` and `SET_DEST` need: identity, forwarding method, weight,
    /// thresholds, and for tunnels the tunnel type, port and flags.
    pub fn from_destination(d: &Destination) -> Vec<DestAttr> {
        // The identity, four values and up to three tunnel options, in one allocation.
        let mut attrs = Vec::with_capacity(10);
        push_dest_id(&mut attrs, &d.socket_addr());
        attrs.push(DestAttr::FwdMethod(d.forward.code()));
        attrs.push(DestAttr::Weight(d.weight));
        attrs.push(DestAttr::UpperThreshold(d.upper_threshold));
        attrs.push(DestAttr::LowerThreshold(d.lower_threshold));
        if let ForwardMethod::Tunnel(t) = &d.forward {
            attrs.push(DestAttr::TunType(t.kind.code()));
            attrs.push(DestAttr::TunPort(t.port));
            attrs.push(DestAttr::TunFlags(t.flags.bits()));
        }
        attrs
    }

    /// The destination these attributes describe. `service_af` is used when
    /// `ADDR_FAMILY` is absent (kernels before 3.18).
    pub fn to_destination(
        attrs: &[DestAttr],
        service_af: AddressFamily,
    ) -> Result<Destination, DecodeError> {
        let mut fold = DestFold::new(service_af);
        for a in attrs {
            fold.apply(a)?;
        }
        fold.finish()
    }

    /// The destination in the contents of a destination nest, read straight from the bytes
    /// (the fast path of large dumps: no attribute list is built, the stats nests are read
    /// into their values directly). Same result as parsing the nest and
    /// [`to_destination`](Self::to_destination).
    ///
    /// With `stats` false the stats nests are skipped (`stats` is `None`).
    pub(crate) fn decode_nest(
        buf: &[u8],
        service_af: AddressFamily,
        stats: bool,
    ) -> Result<Destination, DecodeError> {
        let mut fold = DestFold::new(service_af);
        // The 32-bit stats are read only if the 64-bit set is missing (before Linux 4.1).
        let mut stats32 = None;
        for a in nla::Attrs::new(buf) {
            let (kind, v) = a.map_err(|e| e.context("destination"))?;
            match kind {
                IPVS_DEST_ATTR_STATS | IPVS_DEST_ATTR_STATS64 if !stats => {}
                IPVS_DEST_ATTR_STATS => stats32 = Some(v),
                IPVS_DEST_ATTR_STATS64 => fold.stats64 = Some(stats::decode_stats(v)?),
                _ => {
                    if let Some(a) =
                        DestAttr::parse_value(kind, v).map_err(|e| e.context("destination"))?
                    {
                        fold.apply(&a)?;
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

/// A destination's identity attributes (family, address, port).
fn push_dest_id(attrs: &mut Vec<DestAttr>, addr: &std::net::SocketAddr) {
    let ip = addr.ip();
    attrs.push(DestAttr::AddrFamily(family_to_wire(AddressFamily::of(&ip))));
    attrs.push(DestAttr::Addr(ip_to_wire(&ip)));
    attrs.push(DestAttr::Port(addr.port()));
}

/// The one place where destination attributes become a [`Destination`], one attribute at a
/// time.
struct DestFold {
    af: AddressFamily,
    addr: Option<[u8; 16]>,
    port: Option<u16>,
    fwd: Option<u32>,
    weight: u32,
    upper: u32,
    lower: u32,
    counters: Option<DestCounters>,
    tun_type: u8,
    tun_port: u16,
    tun_flags: u16,
    stats: Option<crate::model::Stats>,
    stats64: Option<crate::model::Stats>,
}

impl DestFold {
    fn new(af: AddressFamily) -> DestFold {
        DestFold {
            af,
            addr: None,
            port: None,
            fwd: None,
            weight: 0,
            upper: 0,
            lower: 0,
            counters: None,
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
            stats: None,
            stats64: None,
        }
    }

    fn apply(&mut self, a: &DestAttr) -> Result<(), DecodeError> {
        match a {
            DestAttr::Addr(v) => self.addr = Some(*v),
            DestAttr::Port(v) => self.port = Some(*v),
            DestAttr::FwdMethod(v) => self.fwd = Some(*v),
            DestAttr::Weight(v) => self.weight = *v,
            DestAttr::UpperThreshold(v) => self.upper = *v,
            DestAttr::LowerThreshold(v) => self.lower = *v,
            DestAttr::ActiveConns(v) => {
                self.counters.get_or_insert_with(Default::default).active = *v
            }
            DestAttr::InactConns(v) => {
                self.counters.get_or_insert_with(Default::default).inactive = *v
            }
            DestAttr::PersistConns(v) => {
                self.counters
                    .get_or_insert_with(Default::default)
                    .persistent = *v
            }
            DestAttr::Stats(s) => self.stats = Some(StatsAttr::to_stats(s)),
            DestAttr::AddrFamily(v) => self.af = family(*v)?,
            DestAttr::Stats64(s) => self.stats64 = Some(StatsAttr::to_stats(s)),
            DestAttr::TunType(v) => self.tun_type = *v,
            DestAttr::TunPort(v) => self.tun_port = *v,
            DestAttr::TunFlags(v) => self.tun_flags = *v,
            DestAttr::Other(_) => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Destination, DecodeError> {
        let addr = self
            .addr
            .ok_or_else(|| DecodeError::new("destination: no ADDR"))?;
        let port = self
            .port
            .ok_or_else(|| DecodeError::new("destination: no PORT"))?;
        let fwd = self
            .fwd
            .ok_or_else(|| DecodeError::new("destination: no FWD_METHOD"))?;
        let forward = match ForwardMethod::from_code(fwd & IP_VS_CONN_F_FWD_MASK) {
            ForwardMethod::Tunnel(_) => ForwardMethod::Tunnel(Tunnel {
                kind: TunnelType::from_code(self.tun_type),
                port: self.tun_port,
                flags: TunnelFlags::from_bits_retain(self.tun_flags),
            }),
            other => other,
        };
        Ok(Destination {
            addr: ip_from_wire(&addr, self.af),
            port,
            forward,
            weight: self.weight,
            upper_threshold: self.upper,
            lower_threshold: self.lower,
            counters: self.counters,
            stats: self.stats64.or(self.stats),
        })
    }
}
