//! The listings ipvsadm prints (`-L`, `-S`, `--timeout`, `--daemon`, `-c`), byte for byte.
//!
//! The parts: `listing.rs` the `-L` lines of each format and the other listings, `rules.rs`
//! the `-S` lines, `cprint.rs` fields printed as ipvsadm's `printf` formats print them,
//! `order.rs` ipvsadm's sort, `table.rs` whole tables; here the options, what a service is
//! called, and [`service_entry`], which puts a service's lines together.

mod cprint;
#[cfg(test)]
mod golden;
mod listing;
mod order;
mod rules;
mod table;

pub use listing::{connections_with, daemons, header, timeouts, title};
pub use table::{listing_with, save_with, service_listing_with, TableText, TextBlock};

use std::cmp::Ordering;

use super::cnum::truncate_bytes;
use super::names::Names;
use crate::model::{
    AddressFamily, Info, Netmask, Protocol, SchedFlags, Scheduler, Service, ServiceEntry,
    ServiceId, TunnelFlags, Version,
};
use cprint::addrport;
use order::{cmp_services, sorted_dests};

/// Which columns a listing shows. When ipvsadm is given several of these options, the first
/// in this order wins (`--stats` over `--rate` over `--thresholds` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ListFormat {
    /// Scheduler, forwarding method, weight, active and inactive connections.
    #[default]
    Default,
    /// `--stats`: connections, packets and bytes.
    Stats,
    /// `--rate`: connections, packets and bytes per second.
    Rate,
    /// `--thresholds`: upper and lower connection thresholds.
    Thresholds,
    /// `--persistent-conn`: persistent connection templates.
    PersistentConn,
    /// `--tun-info`: tunnel encapsulation of tunnelling destinations.
    TunInfo,
}

/// How to print a listing: the options of `ipvsadm -L`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListOptions {
    /// `-n`: numeric addresses and ports (no host or service names).
    pub numeric: bool,
    /// The columns.
    pub format: ListFormat,
    /// `--exact`: counters in full instead of K/M/G/T units.
    pub exact: bool,
    /// Sort services and destinations as ipvsadm does (the default; `--nosort` turns it off).
    pub sort: bool,
    /// What the header line reports (`IP Virtual Server version ... (size=...)`).
    pub info: Info,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            numeric: false,
            format: ListFormat::Default,
            exact: false,
            sort: true,
            info: Info {
                version: Version(0x010201),
                conn_table_size: 4096,
            },
        }
    }
}

impl ListOptions {
    /// `ipvsadm -L`: names resolved, default columns, sorted.
    pub fn new() -> ListOptions {
        ListOptions::default()
    }

    /// `ipvsadm -Ln`: numeric, default columns, sorted.
    pub fn numeric() -> ListOptions {
        ListOptions {
            numeric: true,
            ..ListOptions::default()
        }
    }

    /// The same options with this header information (from [`crate::Ipvs::info`]).
    pub fn with_info(mut self, info: Info) -> ListOptions {
        self.info = info;
        self
    }

    /// The same options with these columns.
    pub fn with_format(mut self, format: ListFormat) -> ListOptions {
        self.format = format;
        self
    }
}

/// The protocol ipvsadm looks port names up with: the service's (none for fwmark services,
/// whose protocol the kernel does not report).
fn name_proto(id: &ServiceId) -> Option<Protocol> {
    match id.protocol() {
        Some(p @ (Protocol::Tcp | Protocol::Udp | Protocol::Sctp)) => Some(p),
        _ => None,
    }
}

fn protocol_label(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::Tcp) => "TCP",
        Some(Protocol::Udp) => "UDP",
        Some(Protocol::Sctp) => "SCTP",
        _ => "?",
    }
}

fn protocol_switch(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::Tcp) => "-t",
        Some(Protocol::Udp) => "-u",
        Some(Protocol::Sctp) => "--sctp-service",
        _ => "--xxx-service",
    }
}

/// The scheduler flags as ipvsadm names them: `sh` and `mh` name only their two flags (a
/// third flag set on them prints nothing).
fn sched_flag_text(svc: &Service) -> String {
    let f = svc.sched_flags;
    let names: &[(SchedFlags, &str)] = match svc.scheduler {
        Scheduler::Sh => &[
            (SchedFlags::SH_FALLBACK, "sh-fallback"),
            (SchedFlags::SH_PORT, "sh-port"),
        ],
        Scheduler::Mh => &[
            (SchedFlags::MH_FALLBACK, "mh-fallback"),
            (SchedFlags::MH_PORT, "mh-port"),
        ],
        _ => &[
            (SchedFlags::FLAG_1, "flag-1"),
            (SchedFlags::FLAG_2, "flag-2"),
            (SchedFlags::FLAG_3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(b, _)| f.contains(*b))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn has_sched_flags(svc: &Service) -> bool {
    !(svc.sched_flags & (SchedFlags::FLAG_1 | SchedFlags::FLAG_2 | SchedFlags::FLAG_3)).is_empty()
}

/// The mask text ipvsadm adds for a persistent service, if the mask is not the full one.
fn mask_text(svc: &Service) -> Option<String> {
    match (svc.id.af(), svc.netmask()) {
        (AddressFamily::Inet, Netmask::V4(m)) if m.to_bits() != u32::MAX => Some(m.to_string()),
        (AddressFamily::Inet6, Netmask::V6(len)) if len != 128 => Some(len.to_string()),
        _ => None,
    }
}

fn tun_flag_index(flags: TunnelFlags) -> usize {
    flags.bits() as usize
}

/// What a service is called in the listing or in a rule.
fn service_name(svc: &Service, rule: bool, numeric: bool, names: &dyn Names) -> String {
    match svc.id {
        ServiceId::Fwmark { af, mark } => {
            // ipvsadm prints the mark as a signed int.
            let mark = mark as i32;
            match (rule, af) {
                (true, AddressFamily::Inet6) => format!("-f {mark} -6"),
                (true, AddressFamily::Inet) => format!("-f {mark}"),
                (false, AddressFamily::Inet6) => format!("FWM  {mark} IPv6"),
                (false, AddressFamily::Inet) => format!("FWM  {mark}"),
            }
        }
        ServiceId::Addr { protocol, addr } => {
            let p = Some(protocol);
            let vname = addrport(&addr.ip(), addr.port(), name_proto(&svc.id), numeric, names);
            if rule {
                format!("{} {vname}", protocol_switch(p))
            } else {
                let mut s = format!("{:<4} {vname}", protocol_label(p));
                if !addr.is_ipv6() {
                    truncate_bytes(&mut s, 33);
                }
                s
            }
        }
    }
}

/// One service and its destinations as ipvsadm prints them (`print_service_entry`): as
/// listing lines ([`listing`]), or as rules ([`rules`]).
fn service_entry(
    out: &mut String,
    entry: &ServiceEntry,
    opts: &ListOptions,
    rule: bool,
    names: &dyn Names,
) {
    let svc = &entry.service;
    let svc_name = service_name(svc, rule, opts.numeric, names);
    if rule {
        rules::service_rule(out, svc, &svc_name);
    } else {
        listing::service_line(out, svc, &svc_name, opts);
    }
    let proto = name_proto(&svc.id);
    for d in sorted_dests(&entry.destinations, opts.sort) {
        if rule {
            rules::destination_rule(out, d, &svc_name, proto, opts.numeric, names);
        } else {
            listing::destination_line(out, d, proto, opts, names);
        }
    }
}

/// Order of two services as ipvsadm sorts them (exposed for callers that sort themselves).
pub fn service_order(a: &Service, b: &Service) -> Ordering {
    cmp_services(&a.id, &b.id).cmp(&0)
}
