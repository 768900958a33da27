//! Layer 1: the model. Plain values, validated by builders, with `FromStr` and `Display` where
//! a text form exists. Nothing here does I/O or knows about netlink.

mod compare;
mod daemon;
mod destination;
mod entry;
mod info;
mod kernel;
mod op;
mod persistence;
mod refusal;
mod scheduler;
#[cfg(feature = "serde")]
mod serde_impls;
mod service;
mod stats;
mod table;

pub use compare::{diff, same_config, Difference};
pub use daemon::{Daemon, DaemonBuilder, DaemonState};
pub use destination::{
    DestCounters, Destination, DestinationBuilder, ForwardMethod, Tunnel, TunnelFlags, TunnelType,
};
pub use entry::ServiceEntry;
pub use info::{Info, Timeouts, Version};
pub use kernel::{Capabilities, ConnTable, KernelVersion, ServiceOrder};
pub use op::Op;
pub use persistence::{Netmask, Persistence, PersistenceEngine};
pub use refusal::RefusedObject;
pub use scheduler::{SchedFlags, Scheduler};
pub use service::{AddressFamily, Protocol, Service, ServiceBuilder, ServiceFlags, ServiceId};
pub use stats::{rates, Rates, Stats};
pub use table::{validate_table, TableError};

use crate::error::InvalidError;

/// Validate the name of a network namespace (a file under `/run/netns`, as `ip netns add`
/// makes): 1..=255 bytes of printable ASCII without `/`, not `.` or `..`, so that joining it
/// to `/run/netns` can never name another file.
pub fn check_netns_name(name: &str) -> Result<(), InvalidError> {
    check_name("network namespace", name, 255)?;
    if name.contains('/') || name == "." || name == ".." {
        return Err(InvalidError::BadName {
            what: "network namespace",
            name: name.to_owned(),
            reason: "a name under /run/netns, not a path (no '/', not '.' or '..')",
        });
    }
    Ok(())
}

/// Validate a kernel name (scheduler, persistence engine, interface): 1..=max bytes of
/// printable ASCII, no whitespace, no NUL.
pub(crate) fn check_name(what: &'static str, name: &str, max: usize) -> Result<(), InvalidError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > max {
        match max {
            15 => "longer than 15 bytes",
            _ => "too long",
        }
    } else if !name.bytes().all(|b| b.is_ascii_graphic()) {
        "not printable ASCII without spaces"
    } else {
        return Ok(());
    };
    Err(InvalidError::BadName {
        what,
        name: name.to_owned(),
        reason,
    })
}
