//! The sync daemon commands: `--start-daemon` with its options (`--mcast-interface`,
//! `--syncid`, `--mcast-group`, `--mcast-port`, `--mcast-ttl`, `--sync-maxlen`) and
//! `--stop-daemon`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::options::{Cmd, OptName, Tag};
use super::{bad, truncated, ArgError, Command};
use crate::model::{Daemon, DaemonState, Op};
use crate::text::cnum::string_to_number;

/// The state argument of `--start-daemon`/`--stop-daemon` (`what`).
pub(super) fn state(arg: Option<&str>, what: &str) -> Result<DaemonState, ArgError> {
    match arg {
        Some("master") => Ok(DaemonState::Master),
        Some("backup") => Ok(DaemonState::Backup),
        other => Err(bad(format!(
            "{what} needs 'master' or 'backup', not '{}'",
            other.unwrap_or("")
        ))),
    }
}

/// A daemon in `state` with nothing else given yet.
pub(super) fn new(state: DaemonState) -> Daemon {
    Daemon {
        state,
        interface: String::new(),
        sync_id: 0,
        max_len: None,
        group: None,
        port: None,
        ttl: None,
    }
}

/// Read one of the daemon's options.
pub(super) fn read(
    daemon: &mut Daemon,
    tag: Tag,
    name: OptName<'_>,
    a: &str,
) -> Result<(), ArgError> {
    let number = |min: i64, max: i64, what: &str| {
        string_to_number(a, min, max).ok_or_else(|| bad(format!("{name}: '{a}' is not {what}")))
    };
    match tag {
        Tag::McastIfn => daemon.interface = truncated(a, 15).to_owned(),
        Tag::SyncId => daemon.sync_id = number(0, 255, "a sync id (0..255)")? as u32,
        Tag::McastGroup => {
            daemon.group =
                Some(multicast_group(a).ok_or_else(|| {
                    bad(format!("{name}: '{a}' is not a multicast group address"))
                })?)
        }
        Tag::McastPort => daemon.port = Some(number(1, 65535, "a port (1..65535)")? as u16),
        Tag::McastTtl => daemon.ttl = Some(number(1, 255, "a TTL (1..255)")? as u8),
        Tag::SyncMaxlen => {
            daemon.max_len = Some(number(1, 65535 - 20 - 8, "a message length (1..65507)")? as u16)
        }
        _ => {}
    }
    Ok(())
}

/// A multicast group address: IPv6 when it has a colon, IPv4 otherwise.
fn multicast_group(a: &str) -> Option<IpAddr> {
    if a.contains(':') {
        a.parse::<Ipv6Addr>()
            .ok()
            .filter(|g| g.is_multicast())
            .map(IpAddr::V6)
    } else {
        a.parse::<Ipv4Addr>()
            .ok()
            .filter(|g| g.is_multicast())
            .map(IpAddr::V4)
    }
}

/// `--start-daemon` (on eth0 unless an interface was given) or `--stop-daemon`.
pub(super) fn build(cmd: Cmd, mut daemon: Daemon) -> Command {
    if cmd == Cmd::StopDaemon {
        return Command::Write(Op::StopDaemon(daemon.state));
    }
    if daemon.interface.is_empty() {
        daemon.interface = "eth0".to_owned();
    }
    Command::Write(Op::StartDaemon(daemon))
}
