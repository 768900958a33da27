//! ipvsadm's options: the one table of them (names, argument, the option each one sets and
//! which commands take it, after ipvsadm's `commands_v_options`), the check of a command's
//! options against it, and the reader that splits a command line into options as popt does.

use bitflags::bitflags;

use super::{bad, ArgError};

bitflags! {
    /// The options given on a command line, as ipvsadm counts them (its `OPT_*` bits, in
    /// its order: the order in which [`check_options`] reports a wrong one).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub(super) struct Opt: u64 {
        const NUMERIC = 1 << 0;
        const CONNECTION = 1 << 1;
        const SERVICE = 1 << 2;
        const SCHEDULER = 1 << 3;
        const PERSISTENT = 1 << 4;
        const NETMASK = 1 << 5;
        const SERVER = 1 << 6;
        const FORWARD = 1 << 7;
        const WEIGHT = 1 << 8;
        const UTHRESHOLD = 1 << 9;
        const LTHRESHOLD = 1 << 10;
        const MCAST = 1 << 11;
        const TIMEOUT = 1 << 12;
        const DAEMON = 1 << 13;
        const STATS = 1 << 14;
        const RATE = 1 << 15;
        const THRESHOLDS = 1 << 16;
        const PERSISTENTCONN = 1 << 17;
        const NOSORT = 1 << 18;
        const SYNCID = 1 << 19;
        const EXACT = 1 << 20;
        const ONEPACKET = 1 << 21;
        const PE = 1 << 22;
        const SCHED_FLAGS = 1 << 23;
        const MCAST_GROUP = 1 << 24;
        const MCAST_PORT = 1 << 25;
        const MCAST_TTL = 1 << 26;
        const SYNC_MAXLEN = 1 << 27;
        const TUN_INFO = 1 << 28;
        const TUN_TYPE = 1 << 29;
        const TUN_PORT = 1 << 30;
        const TUN_NOCSUM = 1 << 31;
        const TUN_CSUM = 1 << 32;
        const TUN_REMCSUM = 1 << 33;
    }
}

impl Opt {
    /// How messages name this option (one of them, if several are set): the `shown` name of
    /// the first table entry that sets it.
    pub(super) fn name(self) -> &'static str {
        OPTIONS
            .iter()
            .find(|s| !s.flag.is_empty() && self.contains(s.flag))
            .map_or("an option", |s| s.shown)
    }

    /// Record this option as given; ipvsadm refuses an option given twice. (The entries
    /// that set no option, `-6` and `--sort`, may be repeated.)
    pub(super) fn add_to(self, given: &mut Opt) -> Result<(), ArgError> {
        if given.intersects(self) {
            return Err(bad(format!("{} given more than once", self.name())));
        }
        *given |= self;
        Ok(())
    }
}

/// ipvsadm's commands, in the order of the columns of [`OptSpec::rules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmd {
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
    /// Every command, in column order.
    pub(super) const ALL: [Cmd; 14] = [
        Cmd::Add,
        Cmd::Edit,
        Cmd::Del,
        Cmd::Flush,
        Cmd::List,
        Cmd::AddDest,
        Cmd::DelDest,
        Cmd::EditDest,
        Cmd::Timeout,
        Cmd::StartDaemon,
        Cmd::StopDaemon,
        Cmd::Restore,
        Cmd::Save,
        Cmd::Zero,
    ];

    /// How messages name the command.
    pub(super) fn name(self) -> &'static str {
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
}

/// What an entry of the table does when it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
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

impl Tag {
    /// Whether the entry is a command (the first option of a line, and only that).
    pub(super) fn is_command(self) -> bool {
        matches!(
            self,
            Tag::Cmd(_) | Tag::Help | Tag::Version | Tag::StartDaemon | Tag::StopDaemon
        )
    }
}

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arg {
    None,
    Required,
    /// Taken from the next word only if that does not start with `-`.
    Optional,
}

/// One entry of the option table.
#[derive(Debug)]
pub(super) struct OptSpec {
    /// The long name (`--weight`), without the dashes.
    pub(super) long: &'static str,
    /// The short name (`-w`).
    pub(super) short: Option<char>,
    /// Whether it takes an argument.
    pub(super) arg: Arg,
    /// What it does.
    pub(super) tag: Tag,
    /// The option it counts as (empty for the commands, `-6` and `--sort`).
    pub(super) flag: Opt,
    /// How messages name that option.
    pub(super) shown: &'static str,
    /// What each command (in [`Cmd`] order: A E D C L a d e set start stop R S Z) says of
    /// that option, as ipvsadm's `commands_v_options`: '+' needed, 'x' refused, '1' at most
    /// one of these, '.' optional. Empty when `flag` is.
    pub(super) rules: &'static str,
}

// The command columns of the options that several entries set.
const SERVICE: (Opt, &str, &str) = (
    Opt::SERVICE,
    "a virtual service (-t/-u/--sctp-service/-f)",
    "+++x1+++xxxxx.",
);
const FORWARD: (Opt, &str, &str) = (
    Opt::FORWARD,
    "a forwarding method (-g/-i/-m)",
    "xxxxx.x.xxxxxx",
);
/// An option that only a service command (-A/-E) takes.
const SVC: &str = "..xxxxxxxxxxxx";
/// An option that only a real-server write (-a/-e) takes.
const DEST: &str = "xxxxx.x.xxxxxx";
/// An option that only a listing takes.
const LIST: &str = "xxxx.xxxxxxxxx";
/// An option that only --start-daemon takes.
const DAEMON: &str = "xxxxxxxxx.xxxx";

const fn command(long: &'static str, short: Option<char>, tag: Tag) -> OptSpec {
    OptSpec {
        long,
        short,
        arg: Arg::None,
        tag,
        flag: Opt::empty(),
        shown: "",
        rules: "",
    }
}

const fn option(
    long: &'static str,
    short: Option<char>,
    arg: Arg,
    tag: Tag,
    (flag, shown, rules): (Opt, &'static str, &'static str),
) -> OptSpec {
    OptSpec {
        long,
        short,
        arg,
        tag,
        flag,
        shown,
        rules,
    }
}

use Arg::{None as N, Optional as O, Required as R};

/// Every option ipvsadm knows, in the order of its popt table (a short name is looked up as
/// a search of this table would find it: the first entry with it).
#[rustfmt::skip]
pub(super) const OPTIONS: &[OptSpec] = &[
    command("add-service", Some('A'), Tag::Cmd(Cmd::Add)),
    command("edit-service", Some('E'), Tag::Cmd(Cmd::Edit)),
    command("delete-service", Some('D'), Tag::Cmd(Cmd::Del)),
    command("clear", Some('C'), Tag::Cmd(Cmd::Flush)),
    command("list", Some('L'), Tag::Cmd(Cmd::List)),
    command("list", Some('l'), Tag::Cmd(Cmd::List)),
    command("zero", Some('Z'), Tag::Cmd(Cmd::Zero)),
    command("add-server", Some('a'), Tag::Cmd(Cmd::AddDest)),
    command("edit-server", Some('e'), Tag::Cmd(Cmd::EditDest)),
    command("delete-server", Some('d'), Tag::Cmd(Cmd::DelDest)),
    command("set", None, Tag::Cmd(Cmd::Timeout)),
    command("help", Some('h'), Tag::Help),
    command("version", Some('v'), Tag::Version),
    command("restore", Some('R'), Tag::Cmd(Cmd::Restore)),
    command("save", Some('S'), Tag::Cmd(Cmd::Save)),
    OptSpec { arg: R, ..command("start-daemon", None, Tag::StartDaemon) },
    OptSpec { arg: R, ..command("stop-daemon", None, Tag::StopDaemon) },
    option("tcp-service", Some('t'), R, Tag::Tcp, SERVICE),
    option("udp-service", Some('u'), R, Tag::Udp, SERVICE),
    option("sctp-service", None, R, Tag::Sctp, SERVICE),
    option("fwmark-service", Some('f'), R, Tag::Fwmark, SERVICE),
    option("scheduler", Some('s'), R, Tag::Scheduler, (Opt::SCHEDULER, "-s/--scheduler", SVC)),
    option("persistent", Some('p'), O, Tag::Persistent, (Opt::PERSISTENT, "-p/--persistent", SVC)),
    option("netmask", Some('M'), R, Tag::Netmask, (Opt::NETMASK, "-M/--netmask", SVC)),
    option("real-server", Some('r'), R, Tag::Server, (Opt::SERVER, "-r/--real-server", "xxxxx+++xxxxxx")),
    option("masquerading", Some('m'), N, Tag::Masq, FORWARD),
    option("ipip", Some('i'), N, Tag::Ipip, FORWARD),
    option("gatewaying", Some('g'), N, Tag::Gate, FORWARD),
    option("weight", Some('w'), R, Tag::Weight, (Opt::WEIGHT, "-w/--weight", DEST)),
    option("u-threshold", Some('x'), R, Tag::UThreshold, (Opt::UTHRESHOLD, "-x/--u-threshold", DEST)),
    option("l-threshold", Some('y'), R, Tag::LThreshold, (Opt::LTHRESHOLD, "-y/--l-threshold", DEST)),
    option("numeric", Some('n'), N, Tag::Numeric, (Opt::NUMERIC, "-n/--numeric", "xxxx.xxxxxxx.x")),
    option("connection", Some('c'), N, Tag::Connection, (Opt::CONNECTION, "-c/--connection", "xxxx1xxxxxxxxx")),
    option("mcast-interface", None, R, Tag::McastIfn, (Opt::MCAST, "--mcast-interface", DAEMON)),
    option("syncid", None, R, Tag::SyncId, (Opt::SYNCID, "--syncid", "xxxx.xxxx..xxx")),
    option("timeout", None, N, Tag::Timeout, (Opt::TIMEOUT, "--timeout", "xxxx1xxxxxxxxx")),
    option("daemon", None, N, Tag::Daemon, (Opt::DAEMON, "--daemon", "xxxx1xxxxxxxxx")),
    option("stats", None, N, Tag::Stats, (Opt::STATS, "--stats", LIST)),
    option("rate", None, N, Tag::Rate, (Opt::RATE, "--rate", LIST)),
    option("thresholds", None, N, Tag::Thresholds, (Opt::THRESHOLDS, "--thresholds", LIST)),
    option("persistent-conn", None, N, Tag::PersistentConn, (Opt::PERSISTENTCONN, "--persistent-conn", LIST)),
    option("nosort", None, N, Tag::NoSort, (Opt::NOSORT, "--nosort", LIST)),
    option("sort", None, N, Tag::Sort, (Opt::empty(), "", "")),
    option("exact", Some('X'), N, Tag::Exact, (Opt::EXACT, "-X/--exact", LIST)),
    option("ipv6", Some('6'), N, Tag::Ipv6, (Opt::empty(), "", "")),
    option("ops", Some('o'), N, Tag::Ops, (Opt::ONEPACKET, "-o/--ops", SVC)),
    option("pe", None, R, Tag::Pe, (Opt::PE, "--pe", SVC)),
    option("sched-flags", Some('b'), R, Tag::SchedFlags, (Opt::SCHED_FLAGS, "-b/--sched-flags", SVC)),
    option("mcast-group", None, R, Tag::McastGroup, (Opt::MCAST_GROUP, "--mcast-group", DAEMON)),
    option("mcast-port", None, R, Tag::McastPort, (Opt::MCAST_PORT, "--mcast-port", DAEMON)),
    option("mcast-ttl", None, R, Tag::McastTtl, (Opt::MCAST_TTL, "--mcast-ttl", DAEMON)),
    option("sync-maxlen", None, R, Tag::SyncMaxlen, (Opt::SYNC_MAXLEN, "--sync-maxlen", DAEMON)),
    option("tun-info", None, N, Tag::TunInfo, (Opt::TUN_INFO, "--tun-info", LIST)),
    option("tun-type", None, R, Tag::TunType, (Opt::TUN_TYPE, "--tun-type", DEST)),
    option("tun-port", None, R, Tag::TunPort, (Opt::TUN_PORT, "--tun-port", DEST)),
    option("tun-nocsum", None, N, Tag::TunNocsum, (Opt::TUN_NOCSUM, "--tun-nocsum", DEST)),
    option("tun-csum", None, N, Tag::TunCsum, (Opt::TUN_CSUM, "--tun-csum", DEST)),
    option("tun-remcsum", None, N, Tag::TunRemcsum, (Opt::TUN_REMCSUM, "--tun-remcsum", DEST)),
];

/// The rule of the table for `cmd` and the entry `spec` ('.' when it has none).
fn rule(spec: &OptSpec, cmd: Cmd) -> u8 {
    spec.rules
        .as_bytes()
        .get(cmd as usize)
        .copied()
        .unwrap_or(b'.')
}

/// The table's column for each command as option sets: the options it needs ('+'), those
/// it refuses ('x'), and those of which it takes at most one ('1').
const MASKS: [[u64; 3]; Cmd::ALL.len()] = {
    let mut masks = [[0u64; 3]; Cmd::ALL.len()];
    let mut i = 0;
    while i < OPTIONS.len() {
        let rules = OPTIONS[i].rules.as_bytes();
        assert!(rules.is_empty() || rules.len() == Cmd::ALL.len());
        let mut c = 0;
        while c < rules.len() {
            let k = match rules[c] {
                b'+' => 0,
                b'x' => 1,
                b'1' => 2,
                _ => 3,
            };
            if k < 3 {
                masks[c][k] |= OPTIONS[i].flag.bits();
            }
            c += 1;
        }
        i += 1;
    }
    masks
};

/// Check the options given against the table's column for `cmd`, as ipvsadm does: the
/// first option (in ipvsadm's order) that is missing, refused or exclusive of an earlier one.
pub(super) fn check_options(cmd: Cmd, given: Opt) -> Result<(), ArgError> {
    let [needed, refused, one_of] = MASKS
        .get(cmd as usize)
        .map_or([Opt::all(), Opt::all(), Opt::empty()], |m| {
            m.map(Opt::from_bits_retain)
        });
    if given.contains(needed)
        && !given.intersects(refused)
        && (given & one_of).bits().count_ones() <= 1
    {
        return Ok(());
    }
    // Something is wrong: find what to say, in ipvsadm's order of the options.
    let mut exclusive: Option<Opt> = None;
    for flag in Opt::all().iter() {
        let Some(spec) = OPTIONS.iter().find(|s| s.flag == flag) else {
            continue;
        };
        if !given.contains(flag) {
            if rule(spec, cmd) == b'+' {
                return Err(bad(format!("{} needs {}", cmd.name(), spec.shown)));
            }
            continue;
        }
        match rule(spec, cmd) {
            b'x' => {
                return Err(bad(format!(
                    "{} cannot be used with {}",
                    spec.shown,
                    cmd.name()
                )))
            }
            b'1' => {
                if let Some(prev) = exclusive {
                    return Err(bad(format!(
                        "{} and {} cannot be used together with {}",
                        spec.shown,
                        prev.name(),
                        cmd.name()
                    )));
                }
                exclusive = Some(flag);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The entry whose short name is an ASCII character, by that character: the index in
/// [`OPTIONS`] of the first one that has it, or `u8::MAX` for none.
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

/// The entry whose short name is `c`.
fn short_option(c: char) -> Option<&'static OptSpec> {
    let i = *SHORT_INDEX.get(c as usize)?;
    OPTIONS.get(usize::from(i))
}

/// One step of reading the command line, as popt delivers them (borrowing the words).
#[derive(Debug)]
pub(super) enum Event<'a> {
    /// An option, as it was written, and its argument.
    Opt(&'static OptSpec, OptName<'a>, Option<&'a str>),
    /// A word that is not an option.
    Leftover(&'a str),
    /// The line cannot be read (the last event).
    Error(String),
}

/// An option as it was written, for messages: `-w` or `--weight`.
#[derive(Debug, Clone, Copy)]
pub(super) enum OptName<'a> {
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
pub(super) struct Tokens<'a, S> {
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
    pub(super) fn new(args: &'a [S]) -> Self {
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
        Some(Event::Opt(spec, OptName::Long(name), arg))
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
            return Some(Event::Opt(spec, OptName::Short(c), None));
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
        Some(Event::Opt(spec, OptName::Short(c), arg))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_options_are_found_as_a_search_of_the_table_finds_them() {
        for c in (0..=0x2ffu32).filter_map(char::from_u32) {
            let searched = OPTIONS.iter().find(|s| s.short == Some(c)).map(|s| s.long);
            assert_eq!(short_option(c).map(|s| s.long), searched, "{c:?}");
        }
    }

    #[test]
    fn entries_of_one_option_agree_and_every_option_has_an_entry() {
        for flag in Opt::all().iter() {
            let entries: Vec<_> = OPTIONS.iter().filter(|s| s.flag == flag).collect();
            assert!(!entries.is_empty(), "{flag:?}");
            for e in &entries {
                assert_eq!((e.shown, e.rules), (entries[0].shown, entries[0].rules));
                assert_eq!(e.rules.len(), Cmd::ALL.len(), "{}", e.long);
            }
        }
        for s in OPTIONS {
            assert_eq!(s.flag.is_empty(), s.rules.is_empty(), "{}", s.long);
            assert_eq!(
                s.tag.is_command(),
                s.flag.is_empty() && !matches!(s.tag, Tag::Sort | Tag::Ipv6)
            );
        }
        for (i, c) in Cmd::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
    }

    /// Each event as a word: `Opt(tag,name,arg)`, `Left(word)` or `Err(message)`.
    fn events(line: &str) -> Vec<String> {
        let v: Vec<&str> = line.split(' ').collect();
        Tokens::new(&v)
            .map(|e| match e {
                Event::Opt(s, n, a) => format!("{:?},{n},{}", s.tag, a.unwrap_or("-")),
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
        /// The option check of each command agrees with the table read one option at a
        /// time: every '+' given, no 'x' given, at most one '1' given.
        #[test]
        fn option_masks_agree_with_the_table(c in 0usize..Cmd::ALL.len(), bits in 0u64..(1 << 34)) {
            let cmd = Cmd::ALL[c];
            let rule_of = |flag: Opt| OPTIONS.iter().find(|s| s.flag == flag).map_or(b'.', |s| rule(s, cmd));
            // Mostly sets the command takes, so that the good case is not rare.
            let allowed: u64 = Opt::all().iter().filter(|f| rule_of(*f) != b'x').map(|f| f.bits()).sum();
            for given in [bits, bits & allowed].map(Opt::from_bits_retain) {
                let ok = Opt::all().iter().all(|f| {
                    let has = given.contains(f);
                    (rule_of(f) != b'+' || has) && (rule_of(f) != b'x' || !has)
                }) && Opt::all().iter().filter(|f| rule_of(*f) == b'1' && given.contains(*f)).count() <= 1;
                let res = check_options(cmd, given);
                proptest::prop_assert_eq!(res.is_ok(), ok, "{:?} {:?}: {:?}", cmd, given, res);
            }
        }
    }
}
