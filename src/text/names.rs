//! Host and service names, as ipvsadm looks them up without `-n`: hosts in the hosts file,
//! ports in the services file.
//!
//! ipvsadm calls the C library (`gethostbyname`, `gethostbyaddr`, `getservbyname`,
//! `getservbyport`). [`SystemNames`] answers from `/etc/hosts` and `/etc/services`, which is
//! what those calls answer from on a machine whose name service is `files` (DNS is not asked).
//! [`NoNames`] knows no names at all, which is what `-n` and the pure parsers use.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::model::Protocol;

/// Looks names up for the parsers and the listings.
pub trait Names {
    /// The IPv4 address of a host name (`gethostbyname`), if known.
    fn host_v4(&self, name: &str) -> Option<Ipv4Addr>;
    /// The official name of an address (`gethostbyaddr`), if known.
    fn host_name(&self, addr: &IpAddr) -> Option<String>;
    /// The port of a service name for a protocol (`getservbyname`), if known.
    fn port(&self, name: &str, protocol: Protocol) -> Option<u16>;
    /// The service name of a port for a protocol (`getservbyport`), if known.
    fn service_name(&self, port: u16, protocol: Protocol) -> Option<String>;
}

/// Knows no names: every lookup fails, so only numeric addresses and ports are accepted and
/// printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNames;

impl Names for NoNames {
    fn host_v4(&self, _name: &str) -> Option<Ipv4Addr> {
        None
    }
    fn host_name(&self, _addr: &IpAddr) -> Option<String> {
        None
    }
    fn port(&self, _name: &str, _protocol: Protocol) -> Option<u16> {
        None
    }
    fn service_name(&self, _port: u16, _protocol: Protocol) -> Option<String> {
        None
    }
}

/// One line of a hosts file: an address, its official name and aliases.
#[derive(Debug, Clone)]
struct HostLine {
    addr: IpAddr,
    names: Vec<String>,
}

/// One line of a services file.
#[derive(Debug, Clone)]
struct ServiceLine {
    port: u16,
    protocol: String,
    names: Vec<String>,
}

/// Names from a hosts file and a services file (by default `/etc/hosts` and `/etc/services`),
/// read once, on first use. A file that cannot be read contributes no names.
#[derive(Debug, Default)]
pub struct SystemNames {
    hosts_path: Option<PathBuf>,
    services_path: Option<PathBuf>,
    hosts: OnceLock<Vec<HostLine>>,
    services: OnceLock<Vec<ServiceLine>>,
}

impl SystemNames {
    /// Names from `/etc/hosts` and `/etc/services`.
    pub fn new() -> SystemNames {
        SystemNames::default()
    }

    /// Names from the given files instead.
    pub fn with_files(hosts: impl AsRef<Path>, services: impl AsRef<Path>) -> SystemNames {
        SystemNames {
            hosts_path: Some(hosts.as_ref().to_owned()),
            services_path: Some(services.as_ref().to_owned()),
            ..SystemNames::default()
        }
    }

    /// Names from the given file contents (for tests).
    pub fn from_text(hosts: &str, services: &str) -> SystemNames {
        let s = SystemNames::default();
        let _ = s.hosts.set(parse_hosts(hosts));
        let _ = s.services.set(parse_services(services));
        s
    }

    fn hosts(&self) -> &[HostLine] {
        self.hosts.get_or_init(|| {
            let path = self
                .hosts_path
                .clone()
                .unwrap_or_else(|| PathBuf::from("/etc/hosts"));
            fs::read_to_string(path)
                .map(|t| parse_hosts(&t))
                .unwrap_or_default()
        })
    }

    fn services(&self) -> &[ServiceLine] {
        self.services.get_or_init(|| {
            let path = self
                .services_path
                .clone()
                .unwrap_or_else(|| PathBuf::from("/etc/services"));
            fs::read_to_string(path)
                .map(|t| parse_services(&t))
                .unwrap_or_default()
        })
    }
}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

fn parse_hosts(text: &str) -> Vec<HostLine> {
    text.lines()
        .filter_map(|line| {
            let mut fields = strip_comment(line).split_whitespace();
            let addr: IpAddr = fields.next()?.parse().ok()?;
            let names: Vec<String> = fields.map(str::to_owned).collect();
            (!names.is_empty()).then_some(HostLine { addr, names })
        })
        .collect()
}

fn parse_services(text: &str) -> Vec<ServiceLine> {
    text.lines()
        .filter_map(|line| {
            let mut fields = strip_comment(line).split_whitespace();
            let name = fields.next()?;
            let (port, protocol) = fields.next()?.split_once('/')?;
            let port: u16 = port.parse().ok()?;
            let mut names = vec![name.to_owned()];
            names.extend(fields.map(str::to_owned));
            Some(ServiceLine {
                port,
                protocol: protocol.to_ascii_lowercase(),
                names,
            })
        })
        .collect()
}

fn protocol_name(p: Protocol) -> Option<&'static str> {
    match p {
        Protocol::Tcp => Some("tcp"),
        Protocol::Udp => Some("udp"),
        Protocol::Sctp => Some("sctp"),
        Protocol::Other(_) => None,
    }
}

impl Names for SystemNames {
    fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
        if name.is_empty() {
            return None;
        }
        self.hosts().iter().find_map(|h| {
            if !h.names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return None;
            }
            match h.addr {
                IpAddr::V4(a) => Some(a),
                // The C library answers an IPv4 query for the IPv6 loopback with 127.0.0.1.
                IpAddr::V6(a) if a == Ipv6Addr::LOCALHOST => Some(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => None,
            }
        })
    }

    fn host_name(&self, addr: &IpAddr) -> Option<String> {
        self.hosts()
            .iter()
            .find(|h| h.addr == *addr)
            .and_then(|h| h.names.first().cloned())
    }

    fn port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        let proto = protocol_name(protocol)?;
        self.services()
            .iter()
            .find(|s| s.protocol == proto && s.names.iter().any(|n| n == name))
            .map(|s| s.port)
    }

    fn service_name(&self, port: u16, protocol: Protocol) -> Option<String> {
        let proto = protocol_name(protocol)?;
        self.services()
            .iter()
            .find(|s| s.protocol == proto && s.port == port)
            .and_then(|s| s.names.first().cloned())
    }
}

impl<N: Names + ?Sized> Names for &N {
    fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
        (**self).host_v4(name)
    }
    fn host_name(&self, addr: &IpAddr) -> Option<String> {
        (**self).host_name(addr)
    }
    fn port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        (**self).port(name, protocol)
    }
    fn service_name(&self, port: u16, protocol: Protocol) -> Option<String> {
        (**self).service_name(port, protocol)
    }
}
