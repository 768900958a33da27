//! Finding the running kernel's [`Capabilities`] without touching the caller's table.
//!
//! - The version: [`KernelVersion::running`].
//! - The connection table: `GET_INFO` on the caller's transport (its namespace's table), and
//!   whether it is resizable from the `net.ipv4.vs.conn_lfactor` sysctl, which only a kernel
//!   with a resizable table has.
//! - The schedulers and persistence engines: the modules the kernel can load, from
//!   `/sys/module` (loaded, or built in with parameters), `modules.builtin` and
//!   `modules.dep` of `/lib/modules/<release>` (the kernel loads a scheduler module on
//!   demand). Where that directory cannot be read (a container without it), the version's
//!   expected set is kept.
//! - The upper threshold range, the tunnel encapsulations and mixed-family destinations: by
//!   trying them on the kernel itself, in a scratch network namespace of the probe's own
//!   (IPv6 services and destinations there: an IPv4 destination would need `lo` up), which
//!   disappears with the probe's socket. This needs `CAP_SYS_ADMIN` (to make the namespace);
//!   without it, or without IPv6, these come from the version's expected values.
//! - Whether `lo`'s network address is refused ([`Capabilities::network_broadcast_routes`]):
//!   from the version (a routing matter, not an IPVS one).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::{KernelTransport, RequestKind, Transport};
use crate::error::Result;
use crate::model::{
    AddressFamily, Capabilities, Destination, ForwardMethod, KernelVersion, Scheduler, Service,
    ServiceId, ServiceOrder, Tunnel, TunnelFlags, TunnelType,
};
use crate::wire::IpvsMessage;

/// How long the probe waits for any one answer in its scratch namespace.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The capabilities of the kernel behind `t` (see the module documentation).
pub(super) fn capabilities(t: &mut KernelTransport) -> Result<Capabilities> {
    let info = t.request(&IpvsMessage::get_info(), RequestKind::Do)?;
    let size = info
        .first()
        .and_then(|m| m.info().ok())
        .map(|i| i.conn_table_size);
    Ok(running_kernel(size))
}

/// The capabilities of the running kernel, with the connection table size that `GET_INFO`
/// reported on the caller's handle (if any). Blocking: it makes a network namespace and
/// talks to the kernel there.
pub fn running_kernel(conn_table_size: Option<u32>) -> Capabilities {
    let version = KernelVersion::running().ok();
    let mut caps = Capabilities::expected(version.unwrap_or(KernelVersion::new(6, 12, 0)));
    caps.kernel = version;
    // 0 before the namespace's first service on 7.x: the scratch namespace tells then.
    if let Some(size) = conn_table_size.filter(|s| *s != 0) {
        caps.conn_table.size = size;
    }
    caps.conn_table.resizable = Path::new("/proc/sys/net/ipv4/vs/conn_lfactor").exists();
    caps.conn_table.allocated_on_first_use = caps.conn_table.resizable;
    // One resizable service table with a random seed: it has a load factor of its own.
    caps.service_order = if Path::new("/proc/sys/net/ipv4/vs/svc_lfactor").exists() {
        ServiceOrder::Random
    } else {
        ServiceOrder::Buckets
    };
    if let Some(modules) = Modules::read() {
        caps.schedulers = Scheduler::ALL
            .iter()
            .filter(|s| modules.has(&format!("ip_vs_{}", s.name())))
            .cloned()
            .collect();
        caps.persistence_engines = ["sip"]
            .iter()
            .filter(|pe| modules.has(&format!("ip_vs_pe_{pe}")))
            .map(|pe| (*pe).to_owned())
            .collect();
    }
    if let Some(found) = scratch_probe() {
        if let Some(size) = found.conn_table_size {
            caps.conn_table.size = size;
        }
        caps.max_upper_threshold = found.max_upper_threshold;
        caps.tunnel_types = found.tunnel_types;
        caps.mixed_family_destinations = found.mixed_family;
    }
    caps
}

/// Whether the running kernel has this module: loaded (`/sys/module`), built in, or on disk
/// for it (after a refusal, a module the kernel could load would be loaded already).
pub(crate) fn kernel_has_module(module: &str) -> bool {
    Path::new("/sys/module").join(module).exists() || Modules::read().is_some_and(|m| m.has(module))
}

/// The kernel modules that can be loaded or are built in.
struct Modules {
    names: Vec<String>,
}

impl Modules {
    fn read() -> Option<Modules> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        let dir = Path::new("/lib/modules").join(release.trim());
        let dep = std::fs::read_to_string(dir.join("modules.dep")).ok()?;
        let builtin = std::fs::read_to_string(dir.join("modules.builtin")).unwrap_or_default();
        // modules.dep: "kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz: deps..."
        let names = dep
            .lines()
            .filter_map(|l| l.split(':').next())
            .chain(builtin.lines())
            .filter_map(|path| {
                let file = path.rsplit('/').next()?;
                Some(file.split(".ko").next()?.replace('-', "_"))
            })
            .collect();
        Some(Modules { names })
    }

    fn has(&self, module: &str) -> bool {
        Path::new("/sys/module").join(module).exists() || self.names.iter().any(|n| n == module)
    }
}

/// What the scratch namespace showed.
struct Found {
    /// `GET_INFO`'s size once a service exists.
    conn_table_size: Option<u32>,
    max_upper_threshold: u32,
    tunnel_types: Vec<TunnelType>,
    mixed_family: bool,
}

/// A transport in a new network namespace of its own, made on a short-lived thread; the
/// namespace lives as long as the transport's socket.
fn scratch_transport() -> Option<KernelTransport> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).ok()?;
            KernelTransport::builder()
                .timeout(PROBE_TIMEOUT)
                .open()
                .ok()
        })
        .join()
        .ok()
        .flatten()
    })
}

fn scratch_probe() -> Option<Found> {
    let mut t = scratch_transport()?;
    let v6 = |last: u16| {
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)),
            0,
        )
    };
    let do_ = |t: &mut KernelTransport, msg: IpvsMessage| t.request(&msg, RequestKind::Do);
    let add_service = |t: &mut KernelTransport, id: ServiceId| {
        let svc = Service::builder(id).scheduler(Scheduler::Rr).build().ok()?;
        do_(t, IpvsMessage::new_service(&svc)).ok()
    };
    let dest = |addr: SocketAddr, forward: ForwardMethod| {
        let mut d = Destination::builder(addr).build().ok()?;
        d.forward = forward;
        Some(d)
    };
    // An IPv6 service: without IPv6 there is nothing to try.
    let svc6 = ServiceId::fwmark6(1);
    add_service(&mut t, svc6)?;
    let conn_table_size = do_(&mut t, IpvsMessage::get_info())
        .ok()
        .and_then(|r| r.first().and_then(|m| m.info().ok()))
        .map(|i| i.conn_table_size);

    // The upper threshold: u32::MAX stored, or refused.
    let mut d = dest(v6(1), ForwardMethod::Masquerade)?;
    d.upper_threshold = u32::MAX;
    let max_upper_threshold = if do_(&mut t, IpvsMessage::new_dest(&svc6, &d)).is_ok() {
        u32::MAX
    } else {
        i32::MAX as u32
    };

    // Tunnel encapsulations: a kernel that does not know one ignores its attributes, so a
    // destination read back as IPIP did not take it.
    let mut tunnel_types = vec![TunnelType::Ipip];
    for (i, kind) in [(2, TunnelType::Gue), (3, TunnelType::Gre)] {
        let tunnel = Tunnel {
            kind,
            port: if kind == TunnelType::Gue { 6080 } else { 0 },
            flags: TunnelFlags::empty(),
        };
        let d = dest(v6(i), ForwardMethod::Tunnel(tunnel))?;
        if do_(&mut t, IpvsMessage::new_dest(&svc6, &d)).is_err() {
            continue;
        }
        let back = t
            .request(&IpvsMessage::dump_dests(&svc6), RequestKind::Dump)
            .ok()?;
        let taken = back
            .iter()
            .filter_map(|m| m.destination(AddressFamily::Inet6).ok())
            .any(|b| {
                b.addr == d.addr && matches!(b.forward, ForwardMethod::Tunnel(t) if t.kind == kind)
            });
        if taken {
            tunnel_types.push(kind);
        }
    }

    // Mixed families: an IPv6 real server behind an IPv4 service, tunnelled.
    let svc4 = ServiceId::fwmark(1);
    add_service(&mut t, svc4)?;
    let d = dest(v6(4), ForwardMethod::Tunnel(Tunnel::default()))?;
    let mixed_family = do_(&mut t, IpvsMessage::new_dest(&svc4, &d)).is_ok();

    Some(Found {
        conn_table_size,
        max_upper_threshold,
        tunnel_types,
        mixed_family,
    })
}
