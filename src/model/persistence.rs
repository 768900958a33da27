use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use super::AddressFamily;
use crate::error::InvalidError;

/// Longest persistence engine name (`IP_VS_PENAME_MAXLEN` - 1).
pub(crate) const PE_NAME_MAX: usize = 15;

/// Persistence (ipvsadm `-p` and `-M`): connections from the same client (network) go to the
/// same real server for `timeout` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Persistence {
    /// Timeout in seconds.
    #[cfg_attr(
        feature = "serde",
        serde(default = "super::serde_impls::default_timeout")
    )]
    pub timeout: u32,
    /// Granularity: clients within this netmask count as one.
    pub netmask: Netmask,
}

impl Persistence {
    /// ipvsadm's default timeout when `-p` is given without a value (its code says 360 s).
    pub const DEFAULT_TIMEOUT: u32 = 360;
    /// ipvsadm's largest accepted timeout (31 days).
    pub const MAX_TIMEOUT: u32 = 31 * 86400;

    /// Persistence for a service of family `af`, with the full-length netmask.
    pub fn new(timeout: u32, af: AddressFamily) -> Persistence {
        Persistence {
            timeout,
            netmask: Netmask::full(af),
        }
    }

    pub(crate) fn validate(&self, af: AddressFamily) -> Result<(), InvalidError> {
        if self.timeout == 0 || self.timeout > Self::MAX_TIMEOUT {
            return Err(InvalidError::PersistenceTimeoutOutOfRange(self.timeout));
        }
        self.netmask.validate(af)
    }
}

/// A persistence netmask: an IPv4 mask (`255.255.255.0`) or an IPv6 prefix length (`64`).
///
/// The kernel stores an IPv4 mask as given (ipvsadm does not require it to be contiguous) and
/// an IPv6 netmask as a prefix length 1..=128.
///
/// ```
/// use lvs::Netmask;
/// let m: Netmask = "255.255.255.0".parse()?;
/// assert_eq!(m.prefix_len(), Some(24));
/// assert_eq!("64".parse::<Netmask>()?, Netmask::V6(64));
/// # Ok::<(), lvs::InvalidError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Netmask {
    /// An IPv4 mask.
    V4(Ipv4Addr),
    /// An IPv6 prefix length.
    V6(u8),
}

impl Netmask {
    /// The all-ones mask of a family: `255.255.255.255` or `/128` (ipvsadm's default).
    pub fn full(af: AddressFamily) -> Netmask {
        match af {
            AddressFamily::Inet => Netmask::V4(Ipv4Addr::BROADCAST),
            AddressFamily::Inet6 => Netmask::V6(128),
        }
    }

    /// An IPv4 mask of this prefix length (0..=32).
    pub fn v4_prefix(len: u8) -> Result<Netmask, InvalidError> {
        ipnetwork::Ipv4Network::new(Ipv4Addr::UNSPECIFIED, len)
            .map(|n| Netmask::V4(n.mask()))
            .map_err(|_| InvalidError::PrefixOutOfRange(len.into()))
    }

    /// The prefix length: IPv6's directly, IPv4's if the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        match self {
            Netmask::V4(mask) => ipnetwork::ipv4_mask_to_prefix(*mask).ok(),
            Netmask::V6(len) => Some(*len),
        }
    }

    /// The family this netmask belongs to.
    pub fn af(&self) -> AddressFamily {
        match self {
            Netmask::V4(_) => AddressFamily::Inet,
            Netmask::V6(_) => AddressFamily::Inet6,
        }
    }

    pub(crate) fn validate(&self, af: AddressFamily) -> Result<(), InvalidError> {
        if self.af() != af {
            return Err(InvalidError::NetmaskFamilyMismatch {
                netmask: self.to_string(),
            });
        }
        match self {
            Netmask::V6(len) if !(1..=128).contains(len) => {
                Err(InvalidError::PrefixOutOfRange((*len).into()))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Netmask::V4(mask) => write!(f, "{mask}"),
            Netmask::V6(len) => write!(f, "{len}"),
        }
    }
}

impl FromStr for Netmask {
    type Err = InvalidError;

    /// A dotted IPv4 mask, or an IPv6 prefix length 1..=128.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(mask) = s.parse::<Ipv4Addr>() {
            return Ok(Netmask::V4(mask));
        }
        match s.trim_start_matches('/').parse::<u32>() {
            Ok(len @ 1..=128) => Ok(Netmask::V6(len as u8)),
            Ok(len) => Err(InvalidError::PrefixOutOfRange(len)),
            Err(_) => Err(InvalidError::parse(
                s,
                "a netmask (IPv4 mask or IPv6 prefix length)",
            )),
        }
    }
}

/// A persistence engine (`--pe`): the kernel ships `sip`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PersistenceEngine {
    /// The SIP persistence engine (`ip_vs_pe_sip`, persistence by Call-ID).
    Sip,
    /// Any other engine name (1..=15 bytes).
    Other(String),
}

impl PersistenceEngine {
    /// The kernel name.
    pub fn name(&self) -> &str {
        match self {
            PersistenceEngine::Sip => "sip",
            PersistenceEngine::Other(name) => name,
        }
    }

    /// The engine of this kernel name, without validation.
    pub fn from_name(name: &str) -> PersistenceEngine {
        match name {
            "sip" => PersistenceEngine::Sip,
            other => PersistenceEngine::Other(other.to_owned()),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), InvalidError> {
        super::check_name("persistence engine", self.name(), PE_NAME_MAX)
    }
}

impl fmt::Display for PersistenceEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PersistenceEngine {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let pe = PersistenceEngine::from_name(s);
        pe.validate()?;
        Ok(pe)
    }
}
