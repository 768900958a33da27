//! The connection table (`/proc/net/ip_vs_conn`), read into typed entries.
//!
//! The kernel prints one connection per line after a header line:
//!
//! ```text
//! Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
//! TCP 0A000002 9C40 0A000001 0050 0A000064 0050 ESTABLISHED     899
//! ```
//!
//! IPv4 addresses are 8 hex digits in host order, IPv6 addresses in their text form, ports 4
//! hex digits. A persistence engine adds its name and data.
//!
//! ```
//! let text = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
//!             TCP 0A000002 9C40 0A000001 0050 0A000064 0050 ESTABLISHED     899\n";
//! let conns = lvs::conn::parse(text)?;
//! assert_eq!(conns[0].client.to_string(), "10.0.0.2:40000");
//! assert_eq!(conns[0].state, "ESTABLISHED");
//! # Ok::<(), lvs::conn::ConnParseError>(())
//! ```

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::model::Protocol;

/// Where the kernel publishes the connection table of the reader's network namespace.
pub const CONN_PATH: &str = "/proc/net/ip_vs_conn";

/// One IPVS connection (or persistence template).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnEntry {
    /// The protocol as the kernel names it (`TCP`, `UDP`, `SCTP`, `IP`, ...).
    pub protocol_name: String,
    /// The client's address and port.
    pub client: SocketAddr,
    /// The virtual service's address and port.
    pub virtual_addr: SocketAddr,
    /// The real server's address and port.
    pub dest: SocketAddr,
    /// The connection state (`ESTABLISHED`, `SYN_RECV`, `NONE` for templates, ...).
    pub state: String,
    /// Seconds until the entry expires.
    pub expires: u32,
    /// Persistence engine name and data, when an engine made the entry.
    pub pe: Option<(String, String)>,
}

impl ConnEntry {
    /// The protocol, typed (`None` for a name this crate does not know).
    pub fn protocol(&self) -> Option<Protocol> {
        match self.protocol_name.as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

/// A line of the connection table that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connection table line {line}: {reason}: {text:?}")]
pub struct ConnParseError {
    /// 1-based line number (the header is line 1).
    pub line: usize,
    /// What was wrong.
    pub reason: &'static str,
    /// The line.
    pub text: String,
}

fn parse_addr(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if s.contains('.') {
        return s.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
    }
    u32::from_str_radix(s, 16)
        .ok()
        .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
}

fn parse_line(line: &str) -> Result<ConnEntry, &'static str> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [proto, caddr, cport, vaddr, vport, daddr, dport, state, expires, rest @ ..] = f.as_slice()
    else {
        return Err("too few fields");
    };
    let addr = |a: &str, p: &str| -> Result<SocketAddr, &'static str> {
        let ip = parse_addr(a).ok_or("bad address")?;
        let port = u16::from_str_radix(p, 16).map_err(|_| "bad port")?;
        Ok(SocketAddr::new(ip, port))
    };
    let pe = match rest {
        [] => None,
        [name] => Some(((*name).to_owned(), String::new())),
        [name, data, ..] => Some(((*name).to_owned(), (*data).to_owned())),
    };
    Ok(ConnEntry {
        protocol_name: (*proto).to_owned(),
        client: addr(caddr, cport)?,
        virtual_addr: addr(vaddr, vport)?,
        dest: addr(daddr, dport)?,
        state: (*state).to_owned(),
        expires: expires.parse().map_err(|_| "bad expiry")?,
        pe,
    })
}

/// Parse the text of `/proc/net/ip_vs_conn` (header line included).
pub fn parse(text: &str) -> Result<Vec<ConnEntry>, ConnParseError> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_line(l).map_err(|reason| ConnParseError {
                line: i + 1,
                reason,
                text: l.to_owned(),
            })
        })
        .collect()
}

/// Read and parse the connection table of the calling process's network namespace.
pub fn read() -> crate::Result<Vec<ConnEntry>> {
    read_from(CONN_PATH)
}

/// Read and parse a connection table file (for example `/proc/PID/net/ip_vs_conn`).
pub fn read_from(path: impl AsRef<Path>) -> crate::Result<Vec<ConnEntry>> {
    let text = fs::read_to_string(path)?;
    parse(&text)
        .map_err(|e| crate::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_v6_and_pe() {
        let text =
            "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
TCP 0A000002 9C40 0A000001 0050 0A000064 1F90 SYN_RECV         59\n\
UDP fd00::2 0035 fd00::1 0035 fd00::64 0035 UDP             299 sip abc\n";
        let c = parse(text).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].dest.to_string(), "10.0.0.100:8080");
        assert_eq!(c[0].expires, 59);
        assert_eq!(c[0].protocol(), Some(Protocol::Tcp));
        assert_eq!(c[1].client.to_string(), "[fd00::2]:53");
        assert_eq!(c[1].pe, Some(("sip".into(), "abc".into())));
        assert!(parse("h\nTCP 0A000002 9C40\n").is_err());
        assert!(parse("h\nTCP zz 9C40 0A000001 0050 0A000064 1F90 X 1\n").is_err());
    }
}
