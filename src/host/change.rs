//! The journal of host changes: what `Host` did, so that it can be undone exactly, and its
//! one-line text form for storing it between runs (under `/run`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::InvalidError;

/// The kind of a link `Host` may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkKind {
    /// A dummy device (a VIP holder on a director).
    Dummy,
    /// An IPIP tunnel device (`tunl0`, for LVS-TUN).
    Ipip,
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkKind::Dummy => "dummy",
            LinkKind::Ipip => "ipip",
        })
    }
}

impl FromStr for LinkKind {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dummy" => Ok(LinkKind::Dummy),
            "ipip" => Ok(LinkKind::Ipip),
            _ => Err(InvalidError::parse(s, "a link kind (dummy, ipip)")),
        }
    }
}

/// One change `Host` made to the system. Undoing it restores exactly what was there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Change {
    /// A link was created (undo: delete it).
    LinkCreated {
        /// Its name.
        name: String,
        /// Its kind.
        kind: LinkKind,
    },
    /// A link was set up (undo: set it down).
    LinkUp {
        /// Its name.
        name: String,
    },
    /// An address was added (undo: delete it).
    AddressAdded {
        /// The device.
        dev: String,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// Its label (`eth0:0`), if any.
        label: Option<String>,
    },
    /// An address was removed (undo: add it back, with its label).
    AddressRemoved {
        /// The device.
        dev: String,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// Its label (`eth0:0`), if any.
        label: Option<String>,
    },
    /// A route was added to the main table (undo: delete it).
    RouteAdded {
        /// Its destination.
        dst: IpAddr,
        /// The destination's prefix length.
        prefix_len: u8,
        /// The output device.
        dev: String,
        /// The gateway, if any.
        gateway: Option<IpAddr>,
    },
    /// A route was deleted from the main table (undo: add it back).
    RouteDeleted {
        /// Its destination.
        dst: IpAddr,
        /// The destination's prefix length.
        prefix_len: u8,
        /// The output device.
        dev: String,
        /// The gateway, if any.
        gateway: Option<IpAddr>,
    },
    /// A sysctl was changed (undo: write the previous value back).
    Sysctl {
        /// The key, slash-separated under `/proc/sys` (`net/ipv4/conf/all/arp_ignore`).
        key: String,
        /// The value before.
        previous: String,
        /// The value written.
        value: String,
    },
}

fn route_text(
    f: &mut fmt::Formatter<'_>,
    verb: &str,
    dst: &IpAddr,
    len: u8,
    dev: &str,
    gw: &Option<IpAddr>,
) -> fmt::Result {
    write!(f, "{verb} {dst}/{len} dev {dev}")?;
    if let Some(gw) = gw {
        write!(f, " via {gw}")?;
    }
    Ok(())
}

impl fmt::Display for Change {
    /// One line: `link-created dummy lvs0`, `link-up tunl0`,
    /// `address-added 192.168.1.3/32 dev lo label lo:0`,
    /// `address-removed 192.168.1.3/32 dev eth0 label eth0:0`,
    /// `route-added 0.0.0.0/0 dev eth0 via 192.168.2.1`,
    /// `sysctl net/ipv4/ip_forward 0 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::LinkCreated { name, kind } => write!(f, "link-created {kind} {name}"),
            Change::LinkUp { name } => write!(f, "link-up {name}"),
            Change::AddressAdded {
                dev,
                addr,
                prefix_len,
                label,
            }
            | Change::AddressRemoved {
                dev,
                addr,
                prefix_len,
                label,
            } => {
                let verb = if matches!(self, Change::AddressAdded { .. }) {
                    "address-added"
                } else {
                    "address-removed"
                };
                write!(f, "{verb} {addr}/{prefix_len} dev {dev}")?;
                if let Some(l) = label {
                    write!(f, " label {l}")?;
                }
                Ok(())
            }
            Change::RouteAdded {
                dst,
                prefix_len,
                dev,
                gateway,
            } => route_text(f, "route-added", dst, *prefix_len, dev, gateway),
            Change::RouteDeleted {
                dst,
                prefix_len,
                dev,
                gateway,
            } => route_text(f, "route-deleted", dst, *prefix_len, dev, gateway),
            Change::Sysctl {
                key,
                previous,
                value,
            } => write!(f, "sysctl {key} {previous} {value}"),
        }
    }
}

fn prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = s.split_once('/')?;
    let addr: IpAddr = a.parse().ok()?;
    let len: u8 = l.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

impl FromStr for Change {
    type Err = InvalidError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let err = || InvalidError::parse(line, "a host change line");
        let w: Vec<&str> = line.split_whitespace().collect();
        let name_ok = |n: &str| crate::model::check_name("interface", n, 15).map_err(|_| err());
        match w.as_slice() {
            ["link-created", kind, name] => {
                name_ok(name)?;
                Ok(Change::LinkCreated {
                    name: (*name).to_owned(),
                    kind: kind.parse()?,
                })
            }
            ["link-up", name] => {
                name_ok(name)?;
                Ok(Change::LinkUp {
                    name: (*name).to_owned(),
                })
            }
            [verb @ ("address-added" | "address-removed"), p, "dev", dev, rest @ ..] => {
                let (addr, prefix_len) = prefix(p).ok_or_else(err)?;
                name_ok(dev)?;
                let label = match rest {
                    [] => None,
                    ["label", l] => Some((*l).to_owned()),
                    _ => return Err(err()),
                };
                let dev = (*dev).to_owned();
                Ok(if *verb == "address-added" {
                    Change::AddressAdded {
                        dev,
                        addr,
                        prefix_len,
                        label,
                    }
                } else {
                    Change::AddressRemoved {
                        dev,
                        addr,
                        prefix_len,
                        label,
                    }
                })
            }
            [verb @ ("route-added" | "route-deleted"), p, "dev", dev, rest @ ..] => {
                let (dst, prefix_len) = prefix(p).ok_or_else(err)?;
                name_ok(dev)?;
                let gateway = match rest {
                    [] => None,
                    ["via", gw] => Some(gw.parse().map_err(|_| err())?),
                    _ => return Err(err()),
                };
                let dev = (*dev).to_owned();
                Ok(if *verb == "route-added" {
                    Change::RouteAdded {
                        dst,
                        prefix_len,
                        dev,
                        gateway,
                    }
                } else {
                    Change::RouteDeleted {
                        dst,
                        prefix_len,
                        dev,
                        gateway,
                    }
                })
            }
            ["sysctl", key, previous, value] => {
                if key.split('/').any(|c| c.is_empty() || c == "..") {
                    return Err(err());
                }
                Ok(Change::Sysctl {
                    key: (*key).to_owned(),
                    previous: (*previous).to_owned(),
                    value: (*value).to_owned(),
                })
            }
            _ => Err(err()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_roundtrip() {
        let changes = [
            Change::LinkCreated {
                name: "lvs0".into(),
                kind: LinkKind::Dummy,
            },
            Change::LinkUp {
                name: "tunl0".into(),
            },
            Change::AddressAdded {
                dev: "eth0".into(),
                addr: "192.168.1.3".parse().unwrap(),
                prefix_len: 32,
                label: Some("eth0:0".into()),
            },
            Change::AddressAdded {
                dev: "lo".into(),
                addr: "fd00::3".parse().unwrap(),
                prefix_len: 128,
                label: None,
            },
            Change::AddressRemoved {
                dev: "eth0".into(),
                addr: "192.168.1.3".parse().unwrap(),
                prefix_len: 32,
                label: Some("eth0:0".into()),
            },
            Change::AddressRemoved {
                dev: "eth0".into(),
                addr: "fd00::3".parse().unwrap(),
                prefix_len: 128,
                label: None,
            },
            Change::RouteAdded {
                dst: "0.0.0.0".parse().unwrap(),
                prefix_len: 0,
                dev: "eth0".into(),
                gateway: Some("192.168.2.1".parse().unwrap()),
            },
            Change::RouteDeleted {
                dst: "192.168.1.3".parse().unwrap(),
                prefix_len: 32,
                dev: "tunl0".into(),
                gateway: None,
            },
            Change::Sysctl {
                key: "net/ipv4/conf/all/arp_ignore".into(),
                previous: "0".into(),
                value: "1".into(),
            },
        ];
        for c in changes {
            let line = c.to_string();
            assert_eq!(line.parse::<Change>().unwrap(), c, "{line}");
        }
        assert_eq!(
            Change::Sysctl {
                key: "net/ipv4/ip_forward".into(),
                previous: "0".into(),
                value: "1".into()
            }
            .to_string(),
            "sysctl net/ipv4/ip_forward 0 1"
        );
    }

    #[test]
    fn bad_lines_are_typed_errors() {
        for bad in [
            "",
            "link-created vxlan x",
            "address-added 10.0.0.1/33 dev lo",
            "address-added 10.0.0.1 dev lo",
            "address-removed 10.0.0.1/32 dev lo label",
            "route-added 10.0.0.0/8 dev",
            "sysctl ../../etc/passwd 0 1",
            "sysctl net//x 0 1",
            "link-up an-interface-name-too-long",
            "route-added 0.0.0.0/0 dev eth0 via nowhere",
        ] {
            assert!(bad.parse::<Change>().is_err(), "{bad:?}");
        }
    }
}
