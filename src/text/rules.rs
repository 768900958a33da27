//! The rule format: what `ipvsadm -S` writes and `ipvsadm -R` reads.
//!
//! Each line is an ipvsadm command line without the program name, for example
//! `-A -t 10.0.0.1:80 -s rr` or `-a -t [fd00::1]:80 -r [fd00::2]:80 -m -w 1`. Words are
//! separated by spaces, tabs or carriage returns; a word `ipvsadm` is ignored anywhere (so
//! lines may start with the program name); empty lines are skipped. As in ipvsadm there is
//! no comment syntax: a `#` is an ordinary word (and so an error).
//!
//! [`parse_rules`] reads a whole input before anything is applied and names the first bad
//! line; [`rules`] reads it a line at a time, borrowing the lines, for large inputs or for
//! acting on each rule as it is read; [`super::save`] writes a table in this format.
//!
//! ```
//! use lvs::text::{parse_rules, Command, NoNames};
//! use lvs::Op;
//! let rules = parse_rules("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n", &NoNames)?;
//! assert_eq!(rules.len(), 2);
//! assert!(matches!(rules[1].command, Command::Write(Op::AddDestination(..))));
//! let err = parse_rules("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -w x\n", &NoNames).unwrap_err();
//! assert_eq!(err.line, 2);
//! # Ok::<(), lvs::text::RuleError>(())
//! ```

use super::args::{parse_args, ArgError, Command};
use super::names::Names;

/// One parsed line of rule input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    /// 1-based line number in the input.
    pub line: usize,
    /// The line's words joined by single spaces (as [`RuleError::text`] has them), for
    /// messages about the line.
    pub text: String,
    /// The command.
    pub command: Command,
}

/// A line of rule input that ipvsadm would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {error} (in: {text})")]
pub struct RuleError {
    /// 1-based line number.
    pub line: usize,
    /// The line's words joined by spaces.
    pub text: String,
    /// What is wrong, with ipvsadm's exit status for it.
    pub error: ArgError,
}

/// Split a line into words as ipvsadm's restore does (space, tab and CR separate words;
/// the word `ipvsadm` is dropped).
pub fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    split_words(line, &mut words);
    words.into_iter().map(str::to_owned).collect()
}

/// The words of `line`, separated by spaces, tabs and carriage returns, without the word
/// `ipvsadm` (a rule line may start with the command's name), appended to `words`.
fn split_words<'a>(line: &'a str, words: &mut Vec<&'a str>) {
    let sep = |b: u8| matches!(b, b' ' | b'\t' | b'\r');
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && sep(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && !sep(b[i]) {
            i += 1;
        }
        // The separators are ASCII, so `start` and `i` are on character boundaries.
        if let Some(w) = line
            .get(start..i)
            .filter(|w| !w.is_empty() && *w != "ipvsadm")
        {
            words.push(w);
        }
    }
}

/// One rule of input, borrowing its line: what [`rules`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule<'a> {
    /// 1-based line number in the input.
    pub line: usize,
    /// The line as written, without its newline.
    pub source: &'a str,
    /// The command.
    pub command: Command,
}

impl Rule<'_> {
    /// The line's words joined by single spaces, as [`RuleLine::text`] has them.
    pub fn text(&self) -> String {
        let mut words = Vec::new();
        split_words(self.source, &mut words);
        words.join(" ")
    }
}

impl From<Rule<'_>> for RuleLine {
    fn from(rule: Rule<'_>) -> RuleLine {
        RuleLine {
            line: rule.line,
            text: rule.text(),
            command: rule.command,
        }
    }
}

/// The rules of `input`, read one line at a time as they are asked for, without copying
/// the lines: each item is the next line that is not empty, parsed, or the error of the
/// first line ipvsadm would refuse (after which there are none). [`parse_rules`] collects
/// them; this is for inputs too large to hold parsed all at once, or to act on each rule
/// as it is read.
///
/// ```
/// use lvs::text::{rules, Command, NoNames};
/// use lvs::Op;
/// let input = "-A -t 10.0.0.1:80 -s rr\n\n-a  -t 10.0.0.1:80 -r 10.0.0.2:80 -m\n-x\n-C\n";
/// let mut it = rules(input, &NoNames);
/// let first = it.next().unwrap()?;
/// assert!(matches!(first.command, Command::Write(Op::AddService(_))));
/// let second = it.next().unwrap()?;
/// assert_eq!((second.line, second.source), (3, "-a  -t 10.0.0.1:80 -r 10.0.0.2:80 -m"));
/// assert_eq!(second.text(), "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m");
/// assert_eq!(it.next().unwrap().unwrap_err().line, 4);
/// assert!(it.next().is_none());
/// # Ok::<(), lvs::text::RuleError>(())
/// ```
pub fn rules<'a>(input: &'a str, names: &'a dyn Names) -> Rules<'a> {
    Rules {
        lines: input.split('\n').enumerate(),
        names,
        words: Vec::new(),
        done: false,
    }
}

/// The iterator of [`rules`].
pub struct Rules<'a> {
    lines: std::iter::Enumerate<std::str::Split<'a, char>>,
    names: &'a dyn Names,
    /// The words of the line being parsed (kept to reuse its memory).
    words: Vec<&'a str>,
    done: bool,
}

impl std::fmt::Debug for Rules<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a> Iterator for Rules<'a> {
    type Item = Result<Rule<'a>, RuleError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        for (i, source) in self.lines.by_ref() {
            self.words.clear();
            split_words(source, &mut self.words);
            if self.words.is_empty() {
                continue;
            }
            return Some(match parse_args(&self.words, self.names, true) {
                Ok(command) => Ok(Rule {
                    line: i + 1,
                    source,
                    command,
                }),
                Err(error) => {
                    self.done = true;
                    Err(RuleError {
                        line: i + 1,
                        text: self.words.join(" "),
                        error,
                    })
                }
            });
        }
        self.done = true;
        None
    }
}

/// Parse rule input; stops at the first line ipvsadm would refuse.
pub fn parse_rules(text: &str, names: &dyn Names) -> Result<Vec<RuleLine>, RuleError> {
    let mut out = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count() + 1);
    let mut rules = rules(text, names);
    while let Some(rule) = rules.next() {
        let rule = rule?;
        out.push(RuleLine {
            line: rule.line,
            // The words of the line just read (`Rule::text` would split it again).
            text: rules.words.join(" "),
            command: rule.command,
        });
    }
    Ok(out)
}
