//! The duplicates detector on text: Debian's fortunes, one category per file.
//!
//! The whole corpus is not clean for this detector: several hundred quotes are filed under two
//! categories (most often `cookie` and another), some verbatim and some re-wrapped, re-punctuated
//! or with a changed attribution. Those are genuine conflicting copies, and the detector must
//! find the verbatim ones. The clean fixture is the 28 categories that share no quote with each
//! other; the poisoned fixture adds relabelled copies to them, exact and lightly edited.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use antidote_core::{RecordId, SplitMix64};
use antidote_data::{Record, Value};
use antidote_detect::Duplicates;

const FORTUNES: &str = "/usr/share/games/fortunes";

/// Categories that share no quote with each other.
const CLEAN_CATEGORIES: [&str; 28] = [
    "ascii-art",
    "computers",
    "debian",
    "disclaimer",
    "drugs",
    "education",
    "ethnic",
    "food",
    "goedel",
    "humorists",
    "kids",
    "law",
    "linuxcookie",
    "literature",
    "love",
    "magic",
    "medicine",
    "men-women",
    "news",
    "perl",
    "pets",
    "platitudes",
    "pratchett",
    "riddles",
    "sports",
    "startrek",
    "tao",
    "translate-me",
];

struct Corpus {
    texts: Vec<String>,
    labels: Vec<usize>,
    categories: Vec<String>,
}

/// Every fortune of the categories `keep` accepts, labelled by its file's index among all
/// category files (sorted by name).
fn fortunes(keep: impl Fn(&str) -> bool) -> Corpus {
    let directory = Path::new(FORTUNES);
    let mut categories: Vec<String> = std::fs::read_dir(directory)
        .expect("fortunes are installed by scripts/test.sh")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| !name.contains('.'))
        .collect();
    categories.sort();
    let mut corpus = Corpus {
        texts: Vec::new(),
        labels: Vec::new(),
        categories,
    };
    for (class, category) in corpus.categories.iter().enumerate() {
        if !keep(category) {
            continue;
        }
        let bytes = std::fs::read(directory.join(category)).expect("a readable fortune file");
        let mut current = String::new();
        for line in String::from_utf8_lossy(&bytes).lines() {
            if line == "%" {
                if !current.trim().is_empty() {
                    corpus.texts.push(std::mem::take(&mut current));
                    corpus.labels.push(class);
                }
                current.clear();
            } else {
                current.push_str(line);
                current.push('\n');
            }
        }
        if !current.trim().is_empty() {
            corpus.texts.push(current);
            corpus.labels.push(class);
        }
    }
    corpus
}

fn records(texts: &[String]) -> Vec<Record> {
    texts
        .iter()
        .enumerate()
        .map(|(position, text)| Record {
            position: position as u64,
            id: RecordId(position.to_string()),
            label: None,
            source: None,
            fields: vec![(Arc::from("fortune"), Value::Text(text.clone()))],
        })
        .collect()
}

/// The lower-cased words of a text, which is what makes two texts the same quote up to
/// spacing, case and punctuation.
fn words(text: &str) -> Vec<String> {
    antidote_core::words::lower_words(text).collect()
}

#[test]
fn categories_that_share_no_quote_give_no_finding() {
    let corpus = fortunes(|category| CLEAN_CATEGORIES.contains(&category));
    assert!(corpus.texts.len() > 5000, "{}", corpus.texts.len());
    let report = Duplicates::params()
        .check()
        .unwrap()
        .run(
            &records(&corpus.texts),
            Some(&corpus.labels),
            &corpus.categories,
        )
        .unwrap();
    assert!(
        report.flags.is_empty(),
        "{:?}",
        &report.flags[..report.flags.len().min(5)]
    );
}

#[test]
fn quotes_filed_under_two_categories_are_found() {
    let corpus = fortunes(|_| true);
    let report = Duplicates::params()
        .check()
        .unwrap()
        .run(
            &records(&corpus.texts),
            Some(&corpus.labels),
            &corpus.categories,
        )
        .unwrap();
    let flagged: BTreeSet<usize> = report.flagged_indices().into_iter().collect();

    // Independently: quotes with the same words filed under two categories, where no category
    // holds a majority of the copies, so that every copy must be flagged.
    let mut by_words: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for (record, text) in corpus.texts.iter().enumerate() {
        by_words.entry(words(text)).or_default().push(record);
    }
    let mut tied = 0;
    for copies in by_words.values().filter(|copies| copies.len() == 2) {
        if corpus.labels[copies[0]] != corpus.labels[copies[1]] {
            tied += 1;
            // Near duplicates can join the pair to a larger group with a majority, in which
            // case one copy agrees with it; at least one must be flagged either way.
            assert!(
                copies.iter().any(|copy| flagged.contains(copy)),
                "`{}` filed under `{}` and `{}` is not flagged",
                corpus.texts[copies[0]].trim(),
                corpus.categories[corpus.labels[copies[0]]],
                corpus.categories[corpus.labels[copies[1]]],
            );
        }
    }
    assert!(tied > 50, "{tied}");
    // Near duplicates (re-wrapped, re-attributed) make up the rest of the findings.
    assert!(
        flagged.len() > 2 * tied,
        "{} flags, {tied} verbatim pairs",
        flagged.len()
    );
}

#[test]
fn relabelled_copies_exact_and_lightly_edited_are_flagged() {
    let mut corpus = fortunes(|category| CLEAN_CATEGORIES.contains(&category));
    let clean_count = corpus.texts.len();
    let class_count = corpus.categories.len();
    let mut random = SplitMix64::new(7);
    // Originals long enough that one changed word keeps a two-word-shingle similarity above
    // 0.8: with `n` distinct shingles, one substituted word costs two, `(n - 2) / (n + 2)`.
    let long: Vec<usize> = (0..clean_count)
        .filter(|&record| words(&corpus.texts[record]).len() >= 25)
        .collect();
    let picked: Vec<usize> = random
        .sample(long.len(), 40)
        .into_iter()
        .map(|slot| long[slot])
        .collect();

    let mut expected = BTreeSet::new();
    let mut copies = Vec::new();
    for (slot, &original) in picked.iter().enumerate() {
        let text = corpus.texts[original].clone();
        let edited = lightly_edit(&text, &mut random);
        let relabelled = loop {
            let class = random.below(class_count);
            if class != corpus.labels[original]
                && CLEAN_CATEGORIES.contains(&corpus.categories[class].as_str())
            {
                break class;
            }
        };
        if slot >= 30 {
            // A faithful copy first: the group then has a majority, and only the relabelled
            // copy disagrees with it.
            corpus.texts.push(text.clone());
            corpus.labels.push(corpus.labels[original]);
        } else {
            // A tied pair: nothing says which is right, so the original is flagged too.
            expected.insert(original);
        }
        expected.insert(corpus.texts.len());
        copies.push(corpus.texts.len());
        corpus.texts.push(if slot < 15 { text } else { edited });
        corpus.labels.push(relabelled);
    }

    let detector = Duplicates::params().check().unwrap();
    let records = records(&corpus.texts);
    let report = detector
        .run(&records, Some(&corpus.labels), &corpus.categories)
        .unwrap();
    let flagged: BTreeSet<usize> = report.flagged_indices().into_iter().collect();
    assert_eq!(flagged, expected);
    let edited_copy = copies[20];
    let flag = report
        .flags
        .iter()
        .find(|flag| flag.index == edited_copy)
        .unwrap();
    assert_eq!(
        flag.evidence,
        format!(
            "labelled `{}` while its near duplicate `{}` is labelled `{}`, and neither has a majority",
            corpus.categories[corpus.labels[edited_copy]],
            picked[20],
            corpus.categories[corpus.labels[picked[20]]],
        )
    );
    assert_eq!(
        report,
        detector
            .run(&records, Some(&corpus.labels), &corpus.categories)
            .unwrap()
    );
}

/// The text with one word near the middle replaced, the first letter's case swapped and the line
/// breaks turned into spaces: the edits a copy-and-paste attacker makes.
fn lightly_edit(text: &str, random: &mut SplitMix64) -> String {
    let mut words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    // A word of letters only, so that exactly one word of the shingles changes.
    let start = words.len() / 2 + random.below(3);
    let middle = (start..words.len())
        .chain(0..start)
        .find(|&index| words[index].chars().all(char::is_alphabetic))
        .expect("a long fortune has a plain word");
    "zeppelin".clone_into(&mut words[middle]);
    let mut edited = words.join(" ");
    if let Some(first) = edited.chars().next() {
        let swapped: String = if first.is_uppercase() {
            first.to_lowercase().collect()
        } else {
            first.to_uppercase().collect()
        };
        edited.replace_range(..first.len_utf8(), &swapped);
    }
    edited
}
