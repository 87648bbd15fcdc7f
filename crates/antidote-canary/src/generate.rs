//! Look-alike records, made from the dataset's own material so that a scraper cannot filter
//! them by content.
//!
//! - Text (the payload column): fragments of the dataset's own texts spliced where they share a
//!   word, as a bigram chain over the corpus that is forced to jump between records; the length
//!   is that of a real text. Every word pair of a canary occurs in the dataset.
//! - Images: a 2 x 2 mosaic of quadrants of four real images of the same size, with a one-level
//!   dither on the pixels that are neither black nor white (backgrounds stay exact).
//! - Numbers: uniform within the column's observed range, integers for integer columns, floats
//!   with the column's number of decimals.
//! - Everything else (categories, other text, lists): the value of a random real record.
//! - Ids continue the dataset's own numbering (`computers-041` after `computers-040`); sources
//!   are those of real records.
//!
//! The label is drawn uniformly from the dataset's classes, independent of the content: only a
//! model that memorised a canary gives its label more often than chance.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use antidote_core::SplitMix64;
use antidote_data::writers::safe_name;
use antidote_data::{Format, Image, PayloadKind, Record, Schema, Value};

/// How often the text chain leaves the record it is reading for another one that shares the
/// current word, where one does.
const SPLICE_PROBABILITY: f64 = 0.4;
/// The fewest words a generated text has.
const MIN_WORDS: usize = 4;

/// A column's observed numbers.
#[derive(Debug, Clone, Copy)]
struct NumberRange {
    min: f64,
    max: f64,
    decimals: u32,
}

/// The material canaries are made from, and the generator's state.
pub(crate) struct Generator<'a> {
    records: &'a [Record],
    format: Format,
    classes: Vec<String>,
    /// Records of each class, to take the id pattern and the non-payload values from.
    by_class: HashMap<String, Vec<usize>>,
    random: SplitMix64,
    text_column: Option<Arc<str>>,
    texts: Vec<Vec<String>>,
    /// Where each word occurs: (text, position).
    occurrences: HashMap<String, Vec<(usize, usize)>>,
    numbers: HashMap<Arc<str>, NumberRange>,
    /// Per image column, the records whose image has each (width, height, channels).
    images: HashMap<(Arc<str>, u32, u32, u8), Vec<usize>>,
    ids_are_positions: bool,
    used_ids: HashSet<String>,
    /// For ids that end in a number: the next number per prefix.
    next_number: HashMap<String, u64>,
}

/// `value` with at most six decimals: how many it needs.
fn decimals(value: f64) -> u32 {
    let text = format!("{value}");
    text.split_once('.')
        .map_or(0, |(_, fraction)| fraction.len().min(6) as u32)
}

/// An id split into prefix, trailing number (with its width) and extension.
fn split_id(id: &str) -> (&str, Option<(u64, usize)>, &str) {
    let (stem, extension) = [".png", ".jpg", ".jpeg"]
        .iter()
        .find_map(|extension| {
            id.strip_suffix(extension)
                .map(|stem| (stem, &id[stem.len()..]))
        })
        .unwrap_or((id, ""));
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 18 {
        return (stem, None, extension);
    }
    let prefix = &stem[..stem.len() - digits];
    let number = stem[prefix.len()..].parse().ok();
    (prefix, number.map(|number| (number, digits)), extension)
}

impl<'a> Generator<'a> {
    pub(crate) fn new(
        records: &'a [Record],
        schema: &Schema,
        format: Format,
        ids_are_positions: bool,
        seed: u64,
    ) -> Self {
        let mut classes: Vec<String> = records
            .iter()
            .filter_map(|record| record.label.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        classes.sort();
        let mut by_class: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, record) in records.iter().enumerate() {
            if let Some(label) = &record.label {
                by_class.entry(label.clone()).or_default().push(index);
            }
        }
        let text_column: Option<Arc<str>> = match schema.payload_column() {
            Some((name, PayloadKind::Text)) => Some(Arc::from(name)),
            _ => None,
        };
        let mut texts = Vec::new();
        let mut occurrences: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut numbers: HashMap<Arc<str>, NumberRange> = HashMap::new();
        let mut integral: HashSet<Arc<str>> = HashSet::new();
        let mut fractional: HashSet<Arc<str>> = HashSet::new();
        let mut images: HashMap<(Arc<str>, u32, u32, u8), Vec<usize>> = HashMap::new();
        let mut next_number: HashMap<String, u64> = HashMap::new();
        let mut used_ids = HashSet::new();
        for (index, record) in records.iter().enumerate() {
            used_ids.insert(record.id.to_string());
            if let (prefix, Some((number, _)), _) = split_id(record.id.as_str()) {
                let next = next_number.entry(prefix.to_owned()).or_insert(0);
                *next = (*next).max(number.saturating_add(1));
            }
            for (name, value) in &record.fields {
                match value {
                    Value::Text(text) if text_column.as_ref() == Some(name) => {
                        let words: Vec<String> =
                            text.split_whitespace().map(str::to_owned).collect();
                        for (position, word) in words.iter().enumerate() {
                            occurrences
                                .entry(word.clone())
                                .or_default()
                                .push((texts.len(), position));
                        }
                        texts.push(words);
                    }
                    Value::Int(_) | Value::Float(_) => {
                        let number = value.as_f64().expect("a number");
                        if !number.is_finite() {
                            continue;
                        }
                        if matches!(value, Value::Int(_)) {
                            integral.insert(Arc::clone(name));
                        } else {
                            fractional.insert(Arc::clone(name));
                        }
                        let range = numbers.entry(Arc::clone(name)).or_insert(NumberRange {
                            min: number,
                            max: number,
                            decimals: 0,
                        });
                        range.min = range.min.min(number);
                        range.max = range.max.max(number);
                        range.decimals = range.decimals.max(decimals(number));
                    }
                    Value::Image(image) => images
                        .entry((Arc::clone(name), image.width, image.height, image.channels))
                        .or_default()
                        .push(index),
                    _ => {}
                }
            }
        }
        Self {
            records,
            format,
            classes,
            by_class,
            random: SplitMix64::derived(seed, "canary records"),
            text_column,
            texts: texts
                .into_iter()
                .filter(|words| !words.is_empty())
                .collect(),
            occurrences,
            numbers,
            images,
            ids_are_positions,
            used_ids,
            next_number,
        }
    }

    /// The classes labels are drawn from, sorted.
    pub(crate) fn classes(&self) -> &[String] {
        &self.classes
    }

    /// A new record like the dataset's, with a label drawn at random.
    pub(crate) fn generate(&mut self) -> Record {
        let label = (!self.classes.is_empty())
            .then(|| self.classes[self.random.below(self.classes.len())].clone());
        // The donor gives the record its shape (which fields, which image size) and its id
        // pattern; a donor of the assigned class, so that the id fits the label.
        let donor = match label.as_ref().and_then(|label| self.by_class.get(label)) {
            Some(members) => members[self.random.below(members.len())],
            None => self.random.below(self.records.len()),
        };
        let donor = &self.records[donor];
        let fields = donor
            .fields
            .iter()
            .map(|(name, value)| (Arc::clone(name), self.value_like(name, value)))
            .collect();
        let source = {
            let other = &self.records[self.random.below(self.records.len())];
            other.source.clone().or_else(|| donor.source.clone())
        };
        let id = self.new_id(donor.id.as_str(), label.as_deref());
        Record {
            position: 0,
            id: id.into(),
            label,
            source,
            fields,
        }
    }

    fn value_like(&mut self, name: &Arc<str>, value: &Value) -> Value {
        match value {
            Value::Text(_) if self.text_column.as_ref() == Some(name) && !self.texts.is_empty() => {
                let length = self.texts[self.random.below(self.texts.len())]
                    .len()
                    .max(MIN_WORDS);
                Value::Text(self.text(length))
            }
            Value::Int(_) | Value::Float(_) => match self.numbers.get(name).copied() {
                Some(range) => {
                    let drawn = range.min + self.random.unit() * (range.max - range.min);
                    if matches!(value, Value::Int(_)) {
                        Value::Int(drawn.round() as i64)
                    } else {
                        let scale = 10f64.powf(f64::from(range.decimals));
                        Value::Float((drawn * scale).round() / scale)
                    }
                }
                None => value.clone(),
            },
            Value::Image(image) => self.mosaic(name, image),
            _ => {
                // A real record's value of this column (a category, a second text, a list).
                let other = &self.records[self.random.below(self.records.len())];
                other.field(name).cloned().unwrap_or_else(|| value.clone())
            }
        }
    }

    /// A text of about `length` words spliced from the corpus (see the module documentation):
    /// it follows a real text, and where the current word also occurs in another text it may
    /// continue there; it ends where a real text ends, once long enough.
    fn text(&mut self, length: usize) -> String {
        let mut text = self.random.below(self.texts.len());
        let mut position = 0;
        let mut words: Vec<String> = Vec::with_capacity(length * 2);
        loop {
            let word = self.texts[text][position].clone();
            words.push(word.clone());
            let at_end = position + 1 >= self.texts[text].len();
            if words.len() >= length && (at_end || words.len() >= length * 3 / 2) {
                break;
            }
            let candidates: Vec<(usize, usize)> = self
                .occurrences
                .get(&word)
                .map(|places| {
                    places
                        .iter()
                        .copied()
                        .filter(|&(other, at)| other != text && at + 1 < self.texts[other].len())
                        .collect()
                })
                .unwrap_or_default();
            let splice =
                !candidates.is_empty() && (at_end || self.random.unit() < SPLICE_PROBABILITY);
            if splice {
                let (other, at) = candidates[self.random.below(candidates.len())];
                text = other;
                position = at + 1;
            } else if at_end {
                // A real text ended here: the next one starts as real texts do.
                text = self.random.below(self.texts.len());
                position = 0;
            } else {
                position += 1;
            }
        }
        words.join(" ")
    }

    /// Quadrants of four real images of `like`'s size, dithered by one level.
    fn mosaic(&mut self, name: &Arc<str>, like: &Image) -> Value {
        let key = (Arc::clone(name), like.width, like.height, like.channels);
        let Some(members) = self.images.get(&key).filter(|members| !members.is_empty()) else {
            return Value::Image(like.clone());
        };
        let members = members.clone();
        let donors: Vec<&Image> = (0..4)
            .map(|_| {
                let record = &self.records[members[self.random.below(members.len())]];
                match record.field(name) {
                    Some(Value::Image(image)) => image,
                    _ => like,
                }
            })
            .collect();
        let (width, height, channels) = (
            like.width as usize,
            like.height as usize,
            usize::from(like.channels),
        );
        let mut pixels = vec![0u8; width * height * channels];
        for y in 0..height {
            for x in 0..width {
                let quadrant = usize::from(y >= height / 2) * 2 + usize::from(x >= width / 2);
                for channel in 0..channels {
                    let at = (y * width + x) * channels + channel;
                    let original = donors[quadrant].pixels[at];
                    pixels[at] = if original == 0 || original == 255 {
                        original
                    } else {
                        match self.random.below(3) {
                            0 => original - 1,
                            1 => original,
                            _ => original + 1,
                        }
                    };
                }
            }
        }
        Value::Image(Image {
            width: like.width,
            height: like.height,
            channels: like.channels,
            pixels,
        })
    }

    /// A fresh id in the pattern of `donor`'s; empty when ids are positions (the caller sets
    /// them).
    fn new_id(&mut self, donor: &str, label: Option<&str>) -> String {
        if self.ids_are_positions {
            return String::new();
        }
        let (prefix, number, extension) = split_id(donor);
        let prefix = if self.format == Format::ImageFolder {
            // An image folder names the class folder after the label.
            let file_prefix = prefix.rsplit('/').next().unwrap_or(prefix);
            format!("{}/{file_prefix}", safe_name(label.unwrap_or("unlabelled")))
        } else {
            prefix.to_owned()
        };
        loop {
            let candidate = match number {
                Some((_, width)) => {
                    let next = self.next_number.entry(prefix.clone()).or_insert(0);
                    let id = format!("{prefix}{:0width$}{extension}", *next);
                    *next += 1;
                    id
                }
                None => format!("{prefix}-{}{extension}", 1000 + self.random.below(9000)),
            };
            if self.used_ids.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_records() -> Vec<Record> {
        let texts = [
            (
                "computers-000",
                "computers",
                "the disk is full of old code and bugs",
            ),
            (
                "computers-001",
                "computers",
                "a bug in the code is worth two in the docs",
            ),
            (
                "science-000",
                "science",
                "the universe is full of dark matter and light",
            ),
            (
                "science-001",
                "science",
                "light is a wave and a particle at once",
            ),
        ];
        texts
            .iter()
            .enumerate()
            .map(|(position, (id, label, text))| Record {
                position: position as u64,
                id: (*id).into(),
                label: Some((*label).into()),
                source: None,
                fields: vec![
                    (Arc::from("text"), Value::Text((*text).into())),
                    (
                        Arc::from("year"),
                        Value::Int(1990 + i64::try_from(position).unwrap()),
                    ),
                ],
            })
            .collect()
    }

    fn text_schema() -> Schema {
        use antidote_data::{Column, ColumnKind, Role};
        Schema {
            columns: vec![
                Column {
                    name: "id".into(),
                    kind: ColumnKind::Categorical,
                    role: Role::Id,
                },
                Column {
                    name: "label".into(),
                    kind: ColumnKind::Categorical,
                    role: Role::Label,
                },
                Column {
                    name: "text".into(),
                    kind: ColumnKind::Text,
                    role: Role::Text,
                },
                Column {
                    name: "year".into(),
                    kind: ColumnKind::Integer,
                    role: Role::Feature,
                },
            ],
        }
    }

    #[test]
    fn text_canaries_use_only_the_datasets_words_and_its_id_pattern() {
        let records = text_records();
        let vocabulary: HashSet<&str> = records
            .iter()
            .flat_map(|record| record.field("text").unwrap().as_text().unwrap().split(' '))
            .collect();
        let mut generator = Generator::new(&records, &text_schema(), Format::Csv, false, 1);
        let mut ids = HashSet::new();
        for _ in 0..20 {
            let canary = generator.generate();
            let text = canary.field("text").unwrap().as_text().unwrap().to_owned();
            assert!(text.split(' ').count() >= MIN_WORDS);
            assert!(
                text.split(' ').all(|word| vocabulary.contains(word)),
                "{text}"
            );
            let year = canary.field("year").unwrap().as_f64().unwrap();
            assert!((1990.0..=1993.0).contains(&year));
            let label = canary.label.clone().unwrap();
            assert!(
                canary.id.as_str().starts_with(&format!("{label}-")),
                "{}",
                canary.id
            );
            assert!(ids.insert(canary.id.to_string()), "ids are unique");
            assert!(!records.iter().any(|record| record.id == canary.id));
        }
    }

    #[test]
    fn labels_are_drawn_from_every_class() {
        let records = text_records();
        let mut generator = Generator::new(&records, &text_schema(), Format::Csv, false, 3);
        let labels: HashSet<String> = (0..40).filter_map(|_| generator.generate().label).collect();
        assert_eq!(labels.len(), 2);
    }

    #[test]
    fn image_canaries_are_mosaics_of_real_quadrants() {
        let image = |value: u8| Image {
            width: 4,
            height: 4,
            channels: 1,
            pixels: vec![value; 16],
        };
        let records: Vec<Record> = [0u8, 100, 255]
            .iter()
            .enumerate()
            .map(|(position, value)| Record {
                position: position as u64,
                id: position.to_string().into(),
                label: Some(position.to_string()),
                source: None,
                fields: vec![(Arc::from("image"), Value::Image(image(*value)))],
            })
            .collect();
        let mut generator = Generator::new(&records, &Schema::default(), Format::Idx, true, 5);
        for _ in 0..10 {
            let Some(Value::Image(canary)) = generator.generate().field("image").cloned() else {
                panic!("an image");
            };
            assert_eq!((canary.width, canary.height), (4, 4));
            // Every quadrant is constant up to the dither: 0 and 255 stay, 100 moves by one.
            for pixel in canary.pixels {
                assert!(matches!(pixel, 0 | 99..=101 | 255), "{pixel}");
            }
        }
    }

    #[test]
    fn ids_split_into_prefix_number_and_extension() {
        assert_eq!(split_id("computers-041"), ("computers-", Some((41, 3)), ""));
        assert_eq!(split_id("cat/0007.png"), ("cat/", Some((7, 4)), ".png"));
        assert_eq!(split_id("abc"), ("abc", None, ""));
        assert_eq!(decimals(0.25), 2);
        assert_eq!(decimals(3.0), 0);
    }
}
