//! A fake kernel for the transports' tests: the far end of a datagram socket pair whose
//! near end a transport uses as its netlink socket. Datagrams from an unnamed socket carry
//! no netlink address, so the transports take them as the kernel's (port id 0). The fake
//! reads the requests a test's transport sends and answers with frames the test crafts:
//! late, stale, undecodable, or split over datagrams sent at chosen times.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use nix::sys::socket::{recv, MsgFlags};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR};

use super::frames::frames;
use crate::error::Operation;
use crate::wire::IpvsMessage;

/// The port id the fake's answers are addressed to (the transport's, as the kernel would).
pub(crate) const PORT: u32 = 4242;
/// The generic netlink family id the fake answers as `IPVS`.
pub(crate) const FAMILY: u16 = 0x2a;

/// The fake kernel's end of the pair.
pub(crate) struct FakeKernel {
    sock: UnixDatagram,
}

/// A connected pair of datagram sockets: the transport's end and the fake kernel.
///
/// Both are bound to abstract addresses: `recvmmsg` (through nix) reads the sender's address
/// into a buffer the size of a netlink address, and an unnamed sender fills only its first
/// two bytes. The fake's name puts zeros where a netlink address has its port id, so the
/// transports read every datagram as the kernel's.
pub(crate) fn pair() -> (OwnedFd, FakeKernel) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = |end: u8| {
        // sun_path[1] and [2..6], where a netlink address has its padding and port id.
        let mut name = vec![end, 0, 0, 0, 0];
        name.extend_from_slice(format!("lvs-fake-{}-{n}", std::process::id()).as_bytes());
        SocketAddr::from_abstract_name(name).expect("an abstract socket name")
    };
    let (near_addr, far_addr) = (name(b'n'), name(b'f'));
    let near = UnixDatagram::bind_addr(&near_addr).expect("bind the transport's end");
    let far = UnixDatagram::bind_addr(&far_addr).expect("bind the fake kernel's end");
    near.connect_addr(&far_addr).expect("connect");
    far.connect_addr(&near_addr).expect("connect");
    far.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("SO_RCVTIMEO");
    (OwnedFd::from(near), FakeKernel { sock: far })
}

/// The transport's end as a netlink-sys socket (which has no safe constructor from a
/// descriptor: the one `unsafe` block of the tests, allowed here only).
#[allow(unsafe_code)]
pub(crate) fn socket(fd: OwnedFd) -> netlink_sys::Socket {
    // SAFETY: the descriptor is owned, and handed over.
    unsafe { netlink_sys::Socket::from_raw_fd(fd.into_raw_fd()) }
}

/// Whether the transport's end has a datagram waiting (what a transport left unread).
pub(crate) fn has_queued(fd: &impl AsFd) -> bool {
    let mut byte = [0u8; 1];
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_PEEK;
    recv(fd.as_fd().as_raw_fd(), &mut byte, flags).is_ok()
}

impl FakeKernel {
    /// The sequence numbers of the requests of the next datagram the transport sends.
    pub(crate) fn requests(&self) -> Vec<u32> {
        let mut buf = vec![0u8; 1 << 16];
        let n = self
            .sock
            .recv(&mut buf)
            .expect("a request from the transport");
        frames(&buf[..n], Operation::Other)
            .map(|f| f.expect("a well-framed request").0.seq)
            .collect()
    }

    /// The sequence number of the one request of the next datagram.
    pub(crate) fn request(&self) -> u32 {
        let seqs = self.requests();
        assert_eq!(seqs.len(), 1, "one request per datagram");
        seqs[0]
    }

    /// Send `frames` in one datagram.
    pub(crate) fn send(&self, frames: &[Vec<u8>]) {
        self.sock
            .send(&frames.concat())
            .expect("send to the transport");
    }
}

fn header(len: usize, kind: u16, seq: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&(len as u32).to_ne_bytes());
    f.extend_from_slice(&kind.to_ne_bytes());
    f.extend_from_slice(&0u16.to_ne_bytes());
    f.extend_from_slice(&seq.to_ne_bytes());
    f.extend_from_slice(&PORT.to_ne_bytes());
    f
}

/// An acknowledgement (`code` 0) or refusal (`-errno`) of request `seq`, capped as with
/// `NETLINK_CAP_ACK`.
pub(crate) fn ack(seq: u32, code: i32) -> Vec<u8> {
    let mut f = header(36, NLMSG_ERROR, seq);
    f.extend_from_slice(&code.to_ne_bytes());
    f.extend_from_slice(&[0; 16]);
    f
}

/// The end of dump `seq`.
pub(crate) fn done(seq: u32) -> Vec<u8> {
    let mut f = header(20, NLMSG_DONE, seq);
    f.extend_from_slice(&0i32.to_ne_bytes());
    f
}

/// A reply message of request `seq`: `msg` as an IPVS reply.
pub(crate) fn reply(seq: u32, msg: IpvsMessage) -> Vec<u8> {
    let mut f = crate::wire::frame_request(msg, FAMILY, seq, false);
    f[6..8].copy_from_slice(&0u16.to_ne_bytes());
    f[12..16].copy_from_slice(&PORT.to_ne_bytes());
    f
}

/// A reply frame of request `seq` that cannot be decoded: one byte where the generic
/// netlink header needs four (padded to the frame alignment).
pub(crate) fn undecodable(seq: u32) -> Vec<u8> {
    let mut f = header(17, FAMILY, seq);
    f.extend_from_slice(&[1, 0, 0, 0]);
    f
}

/// The transport's end as a tokio netlink socket (from within a runtime).
#[cfg(feature = "tokio")]
#[allow(unsafe_code)]
pub(crate) fn tokio_socket(fd: OwnedFd) -> netlink_sys::TokioSocket {
    // SAFETY: the descriptor is owned, and handed over.
    unsafe { netlink_sys::TokioSocket::from_raw_fd(fd.into_raw_fd()) }
}
