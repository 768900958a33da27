//! The virtual service of a command line: the options that describe it (`-t`/`-u`/
//! `--sctp-service`/`-f`, `-s`, `-p`, `-M`, `-6`, `-o`, `--pe`, `-b`) and the service
//! commands built from it (`-A`, `-E`, `-D`, `-Z`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::options::{Cmd, Opt, OptName, Tag};
use super::{bad, parse_timeout, truncated, ArgError, Command};
use crate::model::{
    AddressFamily, Netmask, Op, Persistence, PersistenceEngine, Protocol, SchedFlags, Scheduler,
    Service, ServiceFlags, ServiceId,
};
use crate::text::cnum::{atoi, inet_aton, parse_fwmark, str_is_digit, string_to_number};
use crate::text::names::Names;

/// A virtual service as ipvsadm accumulates it while reading options (the names borrowed
/// from the arguments, already cut to the kernel's length).
#[derive(Debug, Clone, Copy)]
pub(super) struct RawSvc<'a> {
    pub(super) af: Option<AddressFamily>,
    pub(super) protocol: Option<Protocol>,
    pub(super) addr: Option<IpAddr>,
    pub(super) port: u16,
    pub(super) fwmark: u32,
    sched: &'a str,
    persistent: bool,
    one_packet: bool,
    timeout: u32,
    /// The netmask word: an IPv4 mask (as its address) or an IPv6 prefix length.
    netmask: RawMask,
    pe: &'a str,
    /// The `-b` argument.
    sched_flags: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
enum RawMask {
    V4(Ipv4Addr),
    Len(i64),
}

/// What [`parse_service`] found: an address, and a port too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Parsed {
    Nothing,
    Addr,
    AddrPort,
}

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port`, a bare IPv6 address; names through
/// `names`. Returns which parts were set.
pub(super) fn parse_service(buf: &str, svc: &mut RawSvc<'_>, names: &dyn Names) -> Parsed {
    if str_is_digit(buf) {
        return Parsed::Nothing;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return Parsed::Nothing;
        };
        let Some(p) = after.strip_prefix(':') else {
            return Parsed::Nothing;
        };
        host = h;
        port = Some(p);
    }
    // An IPv6 address has two colons at least: `host:port` with an IPv4 address or a name
    // is not tried as one (the parser would read its IPv4 part first).
    let v6 = if host.bytes().filter(|&b| b == b':').nth(1).is_some() {
        host.parse::<Ipv6Addr>().ok()
    } else {
        None
    };
    if let Some(a6) = v6 {
        svc.addr = Some(IpAddr::V6(a6));
        svc.af = Some(AddressFamily::Inet6);
        svc.netmask = RawMask::Len(128);
    } else {
        // A bracketed host that is not IPv6 has lost its port (ipvsadm looks for the port
        // separator inside the brackets).
        port = None;
        if let Some((h, p)) = host.rsplit_once(':') {
            host = h;
            port = Some(p);
        }
        let Some(a4) = inet_aton(host).or_else(|| names.host_v4(host)) else {
            return Parsed::Nothing;
        };
        svc.addr = Some(IpAddr::V4(a4));
        svc.af = Some(AddressFamily::Inet);
    }
    let Some(p) = port else {
        return Parsed::Addr;
    };
    if let Some(n) = string_to_number(p, 0, 65535) {
        svc.port = n as u16;
    } else if let Some(n) = svc.protocol.and_then(|pr| names.port(p, pr)) {
        svc.port = n;
    } else {
        return Parsed::Nothing;
    }
    Parsed::AddrPort
}

impl<'a> RawSvc<'a> {
    /// No service given yet.
    pub(super) fn new() -> Self {
        RawSvc {
            af: None,
            protocol: None,
            addr: None,
            port: 0,
            fwmark: 0,
            sched: "",
            persistent: false,
            one_packet: false,
            timeout: 0,
            netmask: RawMask::V4(Ipv4Addr::BROADCAST),
            pe: "",
            sched_flags: None,
        }
    }

    /// Read one of the service's options.
    pub(super) fn read(
        &mut self,
        tag: Tag,
        name: OptName<'_>,
        arg: Option<&'a str>,
        names: &dyn Names,
    ) -> Result<(), ArgError> {
        let a = arg.unwrap_or_default();
        match tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp => {
                self.protocol = Some(match tag {
                    Tag::Tcp => Protocol::Tcp,
                    Tag::Udp => Protocol::Udp,
                    _ => Protocol::Sctp,
                });
                if parse_service(a, self, names) == Parsed::Nothing {
                    return Err(bad(format!(
                        "{name}: '{a}' is not a virtual service address[:port]"
                    )));
                }
            }
            Tag::Fwmark => {
                self.af = Some(AddressFamily::Inet);
                self.protocol = Some(Protocol::Tcp);
                self.fwmark = parse_fwmark(a).ok_or_else(|| {
                    bad(format!(
                        "{name}: '{a}' is not a firewall mark (1..4294967295)"
                    ))
                })?;
            }
            Tag::Ipv6 => {
                if self.fwmark == 0 {
                    return Err(bad("-6/--ipv6 must come after -f/--fwmark-service"));
                }
                self.af = Some(AddressFamily::Inet6);
                self.netmask = RawMask::Len(128);
            }
            Tag::Scheduler => self.sched = truncated(a, 15),
            Tag::Persistent => {
                self.persistent = true;
                let max = i64::from(Persistence::MAX_TIMEOUT);
                self.timeout = parse_timeout(arg, 1, max, "-p/--persistent")?;
            }
            Tag::Netmask => self.read_netmask(name, a, names)?,
            Tag::Ops => self.one_packet = true,
            Tag::Pe => self.pe = truncated(a, 15),
            Tag::SchedFlags => self.sched_flags = Some(truncated(a, 127)),
            _ => {}
        }
        Ok(())
    }

    /// `-M`: an IPv4 netmask, or an IPv6 prefix length once the service is IPv6.
    fn read_netmask(
        &mut self,
        name: OptName<'_>,
        a: &str,
        names: &dyn Names,
    ) -> Result<(), ArgError> {
        if self.af != Some(AddressFamily::Inet6) {
            let m = inet_aton(a)
                .or_else(|| names.host_v4(a))
                .ok_or_else(|| bad(format!("{name}: '{a}' is not an IPv4 netmask")))?;
            self.netmask = RawMask::V4(m);
        } else {
            let len = atoi(a);
            if !(1..=128).contains(&len) {
                return Err(bad(format!(
                    "{name}: '{a}' is not an IPv6 prefix length (1..128)"
                )));
            }
            self.netmask = RawMask::Len(len);
        }
        Ok(())
    }

    /// The scheduler (ipvsadm's default is wlc).
    fn scheduler(&self) -> Scheduler {
        Scheduler::from_name(if self.sched.is_empty() {
            "wlc"
        } else {
            self.sched
        })
    }

    /// The `-b` flags, as flags of the scheduler.
    pub(super) fn sched_flags(&self) -> Result<SchedFlags, ArgError> {
        let mut sched_flags = SchedFlags::empty();
        let Some(list) = self.sched_flags.filter(|s| !s.is_empty()) else {
            return Ok(sched_flags);
        };
        let scheduler = self.scheduler();
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            sched_flags |= SchedFlags::from_ipvsadm_name(flag, &scheduler).map_err(|_| {
                bad(format!(
                    "-b/--sched-flags: '{flag}' is not a flag of scheduler {scheduler}"
                ))
            })?;
        }
        Ok(sched_flags)
    }

    /// The service's identity: its firewall mark, or its protocol and address.
    pub(super) fn id(&self) -> Result<ServiceId, ArgError> {
        if self.fwmark != 0 {
            return Ok(ServiceId::Fwmark {
                af: self.af.unwrap_or(AddressFamily::Inet),
                mark: self.fwmark,
            });
        }
        let addr = self
            .addr
            .ok_or_else(|| bad("a virtual service address is missing"))?;
        Ok(ServiceId::Addr {
            protocol: self.protocol.unwrap_or(Protocol::Tcp),
            addr: SocketAddr::new(addr, self.port),
        })
    }

    /// The service of `-A`/`-E`.
    fn service(&self, sched_flags: SchedFlags) -> Result<Service, ArgError> {
        if self.fwmark == 0 && self.port == 0 && !self.persistent {
            return Err(bad("port 0 (any port) needs a persistent service (-p)"));
        }
        if self.one_packet && self.fwmark == 0 && self.protocol != Some(Protocol::Udp) {
            return Err(bad(
                "-o/--ops (one-packet scheduling) is for UDP services only",
            ));
        }
        let id = self.id()?;
        let netmask = match self.netmask {
            RawMask::V4(m) => Netmask::V4(m),
            RawMask::Len(l) => Netmask::V6(u8::try_from(l).unwrap_or(0)),
        };
        let persistence = self.persistent.then_some(Persistence {
            timeout: self.timeout,
            netmask,
        });
        let full = Netmask::full(id.af());
        Ok(Service {
            id,
            scheduler: self.scheduler(),
            sched_flags,
            persistence,
            one_packet: self.one_packet,
            pe: (!self.pe.is_empty()).then(|| PersistenceEngine::from_name(self.pe)),
            other_flags: ServiceFlags::empty(),
            raw_netmask: (persistence.is_none() && netmask != full).then_some(netmask),
            raw_timeout: 0,
            stats: None,
        })
    }
}

/// `-A`, `-E`, `-D` or `-Z` (the options already checked against the table).
pub(super) fn build(
    cmd: Cmd,
    svc: &RawSvc<'_>,
    sched_flags: SchedFlags,
    given: Opt,
) -> Result<Command, ArgError> {
    let op = match cmd {
        Cmd::Add => Op::AddService(svc.service(sched_flags)?),
        Cmd::Edit => Op::UpdateService(svc.service(sched_flags)?),
        Cmd::Del => Op::DeleteService(svc.id()?),
        _ if !given.contains(Opt::SERVICE) => Op::Zero(None),
        _ => {
            let id = svc.id()?;
            let all = matches!(id, ServiceId::Addr { addr, .. } if addr.ip().is_unspecified() && addr.port() == 0);
            Op::Zero(if all { None } else { Some(id) })
        }
    };
    Ok(Command::Write(op))
}
