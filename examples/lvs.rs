//! Recreates the classic LVS setups — NAT, TUN and DR, for the director and the real
//! servers — with the `lvs` library instead of `ifconfig`, `route`, `echo > /proc/sys` and
//! `ipvsadm` scripts.
//!
//! ```text
//! lvs [--dry-run] [--netns NAME] [--state-dir DIR] director nat|tun|dr up|down
//!     [--vip ADDR:PORT] [--real ADDR[:PORT][,weight=N]]... [--scheduler NAME]
//!     [--protocol tcp|udp] [--dev IFACE]
//! lvs [--dry-run] [--netns NAME] [--state-dir DIR] realserver nat|tun|dr up|down
//!     [--vip ADDR] [--gateway ADDR] [--dev IFACE]
//! ```
//!
//! The defaults are the classic document's addresses, so `lvs director nat up` alone
//! reproduces its NAT director. `up` records what it changed under the state directory
//! (default `/run/lvs`); `down` with the same arguments undoes exactly that, and nothing it
//! did not do. `--dry-run` prints the plan as the equivalent `ip`/`sysctl`/`ipvsadm` lines,
//! applies the IPVS part to the library's mock kernel and prints the resulting table as
//! `ipvsadm -Ln` would: it needs neither root nor IPVS.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use lvs::host::{Change, Host, VipDevice};
use lvs::text::ListOptions;
use lvs::transport::{MockKernel, Transport};
use lvs::{Destination, ForwardMethod, Ipvs, Protocol, Scheduler, Service, ServiceId, Tunnel};

const USAGE: &str = "\
usage: lvs [--dry-run] [--netns NAME] [--state-dir DIR] director nat|tun|dr up|down
           [--vip ADDR:PORT] [--real ADDR[:PORT][,weight=N]]... [--scheduler NAME]
           [--protocol tcp|udp] [--dev IFACE]
       lvs [--dry-run] [--netns NAME] [--state-dir DIR] realserver nat|tun|dr up|down
           [--vip ADDR] [--gateway ADDR] [--dev IFACE]

Sets up (up) or tears down (down) a director or a real server of an LVS cluster in NAT,
TUN or DR mode. Defaults are the classic setup's addresses:
  nat: VIP 192.168.2.1:80, real servers 192.168.2.2:80 and 192.168.2.3:80, gateway 192.168.2.1
  tun: VIP 192.168.1.3:80 on tunl0, real servers 192.168.1.4:80 and 192.168.1.5:80
  dr:  VIP 192.168.1.3:80 on eth0:0 (director) / lo:0 (real servers), same real servers
--dry-run prints the plan and the resulting IPVS table without touching the machine.";

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

#[derive(Debug)]
struct Args {
    dry_run: bool,
    netns: Option<String>,
    state_dir: PathBuf,
    role: Role,
    mode: Mode,
    up: bool,
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
        state_dir: PathBuf::from("/run/lvs"),
        role: Role::Director,
        mode: Mode::Nat,
        up: true,
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
            "--netns" => a.netns = Some(value("--netns")?),
            "--state-dir" => a.state_dir = PathBuf::from(value("--state-dir")?),
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
    a.up = match action.as_str() {
        "up" => true,
        "down" => false,
        other => return Err(format!("bad action {other:?}: up or down")),
    };
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

/// Apply the IPVS steps of a plan, recording each service in `added` as soon as it exists
/// (so that a failure half-way can still be undone).
fn apply_ipvs<T: Transport>(
    ipvs: &mut Ipvs<T>,
    steps: &[Step],
    added: &mut Vec<ServiceId>,
) -> lvs::Result<()> {
    for s in steps {
        match s {
            Step::AddService(svc) => {
                ipvs.add_service(svc)?;
                added.push(svc.id);
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

fn state_file(a: &Args) -> PathBuf {
    let role = match a.role {
        Role::Director => "director",
        Role::RealServer => "realserver",
    };
    let mode = match a.mode {
        Mode::Nat => "nat",
        Mode::Tun => "tun",
        Mode::Dr => "dr",
    };
    a.state_dir.join(format!(
        "{}-{role}-{mode}.state",
        netns_key(a.netns.as_deref())
    ))
}

/// Names the network namespace the setup lives in by its inode, so that `--netns NAME` and
/// `ip netns exec NAME lvs ...` find the same state, and two namespaces never share one.
fn netns_key(netns: Option<&str>) -> String {
    use std::os::unix::fs::MetadataExt;
    let path = match netns {
        Some(ns) => PathBuf::from("/run/netns").join(ns),
        None => PathBuf::from("/proc/self/ns/net"),
    };
    match std::fs::metadata(&path) {
        Ok(m) => format!("netns{}", m.ino()),
        // No such namespace (yet): `up` and `down` fail on it anyway.
        Err(_) => netns.unwrap_or("default").to_owned(),
    }
}

fn up(a: &Args, steps: &[Step]) -> Result<(), String> {
    let path = state_file(a);
    if path.exists() {
        return Err(format!(
            "{} exists: this setup is already up (run `down` first)",
            path.display()
        ));
    }
    let mut host = match &a.netns {
        Some(ns) => Host::in_netns(ns),
        None => Host::new(),
    }
    .map_err(|e| e.to_string())?;
    let steps = resolve_devices(a, &mut host, steps)?;
    let steps = steps.as_slice();
    let mut ipvs_added = Vec::new();
    let result = (|| -> lvs::Result<()> {
        apply_host(&mut host, steps)?;
        if steps.iter().any(|s| matches!(s, Step::AddService(_))) {
            let mut ipvs = match &a.netns {
                Some(ns) => Ipvs::in_netns(ns)?,
                None => Ipvs::new()?,
            };
            apply_ipvs(&mut ipvs, steps, &mut ipvs_added)?;
        }
        Ok(())
    })();
    let changes = host.take_changes();
    if let Err(e) = result {
        // Leave the machine as it was.
        let _ = undo_ipvs(a, &ipvs_added);
        let _ = host.undo(&changes);
        return Err(e.to_string());
    }
    let mut text = String::new();
    for id in &ipvs_added {
        text.push_str(&format!("ipvs-service {id}\n"));
    }
    for c in &changes {
        text.push_str(&format!("{c}\n"));
    }
    std::fs::create_dir_all(&a.state_dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| format!("cannot record the state in {}: {e}", path.display()))?;
    for s in steps {
        println!("{s}");
    }
    Ok(())
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

fn undo_ipvs(a: &Args, ids: &[ServiceId]) -> lvs::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut ipvs = match &a.netns {
        Some(ns) => Ipvs::in_netns(ns)?,
        None => Ipvs::new()?,
    };
    for id in ids.iter().rev() {
        match ipvs.delete_service(id) {
            Err(lvs::Error::NoSuchService(_)) => {}
            other => other?,
        }
    }
    Ok(())
}

fn down(a: &Args) -> Result<(), String> {
    let path = state_file(a);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("nothing to undo: {} does not exist", path.display());
            return Ok(());
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut ids = Vec::new();
    let mut changes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |e: lvs::InvalidError| format!("{}:{}: {e}", path.display(), n + 1);
        match line.strip_prefix("ipvs-service ") {
            Some(id) => ids.push(id.parse::<ServiceId>().map_err(bad)?),
            None => changes.push(line.parse::<Change>().map_err(bad)?),
        }
    }
    undo_ipvs(a, &ids).map_err(|e| e.to_string())?;
    let mut host = match &a.netns {
        Some(ns) => Host::in_netns(ns),
        None => Host::new(),
    }
    .map_err(|e| e.to_string())?;
    host.undo(&changes).map_err(|e| e.to_string())?;
    std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    for id in &ids {
        println!("removed service {id}");
    }
    for c in changes.iter().rev() {
        println!("undone: {c}");
    }
    Ok(())
}

fn dry_run(a: &Args, steps: &[Step]) -> Result<(), String> {
    if !a.up {
        println!(
            "# down undoes what `up` recorded in {}",
            state_file(a).display()
        );
        return Ok(());
    }
    println!("# plan");
    for s in steps {
        println!("{s}");
    }
    if !steps.iter().any(|s| matches!(s, Step::AddService(_))) {
        // A real server: no IPVS table to show.
        return Ok(());
    }
    let mut ipvs = Ipvs::with_transport(MockKernel::default());
    apply_ipvs(&mut ipvs, steps, &mut Vec::new()).map_err(|e| e.to_string())?;
    println!("\n# resulting IPVS table (mock kernel, as ipvsadm -Ln prints it)");
    let table = ipvs.table().map_err(|e| e.to_string())?;
    let info = ipvs.info().map_err(|e| e.to_string())?;
    print!(
        "{}",
        lvs::text::listing(&table, &ListOptions::numeric().with_info(info))
    );
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
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
    let result = plan(&args).and_then(|steps| {
        if args.dry_run {
            dry_run(&args, &steps)
        } else if args.up {
            up(&args, &steps)
        } else {
            down(&args)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("lvs: {msg}");
            ExitCode::FAILURE
        }
    }
}
