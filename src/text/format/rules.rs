//! The rule format (`-S`, read back by `-R`): a service's `-A` line and a destination's
//! `-a` line.

use std::fmt::Write as _;

use super::cprint::{push_addrport, push_i32};
use super::{has_sched_flags, mask_text, sched_flag_text, tun_flag_index};
use crate::model::{
    Destination, ForwardMethod, Protocol, Service, Tunnel, TunnelFlags, TunnelType,
};
use crate::text::names::Names;

pub(super) fn fwd_switch(f: &ForwardMethod) -> &'static str {
    match f {
        ForwardMethod::Masquerade => "-m",
        ForwardMethod::Tunnel(_) => "-i",
        ForwardMethod::Local | ForwardMethod::DirectRoute => "-g",
        _ => "(null)",
    }
}

pub(super) fn tun_flags_option(flags: TunnelFlags) -> &'static str {
    ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]
        .get(tun_flag_index(flags))
        .copied()
        .unwrap_or("--tun-nocsum")
}

/// The `-A` rule of a service (and its end of line).
pub(super) fn service_rule(out: &mut String, svc: &Service, svc_name: &str) {
    out.push_str("-A ");
    out.push_str(svc_name);
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
    out.push('\n');
}

/// The `-a` rule of a destination of the service `svc_name`.
pub(super) fn destination_rule(
    out: &mut String,
    d: &Destination,
    svc_name: &str,
    proto: Option<Protocol>,
    numeric: bool,
    names: &dyn Names,
) {
    out.push_str("-a ");
    out.push_str(svc_name);
    out.push_str(" -r ");
    push_addrport(out, &d.addr, d.port, proto, numeric, names);
    out.push(' ');
    out.push_str(fwd_switch(&d.forward));
    out.push_str(" -w ");
    push_i32(out, d.weight as i32);
    if let ForwardMethod::Tunnel(t) = &d.forward {
        tunnel_options(out, t);
    }
    out.push('\n');
}

/// The `--tun-*` options of a tunnelling destination.
fn tunnel_options(out: &mut String, t: &Tunnel) {
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
