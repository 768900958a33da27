//! Typed access to what a kernel refusal was about.

use std::net::SocketAddr;

use super::ServiceId;
use crate::error::KernelContext;

/// The object of a kernel refusal as typed values: the service and the destination that
/// [`KernelContext::object`] names in text (`tcp:10.0.0.1:80 -> 10.0.0.2:80`).
///
/// (`KernelContext` lives in [`crate::error`], below the model, so the typed view is this
/// trait, implemented here; it is in the crate root and in `lvs::model`.)
///
/// ```
/// use lvs::{KernelContext, Operation, RefusedObject, ServiceId};
/// let ctx = KernelContext::new(17, Operation::AddDestination, "tcp:10.0.0.1:80 -> 10.0.0.2:80");
/// let addr: std::net::SocketAddr = "10.0.0.1:80".parse()?;
/// assert_eq!(ctx.service(), Some(ServiceId::tcp(addr)));
/// assert_eq!(ctx.destination(), Some("10.0.0.2:80".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RefusedObject {
    /// The service the refused operation was about (`None` for table-wide operations and
    /// sync daemons).
    fn service(&self) -> Option<ServiceId>;
    /// The destination, for a refused destination operation.
    fn destination(&self) -> Option<SocketAddr>;
}

impl RefusedObject for KernelContext {
    fn service(&self) -> Option<ServiceId> {
        let svc = self.object.split(" -> ").next()?;
        svc.parse().ok()
    }

    fn destination(&self) -> Option<SocketAddr> {
        self.service()?;
        self.object.split_once(" -> ")?.1.parse().ok()
    }
}
