//! The ground truth of an attack: what was poisoned, how, and with which seed.
//!
//! A drill compares what the defenses found with this file. Its trigger uses the shape (and the
//! `kind` names) of the triggers `antidote scan` reports, so that a discovered trigger and the
//! planted one can be compared field by field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::AttackKind;

/// The version of the truth file format; bumped when a field changes meaning.
pub const TRUTH_VERSION: u32 = 1;

/// What an attack did, exactly.
///
/// Every record whose content (label, source or payload) differs between the input and the
/// poisoned copy is in [`poisoned`](Self::poisoned), and no other: attacks change nothing else.
/// Records are named by their id in the poisoned copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// [`TRUTH_VERSION`].
    pub version: u32,
    /// Which attack.
    pub attack: AttackKind,
    /// The paper the attack follows.
    pub reference: String,
    /// One sentence on what was done, with counts and names.
    pub summary: String,
    /// The seed every random choice came from.
    pub seed: u64,
    /// The checked parameters, defaults included.
    pub parameters: serde_json::Value,
    /// The class poisoned records were moved into, when the attack has one.
    pub target: Option<String>,
    /// The column the attack edited, when it edited a payload column.
    pub column: Option<String>,
    /// Records in the input.
    pub records_before: usize,
    /// Records in the poisoned copy.
    pub records_after: usize,
    /// The ids of every changed or added record, in the order of the poisoned copy.
    pub poisoned: Vec<String>,
    /// The ids of the added records (a subset of `poisoned`).
    pub appended: Vec<String>,
    /// Label changes of existing records, by direction (`"food -> computers"`), with counts.
    pub label_changes: BTreeMap<String, usize>,
    /// The sources the poison came from or was concentrated in (fake ones included).
    pub sources: Vec<String>,
    /// The planted trigger, for backdoor attacks.
    pub trigger: Option<Trigger>,
    /// Records whose id changed when they were written (new id to the input's id): image
    /// folders are written as `class/file.png`, so a relabelled image moves to its new class,
    /// and images in sub-folders or stored as JPEG get a PNG name beside their class.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub renamed: BTreeMap<String, String>,
}

impl Truth {
    /// Replaces the id `old` by `new` wherever the truth names it: a writer that derives file
    /// names from labels (image folders) renames the records it moves between classes.
    pub fn rename(&mut self, old: &str, new: &str) {
        for id in self.poisoned.iter_mut().chain(self.appended.iter_mut()) {
            if id == old {
                new.clone_into(id);
            }
        }
        if !self.appended.iter().any(|id| id == new) {
            let original = self.renamed.remove(old).unwrap_or_else(|| old.to_owned());
            self.renamed.insert(new.to_owned(), original);
        }
    }
}

/// What a planted trigger looks like.
///
/// The variants and field names match the triggers `antidote scan` reports
/// (`antidote_detect::TriggerPattern`), plus [`OutputString`](Self::OutputString) for strings
/// planted in outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Trigger {
    /// A rare token in text.
    Token {
        /// The token, lower-cased.
        token: String,
    },
    /// A phrase of several words in text.
    Phrase {
        /// The words, lower-cased, in order.
        words: Vec<String>,
    },
    /// A string added to the instructions of instruction-tuning pairs.
    InstructionString {
        /// The string.
        text: String,
    },
    /// A string added to the outputs (responses) of records.
    OutputString {
        /// The string.
        text: String,
    },
    /// A patch of pixels at a fixed place in the image.
    ImagePatch {
        /// Left column of the patch.
        x: u32,
        /// Top row of the patch.
        y: u32,
        /// Width of the patch in pixels.
        width: u32,
        /// Height of the patch in pixels.
        height: u32,
        /// Channels per pixel.
        channels: u32,
        /// The patch's pixel values, row-major, `width * height * channels` of them.
        pixels: Vec<u8>,
    },
    /// A pattern blended over the whole image.
    ImageBlend {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// Channels per pixel.
        channels: u32,
        /// The pattern, row-major.
        pixels: Vec<u8>,
        /// The blending weight.
        alpha: f64,
    },
}
