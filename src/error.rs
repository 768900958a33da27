//! The crate's error type.
//!
//! One enum, [`Error`], covers everything a call can fail with. Model validation failures are
//! grouped in [`InvalidError`], decoding failures in [`DecodeError`], and kernel refusals are
//! named per case (for example [`Error::ServiceExists`]) and carry a [`KernelContext`] with the
//! errno, the operation and the object, so a caller never compares raw errno values.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error this crate returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value was rejected before anything was sent (builder, parser, argument).
    #[error(transparent)]
    Invalid(#[from] InvalidError),
    /// Bytes from the kernel (or a capture) could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The service already exists (EEXIST on a service command).
    #[error("service already exists: {0}")]
    ServiceExists(KernelContext),
    /// The destination already exists (EEXIST on a destination command).
    #[error("destination already exists: {0}")]
    DestinationExists(KernelContext),
    /// The service does not exist (ESRCH).
    #[error("no such service: {0}")]
    NoSuchService(KernelContext),
    /// The destination does not exist (ENOENT on a destination command).
    #[error("no such destination: {0}")]
    NoSuchDestination(KernelContext),
    /// The scheduler's kernel module is not available (ENOENT on a service write).
    #[error("{}", not_found("scheduler", .0))]
    SchedulerNotFound(KernelContext),
    /// The persistence engine's kernel module is not available (ENOENT on a service write).
    #[error("{}", not_found("persistence engine", .0))]
    PersistenceEngineNotFound(KernelContext),
    /// A value was out of the kernel's range (ERANGE: weight, thresholds).
    #[error("value out of range: {0}")]
    OutOfRange(KernelContext),
    /// The kernel rejected the request as invalid (EINVAL).
    #[error("invalid request: {0}")]
    InvalidRequest(KernelContext),
    /// The caller lacks CAP_NET_ADMIN in its network namespace (EPERM/EACCES).
    #[error("permission denied (CAP_NET_ADMIN is required): {0}")]
    PermissionDenied(KernelContext),
    /// The address family is not supported by this kernel (EAFNOSUPPORT).
    #[error("address family not supported by the kernel: {0}")]
    AddressFamilyNotSupported(KernelContext),
    /// A sync daemon of that state is already running (EEXIST on start).
    #[error("sync daemon already running: {0}")]
    DaemonExists(KernelContext),
    /// No sync daemon of that state is running (ESRCH on stop).
    #[error("no such sync daemon: {0}")]
    NoSuchDaemon(KernelContext),
    /// The kernel has no IPVS (the `IPVS` generic netlink family is not registered: the
    /// `ip_vs` module is not loaded or not built).
    #[error("IPVS is not available in this kernel (is the ip_vs module loaded?)")]
    IpvsUnavailable,
    /// Any other errno the kernel answered with.
    #[error("kernel error: {0}")]
    Kernel(KernelContext),
    /// The kernel did not answer in time.
    #[error("timed out waiting for the kernel's answer to {operation}")]
    Timeout {
        /// The operation that timed out.
        operation: Operation,
    },
    /// The kernel dropped replies (ENOBUFS) or sent something that breaks the protocol.
    #[error("netlink protocol error during {operation}: {reason}")]
    Protocol {
        /// The operation during which it happened.
        operation: Operation,
        /// What went wrong.
        reason: String,
    },
    /// Preparing the host (addresses, routes, links, sysctls) or its journal failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// A socket or file system call failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The table kept changing while it was read: no two reads in a row agreed
    /// ([`Ipvs::table_settled`](crate::Ipvs::table_settled)). Retry later.
    #[error("the table kept changing while it was read ({reads} reads); retry")]
    TableChanging {
        /// How many times the table was read.
        reads: usize,
    },
    /// An operation of a batch was invalid or refused: which one (the operation and its
    /// object, and its index from 0) and why. A kernel refusal names the operation and the
    /// object itself ([`KernelContext`]); an invalid value is named after the operation.
    #[error("{}", batch_message(op, source))]
    Batch {
        /// The operation's index in the batch.
        index: usize,
        /// The operation, as [`Op`](crate::Op)'s `Display` writes it (`add destination
        /// tcp:10.0.0.1:80 -> 10.0.0.2:80 masq weight 70000`).
        op: String,
        /// What was wrong with it.
        source: Box<Error>,
    },
    /// A [`Transaction`](crate::client::Transaction) cannot take this write now: it failed
    /// already (only a roll back may follow), or it would need adds it did not track.
    #[error("transaction: {reason}")]
    TransactionState {
        /// Why.
        reason: &'static str,
    },
    /// A roll back left objects not as they were: the table read after it differs from the
    /// snapshot taken before the change, in what the change touched.
    #[error("not restored ({failed_writes} undo writes failed): {}", objects.join("; "))]
    NotRestored {
        /// Each object not as it was, described (`service tcp:10.0.0.1:80 is missing`).
        objects: Vec<String>,
        /// How many undo writes failed.
        failed_writes: usize,
    },
    /// The kernel refused some writes of a batch or reconcile that had to be applied whole
    /// ([`ReconcileReport::into_result`](crate::client::ReconcileReport::into_result),
    /// [`Ipvs::reconcile_strict`](crate::Ipvs::reconcile_strict)): every refusal, each an
    /// [`Error::Batch`] naming its operation and object; the others were applied.
    #[error("{} of {total} writes refused, {applied} applied; first: {}", refused.len(), refused.first().map(ToString::to_string).unwrap_or_default())]
    Refused {
        /// How many writes there were.
        total: usize,
        /// How many the kernel applied.
        applied: usize,
        /// Each refusal.
        refused: Vec<Error>,
    },
    /// A change failed and putting the table back as it was failed too: the table is in
    /// neither state. Both errors are kept.
    #[error("{cause}; rolling back failed too: {rollback}")]
    RollbackFailed {
        /// Why the change failed.
        cause: Box<Error>,
        /// Why the roll back failed.
        rollback: Box<Error>,
    },
}

fn batch_message(op: &str, source: &Error) -> String {
    match source.kernel_context() {
        Some(_) => source.to_string(),
        None => format!("{op}: {source}"),
    }
}

impl Error {
    /// The kernel context of a kernel refusal, if this error is one (for a batch error, of
    /// the operation it names).
    pub fn kernel_context(&self) -> Option<&KernelContext> {
        match self {
            Error::ServiceExists(c)
            | Error::DestinationExists(c)
            | Error::NoSuchService(c)
            | Error::NoSuchDestination(c)
            | Error::SchedulerNotFound(c)
            | Error::PersistenceEngineNotFound(c)
            | Error::OutOfRange(c)
            | Error::InvalidRequest(c)
            | Error::PermissionDenied(c)
            | Error::AddressFamilyNotSupported(c)
            | Error::DaemonExists(c)
            | Error::NoSuchDaemon(c)
            | Error::Kernel(c) => Some(c),
            Error::Batch { source, .. } => source.kernel_context(),
            _ => None,
        }
    }

    /// The errno of a kernel refusal, if this error is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Host(HostError::Kernel { errno, .. }) => Some(*errno),
            e => e.kernel_context().map(|c| c.errno),
        }
    }
}

/// Why a host change (`lvs::host`), or its journal, failed: one matchable case each, with
/// the object it was about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The address is already on the device (EEXIST).
    #[error("address {addr} already exists on {dev}")]
    AddressExists {
        /// The device.
        dev: String,
        /// The address, with its prefix (`10.0.0.1/32`).
        addr: String,
    },
    /// No device of that name (ENODEV, or not found).
    #[error("no device {0}")]
    NoSuchDevice(String),
    /// A link of that name exists already (EEXIST on create).
    #[error("a link named {0} exists already")]
    LinkExists(String),
    /// The route exists already (EEXIST).
    #[error("route {0} exists already")]
    RouteExists(String),
    /// The route does not exist (ESRCH).
    #[error("no route {0}")]
    NoSuchRoute(String),
    /// The kernel or the file system refused for lack of privilege (EPERM, EACCES).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The gateway is not reachable on any device's prefix.
    #[error("gateway {0} is not on-link")]
    GatewayNotOnLink(std::net::IpAddr),
    /// A sysctl this crate does not change, or a value that is not a number.
    #[error("sysctl {key}: {reason}")]
    Sysctl {
        /// The key (`net/ipv4/ip_forward`).
        key: String,
        /// Why.
        reason: String,
    },
    /// Since it was changed, the object was changed again by someone else: undoing would
    /// overwrite their change, so it is left alone (and kept in the journal).
    #[error("{change}: changed by someone else since (now {found}); left as it is")]
    Conflict {
        /// The change, as the journal writes it.
        change: String,
        /// What was found instead.
        found: String,
    },
    /// The state directory or journal may not be trusted: a symlink, another owner, writable
    /// by group or others, not a directory or regular file.
    #[error("untrusted journal {path}: {reason}")]
    JournalUntrusted {
        /// The path.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another process holds the state directory's lock (another `up` or `down` running).
    #[error(
        "{path} is locked by another process (another up or down running?); waited {waited:?}"
    )]
    JournalLocked {
        /// The state directory.
        path: std::path::PathBuf,
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// A journal record failed its checksum, version or rules: nothing of it is used.
    #[error("corrupt journal {path}, line {line}: {reason}")]
    JournalCorrupt {
        /// The journal file.
        path: std::path::PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Undoing left some changes in place: each with why; the journal keeps them.
    #[error("{} change(s) could not be undone: {}", .0.len(), .0.iter().map(|(c, e)| format!("{c} ({e})")).collect::<Vec<_>>().join("; "))]
    UndoIncomplete(Vec<(String, String)>),
    /// The IPVS sysctls (`/proc/sys/net/ipv4/vs`) do not exist: the `ip_vs` module is not
    /// loaded (`modprobe ip_vs`; any IPVS netlink request also loads it).
    #[error("cannot {action}: the ip_vs module is not loaded (/proc/sys/net/ipv4/vs does not exist; modprobe ip_vs)")]
    IpvsNotLoaded {
        /// What was being done (`read net/ipv4/vs/conn_reuse_mode`).
        action: String,
    },
    /// Any other refusal of the kernel (rtnetlink), with what was being done.
    #[error("cannot {action}: {}", std::io::Error::from_raw_os_error(*.errno))]
    Kernel {
        /// What was being done (`add address 10.0.0.1/32 dev lo`).
        action: String,
        /// The errno.
        errno: i32,
    },
    /// A device an address is to be announced on has no Ethernet address (`lo`, `tunl0`, a
    /// point-to-point device): gratuitous ARP and neighbour advertisements need one.
    #[error("cannot announce an address on {dev}: {reason}; announce it on the Ethernet device that holds it")]
    NoLinkAddress {
        /// The device.
        dev: String,
        /// What it has instead (`hardware type 772, not Ethernet`).
        reason: String,
    },
    /// A file system call failed.
    #[error("cannot {action}: {source}")]
    Io {
        /// What was being done, with the path.
        action: String,
        /// The error.
        source: std::io::Error,
    },
}

/// An IPVS operation, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Resolving the `IPVS` generic netlink family.
    ResolveFamily,
    /// Adding a service.
    AddService,
    /// Editing a service in place.
    UpdateService,
    /// Deleting a service.
    DeleteService,
    /// Reading one service or listing services.
    GetService,
    /// Adding a destination.
    AddDestination,
    /// Editing a destination.
    UpdateDestination,
    /// Deleting a destination.
    DeleteDestination,
    /// Listing destinations.
    GetDestinations,
    /// Starting a sync daemon.
    StartDaemon,
    /// Stopping a sync daemon.
    StopDaemon,
    /// Listing sync daemons.
    GetDaemons,
    /// Setting timeouts.
    SetTimeouts,
    /// Reading timeouts.
    GetTimeouts,
    /// Reading version information.
    GetInfo,
    /// Zeroing counters.
    Zero,
    /// Flushing the table.
    Flush,
    /// Any other raw command.
    Other,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::ResolveFamily => "resolve the IPVS family",
            Operation::AddService => "add service",
            Operation::UpdateService => "update service",
            Operation::DeleteService => "delete service",
            Operation::GetService => "get service",
            Operation::AddDestination => "add destination",
            Operation::UpdateDestination => "update destination",
            Operation::DeleteDestination => "delete destination",
            Operation::GetDestinations => "list destinations",
            Operation::StartDaemon => "start sync daemon",
            Operation::StopDaemon => "stop sync daemon",
            Operation::GetDaemons => "list sync daemons",
            Operation::SetTimeouts => "set timeouts",
            Operation::GetTimeouts => "get timeouts",
            Operation::GetInfo => "get info",
            Operation::Zero => "zero counters",
            Operation::Flush => "flush",
            Operation::Other => "raw command",
        })
    }
}

/// What the kernel refused: the errno, the operation and the object it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelContext {
    /// The positive errno value the kernel returned.
    pub errno: i32,
    /// The operation that was refused.
    pub operation: Operation,
    /// The object concerned, in text form (for example `tcp:10.0.0.1:80 -> 10.0.0.2:80`),
    /// empty when the operation concerns the whole table.
    pub object: String,
    /// For a service write refused with ENOENT: the module the kernel lacks, as the
    /// transport that knows determined it (the mock from its profile, the kernel transports
    /// from the running kernel's modules); `None` when no transport could tell.
    pub missing: Option<MissingModule>,
}

impl KernelContext {
    /// A refusal with this errno, for `operation` on `object` (what a transport returns;
    /// the client names the operation and the object).
    pub fn new(errno: i32, operation: Operation, object: impl Into<String>) -> KernelContext {
        KernelContext {
            errno,
            operation,
            object: object.into(),
            missing: None,
        }
    }
}

/// The kernel module a refused service write needs and the kernel does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingModule {
    /// The scheduler of that name (module `ip_vs_<name>`).
    Scheduler(String),
    /// The persistence engine of that name (module `ip_vs_pe_<name>`).
    PersistenceEngine(String),
}

impl fmt::Display for MissingModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingModule::Scheduler(n) => write!(f, "scheduler {n} (module ip_vs_{n})"),
            MissingModule::PersistenceEngine(n) => {
                write!(f, "persistence engine {n} (module ip_vs_pe_{n})")
            }
        }
    }
}

/// The message of a scheduler or engine refusal: the module named when it is known.
fn not_found(kind: &str, c: &KernelContext) -> String {
    match &c.missing {
        Some(m) => format!("{m} not found: {c}"),
        None => format!("{kind} not found (is its ip_vs_* module available?): {c}"),
    }
}

impl fmt::Display for KernelContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if !self.object.is_empty() {
            write!(f, " {}", self.object)?;
        }
        write!(f, " (errno {})", self.errno)
    }
}

/// A value rejected by a builder, a parser or a check, before anything reached the kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidError {
    /// A firewall-mark service needs a mark other than 0 (0 means "no mark" to the kernel).
    #[error("firewall mark 0 is not a mark: a fwmark service needs a mark from 1 up")]
    ZeroFwmark,
    /// A non-fwmark service on port 0 needs persistence (as ipvsadm requires).
    #[error("port 0 is only allowed for a persistent service")]
    ZeroPortWithoutPersistence,
    /// One-packet scheduling applies to UDP and fwmark services only; the protocol given, as
    /// ipvsadm names it (`tcp`, `sctp`).
    #[error("one-packet scheduling is only for UDP or fwmark services, not {0}")]
    OnePacketNotUdp(String),
    /// The lower connection threshold is above the upper one (the kernel answers ERANGE).
    #[error("lower threshold {lower} is above upper threshold {upper}")]
    LowerThresholdAboveUpper {
        /// The lower threshold.
        lower: u32,
        /// The upper threshold.
        upper: u32,
    },
    /// A threshold above `i32::MAX` (the kernel reads them as int).
    #[error("threshold {0} is out of range 0..=2147483647")]
    ThresholdOutOfRange(u32),
    /// A GUE tunnel needs a non-zero destination port.
    #[error("a GUE tunnel needs a non-zero tunnel port")]
    GueWithoutPort,
    /// Weight outside 0..=65535.
    #[error("weight {0} is out of range 0..=65535")]
    WeightOutOfRange(u32),
    /// An IPv6 persistence prefix outside 1..=128, or an IPv4 prefix over 32.
    #[error("netmask prefix length {0} is out of range")]
    PrefixOutOfRange(u32),
    /// The netmask is of the other address family than the service.
    #[error("netmask {netmask} does not match the service's address family")]
    NetmaskFamilyMismatch {
        /// The netmask, as text.
        netmask: String,
    },
    /// Persistence timeout outside 1..=2678400 seconds (31 days, ipvsadm's limit).
    #[error("persistence timeout {0} is out of range 1..=2678400 seconds")]
    PersistenceTimeoutOutOfRange(u32),
    /// A name (scheduler, persistence engine, interface) is empty, too long or not printable.
    #[error("{what} name {name:?} is invalid: {reason}")]
    BadName {
        /// Which kind of name.
        what: &'static str,
        /// The rejected name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A scheduler flag that belongs to another scheduler (for example `sh-port` with `rr`).
    #[error("scheduler flag {flag} does not apply to scheduler {scheduler}")]
    SchedulerFlagMismatch {
        /// The flag's name.
        flag: &'static str,
        /// The service's scheduler.
        scheduler: String,
    },
    /// A destination of the other address family than its service, without tunnelling.
    #[error("a destination of another address family than its service needs tunnel forwarding")]
    MixedFamilyWithoutTunnel,
    /// Text that could not be parsed into a value.
    #[error("cannot parse {input:?} as {expected}")]
    Parse {
        /// The input text.
        input: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A sync daemon value is invalid.
    #[error("sync daemon: {0}")]
    Daemon(&'static str),
    /// A required value is missing (for example the scheduler of a service read back).
    #[error("missing {0}")]
    Missing(&'static str),
    /// A value outside what an IPVS sysctl takes (`lvs::host::IpvsSysctl::check`).
    #[error("net.ipv4.vs.{name} = {value} is out of range: it takes {allowed}")]
    SysctlOutOfRange {
        /// The sysctl's name (`conn_reuse_mode`).
        name: &'static str,
        /// The value refused.
        value: i64,
        /// The values it takes (`0..=3`).
        allowed: &'static str,
    },
}

impl InvalidError {
    pub(crate) fn parse(input: &str, expected: &'static str) -> Self {
        InvalidError::Parse {
            input: input.to_owned(),
            expected,
        }
    }
}

/// Bytes that could not be decoded, with the context of where decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decode error: {message}")]
pub struct DecodeError {
    message: String,
}

impl DecodeError {
    /// A decode error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError {
            message: message.into(),
        }
    }

    /// Prefix the message with where the error happened.
    pub fn context(self, context: impl fmt::Display) -> Self {
        DecodeError {
            message: format!("{context}: {}", self.message),
        }
    }

    /// The message, with its context.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<netlink_packet_core::DecodeError> for DecodeError {
    fn from(e: netlink_packet_core::DecodeError) -> Self {
        DecodeError::new(e.to_string())
    }
}
