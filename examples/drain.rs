//! Drain real servers, or a whole service, gracefully, on the public API only
//! (`lvs::client::drain`).
//!
//! ```text
//! drain --service tcp:VIP:PORT (--real ADDR:PORT [--real ...] | --whole-service)
//!     [--deadline SECS] [--poll SECS] [--wait active|all] [--netns NAME]
//! ```
//!
//! Each `--real` (or the service) is quiesced at once (weight 0: no new connections, the
//! established ones go on), then deleted when it is idle (`--wait active`, the default: no
//! active connection; `--wait all`: no connection at all, `TIME_WAIT` included) or when
//! `--deadline` seconds have passed, whichever comes first; without `--deadline` it waits
//! as long as connections last. UDP and SCTP services are deleted at once. The connection
//! counters are read every `--poll` seconds (default 1). One line is printed per change of
//! a drain's state, with the seconds since the start:
//!
//! ```text
//! 0.0 tcp:192.168.1.2:80 -> 10.40.0.11:80: quiescing
//! 1.0 tcp:192.168.1.2:80 -> 10.40.0.11:80: waiting: 1 active, 0 inactive
//! 7.0 tcp:192.168.1.2:80 -> 10.40.0.11:80: deleted (idle)
//! ```
//!
//! Exit status: 0 once every drain is over, 1 on an error talking to the kernel, 2 for bad
//! arguments.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lvs::client::{DrainPolicy, DrainTarget, DrainWait, Drainer};
use lvs::{Ipvs, ServiceId};

const USAGE: &str = "usage: drain --service tcp:VIP:PORT (--real ADDR:PORT [--real ...] | \
--whole-service) [--deadline SECS] [--poll SECS] [--wait active|all] [--netns NAME]";

#[derive(Debug)]
struct Options {
    targets: Vec<DrainTarget>,
    policy: DrainPolicy,
    poll: Duration,
    netns: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut service: Option<ServiceId> = None;
    let mut reals: Vec<SocketAddr> = Vec::new();
    let mut whole = false;
    let mut policy = DrainPolicy::default();
    let mut poll = Duration::from_secs(1);
    let mut netns = None;
    // Up to a day: a longer wait is a typo, and a huge value would overflow the clock.
    let secs = |v: &str, what: &str| -> Result<Duration, String> {
        v.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("{what}: expected a number of seconds in [0, 86400], got {v:?}"))
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-h" | "--help" => return Err(USAGE.to_owned()),
            "--whole-service" => {
                whole = true;
                continue;
            }
            _ => {}
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--service" => {
                service = Some(value.parse().map_err(|e| format!("--service: {e}"))?);
            }
            "--real" => {
                let addr = value
                    .parse()
                    .map_err(|_| format!("--real: expected ADDR:PORT, got {value:?}"))?;
                if !reals.contains(&addr) {
                    reals.push(addr);
                }
            }
            "--deadline" => policy = policy.deadline(secs(value, "--deadline")?),
            "--poll" => {
                poll = secs(value, "--poll")?;
                if poll.is_zero() {
                    return Err("--poll: must be above 0".into());
                }
            }
            "--wait" => {
                policy = policy.wait(match value.as_str() {
                    "active" => DrainWait::Active,
                    "all" => DrainWait::AllConnections,
                    v => return Err(format!("--wait: expected active or all, got {v:?}")),
                })
            }
            "--netns" => {
                lvs::model::check_netns_name(value).map_err(|e| format!("--netns: {e}"))?;
                netns = Some(value.clone());
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let id = service.ok_or_else(|| format!("--service is required\n{USAGE}"))?;
    let targets = match (whole, reals.is_empty()) {
        (true, true) => vec![DrainTarget::Service(id)],
        (false, false) => reals
            .into_iter()
            .map(|r| DrainTarget::Destination(id, r))
            .collect(),
        (true, false) => return Err("--real and --whole-service exclude each other".into()),
        (false, true) => return Err(format!("give --real ADDR:PORT or --whole-service\n{USAGE}")),
    };
    Ok(Options {
        targets,
        policy,
        poll,
        netns,
    })
}

fn main() -> ExitCode {
    let args = match lvs::text::utf8_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("drain: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("drain: {msg}");
            return ExitCode::from(2);
        }
    };
    let ipvs = match &opts.netns {
        Some(ns) => Ipvs::in_netns(ns),
        None => Ipvs::new(),
    };
    let mut ipvs = match ipvs {
        Ok(i) => i,
        Err(e) => {
            eprintln!("drain: opening IPVS: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&mut ipvs, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drain: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(ipvs: &mut Ipvs, opts: &Options) -> lvs::Result<()> {
    let start = Instant::now();
    let mut drainer = Drainer::new(opts.policy);
    for t in &opts.targets {
        drainer.start(*t, start);
    }
    let mut last: Vec<String> = Vec::new();
    loop {
        ipvs.drain_step(&mut drainer)?;
        let progress = drainer.progress();
        let lines: Vec<String> = progress.iter().map(ToString::to_string).collect();
        for (i, line) in lines.iter().enumerate() {
            if last.get(i) != Some(line) {
                println!("{:.1} {line}", start.elapsed().as_secs_f64());
            }
        }
        last = lines;
        if drainer.is_finished() {
            return Ok(());
        }
        // Wake at the next deadline rather than up to a poll after it.
        let now = Instant::now();
        let wait = progress
            .iter()
            .filter(|p| !p.state.is_finished())
            .filter_map(|p| p.deadline)
            .map(|t| t.saturating_duration_since(now))
            .fold(opts.poll, Duration::min);
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn reals_or_the_whole_service() {
        let o = parse_args(&args(
            "--service tcp:10.0.0.1:80 --real 10.0.0.2:80 --real 10.0.0.3:80 --deadline 2 \
             --poll 0.5 --wait all --netns d",
        ))
        .unwrap();
        assert_eq!(o.targets.len(), 2);
        assert_eq!(o.policy.deadline, Some(Duration::from_secs(2)));
        assert_eq!(o.policy.wait, DrainWait::AllConnections);
        assert_eq!(o.poll, Duration::from_millis(500));
        assert_eq!(o.netns.as_deref(), Some("d"));
        let o = parse_args(&args("--service tcp:10.0.0.1:80 --whole-service")).unwrap();
        assert!(matches!(o.targets[..], [DrainTarget::Service(_)]));
    }

    #[test]
    fn bad_arguments_are_errors() {
        for bad in [
            "",
            "--service tcp:10.0.0.1:80",
            "--service nope --real 10.0.0.2:80",
            "--service tcp:10.0.0.1:80 --real 10.0.0.2",
            "--service tcp:10.0.0.1:80 --real 10.0.0.2:80 --whole-service",
            "--service tcp:10.0.0.1:80 --real 10.0.0.2:80 --deadline -1",
            "--service tcp:10.0.0.1:80 --real 10.0.0.2:80 --poll 0",
            "--service tcp:10.0.0.1:80 --real 10.0.0.2:80 --wait some",
            "--service tcp:10.0.0.1:80 --real 10.0.0.2:80 --netns a/b",
            "--service tcp:10.0.0.1:80 --real 10.0.0.2:80 --bogus 1",
            "--service tcp:10.0.0.1:80 --real",
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
