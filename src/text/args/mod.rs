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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::cnum::{atoi, inet_aton, parse_fwmark, str_is_digit, string_to_number};
use super::format::{ListFormat, ListOptions};
use super::names::Names;
use crate::error::InvalidError;
use crate::model::{
    AddressFamily, Daemon, DaemonState, Destination, ForwardMethod, Netmask, Op, Persistence,
    PersistenceEngine, Protocol, SchedFlags, Scheduler, Service, ServiceFlags, ServiceId, Timeouts,
    Tunnel, TunnelFlags, TunnelType,
};

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

// ipvsadm's option indices (the columns of its command/option table).
const O_NUMERIC: usize = 0;
const O_CONNECTION: usize = 1;
const O_SERVICE: usize = 2;
const O_SCHEDULER: usize = 3;
const O_PERSISTENT: usize = 4;
const O_NETMASK: usize = 5;
const O_SERVER: usize = 6;
const O_FORWARD: usize = 7;
const O_WEIGHT: usize = 8;
const O_UTHRESHOLD: usize = 9;
const O_LTHRESHOLD: usize = 10;
const O_MCAST: usize = 11;
const O_TIMEOUT: usize = 12;
const O_DAEMON: usize = 13;
const O_STATS: usize = 14;
const O_RATE: usize = 15;
const O_THRESHOLDS: usize = 16;
const O_PERSISTENTCONN: usize = 17;
const O_NOSORT: usize = 18;
const O_SYNCID: usize = 19;
const O_EXACT: usize = 20;
const O_ONEPACKET: usize = 21;
const O_PE: usize = 22;
const O_SCHED_FLAGS: usize = 23;
const O_MCAST_GROUP: usize = 24;
const O_MCAST_PORT: usize = 25;
const O_MCAST_TTL: usize = 26;
const O_SYNC_MAXLEN: usize = 27;
const O_TUN_INFO: usize = 28;
const O_TUN_TYPE: usize = 29;
const O_TUN_PORT: usize = 30;
const O_TUN_NOCSUM: usize = 31;
const O_TUN_CSUM: usize = 32;
const O_TUN_REMCSUM: usize = 33;

const OPT_NAMES: [&str; 34] = [
    "-n/--numeric",
    "-c/--connection",
    "a virtual service (-t/-u/--sctp-service/-f)",
    "-s/--scheduler",
    "-p/--persistent",
    "-M/--netmask",
    "-r/--real-server",
    "a forwarding method (-g/-i/-m)",
    "-w/--weight",
    "-x/--u-threshold",
    "-y/--l-threshold",
    "--mcast-interface",
    "--timeout",
    "--daemon",
    "--stats",
    "--rate",
    "--thresholds",
    "--persistent-conn",
    "--nosort",
    "--syncid",
    "-X/--exact",
    "-o/--ops",
    "--pe",
    "-b/--sched-flags",
    "--mcast-group",
    "--mcast-port",
    "--mcast-ttl",
    "--sync-maxlen",
    "--tun-info",
    "--tun-type",
    "--tun-port",
    "--tun-nocsum",
    "--tun-csum",
    "--tun-remcsum",
];

/// Which options each command takes ('+' required, 'x' refused, '1' at most one of these,
/// '.' optional), in the order of [`Cmd`].
const CMD_OPTS: [&str; 14] = [
    "xx+...xxxxxxxxxxxxxxx...xxxxxxxxxx",
    "xx+...xxxxxxxxxxxxxxx...xxxxxxxxxx",
    "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ".11xxxxxxxxx11.......xxxxxxx.xxxxx",
    "xx+xxx+....xxxxxxxxxxxxxxxxxx.....",
    "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xx+xxx+....xxxxxxxxxxxxxxxxxx.....",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxx.xxxxxxx.xxxx....xxxxxx",
    "xxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ".xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Add => "-A/--add-service",
            Cmd::Edit => "-E/--edit-service",
            Cmd::Del => "-D/--delete-service",
            Cmd::Flush => "-C/--clear",
            Cmd::List => "-L/--list",
            Cmd::AddDest => "-a/--add-server",
            Cmd::DelDest => "-d/--delete-server",
            Cmd::EditDest => "-e/--edit-server",
            Cmd::Timeout => "--set",
            Cmd::StartDaemon => "--start-daemon",
            Cmd::StopDaemon => "--stop-daemon",
            Cmd::Restore => "-R/--restore",
            Cmd::Save => "-S/--save",
            Cmd::Zero => "-Z/--zero",
        }
    }

    fn table(self) -> &'static [u8] {
        CMD_OPTS
            .get(self as usize)
            .map(|s| s.as_bytes())
            .unwrap_or(&[])
    }
}

/// What an option does, as ipvsadm's option table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Cmd(Cmd),
    Help,
    Version,
    StartDaemon,
    StopDaemon,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Scheduler,
    Persistent,
    Netmask,
    Server,
    Masq,
    Ipip,
    Gate,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastIfn,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

struct OptSpec {
    long: &'static str,
    short: Option<char>,
    arg: Arg,
    tag: Tag,
}

const fn o(long: &'static str, short: Option<char>, arg: Arg, tag: Tag) -> OptSpec {
    OptSpec {
        long,
        short,
        arg,
        tag,
    }
}

/// The option whose short name is an ASCII character, by that character: the index in
/// [`OPTIONS`] of the first one that has it (as a search of the table would find it), or
/// `u8::MAX` for none.
const SHORT_INDEX: [u8; 128] = {
    assert!(OPTIONS.len() < u8::MAX as usize);
    let mut t = [u8::MAX; 128];
    let mut i = 0;
    while i < OPTIONS.len() {
        if let Some(c) = OPTIONS[i].short {
            if (c as u32) < 128 && t[c as usize] == u8::MAX {
                t[c as usize] = i as u8;
            }
        }
        i += 1;
    }
    t
};

/// The option whose short name is `c`.
fn short_option(c: char) -> Option<&'static OptSpec> {
    let i = *SHORT_INDEX.get(c as usize)?;
    OPTIONS.get(usize::from(i))
}

const OPTIONS: &[OptSpec] = &[
    o("add-service", Some('A'), Arg::None, Tag::Cmd(Cmd::Add)),
    o("edit-service", Some('E'), Arg::None, Tag::Cmd(Cmd::Edit)),
    o("delete-service", Some('D'), Arg::None, Tag::Cmd(Cmd::Del)),
    o("clear", Some('C'), Arg::None, Tag::Cmd(Cmd::Flush)),
    o("list", Some('L'), Arg::None, Tag::Cmd(Cmd::List)),
    o("list", Some('l'), Arg::None, Tag::Cmd(Cmd::List)),
    o("zero", Some('Z'), Arg::None, Tag::Cmd(Cmd::Zero)),
    o("add-server", Some('a'), Arg::None, Tag::Cmd(Cmd::AddDest)),
    o("edit-server", Some('e'), Arg::None, Tag::Cmd(Cmd::EditDest)),
    o(
        "delete-server",
        Some('d'),
        Arg::None,
        Tag::Cmd(Cmd::DelDest),
    ),
    o("set", None, Arg::None, Tag::Cmd(Cmd::Timeout)),
    o("help", Some('h'), Arg::None, Tag::Help),
    o("version", Some('v'), Arg::None, Tag::Version),
    o("restore", Some('R'), Arg::None, Tag::Cmd(Cmd::Restore)),
    o("save", Some('S'), Arg::None, Tag::Cmd(Cmd::Save)),
    o("start-daemon", None, Arg::Required, Tag::StartDaemon),
    o("stop-daemon", None, Arg::Required, Tag::StopDaemon),
    o("tcp-service", Some('t'), Arg::Required, Tag::Tcp),
    o("udp-service", Some('u'), Arg::Required, Tag::Udp),
    o("sctp-service", None, Arg::Required, Tag::Sctp),
    o("fwmark-service", Some('f'), Arg::Required, Tag::Fwmark),
    o("scheduler", Some('s'), Arg::Required, Tag::Scheduler),
    o("persistent", Some('p'), Arg::Optional, Tag::Persistent),
    o("netmask", Some('M'), Arg::Required, Tag::Netmask),
    o("real-server", Some('r'), Arg::Required, Tag::Server),
    o("masquerading", Some('m'), Arg::None, Tag::Masq),
    o("ipip", Some('i'), Arg::None, Tag::Ipip),
    o("gatewaying", Some('g'), Arg::None, Tag::Gate),
    o("weight", Some('w'), Arg::Required, Tag::Weight),
    o("u-threshold", Some('x'), Arg::Required, Tag::UThreshold),
    o("l-threshold", Some('y'), Arg::Required, Tag::LThreshold),
    o("numeric", Some('n'), Arg::None, Tag::Numeric),
    o("connection", Some('c'), Arg::None, Tag::Connection),
    o("mcast-interface", None, Arg::Required, Tag::McastIfn),
    o("syncid", None, Arg::Required, Tag::SyncId),
    o("timeout", None, Arg::None, Tag::Timeout),
    o("daemon", None, Arg::None, Tag::Daemon),
    o("stats", None, Arg::None, Tag::Stats),
    o("rate", None, Arg::None, Tag::Rate),
    o("thresholds", None, Arg::None, Tag::Thresholds),
    o("persistent-conn", None, Arg::None, Tag::PersistentConn),
    o("nosort", None, Arg::None, Tag::NoSort),
    o("sort", None, Arg::None, Tag::Sort),
    o("exact", Some('X'), Arg::None, Tag::Exact),
    o("ipv6", Some('6'), Arg::None, Tag::Ipv6),
    o("ops", Some('o'), Arg::None, Tag::Ops),
    o("pe", None, Arg::Required, Tag::Pe),
    o("sched-flags", Some('b'), Arg::Required, Tag::SchedFlags),
    o("mcast-group", None, Arg::Required, Tag::McastGroup),
    o("mcast-port", None, Arg::Required, Tag::McastPort),
    o("mcast-ttl", None, Arg::Required, Tag::McastTtl),
    o("sync-maxlen", None, Arg::Required, Tag::SyncMaxlen),
    o("tun-info", None, Arg::None, Tag::TunInfo),
    o("tun-type", None, Arg::Required, Tag::TunType),
    o("tun-port", None, Arg::Required, Tag::TunPort),
    o("tun-nocsum", None, Arg::None, Tag::TunNocsum),
    o("tun-csum", None, Arg::None, Tag::TunCsum),
    o("tun-remcsum", None, Arg::None, Tag::TunRemcsum),
];

/// One step of reading the command line, as popt delivers them (borrowing the words).
#[derive(Debug)]
enum Event<'a> {
    Opt(Tag, OptName<'a>, Option<&'a str>),
    Leftover(&'a str),
    Error(String),
}

/// An option as it was written, for messages: `-w` or `--weight`.
#[derive(Debug, Clone, Copy)]
enum OptName<'a> {
    Short(char),
    Long(&'a str),
}

impl std::fmt::Display for OptName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptName::Short(c) => write!(f, "-{c}"),
            OptName::Long(name) => write!(f, "--{name}"),
        }
    }
}

/// The arguments split into options (with their arguments) and leftovers, as popt reads
/// them: bundled short options (`-Ln`), attached arguments (`-t10.0.0.1:80`, `--weight=3`),
/// an optional argument taken only if the next word does not start with `-`, and `--`.
/// Read one event at a time; nothing follows an [`Event::Error`].
struct Tokens<'a, S> {
    args: &'a [S],
    /// The index of the next word.
    next: usize,
    /// A bundle of short options being read: the word, and where its next option is.
    bundle: Option<(&'a str, usize)>,
    /// Whether `--` was seen: every word after it is a leftover.
    rest_leftover: bool,
    done: bool,
}

impl<'a, S: AsRef<str>> Tokens<'a, S> {
    fn new(args: &'a [S]) -> Self {
        Tokens {
            args,
            next: 0,
            bundle: None,
            rest_leftover: false,
            done: false,
        }
    }

    fn fail(&mut self, message: String) -> Option<Event<'a>> {
        self.done = true;
        Some(Event::Error(message))
    }

    /// The argument of `spec` when it is not attached: the next word, if `spec` takes it.
    fn next_arg(&mut self, spec: &OptSpec) -> Result<Option<&'a str>, &'static str> {
        match self.args.get(self.next).map(AsRef::as_ref) {
            None if spec.arg == Arg::Required => Err("missing argument"),
            None => Ok(None),
            Some(a) if spec.arg == Arg::Optional && a.starts_with('-') => Ok(None),
            Some(a) => {
                self.next += 1;
                Ok(Some(a))
            }
        }
    }

    /// The long option `--name[=value]` of `word`.
    fn long(&mut self, word: &'a str, long: &'a str) -> Option<Event<'a>> {
        let (name, attached) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        let Some(spec) = OPTIONS.iter().find(|s| s.long == name) else {
            return self.fail(format!("unknown option {word}"));
        };
        let arg = match (spec.arg, attached) {
            (Arg::None, Some(_)) => {
                return self.fail(format!("option --{name} takes no argument"));
            }
            (_, Some(v)) => Some(v),
            (Arg::None, None) => None,
            (_, None) => match self.next_arg(spec) {
                Ok(a) => a,
                Err(e) => return self.fail(format!("{e} for --{name}")),
            },
        };
        Some(Event::Opt(spec.tag, OptName::Long(name), arg))
    }

    /// The short option at byte `pos` of `word` (a bundle such as `-Ln`), or the next
    /// event after the bundle when `pos` is its end.
    fn short(&mut self, word: &'a str, pos: usize) -> Option<Event<'a>> {
        let Some(c) = word.get(pos..).and_then(|rest| rest.chars().next()) else {
            return self.next();
        };
        let Some(spec) = short_option(c) else {
            return self.fail(format!("unknown option -{c} (in {word})"));
        };
        let after = pos + c.len_utf8();
        if spec.arg == Arg::None {
            self.bundle = Some((word, after));
            return Some(Event::Opt(spec.tag, OptName::Short(c), None));
        }
        // An option with an argument ends the bundle: the rest of the word is its argument.
        let rest = word.get(after..).unwrap_or("");
        let rest = rest.strip_prefix('=').unwrap_or(rest);
        let arg = if !rest.is_empty() {
            Some(rest)
        } else {
            match self.next_arg(spec) {
                Ok(a) => a,
                Err(e) => return self.fail(format!("{e} for -{c}")),
            }
        };
        Some(Event::Opt(spec.tag, OptName::Short(c), arg))
    }
}

impl<'a, S: AsRef<str>> Iterator for Tokens<'a, S> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        if self.done {
            return None;
        }
        if let Some((word, pos)) = self.bundle.take() {
            return self.short(word, pos);
        }
        loop {
            let word = self.args.get(self.next)?.as_ref();
            self.next += 1;
            if self.rest_leftover || !word.starts_with('-') || word == "-" {
                return Some(Event::Leftover(word));
            }
            if word == "--" {
                self.rest_leftover = true;
                continue;
            }
            return match word.strip_prefix("--") {
                Some(long) => self.long(word, long),
                None => self.short(word, 1),
            };
        }
    }
}

/// A virtual service as ipvsadm accumulates it while reading options (the names borrowed
/// from the arguments, already cut to the kernel's length).
#[derive(Debug, Clone, Copy)]
struct RawSvc<'a> {
    af: Option<AddressFamily>,
    protocol: Option<Protocol>,
    addr: Option<IpAddr>,
    port: u16,
    fwmark: u32,
    sched: &'a str,
    flags: u32,
    timeout: u32,
    /// The netmask word: an IPv4 mask (as its address) or an IPv6 prefix length.
    netmask: RawMask,
    pe: &'a str,
}

#[derive(Debug, Clone, Copy)]
enum RawMask {
    V4(Ipv4Addr),
    Len(i64),
}

#[derive(Debug, Clone)]
struct RawDest {
    af: Option<AddressFamily>,
    addr: Option<IpAddr>,
    port: u16,
    fwd: u32,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: u8,
    tun_port: u16,
    tun_flags: u16,
}

const F_PERSISTENT: u32 = 0x1;
const F_ONEPACKET: u32 = 0x4;
const FWD_MASQ: u32 = 0;
const FWD_TUNNEL: u32 = 2;
const FWD_DROUTE: u32 = 3;
const SERVICE_ADDR: u8 = 1;
const SERVICE_PORT: u8 = 2;

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port`, a bare IPv6 address; names through
/// `names`. Returns which parts were set.
fn parse_service(buf: &str, svc: &mut RawSvc<'_>, names: &dyn Names) -> u8 {
    if str_is_digit(buf) {
        return 0;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return 0;
        };
        let Some(p) = after.strip_prefix(':') else {
            return 0;
        };
        host = h;
        port = Some(p);
    }
    // An IPv6 address has two colons at least: `host:port` with an IPv4 address or a name
    // is not tried as one (the parser would read its IPv4 part first).
    let v6 = if host.bytes().filter(|&b| b == b':').nth(1).is_some() {
        host.parse::<Ipv6Addr>().ok()
    } else {
        None
    };
    if let Some(a6) = v6 {
        svc.addr = Some(IpAddr::V6(a6));
        svc.af = Some(AddressFamily::Inet6);
        svc.netmask = RawMask::Len(128);
    } else {
        // A bracketed host that is not IPv6 has lost its port (ipvsadm looks for the port
        // separator inside the brackets).
        port = None;
        if let Some((h, p)) = host.rsplit_once(':') {
            host = h;
            port = Some(p);
        }
        let a4 = inet_aton(host).or_else(|| names.host_v4(host));
        let Some(a4) = a4 else {
            return 0;
        };
        svc.addr = Some(IpAddr::V4(a4));
        svc.af = Some(AddressFamily::Inet);
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = port {
        result |= SERVICE_PORT;
        if let Some(n) = string_to_number(p, 0, 65535) {
            svc.port = n as u16;
        } else if let Some(n) = svc.protocol.and_then(|pr| names.port(p, pr)) {
            svc.port = n;
        } else {
            return 0;
        }
    }
    result
}

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

/// The options given on a command line, as a set of ipvsadm's option indices (`O_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Given(u64);

impl Given {
    /// Record option `o`; ipvsadm refuses an option given twice.
    fn set(&mut self, o: usize) -> Result<(), ArgError> {
        let bit = 1u64 << o;
        if self.0 & bit != 0 {
            return Err(bad(format!(
                "{} given more than once",
                OPT_NAMES.get(o).copied().unwrap_or("an option")
            )));
        }
        self.0 |= bit;
        Ok(())
    }

    fn has(self, o: usize) -> bool {
        self.0 & (1u64 << o) != 0
    }
}

/// The option table of each command ([`CMD_OPTS`]) as sets of option indices: the options
/// it needs ('+'), those it refuses ('x'), and those of which it takes at most one ('1').
const CMD_MASKS: [[u64; 3]; CMD_OPTS.len()] = {
    let mut masks = [[0u64; 3]; CMD_OPTS.len()];
    let mut c = 0;
    while c < CMD_OPTS.len() {
        let table = CMD_OPTS[c].as_bytes();
        assert!(table.len() == OPT_NAMES.len() && table.len() <= 64);
        let mut j = 0;
        while j < table.len() {
            let k = match table[j] {
                b'+' => 0,
                b'x' => 1,
                b'1' => 2,
                _ => 3,
            };
            if k < 3 {
                masks[c][k] |= 1u64 << j;
            }
            j += 1;
        }
        c += 1;
    }
    masks
};

/// Check the options given against the option table of `cmd`, as ipvsadm does: the first
/// option (in ipvsadm's order) that is missing, refused or exclusive of an earlier one.
fn check_options(cmd: Cmd, given: Given) -> Result<(), ArgError> {
    let [needed, refused, one_of] = CMD_MASKS.get(cmd as usize).copied().unwrap_or_default();
    if needed & !given.0 == 0 && refused & given.0 == 0 && (one_of & given.0).count_ones() <= 1 {
        return Ok(());
    }
    // Something is wrong: find what to say, in the table's order.
    let table = cmd.table();
    let mut exclusive: Option<usize> = None;
    for j in 0..OPT_NAMES.len() {
        let rule = table.get(j).copied().unwrap_or(b'x');
        let oname = || OPT_NAMES.get(j).copied().unwrap_or("an option");
        if !given.has(j) {
            if rule == b'+' {
                return Err(bad(format!("{} needs {}", cmd.name(), oname())));
            }
            continue;
        }
        match rule {
            b'x' => {
                return Err(bad(format!(
                    "{} cannot be used with {}",
                    oname(),
                    cmd.name()
                )))
            }
            b'1' => {
                if let Some(prev) = exclusive {
                    return Err(bad(format!(
                        "{} and {} cannot be used together with {}",
                        oname(),
                        OPT_NAMES.get(prev).copied().unwrap_or("another option"),
                        cmd.name()
                    )));
                }
                exclusive = Some(j);
            }
            _ => {}
        }
    }
    Ok(())
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
        return Ok(Command::List(ListRequest {
            what: ListWhat::All,
            options: ListOptions::new(),
            persistent_conn: false,
        }));
    }
    let mut iter = Tokens::new(args);
    let mut leftovers: Vec<&str> = Vec::new();

    // The first option must be the command.
    let (first_tag, first_name, first_arg) = loop {
        match iter.next() {
            None => {
                return Err(unreadable(
                    "no command given (the first option must be a command such as -A, -a, -L)",
                ))
            }
            Some(Event::Leftover(l)) => leftovers.push(l),
            Some(Event::Error(e)) => return Err(unreadable(e)),
            Some(Event::Opt(t, n, a)) => break (t, n, a),
        }
    };
    let daemon_state = |arg: Option<&str>, what: &str| -> Result<DaemonState, ArgError> {
        match arg {
            Some("master") => Ok(DaemonState::Master),
            Some("backup") => Ok(DaemonState::Backup),
            other => Err(bad(format!(
                "{what} needs 'master' or 'backup', not '{}'",
                other.unwrap_or("")
            ))),
        }
    };
    let mut state = None;
    let cmd = match first_tag {
        Tag::Cmd(Cmd::Restore) if in_restore => {
            return Err(unreadable("-R cannot be used inside restore input"))
        }
        Tag::Cmd(c) => c,
        Tag::StartDaemon => {
            state = Some(daemon_state(first_arg, "--start-daemon")?);
            Cmd::StartDaemon
        }
        Tag::StopDaemon => {
            state = Some(daemon_state(first_arg, "--stop-daemon")?);
            Cmd::StopDaemon
        }
        Tag::Help => return Ok(Command::Help),
        Tag::Version => return Ok(Command::Version),
        _ => {
            return Err(unreadable(format!(
            "{first_name} is not a command: the first option must be a command such as -A, -a, -L"
        )))
        }
    };

    let mut svc = RawSvc {
        af: None,
        protocol: None,
        addr: None,
        port: 0,
        fwmark: 0,
        sched: "",
        flags: 0,
        timeout: 0,
        netmask: RawMask::V4(Ipv4Addr::BROADCAST),
        pe: "",
    };
    let mut dest = RawDest {
        af: None,
        addr: None,
        port: 0,
        fwd: FWD_DROUTE,
        weight: 1,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: 0,
        tun_port: 0,
        tun_flags: 0,
    };
    let mut daemon = Daemon {
        state: state.unwrap_or(DaemonState::Master),
        interface: String::new(),
        sync_id: 0,
        max_len: None,
        group: None,
        port: None,
        ttl: None,
    };
    let mut given = Given::default();
    let mut sched_flags_arg: Option<&str> = None;
    let mut list = ListOptions::new();
    let mut fmt = [false; 5]; // stats, rate, thresholds, persistent-conn, tun-info

    for ev in iter {
        let (tag, name, arg) = match ev {
            Event::Leftover(l) => {
                leftovers.push(l);
                continue;
            }
            Event::Error(e) => return Err(unreadable(e)),
            Event::Opt(t, n, a) => (t, n, a),
        };
        let a = arg.unwrap_or_default();
        match tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp => {
                given.set(O_SERVICE)?;
                svc.protocol = Some(match tag {
                    Tag::Tcp => Protocol::Tcp,
                    Tag::Udp => Protocol::Udp,
                    _ => Protocol::Sctp,
                });
                if parse_service(a, &mut svc, names) & SERVICE_ADDR == 0 {
                    return Err(bad(format!(
                        "{name}: '{a}' is not a virtual service address[:port]"
                    )));
                }
            }
            Tag::Fwmark => {
                given.set(O_SERVICE)?;
                svc.af = Some(AddressFamily::Inet);
                svc.protocol = Some(Protocol::Tcp);
                svc.fwmark = parse_fwmark(a).ok_or_else(|| {
                    bad(format!(
                        "{name}: '{a}' is not a firewall mark (1..4294967295)"
                    ))
                })?;
            }
            Tag::Scheduler => {
                given.set(O_SCHEDULER)?;
                svc.sched = truncated(a, 15);
            }
            Tag::Persistent => {
                given.set(O_PERSISTENT)?;
                svc.flags |= F_PERSISTENT;
                svc.timeout = parse_timeout(
                    arg,
                    1,
                    i64::from(Persistence::MAX_TIMEOUT),
                    "-p/--persistent",
                )?;
            }
            Tag::Netmask => {
                given.set(O_NETMASK)?;
                if svc.af != Some(AddressFamily::Inet6) {
                    let m = inet_aton(a)
                        .or_else(|| names.host_v4(a))
                        .ok_or_else(|| bad(format!("{name}: '{a}' is not an IPv4 netmask")))?;
                    svc.netmask = RawMask::V4(m);
                } else {
                    let len = atoi(a);
                    if !(1..=128).contains(&len) {
                        return Err(bad(format!(
                            "{name}: '{a}' is not an IPv6 prefix length (1..128)"
                        )));
                    }
                    svc.netmask = RawMask::Len(len);
                }
            }
            Tag::Server => {
                given.set(O_SERVER)?;
                let mut t = svc;
                let parsed = parse_service(a, &mut t, names);
                dest.af = t.af;
                dest.addr = t.addr;
                dest.port = t.port;
                if parsed & SERVICE_ADDR == 0 {
                    return Err(bad(format!(
                        "{name}: '{a}' is not a real server address[:port]"
                    )));
                }
                if parsed == SERVICE_ADDR {
                    dest.port = svc.port;
                }
            }
            Tag::Ipip | Tag::Gate | Tag::Masq => {
                given.set(O_FORWARD)?;
                dest.fwd = match tag {
                    Tag::Ipip => FWD_TUNNEL,
                    Tag::Gate => FWD_DROUTE,
                    _ => FWD_MASQ,
                };
            }
            Tag::Weight => {
                given.set(O_WEIGHT)?;
                // ipvsadm takes any int here; the kernel keeps it.
                dest.weight = string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| bad(format!("{name}: '{a}' is not a weight (0..2147483647)")))?
                    as u32;
            }
            Tag::UThreshold | Tag::LThreshold => {
                let upper = tag == Tag::UThreshold;
                given.set(if upper { O_UTHRESHOLD } else { O_LTHRESHOLD })?;
                let v = string_to_number(a, 0, i64::from(i32::MAX)).ok_or_else(|| {
                    bad(format!(
                        "{name}: '{a}' is not a connection threshold (0..2147483647)"
                    ))
                })? as u32;
                if upper {
                    dest.u_threshold = v;
                } else {
                    dest.l_threshold = v;
                }
            }
            Tag::Connection => given.set(O_CONNECTION)?,
            Tag::Numeric => {
                given.set(O_NUMERIC)?;
                list.numeric = true;
            }
            Tag::McastIfn => {
                given.set(O_MCAST)?;
                daemon.interface = truncated(a, 15).to_owned();
            }
            Tag::SyncId => {
                given.set(O_SYNCID)?;
                daemon.sync_id = string_to_number(a, 0, 255)
                    .ok_or_else(|| bad(format!("{name}: '{a}' is not a sync id (0..255)")))?
                    as u32;
            }
            Tag::Timeout => given.set(O_TIMEOUT)?,
            Tag::Daemon => given.set(O_DAEMON)?,
            Tag::Stats => {
                given.set(O_STATS)?;
                fmt[0] = true;
            }
            Tag::Rate => {
                given.set(O_RATE)?;
                fmt[1] = true;
            }
            Tag::Thresholds => {
                given.set(O_THRESHOLDS)?;
                fmt[2] = true;
            }
            Tag::PersistentConn => {
                given.set(O_PERSISTENTCONN)?;
                fmt[3] = true;
            }
            Tag::NoSort => {
                given.set(O_NOSORT)?;
                list.sort = false;
            }
            Tag::Sort => {}
            Tag::Exact => {
                given.set(O_EXACT)?;
                list.exact = true;
            }
            Tag::Ipv6 => {
                if svc.fwmark == 0 {
                    return Err(bad("-6/--ipv6 must come after -f/--fwmark-service"));
                }
                svc.af = Some(AddressFamily::Inet6);
                svc.netmask = RawMask::Len(128);
            }
            Tag::Ops => {
                given.set(O_ONEPACKET)?;
                svc.flags |= F_ONEPACKET;
            }
            Tag::Pe => {
                given.set(O_PE)?;
                svc.pe = truncated(a, 15);
            }
            Tag::SchedFlags => {
                given.set(O_SCHED_FLAGS)?;
                sched_flags_arg = Some(truncated(a, 127));
            }
            Tag::McastGroup => {
                given.set(O_MCAST_GROUP)?;
                let g: Option<IpAddr> = if a.contains(':') {
                    a.parse::<Ipv6Addr>()
                        .ok()
                        .filter(|g| g.is_multicast())
                        .map(IpAddr::V6)
                } else {
                    a.parse::<Ipv4Addr>()
                        .ok()
                        .filter(|g| g.is_multicast())
                        .map(IpAddr::V4)
                };
                daemon.group = Some(g.ok_or_else(|| {
                    bad(format!("{name}: '{a}' is not a multicast group address"))
                })?);
            }
            Tag::McastPort => {
                given.set(O_MCAST_PORT)?;
                daemon.port = Some(
                    string_to_number(a, 1, 65535)
                        .ok_or_else(|| bad(format!("{name}: '{a}' is not a port (1..65535)")))?
                        as u16,
                );
            }
            Tag::McastTtl => {
                given.set(O_MCAST_TTL)?;
                daemon.ttl = Some(
                    string_to_number(a, 1, 255)
                        .ok_or_else(|| bad(format!("{name}: '{a}' is not a TTL (1..255)")))?
                        as u8,
                );
            }
            Tag::SyncMaxlen => {
                given.set(O_SYNC_MAXLEN)?;
                daemon.max_len = Some(string_to_number(a, 1, 65535 - 20 - 8).ok_or_else(|| {
                    bad(format!("{name}: '{a}' is not a message length (1..65507)"))
                })? as u16);
            }
            Tag::TunInfo => {
                given.set(O_TUN_INFO)?;
                fmt[4] = true;
            }
            Tag::TunType => {
                given.set(O_TUN_TYPE)?;
                dest.tun_type = match a {
                    "ipip" => 0,
                    "gue" => 1,
                    "gre" => 2,
                    _ => {
                        return Err(bad(format!(
                            "{name}: '{a}' is not a tunnel type (ipip, gue, gre)"
                        )))
                    }
                };
            }
            Tag::TunPort => {
                given.set(O_TUN_PORT)?;
                dest.tun_port = string_to_number(a, 1, 65535)
                    .ok_or_else(|| bad(format!("{name}: '{a}' is not a port (1..65535)")))?
                    as u16;
            }
            Tag::TunNocsum => given.set(O_TUN_NOCSUM)?,
            Tag::TunCsum => {
                given.set(O_TUN_CSUM)?;
                dest.tun_flags |= 1;
            }
            Tag::TunRemcsum => {
                given.set(O_TUN_REMCSUM)?;
                dest.tun_flags |= 2;
            }
            Tag::Cmd(_) | Tag::Help | Tag::Version | Tag::StartDaemon | Tag::StopDaemon => {
                return Err(bad(format!(
                    "{name} is a second command: give one command per line"
                )))
            }
        }
    }

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

    // Only a service command needs the scheduler (ipvsadm's default is wlc).
    let scheduler = || {
        Scheduler::from_name(if svc.sched.is_empty() {
            "wlc"
        } else {
            svc.sched
        })
    };
    let mut sched_flags = SchedFlags::empty();
    if let Some(list_arg) = sched_flags_arg.filter(|s| !s.is_empty()) {
        let scheduler = scheduler();
        for flag in list_arg.split(',').filter(|f| !f.is_empty()) {
            sched_flags |= SchedFlags::from_ipvsadm_name(flag, &scheduler).map_err(|_| {
                bad(format!(
                    "-b/--sched-flags: '{flag}' is not a flag of scheduler {scheduler}"
                ))
            })?;
        }
    }

    check_options(cmd, given)?;

    let has = |o: usize| given.has(o);
    let id = || -> Result<ServiceId, ArgError> {
        if svc.fwmark != 0 {
            return Ok(ServiceId::Fwmark {
                af: svc.af.unwrap_or(AddressFamily::Inet),
                mark: svc.fwmark,
            });
        }
        let addr = svc
            .addr
            .ok_or_else(|| bad("a virtual service address is missing"))?;
        Ok(ServiceId::Addr {
            protocol: svc.protocol.unwrap_or(Protocol::Tcp),
            addr: SocketAddr::new(addr, svc.port),
        })
    };

    match cmd {
        Cmd::Add | Cmd::Edit => {
            if svc.fwmark == 0 && svc.port == 0 && svc.flags & F_PERSISTENT == 0 {
                return Err(bad("port 0 (any port) needs a persistent service (-p)"));
            }
            if svc.flags & F_ONEPACKET != 0
                && svc.fwmark == 0
                && svc.protocol != Some(Protocol::Udp)
            {
                return Err(bad(
                    "-o/--ops (one-packet scheduling) is for UDP services only",
                ));
            }
            let id = id()?;
            let af = id.af();
            let netmask = match (af, svc.netmask) {
                (_, RawMask::V4(m)) => Netmask::V4(m),
                (_, RawMask::Len(l)) => Netmask::V6(u8::try_from(l).unwrap_or(0)),
            };
            let persistence = (svc.flags & F_PERSISTENT != 0).then_some(Persistence {
                timeout: svc.timeout,
                netmask,
            });
            let full = Netmask::full(af);
            let service = Service {
                id,
                scheduler: scheduler(),
                sched_flags,
                persistence,
                one_packet: svc.flags & F_ONEPACKET != 0,
                pe: (!svc.pe.is_empty()).then(|| PersistenceEngine::from_name(svc.pe)),
                other_flags: ServiceFlags::empty(),
                raw_netmask: (persistence.is_none() && netmask != full).then_some(netmask),
                raw_timeout: 0,
                stats: None,
            };
            Ok(if cmd == Cmd::Add {
                Command::Write(Op::AddService(service))
            } else {
                Command::Write(Op::UpdateService(service))
            })
        }
        Cmd::AddDest | Cmd::EditDest => {
            if svc.fwmark == 0 && (dest.fwd == FWD_TUNNEL || dest.fwd == FWD_DROUTE) {
                dest.port = svc.port;
            }
            if dest.af != svc.af && dest.fwd != FWD_TUNNEL {
                return Err(bad(
                    "a real server of the other address family needs tunnelling (-i)",
                ));
            }
            let tun_opts = [
                O_TUN_TYPE,
                O_TUN_PORT,
                O_TUN_NOCSUM,
                O_TUN_CSUM,
                O_TUN_REMCSUM,
            ];
            if tun_opts.iter().any(|o| has(*o)) && dest.fwd != FWD_TUNNEL {
                return Err(bad("tunnel options (--tun-*) need tunnelling (-i)"));
            }
            // Which tunnel options each tunnel type takes (port, nocsum, csum, remcsum).
            let (tname, rules): (&str, &[u8; 4]) = match dest.tun_type {
                1 => ("gue", b"+111"),
                2 => ("gre", b"x11x"),
                _ => ("ipip", b"xxxx"),
            };
            let mut seen: Option<usize> = None;
            for (k, o) in [O_TUN_PORT, O_TUN_NOCSUM, O_TUN_CSUM, O_TUN_REMCSUM]
                .iter()
                .enumerate()
            {
                let rule = rules.get(k).copied().unwrap_or(b'x');
                let oname = OPT_NAMES.get(*o).copied().unwrap_or("an option");
                if !has(*o) {
                    if rule == b'+' {
                        return Err(bad(format!("tunnel type {tname} needs {oname}")));
                    }
                    continue;
                }
                if rule == b'x' {
                    return Err(bad(format!(
                        "{oname} cannot be used with tunnel type {tname}"
                    )));
                }
                if rule == b'1' {
                    if let Some(prev) = seen {
                        return Err(bad(format!(
                            "{oname} and {} cannot be used together",
                            OPT_NAMES.get(prev).copied().unwrap_or("another option")
                        )));
                    }
                    seen = Some(*o);
                }
            }
            let id = id()?;
            let addr = dest
                .addr
                .ok_or_else(|| bad("a real server address is missing"))?;
            let forward = match dest.fwd {
                FWD_MASQ => ForwardMethod::Masquerade,
                FWD_TUNNEL => ForwardMethod::Tunnel(Tunnel {
                    kind: TunnelType::from_code(dest.tun_type),
                    port: dest.tun_port,
                    flags: TunnelFlags::from_bits_retain(dest.tun_flags),
                }),
                _ => ForwardMethod::DirectRoute,
            };
            let d = Destination {
                addr,
                port: dest.port,
                forward,
                weight: dest.weight,
                upper_threshold: dest.u_threshold,
                lower_threshold: dest.l_threshold,
                counters: None,
                stats: None,
            };
            Ok(if cmd == Cmd::AddDest {
                Command::Write(Op::AddDestination(id, d))
            } else {
                Command::Write(Op::UpdateDestination(id, d))
            })
        }
        Cmd::DelDest => {
            let addr = dest
                .addr
                .ok_or_else(|| bad("a real server address is missing"))?;
            Ok(Command::Write(Op::DeleteDestination(
                id()?,
                SocketAddr::new(addr, dest.port),
            )))
        }
        Cmd::Del => Ok(Command::Write(Op::DeleteService(id()?))),
        Cmd::Flush => Ok(Command::Write(Op::Flush)),
        Cmd::Zero => {
            if !has(O_SERVICE) {
                return Ok(Command::Write(Op::Zero(None)));
            }
            let id = id()?;
            let all = matches!(id, ServiceId::Addr { addr, .. } if addr.ip().is_unspecified() && addr.port() == 0);
            Ok(Command::Write(Op::Zero(if all { None } else { Some(id) })))
        }
        Cmd::List => {
            if (has(O_CONNECTION) || has(O_TIMEOUT) || has(O_DAEMON))
                && (has(O_STATS) || has(O_RATE) || has(O_THRESHOLDS))
                || (has(O_TIMEOUT) || has(O_DAEMON)) && has(O_PERSISTENTCONN)
            {
                return Err(bad(
                    "these listing options do not go together (-c/--timeout/--daemon with --stats/--rate/--thresholds/--persistent-conn)",
                ));
            }
            list.format = if fmt[0] {
                ListFormat::Stats
            } else if fmt[1] {
                ListFormat::Rate
            } else if fmt[2] {
                ListFormat::Thresholds
            } else if fmt[3] {
                ListFormat::PersistentConn
            } else if fmt[4] {
                ListFormat::TunInfo
            } else {
                ListFormat::Default
            };
            let what = if has(O_CONNECTION) {
                ListWhat::Connections
            } else if has(O_SERVICE) {
                ListWhat::Service(id()?)
            } else if has(O_TIMEOUT) {
                ListWhat::Timeouts
            } else if has(O_DAEMON) {
                ListWhat::Daemons
            } else {
                ListWhat::All
            };
            Ok(Command::List(ListRequest {
                what,
                options: list,
                persistent_conn: fmt[3],
            }))
        }
        Cmd::Restore => Ok(Command::Restore),
        Cmd::Save => Ok(Command::Save {
            numeric: list.numeric,
        }),
        Cmd::Timeout => Ok(Command::Write(Op::SetTimeouts(timeouts))),
        Cmd::StartDaemon => {
            if daemon.interface.is_empty() {
                daemon.interface = "eth0".to_owned();
            }
            Ok(Command::Write(Op::StartDaemon(daemon)))
        }
        Cmd::StopDaemon => Ok(Command::Write(Op::StopDaemon(daemon.state))),
    }
}

#[cfg(test)]
mod corpus;

#[cfg(test)]
mod tests {
    use super::super::names::NoNames;
    use super::*;

    fn p(line: &str) -> Result<Command, ArgError> {
        let v: Vec<&str> = line.split_whitespace().collect();
        parse_args(&v, &NoNames, false)
    }

    #[test]
    fn short_options_are_found_as_a_search_of_the_table_finds_them() {
        for c in (0..=0x2ffu32).filter_map(char::from_u32) {
            let searched = OPTIONS.iter().find(|s| s.short == Some(c)).map(|s| s.long);
            assert_eq!(short_option(c).map(|s| s.long), searched, "{c:?}");
        }
    }

    /// Each event as a word: `Opt(tag,name,arg)`, `Left(word)` or `Err(message)`.
    fn events(line: &str) -> Vec<String> {
        let v: Vec<&str> = line.split(' ').collect();
        Tokens::new(&v)
            .map(|e| match e {
                Event::Opt(t, n, a) => format!("{t:?},{n},{}", a.unwrap_or("-")),
                Event::Leftover(w) => format!("Left({w})"),
                Event::Error(m) => format!("Err({m})"),
            })
            .collect()
    }

    #[test]
    fn tokens_read_bundles_attached_arguments_and_the_end_of_options() {
        assert_eq!(
            events("-Ln -t10.0.0.1:80 --weight=3 -w 4 -p -x 5 x -- -a"),
            [
                "Cmd(List),-L,-",
                "Numeric,-n,-",
                "Tcp,-t,10.0.0.1:80",
                "Weight,--weight,3",
                "Weight,-w,4",
                // An optional argument is not taken from a word that starts with '-'.
                "Persistent,-p,-",
                "UThreshold,-x,5",
                "Left(x)",
                "Left(-a)",
            ]
        );
        // An option with an argument ends its bundle; `=` after a short option is skipped.
        assert_eq!(
            events("-nt=a:1 -Lp - -p 60"),
            [
                "Numeric,-n,-",
                "Tcp,-t,a:1",
                "Cmd(List),-L,-",
                "Persistent,-p,-",
                "Left(-)",
                "Persistent,-p,60",
            ]
        );
        // Nothing follows an error.
        assert_eq!(
            events("-nq -L"),
            ["Numeric,-n,-", "Err(unknown option -q (in -nq))"]
        );
        assert_eq!(
            events("-A --ipip=1 -L"),
            ["Cmd(Add),-A,-", "Err(option --ipip takes no argument)"]
        );
        assert_eq!(
            events("-A -t"),
            ["Cmd(Add),-A,-", "Err(missing argument for -t)"]
        );
        assert_eq!(events("--weight"), ["Err(missing argument for --weight)"]);
        assert_eq!(events("--nope -A"), ["Err(unknown option --nope)"]);
    }

    proptest::proptest! {
        /// The option-table check of each command agrees with the table read one option at
        /// a time: every '+' given, no 'x' given, at most one '1' given.
        #[test]
        fn option_table_masks_agree_with_the_table(c in 0usize..CMD_OPTS.len(), bits in 0u64..(1 << 34)) {
            let cmds = [
                Cmd::Add, Cmd::Edit, Cmd::Del, Cmd::Flush, Cmd::List, Cmd::AddDest, Cmd::DelDest,
                Cmd::EditDest, Cmd::Timeout, Cmd::StartDaemon, Cmd::StopDaemon, Cmd::Restore,
                Cmd::Save, Cmd::Zero,
            ];
            let cmd = cmds[c];
            proptest::prop_assert_eq!(cmd as usize, c);
            // Mostly sets the command takes, so that the good case is not rare.
            let table = CMD_OPTS[c].as_bytes();
            let allowed: u64 = (0..34).filter(|&j| table[j] != b'x').map(|j| 1u64 << j).sum();
            for given in [bits, bits & allowed] {
                let ok = (0..34).all(|j| {
                    let has = given & (1 << j) != 0;
                    (table[j] != b'+' || has) && (table[j] != b'x' || !has)
                }) && (0..34).filter(|&j| table[j] == b'1' && given & (1 << j) != 0).count() <= 1;
                let res = check_options(cmd, Given(given));
                proptest::prop_assert_eq!(res.is_ok(), ok, "{:?} {:#x}: {:?}", cmd, given, res);
            }
        }
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
