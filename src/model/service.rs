use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use super::{Netmask, Persistence, PersistenceEngine, SchedFlags, Scheduler, Stats};
use crate::error::InvalidError;

/// The transport protocol of an address-based virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Protocol {
    /// TCP (`-t`).
    Tcp,
    /// UDP (`-u`).
    Udp,
    /// SCTP (`--sctp-service`).
    Sctp,
    /// Any other IP protocol number the kernel reports.
    Other(u16),
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
            Protocol::Other(n) => n,
        }
    }

    /// The protocol of an IP protocol number.
    pub fn from_number(n: u16) -> Protocol {
        match n {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            132 => Protocol::Sctp,
            n => Protocol::Other(n),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("tcp"),
            Protocol::Udp => f.write_str("udp"),
            Protocol::Sctp => f.write_str("sctp"),
            Protocol::Other(n) => write!(f, "proto{n}"),
        }
    }
}

impl FromStr for Protocol {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Ok(Protocol::Sctp),
            other => other
                .strip_prefix("proto")
                .and_then(|n| n.parse().ok())
                .map(Protocol::from_number)
                .ok_or_else(|| InvalidError::parse(s, "a protocol (tcp, udp, sctp)")),
        }
    }
}

/// An address family, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamily {
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
}

impl AddressFamily {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> AddressFamily {
        match addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        }
    }

    /// The unspecified address of this family.
    pub fn unspecified(self) -> IpAddr {
        match self {
            AddressFamily::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressFamily::Inet => "inet",
            AddressFamily::Inet6 => "inet6",
        })
    }
}

/// The identity of a virtual service: a protocol and socket address, or a firewall mark and an
/// address family. Two services with the same `ServiceId` are the same kernel object.
///
/// Text form: `tcp:10.0.0.1:80`, `udp:[fd00::1]:53`, `sctp:10.0.0.1:9`, `fwmark:42` (IPv4) and
/// `fwmark6:42` (IPv6).
///
/// ```
/// use lvs::ServiceId;
/// let id: ServiceId = "tcp:[fd00::1]:443".parse()?;
/// assert_eq!(id.to_string(), "tcp:[fd00::1]:443");
/// assert_eq!("fwmark:42".parse::<ServiceId>()?, ServiceId::fwmark(42));
/// # Ok::<(), lvs::InvalidError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceId {
    /// An address-based service (`-t`, `-u`, `--sctp-service`).
    Addr {
        /// Transport protocol.
        protocol: Protocol,
        /// Virtual address and port.
        addr: SocketAddr,
    },
    /// A firewall-mark service (`-f`, with `-6` for IPv6).
    Fwmark {
        /// Address family of the service.
        af: AddressFamily,
        /// The mark (non-zero).
        mark: u32,
    },
}

impl ServiceId {
    /// A TCP service.
    pub fn tcp(addr: impl Into<SocketAddr>) -> ServiceId {
        ServiceId::Addr {
            protocol: Protocol::Tcp,
            addr: addr.into(),
        }
    }

    /// A UDP service.
    pub fn udp(addr: impl Into<SocketAddr>) -> ServiceId {
        ServiceId::Addr {
            protocol: Protocol::Udp,
            addr: addr.into(),
        }
    }

    /// An SCTP service.
    pub fn sctp(addr: impl Into<SocketAddr>) -> ServiceId {
        ServiceId::Addr {
            protocol: Protocol::Sctp,
            addr: addr.into(),
        }
    }

    /// An IPv4 firewall-mark service.
    pub fn fwmark(mark: u32) -> ServiceId {
        ServiceId::Fwmark {
            af: AddressFamily::Inet,
            mark,
        }
    }

    /// An IPv6 firewall-mark service.
    pub fn fwmark6(mark: u32) -> ServiceId {
        ServiceId::Fwmark {
            af: AddressFamily::Inet6,
            mark,
        }
    }

    /// The address family.
    pub fn af(&self) -> AddressFamily {
        match self {
            ServiceId::Addr { addr, .. } => AddressFamily::of(&addr.ip()),
            ServiceId::Fwmark { af, .. } => *af,
        }
    }

    /// The protocol of an address-based service; `None` for a fwmark service.
    pub fn protocol(&self) -> Option<Protocol> {
        match self {
            ServiceId::Addr { protocol, .. } => Some(*protocol),
            ServiceId::Fwmark { .. } => None,
        }
    }

    /// The socket address of an address-based service.
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            ServiceId::Addr { addr, .. } => Some(*addr),
            ServiceId::Fwmark { .. } => None,
        }
    }

    /// The firewall mark of a fwmark service.
    pub fn fwmark_value(&self) -> Option<u32> {
        match self {
            ServiceId::Fwmark { mark, .. } => Some(*mark),
            ServiceId::Addr { .. } => None,
        }
    }

    /// Whether this is a firewall-mark service.
    pub fn is_fwmark(&self) -> bool {
        matches!(self, ServiceId::Fwmark { .. })
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceId::Addr { protocol, addr } => write!(f, "{protocol}:{addr}"),
            ServiceId::Fwmark {
                af: AddressFamily::Inet,
                mark,
            } => write!(f, "fwmark:{mark}"),
            ServiceId::Fwmark {
                af: AddressFamily::Inet6,
                mark,
            } => write!(f, "fwmark6:{mark}"),
        }
    }
}

impl FromStr for ServiceId {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "a service (tcp:ADDR:PORT, udp:..., sctp:..., fwmark:N, fwmark6:N)";
        let err = || InvalidError::parse(s, EXPECTED);
        let (kind, rest) = s.split_once(':').ok_or_else(err)?;
        match kind.to_ascii_lowercase().as_str() {
            "fwmark" | "fwmark6" => {
                let mark: u32 = rest.parse().map_err(|_| err())?;
                if mark == 0 {
                    return Err(err());
                }
                Ok(if kind.len() == 6 {
                    ServiceId::fwmark(mark)
                } else {
                    ServiceId::fwmark6(mark)
                })
            }
            _ => {
                let protocol: Protocol = kind.parse().map_err(|_| err())?;
                let addr: SocketAddr = rest.parse().map_err(|_| err())?;
                Ok(ServiceId::Addr { protocol, addr })
            }
        }
    }
}

impl From<(Protocol, SocketAddr)> for ServiceId {
    fn from((protocol, addr): (Protocol, SocketAddr)) -> Self {
        ServiceId::Addr { protocol, addr }
    }
}

bitflags::bitflags! {
    /// The raw service flags word (`IP_VS_SVC_F_*`), as the kernel stores it.
    ///
    /// [`Service`] models most bits as typed fields; this type appears where the raw word
    /// matters (the wire layer, kernel-internal bits such as `HASHED`, bits of newer kernels).
    /// Unknown bits are retained.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct ServiceFlags: u32 {
        /// Persistent service (`IP_VS_SVC_F_PERSISTENT`).
        const PERSISTENT = 0x0001;
        /// The service is hashed in the kernel's tables (`IP_VS_SVC_F_HASHED`, kernel-set).
        const HASHED = 0x0002;
        /// One-packet scheduling (`IP_VS_SVC_F_ONEPACKET`).
        const ONEPACKET = 0x0004;
        /// Scheduler flag 1 (`IP_VS_SVC_F_SCHED1`).
        const SCHED1 = 0x0008;
        /// Scheduler flag 2 (`IP_VS_SVC_F_SCHED2`).
        const SCHED2 = 0x0010;
        /// Scheduler flag 3 (`IP_VS_SVC_F_SCHED3`).
        const SCHED3 = 0x0020;
        /// Keep unknown bits.
        const _ = !0;
    }
}

/// A virtual service: its identity and how it schedules connections.
///
/// Build one with [`Service::builder`] or the shortcuts [`Service::tcp`], [`Service::udp`],
/// [`Service::sctp`], [`Service::fwmark`]; the builder reads like an ipvsadm `-A` line and
/// rejects what ipvsadm or the kernel would reject.
///
/// ```
/// use lvs::{Service, Scheduler};
/// // ipvsadm -A -t 192.168.2.1:80 -s rr -p 600
/// let svc = Service::tcp("192.168.2.1:80".parse()?)
///     .scheduler(Scheduler::Rr)
///     .persistent(600)
///     .build()?;
/// assert_eq!(svc.persistence.unwrap().timeout, 600);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Service {
    /// The identity.
    pub id: ServiceId,
    /// The scheduler (`-s`).
    pub scheduler: Scheduler,
    /// Scheduler flags (`-b`).
    pub sched_flags: SchedFlags,
    /// Persistence (`-p`, `-M`); `None` for a non-persistent service.
    pub persistence: Option<Persistence>,
    /// One-packet scheduling (`-o`).
    pub one_packet: bool,
    /// Persistence engine (`--pe`).
    pub pe: Option<PersistenceEngine>,
    /// Flag bits not modelled above, as the kernel reported them (`HASHED`, bits of newer
    /// kernels). Ignored when writing, except bits unknown to this crate, which are sent.
    pub other_flags: ServiceFlags,
    /// Netmask reported by the kernel for a non-persistent service, kept so that a value read
    /// back is exact. `None` when persistent (the netmask is in `persistence`).
    pub raw_netmask: Option<Netmask>,
    /// Persistence timeout reported for a non-persistent service (normally 0), kept for
    /// exactness.
    pub raw_timeout: u32,
    /// Counters and rates, when read back from the kernel.
    pub stats: Option<Stats>,
}

impl Service {
    /// A builder for a service of this identity.
    pub fn builder(id: ServiceId) -> ServiceBuilder {
        ServiceBuilder::new(id)
    }

    /// A builder for a TCP service (`-t ADDR:PORT`).
    pub fn tcp(addr: SocketAddr) -> ServiceBuilder {
        ServiceBuilder::new(ServiceId::tcp(addr))
    }

    /// A builder for a UDP service (`-u ADDR:PORT`).
    pub fn udp(addr: SocketAddr) -> ServiceBuilder {
        ServiceBuilder::new(ServiceId::udp(addr))
    }

    /// A builder for an SCTP service (`--sctp-service ADDR:PORT`).
    pub fn sctp(addr: SocketAddr) -> ServiceBuilder {
        ServiceBuilder::new(ServiceId::sctp(addr))
    }

    /// A builder for an IPv4 firewall-mark service (`-f MARK`).
    pub fn fwmark(mark: u32) -> ServiceBuilder {
        ServiceBuilder::new(ServiceId::fwmark(mark))
    }

    /// A builder for an IPv6 firewall-mark service (`-f MARK -6`).
    pub fn fwmark6(mark: u32) -> ServiceBuilder {
        ServiceBuilder::new(ServiceId::fwmark6(mark))
    }

    /// The raw flags word this service is written with (`HASHED` cleared).
    pub fn flags(&self) -> ServiceFlags {
        let mut flags = self.other_flags - ServiceFlags::all_known();
        if self.persistence.is_some() {
            flags |= ServiceFlags::PERSISTENT;
        }
        if self.one_packet {
            flags |= ServiceFlags::ONEPACKET;
        }
        flags | ServiceFlags::from_bits_retain(self.sched_flags.bits())
    }

    /// The netmask this service is written with: the persistence netmask, or the raw one read
    /// back, or the full-length mask of the family.
    pub fn netmask(&self) -> Netmask {
        self.persistence
            .map(|p| p.netmask)
            .or(self.raw_netmask)
            .unwrap_or_else(|| Netmask::full(self.id.af()))
    }

    /// The persistence timeout this service is written with (0 when not persistent, unless a
    /// raw value was read back).
    pub fn timeout(&self) -> u32 {
        self.persistence.map_or(self.raw_timeout, |p| p.timeout)
    }

    /// Check the rules ipvsadm and the kernel apply to a service.
    pub fn validate(&self) -> Result<(), InvalidError> {
        if let ServiceId::Addr { protocol, addr } = self.id {
            if addr.port() == 0 && self.persistence.is_none() {
                return Err(InvalidError::ZeroPortWithoutPersistence);
            }
            if self.one_packet && protocol != Protocol::Udp {
                return Err(InvalidError::OnePacketNotUdp(protocol.to_string()));
            }
        }
        if let ServiceId::Fwmark { mark: 0, .. } = self.id {
            return Err(InvalidError::ZeroFwmark);
        }
        self.scheduler.validate()?;
        if let Some(p) = &self.persistence {
            p.validate(self.id.af())?;
        }
        if let Some(pe) = &self.pe {
            pe.validate()?;
        }
        Ok(())
    }

    /// Whether `self` and `other` describe the same configuration, ignoring what the kernel
    /// adds on its own (`HASHED`, stats) — the comparison a reconcile needs.
    pub fn same_config(&self, other: &Service) -> bool {
        self.id == other.id
            && self.scheduler == other.scheduler
            && self.flags() == other.flags()
            && self.persistence == other.persistence
            && self.pe == other.pe
            && (self.persistence.is_some() || self.netmask() == other.netmask())
    }
}

impl ServiceFlags {
    fn all_known() -> ServiceFlags {
        ServiceFlags::PERSISTENT
            | ServiceFlags::HASHED
            | ServiceFlags::ONEPACKET
            | ServiceFlags::SCHED1
            | ServiceFlags::SCHED2
            | ServiceFlags::SCHED3
    }
}

/// Builds a [`Service`], one ipvsadm option per method.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServiceBuilder {
    service: Service,
    netmask: Option<Netmask>,
}

impl ServiceBuilder {
    /// A builder with ipvsadm's defaults: scheduler `wlc`, not persistent.
    pub fn new(id: ServiceId) -> ServiceBuilder {
        ServiceBuilder {
            service: Service {
                id,
                scheduler: Scheduler::Wlc,
                sched_flags: SchedFlags::empty(),
                persistence: None,
                one_packet: false,
                pe: None,
                other_flags: ServiceFlags::empty(),
                raw_netmask: None,
                raw_timeout: 0,
                stats: None,
            },
            netmask: None,
        }
    }

    /// The scheduler (`-s`).
    pub fn scheduler(mut self, scheduler: Scheduler) -> Self {
        self.service.scheduler = scheduler;
        self
    }

    /// Scheduler flags (`-b`).
    pub fn sched_flags(mut self, flags: SchedFlags) -> Self {
        self.service.sched_flags = flags;
        self
    }

    /// Make the service persistent with this timeout in seconds (`-p TIMEOUT`).
    pub fn persistent(mut self, timeout: u32) -> Self {
        self.service.persistence = Some(Persistence {
            timeout,
            netmask: Netmask::full(self.service.id.af()),
        });
        self
    }

    /// Make the service persistent with ipvsadm's default timeout (`-p` alone: 360 s).
    pub fn persistent_default(self) -> Self {
        self.persistent(Persistence::DEFAULT_TIMEOUT)
    }

    /// The persistence granularity netmask (`-M`).
    pub fn netmask(mut self, netmask: Netmask) -> Self {
        self.netmask = Some(netmask);
        self
    }

    /// One-packet scheduling (`-o`).
    pub fn one_packet(mut self) -> Self {
        self.service.one_packet = true;
        self
    }

    /// The persistence engine (`--pe`).
    pub fn pe(mut self, pe: PersistenceEngine) -> Self {
        self.service.pe = Some(pe);
        self
    }

    /// Build without validation (for strategies that construct valid values field by field).
    #[cfg(feature = "proptest")]
    pub(crate) fn build_unvalidated(self) -> Service {
        self.service
    }

    /// Validate and build.
    pub fn build(mut self) -> Result<Service, InvalidError> {
        if let Some(mask) = self.netmask {
            match &mut self.service.persistence {
                Some(p) => p.netmask = mask,
                None => self.service.raw_netmask = Some(mask),
            }
            if let Some(m) = self.service.raw_netmask {
                m.validate(self.service.id.af())?;
            }
        }
        self.service.validate()?;
        Ok(self.service)
    }
}

impl fmt::Display for Service {
    /// An ipvsadm-like summary: `tcp:10.0.0.1:80 rr persistent 360`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.scheduler)?;
        let names = self.sched_flags.ipvsadm_names(&self.scheduler);
        if !names.is_empty() {
            write!(f, " ({})", names.join(","))?;
        }
        if let Some(p) = &self.persistence {
            write!(f, " persistent {}", p.timeout)?;
            if p.netmask != Netmask::full(self.id.af()) {
                write!(f, " mask {}", p.netmask)?;
            }
        }
        if let Some(pe) = &self.pe {
            write!(f, " pe {pe}")?;
        }
        if self.one_packet {
            f.write_str(" ops")?;
        }
        Ok(())
    }
}
