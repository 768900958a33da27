//! Shared helpers: a fresh network namespace per test (deleted on drop, also when the test
//! fails), ipvsadm and other commands run inside it, raw requests through the transport, and
//! assertions on typed kernel errors.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lvs::transport::{KernelTransport, RequestKind};
use lvs::wire::IpvsMessage;
use lvs::Service;

/// The handle the suite runs against: the blocking `Ipvs`, or built with `--cfg
/// lvs_kernel_tests_async` the async `AsyncIpvs` (behind a blocking face, `async_handle`).
#[cfg(not(lvs_kernel_tests_async))]
pub type Handle = lvs::Ipvs;
#[cfg(lvs_kernel_tests_async)]
#[path = "async_handle.rs"]
mod async_handle;
#[cfg(lvs_kernel_tests_async)]
pub type Handle = async_handle::BlockOn;

/// A network namespace of its own, `lvs-t-<tag>-<pid>-<n>`, with `lo` up (as any namespace in
/// use has it). Dropping it runs `ip netns del`.
pub struct Netns {
    name: String,
}

static NEXT_NS: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// A new namespace with `lo` up.
    pub fn new(tag: &str) -> Netns {
        let ns = Netns::bare(tag);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A new namespace exactly as `ip netns add` leaves it: `lo` down, no routes, not even
    /// the local routing table.
    pub fn bare(tag: &str) -> Netns {
        let n = NEXT_NS.fetch_add(1, Ordering::SeqCst);
        let name = format!("lvs-t-{tag}-{}-{n}", std::process::id());
        check(
            "ip",
            &["netns", "add", &name],
            run("ip", &["netns", "add", &name]),
        );
        Netns { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle on this namespace's IPVS (blocking or async, see [`Handle`]).
    pub fn ipvs(&self) -> Handle {
        Handle::in_netns(&self.name).unwrap_or_else(|e| panic!("in_netns({}): {e:?}", self.name))
    }

    /// Stop a daemon the test started, through `ipvs`; it must stop.
    ///
    /// Under TCG a `DEL_DAEMON` has gone unanswered for over a minute a few times in
    /// hundreds of runs (on 6.1 and 6.12), in tests that do nothing unusual. When that
    /// happens this prints what the kernel shows (the netlink sockets' queues and drops,
    /// stuck tasks' stacks, the IPVS kthreads, the kernel log) and then requires the daemon
    /// to be gone: the stop must still take effect, only its late or missing answer is
    /// tolerated.
    pub fn stop_daemon(&self, ipvs: &mut Handle, state: lvs::DaemonState) {
        let t0 = Instant::now();
        match ipvs.stop_daemon(state) {
            Ok(()) => {}
            Err(lvs::Error::Timeout { .. }) => {
                eprintln!(
                    "KERNEL STALL: DEL_DAEMON ({state}) in {} unanswered after {:.1?}\n{}",
                    self.name,
                    t0.elapsed(),
                    kernel_diagnostics(self)
                );
                wait_for(120, "the daemon to be gone after the stall", || {
                    let left = self.ipvs().daemons().ok()?;
                    (!left.iter().any(|d| d.state == state)).then_some(())
                });
                eprintln!(
                    "KERNEL STALL: the {state} daemon was gone {:.1?} after the request",
                    t0.elapsed()
                );
            }
            Err(e) => panic!("stop_daemon({state}) in {}: {e:?}", self.name),
        }
    }

    /// Run a program inside the namespace (`ip netns exec NAME PROGRAM ARGS...`).
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", &self.name, program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// `ip -n NAME ARGS...`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        check("ip", &all, run("ip", &all));
    }

    /// A bash script run inside the namespace, which must succeed.
    pub fn sh(&self, script: &str) -> String {
        let out = self.exec("bash", &["-c", script]);
        check("bash -c", &[script], out)
    }

    /// ipvsadm in the namespace; it must succeed. Returns its standard output.
    pub fn ipvsadm(&self, args: &[&str]) -> String {
        let out = self.exec("ipvsadm", args);
        let mut what = vec!["ipvsadm"];
        what.extend_from_slice(args);
        check(&format!("in {}", self.name), &what, out)
    }

    /// ipvsadm in the namespace; it must fail. Returns its standard error.
    pub fn ipvsadm_fails(&self, args: &[&str]) -> String {
        let out = self.exec("ipvsadm", args);
        assert!(
            !out.status.success(),
            "ipvsadm {args:?} succeeded but should have failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    }

    /// Several ipvsadm command lines, each of which must succeed.
    pub fn ipvsadm_lines(&self, lines: &[&str]) {
        for line in lines {
            let args: Vec<&str> = line.split_whitespace().collect();
            self.ipvsadm(&args);
        }
    }

    /// `ipvsadm -S -n`: the table as ipvsadm command lines, in ipvsadm's (sorted) order.
    pub fn save(&self) -> Vec<String> {
        lines(&self.ipvsadm(&["-S", "-n"]))
    }

    /// `ipvsadm -L -n OPTS...` without its header lines (version, column titles), each line's
    /// whitespace collapsed to single spaces.
    pub fn listing(&self, opts: &[&str]) -> Vec<String> {
        let mut args = vec!["-L", "-n"];
        args.extend_from_slice(opts);
        lines(&self.ipvsadm(&args))
            .into_iter()
            .filter(|l| {
                !l.starts_with("IP Virtual Server version")
                    && !l.starts_with("Prot LocalAddress")
                    && l != "-> RemoteAddress:Port"
                    && !l.starts_with("-> RemoteAddress:Port ")
            })
            .collect()
    }

    /// Give the namespace a dummy interface `d0` with `10.0.0.254/24` and `fd00::254/64`, so
    /// that packets to 10.0.0.0/24 and fd00::/64 leave through it (and through IPVS on the way).
    pub fn add_dummy_net(&self) {
        self.ip(&["link", "add", "d0", "type", "dummy"]);
        self.ip(&["link", "set", "d0", "up"]);
        self.ip(&["addr", "add", "10.0.0.254/24", "dev", "d0"]);
        self.ip(&["addr", "add", "fd00::254/64", "dev", "d0", "nodad"]);
    }

    /// Send `count` UDP datagrams to `addr:port` from inside the namespace (bash's
    /// `/dev/udp`); IPVS schedules each as a connection of its own (new source port).
    pub fn send_udp(&self, addr: &str, port: u16, count: usize) {
        self.sh(&format!(
            "for i in $(seq {count}); do echo lvs-test > /dev/udp/{addr}/{port}; done"
        ));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = run("ip", &["netns", "del", &self.name]);
        if !out.status.success() && !std::thread::panicking() {
            panic!(
                "ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn check(context: &str, what: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "{context}: {what:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Non-empty lines, whitespace collapsed.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Compare lines with expected ones, showing both in full on a difference.
#[track_caller]
pub fn assert_lines(got: &[String], want: &[&str]) {
    assert!(
        got == want,
        "lines differ\n--- got:\n{}\n--- want:\n{}\n",
        got.join("\n"),
        want.join("\n")
    );
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad socket address {s}: {e}"))
}

/// The running kernel's `(major, minor)`.
pub fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let mut parts = release.trim().split(['.', '-', '+']);
    let mut num = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (num(), num())
}

/// The running kernel's upstream version (Debian's `/proc/version` names it).
pub fn running() -> lvs::KernelVersion {
    lvs::KernelVersion::running().expect("the running kernel's version")
}

/// What the crate's table of kernel facts says of the running kernel: each kernel behaviour
/// a test checks is stated there for version ranges, and the mock's profiles follow it.
pub fn expected() -> lvs::Capabilities {
    lvs::Capabilities::expected(running())
}

/// `uname -r`.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .expect("osrelease")
        .trim()
        .to_owned()
}

/// One service read back by the library must carry the configuration that was written.
#[track_caller]
pub fn assert_same_service(got: &Service, want: &Service) {
    assert!(
        got.same_config(want),
        "service read back differs\n  got:  {got:?}\n  want: {want:?}"
    );
    assert_eq!(got.id, want.id);
    assert_eq!(got.scheduler, want.scheduler);
    assert_eq!(got.sched_flags, want.sched_flags);
    assert_eq!(got.persistence, want.persistence);
    assert_eq!(got.one_packet, want.one_packet);
    assert_eq!(got.pe, want.pe);
    assert!(got.stats.is_some(), "a service read back has stats");
}

/// Send a raw request through the handle's transport, bypassing the client's checks.
#[cfg(not(lvs_kernel_tests_async))]
pub fn raw(
    ipvs: &mut Handle,
    msg: &IpvsMessage,
    kind: RequestKind,
) -> lvs::Result<Vec<IpvsMessage>> {
    use lvs::transport::Transport;
    ipvs.transport().request(msg, kind)
}

/// Send a raw request through the handle's (async) transport, bypassing the client's checks.
#[cfg(lvs_kernel_tests_async)]
pub fn raw(
    ipvs: &mut Handle,
    msg: &IpvsMessage,
    kind: RequestKind,
) -> lvs::Result<Vec<IpvsMessage>> {
    ipvs.raw(msg, kind)
}

/// The resolved family id of a transport opened in `ns`.
pub fn family_id(ns: &Netns) -> u16 {
    KernelTransport::builder()
        .netns_name(ns.name())
        .open()
        .expect("open a transport")
        .family_id()
}

/// What the guest kernel shows about a stall: `ns`'s netlink sockets with queued bytes or drops,
/// tasks in uninterruptible sleep and the IPVS sync kthreads with their kernel stacks, and
/// the end of the kernel log.
pub fn kernel_diagnostics(ns: &Netns) -> String {
    let mut out = String::new();
    let netlink = ns.exec("cat", &["/proc/net/netlink"]);
    if netlink.status.success() {
        let t = String::from_utf8_lossy(&netlink.stdout);
        out.push_str("/proc/net/netlink (header, and sockets with Rmem or Drops):\n");
        for (i, line) in t.lines().enumerate() {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
            let busy = f.len() >= 9 && (f[4] != "0" || f[8] != "0");
            if i == 0 || busy {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name();
        let Some(pid) = pid
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|r| r.split(' ').next());
        if state == Some("D") || comm.starts_with("ipvs-") {
            let stack = std::fs::read_to_string(format!("/proc/{pid}/stack")).unwrap_or_default();
            out.push_str(&format!(
                "task {pid} {} state {state:?}:\n{stack}",
                comm.trim()
            ));
        }
    }
    if let Ok(o) = Command::new("dmesg").output() {
        let log = String::from_utf8_lossy(&o.stdout);
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        out.push_str("kernel log (end):\n");
        for line in tail.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Poll `f` until it returns `Some`, for at most `secs` seconds (the kernel's rate estimator
/// publishes counters every 2 s).
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Assert that `$result` is `Err(lvs::Error::$variant(ctx))` with errno `$errno` and operation
/// `lvs::Operation::$op`; evaluates to the `KernelContext`.
macro_rules! assert_refused {
    ($result:expr, $variant:ident, $errno:expr, $op:ident) => {
        match $result {
            Err(lvs::Error::$variant(ctx)) => {
                assert_eq!(
                    ctx.errno,
                    $errno,
                    "errno of Error::{}: {ctx:?}",
                    stringify!($variant)
                );
                assert_eq!(ctx.operation, lvs::Operation::$op, "operation: {ctx:?}");
                ctx
            }
            other => panic!(
                "expected Error::{}(errno {}, {}), got {:?}",
                stringify!($variant),
                $errno,
                stringify!($op),
                other
            ),
        }
    };
}
