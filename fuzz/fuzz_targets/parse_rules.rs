//! Rule input (what `ipvsadm -R` reads) of any bytes: `parse_rules` returns the commands or
//! names a bad line, and never panics; every parsed line is then checked as the drop-in
//! checks it before applying, and every service it adds is written back with `save`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs::text::{self, Command, ListOptions, SystemNames};
use lvs::ServiceEntry;

const HOSTS: &str = "127.0.0.1 localhost\n10.0.0.1 vip.example vip\nfd00::1 vip6\n";
const SERVICES: &str = "http 80/tcp\nhttp 80/udp\ndomain 53/udp\nsip 5060/udp\n";

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let names = SystemNames::from_text(HOSTS, SERVICES);
    let Ok(rules) = text::parse_rules(&input, &names) else {
        return;
    };
    let mut table = Vec::new();
    for rule in &rules {
        assert!(rule.line >= 1);
        let _ = rule.command.validate();
        if let Command::Write(lvs::Op::AddService(s)) = &rule.command {
            table.push(ServiceEntry {
                service: s.clone(),
                destinations: Vec::new(),
            });
        }
    }
    let opts = ListOptions::numeric();
    let _ = text::save_with(&table, &opts, &names);
    let _ = text::listing_with(&table, &opts, &names);
});
