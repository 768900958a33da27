//! What a rule file may hold, found before it is parsed (a restore that only adds can skip
//! following what it adds: see [`TransactionOptions::track_adds`](crate::client::TransactionOptions)).

/// Whether some line of rule-format `input` may be an edit, a delete or a flush (`-E`, `-e`,
/// `-D`, `-d`, `-C`, alone or first of a bundle, or a long name for one of them). Only the
/// first word of each line after any `ipvsadm` words is looked at (a line's first option must
/// be its command), so this is fast and never misses one: every line the parser reads as
/// such a command is seen.
///
/// ```
/// assert!(!lvs::text::may_edit_or_delete("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2\n"));
/// assert!(lvs::text::may_edit_or_delete("-A -t 10.0.0.1:80\n-Dt10.0.0.1:80\n"));
/// ```
pub fn may_edit_or_delete(input: &str) -> bool {
    input.split('\n').any(|line| {
        let first = line
            .split([' ', '\t', '\r'])
            .find(|w| !w.is_empty() && *w != "ipvsadm")
            .unwrap_or("");
        match first.as_bytes() {
            [b'-', b'-', ..] => ["--edit", "--delete", "--clear"]
                .iter()
                .any(|name| first.starts_with(name)),
            [b'-', c, ..] => matches!(c, b'E' | b'e' | b'D' | b'd' | b'C'),
            _ => false,
        }
    })
}

/// `input` in chunks of `first` lines, then of `lines` lines each (the last one shorter),
/// each with the number of lines before it: for parsing a large rule file a chunk at a time
/// (with [`rules()`](super::rules()), adding the offset to each rule's line number) while the
/// chunk before is applied. Chunks split only after a newline.
///
/// ```
/// let chunks: Vec<_> = lvs::text::line_chunks("a\nb\nc\nd\ne", 1, 2).collect();
/// assert_eq!(chunks, [(0, "a\n"), (1, "b\nc\n"), (3, "d\ne")]);
/// ```
pub fn line_chunks(input: &str, first: usize, lines: usize) -> impl Iterator<Item = (usize, &str)> {
    let (first, lines) = (first.max(1), lines.max(1));
    let mut rest = input;
    let mut before = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let lines = if before == 0 { first } else { lines };
        let end = rest
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .nth(lines - 1)
            .map_or(rest.len(), |(i, _)| i + 1);
        let (chunk, tail) = rest.split_at(end);
        let item = (before, chunk);
        before += lines;
        rest = tail;
        Some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Op;
    use crate::text::{rules, Command, NoNames};

    #[test]
    fn edits_deletes_and_flushes_are_seen() {
        let adds = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 1\n\
                    --set 1 2 3\n-Ln\n--start-daemon master\n-Z\n";
        assert!(!may_edit_or_delete(adds));
        assert!(!may_edit_or_delete(
            "-L --daemon\n--stop-daemon backup\n-Z -t 10.0.0.1:80\n"
        ));
        for line in [
            "-E -t 10.0.0.1:80 -s wlc",
            "\t ipvsadm  -e -t 10.0.0.1:80 -r 10.0.0.2 -w 3",
            "-Dt10.0.0.1:80",
            "ipvsadm ipvsadm -d -t 10.0.0.1:80 -r 10.0.0.2",
            "-C",
            "--clear",
            "--delete-server -t 10.0.0.1:80 -r 10.0.0.2",
            "--edit-service -t 10.0.0.1:80",
        ] {
            let input = format!("{adds}{line}\n{adds}");
            assert!(may_edit_or_delete(&input), "{line}");
        }
    }

    /// Every line the parser reads as an edit, a delete or a flush is seen, and no line it
    /// reads as anything else is, for every command word with every set of these options,
    /// after 0 to 2 `ipvsadm` words, with each kind of separator.
    #[test]
    fn every_parsed_edit_delete_or_flush_is_seen() {
        const COMMANDS: [&str; 16] = [
            "-E",
            "-e",
            "-D",
            "-d",
            "-C",
            "-A",
            "-a",
            "-Dt10.0.0.1:80",
            "-dt 10.0.0.1:80",
            "--delete-server",
            "--edit-service",
            "--clear",
            "-Z",
            "--delete-service",
            "--start-daemon master",
            "--stop-daemon=backup",
        ];
        const OPTIONS: [&str; 6] = ["-t 10.0.0.1:80", "-r 10.0.0.2", "-w 3", "-s rr", "-m", "x"];
        let (mut changes, mut others) = (0, 0);
        for (command, lead, sep) in COMMANDS
            .iter()
            .flat_map(|c| (0..3).flat_map(move |l| [" ", "\t", " \r "].map(|s| (c, l, s))))
        {
            for set in 0..1u32 << OPTIONS.len() {
                let words: Vec<&str> = std::iter::repeat_n("ipvsadm", lead)
                    .chain([*command])
                    .chain(
                        (0..OPTIONS.len())
                            .filter(|i| set & 1 << i != 0)
                            .map(|i| OPTIONS[i]),
                    )
                    .collect();
                let line = format!("{sep}{}\n", words.join(sep));
                if let Some(Ok(rule)) = rules(&line, &NoNames).next() {
                    if matches!(
                        rule.command,
                        Command::Write(Op::UpdateService(_))
                            | Command::Write(Op::UpdateDestination(..))
                            | Command::Write(Op::DeleteService(_))
                            | Command::Write(Op::DeleteDestination(..))
                            | Command::Write(Op::Flush)
                    ) {
                        changes += 1;
                        assert!(may_edit_or_delete(&line), "{line:?}");
                    } else {
                        others += 1;
                        assert!(!may_edit_or_delete(&line), "{line:?}");
                    }
                }
            }
        }
        // Each of the 12 edit, delete and flush words, in each of the 9 layouts, with
        // several option sets.
        assert!(changes > 12 * 9 && others >= 4 * 9, "{changes} {others}");
    }
}
