//! A drop-in for `ipvsadm`, built only on the `lvs` library.
//!
//! Same command line, same standard output and the same exit status as ipvsadm 1.31 for the
//! same commands on the same table; errors are printed on standard error in our own words.
//! Differences by design:
//! - `-R` is all or nothing: one [`lvs::client::Transaction`]. It parses and checks its input
//!   8,192 lines at a time (the first 1,024 lines first), each chunk while the one before is
//!   being applied; when a line is bad, the kernel refuses one, or SIGINT, SIGTERM, SIGHUP or
//!   SIGQUIT comes, it names the cause, undoes what it had applied, and checks that what it
//!   touched is back as it was. A bad line in the first 1,024 lines changes nothing at all.
//!   Its exit status says which: 0 applied; ipvsadm's status for the bad or refused line
//!   (2 or 255) when nothing changed or the roll back is complete; 128 + the signal's number
//!   when interrupted and rolled back; [`ROLLBACK_INCOMPLETE`] (3) when the roll back left
//!   something not as it was (the message names it).
//! - `--netns NAME` works on the table of that network namespace (`/run/netns/NAME`); `-c`
//!   always reads the caller's own namespace.
//!
//! ```sh
//! cargo build --release --example ipvsadm
//! sudo target/release/examples/ipvsadm -A -t 10.0.0.1:80 -s rr
//! sudo target/release/examples/ipvsadm -Ln
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use lvs::client::{DeferredSignals, Transaction, TransactionOptions};
use lvs::text::{
    self, parse_args, Command, ListFormat, ListOptions, ListRequest, ListWhat, Names, SystemNames,
    TableText, TextBlock,
};
use lvs::transport::{KernelTransport, RequestKind, Transport};
use lvs::wire::IpvsMessage;
use lvs::{Error, Ipvs, Op, ServiceEntry};

/// Exit status ipvsadm uses when the kernel refuses a change.
const KERNEL_REFUSED: u8 = 255;
/// Exit status ipvsadm uses when a listing cannot be read.
const LIST_FAILED: u8 = 1;
/// Exit status when IPVS cannot be reached.
const NO_IPVS: u8 = 2;
/// Exit status of a `-R` whose roll back left something not as it was.
const ROLLBACK_INCOMPLETE: u8 = 3;

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
            let _ = out.write_all(text::usage(program).as_bytes());
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
    let Some(msg) = cmd.op().map(IpvsMessage::from) else {
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
            .service_entry(id)
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

fn errno_text(e: &Error) -> String {
    match e.errno() {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => e.to_string(),
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

fn restore(
    ipvs: &mut Ipvs<KernelTransport>,
    names: &(dyn Names + Sync),
    out: &mut dyn Write,
) -> ExitCode {
    // Before any thread starts: every thread then holds these signals off too.
    let mut signals = match DeferredSignals::block() {
        Ok(s) => s,
        Err(e) => return fail(format!("restore: cannot hold off signals: {e}"), 1),
    };
    // The restore compares configurations only (a listing in the input sets its own).
    ipvs.set_read_stats(false);
    // The input is read while the transaction reads its snapshot of the table.
    let (input, tx) = std::thread::scope(|s| {
        let reader = s.spawn(read_input);
        let opts = TransactionOptions::default();
        let tx = ipvs.transaction_with(opts);
        (
            reader
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            tx,
        )
    });
    let input = match input {
        Ok(input) => input,
        Err(e) => return fail(format!("cannot read the rules from standard input: {e}"), 2),
    };
    let mut tx = match tx {
        Ok(tx) => tx,
        Err(e) => return fail(format!("restore: cannot read the table first: {e}"), 1),
    };
    // A restore that only adds need not follow what it adds.
    if !text::may_edit_or_delete(&input) {
        let _ = tx.set_track_adds(false); // turning it off cannot fail
    }
    let stopped = apply_rules(&mut tx, &input, names, &mut signals, out);
    let code = finish(tx, stopped);
    // Committed or rolled back: a later Ctrl-C has nothing left to stop.
    let _ = signals.take_all();
    // The process ends now: freeing the input line by line would only delay the exit.
    std::mem::forget(input);
    code
}

/// Commit, or roll back and say why: the exit status.
fn finish(tx: Transaction<'_, KernelTransport>, stopped: Option<Failure>) -> ExitCode {
    let Some(why) = stopped else {
        tx.commit();
        return ExitCode::SUCCESS;
    };
    let nothing_applied = tx.applied() == 0;
    let report = tx.roll_back();
    if !report.is_complete() {
        return fail(
            format!("restore: {}; {report}", why.message),
            ROLLBACK_INCOMPLETE,
        );
    }
    let state = if nothing_applied && report.undone == 0 {
        "nothing was applied"
    } else {
        "what it changed is back as it was"
    };
    fail(format!("restore: {}; {state}", why.message), why.status)
}

/// Parse `input` a chunk of lines at a time on a second thread and apply each chunk's writes
/// in `tx` while the next is parsed; print listings in place. What stopped it, if anything.
fn apply_rules(
    tx: &mut Transaction<'_, KernelTransport>,
    input: &str,
    names: &(dyn Names + Sync),
    signals: &mut DeferredSignals,
    out: &mut dyn Write,
) -> Option<Failure> {
    std::thread::scope(|s| {
        let (chunks, parsed) = std::sync::mpsc::sync_channel(1);
        s.spawn(move || {
            for (offset, chunk) in text::line_chunks(input, FIRST_CHUNK_LINES, CHUNK_LINES) {
                let rules = parse_chunk(chunk, offset, names);
                let failed = rules.is_err();
                // A closed channel: the restore stopped.
                if chunks.send(rules).is_err() || failed {
                    break;
                }
            }
        });
        for rules in parsed {
            if let Some(sig) = signals.pending().unwrap_or(None) {
                return Some(interrupted(sig));
            }
            let rules = match rules {
                Ok(rules) => rules,
                Err(f) => return Some(f),
            };
            // The writes between two listings go as one call (in batches of 8,192).
            for group in rules.split_inclusive(|r| !r.command.is_write()) {
                let (writes, listing) = match group.split_last() {
                    Some((last, writes)) if !last.command.is_write() => (writes, Some(last)),
                    _ => (group, None),
                };
                let ops: Vec<&Op> = writes.iter().filter_map(|r| r.command.op()).collect();
                if let Err(e) = tx.apply(&ops) {
                    return Some(refusal(writes, e));
                }
                if let Some(rule) = listing {
                    // A listing inside restore input prints as ipvsadm would.
                    let code = run(tx.ipvs(), rule.command.clone(), names, "ipvsadm", out);
                    if code != ExitCode::SUCCESS {
                        return Some(Failure::refused(format!("line {}: failed", rule.line)));
                    }
                }
            }
        }
        signals.pending().unwrap_or(None).map(interrupted)
    })
}

fn interrupted(sig: i32) -> Failure {
    Failure {
        message: format!("interrupted by signal {sig}"),
        status: 128u8.saturating_add(sig.clamp(0, 127) as u8),
    }
}

/// The failure for an error of `tx.apply` on the writes of `rules`: the refused line, named.
fn refusal(rules: &[text::Rule<'_>], e: Error) -> Failure {
    match e {
        Error::Batch { index, source, .. } => match rules.get(index) {
            Some(rule) => Failure::refused(format!(
                "line {}: the kernel refused it: {} (in: {})",
                rule.line,
                errno_text(&source),
                rule.text()
            )),
            None => Failure::refused(source.to_string()),
        },
        other => Failure::refused(format!("the kernel connection failed: {other}")),
    }
}

/// Read standard input to its end (into a buffer of the file's size when it is a file, up
/// to 256 MiB).
fn read_input() -> std::io::Result<String> {
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let size = stdin
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .map_or(0, |m| if m.is_file() { m.len() } else { 0 });
    // A hint only: the input is read to its end whatever its size.
    let mut text = String::with_capacity(usize::try_from(size.min(1 << 28)).unwrap_or(0) + 1);
    stdin.lock().read_to_string(&mut text)?;
    Ok(text)
}

/// How many lines of `-R` input are parsed at a time (while the chunk before is applied).
const CHUNK_LINES: usize = lvs::client::TRANSACTION_CHUNK;

/// How many lines the first chunk has: nothing is sent before it is parsed, so it is kept
/// short (a few milliseconds of parsing), and the rest come in [`CHUNK_LINES`].
const FIRST_CHUNK_LINES: usize = 1024;

/// Parse and check one chunk of `-R` input whose first line is line `offset + 1`: ipvsadm's
/// parser (its exit status on a bad line), then the library's checks on the values
/// ([`Command::validate`]).
fn parse_chunk<'a>(
    chunk: &'a str,
    offset: usize,
    names: &'a dyn Names,
) -> Result<Vec<text::Rule<'a>>, Failure> {
    let mut rules = Vec::with_capacity(chunk.bytes().filter(|&b| b == b'\n').count() + 1);
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
            let text = r.text();
            return Err(Failure::refused(format!(
                "line {}: {e} (in: {text})",
                r.line
            )));
        }
        rules.push(r);
    }
    Ok(rules)
}
