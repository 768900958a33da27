//! Checks of a whole table: every service and destination as its builder would check it, and
//! no object given twice.

use std::collections::HashSet;
use std::net::SocketAddr;

use super::{ServiceEntry, ServiceId};
use crate::error::InvalidError;

/// A table (or one [`ServiceEntry`]) that its builders would refuse, naming the object: a
/// desired table read from a configuration file is checked with [`validate_table`] before it
/// is reconciled.
///
/// ```
/// use lvs::{Destination, Service, ServiceEntry, TableError};
///
/// let service = Service::tcp("10.0.0.1:80".parse()?).build()?;
/// let mut rs = Destination::builder("10.0.0.2:80".parse()?).build()?;
/// rs.weight = 70_000;
/// let table = [ServiceEntry { service, destinations: vec![rs] }];
/// let e = lvs::validate_table(&table).unwrap_err();
/// assert!(matches!(e, TableError::Destination { .. }));
/// assert_eq!(
///     e.to_string(),
///     "service tcp:10.0.0.1:80: destination 10.0.0.2:80: weight 70000 is out of range 0..=65535"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A service its builder would refuse.
    #[error("service {service}: {error}")]
    Service {
        /// The service.
        service: ServiceId,
        /// What is wrong with it.
        #[source]
        error: InvalidError,
    },
    /// A destination its builder would refuse for its service.
    #[error("service {service}: destination {destination}: {error}")]
    Destination {
        /// The service of the destination.
        service: ServiceId,
        /// The destination.
        destination: SocketAddr,
        /// What is wrong with it.
        #[source]
        error: InvalidError,
    },
    /// A service given twice in the table.
    #[error("service {0}: given twice")]
    DuplicateService(ServiceId),
    /// A destination given twice under one service.
    #[error("service {service}: destination {destination}: given twice")]
    DuplicateDestination {
        /// The service.
        service: ServiceId,
        /// The destination.
        destination: SocketAddr,
    },
}

impl ServiceEntry {
    /// Check the entry as the builders would: the service
    /// ([`Service::validate`](super::Service::validate)), each destination for it
    /// ([`Destination::validate_for`](super::Destination::validate_for)), and no destination
    /// twice.
    pub fn validate(&self) -> Result<(), TableError> {
        let service = self.service.id;
        self.service
            .validate()
            .map_err(|error| TableError::Service { service, error })?;
        let mut seen = HashSet::with_capacity(self.destinations.len());
        for d in &self.destinations {
            let destination = d.socket_addr();
            d.validate_for(&service)
                .map_err(|error| TableError::Destination {
                    service,
                    destination,
                    error,
                })?;
            if !seen.insert(destination) {
                return Err(TableError::DuplicateDestination {
                    service,
                    destination,
                });
            }
        }
        Ok(())
    }
}

/// Check a whole table, such as a desired table read from a configuration file: every entry
/// ([`ServiceEntry::validate`]) and no service twice. The first problem is returned, naming
/// the service and destination.
pub fn validate_table(table: &[ServiceEntry]) -> Result<(), TableError> {
    let mut seen = HashSet::with_capacity(table.len());
    for entry in table {
        entry.validate()?;
        if !seen.insert(entry.service.id) {
            return Err(TableError::DuplicateService(entry.service.id));
        }
    }
    Ok(())
}
