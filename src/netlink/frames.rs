//! Frame walking and parsing (sans-IO): the frames of a datagram with their sequence
//! numbers and port ids, the type and code of control frames (acknowledgements, refusals,
//! `NLMSG_DONE`), and the IPVS messages of reply frames.

use netlink_packet_core::{NetlinkBuffer, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;

use crate::error::{Error, KernelContext, Operation, Result};
use crate::wire::IpvsMessage;

/// Whether a request is answered by an acknowledgement or by a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Replies (if any), then an acknowledgement.
    Ack,
    /// Replies until `NLMSG_DONE`.
    Dump,
}

/// Where a reply frame belongs: its sequence number and destination port id.
pub(crate) struct FrameId {
    pub(crate) seq: u32,
    pub(crate) port: u32,
}

/// The frames of one datagram, in order, each with its identity; a malformed frame is an
/// error and ends the walk (what follows it cannot be framed).
pub(crate) fn frames(
    buf: &[u8],
    op: Operation,
) -> impl Iterator<Item = Result<(FrameId, &[u8])>> + '_ {
    let mut off = 0;
    std::iter::from_fn(move || {
        let rest = buf.get(off..).filter(|r| !r.is_empty())?;
        match frame_at(rest, op) {
            Ok((id, len)) => {
                off += (len + 3) & !3;
                Some(Ok((id, rest.get(..len).unwrap_or(&[]))))
            }
            Err(e) => {
                off = buf.len();
                Some(Err(e))
            }
        }
    })
}

/// The identity and length of the netlink frame at the start of `buf`.
fn frame_at(buf: &[u8], op: Operation) -> Result<(FrameId, usize)> {
    let bad = |reason: String| Error::Protocol {
        operation: op,
        reason,
    };
    let nb = NetlinkBuffer::new_checked(buf).map_err(|e| bad(format!("bad netlink frame: {e}")))?;
    let len = nb.length() as usize;
    if len < 16 || len > buf.len() {
        return Err(bad(format!("netlink frame length {len} out of bounds")));
    }
    let id = FrameId {
        seq: nb.sequence_number(),
        port: nb.port_number(),
    };
    Ok((id, len))
}

/// One frame of a dump read by a transport's `dump_each`: checks that it is a generic
/// netlink frame of `family` and hands its command and attributes to `f`. An error (from the
/// check or from `f`) is kept by the [`Reply`](super::recovery::Reply) being read, which
/// skips the frames after it, reads the dump to its end and returns it then.
pub(crate) fn dump_frame(
    frame: &[u8],
    family: u16,
    f: &mut dyn FnMut(u8, &[u8]) -> Result<()>,
) -> Result<()> {
    let (Some(&cmd), Some(attrs), Some(ty)) = (frame.get(16), frame.get(20..), frame.get(4..6))
    else {
        return Err(Error::Protocol {
            operation: Operation::Other,
            reason: format!("reply frame of {} bytes", frame.len()),
        });
    };
    if u16::from_ne_bytes([ty[0], ty[1]]) != family {
        return Err(Error::Protocol {
            operation: Operation::Other,
            reason: "reply of another netlink family".into(),
        });
    }
    f(cmd, attrs)
}

/// A kernel refusal with its errno, before the client names it.
pub(crate) fn kernel_error(errno: i32, op: Operation) -> Error {
    Error::Kernel(KernelContext::new(errno, op, ""))
}

/// A frame's netlink message type.
pub(crate) fn frame_kind(frame: &[u8]) -> u16 {
    frame
        .get(4..6)
        .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]))
}

/// The error code of an `NLMSG_ERROR` or `NLMSG_DONE` frame: the i32 after the header.
pub(crate) fn frame_code(frame: &[u8], op: Operation) -> Result<i32> {
    frame
        .get(16..20)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
        .ok_or_else(|| Error::Protocol {
            operation: op,
            reason: format!("netlink control message of {} bytes", frame.len()),
        })
}

/// The IPVS message a reply frame carries (`None` for a control frame).
pub(crate) fn decode_reply(frame: &[u8]) -> Result<Option<IpvsMessage>> {
    let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(frame).map_err(|e| {
        Error::Protocol {
            operation: Operation::Other,
            reason: format!("undecodable reply: {e}"),
        }
    })?;
    Ok(match msg.payload {
        NetlinkPayload::InnerMessage(m) => Some(m.payload),
        _ => None,
    })
}
