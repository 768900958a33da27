//! Layer 2: the `IPVS` generic netlink family, encoded and decoded.
//!
//! An [`IpvsMessage`] is one generic netlink payload: a command ([`IpvsCmd`]) and its
//! top-level attributes ([`IpvsAttr`]), some of which nest [`ServiceAttr`], [`DestAttr`],
//! [`DaemonAttr`] and [`StatsAttr`]. Unknown commands, attributes and values are kept, so a
//! newer kernel never breaks a decode, and decoding any bytes returns `Ok` or `Err`, never
//! panics.
//!
//! Conversions between the model and attributes live in one place per object:
//! [`ServiceAttr::from_service`] / [`ServiceAttr::to_service`],
//! [`DestAttr::from_destination`] / [`DestAttr::to_destination`],
//! [`DaemonAttr::from_daemon`] / [`DaemonAttr::to_daemon`], and [`IpvsMessage`]'s request
//! constructors and reply readers for timeouts and info.

mod daemon;
mod destination;
mod message;
mod nla;
mod service;
mod stats;

pub use daemon::DaemonAttr;
pub use destination::DestAttr;
pub use message::{decode_destination_reply, decode_service_reply, IpvsAttr, IpvsCmd, IpvsMessage};
pub(crate) use message::{decode_destination_reply_with, decode_service_reply_with};
pub use service::ServiceAttr;
pub use stats::StatsAttr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::GenlMessage;

use crate::error::DecodeError;

/// The generic netlink family name.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// The family version this crate speaks.
pub const IPVS_GENL_VERSION: u8 = 1;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// A complete netlink message carrying an IPVS payload.
pub type IpvsNetlinkMessage = NetlinkMessage<GenlMessage<IpvsMessage>>;

/// Frame `msg` as a request: netlink header (`NLM_F_REQUEST | NLM_F_ACK`, plus `NLM_F_DUMP`
/// when `dump`), generic netlink header, attributes. Returns the bytes.
pub fn frame_request(msg: IpvsMessage, family_id: u16, seq: u32, dump: bool) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(genl));
    nl.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

/// Decode one complete netlink message holding an IPVS payload (or an error, done or
/// other control message).
pub fn parse_netlink(buf: &[u8]) -> Result<IpvsNetlinkMessage, DecodeError> {
    IpvsNetlinkMessage::deserialize(buf).map_err(DecodeError::from)
}
