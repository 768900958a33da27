//! Announcing an address after binding it, so that the neighbours (the client's router, the
//! switch) send its traffic to this host's MAC address at once: gratuitous ARP for IPv4, an
//! unsolicited neighbour advertisement for IPv6, repeated (keepalived's `garp_master_repeat`).
//!
//! The packets are built by small pure functions ([`garp_frame`], [`unsolicited_na`]) and sent
//! with the socket crates: an `AF_PACKET` raw socket for the ARP frame (addressed with the
//! device's link address as `getifaddrs` reports it), an ICMPv6 raw socket for the
//! advertisement (the kernel fills in its checksum).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::error::{Error, HostError, Result};

/// How an address is announced: how many times, how far apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Announce {
    /// How many packets are sent (keepalived's `garp_master_repeat`); 0 sends none.
    pub repeat: u32,
    /// The pause between two of them (keepalived's `garp_interval`).
    pub interval: Duration,
}

impl Default for Announce {
    /// Five packets, 100 ms apart (keepalived sends five by default).
    fn default() -> Announce {
        Announce {
            repeat: 5,
            interval: Duration::from_millis(100),
        }
    }
}

/// What [`Host::announce`](super::Host::announce) sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Announced {
    /// The device it was sent on.
    pub device: String,
    /// The device's index.
    pub ifindex: u32,
    /// The device's MAC address, the one announced.
    pub mac: [u8; 6],
    /// How many packets were sent: gratuitous ARP frames or neighbour advertisements.
    pub sent: u32,
}

/// The Ethernet broadcast address.
const BROADCAST: [u8; 6] = [0xff; 6];
/// `ETH_P_ARP`.
const ETH_P_ARP: u16 = 0x0806;
/// `ETH_P_IP`.
const ETH_P_IP: u16 = 0x0800;
/// `ARPHRD_ETHER`.
const ARPHRD_ETHER: u16 = 1;
/// `ARPOP_REQUEST`.
const ARPOP_REQUEST: u16 = 1;
/// ICMPv6 neighbour advertisement.
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// The advertisement's Override flag (first byte of its flags word).
const NA_OVERRIDE: u8 = 0x20;
/// The target link-layer address option.
const ND_OPT_TARGET_LL_ADDR: u8 = 2;

/// A gratuitous ARP frame announcing that `ip` is at `mac` (RFC 5227's ARP announcement):
/// an Ethernet broadcast of an ARP request whose sender and target protocol addresses are
/// both `ip`, sender hardware address `mac`, target hardware address zero. 42 bytes, the
/// Ethernet header included.
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&ARPHRD_ETHER.to_be_bytes());
    f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes());
    f[18] = 6; // hardware address length
    f[19] = 4; // protocol address length
    f[20..22].copy_from_slice(&ARPOP_REQUEST.to_be_bytes());
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    // f[32..38]: target hardware address, zero
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// An unsolicited neighbour advertisement (RFC 4861 §7.2.6) that `ip` is at `mac`: ICMPv6
/// type 136 with the Override flag, target `ip`, and the target link-layer address option.
/// 32 bytes, the ICMPv6 message only, its checksum left zero (an ICMPv6 raw socket makes the
/// kernel compute it).
pub fn unsolicited_na(mac: [u8; 6], ip: Ipv6Addr) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = ND_NEIGHBOR_ADVERT;
    // p[1]: code 0; p[2..4]: checksum, filled in by the kernel
    p[4] = NA_OVERRIDE; // not a router, not solicited
    p[8..24].copy_from_slice(&ip.octets());
    p[24] = ND_OPT_TARGET_LL_ADDR;
    p[25] = 1; // option length, in units of 8 bytes
    p[26..32].copy_from_slice(&mac);
    p
}

/// The link address of `dev` (its index and Ethernet MAC), from `getifaddrs` in the calling
/// thread's namespace.
fn link_address(dev: &str) -> Result<nix::sys::socket::LinkAddr> {
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| io_err(&format!("list the interfaces to find {dev}"), e))?;
    let mut found = None;
    for ifa in addrs {
        if ifa.interface_name != dev {
            continue;
        }
        if let Some(link) = ifa.address.as_ref().and_then(|a| a.as_link_addr()) {
            found = Some(*link);
            break;
        }
    }
    let link = found.ok_or_else(|| HostError::NoSuchDevice(dev.to_owned()))?;
    let no = |reason: String| -> Error {
        HostError::NoLinkAddress {
            dev: dev.to_owned(),
            reason,
        }
        .into()
    };
    if link.hatype() != ARPHRD_ETHER {
        return Err(no(format!(
            "its hardware type is {}, not Ethernet",
            link.hatype()
        )));
    }
    match link.addr() {
        Some(mac) if link.halen() == 6 && mac != [0; 6] => Ok(link),
        _ => Err(no("it has no MAC address".into())),
    }
}

fn io_err(action: &str, e: impl Into<std::io::Error>) -> Error {
    let e = e.into();
    if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
        return HostError::PermissionDenied(action.to_owned()).into();
    }
    HostError::Io {
        action: action.to_owned(),
        source: e,
    }
    .into()
}

/// Send `a.repeat` packets built by `send`, `a.interval` apart.
fn repeat(a: &Announce, mut send: impl FnMut() -> Result<()>) -> Result<u32> {
    for i in 0..a.repeat {
        if i > 0 && !a.interval.is_zero() {
            std::thread::sleep(a.interval);
        }
        send()?;
    }
    Ok(a.repeat)
}

/// Announce `ip` on `dev`, in the calling thread's network namespace.
pub(super) fn announce(ip: std::net::IpAddr, dev: &str, a: &Announce) -> Result<Announced> {
    let link = link_address(dev)?;
    let mac = link.addr().unwrap_or_default();
    let ifindex = u32::try_from(link.ifindex()).unwrap_or_default();
    let sent = match ip {
        std::net::IpAddr::V4(v4) => {
            use nix::sys::socket::{sendto, socket, AddressFamily, MsgFlags, SockFlag, SockType};
            let action = format!("send gratuitous ARP for {ip} on {dev}");
            // Protocol 0: the socket receives nothing; a SOCK_RAW frame carries its own
            // Ethernet header, ethertype included.
            let sock = socket(
                AddressFamily::Packet,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(|e| io_err(&action, e))?;
            let frame = garp_frame(mac, v4);
            repeat(a, || {
                sendto(sock.as_raw_fd(), &frame, &link, MsgFlags::empty())
                    .map(drop)
                    .map_err(|e| io_err(&action, e))
            })?
        }
        std::net::IpAddr::V6(v6) => {
            use socket2::{Domain, Protocol, SockAddr, Socket, Type};
            let action = format!("send a neighbour advertisement for {ip} on {dev}");
            let sock = Socket::new(
                Domain::IPV6,
                Type::from(libc::SOCK_RAW),
                Some(Protocol::ICMPV6),
            )
            .map_err(|e| io_err(&action, e))?;
            // Neighbour discovery packets are accepted only with hop limit 255.
            sock.set_multicast_hops_v6(255)
                .and_then(|()| sock.set_multicast_if_v6(ifindex))
                .map_err(|e| io_err(&action, e))?;
            let all_nodes =
                SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0, 0, ifindex);
            let to = SockAddr::from(all_nodes);
            let packet = unsolicited_na(mac, v6);
            repeat(a, || {
                sock.send_to(&packet, &to)
                    .map(drop)
                    .map_err(|e| io_err(&action, e))
            })?
        }
    };
    Ok(Announced {
        device: dev.to_owned(),
        ifindex,
        mac,
        sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];

    #[test]
    fn garp_frame_bytes() {
        let f = garp_frame(MAC, Ipv4Addr::new(192, 168, 1, 3));
        #[rustfmt::skip]
        let want: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // source: the device
            0x08, 0x06,                         // ARP
            0x00, 0x01, 0x08, 0x00, 6, 4,       // Ethernet, IPv4, lengths
            0x00, 0x01,                         // request
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // sender MAC
            192, 168, 1, 3,                     // sender IP: the VIP
            0, 0, 0, 0, 0, 0,                   // target MAC: unknown
            192, 168, 1, 3,                     // target IP: the VIP
        ];
        assert_eq!(f, want);
    }

    #[test]
    fn unsolicited_na_bytes() {
        let p = unsolicited_na(MAC, "fd00::3".parse().unwrap());
        #[rustfmt::skip]
        let want: [u8; 32] = [
            136, 0, 0, 0,                       // type, code, checksum (kernel's)
            0x20, 0, 0, 0,                      // Override, not router, not solicited
            0xfd, 0, 0, 0, 0, 0, 0, 0,          // target: the VIP
            0, 0, 0, 0, 0, 0, 0, 3,
            2, 1,                               // target link-layer address, 8 bytes
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
        ];
        assert_eq!(p, want);
    }

    #[test]
    fn repeat_sends_as_many_as_asked() {
        let mut n = 0;
        let a = Announce {
            repeat: 3,
            interval: Duration::ZERO,
        };
        assert_eq!(
            repeat(&a, || {
                n += 1;
                Ok(())
            })
            .unwrap(),
            3
        );
        assert_eq!(n, 3);
        let none = Announce { repeat: 0, ..a };
        assert_eq!(repeat(&none, || panic!("sent")).unwrap(), 0);
    }

    #[test]
    fn default_is_five_packets() {
        assert_eq!(Announce::default().repeat, 5);
    }
}
