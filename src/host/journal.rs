//! A durable, locked, trusted journal of host changes, for code that runs as root and must
//! be able to undo exactly what it did, after a crash too.
//!
//! - **One writer.** [`Journal::open`] takes an exclusive `flock` on the state directory,
//!   held until the journal is dropped; a second process waits for it up to a deadline, then
//!   fails with [`HostError::JournalLocked`].
//! - **Trusts nothing on disk.** The state directory is created `0700` and the journal file
//!   `0600`, whatever the umask; both are opened without following a symlink (`O_NOFOLLOW`)
//!   and must belong to the caller's effective user and not be writable by group or others
//!   ([`HostError::JournalUntrusted`] otherwise).
//! - **Write-ahead.** A change is appended, `fsync`ed, *before* it is made, with the value
//!   it replaces ([`Host::attach_journal`](super::Host::attach_journal) does it for every
//!   change of a [`Host`](super::Host)); a failed change is then marked cancelled, and each
//!   undone change marked undone at once. After a crash or `kill -9` at any point the
//!   journal holds every change that may have been made, and undoing is idempotent (an
//!   address already gone, a sysctl already back, a route already restored: nothing to do),
//!   so [`Journal::undo`] restores the host exactly.
//! - **Only records it could have written.** Each line carries a format version and a
//!   CRC-32 of its content; a change must be one `Host` makes, and a sysctl one of the keys
//!   it changes ([`sysctl_allowed`]), with a numeric value. A complete line that fails any
//!   of this makes the whole journal [`HostError::JournalCorrupt`]: nothing of it is
//!   interpreted. Only an incomplete last line (no newline: a write cut short by a crash,
//!   whose change was therefore never made) is dropped.
//!
//! The line format: `lvs-journal 1 CRC SEQ KIND ARGS`, where `CRC` is the CRC-32 (IEEE) of
//! `SEQ KIND ARGS` in 8 hex digits and `KIND ARGS` is `change LINE` (a [`Change`] in its text
//! form), `service ID` (an IPVS service added), `cancel SEQ` or `undone SEQ`.
//!
//! ```no_run
//! use std::time::Duration;
//! use lvs::host::{Host, Journal, VipDevice};
//! let journal = Journal::open("/run/my-lb", "dr-realserver", Duration::from_secs(10))?;
//! if !journal.is_empty() {
//!     return Err("a previous run left changes: undo them first".into());
//! }
//! let mut host = Host::new()?;
//! host.attach_journal(journal);
//! host.bind_vip("192.168.1.3".parse()?, &VipDevice::Loopback)?; // recorded before it is made
//! host.hide_arp("lo")?;
//! // ... later, maybe in another process:
//! let mut journal = Journal::open("/run/my-lb", "dr-realserver", Duration::from_secs(10))?;
//! let report = journal.undo(&mut Host::new()?, None::<&mut lvs::Ipvs>)?;
//! println!("{} changes undone", report.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::{fchmod, fstat, Mode, SFlag};

use super::{Change, Host, IpvsSysctl};
use crate::client::Ipvs;
use crate::error::{Error, HostError, Result};
use crate::model::{Daemon, ServiceId};
use crate::transport::Transport;

/// The format version written at the start of each line.
const MAGIC: &str = "lvs-journal 1";
/// The largest journal read (a real one is a few hundred bytes).
const MAX_BYTES: u64 = 1 << 20;

/// One thing the journal records as done, and can undo.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entry {
    /// A host change (undo: [`Host::undo`](super::Host::undo)).
    Host(Change),
    /// An IPVS service added (undo: delete it, with its destinations).
    Service(ServiceId),
    /// A connection sync daemon started (undo: stop it).
    DaemonStarted(Daemon),
    /// A connection sync daemon stopped (undo: start it again, as it was).
    DaemonStopped(Daemon),
}

/// A daemon's journal text: `STATE IFACE SYNCID [maxlen N] [group ADDR] [port N] [ttl N]`.
fn daemon_text(d: &Daemon) -> String {
    let mut out = format!("{} {} {}", d.state, d.interface, d.sync_id);
    if let Some(n) = d.max_len {
        out.push_str(&format!(" maxlen {n}"));
    }
    if let Some(g) = d.group {
        out.push_str(&format!(" group {g}"));
    }
    if let Some(p) = d.port {
        out.push_str(&format!(" port {p}"));
    }
    if let Some(t) = d.ttl {
        out.push_str(&format!(" ttl {t}"));
    }
    out
}

/// The daemon of [`daemon_text`]'s form, validated.
fn parse_daemon(s: &str) -> Option<Daemon> {
    let w: Vec<&str> = s.split(' ').collect();
    let [state, iface, id, rest @ ..] = w.as_slice() else {
        return None;
    };
    let mut b = Daemon::builder(state.parse().ok()?, iface).sync_id(id.parse().ok()?);
    let mut rest = rest;
    while let [key, value, tail @ ..] = rest {
        b = match *key {
            "maxlen" => b.max_len(value.parse().ok()?),
            "group" => b.group(value.parse().ok()?),
            "port" => b.port(value.parse().ok()?),
            "ttl" => b.ttl(value.parse().ok()?),
            _ => return None,
        };
        rest = tail;
    }
    if !rest.is_empty() {
        return None;
    }
    b.build().ok()
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Host(c) => write!(f, "{c}"),
            Entry::Service(id) => write!(f, "ipvs-service {id}"),
            Entry::DaemonStarted(d) => write!(f, "sync-daemon-started {}", daemon_text(d)),
            Entry::DaemonStopped(d) => write!(f, "sync-daemon-stopped {}", daemon_text(d)),
        }
    }
}

/// What [`Journal::undo`] did: the entries undone, newest first.
pub type UndoReport = Vec<Entry>;

/// Whether `Host` changes this sysctl (and so whether a journal may name it): forwarding,
/// the ARP and reverse-path settings of a device, `all` or `default`, and the IPVS sysctls
/// of [`IpvsSysctl`] (`net/ipv4/vs/NAME`, those names only).
pub fn sysctl_allowed(key: &str) -> bool {
    match key.split('/').collect::<Vec<_>>().as_slice() {
        ["net", "ipv4", "ip_forward"] | ["net", "ipv6", "conf", "all", "forwarding"] => true,
        ["net", "ipv4", "vs", name] => name.parse::<IpvsSysctl>().is_ok(),
        ["net", "ipv4", "conf", dev, "arp_ignore" | "arp_announce" | "rp_filter"] => {
            *dev != "." && *dev != ".." && crate::model::check_name("interface", dev, 15).is_ok()
        }
        _ => false,
    }
}

/// Whether `value` is a value a journalled sysctl can hold: a decimal integer.
pub(crate) fn sysctl_value_ok(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    !digits.is_empty() && digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `Host` could have written `value` to `key`: an integer and, for an IPVS sysctl,
/// one [`IpvsSysctl::check`] accepts (the value it replaces may be anything the kernel
/// held).
fn sysctl_written_ok(key: &str, value: &str) -> bool {
    sysctl_value_ok(value)
        && match IpvsSysctl::from_key(key) {
            Some(s) => value.parse().is_ok_and(|v| s.check(v).is_ok()),
            None => true,
        }
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Record {
    /// A change about to be made.
    Do(Entry),
    /// The change of this sequence number failed: it was not made.
    Cancel(u64),
    /// The change of this sequence number was undone.
    Undone(u64),
}

/// A locked journal in a trusted state directory (see the module documentation).
#[derive(Debug)]
pub struct Journal {
    dir_path: PathBuf,
    path: PathBuf,
    name: String,
    /// The state directory, open and locked for as long as the journal lives.
    dir: Flock<File>,
    /// The journal file, once it exists.
    file: Option<File>,
    /// Outstanding entries (done, not cancelled nor undone), by sequence number.
    entries: Vec<(u64, Entry)>,
    next_seq: u64,
}

fn io(action: String, source: std::io::Error) -> Error {
    HostError::Io { action, source }.into()
}

fn untrusted(path: &Path, reason: impl Into<String>) -> Error {
    HostError::JournalUntrusted {
        path: path.to_owned(),
        reason: reason.into(),
    }
    .into()
}

/// The owner and mode checks, on an open descriptor.
fn check_owner_and_mode(fd: impl AsFd, path: &Path, want: SFlag) -> Result<()> {
    let st = fstat(fd).map_err(|e| io(format!("stat {}", path.display()), e.into()))?;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if kind != want {
        return Err(untrusted(
            path,
            if want == SFlag::S_IFDIR {
                "not a directory"
            } else {
                "not a regular file"
            },
        ));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if st.st_uid != euid {
        return Err(untrusted(
            path,
            format!(
                "owned by uid {}, not by this process's uid {euid}",
                st.st_uid
            ),
        ));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(untrusted(
            path,
            format!(
                "mode {:o} lets group or others write it",
                st.st_mode & 0o7777
            ),
        ));
    }
    Ok(())
}

/// `open` without following a symlink in the last component.
fn open_nofollow(at: Option<&File>, path: &Path, flags: OFlag, mode: Mode) -> nix::Result<File> {
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match at {
        Some(dir) => nix::fcntl::openat(dir, path, flags, mode)?,
        None => nix::fcntl::open(path, flags, mode)?,
    };
    Ok(File::from(fd))
}

/// CRC-32 (IEEE 802.3, reflected), bit by bit: journals are a few lines.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

impl Journal {
    /// Open (creating it if needed) the state directory `dir` and lock it, waiting for
    /// another holder at most `wait`, then read the journal `NAME.journal` in it, if any.
    ///
    /// `name` is a file name (letters, digits, `-`, `_`, `.`; not starting with `.`).
    pub fn open(dir: impl AsRef<Path>, name: &str, wait: Duration) -> Result<Journal> {
        let dir_path = dir.as_ref().to_owned();
        let name_ok = !name.is_empty()
            && name.len() <= 200
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return Err(crate::InvalidError::parse(name, "a journal name ([A-Za-z0-9._-])").into());
        }
        let dir = Journal::open_dir(&dir_path)?;
        let dir = Journal::lock(dir, &dir_path, wait)?;
        let path = dir_path.join(format!("{name}.journal"));
        let mut journal = Journal {
            dir_path,
            path,
            name: name.to_owned(),
            dir,
            file: None,
            entries: Vec::new(),
            next_seq: 1,
        };
        journal.load()?;
        Ok(journal)
    }

    fn open_dir(path: &Path) -> Result<File> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        // Missing parents are made too (0700, like the directory itself).
        let created = !path.exists()
            && match std::fs::DirBuilder::new()
                .recursive(true)
                .mode_0700()
                .create(path)
            {
                Ok(()) => true,
                Err(e) => return Err(io(format!("create {}", path.display()), e)),
            };
        let dir = open_nofollow(None, path, flags, Mode::empty()).map_err(|e| match e {
            nix::Error::ELOOP | nix::Error::ENOTDIR => {
                untrusted(path, "a symlink or not a directory")
            }
            e => io(format!("open {}", path.display()), e.into()),
        })?;
        if created {
            // The umask may have taken bits away: set exactly 0700.
            fchmod(&dir, Mode::from_bits_truncate(0o700))
                .map_err(|e| io(format!("chmod {}", path.display()), e.into()))?;
        }
        check_owner_and_mode(&dir, path, SFlag::S_IFDIR)?;
        Ok(dir)
    }

    fn lock(dir: File, path: &Path, wait: Duration) -> Result<Flock<File>> {
        let start = Instant::now();
        let mut dir = dir;
        loop {
            match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
                Ok(locked) => return Ok(locked),
                Err((d, nix::Error::EWOULDBLOCK)) => {
                    if start.elapsed() >= wait {
                        return Err(HostError::JournalLocked {
                            path: path.to_owned(),
                            waited: start.elapsed(),
                        }
                        .into());
                    }
                    dir = d;
                    let left = wait.saturating_sub(start.elapsed());
                    std::thread::sleep(left.min(Duration::from_millis(50)));
                }
                Err((_, e)) => return Err(io(format!("lock {}", path.display()), e.into())),
            }
        }
    }

    fn corrupt(&self, line: usize, reason: impl Into<String>) -> Error {
        HostError::JournalCorrupt {
            path: self.path.clone(),
            line,
            reason: reason.into(),
        }
        .into()
    }

    fn load(&mut self) -> Result<()> {
        let file_name = format!("{}.journal", self.name);
        let file = match open_nofollow(
            Some(&*self.dir),
            Path::new(&file_name),
            OFlag::O_RDWR,
            Mode::empty(),
        ) {
            Ok(f) => f,
            Err(nix::Error::ENOENT) => return Ok(()),
            Err(nix::Error::ELOOP) => return Err(untrusted(&self.path, "a symlink")),
            Err(e) => return Err(io(format!("open {}", self.path.display()), e.into())),
        };
        check_owner_and_mode(&file, &self.path, SFlag::S_IFREG)?;
        let mut text = Vec::new();
        (&file)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|e| io(format!("read {}", self.path.display()), e))?;
        if text.len() as u64 > MAX_BYTES {
            return Err(self.corrupt(0, "larger than any journal this crate writes"));
        }
        // An incomplete last line is a write cut short: its change was never made.
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut records = Vec::new();
        let body = &text[..complete];
        let body = body.strip_suffix(b"\n").unwrap_or(body);
        if !body.is_empty() {
            for (n, line) in body.split(|&b| b == b'\n').enumerate() {
                let line =
                    std::str::from_utf8(line).map_err(|_| self.corrupt(n + 1, "not UTF-8"))?;
                records.push(self.parse_line(n + 1, line)?);
            }
        }
        let mut entries: Vec<(u64, Entry)> = Vec::new();
        let mut last = 0;
        for (n, (seq, r)) in records.into_iter().enumerate() {
            if seq <= last {
                return Err(self.corrupt(n + 1, "sequence numbers must increase"));
            }
            last = seq;
            match r {
                Record::Do(e) => entries.push((seq, e)),
                Record::Cancel(s) | Record::Undone(s) => {
                    let Some(i) = entries.iter().position(|(x, _)| *x == s) else {
                        return Err(self.corrupt(n + 1, format!("no outstanding change {s}")));
                    };
                    entries.remove(i);
                }
            }
        }
        if complete < text.len() {
            // Drop the torn tail now (the lock is held), so that appends start on a line.
            file.set_len(complete as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| io(format!("truncate {}", self.path.display()), e))?;
        }
        self.entries = entries;
        self.next_seq = last + 1;
        self.file = Some(file);
        Ok(())
    }

    fn parse_line(&self, n: usize, line: &str) -> Result<(u64, Record)> {
        let rest = line
            .strip_prefix(MAGIC)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| self.corrupt(n, "not a journal line of format version 1"))?;
        let (crc, body) = rest
            .split_once(' ')
            .ok_or_else(|| self.corrupt(n, "no checksum"))?;
        let crc = u32::from_str_radix(crc, 16)
            .ok()
            .filter(|_| crc.len() == 8)
            .ok_or_else(|| self.corrupt(n, "bad checksum field"))?;
        if crc32(body.as_bytes()) != crc {
            return Err(self.corrupt(n, "checksum mismatch"));
        }
        let mut words = body.splitn(3, ' ');
        let (Some(seq), Some(kind), Some(args)) = (words.next(), words.next(), words.next()) else {
            return Err(self.corrupt(n, "too few fields"));
        };
        let seq: u64 = seq
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| self.corrupt(n, "bad sequence number"))?;
        let target = || {
            args.parse::<u64>()
                .map_err(|_| self.corrupt(n, "bad sequence number"))
        };
        let record = match kind {
            "change" => {
                let change: Change = args.parse().map_err(|e| self.corrupt(n, format!("{e}")))?;
                if let Change::Sysctl {
                    key,
                    previous,
                    value,
                } = &change
                {
                    if !sysctl_allowed(key) {
                        return Err(self.corrupt(n, format!("sysctl {key} is not one lvs changes")));
                    }
                    if !sysctl_value_ok(previous) || !sysctl_written_ok(key, value) {
                        return Err(self.corrupt(
                            n,
                            "sysctl values must be integers (the value written in its range)",
                        ));
                    }
                }
                Record::Do(Entry::Host(change))
            }
            "service" => Record::Do(Entry::Service(
                args.parse().map_err(|e| self.corrupt(n, format!("{e}")))?,
            )),
            "daemon-started" | "daemon-stopped" => {
                let d = parse_daemon(args)
                    .ok_or_else(|| self.corrupt(n, format!("bad sync daemon {args:?}")))?;
                Record::Do(if kind == "daemon-started" {
                    Entry::DaemonStarted(d)
                } else {
                    Entry::DaemonStopped(d)
                })
            }
            "cancel" => Record::Cancel(target()?),
            "undone" => Record::Undone(target()?),
            other => return Err(self.corrupt(n, format!("unknown record kind {other:?}"))),
        };
        Ok((seq, record))
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state directory's path.
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// Whether nothing is outstanding (no change that may have been made and is not undone).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The outstanding entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().map(|(_, e)| e)
    }

    fn append(&mut self, body: String) -> Result<()> {
        if self.file.is_none() {
            let file_name = format!("{}.journal", self.name);
            let file = open_nofollow(
                Some(&*self.dir),
                Path::new(&file_name),
                OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(|e| match e {
                nix::Error::EEXIST | nix::Error::ELOOP => {
                    untrusted(&self.path, "appeared while the directory was locked")
                }
                e => io(format!("create {}", self.path.display()), e.into()),
            })?;
            fchmod(&file, Mode::from_bits_truncate(0o600))
                .map_err(|e| io(format!("chmod {}", self.path.display()), e.into()))?;
            self.sync_dir()?;
            self.file = Some(file);
        }
        let line = format!("{MAGIC} {:08x} {body}\n", crc32(body.as_bytes()));
        let path = self.path.display().to_string();
        let Some(file) = self.file.as_mut() else {
            return Err(io(
                format!("write {path}"),
                std::io::ErrorKind::NotFound.into(),
            ));
        };
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| io(format!("write {path}"), e))
    }

    fn sync_dir(&self) -> Result<()> {
        nix::unistd::fsync(&*self.dir)
            .map_err(|e| io(format!("fsync {}", self.dir_path.display()), e.into()))
    }

    /// Record durably that `entry` is about to be made; returns its sequence number, for
    /// [`cancel`](Self::cancel) if it then fails.
    pub fn record(&mut self, entry: &Entry) -> Result<u64> {
        if let Entry::Host(Change::Sysctl {
            key,
            previous,
            value,
        }) = entry
        {
            if !sysctl_allowed(key) || !sysctl_value_ok(previous) || !sysctl_written_ok(key, value)
            {
                return Err(HostError::Sysctl {
                    key: key.clone(),
                    reason: "not a sysctl lvs journals (or not an integer value)".into(),
                }
                .into());
            }
        }
        let seq = self.next_seq;
        let body = match entry {
            Entry::Host(c) => format!("{seq} change {c}"),
            Entry::Service(id) => format!("{seq} service {id}"),
            Entry::DaemonStarted(d) => format!("{seq} daemon-started {}", daemon_text(d)),
            Entry::DaemonStopped(d) => format!("{seq} daemon-stopped {}", daemon_text(d)),
        };
        self.append(body)?;
        self.next_seq += 1;
        self.entries.push((seq, entry.clone()));
        Ok(seq)
    }

    /// Record durably that change `seq` was not made after all (it failed).
    pub fn cancel(&mut self, seq: u64) -> Result<()> {
        self.append(format!("{} cancel {seq}", self.next_seq))?;
        self.next_seq += 1;
        self.entries.retain(|(s, _)| *s != seq);
        Ok(())
    }

    /// The newest outstanding host change `pred` accepts, with its sequence number.
    pub(crate) fn newest_change(&self, pred: impl Fn(&Change) -> bool) -> Option<(u64, Change)> {
        self.entries.iter().rev().find_map(|(seq, e)| match e {
            Entry::Host(c) if pred(c) => Some((*seq, c.clone())),
            _ => None,
        })
    }

    /// The newest outstanding entry `pred` accepts, with its sequence number.
    pub(crate) fn newest_entry(&self, pred: impl Fn(&Entry) -> bool) -> Option<(u64, Entry)> {
        self.entries
            .iter()
            .rev()
            .find(|(_, e)| pred(e))
            .map(|(seq, e)| (*seq, e.clone()))
    }

    pub(crate) fn mark_undone(&mut self, seq: u64) -> Result<()> {
        self.append(format!("{} undone {seq}", self.next_seq))?;
        self.next_seq += 1;
        self.entries.retain(|(s, _)| *s != seq);
        Ok(())
    }

    /// Undo every outstanding entry, newest first: host changes through `host`, IPVS
    /// services through `ipvs` (deleted with their destinations; `None` when the journal
    /// holds none). Each entry undone is recorded at once, so an interrupted undo resumes
    /// where it stopped; undoing what is already undone does nothing. Entries that cannot be
    /// undone (a device gone, a value changed by someone else since) are skipped, kept in
    /// the journal, and reported together as [`HostError::UndoIncomplete`]; when everything
    /// was undone the journal file is removed.
    pub fn undo<T: Transport>(
        &mut self,
        host: &mut Host,
        mut ipvs: Option<&mut Ipvs<T>>,
    ) -> Result<UndoReport> {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        let pending: Vec<(u64, Entry)> = self.entries.iter().rev().cloned().collect();
        for (seq, entry) in pending {
            let r = match &entry {
                Entry::Host(c) => host.undo_one(c),
                Entry::Service(id) => match ipvs.as_deref_mut() {
                    Some(ipvs) => match ipvs.delete_service(id) {
                        Err(Error::NoSuchService(_)) => Ok(()),
                        other => other,
                    },
                    None => Err(crate::InvalidError::parse(
                        &id.to_string(),
                        "an IPVS handle to delete this service with",
                    )
                    .into()),
                },
                Entry::DaemonStarted(d) | Entry::DaemonStopped(d) => match ipvs.as_deref_mut() {
                    Some(ipvs) => undo_daemon(ipvs, &entry, d),
                    None => Err(crate::InvalidError::parse(
                        &entry.to_string(),
                        "an IPVS handle to undo this sync daemon change with",
                    )
                    .into()),
                },
            };
            match r {
                Ok(()) => {
                    self.mark_undone(seq)?;
                    done.push(entry);
                }
                Err(e) => failed.push((entry.to_string(), e.to_string())),
            }
        }
        if !failed.is_empty() {
            return Err(HostError::UndoIncomplete(failed).into());
        }
        self.clear()?;
        Ok(done)
    }

    /// Remove the journal file, when nothing is outstanding.
    fn clear(&mut self) -> Result<()> {
        if !self.entries.is_empty() || self.file.is_none() {
            return Ok(());
        }
        let file_name = format!("{}.journal", self.name);
        nix::unistd::unlinkat(
            &*self.dir,
            Path::new(&file_name),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(|e| io(format!("remove {}", self.path.display()), e.into()))?;
        self.file = None;
        self.sync_dir()
    }
}

/// Undo a sync daemon's start (stop it, when it runs) or stop (start it again, unless a
/// daemon of its state runs: the same one is back already, another is someone else's).
pub(crate) fn undo_daemon<T: Transport>(
    ipvs: &mut Ipvs<T>,
    entry: &Entry,
    d: &Daemon,
) -> Result<()> {
    let running = ipvs.daemons()?;
    let now = running.iter().find(|r| r.state == d.state);
    match (entry, now) {
        (Entry::DaemonStarted(_), None) => Ok(()),
        (Entry::DaemonStarted(_), Some(_)) => match ipvs.stop_daemon(d.state) {
            Err(Error::NoSuchDaemon(_)) => Ok(()),
            other => other,
        },
        (_, None) => ipvs.start_daemon(d),
        (_, Some(r)) if same_daemon(r, d) => Ok(()),
        (_, Some(r)) => Err(HostError::Conflict {
            change: entry.to_string(),
            found: format!("sync daemon {}", daemon_text(r)),
        }
        .into()),
    }
}

/// Whether a running daemon `r` is `want` (the kernel reports its defaults for the options
/// `want` leaves unset).
pub(crate) fn same_daemon(r: &Daemon, want: &Daemon) -> bool {
    r.state == want.state
        && r.interface == want.interface
        && r.sync_id == want.sync_id
        && want.max_len.is_none_or(|v| r.max_len == Some(v))
        && want.group.is_none_or(|v| r.group == Some(v))
        && want.port.is_none_or(|v| r.port == Some(v))
        && want.ttl.is_none_or(|v| r.ttl == Some(v))
}

/// `DirBuilder` with mode 0700 (the umask can only take bits away; `open_dir` sets the mode
/// exactly afterwards).
trait Mode0700 {
    fn mode_0700(&mut self) -> &mut Self;
}

impl Mode0700 for std::fs::DirBuilder {
    fn mode_0700(&mut self) -> &mut Self {
        use std::os::unix::fs::DirBuilderExt;
        self.mode(0o700)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(200);

    fn tmp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lvs-journal-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        dir.join("state")
    }

    fn sysctl(key: &str, previous: &str, value: &str) -> Entry {
        Entry::Host(Change::Sysctl {
            key: key.into(),
            previous: previous.into(),
            value: value.into(),
        })
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn records_survive_a_reopen_and_cancels_and_modes_hold() {
        let dir = tmp();
        let a = sysctl("net/ipv4/ip_forward", "0", "1");
        let b = Entry::Service("tcp:10.0.0.1:80".parse().unwrap());
        let c = sysctl("net/ipv4/conf/all/arp_ignore", "0", "1");
        {
            let mut j = Journal::open(&dir, "t", WAIT).unwrap();
            assert!(j.is_empty());
            j.record(&a).unwrap();
            let sb = j.record(&b).unwrap();
            j.record(&c).unwrap();
            j.cancel(sb).unwrap();
        }
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("t.journal")), 0o600);
        let j = Journal::open(&dir, "t", WAIT).unwrap();
        assert_eq!(j.entries().cloned().collect::<Vec<_>>(), [a, c]);
        // A journal it does not accept is refused before anything is written.
        let mut j = j;
        assert!(j
            .record(&sysctl("net/core/somaxconn", "4096", "1"))
            .is_err());
        assert!(j
            .record(&sysctl("net/ipv4/ip_forward", "0", "1 2"))
            .is_err());
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn sync_daemons_and_address_removals_survive_a_reopen() {
        use crate::model::DaemonState;
        let dir = tmp();
        let started = Entry::DaemonStarted(
            Daemon::builder(DaemonState::Master, "eth0")
                .sync_id(7)
                .build()
                .unwrap(),
        );
        let stopped = Entry::DaemonStopped(
            Daemon::builder(DaemonState::Backup, "eth1")
                .sync_id(255)
                .max_len(1472)
                .group("239.1.2.3".parse().unwrap())
                .port(8849)
                .ttl(2)
                .build()
                .unwrap(),
        );
        let removed = Entry::Host(Change::AddressRemoved {
            dev: "eth0".into(),
            addr: "192.168.1.3".parse().unwrap(),
            prefix_len: 32,
            label: Some("eth0:0".into()),
        });
        {
            let mut j = Journal::open(&dir, "t", WAIT).unwrap();
            j.record(&started).unwrap();
            j.record(&stopped).unwrap();
            let seq = j.record(&removed).unwrap();
            assert_eq!(
                j.newest_change(|c| matches!(c, Change::AddressRemoved { .. }))
                    .map(|(s, _)| s),
                Some(seq)
            );
            j.mark_undone(seq).unwrap();
            assert!(j.newest_change(|_| true).is_none());
        }
        let j = Journal::open(&dir, "t", WAIT).unwrap();
        assert_eq!(j.entries().cloned().collect::<Vec<_>>(), [started, stopped]);
        for bad in [
            "master eth0",
            "master eth0 256",
            "primary eth0 1",
            "master eth0 1 ttl",
        ] {
            assert!(parse_daemon(bad).is_none(), "{bad}");
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn ipvs_sysctls_are_journalled_within_their_range() {
        let dir = tmp();
        let a = sysctl("net/ipv4/vs/conn_reuse_mode", "1", "0");
        let b = sysctl("net/ipv4/vs/est_nice", "0", "-5");
        let mut j = Journal::open(&dir, "t", WAIT).unwrap();
        j.record(&a).unwrap();
        j.record(&b).unwrap();
        // Out of range, or not a sysctl of IpvsSysctl: refused, nothing written.
        for bad in [
            sysctl("net/ipv4/vs/conn_reuse_mode", "1", "4"),
            sysctl("net/ipv4/vs/sync_threshold", "3", "4"),
            sysctl("net/ipv4/vs/no_such_thing", "0", "1"),
        ] {
            assert!(j.record(&bad).is_err(), "{bad}");
        }
        drop(j);
        let path = dir.join("t.journal");
        let good = std::fs::read_to_string(&path).unwrap();
        assert_eq!(good.lines().count(), 2);
        let j = Journal::open(&dir, "t", WAIT).unwrap();
        assert_eq!(j.entries().cloned().collect::<Vec<_>>(), [a, b]);
        drop(j);
        // A planted record with a value out of range (and a valid checksum) is corrupt.
        let body = "3 change sysctl net/ipv4/vs/sync_ports 1 3";
        std::fs::write(
            &path,
            format!("{good}{MAGIC} {:08x} {body}\n", crc32(body.as_bytes())),
        )
        .unwrap();
        match Journal::open(&dir, "t", WAIT) {
            Err(Error::Host(HostError::JournalCorrupt { line: 3, .. })) => {}
            other => panic!("expected JournalCorrupt, got {other:?}"),
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn one_holder_at_a_time() {
        let dir = tmp();
        let held = Journal::open(&dir, "t", WAIT).unwrap();
        let start = Instant::now();
        match Journal::open(&dir, "t", WAIT) {
            Err(Error::Host(HostError::JournalLocked { waited, .. })) => {
                assert!(waited >= WAIT, "{waited:?}");
            }
            other => panic!("expected JournalLocked, got {other:?}"),
        }
        assert!(start.elapsed() < WAIT * 10, "the wait is bounded");
        drop(held);
        Journal::open(&dir, "t", WAIT).unwrap();
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn torn_tail_is_dropped_and_corruption_refused() {
        let dir = tmp();
        let a = sysctl("net/ipv4/ip_forward", "0", "1");
        Journal::open(&dir, "t", WAIT).unwrap().record(&a).unwrap();
        let path = dir.join("t.journal");
        let good = std::fs::read_to_string(&path).unwrap();
        // A write cut short: dropped (and truncated away), the rest kept.
        std::fs::write(&path, format!("{good}lvs-journal 1 0000")).unwrap();
        let j = Journal::open(&dir, "t", WAIT).unwrap();
        assert_eq!(j.entries().count(), 1);
        drop(j);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), good);
        // A complete line that fails its checksum, a flipped byte, an unknown version.
        for bad in [
            format!("{good}lvs-journal 1 00000000 2 cancel 1\n"),
            good.replace("ip_forward 0 1", "ip_forward 0 2"),
            good.replace("lvs-journal 1", "lvs-journal 2"),
            format!("{good}\n"),
        ] {
            std::fs::write(&path, &bad).unwrap();
            match Journal::open(&dir, "t", WAIT) {
                Err(Error::Host(HostError::JournalCorrupt { .. })) => {}
                other => panic!("{bad:?}: expected JournalCorrupt, got {other:?}"),
            }
        }
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn symlinks_and_loose_modes_are_untrusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tmp();
        let base = dir.parent().unwrap().to_owned();
        std::fs::create_dir_all(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), &dir).unwrap();
        let untrusted =
            |r: Result<Journal>| matches!(r, Err(Error::Host(HostError::JournalUntrusted { .. })));
        assert!(
            untrusted(Journal::open(&dir, "t", WAIT)),
            "symlinked directory"
        );
        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            untrusted(Journal::open(&dir, "t", WAIT)),
            "world-writable directory"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(base.join("victim"), dir.join("t.journal")).unwrap();
        assert!(
            untrusted(Journal::open(&dir, "t", WAIT)),
            "symlinked journal"
        );
        assert!(!base.join("victim").exists());
        std::fs::remove_file(dir.join("t.journal")).unwrap();
        std::fs::write(dir.join("t.journal"), "").unwrap();
        std::fs::set_permissions(
            dir.join("t.journal"),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
        assert!(
            untrusted(Journal::open(&dir, "t", WAIT)),
            "world-writable journal"
        );
        assert!(
            Journal::open(&dir, "../t", WAIT).is_err(),
            "a name, not a path"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn crc32_is_ieee() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn allowed_sysctls() {
        for ok in [
            "net/ipv4/ip_forward",
            "net/ipv6/conf/all/forwarding",
            "net/ipv4/conf/all/arp_ignore",
            "net/ipv4/conf/eth0/arp_announce",
            "net/ipv4/conf/tunl0/rp_filter",
            "net/ipv4/vs/conn_reuse_mode",
            "net/ipv4/vs/expire_nodest_conn",
        ] {
            assert!(sysctl_allowed(ok), "{ok}");
        }
        for s in IpvsSysctl::ALL {
            assert!(sysctl_allowed(&s.key()), "{s}");
        }
        for bad in [
            "net/core/somaxconn",
            "kernel/core_pattern",
            "net/ipv4/conf/../arp_ignore",
            "net/ipv4/conf/./rp_filter",
            "net/ipv4/conf/eth0/forwarding",
            "net/ipv4/conf/a-name-far-too-long/rp_filter",
            "net/ipv4/ip_forward/x",
            "net/ipv4/vs/sync_threshold",
            "net/ipv4/vs/est_cpulist",
            "net/ipv4/vs/no_such_thing",
            "net/ipv4/vs/../ip_forward",
            "net/ipv4/vs",
            "net/ipv4/vs/",
            "net/ipv4/vs/conntrack/x",
            "net/ipv6/vs/conntrack",
        ] {
            assert!(!sysctl_allowed(bad), "{bad}");
        }
        assert!(sysctl_value_ok("0") && sysctl_value_ok("-1") && sysctl_value_ok("2"));
        assert!(!sysctl_value_ok("") && !sysctl_value_ok("1 2") && !sysctl_value_ok("|/x"));
        assert!(sysctl_written_ok("net/ipv4/vs/conn_reuse_mode", "3"));
        assert!(!sysctl_written_ok("net/ipv4/vs/conn_reuse_mode", "4"));
        assert!(!sysctl_written_ok("net/ipv4/vs/sync_ports", "3"));
        assert!(sysctl_written_ok("net/ipv4/vs/est_nice", "-20"));
        assert!(sysctl_written_ok("net/ipv4/ip_forward", "7"));
    }
}
