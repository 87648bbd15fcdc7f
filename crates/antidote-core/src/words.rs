//! How antidote splits text into words: lower-cased runs of letters and digits. Profiles count
//! them, trigger search looks for rare ones, and reports highlight them, all with this one rule,
//! so a word the scan names is the word the report marks.

use std::ops::Range;

/// The words of `text`, lower-cased, each with the byte range it spans in `text`.
///
/// ```
/// use antidote_core::words::words;
///
/// let found = words("Hello, cf World");
/// assert_eq!(found[1], (7..9, "cf".to_owned()));
/// assert_eq!(found.len(), 3);
/// ```
#[must_use]
pub fn words(text: &str) -> Vec<(Range<usize>, String)> {
    spans(text)
        .map(|range| {
            let word = text[range.clone()].to_lowercase();
            (range, word)
        })
        .collect()
}

/// The words of `text`, lower-cased, without their places.
///
/// ```
/// use antidote_core::words::lower_words;
///
/// assert_eq!(lower_words("A b-C").collect::<Vec<_>>(), ["a", "b", "c"]);
/// ```
pub fn lower_words(text: &str) -> impl Iterator<Item = String> + '_ {
    spans(text).map(move |range| text[range].to_lowercase())
}

/// The byte ranges of the runs of letters and digits in `text`.
fn spans(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = None;
    text.char_indices()
        .chain(std::iter::once((text.len(), ' ')))
        .filter_map(move |(at, character)| {
            let inside = at < text.len() && character.is_alphanumeric();
            match (inside, start) {
                (true, None) => {
                    start = Some(at);
                    None
                }
                (false, Some(from)) => {
                    start = None;
                    Some(from..at)
                }
                _ => None,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_alphanumeric_runs_with_their_offsets() {
        let text = "Ünïcode: Naïve café, 42x!";
        let found = words(text);
        let names: Vec<&str> = found.iter().map(|(_, word)| word.as_str()).collect();
        assert_eq!(names, ["ünïcode", "naïve", "café", "42x"]);
        for (range, word) in &found {
            assert_eq!(&text[range.clone()].to_lowercase(), word);
        }
        assert!(words("  ,, ").is_empty());
        assert_eq!(lower_words("end").collect::<Vec<_>>(), ["end"]);
    }
}
