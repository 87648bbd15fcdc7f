//! A silent dataset update: a new version in which some labels changed, some records were added
//! and some contents were edited, without a word in the changelog.
//!
//! Poisoning often arrives as a routine upstream update: a re-release of a public dataset, a
//! vendor's "quality improvement", a mirror that serves another snapshot than the one reviewed
//! (Carlini et al., 2024, buy expired domains of web-scale datasets and serve changed content).
//! Provenance is the defense: `antidote verify` and `antidote diff` must name every changed
//! record. This attack makes such an update with known changes.

use antidote_core::SplitMix64;
use antidote_data::{ColumnKind, Record, Role, Schema, Value};
use serde::Serialize;

use crate::common::{
    self, FreshIds, Outcome, Placement, classes, field_mut, image_column, insert_words,
    known_label, of_records, other_class, pick, poison_count, relabel, text_column,
};
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// The word inserted into edited texts: a negation changes the meaning of a sentence with one
/// short word.
pub const EDIT_WORD: &str = "not";

/// ## What it does
/// Changes the labels of some records, appends some new records and edits the content of
/// others: about a third of the poisoned records each.
///
/// ## Why it matters
/// An update that changes a few records among thousands passes every check that looks at the
/// size, the schema or the label distribution; only record-level provenance catches it.
///
/// ## How it works
/// The rate gives the number of poisoned records, split into relabelled (rounded up), appended
/// and edited ones. Relabelled records get the target, or another class picked by the seed.
/// Edits insert the word [`EDIT_WORD`] before a random word of the text column; for images they
/// invert a 2x2 block; for numeric tables they add 1 to the first numeric column. Appended
/// records are edited copies of existing ones, with fresh ids.
///
/// ## References
/// - Carlini et al. (2024), "Poisoning Web-Scale Training Datasets is Practical", IEEE S&P.
#[derive(Debug, Clone, Copy)]
pub struct SilentUpdate;

impl SilentUpdate {
    /// 5% of the dataset changed; adjust and [`check`](SilentUpdateParams::check).
    #[must_use]
    pub fn params() -> SilentUpdateParams {
        SilentUpdateParams {
            rate: 0.05,
            target: None,
            column: None,
        }
    }
}

/// Unchecked parameters of [`SilentUpdate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilentUpdateParams {
    rate: f64,
    target: Option<String>,
    column: Option<String>,
}

impl SilentUpdateParams {
    /// The share of the dataset to change, counting appended records (default `0.05`).
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The label relabelled records get (default: another class per record, picked by the seed).
    #[must_use]
    pub fn target(mut self, label: impl Into<String>) -> Self {
        self.target = Some(label.into());
        self
    }

    /// The column edits go to (default: the text column, else the image column, else the first
    /// numeric column).
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<SilentUpdateValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        Ok(SilentUpdateValidParams { params: self })
    }
}

/// Checked parameters of [`SilentUpdate`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SilentUpdateValidParams {
    params: SilentUpdateParams,
}

/// How a record's content is edited.
enum Editor {
    Text(String),
    Image(String),
    Number(String),
}

impl Editor {
    fn of(schema: &Schema, explicit: Option<&str>) -> Result<Self, AttackError> {
        let kind = AttackKind::SilentUpdate;
        if let Some(name) = explicit {
            let column = common::named_column(schema, name)?;
            return Ok(match schema.column(&column).map(|column| column.kind) {
                Some(ColumnKind::Image) => Self::Image(column),
                Some(ColumnKind::Integer | ColumnKind::Float) => Self::Number(column),
                _ => Self::Text(column),
            });
        }
        if let Ok(column) = text_column(schema, None, kind) {
            return Ok(Self::Text(column));
        }
        if let Ok(column) = image_column(schema, None, kind) {
            return Ok(Self::Image(column));
        }
        schema
            .columns
            .iter()
            .find(|column| {
                column.role == Role::Feature
                    && matches!(column.kind, ColumnKind::Integer | ColumnKind::Float)
            })
            .map(|column| Self::Number(column.name.clone()))
            .ok_or_else(|| AttackError::NoColumn {
                attack: kind,
                what: "a text, image or numeric column",
                columns: common::column_list(schema),
            })
    }

    fn column(&self) -> &str {
        match self {
            Self::Text(column) | Self::Image(column) | Self::Number(column) => column,
        }
    }

    fn can_edit(&self, record: &Record) -> bool {
        matches!(
            (self, record.field(self.column())),
            (Self::Text(_), Some(Value::Text(_)))
                | (Self::Image(_), Some(Value::Image(_)))
                | (Self::Number(_), Some(Value::Int(_)))
        ) || matches!(
            (self, record.field(self.column())),
            (Self::Number(_), Some(Value::Float(number))) if number.is_finite()
        )
    }

    /// Edits the record so that its content changes.
    fn edit(&self, record: &mut Record, random: &mut SplitMix64) {
        let Some(value) = field_mut(record, self.column()) else {
            return;
        };
        match value {
            Value::Text(text) => {
                *text = insert_words(text, EDIT_WORD, Placement::Random, random);
            }
            Value::Image(image) => {
                let block = 2.min(image.width).min(image.height);
                let x = random.below((image.width - block + 1) as usize);
                let y = random.below((image.height - block + 1) as usize);
                let channels = usize::from(image.channels);
                for row in y..y + block as usize {
                    let start = (row * image.width as usize + x) * channels;
                    for pixel in &mut image.pixels[start..start + block as usize * channels] {
                        *pixel = 255 - *pixel;
                    }
                }
            }
            Value::Int(number) => {
                *number = number.checked_add(1).unwrap_or(*number - 1);
            }
            // Large floats absorb a `+ 1`; a relative step changes them too.
            Value::Float(number) => *number += number.abs().mul_add(1e-3, 1.0),
            _ => {}
        }
    }
}

impl Attack for SilentUpdateValidParams {
    fn kind(&self) -> AttackKind {
        AttackKind::SilentUpdate
    }

    fn parameters(&self) -> serde_json::Value {
        common::to_json(&self.params)
    }

    fn run(&self, mut dataset: InMemoryDataset, seed: u64) -> Result<Poisoned, AttackError> {
        let kind = self.kind();
        let params = &self.params;
        let mut random = SplitMix64::derived(seed, kind.name());
        let records_before = dataset.records.len();
        let editor = Editor::of(&dataset.schema, params.column.as_deref())?;
        let classes = classes(&dataset.records);
        let target = params
            .target
            .as_deref()
            .map(|label| known_label(label, &classes))
            .transpose()?;
        let total = poison_count(params.rate, records_before);
        // Without two classes there is nothing to relabel to: edits take that share.
        let relabelled_count = if classes.len() >= 2 {
            total.div_ceil(3)
        } else {
            0
        };
        let appended_count = (total - relabelled_count).div_ceil(2);
        let edited_count = total - relabelled_count - appended_count;

        let relabel_eligible: Vec<usize> = (0..records_before)
            .filter(|&index| {
                let label = dataset.records[index].label.as_deref();
                label.is_some() && label != target.as_deref()
            })
            .collect();
        let relabelled = pick(&mut random, &relabel_eligible, relabelled_count, || {
            "labelled records to relabel".to_owned()
        })?;
        let edit_eligible: Vec<usize> = (0..records_before)
            .filter(|&index| {
                editor.can_edit(&dataset.records[index])
                    && relabelled.binary_search(&index).is_err()
            })
            .collect();
        let edited = pick(&mut random, &edit_eligible, edited_count, || {
            format!("records with a `{}` to edit", editor.column())
        })?;
        let copy_eligible: Vec<usize> = (0..records_before)
            .filter(|&index| editor.can_edit(&dataset.records[index]))
            .collect();
        let copied = pick(&mut random, &copy_eligible, appended_count, || {
            format!("records with a `{}` to copy", editor.column())
        })?;

        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        for &index in &relabelled {
            let record = &mut dataset.records[index];
            let label = match &target {
                Some(target) => target.clone(),
                None => other_class(
                    &mut random,
                    &classes,
                    record
                        .label
                        .as_deref()
                        .expect("eligible records are labelled"),
                ),
            };
            relabel(record, &label, &mut outcome.label_changes);
        }
        for &index in &edited {
            editor.edit(&mut dataset.records[index], &mut random);
        }
        let mut ids = FreshIds::new(&dataset);
        for &index in &copied {
            let position = dataset.records.len();
            let mut copy = dataset.records[index].clone();
            copy.position = position as u64;
            copy.id = ids.fresh(copy.id.as_str(), position).into();
            editor.edit(&mut copy, &mut random);
            dataset.records.push(copy);
        }

        outcome.modified = relabelled.iter().chain(&edited).copied().collect();
        outcome.summary = format!(
            "changed the labels of {}, edited the `{}` of {} and appended {} edited copies",
            of_records(relabelled.len(), records_before),
            editor.column(),
            edited.len(),
            copied.len()
        );
        outcome.target = target;
        outcome.column = Some(editor.column().to_owned());
        Ok(outcome.finish(dataset))
    }
}
