//! Probes: how one destination is checked, each within a total deadline.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::ops::RangeInclusive;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// The server failed the check (refused, timed out, wrong answer): counts toward `fall`.
    Failed(String),
    /// The check could not be made for a reason of this host (no file descriptor left, no
    /// memory, no ephemeral port): it says nothing about the server and counts neither way.
    Local(String),
}

impl ProbeError {
    /// A failure of the server.
    pub fn failed(why: impl Into<String>) -> ProbeError {
        ProbeError::Failed(why.into())
    }

    /// Whether the check could not be made (a local resource ran out).
    pub fn is_local(&self) -> bool {
        matches!(self, ProbeError::Local(_))
    }

    /// Classify an I/O error met while checking: this host's own shortages (`EMFILE`,
    /// `ENFILE`, `ENOBUFS`, `ENOMEM`, `EADDRNOTAVAIL`, `EAGAIN` when creating a process or
    /// socket) are [`Local`](Self::Local), everything else a failure of the server.
    pub fn from_io(action: &str, e: &io::Error) -> ProbeError {
        let text = format!("{action}: {e}");
        match e.raw_os_error() {
            Some(
                libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL,
            ) => ProbeError::Local(text),
            _ => ProbeError::Failed(text),
        }
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Failed(why) => f.write_str(why),
            ProbeError::Local(why) => write!(f, "not checked ({why})"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// The result of one check.
pub type ProbeResult = Result<(), ProbeError>;

/// One way to check a destination.
///
/// `check` must return by `deadline` whatever the server does (connect, write and read
/// together); the built-in probes do, and the scheduler runs probes on a bounded pool of
/// threads, so a probe that overruns delays the checks queued behind it.
///
/// A closure is a probe:
///
/// ```
/// use lvs::health::{Probe, ProbeError};
/// use std::net::SocketAddr;
/// use std::time::Instant;
/// let even_ports = |target: SocketAddr, _deadline: Instant| {
///     if target.port() % 2 == 0 { Ok(()) } else { Err(ProbeError::failed("odd port")) }
/// };
/// assert!(even_ports.check("10.0.0.1:80".parse()?, Instant::now()).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Probe: Send + Sync {
    /// Check `target` (the destination's address, with the check port), returning by
    /// `deadline`.
    fn check(&self, target: SocketAddr, deadline: Instant) -> ProbeResult;

    /// A short description for logs (`tcp`, `http GET /health`).
    fn describe(&self) -> String {
        "custom probe".to_owned()
    }
}

impl<F> Probe for F
where
    F: Fn(SocketAddr, Instant) -> ProbeResult + Send + Sync,
{
    fn check(&self, target: SocketAddr, deadline: Instant) -> ProbeResult {
        self(target, deadline)
    }
}

/// The time left before `deadline`, or a timeout failure.
fn remaining(deadline: Instant, doing: &str) -> Result<Duration, ProbeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ProbeError::Failed(format!("timed out {doing}")));
    }
    Ok(left)
}

fn io_err(action: &str, e: io::Error, deadline: Instant) -> ProbeError {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) || Instant::now() >= deadline
    {
        return ProbeError::Failed(format!("timed out {action}"));
    }
    ProbeError::from_io(action, &e)
}

fn connect(target: SocketAddr, deadline: Instant) -> Result<TcpStream, ProbeError> {
    let left = remaining(deadline, "connecting")?;
    TcpStream::connect_timeout(&target, left).map_err(|e| io_err("connecting", e, deadline))
}

/// The TCP handshake completes (keepalived's `TCP_CHECK`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpProbe;

impl Probe for TcpProbe {
    fn check(&self, target: SocketAddr, deadline: Instant) -> ProbeResult {
        connect(target, deadline).map(drop)
    }

    fn describe(&self) -> String {
        "tcp".to_owned()
    }
}

/// The most an HTTP probe reads of an answer (status line, headers and body).
pub const HTTP_MAX_ANSWER: usize = 64 * 1024;

/// `GET path` answers with an expected status and, optionally, a body that contains a
/// string (keepalived's `HTTP_GET` with `status_code`, without its digest).
///
/// The request is HTTP/1.0 with `Connection: close`; the answer is read until the status
/// line (and, with [`body_contains`](Self::body_contains), until the string is seen, the
/// server closes, or [`HTTP_MAX_ANSWER`] bytes), all within the deadline: a server that
/// trickles its answer a byte at a time fails at the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    path: String,
    host: Option<String>,
    status: RangeInclusive<u16>,
    body_contains: Option<String>,
}

impl HttpProbe {
    /// `GET path`, expecting a status from 200 to 399. The path must start with `/` and
    /// hold no space or control character.
    pub fn get(path: &str) -> Result<HttpProbe, crate::error::InvalidError> {
        if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(crate::error::InvalidError::parse(
                path,
                "an HTTP path (/health, no spaces)",
            ));
        }
        Ok(HttpProbe {
            path: path.to_owned(),
            host: None,
            status: 200..=399,
            body_contains: None,
        })
    }

    /// The statuses that pass (default 200 to 399).
    #[must_use]
    pub fn status(mut self, ok: RangeInclusive<u16>) -> HttpProbe {
        self.status = ok;
        self
    }

    /// The `Host` header (default: the target's address and port).
    #[must_use]
    pub fn host(mut self, host: &str) -> HttpProbe {
        self.host = Some(host.chars().filter(|c| !c.is_control()).collect());
        self
    }

    /// The answer's body must contain this string.
    #[must_use]
    pub fn body_contains(mut self, needle: &str) -> HttpProbe {
        self.body_contains = Some(needle.to_owned());
        self
    }

    /// The path requested.
    pub fn path(&self) -> &str {
        &self.path
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Probe for HttpProbe {
    fn check(&self, target: SocketAddr, deadline: Instant) -> ProbeResult {
        let mut stream = connect(target, deadline)?;
        let host = self.host.clone().unwrap_or_else(|| target.to_string());
        let request = format!(
            "GET {} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: lvs-health\r\n\r\n",
            self.path
        );
        stream
            .set_write_timeout(Some(remaining(deadline, "sending the request")?))
            .map_err(|e| io_err("sending the request", e, deadline))?;
        stream
            .write_all(request.as_bytes())
            .map_err(|e| io_err("sending the request", e, deadline))?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 2048];
        let mut status = None;
        loop {
            if status.is_none() {
                if let Some(eol) = answer.iter().position(|&b| b == b'\n') {
                    let line = String::from_utf8_lossy(&answer[..eol]);
                    let code = line
                        .strip_prefix("HTTP/")
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|s| s.parse::<u16>().ok())
                        .ok_or_else(|| ProbeError::failed("no HTTP status line in the answer"))?;
                    if !self.status.contains(&code) {
                        return Err(ProbeError::Failed(format!("HTTP status {code}")));
                    }
                    status = Some(code);
                }
            }
            if let Some(code) = status {
                match &self.body_contains {
                    None => return Ok(()),
                    Some(needle) => {
                        let body = find(&answer, b"\r\n\r\n").map(|i| &answer[i + 4..]);
                        if body.is_some_and(|b| find(b, needle.as_bytes()).is_some()) {
                            return Ok(());
                        }
                        if answer.len() >= HTTP_MAX_ANSWER {
                            return Err(ProbeError::Failed(format!(
                                "HTTP status {code}, {needle:?} not in the first {HTTP_MAX_ANSWER} bytes"
                            )));
                        }
                    }
                }
            } else if answer.len() >= HTTP_MAX_ANSWER {
                return Err(ProbeError::failed("no HTTP status line in the answer"));
            }
            let left = remaining(deadline, "reading the answer")?;
            stream
                .set_read_timeout(Some(left))
                .map_err(|e| io_err("reading the answer", e, deadline))?;
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                // A signal: read again (the deadline still holds).
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("reading the answer", e, deadline)),
            };
            if n == 0 {
                return Err(match (status, &self.body_contains) {
                    (Some(code), Some(needle)) => {
                        ProbeError::Failed(format!("HTTP status {code}, body without {needle:?}"))
                    }
                    _ => ProbeError::failed("connection closed before an HTTP status line"),
                });
            }
            answer.extend_from_slice(&buf[..n]);
        }
    }

    fn describe(&self) -> String {
        match &self.body_contains {
            None => format!("http GET {}", self.path),
            Some(s) => format!("http GET {} containing {s:?}", self.path),
        }
    }
}

/// A DNS query over UDP gets an answer (keepalived's `DNS_CHECK`): same id, a response,
/// with RCODE `NOERROR` (or `NXDOMAIN` too, with [`accept_nxdomain`](Self::accept_nxdomain)).
///
/// The query is sent again at a third and at two thirds of the time left, in case a
/// datagram was lost; an ICMP port unreachable fails the check at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProbe {
    name: String,
    qtype: u16,
    accept_nxdomain: bool,
}

impl DnsProbe {
    /// Query `name` (`example.org`, or `.` for the root) for type A.
    pub fn query(name: &str) -> Result<DnsProbe, crate::error::InvalidError> {
        let bad = || {
            crate::error::InvalidError::parse(
                name,
                "a DNS name (labels of 1 to 63 letters, digits, - or _)",
            )
        };
        let trimmed = name.strip_suffix('.').unwrap_or(name);
        if name.len() > 253 {
            return Err(bad());
        }
        if !trimmed.is_empty() {
            for label in trimmed.split('.') {
                if label.is_empty()
                    || label.len() > 63
                    || !label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(bad());
                }
            }
        }
        Ok(DnsProbe {
            name: trimmed.to_owned(),
            qtype: 1,
            accept_nxdomain: false,
        })
    }

    /// The query type (1 = A, 28 = AAAA, 6 = SOA, ...; default A).
    #[must_use]
    pub fn qtype(mut self, qtype: u16) -> DnsProbe {
        self.qtype = qtype;
        self
    }

    /// Count an `NXDOMAIN` answer as healthy (the server answered).
    #[must_use]
    pub fn accept_nxdomain(mut self) -> DnsProbe {
        self.accept_nxdomain = true;
        self
    }

    fn message(&self, id: u16) -> Vec<u8> {
        let mut m = Vec::with_capacity(18 + self.name.len());
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&[0x01, 0x00]); // standard query, recursion desired
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
        if !self.name.is_empty() {
            for label in self.name.split('.') {
                m.push(label.len() as u8);
                m.extend_from_slice(label.as_bytes());
            }
        }
        m.push(0);
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]); // class IN
        m
    }
}

/// A query id nobody on the path can guess.
fn query_id(target: SocketAddr) -> u16 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one((target, Instant::now())) as u16
}

impl Probe for DnsProbe {
    fn check(&self, target: SocketAddr, deadline: Instant) -> ProbeResult {
        let local: SocketAddr = if target.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock =
            UdpSocket::bind(local).map_err(|e| ProbeError::from_io("opening a UDP socket", &e))?;
        sock.connect(target)
            .map_err(|e| ProbeError::from_io("connecting the UDP socket", &e))?;
        let id = query_id(target);
        let query = self.message(id);
        let total = remaining(deadline, "before sending the query")?;
        let mut resend = [Instant::now() + total / 3, Instant::now() + total * 2 / 3]
            .into_iter()
            .peekable();
        sock.send(&query)
            .map_err(|e| io_err("sending the query", e, deadline))?;
        let mut buf = [0u8; 1500];
        loop {
            let until = resend.peek().copied().unwrap_or(deadline).min(deadline);
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if Instant::now() >= deadline {
                    return Err(ProbeError::failed("timed out waiting for the answer"));
                }
                resend.next();
                sock.send(&query)
                    .map_err(|e| io_err("sending the query", e, deadline))?;
                continue;
            }
            sock.set_read_timeout(Some(left))
                .map_err(|e| io_err("waiting for the answer", e, deadline))?;
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(io_err("waiting for the answer", e, deadline)),
            };
            let Some(head) = buf.get(..n.min(12)).filter(|h| h.len() == 12) else {
                continue;
            };
            if u16::from_be_bytes([head[0], head[1]]) != id || head[2] & 0x80 == 0 {
                continue; // not the answer to this query
            }
            return match head[3] & 0x0f {
                0 => Ok(()),
                3 if self.accept_nxdomain => Ok(()),
                rcode => Err(ProbeError::Failed(format!("DNS answer with RCODE {rcode}"))),
            };
        }
    }

    fn describe(&self) -> String {
        format!(
            "dns {} type {}",
            if self.name.is_empty() {
                "."
            } else {
                &self.name
            },
            self.qtype
        )
    }
}

/// A command exits with status 0 (keepalived's `MISC_CHECK`).
///
/// The command runs without a shell; `{addr}` and `{port}` in its arguments become the
/// target's address and port, and it also gets them as `LVS_CHECK_ADDR` and
/// `LVS_CHECK_PORT` in its environment. Its standard input and output are closed. At the
/// deadline it is killed (SIGKILL) and reaped, and the check fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandProbe {
    program: String,
    args: Vec<String>,
}

impl CommandProbe {
    /// Run `program` with `args`.
    pub fn new<I, S>(program: &str, args: I) -> CommandProbe
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandProbe {
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }
}

impl Probe for CommandProbe {
    fn check(&self, target: SocketAddr, deadline: Instant) -> ProbeResult {
        let addr = target.ip().to_string();
        let port = target.port().to_string();
        let args = self
            .args
            .iter()
            .map(|a| a.replace("{addr}", &addr).replace("{port}", &port));
        let mut child = Command::new(&self.program)
            .args(args)
            .env("LVS_CHECK_ADDR", &addr)
            .env("LVS_CHECK_PORT", &port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EAGAIN) => ProbeError::Local(format!("starting {}: {e}", self.program)),
                _ => ProbeError::from_io(&format!("starting {}", self.program), &e),
            })?;
        let mut pause = Duration::from_millis(1);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(ProbeError::Failed(format!(
                        "{} exited with {status}",
                        self.program
                    )))
                }
                Ok(None) => {}
                Err(e) => return Err(ProbeError::from_io("waiting for the check command", &e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProbeError::Failed(format!("{} timed out", self.program)));
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    fn describe(&self) -> String {
        format!("command {}", self.program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut c, _)) = listener.accept() else {
                    return;
                };
                let mut buf = [0u8; 512];
                let _ = c.read(&mut buf);
                let _ = c.write_all(answer);
            }
        });
        addr
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn http_status_and_body() {
        let addr = serve(vec![
            b"HTTP/1.0 200 OK\r\n\r\nall good",
            b"HTTP/1.1 503 Service Unavailable\r\n\r\n",
            b"HTTP/1.0 200 OK\r\n\r\nall good",
            b"HTTP/1.0 200 OK\r\n\r\nbad",
            b"SSH-2.0-OpenSSH\r\n",
            b"",
        ]);
        let get = HttpProbe::get("/id").unwrap();
        assert_eq!(get.check(addr, soon()), Ok(()));
        assert_eq!(
            get.check(addr, soon()),
            Err(ProbeError::Failed("HTTP status 503".into()))
        );
        let body = get.clone().body_contains("good");
        assert_eq!(body.check(addr, soon()), Ok(()));
        assert!(
            matches!(body.check(addr, soon()), Err(ProbeError::Failed(m)) if m.contains("body without"))
        );
        assert!(
            matches!(get.check(addr, soon()), Err(ProbeError::Failed(m)) if m.contains("no HTTP status"))
        );
        assert!(
            matches!(get.check(addr, soon()), Err(ProbeError::Failed(m)) if m.contains("closed"))
        );
        assert!(HttpProbe::get("id").is_err());
        assert!(HttpProbe::get("/a b").is_err());
    }

    #[test]
    fn a_trickling_server_fails_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((mut c, _)) = listener.accept() else {
                return;
            };
            // One byte every 50 ms, never a whole line: each read returns in time.
            for _ in 0..200 {
                if c.write_all(b"H").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let r = HttpProbe::get("/")
            .unwrap()
            .check(addr, start + Duration::from_millis(400));
        let took = start.elapsed();
        assert!(
            matches!(&r, Err(ProbeError::Failed(m)) if m.contains("timed out")),
            "{r:?}"
        );
        // The deadline is the check's, not each read's: it ends near 400 ms, not 10 s.
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }

    #[test]
    fn a_silent_server_fails_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let start = Instant::now();
        let r = HttpProbe::get("/")
            .unwrap()
            .check(addr, start + Duration::from_millis(200));
        assert!(
            matches!(&r, Err(ProbeError::Failed(m)) if m.contains("timed out")),
            "{r:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(3));
        drop(listener);
        // Nothing listens any more: refused.
        assert!(matches!(
            TcpProbe.check(addr, soon()),
            Err(ProbeError::Failed(_))
        ));
    }

    #[test]
    fn a_passed_deadline_fails_without_connecting() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(TcpProbe.check(addr, soon()).is_ok());
        let past = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        assert!(
            matches!(TcpProbe.check(addr, past), Err(ProbeError::Failed(m)) if m.contains("timed out"))
        );
    }

    #[test]
    fn dns_query_and_answers() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            for rcode in [0u8, 2, 3] {
                let Ok((n, from)) = server.recv_from(&mut buf) else {
                    return;
                };
                let mut answer = buf[..n].to_vec();
                answer[2] |= 0x80; // a response
                answer[3] = (answer[3] & 0xf0) | rcode;
                // A stray datagram with another id first: ignored.
                let mut stray = answer.clone();
                stray[0] ^= 0xff;
                let _ = server.send_to(&stray, from);
                let _ = server.send_to(&answer, from);
            }
        });
        let q = DnsProbe::query("example.org").unwrap();
        assert_eq!(
            q.message(7)[12..],
            *b"\x07example\x03org\x00\x00\x01\x00\x01"
        );
        assert_eq!(q.check(addr, soon()), Ok(()));
        assert_eq!(
            q.check(addr, soon()),
            Err(ProbeError::Failed("DNS answer with RCODE 2".into()))
        );
        assert_eq!(q.clone().accept_nxdomain().check(addr, soon()), Ok(()));
        // No answer at all: fails at the deadline.
        let start = Instant::now();
        assert!(q.check(addr, start + Duration::from_millis(300)).is_err());
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(DnsProbe::query("bad..name").is_err());
        assert!(DnsProbe::query(".").is_ok());
    }

    #[test]
    fn command_exit_status_and_deadline() {
        let target: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            CommandProbe::new("true", Vec::<String>::new()).check(target, soon()),
            Ok(())
        );
        assert!(CommandProbe::new("false", Vec::<String>::new())
            .check(target, soon())
            .is_err());
        let env = CommandProbe::new(
            "sh",
            [
                "-c",
                "test \"$LVS_CHECK_ADDR:$LVS_CHECK_PORT\" = \"$0\"",
                "{addr}:{port}",
            ],
        );
        assert_eq!(env.check(target, soon()), Ok(()));
        let start = Instant::now();
        let slow = CommandProbe::new("sleep", ["30"]);
        let r = slow.check(target, start + Duration::from_millis(200));
        assert!(
            matches!(&r, Err(ProbeError::Failed(m)) if m.contains("timed out")),
            "{r:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(
            CommandProbe::new("/nonexistent/check", Vec::<String>::new())
                .check(target, soon())
                .is_err()
        );
    }

    #[test]
    fn local_shortages_are_not_failures() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(ProbeError::from_io("connecting", &emfile).is_local());
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert!(!ProbeError::from_io("connecting", &refused).is_local());
    }
}
