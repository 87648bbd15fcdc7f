//! Exact and near duplicates, flagged when their labels conflict or when one record is copied
//! far more often than the dataset's other duplicates.
//!
//! Two poisoning moves leave duplicates behind. A label-flipping attacker who cannot edit the
//! original adds a copy with another label (a *conflicting copy*), often lightly edited (a word
//! changed, a little noise on the pixels) so that an exact hash misses it. An attacker who wants
//! one record to weigh more in training adds it many times (*duplicate flooding*).
//!
//! The payload of a record is every field but its id, label and source (or the one field named
//! with [`DuplicatesParams::field`]). The method:
//!
//! 1. Exact duplicates share a BLAKE3 hash of the payload's canonical encoding
//!    ([`antidote_data::canonical::write_value`], field names included), so the same content
//!    read from CSV or Parquet, in any column order, is one group.
//! 2. Near duplicates are searched among one representative per exact group:
//!    - text by `MinHash` over word shingles with locality-sensitive banding, confirmed by the
//!      exact Jaccard similarity of the shingle sets (Broder, 1997);
//!    - images by the low-frequency DCT signature of the perceptual hash (Zauner, 2010), hashed
//!      in bands of random-hyperplane signs and confirmed by their pixel difference (see the
//!      `image` submodule for why the 64-bit hash itself is too coarse on small images);
//!    - embeddings (a list of numbers in the payload, or a dense matrix given to
//!      [`DuplicatesValidParams::run_with_embedding`]) by random-hyperplane hashing, confirmed
//!      by the exact cosine of the centred vectors (Charikar, 2002).
//! 3. Verified pairs are joined with union-find: a group is a connected component, so a chain
//!    of near copies is one group.
//! 4. A group whose labels conflict flags its members that disagree with the group's majority
//!    label, or every member when no label has a strict majority (a pair with two labels cannot
//!    say which copy is right). The confidence is the share of the group that carries another
//!    label: 0.5 for a tied pair, 0.9 for the odd one out of ten.
//! 5. A group is a flood when its size is far beyond the dataset's usual duplicate group: over
//!    records, the log2 of the size of the group each belongs to (1 for a unique record) has a
//!    median and a MAD-scaled spread, and groups above the median plus 3.5 spreads (the spread
//!    floored at half a doubling) are floods, and never below [`DuplicatesParams::flood_minimum`]
//!    records. Every copy but the first is flagged, so quarantining them keeps one.
//!
//! Each record's score is the share of its group that carries another label (0 outside
//! groups); flags do not follow from one score threshold, so the report gives none.
//!
//! Limits: near duplicates are searched for text, images and embeddings only; tabular records
//! are compared exactly. A near-duplicate threshold trades recall on heavier edits against
//! joining genuinely similar records (two short sayings, two plain T-shirts), and union-find
//! chains can grow a group through intermediate records. A copy relabelled to agree with its
//! group is no conflict and is not flagged; heavier edits (paraphrase, crops, augmentation)
//! escape the hashes.

mod embedding;
mod groups;
mod image;
mod text;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use antidote_data::{Image, Record, Value};
use rayon::prelude::*;
use serde::Serialize;

use self::groups::UnionFind;
use crate::detector::{Detector, ScanContext};
use crate::scan::ScanError;
use crate::stats::median_and_mad;
use crate::{Basis, DetectorId, DetectorReport, Flag};

/// How far above the median, in MAD-scaled spreads of log2 group sizes, a group is a flood.
const FLOOD_SPREADS: f64 = 3.5;

/// The smallest spread of log2 group sizes used for floods: half a doubling, so that a dataset
/// whose duplicates are all pairs still needs a group 3.4 times the typical one.
const FLOOD_SPREAD_FLOOR: f64 = 0.5;

/// How many other records an explanation names before it says "and N more".
const NAMED_RECORDS: usize = 3;

#[doc = include_str!("explanation.md")]
#[expect(
    clippy::doc_markdown,
    reason = "the explanation is what `antidote explain` prints: venues, paper titles and algorithm names (NeurIPS, MinHash) stay plain text"
)]
#[derive(Debug, Clone, Copy)]
pub struct Duplicates;

impl Duplicates {
    /// The default parameters, to adjust and [`check`](DuplicatesParams::check).
    #[must_use]
    pub fn params() -> DuplicatesParams {
        DuplicatesParams::default()
    }
}

/// Unchecked parameters of [`Duplicates`]; [`check`](Self::check) them to get something that
/// runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicatesParams {
    field: Option<String>,
    words_per_shingle: usize,
    text_similarity: f64,
    image_difference: f64,
    embedding_similarity: f64,
    flood_minimum: usize,
    seed: u64,
}

impl Default for DuplicatesParams {
    fn default() -> Self {
        Self {
            field: None,
            words_per_shingle: 2,
            text_similarity: 0.8,
            image_difference: 0.04,
            embedding_similarity: 0.99,
            flood_minimum: 8,
            seed: 0,
        }
    }
}

impl DuplicatesParams {
    /// Compare only this payload field (default: every field but the id, label and source).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.field = Some(name.into());
        self
    }

    /// Words per text shingle (default 2). Longer shingles are stricter about word order and
    /// make a single edited word cost more of the similarity, which short texts cannot afford:
    /// in a 20-word text one changed word leaves a Jaccard similarity of 0.81 with two-word
    /// shingles and 0.71 with three-word ones.
    #[must_use]
    pub fn words_per_shingle(mut self, words: usize) -> Self {
        self.words_per_shingle = words;
        self
    }

    /// The Jaccard similarity of shingle sets at or above which two texts are near duplicates,
    /// in `(0, 1]` (default 0.8).
    #[must_use]
    pub fn text_similarity(mut self, similarity: f64) -> Self {
        self.text_similarity = similarity;
        self
    }

    /// The largest difference between two images that are near duplicates, in `[0, 1)`
    /// (default 0.04): the root mean square of their pixel difference after each is shifted to
    /// mean brightness 0, as a fraction of the 0-255 range. Gaussian pixel noise of standard
    /// deviation 8 gives about 0.03; on Fashion-MNIST, 99% of images are further than 0.056
    /// from every other image of their class.
    #[must_use]
    pub fn image_difference(mut self, difference: f64) -> Self {
        self.image_difference = difference;
        self
    }

    /// The cosine similarity of centred embeddings at or above which two records are near
    /// duplicates, in `(0, 1]` (default 0.99). How alike distinct records look depends on the
    /// representation: in a 64-dimensional random projection of Fashion-MNIST's pixels, 0.98
    /// chains 1,800 distinct images into groups (16 of them past the flood size), 0.99 about
    /// 160 (none past it).
    #[must_use]
    pub fn embedding_similarity(mut self, similarity: f64) -> Self {
        self.embedding_similarity = similarity;
        self
    }

    /// The smallest group that can count as a flood, at least 2 (default 8): however unusual,
    /// a handful of copies barely changes what a model learns.
    #[must_use]
    pub fn flood_minimum(mut self, records: usize) -> Self {
        self.flood_minimum = records;
        self
    }

    /// The seed of the hash functions and hyperplanes (default 0). The groups found do not
    /// depend on it, except for the rare near pair that no bucket proposes.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<DuplicatesValidParams, DuplicatesParamsError> {
        if self.words_per_shingle == 0 {
            return Err(DuplicatesParamsError::WordsPerShingle);
        }
        if !(self.text_similarity > 0.0 && self.text_similarity <= 1.0) {
            return Err(DuplicatesParamsError::TextSimilarity {
                similarity: self.text_similarity,
            });
        }
        if !(0.0..1.0).contains(&self.image_difference) {
            return Err(DuplicatesParamsError::ImageDifference {
                difference: self.image_difference,
            });
        }
        if !(self.embedding_similarity > 0.0 && self.embedding_similarity <= 1.0) {
            return Err(DuplicatesParamsError::EmbeddingSimilarity {
                similarity: self.embedding_similarity,
            });
        }
        if self.flood_minimum < 2 {
            return Err(DuplicatesParamsError::FloodMinimum {
                records: self.flood_minimum,
            });
        }
        Ok(DuplicatesValidParams { params: self })
    }
}

/// Invalid parameters of [`Duplicates`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DuplicatesParamsError {
    /// A shingle of no words.
    #[error("a text shingle needs at least `1` word")]
    WordsPerShingle,
    /// The text similarity is not in `(0, 1]`.
    #[error("the text similarity must be greater than `0` and at most `1`, not `{similarity}`")]
    TextSimilarity {
        /// The similarity given.
        similarity: f64,
    },
    /// The image difference is not in `[0, 1)`.
    #[error("the image difference must be at least `0` and below `1`, not `{difference}`")]
    ImageDifference {
        /// The difference given.
        difference: f64,
    },
    /// The embedding similarity is not in `(0, 1]`.
    #[error(
        "the embedding similarity must be greater than `0` and at most `1`, not `{similarity}`"
    )]
    EmbeddingSimilarity {
        /// The similarity given.
        similarity: f64,
    },
    /// The flood minimum is below 2.
    #[error("a flood needs at least `2` records, not `{records}`")]
    FloodMinimum {
        /// The minimum given.
        records: usize,
    },
}

/// Checked parameters of [`Duplicates`], ready to [`run`](Self::run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicatesValidParams {
    params: DuplicatesParams,
}

/// Input the detector cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DuplicatesError {
    /// The labels do not match the records one to one.
    #[error("expected one label per record (`{records}`), found `{labels}`")]
    LabelCount {
        /// The number of records.
        records: usize,
        /// The number of labels.
        labels: usize,
    },
    /// No record has the field to compare.
    #[error("no record has the field `{field}` to compare")]
    MissingField {
        /// The field named in the parameters.
        field: String,
    },
    /// The embedding matrix does not hold one row of `width` per record.
    #[error(
        "expected `{records}` embedding rows of `{width}` values (`{expected}` values), found `{found}`"
    )]
    EmbeddingShape {
        /// The number of records.
        records: usize,
        /// The width given.
        width: usize,
        /// `records * width`.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
}

/// What one record contributes to the search.
struct Payload<'a> {
    /// The content hash, `None` for a payload of nothing but missing values, which is no
    /// content to be a copy of.
    hash: Option<[u8; 32]>,
    text: String,
    image: Option<&'a Image>,
    embedding: Option<Vec<f32>>,
}

/// How the groups were formed, for the notes.
#[derive(Debug, Default)]
struct SearchCounts {
    exact_groups: usize,
    exact_records: usize,
    text_links: usize,
    image_links: usize,
    embedding_links: usize,
    text_records: usize,
    image_records: usize,
    embedding_records: usize,
    embedding_skipped: usize,
}

/// One duplicate group, with what the flags need to know about it.
struct Group {
    members: Vec<usize>,
    exact: bool,
}

impl DuplicatesValidParams {
    /// The field compared, if one was named.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.params.field.as_deref()
    }

    /// Finds duplicate groups among `records` and flags conflicting copies and floods.
    ///
    /// `labels[r]` is record `r`'s class index, if the dataset is labelled; `class_names[c]`
    /// names class `c` in explanations (a class without a name keeps its index). Embeddings are
    /// read from the payload: the first field (by name) that is a list of at least two numbers.
    pub fn run(
        &self,
        records: &[Record],
        labels: Option<&[usize]>,
        class_names: &[String],
    ) -> Result<DetectorReport, DuplicatesError> {
        self.search(records, labels, class_names, None)
    }

    /// Like [`run`](Self::run), with the embeddings given as a dense row-major matrix of
    /// `width` values per record (a representation computed elsewhere) instead of read from
    /// the payload.
    pub fn run_with_embedding(
        &self,
        records: &[Record],
        labels: Option<&[usize]>,
        class_names: &[String],
        embedding: &[f32],
        width: usize,
    ) -> Result<DetectorReport, DuplicatesError> {
        let expected = records.len().checked_mul(width);
        if expected != Some(embedding.len()) {
            return Err(DuplicatesError::EmbeddingShape {
                records: records.len(),
                width,
                expected: expected.unwrap_or(usize::MAX),
                found: embedding.len(),
            });
        }
        self.search(records, labels, class_names, Some((embedding, width)))
    }

    fn search(
        &self,
        records: &[Record],
        labels: Option<&[usize]>,
        class_names: &[String],
        dense: Option<(&[f32], usize)>,
    ) -> Result<DetectorReport, DuplicatesError> {
        if let Some(labels) = labels
            && labels.len() != records.len()
        {
            return Err(DuplicatesError::LabelCount {
                records: records.len(),
                labels: labels.len(),
            });
        }
        if let Some(field) = &self.params.field
            && !records.is_empty()
            && records.iter().all(|record| record.field(field).is_none())
        {
            return Err(DuplicatesError::MissingField {
                field: field.clone(),
            });
        }
        let payloads: Vec<Payload<'_>> = records
            .par_iter()
            .map(|record| self.payload(record, dense.is_none()))
            .collect();
        let mut sets = UnionFind::new(records.len());
        let mut counts = SearchCounts::default();
        let hash_of: Vec<Option<[u8; 32]>> = payloads.iter().map(|payload| payload.hash).collect();
        let representative = link_exact(&hash_of, &mut sets, &mut counts);
        self.link_near(&payloads, &representative, dense, &mut sets, &mut counts);

        let groups: Vec<Group> = sets
            .groups()
            .into_iter()
            .map(|members| {
                let exact = hash_of[members[0]].is_some()
                    && members
                        .iter()
                        .all(|&member| hash_of[member] == hash_of[members[0]]);
                Group { members, exact }
            })
            .collect();
        Ok(self.report(records, labels, class_names, &groups, &counts))
    }

    /// The hash, text, image and embedding of one record's payload.
    fn payload<'a>(&self, record: &'a Record, read_embedding: bool) -> Payload<'a> {
        let mut fields: Vec<(&str, &'a Value)> = match &self.params.field {
            Some(name) => vec![(name.as_str(), record.field(name).unwrap_or(&Value::Null))],
            None => record
                .fields
                .iter()
                .map(|(name, value)| (&**name, value))
                .collect(),
        };
        fields.sort_by(|a, b| a.0.cmp(b.0));

        let mut hasher = blake3::Hasher::new();
        hasher.update(b"antidote.duplicates.payload.v1");
        hasher.update(&(fields.len() as u64).to_le_bytes());
        for (name, value) in &fields {
            hasher.update(&(name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            antidote_data::canonical::write_value(&mut hasher, value);
        }

        let mut text = String::new();
        let mut image = None;
        let mut embedding = None;
        for (_, value) in &fields {
            collect_text(value, &mut text);
            if image.is_none()
                && let Value::Image(found) = value
            {
                image = Some(found);
            }
            if read_embedding && embedding.is_none() {
                embedding = numeric_list(value);
            }
        }
        let empty = fields.iter().all(|(_, value)| value.is_null());
        Payload {
            hash: (!empty).then(|| *hasher.finalize().as_bytes()),
            text,
            image,
            embedding,
        }
    }

    /// Runs the near-duplicate searches among the representatives of exact groups.
    fn link_near(
        &self,
        payloads: &[Payload<'_>],
        representative: &[bool],
        dense: Option<(&[f32], usize)>,
        sets: &mut UnionFind,
        counts: &mut SearchCounts,
    ) {
        let seed = self.params.seed;

        let shingle_sets: Vec<Vec<u64>> = payloads
            .par_iter()
            .zip(representative)
            .map(|(payload, &included)| {
                if included {
                    text::shingles(&payload.text, self.params.words_per_shingle, seed)
                } else {
                    Vec::new()
                }
            })
            .collect();
        counts.text_records = shingle_sets.iter().filter(|set| !set.is_empty()).count();
        if counts.text_records >= 2 {
            counts.text_links =
                text::link_near_texts(&shingle_sets, self.params.text_similarity, seed, sets);
        }

        let images: Vec<Option<&Image>> = payloads
            .iter()
            .zip(representative)
            .map(|(payload, &included)| payload.image.filter(|_| included))
            .collect();
        counts.image_records = images.iter().flatten().count();
        if counts.image_records >= 2 {
            counts.image_links =
                image::link_near_images(&images, self.params.image_difference, seed, sets);
        }

        let (matrix, width, included) = if let Some((matrix, width)) = dense {
            (
                std::borrow::Cow::Borrowed(matrix),
                width,
                representative.to_vec(),
            )
        } else {
            let (matrix, width, included, skipped) = gather_embeddings(payloads, representative);
            counts.embedding_skipped = skipped;
            (std::borrow::Cow::Owned(matrix), width, included)
        };
        counts.embedding_records = included.iter().filter(|&&flag| flag).count();
        if width > 0 && counts.embedding_records >= 2 {
            counts.embedding_links = embedding::link_near_embeddings(
                &matrix,
                width,
                &included,
                self.params.embedding_similarity,
                seed,
                sets,
            );
        } else {
            counts.embedding_records = 0;
        }
    }

    fn report(
        &self,
        records: &[Record],
        labels: Option<&[usize]>,
        class_names: &[String],
        groups: &[Group],
        counts: &SearchCounts,
    ) -> DetectorReport {
        let mut report = DetectorReport::new(DetectorId::Duplicates);
        report.scores = vec![0.0; records.len()];
        let flood = flood_threshold(records.len(), groups, self.params.flood_minimum);
        let name = |class: usize| {
            class_names
                .get(class)
                .map_or_else(|| class.to_string(), Clone::clone)
        };

        let mut flags: BTreeMap<usize, Flag> = BTreeMap::new();
        let mut conflicting_groups = 0;
        let mut flood_groups = 0;
        for group in groups {
            let size = group.members.len();
            if size >= flood.size {
                flood_groups += 1;
                let first = &records[group.members[0]].id;
                let kind = if group.exact {
                    "exact"
                } else {
                    "near-identical"
                };
                let confidence = 0.5 + 0.4 * (1.0 - flood.size as f64 / size as f64);
                for &member in &group.members[1..] {
                    flags.insert(
                        member,
                        Flag::new(
                            member,
                            confidence,
                            format!(
                                "one of `{size}` {kind} copies of record `{first}`: a flood, as \
                                 groups of `{}` or more are far beyond this dataset's usual \
                                 duplicates",
                                flood.size
                            ),
                        )
                        .with_basis(Basis::Duplicate {
                            exact: group.exact,
                            flood: true,
                        }),
                    );
                }
            }
            let Some(labels) = labels else { continue };
            let mut label_counts: BTreeMap<usize, usize> = BTreeMap::new();
            for &member in &group.members {
                *label_counts.entry(labels[member]).or_default() += 1;
            }
            if label_counts.len() < 2 {
                continue;
            }
            conflicting_groups += 1;
            let majority = label_counts
                .iter()
                .find(|&(_, &count)| 2 * count > size)
                .map(|(&label, _)| label);
            for &member in &group.members {
                let own = labels[member];
                let disagreeing = 1.0 - label_counts[&own] as f64 / size as f64;
                report.scores[member] = disagreeing;
                if majority == Some(own) {
                    continue;
                }
                let evidence = conflict_evidence(
                    records,
                    labels,
                    &name,
                    group,
                    member,
                    majority,
                    &label_counts,
                );
                // A conflict says more than a flood; keep the higher confidence.
                let confidence = flags
                    .get(&member)
                    .map_or(disagreeing, |earlier| earlier.confidence.max(disagreeing));
                flags.insert(
                    member,
                    Flag::new(member, confidence, evidence).with_basis(Basis::Duplicate {
                        exact: group.exact,
                        flood: size >= flood.size,
                    }),
                );
            }
        }
        report.flags = flags.into_values().collect();
        report.notes = notes(
            records.len(),
            labels.is_some(),
            groups,
            counts,
            &flood,
            conflicting_groups,
            flood_groups,
        );
        report
    }
}

/// Joins records with equal payload hashes (a payload of missing values stands alone); returns,
/// per record, whether the near-duplicate searches see it: the first of each hash, and every
/// record without one.
fn link_exact(
    hashes: &[Option<[u8; 32]>],
    sets: &mut UnionFind,
    counts: &mut SearchCounts,
) -> Vec<bool> {
    let mut order: Vec<usize> = (0..hashes.len())
        .filter(|&record| hashes[record].is_some())
        .collect();
    order.sort_unstable_by(|&a, &b| hashes[a].cmp(&hashes[b]).then(a.cmp(&b)));
    let mut representative = vec![true; hashes.len()];
    for run in order.chunk_by(|&a, &b| hashes[a] == hashes[b]) {
        if run.len() > 1 {
            counts.exact_groups += 1;
            counts.exact_records += run.len();
            for &member in &run[1..] {
                representative[member] = false;
                sets.union(run[0], member);
            }
        }
    }
    representative
}

/// Appends every text in `value` (nested lists and maps included) to `text`, one per line.
fn collect_text(value: &Value, text: &mut String) {
    match value {
        Value::Text(found) => {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(found);
        }
        Value::List(items) => {
            for item in items {
                collect_text(item, text);
            }
        }
        Value::Map(entries) => {
            for (_, item) in entries {
                collect_text(item, text);
            }
        }
        _ => {}
    }
}

/// The value as an embedding, if it is a list of at least two numbers.
fn numeric_list(value: &Value) -> Option<Vec<f32>> {
    let Value::List(items) = value else {
        return None;
    };
    if items.len() < 2 {
        return None;
    }
    items
        .iter()
        .map(|item| match item {
            Value::Int(_) | Value::Float(_) => item.as_f64().map(|number| number as f32),
            _ => None,
        })
        .collect()
}

/// The payload embeddings as a dense matrix of the most common width (ties to the smaller);
/// returns the matrix, its width, which records take part, and how many embeddings of another
/// width were left out.
fn gather_embeddings(
    payloads: &[Payload<'_>],
    representative: &[bool],
) -> (Vec<f32>, usize, Vec<bool>, usize) {
    let mut widths: BTreeMap<usize, usize> = BTreeMap::new();
    for payload in payloads {
        if let Some(values) = &payload.embedding {
            *widths.entry(values.len()).or_default() += 1;
        }
    }
    let Some(width) = widths
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(&width, _)| width)
    else {
        return (Vec::new(), 0, vec![false; payloads.len()], 0);
    };
    let skipped = widths.values().sum::<usize>() - widths[&width];
    let mut matrix = vec![0.0f32; payloads.len() * width];
    let mut included = vec![false; payloads.len()];
    for (record, payload) in payloads.iter().enumerate() {
        if let Some(values) = &payload.embedding
            && values.len() == width
        {
            matrix[record * width..(record + 1) * width].copy_from_slice(values);
            included[record] = representative[record];
        }
    }
    (matrix, width, included, skipped)
}

/// The size from which a group is a flood, and what it was derived from.
struct FloodThreshold {
    size: usize,
    typical: f64,
}

/// The flood size: over records, the median plus 3.5 MAD-scaled spreads (floored at half a
/// doubling) of the log2 size of each record's group, and never below `minimum`.
fn flood_threshold(record_count: usize, groups: &[Group], minimum: usize) -> FloodThreshold {
    let grouped: usize = groups.iter().map(|group| group.members.len()).sum();
    let mut log_sizes = vec![0.0f64; record_count - grouped];
    for group in groups {
        let log_size = (group.members.len() as f64).log2();
        log_sizes.extend(std::iter::repeat_n(log_size, group.members.len()));
    }
    if log_sizes.is_empty() {
        return FloodThreshold {
            size: minimum,
            typical: 1.0,
        };
    }
    let (centre, spread) = median_and_mad(&log_sizes);
    let limit = (centre + FLOOD_SPREADS * spread.max(FLOOD_SPREAD_FLOOR)).exp2();
    FloodThreshold {
        size: (limit.ceil() as usize).max(minimum),
        typical: centre.exp2(),
    }
}

/// The sentence for a record whose label disagrees with its group.
fn conflict_evidence(
    records: &[Record],
    labels: &[usize],
    name: &dyn Fn(usize) -> String,
    group: &Group,
    member: usize,
    majority: Option<usize>,
    label_counts: &BTreeMap<usize, usize>,
) -> String {
    let own = labels[member];
    let kind = if group.exact { "exact" } else { "near" };
    let others: Vec<usize> = group
        .members
        .iter()
        .copied()
        .filter(|&other| other != member)
        .collect();
    let mut text = format!("labelled `{}`", name(own));
    if let Some(majority) = majority {
        let holders: Vec<usize> = others
            .iter()
            .copied()
            .filter(|&other| labels[other] == majority)
            .collect();
        let _ = write!(
            text,
            ", but {} of the {} other records in its {kind}-duplicate group ({}) are labelled `{}`",
            holders.len(),
            others.len(),
            record_list(records, &holders),
            name(majority),
        );
    } else if let [other] = others[..] {
        let _ = write!(
            text,
            " while its {kind} duplicate `{}` is labelled `{}`, and neither has a majority",
            records[other].id,
            name(labels[other]),
        );
    } else {
        let tally: Vec<String> = label_counts
            .iter()
            .map(|(&label, count)| format!("`{}` {count}", name(label)))
            .collect();
        let _ = write!(
            text,
            " in a {kind}-duplicate group of {} ({}) labelled {}, with no majority",
            group.members.len(),
            record_list(records, &others),
            tally.join(", "),
        );
    }
    text
}

/// Up to three record ids in backticks, then how many more.
fn record_list(records: &[Record], indices: &[usize]) -> String {
    let mut text = indices
        .iter()
        .take(NAMED_RECORDS)
        .map(|&index| format!("`{}`", records[index].id))
        .collect::<Vec<_>>()
        .join(", ");
    if indices.len() > NAMED_RECORDS {
        let _ = write!(text, " and {} more", indices.len() - NAMED_RECORDS);
    }
    text
}

fn notes(
    record_count: usize,
    labelled: bool,
    groups: &[Group],
    counts: &SearchCounts,
    flood: &FloodThreshold,
    conflicting_groups: usize,
    flood_groups: usize,
) -> Vec<String> {
    let grouped: usize = groups.iter().map(|group| group.members.len()).sum();
    let near: Vec<&Group> = groups.iter().filter(|group| !group.exact).collect();
    let near_records: usize = near.iter().map(|group| group.members.len()).sum();
    let mut notes = vec![
        format!(
            "{} exact-duplicate groups hold {} records; {} groups joined by near-duplicate \
             similarity hold {near_records} ({} text, {} image and {} embedding links); {grouped} \
             of {record_count} records are in a duplicate group",
            counts.exact_groups,
            counts.exact_records,
            near.len(),
            counts.text_links,
            counts.image_links,
            counts.embedding_links,
        ),
        format!(
            "near duplicates were searched among {} texts, {} images and {} embeddings",
            counts.text_records, counts.image_records, counts.embedding_records
        ),
    ];
    if counts.embedding_skipped > 0 {
        notes.push(format!(
            "{} embeddings of another width than the most common one were not compared",
            counts.embedding_skipped
        ));
    }
    if labelled {
        notes.push(format!(
            "{conflicting_groups} duplicate groups carry conflicting labels"
        ));
    } else {
        notes.push("no labels were given, so conflicting copies were not looked for".to_owned());
    }
    notes.push(format!(
        "a group of {} or more records is a flood (a record's group here typically holds {:.0}); \
         {flood_groups} groups are",
        flood.size, flood.typical
    ));
    notes
}

impl Detector for Duplicates {
    fn id(&self) -> DetectorId {
        DetectorId::Duplicates
    }

    fn explanation_markdown(&self) -> &'static str {
        include_str!("explanation.md")
    }

    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError> {
        Ok(context.stage(DetectorId::Duplicates, || {
            let mut params = Duplicates::params().seed(context.options.seed);
            if let Some(column) = context.embedding {
                params = params.field(column);
            }
            params
                .check()
                .expect("valid default parameters")
                .run(context.records, context.labels, context.class_names)
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::Duplicates, error.to_string())
                })
        }))
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests;
