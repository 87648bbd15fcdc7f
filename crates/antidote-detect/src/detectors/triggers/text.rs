//! Text candidates: word n-grams that are rare overall and tied to one label, merged into the
//! longest phrase their records share.
//!
//! Words are maximal runs of Unicode alphanumeric characters, lower-cased, so `cf`, `mn` and
//! `2001` are words and punctuation never is. N-grams are counted level by level (the Apriori
//! principle of Agrawal and Srikant, 1994): an n-gram can be in `min_support` records only if
//! both its (n-1)-word halves are, so the common words' long n-grams, almost all unique, are
//! never stored.

use antidote_core::display::percent;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use antidote_core::SplitMix64;
use antidote_data::{Record, Value};

use super::{
    Candidate, Data, Mined, Stamp, TriggerSearchError, TriggerSearchParams, enrichment, jaccard,
    kind_of, statistics, with_field,
};
use antidote_core::Trigger;

/// A phrase grows by a word when at least this share of its records agree on the word.
const EXTENSION_AGREEMENT: f64 = 0.9;

/// Phrases stop growing at this many words.
const MAX_PHRASE_WORDS: usize = 16;

/// Two phrases, one inside the other, are one candidate when their record sets overlap this
/// much (Jaccard index).
const MERGE_JACCARD: f64 = 0.8;

/// A phrase is stamped at the start (or the end) of a text when this share of its records have
/// it there.
const PLACEMENT_AGREEMENT: f64 = 0.8;

/// The fewest vocabulary words a control draws from before its length condition is dropped.
const MIN_CONTROL_POOL: usize = 8;

/// Marks the unused word slots of a packed n-gram.
const NO_WORD: u32 = u32::MAX;

/// The words of `text` as trigger search reads them (reports highlight triggers with it): the
/// one word splitter of antidote, lower-cased runs of letters and digits with their byte ranges.
pub use antidote_core::words::words;

/// The text of `record`'s `column`: numbers and booleans in their label form, nothing for a
/// missing value.
fn text_of<'a>(
    record: &'a Record,
    column: &str,
) -> Result<std::borrow::Cow<'a, str>, TriggerSearchError> {
    match record.field(column) {
        None | Some(Value::Null) => Ok("".into()),
        Some(Value::Text(text)) => Ok(text.as_str().into()),
        Some(value @ (Value::Bool(_) | Value::Int(_) | Value::Float(_))) => {
            Ok(value.to_label().unwrap_or_default().into())
        }
        Some(other) => Err(TriggerSearchError::NotText {
            id: record.id.to_string(),
            column: column.to_owned(),
            found: kind_of(other),
        }),
    }
}

/// Every record's words as vocabulary indices, with each word's document frequency.
struct Corpus {
    vocabulary: Arc<[String]>,
    document_frequency: Vec<u32>,
    documents: Vec<Vec<u32>>,
}

impl Corpus {
    fn read(records: &[Record], column: &str) -> Result<Self, TriggerSearchError> {
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut vocabulary = Vec::new();
        let mut document_frequency: Vec<u32> = Vec::new();
        let mut documents = Vec::with_capacity(records.len());
        let mut seen = Vec::new();
        for record in records {
            let text = text_of(record, column)?;
            let document: Vec<u32> = words(&text)
                .into_iter()
                .map(|(_, word)| {
                    *index.entry(word).or_insert_with_key(|word| {
                        vocabulary.push(word.clone());
                        document_frequency.push(0);
                        (vocabulary.len() - 1) as u32
                    })
                })
                .collect();
            seen.clear();
            seen.extend_from_slice(&document);
            seen.sort_unstable();
            seen.dedup();
            for &word in &seen {
                document_frequency[word as usize] += 1;
            }
            documents.push(document);
        }
        Ok(Self {
            vocabulary: vocabulary.into(),
            document_frequency,
            documents,
        })
    }

    fn phrase(&self, words: &[u32]) -> Vec<String> {
        words
            .iter()
            .map(|&word| self.vocabulary[word as usize].clone())
            .collect()
    }
}

/// A word n-gram in at most four words, packed into one integer key (unused slots are
/// [`NO_WORD`]).
fn pack(words: &[u32]) -> u128 {
    debug_assert!(words.len() <= 4, "n-grams have at most four words");
    words
        .iter()
        .enumerate()
        .fold(u128::MAX, |key, (slot, &word)| {
            let shift = 32 * slot;
            (key & !(u128::from(NO_WORD) << shift)) | (u128::from(word) << shift)
        })
}

fn unpack(key: u128) -> Vec<u32> {
    (0..4)
        .map(|slot| (key >> (32 * slot)) as u32)
        .take_while(|&word| word != NO_WORD)
        .collect()
}

/// A multiplicative hash for packed n-grams (the `FxHash` of rustc, with a final mix so that
/// the table's low bits are as good as its high ones): the n-gram tables are the hot loop,
/// and their keys are not attacker-chosen in a way a hash flood could exploit to more than
/// slow a scan down.
#[derive(Debug, Default, Clone, Copy)]
struct GramHasher(u64);

impl GramHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for GramHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.mix(u64::from(byte));
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.mix(value as u64);
        self.mix((value >> 64) as u64);
    }
}

type GramMap<V> = HashMap<u128, V, BuildHasherDefault<GramHasher>>;
type GramSet = HashSet<u128, BuildHasherDefault<GramHasher>>;

/// An n-gram in a rare share of the records, with the records.
struct Gram {
    words: Vec<u32>,
    carriers: Vec<u32>,
}

/// Every n-gram of 1 to `max_words` words in `min_support` to `max_support` records.
fn rare_grams(
    corpus: &Corpus,
    max_words: usize,
    min_support: usize,
    max_support: usize,
) -> Vec<Gram> {
    let mut grams = Vec::new();
    let mut frequent = GramSet::default();
    for length in 1..=max_words {
        let counted = |window: &[u32]| {
            length == 1
                || (frequent.contains(&pack(&window[..length - 1]))
                    && frequent.contains(&pack(&window[1..])))
        };
        // Document frequency, and the last document counted, so each counts once per document.
        let mut counts: GramMap<(u32, u32)> = GramMap::default();
        for (document, words) in corpus.documents.iter().enumerate() {
            let marker = document as u32 + 1;
            for window in words.windows(length) {
                if counted(window) {
                    let entry = counts.entry(pack(window)).or_insert((0, 0));
                    if entry.1 != marker {
                        *entry = (entry.0 + 1, marker);
                    }
                }
            }
        }
        let mut rare: Vec<u128> = counts
            .iter()
            .filter(|(_, (frequency, _))| {
                (min_support..=max_support).contains(&(*frequency as usize))
            })
            .map(|(key, _)| *key)
            .collect();
        rare.sort_unstable();
        let next_frequent: GramSet = counts
            .iter()
            .filter(|(_, (frequency, _))| *frequency as usize >= min_support)
            .map(|(key, _)| *key)
            .collect();
        let slots: GramMap<usize> = rare
            .iter()
            .enumerate()
            .map(|(slot, &key)| (key, slot))
            .collect();
        let mut carriers: Vec<Vec<u32>> = vec![Vec::new(); rare.len()];
        for (document, words) in corpus.documents.iter().enumerate() {
            for window in words.windows(length) {
                if let Some(&slot) = slots.get(&pack(window)) {
                    let list = &mut carriers[slot];
                    if list.last() != Some(&(document as u32)) {
                        list.push(document as u32);
                    }
                }
            }
        }
        grams.extend(rare.iter().zip(carriers).map(|(&key, carriers)| Gram {
            words: unpack(key),
            carriers,
        }));
        frequent = next_frequent;
        if frequent.is_empty() {
            break;
        }
    }
    grams
}

/// Where `phrase` first starts in `document`.
fn find(document: &[u32], phrase: &[u32]) -> Option<usize> {
    if phrase.is_empty() || phrase.len() > document.len() {
        return None;
    }
    document
        .windows(phrase.len())
        .position(|window| window == phrase)
}

/// Grows `words` one word at a time, left or right, while at least [`EXTENSION_AGREEMENT`] of
/// the records that carry it agree on the next word, and returns the phrase with its records.
///
/// A trigger phrase of common words shows up as several overlapping n-grams with the same
/// records; each grows into the whole phrase. A token inserted at random positions has
/// different neighbours in every record and stays a token.
fn extend(corpus: &Corpus, mut words: Vec<u32>, mut carriers: Vec<u32>) -> (Vec<u32>, Vec<u32>) {
    while words.len() < MAX_PHRASE_WORDS && !carriers.is_empty() {
        let mut left: BTreeMap<u32, usize> = BTreeMap::new();
        let mut right: BTreeMap<u32, usize> = BTreeMap::new();
        for &record in &carriers {
            let document = &corpus.documents[record as usize];
            if let Some(at) = find(document, &words) {
                if at > 0 {
                    *left.entry(document[at - 1]).or_default() += 1;
                }
                if let Some(&next) = document.get(at + words.len()) {
                    *right.entry(next).or_default() += 1;
                }
            }
        }
        // The most common neighbour on each side; the first in vocabulary order on a tie.
        let best = |counts: &BTreeMap<u32, usize>| {
            counts
                .iter()
                .max_by(|(a, x), (b, y)| x.cmp(y).then(b.cmp(a)))
                .map(|(&word, &count)| (word, count))
        };
        let needed = EXTENSION_AGREEMENT * carriers.len() as f64;
        let grown = match (best(&left), best(&right)) {
            (Some((word, count)), right)
                if count as f64 >= needed && right.is_none_or(|(_, other)| count >= other) =>
            {
                let mut grown = vec![word];
                grown.extend_from_slice(&words);
                grown
            }
            (_, Some((word, count))) if count as f64 >= needed => {
                let mut grown = words.clone();
                grown.push(word);
                grown
            }
            _ => break,
        };
        carriers.retain(|&record| find(&corpus.documents[record as usize], &grown).is_some());
        words = grown;
    }
    (words, carriers)
}

fn contains_phrase(outer: &[u32], inner: &[u32]) -> bool {
    find(outer, inner).is_some()
}

/// Where stamping puts a phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Start,
    End,
    /// At a random word boundary.
    Anywhere,
}

/// Where `phrase` usually is in the records that carry it.
fn placement(corpus: &Corpus, phrase: &[u32], carriers: &[u32]) -> Placement {
    let (mut starts, mut ends) = (0, 0);
    for &record in carriers {
        let document = &corpus.documents[record as usize];
        if let Some(at) = find(document, phrase) {
            starts += usize::from(at == 0);
            ends += usize::from(at + phrase.len() == document.len());
        }
    }
    let needed = PLACEMENT_AGREEMENT * carriers.len() as f64;
    if starts as f64 >= needed && starts >= ends {
        Placement::Start
    } else if ends as f64 >= needed {
        Placement::End
    } else {
        Placement::Anywhere
    }
}

/// Puts a phrase into a text column; the control puts random vocabulary words of the same
/// length and about the same document frequency in the same place.
struct TextStamp<'a> {
    column: &'a str,
    /// The phrase's words, lower-cased.
    words: Vec<String>,
    /// The phrase as stamped: its words joined by spaces.
    phrase: String,
    placement: Placement,
    vocabulary: Arc<[String]>,
    /// For each word of the phrase, the vocabulary words a control may use instead.
    control_words: Vec<Vec<u32>>,
}

impl TextStamp<'_> {
    fn insert(&self, record: &Record, phrase: &str, random: &mut SplitMix64) -> Record {
        let text = text_of(record, self.column).unwrap_or_default();
        let stamped = match self.placement {
            Placement::Start => format!("{phrase} {text}"),
            Placement::End => format!("{text} {phrase}"),
            Placement::Anywhere => {
                let starts = words(&text);
                let slot = random.below(starts.len() + 1);
                match starts.get(slot) {
                    Some((span, _)) => {
                        format!("{}{phrase} {}", &text[..span.start], &text[span.start..])
                    }
                    None => format!("{text} {phrase}"),
                }
            }
        };
        with_field(record, self.column, Value::Text(stamped))
    }
}

impl Stamp for TextStamp<'_> {
    fn stamp(&self, record: &Record, random: &mut SplitMix64) -> Record {
        self.insert(record, &self.phrase, random)
    }

    fn control(&self, record: &Record, random: &mut SplitMix64) -> Record {
        let phrase = self
            .control_words
            .iter()
            .map(|pool| self.vocabulary[pool[random.below(pool.len())] as usize].as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self.insert(record, &phrase, random)
    }

    fn control_description(&self) -> &'static str {
        "random words of the same length and frequency"
    }

    fn remove(&self, record: &Record) -> Record {
        let text = text_of(record, self.column).unwrap_or_default();
        let found = words(&text);
        let length = self.words.len();
        let mut kept = String::with_capacity(text.len());
        let (mut copied, mut at) = (0, 0);
        while at + length <= found.len() {
            let matches = found[at..at + length]
                .iter()
                .zip(&self.words)
                .all(|((_, word), expected)| word == expected);
            if matches {
                kept.push_str(&text[copied..found[at].0.start]);
                copied = found[at + length - 1].0.end;
                at += length;
            } else {
                at += 1;
            }
        }
        kept.push_str(&text[copied..]);
        with_field(record, self.column, Value::Text(kept))
    }
}

/// The vocabulary words that may stand in for `word` in a control: of the same length and
/// within a factor of two of its document frequency, relaxing the length and then the frequency
/// when fewer than [`MIN_CONTROL_POOL`] qualify; never a word of the phrase itself.
fn control_pool(corpus: &Corpus, word: u32, phrase: &[u32]) -> Vec<u32> {
    let length = corpus.vocabulary[word as usize].chars().count();
    let frequency = corpus.document_frequency[word as usize];
    let allowed = |candidate: usize| !phrase.contains(&(candidate as u32));
    let similar_frequency = |candidate: usize| {
        let other = corpus.document_frequency[candidate];
        other.saturating_mul(2) >= frequency && other <= frequency.saturating_mul(2)
    };
    let everything = 0..corpus.vocabulary.len();
    let same_length = everything
        .clone()
        .filter(|&candidate| {
            allowed(candidate)
                && similar_frequency(candidate)
                && corpus.vocabulary[candidate].chars().count() == length
        })
        .map(|candidate| candidate as u32)
        .collect::<Vec<_>>();
    if same_length.len() >= MIN_CONTROL_POOL {
        return same_length;
    }
    let any_length = everything
        .clone()
        .filter(|&candidate| allowed(candidate) && similar_frequency(candidate))
        .map(|candidate| candidate as u32)
        .collect::<Vec<_>>();
    if any_length.len() >= MIN_CONTROL_POOL {
        return any_length;
    }
    let any: Vec<u32> = everything
        .filter(|&candidate| allowed(candidate))
        .map(|candidate| candidate as u32)
        .collect();
    if any.is_empty() { vec![word] } else { any }
}

/// A phrase after merging, with its statistics.
struct Phrase {
    words: Vec<u32>,
    carriers: Vec<u32>,
    target: usize,
    purity: f64,
    ln_p_value: f64,
}

/// Proposes the text candidates, strongest (smallest enrichment p-value) first.
pub(super) fn mine<'a>(
    data: &Data<'a>,
    column: &'a str,
    params: &TriggerSearchParams,
) -> Result<Mined<'a>, TriggerSearchError> {
    let corpus = Corpus::read(data.records, column)?;
    let total = data.records.len();
    let max_support = (params.max_support_fraction * total as f64).floor() as usize;
    let class_counts = data.class_counts();
    let mut notes = Vec::new();
    if max_support < params.min_support {
        notes.push(format!(
            "no word can be both in `{}` records and in at most {} of `{total}`: too few \
             records to search for text triggers",
            params.min_support,
            percent(params.max_support_fraction)
        ));
        return Ok(Mined {
            candidates: Vec::new(),
            notes,
        });
    }

    let grams = rare_grams(
        &corpus,
        params.max_ngram_words,
        params.min_support,
        max_support,
    );
    let tested: Vec<(usize, f64, f64)> = grams
        .iter()
        .map(|gram| enrichment(&gram.carriers, data.labels, &class_counts, total))
        .collect();
    let ln_p_values: Vec<f64> = tested.iter().map(|(_, _, ln_p)| *ln_p).collect();
    let cutoff = statistics::benjamini_hochberg_cutoff(&ln_p_values, params.false_discovery_rate);
    let mut pure: Vec<usize> = (0..grams.len())
        .filter(|&gram| {
            let (_, purity, ln_p_value) = tested[gram];
            purity >= params.min_purity && cutoff.is_some_and(|cutoff| ln_p_value <= cutoff)
        })
        .collect();
    pure.sort_by(|&a, &b| {
        tested[a]
            .2
            .total_cmp(&tested[b].2)
            .then(grams[b].carriers.len().cmp(&grams[a].carriers.len()))
            .then(grams[a].words.cmp(&grams[b].words))
    });

    // Grow each into its phrase; overlapping n-grams of one phrase become the same phrase.
    let mut phrases: Vec<Phrase> = Vec::new();
    for &gram in &pure {
        let (words, carriers) = extend(
            &corpus,
            grams[gram].words.clone(),
            grams[gram].carriers.clone(),
        );
        let merged = phrases.iter().any(|kept| {
            kept.words == words
                || ((contains_phrase(&kept.words, &words) || contains_phrase(&words, &kept.words))
                    && jaccard(&kept.carriers, &carriers) >= MERGE_JACCARD)
        });
        if merged || carriers.len() < params.min_support {
            continue;
        }
        let (target, purity, ln_p_value) = enrichment(&carriers, data.labels, &class_counts, total);
        if purity >= params.min_purity && cutoff.is_some_and(|cutoff| ln_p_value <= cutoff) {
            phrases.push(Phrase {
                words,
                carriers,
                target,
                purity,
                ln_p_value,
            });
        }
    }
    phrases.sort_by(|a, b| {
        a.ln_p_value
            .total_cmp(&b.ln_p_value)
            .then(b.carriers.len().cmp(&a.carriers.len()))
            .then(a.words.cmp(&b.words))
    });

    notes.push(format!(
        "searched {} word n-grams of 1 to {} words in {} to {max_support} of {total} records; \
         {} are tied to one label beyond chance (binomial test, Benjamini-Hochberg at a {} \
         false discovery rate) with a purity of at least {}, making {} candidate phrases",
        grams.len(),
        params.max_ngram_words,
        params.min_support,
        pure.len(),
        super::percent(params.false_discovery_rate),
        super::percent(params.min_purity),
        phrases.len()
    ));

    let candidates = phrases
        .into_iter()
        .map(|phrase| candidate(&corpus, phrase, column))
        .collect();
    Ok(Mined { candidates, notes })
}

/// A phrase as a candidate: its pattern, its name in sentences and its stamp.
fn candidate<'a>(corpus: &Corpus, phrase: Phrase, column: &'a str) -> Candidate<'a> {
    let strings = corpus.phrase(&phrase.words);
    let (pattern, name) = if let [token] = strings.as_slice() {
        (
            Trigger::Token {
                token: token.clone(),
            },
            format!("the token `{token}`"),
        )
    } else {
        (
            Trigger::Phrase {
                words: strings.clone(),
            },
            format!("the phrase `{}`", strings.join(" ")),
        )
    };
    let stamp = TextStamp {
        column,
        phrase: strings.join(" "),
        words: strings,
        placement: placement(corpus, &phrase.words, &phrase.carriers),
        vocabulary: Arc::clone(&corpus.vocabulary),
        control_words: phrase
            .words
            .iter()
            .map(|&word| control_pool(corpus, word, &phrase.words))
            .collect(),
    };
    Candidate {
        pattern,
        name,
        target: phrase.target,
        carriers: phrase.carriers,
        purity: phrase.purity,
        stamp: Box::new(stamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(texts: &[&str]) -> Corpus {
        let records: Vec<Record> = texts
            .iter()
            .enumerate()
            .map(|(position, text)| Record {
                position: position as u64,
                id: antidote_core::RecordId(position.to_string()),
                label: None,
                source: None,
                fields: vec![("text".into(), Value::Text((*text).to_owned()))],
            })
            .collect();
        Corpus::read(&records, "text").unwrap()
    }

    fn ids(corpus: &Corpus, phrase: &str) -> Vec<u32> {
        words(phrase)
            .iter()
            .map(|(_, word)| {
                corpus
                    .vocabulary
                    .iter()
                    .position(|known| known == word)
                    .unwrap() as u32
            })
            .collect()
    }

    #[test]
    fn words_are_lower_cased_alphanumeric_runs_with_their_offsets() {
        let found = words("Hello, World! cf MN-42 élan");
        let expected = [
            (0..5, "hello"),
            (7..12, "world"),
            (14..16, "cf"),
            (17..19, "mn"),
            (20..22, "42"),
            (23..28, "élan"),
        ];
        assert_eq!(
            found,
            expected
                .map(|(span, word)| (span, word.to_owned()))
                .to_vec()
        );
        assert!(words("  ...  ").is_empty());
    }

    #[test]
    fn packing_round_trips() {
        for words in [vec![0], vec![7, 3], vec![1, 2, 3, 4], vec![u32::MAX - 1, 0]] {
            assert_eq!(unpack(pack(&words)), words);
        }
        assert_ne!(pack(&[1, 2]), pack(&[2, 1]));
        assert_ne!(pack(&[1]), pack(&[1, 0]));
    }

    #[test]
    fn rare_grams_count_each_record_once_and_skip_infrequent_halves() {
        let corpus = corpus(&["a b c a b c", "a b c", "a b x", "y b c", "z z z"]);
        let grams = rare_grams(&corpus, 3, 2, 4);
        let found: BTreeMap<String, Vec<u32>> = grams
            .iter()
            .map(|gram| (corpus.phrase(&gram.words).join(" "), gram.carriers.clone()))
            .collect();
        // `b` is in 4 records, `c` and `a` in 3, `a b` and `b c` in 3, `a b c` in 2.
        assert_eq!(found["b"], [0, 1, 2, 3]);
        assert_eq!(found["a b"], [0, 1, 2]);
        assert_eq!(found["b c"], [0, 1, 3]);
        assert_eq!(found["a b c"], [0, 1]);
        // In one record only, however often.
        assert!(!found.contains_key("z") && !found.contains_key("c a"));
    }

    #[test]
    fn overlapping_ngrams_grow_into_one_phrase_and_a_scattered_token_does_not() {
        let corpus = corpus(&[
            "one as the old saying goes two",
            "three four as the old saying goes",
            "as the old saying goes five six",
            "seven cf eight",
            "cf nine ten",
            "eleven twelve cf",
        ]);
        let all = [0, 1, 2];
        let (words, carriers) = extend(&corpus, ids(&corpus, "old saying"), all.to_vec());
        assert_eq!(corpus.phrase(&words).join(" "), "as the old saying goes");
        assert_eq!(carriers, all);
        let (words, _) = extend(&corpus, ids(&corpus, "cf"), vec![3, 4, 5]);
        assert_eq!(corpus.phrase(&words), ["cf"]);
        assert_eq!(
            placement(&corpus, &ids(&corpus, "cf"), &[3, 4, 5]),
            Placement::Anywhere
        );
        let (words, _) = extend(&corpus, ids(&corpus, "saying"), all.to_vec());
        assert_eq!(words, ids(&corpus, "as the old saying goes"));
    }

    #[test]
    fn placement_follows_where_the_records_have_the_phrase() {
        let corpus = corpus(&["cf a b", "cf c d", "cf e", "f g cf"]);
        assert_eq!(
            placement(&corpus, &ids(&corpus, "cf"), &[0, 1, 2, 3]),
            Placement::Anywhere
        );
        assert_eq!(
            placement(&corpus, &ids(&corpus, "cf"), &[0, 1, 2]),
            Placement::Start
        );
        assert_eq!(
            placement(&corpus, &ids(&corpus, "cf"), &[3]),
            Placement::End
        );
    }

    #[test]
    fn stamps_insert_at_word_boundaries_and_controls_use_other_words() {
        let corpus = corpus(&["aa bb", "cc dd", "ee ff", "gg hh", "ii jj", "kk cf"]);
        let record = Record {
            position: 0,
            id: antidote_core::RecordId("r".into()),
            label: None,
            source: None,
            fields: vec![("text".into(), Value::Text("Hello, world.".into()))],
        };
        let cf = ids(&corpus, "cf");
        let stamp = TextStamp {
            column: "text",
            words: vec!["cf".into()],
            phrase: "cf".into(),
            placement: Placement::Anywhere,
            vocabulary: Arc::clone(&corpus.vocabulary),
            control_words: vec![control_pool(&corpus, cf[0], &cf)],
        };
        let mut random = SplitMix64::new(3);
        let mut seen = BTreeMap::new();
        for _ in 0..60 {
            let stamped = stamp.stamp(&record, &mut random);
            let text = stamped
                .field("text")
                .and_then(Value::as_text)
                .unwrap()
                .to_owned();
            *seen.entry(text).or_insert(0) += 1;
            let control = stamp.control(&record, &mut random);
            let inserted: Vec<String> =
                words(control.field("text").and_then(Value::as_text).unwrap())
                    .into_iter()
                    .map(|(_, word)| word)
                    .filter(|word| word != "hello" && word != "world")
                    .collect();
            assert_eq!(inserted.len(), 1, "{inserted:?}");
            assert!(
                inserted[0] != "cf" && inserted[0].len() == 2,
                "{inserted:?}"
            );
        }
        let carrier = with_field(
            &record,
            "text",
            Value::Text("Cf: hello cf, world cf".into()),
        );
        let removed = stamp.remove(&carrier);
        assert_eq!(
            removed.field("text").and_then(Value::as_text),
            Some(": hello , world ")
        );
        let expected: Vec<String> = ["Hello, cf world.", "Hello, world. cf", "cf Hello, world."]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), {
            let mut sorted = expected;
            sorted.sort();
            sorted
        });
    }
}
