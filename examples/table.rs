//! Print the IPVS table of this network namespace (or of the one named by the first
//! argument), in a compact form: one line per service, one indented line per destination.
//!
//! ```sh
//! cargo run --example table            # needs root and the ip_vs module
//! cargo run --example table -- blue    # the table of network namespace "blue"
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let ipvs = match std::env::args().nth(1) {
        Some(ns) => lvs::Ipvs::in_netns(&ns),
        None => lvs::Ipvs::new(),
    };
    let result = ipvs.and_then(|mut ipvs| {
        let info = ipvs.info()?;
        println!(
            "IP Virtual Server version {} (size={})",
            info.version, info.conn_table_size
        );
        for entry in ipvs.table()? {
            println!("{}", entry.service);
            for d in &entry.destinations {
                println!("  -> {d}");
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("table: {e}");
            ExitCode::FAILURE
        }
    }
}
