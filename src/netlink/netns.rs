//! Entering a network namespace without moving the calling thread.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::error::{Error, Result};

/// Run `f` on a short-lived thread that has entered the network namespace at `path`, so the
/// calling thread never changes namespace. Sockets and `/proc/sys/net` files opened there
/// belong to that namespace for their whole life.
pub(crate) fn in_netns<T: Send>(path: &Path, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let ns = File::open(path)?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| Error::Io(io::Error::from(e)))?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Io(io::Error::other("netns thread panicked"))))
    })
}
