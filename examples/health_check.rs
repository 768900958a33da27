//! Health checks for the real servers of one IPVS service, on the public API only.
//!
//! Every `--interval`, each destination of the service is checked (a TCP connect, or an HTTP
//! `GET` whose status must be 2xx or 3xx), all in parallel, each within `--timeout`. A
//! destination that fails `--fall` checks in a row is quiesced: its weight goes to 0, so the
//! scheduler sends it no new connection while the established ones go on. After `--rise`
//! good checks in a row it gets its configured weight back. With `--remove-after SECS`, a
//! destination down that long is deleted from the service; it is still checked, and added
//! back (with its configured weight) when it recovers.
//!
//! ```text
//! health_check --service tcp:192.168.2.1:80 --check http:/health \
//!     [--interval 2] [--timeout 1] [--rise 2] [--fall 3] [--remove-after 60] \
//!     [--netns NAME] [--default-weight 1] [--rounds N]
//! ```
//!
//! The configured weight of a destination is the weight it has while healthy (a change made
//! by an administrator while it is up is taken over). A destination first seen with weight
//! 0 (quiesced by an earlier run, say) starts as down and comes up with `--default-weight`.
//! `--netns NAME` runs the whole checker inside that network namespace (the checks and the
//! IPVS handle), like `ip netns exec NAME`. Transitions are printed, one line each, to
//! standard output.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lvs::{Destination, Ipvs, ServiceId};

/// How a destination is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    /// The TCP handshake completes.
    Tcp,
    /// `GET path` answers with a 2xx or 3xx status.
    Http { path: String },
}

#[derive(Debug)]
struct Options {
    service: ServiceId,
    check: Check,
    interval: Duration,
    timeout: Duration,
    rise: u32,
    fall: u32,
    remove_after: Option<Duration>,
    netns: Option<String>,
    default_weight: u32,
    rounds: Option<u64>,
}

const USAGE: &str = "usage: health_check --service tcp:VIP:PORT [--check tcp|http[:PATH]] \
[--interval SECS] [--timeout SECS] [--rise N] [--fall N] [--remove-after SECS] \
[--netns NAME] [--default-weight N] [--rounds N]";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut service = None;
    let mut opts = Options {
        service: ServiceId::fwmark(1),
        check: Check::Tcp,
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(1),
        rise: 2,
        fall: 3,
        remove_after: None,
        netns: None,
        default_weight: Destination::DEFAULT_WEIGHT,
        rounds: None,
    };
    // Up to a day: a check loop with a longer wait is a typo, and a huge value would
    // overflow the clock's arithmetic.
    let secs = |v: &str, what: &str| -> Result<Duration, String> {
        v.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("{what}: expected a number of seconds in (0, 86400], got {v:?}"))
    };
    let count = |v: &str, what: &str| -> Result<u32, String> {
        v.parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{what}: expected a positive integer, got {v:?}"))
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--service" => {
                let id: ServiceId = value.parse().map_err(|e| format!("--service: {e}"))?;
                if id.addr().is_none() {
                    return Err("--service: firewall-mark services have no port to check; \
                                give an address service (tcp:VIP:PORT)"
                        .into());
                }
                service = Some(id);
            }
            "--check" => {
                opts.check = match value.as_str() {
                    "tcp" => Check::Tcp,
                    "http" => Check::Http { path: "/".into() },
                    v => match v.strip_prefix("http:") {
                        Some(path) if path.starts_with('/') => Check::Http { path: path.into() },
                        _ => {
                            return Err(format!("--check: expected tcp or http[:/PATH], got {v:?}"))
                        }
                    },
                }
            }
            "--interval" => opts.interval = secs(value, "--interval")?,
            "--timeout" => opts.timeout = secs(value, "--timeout")?,
            "--rise" => opts.rise = count(value, "--rise")?,
            "--fall" => opts.fall = count(value, "--fall")?,
            "--remove-after" => opts.remove_after = Some(secs(value, "--remove-after")?),
            "--netns" => {
                lvs::model::check_netns_name(value).map_err(|e| format!("--netns: {e}"))?;
                opts.netns = Some(value.clone());
            }
            "--default-weight" => opts.default_weight = count(value, "--default-weight")?,
            "--rounds" => opts.rounds = Some(u64::from(count(value, "--rounds")?)),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    opts.service = service.ok_or_else(|| format!("--service is required\n{USAGE}"))?;
    Ok(opts)
}

/// What a run of check results changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transition {
    /// `fall` failures in a row: quiesce.
    Down,
    /// `rise` successes in a row: restore.
    Up,
}

/// Rise and fall counting for one destination.
#[derive(Debug, Clone)]
struct Health {
    up: bool,
    /// Consecutive results against the current state.
    streak: u32,
    /// Since when it is down.
    down_since: Option<Instant>,
}

impl Health {
    fn new(up: bool, now: Instant) -> Health {
        Health {
            up,
            streak: 0,
            down_since: (!up).then_some(now),
        }
    }

    /// Take one check result; a transition when the streak reaches its threshold.
    fn observe(&mut self, ok: bool, rise: u32, fall: u32, now: Instant) -> Option<Transition> {
        if ok == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let threshold = if self.up { fall } else { rise };
        if self.streak < threshold {
            return None;
        }
        self.streak = 0;
        self.up = ok;
        self.down_since = (!ok).then_some(now);
        Some(if ok { Transition::Up } else { Transition::Down })
    }
}

/// One destination under watch.
struct Watched {
    health: Health,
    /// The weight it gets while healthy.
    weight: u32,
    /// The destination as last seen (or as it was when removed).
    dest: Destination,
    /// Deleted from the service by us (after `--remove-after`).
    removed: bool,
}

fn check_one(addr: SocketAddr, check: &Check, timeout: Duration) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    let Check::Http { path } = check else {
        return Ok(());
    };
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("sending the request: {e}"))?;
    // The status line is all we need: "HTTP/1.x NNN reason".
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or(&[]));
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| "no HTTP status line in the answer".to_owned())?;
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP status {status}"))
    }
}

fn enter_netns(name: &str) -> Result<(), String> {
    let path = std::path::Path::new("/run/netns").join(name);
    let ns = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("entering network namespace {name}: {e}"))
}

fn main() -> ExitCode {
    let args = match lvs::text::utf8_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("health_check: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("health_check: {msg}");
            return ExitCode::from(2);
        }
    };
    // Before any other thread exists: the checks and the handle all run in the namespace.
    if let Some(ns) = &opts.netns {
        if let Err(e) = enter_netns(ns) {
            eprintln!("health_check: {e}");
            return ExitCode::FAILURE;
        }
    }
    let mut ipvs = match Ipvs::new() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("health_check: opening IPVS: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&mut ipvs, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("health_check: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(ipvs: &mut Ipvs, opts: &Options) -> lvs::Result<()> {
    let id = opts.service;
    let port_of_service = id.addr().map_or(0, |a| a.port());
    println!(
        "checking {id} every {:?} ({:?}, timeout {:?}, rise {}, fall {}{})",
        opts.interval,
        opts.check,
        opts.timeout,
        opts.rise,
        opts.fall,
        opts.remove_after
            .map(|d| format!(", remove after {d:?}"))
            .unwrap_or_default()
    );
    let mut watched: HashMap<SocketAddr, Watched> = HashMap::new();
    let mut round: u64 = 0;
    loop {
        let started = Instant::now();
        // The service's destinations now; those we removed stay watched.
        let current = ipvs.destinations(&id)?;
        let now = Instant::now();
        for d in &current {
            let addr = d.socket_addr();
            match watched.get_mut(&addr) {
                Some(w) => {
                    w.removed = false;
                    // An administrator's weight change while it is up is the new configuration.
                    if w.health.up && d.weight > 0 {
                        w.weight = d.weight;
                    }
                    w.dest = d.clone();
                }
                None => {
                    let up = d.weight > 0;
                    let weight = if up { d.weight } else { opts.default_weight };
                    println!(
                        "watching {addr} (weight {}, {})",
                        d.weight,
                        if up {
                            "up"
                        } else {
                            "down until it passes its checks"
                        }
                    );
                    watched.insert(
                        addr,
                        Watched {
                            health: Health::new(up, now),
                            weight,
                            dest: d.clone(),
                            removed: false,
                        },
                    );
                }
            }
        }
        // Destinations deleted by someone else are no longer ours to watch.
        watched.retain(|addr, w| w.removed || current.iter().any(|d| d.socket_addr() == *addr));

        // Check them all in parallel.
        let targets: Vec<SocketAddr> = watched.keys().copied().collect();
        let results: Vec<(SocketAddr, Result<(), String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = targets
                .iter()
                .map(|&addr| {
                    let target = if addr.port() == 0 {
                        SocketAddr::new(addr.ip(), port_of_service)
                    } else {
                        addr
                    };
                    let check = &opts.check;
                    let timeout = opts.timeout;
                    (addr, s.spawn(move || check_one(target, check, timeout)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(addr, h)| {
                    let r = h
                        .join()
                        .unwrap_or_else(|_| Err("the check panicked".to_owned()));
                    (addr, r)
                })
                .collect()
        });

        let now = Instant::now();
        for (addr, result) in results {
            let Some(w) = watched.get_mut(&addr) else {
                continue;
            };
            match w.health.observe(result.is_ok(), opts.rise, opts.fall, now) {
                Some(Transition::Down) => {
                    let why = result.err().unwrap_or_default();
                    let mut quiet = w.dest.clone();
                    quiet.weight = 0;
                    match ipvs.update_destination(&id, &quiet) {
                        Ok(()) => println!(
                            "DOWN {addr}: {} failed checks ({why}): weight 0 (was {})",
                            opts.fall, w.weight
                        ),
                        Err(e) => eprintln!("DOWN {addr}: quiescing failed: {e}"),
                    }
                }
                Some(Transition::Up) => {
                    let mut back = w.dest.clone();
                    back.weight = w.weight;
                    let was_removed = w.removed;
                    let r = if was_removed {
                        back.counters = None;
                        back.stats = None;
                        ipvs.add_destination(&id, &back)
                    } else {
                        ipvs.update_destination(&id, &back)
                    };
                    match r {
                        Ok(()) => {
                            w.removed = false;
                            println!(
                                "UP {addr}: {} good checks: weight {}{}",
                                opts.rise,
                                w.weight,
                                if was_removed { " (added back)" } else { "" }
                            );
                        }
                        Err(e) => eprintln!("UP {addr}: restoring failed: {e}"),
                    }
                }
                None => {}
            }
            // Down for longer than the grace period: remove it (still watched).
            if let (Some(grace), Some(since), false) =
                (opts.remove_after, w.health.down_since, w.removed)
            {
                if now.duration_since(since) >= grace {
                    match ipvs.delete_destination(&id, addr) {
                        Ok(()) => {
                            w.removed = true;
                            println!("REMOVED {addr}: down for {grace:?}");
                        }
                        Err(e) => eprintln!("REMOVED {addr}: deleting failed: {e}"),
                    }
                }
            }
        }

        round += 1;
        if opts.rounds.is_some_and(|n| round >= n) {
            return Ok(());
        }
        if let Some(rest) = opts.interval.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_successes() {
        let t = Instant::now();
        let mut h = Health::new(true, t);
        assert_eq!(h.observe(false, 2, 3, t), None);
        assert_eq!(h.observe(false, 2, 3, t), None);
        assert_eq!(h.observe(false, 2, 3, t), Some(Transition::Down));
        assert_eq!(h.down_since, Some(t));
        assert_eq!(h.observe(false, 2, 3, t), None, "already down");
        assert_eq!(h.observe(true, 2, 3, t), None);
        assert_eq!(h.observe(true, 2, 3, t), Some(Transition::Up));
        assert_eq!(h.down_since, None);
    }

    #[test]
    fn a_good_check_resets_the_failure_streak() {
        let t = Instant::now();
        let mut h = Health::new(true, t);
        for _ in 0..10 {
            assert_eq!(h.observe(false, 1, 2, t), None);
            assert_eq!(h.observe(true, 1, 2, t), None);
        }
        assert!(h.up);
        let mut down = Health::new(false, t);
        assert_eq!(down.observe(true, 2, 1, t), None);
        assert_eq!(down.observe(false, 2, 1, t), None);
        assert_eq!(down.observe(true, 2, 1, t), None);
        assert_eq!(down.observe(true, 2, 1, t), Some(Transition::Up));
    }

    #[test]
    fn arguments() {
        let a = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let o = parse_args(&a(
            "--service tcp:10.0.0.1:80 --check http:/id --interval 0.5 \
                               --timeout 0.25 --rise 1 --fall 4 --remove-after 30",
        ))
        .unwrap();
        assert_eq!(o.check, Check::Http { path: "/id".into() });
        assert_eq!(o.interval, Duration::from_millis(500));
        assert_eq!((o.rise, o.fall), (1, 4));
        assert_eq!(o.remove_after, Some(Duration::from_secs(30)));
        assert!(parse_args(&a("--check tcp")).is_err(), "no service");
        assert!(parse_args(&a("--service fwmark:3")).is_err());
        assert!(parse_args(&a("--service tcp:10.0.0.1:80 --fall 0")).is_err());
        assert!(parse_args(&a("--service tcp:10.0.0.1:80 --check http:id")).is_err());
        assert!(parse_args(&a("--service tcp:10.0.0.1:80 --interval -1")).is_err());
        assert!(parse_args(&a("--service tcp:10.0.0.1:80 --bogus 1")).is_err());
    }

    #[test]
    fn http_check_reads_the_status() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut c, _) = listener.accept().unwrap();
                let mut buf = [0u8; 512];
                let _ = c.read(&mut buf).unwrap();
                write!(c, "HTTP/1.0 {status}\r\n\r\n").unwrap();
            }
        });
        let http = Check::Http { path: "/".into() };
        let t = Duration::from_secs(5);
        assert_eq!(check_one(addr, &http, t), Ok(()));
        assert_eq!(check_one(addr, &http, t), Err("HTTP status 503".to_owned()));
        // The listener is gone with the server thread: nothing listens there any more.
        server.join().unwrap();
        assert!(check_one(addr, &Check::Tcp, t).is_err());
    }
}
