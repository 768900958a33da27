//! The drop-in's command line (examples/ipvsadm.rs), NUL-separated words: it takes its
//! `--netns` option, parses the rest as ipvsadm would, checks the command as `-R` does, and
//! encodes the request it would send. Nothing may panic; a refusal carries ipvsadm's exit
//! status (2 or 255).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs::text::{self, SystemNames};
use lvs::wire;

const HOSTS: &str = "127.0.0.1 localhost\n10.0.0.1 vip.example vip\nfd00::1 vip6\n";
const SERVICES: &str = "http 80/tcp\nhttp 80/udp\ndomain 53/udp\nsip 5060/udp\n";

fuzz_target!(|data: &[u8]| {
    let mut args: Vec<String> = data
        .split(|&b| b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if data.is_empty() {
        args.clear();
    }
    let _ = text::take_netns(&mut args);
    let names = SystemNames::from_text(HOSTS, SERVICES);
    match text::parse_args(&args, &names, false) {
        Ok(cmd) => {
            let _ = cmd.is_write();
            let _ = cmd.validate();
            if let Some(op) = cmd.op() {
                let msg = wire::IpvsMessage::from(op);
                let _ = wire::frame_request(msg, 0x20, 1, false);
            }
        }
        Err(e) => assert!(e.status == 2 || e.status == 255, "status {}", e.status),
    }
    // The same words as one line of -R input.
    let _ = text::parse_rules(&args.join(" "), &names);
});
