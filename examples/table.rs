//! Print the IPVS table of this network namespace (or of the one named by the first
//! argument), in a compact form: one line per service, one indented line per destination.
//!
//! ```sh
//! cargo run --example table            # needs root and the ip_vs module
//! cargo run --example table -- blue    # the table of network namespace "blue"
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match lvs::text::utf8_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("table: {e}\nusage: table [NETNS]");
            return ExitCode::from(2);
        }
    };
    if let Some(Err(e)) = args.first().map(|ns| lvs::model::check_netns_name(ns)) {
        eprintln!("table: {e}\nusage: table [NETNS]");
        return ExitCode::from(2);
    }
    let ipvs = match args.first() {
        Some(ns) => lvs::Ipvs::in_netns(ns),
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
