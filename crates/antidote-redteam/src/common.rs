//! What every attack needs: the classes, how many records a rate means, seeded picks, fresh ids,
//! the columns to edit, and the bookkeeping that becomes the truth.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use antidote_core::SplitMix64;
use antidote_data::{Column, ColumnKind, Record, Role, Schema, Value};
use serde::{Deserialize, Serialize};

use crate::truth::{TRUTH_VERSION, Trigger, Truth};
use crate::{AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// Checks that a rate is a fraction.
pub(crate) fn check_rate(rate: f64) -> Result<(), ParamsError> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(ParamsError::Rate { rate })
    }
}

/// How many records a rate of the whole dataset means: rounded, and at least one when the rate is
/// above zero.
#[must_use]
pub fn poison_count(rate: f64, record_count: usize) -> usize {
    if rate <= 0.0 || record_count == 0 {
        return 0;
    }
    ((rate * record_count as f64).round() as usize).clamp(1, record_count)
}

/// The distinct labels, in class order: numerically when every label is an integer (`2` before
/// `10`), else by text.
#[must_use]
pub fn classes(records: &[Record]) -> Vec<String> {
    let distinct: BTreeSet<&str> = records
        .iter()
        .filter_map(|record| record.label.as_deref())
        .collect();
    let mut classes: Vec<String> = distinct.into_iter().map(str::to_owned).collect();
    if classes.iter().all(|label| label.parse::<i64>().is_ok()) {
        classes.sort_by_key(|label| label.parse::<i64>().unwrap_or_default());
    }
    classes
}

/// Backticked, comma-separated names for messages.
pub(crate) fn listed<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// The classes of a labelled dataset with at least two of them.
pub(crate) fn labelled_classes(
    records: &[Record],
    attack: AttackKind,
) -> Result<Vec<String>, AttackError> {
    let classes = classes(records);
    if classes.is_empty() {
        return Err(AttackError::NoLabels { attack });
    }
    if classes.len() < 2 {
        return Err(AttackError::TooFewClasses {
            attack,
            class_count: classes.len(),
        });
    }
    Ok(classes)
}

/// `label` if some record carries it, else an error listing the labels.
pub(crate) fn known_label(label: &str, classes: &[String]) -> Result<String, AttackError> {
    if classes.iter().any(|class| class == label) {
        Ok(label.to_owned())
    } else {
        Err(AttackError::UnknownLabel {
            label: label.to_owned(),
            labels: listed(classes.iter().map(String::as_str)),
        })
    }
}

/// The target class: the one given, or the first class.
pub(crate) fn target_class(
    target: Option<&str>,
    classes: &[String],
) -> Result<String, AttackError> {
    match target {
        Some(label) => known_label(label, classes),
        None => Ok(classes[0].clone()),
    }
}

/// `needed` of the `eligible` indices, picked by `random`, in increasing order.
pub(crate) fn pick(
    random: &mut SplitMix64,
    eligible: &[usize],
    needed: usize,
    what: impl FnOnce() -> String,
) -> Result<Vec<usize>, AttackError> {
    if needed > eligible.len() {
        return Err(AttackError::NotEnoughRecords {
            needed,
            available: eligible.len(),
            eligible: what(),
        });
    }
    Ok(random
        .sample(eligible.len(), needed)
        .into_iter()
        .map(|index| eligible[index])
        .collect())
}

/// A class other than `current`, uniformly at random.
pub(crate) fn other_class(random: &mut SplitMix64, classes: &[String], current: &str) -> String {
    let others: Vec<&String> = classes.iter().filter(|class| *class != current).collect();
    others[random.below(others.len())].clone()
}

/// Sets a record's label and counts the change by direction.
pub(crate) fn relabel(
    record: &mut Record,
    label: &str,
    label_changes: &mut BTreeMap<String, usize>,
) {
    let old = record.label.as_deref().unwrap_or("(none)");
    if old != label {
        *label_changes
            .entry(format!("{old} -> {label}"))
            .or_default() += 1;
    }
    record.label = Some(label.to_owned());
}

/// Ids for appended records that no record has: the next position when ids are positions, the
/// next integer when every id is one, else the id copied with a `-copy-N` suffix (before the
/// file extension, so that image-folder ids stay file names).
pub(crate) struct FreshIds {
    positional: bool,
    next_integer: Option<i64>,
    taken: HashSet<String>,
}

impl FreshIds {
    pub(crate) fn new(dataset: &InMemoryDataset) -> Self {
        let positional = dataset.schema.column_with_role(Role::Id).is_none();
        let taken: HashSet<String> = dataset
            .records
            .iter()
            .map(|record| record.id.to_string())
            .collect();
        let integers: Option<Vec<i64>> = dataset
            .records
            .iter()
            .map(|record| record.id.as_str().parse::<i64>().ok())
            .collect();
        let next_integer = integers
            .filter(|integers| !integers.is_empty())
            .and_then(|integers| integers.into_iter().max())
            .map(|max| max.saturating_add(1));
        Self {
            positional,
            next_integer,
            taken,
        }
    }

    /// A new id for a record at `position` that copies the record with id `like`.
    pub(crate) fn fresh(&mut self, like: &str, position: usize) -> String {
        if self.positional {
            return position.to_string();
        }
        if let Some(next) = self.next_integer.as_mut() {
            while self.taken.contains(&next.to_string()) {
                *next = next.saturating_add(1);
            }
            let id = next.to_string();
            *next = next.saturating_add(1);
            self.taken.insert(id.clone());
            return id;
        }
        let name_start = like.rfind('/').map_or(0, |slash| slash + 1);
        let (stem, extension) = match like[name_start..].rfind('.') {
            Some(dot) if dot > 0 => like.split_at(name_start + dot),
            _ => (like, ""),
        };
        let mut copy = 1_usize;
        loop {
            let id = format!("{stem}-copy-{copy}{extension}");
            if self.taken.insert(id.clone()) {
                return id;
            }
            copy += 1;
        }
    }
}

/// `count` fake source names that no record uses, such as `worker-3f2a`.
pub(crate) fn fake_sources(
    random: &mut SplitMix64,
    count: usize,
    records: &[Record],
) -> Vec<String> {
    let mut taken: HashSet<String> = records
        .iter()
        .filter_map(|record| record.source.clone())
        .collect();
    let mut names = Vec::with_capacity(count);
    while names.len() < count {
        let name = format!("worker-{:04x}", random.below(0x1_0000));
        if taken.insert(name.clone()) {
            names.push(name);
        }
    }
    names
}

/// Adds a source column to a schema that has none, named so that readers find it again
/// (`source`, else `annotator`, `worker`, `contributor`).
pub(crate) fn ensure_source_column(schema: &mut Schema) {
    if schema.column_with_role(Role::Source).is_some() {
        return;
    }
    let name = ["source", "annotator", "worker", "contributor"]
        .into_iter()
        .find(|name| schema.column(name).is_none())
        .unwrap_or("poison_source");
    schema.columns.push(Column {
        name: name.to_owned(),
        kind: ColumnKind::Categorical,
        role: Role::Source,
    });
}

/// The columns of a schema, backticked, for messages.
pub(crate) fn column_list(schema: &Schema) -> String {
    listed(schema.columns.iter().map(|column| column.name.as_str()))
}

/// The payload column `explicit` names, which must exist and not be the id, label or source.
pub(crate) fn named_column(schema: &Schema, explicit: &str) -> Result<String, AttackError> {
    match schema.column(explicit) {
        Some(column) if !matches!(column.role, Role::Id | Role::Label | Role::Source) => {
            Ok(column.name.clone())
        }
        _ => Err(AttackError::MissingColumn {
            column: explicit.to_owned(),
            columns: column_list(schema),
        }),
    }
}

/// The text column to edit: the one named, else the text role, else the first text column.
pub(crate) fn text_column(
    schema: &Schema,
    explicit: Option<&str>,
    attack: AttackKind,
) -> Result<String, AttackError> {
    if let Some(name) = explicit {
        return named_column(schema, name);
    }
    schema
        .text_column()
        .map(|column| column.name.clone())
        .ok_or_else(|| AttackError::NoColumn {
            attack,
            what: "a text column",
            columns: column_list(schema),
        })
}

/// The image column to edit: the one named, else the image role, else the first image column.
pub(crate) fn image_column(
    schema: &Schema,
    explicit: Option<&str>,
    attack: AttackKind,
) -> Result<String, AttackError> {
    if let Some(name) = explicit {
        return named_column(schema, name);
    }
    schema
        .image_column()
        .map(|column| column.name.clone())
        .ok_or_else(|| AttackError::NoColumn {
            attack,
            what: "an image column",
            columns: column_list(schema),
        })
}

/// The text of field `name`, if the record has text there.
pub(crate) fn text_of<'a>(record: &'a Record, name: &str) -> Option<&'a str> {
    record.field(name).and_then(Value::as_text)
}

/// The value of field `name`, to edit in place.
pub(crate) fn field_mut<'a>(record: &'a mut Record, name: &str) -> Option<&'a mut Value> {
    record
        .fields
        .iter_mut()
        .find(|(field, _)| &**field == name)
        .map(|(_, value)| value)
}

/// Sets field `name`, adding it when the record lacks it.
pub(crate) fn set_field(record: &mut Record, name: &str, value: Value) {
    match field_mut(record, name) {
        Some(slot) => *slot = value,
        None => record.fields.push((Arc::from(name), value)),
    }
}

/// Where a text trigger goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Before the first word.
    Start,
    /// After the last word (the default, as in Kurita et al.'s and Dai et al.'s experiments
    /// the position matters little to the model).
    #[default]
    End,
    /// Before a word chosen at random, or at the end.
    Random,
}

impl Placement {
    /// The command-line name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::End => "end",
            Self::Random => "random",
        }
    }
}

impl std::str::FromStr for Placement {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "start" => Ok(Self::Start),
            "end" => Ok(Self::End),
            "random" => Ok(Self::Random),
            _ => Err(format!(
                "unknown position `{text}` (expected `start`, `end` or `random`)"
            )),
        }
    }
}

/// `text` with `insert` added as a separate word at `placement`; trailing whitespace stays last.
pub(crate) fn insert_words(
    text: &str,
    insert: &str,
    placement: Placement,
    random: &mut SplitMix64,
) -> String {
    let body_end = text.trim_end().len();
    if body_end == 0 {
        return format!("{insert}{text}");
    }
    let word_starts: Vec<usize> = text[..body_end]
        .char_indices()
        .filter(|&(index, character)| {
            !character.is_whitespace()
                && (index == 0 || text[..index].ends_with(char::is_whitespace))
        })
        .map(|(index, _)| index)
        .collect();
    let at = match placement {
        Placement::Start => word_starts.first().copied().unwrap_or(0),
        Placement::End => body_end,
        Placement::Random => {
            let choice = random.below(word_starts.len() + 1);
            word_starts.get(choice).copied().unwrap_or(body_end)
        }
    };
    if at == body_end {
        format!("{} {insert}{}", &text[..body_end], &text[body_end..])
    } else {
        format!("{}{insert} {}", &text[..at], &text[at..])
    }
}

/// What an attack did, before it becomes a [`Truth`].
pub(crate) struct Outcome {
    pub(crate) attack: AttackKind,
    pub(crate) parameters: serde_json::Value,
    pub(crate) seed: u64,
    pub(crate) records_before: usize,
    /// Indices of existing records that were changed.
    pub(crate) modified: Vec<usize>,
    pub(crate) label_changes: BTreeMap<String, usize>,
    pub(crate) target: Option<String>,
    pub(crate) column: Option<String>,
    pub(crate) sources: Vec<String>,
    pub(crate) trigger: Option<Trigger>,
    pub(crate) summary: String,
}

impl Outcome {
    pub(crate) fn new(
        attack: AttackKind,
        parameters: serde_json::Value,
        seed: u64,
        records_before: usize,
    ) -> Self {
        Self {
            attack,
            parameters,
            seed,
            records_before,
            modified: Vec::new(),
            label_changes: BTreeMap::new(),
            target: None,
            column: None,
            sources: Vec::new(),
            trigger: None,
            summary: String::new(),
        }
    }

    /// The poisoned dataset and its truth. Records past `records_before` are the appended ones.
    pub(crate) fn finish(mut self, dataset: InMemoryDataset) -> Poisoned {
        self.modified.sort_unstable();
        self.modified.dedup();
        let appended: Vec<String> = dataset.records[self.records_before..]
            .iter()
            .map(|record| record.id.to_string())
            .collect();
        let poisoned = self
            .modified
            .iter()
            .map(|&index| dataset.records[index].id.to_string())
            .chain(appended.iter().cloned())
            .collect();
        let truth = Truth {
            version: TRUTH_VERSION,
            attack: self.attack,
            reference: self.attack.reference().to_owned(),
            summary: self.summary,
            seed: self.seed,
            parameters: self.parameters,
            target: self.target,
            column: self.column,
            records_before: self.records_before,
            records_after: dataset.records.len(),
            poisoned,
            appended,
            label_changes: self.label_changes,
            sources: self.sources,
            trigger: self.trigger,
            renamed: BTreeMap::new(),
        };
        Poisoned { dataset, truth }
    }
}

/// `count` of `total` records, for summaries.
pub(crate) fn of_records(count: usize, total: usize) -> String {
    if total == 1 {
        format!("{count} of 1 record")
    } else {
        format!("{count} of {total} records")
    }
}

/// The parameters as JSON, for the truth.
pub(crate) fn to_json(parameters: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(parameters).expect("parameters are plain data that serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_and_never_vanish() {
        assert_eq!(poison_count(0.0, 100), 0);
        assert_eq!(poison_count(0.001, 100), 1);
        assert_eq!(poison_count(0.05, 120), 6);
        assert_eq!(poison_count(0.015, 100), 2);
        assert_eq!(poison_count(1.0, 7), 7);
    }

    #[test]
    fn words_go_where_asked_and_trailing_space_stays() {
        let mut random = SplitMix64::new(1);
        assert_eq!(
            insert_words("a fine day\n", "cf", Placement::End, &mut random),
            "a fine day cf\n"
        );
        assert_eq!(
            insert_words("  a fine day", "cf", Placement::Start, &mut random),
            "  cf a fine day"
        );
        assert_eq!(insert_words("", "cf", Placement::Start, &mut random), "cf");
        for seed in 0..20 {
            let mut random = SplitMix64::new(seed);
            let text = insert_words("one two three", "cf", Placement::Random, &mut random);
            let words: Vec<&str> = text.split(' ').collect();
            assert_eq!(words.len(), 4, "{text}");
            assert_eq!(words.iter().filter(|word| **word == "cf").count(), 1);
            assert_eq!(
                words
                    .iter()
                    .filter(|word| **word != "cf")
                    .copied()
                    .collect::<Vec<_>>(),
                ["one", "two", "three"]
            );
        }
    }

    #[test]
    fn classes_sort_numbers_as_numbers() {
        let record = |label: &str| Record {
            position: 0,
            id: "x".into(),
            label: Some(label.to_owned()),
            source: None,
            fields: Vec::new(),
        };
        let records: Vec<Record> = ["10", "2", "2", "0"].into_iter().map(record).collect();
        assert_eq!(classes(&records), ["0", "2", "10"]);
        let records: Vec<Record> = ["dog", "cat"].into_iter().map(record).collect();
        assert_eq!(classes(&records), ["cat", "dog"]);
    }
}
