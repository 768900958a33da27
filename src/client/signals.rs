//! [`DeferredSignals`]: hold off the signals that end a program while a change must finish or
//! be rolled back.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::{Error, Result};

/// While alive, `SIGINT`, `SIGTERM`, `SIGHUP` and `SIGQUIT` do not end the process: they are
/// blocked, and [`pending`](Self::pending) says whether one came, so a long change (a
/// [`Transaction`](super::Transaction) of many batches) can stop between two batches and
/// roll back before the program exits, instead of dying half-applied.
///
/// Create it on the main thread before starting any other thread: the signal mask is per
/// thread, and threads inherit the mask of the thread that starts them. Dropping it restores
/// the mask; a signal still pending then is delivered (and ends the program as usual).
///
/// ```no_run
/// let mut signals = lvs::client::DeferredSignals::block()?;
/// // ... apply a batch ...
/// if let Some(sig) = signals.pending()? {
///     eprintln!("interrupted by signal {sig}: rolling back");
/// }
/// # Ok::<(), lvs::Error>(())
/// ```
#[derive(Debug)]
pub struct DeferredSignals {
    fd: SignalFd,
    old: SigSet,
}

impl DeferredSignals {
    /// The signals held off.
    pub const SIGNALS: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    /// Block the signals on this thread and open a descriptor that reports them.
    pub fn block() -> Result<DeferredSignals> {
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            set.add(s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .map_err(io)?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(io)?;
        Ok(DeferredSignals { fd, old })
    }

    /// The number of a signal that came since the last call (and takes it: it will not end
    /// the program when the mask is restored), or `None`; never waits.
    pub fn pending(&mut self) -> Result<Option<i32>> {
        match self.fd.read_signal() {
            Ok(Some(info)) => Ok(Some(info.ssi_signo as i32)),
            Ok(None) => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

impl DeferredSignals {
    /// Take every signal that came and was not taken yet, so that none ends the program when
    /// the mask is restored (once a change has been rolled back or committed, a second
    /// Ctrl-C has nothing left to stop); the numbers taken, oldest first.
    pub fn take_all(&mut self) -> Result<Vec<i32>> {
        let mut taken = Vec::new();
        while let Some(sig) = self.pending()? {
            taken.push(sig);
        }
        Ok(taken)
    }
}

impl Drop for DeferredSignals {
    fn drop(&mut self) {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

fn io(e: nix::errno::Errno) -> Error {
    Error::Io(std::io::Error::from_raw_os_error(e as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sent_while_deferred_is_reported_and_taken() {
        // On a thread of its own, so the test harness's other threads keep their mask.
        std::thread::spawn(|| {
            let mut signals = DeferredSignals::block().unwrap();
            assert_eq!(signals.pending().unwrap(), None);
            // raise() sends to the calling thread.
            nix::sys::signal::raise(Signal::SIGTERM).unwrap();
            assert_eq!(signals.pending().unwrap(), Some(libc::SIGTERM));
            assert_eq!(signals.pending().unwrap(), None);
            nix::sys::signal::raise(Signal::SIGINT).unwrap();
            nix::sys::signal::raise(Signal::SIGHUP).unwrap();
            let mut taken = signals.take_all().unwrap();
            taken.sort_unstable();
            assert_eq!(taken, [libc::SIGHUP, libc::SIGINT]);
            // Restoring the mask now delivers nothing (the test thread would die).
            drop(signals);
        })
        .join()
        .unwrap();
    }
}
