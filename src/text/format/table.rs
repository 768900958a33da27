//! Whole tables: the listing and rule text of a table, built a service at a time
//! ([`TableText`], [`TextBlock`]) and put in ipvsadm's order.

use super::listing::{header, title};
use super::order::{c_qsort, ServiceKey};
use super::{service_entry, ListOptions};
use crate::model::ServiceEntry;
use crate::text::names::Names;

/// `ipvsadm -L` of a whole table (header, title, every service), with names looked up in
/// `names` unless `opts.numeric`.
pub fn listing_with(table: &[ServiceEntry], opts: &ListOptions, names: &dyn Names) -> String {
    let mut text = TableText::listing(opts, names);
    table.iter().for_each(|e| text.push(e));
    text.finish()
}

/// `ipvsadm -L -t|-u|-f ...`: the title and one service (no header line).
pub fn service_listing_with(entry: &ServiceEntry, opts: &ListOptions, names: &dyn Names) -> String {
    let mut out = title(opts.format);
    service_entry(&mut out, entry, opts, false, names);
    out
}

/// `ipvsadm -S`: the table as rules that `ipvsadm -R` reads back (sorted unless
/// `opts.sort` is false; names unless `opts.numeric`).
pub fn save_with(table: &[ServiceEntry], opts: &ListOptions, names: &dyn Names) -> String {
    let mut text = TableText::save(opts, names);
    table.iter().for_each(|e| text.push(e));
    text.finish()
}

/// A listing (`ipvsadm -L`) or rule text (`ipvsadm -S`) built a service at a time, for a
/// table read as a walk: each service's lines are formatted as it arrives, while the rest
/// of the table is still being read, and [`finish`](Self::finish) puts the services in
/// ipvsadm's order (unless `opts.sort` is false). The text is what [`listing_with`] or
/// [`save_with`] print for the same services pushed in the same order.
///
/// With [`Ipvs::table_map`](crate::Ipvs::table_map), the services can be formatted on the
/// threads that read them ([`TextBlock`]) and pushed afterwards with
/// [`push_block`](Self::push_block).
///
/// ```
/// use lvs::text::{save_with, ListOptions, NoNames, TableText};
/// use lvs::{Service, ServiceEntry};
/// let entry = |addr: &str| -> Result<ServiceEntry, Box<dyn std::error::Error>> {
///     let service = Service::tcp(addr.parse()?).build()?;
///     Ok(ServiceEntry { service, destinations: vec![] })
/// };
/// let table = vec![entry("10.0.0.2:80")?, entry("10.0.0.1:80")?];
/// let opts = ListOptions::numeric();
/// let mut text = TableText::save(&opts, &NoNames);
/// for e in &table {
///     text.push(e);
/// }
/// let text = text.finish();
/// assert_eq!(text, "-A -t 10.0.0.1:80 -s wlc\n-A -t 10.0.0.2:80 -s wlc\n");
/// assert_eq!(text, save_with(&table, &opts, &NoNames));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TableText<'a> {
    opts: &'a ListOptions,
    names: &'a dyn Names,
    rules: bool,
    /// Every service's lines, in the order pushed.
    blocks: Vec<TextBlock>,
}

impl std::fmt::Debug for TableText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableText")
            .field("opts", self.opts)
            .field("rules", &self.rules)
            .field("services", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

/// One service's lines of a listing or rule text, formatted on their own (on whichever
/// thread read the service), for [`TableText::push_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextBlock {
    key: ServiceKey,
    text: String,
}

impl TextBlock {
    /// The service's lines as `ipvsadm -L` prints them (in [`TableText::listing`]).
    pub fn listing(entry: &ServiceEntry, opts: &ListOptions, names: &dyn Names) -> TextBlock {
        TextBlock::new(entry, opts, false, names)
    }

    /// The service's rules as `ipvsadm -S` prints them (in [`TableText::save`]).
    pub fn save(entry: &ServiceEntry, opts: &ListOptions, names: &dyn Names) -> TextBlock {
        TextBlock::new(entry, opts, true, names)
    }

    fn new(entry: &ServiceEntry, opts: &ListOptions, rules: bool, names: &dyn Names) -> TextBlock {
        // About a line per object, most under 80 bytes: one allocation for most services.
        let mut text = String::with_capacity(80 * (1 + entry.destinations.len()));
        service_entry(&mut text, entry, opts, rules, names);
        TextBlock {
            key: ServiceKey::of(&entry.service.id),
            text,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<'a> TableText<'a> {
    /// `ipvsadm -L` text (header and title, then the services).
    pub fn listing(opts: &'a ListOptions, names: &'a dyn Names) -> TableText<'a> {
        TableText {
            opts,
            names,
            rules: false,
            blocks: Vec::new(),
        }
    }

    /// `ipvsadm -S` text (rules).
    pub fn save(opts: &'a ListOptions, names: &'a dyn Names) -> TableText<'a> {
        TableText {
            rules: true,
            ..TableText::listing(opts, names)
        }
    }

    /// Format one service with its destinations.
    pub fn push(&mut self, entry: &ServiceEntry) {
        let block = TextBlock::new(entry, self.opts, self.rules, self.names);
        self.blocks.push(block);
    }

    /// Add a service formatted already, with [`TextBlock::listing`] for a listing or
    /// [`TextBlock::save`] for rules, and the same options.
    pub fn push_block(&mut self, block: TextBlock) {
        self.blocks.push(block);
    }

    /// The whole text, services in ipvsadm's order (or as pushed, with `opts.sort` false).
    pub fn finish(self) -> String {
        let len: usize = self.blocks.iter().map(|b| b.text.len()).sum();
        let mut out = self.head();
        out.reserve(len);
        for i in self.order() {
            out.push_str(&self.blocks[i].text);
        }
        out
    }

    /// Write the whole text to `w`, as [`finish`](Self::finish) returns it, without
    /// building it in one string first (for a large table on standard output); then flush
    /// `w`. It is written 64 KiB at a time: a line-buffered writer such as `Stdout` would
    /// otherwise write every service's block on its own.
    pub fn write_to(self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        const STAGE: usize = 64 * 1024;
        let mut stage = Vec::with_capacity(STAGE);
        stage.extend_from_slice(self.head().as_bytes());
        for i in self.order() {
            let block = self.blocks[i].text.as_bytes();
            if stage.len() + block.len() > STAGE {
                w.write_all(&stage)?;
                stage.clear();
            }
            if block.len() > STAGE {
                w.write_all(block)?;
            } else {
                stage.extend_from_slice(block);
            }
        }
        w.write_all(&stage)?;
        w.flush()
    }

    /// What comes before the services: a listing's header and title (nothing for rules).
    fn head(&self) -> String {
        if self.rules {
            String::new()
        } else {
            header(&self.opts.info) + &title(self.opts.format)
        }
    }

    /// The blocks' indices in ipvsadm's order (or as pushed, with `opts.sort` false).
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<(ServiceKey, usize)> =
            self.blocks.iter().map(|b| b.key).zip(0..).collect();
        if self.opts.sort {
            c_qsort(&mut order, &|a, b| a.0.compare(&b.0));
        }
        order.into_iter().map(|(_, i)| i).collect()
    }
}
