//! The listings ipvsadm prints (`-L`, `-S`, `--timeout`, `--daemon`, `-c`), byte for byte.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::cnum::{ntop, truncate_bytes};
use super::names::Names;
use crate::conn::ConnEntry;
use crate::model::ServiceEntry;
use crate::model::{
    AddressFamily, Daemon, DaemonState, Destination, ForwardMethod, Info, Netmask, Protocol,
    SchedFlags, Scheduler, Service, ServiceId, Timeouts, TunnelFlags, TunnelType, Version,
};

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

/// Address family numbers as the C library has them (used for ipvsadm's sort order).
fn af_number(af: AddressFamily) -> i32 {
    match af {
        AddressFamily::Inet => 2,
        AddressFamily::Inet6 => 10,
    }
}

/// The 16 bytes of a `union nf_inet_addr` holding this address, as four host-order words.
fn addr_words(addr: Option<IpAddr>) -> [u32; 4] {
    let mut b = [0u8; 16];
    match addr {
        Some(IpAddr::V4(a)) => b[..4].copy_from_slice(&a.octets()),
        Some(IpAddr::V6(a)) => b = a.octets(),
        None => {}
    }
    let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// `int r = a - b` on unsigned 32-bit values, as ipvsadm's comparators compute it.
fn wrapping_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

fn cmp_addr(af: AddressFamily, a: Option<IpAddr>, b: Option<IpAddr>) -> i32 {
    let (wa, wb) = (addr_words(a), addr_words(b));
    let n = if af == AddressFamily::Inet6 { 4 } else { 1 };
    let mut r = 0;
    for i in 0..n {
        r = wrapping_diff(wa[i], wb[i]);
        if r != 0 {
            break;
        }
    }
    r
}

/// ipvsadm's service comparator (fwmark, family, protocol, address, port), with its
/// wrap-around subtraction.
fn cmp_services(a: &ServiceId, b: &ServiceId) -> i32 {
    ServiceKey::of(a).compare(&ServiceKey::of(b))
}

/// What ipvsadm's service comparator reads of a service, in the words it compares: worked
/// out once per service rather than at every comparison of a large sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ServiceKey {
    fwmark: u32,
    af: i32,
    proto: i32,
    /// The address as `union nf_inet_addr` words, of which the comparison reads `words`
    /// (1 for IPv4, 4 for IPv6: the first service's family decides).
    addr: [u32; 4],
    words: usize,
    port: i32,
}

impl ServiceKey {
    fn of(id: &ServiceId) -> ServiceKey {
        ServiceKey {
            fwmark: id.fwmark_value().unwrap_or(0),
            af: af_number(id.af()),
            proto: i32::from(id.protocol().map_or(0, |p| p.number())),
            addr: addr_words(id.addr().map(|x| x.ip())),
            words: if id.af() == AddressFamily::Inet6 {
                4
            } else {
                1
            },
            port: i32::from(id.addr().map_or(0, |x| x.port())),
        }
    }

    /// The comparator's result: negative, zero or positive, as C's.
    fn compare(&self, b: &ServiceKey) -> i32 {
        let mut r = wrapping_diff(self.fwmark, b.fwmark);
        if r != 0 {
            return r;
        }
        r = self.af - b.af;
        if r != 0 {
            return r;
        }
        r = self.proto - b.proto;
        if r != 0 {
            return r;
        }
        for i in 0..self.words {
            r = wrapping_diff(self.addr[i], b.addr[i]);
            if r != 0 {
                return r;
            }
        }
        self.port - b.port
    }
}

/// ipvsadm's destination comparator (address in the first one's family, then port).
fn cmp_dests(a: &Destination, b: &Destination) -> i32 {
    let r = cmp_addr(a.af(), Some(a.addr), Some(b.addr));
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// The C library's `qsort` (a top-down merge sort, the first half `n / 2` elements), so that
/// a comparator that is not a total order (ipvsadm's wrap-around subtraction) gives the same
/// order as in ipvsadm. Sorts `items` in place with one scratch buffer.
fn c_qsort<T: Copy>(items: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    fn sort<T: Copy>(items: &mut [T], tmp: &mut Vec<T>, cmp: &dyn Fn(&T, &T) -> i32) {
        if items.len() <= 1 {
            return;
        }
        let n1 = items.len() / 2;
        sort(&mut items[..n1], tmp, cmp);
        sort(&mut items[n1..], tmp, cmp);
        tmp.clear();
        let (l, r) = items.split_at(n1);
        let (mut i, mut j) = (0, 0);
        while let (Some(x), Some(y)) = (l.get(i), r.get(j)) {
            if cmp(x, y) <= 0 {
                tmp.push(*x);
                i += 1;
            } else {
                tmp.push(*y);
                j += 1;
            }
        }
        tmp.extend_from_slice(l.get(i..).unwrap_or(&[]));
        tmp.extend_from_slice(r.get(j..).unwrap_or(&[]));
        items.copy_from_slice(tmp);
    }
    let mut tmp = Vec::with_capacity(items.len());
    sort(items, &mut tmp, cmp);
}

fn sorted_dests(dests: &[Destination], sort: bool) -> Vec<&Destination> {
    let mut refs: Vec<&Destination> = dests.iter().collect();
    if sort {
        c_qsort(&mut refs, &|a: &&Destination, b: &&Destination| {
            cmp_dests(a, b)
        });
    }
    refs
}

/// The decimal digits of `n`, appended without the formatting machinery (a listing of a
/// large table is mostly addresses, ports and small counters).
fn push_u32(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// `n` as C's `%d` prints it.
fn push_i32(out: &mut String, n: i32) {
    if n < 0 {
        out.push('-');
    }
    push_u32(out, n.unsigned_abs());
}

/// Spaces after what was appended to `out` from `start` on, up to `width` bytes (the
/// padding of `%-*s`, `%-*d`; what was appended is ASCII).
fn pad_from(out: &mut String, start: usize, width: usize) {
    for _ in out.len() - start..width {
        out.push(' ');
    }
}

/// `s` as `%-*s` prints it.
fn push_left(out: &mut String, s: &str, width: usize) {
    let start = out.len();
    out.push_str(s);
    pad_from(out, start, width);
}

/// `n` as `%-*d` prints it.
fn push_i32_left(out: &mut String, n: i32, width: usize) {
    let start = out.len();
    push_i32(out, n);
    pad_from(out, start, width);
}

/// `n` as `%-*u` prints it.
fn push_u32_left(out: &mut String, n: u32, width: usize) {
    let start = out.len();
    push_u32(out, n);
    pad_from(out, start, width);
}

/// `addrport` appended to `out`: straight into it for a numeric IPv4 address (the common
/// case of a large table), else through [`addrport`].
fn push_addrport(
    out: &mut String,
    addr: &IpAddr,
    port: u16,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) {
    match addr {
        IpAddr::V4(a) if numeric => {
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u32(out, u32::from(o));
            }
            out.push(':');
            push_u32(out, u32::from(port));
        }
        _ => out.push_str(&addrport(addr, port, proto, numeric, names)),
    }
}

/// `addrport_to_anyname`: `host:port`, `[v6]:port`, with names unless numeric, cut at 59
/// bytes like ipvsadm's 60-byte buffer.
pub(crate) fn addrport(
    addr: &IpAddr,
    port: u16,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) -> String {
    let v6 = addr.is_ipv6();
    if numeric && !v6 {
        // The common case, in one allocation (an IPv4 address and port fit in 21 bytes).
        let mut s = String::with_capacity(24);
        push_addrport(&mut s, addr, port, proto, numeric, names);
        return s;
    }
    let (host, port) = if numeric {
        (ntop(addr), port.to_string())
    } else {
        let host = names.host_name(addr).unwrap_or_else(|| ntop(addr));
        let port = proto
            .and_then(|p| names.service_name(port, p))
            .unwrap_or_else(|| port.to_string());
        (host, port)
    };
    let mut s = if v6 {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    truncate_bytes(&mut s, 59);
    s
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

/// `print_largenum`.
fn largenum(out: &mut String, n: u64, exact: bool) {
    if exact {
        let len = n.to_string().len();
        let width = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{n:>width$}");
        return;
    }
    let _ = if n < 100_000_000 {
        write!(out, "{n:>9}")
    } else if n < 1_000_000_000 {
        write!(out, "{:>8}K", n / 1000)
    } else if n < 100_000_000_000 {
        write!(out, "{:>8}M", n / 1_000_000)
    } else if n < 100_000_000_000_000 {
        write!(out, "{:>8}G", n / 1_000_000_000)
    } else {
        write!(out, "{:>8}T", n / 1_000_000_000_000)
    };
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

fn fwd_name(f: &ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masquerade => "Masq",
        ForwardMethod::Local => "Local",
        ForwardMethod::Tunnel(_) => "Tunnel",
        ForwardMethod::DirectRoute => "Route",
        _ => "(null)",
    }
}

fn fwd_switch(f: &ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masquerade => "-m",
        ForwardMethod::Tunnel(_) => "-i",
        ForwardMethod::Local | ForwardMethod::DirectRoute => "-g",
        _ => "(null)",
    }
}

fn tun_flag_index(flags: TunnelFlags) -> usize {
    flags.bits() as usize
}

fn tun_flags_short(flags: TunnelFlags) -> &'static str {
    ["-c", "+c", "r+c"]
        .get(tun_flag_index(flags))
        .copied()
        .unwrap_or("?")
}

fn tun_flags_option(flags: TunnelFlags) -> &'static str {
    ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]
        .get(tun_flag_index(flags))
        .copied()
        .unwrap_or("--tun-nocsum")
}

fn tun_info(f: &ForwardMethod) -> Option<String> {
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

/// A destination's name in a listing: [`addrport`], cut at 28 bytes unless IPv6.
fn listing_dname(
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
fn push_listing_dname(
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

/// One service and its destinations as ipvsadm prints them (`print_service_entry`).
fn service_entry(
    out: &mut String,
    entry: &ServiceEntry,
    opts: &ListOptions,
    rule: bool,
    names: &dyn Names,
) {
    let svc = &entry.service;
    let svc_name = service_name(svc, rule, opts.numeric, names);
    let stats = svc.stats.unwrap_or_default();
    if rule {
        out.push_str("-A ");
        out.push_str(&svc_name);
        out.push_str(" -s ");
        out.push_str(svc.scheduler.name());
        if let Some(p) = &svc.persistence {
            let _ = write!(out, " -p {}", p.timeout);
            if let Some(m) = mask_text(svc) {
                let _ = write!(out, " -M {m}");
            }
        }
        if let Some(pe) = &svc.pe {
            let _ = write!(out, " --pe {pe}");
        }
        if svc.one_packet {
            out.push_str(" -o");
        }
        if has_sched_flags(svc) {
            out.push_str(" -b ");
            out.push_str(&sched_flag_text(svc));
        }
    } else if opts.format == ListFormat::Stats {
        let _ = write!(out, "{svc_name:<33}");
        for n in [
            stats.conns,
            stats.in_packets,
            stats.out_packets,
            stats.in_bytes,
            stats.out_bytes,
        ] {
            largenum(out, n, opts.exact);
        }
    } else if opts.format == ListFormat::Rate {
        let _ = write!(out, "{svc_name:<33}");
        for n in [
            stats.cps,
            stats.in_pps,
            stats.out_pps,
            stats.in_bps,
            stats.out_bps,
        ] {
            largenum(out, n, opts.exact);
        }
    } else {
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
    out.push('\n');

    let proto = name_proto(&svc.id);
    for d in sorted_dests(&entry.destinations, opts.sort) {
        let c = d.counters.unwrap_or_default();
        let weight = d.weight as i32;
        if rule {
            out.push_str("-a ");
            out.push_str(&svc_name);
            out.push_str(" -r ");
            push_addrport(out, &d.addr, d.port, proto, opts.numeric, names);
            out.push(' ');
            out.push_str(fwd_switch(&d.forward));
            out.push_str(" -w ");
            push_i32(out, weight);
            if let ForwardMethod::Tunnel(t) = &d.forward {
                match t.kind {
                    TunnelType::Gre => {
                        let _ = write!(out, " --tun-type gre {}", tun_flags_option(t.flags));
                    }
                    TunnelType::Gue => {
                        let _ = write!(
                            out,
                            " --tun-type gue --tun-port {} {}",
                            t.port,
                            tun_flags_option(t.flags)
                        );
                    }
                    TunnelType::Ipip => out.push_str(" --tun-type ipip"),
                    _ => {}
                }
            }
            out.push('\n');
            continue;
        }
        let dname = || listing_dname(d, proto, opts.numeric, names);
        let ds = d.stats.unwrap_or_default();
        match opts.format {
            ListFormat::Stats => {
                let dname = dname();
                let _ = write!(out, "  -> {dname:<28}");
                for n in [
                    ds.conns,
                    ds.in_packets,
                    ds.out_packets,
                    ds.in_bytes,
                    ds.out_bytes,
                ] {
                    largenum(out, n, opts.exact);
                }
                out.push('\n');
            }
            ListFormat::Rate => {
                let dname = dname();
                let _ = write!(
                    out,
                    "  -> {dname:<28} {:>8} {:>8} {:>8}",
                    ds.cps, ds.in_pps, ds.out_pps
                );
                largenum(out, ds.in_bps, opts.exact);
                largenum(out, ds.out_bps, opts.exact);
                out.push('\n');
            }
            ListFormat::Thresholds => {
                let dname = dname();
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                    d.upper_threshold, d.lower_threshold, c.active, c.inactive
                );
            }
            ListFormat::PersistentConn => {
                let dname = dname();
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                    d.weight, c.persistent, c.active, c.inactive
                );
            }
            ListFormat::TunInfo => {
                let dname = dname();
                let ti = tun_info(&d.forward).unwrap_or_else(|| "n/a".to_owned());
                let _ = writeln!(
                    out,
                    "  -> {dname:<28} {:<7} {ti:<13} {weight:<6} {:<10} {:<10}",
                    fwd_name(&d.forward),
                    c.active,
                    c.inactive
                );
            }
            ListFormat::Default => {
                // The common line, written without the formatting machinery.
                out.push_str("  -> ");
                let start = out.len();
                push_listing_dname(out, d, proto, opts.numeric, names);
                pad_from(out, start, 28);
                out.push(' ');
                push_left(out, fwd_name(&d.forward), 7);
                out.push(' ');
                push_i32_left(out, weight, 6);
                out.push(' ');
                push_u32_left(out, c.active, 10);
                out.push(' ');
                push_u32_left(out, c.inactive, 10);
                out.push('\n');
            }
        }
    }
}

/// `ipvsadm -L` of a whole table (header, title, every service), with names looked up in
/// `names` unless `opts.numeric`.
pub fn listing_with(table: &[ServiceEntry], opts: &ListOptions, names: &dyn Names) -> String {
    let mut text = TableText::listing(opts, names);
    table.iter().for_each(|e| text.push(e));
    text.finish()
}

/// `ipvsadm -L -t|-u|-f ...`: the title and one service (no header line).
pub fn service_listing_with(entry: &ServiceEntry, opts: &ListOptions, names: &dyn Names) -> String {
    let mut out = title(opts.format);
    service_entry(&mut out, entry, opts, false, names);
    out
}

/// `ipvsadm -S`: the table as rules that `ipvsadm -R` reads back (sorted unless
/// `opts.sort` is false; names unless `opts.numeric`).
pub fn save_with(table: &[ServiceEntry], opts: &ListOptions, names: &dyn Names) -> String {
    let mut text = TableText::save(opts, names);
    table.iter().for_each(|e| text.push(e));
    text.finish()
}

/// A listing (`ipvsadm -L`) or rule text (`ipvsadm -S`) built a service at a time, for a
/// table read as a walk: each service's lines are formatted as it arrives, while the rest
/// of the table is still being read, and [`finish`](Self::finish) puts the services in
/// ipvsadm's order (unless `opts.sort` is false). The text is what [`listing_with`] or
/// [`save_with`] print for the same services pushed in the same order.
///
/// With [`Ipvs::table_map`](crate::Ipvs::table_map), the services can be formatted on the
/// threads that read them ([`TextBlock`]) and pushed afterwards with
/// [`push_block`](Self::push_block).
///
/// ```
/// use lvs::text::{save_with, ListOptions, NoNames, TableText};
/// use lvs::{Service, ServiceEntry};
/// let entry = |addr: &str| -> Result<ServiceEntry, Box<dyn std::error::Error>> {
///     let service = Service::tcp(addr.parse()?).build()?;
///     Ok(ServiceEntry { service, destinations: vec![] })
/// };
/// let table = vec![entry("10.0.0.2:80")?, entry("10.0.0.1:80")?];
/// let opts = ListOptions::numeric();
/// let mut text = TableText::save(&opts, &NoNames);
/// for e in &table {
///     text.push(e);
/// }
/// let text = text.finish();
/// assert_eq!(text, "-A -t 10.0.0.1:80 -s wlc\n-A -t 10.0.0.2:80 -s wlc\n");
/// assert_eq!(text, save_with(&table, &opts, &NoNames));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TableText<'a> {
    opts: &'a ListOptions,
    names: &'a dyn Names,
    rules: bool,
    /// Every service's lines, in the order pushed.
    blocks: Vec<TextBlock>,
}

impl std::fmt::Debug for TableText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableText")
            .field("opts", self.opts)
            .field("rules", &self.rules)
            .field("services", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

/// One service's lines of a listing or rule text, formatted on their own (on whichever
/// thread read the service), for [`TableText::push_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextBlock {
    key: ServiceKey,
    text: String,
}

impl TextBlock {
    /// The service's lines as `ipvsadm -L` prints them (in [`TableText::listing`]).
    pub fn listing(entry: &ServiceEntry, opts: &ListOptions, names: &dyn Names) -> TextBlock {
        TextBlock::new(entry, opts, false, names)
    }

    /// The service's rules as `ipvsadm -S` prints them (in [`TableText::save`]).
    pub fn save(entry: &ServiceEntry, opts: &ListOptions, names: &dyn Names) -> TextBlock {
        TextBlock::new(entry, opts, true, names)
    }

    fn new(entry: &ServiceEntry, opts: &ListOptions, rules: bool, names: &dyn Names) -> TextBlock {
        // About a line per object, most under 80 bytes: one allocation for most services.
        let mut text = String::with_capacity(80 * (1 + entry.destinations.len()));
        service_entry(&mut text, entry, opts, rules, names);
        TextBlock {
            key: ServiceKey::of(&entry.service.id),
            text,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<'a> TableText<'a> {
    /// `ipvsadm -L` text (header and title, then the services).
    pub fn listing(opts: &'a ListOptions, names: &'a dyn Names) -> TableText<'a> {
        TableText {
            opts,
            names,
            rules: false,
            blocks: Vec::new(),
        }
    }

    /// `ipvsadm -S` text (rules).
    pub fn save(opts: &'a ListOptions, names: &'a dyn Names) -> TableText<'a> {
        TableText {
            rules: true,
            ..TableText::listing(opts, names)
        }
    }

    /// Format one service with its destinations.
    pub fn push(&mut self, entry: &ServiceEntry) {
        let block = TextBlock::new(entry, self.opts, self.rules, self.names);
        self.blocks.push(block);
    }

    /// Add a service formatted already, with [`TextBlock::listing`] for a listing or
    /// [`TextBlock::save`] for rules, and the same options.
    pub fn push_block(&mut self, block: TextBlock) {
        self.blocks.push(block);
    }

    /// The whole text, services in ipvsadm's order (or as pushed, with `opts.sort` false).
    pub fn finish(self) -> String {
        let len: usize = self.blocks.iter().map(|b| b.text.len()).sum();
        let mut out = self.head();
        out.reserve(len);
        for i in self.order() {
            out.push_str(&self.blocks[i].text);
        }
        out
    }

    /// Write the whole text to `w`, as [`finish`](Self::finish) returns it, without
    /// building it in one string first (for a large table on standard output); then flush
    /// `w`. It is written 64 KiB at a time: a line-buffered writer such as `Stdout` would
    /// otherwise write every service's block on its own.
    pub fn write_to(self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        const STAGE: usize = 64 * 1024;
        let mut stage = Vec::with_capacity(STAGE);
        stage.extend_from_slice(self.head().as_bytes());
        for i in self.order() {
            let block = self.blocks[i].text.as_bytes();
            if stage.len() + block.len() > STAGE {
                w.write_all(&stage)?;
                stage.clear();
            }
            if block.len() > STAGE {
                w.write_all(block)?;
            } else {
                stage.extend_from_slice(block);
            }
        }
        w.write_all(&stage)?;
        w.flush()
    }

    /// What comes before the services: a listing's header and title (nothing for rules).
    fn head(&self) -> String {
        if self.rules {
            String::new()
        } else {
            header(&self.opts.info) + &title(self.opts.format)
        }
    }

    /// The blocks' indices in ipvsadm's order (or as pushed, with `opts.sort` false).
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<(ServiceKey, usize)> =
            self.blocks.iter().map(|b| b.key).zip(0..).collect();
        if self.opts.sort {
            c_qsort(&mut order, &|a, b| a.0.compare(&b.0));
        }
        order.into_iter().map(|(_, i)| i).collect()
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

/// Order of two services as ipvsadm sorts them (exposed for callers that sort themselves).
pub fn service_order(a: &Service, b: &Service) -> Ordering {
    cmp_services(&a.id, &b.id).cmp(&0)
}

#[cfg(test)]
mod golden {
    //! Every listing format, the rule format and the other listings of one varied table,
    //! against `golden.txt` (written from the formatter before it was split into files;
    //! `LVS_WRITE_GOLDEN=1` writes it again).

    use super::*;
    use crate::model::{DestCounters, Persistence, PersistenceEngine, Stats, Tunnel};
    use crate::text::names::{NoNames, SystemNames};
    use std::net::{Ipv4Addr, SocketAddr};

    fn stats(k: u64) -> Stats {
        let n = |i: u64| k.wrapping_mul(10u64.pow(i as u32 * 2 + 1)) + i;
        Stats {
            conns: n(0),
            in_packets: n(1),
            out_packets: n(2),
            in_bytes: n(3),
            out_bytes: n(4),
            cps: n(5),
            in_pps: n(0) + 3,
            out_pps: n(1) + 3,
            in_bps: n(6),
            out_bps: n(7),
        }
    }

    fn dest(addr: &str, port: u16, forward: ForwardMethod, k: u32) -> Destination {
        Destination {
            addr: addr.parse().unwrap(),
            port,
            forward,
            weight: k.wrapping_mul(7) ^ (k << 31),
            upper_threshold: k * 3,
            lower_threshold: k,
            counters: Some(DestCounters {
                active: k * 11,
                inactive: k * 13,
                persistent: k * 17,
            }),
            stats: Some(stats(u64::from(k) * 1_234_567)),
        }
    }

    fn table() -> Vec<ServiceEntry> {
        let svc = |id: ServiceId, k: u64| {
            let mut s = Service::tcp("10.0.0.1:80".parse().unwrap())
                .build()
                .unwrap();
            s.id = id;
            s.stats = Some(stats(k));
            s
        };
        let addr = |p: Protocol, a: &str| ServiceId::Addr {
            protocol: p,
            addr: a.parse::<SocketAddr>().unwrap(),
        };
        let mut a = svc(addr(Protocol::Tcp, "10.0.0.1:80"), 1);
        a.scheduler = Scheduler::Sh;
        a.sched_flags = SchedFlags::SH_FALLBACK | SchedFlags::SH_PORT;
        a.persistence = Some(Persistence {
            timeout: 600,
            netmask: Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)),
        });
        a.pe = Some(PersistenceEngine::Sip);
        let mut b = svc(addr(Protocol::Udp, "10.0.0.1:53"), 987_654_321);
        b.one_packet = true;
        b.scheduler = Scheduler::from_name("rr");
        b.sched_flags = SchedFlags::FLAG_2;
        let mut c = svc(addr(Protocol::Sctp, "[fd00::1]:5060"), 123_456_789_012);
        c.persistence = Some(Persistence {
            timeout: 360,
            netmask: Netmask::V6(64),
        });
        let d = svc(
            ServiceId::Fwmark {
                af: AddressFamily::Inet6,
                mark: 4_000_000_000,
            },
            99_999_999_999_999,
        );
        let mut e = svc(
            ServiceId::Fwmark {
                af: AddressFamily::Inet,
                mark: 7,
            },
            5,
        );
        e.stats = None;
        let f = svc(addr(Protocol::Tcp, "127.0.0.1:80"), 2);
        let dests = vec![
            dest("10.0.0.3", 8080, ForwardMethod::Masquerade, 3),
            dest("10.0.0.2", 80, ForwardMethod::DirectRoute, 100_000),
            dest("10.0.0.2", 79, ForwardMethod::Local, 0),
            dest(
                "fd00::2",
                80,
                ForwardMethod::Tunnel(Tunnel::gue(6080).csum()),
                9,
            ),
            dest(
                "10.0.0.4",
                80,
                ForwardMethod::Tunnel(Tunnel::gre().remcsum()),
                10,
            ),
            dest("10.0.0.5", 80, ForwardMethod::Tunnel(Tunnel::ipip()), 11),
            dest(
                "10.0.0.6",
                80,
                ForwardMethod::Tunnel(Tunnel::gue(1)),
                4_000_000,
            ),
        ];
        let mut v6 = dests.clone();
        v6.iter_mut().for_each(|d| {
            d.addr = "fd00::9".parse().unwrap();
        });
        [a, b, c, d, e, f]
            .into_iter()
            .enumerate()
            .map(|(i, service)| ServiceEntry {
                destinations: match i {
                    2 | 3 => v6.clone(),
                    4 => vec![],
                    _ => dests.clone(),
                },
                service,
            })
            .collect()
    }

    fn render() -> String {
        let table = table();
        let system = SystemNames::from_text(
            "127.0.0.1 localhost\n10.0.0.2 rs-two\nfd00::2 six\n",
            "http 80/tcp\ndomain 53/udp\nsip 5060/sctp\n",
        );
        let mut out = String::new();
        for numeric in [true, false] {
            let names: &dyn Names = if numeric { &NoNames } else { &system };
            for format in [
                ListFormat::Default,
                ListFormat::Stats,
                ListFormat::Rate,
                ListFormat::Thresholds,
                ListFormat::PersistentConn,
                ListFormat::TunInfo,
            ] {
                for (exact, sort) in [(false, true), (true, false)] {
                    let opts = ListOptions {
                        numeric,
                        format,
                        exact,
                        sort,
                        ..ListOptions::default()
                    };
                    out += &format!("== -L {opts:?}\n");
                    out += &listing_with(&table, &opts, names);
                    out += &service_listing_with(&table[0], &opts, names);
                }
            }
            for sort in [true, false] {
                let opts = ListOptions {
                    numeric,
                    sort,
                    ..ListOptions::default()
                };
                out += &format!("== -S {opts:?}\n");
                out += &save_with(&table, &opts, names);
            }
        }
        out
    }

    #[test]
    fn every_format_prints_as_before() {
        let text = render();
        if std::env::var_os("LVS_WRITE_GOLDEN").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/text/format/golden.txt");
            std::fs::write(path, &text).unwrap();
        }
        let golden = include_str!("format/golden.txt");
        for (i, (a, b)) in text.lines().zip(golden.lines()).enumerate() {
            assert_eq!(a, b, "line {}", i + 1);
        }
        assert_eq!(text, golden);
    }
}
