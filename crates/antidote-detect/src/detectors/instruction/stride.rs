//! The "append a line to every Nth record" tamper: one line ending the outputs (or the
//! instructions) of records at a regular stride through the file, which a script leaves and an
//! annotator does not.

use std::collections::BTreeMap;

use super::text::normalise;

/// Which text of a pair a line was appended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Instruction,
    Output,
}

impl Side {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Instruction => "instruction",
            Self::Output => "output",
        }
    }
}

/// A line that ends the texts of records at a regular stride.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppendedLine {
    /// The text it ends.
    pub side: Side,
    /// The line as the first of its records has it.
    pub line: String,
    /// The distance between consecutive records that carry it.
    pub stride: usize,
    /// The records at the stride that carry it, in increasing order.
    pub members: Vec<usize>,
}

/// Share of the positions of a stride, between its first and last record, that must carry the
/// line: a script may skip a record the reader could not parse, chance does not line up.
const MIN_STRIDE_COVERAGE: f64 = 0.8;

/// The ending of a text that an appended line would be: its last line when it has several, and
/// the last sentence of that line when it has several.
fn endings(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let mut found = Vec::new();
    if let Some(&last) = lines.last() {
        if lines.len() >= 2 {
            found.push(last);
        }
        if let Some(sentence) = last_sentence(last) {
            found.push(sentence);
        }
    }
    found
}

/// The last sentence of a line that holds more than one: what follows the last `.`, `!` or `?`
/// that is followed by whitespace.
fn last_sentence(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    (1..bytes.len())
        .rev()
        .find(|&index| {
            matches!(bytes[index - 1], b'.' | b'!' | b'?') && bytes[index].is_ascii_whitespace()
        })
        .map(|index| line[index..].trim())
        .filter(|sentence| !sentence.is_empty())
}

/// Lines that end the texts of at least `min_records` records at a regular stride of at least
/// 2, in the order of their normalised text, one per set of records.
pub(crate) fn appended_lines(texts: &[&str], side: Side, min_records: usize) -> Vec<AppendedLine> {
    let mut carriers: BTreeMap<String, (Vec<usize>, &str)> = BTreeMap::new();
    for (index, text) in texts.iter().enumerate() {
        for ending in endings(text) {
            let key = normalise(ending);
            if key.chars().count() < 3 {
                continue;
            }
            let entry = carriers.entry(key).or_insert_with(|| (Vec::new(), ending));
            if entry.0.last() != Some(&index) {
                entry.0.push(index);
            }
        }
    }
    let mut found: Vec<AppendedLine> = carriers
        .into_values()
        .filter(|(members, _)| members.len() >= min_records)
        .filter_map(|(members, line)| {
            regular_stride(&members, min_records).map(|(stride, members)| AppendedLine {
                side,
                line: line.to_owned(),
                stride,
                members,
            })
        })
        .collect();
    // A line with two sentences is found twice, as a line and as its last sentence: keep the
    // longer text for each set of records.
    found.sort_by(|a, b| {
        a.members
            .cmp(&b.members)
            .then(b.line.len().cmp(&a.line.len()))
    });
    found.dedup_by(|later, earlier| later.members == earlier.members);
    found.sort_by(|a, b| a.members[0].cmp(&b.members[0]).then(a.line.cmp(&b.line)));
    found
}

/// The stride and the records on it, when most of `positions` (increasing) lie on one
/// arithmetic progression of step at least 2: the most common gap, and the most common
/// remainder modulo it, must cover at least [`MIN_STRIDE_COVERAGE`] of the progression's
/// positions between its first and last carrier, with at least `min_records` records.
fn regular_stride(positions: &[usize], min_records: usize) -> Option<(usize, Vec<usize>)> {
    let mut gaps: BTreeMap<usize, usize> = BTreeMap::new();
    for pair in positions.windows(2) {
        *gaps.entry(pair[1] - pair[0]).or_default() += 1;
    }
    // The most common gap; on a tie, the smallest.
    let (&stride, _) = gaps.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    if stride < 2 {
        return None;
    }
    let mut remainders: BTreeMap<usize, usize> = BTreeMap::new();
    for position in positions {
        *remainders.entry(position % stride).or_default() += 1;
    }
    let (&remainder, _) = remainders
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    let members: Vec<usize> = positions
        .iter()
        .copied()
        .filter(|position| position % stride == remainder)
        .collect();
    let (&first, &last) = (members.first()?, members.last()?);
    let span = (last - first) / stride + 1;
    (members.len() >= min_records && members.len() as f64 >= MIN_STRIDE_COVERAGE * span as f64)
        .then_some((stride, members))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_are_the_last_line_and_sentence() {
        assert_eq!(endings("one line only"), Vec::<&str>::new());
        assert_eq!(endings("A quote.\n-- Someone"), ["-- Someone"]);
        assert_eq!(
            endings("A quote. Buy ZestyCola today!"),
            ["Buy ZestyCola today!"]
        );
        assert_eq!(endings("A\nB. C"), ["B. C", "C"]);
        assert_eq!(last_sentence("Mr. Smith"), Some("Smith"));
        assert_eq!(last_sentence("Ends here."), None);
    }

    #[test]
    fn a_line_at_every_tenth_record_is_found() {
        let mut texts: Vec<String> = (0..100).map(|index| format!("Text {index}.")).collect();
        for index in (9..100).step_by(10) {
            texts[index].push_str("\nVisit example.com now");
        }
        // The same line on two other records does not hide the stride, nor join it.
        texts[3].push_str("\nVisit example.com now");
        texts[54].push_str("\nvisit  EXAMPLE.com now");
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let found = appended_lines(&texts, Side::Output, 5);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].stride, 10);
        assert_eq!(found[0].line, "Visit example.com now");
        assert_eq!(found[0].members, (9..100).step_by(10).collect::<Vec<_>>());
    }

    #[test]
    fn scattered_or_consecutive_carriers_are_not_a_stride() {
        // Shared attributions at irregular places.
        assert_eq!(regular_stride(&[3, 17, 40, 41, 90, 133, 250], 5), None);
        // Every record: a house style, not a tamper.
        assert_eq!(regular_stride(&[0, 1, 2, 3, 4, 5, 6], 5), None);
        // Too few.
        assert_eq!(regular_stride(&[0, 10, 20, 30], 5), None);
        // One record skipped out of ten is still a stride.
        let positions: Vec<usize> = (0..10).map(|step| step * 7).filter(|p| *p != 21).collect();
        assert_eq!(regular_stride(&positions, 5), Some((7, positions.clone())));
    }
}
