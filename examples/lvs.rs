//! Recreates the classic LVS setups — NAT, TUN and DR, for the director and the real
//! servers — with the `lvs` library instead of `ifconfig`, `route`, `echo > /proc/sys` and
//! `ipvsadm` scripts.
//!
//! ```text
//! lvs [--dry-run] [--netns NAME] [--state-dir DIR] director nat|tun|dr up|down|takeover|standby
//!     [--vip ADDR:PORT] [--real ADDR[:PORT][,weight=N]]... [--scheduler NAME]
//!     [--protocol tcp|udp] [--dev IFACE] [--sync-dev IFACE] [--sync-id N] [--standby]
//!     [--garp-repeat N] [--garp-interval MS]
//! lvs [--dry-run] [--netns NAME] [--state-dir DIR] realserver nat|tun|dr up|down
//!     [--vip ADDR] [--gateway ADDR] [--dev IFACE]
//! ```
//!
//! The defaults are the classic document's addresses, so `lvs director nat up` alone
//! reproduces its NAT director. `up` records each change, before making it, in a journal
//! under the state directory (default `/run/lvs`; `lvs::host::Journal`: locked, trusted,
//! write-ahead); `down` with the same arguments undoes exactly that, and nothing it did not
//! do, after a crash too. `--dry-run` prints the plan as the equivalent `ip`/`sysctl`/`ipvsadm` lines,
//! applies the IPVS part to the library's mock kernel and prints the resulting table as
//! `ipvsadm -Ln` would: it needs neither root nor IPVS.
//!
//! A failover pair of directors (`lvs::host::Failover`): `up --sync-dev IFACE` makes a
//! master (the table, the VIP, announced, the master sync daemon), `up --standby --sync-dev
//! IFACE` a backup (the table and the backup sync daemon, no VIP); `takeover` and `standby`
//! switch a director's role (keepalived's `notify_master` / `notify_backup`), idempotently,
//! recorded in the same journal, so that `down` still undoes exactly what was done.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use lvs::host::{Announce, Entry, Failover, Host, Journal, Switched, VipDevice};
use lvs::text::ListOptions;
use lvs::transport::{MockKernel, Transport};
use lvs::{Destination, ForwardMethod, Ipvs, Protocol, Scheduler, Service, ServiceId, Tunnel};

const USAGE: &str = "\
usage: lvs [--dry-run] [--netns NAME | --netns-path PATH] [--state-dir DIR] [--lock-wait SECS]
           director nat|tun|dr up|down|takeover|standby
           [--vip ADDR:PORT] [--real ADDR[:PORT][,weight=N]]... [--scheduler NAME]
           [--protocol tcp|udp] [--dev IFACE]
           [--sync-dev IFACE] [--sync-id N] [--standby] [--garp-repeat N] [--garp-interval MS]
       lvs [--dry-run] [--netns NAME | --netns-path PATH] [--state-dir DIR] [--lock-wait SECS]
           realserver nat|tun|dr up|down
           [--vip ADDR] [--gateway ADDR] [--dev IFACE]

Sets up (up) or tears down (down) a director or a real server of an LVS cluster in NAT,
TUN or DR mode. Defaults are the classic setup's addresses:
  nat: VIP 192.168.2.1:80, real servers 192.168.2.2:80 and 192.168.2.3:80, gateway 192.168.2.1
  tun: VIP 192.168.1.3:80 on tunl0, real servers 192.168.1.4:80 and 192.168.1.5:80
  dr:  VIP 192.168.1.3:80 on eth0:0 (director) / lo:0 (real servers), same real servers
--dry-run prints the plan and the resulting IPVS table without touching the machine.

A failover pair of directors: `up --sync-dev IFACE` also runs the master sync daemon and
announces the VIP; `up --standby` installs the table and a backup sync daemon without the
VIP; `takeover` binds the VIP, announces it (gratuitous ARP / unsolicited neighbour
advertisement, --garp-repeat times, default 5, --garp-interval ms apart, default 100) and
turns the sync daemon to master; `standby` releases the VIP and turns it to backup. Both
are no-ops when the director has that role already. --sync-dev defaults to the VIP's
device, --sync-id to 0.

up records every change in DIR (default /run/lvs, made 0700) before making it, under a lock
(a second run waits up to --lock-wait seconds, default 30); down undoes exactly that.
Exit status: 0 done; 1 failed or refused, the machine as it was; 2 bad arguments; 3 failed
and something is left in place (named, and kept in the journal for the next down).";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Nat,
    Tun,
    Dr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Director,
    RealServer,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Up,
    Down,
    Takeover,
    Standby,
}

#[derive(Debug)]
struct Args {
    dry_run: bool,
    netns: Option<String>,
    netns_path: Option<PathBuf>,
    state_dir: PathBuf,
    lock_wait: std::time::Duration,
    role: Role,
    mode: Mode,
    action: Action,
    /// `up --standby`: a backup director (no VIP, the backup sync daemon).
    standby: bool,
    sync_dev: Option<String>,
    sync_id: u32,
    announce: Announce,
    vip: Option<String>,
    reals: Vec<(SocketAddr, u32)>,
    scheduler: Scheduler,
    protocol: Protocol,
    dev: Option<String>,
    gateway: Option<IpAddr>,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        dry_run: false,
        netns: None,
        netns_path: None,
        state_dir: PathBuf::from("/run/lvs"),
        lock_wait: std::time::Duration::from_secs(30),
        role: Role::Director,
        mode: Mode::Nat,
        action: Action::Up,
        standby: false,
        sync_dev: None,
        sync_id: 0,
        announce: Announce::default(),
        vip: None,
        reals: Vec::new(),
        scheduler: Scheduler::Rr,
        protocol: Protocol::Tcp,
        dev: None,
        gateway: None,
    };
    let mut positional = Vec::new();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("option {name} needs a value"))
        };
        match arg.as_str() {
            "--dry-run" | "-n" => a.dry_run = true,
            "--netns" => {
                let v = value("--netns")?;
                lvs::model::check_netns_name(&v).map_err(|e| format!("bad --netns: {e}"))?;
                a.netns = Some(v);
            }
            "--netns-path" => a.netns_path = Some(PathBuf::from(value("--netns-path")?)),
            "--state-dir" => a.state_dir = PathBuf::from(value("--state-dir")?),
            "--lock-wait" => {
                let v = value("--lock-wait")?;
                let secs: u64 = v
                    .parse()
                    .ok()
                    .filter(|s| *s <= 3600)
                    .ok_or_else(|| format!("bad --lock-wait {v:?}: whole seconds, 0..=3600"))?;
                a.lock_wait = std::time::Duration::from_secs(secs);
            }
            "--vip" => a.vip = Some(value("--vip")?),
            "--real" | "-r" => {
                let v = value("--real")?;
                a.reals.push(parse_real(&v)?);
            }
            "--scheduler" | "-s" => {
                let v = value("--scheduler")?;
                a.scheduler = v
                    .parse()
                    .map_err(|e| format!("bad --scheduler {v:?}: {e}"))?;
            }
            "--protocol" => {
                a.protocol = match value("--protocol")?.as_str() {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    other => return Err(format!("bad --protocol {other:?}: tcp or udp")),
                }
            }
            "--dev" => a.dev = Some(value("--dev")?),
            "--standby" => a.standby = true,
            "--sync-dev" => {
                let v = value("--sync-dev")?;
                VipDevice::parse(&v)
                    .ok()
                    .filter(|d| d.name() == v && !v.contains(':'))
                    .ok_or_else(|| format!("bad --sync-dev {v:?}: an interface name"))?;
                a.sync_dev = Some(v);
            }
            "--sync-id" => {
                let v = value("--sync-id")?;
                a.sync_id = v
                    .parse()
                    .ok()
                    .filter(|n| *n <= 255)
                    .ok_or_else(|| format!("bad --sync-id {v:?}: 0..=255"))?;
            }
            "--garp-repeat" => {
                let v = value("--garp-repeat")?;
                a.announce.repeat = v
                    .parse()
                    .ok()
                    .filter(|n| *n <= 100)
                    .ok_or_else(|| format!("bad --garp-repeat {v:?}: 0..=100"))?;
            }
            "--garp-interval" => {
                let v = value("--garp-interval")?;
                let ms: u64 =
                    v.parse().ok().filter(|n| *n <= 10_000).ok_or_else(|| {
                        format!("bad --garp-interval {v:?}: milliseconds, 0..=10000")
                    })?;
                a.announce.interval = std::time::Duration::from_millis(ms);
            }
            "--gateway" => {
                let v = value("--gateway")?;
                a.gateway = Some(v.parse().map_err(|_| format!("bad --gateway {v:?}"))?);
            }
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}")),
            s => positional.push(s.to_owned()),
        }
    }
    let [role, mode, action] = positional.as_slice() else {
        return Err("expected ROLE MODE ACTION, e.g. `director nat up`".into());
    };
    a.role = match role.as_str() {
        "director" => Role::Director,
        "realserver" | "real-server" => Role::RealServer,
        other => return Err(format!("bad role {other:?}: director or realserver")),
    };
    a.mode = match mode.as_str() {
        "nat" => Mode::Nat,
        "tun" => Mode::Tun,
        "dr" => Mode::Dr,
        other => return Err(format!("bad mode {other:?}: nat, tun or dr")),
    };
    a.action = match action.as_str() {
        "up" => Action::Up,
        "down" => Action::Down,
        "takeover" => Action::Takeover,
        "standby" => Action::Standby,
        other => {
            return Err(format!(
                "bad action {other:?}: up, down, takeover or standby"
            ))
        }
    };
    let switch = matches!(a.action, Action::Takeover | Action::Standby);
    if switch && a.role != Role::Director {
        return Err(format!("{action} is for a director"));
    }
    if a.standby && a.action != Action::Up {
        return Err("--standby goes with up (takeover and standby switch roles)".into());
    }
    if (a.standby || a.sync_dev.is_some()) && a.role != Role::Director {
        return Err("--standby and --sync-dev are for a director".into());
    }
    Ok(a)
}

/// `ADDR[:PORT][,weight=N]`; IPv6 as `[ADDR]:PORT`.
fn parse_real(s: &str) -> Result<(SocketAddr, u32), String> {
    let (addr, opts) = s.split_once(',').unwrap_or((s, ""));
    let sa = match addr.parse::<SocketAddr>() {
        Ok(sa) => sa,
        Err(_) => {
            let ip: IpAddr = addr
                .trim_matches(|c| c == '[' || c == ']')
                .parse()
                .map_err(|_| format!("bad --real address {addr:?}"))?;
            SocketAddr::new(ip, 0)
        }
    };
    let mut weight = 1;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("weight", w)) => {
                weight = w
                    .parse()
                    .map_err(|_| format!("bad weight {w:?} in {s:?}"))?
            }
            _ => return Err(format!("bad --real option {opt:?} (weight=N)")),
        }
    }
    Ok((sa, weight))
}

/// One step of a plan: a host change or an IPVS write. `Display` is the equivalent command.
#[derive(Debug, Clone)]
enum Step {
    BindVip(IpAddr, VipDevice),
    HideArp(String),
    /// IP forwarding; IPv6 forwarding too when true.
    Forwarding(bool),
    RelaxRpFilter(String),
    Gateway(IpAddr),
    AddService(Service),
    AddDest(ServiceId, Destination),
}

impl fmt::Display for Step {
    /// The equivalent command lines, one per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.commands().join("\n"))
    }
}

impl Step {
    fn commands(&self) -> Vec<String> {
        let sysctl = |k: String, v: &str| format!("sysctl -w {}={v}", k.replace('/', "."));
        match self {
            Step::BindVip(vip, dev) => {
                let len = if vip.is_ipv4() { 32 } else { 128 };
                let mut out = Vec::new();
                match dev {
                    VipDevice::Dummy(n) => out.push(format!("ip link add {n} type dummy")),
                    VipDevice::Tunl0 => out.push("modprobe ipip  # creates tunl0".into()),
                    _ => {}
                }
                out.push(format!("ip link set {} up", dev.name()));
                let label = match dev {
                    _ if vip.is_ipv6() => String::new(),
                    VipDevice::Loopback => " label lo:0".to_owned(),
                    VipDevice::Device { label: Some(l), .. } => format!(" label {l}"),
                    _ => String::new(),
                };
                out.push(format!("ip addr add {vip}/{len} dev {}{label}", dev.name()));
                out.push(format!("ip route add {vip}/{len} dev {}", dev.name()));
                out
            }
            Step::HideArp(dev) => [dev.as_str(), "all"]
                .iter()
                .flat_map(|d| {
                    [
                        sysctl(format!("net/ipv4/conf/{d}/arp_ignore"), "1"),
                        sysctl(format!("net/ipv4/conf/{d}/arp_announce"), "2"),
                    ]
                })
                .collect(),
            Step::Forwarding(ipv6) => {
                let mut out = vec!["sysctl -w net.ipv4.ip_forward=1".to_owned()];
                if *ipv6 {
                    out.push("sysctl -w net.ipv6.conf.all.forwarding=1".into());
                }
                out
            }
            Step::RelaxRpFilter(dev) => vec![
                sysctl(format!("net/ipv4/conf/{dev}/rp_filter"), "0"),
                "sysctl -w net.ipv4.conf.all.rp_filter=0".into(),
            ],
            Step::Gateway(gw) => vec![format!("ip route replace default via {gw}")],
            Step::AddService(s) => vec![format!("ipvsadm -A {} -s {}", id_arg(&s.id), s.scheduler)],
            Step::AddDest(id, d) => {
                let fwd = match d.forward {
                    ForwardMethod::Masquerade => "-m",
                    ForwardMethod::Tunnel(_) => "-i",
                    _ => "-g",
                };
                vec![format!(
                    "ipvsadm -a {} -r {} {fwd} -w {}",
                    id_arg(id),
                    d.socket_addr(),
                    d.weight
                )]
            }
        }
    }
}

fn id_arg(id: &ServiceId) -> String {
    match id {
        ServiceId::Addr {
            protocol: Protocol::Udp,
            addr,
        } => format!("-u {addr}"),
        ServiceId::Addr { addr, .. } => format!("-t {addr}"),
        ServiceId::Fwmark { mark, .. } => format!("-f {mark}"),
    }
}

fn plan(a: &Args) -> Result<Vec<Step>, String> {
    let default_vip = match a.mode {
        Mode::Nat => "192.168.2.1",
        Mode::Tun | Mode::Dr => "192.168.1.3",
    };
    let vip_text = a.vip.clone().unwrap_or_else(|| default_vip.to_owned());
    let vip: SocketAddr = match vip_text.parse::<SocketAddr>() {
        Ok(sa) => sa,
        Err(_) => SocketAddr::new(
            vip_text
                .trim_matches(|c| c == '[' || c == ']')
                .parse()
                .map_err(|_| format!("bad --vip {vip_text:?}"))?,
            80,
        ),
    };
    let dev = |default: &str| -> Result<VipDevice, String> {
        VipDevice::parse(a.dev.as_deref().unwrap_or(default)).map_err(|e| e.to_string())
    };
    let mut steps = Vec::new();
    match a.role {
        Role::Director => {
            match a.mode {
                Mode::Nat => {
                    steps.push(Step::Forwarding(vip.is_ipv6()));
                    if a.dev.is_some() {
                        steps.push(Step::BindVip(vip.ip(), dev("")?));
                    }
                }
                Mode::Tun => steps.push(Step::BindVip(vip.ip(), dev("tunl0")?)),
                Mode::Dr => steps.push(Step::BindVip(vip.ip(), dev("eth0:0")?)),
            }
            let id = ServiceId::Addr {
                protocol: a.protocol,
                addr: vip,
            };
            let svc = Service::builder(id)
                .scheduler(a.scheduler.clone())
                .build()
                .map_err(|e| e.to_string())?;
            steps.push(Step::AddService(svc));
            let reals = if a.reals.is_empty() {
                let base = match a.mode {
                    Mode::Nat => [2, 3],
                    Mode::Tun | Mode::Dr => [4, 5],
                };
                let net = if a.mode == Mode::Nat { 2 } else { 1 };
                base.iter()
                    .map(|h| (SocketAddr::from(([192, 168, net, *h], 80)), 1))
                    .collect()
            } else {
                a.reals.clone()
            };
            for (mut rs, weight) in reals {
                if rs.port() == 0 {
                    rs.set_port(vip.port());
                }
                let fwd = match a.mode {
                    Mode::Nat => ForwardMethod::Masquerade,
                    Mode::Tun => ForwardMethod::Tunnel(Tunnel::ipip()),
                    Mode::Dr => ForwardMethod::DirectRoute,
                };
                let d = Destination::builder(rs)
                    .forward(fwd)
                    .weight(weight)
                    .build_for(&id)
                    .map_err(|e| format!("real server {rs}: {e}"))?;
                steps.push(Step::AddDest(id, d));
            }
        }
        Role::RealServer => match a.mode {
            Mode::Nat => {
                let gw = a.gateway.unwrap_or(IpAddr::from([192, 168, 2, 1]));
                steps.push(Step::Gateway(gw));
            }
            Mode::Tun => {
                let d = dev("tunl0")?;
                steps.push(Step::BindVip(vip.ip(), d.clone()));
                steps.push(Step::HideArp(d.name().to_owned()));
                steps.push(Step::RelaxRpFilter(d.name().to_owned()));
            }
            Mode::Dr => {
                let d = dev("lo")?;
                steps.push(Step::BindVip(vip.ip(), d.clone()));
                steps.push(Step::HideArp(d.name().to_owned()));
            }
        },
    }
    Ok(steps)
}

/// Apply the IPVS steps of a plan, each service recorded in the journal (if any) before it
/// is added, and marked cancelled if the kernel refuses it.
fn apply_ipvs<T: Transport>(
    ipvs: &mut Ipvs<T>,
    steps: &[Step],
    mut journal: Option<&mut Journal>,
) -> lvs::Result<()> {
    for s in steps {
        match s {
            Step::AddService(svc) => {
                let seq = match journal.as_deref_mut() {
                    Some(j) => Some(j.record(&Entry::Service(svc.id))?),
                    None => None,
                };
                if let Err(e) = ipvs.add_service(svc) {
                    if let (Some(j), Some(seq)) = (journal.as_deref_mut(), seq) {
                        let _ = j.cancel(seq);
                    }
                    return Err(e);
                }
            }
            Step::AddDest(id, d) => ipvs.add_destination(id, d)?,
            _ => {}
        }
    }
    Ok(())
}

fn apply_host(host: &mut Host, steps: &[Step]) -> lvs::Result<()> {
    for s in steps {
        match s {
            Step::BindVip(vip, dev) => host.bind_vip(*vip, dev)?,
            Step::HideArp(dev) => host.hide_arp(dev)?,
            Step::Forwarding(ipv6) => host.enable_forwarding(*ipv6)?,
            Step::RelaxRpFilter(dev) => host.relax_rp_filter(dev)?,
            Step::Gateway(gw) => host.set_default_gateway(*gw)?,
            Step::AddService(_) | Step::AddDest(..) => {}
        }
    }
    Ok(())
}

/// The journal's name in the state directory: the namespace, the role and the mode.
fn journal_name(a: &Args) -> String {
    let role = match a.role {
        Role::Director => "director",
        Role::RealServer => "realserver",
    };
    let mode = match a.mode {
        Mode::Nat => "nat",
        Mode::Tun => "tun",
        Mode::Dr => "dr",
    };
    format!("{}-{role}-{mode}", netns_key(a))
}

/// Names the network namespace the setup lives in by its inode, so that `--netns NAME` and
/// `ip netns exec NAME lvs ...` find the same state, and two namespaces never share one.
fn netns_key(a: &Args) -> String {
    use std::os::unix::fs::MetadataExt;
    let path = netns_path(a).unwrap_or_else(|| PathBuf::from("/proc/self/ns/net"));
    match std::fs::metadata(&path) {
        Ok(m) => format!("netns{}", m.ino()),
        // No such namespace: `up` and `down` fail on it anyway.
        Err(_) => "netns-missing".to_owned(),
    }
}

/// The namespace's file: `/run/netns/NAME` for `--netns`, or `--netns-path`.
fn netns_path(a: &Args) -> Option<PathBuf> {
    match (&a.netns, &a.netns_path) {
        (Some(name), _) => Some(PathBuf::from("/run/netns").join(name)),
        (None, Some(path)) => Some(path.clone()),
        (None, None) => None,
    }
}

fn open_host(a: &Args) -> lvs::Result<Host> {
    match netns_path(a) {
        Some(p) => Host::in_netns_path(p),
        None => Host::new(),
    }
}

fn open_ipvs(a: &Args) -> lvs::Result<Ipvs> {
    match netns_path(a) {
        Some(p) => Ipvs::in_netns_path(p),
        None => Ipvs::new(),
    }
}

fn open_journal(a: &Args) -> Result<Journal, String> {
    Journal::open(&a.state_dir, &journal_name(a), a.lock_wait).map_err(|e| e.to_string())
}

fn up(a: &Args, steps: &[Step]) -> Result<(), Failure> {
    let journal = open_journal(a)?;
    if !journal.is_empty() {
        return Err(format!(
            "{} holds changes of an earlier `up` (finished or interrupted): run `down` with \
             the same arguments first",
            journal.path().display()
        )
        .into());
    }
    let mut host = open_host(a).map_err(|e| e.to_string())?;
    let mut steps = resolve_devices(a, &mut host, steps)?;
    let pair = failover(a, &steps)?;
    if a.standby {
        // A backup director: the table without the VIP.
        steps.retain(|s| !matches!(s, Step::BindVip(..)));
    }
    let steps = steps.as_slice();
    // Every change is recorded durably before it is made: a crash at any point leaves a
    // journal that `down` undoes exactly.
    host.attach_journal(journal);
    let mut ipvs = None;
    let mut switched = None;
    let result = (|| -> lvs::Result<()> {
        apply_host(&mut host, steps)?;
        if steps.iter().any(|s| matches!(s, Step::AddService(_))) {
            let ipvs = ipvs.insert(open_ipvs(a)?);
            apply_ipvs(ipvs, steps, host.journal())?;
        }
        if let Some(pair) = &pair {
            let ipvs = match ipvs.as_mut() {
                Some(i) => i,
                None => ipvs.insert(open_ipvs(a)?),
            };
            switched = Some(if a.standby {
                host.stand_by(ipvs, pair)?
            } else {
                host.take_over(ipvs, pair)?
            });
        }
        Ok(())
    })();
    if let Err(e) = result {
        // Leave the machine as it was, and say so if it could not be.
        let mut journal = host.detach_journal().expect("attached above");
        return Err(match journal.undo(&mut host, ipvs.as_mut()) {
            Ok(_) => format!("{e} (everything done before it was undone)").into(),
            Err(undo) => Failure::RollbackIncomplete(format!(
                "{e}; rolling back failed too: {undo}; what is left is recorded in {}: run \
                 `down` with the same arguments once the cause is fixed",
                journal.path().display()
            )),
        });
    }
    for s in steps {
        println!("{s}");
    }
    if let Some(done) = switched {
        print_switched(&done);
    }
    Ok(())
}

/// The failover pair of a director's arguments: `None` for a plain `up` (no `--sync-dev`,
/// no `--standby`); an error when the VIP has no device to bind it on (a NAT director
/// without `--dev`) or no sync interface can be told.
fn failover(a: &Args, steps: &[Step]) -> Result<Option<Failover>, String> {
    let wanted =
        a.role == Role::Director && (a.action != Action::Up || a.standby || a.sync_dev.is_some());
    if !wanted {
        return Ok(None);
    }
    let Some((vip, dev)) = steps.iter().find_map(|s| match s {
        Step::BindVip(vip, dev) => Some((*vip, dev.clone())),
        _ => None,
    }) else {
        return Err("a failover pair needs the VIP's device: name it with --dev IFACE".into());
    };
    let sync_dev = match (&a.sync_dev, &dev) {
        (Some(d), _) => d.clone(),
        (None, VipDevice::Device { name, .. }) => name.clone(),
        (None, _) => {
            return Err(format!(
                "the VIP is on {}: name the sync daemons' interface with --sync-dev IFACE",
                dev.name()
            ))
        }
    };
    Ok(Some(
        Failover::new(vip, dev, &sync_dev)
            .sync_id(a.sync_id)
            .announce(a.announce),
    ))
}

fn print_switched(done: &Switched) {
    if !done.changed() {
        println!("# nothing to do: already in that role");
    }
    for d in &done.daemons_stopped {
        println!(
            "ipvsadm --stop-daemon {}  # was on {}, syncid {}",
            d.state, d.interface, d.sync_id
        );
    }
    if let Some(d) = &done.daemon_started {
        println!(
            "ipvsadm --start-daemon {} --mcast-interface {} --syncid {}",
            d.state, d.interface, d.sync_id
        );
    }
    if let Some(an) = &done.announced {
        let mac: Vec<String> = an.mac.iter().map(|b| format!("{b:02x}")).collect();
        println!(
            "# announced {} times on {} from {}",
            an.sent,
            an.device,
            mac.join(":")
        );
    }
}

/// `takeover` or `standby`: switch the director's role, recorded in the journal of `up`.
fn switch(a: &Args, steps: &[Step]) -> Result<(), Failure> {
    let journal = open_journal(a)?;
    let mut host = open_host(a).map_err(|e| e.to_string())?;
    let steps = resolve_devices(a, &mut host, steps)?;
    let pair = failover(a, &steps)?.ok_or_else(|| "no failover pair".to_owned())?;
    let mut ipvs = open_ipvs(a).map_err(|e| e.to_string())?;
    host.attach_journal(journal);
    let result = if a.action == Action::Takeover {
        host.take_over(&mut ipvs, &pair)
    } else {
        host.stand_by(&mut ipvs, &pair)
    };
    let path = host
        .journal()
        .map(|j| j.path().display().to_string())
        .unwrap_or_default();
    match result {
        Ok(done) => {
            if done.vip_changed {
                let verb = if a.action == Action::Takeover {
                    "bound"
                } else {
                    "released"
                };
                println!("# {verb} {} ({})", pair.vip, pair.device.name());
            }
            print_switched(&done);
            Ok(())
        }
        // What was done is recorded: running the switch again finishes it, `down` undoes it.
        Err(e) => Err(Failure::RollbackIncomplete(format!(
            "{e}; what was done is recorded in {path}: run the same command again once the \
             cause is fixed, or `down`"
        ))),
    }
}

/// What only the host itself can tell: a DR director without `--dev` puts the VIP on
/// `eth0:0` as the classic setup does, or, when there is no `eth0`, on `DEV:0` of the device
/// that reaches the first real server; a NAT director whose VIP is not an address of the host
/// (and no `--dev` to bind it) would never see the traffic, which deserves a warning.
fn resolve_devices(a: &Args, host: &mut Host, steps: &[Step]) -> Result<Vec<Step>, String> {
    let err = |e: lvs::Error| e.to_string();
    let mut out = steps.to_vec();
    if a.role != Role::Director || a.dev.is_some() {
        return Ok(out);
    }
    match a.mode {
        Mode::Dr if host.link_index("eth0").map_err(err)?.is_none() => {
            let first_real = steps.iter().find_map(|s| match s {
                Step::AddDest(_, d) => Some(d.socket_addr().ip()),
                _ => None,
            });
            let found = match first_real {
                Some(ip) => host.on_link_device(ip).map_err(err)?,
                None => None,
            };
            let Some(name) = found else {
                return Err("no eth0 and no device on the real servers' network: \
                            name the VIP's device with --dev"
                    .into());
            };
            let dev = VipDevice::Device {
                label: Some(format!("{name}:0")),
                name,
            };
            for s in &mut out {
                if let Step::BindVip(_, d) = s {
                    *d = dev.clone();
                }
            }
        }
        Mode::Nat => {
            for s in steps {
                if let Step::AddService(svc) = s {
                    if let ServiceId::Addr { addr, .. } = svc.id {
                        if host.find_address(addr.ip()).map_err(err)?.is_none() {
                            eprintln!(
                                "lvs: warning: {} is not an address of this host, so IPVS \
                                 will not see its traffic; bind it with --dev IFACE",
                                addr.ip()
                            );
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

fn down(a: &Args) -> Result<(), Failure> {
    let mut journal = open_journal(a)?;
    if journal.is_empty() {
        println!(
            "nothing to undo: no changes recorded in {}",
            journal.path().display()
        );
        return Ok(());
    }
    let mut host = open_host(a).map_err(|e| e.to_string())?;
    let needs_ipvs = |e: &Entry| {
        matches!(
            e,
            Entry::Service(_) | Entry::DaemonStarted(_) | Entry::DaemonStopped(_)
        )
    };
    let mut ipvs = if journal.entries().any(needs_ipvs) {
        Some(open_ipvs(a).map_err(|e| e.to_string())?)
    } else {
        None
    };
    match journal.undo(&mut host, ipvs.as_mut()) {
        Ok(undone) => {
            for e in undone {
                println!("undone: {e}");
            }
            Ok(())
        }
        Err(e) => Err(Failure::RollbackIncomplete(format!(
            "{e}; the changes left are kept in {}: run `down` again once the cause is fixed",
            journal.path().display()
        ))),
    }
}

fn dry_run(a: &Args, steps: &[Step]) -> Result<(), String> {
    if matches!(a.action, Action::Takeover | Action::Standby) {
        let pair = failover(a, steps)?.ok_or("no failover pair")?;
        let other = if a.action == Action::Takeover {
            "backup"
        } else {
            "master"
        };
        println!("# plan (each step only when needed)");
        if a.action == Action::Takeover {
            for s in steps.iter().filter(|s| matches!(s, Step::BindVip(..))) {
                println!("{s}");
            }
        } else {
            let len = if pair.vip.is_ipv4() { 32 } else { 128 };
            let dev = pair.device.name();
            println!("ip route del {}/{len} dev {dev}", pair.vip);
            println!("ip addr del {}/{len} dev {dev}", pair.vip);
        }
        println!("ipvsadm --stop-daemon {other}");
        let state = if a.action == Action::Takeover {
            "master"
        } else {
            "backup"
        };
        println!(
            "ipvsadm --start-daemon {state} --mcast-interface {} --syncid {}",
            pair.sync_interface, pair.sync_id
        );
        if a.action == Action::Takeover {
            let flag = if pair.vip.is_ipv4() { "-U" } else { "-A" };
            println!(
                "arping {flag} -c {} -I {} {}  # gratuitous ARP / unsolicited NA",
                pair.announce.repeat,
                pair.device.name(),
                pair.vip
            );
        }
        return Ok(());
    }
    if a.action == Action::Down {
        println!(
            "# down undoes what `up` recorded in {}",
            a.state_dir
                .join(format!("{}.journal", journal_name(a)))
                .display()
        );
        return Ok(());
    }
    println!("# plan");
    for s in steps {
        if a.standby && matches!(s, Step::BindVip(..)) {
            continue;
        }
        println!("{s}");
    }
    if let Some(pair) = failover(a, steps)? {
        let state = if a.standby { "backup" } else { "master" };
        println!(
            "ipvsadm --start-daemon {state} --mcast-interface {} --syncid {}",
            pair.sync_interface, pair.sync_id
        );
        if !a.standby {
            println!(
                "arping -U -c {} -I {} {}  # gratuitous ARP / unsolicited NA",
                pair.announce.repeat,
                pair.device.name(),
                pair.vip
            );
        }
    }
    if !steps.iter().any(|s| matches!(s, Step::AddService(_))) {
        // A real server: no IPVS table to show.
        return Ok(());
    }
    // The mock of this machine's kernel (its profile: what GET_INFO reports, which
    // schedulers exist, ...), so that the table printed is the one `up` would make here.
    let mock = match lvs::KernelVersion::running() {
        Ok(v) => MockKernel::builder().kernel(v).build(),
        Err(_) => MockKernel::default(),
    };
    let mut ipvs = Ipvs::with_transport(mock);
    apply_ipvs(&mut ipvs, steps, None).map_err(|e| e.to_string())?;
    println!("\n# resulting IPVS table (mock kernel, as ipvsadm -Ln prints it)");
    let table = ipvs.table().map_err(|e| e.to_string())?;
    let info = ipvs.info().map_err(|e| e.to_string())?;
    print!(
        "{}",
        lvs::text::listing(&table, &ListOptions::numeric().with_info(info))
    );
    Ok(())
}

/// Why a run failed, which decides its exit status.
#[derive(Debug)]
enum Failure {
    /// Failed or refused; nothing is left changed (exit 1).
    Failed(String),
    /// Failed, and some changes are left in place, kept in the journal (exit 3).
    RollbackIncomplete(String),
}

impl From<String> for Failure {
    fn from(msg: String) -> Failure {
        Failure::Failed(msg)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Failed(m) | Failure::RollbackIncomplete(m) => f.write_str(m),
        }
    }
}

fn main() -> ExitCode {
    let argv = match lvs::text::utf8_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lvs: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("lvs: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = plan(&args).map_err(Failure::from).and_then(|steps| {
        if args.dry_run {
            dry_run(&args, &steps).map_err(Failure::from)
        } else {
            match args.action {
                Action::Up => up(&args, &steps),
                Action::Down => down(&args),
                Action::Takeover | Action::Standby => switch(&args, &steps),
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("lvs: {f}");
            match f {
                Failure::Failed(_) => ExitCode::FAILURE,
                Failure::RollbackIncomplete(_) => ExitCode::from(3),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        let argv: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse_args(&argv)
    }

    #[test]
    fn switch_actions_and_their_options() {
        let a = args("director dr takeover --sync-dev eth1 --sync-id 51").unwrap();
        assert_eq!(a.action, Action::Takeover);
        assert_eq!(a.sync_dev.as_deref(), Some("eth1"));
        assert_eq!(a.sync_id, 51);
        assert_eq!(a.announce, Announce::default());
        let a = args("director dr standby --garp-repeat 3 --garp-interval 250").unwrap();
        assert_eq!(a.action, Action::Standby);
        assert_eq!(a.announce.repeat, 3);
        assert_eq!(a.announce.interval, std::time::Duration::from_millis(250));
        let a = args("director dr up --standby --sync-dev eth0").unwrap();
        assert!(a.standby && a.action == Action::Up);
        for bad in [
            "realserver dr takeover",
            "realserver dr up --sync-dev eth0",
            "director dr takeover --standby",
            "director dr down --standby",
            "director dr takeover --sync-id 256",
            "director dr takeover --sync-dev eth0:0",
            "director dr takeover --sync-dev",
            "director dr takeover --garp-repeat many",
            "director dr switch",
        ] {
            assert!(args(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_failover_pair_of_the_arguments() {
        let pair_of = |line: &str| {
            let a = args(line).unwrap();
            failover(&a, &plan(&a).unwrap())
        };
        let p = pair_of("director dr takeover --sync-id 7")
            .unwrap()
            .unwrap();
        assert_eq!(p.vip, "192.168.1.3".parse::<IpAddr>().unwrap());
        assert_eq!(p.device, VipDevice::parse("eth0:0").unwrap());
        assert_eq!((p.sync_interface.as_str(), p.sync_id), ("eth0", 7));
        let p = pair_of("director dr standby --dev eth1:0 --sync-dev eth2")
            .unwrap()
            .unwrap();
        assert_eq!(p.device.name(), "eth1");
        assert_eq!(p.sync_interface, "eth2");
        // A plain up is no pair; a NAT director without --dev has no VIP device; a TUN
        // director's VIP is on tunl0, so the sync interface must be named.
        assert!(pair_of("director dr up").unwrap().is_none());
        assert!(pair_of("director nat takeover").is_err());
        assert!(pair_of("director tun takeover").is_err());
        assert!(pair_of("director tun takeover --sync-dev eth0")
            .unwrap()
            .is_some());
    }
}
