//! The rule format: what `ipvsadm -S` writes and `ipvsadm -R` reads.
//!
//! Each line is an ipvsadm command line without the program name, for example
//! `-A -t 10.0.0.1:80 -s rr` or `-a -t [fd00::1]:80 -r [fd00::2]:80 -m -w 1`. Words are
//! separated by spaces, tabs or carriage returns; a word `ipvsadm` is ignored anywhere (so
//! lines may start with the program name); empty lines are skipped. As in ipvsadm there is
//! no comment syntax: a `#` is an ordinary word (and so an error).
//!
//! [`parse_rules`] reads a whole input before anything is applied and names the first bad
//! line; [`super::save`] writes a table in this format.
//!
//! ```
//! use lvs::text::{parse_rules, Command, NoNames};
//! let rules = parse_rules("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n", &NoNames)?;
//! assert_eq!(rules.len(), 2);
//! assert!(matches!(rules[1].command, Command::AddDestination(..)));
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

/// Parse rule input; stops at the first line ipvsadm would refuse.
pub fn parse_rules(text: &str, names: &dyn Names) -> Result<Vec<RuleLine>, RuleError> {
    let mut out = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count() + 1);
    let mut words: Vec<&str> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        words.clear();
        split_words(line, &mut words);
        if words.is_empty() {
            continue;
        }
        match parse_args(&words, names, true) {
            Ok(command) => out.push(RuleLine {
                line: i + 1,
                text: words.join(" "),
                command,
            }),
            Err(error) => {
                return Err(RuleError {
                    line: i + 1,
                    text: words.join(" "),
                    error,
                })
            }
        }
    }
    Ok(out)
}
