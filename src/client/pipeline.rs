//! The pipelined table read behind [`Ipvs::table_map`](super::Ipvs::table_map): the service
//! dump is read on the calling thread, and from the 64th service on, a second thread reads
//! destinations on the sibling transport while the service dump goes on. When the service
//! dump ends, the calling thread reads destinations too. Each service's destinations are
//! read once, `f` runs on the thread that read them, and the results come back in the
//! kernel's order.
//!
//! The kernel serialises the dumps themselves (generic netlink's lock, then IPVS's mutex), so
//! the gain is in what user space does meanwhile: decoding the services, decoding each
//! destination dump and running `f` all overlap a dump the kernel is making for the other
//! thread, and the destination dumps no longer wait for the whole service dump.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::call::ServiceDump;
use super::ServiceEntry;
use super::{map_entries, PARALLEL_TABLE_MIN};
use crate::error::{Error, Operation, Result};
use crate::model::Service;
use crate::transport::Transport;

/// How many services a reader takes from the feed at a time. Small enough that the two
/// readers finish together, large enough that the lock is taken a few hundred times for
/// 10,000 services.
const CHUNK: usize = 16;

/// Services read so far, waiting for their destinations to be read.
#[derive(Default)]
struct Feed {
    state: Mutex<FeedState>,
    ready: Condvar,
}

#[derive(Default)]
struct FeedState {
    /// Chunks of services, each with the kernel-order index of its first service.
    queue: VecDeque<(usize, Vec<Service>)>,
    /// The service dump has ended: no more chunks will come.
    ended: bool,
    /// A reader failed, or the service dump did: everyone stops.
    stopped: bool,
}

impl Feed {
    fn lock(&self) -> MutexGuard<'_, FeedState> {
        // A reader that panicked holds no invariant the others depend on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, first: usize, services: Vec<Service>) {
        self.lock().queue.push_back((first, services));
        self.ready.notify_one();
    }

    fn end(&self) {
        self.lock().ended = true;
        self.ready.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.ready.notify_all();
    }

    fn stopped(&self) -> bool {
        self.lock().stopped
    }

    /// The next chunk; `None` once the dump has ended and the queue is empty, or after a
    /// stop.
    fn next(&self) -> Option<(usize, Vec<Service>)> {
        let mut st = self.lock();
        loop {
            if st.stopped {
                return None;
            }
            if let Some(chunk) = st.queue.pop_front() {
                return Some(chunk);
            }
            if st.ended {
                return None;
            }
            st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Stops the feed if dropped while its thread panics: a panic on either reader must not
/// leave the other one waiting for services forever, or reading the whole table alone
/// before the panic reaches the caller.
struct StopOnPanic<'a>(&'a Feed);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

/// Read chunks from `feed` until it ends, each with its destinations, through `f`; a
/// failure stops the feed for everyone.
fn read_feed<T: Transport + ?Sized, R>(
    t: &mut T,
    feed: &Feed,
    f: &impl Fn(ServiceEntry) -> R,
    stats: bool,
) -> Result<Vec<(usize, Vec<R>)>> {
    let _guard = StopOnPanic(feed);
    let mut out = Vec::new();
    while let Some((first, services)) = feed.next() {
        match map_entries(t, services, f, stats) {
            Ok(rs) => out.push((first, rs)),
            Err(e) => {
                feed.stop();
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Why a service dump was cut short: the second reader failed (its error is the one
/// returned).
fn cut_short() -> Error {
    Error::Protocol {
        operation: Operation::GetService,
        reason: "the table read was stopped".to_owned(),
    }
}

/// The whole table through `f` (see the module doc), with `other` for the second reader,
/// the stats decoded if `stats`. `Err((e, other_failed))`: `other_failed` says that `other`
/// may hold unread replies.
pub(super) fn table_map<T, R, F>(
    transport: &mut T,
    other: &mut dyn Transport,
    f: &F,
    stats: bool,
) -> std::result::Result<Vec<R>, (Error, bool)>
where
    T: Transport + ?Sized,
    R: Send,
    F: Fn(ServiceEntry) -> R + Sync,
{
    let feed = Feed::default();
    std::thread::scope(|s| {
        let mut other = Some(other);
        let mut second = None;
        let mut dump = ServiceDump::new(stats);
        let mut count = 0usize;
        // Services not yet handed to the feed (all of them while there is no second
        // reader) and the kernel-order index of the first one.
        let mut pending: Vec<Service> = Vec::new();
        let mut first = 0usize;
        // A panic in the transport's dump must not leave the second reader waiting.
        let _guard = StopOnPanic(&feed);
        let dumped = transport.dump_each(&ServiceDump::message(), &mut |_, attrs| {
            let Some(service) = dump.push_new(attrs)? else {
                return Ok(());
            };
            pending.push(service);
            count += 1;
            if second.is_none() {
                match other.take() {
                    Some(t) if count >= PARALLEL_TABLE_MIN => {
                        let feed = &feed;
                        second = Some(s.spawn(move || read_feed(t, feed, f, stats)));
                    }
                    t => {
                        other = t;
                        return Ok(());
                    }
                }
            }
            if pending.len() >= CHUNK {
                if feed.stopped() {
                    return Err(cut_short());
                }
                feed.push(first, std::mem::take(&mut pending));
                first = count;
            }
            Ok(())
        });
        let dumped = ServiceDump::finish_stream(dumped);
        let Some(second) = second else {
            // A small table (or a failed dump before the second reader was needed): the
            // calling thread reads every service's destinations.
            dumped.map_err(|e| (e, false))?;
            return map_entries(transport, pending, f, stats).map_err(|e| (e, false));
        };
        let mine = match dumped {
            Ok(()) => {
                if !pending.is_empty() {
                    feed.push(first, pending);
                }
                feed.end();
                read_feed(transport, &feed, f, stats)
            }
            Err(e) => {
                feed.stop();
                Err(e)
            }
        };
        let theirs = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // The second reader's error first: a dump cut short because of it says nothing.
        let theirs = theirs.map_err(|e| (e, true))?;
        let mine = mine.map_err(|e| (e, false))?;
        let mut parts = theirs;
        parts.extend(mine);
        parts.sort_unstable_by_key(|&(first, _)| first);
        Ok(parts.into_iter().flat_map(|(_, rs)| rs).collect())
    })
}
