//! Kernel versions, and what a kernel's IPVS can do ([`Capabilities`]).
//!
//! IPVS behaves differently across kernel generations (5.10, 6.1, 6.12, 7.x) and, now and
//! then, within one generation when a stable update changes it. Each such difference this
//! crate knows is a field of [`Capabilities`], documented with the kernel versions where
//! each behaviour holds. The kernel backend finds them by probing the running kernel
//! ([`Ipvs::capabilities`](crate::Ipvs::capabilities)); the mock takes them from the
//! profile it was built with; [`Capabilities::expected`] gives them for a version, from
//! this crate's table of kernel facts (the one the mock's profiles use).
//!
//! The facts were checked on Debian's kernels in qemu guests by the crate's kernel suite:
//! 5.10.223 (bullseye), 6.1.192 (bookworm), 6.12.95 (bookworm-backports) and 7.2.13
//! (unstable). Where the release that changed a behaviour is not known exactly, the field
//! says so.

use std::fmt;
use std::str::FromStr;

use super::{Scheduler, TunnelType};

/// A Linux kernel version: the upstream release `major.minor.patch` (e.g. `6.1.192`).
///
/// Distribution kernels often name another number in `uname -r` (Debian's `6.1.0-57-amd64`
/// is upstream 6.1.192): [`KernelVersion::running`] reads the upstream release where the
/// distribution states it (Debian's `/proc/version`, Ubuntu's `/proc/version_signature`).
///
/// ```
/// use lvs::KernelVersion;
/// let v: KernelVersion = "6.1.192".parse()?;
/// assert!(v >= KernelVersion::new(6, 1, 183));
/// assert_eq!(KernelVersion::parse_release("7.2.13+deb14-amd64"), Some(KernelVersion::new(7, 2, 13)));
/// # Ok::<(), lvs::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// The major number (`6` in 6.1.192).
    pub major: u16,
    /// The minor number (`1` in 6.1.192).
    pub minor: u16,
    /// The stable release (`192` in 6.1.192; 0 for a mainline release).
    pub patch: u16,
}

impl KernelVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// The version at the start of a kernel release string (`uname -r`): `6.1.0-57-amd64`
    /// is 6.1.0, `7.2.13+deb14-amd64` is 7.2.13, `6.8` is 6.8.0. `None` if it does not start
    /// with `major.minor`.
    pub fn parse_release(release: &str) -> Option<KernelVersion> {
        let end = release
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(release.len());
        let mut parts = release[..end].split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            None | Some("") => 0,
            Some(p) => p.parse().ok()?,
        };
        Some(KernelVersion::new(major, minor, patch))
    }

    /// The upstream version from the texts of `/proc/sys/kernel/osrelease`, `/proc/version`
    /// and (if present) `/proc/version_signature`: a Debian kernel's `/proc/version` ends
    /// with `Debian 6.1.192-3 (date)`, an Ubuntu kernel's signature with the upstream
    /// version (`Ubuntu 5.15.0-91.101-generic 5.15.131`). A stated version is taken only if
    /// its major and minor numbers are the release's; otherwise the release's own.
    pub fn from_proc(
        osrelease: &str,
        proc_version: &str,
        signature: Option<&str>,
    ) -> Option<KernelVersion> {
        let release = KernelVersion::parse_release(osrelease.trim())?;
        let same_series = |v: &KernelVersion| v.major == release.major && v.minor == release.minor;
        let debian = proc_version
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "Debian")
            .filter_map(|w| KernelVersion::parse_release(w[1]))
            .find(same_series);
        let ubuntu = signature
            .and_then(|s| s.split_whitespace().last())
            .and_then(KernelVersion::parse_release)
            .filter(same_series);
        Some(debian.or(ubuntu).unwrap_or(release))
    }

    /// The version of the running kernel (see [`from_proc`](Self::from_proc)).
    pub fn running() -> crate::Result<KernelVersion> {
        let osrelease = std::fs::read_to_string("/proc/sys/kernel/osrelease")?;
        let proc_version = std::fs::read_to_string("/proc/version").unwrap_or_default();
        let signature = std::fs::read_to_string("/proc/version_signature").ok();
        KernelVersion::from_proc(&osrelease, &proc_version, signature.as_deref()).ok_or_else(|| {
            crate::Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("cannot read a kernel version from {:?}", osrelease.trim()),
            ))
        })
    }

    /// Whether this version is in `from..to` (`to` excluded).
    fn within(self, from: KernelVersion, to: KernelVersion) -> bool {
        from <= self && self < to
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for KernelVersion {
    type Err = crate::Error;

    /// `major.minor[.patch]`, nothing else.
    fn from_str(s: &str) -> crate::Result<KernelVersion> {
        match KernelVersion::parse_release(s) {
            Some(v) if s.chars().all(|c| c.is_ascii_digit() || c == '.') => Ok(v),
            _ => Err(crate::Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not a kernel version (major.minor[.patch]): {s:?}"),
            ))),
        }
    }
}

/// The kernel's connection table, as `GET_INFO` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnTable {
    /// The size `GET_INFO` reports (ipvsadm's `size=` in its listing header) once IPVS is
    /// in use in the namespace: 4096 up to 6.x (the `ip_vs` module's `conn_tab_bits=12`,
    /// one table for all namespaces); 256 to start with on 7.x, where each namespace's
    /// table grows with its connections.
    pub size: u32,
    /// Whether the table is resized with its load (7.x, whose `net.ipv4.vs.conn_lfactor`
    /// sysctl sets the load factor); up to 6.x its size is fixed when `ip_vs` loads.
    pub resizable: bool,
    /// Whether a namespace's table is allocated only when IPVS is first used there (7.x):
    /// `GET_INFO` then reports a size of 0 until the namespace's first service is added or
    /// its first sync daemon started (a refused add or start does not count; setting the
    /// timeouts does not either), and keeps the size after they are deleted.
    pub allocated_on_first_use: bool,
}

/// What a kernel's IPVS supports, and how it differs from other kernels, so that a control
/// plane can adapt without parsing `uname`.
///
/// Get it from a handle ([`Ipvs::capabilities`](crate::Ipvs::capabilities)): probed on the
/// real kernel, the profile's on the mock. [`Capabilities::expected`] gives it for a kernel
/// version from this crate's table of kernel facts.
///
/// ```
/// use lvs::{Capabilities, KernelVersion, Scheduler};
/// let old = Capabilities::expected(KernelVersion::new(5, 10, 223));
/// assert!(!old.has_scheduler(&Scheduler::Twos)); // twos came with 6.7
/// assert!(old.network_broadcast_routes);
/// let new = Capabilities::expected(KernelVersion::new(7, 2, 13));
/// assert!(new.has_scheduler(&Scheduler::Twos));
/// assert_eq!(new.max_upper_threshold, i32::MAX as u32);
/// assert!(new.conn_table.resizable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The kernel version, when known.
    pub kernel: Option<KernelVersion>,
    /// The schedulers a service can use (their modules are built in, loaded, or loadable).
    /// `twos` exists from 6.7 on; the other thirteen in every supported kernel.
    pub schedulers: Vec<Scheduler>,
    /// The persistence engines a service can use (`sip` where `ip_vs_pe_sip` exists).
    pub persistence_engines: Vec<String>,
    /// The tunnel encapsulations of tunnel forwarding: `ipip` always, `gue` from 5.2, `gre`
    /// from 5.3.
    pub tunnel_types: Vec<TunnelType>,
    /// Whether a destination of the other address family than its service's is taken
    /// (tunnel forwarding only; from 3.18, so on every supported kernel).
    pub mixed_family_destinations: bool,
    /// Whether the kernel has IPv6 (IPv6 services and destinations).
    pub ipv6: bool,
    /// The largest weight the kernel takes (`i32::MAX`; ipvsadm and the builders stop at
    /// 65535).
    pub max_weight: u32,
    /// The largest upper connection threshold the kernel takes. `u32::MAX` (stored as
    /// unsigned, listed by ipvsadm as such) on 5.10, on 6.1 before 6.1.183, on 6.12 (up to
    /// 6.12.95 at least) and on mainline 6.x; `i32::MAX` (above it: EINVAL) from 6.1.183
    /// (the stable release that brought "ipvs: add totalconns for dest" and "ipvs:
    /// properly update the overload flag on dest edit") and on 7.x (seen on 7.2.13; the
    /// first 7.x release with it is not pinned down, so the table says 7.0).
    pub max_upper_threshold: u32,
    /// Whether the local routing table holds a broadcast route for the network address of
    /// each IPv4 prefix, which makes that address unusable as a real server (EINVAL): a
    /// destination `127.0.0.0` (the network address of `lo`'s 127.0.0.0/8) is refused on
    /// 5.10 and taken on 6.1 and later. Seen on 5.10.223 and gone on 6.1.0; the release in
    /// between that changed it is not pinned down, so the table says before 6.0.
    pub network_broadcast_routes: bool,
    /// The connection table.
    pub conn_table: ConnTable,
    /// How a service dump orders the services.
    pub service_order: ServiceOrder,
}

/// How the kernel orders the services of a dump (`ipvsadm` sorts its listings, so this only
/// shows to netlink readers and in `/proc/net/ip_vs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceOrder {
    /// Up to 6.x: the address table's 256 buckets, then the fwmark table's, newest first
    /// within a bucket. The hash mixes in bits 8..16 of the kernel address of the
    /// namespace's IPVS state, so it can be reproduced from one dump (the mock's
    /// [`hash_seed`](crate::transport::MockKernelBuilder::hash_seed)).
    Buckets,
    /// 7.x: one resizable table for every service, hashed with a random seed of each
    /// namespace: the same services added in the same order are listed in another order in
    /// another namespace, and even `/proc/net/ip_vs` may list them in another order than a
    /// dump. Nothing outside the kernel can predict it; compare dumps as sets.
    Random,
}

/// The schedulers of mainline Linux, `twos` last.
const SCHEDULERS: [Scheduler; 14] = Scheduler::ALL;

impl Capabilities {
    /// What a mainline or stable kernel of version `v` offers, from this crate's table of
    /// kernel facts (each field's documentation gives its ranges), with every mainline
    /// scheduler module of that version, the `sip` persistence engine and IPv6.
    pub fn expected(v: KernelVersion) -> Capabilities {
        let k = KernelVersion::new;
        let schedulers = SCHEDULERS
            .iter()
            .filter(|s| **s != Scheduler::Twos || v >= k(6, 7, 0))
            .cloned()
            .collect();
        let mut tunnel_types = vec![TunnelType::Ipip];
        if v >= k(5, 2, 0) {
            tunnel_types.push(TunnelType::Gue);
        }
        if v >= k(5, 3, 0) {
            tunnel_types.push(TunnelType::Gre);
        }
        let threshold_refused = v.within(k(6, 1, 183), k(6, 2, 0)) || v >= k(7, 0, 0);
        let resizable = v >= k(7, 0, 0);
        Capabilities {
            kernel: Some(v),
            schedulers,
            persistence_engines: vec!["sip".to_owned()],
            tunnel_types,
            mixed_family_destinations: v >= k(3, 18, 0),
            ipv6: true,
            max_weight: i32::MAX as u32,
            max_upper_threshold: if threshold_refused {
                i32::MAX as u32
            } else {
                u32::MAX
            },
            network_broadcast_routes: v < k(6, 0, 0),
            conn_table: ConnTable {
                size: if resizable { 256 } else { 4096 },
                resizable,
                allocated_on_first_use: resizable,
            },
            service_order: if v >= k(7, 0, 0) {
                ServiceOrder::Random
            } else {
                ServiceOrder::Buckets
            },
        }
    }

    /// Whether `scheduler` is available (`none` always is: it is no scheduler).
    pub fn has_scheduler(&self, scheduler: &Scheduler) -> bool {
        scheduler.name() == "none" || self.schedulers.contains(scheduler)
    }

    /// Whether the persistence engine `name` is available.
    pub fn has_persistence_engine(&self, name: &str) -> bool {
        self.persistence_engines.iter().any(|e| e == name)
    }

    /// Whether tunnel forwarding can use `kind`.
    pub fn has_tunnel_type(&self, kind: TunnelType) -> bool {
        self.tunnel_types.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases() {
        let k = KernelVersion::new;
        assert_eq!(
            KernelVersion::parse_release("6.1.0-57-amd64"),
            Some(k(6, 1, 0))
        );
        assert_eq!(
            KernelVersion::parse_release("5.10.0-32-amd64"),
            Some(k(5, 10, 0))
        );
        assert_eq!(
            KernelVersion::parse_release("6.12.95+deb12-amd64"),
            Some(k(6, 12, 95))
        );
        assert_eq!(KernelVersion::parse_release("6.8"), Some(k(6, 8, 0)));
        assert_eq!(KernelVersion::parse_release("6.8-rc1"), Some(k(6, 8, 0)));
        assert_eq!(KernelVersion::parse_release("x6.8"), None);
        assert_eq!(KernelVersion::parse_release("6"), None);
        assert_eq!(KernelVersion::parse_release("99999.1"), None);
        assert!("6.1.192".parse::<KernelVersion>().is_ok());
        assert!("6.1.0-57".parse::<KernelVersion>().is_err());
        assert!("".parse::<KernelVersion>().is_err());
    }

    #[test]
    fn upstream_version_from_distribution_texts() {
        let k = KernelVersion::new;
        let debian = "Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 \
                      (Debian 12.2.0-14+deb12u1) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian \
                      6.1.192-3 (2026-11-02)";
        assert_eq!(
            KernelVersion::from_proc("6.1.0-57-amd64\n", debian, None),
            Some(k(6, 1, 192))
        );
        // The compiler's "Debian 12.2.0" is not taken: another series.
        let ubuntu = "Ubuntu 5.15.0-91.101-generic 5.15.131\n";
        assert_eq!(
            KernelVersion::from_proc("5.15.0-91-generic", "Linux version 5.15.0", Some(ubuntu)),
            Some(k(5, 15, 131))
        );
        assert_eq!(
            KernelVersion::from_proc("6.8.0", "Linux version 6.8.0", None),
            Some(k(6, 8, 0))
        );
        assert_eq!(KernelVersion::from_proc("garbage", "", None), None);
    }

    #[test]
    fn expected_capabilities_follow_the_ranges() {
        let k = KernelVersion::new;
        let threshold = |v| Capabilities::expected(v).max_upper_threshold;
        assert_eq!(threshold(k(5, 10, 223)), u32::MAX);
        assert_eq!(threshold(k(6, 1, 182)), u32::MAX);
        assert_eq!(threshold(k(6, 1, 183)), i32::MAX as u32);
        assert_eq!(threshold(k(6, 1, 192)), i32::MAX as u32);
        assert_eq!(threshold(k(6, 12, 95)), u32::MAX);
        assert_eq!(threshold(k(7, 2, 13)), i32::MAX as u32);
        let twos = |v| Capabilities::expected(v).has_scheduler(&Scheduler::Twos);
        assert!(!twos(k(6, 6, 99)));
        assert!(twos(k(6, 7, 0)));
        assert!(Capabilities::expected(k(5, 10, 0)).network_broadcast_routes);
        assert!(!Capabilities::expected(k(6, 1, 0)).network_broadcast_routes);
        assert_eq!(Capabilities::expected(k(6, 12, 0)).conn_table.size, 4096);
        assert_eq!(
            Capabilities::expected(k(7, 2, 13)).conn_table,
            ConnTable {
                size: 256,
                resizable: true,
                allocated_on_first_use: true,
            }
        );
        let tunnels = |v| Capabilities::expected(v).tunnel_types;
        assert_eq!(tunnels(k(5, 1, 0)), [TunnelType::Ipip]);
        assert_eq!(
            tunnels(k(5, 10, 0)),
            [TunnelType::Ipip, TunnelType::Gue, TunnelType::Gre]
        );
    }
}
