//! Reading a request's attributes the way `ip_vs_ctl.c` does: the last occurrence of an
//! attribute wins (as with `nla_parse`), identities are checked before anything else, and a
//! missing mandatory attribute is EINVAL.

use crate::wire::{DaemonAttr, DestAttr, IpvsAttr, ServiceAttr};

use super::addr::{normalize, Group, AF_INET, AF_INET6};
use super::Errno;

/// `IP_VS_SCHEDNAME_MAXLEN - 1`: the longest scheduler name the netlink policy lets through.
const SCHED_NAME_POLICY_MAX: usize = 15;
/// `IP_VS_PENAME_MAXLEN`: the policy's limit for an engine name (one more than for a
/// scheduler: the kernel's policy entry says `IP_VS_PENAME_MAXLEN`, not `- 1`).
const PE_NAME_POLICY_MAX: usize = 16;
/// `IP_VS_IFNAME_MAXLEN - 1`.
const IFNAME_POLICY_MAX: usize = 15;
/// `IP_VS_CONN_F_FWD_MASK`.
pub(super) const FWD_MASK: u32 = 0x7;
/// `IPPROTO_TCP`.
const IPPROTO_TCP: u16 = 6;

/// The last value `f` picks out of `attrs`.
pub(super) fn last<'a, A, T>(attrs: &'a [A], f: impl FnMut(&'a A) -> Option<T>) -> Option<T> {
    attrs.iter().rev().find_map(f)
}

/// The last service nest of a message.
pub(super) fn service_nest(attrs: &[IpvsAttr]) -> Option<&[ServiceAttr]> {
    last(attrs, |a| match a {
        IpvsAttr::Service(s) => Some(s.as_slice()),
        _ => None,
    })
}

/// The last destination nest of a message.
pub(super) fn dest_nest(attrs: &[IpvsAttr]) -> Option<&[DestAttr]> {
    last(attrs, |a| match a {
        IpvsAttr::Dest(d) => Some(d.as_slice()),
        _ => None,
    })
}

/// The last daemon nest of a message.
pub(super) fn daemon_nest(attrs: &[IpvsAttr]) -> Option<&[DaemonAttr]> {
    last(attrs, |a| match a {
        IpvsAttr::Daemon(d) => Some(d.as_slice()),
        _ => None,
    })
}

/// A service as a request describes it (`struct ip_vs_service_user_kern`).
#[derive(Debug, Clone)]
pub(super) struct USvc {
    pub af: u16,
    pub protocol: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub fwmark: u32,
    /// The full-entry part: present for `NEW_SERVICE` and `SET_SERVICE` only.
    pub full: Option<USvcFull>,
}

/// The attributes a full service entry adds to the identity.
#[derive(Debug, Clone)]
pub(super) struct USvcFull {
    pub sched_name: String,
    pub pe_name: Option<String>,
    /// `FLAGS.flags & FLAGS.mask`, and the mask: merged with the old flags by the caller.
    pub flags: u32,
    pub mask: u32,
    pub timeout: u32,
    pub netmask: u32,
}

/// Whether the address family is one IPVS takes (`ip_vs_is_af_valid`).
pub(super) fn af_valid(af: u16, ipv6: bool) -> bool {
    af == AF_INET || (af == AF_INET6 && ipv6)
}

/// `ip_vs_genl_parse_service`, up to the lookup: EINVAL without a nest or without an
/// identity (`AF` and `FWMARK`, or `AF`, `PROTOCOL`, `ADDR` and `PORT`), EAFNOSUPPORT for a
/// family other than IPv4 or IPv6, EINVAL for a full entry without `SCHED_NAME`, `FLAGS`,
/// `TIMEOUT` and `NETMASK`. A `FWMARK` attribute, even 0, makes the service a fwmark one of
/// protocol TCP with a zero address and port (so `FWMARK` 0 names the TCP service at the
/// unspecified address, port 0).
pub(super) fn parse_service(
    nest: Option<&[ServiceAttr]>,
    full: bool,
    ipv6: bool,
) -> Result<USvc, Errno> {
    let attrs = nest.ok_or(Errno::EINVAL)?;
    // The nest's policy: strings longer than the policy allows fail the whole parse.
    let too_long = attrs.iter().any(|a| match a {
        ServiceAttr::SchedName(s) => s.len() > SCHED_NAME_POLICY_MAX,
        ServiceAttr::PeName(s) => s.len() > PE_NAME_POLICY_MAX,
        _ => false,
    });
    if too_long {
        return Err(Errno::EINVAL);
    }
    let af = last(attrs, |a| match a {
        ServiceAttr::Af(v) => Some(*v),
        _ => None,
    });
    let protocol = last(attrs, |a| match a {
        ServiceAttr::Protocol(v) => Some(*v),
        _ => None,
    });
    let addr = last(attrs, |a| match a {
        ServiceAttr::Addr(v) => Some(*v),
        _ => None,
    });
    let port = last(attrs, |a| match a {
        ServiceAttr::Port(v) => Some(*v),
        _ => None,
    });
    let fwmark = last(attrs, |a| match a {
        ServiceAttr::Fwmark(v) => Some(*v),
        _ => None,
    });
    let Some(af) = af else {
        return Err(Errno::EINVAL);
    };
    let id_ok = fwmark.is_some() || (port.is_some() && protocol.is_some() && addr.is_some());
    if !id_ok {
        return Err(Errno::EINVAL);
    }
    if !af_valid(af, ipv6) {
        return Err(Errno::EAFNOSUPPORT);
    }
    let mut u = match (fwmark, protocol, addr, port) {
        (Some(mark), ..) => USvc {
            af,
            protocol: IPPROTO_TCP,
            addr: [0; 16],
            port: 0,
            fwmark: mark,
            full: None,
        },
        (None, Some(protocol), Some(addr), Some(port)) => USvc {
            af,
            protocol,
            addr: normalize(af, addr),
            port,
            fwmark: 0,
            full: None,
        },
        _ => return Err(Errno::EINVAL),
    };
    if full {
        let sched = last(attrs, |a| match a {
            ServiceAttr::SchedName(s) => Some(s.clone()),
            _ => None,
        });
        let pe = last(attrs, |a| match a {
            ServiceAttr::PeName(s) => Some(s.clone()),
            _ => None,
        });
        let flags = last(attrs, |a| match a {
            ServiceAttr::Flags { flags, mask } => Some((*flags, *mask)),
            _ => None,
        });
        let timeout = last(attrs, |a| match a {
            ServiceAttr::Timeout(v) => Some(*v),
            _ => None,
        });
        let netmask = last(attrs, |a| match a {
            ServiceAttr::Netmask(v) => Some(*v),
            _ => None,
        });
        let (Some(sched_name), Some((flags, mask)), Some(timeout), Some(netmask)) =
            (sched, flags, timeout, netmask)
        else {
            return Err(Errno::EINVAL);
        };
        u.full = Some(USvcFull {
            sched_name,
            pe_name: pe,
            flags: flags & mask,
            mask,
            timeout,
            netmask,
        });
    }
    Ok(u)
}

/// A destination as a request describes it (`struct ip_vs_dest_user_kern`).
#[derive(Debug, Clone)]
pub(super) struct UDest {
    /// 0 when the request has no `ADDR_FAMILY` (the caller then takes the service's).
    pub af: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub full: Option<UDestFull>,
}

/// The attributes a full destination entry adds to the identity.
#[derive(Debug, Clone)]
pub(super) struct UDestFull {
    /// `FWD_METHOD & IP_VS_CONN_F_FWD_MASK`.
    pub conn_flags: u32,
    /// Read as a signed int by the kernel.
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
}

/// `ip_vs_genl_parse_dest`: EINVAL without a nest, without `ADDR` and `PORT`, or (full entry)
/// without `FWD_METHOD`, `WEIGHT`, `U_THRESH` and `L_THRESH`. The tunnel attributes are
/// optional (0 when absent) and taken whatever the forwarding method.
pub(super) fn parse_dest(nest: Option<&[DestAttr]>, full: bool) -> Result<UDest, Errno> {
    let attrs = nest.ok_or(Errno::EINVAL)?;
    let addr = last(attrs, |a| match a {
        DestAttr::Addr(v) => Some(*v),
        _ => None,
    });
    let port = last(attrs, |a| match a {
        DestAttr::Port(v) => Some(*v),
        _ => None,
    });
    let (Some(addr), Some(port)) = (addr, port) else {
        return Err(Errno::EINVAL);
    };
    let af = last(attrs, |a| match a {
        DestAttr::AddrFamily(v) => Some(*v),
        _ => None,
    })
    .unwrap_or(0);
    let mut u = UDest {
        af,
        addr,
        port,
        full: None,
    };
    if full {
        let u32_of = |pick: fn(&DestAttr) -> Option<u32>| last(attrs, pick);
        let fwd = u32_of(|a| match a {
            DestAttr::FwdMethod(v) => Some(*v),
            _ => None,
        });
        let weight = u32_of(|a| match a {
            DestAttr::Weight(v) => Some(*v),
            _ => None,
        });
        let upper = u32_of(|a| match a {
            DestAttr::UpperThreshold(v) => Some(*v),
            _ => None,
        });
        let lower = u32_of(|a| match a {
            DestAttr::LowerThreshold(v) => Some(*v),
            _ => None,
        });
        let (Some(fwd), Some(weight), Some(upper), Some(lower)) = (fwd, weight, upper, lower)
        else {
            return Err(Errno::EINVAL);
        };
        u.full = Some(UDestFull {
            conn_flags: fwd & FWD_MASK,
            weight: i32::from_ne_bytes(weight.to_ne_bytes()),
            u_threshold: upper,
            l_threshold: lower,
            tun_type: last(attrs, |a| match a {
                DestAttr::TunType(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(0),
            tun_port: last(attrs, |a| match a {
                DestAttr::TunPort(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(0),
            tun_flags: last(attrs, |a| match a {
                DestAttr::TunFlags(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(0),
        });
    }
    Ok(u)
}

/// A daemon as `NEW_DAEMON` describes it, before the kernel fills in its defaults.
#[derive(Debug, Clone)]
pub(super) struct UDaemon {
    pub state: u32,
    pub ifname: String,
    pub sync_id: u32,
    pub sync_maxlen: u16,
    pub group: Option<Group>,
    pub port: u16,
    pub ttl: u8,
}

/// The daemon nest's policy (`ip_vs_daemon_policy`): an interface name longer than 15
/// bytes fails the parse.
pub(super) fn daemon_policy_ok(attrs: &[DaemonAttr]) -> bool {
    !attrs.iter().any(|a| match a {
        DaemonAttr::McastIfn(s) => s.len() > IFNAME_POLICY_MAX,
        _ => false,
    })
}

/// `ip_vs_genl_new_daemon` up to the sync thread: EINVAL without `STATE`, `MCAST_IFN` and
/// `SYNC_ID`, or with a group that is not multicast (`MCAST_GROUP` wins over
/// `MCAST_GROUP6`).
pub(super) fn parse_new_daemon(attrs: &[DaemonAttr]) -> Result<UDaemon, Errno> {
    let state = last(attrs, |a| match a {
        DaemonAttr::State(v) => Some(*v),
        _ => None,
    });
    let ifname = last(attrs, |a| match a {
        DaemonAttr::McastIfn(s) => Some(s.clone()),
        _ => None,
    });
    let sync_id = last(attrs, |a| match a {
        DaemonAttr::SyncId(v) => Some(*v),
        _ => None,
    });
    let (Some(state), Some(ifname), Some(sync_id)) = (state, ifname, sync_id) else {
        return Err(Errno::EINVAL);
    };
    let sync_maxlen = last(attrs, |a| match a {
        DaemonAttr::SyncMaxLen(v) => Some(*v),
        _ => None,
    })
    .unwrap_or(0);
    let g4 = last(attrs, |a| match a {
        DaemonAttr::McastGroup(g) => Some(*g),
        _ => None,
    });
    let g6 = last(attrs, |a| match a {
        DaemonAttr::McastGroup6(g) => Some(*g),
        _ => None,
    });
    let group = match (g4, g6) {
        (Some(g), _) => {
            if !g.is_multicast() {
                return Err(Errno::EINVAL);
            }
            Some(Group::V4(g))
        }
        (None, Some(g)) => {
            if !g.is_multicast() {
                return Err(Errno::EINVAL);
            }
            Some(Group::V6(g))
        }
        (None, None) => None,
    };
    Ok(UDaemon {
        state,
        ifname,
        sync_id,
        sync_maxlen,
        group,
        port: last(attrs, |a| match a {
            DaemonAttr::McastPort(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(0),
        ttl: last(attrs, |a| match a {
            DaemonAttr::McastTtl(v) => Some(*v),
            _ => None,
        })
        .unwrap_or(0),
    })
}
