//! A regression corpus of command lines and what the parser makes of them, recorded from the
//! parser before it was rewritten around an option table (`tests/fixtures/ipvsadm-args-corpus.txt`). Each line is
//! `R<TAB>WORDS<TAB>OUTCOME`: `R` is 1 for a line of `-R` input, `WORDS` the arguments
//! separated by single spaces (`\e` for an empty word), `OUTCOME` `ok <variant> <hash>` (the
//! FNV-1a hash of the command's `Debug` text) or `err <status> <hash> <message>` (the hash of the whole message, and its
//! first 40 bytes).
//!
//! `LVS_WRITE_CORPUS=path cargo test --lib write_corpus -- --ignored` writes the corpus the
//! generator below makes (`LVS_CORPUS_RANDOM=n` random lines instead of the default,
//! `LVS_CORPUS_FULL=1` every command spelling on more bases and every pair of options); then
//! `LVS_CORPUS=path cargo test --lib corpus` checks the parser against that file.

use super::*;
use crate::text::names::SystemNames;

const HOSTS: &str = "127.0.0.1 localhost\n10.0.0.1 vip.example vip\n10.0.0.2 rs1\nfd00::1 vip6\n";
const SERVICES: &str = "http 80/tcp\nhttp 80/udp\ndomain 53/udp\nsip 5060/udp\nsctpx 99/sctp\n";

/// The command words the generator starts lines with.
const COMMANDS: &[&str] = &[
    "-A",
    "--add-service",
    "-E",
    "--edit-service",
    "-D",
    "-C",
    "-L",
    "-l",
    "--list",
    "-Z",
    "-a",
    "-e",
    "-d",
    "--set",
    "-h",
    "-v",
    "-R",
    "-S",
    "--start-daemon master",
    "--start-daemon backup",
    "--start-daemon other",
    "--stop-daemon master",
    "--stop-daemon backup",
];

const SVC_VALUES: &[&str] = &[
    "10.0.0.1:80",
    "10.0.0.1",
    "10.0.0.1:0",
    "0.0.0.0:0",
    "[fd00::1]:80",
    "fd00::1",
    "[fd00::1]",
    "vip:http",
    "vip",
    "vip6",
    "10.0.0.1:http",
    "10.0.0.1:domain",
    "10.0.0.1:sctpx",
    "10.0.0.1:65535",
    "10.0.0.1:65536",
    "10.0.0.1:-1",
    "[10.0.0.1]:80",
    "80",
    "bad",
    "\\e",
    "1.2.3",
    "0x0a000001:80",
    "[fd00::1]:",
    "[fd00::1:80",
];

const DEST_VALUES: &[&str] = &[
    "10.0.0.2",
    "10.0.0.2:8080",
    "rs1",
    "rs1:http",
    "[fd00::2]:80",
    "fd00::2",
    "10.0.0.2:0",
    "bad",
    "8080",
];

/// Every option the generator tries, each with values (none for a flag).
const OPTION_VALUES: &[(&str, &[&str])] = &[
    ("-t", SVC_VALUES),
    ("--tcp-service", &["10.0.0.1:80"]),
    ("-u", SVC_VALUES),
    ("--udp-service", &["10.0.0.1:53"]),
    (
        "--sctp-service",
        &["10.0.0.1:80", "10.0.0.1:sctpx", "10.0.0.1:http"],
    ),
    (
        "-f",
        &[
            "1",
            "0",
            "-1",
            "4294967295",
            "4294967296",
            "x",
            " 5",
            "+7",
            "05",
        ],
    ),
    ("--fwmark-service", &["2"]),
    ("-6", &[]),
    ("--ipv6", &[]),
    (
        "-s",
        &[
            "rr",
            "wlc",
            "sh",
            "mh",
            "\\e",
            "averyveryverylongschedulername",
            "RR",
        ],
    ),
    ("--scheduler", &["lc"]),
    ("-p", &[]),
    ("-p", &["60", "0", "1", "2678400", "2678401", "x", "-5"]),
    ("--persistent", &["300"]),
    (
        "-M",
        &["255.255.255.0", "64", "128", "129", "0", "x", "vip", "\\e"],
    ),
    ("--netmask", &["255.0.0.0"]),
    ("-r", DEST_VALUES),
    ("--real-server", &["10.0.0.3"]),
    ("-g", &[]),
    ("--gatewaying", &[]),
    ("-i", &[]),
    ("--ipip", &[]),
    ("-m", &[]),
    ("--masquerading", &[]),
    (
        "-w",
        &[
            "0",
            "1",
            "65535",
            "2147483647",
            "2147483648",
            "-1",
            "x",
            " 3",
        ],
    ),
    ("--weight", &["7"]),
    ("-x", &["0", "100", "2147483647", "2147483648", "x"]),
    ("--u-threshold", &["5"]),
    ("-y", &["0", "100", "2147483648", "x"]),
    ("--l-threshold", &["5"]),
    ("-n", &[]),
    ("--numeric", &[]),
    ("-c", &[]),
    ("--connection", &[]),
    ("--timeout", &[]),
    ("--daemon", &[]),
    ("--stats", &[]),
    ("--rate", &[]),
    ("--thresholds", &[]),
    ("--persistent-conn", &[]),
    ("--nosort", &[]),
    ("--sort", &[]),
    ("-X", &[]),
    ("--exact", &[]),
    ("-o", &[]),
    ("--ops", &[]),
    ("--pe", &["sip", "x", "\\e", "averyveryverylongpename"]),
    (
        "-b",
        &[
            "sh-fallback",
            "sh-port",
            "flag-1",
            "flag-2",
            "flag-3",
            "\\e",
            "sh-fallback,sh-port",
            "bad",
            ",,",
            "mh-fallback",
        ],
    ),
    ("--sched-flags", &["flag-1"]),
    (
        "--mcast-interface",
        &["eth1", "averyveryverylonginterfacename", "\\e"],
    ),
    ("--syncid", &["0", "255", "256", "x"]),
    (
        "--mcast-group",
        &["224.0.0.81", "ff02::1", "10.0.0.1", "fd00::1", "x"],
    ),
    ("--mcast-port", &["1", "0", "8848", "65535", "65536"]),
    ("--mcast-ttl", &["1", "0", "255", "256"]),
    ("--sync-maxlen", &["1", "1472", "65507", "65508", "0"]),
    ("--tun-info", &[]),
    ("--tun-type", &["ipip", "gue", "gre", "x"]),
    ("--tun-port", &["1", "0", "6080", "65535", "65536"]),
    ("--tun-nocsum", &[]),
    ("--tun-csum", &[]),
    ("--tun-remcsum", &[]),
    ("--help", &[]),
    ("--version", &[]),
    ("--bogus", &[]),
    ("-q", &[]),
];

/// What a command needs besides the option under test, for the option to be checked at all.
const BASES: &[&str] = &[
    "",
    "-t 10.0.0.1:80",
    "-u 10.0.0.1:53",
    "-f 1",
    "-t [fd00::1]:80",
    "-t 10.0.0.1:80 -r 10.0.0.2",
    "-t 10.0.0.1:80 -r 10.0.0.2 -i",
    "-f 1 -6 -r [fd00::2]:80",
    "-u 10.0.0.1:53 -r 10.0.0.2:5353 -m",
];

/// The commands and bases of the committed corpus (one spelling of each command).
const SHORT_COMMANDS: &[&str] = &[
    "-A",
    "-E",
    "-D",
    "-C",
    "-L",
    "-Z",
    "-a",
    "-e",
    "-d",
    "--set",
    "-R",
    "-S",
    "--start-daemon master",
    "--stop-daemon backup",
];

const SHORT_BASES: &[&str] = &["", "-t 10.0.0.1:80", "-t 10.0.0.1:80 -r 10.0.0.2 -i"];

/// Command families and the options they take (and one they refuse).
const FAMILIES: &[(&[&str], &[&str])] = &[
    (
        &["-A", "-E", "-D", "-Z"],
        &[
            "-t", "-u", "-f", "-6", "-s", "-p", "-M", "-o", "--pe", "-b", "-n", "-w",
        ],
    ),
    (
        &["-a", "-e", "-d"],
        &[
            "-t",
            "-f",
            "-6",
            "-r",
            "-g",
            "-i",
            "-m",
            "-w",
            "-x",
            "-y",
            "--tun-type",
            "--tun-port",
            "--tun-nocsum",
            "--tun-csum",
            "--tun-remcsum",
            "-s",
        ],
    ),
    (
        &["--start-daemon master", "--stop-daemon master"],
        &[
            "--mcast-interface",
            "--syncid",
            "--mcast-group",
            "--mcast-port",
            "--mcast-ttl",
            "--sync-maxlen",
            "-n",
        ],
    ),
];

/// `opt` with each of its values (the first entry of the table for `opt`).
fn option_values(opt: &str) -> Vec<String> {
    let values = OPTION_VALUES
        .iter()
        .find(|(o, _)| *o == opt)
        .map(|(_, v)| *v)
        .unwrap_or_default();
    if values.is_empty() {
        return vec![opt.to_owned()];
    }
    values.iter().map(|v| format!("{opt} {v}")).collect()
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|w| !w.is_empty())
}

fn line(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| words(p))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The option with its value as separate words, and in some of the attached spellings.
fn spellings(opt: &str, value: Option<&str>) -> Vec<String> {
    match value {
        None => vec![opt.to_owned()],
        Some(v) => vec![format!("{opt} {v}")],
    }
}

/// A small deterministic random number generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The lines of the corpus: (in restore input, words).
pub(super) fn generate(random: usize, full: bool) -> Vec<(bool, String)> {
    let mut out: Vec<String> = vec![String::new()];
    let (commands, bases) = if full {
        (COMMANDS, BASES)
    } else {
        (SHORT_COMMANDS, SHORT_BASES)
    };
    // Every command with every option and value, on every base.
    for cmd in commands {
        for base in bases {
            if !full && base.contains("-r") && !["-a", "-e", "-d"].contains(cmd) {
                continue;
            }
            out.push(line(&[cmd, base]));
            for (opt, values) in OPTION_VALUES {
                if values.is_empty() {
                    out.extend(spellings(opt, None).iter().map(|o| line(&[cmd, base, o])));
                }
                for v in values.iter() {
                    out.extend(
                        spellings(opt, Some(v))
                            .iter()
                            .map(|o| line(&[cmd, base, o])),
                    );
                }
            }
        }
    }
    // Every pair of options (their first value) after each command, on the first bases.
    let firsts: Vec<String> = OPTION_VALUES
        .iter()
        .map(|(o, v)| match v.first() {
            Some(v) => format!("{o} {v}"),
            None => (*o).to_owned(),
        })
        .collect();
    if full {
        for cmd in COMMANDS {
            for base in &BASES[..2] {
                for (i, a) in firsts.iter().enumerate() {
                    for b in &firsts[i + 1..] {
                        out.push(line(&[cmd, base, a, b]));
                    }
                }
            }
        }
    }
    // Every value of each option a command family takes, with each other such option.
    for (cmds, opts) in FAMILIES {
        for cmd in cmds.iter() {
            for a in opts.iter() {
                let values = option_values(a);
                for b in opts.iter().filter(|b| *b != a) {
                    let second = option_values(b).into_iter().next().unwrap_or_default();
                    for v in &values {
                        out.push(line(&[cmd, v, &second]));
                    }
                }
            }
        }
    }
    // Listings: every subset of the listing options.
    let list_opts = [
        "-n",
        "-c",
        "--timeout",
        "--daemon",
        "--stats",
        "--rate",
        "--thresholds",
        "--persistent-conn",
        "--nosort",
        "-X",
        "--tun-info",
        "-t 10.0.0.1:80",
    ];
    for bits in 0u32..(1 << list_opts.len()) {
        let mut parts = vec!["-L"];
        parts.extend(
            list_opts
                .iter()
                .enumerate()
                .filter(|(j, _)| bits & (1 << j) != 0)
                .map(|(_, o)| *o),
        );
        out.push(line(&parts));
    }
    // Tunnels: every tunnel type with every subset of the tunnel options.
    let tun_opts = [
        "--tun-port 6080",
        "--tun-nocsum",
        "--tun-csum",
        "--tun-remcsum",
    ];
    for cmd in ["-a", "-e"] {
        for fwd in ["-i", "-m", ""] {
            for kind in ["", "--tun-type ipip", "--tun-type gue", "--tun-type gre"] {
                for bits in 0u32..16 {
                    let mut parts = vec![cmd, "-t 10.0.0.1:80 -r [fd00::2]", fwd, kind];
                    parts.extend(
                        tun_opts
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| bits & (1 << j) != 0)
                            .map(|(_, o)| *o),
                    );
                    out.push(line(&parts));
                }
            }
        }
    }
    // Timeouts.
    for t in [
        "1 2 3",
        "0 0 0",
        "1 2",
        "1",
        "1 2 3 4",
        "-1 2 3",
        "x 2 3",
        "2678400 0 0",
        "2678401 0 0",
        "1 -- 2 3",
        "1 2 -3",
        "-- -1 2 3",
    ] {
        out.push(format!("--set {t}"));
    }
    // The reader: bundles, attached values, `--`, `-`, stray words.
    for l in [
        "-Ln", "-Lnc", "-nL", "-At10.0.0.1:80", "-At 10.0.0.1:80 -srr", "-At=10.0.0.1:80",
        "-A --tcp-service=10.0.0.1:80", "-A --tcp-service= 10.0.0.1:80", "-A -t10.0.0.1:80 -p60",
        "-A -t 10.0.0.1:80 -p=60", "-A -t 10.0.0.1:80 -p -60", "-A -t 10.0.0.1:80 -p --", "-A -t 10.0.0.1:80 -- -p",
        "-L -", "-L --", "-L -- -n", "-L x", "x -L", "-- -L", "-", "--", "-L --numeric=1",
        "-L --nosuch=1", "-Lq", "-Lé", "-é", "--é", "-L -n -n", "-L --sort --sort", "-a -t 10.0.0.1:80 -r10.0.0.2 -gw3",
        "-a -t 10.0.0.1:80 -r 10.0.0.2 -w", "-A -f 1 -6 -6", "-A -6 -f 1", "-A -t 10.0.0.1:80 -6",
        "-f 1 -A", "-n -L", "-L -A", "-L -h", "-L -v", "-L --start-daemon master", "-h -L", "-v -x",
        "--start-daemon", "--stop-daemon", "--start-daemon=master", "--start-daemon -L",
        "-A -t 10.0.0.1:80 -u 10.0.0.1:80", "-A -t 10.0.0.1:80 -f 1", "-A -t 10.0.0.1:80 -s rr -s rr",
        "-A -t :80", "-A -t [::]:80", "-A -t [::1]:80 -M 64 -p", "-A -t 10.0.0.1:80 -p -M 255.255.0.0",
        "-A -t 10.0.0.1:80 -M 255.255.0.0 -p", "-A -t [fd00::1]:80 -p -M 255.255.0.0", "-A -f 1 -M 64 -6 -p",
        "-A -f 1 -6 -M 64 -p", "-E -t 10.0.0.1:0", "-E -t 10.0.0.1:0 -p", "-A -f 1 -o", "-A -u 10.0.0.1:0 -o -p",
        "-Z -t 0.0.0.0:0", "-Z -t 0.0.0.0:1", "-Z -u 0.0.0.0:0", "-Z -f 1", "-a -f 1 -r 10.0.0.2:99 -g",
        "-a -f 1 -r 10.0.0.2:99 -i", "-a -t 10.0.0.1:80 -r 10.0.0.2:99 -i", "-d -t 10.0.0.1:80 -r 10.0.0.2:99",
        "-d -t 10.0.0.1:80 -r 10.0.0.2", "-A -t 10.0.0.1:80 -s sh -b sh-port,sh-fallback", "-A -t 10.0.0.1:80 -b sh-port",
        "-A -t 10.0.0.1:80 -s mh -b mh-port", "-A -t 10.0.0.1:80 -s rr -b ,", "-A -t 10.0.0.1:80 --pe sip -p",
        "--start-daemon master --mcast-group ff02::1 --mcast-port 1 --mcast-ttl 2 --sync-maxlen 3 --syncid 4 --mcast-interface lo",
    ] {
        out.push(l.to_owned());
    }
    // Random lines from a pool of words.
    let mut pool: Vec<String> = Vec::new();
    for (opt, values) in OPTION_VALUES {
        pool.push((*opt).to_owned());
        for v in values.iter() {
            pool.push((*v).to_owned());
            pool.push(format!("{opt}{v}"));
            if opt.starts_with("--") {
                pool.push(format!("{opt}={v}"));
            }
        }
    }
    for c in COMMANDS {
        pool.extend(words(c).map(str::to_owned));
    }
    pool.extend(
        [
            "--", "-", "-Ln", "-nL", "-Lc", "-At", "-ai", "-gm", "--stat", "-6f",
        ]
        .map(String::from),
    );
    for (i, v) in DEST_VALUES.iter().enumerate() {
        if i % 2 == 0 {
            pool.push(format!("-r{v}"));
        }
    }
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..random {
        let mut parts = vec![COMMANDS[rng.below(COMMANDS.len())].to_owned()];
        for _ in 0..rng.below(7) {
            parts.push(pool[rng.below(pool.len())].clone());
        }
        if rng.below(16) == 0 {
            let last = parts.len() - 1;
            parts.swap(0, last);
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        out.push(line(&refs));
    }
    let mut seen = std::collections::HashSet::new();
    let mut lines = Vec::new();
    for l in out {
        if seen.insert(l.clone()) {
            let restore = l.starts_with("-R") || l.contains(" -R");
            lines.push((false, l.clone()));
            if restore {
                lines.push((true, l));
            }
        }
    }
    lines
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the parser makes of a line, in one line.
pub(super) fn outcome(restore: bool, words: &str) -> String {
    let args: Vec<&str> = words
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| if w == "\\e" { "" } else { w })
        .collect();
    let names = SystemNames::from_text(HOSTS, SERVICES);
    match parse_args(&args, &names, restore) {
        Ok(cmd) => {
            let text = format!("{cmd:?}");
            let end = text.find([' ', '{']).unwrap_or(text.len());
            format!("ok {} {:016x}", &text[..end], fnv(&text))
        }
        Err(e) => {
            let cut = truncated(&e.message, 40);
            format!("err {} {:016x} {cut}", e.status, fnv(&e.message))
        }
    }
}

fn random_count() -> usize {
    std::env::var("LVS_CORPUS_RANDOM")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000)
}

fn full() -> bool {
    std::env::var_os("LVS_CORPUS_FULL").is_some()
}

#[test]
#[ignore = "writes the corpus: LVS_WRITE_CORPUS=path"]
fn write_corpus() {
    let path = std::env::var("LVS_WRITE_CORPUS").expect("LVS_WRITE_CORPUS");
    let mut text = String::new();
    for (restore, words) in generate(random_count(), full()) {
        let o = outcome(restore, &words);
        text.push_str(&format!("{}\t{words}\t{o}\n", u8::from(restore)));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn corpus_outcomes_are_unchanged() {
    let text = match std::env::var("LVS_CORPUS") {
        Ok(path) => std::fs::read_to_string(path).unwrap(),
        Err(_) => include_str!("../../../tests/fixtures/ipvsadm-args-corpus.txt").to_owned(),
    };
    let mut wrong = Vec::new();
    let mut n = 0;
    for l in text.lines() {
        let mut f = l.splitn(3, '\t');
        let (Some(r), Some(words), Some(expected)) = (f.next(), f.next(), f.next()) else {
            panic!("bad corpus line {l:?}");
        };
        n += 1;
        let got = outcome(r == "1", words);
        if got != expected {
            wrong.push(format!(
                "{words:?}\n  expected {expected}\n  got      {got}"
            ));
        }
    }
    assert!(n > 1000, "only {n} lines");
    assert!(
        wrong.is_empty(),
        "{} of {n} lines differ:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
