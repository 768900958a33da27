//! A Prometheus exporter for a namespace's IPVS table, on `lvs::metrics`.
//!
//! ```text
//! exporter [--listen ADDR:PORT] [--netns NAME]
//! ```
//!
//! Serves `GET /metrics` (node_exporter's ipvs metric names and labels, and per-service and
//! per-destination counters under `lvs_`; see `lvs::metrics`) on `--listen` (default
//! `127.0.0.1:9850`); anything else is a 404 (a 405 for another method on `/metrics`). Each
//! scrape reads the table once, with its stats, from the caller's network namespace or
//! `--netns`'s.
//!
//! Bounded in every way, for a process that runs for months: one connection at a time (a
//! scrape every few seconds needs no more), a request must arrive within 5 s and fit in 8 KiB,
//! a response must be taken within 10 s, and an error accepting a connection (no file
//! descriptor left, say) is reported and retried after 100 ms instead of ending the server.
//! The HTTP server is these few lines of std: a crate's thread per connection and accept loop
//! that ends on the first error are what this avoids.
//!
//! Exit status: 1 when the table cannot be read at start (no IPVS, no such namespace, not
//! root) or the address cannot be bound, 2 for bad arguments.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lvs::metrics::{Exporter, CONTENT_TYPE};
use lvs::Ipvs;

const USAGE: &str = "usage: exporter [--listen ADDR:PORT] [--netns NAME]";

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to receive a response.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request head read.
const MAX_REQUEST: usize = 8 * 1024;

#[derive(Debug, PartialEq)]
struct Options {
    listen: SocketAddr,
    netns: Option<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:9850".parse().unwrap(),
        netns: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value()?;
                o.listen = v
                    .parse()
                    .map_err(|_| format!("--listen: not ADDR:PORT: {v}"))?;
            }
            "--netns" => {
                let v = value()?;
                lvs::model::check_netns_name(v).map_err(|e| format!("--netns: {e}"))?;
                o.netns = Some(v.clone());
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(o)
}

/// The request line's method and path, read within [`READ_TIMEOUT`] in all, at most
/// [`MAX_REQUEST`] bytes of head.
fn read_request(conn: &mut TcpStream) -> Result<(String, String), String> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() >= MAX_REQUEST {
            return Err("request head too large".into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("request not received in time".into());
        }
        conn.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match conn.read(&mut buf) {
            Ok(0) => return Err("connection closed before a whole request".into()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    match (words.next(), words.next()) {
        (Some(m), Some(p)) => Ok((m.to_owned(), p.to_owned())),
        _ => Err("no request line".into()),
    }
}

fn respond(conn: &mut TcpStream, status: &str, content_type: &str, body: &[u8], head_only: bool) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let sent = conn
        .set_write_timeout(Some(SEND_TIMEOUT))
        .and_then(|()| conn.write_all(head.as_bytes()))
        .and_then(|()| {
            if head_only {
                Ok(())
            } else {
                conn.write_all(body)
            }
        });
    if let Err(e) = sent {
        eprintln!("exporter: answering: {e}");
    }
}

/// One connection: one request, one answer.
fn serve(conn: &mut TcpStream, exporter: &mut Exporter, ipvs: &mut Ipvs) {
    let (method, target) = match read_request(conn) {
        Ok(r) => r,
        Err(e) => {
            respond(
                conn,
                "400 Bad Request",
                "text/plain",
                format!("{e}\n").as_bytes(),
                false,
            );
            return;
        }
    };
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    if path != "/metrics" {
        respond(
            conn,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            head_only,
        );
    } else if method != "GET" && !head_only {
        respond(
            conn,
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed\n",
            false,
        );
    } else {
        match exporter.scrape(ipvs) {
            Ok(text) => respond(conn, "200 OK", CONTENT_TYPE, text.as_bytes(), head_only),
            Err(e) => {
                eprintln!("exporter: reading the table: {e}");
                let body = format!("reading the table: {e}\n");
                respond(
                    conn,
                    "500 Internal Server Error",
                    "text/plain",
                    body.as_bytes(),
                    head_only,
                );
            }
        }
    }
}

fn main() -> ExitCode {
    let args = match lvs::text::utf8_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("exporter: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("exporter: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let ipvs = match &o.netns {
        Some(ns) => Ipvs::in_netns(ns),
        None => Ipvs::new(),
    };
    let mut ipvs = match ipvs {
        Ok(i) => i,
        Err(e) => {
            eprintln!("exporter: {e}");
            return ExitCode::from(1);
        }
    };
    let mut exporter = Exporter::new();
    // A first read: a table that cannot be read is an error now, not at the first scrape.
    if let Err(e) = exporter.scrape(&mut ipvs) {
        eprintln!("exporter: reading the table: {e}");
        return ExitCode::from(1);
    }
    let listener = match TcpListener::bind(o.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("exporter: listening on {}: {e}", o.listen);
            return ExitCode::from(1);
        }
    };
    eprintln!("exporter: serving http://{}/metrics", o.listen);
    loop {
        match listener.accept() {
            Ok((mut conn, _)) => serve(&mut conn, &mut exporter, &mut ipvs),
            Err(e) => {
                // EMFILE, ECONNABORTED, ...: this connection is lost, the server is not.
                eprintln!("exporter: accepting a connection: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options() {
        assert_eq!(
            parse(&args("")).unwrap(),
            Options {
                listen: "127.0.0.1:9850".parse().unwrap(),
                netns: None
            }
        );
        assert_eq!(
            parse(&args("--listen [::]:9100 --netns d")).unwrap(),
            Options {
                listen: "[::]:9100".parse().unwrap(),
                netns: Some("d".into())
            }
        );
        for bad in ["--listen", "--listen 1.2.3.4", "--netns a/b", "--port 1"] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }
}
