//! Number and address conversions that behave like the C library functions ipvsadm relies on
//! (`strtol`, `atoi`, `inet_aton`, `inet_ntop`), so that the same input text is accepted or
//! rejected, and the same output is printed, as by ipvsadm.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Like `strtol(s, &end, 10)` on a 64-bit system: the value, and how many bytes were consumed
/// (0 when no digits were found). `None` for a value out of `i64`'s range (`ERANGE`).
fn strtol(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        negative = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut value: i64 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        let digit = i64::from(b[i] - b'0');
        let next = value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(digit)
            } else {
                v.checked_add(digit)
            }
        });
        match next {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return Some((0, 0));
    }
    if overflow {
        return None;
    }
    Some((value, i))
}

/// ipvsadm's `string_to_number`: the whole string is a decimal number (leading white space and
/// a sign allowed, as `strtol` takes them) within `min..=max`.
pub(crate) fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let (value, end) = strtol(s)?;
    if end == 0 || end != s.len() {
        return None;
    }
    (min..=max).contains(&value).then_some(value)
}

/// ipvsadm's fwmark parser: a whole decimal number in `1..=u32::MAX` (negative numbers wrap to
/// huge unsigned values and are rejected).
pub(crate) fn parse_fwmark(s: &str) -> Option<u32> {
    let (value, end) = strtol(s)?;
    if end == 0 || end != s.len() || value <= 0 {
        return None;
    }
    u32::try_from(value).ok()
}

/// C's `atoi` (glibc: `(int) strtol(s, NULL, 10)`), never failing.
pub(crate) fn atoi(s: &str) -> i64 {
    match strtol(s) {
        Some((v, _)) => i64::from(v as i32),
        None => {
            // strtol saturates on overflow; the cast to int keeps the low 32 bits.
            let negative = s
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .starts_with('-');
            if negative {
                i64::from(i64::MIN as i32)
            } else {
                i64::from(i64::MAX as i32)
            }
        }
    }
}

/// Whether every byte is an ASCII digit (true for the empty string, as in ipvsadm).
pub(crate) fn str_is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// glibc's `inet_aton`: dotted IPv4 in 1 to 4 parts, each decimal, octal (`0` prefix) or hex
/// (`0x` prefix); anything after white space is ignored.
pub(crate) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    // The parts before the last one (at most three), without an allocation.
    let mut parts = [0u32; 3];
    let mut n = 0;
    let mut i = 0;
    let mut val: u64;
    loop {
        // Each part starts with a digit.
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        val = 0;
        let mut base = 10;
        if b[i] == b'0' {
            i += 1;
            if i < b.len() && (b[i] == b'x' || b[i] == b'X') {
                base = 16;
                i += 1;
            } else {
                base = 8;
            }
        }
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_digit() {
                if base == 8 && (c == b'8' || c == b'9') {
                    return None;
                }
                val = val * base + u64::from(c - b'0');
            } else if base == 16 && c.is_ascii_hexdigit() {
                val = val * 16 + u64::from(c.to_ascii_lowercase() - b'a' + 10);
            } else {
                break;
            }
            if val > 0xffff_ffff {
                return None;
            }
            i += 1;
        }
        if i < b.len() && b[i] == b'.' {
            if n >= 3 {
                return None;
            }
            parts[n] = val as u32;
            n += 1;
            i += 1;
        } else {
            break;
        }
    }
    if i < b.len() && !is_c_space(b[i]) {
        return None;
    }
    let val = val as u32;
    let addr = match &parts[..n] {
        [] => val,
        [a] if *a <= 0xff && val <= 0x00ff_ffff => (a << 24) | val,
        [a, b2] if *a <= 0xff && *b2 <= 0xff && val <= 0xffff => (a << 24) | (b2 << 16) | val,
        [a, b2, c] if *a <= 0xff && *b2 <= 0xff && *c <= 0xff && val <= 0xff => {
            (a << 24) | (b2 << 16) | (c << 8) | val
        }
        _ => return None,
    };
    Some(Ipv4Addr::from(addr))
}

/// glibc's `inet_ntop` for IPv6: the longest run of two or more zero groups is compressed (the
/// first one on a tie), and an IPv4-compatible (`::a.b.c.d`) or IPv4-mapped
/// (`::ffff:a.b.c.d`) address ends in dotted form.
pub(crate) fn inet_ntop6(addr: &Ipv6Addr) -> String {
    let words = addr.segments();
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut cur: Option<(usize, usize)> = None;
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            cur = Some(match cur {
                Some((base, len)) => (base, len + 1),
                None => (i, 1),
            });
        } else {
            cur = None;
        }
        if let Some((base, len)) = cur {
            if len > best_len {
                best_base = Some(base);
                best_len = len;
            }
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut out = String::with_capacity(46);
    let in_best = |i: usize| best_base.is_some_and(|b| i >= b && i < b + best_len);
    let mut i = 0;
    while i < 8 {
        if in_best(i) {
            if best_base == Some(i) {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))
        {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return out;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if best_base.is_some_and(|b| b + best_len == 8) {
        out.push(':');
    }
    out
}

/// An address as `inet_ntop` prints it.
pub(crate) fn ntop(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => inet_ntop6(a),
    }
}

/// Truncate a string to at most `max` bytes, as a C buffer of `max + 1` bytes would.
pub(crate) fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_strtol() {
        assert_eq!(string_to_number("80", 0, 65535), Some(80));
        assert_eq!(string_to_number(" 5", 0, 65535), Some(5));
        assert_eq!(string_to_number("+5", 0, 65535), Some(5));
        assert_eq!(string_to_number("-0", 0, 65535), Some(0));
        assert_eq!(string_to_number("5 ", 0, 65535), None);
        assert_eq!(string_to_number("0x5", 0, 65535), None);
        assert_eq!(string_to_number("", 0, 65535), None);
        assert_eq!(string_to_number("-", 0, 65535), None);
        assert_eq!(string_to_number("65536", 0, 65535), None);
        assert_eq!(string_to_number("99999999999999999999999", 0, 65535), None);
        assert_eq!(parse_fwmark("4294967295"), Some(u32::MAX));
        assert_eq!(parse_fwmark("4294967296"), None);
        assert_eq!(parse_fwmark("-1"), None);
        assert_eq!(parse_fwmark("0"), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("abc"), 0);
    }

    #[test]
    fn aton_like_glibc() {
        assert_eq!(inet_aton("1"), Some(Ipv4Addr::new(0, 0, 0, 1)));
        assert_eq!(inet_aton("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("10.1.2"), Some(Ipv4Addr::new(10, 1, 0, 2)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(inet_aton("10.0.0.1 x"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("300.1.1.1"), None);
        assert_eq!(inet_aton("10.0.0.1:80"), None);
        assert_eq!(inet_aton("09"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
    }

    #[test]
    fn ntop_like_glibc() {
        let f = |s: &str| inet_ntop6(&s.parse().unwrap());
        assert_eq!(f("::"), "::");
        assert_eq!(f("::1"), "::1");
        assert_eq!(f("::2"), "::2");
        assert_eq!(f("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(f("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(f("fd00::1:80"), "fd00::1:80");
        assert_eq!(f("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(f("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        assert_eq!(f("1::"), "1::");
    }
}
