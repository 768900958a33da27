//! ipvsadm's command line, parsed into a typed [`Command`].
//!
//! The same parser reads the lines of the rule format (what `ipvsadm -S` writes and
//! `ipvsadm -R` reads are ipvsadm command lines without the program name). It accepts what
//! ipvsadm 1.31 accepts and rejects what it rejects, with the exit status ipvsadm would use
//! ([`ArgError::status`]): 2 for a bad value or a bad combination, 255 when the command line
//! cannot be read at all (no command first, an unknown option, a missing argument). The
//! messages are this crate's own.
//!
//! ```
//! use lvs::text::{parse_args, Command, NoNames};
//! use lvs::Op;
//! let cmd = parse_args(&["-A", "-t", "10.0.0.1:80", "-s", "rr", "-p"], &NoNames, false)?;
//! let Command::Write(Op::AddService(svc)) = cmd else { panic!() };
//! assert_eq!(svc.persistence.unwrap().timeout, 360);
//! let err = parse_args(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "2147483648"], &NoNames, false)
//!     .unwrap_err();
//! assert_eq!(err.status, 2);
//! # Ok::<(), lvs::text::ArgError>(())
//! ```

//!
//! The parts: `options.rs` holds the one table of ipvsadm's options (which commands take
//! each) and the reader that splits a line into options; the options of the service
//! (`service.rs`), the real server (`destination.rs`), the listing (`list.rs`) and the sync
//! daemon (`daemon.rs`), and the commands built from them, have a file each.

mod daemon;
mod destination;
mod list;
mod options;
mod service;

use super::cnum::string_to_number;
use super::format::ListOptions;
use super::names::Names;
use crate::error::InvalidError;
use crate::model::{Daemon, DaemonState, Destination, Op, Persistence, ServiceId, Timeouts};
use destination::RawDest;
use options::{check_options, Cmd, Event, Opt, OptName, OptSpec, Tag, Tokens};
use service::RawSvc;

/// A command line that ipvsadm would refuse, with the exit status it would refuse it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArgError {
    /// ipvsadm's exit status for this refusal (2 or 255).
    pub status: i32,
    /// What is wrong, naming the option or value.
    pub message: String,
}

fn bad(message: impl Into<String>) -> ArgError {
    ArgError {
        status: 2,
        message: message.into(),
    }
}

fn unreadable(message: impl Into<String>) -> ArgError {
    ArgError {
        status: 255,
        message: message.into(),
    }
}

/// What a listing command lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListWhat {
    /// The whole table (`-L`).
    All,
    /// One service (`-L -t|-u|-f ...`).
    Service(ServiceId),
    /// The connection table (`-L -c`).
    Connections,
    /// The timeouts (`-L --timeout`).
    Timeouts,
    /// The sync daemons (`-L --daemon`).
    Daemons,
}

/// A listing command: what, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// What to list.
    pub what: ListWhat,
    /// How (the header information is left at its default: fill it from the kernel).
    pub options: ListOptions,
    /// `--persistent-conn` was given (adds engine columns to `-c`).
    pub persistent_conn: bool,
}

/// One ipvsadm command: a write to the table (the library's [`Op`]), or one of the commands
/// that read or drive the program.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// A write: `-A`, `-E`, `-D`, `-C`, `-a`, `-e`, `-d`, `-Z`, `--set`, `--start-daemon`,
    /// `--stop-daemon`.
    Write(Op),
    /// `-L`/`-l` (and no arguments at all).
    List(ListRequest),
    /// `-R`.
    Restore,
    /// `-S`, numeric with `-n`.
    Save {
        /// `-n` was given.
        numeric: bool,
    },
    /// `-h`.
    Help,
    /// `-v`.
    Version,
}

impl Command {
    /// The write this command makes, if it is one (what `-R` batches).
    pub fn op(&self) -> Option<&Op> {
        match self {
            Command::Write(op) => Some(op),
            _ => None,
        }
    }

    /// The write this command makes, if it is one, by value.
    pub fn into_op(self) -> Option<Op> {
        match self {
            Command::Write(op) => Some(op),
            _ => None,
        }
    }

    /// Whether the command changes the kernel's table.
    pub fn is_write(&self) -> bool {
        matches!(self, Command::Write(_))
    }

    /// The library's checks on the values of a write, beyond what ipvsadm's parser checks
    /// (what the drop-in runs on every line of `-R` input before changing anything): those of
    /// [`Op::validate`], except that weights above [`Destination::MAX_WEIGHT`] are let
    /// through, as ipvsadm passes them on to the kernel. Other commands have nothing more to
    /// check.
    ///
    /// ```
    /// use lvs::text::{parse_args, NoNames};
    /// let cmd = parse_args(&["-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "100000"], &NoNames, false)?;
    /// assert!(cmd.validate().is_ok()); // ipvsadm passes such a weight on to the kernel
    /// # Ok::<(), lvs::text::ArgError>(())
    /// ```
    pub fn validate(&self) -> Result<(), InvalidError> {
        match self {
            Command::Write(Op::AddDestination(id, d) | Op::UpdateDestination(id, d)) => {
                let mut d = d.clone();
                d.weight = d.weight.min(Destination::MAX_WEIGHT);
                d.validate_for(id)
            }
            Command::Write(op) => op.validate(),
            _ => Ok(()),
        }
    }
}

/// Take the drop-in's own `--netns NAME` (or `--netns=NAME`) options out of a command line
/// and return the last name given. A `--netns` with nothing after it stays in `args` (and
/// the parser then refuses it as ipvsadm refuses an unknown option).
///
/// ```
/// let mut args: Vec<String> = ["-Ln", "--netns", "blue"].map(String::from).into();
/// assert_eq!(lvs::text::take_netns(&mut args).as_deref(), Some("blue"));
/// assert_eq!(args, ["-Ln"]);
/// ```
pub fn take_netns(args: &mut Vec<String>) -> Option<String> {
    let mut netns = None;
    let mut kept = Vec::with_capacity(args.len());
    let mut iter = std::mem::take(args).into_iter();
    while let Some(arg) = iter.next() {
        if arg == "--netns" {
            match iter.next() {
                Some(name) => netns = Some(name),
                None => kept.push(arg),
            }
        } else if let Some(name) = arg.strip_prefix("--netns=") {
            netns = Some(name.to_owned());
        } else {
            kept.push(arg);
        }
    }
    *args = kept;
    netns
}

/// A number of seconds in `min..=max` (`what` names it in the message); ipvsadm's default
/// persistence timeout when there is no argument.
fn parse_timeout(arg: Option<&str>, min: i64, max: i64, what: &str) -> Result<u32, ArgError> {
    let Some(a) = arg else {
        return Ok(Persistence::DEFAULT_TIMEOUT);
    };
    string_to_number(a, min, max)
        .map(|v| v as u32)
        .ok_or_else(|| {
            bad(format!(
                "{what}: '{a}' is not a number of seconds in {min}..{max}"
            ))
        })
}

/// `s` cut to at most `max` bytes, on a character boundary (as ipvsadm's fixed buffers cut
/// it, but never inside a character).
fn truncated(s: &str, max: usize) -> &str {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.get(..cut).unwrap_or(s)
}

/// What the options of a line have said so far.
struct Line<'a> {
    /// Which options were given.
    given: Opt,
    svc: RawSvc<'a>,
    dest: RawDest,
    daemon: Daemon,
    list: ListOptions,
}

impl<'a> Line<'a> {
    /// Read one option (after the command).
    fn read(
        &mut self,
        spec: &OptSpec,
        name: OptName<'_>,
        arg: Option<&'a str>,
        names: &dyn Names,
    ) -> Result<(), ArgError> {
        if spec.tag.is_command() {
            return Err(bad(format!(
                "{name} is a second command: give one command per line"
            )));
        }
        spec.flag.add_to(&mut self.given)?;
        let a = arg.unwrap_or_default();
        match spec.tag {
            Tag::Tcp
            | Tag::Udp
            | Tag::Sctp
            | Tag::Fwmark
            | Tag::Ipv6
            | Tag::Scheduler
            | Tag::Persistent
            | Tag::Netmask
            | Tag::Ops
            | Tag::Pe
            | Tag::SchedFlags => self.svc.read(spec.tag, name, arg, names),
            Tag::Server => self.dest.read_server(&self.svc, name, a, names),
            Tag::Masq
            | Tag::Ipip
            | Tag::Gate
            | Tag::Weight
            | Tag::UThreshold
            | Tag::LThreshold
            | Tag::TunType
            | Tag::TunPort
            | Tag::TunNocsum
            | Tag::TunCsum
            | Tag::TunRemcsum => self.dest.read(spec.tag, name, a),
            Tag::McastIfn
            | Tag::SyncId
            | Tag::McastGroup
            | Tag::McastPort
            | Tag::McastTtl
            | Tag::SyncMaxlen => daemon::read(&mut self.daemon, spec.tag, name, a),
            Tag::Numeric | Tag::NoSort | Tag::Exact => {
                list::read(&mut self.list, spec.tag);
                Ok(())
            }
            // The rest say all they have to say by being given.
            _ => Ok(()),
        }
    }
}

/// The command a line starts with (words before it are leftovers): a command of the table
/// with its daemon state, or a finished [`Command`] (`-h`, `-v`).
fn first_command<'a, S: AsRef<str>>(
    tokens: &mut Tokens<'a, S>,
    leftovers: &mut Vec<&'a str>,
    in_restore: bool,
) -> Result<Result<(Cmd, DaemonState), Command>, ArgError> {
    let (spec, name, arg) = loop {
        match tokens.next() {
            None => {
                return Err(unreadable(
                    "no command given (the first option must be a command such as -A, -a, -L)",
                ))
            }
            Some(Event::Leftover(l)) => leftovers.push(l),
            Some(Event::Error(e)) => return Err(unreadable(e)),
            Some(Event::Opt(s, n, a)) => break (s, n, a),
        }
    };
    Ok(Ok(match spec.tag {
        Tag::Cmd(Cmd::Restore) if in_restore => {
            return Err(unreadable("-R cannot be used inside restore input"))
        }
        Tag::Cmd(c) => (c, DaemonState::Master),
        Tag::StartDaemon => (Cmd::StartDaemon, daemon::state(arg, "--start-daemon")?),
        Tag::StopDaemon => (Cmd::StopDaemon, daemon::state(arg, "--stop-daemon")?),
        Tag::Help => return Ok(Err(Command::Help)),
        Tag::Version => return Ok(Err(Command::Version)),
        _ => {
            return Err(unreadable(format!(
                "{name} is not a command: the first option must be a command such as -A, -a, -L"
            )))
        }
    }))
}

/// The words that are not options: the three timeouts of `--set`, nothing for the others.
fn leftover_timeouts(cmd: Cmd, leftovers: Vec<&str>) -> Result<Timeouts, ArgError> {
    let mut leftovers = leftovers.into_iter();
    let mut timeouts = Timeouts::default();
    if cmd == Cmd::Timeout {
        let (Some(t), Some(f), Some(u)) = (leftovers.next(), leftovers.next(), leftovers.next())
        else {
            return Err(bad("--set needs three timeouts: tcp tcpfin udp"));
        };
        let max = i64::from(Persistence::MAX_TIMEOUT);
        timeouts.tcp = parse_timeout(Some(t), 0, max, "--set tcp")?;
        timeouts.tcp_fin = parse_timeout(Some(f), 0, max, "--set tcpfin")?;
        timeouts.udp = parse_timeout(Some(u), 0, max, "--set udp")?;
    }
    if let Some(extra) = leftovers.next() {
        return Err(bad(format!("unexpected argument '{extra}'")));
    }
    Ok(timeouts)
}

/// Parse one ipvsadm command line (without the program name). Host and port names are
/// looked up in `names`. `in_restore` is true for the lines of `-R` input (where `-R` itself
/// is refused, as ipvsadm refuses it).
pub fn parse_args<S: AsRef<str>>(
    args: &[S],
    names: &dyn Names,
    in_restore: bool,
) -> Result<Command, ArgError> {
    if args.is_empty() {
        return Ok(list::default_listing());
    }
    let mut tokens = Tokens::new(args);
    let mut leftovers: Vec<&str> = Vec::new();
    let (cmd, state) = match first_command(&mut tokens, &mut leftovers, in_restore)? {
        Ok(first) => first,
        Err(done) => return Ok(done),
    };
    let mut line = Line {
        given: Opt::empty(),
        svc: RawSvc::new(),
        dest: RawDest::new(),
        daemon: daemon::new(state),
        list: ListOptions::new(),
    };
    for event in tokens {
        match event {
            Event::Leftover(l) => leftovers.push(l),
            Event::Error(e) => return Err(unreadable(e)),
            Event::Opt(spec, name, arg) => line.read(spec, name, arg, names)?,
        }
    }
    let timeouts = leftover_timeouts(cmd, leftovers)?;
    let sched_flags = line.svc.sched_flags()?;
    check_options(cmd, line.given)?;
    match cmd {
        Cmd::Add | Cmd::Edit | Cmd::Del | Cmd::Zero => {
            service::build(cmd, &line.svc, sched_flags, line.given)
        }
        Cmd::AddDest | Cmd::EditDest | Cmd::DelDest => {
            destination::build(cmd, &line.svc, line.dest, line.given)
        }
        Cmd::List | Cmd::Save => list::build(cmd, line.list, &line.svc, line.given),
        Cmd::Flush => Ok(Command::Write(Op::Flush)),
        Cmd::Restore => Ok(Command::Restore),
        Cmd::Timeout => Ok(Command::Write(Op::SetTimeouts(timeouts))),
        Cmd::StartDaemon | Cmd::StopDaemon => Ok(daemon::build(cmd, line.daemon)),
    }
}

#[cfg(test)]
mod corpus;

#[cfg(test)]
mod tests {
    use super::super::names::NoNames;
    use super::*;
    use crate::model::{ForwardMethod, Netmask, Scheduler, Tunnel};
    use std::net::Ipv4Addr;

    fn p(line: &str) -> Result<Command, ArgError> {
        let v: Vec<&str> = line.split_whitespace().collect();
        parse_args(&v, &NoNames, false)
    }

    #[test]
    fn services() {
        let Ok(Command::Write(Op::AddService(s))) =
            p("-A -t 10.0.0.1:80 -s rr -p 600 -M 255.255.255.0")
        else {
            panic!()
        };
        assert_eq!(s.scheduler, Scheduler::Rr);
        assert_eq!(s.persistence.unwrap().timeout, 600);
        assert_eq!(
            s.persistence.unwrap().netmask,
            Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))
        );
        let Ok(Command::Write(Op::AddService(s))) = p("-At[fd00::1]:53 -u") else {
            // -At then -u: a second service option
            return;
        };
        panic!("{s:?}");
    }

    #[test]
    fn statuses() {
        assert_eq!(p("-t 10.0.0.1:80 -A").unwrap_err().status, 255);
        assert_eq!(p("-A -t 10.0.0.1:80 --bogus").unwrap_err().status, 255);
        assert_eq!(p("-A -t").unwrap_err().status, 255);
        assert_eq!(p("-A -t 10.0.0.1").unwrap_err().status, 2);
        assert_eq!(p("-A -t 10.0.0.1:80 -s rr -s wlc").unwrap_err().status, 2);
        assert_eq!(p("-A -t 10.0.0.1:80 -o").unwrap_err().status, 2);
        assert!(p("-A -u 10.0.0.1:80 -o").is_ok());
        assert_eq!(
            p("-a -t 10.0.0.1:80 -r [fd00::2]:80").unwrap_err().status,
            2
        );
        assert!(p("-a -t 10.0.0.1:80 -r [fd00::2]:80 -i").is_ok());
        assert_eq!(
            p("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue")
                .unwrap_err()
                .status,
            2
        );
        assert_eq!(p("-L -c --stats").unwrap_err().status, 2);
        assert_eq!(p("-L foo").unwrap_err().status, 2);
        assert_eq!(p("--set 1 2").unwrap_err().status, 2);
        assert!(matches!(
            p("--set 1 2 3"),
            Ok(Command::Write(Op::SetTimeouts(_)))
        ));
        assert!(matches!(p("-h"), Ok(Command::Help)));
        assert_eq!(p("-L -h").unwrap_err().status, 2);
    }

    #[test]
    fn dest_ports() {
        let Ok(Command::Write(Op::AddDestination(_, d))) =
            p("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g")
        else {
            panic!()
        };
        assert_eq!(d.port, 80);
        let Ok(Command::Write(Op::AddDestination(_, d))) =
            p("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 0")
        else {
            panic!()
        };
        assert_eq!((d.port, d.weight), (8080, 0));
        let Ok(Command::Write(Op::AddDestination(_, d))) =
            p("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue --tun-port 6080 --tun-csum")
        else {
            panic!()
        };
        assert_eq!(d.forward, ForwardMethod::Tunnel(Tunnel::gue(6080).csum()));
    }
}
