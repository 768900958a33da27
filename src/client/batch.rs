//! Batched writes: many table changes sent together, one result per change.
//!
//! [`Ipvs::apply`] validates every [`Op`] first (nothing is sent if one is invalid), then
//! hands them to the transport as one batch: the kernel backend packs many requests into
//! each `sendmsg`, asks for an acknowledgement of the last one only, and matches every
//! refusal to its request by sequence number, so a refusal in the middle of a batch is
//! attributed to exactly the operation that got it, and the operations after it are still
//! applied (the kernel processes every request of a datagram, in order).
//! [`Ipvs::apply_or_roll_back`] adds all-or-nothing semantics on top: it snapshots the
//! table, applies, and on any refusal puts the table back as it was.

use std::fmt;
use std::net::SocketAddr;

use super::{classify, ErrCtx, Ipvs, ServiceEntry};
use crate::error::{Error, Operation, Result};
use crate::model::{Destination, Service, ServiceId, Timeouts};
use crate::transport::Transport;
use crate::wire::IpvsMessage;

/// One change to an IPVS table, as a batch or a reconcile plan carries it.
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
}

impl Op {
    /// Check the operation as the single-operation calls of [`Ipvs`] do before sending.
    pub fn validate(&self) -> Result<()> {
        match self {
            Op::AddService(s) | Op::UpdateService(s) => Ok(s.validate()?),
            Op::AddDestination(id, d) | Op::UpdateDestination(id, d) => Ok(d.validate_for(id)?),
            Op::DeleteService(_)
            | Op::DeleteDestination(..)
            | Op::SetTimeouts(_)
            | Op::Zero(_)
            | Op::Flush => Ok(()),
        }
    }

    /// The request message for this operation.
    pub fn message(&self) -> IpvsMessage {
        match self {
            Op::AddService(s) => IpvsMessage::new_service(s),
            Op::UpdateService(s) => IpvsMessage::set_service(s),
            Op::DeleteService(id) => IpvsMessage::del_service(id),
            Op::AddDestination(id, d) => IpvsMessage::new_dest(id, d),
            Op::UpdateDestination(id, d) => IpvsMessage::set_dest(id, d),
            Op::DeleteDestination(id, a) => IpvsMessage::del_dest(id, a),
            Op::SetTimeouts(t) => IpvsMessage::set_timeouts(t),
            Op::Zero(id) => IpvsMessage::zero(id.as_ref()),
            Op::Flush => IpvsMessage::flush(),
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
        }
    }

    /// The object the operation is about, as errors name it (`tcp:10.0.0.1:80`,
    /// `tcp:10.0.0.1:80 -> 10.0.0.2:80`; empty for table-wide operations).
    pub fn object(&self) -> String {
        match self {
            Op::AddService(s) | Op::UpdateService(s) => s.id.to_string(),
            Op::DeleteService(id) | Op::Zero(Some(id)) => id.to_string(),
            Op::AddDestination(id, d) | Op::UpdateDestination(id, d) => {
                format!("{id} -> {}", d.socket_addr())
            }
            Op::DeleteDestination(id, a) => format!("{id} -> {a}"),
            Op::SetTimeouts(_) | Op::Zero(None) | Op::Flush => String::new(),
        }
    }

    fn err_ctx(&self) -> ErrCtx {
        match self {
            Op::AddService(s) | Op::UpdateService(s) => ErrCtx::service(s),
            _ => ErrCtx::NONE,
        }
    }

    /// Name a transport error for this operation, as the single-operation calls do.
    pub(crate) fn classify(&self, e: Error) -> Error {
        classify(e, self.operation(), || self.object(), &self.err_ctx())
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
        }
    }
}

/// What a batch did: one result per operation, in order.
#[derive(Debug)]
pub struct BatchOutcome {
    /// `Ok` for each operation the kernel applied, the named error for each it refused.
    pub results: Vec<Result<()>>,
}

impl BatchOutcome {
    /// Whether every operation was applied.
    pub fn is_ok(&self) -> bool {
        self.results.iter().all(Result::is_ok)
    }

    /// How many operations were applied.
    pub fn applied(&self) -> usize {
        self.results.iter().filter(|r| r.is_ok()).count()
    }

    /// The refused operations: their index in the batch and the error.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &Error)> {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
    }

    /// The first refusal, as an error naming its index in the batch; `Ok` if every operation
    /// was applied.
    pub fn into_result(self) -> Result<()> {
        for (index, r) in self.results.into_iter().enumerate() {
            if let Err(e) = r {
                return Err(Error::Batch {
                    index,
                    source: Box::new(e),
                });
            }
        }
        Ok(())
    }
}

impl<T: Transport> Ipvs<T> {
    /// Apply many operations as one batch and report each one's result.
    ///
    /// Every operation is validated first: if one is invalid, nothing is sent and the
    /// error ([`Error::Batch`]) names its index. Then they are sent in order, pipelined by
    /// the transport; a kernel refusal does not stop the batch. The outer `Err` is for a
    /// failure of the transport itself (a timeout, a lost reply): then the table may hold
    /// part of the batch, and [`Ipvs::table`] tells what.
    ///
    /// ```
    /// # #[cfg(feature = "mock")] {
    /// use lvs::client::Op;
    /// use lvs::transport::MockKernel;
    /// use lvs::{Destination, Ipvs, Service};
    ///
    /// let mut ipvs = Ipvs::with_transport(MockKernel::new());
    /// let svc = Service::tcp("10.0.0.1:80".parse()?).build()?;
    /// let rs = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
    /// let ops = vec![
    ///     Op::AddService(svc.clone()),
    ///     Op::AddDestination(svc.id, rs.clone()),
    ///     Op::AddDestination(svc.id, rs), // refused: it exists
    /// ];
    /// let outcome = ipvs.apply(&ops)?;
    /// assert_eq!(outcome.applied(), 2);
    /// assert!(matches!(outcome.results[2], Err(lvs::Error::DestinationExists(_))));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The kernel transport builds and frames a large batch (of
    /// [`PIPELINE_MIN`](crate::transport::PIPELINE_MIN) operations or more) on a
    /// scoped thread, a datagram at a time, while this thread sends the datagrams before it
    /// ([`Transport::request_batch_with`]; [`set_parallel`](Ipvs::set_parallel) turns it
    /// off): the kernel's work and the encoding overlap.
    pub fn apply(&mut self, ops: &[Op]) -> Result<BatchOutcome> {
        validate_all(ops)?;
        let replies = if self.parallel {
            self.transport
                .request_batch_with(ops.len(), &|i| ops[i].message())
        } else {
            let messages: Vec<IpvsMessage> = ops.iter().map(Op::message).collect();
            self.transport.request_batch(&messages)
        };
        outcome(ops, replies)
    }

    /// Apply a batch all or nothing: if the kernel refuses any operation, the table (and
    /// the timeouts) are put back as they were before, and the error names the first
    /// refused operation by its index ([`Error::Batch`]).
    ///
    /// The table is read once before (one dump); rolling back is a [`reconcile`](Ipvs::reconcile)
    /// to that snapshot. Other writers changing the table at the same time are not
    /// protected against (IPVS has no transactions). If the roll back itself fails,
    /// [`Error::RollbackFailed`] says so and carries both errors.
    pub fn apply_or_roll_back(&mut self, ops: &[Op]) -> Result<usize> {
        validate_all(ops)?;
        let before: Vec<ServiceEntry> = self.table()?;
        let touches_timeouts = ops.iter().any(|o| matches!(o, Op::SetTimeouts(_)));
        let timeouts = if touches_timeouts {
            Some(self.timeouts()?)
        } else {
            None
        };
        let outcome = match self.apply(ops) {
            Ok(o) => o,
            Err(e) => return Err(self.roll_back(&before, timeouts, e)),
        };
        let applied = outcome.applied();
        match outcome.into_result() {
            Ok(()) => Ok(applied),
            Err(e) => Err(self.roll_back(&before, timeouts, e)),
        }
    }

    fn roll_back(
        &mut self,
        before: &[ServiceEntry],
        timeouts: Option<Timeouts>,
        cause: Error,
    ) -> Error {
        let mut restore = || -> Result<()> {
            if let Some(t) = timeouts {
                self.set_timeouts(&t)?;
            }
            let report = self.reconcile(before, &super::ReconcileOptions::exact())?;
            report.outcome.into_result()
        };
        rolled_back(cause, restore())
    }
}

/// Validate every operation of a batch; the error names the first invalid one's index.
pub(crate) fn validate_all(ops: &[Op]) -> Result<()> {
    for (index, op) in ops.iter().enumerate() {
        op.validate().map_err(|e| Error::Batch {
            index,
            source: Box::new(e),
        })?;
    }
    Ok(())
}

/// Validate a batch and build its request messages (the async client's batch path).
#[cfg(feature = "tokio")]
pub(crate) fn prepare(ops: &[Op]) -> Result<Vec<IpvsMessage>> {
    validate_all(ops)?;
    Ok(ops.iter().map(Op::message).collect())
}

/// A batch's outcome from the transport's answer: one named result per operation.
pub(crate) fn outcome(
    ops: &[Op],
    replies: Result<Vec<Result<Vec<IpvsMessage>>>>,
) -> Result<BatchOutcome> {
    let replies = replies.map_err(|e| classify(e, Operation::Other, String::new, &ErrCtx::NONE))?;
    if replies.len() != ops.len() {
        return Err(Error::Protocol {
            operation: Operation::Other,
            reason: format!(
                "{} results for a batch of {} requests",
                replies.len(),
                ops.len()
            ),
        });
    }
    let results = ops
        .iter()
        .zip(replies)
        .map(|(op, r)| r.map(|_| ()).map_err(|e| op.classify(e)))
        .collect();
    Ok(BatchOutcome { results })
}

/// The error of a rolled-back batch: its cause, or both errors if the roll back failed.
pub(crate) fn rolled_back(cause: Error, restore: Result<()>) -> Error {
    match restore {
        Ok(()) => cause,
        Err(rollback) => Error::RollbackFailed {
            cause: Box::new(cause),
            rollback: Box::new(rollback),
        },
    }
}
