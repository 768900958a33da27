//! The real server of a command line: the options that describe it (`-r`, `-g`/`-i`/`-m`,
//! `-w`, `-x`, `-y`, `--tun-*`) and the real-server commands built from it (`-a`, `-e`,
//! `-d`).

use std::net::{IpAddr, SocketAddr};

use super::options::{Cmd, Opt, OptName, Tag};
use super::service::{parse_service, Parsed, RawSvc};
use super::{bad, ArgError, Command};
use crate::model::{
    AddressFamily, Destination, ForwardMethod, Op, Tunnel, TunnelFlags, TunnelType,
};
use crate::text::cnum::string_to_number;
use crate::text::names::Names;

/// ipvsadm's forwarding method codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fwd {
    Masq,
    Tunnel,
    DirectRoute,
}

/// A real server as ipvsadm accumulates it while reading options.
#[derive(Debug, Clone)]
pub(super) struct RawDest {
    af: Option<AddressFamily>,
    addr: Option<IpAddr>,
    port: u16,
    fwd: Fwd,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: u8,
    tun_port: u16,
    tun_flags: u16,
}

/// The tunnel options that only some tunnel types take, in ipvsadm's order.
const TUNNEL_OPTIONS: [Opt; 4] = [
    Opt::TUN_PORT,
    Opt::TUN_NOCSUM,
    Opt::TUN_CSUM,
    Opt::TUN_REMCSUM,
];

impl RawDest {
    /// No real server given yet (direct routing, weight 1).
    pub(super) fn new() -> Self {
        RawDest {
            af: None,
            addr: None,
            port: 0,
            fwd: Fwd::DirectRoute,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
        }
    }

    /// `-r`: the address (and port, else the service's) read as ipvsadm reads a service's,
    /// with what `svc` holds so far.
    pub(super) fn read_server(
        &mut self,
        svc: &RawSvc<'_>,
        name: OptName<'_>,
        a: &str,
        names: &dyn Names,
    ) -> Result<(), ArgError> {
        let mut t = *svc;
        let parsed = parse_service(a, &mut t, names);
        self.af = t.af;
        self.addr = t.addr;
        self.port = t.port;
        match parsed {
            Parsed::Nothing => Err(bad(format!(
                "{name}: '{a}' is not a real server address[:port]"
            ))),
            Parsed::Addr => {
                self.port = svc.port;
                Ok(())
            }
            Parsed::AddrPort => Ok(()),
        }
    }

    /// Read one of the real server's options other than `-r`.
    pub(super) fn read(&mut self, tag: Tag, name: OptName<'_>, a: &str) -> Result<(), ArgError> {
        let number = |what: &str| {
            string_to_number(a, 0, i64::from(i32::MAX))
                .map(|v| v as u32)
                .ok_or_else(|| bad(format!("{name}: '{a}' is not {what} (0..2147483647)")))
        };
        match tag {
            Tag::Ipip => self.fwd = Fwd::Tunnel,
            Tag::Gate => self.fwd = Fwd::DirectRoute,
            Tag::Masq => self.fwd = Fwd::Masq,
            // ipvsadm takes any int here; the kernel keeps it.
            Tag::Weight => self.weight = number("a weight")?,
            Tag::UThreshold => self.u_threshold = number("a connection threshold")?,
            Tag::LThreshold => self.l_threshold = number("a connection threshold")?,
            Tag::TunType => {
                self.tun_type = match a {
                    "ipip" => 0,
                    "gue" => 1,
                    "gre" => 2,
                    _ => {
                        return Err(bad(format!(
                            "{name}: '{a}' is not a tunnel type (ipip, gue, gre)"
                        )))
                    }
                };
            }
            Tag::TunPort => {
                self.tun_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| bad(format!("{name}: '{a}' is not a port (1..65535)")))?
                    as u16;
            }
            Tag::TunCsum => self.tun_flags |= 1,
            Tag::TunRemcsum => self.tun_flags |= 2,
            _ => {}
        }
        Ok(())
    }

    /// The tunnel options against the tunnel type, as ipvsadm checks them.
    fn check_tunnel(&self, given: Opt) -> Result<(), ArgError> {
        if given.intersects(Opt::TUN_TYPE | TUNNEL_OPTIONS.iter().fold(Opt::empty(), |a, o| a | *o))
            && self.fwd != Fwd::Tunnel
        {
            return Err(bad("tunnel options (--tun-*) need tunnelling (-i)"));
        }
        // Which tunnel options each tunnel type takes (port, nocsum, csum, remcsum).
        let (tname, rules): (&str, &[u8; 4]) = match self.tun_type {
            1 => ("gue", b"+111"),
            2 => ("gre", b"x11x"),
            _ => ("ipip", b"xxxx"),
        };
        let mut seen: Option<Opt> = None;
        for (o, rule) in TUNNEL_OPTIONS.iter().zip(rules) {
            if !given.contains(*o) {
                if *rule == b'+' {
                    return Err(bad(format!("tunnel type {tname} needs {}", o.name())));
                }
                continue;
            }
            if *rule == b'x' {
                return Err(bad(format!(
                    "{} cannot be used with tunnel type {tname}",
                    o.name()
                )));
            }
            if *rule == b'1' {
                if let Some(prev) = seen {
                    return Err(bad(format!(
                        "{} and {} cannot be used together",
                        o.name(),
                        prev.name()
                    )));
                }
                seen = Some(*o);
            }
        }
        Ok(())
    }

    /// The real server of `-a`/`-e`.
    fn destination(mut self, svc: &RawSvc<'_>, given: Opt) -> Result<Destination, ArgError> {
        if svc.fwmark == 0 && matches!(self.fwd, Fwd::Tunnel | Fwd::DirectRoute) {
            self.port = svc.port;
        }
        if self.af != svc.af && self.fwd != Fwd::Tunnel {
            return Err(bad(
                "a real server of the other address family needs tunnelling (-i)",
            ));
        }
        self.check_tunnel(given)?;
        svc.id()?;
        let addr = self.address()?;
        let forward = match self.fwd {
            Fwd::Masq => ForwardMethod::Masquerade,
            Fwd::Tunnel => ForwardMethod::Tunnel(Tunnel {
                kind: TunnelType::from_code(self.tun_type),
                port: self.tun_port,
                flags: TunnelFlags::from_bits_retain(self.tun_flags),
            }),
            Fwd::DirectRoute => ForwardMethod::DirectRoute,
        };
        Ok(Destination {
            addr,
            port: self.port,
            forward,
            weight: self.weight,
            upper_threshold: self.u_threshold,
            lower_threshold: self.l_threshold,
            counters: None,
            stats: None,
        })
    }

    fn address(&self) -> Result<IpAddr, ArgError> {
        self.addr
            .ok_or_else(|| bad("a real server address is missing"))
    }
}

/// `-a`, `-e` or `-d` (the options already checked against the table).
pub(super) fn build(
    cmd: Cmd,
    svc: &RawSvc<'_>,
    dest: RawDest,
    given: Opt,
) -> Result<Command, ArgError> {
    let op = match cmd {
        Cmd::AddDest => {
            let d = dest.destination(svc, given)?;
            Op::AddDestination(svc.id()?, d)
        }
        Cmd::EditDest => {
            let d = dest.destination(svc, given)?;
            Op::UpdateDestination(svc.id()?, d)
        }
        _ => {
            let addr = dest.address()?;
            Op::DeleteDestination(svc.id()?, SocketAddr::new(addr, dest.port))
        }
    };
    Ok(Command::Write(op))
}
