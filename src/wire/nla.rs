//! Attribute plumbing shared by every IPVS object: emission with or without `NLA_F_NESTED`,
//! and parsing helpers that turn malformed input into a [`DecodeError`] with context.

use netlink_packet_core::{DefaultNla, Emitable, NlaBuffer, NlasIterator, Parseable, NLA_F_NESTED};

use crate::error::DecodeError;

pub(crate) const NLA_HDR: usize = 4;

/// Round up to the netlink attribute alignment (4).
pub(crate) const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// An attribute that can be emitted. Nested attributes carry `NLA_F_NESTED` when the message
/// asks for it (requests do; the kernel's replies do not).
pub(crate) trait Attr {
    /// Total length including header and padding.
    fn buffer_len(&self) -> usize;
    /// Write header, value and padding into `buf` (exactly `buffer_len` bytes).
    fn emit(&self, buf: &mut [u8], nested_flag: bool);
}

/// Write an attribute header; `value_len` excludes header and padding. Zeroes the padding.
pub(crate) fn emit_header(buf: &mut [u8], kind: u16, value_len: usize, nested: bool) {
    let len = (NLA_HDR + value_len) as u16;
    let kind = if nested { kind | NLA_F_NESTED } else { kind };
    buf[..2].copy_from_slice(&len.to_ne_bytes());
    buf[2..4].copy_from_slice(&kind.to_ne_bytes());
    for b in &mut buf[NLA_HDR + value_len..align(NLA_HDR + value_len)] {
        *b = 0;
    }
}

/// Total emitted length of a list of attributes.
pub(crate) fn attrs_len<A: Attr>(attrs: &[A]) -> usize {
    attrs.iter().map(Attr::buffer_len).sum()
}

/// Emit a list of attributes back to back.
pub(crate) fn emit_attrs<A: Attr>(attrs: &[A], buf: &mut [u8], nested_flag: bool) {
    let mut at = 0;
    for a in attrs {
        let len = a.buffer_len();
        a.emit(&mut buf[at..at + len], nested_flag);
        at += len;
    }
}

/// Emit a nest holding `attrs`.
pub(crate) fn emit_nest<A: Attr>(buf: &mut [u8], kind: u16, attrs: &[A], nested_flag: bool) {
    let inner = attrs_len(attrs);
    emit_header(buf, kind, inner, nested_flag);
    emit_attrs(attrs, &mut buf[NLA_HDR..NLA_HDR + inner], nested_flag);
}

/// Emitted length of a nest holding `attrs`.
pub(crate) fn nest_len<A: Attr>(attrs: &[A]) -> usize {
    NLA_HDR + attrs_len(attrs)
}

/// Emit a scalar value attribute.
pub(crate) fn emit_value(buf: &mut [u8], kind: u16, value: &[u8]) {
    emit_header(buf, kind, value.len(), false);
    buf[NLA_HDR..NLA_HDR + value.len()].copy_from_slice(value);
}

/// Emit a NUL-terminated string attribute.
pub(crate) fn emit_string(buf: &mut [u8], kind: u16, s: &str) {
    emit_header(buf, kind, s.len() + 1, false);
    buf[NLA_HDR..NLA_HDR + s.len()].copy_from_slice(s.as_bytes());
    buf[NLA_HDR + s.len()] = 0;
}

pub(crate) fn string_len(s: &str) -> usize {
    align(NLA_HDR + s.len() + 1)
}

pub(crate) fn value_len(n: usize) -> usize {
    align(NLA_HDR + n)
}

impl Attr for DefaultNla {
    fn buffer_len(&self) -> usize {
        Emitable::buffer_len(self)
    }
    fn emit(&self, buf: &mut [u8], _nested_flag: bool) {
        Emitable::emit(self, buf)
    }
}

/// Iterate over the attributes in `buf`, parsing each with `f`. Stops at the first error.
/// Sets `*saw_nested_flag` when any attribute carried `NLA_F_NESTED`.
pub(crate) fn parse_attrs<T>(
    buf: &[u8],
    what: &'static str,
    mut f: impl FnMut(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    for nla in NlasIterator::new(buf) {
        let nla = nla.map_err(|e| DecodeError::from(e).context(what))?;
        out.push(f(&nla).map_err(|e| e.context(what))?);
    }
    Ok(out)
}

/// The attributes in `buf` as (kind, value) pairs, kind without the `NLA_F_NESTED` and
/// byte-order flags: the allocation-free walk of the fast decoders (same checks as
/// `NlasIterator`: a truncated header or a length out of bounds is an error, and ends the
/// walk).
pub(crate) struct Attrs<'a>(&'a [u8]);

impl<'a> Attrs<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Attrs<'a> {
        Attrs(buf)
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.0;
        if buf.is_empty() {
            return None;
        }
        let (Some(len), Some(kind)) = (buf.get(0..2), buf.get(2..4)) else {
            self.0 = &[];
            return Some(Err(DecodeError::new(format!(
                "attribute header truncated: {} bytes left",
                buf.len()
            ))));
        };
        let len = usize::from(u16::from_ne_bytes([len[0], len[1]]));
        let kind = u16::from_ne_bytes([kind[0], kind[1]]) & netlink_packet_core::NLA_TYPE_MASK;
        let Some(value) = buf.get(NLA_HDR..len) else {
            self.0 = &[];
            return Some(Err(DecodeError::new(format!(
                "attribute length {len} out of bounds ({} bytes left)",
                buf.len()
            ))));
        };
        self.0 = buf.get(align(len)..).unwrap_or(&[]);
        Some(Ok((kind, value)))
    }
}

/// Keep an attribute as it is.
pub(crate) fn other(nla: &NlaBuffer<&[u8]>) -> Result<DefaultNla, DecodeError> {
    DefaultNla::parse(nla).map_err(DecodeError::from)
}

fn exact<const N: usize>(v: &[u8], name: &str) -> Result<[u8; N], DecodeError> {
    v.try_into()
        .map_err(|_| DecodeError::new(format!("{name}: expected {N} bytes, got {}", v.len())))
}

pub(crate) fn u8_of(v: &[u8], name: &str) -> Result<u8, DecodeError> {
    exact::<1>(v, name).map(|b| b[0])
}

pub(crate) fn u16_of(v: &[u8], name: &str) -> Result<u16, DecodeError> {
    exact::<2>(v, name).map(u16::from_ne_bytes)
}

pub(crate) fn u16_be_of(v: &[u8], name: &str) -> Result<u16, DecodeError> {
    exact::<2>(v, name).map(u16::from_be_bytes)
}

pub(crate) fn u32_of(v: &[u8], name: &str) -> Result<u32, DecodeError> {
    exact::<4>(v, name).map(u32::from_ne_bytes)
}

/// A counter of either width (the kernel's 32-bit and 64-bit stats).
pub(crate) fn counter_of(v: &[u8], name: &str) -> Result<u64, DecodeError> {
    match v.len() {
        4 => u32_of(v, name).map(u64::from),
        _ => exact::<8>(v, name).map(u64::from_ne_bytes),
    }
}

/// A `union nf_inet_addr`: 16 bytes (shorter values are zero-padded, as the kernel's
/// `nla_memcpy` would).
pub(crate) fn addr_of(v: &[u8], name: &str) -> Result<[u8; 16], DecodeError> {
    if v.len() > 16 {
        return Err(DecodeError::new(format!(
            "{name}: expected at most 16 bytes, got {}",
            v.len()
        )));
    }
    let mut a = [0u8; 16];
    a[..v.len()].copy_from_slice(v);
    Ok(a)
}

/// A NUL-terminated string (the NUL and anything after it dropped; invalid UTF-8 is an
/// error).
pub(crate) fn string_of(v: &[u8], name: &str) -> Result<String, DecodeError> {
    str_of(v, name).map(str::to_owned)
}

/// A NUL-terminated string, borrowed.
pub(crate) fn str_of<'a>(v: &'a [u8], name: &str) -> Result<&'a str, DecodeError> {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    std::str::from_utf8(&v[..end]).map_err(|_| DecodeError::new(format!("{name}: not UTF-8")))
}
