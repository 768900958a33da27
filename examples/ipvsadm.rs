//! A drop-in for `ipvsadm`, built only on the `lvs` library.
//!
//! Same command line, same standard output and the same exit status as ipvsadm 1.31 for the
//! same commands on the same table; errors are printed on standard error in our own words.
//! Differences by design:
//! - `-R` reads and checks the whole input before changing anything, applies it in batches,
//!   and if the kernel refuses a line it names the line and undoes what it had applied.
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
    self, parse_args, Command, ListOptions, ListRequest, ListWhat, Names, SystemNames, TableText,
    TextBlock,
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
/// How many requests go to the kernel in one batch during `-R`.
const BATCH: usize = 512;

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
  {program} -R                          read rules from standard input (all checked first,
                                        undone if the kernel refuses one)
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
    let mut args: Vec<String> = std::env::args().collect();
    let program = if args.is_empty() {
        "ipvsadm".to_owned()
    } else {
        args.remove(0)
    };
    let netns = text::take_netns(&mut args);
    let opened = match &netns {
        Some(n) => Ipvs::in_netns(n),
        None => Ipvs::new(),
    };
    let mut ipvs = match opened.and_then(|mut i| i.info().map(|info| (i, info))) {
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
    let code = run(&mut ipvs.0, ipvs.1, cmd, &names, &program, &mut out);
    let _ = out.flush();
    code
}

fn run(
    ipvs: &mut Ipvs<KernelTransport>,
    info: lvs::Info,
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
        Command::List(req) => return list(ipvs, info, &req, names, out),
        Command::Save { numeric } => {
            let opts = ListOptions {
                numeric,
                ..ListOptions::new()
            };
            return match table_text(ipvs, TableText::save(&opts, names), |e| {
                TextBlock::save(e, &opts, names)
            }) {
                Ok(t) => {
                    let _ = out.write_all(t.as_bytes());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot read the table: {e}"), LIST_FAILED),
            };
        }
        Command::Restore => return restore(ipvs, info, names, out),
        other => apply_one(ipvs, &other),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, KERNEL_REFUSED),
    }
}

/// The whole table as `text` formats it, each service formatted by `block` on the thread
/// that read it (the table is read on two threads), then put in order.
fn table_text(
    ipvs: &mut Ipvs<KernelTransport>,
    mut text: TableText<'_>,
    block: impl Fn(&ServiceEntry) -> TextBlock + Sync,
) -> lvs::Result<String> {
    for b in ipvs.table_map(|e| block(&e))? {
        text.push_block(b);
    }
    Ok(text.finish())
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
    info: lvs::Info,
    req: &ListRequest,
    names: &(dyn Names + Sync),
    out: &mut dyn Write,
) -> ExitCode {
    let opts = req.options.with_info(info);
    let text = match &req.what {
        ListWhat::All => table_text(ipvs, TableText::listing(&opts, names), |e| {
            TextBlock::listing(e, &opts, names)
        })
        .map_err(|e| format!("cannot read the table: {e}")),
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

/// [`text::parse_rules`] on the two halves of a large input at once (a restore of tens of
/// thousands of lines spends most of its own time parsing): the same lines, numbered the
/// same, and the same first error.
fn parse_rules_in_halves(
    input: &str,
    names: &(dyn Names + Sync),
) -> Result<Vec<text::RuleLine>, text::RuleError> {
    let half = input.len() / 2;
    let mid = match input.get(half..).and_then(|rest| rest.find('\n')) {
        Some(i) if input.len() >= 64 * 1024 => half + i + 1,
        _ => return text::parse_rules(input, names),
    };
    let (first, second) = input.split_at(mid);
    // `first` ends with a newline: its lines are numbered 1..=offset.
    let offset = first.matches('\n').count();
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| text::parse_rules(second, names));
        (text::parse_rules(first, names), b.join())
    });
    let mut rules = a?;
    let b = b.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let b = b.map_err(|mut e| {
        e.line += offset;
        e
    })?;
    rules.extend(b.into_iter().map(|mut r| {
        r.line += offset;
        r
    }));
    Ok(rules)
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
    info: lvs::Info,
    names: &(dyn Names + Sync),
    out: &mut dyn Write,
) -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return fail(format!("cannot read the rules from standard input: {e}"), 2);
    }
    let rules = match parse_rules_in_halves(&input, names) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                format!("restore: nothing applied: {e}"),
                e.error.status.clamp(0, 255) as u8,
            )
        }
    };
    for r in &rules {
        if let Err(e) = r.command.validate() {
            return fail(
                format!(
                    "restore: nothing applied: line {}: {e} (in: {})",
                    r.line,
                    r.words.join(" ")
                ),
                KERNEL_REFUSED,
            );
        }
    }
    let has_daemons = rules
        .iter()
        .any(|r| matches!(r.command, Command::StartDaemon(_) | Command::StopDaemon(_)));
    let snapshot = (|| -> Result<Shadow, Error> {
        let services = ipvs
            .table()?
            .into_iter()
            .map(|e| (e.service.id, (e.service, e.destinations)))
            .collect();
        let timeouts = ipvs.timeouts()?;
        let daemons = if has_daemons {
            ipvs.daemons()?
        } else {
            Vec::new()
        };
        Ok(Shadow {
            services,
            timeouts,
            daemons,
        })
    })();
    let mut shadow = match snapshot {
        Ok(s) => s,
        Err(e) => return fail(format!("restore: cannot read the table first: {e}"), 1),
    };
    let original = shadow.services.clone();

    // How to undo everything applied so far, newest last.
    let mut undo: Vec<Undo> = Vec::new();
    // Requests waiting to be sent, and for each its rule and undo record.
    let mut pending: Vec<IpvsMessage> = Vec::new();
    let mut pending_rules: Vec<(&text::RuleLine, Undo)> = Vec::new();
    let mut failure: Option<String> = None;

    let flush = |pending: &mut Vec<IpvsMessage>,
                 pending_rules: &mut Vec<(&text::RuleLine, Undo)>,
                 ipvs: &mut Ipvs<KernelTransport>,
                 undo: &mut Vec<Undo>|
     -> Option<String> {
        let mut first_error = None;
        let mut rules = pending_rules.drain(..);
        for chunk in pending.chunks(BATCH) {
            match ipvs.transport().request_batch(chunk) {
                Ok(results) => {
                    for ((rule, u), res) in rules.by_ref().take(chunk.len()).zip(results) {
                        match res {
                            Ok(_) => undo.push(u),
                            Err(e) if first_error.is_none() => {
                                first_error = Some(format!(
                                    "line {}: the kernel refused it: {} (in: {})",
                                    rule.line,
                                    errno_text(&e),
                                    rule.words.join(" ")
                                ));
                            }
                            Err(_) => {}
                        }
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(format!("the kernel connection failed: {e}"));
                }
            }
            if first_error.is_some() {
                break;
            }
        }
        drop(rules);
        pending.clear();
        first_error
    };

    for rule in &rules {
        if matches!(rule.command, Command::Restore) {
            // A nested -R goes on with the same input: nothing to do.
            continue;
        }
        if let Some(msg) = rule.command.request() {
            let u = shadow.apply(&rule.command);
            pending.push(msg);
            pending_rules.push((rule, u));
            continue;
        }
        failure = flush(&mut pending, &mut pending_rules, ipvs, &mut undo);
        if failure.is_some() {
            break;
        }
        // A listing inside restore input prints as ipvsadm would.
        let code = run(ipvs, info, rule.command.clone(), names, "ipvsadm", out);
        if code != ExitCode::SUCCESS {
            failure = Some(format!("line {}: failed", rule.line));
            break;
        }
    }
    if failure.is_none() {
        failure = flush(&mut pending, &mut pending_rules, ipvs, &mut undo);
    }
    let Some(why) = failure else {
        return ExitCode::SUCCESS;
    };
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
    fail(format!("restore: {why}; {state}"), KERNEL_REFUSED)
}
