//! Fields printed as ipvsadm's `printf` formats print them (`%d`, `%-*s`, `%-*u`, its
//! address and port names, `print_largenum`), the common ones without the formatting
//! machinery.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::model::Protocol;
use crate::text::cnum::{ntop, truncate_bytes};
use crate::text::names::Names;

/// The decimal digits of `n`, appended without the formatting machinery (a listing of a
/// large table is mostly addresses, ports and small counters).
pub(super) fn push_u32(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// `n` as C's `%d` prints it.
pub(super) fn push_i32(out: &mut String, n: i32) {
    if n < 0 {
        out.push('-');
    }
    push_u32(out, n.unsigned_abs());
}

/// Spaces after what was appended to `out` from `start` on, up to `width` bytes (the
/// padding of `%-*s`, `%-*d`; what was appended is ASCII).
pub(super) fn pad_from(out: &mut String, start: usize, width: usize) {
    for _ in out.len() - start..width {
        out.push(' ');
    }
}

/// `s` as `%-*s` prints it.
pub(super) fn push_left(out: &mut String, s: &str, width: usize) {
    let start = out.len();
    out.push_str(s);
    pad_from(out, start, width);
}

/// `n` as `%-*d` prints it.
pub(super) fn push_i32_left(out: &mut String, n: i32, width: usize) {
    let start = out.len();
    push_i32(out, n);
    pad_from(out, start, width);
}

/// `n` as `%-*u` prints it.
pub(super) fn push_u32_left(out: &mut String, n: u32, width: usize) {
    let start = out.len();
    push_u32(out, n);
    pad_from(out, start, width);
}

/// `addrport` appended to `out`: straight into it for a numeric IPv4 address (the common
/// case of a large table), else through [`addrport`].
pub(super) fn push_addrport(
    out: &mut String,
    addr: &IpAddr,
    port: u16,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) {
    match addr {
        IpAddr::V4(a) if numeric => {
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u32(out, u32::from(o));
            }
            out.push(':');
            push_u32(out, u32::from(port));
        }
        _ => out.push_str(&addrport(addr, port, proto, numeric, names)),
    }
}

/// `addrport_to_anyname`: `host:port`, `[v6]:port`, with names unless numeric, cut at 59
/// bytes like ipvsadm's 60-byte buffer.
pub(super) fn addrport(
    addr: &IpAddr,
    port: u16,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) -> String {
    let v6 = addr.is_ipv6();
    if numeric && !v6 {
        // The common case, in one allocation (an IPv4 address and port fit in 21 bytes).
        let mut s = String::with_capacity(24);
        push_addrport(&mut s, addr, port, proto, numeric, names);
        return s;
    }
    let (host, port) = if numeric {
        (ntop(addr), port.to_string())
    } else {
        let host = names.host_name(addr).unwrap_or_else(|| ntop(addr));
        let port = proto
            .and_then(|p| names.service_name(port, p))
            .unwrap_or_else(|| port.to_string());
        (host, port)
    };
    let mut s = if v6 {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    truncate_bytes(&mut s, 59);
    s
}

/// `print_largenum`.
pub(super) fn largenum(out: &mut String, n: u64, exact: bool) {
    if exact {
        let len = n.to_string().len();
        let width = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{n:>width$}");
        return;
    }
    let _ = if n < 100_000_000 {
        write!(out, "{n:>9}")
    } else if n < 1_000_000_000 {
        write!(out, "{:>8}K", n / 1000)
    } else if n < 100_000_000_000 {
        write!(out, "{:>8}M", n / 1_000_000)
    } else if n < 100_000_000_000_000 {
        write!(out, "{:>8}G", n / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", n / 1_000_000_000_000)
    };
}
