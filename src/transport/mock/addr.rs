//! Address rules: the address families IPVS accepts, what a destination address may be,
//! and the kernel's service hash (which decides the order of a service dump).

use std::net::{Ipv4Addr, Ipv6Addr};

/// A sync daemon's multicast group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// An IPv4 group (`MCAST_GROUP`).
    V4(Ipv4Addr),
    /// An IPv6 group (`MCAST_GROUP6`).
    V6(Ipv6Addr),
}

/// `AF_INET`.
pub(super) const AF_INET: u16 = 2;
/// `AF_INET6`.
pub(super) const AF_INET6: u16 = 10;

/// An address as the kernel keeps it for family `af`: IPv4 uses the first 4 bytes of the
/// `union nf_inet_addr` and the kernel copies (and compares) only those, so the rest is zero.
pub(super) fn normalize(af: u16, mut addr: [u8; 16]) -> [u8; 16] {
    if af == AF_INET {
        addr[4..].fill(0);
    }
    addr
}

/// Whether `ip_vs_new_dest` takes this IPv4 address (`inet_addr_type` must say `RTN_LOCAL` or
/// `RTN_UNICAST`). The namespace is modelled with only `lo` (127.0.0.1/8): 0.0.0.0 and
/// 255.255.255.255 are broadcast (the rest of 0.0.0.0/8 is unicast since Linux 5.3),
/// 224.0.0.0/4 multicast, 127.255.255.255 the broadcast route of `lo`; the network address
/// 127.0.0.0 is local from 6.0 on, and broadcast before (`network_broadcast_routes`: the
/// kernel then added a broadcast route for each prefix's network address). With `lo` down
/// there is no local routing table at all, and every address is classified as broadcast.
pub(super) fn ipv4_dest_ok(a: [u8; 4], loopback_up: bool, network_broadcast_routes: bool) -> bool {
    if !loopback_up {
        return false;
    }
    if network_broadcast_routes && a == [127, 0, 0, 0] {
        return false;
    }
    let zeronet = a == [0, 0, 0, 0];
    let limited_broadcast = a == [255, 255, 255, 255];
    let multicast = (a[0] & 0xf0) == 0xe0;
    let lo_broadcast = a == [127, 255, 255, 255];
    !(zeronet || limited_broadcast || multicast || lo_broadcast)
}

/// Whether `ip_vs_new_dest` takes this IPv6 address: `ipv6_addr_type` must say unicast and
/// not link-local, unless the address routes to the loopback device (only `::1` does here,
/// and it is unicast anyway).
pub(super) fn ipv6_dest_ok(a: [u8; 16]) -> bool {
    let (unicast, link_local) = ipv6_addr_type(a);
    unicast && !link_local
}

/// `(unicast, link-local)` as the kernel's `__ipv6_addr_type` classifies an address.
fn ipv6_addr_type(a: [u8; 16]) -> (bool, bool) {
    let st = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
    let top3 = st & 0xE000_0000;
    if top3 != 0 && top3 != 0xE000_0000 {
        return (true, false); // global unicast (2000::/3 and the like)
    }
    if st & 0xFF00_0000 == 0xFF00_0000 {
        return (false, false); // multicast
    }
    if st & 0xFFC0_0000 == 0xFE80_0000 {
        return (true, true); // link-local unicast
    }
    if st & 0xFFC0_0000 == 0xFEC0_0000 || st & 0xFE00_0000 == 0xFC00_0000 {
        return (true, false); // site-local, unique local
    }
    if a[..8].iter().all(|b| *b == 0) {
        let w2 = u32::from_be_bytes([a[8], a[9], a[10], a[11]]);
        let w3 = u32::from_be_bytes([a[12], a[13], a[14], a[15]]);
        if w2 == 0 {
            // ::, or ::1 (loopback, unicast), or an IPv4-compatible address (unicast)
            return (w3 != 0, false);
        }
        if w2 == 0x0000_ffff {
            return (false, false); // IPv4-mapped: not unicast
        }
    }
    (true, false)
}

/// The bucket of an address-based service in the kernel's 256-bucket service table:
/// `ip_vs_svc_hashkey`, where `seed` stands for `(size_t)netns_ipvs >> 8` (the address of
/// the namespace's IPVS state, which only the kernel knows).
pub(super) fn svc_bucket(seed: u8, af: u16, protocol: u16, addr: &[u8; 16], port: u16) -> u8 {
    let word = |i: usize| u32::from_be_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    let fold = if af == AF_INET6 {
        word(0) ^ word(4) ^ word(8) ^ word(12)
    } else {
        word(0)
    };
    let porth = u32::from(port);
    let h = u32::from(protocol) ^ fold ^ u32::from(seed) ^ (porth >> 8) ^ porth;
    (h & 0xff) as u8
}

/// The bucket of a fwmark service in the kernel's fwmark table (`ip_vs_svc_fwm_hashkey`).
pub(super) fn fwm_bucket(seed: u8, fwmark: u32) -> u8 {
    ((u32::from(seed) ^ fwmark) & 0xff) as u8
}
