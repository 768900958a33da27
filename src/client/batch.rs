//! Batched writes: many table changes sent together, one result per change.
//!
//! [`Ipvs::apply`] validates every [`Op`] first (nothing is sent if one is invalid), then
//! hands them to the transport as one batch: the kernel backend packs many requests into
//! each `sendmsg`, asks for an acknowledgement of the last one only, and matches every
//! refusal to its request by sequence number, so a refusal in the middle of a batch is
//! attributed to exactly the operation that got it, and the operations after it are still
//! applied (the kernel processes every request of a datagram, in order).
//! [`Ipvs::apply_or_roll_back`] (in [`super::transaction`]) adds all-or-nothing semantics on
//! top.

use std::fmt;

use super::{classify, ErrCtx, Ipvs};
use crate::error::{Error, Operation, Result};
use crate::transport::{RequestKind, Transport};
use crate::wire::IpvsMessage;

/// The write vocabulary lives in [`crate::model`]; batches, plans and transactions carry it.
pub use crate::model::Op;

/// Name a transport error for this operation, as the single-operation calls do.
pub(crate) fn classify_op(op: &Op, e: Error) -> Error {
    let ctx = match op {
        Op::AddService(s) | Op::UpdateService(s) => ErrCtx::service(s),
        _ => ErrCtx::NONE,
    };
    classify(e, op.operation(), || op.object(), &ctx)
}

/// What a batch did: one result per operation, in order.
///
/// Its `Display` is a line an operator can log: `3 operations: 2 applied, 1 refused (service
/// already exists: add service tcp:10.0.0.1:80 (errno 17))`.
#[derive(Debug, Default)]
#[must_use = "a batch's refusals are in its outcome: check it (into_result, is_ok, failures)"]
pub struct BatchOutcome {
    /// `Ok` for each operation the kernel applied, the named error for each it refused.
    pub results: Vec<Result<()>>,
    /// The refused operations' indexes and descriptions (`Op`'s `Display`), for the errors.
    refused: Vec<(usize, String)>,
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

    /// The first refusal, as an error naming the operation, its object and its index in the
    /// batch; `Ok` if every operation was applied.
    pub fn into_result(self) -> Result<()> {
        self.into_errors().into_iter().next().map_or(Ok(()), Err)
    }

    /// Every refusal, each as an [`Error::Batch`] naming its operation and index.
    pub fn into_errors(self) -> Vec<Error> {
        let mut names = self.refused.into_iter().peekable();
        let mut out = Vec::new();
        for (index, r) in self.results.into_iter().enumerate() {
            if let Err(e) = r {
                while names.next_if(|(i, _)| *i < index).is_some() {}
                let op = names
                    .next_if(|(i, _)| *i == index)
                    .map_or_else(|| format!("operation {index}"), |(_, op)| op);
                out.push(Error::Batch {
                    index,
                    op,
                    source: Box::new(e),
                });
            }
        }
        out
    }
}

impl fmt::Display for BatchOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let refused = self.results.len() - self.applied();
        write!(
            f,
            "{} operations: {} applied, {refused} refused",
            self.results.len(),
            self.applied()
        )?;
        if let Some((_, e)) = self.failures().next() {
            write!(f, " (first: {e})")?;
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
        self.apply_unvalidated(ops)
    }

    /// [`apply`](Self::apply) without the validation: for writes built from what the
    /// kernel holds (a drain's weight-0 writes, a health checker's weights), which the
    /// builders' limits must not block (ipvsadm and the kernel take weights above
    /// [`Destination::MAX_WEIGHT`](crate::model::Destination::MAX_WEIGHT)).
    pub(crate) fn apply_unvalidated(&mut self, ops: &[Op]) -> Result<BatchOutcome> {
        let replies = if self.parallel {
            self.transport
                .request_batch_with(ops.len(), &|i| IpvsMessage::from(&ops[i]))
        } else {
            let messages: Vec<IpvsMessage> = ops.iter().map(IpvsMessage::from).collect();
            self.transport.request_batch(&messages)
        };
        outcome(ops, replies)
    }

    /// [`apply_unvalidated`](Self::apply_unvalidated) of one operation, as the
    /// single-operation calls send it (one request, its acknowledgement): a batch's framing
    /// and reads cost more than the request itself when there is one.
    pub(crate) fn apply_one_unvalidated(&mut self, op: &Op) -> Result<BatchOutcome> {
        let ops = std::slice::from_ref(op);
        let reply = match self
            .transport
            .request(&IpvsMessage::from(op), RequestKind::Do)
        {
            Err(e @ Error::Kernel(_)) => Err(e),
            Err(e) => return outcome(ops, Err(e)),
            Ok(r) => Ok(r),
        };
        outcome(ops, Ok(vec![reply]))
    }
}

/// Validate every operation of a batch; the error names the first invalid one's index.
pub(crate) fn validate_all(ops: &[Op]) -> Result<()> {
    for (index, op) in ops.iter().enumerate() {
        op.validate().map_err(|e| Error::Batch {
            index,
            op: op.to_string(),
            source: Box::new(e.into()),
        })?;
    }
    Ok(())
}

/// Validate a batch and build its request messages (the async client's batch path).
#[cfg(feature = "tokio")]
pub(crate) fn prepare(ops: &[Op]) -> Result<Vec<IpvsMessage>> {
    validate_all(ops)?;
    Ok(ops.iter().map(IpvsMessage::from).collect())
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
    let results: Vec<Result<()>> = ops
        .iter()
        .zip(replies)
        .map(|(op, r)| r.map(|_| ()).map_err(|e| classify_op(op, e)))
        .collect();
    let refused = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| (i, ops[i].to_string()))
        .collect();
    Ok(BatchOutcome { results, refused })
}
