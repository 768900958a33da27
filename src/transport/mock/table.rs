//! The state of one namespace's IPVS (services with their destinations, sync daemons,
//! timeouts) and the commands that change or read it, each following its `ip_vs_ctl.c`
//! counterpart step by step, so that refusals come in the kernel's order.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::wire::{DaemonAttr, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr, StatsAttr};

use super::addr::{self, Group, AF_INET6};
use super::conns::Conns;
use super::parse::{self, UDest, UDestFull, USvc};
use super::{Config, Errno};

/// `IP_VS_SVC_F_HASHED`: set on every service the table holds.
const SVC_F_HASHED: u32 = 0x0002;
/// `IP_VS_CONN_F_TUNNEL`.
const CONN_F_TUNNEL: u32 = 2;
/// `IP_VS_CONN_F_TUNNEL_TYPE_GUE`.
const TUNNEL_TYPE_GUE: u8 = 1;
/// `IP_VS_STATE_MASTER` and `IP_VS_STATE_BACKUP`.
const STATE_MASTER: u32 = 1;
const STATE_BACKUP: u32 = 2;
/// `IP_VS_SYNC_GROUP`, `IP_VS_SYNC_PORT`.
const SYNC_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
const SYNC_PORT: u16 = 8848;
/// IPv4 + UDP and IPv6 + UDP header lengths (`hlen` in `start_sync_thread`).
const HLEN_V4: u32 = 20 + 8;
const HLEN_V6: u32 = 40 + 8;
/// The loopback interface's name.
const LOOPBACK: &str = "lo";
/// `INT_MAX`, the bound of a timeout in ticks.
const INT_MAX: u32 = i32::MAX as u32;

/// A virtual service as the kernel holds it (`struct ip_vs_service`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Svc {
    pub(crate) af: u16,
    pub(crate) protocol: u16,
    pub(crate) addr: [u8; 16],
    pub(crate) port: u16,
    pub(crate) fwmark: u32,
    /// `None` for the scheduler `none`.
    pub(crate) sched: Option<String>,
    pub(crate) pe: Option<String>,
    pub(crate) flags: u32,
    /// The persistence timeout in ticks, `timeout * HZ` in 32 bits (it wraps, as in C).
    pub(crate) timeout_ticks: u32,
    /// The netmask as carried on the wire (IPv4 mask bytes, or IPv6 prefix length).
    pub(crate) netmask: u32,
    /// The destinations, newest first (the kernel adds at the head of the list).
    pub(crate) dests: Vec<Dest>,
    /// When the service was hashed: newer services come first within a bucket.
    pub(crate) seq: u64,
}

/// A destination as the kernel holds it (`struct ip_vs_dest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dest {
    pub(crate) af: u16,
    pub(crate) addr: [u8; 16],
    pub(crate) port: u16,
    pub(crate) conn_flags: u32,
    pub(crate) weight: i32,
    pub(crate) u_threshold: u32,
    pub(crate) l_threshold: u32,
    pub(crate) tun_type: u8,
    pub(crate) tun_port: u16,
    pub(crate) tun_flags: u16,
    /// The connections injected on it (the mock carries no traffic).
    pub(crate) conns: Conns,
}

/// A destination deleted while it still had connections, with its service's identity
/// (`af`, `protocol`, `addr`, `port`, `fwmark`): the kernel keeps it in a trash list, from
/// which adding it again to a service of that identity brings it back with its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trashed {
    pub(crate) svc: (u16, u16, [u8; 16], u16, u32),
    pub(crate) dest: Dest,
}

/// A running sync daemon's configuration (`struct ipvs_sync_daemon_cfg`), defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaemonCfg {
    pub(crate) ifname: String,
    pub(crate) sync_id: u32,
    pub(crate) sync_maxlen: u16,
    pub(crate) group: Group,
    pub(crate) port: u16,
    pub(crate) ttl: u8,
}

/// The whole per-namespace state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) services: Vec<Svc>,
    next_seq: u64,
    /// TCP established, TCP FIN-wait and UDP timeouts, seconds.
    pub(crate) timeouts: [u32; 3],
    pub(crate) master: Option<DaemonCfg>,
    pub(crate) backup: Option<DaemonCfg>,
    /// Whether IPVS is in use in the namespace (`ipvs->enable`): set by the first service
    /// added or sync daemon started, never cleared. On 7.x the connection table is
    /// allocated then, and `GET_INFO` reports its size as 0 before.
    pub(crate) enabled: bool,
    /// The mock's clock: how far [`MockKernel::advance`](super::MockKernel::advance) moved
    /// it, for connections that expire.
    pub(crate) now: Duration,
    /// Destinations deleted with connections left, until those expire.
    pub(crate) trash: Vec<Trashed>,
}

/// The kernel's default timeouts: TCP 15 min, TCP FIN-wait 2 min, UDP 5 min.
pub(crate) const DEFAULT_TIMEOUTS: [u32; 3] = [900, 120, 300];

impl Default for Table {
    fn default() -> Self {
        Table {
            services: Vec::new(),
            next_seq: 0,
            timeouts: DEFAULT_TIMEOUTS,
            master: None,
            backup: None,
            enabled: false,
            now: Duration::ZERO,
            trash: Vec::new(),
        }
    }
}

/// Where a service sits in the dump order: the address table's buckets, then the fwmark
/// table's, newest first within a bucket.
fn dump_key(cfg: &Config, s: &Svc) -> (u8, u8, std::cmp::Reverse<u64>) {
    if s.fwmark == 0 {
        let b = addr::svc_bucket(cfg.hash_seed, s.af, s.protocol, &s.addr, s.port);
        (0, b, std::cmp::Reverse(s.seq))
    } else {
        (
            1,
            addr::fwm_bucket(cfg.hash_seed, s.fwmark),
            std::cmp::Reverse(s.seq),
        )
    }
}

impl Table {
    /// The services in the kernel's dump order.
    pub(crate) fn ordered(&self, cfg: &Config) -> Vec<&Svc> {
        let mut v: Vec<&Svc> = self.services.iter().collect();
        v.sort_by_key(|s| dump_key(cfg, s));
        v
    }

    /// `__ip_vs_service_find` / `__ip_vs_svc_fwm_find`.
    fn find(&self, u: &USvc) -> Option<usize> {
        self.services.iter().position(|s| {
            s.af == u.af
                && if u.fwmark != 0 {
                    s.fwmark == u.fwmark
                } else {
                    s.fwmark == 0
                        && s.protocol == u.protocol
                        && s.addr == u.addr
                        && s.port == u.port
                }
        })
    }

    /// The number of destinations whose family differs from their service's
    /// (`ipvs->mixed_address_family_dests`).
    fn mixed_family_dests(&self) -> usize {
        self.services
            .iter()
            .map(|s| s.dests.iter().filter(|d| d.af != s.af).count())
            .sum()
    }

    fn sync_running(&self) -> bool {
        self.master.is_some() || self.backup.is_some()
    }

    /// `ip_vs_genl_set_cmd`: every write except the daemons.
    pub(crate) fn set_cmd(
        &mut self,
        cfg: &Config,
        cmd: IpvsCmd,
        attrs: &[IpvsAttr],
    ) -> Result<(), Errno> {
        match cmd {
            IpvsCmd::Flush => {
                for s in std::mem::take(&mut self.services) {
                    self.trash_service(s);
                }
                return Ok(());
            }
            IpvsCmd::SetConfig => return self.set_config(cfg, attrs),
            IpvsCmd::Zero if parse::service_nest(attrs).is_none() => return Ok(()),
            _ => {}
        }
        let full_svc = matches!(cmd, IpvsCmd::NewService | IpvsCmd::SetService);
        let mut usvc = parse::parse_service(parse::service_nest(attrs), full_svc, cfg.ipv6)?;
        let found = self.find(&usvc);
        if let (Some(i), Some(full)) = (found, usvc.full.as_mut()) {
            // The new flags are merged into the existing service's under the mask.
            full.flags |= self.services[i].flags & !full.mask;
        }
        if cmd != IpvsCmd::NewService && found.is_none() {
            return Err(Errno::ESRCH);
        }
        let mut udest = None;
        if matches!(cmd, IpvsCmd::NewDest | IpvsCmd::SetDest | IpvsCmd::DelDest) {
            let svc_af = found.map_or(0, |i| self.services[i].af);
            let mut d = parse::parse_dest(parse::dest_nest(attrs), cmd != IpvsCmd::DelDest)?;
            if d.af == 0 {
                d.af = svc_af;
            }
            if !parse::af_valid(d.af, cfg.ipv6) {
                return Err(Errno::EAFNOSUPPORT);
            }
            d.addr = addr::normalize(d.af, d.addr);
            if d.af != svc_af && cmd != IpvsCmd::DelDest {
                // The sync protocol cannot carry mixed-family destinations, and only
                // tunnelling can forward to the other family.
                if self.sync_running() {
                    return Err(Errno::EINVAL);
                }
                if d.full.as_ref().map(|f| f.conn_flags) != Some(CONN_F_TUNNEL) {
                    return Err(Errno::EINVAL);
                }
            }
            udest = Some(d);
        }
        match (cmd, found, udest) {
            (IpvsCmd::NewService, Some(_), _) => Err(Errno::EEXIST),
            (IpvsCmd::NewService, None, _) => self.add_service(cfg, usvc),
            (IpvsCmd::SetService, Some(i), _) => self.edit_service(cfg, i, usvc),
            (IpvsCmd::DelService, Some(i), _) => {
                // Its destinations go to the kernel's trash, which no reply shows.
                let s = self.services.remove(i);
                self.trash_service(s);
                Ok(())
            }
            (IpvsCmd::NewDest, Some(i), Some(d)) => self.add_dest(cfg, i, d),
            (IpvsCmd::SetDest, Some(i), Some(d)) => self.edit_dest(cfg, i, d),
            (IpvsCmd::DelDest, Some(i), Some(d)) => self.del_dest(i, &d),
            (IpvsCmd::Zero, Some(_), _) => Ok(()), // no traffic, nothing to zero
            _ => Err(Errno::EINVAL),
        }
    }

    /// The scheduler and engine lookups and the IPv6 prefix check that `ip_vs_add_service`
    /// and `ip_vs_edit_service` share, in their order: ENOENT for a scheduler (other than
    /// `none`) or an engine that is not available, EINVAL for an IPv6 prefix outside
    /// 1..=128.
    fn check_service(
        cfg: &Config,
        u: &USvc,
    ) -> Result<(Option<String>, Option<String>, u32), Errno> {
        let full = u.full.as_ref().ok_or(Errno::EINVAL)?;
        let sched = if full.sched_name == "none" {
            None
        } else if cfg.schedulers.contains(&full.sched_name) {
            Some(full.sched_name.clone())
        } else {
            return Err(Errno::ENOENT);
        };
        let pe = match full.pe_name.as_deref() {
            None | Some("") => None,
            Some(name) if cfg.persistence_engines.iter().any(|p| p == name) => {
                Some(name.to_owned())
            }
            Some(_) => return Err(Errno::ENOENT),
        };
        if u.af == AF_INET6 && !(1..=128).contains(&full.netmask) {
            return Err(Errno::EINVAL);
        }
        Ok((sched, pe, full.flags))
    }

    fn add_service(&mut self, cfg: &Config, u: USvc) -> Result<(), Errno> {
        let (sched, pe, flags) = Self::check_service(cfg, &u)?;
        let full = u.full.as_ref().ok_or(Errno::EINVAL)?;
        let svc = Svc {
            af: u.af,
            protocol: u.protocol,
            addr: u.addr,
            port: u.port,
            fwmark: u.fwmark,
            sched,
            pe,
            flags: (flags & !SVC_F_HASHED) | SVC_F_HASHED,
            timeout_ticks: full.timeout.wrapping_mul(cfg.hz),
            netmask: full.netmask,
            dests: Vec::new(),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.services.push(svc);
        self.enabled = true;
        Ok(())
    }

    fn edit_service(&mut self, cfg: &Config, i: usize, u: USvc) -> Result<(), Errno> {
        let (sched, pe, flags) = Self::check_service(cfg, &u)?;
        let full = u.full.as_ref().ok_or(Errno::EINVAL)?;
        let s = &mut self.services[i];
        s.sched = sched;
        s.flags = flags | SVC_F_HASHED;
        s.timeout_ticks = full.timeout.wrapping_mul(cfg.hz);
        s.netmask = full.netmask;
        s.pe = pe;
        Ok(())
    }

    /// The checks `ip_vs_add_dest` and `ip_vs_edit_dest` share: ERANGE for a negative
    /// weight or a lower threshold above the upper one, EINVAL for an upper threshold above
    /// the kernel's largest (`i32::MAX` from 6.1.183 and on 7.x) and for a GUE tunnel type
    /// (whatever the forwarding method) without a tunnel port.
    fn check_dest(cfg: &Config, full: &UDestFull) -> Result<(), Errno> {
        if full.weight < 0 || full.l_threshold > full.u_threshold {
            return Err(Errno::ERANGE);
        }
        if full.u_threshold > cfg.max_upper_threshold {
            return Err(Errno::EINVAL);
        }
        if full.tun_type == TUNNEL_TYPE_GUE && full.tun_port == 0 {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn lookup_dest(s: &Svc, d: &UDest) -> Option<usize> {
        s.dests
            .iter()
            .position(|x| x.af == d.af && x.addr == d.addr && x.port == d.port)
    }

    fn add_dest(&mut self, cfg: &Config, i: usize, d: UDest) -> Result<(), Errno> {
        let full = d.full.as_ref().ok_or(Errno::EINVAL)?;
        Self::check_dest(cfg, full)?;
        let s = &mut self.services[i];
        if Self::lookup_dest(s, &d).is_some() {
            return Err(Errno::EEXIST);
        }
        // A destination deleted earlier comes back from the kernel's trash here, skipping
        // the address check (which, with `lo` fixed for the mock's life, would give the
        // same answer); its fields are all rewritten, and its connections come back with
        // it. Without connections it is indistinguishable from a new one.
        let key = svc_key(s);
        let from_trash = self.trash.iter().position(|t| {
            t.svc == key && t.dest.af == d.af && t.dest.addr == d.addr && t.dest.port == d.port
        });
        let ok = if d.af == AF_INET6 {
            addr::ipv6_dest_ok(d.addr)
        } else {
            addr::ipv4_dest_ok(
                [d.addr[0], d.addr[1], d.addr[2], d.addr[3]],
                cfg.loopback_up,
                cfg.network_broadcast_routes,
            )
        };
        if !ok {
            return Err(Errno::EINVAL);
        }
        let dest = Dest {
            af: d.af,
            addr: d.addr,
            port: d.port,
            conn_flags: full.conn_flags,
            weight: full.weight,
            u_threshold: full.u_threshold,
            l_threshold: full.l_threshold,
            tun_type: full.tun_type,
            tun_port: full.tun_port,
            tun_flags: full.tun_flags,
            conns: from_trash.map_or_else(Conns::default, |j| self.trash.remove(j).dest.conns),
        };
        s.dests.insert(0, dest);
        Ok(())
    }

    fn edit_dest(&mut self, cfg: &Config, i: usize, d: UDest) -> Result<(), Errno> {
        let full = d.full.as_ref().ok_or(Errno::EINVAL)?;
        Self::check_dest(cfg, full)?;
        let s = &mut self.services[i];
        let j = Self::lookup_dest(s, &d).ok_or(Errno::ENOENT)?;
        let x = &mut s.dests[j];
        x.conn_flags = full.conn_flags;
        x.weight = full.weight;
        x.u_threshold = full.u_threshold;
        x.l_threshold = full.l_threshold;
        x.tun_type = full.tun_type;
        x.tun_port = full.tun_port;
        x.tun_flags = full.tun_flags;
        Ok(())
    }

    fn del_dest(&mut self, i: usize, d: &UDest) -> Result<(), Errno> {
        let s = &mut self.services[i];
        let j = Self::lookup_dest(s, d).ok_or(Errno::ENOENT)?;
        let dest = s.dests.remove(j);
        let key = svc_key(s);
        self.trash_dest(key, dest);
        Ok(())
    }

    /// A deleted service's destinations that still have connections go to the trash.
    fn trash_service(&mut self, s: Svc) {
        let key = svc_key(&s);
        for dest in s.dests {
            self.trash_dest(key, dest);
        }
    }

    /// A deleted destination goes to the trash if it still has connections (the kernel
    /// frees one without any at once, or soon, which no reply can tell apart).
    fn trash_dest(&mut self, svc: (u16, u16, [u8; 16], u16, u32), dest: Dest) {
        if dest.conns.any(self.now) {
            self.trash.push(Trashed { svc, dest });
        }
    }

    /// The destination `(af, addr, port)` of the service of this identity.
    pub(crate) fn dest_mut(
        &mut self,
        u: &USvc,
        af: u16,
        addr: [u8; 16],
        port: u16,
    ) -> Option<&mut Dest> {
        let i = self.find(u)?;
        let addr = addr::normalize(af, addr);
        self.services[i]
            .dests
            .iter_mut()
            .find(|d| d.af == af && d.addr == addr && d.port == port)
    }

    /// Move the clock on by `by`: connections go inactive and expire, and the trash keeps
    /// only destinations with connections left.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now = self.now.saturating_add(by);
        let now = self.now;
        for d in self.services.iter_mut().flat_map(|s| s.dests.iter_mut()) {
            d.conns.expire(now);
        }
        for t in &mut self.trash {
            t.dest.conns.expire(now);
        }
        self.trash.retain(|t| t.dest.conns.any(now));
    }

    /// `ip_vs_genl_set_config` and `ip_vs_set_timeout`: absent attributes keep their value,
    /// values are read as int and must be 0..=INT_MAX/HZ (else EINVAL, nothing changed),
    /// and 0 leaves a timeout unchanged.
    fn set_config(&mut self, cfg: &Config, attrs: &[IpvsAttr]) -> Result<(), Errno> {
        let mut t = self.timeouts;
        if let Some(v) = parse::last(attrs, |a| match a {
            IpvsAttr::TimeoutTcp(v) => Some(*v),
            _ => None,
        }) {
            t[0] = v;
        }
        if let Some(v) = parse::last(attrs, |a| match a {
            IpvsAttr::TimeoutTcpFin(v) => Some(*v),
            _ => None,
        }) {
            t[1] = v;
        }
        if let Some(v) = parse::last(attrs, |a| match a {
            IpvsAttr::TimeoutUdp(v) => Some(*v),
            _ => None,
        }) {
            t[2] = v;
        }
        let max = INT_MAX / cfg.hz.max(1);
        // As int: a value with the top bit set is negative.
        if t.iter().any(|v| *v > max) {
            return Err(Errno::EINVAL);
        }
        for (cur, new) in self.timeouts.iter_mut().zip(t) {
            if new != 0 {
                *cur = new;
            }
        }
        Ok(())
    }

    /// `ip_vs_genl_set_daemon`: `NEW_DAEMON` and `DEL_DAEMON`.
    pub(crate) fn set_daemon(
        &mut self,
        cfg: &Config,
        cmd: IpvsCmd,
        attrs: &[IpvsAttr],
    ) -> Result<(), Errno> {
        let nest = parse::daemon_nest(attrs).ok_or(Errno::EINVAL)?;
        if !parse::daemon_policy_ok(nest) {
            return Err(Errno::EINVAL);
        }
        match cmd {
            IpvsCmd::NewDaemon => {
                let u = parse::parse_new_daemon(nest)?;
                if self.mixed_family_dests() > 0 {
                    return Err(Errno::EINVAL);
                }
                self.start_sync_thread(cfg, u)
            }
            _ => {
                let state = parse::last(nest, |a| match a {
                    DaemonAttr::State(v) => Some(*v),
                    _ => None,
                })
                .ok_or(Errno::EINVAL)?;
                let slot = match state {
                    STATE_MASTER => &mut self.master,
                    STATE_BACKUP => &mut self.backup,
                    _ => return Err(Errno::EINVAL),
                };
                slot.take().map(|_| ()).ok_or(Errno::ESRCH)
            }
        }
    }

    /// `start_sync_thread`: defaults (group 224.0.0.81, port 8848, TTL 1), ENODEV for an
    /// unknown interface, the message length (default: the MTU, 1500 for a master and the
    /// interface's clamped to 1500..=65535 for a backup, less the IP and UDP headers; a
    /// given one clamped to 1 (master) or 1024 (backup) ..= 65535 less the headers), EEXIST
    /// when that daemon runs, EINVAL for a state other than master or backup, ENETUNREACH for
    /// a master with an IPv6 group on the loopback.
    fn start_sync_thread(&mut self, cfg: &Config, u: parse::UDaemon) -> Result<(), Errno> {
        let group = u.group.unwrap_or(Group::V4(SYNC_GROUP));
        let port = if u.port == 0 { SYNC_PORT } else { u.port };
        let ttl = if u.ttl == 0 { 1 } else { u.ttl };
        let mtu = cfg
            .interfaces
            .iter()
            .find(|(name, _)| *name == u.ifname)
            .map(|(_, mtu)| *mtu)
            .ok_or(Errno::ENODEV)?;
        let hlen = match group {
            Group::V4(_) => HLEN_V4,
            Group::V6(_) => HLEN_V6,
        };
        let backup = u.state == STATE_BACKUP;
        let maxlen = if u.sync_maxlen != 0 {
            let min = if backup { 1024 } else { 1 };
            u32::from(u.sync_maxlen).clamp(min, 65535 - hlen)
        } else if backup {
            mtu.clamp(1500, 65535) - hlen
        } else {
            1500 - hlen
        };
        let c = DaemonCfg {
            ifname: u.ifname,
            sync_id: u.sync_id,
            sync_maxlen: u16::try_from(maxlen).unwrap_or(u16::MAX),
            group,
            port,
            ttl,
        };
        let slot = match u.state {
            STATE_MASTER => &mut self.master,
            STATE_BACKUP => &mut self.backup,
            _ => return Err(Errno::EINVAL),
        };
        if slot.is_some() {
            return Err(Errno::EEXIST);
        }
        // The master's socket connects to the group through the interface: for IPv6 that
        // needs a multicast route, which every interface but the loopback gets.
        if u.state == STATE_MASTER && matches!(group, Group::V6(_)) && c.ifname == LOOPBACK {
            return Err(Errno::ENETUNREACH);
        }
        *slot = Some(c);
        self.enabled = true;
        Ok(())
    }

    /// `ip_vs_genl_get_cmd` for `GET_SERVICE`: EINVAL or EAFNOSUPPORT for a bad identity,
    /// ESRCH for a missing service.
    pub(crate) fn get_service(
        &self,
        cfg: &Config,
        attrs: &[IpvsAttr],
    ) -> Result<IpvsMessage, Errno> {
        let u = parse::parse_service(parse::service_nest(attrs), false, cfg.ipv6)?;
        let i = self.find(&u).ok_or(Errno::ESRCH)?;
        Ok(service_reply(cfg, &self.services[i]))
    }

    /// `ip_vs_genl_dump_dests`: the destinations of the service named by the request, newest
    /// first; nothing at all (not an error) when the service is missing or badly named.
    pub(crate) fn dump_dests(&self, cfg: &Config, attrs: &[IpvsAttr]) -> Vec<IpvsMessage> {
        let Ok(u) = parse::parse_service(parse::service_nest(attrs), false, cfg.ipv6) else {
            return Vec::new();
        };
        match self.find(&u) {
            Some(i) => self.services[i]
                .dests
                .iter()
                .map(|d| dest_reply(d, self.now))
                .collect(),
            None => Vec::new(),
        }
    }

    /// `ip_vs_genl_dump_daemons`: master first, then backup.
    pub(crate) fn dump_daemons(&self) -> Vec<IpvsMessage> {
        let mut out = Vec::new();
        if let Some(c) = &self.master {
            out.push(daemon_reply(STATE_MASTER, c));
        }
        if let Some(c) = &self.backup {
            out.push(daemon_reply(STATE_BACKUP, c));
        }
        out
    }

    /// The `GET_CONFIG` reply.
    pub(crate) fn timeouts_reply(&self) -> IpvsMessage {
        reply(
            IpvsCmd::SetConfig,
            vec![
                IpvsAttr::TimeoutTcp(self.timeouts[0]),
                IpvsAttr::TimeoutTcpFin(self.timeouts[1]),
                IpvsAttr::TimeoutUdp(self.timeouts[2]),
            ],
        )
    }
}

/// A kernel-style reply: nests without `NLA_F_NESTED`.
pub(crate) fn reply(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> IpvsMessage {
    IpvsMessage {
        cmd,
        attrs,
        nested_flag: false,
    }
}

/// Zero counters in the kernel's order.
fn zero_stats() -> Vec<StatsAttr> {
    StatsAttr::from_stats(&crate::model::Stats::default())
}

/// `ip_vs_genl_fill_service`: `AF`, then `FWMARK` or `PROTOCOL`, `ADDR`, `PORT`, then
/// `SCHED_NAME`, `PE_NAME` (if any), `FLAGS` (mask all ones), `TIMEOUT`, `NETMASK`,
/// `STATS`, `STATS64`.
pub(crate) fn service_attrs(cfg: &Config, s: &Svc) -> Vec<ServiceAttr> {
    let mut a = Vec::with_capacity(12);
    a.push(ServiceAttr::Af(s.af));
    if s.fwmark != 0 {
        a.push(ServiceAttr::Fwmark(s.fwmark));
    } else {
        a.push(ServiceAttr::Protocol(s.protocol));
        a.push(ServiceAttr::Addr(s.addr));
        a.push(ServiceAttr::Port(s.port));
    }
    a.push(ServiceAttr::SchedName(
        s.sched.clone().unwrap_or_else(|| "none".to_owned()),
    ));
    if let Some(pe) = &s.pe {
        a.push(ServiceAttr::PeName(pe.clone()));
    }
    a.push(ServiceAttr::Flags {
        flags: s.flags,
        mask: !0,
    });
    a.push(ServiceAttr::Timeout(s.timeout_ticks / cfg.hz.max(1)));
    a.push(ServiceAttr::Netmask(s.netmask));
    a.push(ServiceAttr::Stats(zero_stats()));
    a.push(ServiceAttr::Stats64(zero_stats()));
    a
}

/// A service dump entry or `GET_SERVICE` reply.
pub(crate) fn service_reply(cfg: &Config, s: &Svc) -> IpvsMessage {
    reply(
        IpvsCmd::NewService,
        vec![IpvsAttr::Service(service_attrs(cfg, s))],
    )
}

/// `ip_vs_genl_fill_dest`: `ADDR`, `PORT`, `FWD_METHOD`, `WEIGHT`, `TUN_TYPE`, `TUN_PORT`,
/// `TUN_FLAGS`, `U_THRESH`, `L_THRESH`, the three connection counters (active and inactive
/// as injected and counted at `now`, persistent 0), `ADDR_FAMILY`, `STATS`, `STATS64`.
pub(crate) fn dest_attrs(d: &Dest, now: Duration) -> Vec<DestAttr> {
    let (active, inactive) = d.conns.counts(now);
    vec![
        DestAttr::Addr(d.addr),
        DestAttr::Port(d.port),
        DestAttr::FwdMethod(d.conn_flags),
        DestAttr::Weight(u32::from_ne_bytes(d.weight.to_ne_bytes())),
        DestAttr::TunType(d.tun_type),
        DestAttr::TunPort(d.tun_port),
        DestAttr::TunFlags(d.tun_flags),
        DestAttr::UpperThreshold(d.u_threshold),
        DestAttr::LowerThreshold(d.l_threshold),
        DestAttr::ActiveConns(active),
        DestAttr::InactConns(inactive),
        DestAttr::PersistConns(0),
        DestAttr::AddrFamily(d.af),
        DestAttr::Stats(zero_stats()),
        DestAttr::Stats64(zero_stats()),
    ]
}

fn dest_reply(d: &Dest, now: Duration) -> IpvsMessage {
    reply(IpvsCmd::NewDest, vec![IpvsAttr::Dest(dest_attrs(d, now))])
}

/// A service's identity, as the trash matches it.
fn svc_key(s: &Svc) -> (u16, u16, [u8; 16], u16, u32) {
    (s.af, s.protocol, s.addr, s.port, s.fwmark)
}

/// `ip_vs_genl_fill_daemon`: `STATE`, `MCAST_IFN`, `SYNC_ID`, `SYNC_MAXLEN`, `MCAST_PORT`,
/// `MCAST_TTL`, then the group.
pub(crate) fn daemon_attrs(state: u32, c: &DaemonCfg) -> Vec<DaemonAttr> {
    let mut a = vec![
        DaemonAttr::State(state),
        DaemonAttr::McastIfn(c.ifname.clone()),
        DaemonAttr::SyncId(c.sync_id),
        DaemonAttr::SyncMaxLen(c.sync_maxlen),
        DaemonAttr::McastPort(c.port),
        DaemonAttr::McastTtl(c.ttl),
    ];
    a.push(match c.group {
        Group::V4(g) => DaemonAttr::McastGroup(g),
        Group::V6(g) => DaemonAttr::McastGroup6(g),
    });
    a
}

fn daemon_reply(state: u32, c: &DaemonCfg) -> IpvsMessage {
    reply(
        IpvsCmd::NewDaemon,
        vec![IpvsAttr::Daemon(daemon_attrs(state, c))],
    )
}
