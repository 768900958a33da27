//! Health checks for the real servers of IPVS services: a command line on `lvs::health`.
//!
//! Each destination of each `--service` is checked every `--interval` (a TCP connect, an
//! HTTP `GET` whose status must be 2xx or 3xx, a DNS query, or a command's exit status),
//! each check within `--timeout` in all, on a bounded pool of `--workers` threads. A
//! destination that fails `--fall` checks in a row is quiesced (weight 0: no new
//! connections, the established ones go on), or removed with `--on-failure remove`; after
//! `--rise` good checks in a row it gets its configured weight back (ramping up over
//! `--slow-start` seconds if given). With `--remove-after SECS`, a destination down that
//! long is deleted from the service; it is still checked and added back when it recovers.
//! `--sorry-server ADDR:PORT[,masq|tun|route]` is added while every real server of a
//! service is down.
//!
//! ```text
//! health_check --service tcp:192.168.2.1:80 [--service ...] --check http:/health \
//!     [--interval 2] [--timeout 1] [--rise 2] [--fall 3] [--remove-after 60] \
//!     [--on-failure quiesce|remove] [--slow-start SECS] [--sorry-server ADDR:PORT] \
//!     [--port N] [--workers 16] [--netns NAME] [--default-weight 1] [--rounds N]
//! health_check --config checks.json [--netns NAME] [--rounds N]
//! ```
//!
//! The configuration file is `lvs::health::HealthConfig` as JSON:
//! `{"workers": 16, "services": [{"service": "tcp:192.168.2.1:80", "check": {"http":
//! {"path": "/health"}}, "fall": 2}]}`.
//!
//! The configured weight of a destination is its weight while healthy; a weight an
//! administrator sets is adopted. A destination first seen with weight 0 (quiesced by an
//! earlier run, say) starts as down and comes up with `--default-weight`. `--netns NAME`
//! checks and writes inside that network namespace. Every event is printed, one line each,
//! to standard output. SIGINT or SIGTERM stops it (exit 0); bad arguments exit 2.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use lvs::client::DeferredSignals;
use lvs::health::{
    seconds, FailureAction, HealthChecker, HealthConfig, ProbeSpec, ServiceConfig, MAX_WORKERS,
};
use lvs::{Destination, ForwardMethod, Ipvs, ServiceId};

const USAGE: &str = "usage: health_check --service PROTO:VIP:PORT [--service ...] \
[--check tcp|http[:PATH]|dns[:NAME]|command:PROGRAM ARGS] [--interval SECS] [--timeout SECS] \
[--rise N] [--fall N] [--remove-after SECS] [--on-failure quiesce|remove] [--slow-start SECS] \
[--sorry-server ADDR:PORT[,masq|tun|route]] [--port N] [--workers N] [--default-weight N] \
[--netns NAME] [--rounds N]
       health_check --config FILE.json [--netns NAME] [--rounds N]";

#[derive(Debug)]
struct Options {
    config: HealthConfig,
    netns: Option<String>,
    rounds: Option<u64>,
}

fn count(v: &str, what: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{what}: expected a positive integer, got {v:?}"))
}

fn secs(v: &str, what: &'static str) -> Result<f64, String> {
    let s: f64 = v
        .parse()
        .map_err(|_| format!("{what}: expected a number of seconds, got {v:?}"))?;
    seconds(s, "a number of seconds above 0 and at most 86400")
        .map_err(|e| format!("{what}: {e}"))?;
    Ok(s)
}

fn sorry_server(v: &str) -> Result<Destination, String> {
    let (addr, method) = v.split_once(',').unwrap_or((v, "route"));
    let addr = addr
        .parse()
        .map_err(|_| format!("--sorry-server: expected ADDR:PORT, got {addr:?}"))?;
    let forward = match method {
        "masq" | "m" => ForwardMethod::Masquerade,
        "route" | "g" => ForwardMethod::DirectRoute,
        "tun" | "i" => ForwardMethod::Tunnel(Default::default()),
        m => {
            return Err(format!(
                "--sorry-server: expected masq, tun or route, got {m:?}"
            ))
        }
    };
    Destination::builder(addr)
        .forward(forward)
        .build()
        .map_err(|e| format!("--sorry-server: {e}"))
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut services: Vec<ServiceId> = Vec::new();
    let mut template = ServiceConfig::new(ServiceId::fwmark(1), ProbeSpec::Tcp);
    let mut config_file = None;
    let mut netns = None;
    let mut rounds = None;
    let mut workers = None;
    let mut remove_after = None;
    let mut per_service_flag = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        per_service_flag |= !matches!(flag.as_str(), "--config" | "--netns" | "--rounds");
        match flag.as_str() {
            "--service" => {
                let id: ServiceId = value.parse().map_err(|e| format!("--service: {e}"))?;
                if services.contains(&id) {
                    return Err(format!("--service {id} is given twice"));
                }
                services.push(id);
            }
            "--check" => {
                template.check = value.parse().map_err(|e| format!("--check: {e}"))?;
            }
            "--interval" => template.interval = Some(secs(value, "--interval")?),
            "--timeout" => template.timeout = Some(secs(value, "--timeout")?),
            "--rise" => template.rise = Some(count(value, "--rise")?),
            "--fall" => template.fall = Some(count(value, "--fall")?),
            "--remove-after" => remove_after = Some(secs(value, "--remove-after")?),
            "--on-failure" => {
                template.on_failure = Some(match value.as_str() {
                    "quiesce" => FailureAction::Quiesce,
                    "remove" => FailureAction::Remove,
                    v => {
                        return Err(format!(
                            "--on-failure: expected quiesce or remove, got {v:?}"
                        ))
                    }
                })
            }
            "--slow-start" => template.slow_start = Some(secs(value, "--slow-start")?),
            "--sorry-server" => template.sorry_server = Some(sorry_server(value)?),
            "--port" => {
                template.port = Some(
                    value
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| format!("--port: expected 1 to 65535, got {value:?}"))?,
                )
            }
            "--default-weight" => {
                let w = count(value, "--default-weight")?;
                if w > Destination::MAX_WEIGHT {
                    return Err(format!("--default-weight: at most 65535, got {w}"));
                }
                template.default_weight = Some(w);
            }
            "--workers" => {
                let n = count(value, "--workers")? as usize;
                if n > MAX_WORKERS {
                    return Err(format!("--workers: at most {MAX_WORKERS}, got {n}"));
                }
                workers = Some(n);
            }
            "--config" => config_file = Some(value.clone()),
            "--netns" => {
                lvs::model::check_netns_name(value).map_err(|e| format!("--netns: {e}"))?;
                netns = Some(value.clone());
            }
            "--rounds" => rounds = Some(u64::from(count(value, "--rounds")?)),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if let Some(s) = remove_after {
        if template.on_failure == Some(FailureAction::Remove) {
            return Err("--remove-after and --on-failure remove: choose one".into());
        }
        template.on_failure = Some(FailureAction::QuiesceThenRemove(s));
    }
    let config = match config_file {
        Some(path) => {
            if per_service_flag {
                return Err(
                    "--config: the checks come from the file; only --netns and --rounds go with it"
                        .into(),
                );
            }
            let text = read_config(&path)?;
            serde_json::from_str::<HealthConfig>(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => {
            if services.is_empty() {
                return Err(format!("--service is required\n{USAGE}"));
            }
            let mut config = HealthConfig::default();
            config.workers = workers;
            config.services = services
                .iter()
                .map(|id| {
                    let mut c = template.clone();
                    c.service = *id;
                    c
                })
                .collect();
            config
        }
    };
    // Every value checked now, before anything runs.
    config.runner_options().map_err(|e| e.to_string())?;
    config.checks().map_err(|e| e.to_string())?;
    Ok(Options {
        config,
        netns,
        rounds,
    })
}

/// The configuration file: at most 1 MiB of UTF-8.
fn read_config(path: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut text = String::new();
    file.take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| format!("{path}: {e}"))?;
    if text.len() >= 1 << 20 {
        return Err(format!("{path}: larger than 1 MiB"));
    }
    Ok(text)
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
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("health_check: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &Options) -> lvs::Result<()> {
    let runner = opts.config.runner_options()?;
    let mut hc = match &opts.netns {
        Some(ns) => HealthChecker::in_netns(ns, runner)?,
        None => HealthChecker::new(Ipvs::new()?, runner)?,
    };
    for check in opts.config.checks()? {
        println!(
            "checking {} every {:?} ({}, timeout {:?}, rise {}, fall {}, on failure {:?})",
            check.service,
            check.interval,
            check.probe.describe(),
            check.timeout,
            check.policy.rise,
            check.policy.fall,
            check.policy.on_failure
        );
        hc.add_service(check)?;
    }
    // SIGINT and SIGTERM end the loop between two steps.
    let mut signals = DeferredSignals::block()?;
    let end = opts.rounds.map(|n| hc.rounds() + n);
    loop {
        for event in hc.step(Instant::now()) {
            println!("{event}");
        }
        if end.is_some_and(|n| hc.rounds() >= n) {
            return Ok(());
        }
        if let Some(sig) = signals.pending()? {
            println!("signal {sig}: stopping");
            return Ok(());
        }
        // Bounded: the next check or sync, and at most 100 ms (to see a signal).
        let now = Instant::now();
        let until = hc
            .next_wakeup()
            .unwrap_or(now)
            .min(now + Duration::from_millis(100));
        hc.wait(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn arguments() {
        let o = parse_args(&a(
            "--service tcp:10.0.0.1:80 --service udp:10.0.0.1:53 --check http:/id --interval 0.5 \
             --timeout 0.25 --rise 1 --fall 4 --remove-after 30 --workers 4",
        ))
        .unwrap();
        let checks = o.config.checks().unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].probe.describe(), "http GET /id");
        assert_eq!(checks[0].interval, Duration::from_millis(500));
        assert_eq!((checks[1].policy.rise, checks[1].policy.fall), (1, 4));
        assert_eq!(
            checks[0].policy.on_failure,
            lvs::health::OnFailure::QuiesceThenRemove(Duration::from_secs(30))
        );
        assert_eq!(o.config.runner_options().unwrap().workers, 4);
        for bad in [
            "--check tcp",
            "--service tcp:10.0.0.1:80 --fall 0",
            "--service tcp:10.0.0.1:80 --check http:id",
            "--service tcp:10.0.0.1:80 --interval -1",
            "--service tcp:10.0.0.1:80 --interval nan",
            "--service tcp:10.0.0.1:80 --timeout 1e9",
            "--service tcp:10.0.0.1:80 --bogus 1",
            "--service tcp:10.0.0.1:80 --service tcp:10.0.0.1:80",
            "--service fwmark:3",
            "--service tcp:10.0.0.1:80 --default-weight 70000",
            "--service tcp:10.0.0.1:80 --remove-after 3 --on-failure remove",
            "--service tcp:10.0.0.1:80 --workers 0",
            "--service tcp:10.0.0.1:80 --sorry-server 10.0.0.9:80,bogus",
            "--config /nonexistent.json",
            "--config x.json --service tcp:10.0.0.1:80",
            "--service tcp:10.0.0.1:80 --netns ../etc",
            "--service",
        ] {
            assert!(parse_args(&a(bad)).is_err(), "{bad}");
        }
        assert!(parse_args(&a("--service fwmark:3 --port 80")).is_ok());
    }

    #[test]
    fn configuration_file() {
        let dir = std::env::temp_dir().join(format!("hc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checks.json");
        std::fs::write(
            &path,
            r#"{"workers": 8, "sync_interval": 0.5, "services": [
                {"service": "tcp:10.0.0.1:80", "check": {"http": {"path": "/h", "status": [200, 204]}},
                 "fall": 2, "on_failure": {"quiesce_then_remove": 30}, "slow_start": 10,
                 "sorry_server": {"addr": "10.0.0.9:80", "forward": "masq"}},
                {"service": "udp:10.0.0.1:53", "check": {"dns": {"name": "example.org"}}}]}"#,
        )
        .unwrap();
        let o = parse_args(&a(&format!("--config {} --rounds 3", path.display()))).unwrap();
        let checks = o.config.checks().unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].policy.fall, 2);
        assert!(checks[0].sorry_server.is_some());
        assert_eq!(o.rounds, Some(3));
        std::fs::write(
            &path,
            r#"{"services": [{"service": "tcp:10.0.0.1:80", "check": "tcp", "falls": 2}]}"#,
        )
        .unwrap();
        let e = parse_args(&a(&format!("--config {}", path.display()))).unwrap_err();
        assert!(e.contains("falls"), "{e}");
        std::fs::write(
            &path,
            r#"{"services": [{"service": "tcp:10.0.0.1:80", "check": "tcp", "interval": 0}]}"#,
        )
        .unwrap();
        assert!(parse_args(&a(&format!("--config {}", path.display()))).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
