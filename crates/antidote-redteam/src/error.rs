//! The two ways an attack can fail: parameters that make no sense, and a dataset it cannot
//! poison.

use std::path::PathBuf;

use crate::AttackKind;

/// Parameters rejected before anything runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamsError {
    /// The poison rate is not a fraction.
    #[error("the poison rate must be a fraction from `0` to `1`, not `{rate}`")]
    Rate {
        /// The rate given.
        rate: f64,
    },
    /// A size, count or step is zero.
    #[error("`{option}` must be at least `1`")]
    Zero {
        /// The option, as the command line spells it.
        option: &'static str,
    },
    /// The blending weight is not in `(0, 1]`.
    #[error("the blending weight `alpha` must be greater than `0` and at most `1`, not `{alpha}`")]
    Alpha {
        /// The weight given.
        alpha: f64,
    },
    /// A number outside the range the attack accepts.
    #[error("`--{option}` must be {expected}, not `{value}`")]
    OutOfRange {
        /// The option, as the command line spells it.
        option: &'static str,
        /// The value given, as text.
        value: String,
        /// The accepted range, in words (`greater than 0 and at most 255`).
        expected: &'static str,
    },
    /// A trigger, phrase, line or payload is empty.
    #[error("`{option}` must not be empty")]
    Empty {
        /// The option, as the command line spells it.
        option: &'static str,
    },
    /// A rare token holds whitespace, so it would be several tokens.
    #[error("the token `{token}` holds whitespace; use the `phrase` attack for several words")]
    TokenWithSpace {
        /// The token given.
        token: String,
    },
    /// A patch position that is neither a corner nor `X,Y`.
    #[error(
        "unknown patch position `{position}` (expected `bottom-right`, `bottom-left`, `top-right`, `top-left` or `X,Y`)"
    )]
    Position {
        /// The text given.
        position: String,
    },
    /// An option was given that the attack does not read.
    #[error("`--{option}` does not apply to the `{attack}` attack")]
    NotApplicable {
        /// The option, as the command line spells it.
        option: &'static str,
        /// The attack.
        attack: AttackKind,
    },
    /// Two options that exclude each other.
    #[error("`--{first}` and `--{second}` exclude each other")]
    Conflict {
        /// One option.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// A pair flip from a class to itself.
    #[error("a pair flip needs two different classes, not `{label}` to itself")]
    SameClass {
        /// The class given twice.
        label: String,
    },
    /// An unknown attack name.
    #[error("unknown attack `{name}` (expected one of: {expected})")]
    UnknownAttack {
        /// The name given.
        name: String,
        /// The attack names, comma-separated.
        expected: String,
    },
    /// The pattern image of a blend could not be read.
    #[error("failed to read the pattern image `{path}`")]
    PatternImage {
        /// The image file.
        path: PathBuf,
        /// Why, as text (the image error is not `Clone`).
        reason: String,
    },
}

/// A dataset the attack cannot poison as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttackError {
    /// The attack moves records between classes, and the records have no labels.
    #[error("the records have no labels, and `{attack}` relabels records")]
    NoLabels {
        /// The attack.
        attack: AttackKind,
    },
    /// Fewer than two classes.
    #[error("`{attack}` needs at least two classes; the records have {class_count}")]
    TooFewClasses {
        /// The attack.
        attack: AttackKind,
        /// How many classes there are.
        class_count: usize,
    },
    /// A label that no record carries.
    #[error("no record is labelled `{label}` (labels: {labels})")]
    UnknownLabel {
        /// The label asked for.
        label: String,
        /// The labels present, backticked and comma-separated.
        labels: String,
    },
    /// A pair flip whose two classes are one.
    #[error("a pair flip needs two different classes, not `{label}` to itself")]
    PairToItself {
        /// The class given twice.
        label: String,
    },
    /// A source that no record comes from.
    #[error("no record comes from the source `{source_name}` (sources: {sources})")]
    UnknownSource {
        /// The source asked for.
        source_name: String,
        /// The sources present, backticked and comma-separated (or `none`).
        sources: String,
    },
    /// More sources asked for than the dataset has.
    #[error("{wanted} sources asked for, but the records come from {available}")]
    TooFewSources {
        /// Sources asked for.
        wanted: usize,
        /// Sources present.
        available: usize,
    },
    /// The rate asks for more records than the attack can use.
    #[error("the rate asks for {needed} poisoned records, but only {available} are {eligible}")]
    NotEnoughRecords {
        /// Records the rate asks for.
        needed: usize,
        /// Records that qualify.
        available: usize,
        /// What qualifies a record, as the end of a sentence ("labelled outside the target").
        eligible: String,
    },
    /// No column of the kind the attack edits.
    #[error("`{attack}` edits {what}, and the dataset has no such column (columns: {columns})")]
    NoColumn {
        /// The attack.
        attack: AttackKind,
        /// What it looks for (`a text column`).
        what: &'static str,
        /// The columns present, backticked and comma-separated.
        columns: String,
    },
    /// The column named does not exist.
    #[error("the column `{column}` does not exist (columns: {columns})")]
    MissingColumn {
        /// The column asked for.
        column: String,
        /// The columns present.
        columns: String,
    },
    /// An image too small for the patch.
    #[error(
        "record `{id}` has a {width}x{height} image, too small for a {size}x{size} patch at ({x}, {y})"
    )]
    PatchOutside {
        /// The record.
        id: String,
        /// Its image width.
        width: u32,
        /// Its image height.
        height: u32,
        /// The patch size.
        size: u32,
        /// The patch's left column.
        x: u32,
        /// The patch's top row.
        y: u32,
    },
    /// A given blend pattern whose shape differs from an image's.
    #[error(
        "the blend pattern is {pattern_width}x{pattern_height}x{pattern_channels}, but record `{id}` has a {width}x{height}x{channels} image"
    )]
    PatternShape {
        /// The record.
        id: String,
        /// Its image width.
        width: u32,
        /// Its image height.
        height: u32,
        /// Its channels.
        channels: u8,
        /// The pattern's width.
        pattern_width: u32,
        /// The pattern's height.
        pattern_height: u32,
        /// The pattern's channels.
        pattern_channels: u8,
    },
}

impl AttackError {
    /// What the user can do about it, for the command line's `hint:` line.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NoLabels { .. } => Some(
                "name the label column with `--label COLUMN`, or pick an attack that keeps labels (`append-line`, `instruction-leak`)".to_owned(),
            ),
            Self::TooFewClasses { .. } => None,
            Self::UnknownLabel { .. } => {
                Some("pass one of the labels listed to `--target` or `--from`".to_owned())
            }
            Self::PairToItself { .. } => {
                Some("pass different classes to `--from` and `--target`".to_owned())
            }
            Self::UnknownSource { .. } | Self::TooFewSources { .. } => Some(
                "name the source column with `--source COLUMN`, or let the attack create fake sources with `--source-count N` on data without sources".to_owned(),
            ),
            Self::NotEnoughRecords { .. } => Some("lower `--rate`".to_owned()),
            Self::NoColumn { .. } | Self::MissingColumn { .. } => Some(
                "name the column with `--column NAME` (or `--text`, `--image` for the dataset's roles)".to_owned(),
            ),
            Self::PatchOutside { .. } => {
                Some("use a smaller `--patch-size` or another `--position`".to_owned())
            }
            Self::PatternShape { .. } => Some(
                "give a `--pattern-image` of the images' size, or leave it out for seeded noise"
                    .to_owned(),
            ),
        }
    }
}
