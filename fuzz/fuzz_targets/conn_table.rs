//! The text of `/proc/net/ip_vs_conn` (any bytes): `conn::parse` returns entries or a line
//! error and never panics; whatever parses is printed as `ipvsadm -Lc` prints it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs::text::{self, NoNames};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    match lvs::conn::parse(&input) {
        Ok(entries) => {
            for e in &entries {
                let _ = e.protocol();
            }
            let _ = text::connections_with(&entries, true, false, &NoNames);
            let _ = text::connections_with(&entries, true, true, &NoNames);
        }
        Err(e) => assert!(e.line >= 2, "the header line is never parsed: {e}"),
    }
});
