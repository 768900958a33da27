//! Host preparation for the LVS modes: what the classic setup scripts did with `ifconfig`,
//! `route` and `echo > /proc/sys/...`, through rtnetlink and `/proc/sys`, never by spawning
//! a command.
//!
//! - bind a VIP as a /32 (or /128) on loopback (`lo:0`), on a named device with a label (the
//!   director's `eth0:0`), on a dummy device, or on `tunl0` (created when missing), with the
//!   host route the scripts add;
//! - the ARP sysctls of a DR or TUN real server (`arp_ignore=1`, `arp_announce=2` on the
//!   VIP's device and on `all`), IP forwarding for a NAT director, reverse-path filtering
//!   relaxed for a TUN real server, a NAT real server's default route through the director.
//!
//! - the IPVS sysctls of the namespace (`net.ipv4.vs.*`), typed: [`IpvsSysctl`],
//!   [`Host::ipvs_sysctl`], [`Host::set_ipvs_sysctl`].
//! - a failover pair of directors: announce a VIP after binding it ([`Host::announce`]:
//!   gratuitous ARP, unsolicited neighbour advertisements), release it
//!   ([`Host::release_vip`]), and switch a director's role ([`Failover`],
//!   [`Host::take_over`], [`Host::stand_by`]: the VIP and the sync daemons), as keepalived's
//!   `notify_master` and `notify_backup` scripts would.
//!
//! Every step is idempotent (nothing is done, or recorded, when the system is already as
//! asked) and recorded as a [`Change`]; [`Host::undo`] reverts a list of changes exactly:
//! previous sysctl values written back, only what was added removed, what someone else
//! changed since left alone and reported ([`HostError`]). A `Host` can
//! work in another network namespace; the calling thread never leaves its own.
//!
//! Code that runs as root and must undo its changes after a crash attaches a [`Journal`]
//! ([`Host::attach_journal`]): a locked, trusted file in a state directory where each change
//! is written durably before it is made (see [`journal`](Journal) for what it guarantees and
//! refuses).
//!
//! ```no_run
//! use lvs::host::{Host, VipDevice};
//! // A DR real server: the VIP on lo:0, ARP hidden.
//! let mut host = Host::new()?;
//! host.bind_vip("192.168.1.3".parse()?, &VipDevice::Loopback)?;
//! host.hide_arp("lo")?;
//! let journal = host.take_changes();
//! // ... later, to restore the machine:
//! host.undo(&journal)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod announce;
mod change;
mod ipvs_sysctl;
mod journal;
mod role;

pub use announce::{garp_frame, unsolicited_na, Announce, Announced};
pub use change::{Change, LinkKind};
pub use ipvs_sysctl::IpvsSysctl;
pub use journal::{sysctl_allowed, Entry, Journal, UndoReport};
pub use role::{Failover, Switched};

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily as RtFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;

use crate::error::{Error, HostError, InvalidError, Operation, Result};
use crate::netlink::{in_netns, Answer, NlSocket};

/// Where a VIP is bound.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VipDevice {
    /// Loopback, labelled `lo:0` (a DR real server).
    Loopback,
    /// A named device, with an optional label: the director's `eth0:0` is
    /// `Device { name: "eth0", label: Some("eth0:0") }`.
    Device {
        /// The device.
        name: String,
        /// The address label (`eth0:0`), if any.
        label: Option<String>,
    },
    /// A dummy device, created (and set up) when missing.
    Dummy(String),
    /// The IPIP fallback device `tunl0` (LVS-TUN), created when missing, set up.
    Tunl0,
}

impl VipDevice {
    /// Parse `lo`, `tunl0`, `dummy:NAME`, `DEV` or `DEV:LABEL` (`eth0:0`).
    pub fn parse(s: &str) -> Result<VipDevice, InvalidError> {
        let dev = match s {
            "lo" | "lo:0" => VipDevice::Loopback,
            "tunl0" => VipDevice::Tunl0,
            _ => match s.split_once(':') {
                Some(("dummy", name)) => VipDevice::Dummy(name.to_owned()),
                Some((name, _)) => VipDevice::Device {
                    name: name.to_owned(),
                    label: Some(s.to_owned()),
                },
                None => VipDevice::Device {
                    name: s.to_owned(),
                    label: None,
                },
            },
        };
        crate::model::check_name("interface", dev.name(), 15)?;
        Ok(dev)
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        match self {
            VipDevice::Loopback => "lo",
            VipDevice::Device { name, .. } | VipDevice::Dummy(name) => name,
            VipDevice::Tunl0 => "tunl0",
        }
    }

    fn label(&self) -> Option<&str> {
        match self {
            VipDevice::Loopback => Some("lo:0"),
            VipDevice::Device { label, .. } => label.as_deref(),
            _ => None,
        }
    }
}

/// A handle on one network namespace's links, addresses, routes and sysctls.
///
/// With a [`Journal`] attached ([`attach_journal`](Self::attach_journal)), every change is
/// recorded durably before it is made, and marked cancelled if it then fails.
#[derive(Debug)]
pub struct Host {
    sock: NlSocket,
    netns: Option<PathBuf>,
    changes: Vec<Change>,
    journal: Option<Journal>,
}

/// A rtnetlink refusal as a [`HostError`]: EEXIST as `exists`, ENODEV as no such device
/// (`dev`), EPERM/EACCES as permission denied, ESRCH as no such route; anything else with
/// its errno and `action`.
fn rt_error(e: Error, action: &str, dev: &str, exists: impl FnOnce() -> HostError) -> Error {
    let Some(errno) = e.errno() else { return e };
    match errno {
        libc::EEXIST => exists().into(),
        libc::ENODEV => HostError::NoSuchDevice(dev.to_owned()).into(),
        libc::EPERM | libc::EACCES => HostError::PermissionDenied(action.to_owned()).into(),
        libc::ESRCH => HostError::NoSuchRoute(action.to_owned()).into(),
        errno => HostError::Kernel {
            action: action.to_owned(),
            errno,
        }
        .into(),
    }
}

fn route_text(dst: IpAddr, prefix_len: u8, dev: &str, gateway: Option<IpAddr>) -> String {
    match gateway {
        Some(gw) => format!("{dst}/{prefix_len} via {gw} dev {dev}"),
        None => format!("{dst}/{prefix_len} dev {dev}"),
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);
const RT_TABLE_MAIN: u8 = 254;

impl Host {
    /// A handle on the caller's network namespace.
    pub fn new() -> Result<Host> {
        Host::open(None)
    }

    /// A handle on the network namespace named `name` (under `/run/netns`; a name, not a
    /// path: see [`check_netns_name`](crate::model::check_netns_name)).
    pub fn in_netns(name: &str) -> Result<Host> {
        crate::model::check_netns_name(name)?;
        Host::open(Some(Path::new("/run/netns").join(name)))
    }

    /// A handle on the network namespace at `path`.
    pub fn in_netns_path(path: impl Into<PathBuf>) -> Result<Host> {
        Host::open(Some(path.into()))
    }

    fn open(netns: Option<PathBuf>) -> Result<Host> {
        let sock = NlSocket::open(NETLINK_ROUTE, netns.as_deref(), TIMEOUT, 1 << 20)?;
        Ok(Host {
            sock,
            netns,
            changes: Vec::new(),
            journal: None,
        })
    }

    /// Record every change from now on in `journal`, durably, before it is made (see
    /// [`Journal`]). A change the journal cannot record (a sysctl it does not accept, a
    /// failed write) is not made.
    pub fn attach_journal(&mut self, journal: Journal) {
        self.journal = Some(journal);
    }

    /// The attached journal, if any.
    pub fn journal(&mut self) -> Option<&mut Journal> {
        self.journal.as_mut()
    }

    /// Detach the journal (releasing nothing: its lock lives as long as it does).
    pub fn detach_journal(&mut self) -> Option<Journal> {
        self.journal.take()
    }

    /// Make `change` with `op`: recorded in the journal first (if one is attached), marked
    /// cancelled if `op` fails, kept in [`changes`](Self::changes) if it succeeds.
    fn journaled(
        &mut self,
        change: Change,
        op: impl FnOnce(&mut Host) -> Result<()>,
    ) -> Result<()> {
        let seq = match self.journal.as_mut() {
            Some(j) => Some(j.record(&Entry::Host(change.clone()))?),
            None => None,
        };
        match op(self) {
            Ok(()) => {
                self.changes.push(change);
                Ok(())
            }
            Err(e) => {
                if let (Some(seq), Some(j)) = (seq, self.journal.as_mut()) {
                    // A failed cancel leaves a record of a change not made: undoing it is
                    // a no-op, so the error that matters is the change's.
                    let _ = j.cancel(seq);
                }
                Err(e)
            }
        }
    }

    /// The changes made so far through this handle, oldest first.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Take the changes made so far, leaving the journal empty.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    // ---- high-level steps -------------------------------------------------------------

    /// Bind `vip` as a /32 (/128) on `dev` with the host route the classic scripts add
    /// (`route add -host VIP dev DEV`). A VIP already on any device of the host is left
    /// alone. Creates a dummy device or `tunl0` when missing, and sets the device up.
    ///
    /// A VIP [`release_vip`](Self::release_vip) removed from this device (as recorded in
    /// [`changes`](Self::changes) or the attached journal) is put back as it was, label and
    /// route included, and the removal's record is marked undone: a director switching
    /// roles again and again keeps a journal of bounded size.
    pub fn bind_vip(&mut self, vip: IpAddr, dev: &VipDevice) -> Result<()> {
        let name = dev.name().to_owned();
        if self.find_address(vip)?.is_none() {
            self.retract(
                |c| matches!(c, Change::AddressRemoved { dev, addr, .. } if *addr == vip && *dev == name),
            )?;
            self.retract(|c| {
                matches!(c, Change::RouteDeleted { dst, dev, gateway: None, .. }
                    if *dst == vip && *dev == name)
            })?;
        }
        if self.find_address(vip)?.is_some() {
            return Ok(());
        }
        match dev {
            VipDevice::Dummy(name) => self.ensure_link(name, LinkKind::Dummy)?,
            VipDevice::Tunl0 => self.ensure_link("tunl0", LinkKind::Ipip)?,
            _ => {}
        }
        self.ensure_up(dev.name())?;
        let len = if vip.is_ipv4() { 32 } else { 128 };
        // Address labels (`eth0:0`) are an IPv4 notion: an IPv6 VIP goes on without one.
        let label = if vip.is_ipv4() { dev.label() } else { None };
        self.add_address(dev.name(), vip, len, label)?;
        self.ensure_route(vip, len, dev.name(), None)
    }

    /// Remove `vip` from whichever device holds it, with the host route to it through that
    /// device (`ip addr del VIP/32 dev eth0; ip route del VIP/32 dev eth0`): a director
    /// standing by. Returns whether it was there. What this handle (or the journal) recorded
    /// adding is undone and its record marked undone; an address or route someone else put
    /// there is removed and recorded ([`Change::AddressRemoved`], [`Change::RouteDeleted`]),
    /// so that [`undo`](Self::undo) (or the journal's) puts it back. Idempotent: nothing
    /// happens, and nothing is recorded, when the VIP is not there.
    pub fn release_vip(&mut self, vip: IpAddr) -> Result<bool> {
        let Some((index, prefix_len, label)) = self.address_info(vip)? else {
            return Ok(false);
        };
        let dev = self
            .link_name(index)?
            .ok_or_else(|| HostError::NoSuchDevice(format!("index {index}")))?;
        let host_len = if vip.is_ipv4() { 32 } else { 128 };
        // The route first (it is the newer of the two when bind_vip made both).
        let ours = self.retract(|c| {
            matches!(c, Change::RouteAdded { dst, prefix_len, dev: d, gateway: None }
                if *dst == vip && *prefix_len == host_len && *d == dev)
        })?;
        if !ours
            && self
                .main_routes(vip, host_len)?
                .iter()
                .any(|r| r.dev == dev && r.gateway.is_none())
        {
            let change = Change::RouteDeleted {
                dst: vip,
                prefix_len: host_len,
                dev: dev.clone(),
                gateway: None,
            };
            self.journaled(change, |h| h.route_op(false, vip, host_len, &dev, None))?;
        }
        let ours = self.retract(|c| {
            matches!(c, Change::AddressAdded { dev: d, addr, prefix_len: l, .. }
                if *addr == vip && *d == dev && *l == prefix_len)
        })?;
        if !ours {
            let change = Change::AddressRemoved {
                dev: dev.clone(),
                addr: vip,
                prefix_len,
                label,
            };
            self.journaled(change, |h| h.delete_address(&dev, vip, prefix_len))?;
        }
        Ok(true)
    }

    /// Undo the newest recorded change `pred` accepts (in [`changes`](Self::changes) or the
    /// attached journal), and forget it there: the journal marks it undone. Whether there
    /// was one.
    fn retract(&mut self, pred: impl Fn(&Change) -> bool) -> Result<bool> {
        let in_journal = self.journal.as_ref().and_then(|j| j.newest_change(&pred));
        let in_changes = self.changes.iter().rposition(&pred);
        let change = match (&in_journal, in_changes) {
            (Some((_, c)), _) => c.clone(),
            (None, Some(i)) => self.changes[i].clone(),
            (None, None) => return Ok(false),
        };
        self.undo_one(&change)?;
        if let (Some((seq, _)), Some(j)) = (in_journal, self.journal.as_mut()) {
            j.mark_undone(seq)?;
        }
        if let Some(i) = self.changes.iter().rposition(|c| *c == change) {
            self.changes.remove(i);
        }
        Ok(true)
    }

    fn delete_address(&mut self, dev: &str, addr: IpAddr, prefix_len: u8) -> Result<()> {
        let Some(index) = self.link_index(dev)? else {
            return Ok(());
        };
        let m = address_message(index, addr, prefix_len, None);
        match self.request(RouteNetlinkMessage::DelAddress(m), NLM_F_ACK) {
            Err(e) if matches!(e.errno(), Some(libc::EADDRNOTAVAIL | libc::ENODEV)) => Ok(()),
            other => other.map(drop).map_err(|e| {
                let action = format!("delete address {addr}/{prefix_len} dev {dev}");
                rt_error(e, &action, dev, || HostError::Kernel {
                    action: action.clone(),
                    errno: libc::EEXIST,
                })
            }),
        }
    }

    /// The device index, prefix length and label of `addr`, if a device holds it.
    fn address_info(&mut self, addr: IpAddr) -> Result<Option<(u32, u8, Option<String>)>> {
        let mut m = AddressMessage::default();
        m.header.family = rt_family(addr);
        let replies = self.request(RouteNetlinkMessage::GetAddress(m), NLM_F_DUMP)?;
        Ok(replies.into_iter().find_map(|r| match r {
            RouteNetlinkMessage::NewAddress(a) => {
                let has = a.attributes.iter().any(|at| {
                    matches!(at, AddressAttribute::Local(x) if *x == addr)
                        || matches!(at, AddressAttribute::Address(x) if *x == addr)
                });
                let label = a.attributes.iter().find_map(|at| match at {
                    AddressAttribute::Label(l) => Some(l.clone()),
                    _ => None,
                });
                // The kernel reports the device's name as the label of an unlabelled
                // IPv4 address.
                has.then_some((a.header.index, a.header.prefix_len, label))
            }
            _ => None,
        }))
    }

    /// Announce `vip` on `dev` (an Ethernet device of this host's namespace, usually the one
    /// that holds it): `a.repeat` gratuitous ARP frames for an IPv4 address, unsolicited
    /// neighbour advertisements (Override set) to all nodes for an IPv6 one, `a.interval`
    /// apart, from the device's MAC address, so that the neighbours send the address's
    /// traffic here at once (a director taking over a VIP). Nothing is changed, so nothing is
    /// recorded. Errors: [`HostError::NoSuchDevice`]; [`HostError::NoLinkAddress`] for a
    /// device without an Ethernet address (`lo`, `tunl0`: a TUN or DR director's VIP is
    /// announced on its Ethernet device); [`HostError::PermissionDenied`] without
    /// `CAP_NET_RAW`.
    pub fn announce(&self, vip: IpAddr, dev: &str, a: &Announce) -> Result<Announced> {
        crate::model::check_name("interface", dev, 15)?;
        let a = *a;
        self.in_ns(move || announce::announce(vip, dev, &a))
    }

    /// Hide a real server's VIP from ARP: `arp_ignore=1` and `arp_announce=2` on `dev` and
    /// on `all`.
    pub fn hide_arp(&mut self, dev: &str) -> Result<()> {
        for d in [dev, "all"] {
            self.set_sysctl(&format!("net/ipv4/conf/{d}/arp_ignore"), "1")?;
            self.set_sysctl(&format!("net/ipv4/conf/{d}/arp_announce"), "2")?;
        }
        Ok(())
    }

    /// Turn on IPv4 forwarding (a NAT director); with `ipv6`, IPv6 forwarding too.
    pub fn enable_forwarding(&mut self, ipv6: bool) -> Result<()> {
        self.set_sysctl("net/ipv4/ip_forward", "1")?;
        if ipv6 {
            self.set_sysctl("net/ipv6/conf/all/forwarding", "1")?;
        }
        Ok(())
    }

    /// Turn off reverse-path filtering on `dev` and `all` (a TUN real server receives
    /// packets on `tunl0` whose source routes out another device).
    pub fn relax_rp_filter(&mut self, dev: &str) -> Result<()> {
        for d in [dev, "all"] {
            self.set_sysctl(&format!("net/ipv4/conf/{d}/rp_filter"), "0")?;
        }
        Ok(())
    }

    /// Route everything through `gateway` (a NAT real server's default route through the
    /// director), replacing and recording a different default route.
    pub fn set_default_gateway(&mut self, gateway: IpAddr) -> Result<()> {
        let any = if gateway.is_ipv4() {
            IpAddr::from([0u8; 4])
        } else {
            IpAddr::from([0u16; 8])
        };
        let current = self.main_routes(any, 0)?;
        if current.iter().any(|r| r.gateway == Some(gateway)) {
            return Ok(());
        }
        let dev = self
            .on_link_device(gateway)?
            .ok_or(HostError::GatewayNotOnLink(gateway))?;
        for r in current {
            let change = Change::RouteDeleted {
                dst: any,
                prefix_len: 0,
                dev: r.dev.clone(),
                gateway: r.gateway,
            };
            self.journaled(change, |h| h.route_op(false, any, 0, &r.dev, r.gateway))?;
        }
        self.ensure_route(any, 0, &dev, Some(gateway))
    }

    /// Undo `changes` (as returned by [`Host::take_changes`]), newest first, each as
    /// [`undo_one`](Self::undo_one) does. Every change is tried; those that could not be
    /// undone are reported together ([`HostError::UndoIncomplete`]).
    pub fn undo(&mut self, changes: &[Change]) -> Result<()> {
        let mut failed = Vec::new();
        for c in changes.iter().rev() {
            if let Err(e) = self.undo_one(c) {
                failed.push((c.to_string(), e.to_string()));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(HostError::UndoIncomplete(failed).into())
        }
    }

    /// Undo one change, idempotently: what is already as it was before the change (an
    /// address gone, with its device or not; a route already restored; a sysctl back at its
    /// previous value) is left alone. A sysctl that holds neither the value written nor the
    /// previous one was changed by someone else since: [`HostError::Conflict`], and it is
    /// left as it is. A deleted route cannot come back without its device
    /// ([`HostError::NoSuchDevice`]), nor over another route to the same destination added
    /// since ([`HostError::Conflict`]).
    pub fn undo_one(&mut self, change: &Change) -> Result<()> {
        match change {
            Change::LinkCreated { name, .. } => {
                if let Some(index) = self.link_index(name)? {
                    let mut m = LinkMessage::default();
                    m.header.index = index;
                    match self.request(RouteNetlinkMessage::DelLink(m), NLM_F_ACK) {
                        Err(e) if e.errno() == Some(libc::ENODEV) => {}
                        other => {
                            other.map_err(|e| {
                                rt_error(e, &format!("delete link {name}"), name, || {
                                    HostError::LinkExists(name.clone())
                                })
                            })?;
                        }
                    }
                }
                Ok(())
            }
            Change::LinkUp { name } => match self.get_link(name)? {
                Some(l) if l.header.flags.contains(LinkFlags::Up) => {
                    self.set_link_up(name, false).map_err(|e| {
                        rt_error(e, &format!("set {name} down"), name, || {
                            HostError::LinkExists(name.clone())
                        })
                    })
                }
                _ => Ok(()),
            },
            Change::AddressAdded {
                dev,
                addr,
                prefix_len,
                ..
            } => {
                // Without its device the address is gone too.
                self.delete_address(dev, *addr, *prefix_len)
            }
            Change::AddressRemoved {
                dev,
                addr,
                prefix_len,
                label,
            } => {
                if let Some(index) = self.find_address(*addr)? {
                    // Back already, here; or on another device since: someone else's.
                    if self.link_index(dev)? == Some(index) {
                        return Ok(());
                    }
                    return Err(HostError::Conflict {
                        change: change.to_string(),
                        found: format!(
                            "{addr} on {}",
                            self.link_name(index)?.unwrap_or_else(|| index.to_string())
                        ),
                    }
                    .into());
                }
                let index = self
                    .link_index(dev)?
                    .ok_or_else(|| HostError::NoSuchDevice(dev.clone()))?;
                let m = address_message(index, *addr, *prefix_len, label.as_deref());
                self.request(
                    RouteNetlinkMessage::NewAddress(m),
                    NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                )
                .map(drop)
                .map_err(|e| {
                    rt_error(
                        e,
                        &format!("add address {addr}/{prefix_len} dev {dev}"),
                        dev,
                        || HostError::AddressExists {
                            dev: dev.clone(),
                            addr: format!("{addr}/{prefix_len}"),
                        },
                    )
                })
            }
            Change::RouteAdded {
                dst,
                prefix_len,
                dev,
                gateway,
            } => {
                if self.link_index(dev)?.is_none() {
                    return Ok(()); // the route went with its device
                }
                match self.route_op(false, *dst, *prefix_len, dev, *gateway) {
                    Err(Error::Host(HostError::NoSuchRoute(_) | HostError::NoSuchDevice(_))) => {
                        Ok(())
                    }
                    other => other,
                }
            }
            Change::RouteDeleted {
                dst,
                prefix_len,
                dev,
                gateway,
            } => {
                let now = self.main_routes(*dst, *prefix_len)?;
                if now.iter().any(|r| r.dev == *dev && r.gateway == *gateway) {
                    return Ok(()); // restored already
                }
                if let Some(other) = now.first() {
                    return Err(HostError::Conflict {
                        change: change.to_string(),
                        found: format!(
                            "route {}",
                            route_text(*dst, *prefix_len, &other.dev, other.gateway)
                        ),
                    }
                    .into());
                }
                if self.link_index(dev)?.is_none() {
                    return Err(HostError::NoSuchDevice(dev.clone()).into());
                }
                self.route_op(true, *dst, *prefix_len, dev, *gateway)
            }
            Change::Sysctl {
                key,
                previous,
                value,
            } => {
                let now = match self.sysctl(key) {
                    Ok(v) => v,
                    // A device's settings go with the device: nothing left to restore.
                    Err(Error::Host(HostError::Io { source, .. }))
                        if source.kind() == std::io::ErrorKind::NotFound
                            && key.starts_with("net/ipv4/conf/")
                            && !key.starts_with("net/ipv4/conf/all/") =>
                    {
                        return Ok(())
                    }
                    // The IPVS sysctls go with the ip_vs module (and come back at their
                    // defaults with it): nothing left to restore.
                    Err(Error::Host(HostError::IpvsNotLoaded { .. }))
                        if IpvsSysctl::from_key(key).is_some() =>
                    {
                        return Ok(())
                    }
                    Err(e) => return Err(e),
                };
                let same = |a: &str, b: &str| {
                    a == b
                        || match (IpvsSysctl::from_key(key), a.parse(), b.parse()) {
                            (Some(s), Ok(a), Ok(b)) => s.same_setting(a, b),
                            _ => false,
                        }
                };
                if same(&now, previous) {
                    Ok(())
                } else if same(&now, value) {
                    self.write_sysctl(key, previous)
                } else {
                    Err(HostError::Conflict {
                        change: change.to_string(),
                        found: now,
                    }
                    .into())
                }
            }
        }
    }

    // ---- building blocks ----------------------------------------------------------------

    /// Read a sysctl (`net/ipv4/ip_forward`), trimmed. An IPVS sysctl read while the
    /// `ip_vs` module is not loaded is [`HostError::IpvsNotLoaded`].
    pub fn sysctl(&self, key: &str) -> Result<String> {
        let path = sysctl_path(key)?;
        let ipvs = key.starts_with("net/ipv4/vs/");
        self.in_ns(move || {
            std::fs::read_to_string(&path)
                .map(|s| s.trim().to_owned())
                .map_err(|e| {
                    let action = format!("read {}", path.display());
                    if ipvs
                        && e.kind() == std::io::ErrorKind::NotFound
                        && !Path::new(IPVS_SYSCTL_DIR).exists()
                    {
                        return HostError::IpvsNotLoaded { action }.into();
                    }
                    io_error(&action, e)
                })
        })
    }

    /// Read an IPVS sysctl of this namespace. Errors: [`HostError::IpvsNotLoaded`] when
    /// the `ip_vs` module is not loaded; [`HostError::Sysctl`] when this kernel does not
    /// have it (it says from which version, or what else it needs), or its value is not an
    /// integer.
    pub fn ipvs_sysctl(&self, sysctl: IpvsSysctl) -> Result<i64> {
        let key = sysctl.key();
        let text = self
            .sysctl(&key)
            .map_err(|e| missing_ipvs_sysctl(sysctl, e))?;
        text.parse().map_err(|_| {
            HostError::Sysctl {
                key,
                reason: format!("{text:?} is not an integer"),
            }
            .into()
        })
    }

    /// Set an IPVS sysctl of this namespace, as [`set_sysctl`](Self::set_sysctl) does:
    /// nothing happens when it has this value already; otherwise the change is recorded
    /// (and journalled ahead, with a [`Journal`] attached) with the value it replaces, for
    /// [`undo`](Self::undo). A value [`IpvsSysctl::check`] refuses is an
    /// [`InvalidError`] and nothing is read or written; the errors of
    /// [`ipvs_sysctl`](Self::ipvs_sysctl) otherwise.
    pub fn set_ipvs_sysctl(&mut self, sysctl: IpvsSysctl, value: i64) -> Result<()> {
        sysctl.check(value)?;
        self.set_sysctl(&sysctl.key(), &value.to_string())
            .map_err(|e| missing_ipvs_sysctl(sysctl, e))
    }

    /// Every IPVS sysctl this kernel has in this namespace, with its value, in
    /// [`IpvsSysctl::ALL`]'s order ([`HostError::IpvsNotLoaded`] when the `ip_vs` module
    /// is not loaded).
    pub fn ipvs_sysctls(&self) -> Result<Vec<(IpvsSysctl, i64)>> {
        let mut out = Vec::new();
        for &s in IpvsSysctl::ALL {
            match self.ipvs_sysctl(s) {
                Ok(v) => out.push((s, v)),
                Err(Error::Host(HostError::Sysctl { .. })) if !self.has_sysctl(&s.key())? => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn has_sysctl(&self, key: &str) -> Result<bool> {
        let path = sysctl_path(key)?;
        self.in_ns(move || Ok(path.exists()))
    }

    /// Set a sysctl, recording the previous value; nothing happens when it already has
    /// this value.
    pub fn set_sysctl(&mut self, key: &str, value: &str) -> Result<()> {
        if value.is_empty() || value.contains(char::is_whitespace) {
            return Err(InvalidError::parse(value, "a sysctl value without spaces").into());
        }
        let previous = self.sysctl(key)?;
        if previous == value {
            return Ok(());
        }
        let change = Change::Sysctl {
            key: key.to_owned(),
            previous,
            value: value.to_owned(),
        };
        self.journaled(change, |h| h.write_sysctl(key, value))
    }

    fn write_sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = sysctl_path(key)?;
        let value = value.to_owned();
        self.in_ns(move || {
            std::fs::write(&path, value.as_bytes())
                .map_err(|e| io_error(&format!("write {}", path.display()), e))
        })
    }

    fn in_ns<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        match &self.netns {
            None => f(),
            Some(p) => in_netns(p, f),
        }
    }

    /// Create a link of this kind when no link of this name exists.
    pub fn ensure_link(&mut self, name: &str, kind: LinkKind) -> Result<()> {
        crate::model::check_name("interface", name, 15)?;
        if self.link_index(name)?.is_some() {
            return Ok(());
        }
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let info = match kind {
            LinkKind::Dummy => InfoKind::Dummy,
            LinkKind::Ipip => InfoKind::IpIp,
        };
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(info)]));
        let change = Change::LinkCreated {
            name: name.to_owned(),
            kind,
        };
        self.journaled(change, |h| {
            h.request(
                RouteNetlinkMessage::NewLink(m),
                NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            )
            .map(drop)
            .map_err(|e| {
                rt_error(e, &format!("create {kind} link {name}"), name, || {
                    HostError::LinkExists(name.to_owned())
                })
            })
        })
    }

    /// Set a link up when it is down.
    pub fn ensure_up(&mut self, name: &str) -> Result<()> {
        let link = self
            .get_link(name)?
            .ok_or_else(|| HostError::NoSuchDevice(name.to_owned()))?;
        if link.header.flags.contains(LinkFlags::Up) {
            return Ok(());
        }
        let change = Change::LinkUp {
            name: name.to_owned(),
        };
        self.journaled(change, |h| {
            h.set_link_up(name, true).map_err(|e| {
                rt_error(e, &format!("set {name} up"), name, || {
                    HostError::LinkExists(name.to_owned())
                })
            })
        })
    }

    fn set_link_up(&mut self, name: &str, up: bool) -> Result<()> {
        let Some(index) = self.link_index(name)? else {
            return Ok(());
        };
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.change_mask = LinkFlags::Up;
        if up {
            m.header.flags = LinkFlags::Up;
        }
        self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK)?;
        Ok(())
    }

    /// Add an address (with a label) to a device, recording it.
    pub fn add_address(
        &mut self,
        dev: &str,
        addr: IpAddr,
        prefix_len: u8,
        label: Option<&str>,
    ) -> Result<()> {
        let index = self
            .link_index(dev)?
            .ok_or_else(|| HostError::NoSuchDevice(dev.to_owned()))?;
        if let Some(l) = label {
            crate::model::check_name("label", l, 15)?;
        }
        let m = address_message(index, addr, prefix_len, label);
        let change = Change::AddressAdded {
            dev: dev.to_owned(),
            addr,
            prefix_len,
            label: label.map(str::to_owned),
        };
        self.journaled(change, |h| {
            h.request(
                RouteNetlinkMessage::NewAddress(m),
                NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            )
            .map(drop)
            .map_err(|e| {
                rt_error(
                    e,
                    &format!("add address {addr}/{prefix_len} dev {dev}"),
                    dev,
                    || HostError::AddressExists {
                        dev: dev.to_owned(),
                        addr: format!("{addr}/{prefix_len}"),
                    },
                )
            })
        })
    }

    /// The device holding `addr`, if any device does.
    pub fn find_address(&mut self, addr: IpAddr) -> Result<Option<u32>> {
        let mut m = AddressMessage::default();
        m.header.family = rt_family(addr);
        let replies = self.request(RouteNetlinkMessage::GetAddress(m), NLM_F_DUMP)?;
        Ok(replies.into_iter().find_map(|r| match r {
            RouteNetlinkMessage::NewAddress(a) => a
                .attributes
                .iter()
                .any(|at| {
                    matches!(at, AddressAttribute::Local(x) if *x == addr)
                        || matches!(at, AddressAttribute::Address(x) if *x == addr)
                })
                .then_some(a.header.index),
            _ => None,
        }))
    }

    /// Add a main-table route when the same one is not there, recording it.
    pub fn ensure_route(
        &mut self,
        dst: IpAddr,
        prefix_len: u8,
        dev: &str,
        gateway: Option<IpAddr>,
    ) -> Result<()> {
        let exists = self
            .main_routes(dst, prefix_len)?
            .iter()
            .any(|r| r.dev == dev && r.gateway == gateway);
        if exists {
            return Ok(());
        }
        let change = Change::RouteAdded {
            dst,
            prefix_len,
            dev: dev.to_owned(),
            gateway,
        };
        self.journaled(change, |h| h.route_op(true, dst, prefix_len, dev, gateway))
    }

    fn route_op(
        &mut self,
        add: bool,
        dst: IpAddr,
        prefix_len: u8,
        dev: &str,
        gateway: Option<IpAddr>,
    ) -> Result<()> {
        let index = self
            .link_index(dev)?
            .ok_or_else(|| HostError::NoSuchDevice(dev.to_owned()))?;
        let route = route_text(dst, prefix_len, dev, gateway);
        let mut m = RouteMessage::default();
        m.header = route_header(dst, prefix_len, gateway.is_none());
        if prefix_len > 0 {
            m.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        }
        if let Some(gw) = gateway {
            m.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        m.attributes.push(RouteAttribute::Oif(index));
        let (r, action) = if add {
            let r = self.request(
                RouteNetlinkMessage::NewRoute(m),
                NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            );
            (r, format!("add route {route}"))
        } else {
            let r = self.request(RouteNetlinkMessage::DelRoute(m), NLM_F_ACK);
            (r, format!("delete route {route}"))
        };
        r.map(drop).map_err(|e| {
            if e.errno() == Some(libc::ESRCH) {
                return HostError::NoSuchRoute(route.clone()).into();
            }
            rt_error(e, &action, dev, || HostError::RouteExists(route.clone()))
        })
    }

    /// Main-table routes to exactly `dst/prefix_len`.
    fn main_routes(&mut self, dst: IpAddr, prefix_len: u8) -> Result<Vec<RouteInfo>> {
        let mut m = RouteMessage::default();
        m.header.address_family = rt_family(dst);
        let replies = self.request(RouteNetlinkMessage::GetRoute(m), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewRoute(r) = r else {
                continue;
            };
            if r.header.table != RT_TABLE_MAIN || r.header.destination_prefix_length != prefix_len {
                continue;
            }
            let mut rd = None;
            let mut gw = None;
            let mut oif = None;
            for a in &r.attributes {
                match a {
                    RouteAttribute::Destination(d) => rd = route_ip(d),
                    RouteAttribute::Gateway(g) => gw = route_ip(g),
                    RouteAttribute::Oif(i) => oif = Some(*i),
                    _ => {}
                }
            }
            let matches = match rd {
                Some(d) => d == dst,
                None => prefix_len == 0,
            };
            if !matches {
                continue;
            }
            let Some(oif) = oif else { continue };
            if let Some(dev) = self.link_name(oif)? {
                out.push(RouteInfo { dev, gateway: gw });
            }
        }
        Ok(out)
    }

    /// The device whose address prefix covers `addr` (the device through which `addr` is
    /// reached on-link), if any.
    pub fn on_link_device(&mut self, addr: IpAddr) -> Result<Option<String>> {
        let mut m = AddressMessage::default();
        m.header.family = rt_family(addr);
        let replies = self.request(RouteNetlinkMessage::GetAddress(m), NLM_F_DUMP)?;
        for r in replies {
            let RouteNetlinkMessage::NewAddress(a) = r else {
                continue;
            };
            let len = a.header.prefix_len;
            let local = a.attributes.iter().find_map(|at| match at {
                AddressAttribute::Address(x) => Some(*x),
                _ => None,
            });
            if let Some(local) = local {
                if let Ok(net) = ipnetwork::IpNetwork::new(local, len) {
                    if len > 0 && net.contains(addr) {
                        return self.link_name(a.header.index);
                    }
                }
            }
        }
        Ok(None)
    }

    fn get_link(&mut self, name: &str) -> Result<Option<LinkMessage>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(m), NLM_F_ACK) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The index of the link named `name`.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        Ok(self.get_link(name)?.map(|l| l.header.index))
    }

    fn link_name(&mut self, index: u32) -> Result<Option<String>> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        let replies = match self.request(RouteNetlinkMessage::GetLink(m), NLM_F_ACK) {
            Err(e) if e.errno() == Some(libc::ENODEV) => return Ok(None),
            other => other?,
        };
        Ok(replies.into_iter().find_map(|r| match r {
            RouteNetlinkMessage::NewLink(l) => l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n),
                _ => None,
            }),
            _ => None,
        }))
    }

    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let answer = if flags & NLM_F_DUMP == NLM_F_DUMP {
            Answer::Dump
        } else {
            Answer::Ack
        };
        let action = match &msg {
            RouteNetlinkMessage::NewLink(_) => "create a link",
            RouteNetlinkMessage::DelLink(_) => "delete a link",
            RouteNetlinkMessage::SetLink(_) => "change a link",
            RouteNetlinkMessage::GetLink(_) => "read a link",
            RouteNetlinkMessage::NewAddress(_) => "add an address",
            RouteNetlinkMessage::DelAddress(_) => "delete an address",
            RouteNetlinkMessage::GetAddress(_) => "list addresses",
            RouteNetlinkMessage::NewRoute(_) => "add a route",
            RouteNetlinkMessage::DelRoute(_) => "delete a route",
            RouteNetlinkMessage::GetRoute(_) => "list routes",
            _ => "send an rtnetlink request",
        };
        // A refusal is a host error (the callers name its object where they know it), never
        // an IPVS one.
        let to_host = |e: Error| match e {
            Error::Kernel(ctx) => Error::Host(HostError::Kernel {
                action: action.to_owned(),
                errno: ctx.errno,
            }),
            e => e,
        };
        let seq = self
            .sock
            .send_message(msg, NLM_F_REQUEST | flags)
            .map_err(to_host)?;
        let replies: Vec<RouteNetlinkMessage> = self
            .sock
            .receive(seq, answer, Operation::Other)
            .map_err(to_host)?;
        Ok(replies)
    }
}

struct RouteInfo {
    dev: String,
    gateway: Option<IpAddr>,
}

fn rt_family(addr: IpAddr) -> RtFamily {
    if addr.is_ipv4() {
        RtFamily::Inet
    } else {
        RtFamily::Inet6
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn route_header(dst: IpAddr, prefix_len: u8, on_link: bool) -> RouteHeader {
    RouteHeader {
        address_family: rt_family(dst),
        destination_prefix_length: prefix_len,
        table: RT_TABLE_MAIN,
        protocol: RouteProtocol::Boot,
        scope: if on_link {
            RouteScope::Link
        } else {
            RouteScope::Universe
        },
        kind: RouteType::Unicast,
        ..RouteHeader::default()
    }
}

fn address_message(
    index: u32,
    addr: IpAddr,
    prefix_len: u8,
    label: Option<&str>,
) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = rt_family(addr);
    m.header.prefix_len = prefix_len;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(addr));
    m.attributes.push(AddressAttribute::Address(addr));
    if let Some(l) = label {
        m.attributes.push(AddressAttribute::Label(l.to_owned()));
    }
    m
}

fn sysctl_path(key: &str) -> Result<PathBuf> {
    if key.is_empty()
        || key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(InvalidError::parse(key, "a sysctl key (net/ipv4/ip_forward)").into());
    }
    Ok(Path::new("/proc/sys").join(key))
}

/// Where the IPVS sysctls are, when the `ip_vs` module is loaded.
const IPVS_SYSCTL_DIR: &str = "/proc/sys/net/ipv4/vs";

/// An IPVS sysctl that is not there although IPVS is loaded: this kernel does not have it.
fn missing_ipvs_sysctl(sysctl: IpvsSysctl, e: Error) -> Error {
    match e {
        Error::Host(HostError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            let reason = match (sysctl.since(), sysctl.requires()) {
                (_, Some(needs)) => format!("not on this kernel: it needs {needs}"),
                (Some((major, minor)), None) => {
                    format!("not on this kernel: it appeared in Linux {major}.{minor}")
                }
                (None, None) => "not on this kernel".to_owned(),
            };
            HostError::Sysctl {
                key: sysctl.key(),
                reason,
            }
            .into()
        }
        e => e,
    }
}

fn io_error(action: &str, e: std::io::Error) -> Error {
    if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
        return HostError::PermissionDenied(action.to_owned()).into();
    }
    HostError::Io {
        action: action.to_owned(),
        source: e,
    }
    .into()
}
