//! `IPVS_STATS_ATTR_*`: the counters nested in a service's or destination's `STATS` (32-bit
//! except the byte counters) and `STATS64` (all 64-bit).

use netlink_packet_core::{DefaultNla, NlaBuffer};

use super::nla::{self, Attr};
use crate::error::DecodeError;
use crate::model::Stats;

const IPVS_STATS_ATTR_CONNS: u16 = 1;
const IPVS_STATS_ATTR_INPKTS: u16 = 2;
const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
const IPVS_STATS_ATTR_INBYTES: u16 = 4;
const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
const IPVS_STATS_ATTR_CPS: u16 = 6;
const IPVS_STATS_ATTR_INPPS: u16 = 7;
const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
const IPVS_STATS_ATTR_INBPS: u16 = 9;
const IPVS_STATS_ATTR_OUTBPS: u16 = 10;

/// Which set a stats nest is: it decides the counters' widths on emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// `STATS`: 32-bit counters, 64-bit byte counters.
    Legacy,
    /// `STATS64`: all 64-bit.
    Wide,
}

/// One counter of a stats nest. Values are held as u64 whatever their width on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsAttr {
    /// `IPVS_STATS_ATTR_CONNS`.
    Conns(u64),
    /// `IPVS_STATS_ATTR_INPKTS`.
    InPkts(u64),
    /// `IPVS_STATS_ATTR_OUTPKTS`.
    OutPkts(u64),
    /// `IPVS_STATS_ATTR_INBYTES`.
    InBytes(u64),
    /// `IPVS_STATS_ATTR_OUTBYTES`.
    OutBytes(u64),
    /// `IPVS_STATS_ATTR_CPS`.
    Cps(u64),
    /// `IPVS_STATS_ATTR_INPPS`.
    InPps(u64),
    /// `IPVS_STATS_ATTR_OUTPPS`.
    OutPps(u64),
    /// `IPVS_STATS_ATTR_INBPS`.
    InBps(u64),
    /// `IPVS_STATS_ATTR_OUTBPS`.
    OutBps(u64),
    /// `IPVS_STATS_ATTR_PAD` or any attribute unknown to this crate, kept as is.
    Other(DefaultNla),
}

impl StatsAttr {
    fn kind_value(&self) -> Option<(u16, u64)> {
        Some(match *self {
            StatsAttr::Conns(v) => (IPVS_STATS_ATTR_CONNS, v),
            StatsAttr::InPkts(v) => (IPVS_STATS_ATTR_INPKTS, v),
            StatsAttr::OutPkts(v) => (IPVS_STATS_ATTR_OUTPKTS, v),
            StatsAttr::InBytes(v) => (IPVS_STATS_ATTR_INBYTES, v),
            StatsAttr::OutBytes(v) => (IPVS_STATS_ATTR_OUTBYTES, v),
            StatsAttr::Cps(v) => (IPVS_STATS_ATTR_CPS, v),
            StatsAttr::InPps(v) => (IPVS_STATS_ATTR_INPPS, v),
            StatsAttr::OutPps(v) => (IPVS_STATS_ATTR_OUTPPS, v),
            StatsAttr::InBps(v) => (IPVS_STATS_ATTR_INBPS, v),
            StatsAttr::OutBps(v) => (IPVS_STATS_ATTR_OUTBPS, v),
            StatsAttr::Other(_) => return None,
        })
    }

    fn is_wide(&self, width: Width) -> bool {
        width == Width::Wide || matches!(self, StatsAttr::InBytes(_) | StatsAttr::OutBytes(_))
    }

    fn parse(nla: &NlaBuffer<&[u8]>) -> Result<StatsAttr, DecodeError> {
        match StatsAttr::parse_value(nla.kind(), nla.value())? {
            Some(a) => Ok(a),
            None => Ok(StatsAttr::Other(nla::other(nla)?)),
        }
    }

    /// A known counter attribute from its kind and value; `None` for an unknown kind.
    fn parse_value(kind: u16, v: &[u8]) -> Result<Option<StatsAttr>, DecodeError> {
        let c = |name| nla::counter_of(v, name);
        Ok(Some(match kind {
            IPVS_STATS_ATTR_CONNS => StatsAttr::Conns(c("CONNS")?),
            IPVS_STATS_ATTR_INPKTS => StatsAttr::InPkts(c("INPKTS")?),
            IPVS_STATS_ATTR_OUTPKTS => StatsAttr::OutPkts(c("OUTPKTS")?),
            IPVS_STATS_ATTR_INBYTES => StatsAttr::InBytes(c("INBYTES")?),
            IPVS_STATS_ATTR_OUTBYTES => StatsAttr::OutBytes(c("OUTBYTES")?),
            IPVS_STATS_ATTR_CPS => StatsAttr::Cps(c("CPS")?),
            IPVS_STATS_ATTR_INPPS => StatsAttr::InPps(c("INPPS")?),
            IPVS_STATS_ATTR_OUTPPS => StatsAttr::OutPps(c("OUTPPS")?),
            IPVS_STATS_ATTR_INBPS => StatsAttr::InBps(c("INBPS")?),
            IPVS_STATS_ATTR_OUTBPS => StatsAttr::OutBps(c("OUTBPS")?),
            _ => return Ok(None),
        }))
    }

    /// The attributes of a stats value, in the kernel's order.
    pub fn from_stats(s: &Stats) -> Vec<StatsAttr> {
        vec![
            StatsAttr::Conns(s.conns),
            StatsAttr::InPkts(s.in_packets),
            StatsAttr::OutPkts(s.out_packets),
            StatsAttr::InBytes(s.in_bytes),
            StatsAttr::OutBytes(s.out_bytes),
            StatsAttr::Cps(s.cps),
            StatsAttr::InPps(s.in_pps),
            StatsAttr::OutPps(s.out_pps),
            StatsAttr::InBps(s.in_bps),
            StatsAttr::OutBps(s.out_bps),
        ]
    }

    /// The stats value of these attributes (absent counters are 0).
    pub fn to_stats(attrs: &[StatsAttr]) -> Stats {
        let mut s = Stats::default();
        for a in attrs {
            a.apply(&mut s);
        }
        s
    }

    /// Set the counter this attribute holds (the one place where a counter attribute
    /// becomes a [`Stats`] field).
    fn apply(&self, s: &mut Stats) {
        {
            match *self {
                StatsAttr::Conns(v) => s.conns = v,
                StatsAttr::InPkts(v) => s.in_packets = v,
                StatsAttr::OutPkts(v) => s.out_packets = v,
                StatsAttr::InBytes(v) => s.in_bytes = v,
                StatsAttr::OutBytes(v) => s.out_bytes = v,
                StatsAttr::Cps(v) => s.cps = v,
                StatsAttr::InPps(v) => s.in_pps = v,
                StatsAttr::OutPps(v) => s.out_pps = v,
                StatsAttr::InBps(v) => s.in_bps = v,
                StatsAttr::OutBps(v) => s.out_bps = v,
                StatsAttr::Other(_) => {}
            }
        }
    }
}

/// A stats nest: its attributes and its width.
pub(crate) struct StatsNest<'a> {
    pub(crate) attrs: &'a [StatsAttr],
    pub(crate) width: Width,
}

struct Sized<'a>(&'a StatsAttr, Width);

impl Attr for Sized<'_> {
    fn buffer_len(&self) -> usize {
        match self.0 {
            StatsAttr::Other(o) => Attr::buffer_len(o),
            a if a.is_wide(self.1) => nla::value_len(8),
            _ => nla::value_len(4),
        }
    }

    fn emit(&self, buf: &mut [u8], nested_flag: bool) {
        match self.0.kind_value() {
            None => {
                if let StatsAttr::Other(o) = self.0 {
                    Attr::emit(o, buf, nested_flag)
                }
            }
            Some((kind, v)) if self.0.is_wide(self.1) => {
                nla::emit_value(buf, kind, &v.to_ne_bytes())
            }
            // The legacy set's counters are 32-bit: truncation is what the kernel does too.
            Some((kind, v)) => nla::emit_value(buf, kind, &(v as u32).to_ne_bytes()),
        }
    }
}

impl StatsNest<'_> {
    pub(crate) fn buffer_len(&self) -> usize {
        nla::NLA_HDR
            + self
                .attrs
                .iter()
                .map(|a| Sized(a, self.width).buffer_len())
                .sum::<usize>()
    }

    pub(crate) fn emit(&self, buf: &mut [u8], kind: u16, nested_flag: bool) {
        let inner = self.buffer_len() - nla::NLA_HDR;
        nla::emit_header(buf, kind, inner, nested_flag);
        let mut at = nla::NLA_HDR;
        for a in self.attrs {
            let s = Sized(a, self.width);
            let len = s.buffer_len();
            s.emit(&mut buf[at..at + len], nested_flag);
            at += len;
        }
    }
}

/// The stats value of a stats nest's contents, read straight from the bytes (no attribute
/// list is built).
pub(crate) fn decode_stats(buf: &[u8]) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for a in nla::Attrs::new(buf) {
        let (kind, v) = a.map_err(|e| e.context("stats"))?;
        if let Some(a) = StatsAttr::parse_value(kind, v).map_err(|e| e.context("stats"))? {
            a.apply(&mut s);
        }
    }
    Ok(s)
}

pub(crate) fn parse_stats(buf: &[u8]) -> Result<Vec<StatsAttr>, DecodeError> {
    nla::parse_attrs(buf, "stats", StatsAttr::parse)
}
