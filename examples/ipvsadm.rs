//! A drop-in for `ipvsadm`, built only on the `lvs` library.
//!
//! Same command line, same standard output and the same exit status as ipvsadm 1.31 for the
//! same commands on the same table; errors are printed on standard error in our own words.
//! Differences by design:
//! - `-R` is all or nothing. It parses and checks its input 8,192 lines at a time (the
//!   first 1,024 lines first), each chunk while the one before is being applied (in
//!   batches); when a line is bad or the kernel refuses one, it names the line and undoes
//!   what it had applied, and checks that the table is back as it was. A bad line in the
//!   first 1,024 lines changes nothing at all.
//! - `--netns NAME` works on the table of that network namespace (`/run/netns/NAME`); `-c`
//!   always reads the caller's own namespace.
//!
//! ```sh
//! cargo build --release --example ipvsadm
//! sudo target/release/examples/ipvsadm -A -t 10.0.0.1:80 -s rr
//! sudo target/release/examples/ipvsadm -Ln
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::ExitCode;

use lvs::text::{
    self, parse_args, Command, ListFormat, ListOptions, ListRequest, ListWhat, Names, SystemNames,
    TableText, TextBlock,
};
use lvs::transport::{KernelTransport, RequestKind, Transport};
use lvs::wire::IpvsMessage;
use lvs::{Daemon, Destination, Error, Ipvs, Service, ServiceEntry, ServiceId, Timeouts};

/// Exit status ipvsadm uses when the kernel refuses a change.
const KERNEL_REFUSED: u8 = 255;
/// Exit status ipvsadm uses when a listing cannot be read.
const LIST_FAILED: u8 = 1;
/// Exit status when IPVS cannot be reached.
const NO_IPVS: u8 = 2;
/// How many requests go to the kernel in one batch during `-R`: a batch of
/// [`lvs::transport::PIPELINE_MIN`] or more is built and framed on the transport's second thread while it is sent; a refusal stops
/// the restore after the batch it is in.
const BATCH: usize = 8192;

fn usage(program: &str) -> String {
    format!(
        "{program}: manage the Linux IPVS table (an ipvsadm work-alike built on the lvs library)

Commands (give exactly one, first):
  {program} -A|-E SERVICE [-s SCHED] [-p [SECONDS]] [-M MASK] [--pe ENGINE] [-b FLAGS] [-o]
                                        add or change a virtual service
  {program} -D SERVICE                  remove a virtual service
  {program} -C                          remove every virtual service
  {program} -a|-e SERVICE -r SERVER[:PORT] [-g|-i|-m] [-w WEIGHT] [-x MAX] [-y MIN]
                  [--tun-type ipip|gue|gre] [--tun-port PORT] [--tun-nocsum|--tun-csum|--tun-remcsum]
                                        add or change a real server
  {program} -d SERVICE -r SERVER[:PORT] remove a real server
  {program} -L|-l [SERVICE] [-n] [--stats|--rate|--thresholds|--persistent-conn|--tun-info]
                  [--exact] [--nosort]  show the table (or one service)
  {program} -L -c [--persistent-conn]   show the connection table
  {program} -L --timeout | -L --daemon  show timeouts or sync daemons
  {program} -Z [SERVICE]                zero counters
  {program} -S [-n]                     print the table as rules for -R
  {program} -R                          read rules from standard input (all or nothing: a bad
                                        or refused line undoes what was applied)
  {program} --set TCP TCPFIN UDP        set connection timeouts in seconds (0 = keep)
  {program} --start-daemon master|backup [--mcast-interface IF] [--syncid ID]
                  [--sync-maxlen LEN] [--mcast-group ADDR] [--mcast-port PORT] [--mcast-ttl TTL]
  {program} --stop-daemon master|backup
  {program} -h                          this text

SERVICE is -t|--tcp-service HOST[:PORT], -u|--udp-service HOST[:PORT],
--sctp-service HOST[:PORT] or -f|--fwmark-service MARK [-6]; IPv6 hosts go in brackets.
Forwarding: -g direct routing (default), -i tunnelling, -m masquerading (NAT).
Extra option of this tool: --netns NAME works in the network namespace NAME.
"
    )
}

fn fail(msg: impl std::fmt::Display, status: u8) -> ExitCode {
    eprintln!("ipvsadm: {msg}");
    ExitCode::from(status)
}

fn main() -> ExitCode {
    let mut args = match text::utf8_args(std::env::args_os()) {
        Ok(a) => a,
        Err(e) => return fail(e, 2),
    };
    let program = if args.is_empty() {
        "ipvsadm".to_owned()
    } else {
        args.remove(0)
    };
    let netns = text::take_netns(&mut args);
    if let Some(n) = &netns {
        if let Err(e) = lvs::model::check_netns_name(n) {
            return fail(format!("--netns: {e}"), 2);
        }
    }
    let opened = match &netns {
        Some(n) => Ipvs::in_netns(n),
        None => Ipvs::new(),
    };
    // Opening resolves the IPVS family: an error here means IPVS cannot be reached.
    let mut ipvs = match opened {
        Ok(x) => x,
        Err(e) => return fail(format!("cannot reach IPVS: {e}"), NO_IPVS),
    };
    let names = SystemNames::new();
    let cmd = match parse_args(&args, &names, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ipvsadm: {e}");
            eprintln!("(see '{program} -h')");
            return ExitCode::from(e.status.clamp(0, 255) as u8);
        }
    };
    let mut out = std::io::stdout().lock();
    let code = run(&mut ipvs, cmd, &names, &program, &mut out);
    let _ = out.flush();
    code
}

fn run(
    ipvs: &mut Ipvs<KernelTransport>,
    cmd: Command,
    names: &(dyn Names + Sync),
    program: &str,
    out: &mut dyn Write,
) -> ExitCode {
    let written = match cmd {
        Command::Help => {
            let _ = out.write_all(usage(program).as_bytes());
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            let _ = writeln!(
                out,
                "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)"
            );
            return ExitCode::SUCCESS;
        }
        Command::List(req) => return list(ipvs, &req, names, out),
        Command::Save { numeric } => {
            let opts = ListOptions {
                numeric,
                ..ListOptions::new()
            };
            // Rules hold no statistics: they need not be decoded.
            ipvs.set_read_stats(false);
            return write_table(ipvs, TableText::save(&opts, names), out, |e| {
                TextBlock::save(e, &opts, names)
            });
        }
        Command::Restore => return restore(ipvs, names, out),
        other => apply_one(ipvs, &other),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, KERNEL_REFUSED),
    }
}

/// Write the whole table to `out` as `text` formats it, each service formatted by `block`
/// on the thread that read it (the table is read on two threads), put in order as written.
fn write_table(
    ipvs: &mut Ipvs<KernelTransport>,
    mut text: TableText<'_>,
    out: &mut dyn Write,
    block: impl Fn(&ServiceEntry) -> TextBlock + Sync,
) -> ExitCode {
    match ipvs.table_map(|e| block(&e)) {
        Ok(blocks) => {
            blocks.into_iter().for_each(|b| text.push_block(b));
            let _ = text.write_to(out);
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot read the table: {e}"), LIST_FAILED),
    }
}

/// Send one change to the kernel as ipvsadm would: the parser has already applied ipvsadm's
/// checks, and the kernel decides the rest (ipvsadm takes weights up to `i32::MAX`, which the
/// client's builders refuse, so the request goes through the transport).
fn apply_one(ipvs: &mut Ipvs<KernelTransport>, cmd: &Command) -> Result<(), String> {
    let Some(msg) = cmd.request() else {
        return Ok(());
    };
    ipvs.transport()
        .request(&msg, RequestKind::Do)
        .map(|_| ())
        .map_err(|e| format!("the kernel refused the change: {}", errno_text(&e)))
}

fn list(
    ipvs: &mut Ipvs<KernelTransport>,
    req: &ListRequest,
    names: &(dyn Names + Sync),
    out: &mut dyn Write,
) -> ExitCode {
    // The header line of a full listing shows the IPVS version and table size.
    let info = match req.what {
        ListWhat::All => match ipvs.info() {
            Ok(info) => info,
            Err(e) => return fail(format!("cannot read the IPVS version: {e}"), LIST_FAILED),
        },
        _ => ListOptions::new().info,
    };
    let opts = req.options.with_info(info);
    // Only `--stats` and `--rate` show statistics; the other listings need not decode them.
    ipvs.set_read_stats(matches!(opts.format, ListFormat::Stats | ListFormat::Rate));
    if let ListWhat::All = req.what {
        return write_table(ipvs, TableText::listing(&opts, names), out, |e| {
            TextBlock::listing(e, &opts, names)
        });
    }
    let text = match &req.what {
        ListWhat::Service(id) => ipvs
            .get_service(id)
            .and_then(|service| {
                let destinations = ipvs.destinations(id)?;
                Ok(ServiceEntry {
                    service,
                    destinations,
                })
            })
            .map(|e| text::service_listing_with(&e, &opts, names))
            .map_err(|e| format!("cannot read service {id}: {e}")),
        ListWhat::Connections => lvs::conn::read()
            .map(|c| text::connections_with(&c, opts.numeric, req.persistent_conn, names))
            .map_err(|e| format!("cannot read {}: {e}", lvs::conn::CONN_PATH)),
        ListWhat::Timeouts => ipvs
            .timeouts()
            .map(|t| text::timeouts(&t))
            .map_err(|e| format!("cannot read the timeouts: {e}")),
        ListWhat::Daemons => ipvs
            .daemons()
            .map(|d| text::daemons(&d))
            .map_err(|e| format!("cannot read the sync daemons: {e}")),
        _ => Err("unsupported listing".to_owned()),
    };
    match text {
        Ok(t) => {
            let _ = out.write_all(t.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, LIST_FAILED),
    }
}

/// The table as `-R` believes it to be while applying, to compute how to undo each change.
struct Shadow {
    services: BTreeMap<ServiceId, (Service, Vec<Destination>)>,
    timeouts: Timeouts,
    daemons: Vec<Daemon>,
    /// Whether `services` follows the restore's adds. Only an edit, a delete or a flush
    /// needs to know what it changes; an add the kernel accepts is undone by deleting what
    /// it added, whatever the table holds. A restore that cannot edit or delete anything
    /// (most are only adds) skips keeping a copy of every service and destination it adds.
    track_adds: bool,
}

/// What a restore must know of its input before it parses it, from the command of each
/// line: its first word after any `ipvsadm` words (a line's first option must be its
/// command, and the first of a bundle), so only that word is looked at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Commands {
    /// Whether some line may be an edit, a delete or a flush: `-E`, `-e`, `-D`, `-d` or
    /// `-C`, alone or first of a bundle, or a long name for one of them.
    may_edit_or_delete: bool,
    /// Whether some line may start or stop a sync daemon (long options only).
    may_change_daemons: bool,
}

impl Commands {
    fn of(input: &str) -> Commands {
        let mut found = Commands::default();
        for line in input.split('\n') {
            let first = line
                .split([' ', '\t', '\r'])
                .find(|w| !w.is_empty() && *w != "ipvsadm")
                .unwrap_or("");
            let long = |names: &[&str]| names.iter().any(|name| first.starts_with(name));
            match first.as_bytes() {
                [b'-', b'-', ..] => {
                    found.may_edit_or_delete |= long(&["--edit", "--delete", "--clear"]);
                    found.may_change_daemons |= long(&["--start-daemon", "--stop-daemon"]);
                }
                [b'-', c, ..] => {
                    found.may_edit_or_delete |= matches!(c, b'E' | b'e' | b'D' | b'd' | b'C');
                }
                _ => {}
            }
        }
        found
    }
}

/// How to undo one applied command: the two commands a restore is mostly made of are
/// recorded without building their undo request (built only if a roll back needs it).
enum Undo {
    Nothing,
    DeleteService(ServiceId),
    DeleteDestination(ServiceId, std::net::SocketAddr),
    Requests(Vec<IpvsMessage>),
}

impl Undo {
    fn requests(self) -> Vec<IpvsMessage> {
        match self {
            Undo::Nothing => Vec::new(),
            Undo::DeleteService(id) => vec![IpvsMessage::del_service(&id)],
            Undo::DeleteDestination(id, addr) => vec![IpvsMessage::del_dest(&id, &addr)],
            Undo::Requests(v) => v,
        }
    }
}

impl Shadow {
    fn service_msgs(svc: &Service, dests: &[Destination]) -> Vec<IpvsMessage> {
        let mut v = vec![IpvsMessage::new_service(svc)];
        v.extend(dests.iter().map(|d| IpvsMessage::new_dest(&svc.id, d)));
        v
    }

    /// Record `cmd` as applied and return the requests that undo it. A command the kernel
    /// is bound to refuse (adding what exists) changes nothing here: its undo is never used,
    /// and a later command of the same batch must be undone against the table as it is.
    fn apply(&mut self, cmd: &Command) -> Undo {
        match cmd {
            Command::AddService(s) if !self.track_adds => Undo::DeleteService(s.id),
            Command::AddDestination(id, d) if !self.track_adds => {
                Undo::DeleteDestination(*id, d.socket_addr())
            }
            Command::AddService(s) => {
                if self.services.contains_key(&s.id) {
                    return Undo::Nothing;
                }
                self.services.insert(s.id, (s.clone(), Vec::new()));
                Undo::DeleteService(s.id)
            }
            Command::EditService(s) => match self.services.get_mut(&s.id) {
                Some((old, _)) => {
                    let undo = IpvsMessage::set_service(old);
                    *old = s.clone();
                    Undo::Requests(vec![undo])
                }
                None => Undo::Nothing,
            },
            Command::DeleteService(id) => match self.services.remove(id) {
                Some((svc, dests)) => Undo::Requests(Self::service_msgs(&svc, &dests)),
                None => Undo::Nothing,
            },
            Command::Flush => {
                let all = std::mem::take(&mut self.services);
                Undo::Requests(
                    all.values()
                        .flat_map(|(s, d)| Self::service_msgs(s, d))
                        .collect(),
                )
            }
            Command::AddDestination(id, d) => match self.services.get_mut(id) {
                Some((_, dests)) if dests.iter().any(|x| x.socket_addr() == d.socket_addr()) => {
                    Undo::Nothing
                }
                Some((_, dests)) => {
                    dests.push(d.clone());
                    Undo::DeleteDestination(*id, d.socket_addr())
                }
                None => Undo::Nothing,
            },
            Command::EditDestination(id, d) => {
                let Some((_, dests)) = self.services.get_mut(id) else {
                    return Undo::Nothing;
                };
                match dests
                    .iter_mut()
                    .find(|x| x.socket_addr() == d.socket_addr())
                {
                    Some(old) => {
                        let undo = IpvsMessage::set_dest(id, old);
                        *old = d.clone();
                        Undo::Requests(vec![undo])
                    }
                    None => Undo::Nothing,
                }
            }
            Command::DeleteDestination(id, addr) => {
                let Some((_, dests)) = self.services.get_mut(id) else {
                    return Undo::Nothing;
                };
                match dests.iter().position(|x| x.socket_addr() == *addr) {
                    Some(i) => {
                        let old = dests.remove(i);
                        Undo::Requests(vec![IpvsMessage::new_dest(id, &old)])
                    }
                    None => Undo::Nothing,
                }
            }
            Command::SetTimeouts(t) => {
                let undo = IpvsMessage::set_timeouts(&self.timeouts);
                let keep = |new: u32, old: u32| if new == 0 { old } else { new };
                self.timeouts = Timeouts {
                    tcp: keep(t.tcp, self.timeouts.tcp),
                    tcp_fin: keep(t.tcp_fin, self.timeouts.tcp_fin),
                    udp: keep(t.udp, self.timeouts.udp),
                };
                Undo::Requests(vec![undo])
            }
            Command::StartDaemon(d) if self.daemons.iter().any(|x| x.state == d.state) => {
                Undo::Nothing
            }
            Command::StartDaemon(d) => {
                self.daemons.push(d.clone());
                Undo::Requests(vec![IpvsMessage::del_daemon(d.state)])
            }
            Command::StopDaemon(state) => match self.daemons.iter().position(|d| d.state == *state)
            {
                Some(i) => Undo::Requests(vec![IpvsMessage::new_daemon(&self.daemons.remove(i))]),
                None => Undo::Nothing,
            },
            _ => Undo::Nothing,
        }
    }
}

/// Apply the `pending` rules (all writes) and empty it: their requests are sent by
/// [`send_rules`] while their undo records are computed on a thread of their own; the undo
/// records of the rules applied go to `undo`. The first refusal, if any.
fn flush(
    pending: &mut Vec<&text::Rule<'_>>,
    ipvs: &mut Ipvs<KernelTransport>,
    shadow: &mut Shadow,
    undo: &mut Vec<Undo>,
) -> Option<Failure> {
    if pending.is_empty() {
        return None;
    }
    let rules: &[&text::Rule<'_>] = pending;
    let (sent, undos) = std::thread::scope(|s| {
        let undos = s.spawn(|| {
            rules
                .iter()
                .map(|r| shadow.apply(&r.command))
                .collect::<Vec<Undo>>()
        });
        (send_rules(ipvs, rules), undos.join())
    });
    let undos = undos.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let (results, mut first_error) = sent;
    for ((rule, u), res) in rules.iter().zip(undos).zip(results) {
        match res {
            Ok(()) => undo.push(u),
            Err(e) if first_error.is_none() => {
                first_error = Some(format!(
                    "line {}: the kernel refused it: {} (in: {})",
                    rule.line,
                    errno_text(&e),
                    rule.text()
                ));
            }
            Err(_) => {}
        }
    }
    pending.clear();
    first_error.map(Failure::refused)
}

/// Send the requests of `rules` (all writes) in batches of [`BATCH`], stopping after a batch
/// with a refusal: the result of each rule sent (the rules after the last batch sent have
/// none), and what stopped the sending if the connection failed.
fn send_rules(
    ipvs: &mut Ipvs<KernelTransport>,
    rules: &[&text::Rule<'_>],
) -> (Vec<Result<(), Error>>, Option<String>) {
    let mut results = Vec::with_capacity(rules.len());
    for chunk in rules.chunks(BATCH) {
        // Every rule here is a write, and every write has a request (`Command::is_write`);
        // the fallback is a harmless read that is never sent.
        let build = |i: usize| {
            chunk[i]
                .command
                .request()
                .unwrap_or_else(IpvsMessage::get_info)
        };
        match ipvs.transport().request_batch_with(chunk.len(), &build) {
            Ok(rs) => {
                let refused = rs.iter().any(Result::is_err);
                results.extend(rs.into_iter().map(|r| r.map(drop)));
                if refused {
                    break;
                }
            }
            Err(e) => return (results, Some(format!("the kernel connection failed: {e}"))),
        }
    }
    (results, None)
}

/// Whether two tables hold the same services and destinations (counters ignored).
fn same_table(
    a: &BTreeMap<ServiceId, (Service, Vec<Destination>)>,
    b: &BTreeMap<ServiceId, (Service, Vec<Destination>)>,
) -> bool {
    a.len() == b.len()
        && a.iter().all(|(id, (sa, da))| {
            b.get(id).is_some_and(|(sb, db)| {
                sa.same_config(sb)
                    && da.len() == db.len()
                    && da.iter().all(|x| {
                        db.iter()
                            .any(|y| y.socket_addr() == x.socket_addr() && y.same_config(x))
                    })
            })
        })
}

fn errno_text(e: &Error) -> String {
    match e.errno() {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => e.to_string(),
    }
}

fn restore(
    ipvs: &mut Ipvs<KernelTransport>,
    names: &(dyn Names + Sync),
    out: &mut dyn Write,
) -> ExitCode {
    // The restore compares configurations only (a listing in the input sets its own).
    ipvs.set_read_stats(false);
    // The input is read, and looked at, while the table is.
    let (read, table) = std::thread::scope(|s| {
        let reader = s.spawn(Input::read);
        let table = (|| -> Result<_, Error> { Ok((ipvs.table()?, ipvs.timeouts()?)) })();
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read, table)
    });
    let Input {
        text: input,
        commands,
    } = match read {
        Ok(input) => input,
        Err(e) => return fail(format!("cannot read the rules from standard input: {e}"), 2),
    };
    let snapshot = table.and_then(|(table, timeouts)| {
        let daemons = if commands.may_change_daemons {
            ipvs.daemons()?
        } else {
            Vec::new()
        };
        Ok(Shadow {
            services: table
                .into_iter()
                .map(|e| (e.service.id, (e.service, e.destinations)))
                .collect(),
            timeouts,
            daemons,
            track_adds: commands.may_edit_or_delete,
        })
    });
    let mut shadow = match snapshot {
        Ok(s) => s,
        Err(e) => return fail(format!("restore: cannot read the table first: {e}"), 1),
    };
    let original = shadow.services.clone();

    // How to undo everything applied so far, newest last.
    let mut undo: Vec<Undo> = Vec::new();
    let mut failure: Option<Failure> = None;
    // Whether any change reached the kernel.
    let mut sent_any = false;

    // The input is parsed a chunk of lines at a time on a second thread, while the chunk
    // before is applied: a bad line after the first chunk is found when earlier chunks are
    // applied already, and they are rolled back like a refusal.
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<text::Rule<'_>>, Failure>>(1);
        // Chunks applied come back here, to be parsed into again (fresh pages cost a fault
        // each, which is dear in a virtual machine).
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<text::Rule<'_>>>();
        let input = input.as_str();
        s.spawn(move || {
            for (offset, chunk) in line_chunks(input, FIRST_CHUNK_LINES, CHUNK_LINES) {
                let spare = done_rx.try_iter().last().unwrap_or_default();
                let parsed = parse_chunk(chunk, offset, names, spare);
                let failed = parsed.is_err();
                // A closed channel: the restore stopped.
                if tx.send(parsed).is_err() || failed {
                    break;
                }
            }
        });
        for parsed in rx {
            let rules = match parsed {
                Ok(rules) => rules,
                Err(f) => {
                    failure = Some(f);
                    break;
                }
            };
            // The rules waiting to be sent. Their requests are built when sent (for a
            // large batch, by the transport's framing thread), and their undo records
            // meanwhile, on a thread of their own.
            let mut pending: Vec<&text::Rule<'_>> = Vec::new();
            for rule in &rules {
                if rule.command.is_write() {
                    pending.push(rule);
                    continue;
                }
                sent_any |= !pending.is_empty();
                failure = flush(&mut pending, ipvs, &mut shadow, &mut undo);
                if failure.is_some() {
                    break;
                }
                // A listing inside restore input prints as ipvsadm would.
                let code = run(ipvs, rule.command.clone(), names, "ipvsadm", out);
                if code != ExitCode::SUCCESS {
                    failure = Some(Failure::refused(format!("line {}: failed", rule.line)));
                    break;
                }
            }
            if failure.is_none() {
                sent_any |= !pending.is_empty();
                failure = flush(&mut pending, ipvs, &mut shadow, &mut undo);
            }
            // Reused by the parsing thread (or freed at exit, once it has stopped).
            let _ = done_tx.send(rules);
            if failure.is_some() {
                break;
            }
        }
    });
    let Some(why) = failure else {
        // The process ends now: freeing tens of thousands of undo records and the shadow
        // table one by one would only delay the exit.
        std::mem::forget((shadow, original, undo, input));
        return ExitCode::SUCCESS;
    };
    if !sent_any {
        return fail(
            format!("restore: nothing applied: {}", why.message),
            why.status,
        );
    }
    // Roll back, newest change first.
    let msgs: Vec<IpvsMessage> = undo.into_iter().rev().flat_map(Undo::requests).collect();
    let mut rollback_ok = true;
    for chunk in msgs.chunks(BATCH) {
        match ipvs.transport().request_batch(chunk) {
            Ok(rs) if rs.iter().all(Result::is_ok) => {}
            _ => rollback_ok = false,
        }
    }
    // Check the result rather than trust the bookkeeping.
    let rollback_ok = rollback_ok
        && ipvs.table().is_ok_and(|t| {
            let now: BTreeMap<ServiceId, (Service, Vec<Destination>)> = t
                .into_iter()
                .map(|e| (e.service.id, (e.service, e.destinations)))
                .collect();
            same_table(&now, &original)
        });
    let state = if rollback_ok {
        "the table is back as it was before the restore"
    } else {
        "rolling back was incomplete: check the table"
    };
    fail(format!("restore: {}; {state}", why.message), why.status)
}

/// The input of `-R`, and what the restore needs to know of it before parsing it.
struct Input {
    text: String,
    /// The commands it may hold.
    commands: Commands,
}

impl Input {
    /// Read standard input to its end (into a buffer of the file's size when it is a file,
    /// up to 256 MiB).
    fn read() -> std::io::Result<Input> {
        use std::os::fd::AsFd;
        let stdin = std::io::stdin();
        let size = stdin
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .map_or(0, |m| if m.is_file() { m.len() } else { 0 });
        // A hint only: the input is read to its end whatever its size.
        let hint = usize::try_from(size.min(1 << 28)).unwrap_or(0);
        let mut text = String::with_capacity(hint + 1);
        stdin.lock().read_to_string(&mut text)?;
        Ok(Input {
            commands: Commands::of(&text),
            text,
        })
    }
}

/// Why a restore stopped: the message and the exit status.
struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    /// The kernel refused a change (or the connection failed).
    fn refused(message: String) -> Failure {
        Failure {
            message,
            status: KERNEL_REFUSED,
        }
    }
}

/// How many lines of `-R` input are parsed at a time (while the chunk before is applied).
const CHUNK_LINES: usize = 8192;

/// How many lines the first chunk has: nothing is sent before it is parsed, so it is kept
/// short (a few milliseconds of parsing), and the rest come in [`CHUNK_LINES`].
const FIRST_CHUNK_LINES: usize = 1024;

/// `input` in chunks of `first` lines, then of `lines` lines (the last one shorter), each
/// with the number of lines before it.
fn line_chunks(input: &str, first: usize, lines: usize) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = input;
    let mut before = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let lines = if before == 0 { first } else { lines };
        let end = rest
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .nth(lines - 1)
            .map_or(rest.len(), |(i, _)| i + 1);
        let (chunk, tail) = rest.split_at(end);
        let item = (before, chunk);
        before += lines;
        rest = tail;
        Some(item)
    })
}

/// Parse and check one chunk of `-R` input whose first line is line `offset + 1`: ipvsadm's
/// parser (its exit status on a bad line), then the library's checks on the values
/// ([`Command::validate`]). The rules go into `into`, emptied first (a chunk applied
/// already, whose memory is reused).
fn parse_chunk<'a>(
    chunk: &'a str,
    offset: usize,
    names: &'a dyn Names,
    mut into: Vec<text::Rule<'a>>,
) -> Result<Vec<text::Rule<'a>>, Failure> {
    into.clear();
    into.reserve(chunk.bytes().filter(|&b| b == b'\n').count() + 1);
    for rule in text::rules(chunk, names) {
        let mut r = rule.map_err(|mut e| {
            e.line += offset;
            Failure {
                message: e.to_string(),
                status: e.error.status.clamp(0, 255) as u8,
            }
        })?;
        r.line += offset;
        if let Err(e) = r.command.validate() {
            return Err(Failure::refused(format!(
                "line {}: {e} (in: {})",
                r.line,
                r.text()
            )));
        }
        into.push(r);
    }
    Ok(into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs::text::NoNames;

    #[test]
    fn edits_deletes_flushes_and_daemons_are_seen() {
        let adds = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 1\n\
                    --set 1 2 3\n-Ln\n--start-daemon master\n-Z\n";
        assert_eq!(
            Commands::of(adds),
            Commands {
                may_edit_or_delete: false,
                may_change_daemons: true
            }
        );
        let no_daemons = "-A -t 10.0.0.1:80 -s rr\n-L --daemon\n-a -t 10.0.0.1:80 -r 10.0.0.2\n";
        assert_eq!(Commands::of(no_daemons), Commands::default());
        assert!(Commands::of("--stop-daemon backup\n").may_change_daemons);
        assert!(Commands::of("ipvsadm\t--start-daemon=master\n").may_change_daemons);
        for line in [
            "-E -t 10.0.0.1:80 -s wlc",
            "\t ipvsadm  -e -t 10.0.0.1:80 -r 10.0.0.2 -w 3",
            "-Dt10.0.0.1:80",
            "ipvsadm ipvsadm -d -t 10.0.0.1:80 -r 10.0.0.2",
            "-C",
            "--clear",
            "--delete-server -t 10.0.0.1:80 -r 10.0.0.2",
            "--edit-service -t 10.0.0.1:80",
        ] {
            let input = format!("{adds}{line}\n{adds}");
            assert!(Commands::of(&input).may_edit_or_delete, "{line}");
        }
    }

    /// Every line the parser reads as an edit, a delete, a flush or a daemon command is
    /// seen, for every command word with every set of these options, after 0 to 2
    /// `ipvsadm` words, with each kind of separator.
    #[test]
    fn every_parsed_change_or_daemon_command_is_seen() {
        const COMMANDS: [&str; 16] = [
            "-E",
            "-e",
            "-D",
            "-d",
            "-C",
            "-A",
            "-a",
            "-Dt10.0.0.1:80",
            "-dt 10.0.0.1:80",
            "--delete-server",
            "--edit-service",
            "--clear",
            "-Z",
            "--delete-service",
            "--start-daemon master",
            "--stop-daemon=backup",
        ];
        const OPTIONS: [&str; 6] = ["-t 10.0.0.1:80", "-r 10.0.0.2", "-w 3", "-s rr", "-m", "x"];
        let (mut changes, mut daemons) = (0, 0);
        for (command, lead, sep) in COMMANDS
            .iter()
            .flat_map(|c| (0..3).flat_map(move |l| [" ", "\t", " \r "].map(|s| (c, l, s))))
        {
            for set in 0..1u32 << OPTIONS.len() {
                let words: Vec<&str> = std::iter::repeat_n("ipvsadm", lead)
                    .chain([*command])
                    .chain(
                        (0..OPTIONS.len())
                            .filter(|i| set & 1 << i != 0)
                            .map(|i| OPTIONS[i]),
                    )
                    .collect();
                let line = format!("{sep}{}\n", words.join(sep));
                if let Some(Ok(rule)) = text::rules(&line, &NoNames).next() {
                    if matches!(
                        rule.command,
                        Command::StartDaemon(_) | Command::StopDaemon(_)
                    ) {
                        daemons += 1;
                        assert!(Commands::of(&line).may_change_daemons, "{line:?}");
                    }
                    if matches!(
                        rule.command,
                        Command::EditService(_)
                            | Command::EditDestination(..)
                            | Command::DeleteService(_)
                            | Command::DeleteDestination(..)
                            | Command::Flush
                    ) {
                        changes += 1;
                        assert!(Commands::of(&line).may_edit_or_delete, "{line:?}");
                    }
                }
            }
        }
        // Each of the 12 edit, delete and flush words, in each of the 9 layouts, with
        // several option sets.
        assert!(changes > 12 * 9 && daemons >= 2 * 9, "{changes} {daemons}");
    }
}
