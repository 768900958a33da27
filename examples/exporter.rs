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
//! Bounded: scrapes run one at a time, on one thread (the HTTP server's threads only read
//! requests), so concurrent scrapes queue rather than read the table at once; a response
//! not taken by its client within 10 s is dropped (a send timeout on the listening socket,
//! which accepted sockets inherit on Linux), so a client that stops reading holds the scrape
//! thread no longer than that. The HTTP server (tiny_http 0.12) has no read timeout and no
//! connection cap of its own (its `num_connections` is unimplemented): an idle connection
//! holds one of its reader threads until the client closes it, though never a scrape.
//!
//! Exit status: 1 when the table cannot be read at start (no IPVS, no such namespace, not
//! root) or the address cannot be bound, 2 for bad arguments.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use lvs::metrics::{Exporter, CONTENT_TYPE};
use lvs::Ipvs;
use tiny_http::{Header, Method, Response, Server};

const USAGE: &str = "usage: exporter [--listen ADDR:PORT] [--netns NAME]";

/// How long a client may take to receive a response.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The listening socket, with the send timeout its accepted sockets inherit.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_write_timeout(Some(SEND_TIMEOUT))?;
    s.bind(&addr.into())?;
    s.listen(128)?;
    Ok(s.into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
    let server = match listen(o.listen)
        .map_err(|e| e.to_string())
        .and_then(|l| Server::from_listener(l, None).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("exporter: listening on {}: {e}", o.listen);
            return ExitCode::from(1);
        }
    };
    eprintln!("exporter: serving http://{}/metrics", o.listen);
    let content_type = Header::from_bytes("Content-Type", CONTENT_TYPE).unwrap();
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("");
        let response = if path != "/metrics" {
            Response::from_string("not found\n").with_status_code(404)
        } else if !matches!(request.method(), Method::Get | Method::Head) {
            Response::from_string("method not allowed\n").with_status_code(405)
        } else {
            match exporter.scrape(&mut ipvs) {
                Ok(text) => Response::from_string(text).with_header(content_type.clone()),
                Err(e) => {
                    eprintln!("exporter: reading the table: {e}");
                    Response::from_string(format!("reading the table: {e}\n")).with_status_code(500)
                }
            }
        };
        if let Err(e) = request.respond(response) {
            eprintln!("exporter: answering: {e}");
        }
    }
    ExitCode::SUCCESS
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
