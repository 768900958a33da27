//! The listings (`-L` and its formats, `--timeout`, `--daemon`, `-c`): the title lines, a
//! service's line and a destination's line in each format.

use std::fmt::Write as _;

use super::cprint::{
    addrport, largenum, pad_from, push_addrport, push_i32_left, push_left, push_u32_left,
};
use super::{has_sched_flags, mask_text, sched_flag_text, tun_flag_index, ListFormat, ListOptions};
use crate::conn::ConnEntry;
use crate::model::{
    Daemon, DaemonState, Destination, ForwardMethod, Info, Protocol, Service, Timeouts,
    TunnelFlags, TunnelType,
};
use crate::text::cnum::{ntop, truncate_bytes};
use crate::text::names::Names;

pub(super) fn fwd_name(f: &ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masquerade => "Masq",
        ForwardMethod::Local => "Local",
        ForwardMethod::Tunnel(_) => "Tunnel",
        ForwardMethod::DirectRoute => "Route",
        _ => "(null)",
    }
}

pub(super) fn tun_flags_short(flags: TunnelFlags) -> &'static str {
    ["-c", "+c", "r+c"]
        .get(tun_flag_index(flags))
        .copied()
        .unwrap_or("?")
}

pub(super) fn tun_info(f: &ForwardMethod) -> Option<String> {
    let ForwardMethod::Tunnel(t) = f else {
        return None;
    };
    let mut s = match t.kind {
        TunnelType::Ipip => "ipip".to_owned(),
        TunnelType::Gue => format!("gue:{}:{}", t.port, tun_flags_short(t.flags)),
        TunnelType::Gre => format!("gre:{}", tun_flags_short(t.flags)),
        _ => return None,
    };
    truncate_bytes(&mut s, 15);
    Some(s)
}

/// The title lines of a listing (`print_title`).
pub fn title(format: ListFormat) -> String {
    let first = "Prot LocalAddress:Port";
    match format {
        ListFormat::Stats => format!(
            "{first:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        ListFormat::Rate => format!(
            "{first:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        ListFormat::Thresholds => format!(
            "{first:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        ListFormat::PersistentConn => format!(
            "{first:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
        ListFormat::TunInfo => format!(
            "{first} Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        ),
        ListFormat::Default => format!(
            "{first} Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        ),
    }
}

/// The header line of a full listing.
pub fn header(info: &Info) -> String {
    format!(
        "IP Virtual Server version {} (size={})\n",
        info.version, info.conn_table_size as i32
    )
}

/// A destination's name in a listing: [`addrport`], cut at 28 bytes unless IPv6.
pub(super) fn listing_dname(
    d: &Destination,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) -> String {
    let mut dname = addrport(&d.addr, d.port, proto, numeric, names);
    if !d.addr.is_ipv6() {
        truncate_bytes(&mut dname, 28);
    }
    dname
}

/// [`listing_dname`] appended to `out`: a numeric IPv4 address and port go straight in
/// (they never reach the cut).
pub(super) fn push_listing_dname(
    out: &mut String,
    d: &Destination,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) {
    if numeric && d.addr.is_ipv4() {
        push_addrport(out, &d.addr, d.port, proto, numeric, names);
    } else {
        out.push_str(&listing_dname(d, proto, numeric, names));
    }
}

/// `ipvsadm -L --timeout`.
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    )
}

/// `ipvsadm -L --daemon`.
pub fn daemons(list: &[Daemon]) -> String {
    let mut out = String::new();
    for d in list {
        let kind = match d.state {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
            DaemonState::Other(c) if c & 1 != 0 => "master",
            DaemonState::Other(c) if c & 2 != 0 => "backup",
            _ => continue,
        };
        let _ = write!(
            out,
            "{kind} sync daemon (mcast={}, syncid={}",
            d.interface, d.sync_id as i32
        );
        if let Some(m) = d.max_len.filter(|m| *m != 0) {
            let _ = write!(out, ", maxlen={m}");
        }
        if let Some(g) = d.group {
            let _ = write!(out, ", group={}", ntop(&g));
        }
        if let Some(p) = d.port.filter(|p| *p != 0) {
            let _ = write!(out, ", port={p}");
        }
        if let Some(t) = d.ttl.filter(|t| *t != 0) {
            let _ = write!(out, ", ttl={t}");
        }
        out.push_str(")\n");
    }
    out
}

/// `ipvsadm -L -c` (with `--persistent-conn` for the engine columns).
pub fn connections_with(
    entries: &[ConnEntry],
    numeric: bool,
    persistent: bool,
    names: &dyn Names,
) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if persistent {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in entries {
        let proto = match c.protocol_name.as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        };
        let cname = addrport(&c.client.ip(), c.client.port(), proto, numeric, names);
        let vname = addrport(
            &c.virtual_addr.ip(),
            c.virtual_addr.port(),
            proto,
            numeric,
            names,
        );
        let dname = addrport(&c.dest.ip(), c.dest.port(), proto, numeric, names);
        let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
        match (&c.pe, persistent) {
            (Some((pe_name, pe_data)), true) => {
                let _ = writeln!(
                    out,
                    "{:<3} {expire:<6} {:<11} {cname:<18} {vname:<18} {dname:<16} {pe_name:<18} {pe_data}",
                    c.protocol_name, c.state
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{:<3} {expire:<6} {:<11} {cname:<18} {vname:<18} {dname}",
                    c.protocol_name, c.state
                );
            }
        }
    }
    out
}

/// The line of a service in a listing of `opts.format` (and its end of line).
pub(super) fn service_line(out: &mut String, svc: &Service, svc_name: &str, opts: &ListOptions) {
    let s = svc.stats.unwrap_or_default();
    match opts.format {
        ListFormat::Stats => {
            let counters = [
                s.conns,
                s.in_packets,
                s.out_packets,
                s.in_bytes,
                s.out_bytes,
            ];
            counters_line(out, svc_name, &counters, opts.exact);
        }
        ListFormat::Rate => {
            let rates = [s.cps, s.in_pps, s.out_pps, s.in_bps, s.out_bps];
            counters_line(out, svc_name, &rates, opts.exact);
        }
        _ => service_description(out, svc, svc_name),
    }
    out.push('\n');
}

/// A service's name and five counters (`--stats`, `--rate`).
fn counters_line(out: &mut String, svc_name: &str, counters: &[u64; 5], exact: bool) {
    let _ = write!(out, "{svc_name:<33}");
    for n in counters {
        largenum(out, *n, exact);
    }
}

/// A service's name, scheduler, flags and persistence (the other listings).
fn service_description(out: &mut String, svc: &Service, svc_name: &str) {
    let _ = write!(out, "{svc_name} {}", svc.scheduler);
    if has_sched_flags(svc) {
        let _ = write!(out, " ({})", sched_flag_text(svc));
    }
    if let Some(p) = &svc.persistence {
        let _ = write!(out, " persistent {}", p.timeout);
        if let Some(m) = mask_text(svc) {
            let _ = write!(out, " mask {m}");
        }
        if let Some(pe) = &svc.pe {
            let _ = write!(out, " pe {pe}");
        }
    }
    if svc.one_packet {
        out.push_str(" ops");
    }
}

/// The line of a destination in a listing of `opts.format`.
pub(super) fn destination_line(
    out: &mut String,
    d: &Destination,
    proto: Option<Protocol>,
    opts: &ListOptions,
    names: &dyn Names,
) {
    if opts.format == ListFormat::Default {
        return default_destination_line(out, d, proto, opts.numeric, names);
    }
    let dname = listing_dname(d, proto, opts.numeric, names);
    let c = d.counters.unwrap_or_default();
    let s = d.stats.unwrap_or_default();
    match opts.format {
        ListFormat::Stats => {
            let _ = write!(out, "  -> {dname:<28}");
            for n in [
                s.conns,
                s.in_packets,
                s.out_packets,
                s.in_bytes,
                s.out_bytes,
            ] {
                largenum(out, n, opts.exact);
            }
            out.push('\n');
        }
        ListFormat::Rate => {
            let _ = write!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                s.cps, s.in_pps, s.out_pps
            );
            largenum(out, s.in_bps, opts.exact);
            largenum(out, s.out_bps, opts.exact);
            out.push('\n');
        }
        ListFormat::Thresholds => {
            let (upper, lower) = (d.upper_threshold, d.lower_threshold);
            let _ = writeln!(
                out,
                "  -> {dname:<28} {upper:<10} {lower:<10} {:<10} {:<10}",
                c.active, c.inactive
            );
        }
        ListFormat::PersistentConn => {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                d.weight, c.persistent, c.active, c.inactive
            );
        }
        _ => {
            let ti = tun_info(&d.forward).unwrap_or_else(|| "n/a".to_owned());
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {ti:<13} {:<6} {:<10} {:<10}",
                fwd_name(&d.forward),
                d.weight as i32,
                c.active,
                c.inactive
            );
        }
    }
}

/// The line of a destination in the default listing, the common line, written without the
/// formatting machinery.
fn default_destination_line(
    out: &mut String,
    d: &Destination,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) {
    let c = d.counters.unwrap_or_default();
    out.push_str("  -> ");
    let start = out.len();
    push_listing_dname(out, d, proto, numeric, names);
    pad_from(out, start, 28);
    out.push(' ');
    push_left(out, fwd_name(&d.forward), 7);
    out.push(' ');
    push_i32_left(out, d.weight as i32, 6);
    out.push(' ');
    push_u32_left(out, c.active, 10);
    out.push(' ');
    push_u32_left(out, c.inactive, 10);
    out.push('\n');
}
