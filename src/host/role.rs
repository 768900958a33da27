//! A director's role switch in a failover pair (what keepalived's `notify_master` and
//! `notify_backup` scripts do): take over — bind the VIP, announce it, run the master sync
//! daemon — or stand by — release the VIP, run the backup sync daemon. Connections the
//! master's sync daemon carried to the backup keep flowing through the new master.

use std::net::IpAddr;

use super::journal::{same_daemon, undo_daemon};
use super::{Announce, Announced, Entry, Host, VipDevice};
use crate::client::Ipvs;
use crate::error::{Error, Result};
use crate::model::{Daemon, DaemonState};
use crate::transport::Transport;

/// One director's side of a failover pair: its VIP and the sync daemons' settings.
///
/// ```no_run
/// use lvs::host::{Failover, Host, VipDevice};
/// let pair = Failover::new("192.168.1.3".parse()?, VipDevice::parse("eth0:0")?, "eth0").sync_id(7);
/// let mut host = Host::new()?;
/// let mut ipvs = lvs::Ipvs::new()?;
/// let done = host.take_over(&mut ipvs, &pair)?; // notify_master
/// println!("announced: {:?}", done.announced);
/// host.stand_by(&mut ipvs, &pair)?; // notify_backup
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failover {
    /// The virtual address the master holds.
    pub vip: IpAddr,
    /// Where the master binds it; announced on this device (an Ethernet one).
    pub device: VipDevice,
    /// The sync daemons' interface (`--mcast-interface`).
    pub sync_interface: String,
    /// The sync daemons' id (`--syncid`), 0..=255.
    pub sync_id: u32,
    /// How the VIP is announced on taking over.
    pub announce: Announce,
}

impl Failover {
    /// The pair's VIP on `device`, the sync daemons on `sync_interface` with sync id 0, the
    /// default [`Announce`].
    pub fn new(vip: IpAddr, device: VipDevice, sync_interface: &str) -> Failover {
        Failover {
            vip,
            device,
            sync_interface: sync_interface.to_owned(),
            sync_id: 0,
            announce: Announce::default(),
        }
    }

    /// The sync daemons' id.
    pub fn sync_id(mut self, id: u32) -> Failover {
        self.sync_id = id;
        self
    }

    /// How the VIP is announced.
    pub fn announce(mut self, a: Announce) -> Failover {
        self.announce = a;
        self
    }

    /// The sync daemon of this role, validated.
    pub fn daemon(&self, state: DaemonState) -> Result<Daemon> {
        Ok(Daemon::builder(state, &self.sync_interface)
            .sync_id(self.sync_id)
            .build()?)
    }
}

/// What a role switch did; nothing at all when the director was in that role already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Switched {
    /// Whether the VIP was bound (take over) or released (stand by) now.
    pub vip_changed: bool,
    /// The announcement sent, when taking over changed anything.
    pub announced: Option<Announced>,
    /// The sync daemons stopped.
    pub daemons_stopped: Vec<Daemon>,
    /// The sync daemon started.
    pub daemon_started: Option<Daemon>,
}

impl Switched {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.vip_changed || !self.daemons_stopped.is_empty() || self.daemon_started.is_some()
    }
}

impl Host {
    /// Become the master of the pair (keepalived's `notify_master`): bind the VIP
    /// ([`bind_vip`](Self::bind_vip)), stop any backup sync daemon, run the master one, then
    /// announce the VIP on its device ([`announce`](Self::announce)). Idempotent: a director
    /// that is master already is left alone and nothing is announced again. Every change is
    /// journalled when a [`Journal`](super::Journal) is attached (a sync daemon started, or
    /// stopped, as [`Entry::DaemonStarted`] / [`Entry::DaemonStopped`]; undoing a record of
    /// the opposite switch instead of adding one, so the journal stays small), so that
    /// undoing the journal restores the host exactly. A VIP device without an Ethernet
    /// address fails the announcement ([`HostError::NoLinkAddress`](crate::HostError))
    /// after the rest is done.
    pub fn take_over<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        pair: &Failover,
    ) -> Result<Switched> {
        let master = pair.daemon(DaemonState::Master)?;
        let mut done = Switched::default();
        if self.find_address(pair.vip)?.is_none() {
            self.bind_vip(pair.vip, &pair.device)?;
            done.vip_changed = true;
        }
        self.switch_daemons(ipvs, &master, &mut done)?;
        if done.changed() {
            done.announced = Some(self.announce(pair.vip, pair.device.name(), &pair.announce)?);
        }
        Ok(done)
    }

    /// Become the backup of the pair (keepalived's `notify_backup`, `notify_fault`):
    /// release the VIP ([`release_vip`](Self::release_vip)), stop any master sync daemon,
    /// run the backup one, so that the master's connections keep arriving here. Idempotent
    /// and journalled as [`take_over`](Self::take_over) is.
    pub fn stand_by<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        pair: &Failover,
    ) -> Result<Switched> {
        let backup = pair.daemon(DaemonState::Backup)?;
        let mut done = Switched {
            vip_changed: self.release_vip(pair.vip)?,
            ..Switched::default()
        };
        self.switch_daemons(ipvs, &backup, &mut done)?;
        Ok(done)
    }

    /// Stop every sync daemon but `want`, and start `want` unless it runs.
    fn switch_daemons<T: Transport>(
        &mut self,
        ipvs: &mut Ipvs<T>,
        want: &Daemon,
        done: &mut Switched,
    ) -> Result<()> {
        let running = ipvs.daemons()?;
        let mut have = false;
        for r in running {
            if r.state == want.state && same_daemon(&r, want) {
                have = true;
                continue;
            }
            self.stop_daemon(ipvs, &r)?;
            done.daemons_stopped.push(r);
        }
        if !have {
            self.start_daemon(ipvs, want)?;
            done.daemon_started = Some(want.clone());
        }
        Ok(())
    }

    fn stop_daemon<T: Transport>(&mut self, ipvs: &mut Ipvs<T>, d: &Daemon) -> Result<()> {
        let ours = self.journal.as_ref().and_then(|j| {
            j.newest_entry(|e| matches!(e, Entry::DaemonStarted(x) if x.state == d.state))
        });
        match ours {
            Some((seq, entry)) => {
                // The daemon as recorded: a stopped one comes back with all its options.
                let recorded = match &entry {
                    Entry::DaemonStarted(x) | Entry::DaemonStopped(x) => x.clone(),
                    _ => d.clone(),
                };
                undo_daemon(ipvs, &entry, &recorded)?;
                self.journal_mut()?.mark_undone(seq)
            }
            None => self.journaled_ipvs(Entry::DaemonStopped(d.clone()), || {
                match ipvs.stop_daemon(d.state) {
                    Err(Error::NoSuchDaemon(_)) => Ok(()),
                    other => other,
                }
            }),
        }
    }

    fn start_daemon<T: Transport>(&mut self, ipvs: &mut Ipvs<T>, d: &Daemon) -> Result<()> {
        let ours = self.journal.as_ref().and_then(|j| {
            j.newest_entry(|e| matches!(e, Entry::DaemonStopped(x) if same_daemon(x, d)))
        });
        match ours {
            Some((seq, entry)) => {
                // The daemon as recorded: a stopped one comes back with all its options.
                let recorded = match &entry {
                    Entry::DaemonStarted(x) | Entry::DaemonStopped(x) => x.clone(),
                    _ => d.clone(),
                };
                undo_daemon(ipvs, &entry, &recorded)?;
                self.journal_mut()?.mark_undone(seq)
            }
            None => self.journaled_ipvs(Entry::DaemonStarted(d.clone()), || ipvs.start_daemon(d)),
        }
    }

    fn journal_mut(&mut self) -> Result<&mut super::Journal> {
        self.journal
            .as_mut()
            .ok_or_else(|| Error::Io(std::io::Error::other("journal detached")))
    }

    /// Make an IPVS change recorded in the journal first (when one is attached), cancelled
    /// there if it fails.
    fn journaled_ipvs(&mut self, entry: Entry, op: impl FnOnce() -> Result<()>) -> Result<()> {
        let seq = match self.journal.as_mut() {
            Some(j) => Some(j.record(&entry)?),
            None => None,
        };
        let r = op();
        if let (Err(_), Some(seq), Some(j)) = (&r, seq, self.journal.as_mut()) {
            let _ = j.cancel(seq);
        }
        r
    }
}
