//! [`Op`]: one write to an IPVS table, the one vocabulary of batches, reconcile plans,
//! transactions, the ipvsadm commands of [`crate::text`] and the errors' [`Operation`].

use std::fmt;
use std::net::SocketAddr;

use super::{Daemon, DaemonState, Destination, Service, ServiceId, Timeouts};
use crate::error::{InvalidError, Operation};

/// One change to an IPVS table, as a batch, a reconcile plan, a transaction or an ipvsadm
/// command line carries it.
///
/// The request it sends is built in one place, `IpvsMessage::from(&op)` in
/// [`crate::wire`]; the name errors give it is [`Op::operation`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Add a service (`ipvsadm -A`).
    AddService(Service),
    /// Edit a service in place (`ipvsadm -E`).
    UpdateService(Service),
    /// Delete a service and its destinations (`ipvsadm -D`).
    DeleteService(ServiceId),
    /// Add a destination to a service (`ipvsadm -a`).
    AddDestination(ServiceId, Destination),
    /// Edit a destination in place (`ipvsadm -e`).
    UpdateDestination(ServiceId, Destination),
    /// Delete a destination (`ipvsadm -d`).
    DeleteDestination(ServiceId, SocketAddr),
    /// Set the connection timeouts (`ipvsadm --set`; 0 leaves a value unchanged).
    SetTimeouts(Timeouts),
    /// Zero the counters of one service, or of every service (`ipvsadm -Z`).
    Zero(Option<ServiceId>),
    /// Delete every service (`ipvsadm -C`).
    Flush,
    /// Start a connection-synchronization daemon (`ipvsadm --start-daemon`).
    StartDaemon(Daemon),
    /// Stop the sync daemon in this state (`ipvsadm --stop-daemon`).
    StopDaemon(DaemonState),
}

impl Op {
    /// Check the operation as the single-operation calls of [`Ipvs`](crate::Ipvs) do before
    /// sending: services, destinations for their service, sync daemons.
    pub fn validate(&self) -> Result<(), InvalidError> {
        match self {
            Op::AddService(s) | Op::UpdateService(s) => s.validate(),
            Op::AddDestination(id, d) | Op::UpdateDestination(id, d) => d.validate_for(id),
            Op::StartDaemon(d) => d.validate(),
            Op::DeleteService(_)
            | Op::DeleteDestination(..)
            | Op::SetTimeouts(_)
            | Op::Zero(_)
            | Op::Flush
            | Op::StopDaemon(_) => Ok(()),
        }
    }

    /// The operation's name in errors.
    pub fn operation(&self) -> Operation {
        match self {
            Op::AddService(_) => Operation::AddService,
            Op::UpdateService(_) => Operation::UpdateService,
            Op::DeleteService(_) => Operation::DeleteService,
            Op::AddDestination(..) => Operation::AddDestination,
            Op::UpdateDestination(..) => Operation::UpdateDestination,
            Op::DeleteDestination(..) => Operation::DeleteDestination,
            Op::SetTimeouts(_) => Operation::SetTimeouts,
            Op::Zero(_) => Operation::Zero,
            Op::Flush => Operation::Flush,
            Op::StartDaemon(_) => Operation::StartDaemon,
            Op::StopDaemon(_) => Operation::StopDaemon,
        }
    }

    /// The object the operation is about, as errors name it (`tcp:10.0.0.1:80`,
    /// `tcp:10.0.0.1:80 -> 10.0.0.2:80`, `master`; empty for table-wide operations).
    pub fn object(&self) -> String {
        match self {
            Op::AddService(s) | Op::UpdateService(s) => s.id.to_string(),
            Op::DeleteService(id) | Op::Zero(Some(id)) => id.to_string(),
            Op::AddDestination(id, d) | Op::UpdateDestination(id, d) => {
                format!("{id} -> {}", d.socket_addr())
            }
            Op::DeleteDestination(id, a) => format!("{id} -> {a}"),
            Op::StartDaemon(d) => d.state.to_string(),
            Op::StopDaemon(s) => s.to_string(),
            Op::SetTimeouts(_) | Op::Zero(None) | Op::Flush => String::new(),
        }
    }

    /// The service the operation writes to, if it is about one service (or one of its
    /// destinations).
    pub fn service_id(&self) -> Option<&ServiceId> {
        match self {
            Op::AddService(s) | Op::UpdateService(s) => Some(&s.id),
            Op::DeleteService(id)
            | Op::Zero(Some(id))
            | Op::AddDestination(id, _)
            | Op::UpdateDestination(id, _)
            | Op::DeleteDestination(id, _) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Op {
    /// `add service tcp:10.0.0.1:80 rr`, `delete destination tcp:10.0.0.1:80 -> 10.0.0.2:80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "add service {s}"),
            Op::UpdateService(s) => write!(f, "update service {s}"),
            Op::DeleteService(id) => write!(f, "delete service {id}"),
            Op::AddDestination(id, d) => write!(f, "add destination {id} -> {d}"),
            Op::UpdateDestination(id, d) => write!(f, "update destination {id} -> {d}"),
            Op::DeleteDestination(id, a) => write!(f, "delete destination {id} -> {a}"),
            Op::SetTimeouts(t) => write!(
                f,
                "set timeouts tcp {} tcpfin {} udp {}",
                t.tcp, t.tcp_fin, t.udp
            ),
            Op::Zero(Some(id)) => write!(f, "zero {id}"),
            Op::Zero(None) => write!(f, "zero all"),
            Op::Flush => write!(f, "flush"),
            Op::StartDaemon(d) => write!(f, "start sync daemon {}", d.state),
            Op::StopDaemon(s) => write!(f, "stop sync daemon {s}"),
        }
    }
}
