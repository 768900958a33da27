use std::fmt;
use std::str::FromStr;

use crate::error::InvalidError;

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`).
///
/// When setting, 0 leaves a value unchanged (the kernel's rule).
///
/// ```
/// use lvs::Timeouts;
///
/// // ipvsadm --set 900 0 0: change the TCP timeout only.
/// let t = Timeouts { tcp: 900, ..Timeouts::default() };
/// assert_eq!((t.tcp_fin, t.udp), (0, 0));
/// // ipvsadm.set_timeouts(&t)?
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Timeouts {
    /// Established TCP sessions.
    pub tcp: u32,
    /// TCP sessions after a FIN.
    pub tcp_fin: u32,
    /// UDP flows.
    pub udp: u32,
}

/// The IPVS version the kernel reports, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub u32);

impl Version {
    /// Major number.
    pub fn major(self) -> u8 {
        (self.0 >> 16) as u8
    }
    /// Minor number.
    pub fn minor(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// Patch number.
    pub fn patch(self) -> u8 {
        self.0 as u8
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major(), self.minor(), self.patch())
    }
}

impl FromStr for Version {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || InvalidError::parse(s, "a version (major.minor.patch)");
        let mut parts = s.split('.').map(|p| p.parse::<u8>().map_err(|_| err()));
        let (Some(a), Some(b), Some(c), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        Ok(Version(
            (u32::from(a?) << 16) | (u32::from(b?) << 8) | u32::from(c?),
        ))
    }
}

/// What `GET_INFO` reports: the IPVS version and the connection hash table size.
///
/// ```
/// use lvs::{Info, Version};
///
/// let info = Info { version: "1.2.1".parse()?, conn_table_size: 4096 };
/// assert_eq!(info.version, Version(0x010201));
/// assert_eq!(info.version.to_string(), "1.2.1");
/// # Ok::<(), lvs::InvalidError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Info {
    /// IPVS version (for example 1.2.1).
    pub version: Version,
    /// Connection hash table size (buckets).
    pub conn_table_size: u32,
}
