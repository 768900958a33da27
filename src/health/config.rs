//! Checks described as values: a probe by name (`tcp`, `http:/health`), and (feature
//! `serde`) a whole checker's configuration file.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::checker::{OnFailure, ServiceCheck, MAX_DURATION};
use super::probe::{CommandProbe, DnsProbe, HttpProbe, Probe, TcpProbe};
use super::runner::RunnerOptions;
use crate::error::InvalidError;
use crate::model::{Destination, ServiceId};

/// A built-in probe, as a value: what a command line or a configuration file names.
///
/// As text: `tcp`, `http` (`GET /`), `http:/PATH`, `dns` (the root, type A), `dns:NAME`,
/// `command:PROGRAM ARG...` (split at spaces; `{addr}` and `{port}` are replaced).
/// In a configuration file (feature `serde`): `"tcp"`, or `{"http": {"path": "/health",
/// "status": [200, 299], "body_contains": "ok", "host": "www.example.org"}}`, `{"dns":
/// {"name": "example.org", "qtype": 28, "accept_nxdomain": true}}`, `{"command": {"program":
/// "/usr/local/bin/check", "args": ["{addr}", "{port}"]}}`.
///
/// ```
/// use lvs::health::ProbeSpec;
/// let spec: ProbeSpec = "http:/health".parse()?;
/// assert_eq!(spec.to_string(), "http:/health");
/// let probe = spec.probe()?;
/// assert_eq!(probe.describe(), "http GET /health");
/// # Ok::<(), lvs::InvalidError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum ProbeSpec {
    /// [`TcpProbe`].
    Tcp,
    /// [`HttpProbe`].
    Http {
        /// The path (`/`).
        path: String,
        /// The `Host` header.
        #[cfg_attr(feature = "serde", serde(default))]
        host: Option<String>,
        /// The statuses that pass, lowest and highest (default 200 to 399).
        #[cfg_attr(feature = "serde", serde(default))]
        status: Option<[u16; 2]>,
        /// A string the body must contain.
        #[cfg_attr(feature = "serde", serde(default))]
        body_contains: Option<String>,
    },
    /// [`DnsProbe`].
    Dns {
        /// The name queried.
        name: String,
        /// The query type (default 1, A).
        #[cfg_attr(feature = "serde", serde(default))]
        qtype: Option<u16>,
        /// Whether `NXDOMAIN` passes.
        #[cfg_attr(feature = "serde", serde(default))]
        accept_nxdomain: bool,
    },
    /// [`CommandProbe`].
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        #[cfg_attr(feature = "serde", serde(default))]
        args: Vec<String>,
    },
}

impl ProbeSpec {
    /// The probe (its values checked).
    pub fn probe(&self) -> Result<Arc<dyn Probe>, InvalidError> {
        Ok(match self {
            ProbeSpec::Tcp => Arc::new(TcpProbe),
            ProbeSpec::Http {
                path,
                host,
                status,
                body_contains,
            } => {
                let mut p = HttpProbe::get(path)?;
                if let Some(h) = host {
                    p = p.host(h);
                }
                if let Some([lo, hi]) = *status {
                    if lo > hi || !(100..=599).contains(&lo) || !(100..=599).contains(&hi) {
                        return Err(InvalidError::parse(
                            &format!("[{lo}, {hi}]"),
                            "an HTTP status range [LOW, HIGH] within 100 to 599",
                        ));
                    }
                    p = p.status(lo..=hi);
                }
                if let Some(s) = body_contains {
                    p = p.body_contains(s);
                }
                Arc::new(p)
            }
            ProbeSpec::Dns {
                name,
                qtype,
                accept_nxdomain,
            } => {
                let mut p = DnsProbe::query(name)?;
                if let Some(t) = qtype {
                    p = p.qtype(*t);
                }
                if *accept_nxdomain {
                    p = p.accept_nxdomain();
                }
                Arc::new(p)
            }
            ProbeSpec::Command { program, args } => {
                if program.is_empty() || program.contains('\0') {
                    return Err(InvalidError::parse(program, "a program to run"));
                }
                Arc::new(CommandProbe::new(program, args.iter().cloned()))
            }
        })
    }
}

impl FromStr for ProbeSpec {
    type Err = InvalidError;

    fn from_str(s: &str) -> Result<ProbeSpec, InvalidError> {
        const EXPECTED: &str =
            "a check: tcp, http, http:/PATH, dns, dns:NAME or command:PROGRAM ARG...";
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        let spec = match (kind, arg) {
            ("tcp", None) => ProbeSpec::Tcp,
            ("http", path) => ProbeSpec::Http {
                path: path.unwrap_or("/").to_owned(),
                host: None,
                status: None,
                body_contains: None,
            },
            ("dns", name) => ProbeSpec::Dns {
                name: name.unwrap_or(".").to_owned(),
                qtype: None,
                accept_nxdomain: false,
            },
            ("command", Some(line)) => {
                let mut words = line.split_whitespace().map(str::to_owned);
                let program = words
                    .next()
                    .ok_or_else(|| InvalidError::parse(s, EXPECTED))?;
                ProbeSpec::Command {
                    program,
                    args: words.collect(),
                }
            }
            _ => return Err(InvalidError::parse(s, EXPECTED)),
        };
        // Refuse now what building the probe would refuse.
        spec.probe()?;
        Ok(spec)
    }
}

impl fmt::Display for ProbeSpec {
    /// The text form (`http:/health`); options a text form has no room for (status, body,
    /// host, query type) are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeSpec::Tcp => f.write_str("tcp"),
            ProbeSpec::Http { path, .. } => write!(f, "http:{path}"),
            ProbeSpec::Dns { name, .. } => write!(f, "dns:{name}"),
            ProbeSpec::Command { program, args } => {
                write!(f, "command:{program}")?;
                for a in args {
                    write!(f, " {a}")?;
                }
                Ok(())
            }
        }
    }
}

/// A duration in seconds from a command line or a file: above 0, at most a day.
pub fn seconds(value: f64, what: &'static str) -> Result<Duration, InvalidError> {
    if !value.is_finite() || value <= 0.0 || value > MAX_DURATION.as_secs_f64() {
        return Err(InvalidError::parse(&value.to_string(), what));
    }
    Duration::try_from_secs_f64(value).map_err(|_| InvalidError::parse(&value.to_string(), what))
}

/// One service's checks in a configuration file (feature `serde` to read it): every field
/// but `service` and `check` optional, with [`ServiceCheck`]'s defaults; durations in
/// seconds.
///
/// ```json
/// {"service": "tcp:192.168.1.2:80", "check": {"http": {"path": "/health"}},
///  "interval": 2, "timeout": 1, "rise": 2, "fall": 3, "on_failure": {"quiesce_then_remove": 60},
///  "slow_start": 30, "sorry_server": {"addr": "192.168.1.9:80", "forward": "masq"}}
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The service (`tcp:VIP:PORT`, `fwmark:N`).
    pub service: ServiceId,
    /// The probe.
    pub check: ProbeSpec,
    /// Seconds between two checks of a destination.
    #[cfg_attr(feature = "serde", serde(default))]
    pub interval: Option<f64>,
    /// Seconds one check may take in all.
    #[cfg_attr(feature = "serde", serde(default))]
    pub timeout: Option<f64>,
    /// Good checks in a row to come back.
    #[cfg_attr(feature = "serde", serde(default))]
    pub rise: Option<u32>,
    /// Failed checks in a row to go down.
    #[cfg_attr(feature = "serde", serde(default))]
    pub fall: Option<u32>,
    /// What going down does.
    #[cfg_attr(feature = "serde", serde(default))]
    pub on_failure: Option<FailureAction>,
    /// Seconds over which a recovered destination's weight ramps up.
    #[cfg_attr(feature = "serde", serde(default))]
    pub slow_start: Option<f64>,
    /// The weight of a destination first seen at 0, once it passes.
    #[cfg_attr(feature = "serde", serde(default))]
    pub default_weight: Option<u32>,
    /// The port checked.
    #[cfg_attr(feature = "serde", serde(default))]
    pub port: Option<u16>,
    /// The sorry server.
    #[cfg_attr(feature = "serde", serde(default))]
    pub sorry_server: Option<Destination>,
}

/// [`OnFailure`] in a configuration file: `"quiesce"`, `"remove"` or
/// `{"quiesce_then_remove": SECONDS}`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum FailureAction {
    /// [`OnFailure::Quiesce`].
    Quiesce,
    /// [`OnFailure::Remove`].
    Remove,
    /// [`OnFailure::QuiesceThenRemove`], after this many seconds.
    QuiesceThenRemove(f64),
}

impl FailureAction {
    /// The policy value.
    pub fn on_failure(self) -> Result<OnFailure, InvalidError> {
        Ok(match self {
            FailureAction::Quiesce => OnFailure::Quiesce,
            FailureAction::Remove => OnFailure::Remove,
            FailureAction::QuiesceThenRemove(s) => OnFailure::QuiesceThenRemove(seconds(
                s,
                "a removal delay in seconds, above 0 and at most 86400",
            )?),
        })
    }
}

impl ServiceConfig {
    /// A service checked with `check` and every default.
    pub fn new(service: ServiceId, check: ProbeSpec) -> ServiceConfig {
        ServiceConfig {
            service,
            check,
            interval: None,
            timeout: None,
            rise: None,
            fall: None,
            on_failure: None,
            slow_start: None,
            default_weight: None,
            port: None,
            sorry_server: None,
        }
    }

    /// The check it describes, validated.
    pub fn check(&self) -> Result<ServiceCheck, InvalidError> {
        let mut c = ServiceCheck::with_probe(self.service, self.check.probe()?);
        if let Some(s) = self.interval {
            c.interval = seconds(s, "an interval in seconds, above 0 and at most 86400")?;
        }
        if let Some(s) = self.timeout {
            c.timeout = seconds(s, "a timeout in seconds, above 0 and at most 86400")?;
        }
        if let Some(n) = self.rise {
            c.policy.rise = n;
        }
        if let Some(n) = self.fall {
            c.policy.fall = n;
        }
        if let Some(a) = self.on_failure {
            c.policy.on_failure = a.on_failure()?;
        }
        if let Some(s) = self.slow_start {
            c.policy.slow_start = Some(seconds(
                s,
                "a slow start in seconds, above 0 and at most 86400",
            )?);
        }
        if let Some(w) = self.default_weight {
            c.policy.default_weight = w;
        }
        c.port = self.port;
        c.sorry_server = self.sorry_server.clone();
        c.validate()?;
        Ok(c)
    }
}

/// A checker's configuration file (feature `serde` to read it): the runner's options and
/// the services.
///
/// ```json
/// {"workers": 16, "sync_interval": 1,
///  "services": [{"service": "tcp:192.168.1.2:80", "check": "tcp"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
#[non_exhaustive]
pub struct HealthConfig {
    /// Probe threads ([`RunnerOptions::workers`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub workers: Option<usize>,
    /// Seconds between two reads of the table ([`RunnerOptions::sync_interval`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub sync_interval: Option<f64>,
    /// The most destinations watched ([`RunnerOptions::max_destinations`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_destinations: Option<usize>,
    /// The services.
    pub services: Vec<ServiceConfig>,
}

/// The most probe threads a configuration may ask for.
pub const MAX_WORKERS: usize = 1024;

impl HealthConfig {
    /// The runner's options, validated (1 to [`MAX_WORKERS`] threads).
    pub fn runner_options(&self) -> Result<RunnerOptions, InvalidError> {
        let mut o = RunnerOptions::default();
        if let Some(n) = self.workers {
            if n == 0 || n > MAX_WORKERS {
                return Err(InvalidError::parse(
                    &n.to_string(),
                    "a number of workers from 1 to 1024",
                ));
            }
            o.workers = n;
        }
        if let Some(s) = self.sync_interval {
            o.sync_interval = Some(seconds(
                s,
                "a sync interval in seconds, above 0 and at most 86400",
            )?);
        }
        if let Some(n) = self.max_destinations {
            o.max_destinations = n;
        }
        Ok(o)
    }

    /// Every service's check, validated; a service named twice is an error.
    pub fn checks(&self) -> Result<Vec<ServiceCheck>, InvalidError> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(self.services.len());
        for s in &self.services {
            if !seen.insert(s.service) {
                return Err(InvalidError::parse(
                    &s.service.to_string(),
                    "each service once in a configuration",
                ));
            }
            out.push(s.check()?);
        }
        if out.is_empty() {
            return Err(InvalidError::parse("[]", "at least one service to check"));
        }
        Ok(out)
    }
}
