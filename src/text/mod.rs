//! ipvsadm's text formats: the command line and rule format (`-S` writes, `-R` reads) and
//! the listings (`-L`), printed byte for byte as ipvsadm 1.31 prints them.
//!
//! ```
//! use lvs::text::{listing, ListOptions};
//! use lvs::{Destination, Service, ServiceEntry};
//! let service = Service::tcp("10.0.0.1:80".parse()?).build()?;
//! let rs = Destination::builder("10.0.0.2:80".parse()?).masquerade().build()?;
//! let table = vec![ServiceEntry { service, destinations: vec![rs] }];
//! let text = listing(&table, &ListOptions::numeric());
//! assert!(text.contains("TCP  10.0.0.1:80 wlc\n  -> 10.0.0.2:80"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod args;
mod cnum;
mod format;
pub mod names;
pub mod rules;
mod scan;
mod usage;

pub use args::{parse_args, take_netns, ArgError, Command, ListRequest, ListWhat};
pub use format::{
    connections_with, daemons, header, listing_with, save_with, service_listing_with,
    service_order, timeouts, title, ListFormat, ListOptions, TableText, TextBlock,
};
pub use names::{Names, NoNames, SystemNames};
pub use rules::{parse_rules, rules, Rule, RuleError, RuleLine, Rules};
pub use scan::{line_chunks, may_edit_or_delete};
pub use usage::usage;

use crate::conn::ConnEntry;
use crate::model::ServiceEntry;

/// The names to use for these options: none when numeric, the system's otherwise.
fn names_for(numeric: bool) -> Box<dyn Names> {
    if numeric {
        Box::new(NoNames)
    } else {
        Box::new(SystemNames::new())
    }
}

/// `ipvsadm -L` (`-Ln` with [`ListOptions::numeric`]) of a table: the header, the title and
/// every service with its destinations. Names come from `/etc/hosts` and `/etc/services`
/// unless numeric.
pub fn listing(table: &[ServiceEntry], opts: &ListOptions) -> String {
    listing_with(table, opts, names_for(opts.numeric).as_ref())
}

/// `ipvsadm -L -t|-u|-f SERVICE`: the title and that one service.
pub fn service_listing(entry: &ServiceEntry, opts: &ListOptions) -> String {
    service_listing_with(entry, opts, names_for(opts.numeric).as_ref())
}

/// `ipvsadm -S` (`-Sn` when `numeric`): the table as rules for `ipvsadm -R`.
pub fn save(table: &[ServiceEntry], numeric: bool) -> String {
    let opts = ListOptions {
        numeric,
        ..ListOptions::default()
    };
    save_with(table, &opts, names_for(numeric).as_ref())
}

/// `ipvsadm -L -c` (`--persistent-conn` adds the engine columns).
pub fn connections(entries: &[ConnEntry], numeric: bool, persistent: bool) -> String {
    connections_with(entries, numeric, persistent, names_for(numeric).as_ref())
}

/// A program's arguments as UTF-8 strings (from [`std::env::args_os`]): a clear error naming
/// the argument, instead of the panic of [`std::env::args`], when one is not valid UTF-8.
///
/// ```
/// use std::ffi::OsString;
/// use std::os::unix::ffi::OsStringExt;
/// let ok = lvs::text::utf8_args([OsString::from("-L"), OsString::from("-n")]);
/// assert_eq!(ok.unwrap(), ["-L", "-n"]);
/// let bad = lvs::text::utf8_args([OsString::from_vec(vec![0xff, 0xfe, b':', b'8', b'0'])]);
/// assert!(bad.unwrap_err().to_string().contains("argument 1"));
/// ```
pub fn utf8_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<Vec<String>, crate::InvalidError> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|a| {
                crate::InvalidError::parse(
                    &format!("argument {} ({})", i + 1, a.to_string_lossy()),
                    "valid UTF-8",
                )
            })
        })
        .collect()
}
