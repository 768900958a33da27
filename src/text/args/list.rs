//! The listing commands: `-L` (what it lists and in which columns) and `-S`.

use super::options::{Cmd, Opt, Tag};
use super::service::RawSvc;
use super::{bad, ArgError, Command, ListRequest, ListWhat};
use crate::text::format::{ListFormat, ListOptions};

/// The columns each option asks for, first winning (as ipvsadm's format bits are read).
const FORMATS: [(Opt, ListFormat); 5] = [
    (Opt::STATS, ListFormat::Stats),
    (Opt::RATE, ListFormat::Rate),
    (Opt::THRESHOLDS, ListFormat::Thresholds),
    (Opt::PERSISTENTCONN, ListFormat::PersistentConn),
    (Opt::TUN_INFO, ListFormat::TunInfo),
];

/// A command line of no arguments: `ipvsadm -L`.
pub(super) fn default_listing() -> Command {
    Command::List(ListRequest {
        what: ListWhat::All,
        options: ListOptions::new(),
        persistent_conn: false,
    })
}

/// Read one of the options that change how a listing prints.
pub(super) fn read(list: &mut ListOptions, tag: Tag) {
    match tag {
        Tag::Numeric => list.numeric = true,
        Tag::NoSort => list.sort = false,
        Tag::Exact => list.exact = true,
        _ => {}
    }
}

/// `-L` or `-S` (the options already checked against the table).
pub(super) fn build(
    cmd: Cmd,
    mut list: ListOptions,
    svc: &RawSvc<'_>,
    given: Opt,
) -> Result<Command, ArgError> {
    if cmd == Cmd::Save {
        return Ok(Command::Save {
            numeric: list.numeric,
        });
    }
    let what_only = Opt::CONNECTION | Opt::TIMEOUT | Opt::DAEMON;
    let columns = Opt::STATS | Opt::RATE | Opt::THRESHOLDS;
    if given.intersects(what_only) && given.intersects(columns)
        || given.intersects(Opt::TIMEOUT | Opt::DAEMON) && given.contains(Opt::PERSISTENTCONN)
    {
        return Err(bad(
            "these listing options do not go together (-c/--timeout/--daemon with --stats/--rate/--thresholds/--persistent-conn)",
        ));
    }
    list.format = FORMATS
        .iter()
        .find(|(o, _)| given.contains(*o))
        .map_or(ListFormat::Default, |(_, f)| *f);
    let what = if given.contains(Opt::CONNECTION) {
        ListWhat::Connections
    } else if given.contains(Opt::SERVICE) {
        ListWhat::Service(svc.id()?)
    } else if given.contains(Opt::TIMEOUT) {
        ListWhat::Timeouts
    } else if given.contains(Opt::DAEMON) {
        ListWhat::Daemons
    } else {
        ListWhat::All
    };
    Ok(Command::List(ListRequest {
        what,
        options: list,
        persistent_conn: given.contains(Opt::PERSISTENTCONN),
    }))
}
