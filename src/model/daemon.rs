use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::InvalidError;

/// Longest interface name (`IP_VS_IFNAME_MAXLEN` - 1).
const IFNAME_MAX: usize = 15;

/// The role of a connection synchronisation daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DaemonState {
    /// Sends connection updates (`master`).
    Master,
    /// Receives connection updates (`backup`).
    Backup,
    /// A state value unknown to this crate.
    Other(u32),
}

impl DaemonState {
    /// The kernel's value (`IP_VS_STATE_*`).
    pub fn code(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
            DaemonState::Other(c) => c,
        }
    }

    /// The state of a kernel value.
    pub fn from_code(code: u32) -> DaemonState {
        match code {
            1 => DaemonState::Master,
            2 => DaemonState::Backup,
            c => DaemonState::Other(c),
        }
    }
}

impl fmt::Display for DaemonState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonState::Master => f.write_str("master"),
            DaemonState::Backup => f.write_str("backup"),
            DaemonState::Other(c) => write!(f, "state{c}"),
        }
    }
}

impl FromStr for DaemonState {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "master" => Ok(DaemonState::Master),
            "backup" => Ok(DaemonState::Backup),
            _ => Err(InvalidError::parse(
                s,
                "a sync daemon state (master, backup)",
            )),
        }
    }
}

/// A connection synchronisation daemon (`ipvsadm --start-daemon`).
///
/// ```
/// use lvs::{Daemon, DaemonState};
/// let d = Daemon::builder(DaemonState::Master, "eth0").sync_id(7).build()?;
/// assert_eq!(d.sync_id, 7);
/// # Ok::<(), lvs::InvalidError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct Daemon {
    /// Master or backup.
    pub state: DaemonState,
    /// Multicast interface (`--mcast-interface`).
    pub interface: String,
    /// Sync id (`--syncid`), 0..=255 in ipvsadm.
    #[cfg_attr(feature = "serde", serde(default))]
    pub sync_id: u32,
    /// Maximum sync message length (`--sync-maxlen`), kernel default when `None`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub max_len: Option<u16>,
    /// Multicast group (`--mcast-group`), IPv4 or IPv6; kernel default 224.0.0.81.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub group: Option<IpAddr>,
    /// Multicast UDP port (`--mcast-port`); kernel default 8848.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub port: Option<u16>,
    /// Multicast TTL (`--mcast-ttl`), 1..=255; kernel default 1.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub ttl: Option<u8>,
}

impl Daemon {
    /// A builder for a daemon of this role on this interface.
    pub fn builder(state: DaemonState, interface: &str) -> DaemonBuilder {
        DaemonBuilder {
            daemon: Daemon {
                state,
                interface: interface.to_owned(),
                sync_id: 0,
                max_len: None,
                group: None,
                port: None,
                ttl: None,
            },
        }
    }

    /// Check the daemon's values.
    pub fn validate(&self) -> Result<(), InvalidError> {
        super::check_name("interface", &self.interface, IFNAME_MAX)?;
        if !matches!(self.state, DaemonState::Master | DaemonState::Backup) {
            return Err(InvalidError::Daemon("state must be master or backup"));
        }
        if self.sync_id > 255 {
            return Err(InvalidError::Daemon("sync id must be 0..=255"));
        }
        if self.ttl == Some(0) {
            return Err(InvalidError::Daemon("multicast TTL must be 1..=255"));
        }
        if self.port == Some(0) {
            return Err(InvalidError::Daemon("multicast port must be non-zero"));
        }
        if let Some(g) = self.group {
            if !g.is_multicast() {
                return Err(InvalidError::Daemon("group must be a multicast address"));
            }
        }
        Ok(())
    }
}

/// Builds a [`Daemon`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DaemonBuilder {
    daemon: Daemon,
}

impl DaemonBuilder {
    /// Sync id (`--syncid`).
    pub fn sync_id(mut self, id: u32) -> Self {
        self.daemon.sync_id = id;
        self
    }

    /// Maximum sync message length (`--sync-maxlen`).
    pub fn max_len(mut self, len: u16) -> Self {
        self.daemon.max_len = Some(len);
        self
    }

    /// Multicast group (`--mcast-group`).
    pub fn group(mut self, group: IpAddr) -> Self {
        self.daemon.group = Some(group);
        self
    }

    /// Multicast port (`--mcast-port`).
    pub fn port(mut self, port: u16) -> Self {
        self.daemon.port = Some(port);
        self
    }

    /// Multicast TTL (`--mcast-ttl`).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.daemon.ttl = Some(ttl);
        self
    }

    /// Build without validation (for strategies that construct valid values field by field).
    #[cfg(feature = "proptest")]
    pub(crate) fn build_unvalidated(self) -> Daemon {
        self.daemon
    }

    /// Validate and build.
    pub fn build(self) -> Result<Daemon, InvalidError> {
        self.daemon.validate()?;
        Ok(self.daemon)
    }
}
