//! A service with its destinations: one entry of a table listing.

use super::{Destination, Service};

/// A service with its destinations, as a full listing returns them (and as a desired table
/// for [`Ipvs::reconcile`](crate::Ipvs::reconcile) is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The service.
    pub service: Service,
    /// Its destinations, in the kernel's order.
    pub destinations: Vec<Destination>,
}
