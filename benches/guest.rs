//! The guest benchmark: the library against ipvsadm on the same kernel, in one run, as
//! ratios. It needs a real IPVS and root, so it runs in the qemu guest (`scripts/bench.sh`
//! builds it and runs it there); it changes the table of the namespace it runs in.
//!
//! For each table shape (`--shape SERVICESxDESTS`, default `10000x4` and `1000x50`), the
//! median of `--runs` runs (default 3) of:
//!
//! - **apply** the table to an empty IPVS: `ipvsadm -R` reading the rules on stdin; the
//!   drop-in `examples/ipvsadm -R` (with `--ipvsadm-example PATH`); the library's batched
//!   [`Ipvs::apply`]; and the raw floor: the same requests, encoded before the clock
//!   starts, only sent and acknowledged on a plain netlink socket (the kernel's own cost).
//!   Each apply runs in a network namespace of its own, created for it, and the next step
//!   waits until the guest is idle again after the namespace is deleted: a table flushed
//!   in the same namespace leaves the kernel slower for the next load (deleted
//!   destinations stay on a trash list that every later `NEW_DEST` walks; a load right
//!   after a flush was measured 2.8 to 3.5 times slower), which would favour whoever
//!   goes first. The order of the four is rotated from run to run;
//! - **dump** the table `ipvsadm -R` loaded, in its namespace: `ipvsadm -S -n` and
//!   `ipvsadm -L -n` (output to /dev/null), the drop-in's `-S -n`, the library's
//!   [`Ipvs::table`] and [`Ipvs::for_each_entry`], and a raw dump floor;
//! - the peak resident memory of a process that does nothing but the full dump;
//! - **scrape**: the exporter's work for one scrape of the table ipvsadm loaded,
//!   [`lvs::metrics::Exporter::scrape`] (the table read once with its stats, and rendered);
//! - with `--datagrams`, in the first run: the service dump alone and the destination
//!   dumps alone, raw, on sockets offering datagrams of `NLMSG_GOODSIZE`, a page and
//!   32 KiB (why the library uses one size for each).
//!
//! - one-weight **updates** of the loaded table (`--updates N`, default 21; `--updates-only`
//!   runs nothing else): the median of N changes of one destination's weight, each on a
//!   service not changed before, through one `Ipvs::update_destination` request (the floor),
//!   a [`Reconciler`] (`upsert_destination` + `apply`: no dump), `Reconciler::reconcile` (the
//!   whole desired table planned against its cache, no dump), `ipvsadm -e` (one command,
//!   process start included), and, fewer times (at most 5), `Ipvs::reconcile` (a full dump,
//!   a plan, one write); and the one full read of `Reconciler::from_kernel`.
//!
//! With `--scrape-only`, only the scrape is measured, on a table the library loads (and the
//! read and the rendering apart): `scripts/bench.sh -- --scrape-only --shape 10000x4`.
//!
//! Commands are started from a thread that has entered the namespace, without a `pre_exec`
//! hook (so with `posix_spawn`, not a `fork` of this large process).
//!
//! Output: a Markdown table per shape, times in milliseconds, with ratios.
//!
//! It runs only when built with `--cfg lvs_kernel_tests` (as `scripts/bench.sh` builds it);
//! otherwise (`cargo bench` on a host) it says so and does nothing.

#![cfg_attr(not(lvs_kernel_tests), allow(dead_code, unused_imports))]

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lvs::client::{Op, ReconcileOptions, Reconciler};
use lvs::transport::KernelTransport;
use lvs::wire::{frame_request, IpvsMessage};
use lvs::{Destination, Ipvs, Scheduler, Service, ServiceEntry, ServiceId};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr as NlAddr};

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Args {
    shapes: Vec<(u32, u32)>,
    runs: usize,
    example: Option<String>,
    datagrams: bool,
    scrape_only: bool,
    /// How many one-weight updates to time per method.
    updates: usize,
    /// Time only the updates.
    updates_only: bool,
}

fn parse_args() -> Res<Option<Args>> {
    let mut shapes = Vec::new();
    let mut runs = 3;
    let mut example = None;
    let mut datagrams = false;
    let mut scrape_only = false;
    let mut updates = 21;
    let mut updates_only = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--shape" => {
                let v = it.next().ok_or("--shape needs SERVICESxDESTS")?;
                let (s, d) = v.split_once('x').ok_or("--shape is SERVICESxDESTS")?;
                shapes.push((s.parse()?, d.parse()?));
            }
            "--runs" => runs = it.next().ok_or("--runs needs a number")?.parse()?,
            "--ipvsadm-example" => example = Some(it.next().ok_or("--ipvsadm-example PATH")?),
            "--datagrams" => datagrams = true,
            "--scrape-only" => scrape_only = true,
            "--updates" => updates = it.next().ok_or("--updates needs a number")?.parse()?,
            "--updates-only" => updates_only = true,
            "--dump-child" => {
                dump_child(&it.next().ok_or("--dump-child NETNS")?)?;
                return Ok(None);
            }
            // cargo bench passes --bench.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if shapes.is_empty() {
        shapes = vec![(10_000, 4), (1_000, 50)];
    }
    Ok(Some(Args {
        shapes,
        runs,
        example,
        datagrams,
        scrape_only,
        updates: updates.max(1),
        updates_only,
    }))
}

/// The peak-memory probe: dump the whole table, print the counts and the peak resident
/// size in KiB.
fn dump_child(netns: &str) -> Res<()> {
    let mut ipvs = Ipvs::in_netns(netns)?;
    if std::env::var_os("LVS_BENCH_TRACE").is_some() {
        let hwm = || {
            std::fs::read_to_string("/proc/self/status")
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        eprintln!("open: {}", hwm());
        let s = ipvs.services()?;
        eprintln!("services ({}): {}", s.len(), hwm());
        let d = ipvs.destinations(&s[0].id)?;
        eprintln!("one destinations ({}): {}", d.len(), hwm());
        let mut n = 0;
        for svc in &s {
            n += ipvs.destinations(&svc.id)?.len();
        }
        eprintln!("all destinations, dropped ({n}): {}", hwm());
    }
    let table = ipvs.table()?;
    let dests: usize = table.iter().map(|e| e.destinations.len()).sum();
    // The peak of this process's own memory (VmHWM): getrusage's ru_maxrss would not do,
    // as Linux carries the parent's resident size over fork and exec into it.
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no VmHWM in /proc/self/status")?
        .parse()?;
    println!("{} {} {}", table.len(), dests, hwm_kib);
    Ok(())
}

fn service(i: u32) -> Service {
    let ip = Ipv4Addr::from(0x0a00_0000 + i + 1);
    Service::tcp(SocketAddr::new(IpAddr::V4(ip), 80))
        .scheduler(Scheduler::Wrr)
        .build()
        .expect("a valid service")
}

fn destination(j: u32) -> Destination {
    let ip = Ipv4Addr::from(0xac10_0000 + j + 1);
    Destination::builder(SocketAddr::new(IpAddr::V4(ip), 8080))
        .masquerade()
        .weight(j % 10 + 1)
        .build()
        .expect("a valid destination")
}

struct Table {
    ops: Vec<Op>,
    rules: String,
}

fn table(services: u32, dests: u32) -> Table {
    let mut ops = Vec::with_capacity((services * (dests + 1)) as usize);
    let mut rules = String::new();
    for i in 0..services {
        let s = service(i);
        let ServiceId::Addr { addr, .. } = s.id else {
            unreachable!("a TCP service")
        };
        rules.push_str(&format!("-A -t {addr} -s wrr\n"));
        ops.push(Op::AddService(s.clone()));
        for j in 0..dests {
            let d = destination(j);
            rules.push_str(&format!(
                "-a -t {addr} -r {} -m -w {}\n",
                d.socket_addr(),
                d.weight
            ));
            ops.push(Op::AddDestination(s.id, d));
        }
    }
    Table { ops, rules }
}

/// A network namespace of the benchmark's own, with `lo` up; deleted on drop.
struct Netns {
    name: String,
    /// `/run/netns/NAME`, open, for entering it in a child before exec.
    file: std::fs::File,
}

impl Netns {
    fn new(name: String) -> Res<Netns> {
        let ok = |st: std::process::ExitStatus, what: &str| -> Res<()> {
            if st.success() {
                Ok(())
            } else {
                Err(format!("{what} failed: {st}").into())
            }
        };
        ok(
            Command::new("ip").args(["netns", "add", &name]).status()?,
            "ip netns add",
        )?;
        ok(
            Command::new("ip")
                .args(["-n", &name, "link", "set", "lo", "up"])
                .status()?,
            "ip link set lo up",
        )?;
        let file = std::fs::File::open(format!("/run/netns/{name}"))?;
        Ok(Netns { name, file })
    }

    /// Run `program args` inside the namespace with `input` on stdin (stdout discarded);
    /// its wall time ([`time_command`]).
    ///
    /// The child is started from a thread that has entered the namespace (a child starts in
    /// its parent thread's namespace), so that it can be spawned without a `pre_exec` hook:
    /// with one, the standard library must `fork` this process, which holds the whole table
    /// several times over, and copying its page tables cost tens of milliseconds a spawn in
    /// the emulated guest, charged to whichever command was timed; without one, it uses
    /// `posix_spawn` (a `vfork`), whose cost does not depend on this process's size.
    fn time(&self, program: &str, args: &[&str], input: Option<&str>) -> Res<Duration> {
        let file = &self.file;
        std::thread::scope(|s| {
            s.spawn(|| -> Result<Duration, String> {
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| e.to_string())?;
                let mut cmd = Command::new(program);
                cmd.args(args);
                time_command(cmd, input).map_err(|e| e.to_string())
            })
            .join()
            .map_err(|_| "the spawning thread panicked".to_owned())?
        })
        .map_err(Into::into)
    }

    fn ipvs(&self) -> Res<Ipvs> {
        Ok(Ipvs::in_netns(&self.name)?)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Total and idle (idle + iowait) CPU time of the guest so far, in clock ticks.
fn cpu_times() -> Res<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().ok_or("empty /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let total = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok((total, idle))
}

/// Wait until the guest is idle (at least 90% idle in two half-second samples in a row):
/// deleting a namespace that holds a large table frees it in kernel workers afterwards,
/// and RCU callbacks and estimator work of earlier steps must not run inside the next
/// timed step.
fn wait_idle() -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut prev = cpu_times()?;
    let mut quiet = 0;
    while quiet < 2 {
        std::thread::sleep(Duration::from_millis(500));
        let now = cpu_times()?;
        let (total, idle) = (now.0 - prev.0, now.1 - prev.1);
        prev = now;
        quiet = if total > 0 && idle * 10 >= total * 9 {
            quiet + 1
        } else {
            0
        };
        if Instant::now() > deadline {
            eprintln!("warning: the guest did not go idle in 300 s");
            break;
        }
    }
    Ok(())
}

/// Run `cmd` with `input` on stdin and stdout discarded; its wall time.
fn time_command(mut cmd: Command, input: Option<&str>) -> Res<Duration> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .spawn()?;
    if let Some(text) = input {
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(text.as_bytes())?;
    }
    let st = child.wait()?;
    let elapsed = start.elapsed();
    if !st.success() {
        return Err(format!("{cmd:?} failed: {st}").into());
    }
    Ok(elapsed)
}

/// The raw floor: pre-encoded requests in datagrams of at most 32 KiB, sent and
/// acknowledged.
struct Raw {
    datagrams: Vec<Vec<u8>>,
    /// The dump requests of the raw dump floor: all services, then each one's destinations.
    dumps: Vec<Vec<u8>>,
}

/// A plain generic netlink socket in `ns`, bound and connected to the kernel, with the
/// library's receive buffer (4 MiB).
fn raw_socket(ns: &Netns) -> Res<Socket> {
    // Created on a thread that enters the namespace, so this thread stays where it is (a
    // socket belongs to the namespace it was created in).
    let file = ns.file.try_clone()?;
    std::thread::spawn(move || -> Result<Socket, String> {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|x| e(&x))?;
        let mut socket = Socket::new(NETLINK_GENERIC).map_err(|x| e(&x))?;
        socket.bind_auto().map_err(|x| e(&x))?;
        socket.connect(&NlAddr::new(0, 0)).map_err(|x| e(&x))?;
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &(4 << 20))
            .map_err(|x| e(&x))?;
        Ok(socket)
    })
    .join()
    .map_err(|_| "the socket thread panicked")?
    .map_err(Into::into)
}

fn raw_prepare(ops: &[Op]) -> Res<Raw> {
    let family = KernelTransport::open()?.family_id();
    let mut datagrams = Vec::new();
    let (mut cur, mut count, mut last) = (Vec::new(), 0, 0);
    for (i, op) in ops.iter().enumerate() {
        let seq = u32::try_from(i)?.wrapping_add(1);
        let mut frame = frame_request(IpvsMessage::from(op), family, seq, false);
        // As the library frames a batch: only the last request of a datagram asks for an
        // acknowledgement (`ack_last`).
        frame[6..8].copy_from_slice(&netlink_packet_core::NLM_F_REQUEST.to_ne_bytes());
        last = cur.len();
        cur.extend_from_slice(&frame);
        count += 1;
        // The library's own limits per datagram (32 KiB, 128 requests).
        if cur.len() >= 32 * 1024 || count == 128 {
            datagrams.push(ack_last(std::mem::take(&mut cur), last));
            count = 0;
        }
    }
    if count > 0 {
        datagrams.push(ack_last(cur, last));
    }
    let mut dumps = vec![frame_request(IpvsMessage::dump_services(), family, 1, true)];
    for op in ops {
        if let Op::AddService(s) = op {
            dumps.push(frame_request(
                IpvsMessage::dump_dests(&s.id),
                family,
                1,
                true,
            ));
        }
    }
    Ok(Raw { datagrams, dumps })
}

/// The raw dump floor: the same dumps as a full table read, pre-encoded, and the replies
/// only received (as the library does, with `recvmmsg`) and counted, not decoded, on one
/// socket for the service dump (offering 32 KiB datagrams) and one for the destination
/// dumps (offering `NLMSG_GOODSIZE`, 3,776 bytes on 4 KiB pages), as the library does.
/// Returns the time and the number of messages.
fn raw_dump(services: &Socket, dests: &Socket, raw: &Raw) -> Res<(Duration, usize)> {
    let (a, m) = dump_with(services, &raw.dumps[..1], BIG_SLOT)?;
    let (b, n) = dump_with(dests, &raw.dumps[1..], GOODSIZE)?;
    Ok((a + b, m + n))
}

/// The kernel's cap for a dump datagram, rounded up.
const BIG_SLOT: usize = 32 * 1024;
/// `NLMSG_GOODSIZE` on a 64-bit kernel with 4 KiB pages.
const GOODSIZE: usize = 4096 - 320;

/// Send each of `requests` (dumps) on `socket` and receive its replies into slots of `slot`
/// bytes (the kernel sizes the datagrams of a socket to the largest buffer it was ever
/// offered); the time and the number of messages.
fn dump_with(socket: &Socket, requests: &[Vec<u8>], slot: usize) -> Res<(Duration, usize)> {
    let mut slots = vec![0u8; slot * (256 * 1024 / slot).max(8)];
    let start = Instant::now();
    let mut messages = 0;
    for request in requests {
        socket.send(request, 0)?;
        'dump: loop {
            for (i, n) in recv_many(socket, &mut slots, slot)?.into_iter().enumerate() {
                let buf = &slots[i * slot..i * slot + n];
                let mut off = 0;
                while off + 16 <= n {
                    let len = u32::from_ne_bytes(buf[off..off + 4].try_into()?) as usize;
                    let kind = u16::from_ne_bytes(buf[off + 4..off + 6].try_into()?);
                    if kind == netlink_packet_core::NLMSG_DONE {
                        break 'dump;
                    }
                    if kind == netlink_packet_core::NLMSG_ERROR {
                        return Err("raw dump refused".into());
                    }
                    messages += 1;
                    off += (len.max(16) + 3) & !3;
                }
            }
        }
    }
    Ok((start.elapsed(), messages))
}

/// `--datagrams`: the service dump alone and the destination dumps alone, each on a fresh
/// socket offering datagrams of `NLMSG_GOODSIZE`, a page and 32 KiB (the measurement behind
/// the library's choice of one size per kind of dump), as a Markdown table.
fn datagram_sizes(ns: &Netns, raw: &Raw, services: u32) -> Res<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    writeln!(out)?;
    writeln!(
        out,
        "Datagram size offered, {services} services (first run, raw dumps, not decoded):"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| offered per datagram | service dump | destination dumps |"
    )?;
    writeln!(out, "| --- | ---: | ---: |")?;
    for slot in [GOODSIZE, 4096, BIG_SLOT] {
        let (a, _) = dump_with(&raw_socket(ns)?, &raw.dumps[..1], slot)?;
        let (b, _) = dump_with(&raw_socket(ns)?, &raw.dumps[1..], slot)?;
        writeln!(out, "| {slot} bytes | {} ms | {} ms |", ms(a), ms(b))?;
    }
    Ok(out)
}

/// Receive what is queued (waiting for the first datagram) with one `recvmmsg` into the
/// slots of `size` bytes in `slots`; the lengths received.
fn recv_many(socket: &Socket, slots: &mut [u8], size: usize) -> Res<Vec<usize>> {
    use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, NetlinkAddr};
    use std::os::fd::AsRawFd;
    let count = slots.len() / size;
    let mut headers = MultiHeaders::<NetlinkAddr>::preallocate(count, None);
    let mut iov: Vec<[std::io::IoSliceMut<'_>; 1]> = slots
        .chunks_mut(size)
        .map(|c| [std::io::IoSliceMut::new(c)])
        .collect();
    let res = recvmmsg(
        socket.as_raw_fd(),
        &mut headers,
        iov.iter_mut(),
        MsgFlags::MSG_WAITFORONE,
        None,
    )?;
    Ok(res.map(|r| r.bytes).collect())
}

/// `datagram` with its last request, at byte `at`, asking for an acknowledgement.
fn ack_last(mut datagram: Vec<u8>, at: usize) -> Vec<u8> {
    let flags = netlink_packet_core::NLM_F_REQUEST | netlink_packet_core::NLM_F_ACK;
    datagram[at + 6..at + 8].copy_from_slice(&flags.to_ne_bytes());
    datagram
}

/// The raw apply floor: each datagram sent, and its one acknowledgement read (any refusal
/// is an error).
fn raw_send(socket: &Socket, raw: &Raw) -> Res<Duration> {
    const SLOT: usize = 4096;
    let mut slots = vec![0u8; SLOT * 64];
    let start = Instant::now();
    for datagram in &raw.datagrams {
        socket.send(datagram, 0)?;
        let mut acked = 0;
        while acked < 1 {
            for (i, n) in recv_many(socket, &mut slots, SLOT)?.into_iter().enumerate() {
                let buf = &slots[i * SLOT..i * SLOT + n];
                let mut off = 0;
                while off + 20 <= n {
                    let len = u32::from_ne_bytes(buf[off..off + 4].try_into()?) as usize;
                    let kind = u16::from_ne_bytes(buf[off + 4..off + 6].try_into()?);
                    if kind == netlink_packet_core::NLMSG_ERROR {
                        let code = i32::from_ne_bytes(buf[off + 16..off + 20].try_into()?);
                        if code != 0 {
                            return Err(format!("raw request refused: errno {}", -code).into());
                        }
                        acked += 1;
                    }
                    off += (len.max(16) + 3) & !3;
                }
            }
        }
    }
    Ok(start.elapsed())
}

/// `--scrape-only`: the exporter's scrape of a table the library loads, and its two parts
/// (the read, `Ipvs::stats_snapshot`, and the rendering) apart; the exporter has seen the
/// table before each timed scrape, as a long-running one has.
#[cfg(lvs_kernel_tests)]
fn scrape_bench(services: u32, dests: u32, runs: usize) -> Res<()> {
    let t = table(services, dests);
    let ns = Netns::new("lvs-bench-scrape".into())?;
    let mut ipvs = ns.ipvs()?;
    ipvs.apply(&t.ops)?.into_result()?;
    check_loaded(&mut ipvs, services, dests)?;
    let mut exporter = lvs::metrics::Exporter::new();
    exporter.scrape(&mut ipvs)?;
    let (mut whole, mut read, mut render, mut bytes) = (vec![], vec![], vec![], 0);
    for _ in 0..runs {
        wait_idle()?;
        let start = Instant::now();
        let text = exporter.scrape(&mut ipvs)?;
        whole.push(start.elapsed());
        bytes = text.len();
        drop(text);
        let start = Instant::now();
        let snap = ipvs.stats_snapshot()?;
        read.push(start.elapsed());
        let start = Instant::now();
        let text = exporter.render(&snap);
        render.push(start.elapsed());
        drop(text);
    }
    println!();
    println!("## scrape: {services} services x {dests} destinations, median of {runs} runs");
    println!();
    println!("| measure | ms (median) | each run, ms |");
    println!("| --- | ---: | --- |");
    let (whole_each, read_each, render_each) = (each(&whole), each(&read), each(&render));
    println!(
        "| `Exporter::scrape` (read + render, {:.1} MB of text) | {} | {whole_each} |",
        bytes as f64 / 1e6,
        ms(median(whole))
    );
    println!(
        "| read: `Ipvs::stats_snapshot` | {} | {read_each} |",
        ms(median(read))
    );
    println!(
        "| render: `Exporter::render` | {} | {render_each} |",
        ms(median(render))
    );
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Each run's time, in the order they ran, for the spread.
fn each(runs: &[Duration]) -> String {
    runs.iter().map(|&d| ms(d)).collect::<Vec<_>>().join(" / ")
}

fn check_loaded(ipvs: &mut Ipvs, services: u32, dests: u32) -> Res<()> {
    let t = ipvs.table()?;
    let n: usize = t.iter().map(|e| e.destinations.len()).sum();
    if t.len() != services as usize || n != (services * dests) as usize {
        return Err(format!("table has {} services, {n} destinations", t.len()).into());
    }
    Ok(())
}

#[cfg(not(lvs_kernel_tests))]
fn main() {
    eprintln!("benches/guest.rs needs a real IPVS kernel: run it with scripts/bench.sh");
}

#[cfg(lvs_kernel_tests)]
fn main() -> Res<()> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")?;
    println!("# lvs guest benchmark, kernel {}", kernel.trim());
    #[derive(Clone, Copy, PartialEq)]
    enum Who {
        Ipvsadm,
        Example,
        Library,
        Raw,
    }
    if args.scrape_only {
        for &(services, dests) in &args.shapes {
            scrape_bench(services, dests, args.runs)?;
        }
        return Ok(());
    }
    for &(services, dests) in &args.shapes {
        if args.updates_only {
            print!("{}", update_bench(services, dests, args.updates)?);
            continue;
        }
        let t = table(services, dests);
        let raw = raw_prepare(&t.ops)?;
        let (mut ip_r, mut ex_r, mut lib_r, mut raw_r) = (vec![], vec![], vec![], vec![]);
        let (mut ip_s, mut ip_l, mut ex_s, mut lib_t, mut lib_w, mut raw_d) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut scrapes, mut scrape_bytes) = (vec![], 0);
        let mut peak_kib = 0u64;
        let mut datagram_text = String::new();
        let mut who = vec![Who::Ipvsadm, Who::Library, Who::Raw];
        if args.example.is_some() {
            who.insert(1, Who::Example);
        }
        for run in 0..args.runs {
            let mut order = who.clone();
            order.rotate_left(run % who.len());
            for w in order {
                let ns = Netns::new(format!("lvs-bench-{run}-{}", w as u8))?;
                wait_idle()?;
                match w {
                    Who::Ipvsadm => ip_r.push(ns.time("ipvsadm", &["-R"], Some(&t.rules))?),
                    Who::Example => {
                        let ex = args.example.as_deref().ok_or("no example")?;
                        ex_r.push(ns.time(ex, &["-R"], Some(&t.rules))?);
                    }
                    Who::Library => {
                        let mut ipvs = ns.ipvs()?;
                        let start = Instant::now();
                        let outcome = ipvs.apply(&t.ops)?;
                        lib_r.push(start.elapsed());
                        outcome.into_result()?;
                    }
                    Who::Raw => {
                        let socket = raw_socket(&ns)?;
                        raw_r.push(raw_send(&socket, &raw)?);
                    }
                }
                let mut ipvs = ns.ipvs()?;
                check_loaded(&mut ipvs, services, dests)?;
                if w != Who::Ipvsadm {
                    continue;
                }
                // The dumps, all of the table ipvsadm loaded.
                wait_idle()?;
                ip_s.push(ns.time("ipvsadm", &["-S", "-n"], None)?);
                ip_l.push(ns.time("ipvsadm", &["-L", "-n"], None)?);
                if let Some(ex) = &args.example {
                    ex_s.push(ns.time(ex, &["-S", "-n"], None)?);
                }
                let (services_socket, dests_socket) = (raw_socket(&ns)?, raw_socket(&ns)?);
                let (d, messages) = raw_dump(&services_socket, &dests_socket, &raw)?;
                if messages != (services * (dests + 1)) as usize {
                    return Err(format!("the raw dump read {messages} messages").into());
                }
                raw_d.push(d);
                let start = Instant::now();
                let table = ipvs.table()?;
                lib_t.push(start.elapsed());
                drop(table);
                let start = Instant::now();
                let mut n = 0usize;
                ipvs.for_each_entry(|e| {
                    n += e.destinations.len();
                    Ok(())
                })?;
                lib_w.push(start.elapsed());
                if n != (services * dests) as usize {
                    return Err("the walk missed destinations".into());
                }
                let mut exporter = lvs::metrics::Exporter::new();
                let start = Instant::now();
                let text = exporter.scrape(&mut ipvs)?;
                scrapes.push(start.elapsed());
                scrape_bytes = text.len();
                drop(text);
                let out = Command::new(std::env::current_exe()?)
                    .args(["--dump-child", &ns.name])
                    .output()?;
                let text = String::from_utf8_lossy(&out.stdout);
                let kib: u64 = text
                    .split_whitespace()
                    .nth(2)
                    .ok_or("no output from the dump child")?
                    .parse()?;
                peak_kib = peak_kib.max(kib);
                if args.datagrams && run == 0 {
                    datagram_text = datagram_sizes(&ns, &raw, services)?;
                }
            }
        }
        let (ip_r_each, lib_r_each, raw_r_each, ex_r_each) =
            (each(&ip_r), each(&lib_r), each(&raw_r), each(&ex_r));
        let (ip_s_each, ip_l_each, ex_s_each) = (each(&ip_s), each(&ip_l), each(&ex_s));
        let (lib_t_each, lib_w_each, raw_d_each) = (each(&lib_t), each(&lib_w), each(&raw_d));
        let (ip_r, lib_r, raw_r) = (median(ip_r), median(lib_r), median(raw_r));
        let (ip_s, ip_l, lib_t, lib_w) = (median(ip_s), median(ip_l), median(lib_t), median(lib_w));
        let ratio = |a: Duration, b: Duration| format!("{:.2}", a.as_secs_f64() / b.as_secs_f64());
        println!();
        println!(
            "## {services} services x {dests} destinations ({} operations), median of {} runs",
            t.ops.len(),
            args.runs
        );
        println!();
        println!("| measure | ms (median) | each run, ms | ratio |");
        println!("| --- | ---: | --- | --- |");
        println!("| apply: `ipvsadm -R` | {} | {ip_r_each} | |", ms(ip_r));
        println!(
            "| apply: raw floor (pre-encoded, send + ack) | {} | {raw_r_each} | |",
            ms(raw_r)
        );
        println!(
            "| apply: library `Ipvs::apply` | {} | {lib_r_each} | {}x faster than ipvsadm -R; {} of the raw floor |",
            ms(lib_r),
            ratio(ip_r, lib_r),
            ratio(lib_r, raw_r)
        );
        if !ex_r.is_empty() {
            let ex_r = median(ex_r);
            println!(
                "| apply: `examples/ipvsadm -R` | {} | {ex_r_each} | {}x faster than ipvsadm -R; {} of the raw floor |",
                ms(ex_r),
                ratio(ip_r, ex_r),
                ratio(ex_r, raw_r)
            );
        }
        println!("| dump: `ipvsadm -S -n` | {} | {ip_s_each} | |", ms(ip_s));
        println!("| dump: `ipvsadm -L -n` | {} | {ip_l_each} | |", ms(ip_l));
        let raw_d = median(raw_d);
        println!(
            "| dump: raw floor (pre-encoded, replies received, not decoded) | {} | {raw_d_each} | {}x faster than ipvsadm -S -n |",
            ms(raw_d),
            ratio(ip_s, raw_d)
        );
        println!(
            "| dump: library `Ipvs::table` | {} | {lib_t_each} | {}x faster than ipvsadm -S -n |",
            ms(lib_t),
            ratio(ip_s, lib_t)
        );
        println!(
            "| dump: library `Ipvs::for_each_entry` | {} | {lib_w_each} | {}x faster than ipvsadm -S -n |",
            ms(lib_w),
            ratio(ip_s, lib_w)
        );
        if !ex_s.is_empty() {
            let ex_s = median(ex_s);
            println!(
                "| dump: `examples/ipvsadm -S -n` | {} | {ex_s_each} | {}x faster than ipvsadm -S -n |",
                ms(ex_s),
                ratio(ip_s, ex_s)
            );
        }
        let scrapes_each = each(&scrapes);
        let scrape = median(scrapes);
        println!(
            "| scrape: `lvs::metrics::Exporter::scrape` (read with stats + render, {:.1} MB of text) | {} | {scrapes_each} | {} of `Ipvs::table` |",
            scrape_bytes as f64 / 1e6,
            ms(scrape),
            ratio(scrape, lib_t)
        );
        println!(
            "| peak RSS of a process doing the full dump | {:.1} MiB | | |",
            peak_kib as f64 / 1024.0
        );
        print!("{datagram_text}");
        print!("{}", update_bench(services, dests, args.updates)?);
    }
    Ok(())
}

/// The one-weight updates of a `services` x `dests` table (loaded with `Ipvs::apply` in a
/// namespace of its own): `n` of each (at most 5 of `Ipvs::reconcile`), each changing the
/// weight of the first destination of a service no method changed before, as a Markdown
/// table with ratios to the single request.
#[cfg(lvs_kernel_tests)]
fn update_bench(services: u32, dests: u32, n: usize) -> Res<String> {
    use std::fmt::Write as _;
    const METHODS: usize = 5;
    if (services as usize) < METHODS * n || dests == 0 {
        return Err(format!(
            "--updates {n} needs {} services with destinations",
            METHODS * n
        )
        .into());
    }
    let t = table(services, dests);
    let mut desired: Vec<ServiceEntry> = (0..services)
        .map(|i| ServiceEntry {
            service: service(i),
            destinations: (0..dests).map(destination).collect(),
        })
        .collect();
    let ns = Netns::new("lvs-bench-updates".to_owned())?;
    let mut ipvs = ns.ipvs()?;
    ipvs.apply(&t.ops)?.into_result()?;
    check_loaded(&mut ipvs, services, dests)?;
    // The k-th change of method m: service m * n + k, its first destination, weight 20 + k
    // (it was 1): a change every time.
    let change = |desired: &mut [ServiceEntry], m: usize, k: usize| -> (usize, Destination) {
        let i = m * n + k;
        let mut d = desired[i].destinations[0].clone();
        d.weight = 20 + k as u32;
        desired[i].destinations[0] = d.clone();
        (i, d)
    };
    let id = |i: usize| service(i as u32).id;
    let (mut single, mut delta, mut whole, mut full, mut adm) =
        (vec![], vec![], vec![], vec![], vec![]);

    // The ones that write behind a reconciler's back first, then the reconciler, built
    // after them (one full read).
    wait_idle()?;
    for k in 0..n {
        let (i, d) = change(&mut desired, 0, k);
        let start = Instant::now();
        ipvs.update_destination(&id(i), &d)?;
        single.push(start.elapsed());
    }
    wait_idle()?;
    for k in 0..n {
        let (i, d) = change(&mut desired, 1, k);
        let ServiceId::Addr { addr, .. } = id(i) else {
            unreachable!("a TCP service")
        };
        let (vip, rip, w) = (
            addr.to_string(),
            d.socket_addr().to_string(),
            d.weight.to_string(),
        );
        adm.push(ns.time(
            "ipvsadm",
            &["-e", "-t", &vip, "-r", &rip, "-m", "-w", &w],
            None,
        )?);
    }
    for k in 0..n.min(5) {
        wait_idle()?;
        change(&mut desired, 2, k);
        let start = Instant::now();
        let report = ipvs.reconcile(&desired, &ReconcileOptions::exact())?;
        full.push(start.elapsed());
        if report.ops.len() != 1 {
            return Err(format!("Ipvs::reconcile planned {} writes", report.ops.len()).into());
        }
        let _applied = report.into_result()?;
    }
    wait_idle()?;
    let start = Instant::now();
    let mut rec = Reconciler::from_kernel(&mut ipvs, ReconcileOptions::exact())?;
    let build = start.elapsed();
    wait_idle()?;
    for k in 0..n {
        let (i, d) = change(&mut desired, 3, k);
        let start = Instant::now();
        rec.upsert_destination(&id(i), &d)?;
        let report = rec.apply(&mut ipvs, Instant::now())?;
        delta.push(start.elapsed());
        if report.ops.len() != 1 || report.resynced {
            return Err(
                format!("the reconciler sent {} writes ({report})", report.ops.len()).into(),
            );
        }
        let _applied = report.into_result()?;
    }
    wait_idle()?;
    for k in 0..n {
        change(&mut desired, 4, k);
        let start = Instant::now();
        let report = rec.reconcile(&mut ipvs, &desired, Instant::now())?;
        whole.push(start.elapsed());
        if report.ops.len() != 1 || report.resynced {
            return Err(format!(
                "Reconciler::reconcile sent {} writes ({report})",
                report.ops.len()
            )
            .into());
        }
        let _applied = report.into_result()?;
    }
    // The kernel holds what all of them were told.
    if !lvs::model::same_config(&ipvs.table()?, &desired) {
        return Err("after the updates, the table is not the desired one".into());
    }

    let spread = |v: &[Duration]| -> String {
        let (lo, hi) = (v.iter().min(), v.iter().max());
        match (lo, hi) {
            (Some(&lo), Some(&hi)) => format!("{} .. {}", ms3(lo), ms3(hi)),
            _ => String::new(),
        }
    };
    let ratio = |a: Duration, b: Duration| format!("{:.2}", a.as_secs_f64() / b.as_secs_f64());
    let (s_spread, d_spread, w_spread, a_spread) = (
        spread(&single),
        spread(&delta),
        spread(&whole),
        spread(&adm),
    );
    let f_each = full.iter().map(|&d| ms3(d)).collect::<Vec<_>>().join(" / ");
    let (full_runs, single, delta, whole, full, adm) = (
        full.len(),
        median(single),
        median(delta),
        median(whole),
        median(full),
        median(adm),
    );
    let mut out = String::new();
    writeln!(out)?;
    writeln!(
        out,
        "### One-weight update of {services} services x {dests} destinations, median of {n} ({full_runs} for `Ipvs::reconcile`)"
    )?;
    writeln!(out)?;
    writeln!(out, "| measure | ms (median) | runs, ms | ratio |")?;
    writeln!(out, "| --- | ---: | --- | --- |")?;
    writeln!(
        out,
        "| update: one `Ipvs::update_destination` request | {} | {s_spread} | 1 (the floor) |",
        ms3(single)
    )?;
    writeln!(
        out,
        "| update: `Reconciler` delta (`upsert_destination` + `apply`, no dump) | {} | {d_spread} | {}x the single request |",
        ms3(delta),
        ratio(delta, single)
    )?;
    writeln!(
        out,
        "| update: `Reconciler::reconcile` (whole desired table against its cache, no dump) | {} | {w_spread} | {}x the single request |",
        ms3(whole),
        ratio(whole, single)
    )?;
    writeln!(
        out,
        "| update: `Ipvs::reconcile` (full dump, plan, one write) | {} | {f_each} | {}x the single request; {}x the `Reconciler` delta |",
        ms3(full),
        ratio(full, single),
        ratio(full, delta)
    )?;
    writeln!(
        out,
        "| update: `ipvsadm -e` (one command, process start included) | {} | {a_spread} | {}x the single request; {}x the `Reconciler` delta |",
        ms3(adm),
        ratio(adm, single),
        ratio(adm, delta)
    )?;
    writeln!(
        out,
        "| `Reconciler::from_kernel` (one full read, once) | {} | | |",
        ms3(build)
    )?;
    Ok(out)
}

fn ms3(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}
