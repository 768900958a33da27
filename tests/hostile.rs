//! Hostile input on the host: builders, text forms, rule files, the drop-in's command line,
//! the connection table and kernel replies. Every case must be answered with a typed error
//! (never a panic, never `Ok`). The kernel's side of the same story (the drop-in refusing
//! bad input and leaving the table unchanged) is `tests/hostile/ipvsadm.sh`, run in the
//! guest by `scripts/ci/50-faults.sh`.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use lvs::text::{self, parse_args, parse_rules, ArgError, NoNames, RuleError};
use lvs::transport::{RequestKind, Transport};
use lvs::wire::{self, IpvsMessage};
use lvs::{
    Daemon, DaemonState, DecodeError, Destination, Error, InvalidError, Ipvs, Netmask,
    PersistenceEngine, Scheduler, Service, ServiceId, Tunnel,
};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// What a hostile case was answered with.
#[derive(Debug)]
enum Refusal {
    Invalid(InvalidError),
    Arg(ArgError),
    Rule(RuleError),
    Decode(DecodeError),
    Lib(Error),
    Conn(lvs::conn::ConnParseError),
    Parse(String),
}

type Case = (&'static str, Box<dyn Fn() -> Result<(), Refusal>>);

fn case(name: &'static str, f: impl Fn() -> Result<(), Refusal> + 'static) -> Case {
    (name, Box::new(f))
}

fn args(line: &str) -> Result<(), Refusal> {
    let words: Vec<&str> = line.split_whitespace().collect();
    parse_args(&words, &NoNames, false)
        .map_err(Refusal::Arg)
        .and_then(|c| c.validate().map_err(Refusal::Invalid))
}

fn rules(input: &str) -> Result<(), Refusal> {
    let parsed = parse_rules(input, &NoNames).map_err(Refusal::Rule)?;
    for r in &parsed {
        r.command.validate().map_err(Refusal::Invalid)?;
    }
    Ok(())
}

fn conn(body: &str) -> Result<(), Refusal> {
    let text = format!(
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n{body}"
    );
    lvs::conn::parse(&text).map(|_| ()).map_err(Refusal::Conn)
}

fn parsed<T: std::str::FromStr>(s: &str) -> Result<(), Refusal>
where
    T::Err: std::fmt::Debug,
{
    s.parse::<T>()
        .map(|_| ())
        .map_err(|e| Refusal::Parse(format!("{e:?}")))
}

/// A transport that answers every request with canned replies (as attribute bytes).
struct Replies {
    /// `(cmd, attribute bytes)` of each reply message.
    replies: Vec<(u8, Vec<u8>)>,
}

impl Transport for Replies {
    fn request(&mut self, _msg: &IpvsMessage, _kind: RequestKind) -> lvs::Result<Vec<IpvsMessage>> {
        self.replies
            .iter()
            .map(|(cmd, attrs)| IpvsMessage::decode(*cmd, attrs).map_err(Error::from))
            .collect()
    }

    fn dump_each(
        &mut self,
        _msg: &IpvsMessage,
        f: &mut dyn FnMut(u8, &[u8]) -> lvs::Result<()>,
    ) -> lvs::Result<()> {
        for (cmd, attrs) in &self.replies {
            f(*cmd, attrs)?;
        }
        Ok(())
    }
}

/// A netlink attribute: length, type, value, padded to 4 bytes.
fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut v = Vec::new();
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(value);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

// IPVS attribute numbers (include/uapi/linux/ip_vs.h), as the kernel sends them.
const CMD_NEW_SERVICE: u8 = 1;
const CMD_NEW_DEST: u8 = 5;
const CMD_GET_INFO: u8 = 15;
const ATTR_SERVICE: u16 = 1;
const ATTR_DEST: u16 = 2;
const SVC_AF: u16 = 1;
const SVC_PROTOCOL: u16 = 2;
const SVC_ADDR: u16 = 3;
const SVC_PORT: u16 = 4;
const SVC_FWMARK: u16 = 5;
const SVC_SCHED: u16 = 6;
const SVC_FLAGS: u16 = 7;
const SVC_TIMEOUT: u16 = 8;
const SVC_NETMASK: u16 = 9;
const DEST_ADDR: u16 = 1;
const DEST_PORT: u16 = 2;
const INFO_VERSION: u16 = 1;

/// A well-formed service nest with `replace` substituted for (or `extra` added to) its
/// attributes.
fn service_nest(replace: &[(u16, Vec<u8>)], drop: &[u16]) -> Vec<u8> {
    let mut attrs: Vec<(u16, Vec<u8>)> = vec![
        (SVC_AF, 2u16.to_ne_bytes().to_vec()),
        (SVC_PROTOCOL, 6u16.to_ne_bytes().to_vec()),
        (
            SVC_ADDR,
            [10, 0, 0, 1].iter().copied().chain([0; 12]).collect(),
        ),
        (SVC_PORT, 80u16.to_be_bytes().to_vec()),
        (SVC_SCHED, b"wlc\0".to_vec()),
        (SVC_FLAGS, [0u8; 8].to_vec()),
        (SVC_TIMEOUT, 0u32.to_ne_bytes().to_vec()),
        (SVC_NETMASK, 0xffff_ffffu32.to_ne_bytes().to_vec()),
    ];
    attrs.retain(|(k, _)| !drop.contains(k));
    for (k, v) in replace {
        attrs.retain(|(a, _)| a != k);
        attrs.push((*k, v.clone()));
    }
    let inner: Vec<u8> = attrs.iter().flat_map(|(k, v)| nla(*k, v)).collect();
    nla(ATTR_SERVICE | 0x8000, &inner)
}

fn via_client(replies: Vec<(u8, Vec<u8>)>, what: &str) -> Result<(), Refusal> {
    let mut ipvs = Ipvs::with_transport(Replies { replies });
    let id = ServiceId::tcp(sa("10.0.0.1:80"));
    let r = match what {
        "services" => ipvs.services().map(|_| ()),
        "get_service" => ipvs.get_service(&id).map(|_| ()),
        "destinations" => ipvs.destinations(&id).map(|_| ()),
        "info" => ipvs.info().map(|_| ()),
        "daemons" => ipvs.daemons().map(|_| ()),
        other => panic!("no such call {other}"),
    };
    r.map_err(Refusal::Lib)
}

fn cases() -> Vec<Case> {
    let v4 = || ServiceId::tcp(sa("10.0.0.1:80"));
    vec![
        // --- builders (values a program could pass) ---
        case("service on port 0 without persistence", || {
            Service::tcp(sa("10.0.0.1:0"))
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("one-packet on TCP", || {
            Service::tcp(sa("10.0.0.1:80"))
                .one_packet()
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("firewall mark 0", || {
            Service::fwmark(0)
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("scheduler name too long", || {
            Service::tcp(sa("10.0.0.1:80"))
                .scheduler(Scheduler::Other("x".repeat(64)))
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("scheduler name with a NUL", || {
            Service::tcp(sa("10.0.0.1:80"))
                .scheduler(Scheduler::Other("r\0r".into()))
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("IPv6 netmask on an IPv4 service", || {
            Service::tcp(sa("10.0.0.1:80"))
                .persistent(300)
                .netmask(Netmask::full(lvs::AddressFamily::Inet6))
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("persistence engine name too long", || {
            Service::udp(sa("10.0.0.1:5060"))
                .persistent(300)
                .pe(PersistenceEngine::from_name(&"p".repeat(40)))
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("weight above 65535", || {
            Destination::builder(sa("10.0.0.2:80"))
                .weight(70_000)
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("lower threshold above upper", || {
            Destination::builder(sa("10.0.0.2:80"))
                .upper_threshold(5)
                .lower_threshold(6)
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("threshold above i32::MAX", || {
            Destination::builder(sa("10.0.0.2:80"))
                .upper_threshold(u32::MAX)
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("GUE tunnel without a port", || {
            Destination::builder(sa("10.0.0.2:80"))
                .tunnel(Tunnel::gue(0))
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case(
            "IPv6 server behind an IPv4 service, not tunnelled",
            move || {
                Destination::builder(sa("[fd00::2]:80"))
                    .masquerade()
                    .build_for(&v4())
                    .map(|_| ())
                    .map_err(Refusal::Invalid)
            },
        ),
        case("daemon on an empty interface name", || {
            Daemon::builder(DaemonState::Master, "")
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("daemon interface name too long", || {
            Daemon::builder(DaemonState::Master, "abcdefghijklmnopq")
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("daemon sync id 256", || {
            Daemon::builder(DaemonState::Backup, "eth0")
                .sync_id(256)
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("daemon TTL 0", || {
            Daemon::builder(DaemonState::Master, "eth0")
                .ttl(0)
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("daemon unicast group", || {
            Daemon::builder(DaemonState::Master, "eth0")
                .group("10.0.0.1".parse().unwrap())
                .build()
                .map(|_| ())
                .map_err(Refusal::Invalid)
        }),
        case("client refuses an invalid service before sending", || {
            let mut ipvs = Ipvs::with_transport(Replies { replies: vec![] });
            let bad = Service::tcp(sa("10.0.0.1:80")).build().map(|mut s| {
                s.persistence = None;
                s.id = ServiceId::tcp(sa("10.0.0.1:0"));
                s
            });
            ipvs.add_service(&bad.unwrap()).map_err(Refusal::Lib)
        }),
        // --- text forms ---
        case("service id: no port separator garbage", || {
            parsed::<ServiceId>("tcp:10.0.0.1:80:80")
        }),
        case("service id: unknown protocol", || {
            parsed::<ServiceId>("icmp:10.0.0.1:80")
        }),
        case("netmask: prefix 129", || parsed::<Netmask>("/129")),
        case("netmask: not a mask", || {
            parsed::<Netmask>("255.255.255.0/24")
        }),
        case("daemon state", || parsed::<DaemonState>("primary")),
        case("forward method", || {
            parsed::<lvs::ForwardMethod>("teleport")
        }),
        // --- the drop-in's command line (parse_args, then the -R checks) ---
        case("no command", || args("-t 10.0.0.1:80")),
        case("two commands", || args("-A -D -t 10.0.0.1:80")),
        case("unknown option", || args("-A -t 10.0.0.1:80 --frobnicate")),
        case("missing service address", || args("-A -t")),
        case("port out of range", || args("-A -t 10.0.0.1:65536")),
        case("negative port", || args("-A -t 10.0.0.1:-1")),
        case("bad IPv4 address", || args("-A -t 300.1.2.3:80")),
        case("IPv6 without brackets and port", || {
            args("-A -t fd00::1::2:80")
        }),
        case("unknown host name", || {
            args("-A -t no.such.host.invalid:80")
        }),
        case("weight not a number", || {
            args("-a -t 10.0.0.1:80 -r 10.0.0.2 -w x")
        }),
        case("weight above INT_MAX", || {
            args("-a -t 10.0.0.1:80 -r 10.0.0.2 -w 2147483648")
        }),
        case("negative weight", || {
            args("-a -t 10.0.0.1:80 -r 10.0.0.2 -w -1")
        }),
        case("real server without a service", || args("-a -r 10.0.0.2")),
        case("two forwarding methods", || {
            args("-a -t 10.0.0.1:80 -r 10.0.0.2 -m -g")
        }),
        case("persistence timeout 0", || args("-A -t 10.0.0.1:80 -p 0")),
        case("netmask with an octet of 256", || {
            args("-A -t 10.0.0.1:80 -p 60 -M 255.255.255.256")
        }),
        case("fwmark not a number", || args("-A -f mark")),
        case("timeouts: two values", || args("--set 1 2")),
        case("timeouts: not numbers", || args("--set a b c")),
        case("daemon: bad state", || args("--start-daemon primary")),
        case("daemon: bad sync id", || {
            args("--start-daemon master --syncid 300")
        }),
        case("daemon: bad multicast group", || {
            args("--start-daemon master --mcast-group 10.0.0.1")
        }),
        case("tunnel type unknown", || {
            args("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type vxlan")
        }),
        case("empty argument", || args("-A -t '' ")),
        // --- rule files (-R input) ---
        case("rule: a comment is not a comment", || {
            rules("# a comment\n-A -t 10.0.0.1:80\n")
        }),
        case("rule: bad line in the middle of a long input", || {
            let mut input = String::new();
            for i in 0..500 {
                input.push_str(&format!(
                    "-A -t 10.1.{}.{}:80 -s rr\n",
                    i / 250,
                    i % 250 + 1
                ));
                if i == 250 {
                    input.push_str("-a -t 10.1.1.1:80 -r 10.2.0.1:80 -w lots\n");
                }
            }
            let r = rules(&input);
            if let Err(Refusal::Rule(e)) = &r {
                assert_eq!(e.line, 252, "the bad line is named: {e}");
            }
            r
        }),
        case("rule: -R inside -R", || rules("-A -t 10.0.0.1:80\n-R\n")),
        case("rule: NUL byte in a word", || {
            rules("-A -t 10.0.0.1:80\0\n")
        }),
        case("rule: binary garbage", || rules("\u{1}\u{2}\u{3}\u{ff}\n")),
        case("rule: IPv6 server behind an IPv4 service", || {
            rules("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r [fd00::2]:80 -m\n")
        }),
        case("rule: very long word", || {
            rules(&format!("-A -t {}:80\n", "9".repeat(100_000)))
        }),
        // --- the connection table ---
        case("conn: too few fields", || conn("TCP 0A000002 9C40\n")),
        case("conn: bad hex address", || {
            conn("TCP zz000002 9C40 0A000001 0050 0A000064 0050 ESTABLISHED 1\n")
        }),
        case("conn: port above 16 bits", || {
            conn("TCP 0A000002 19C40 0A000001 0050 0A000064 0050 ESTABLISHED 1\n")
        }),
        case("conn: negative expiry", || {
            conn("TCP 0A000002 9C40 0A000001 0050 0A000064 0050 ESTABLISHED -1\n")
        }),
        case("conn: bad IPv6 address", || {
            conn("TCP fd00:::2 9C40 fd00::1 0050 fd00::64 0050 ESTABLISHED 1\n")
        }),
        // --- kernel replies ---
        case("reply: empty attribute bytes for a service", || {
            via_client(vec![(CMD_NEW_SERVICE, vec![])], "services")
        }),
        case("reply: truncated attribute header", || {
            via_client(vec![(CMD_NEW_SERVICE, vec![8, 0, 1])], "services")
        }),
        case("reply: attribute length beyond the buffer", || {
            via_client(
                vec![(CMD_NEW_SERVICE, vec![200, 0, 1, 0, 0, 0, 0, 0])],
                "services",
            )
        }),
        case("reply: service without an address family", || {
            via_client(
                vec![(CMD_NEW_SERVICE, service_nest(&[], &[SVC_AF]))],
                "services",
            )
        }),
        case("reply: service with an unknown address family", || {
            via_client(
                vec![(
                    CMD_NEW_SERVICE,
                    service_nest(&[(SVC_AF, 99u16.to_ne_bytes().to_vec())], &[]),
                )],
                "services",
            )
        }),
        case("reply: service address of 17 bytes", || {
            via_client(
                vec![(
                    CMD_NEW_SERVICE,
                    service_nest(&[(SVC_ADDR, vec![10; 17])], &[]),
                )],
                "get_service",
            )
        }),
        case("reply: service port of 1 byte", || {
            via_client(
                vec![(CMD_NEW_SERVICE, service_nest(&[(SVC_PORT, vec![80])], &[]))],
                "services",
            )
        }),
        case("reply: service with neither address nor mark", || {
            via_client(
                vec![(
                    CMD_NEW_SERVICE,
                    service_nest(&[], &[SVC_ADDR, SVC_PORT, SVC_PROTOCOL, SVC_FWMARK]),
                )],
                "services",
            )
        }),
        case("reply: scheduler name not UTF-8", || {
            via_client(
                vec![(
                    CMD_NEW_SERVICE,
                    service_nest(&[(SVC_SCHED, vec![0xff, 0xfe, 0])], &[]),
                )],
                "services",
            )
        }),
        case("reply: no reply message to GET_SERVICE", || {
            via_client(vec![], "get_service")
        }),
        case("reply: destination without an address", || {
            let inner = nla(DEST_PORT, &80u16.to_be_bytes());
            via_client(
                vec![(CMD_NEW_DEST, nla(ATTR_DEST | 0x8000, &inner))],
                "destinations",
            )
        }),
        case("reply: destination address of 5 bytes", || {
            let mut inner = nla(DEST_ADDR, &[10, 0, 0, 2, 9]);
            inner.extend(nla(DEST_PORT, &80u16.to_be_bytes()));
            via_client(
                vec![(CMD_NEW_DEST, nla(ATTR_DEST | 0x8000, &inner))],
                "destinations",
            )
        }),
        case("reply: info without a version", || {
            via_client(vec![(CMD_GET_INFO, vec![])], "info")
        }),
        case("reply: info version of 2 bytes", || {
            via_client(vec![(CMD_GET_INFO, nla(INFO_VERSION, &[1, 2]))], "info")
        }),
        case(
            "reply: a whole netlink frame shorter than its header",
            || {
                wire::parse_netlink(&[20, 0, 0, 0, 0x20, 0])
                    .map(|_| ())
                    .map_err(Refusal::Decode)
            },
        ),
        case("reply: a netlink frame claiming 64 KiB", || {
            let mut f = vec![0u8; 24];
            f[0..4].copy_from_slice(&65_536u32.to_ne_bytes());
            wire::parse_netlink(&f).map(|_| ()).map_err(Refusal::Decode)
        }),
        case(
            "reply: service nest whose inner attribute overruns it",
            || {
                let mut nest = service_nest(&[], &[]);
                // The first inner attribute (AF, at offset 4) claims 200 bytes.
                nest[4..6].copy_from_slice(&200u16.to_ne_bytes());
                via_client(vec![(CMD_NEW_SERVICE, nest)], "services")
            },
        ),
    ]
}

/// Every hostile input gets a typed refusal, none panics, none is accepted.
#[test]
fn every_hostile_input_is_refused_with_a_typed_error() {
    let cases = cases();
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (name, f) in &cases {
        match catch_unwind(AssertUnwindSafe(f)) {
            Err(_) => failures.push(format!("{name}: panicked")),
            Ok(Ok(())) => failures.push(format!("{name}: accepted")),
            Ok(Err(refusal)) => {
                let text = match &refusal {
                    Refusal::Invalid(e) => e.to_string(),
                    Refusal::Arg(e) => {
                        assert!(
                            e.status == 2 || e.status == 255,
                            "{name}: status {}",
                            e.status
                        );
                        e.to_string()
                    }
                    Refusal::Rule(e) => e.to_string(),
                    Refusal::Decode(e) => e.to_string(),
                    Refusal::Lib(e) => e.to_string(),
                    Refusal::Conn(e) => e.to_string(),
                    Refusal::Parse(e) => e.clone(),
                };
                if text.trim().is_empty() {
                    failures.push(format!("{name}: refused without a message ({refusal:?})"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile inputs were not refused properly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} hostile inputs refused", cases.len());
}

/// The drop-in's `--netns` handling keeps a trailing `--netns` for the parser to refuse.
#[test]
fn trailing_netns_option_is_refused_by_the_parser() {
    let mut words: Vec<String> = ["-Ln", "--netns"].map(String::from).into();
    assert_eq!(text::take_netns(&mut words), None);
    let err = parse_args(&words, &NoNames, false).unwrap_err();
    assert_eq!(err.status, 255, "{err}");
}
