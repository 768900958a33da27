use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::{AddressFamily, ServiceId, Stats};
use crate::error::InvalidError;

/// How the director forwards packets to a real server.
///
/// ```
/// use lvs::{ForwardMethod, Tunnel};
/// assert_eq!("masq".parse::<ForwardMethod>()?, ForwardMethod::Masquerade);
/// assert_eq!("dr".parse::<ForwardMethod>()?, ForwardMethod::DirectRoute);
/// let gue = ForwardMethod::Tunnel(Tunnel::gue(6080).csum());
/// assert_eq!(gue.to_string(), "tunnel gue port 6080 csum");
/// # Ok::<(), lvs::InvalidError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ForwardMethod {
    /// Masquerading, NAT (`-m`).
    Masquerade,
    /// Local node: the director serves the connection itself.
    Local,
    /// IP tunnelling (`-i`), with the tunnel's encapsulation.
    Tunnel(Tunnel),
    /// Direct routing, gatewaying (`-g`, ipvsadm's default).
    #[default]
    DirectRoute,
    /// Bypass.
    Bypass,
    /// A forwarding code unknown to this crate (the low 3 bits of the kernel's value).
    Other(u32),
}

impl ForwardMethod {
    /// The kernel's forwarding code (`IP_VS_CONN_F_*`).
    pub fn code(&self) -> u32 {
        match self {
            ForwardMethod::Masquerade => 0,
            ForwardMethod::Local => 1,
            ForwardMethod::Tunnel(_) => 2,
            ForwardMethod::DirectRoute => 3,
            ForwardMethod::Bypass => 4,
            ForwardMethod::Other(code) => *code,
        }
    }

    /// The method of a kernel forwarding code; a tunnel gets IPIP encapsulation.
    pub fn from_code(code: u32) -> ForwardMethod {
        match code {
            0 => ForwardMethod::Masquerade,
            1 => ForwardMethod::Local,
            2 => ForwardMethod::Tunnel(Tunnel::default()),
            3 => ForwardMethod::DirectRoute,
            4 => ForwardMethod::Bypass,
            other => ForwardMethod::Other(other),
        }
    }

    /// The tunnel settings, when tunnelling.
    pub fn tunnel(&self) -> Option<&Tunnel> {
        match self {
            ForwardMethod::Tunnel(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for ForwardMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardMethod::Masquerade => f.write_str("masq"),
            ForwardMethod::Local => f.write_str("local"),
            ForwardMethod::Tunnel(t) => write!(f, "tunnel {t}"),
            ForwardMethod::DirectRoute => f.write_str("route"),
            ForwardMethod::Bypass => f.write_str("bypass"),
            ForwardMethod::Other(code) => write!(f, "fwd{code}"),
        }
    }
}

impl FromStr for ForwardMethod {
    type Err = InvalidError;

    /// `masq`/`nat`/`m`, `tunnel`/`ipip`/`tun`/`i`, `route`/`dr`/`g`, `local`, `bypass`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "masq" | "masquerade" | "masquerading" | "nat" | "m" => ForwardMethod::Masquerade,
            "tunnel" | "ipip" | "tun" | "i" => ForwardMethod::Tunnel(Tunnel::default()),
            "route" | "dr" | "direct" | "gatewaying" | "g" => ForwardMethod::DirectRoute,
            "local" => ForwardMethod::Local,
            "bypass" => ForwardMethod::Bypass,
            _ => {
                return Err(InvalidError::parse(
                    s,
                    "a forwarding method (masq, tunnel, route, local, bypass)",
                ))
            }
        })
    }
}

/// Tunnel encapsulation (`--tun-type`), kernel 5.2+ for GUE and 5.3+ for GRE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TunnelType {
    /// IP-in-IP (the classic LVS tunnel, `ipip`).
    #[default]
    Ipip,
    /// Generic UDP encapsulation (`gue`), needs a port.
    Gue,
    /// GRE (`gre`).
    Gre,
    /// A type code unknown to this crate.
    Other(u8),
}

impl TunnelType {
    /// The kernel's code (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
    pub fn code(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
            TunnelType::Other(c) => c,
        }
    }

    /// The type of a kernel code.
    pub fn from_code(code: u8) -> TunnelType {
        match code {
            0 => TunnelType::Ipip,
            1 => TunnelType::Gue,
            2 => TunnelType::Gre,
            c => TunnelType::Other(c),
        }
    }
}

impl fmt::Display for TunnelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelType::Ipip => f.write_str("ipip"),
            TunnelType::Gue => f.write_str("gue"),
            TunnelType::Gre => f.write_str("gre"),
            TunnelType::Other(c) => write!(f, "tun{c}"),
        }
    }
}

impl FromStr for TunnelType {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ipip" => Ok(TunnelType::Ipip),
            "gue" => Ok(TunnelType::Gue),
            "gre" => Ok(TunnelType::Gre),
            _ => Err(InvalidError::parse(s, "a tunnel type (ipip, gue, gre)")),
        }
    }
}

bitflags::bitflags! {
    /// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`); empty means `--tun-nocsum`.
    /// Unknown bits are retained.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TunnelFlags: u16 {
        /// `--tun-csum`: checksum the outer packet.
        const CSUM = 0x0001;
        /// `--tun-remcsum`: remote checksum offload.
        const REMCSUM = 0x0002;
        /// Keep unknown bits.
        const _ = !0;
    }
}

/// Tunnel settings of a tunnelling destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Tunnel {
    /// Encapsulation.
    pub kind: TunnelType,
    /// Destination UDP port of the encapsulation (GUE), 0 otherwise.
    pub port: u16,
    /// Checksum options.
    pub flags: TunnelFlags,
}

impl Tunnel {
    /// IPIP encapsulation (the default).
    pub fn ipip() -> Tunnel {
        Tunnel::default()
    }

    /// GUE encapsulation to this UDP port.
    pub fn gue(port: u16) -> Tunnel {
        Tunnel {
            kind: TunnelType::Gue,
            port,
            flags: TunnelFlags::empty(),
        }
    }

    /// GRE encapsulation.
    pub fn gre() -> Tunnel {
        Tunnel {
            kind: TunnelType::Gre,
            ..Tunnel::default()
        }
    }

    /// Checksum the outer packet (`--tun-csum`).
    pub fn csum(mut self) -> Tunnel {
        self.flags = TunnelFlags::CSUM;
        self
    }

    /// Remote checksum offload (`--tun-remcsum`).
    pub fn remcsum(mut self) -> Tunnel {
        self.flags = TunnelFlags::REMCSUM;
        self
    }

    fn validate(&self) -> Result<(), InvalidError> {
        if self.kind == TunnelType::Gue && self.port == 0 {
            return Err(InvalidError::GueWithoutPort);
        }
        Ok(())
    }
}

impl fmt::Display for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if self.port != 0 {
            write!(f, " port {}", self.port)?;
        }
        if self.flags.contains(TunnelFlags::CSUM) {
            f.write_str(" csum")?;
        }
        if self.flags.contains(TunnelFlags::REMCSUM) {
            f.write_str(" remcsum")?;
        }
        Ok(())
    }
}

/// Connection counters of a destination, as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct DestCounters {
    /// Active connections (`ActiveConn`).
    pub active: u32,
    /// Inactive connections (`InActConn`).
    pub inactive: u32,
    /// Persistent connection templates (`--persistent-conn`).
    pub persistent: u32,
}

/// A real server of a virtual service.
///
/// ```
/// use lvs::{Destination, ForwardMethod};
/// // ipvsadm -a -t 192.168.2.1:80 -r 192.168.2.2:80 -m -w 3
/// let d = Destination::builder("192.168.2.2:80".parse()?)
///     .forward(ForwardMethod::Masquerade)
///     .weight(3)
///     .build()?;
/// assert_eq!(d.weight, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Destination {
    /// Address of the real server (of either family, see [`Destination::validate_for`]).
    pub addr: IpAddr,
    /// Port (0 for fwmark services, where the packet's port is kept).
    pub port: u16,
    /// Forwarding method (`-g`, `-i`, `-m`).
    pub forward: ForwardMethod,
    /// Weight (`-w`), 0..=65535; 0 quiesces the server.
    pub weight: u32,
    /// Upper connection threshold (`-x`), 0 = none.
    pub upper_threshold: u32,
    /// Lower connection threshold (`-y`), 0 = none.
    pub lower_threshold: u32,
    /// Connection counters, when read back.
    pub counters: Option<DestCounters>,
    /// Counters and rates, when read back.
    pub stats: Option<Stats>,
}

impl Destination {
    /// ipvsadm's default weight.
    pub const DEFAULT_WEIGHT: u32 = 1;
    /// ipvsadm's largest weight.
    pub const MAX_WEIGHT: u32 = 65535;

    /// A builder for a destination at this address and port, with ipvsadm's defaults (direct
    /// routing, weight 1).
    pub fn builder(addr: SocketAddr) -> DestinationBuilder {
        DestinationBuilder::new(addr.ip(), addr.port())
    }

    /// The socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    /// The address family of the destination.
    pub fn af(&self) -> AddressFamily {
        AddressFamily::of(&self.addr)
    }

    /// Check the rules that do not depend on the service.
    pub fn validate(&self) -> Result<(), InvalidError> {
        if self.weight > Self::MAX_WEIGHT {
            return Err(InvalidError::WeightOutOfRange(self.weight));
        }
        for t in [self.upper_threshold, self.lower_threshold] {
            if t > i32::MAX as u32 {
                return Err(InvalidError::ThresholdOutOfRange(t));
            }
        }
        if self.lower_threshold > self.upper_threshold {
            return Err(InvalidError::LowerThresholdAboveUpper {
                lower: self.lower_threshold,
                upper: self.upper_threshold,
            });
        }
        if let ForwardMethod::Tunnel(t) = &self.forward {
            t.validate()?;
        }
        Ok(())
    }

    /// Check the destination against the service it is for: everything in
    /// [`validate`](Self::validate), and a destination of the other address family needs
    /// tunnel forwarding.
    pub fn validate_for(&self, service: &ServiceId) -> Result<(), InvalidError> {
        self.validate()?;
        if self.af() != service.af() && !matches!(self.forward, ForwardMethod::Tunnel(_)) {
            return Err(InvalidError::MixedFamilyWithoutTunnel);
        }
        Ok(())
    }

    /// Whether `self` and `other` describe the same configuration (counters and stats
    /// ignored).
    pub fn same_config(&self, other: &Destination) -> bool {
        self.addr == other.addr
            && self.port == other.port
            && self.forward == other.forward
            && self.weight == other.weight
            && self.upper_threshold == other.upper_threshold
            && self.lower_threshold == other.lower_threshold
    }
}

impl fmt::Display for Destination {
    /// `10.0.0.2:80 masq weight 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} weight {}",
            self.socket_addr(),
            self.forward,
            self.weight
        )?;
        if self.upper_threshold != 0 || self.lower_threshold != 0 {
            write!(
                f,
                " thresholds {}..{}",
                self.lower_threshold, self.upper_threshold
            )?;
        }
        Ok(())
    }
}

/// Builds a [`Destination`], one ipvsadm option per method.
#[derive(Debug, Clone)]
#[must_use]
pub struct DestinationBuilder {
    dest: Destination,
}

impl DestinationBuilder {
    /// A builder with ipvsadm's defaults: direct routing, weight 1, no thresholds.
    pub fn new(addr: IpAddr, port: u16) -> DestinationBuilder {
        DestinationBuilder {
            dest: Destination {
                addr,
                port,
                forward: ForwardMethod::DirectRoute,
                weight: Destination::DEFAULT_WEIGHT,
                upper_threshold: 0,
                lower_threshold: 0,
                counters: None,
                stats: None,
            },
        }
    }

    /// The forwarding method.
    pub fn forward(mut self, method: ForwardMethod) -> Self {
        self.dest.forward = method;
        self
    }

    /// Masquerading, NAT (`-m`).
    pub fn masquerade(self) -> Self {
        self.forward(ForwardMethod::Masquerade)
    }

    /// Tunnelling (`-i`, `--tun-type`, `--tun-port`, `--tun-*csum`).
    pub fn tunnel(self, tunnel: Tunnel) -> Self {
        self.forward(ForwardMethod::Tunnel(tunnel))
    }

    /// Direct routing (`-g`).
    pub fn direct_route(self) -> Self {
        self.forward(ForwardMethod::DirectRoute)
    }

    /// The weight (`-w`).
    pub fn weight(mut self, weight: u32) -> Self {
        self.dest.weight = weight;
        self
    }

    /// The upper connection threshold (`-x`).
    pub fn upper_threshold(mut self, n: u32) -> Self {
        self.dest.upper_threshold = n;
        self
    }

    /// The lower connection threshold (`-y`).
    pub fn lower_threshold(mut self, n: u32) -> Self {
        self.dest.lower_threshold = n;
        self
    }

    /// Build without validation (for strategies that construct valid values field by field,
    /// and for deserializing, which validates with the service).
    #[cfg(any(feature = "proptest", feature = "serde"))]
    pub(crate) fn build_unvalidated(self) -> Destination {
        self.dest
    }

    /// Validate on its own and build.
    pub fn build(self) -> Result<Destination, InvalidError> {
        self.dest.validate()?;
        Ok(self.dest)
    }

    /// Validate for the given service (the family rule too) and build.
    pub fn build_for(self, service: &ServiceId) -> Result<Destination, InvalidError> {
        self.dest.validate_for(service)?;
        Ok(self.dest)
    }
}
