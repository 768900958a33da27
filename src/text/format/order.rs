//! ipvsadm's order of services and destinations: its comparisons (with their wrap-around
//! arithmetic) and glibc's merge sort, so that equal and odd keys land as ipvsadm puts them.

use std::net::IpAddr;

use crate::model::{AddressFamily, Destination, ServiceId};

/// Address family numbers as the C library has them (used for ipvsadm's sort order).
pub(super) fn af_number(af: AddressFamily) -> i32 {
    match af {
        AddressFamily::Inet => 2,
        AddressFamily::Inet6 => 10,
    }
}

/// The 16 bytes of a `union nf_inet_addr` holding this address, as four host-order words.
pub(super) fn addr_words(addr: Option<IpAddr>) -> [u32; 4] {
    let mut b = [0u8; 16];
    match addr {
        Some(IpAddr::V4(a)) => b[..4].copy_from_slice(&a.octets()),
        Some(IpAddr::V6(a)) => b = a.octets(),
        None => {}
    }
    let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// `int r = a - b` on unsigned 32-bit values, as ipvsadm's comparators compute it.
pub(super) fn wrapping_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

pub(super) fn cmp_addr(af: AddressFamily, a: Option<IpAddr>, b: Option<IpAddr>) -> i32 {
    let (wa, wb) = (addr_words(a), addr_words(b));
    let n = if af == AddressFamily::Inet6 { 4 } else { 1 };
    let mut r = 0;
    for i in 0..n {
        r = wrapping_diff(wa[i], wb[i]);
        if r != 0 {
            break;
        }
    }
    r
}

/// ipvsadm's service comparator (fwmark, family, protocol, address, port), with its
/// wrap-around subtraction.
pub(super) fn cmp_services(a: &ServiceId, b: &ServiceId) -> i32 {
    ServiceKey::of(a).compare(&ServiceKey::of(b))
}

/// What ipvsadm's service comparator reads of a service, in the words it compares: worked
/// out once per service rather than at every comparison of a large sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ServiceKey {
    fwmark: u32,
    af: i32,
    proto: i32,
    /// The address as `union nf_inet_addr` words, of which the comparison reads `words`
    /// (1 for IPv4, 4 for IPv6: the first service's family decides).
    addr: [u32; 4],
    words: usize,
    port: i32,
}

impl ServiceKey {
    pub(super) fn of(id: &ServiceId) -> ServiceKey {
        ServiceKey {
            fwmark: id.fwmark_value().unwrap_or(0),
            af: af_number(id.af()),
            proto: i32::from(id.protocol().map_or(0, |p| p.number())),
            addr: addr_words(id.addr().map(|x| x.ip())),
            words: if id.af() == AddressFamily::Inet6 {
                4
            } else {
                1
            },
            port: i32::from(id.addr().map_or(0, |x| x.port())),
        }
    }

    /// The comparator's result: negative, zero or positive, as C's.
    pub(super) fn compare(&self, b: &ServiceKey) -> i32 {
        let mut r = wrapping_diff(self.fwmark, b.fwmark);
        if r != 0 {
            return r;
        }
        r = self.af - b.af;
        if r != 0 {
            return r;
        }
        r = self.proto - b.proto;
        if r != 0 {
            return r;
        }
        for i in 0..self.words {
            r = wrapping_diff(self.addr[i], b.addr[i]);
            if r != 0 {
                return r;
            }
        }
        self.port - b.port
    }
}

/// ipvsadm's destination comparator (address in the first one's family, then port).
pub(super) fn cmp_dests(a: &Destination, b: &Destination) -> i32 {
    let r = cmp_addr(a.af(), Some(a.addr), Some(b.addr));
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// The C library's `qsort` (a top-down merge sort, the first half `n / 2` elements), so that
/// a comparator that is not a total order (ipvsadm's wrap-around subtraction) gives the same
/// order as in ipvsadm. Sorts `items` in place with one scratch buffer.
pub(super) fn c_qsort<T: Copy>(items: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    fn sort<T: Copy>(items: &mut [T], tmp: &mut Vec<T>, cmp: &dyn Fn(&T, &T) -> i32) {
        if items.len() <= 1 {
            return;
        }
        let n1 = items.len() / 2;
        sort(&mut items[..n1], tmp, cmp);
        sort(&mut items[n1..], tmp, cmp);
        tmp.clear();
        let (l, r) = items.split_at(n1);
        let (mut i, mut j) = (0, 0);
        while let (Some(x), Some(y)) = (l.get(i), r.get(j)) {
            if cmp(x, y) <= 0 {
                tmp.push(*x);
                i += 1;
            } else {
                tmp.push(*y);
                j += 1;
            }
        }
        tmp.extend_from_slice(l.get(i..).unwrap_or(&[]));
        tmp.extend_from_slice(r.get(j..).unwrap_or(&[]));
        items.copy_from_slice(tmp);
    }
    let mut tmp = Vec::with_capacity(items.len());
    sort(items, &mut tmp, cmp);
}

pub(super) fn sorted_dests(dests: &[Destination], sort: bool) -> Vec<&Destination> {
    let mut refs: Vec<&Destination> = dests.iter().collect();
    if sort {
        c_qsort(&mut refs, &|a: &&Destination, b: &&Destination| {
            cmp_dests(a, b)
        });
    }
    refs
}
