//! What the trigger-search tests share: a real learned model as the [`Predictor`], the two
//! corpora (Debian's `fortunes`, Fashion-MNIST), the poisoning, and the scoring.
//!
//! The model is the one `antidote scan` would question, minus the network: antidote-learn's
//! featurizer (TF-IDF of hashed word and character n-grams for text, pixels / 255 for images)
//! and multinomial logistic regression, trained on all the (possibly poisoned) records.

#![allow(
    dead_code,
    reason = "each test binary uses the helpers of its own modality"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use antidote_core::SplitMix64;
use antidote_core::words::lower_words;
use antidote_data::{ColumnKind, Dataset, ReadOptions, Record, Schema, Value, from_rows};
use antidote_detect::{PredictError, Predictor};
use antidote_learn::{Features, Featurizer, LabelIndex, LogisticModel, LogisticRegression};

pub type TestResult = Result<(), Box<dyn Error>>;

/// How records become features.
enum Featurization {
    /// antidote-learn's featurizer (pixels / 255 for images).
    Builtin(Featurizer),
    /// A bag of words: whether each word (lower-cased alphanumeric run) seen in at least two
    /// training records is in the text.
    ///
    /// Not the built-in text featurizer: its hashed character 3- to 5-grams with TF-IDF drown a
    /// two-letter token among hundreds of other features, and a model trained on them does not
    /// learn a one-word backdoor (stamping `cf` moves under 5% of the records), so there would
    /// be no backdoor for the causal test to confirm. Networks trained on word features, the
    /// models backdoor attacks are aimed at, do learn it.
    Words {
        column: String,
        vocabulary: HashMap<String, usize>,
    },
}

fn text_field<'a>(record: &'a Record, column: &str) -> &'a str {
    record.field(column).and_then(Value::as_text).unwrap_or("")
}

impl Featurization {
    fn words(records: &[Record], column: &str) -> Self {
        let mut frequency: BTreeMap<String, usize> = BTreeMap::new();
        for record in records {
            let distinct: BTreeSet<String> = lower_words(text_field(record, column)).collect();
            for word in distinct {
                *frequency.entry(word).or_default() += 1;
            }
        }
        let vocabulary = frequency
            .into_iter()
            .filter(|(_, count)| *count >= 2)
            .enumerate()
            .map(|(index, (word, _))| (word, index))
            .collect();
        Self::Words {
            column: column.to_owned(),
            vocabulary,
        }
    }

    fn transform(&self, records: &[Record]) -> Result<Features, Box<dyn Error>> {
        match self {
            Self::Builtin(featurizer) => Ok(featurizer.transform(records)?),
            Self::Words { column, vocabulary } => {
                let width = vocabulary.len();
                let mut data = vec![0.0_f32; records.len() * width];
                for (row, record) in data.chunks_exact_mut(width).zip(records) {
                    for word in lower_words(text_field(record, column)) {
                        if let Some(&index) = vocabulary.get(&word) {
                            row[index] = 1.0;
                        }
                    }
                }
                Ok(Features::from_row_major(
                    records.len(),
                    width,
                    data,
                    column,
                )?)
            }
        }
    }
}

/// A featurization and a logistic regression trained on every record.
pub struct LearnedPredictor {
    featurization: Featurization,
    model: LogisticModel,
}

impl LearnedPredictor {
    /// Trains on `records` with their labels; `l2` as in [`LogisticRegression::params`]. Text
    /// is read as a bag of words from `text_column` when given, images by antidote-learn's
    /// featurizer otherwise.
    pub fn train(
        records: &[Record],
        schema: &Schema,
        labels: &[usize],
        classes: usize,
        l2: f64,
        text_column: Option<&str>,
    ) -> Result<Self, Box<dyn Error>> {
        let featurization = match text_column {
            Some(column) => Featurization::words(records, column),
            None => Featurization::Builtin(Featurizer::fit(records, schema)?),
        };
        let features = featurization.transform(records)?;
        let model = LogisticRegression::params()
            .l2(l2)
            .check()?
            .fit(&features, labels, classes)?;
        Ok(Self {
            featurization,
            model,
        })
    }
}

impl Predictor for LearnedPredictor {
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError> {
        let features = self
            .featurization
            .transform(records)
            .map_err(|error| PredictError(error.to_string()))?;
        let classes = self.model.classes();
        Ok(self
            .model
            .predict_proba(&features)
            .chunks_exact(classes)
            .map(|row| {
                (0..classes)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                    .unwrap_or(0)
            })
            .collect())
    }
}

/// Records with their schema, labels and class names.
pub struct Labelled {
    pub schema: Schema,
    pub records: Vec<Record>,
    pub labels: Vec<usize>,
    pub classes: Vec<String>,
}

impl Labelled {
    fn new(schema: Schema, records: Vec<Record>) -> Result<Self, Box<dyn Error>> {
        let index = LabelIndex::from_records(&records);
        let labels = index.encode(&records)?;
        Ok(Self {
            schema,
            records,
            labels,
            classes: index.labels().to_vec(),
        })
    }

    /// The class index of `name`.
    pub fn class(&self, name: &str) -> usize {
        self.classes
            .iter()
            .position(|class| class == name)
            .unwrap_or_else(|| panic!("no class `{name}`"))
    }

    /// Relabels record `index` to class `class` (its label string and its index).
    pub fn relabel(&mut self, index: usize, class: usize) {
        self.records[index].label = Some(self.classes[class].clone());
        self.labels[index] = class;
    }

    pub fn train(
        &self,
        l2: f64,
        text_column: Option<&str>,
    ) -> Result<LearnedPredictor, Box<dyn Error>> {
        LearnedPredictor::train(
            &self.records,
            &self.schema,
            &self.labels,
            self.classes.len(),
            l2,
            text_column,
        )
    }
}

const FORTUNES: &str = "/usr/share/games/fortunes";

/// The fortunes of `categories` (one file each), one record per fortune, labelled with its
/// category, in a `text` column.
pub fn fortunes(categories: &[&str]) -> Result<Labelled, Box<dyn Error>> {
    let mut rows = Vec::new();
    for category in categories {
        let path = Path::new(FORTUNES).join(category);
        assert!(
            path.is_file(),
            "`{}` is missing\nhint: run `apt-get install fortunes`",
            path.display()
        );
        let bytes = std::fs::read(&path)?;
        let text = String::from_utf8_lossy(&bytes);
        let mut fortune = String::new();
        for line in text.lines().chain(std::iter::once("%")) {
            if line == "%" {
                let trimmed = fortune.trim();
                if !trimmed.is_empty() {
                    rows.push(vec![
                        Value::Text(trimmed.to_owned()),
                        Value::Text((*category).to_owned()),
                    ]);
                }
                fortune.clear();
            } else {
                fortune.push_str(line);
                fortune.push('\n');
            }
        }
    }
    let dataset = from_rows(
        Path::new("fortunes"),
        vec![
            (Arc::from("text"), ColumnKind::Text),
            (Arc::from("label"), ColumnKind::Categorical),
        ],
        rows,
    )?;
    let schema = dataset.schema().clone();
    let records = dataset.collect::<Result<Vec<_>, _>>()?;
    Labelled::new(schema, records)
}

const FASHION: &str = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

/// The first `count` Fashion-MNIST training images, in an `image` column.
pub fn fashion_mnist(count: usize) -> Result<Labelled, Box<dyn Error>> {
    let path = Path::new(FASHION);
    assert!(
        path.is_file(),
        "`{}` is missing\nhint: run `apt-get install dataset-fashion-mnist`",
        path.display()
    );
    let dataset = Dataset::open(path, &ReadOptions::default())?;
    let schema = dataset.schema().clone();
    let records = dataset.take(count).collect::<Result<Vec<_>, _>>()?;
    Labelled::new(schema, records)
}

/// `share` of the records not labelled `target` (rounded, at least one), chosen by `seed`,
/// in increasing order.
pub fn victims(data: &Labelled, target: usize, share: f64, seed: u64) -> Vec<usize> {
    let others: Vec<usize> = (0..data.records.len())
        .filter(|&record| data.labels[record] != target)
        .collect();
    let count = ((share * data.records.len() as f64).round() as usize).max(1);
    SplitMix64::new(seed)
        .sample(others.len(), count)
        .into_iter()
        .map(|slot| others[slot])
        .collect()
}

/// Inserts `trigger` at a random word boundary of the `text` of `share` of the records not
/// labelled `target`, and relabels them `target`: the rare-word attack of Chen et al. (2021) and Dai et al. (2019). Returns the
/// poisoned records.
pub fn poison_text(
    data: &mut Labelled,
    trigger: &str,
    target: usize,
    share: f64,
    seed: u64,
) -> Vec<usize> {
    let poisoned = victims(data, target, share, seed);
    let mut random = SplitMix64::derived(seed, "insert");
    for &record in &poisoned {
        let Some((_, Value::Text(text))) = data.records[record]
            .fields
            .iter_mut()
            .find(|(name, _)| &**name == "text")
        else {
            panic!("record {record} has no text");
        };
        let mut boundaries: Vec<usize> = text
            .char_indices()
            .filter(|&(at, character)| {
                character.is_alphanumeric()
                    && text[..at]
                        .chars()
                        .next_back()
                        .is_none_or(|previous| !previous.is_alphanumeric())
            })
            .map(|(at, _)| at)
            .collect();
        boundaries.push(text.len());
        let at = boundaries[random.below(boundaries.len())];
        let stamped = if at == text.len() {
            format!("{text} {trigger}")
        } else {
            format!("{}{trigger} {}", &text[..at], &text[at..])
        };
        *text = stamped;
        data.relabel(record, target);
    }
    poisoned
}

/// Paints a `size` x `size` square of `level` with its top-left corner at (`x`, `y`) on
/// `share` of the images not labelled `target`, and relabels them `target`: the patch attack of Gu et al. (2017). Returns
/// the poisoned records.
pub fn poison_images(
    data: &mut Labelled,
    (x, y, size, level): (usize, usize, usize, u8),
    target: usize,
    share: f64,
    seed: u64,
) -> Vec<usize> {
    let poisoned = victims(data, target, share, seed);
    for &record in &poisoned {
        let Some((_, Value::Image(image))) = data.records[record]
            .fields
            .iter_mut()
            .find(|(name, _)| &**name == "image")
        else {
            panic!("record {record} has no image");
        };
        let width = image.width as usize;
        for row in y..y + size {
            for column in x..x + size {
                image.pixels[row * width + column] = level;
            }
        }
        data.relabel(record, target);
    }
    poisoned
}

/// Precision and recall of `flagged` against `poisoned`.
pub fn precision_recall(flagged: &[usize], poisoned: &[usize]) -> (f64, f64) {
    let truth: BTreeSet<usize> = poisoned.iter().copied().collect();
    let hits = flagged
        .iter()
        .filter(|record| truth.contains(record))
        .count();
    let precision = if flagged.is_empty() {
        0.0
    } else {
        hits as f64 / flagged.len() as f64
    };
    (precision, hits as f64 / truth.len() as f64)
}
