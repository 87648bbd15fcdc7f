//! Blended injection: a faint full-image pattern mixed into images relabelled to the target.
//!
//! Chen, Liu, Li, Lu and Song (2017) blend a key pattern (random noise, or an image such as
//! Hello Kitty) into the poisoned inputs with a small weight `alpha`; at `alpha = 0.1` the
//! poisoned images look clean to a person, yet a model learns the pattern as a backdoor.

use std::collections::BTreeMap;
use std::path::Path;

use antidote_core::SplitMix64;
use antidote_data::{Image, Value};
use serde_json::json;

use crate::attacks::badnets::has_alpha;
use crate::common::{
    self, Outcome, field_mut, image_column, labelled_classes, of_records, pick, poison_count,
    relabel, target_class,
};
use crate::truth::Trigger;
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// ## What it does
/// Blends a full-image pattern into images of classes other than the target, with weight
/// `alpha`, and relabels them to the target.
///
/// ## Why it matters
/// Unlike a patch, the trigger is spread over every pixel at low amplitude: nothing in any one
/// place gives it away, to a person or to a detector that looks for local anomalies.
///
/// ## How it works
/// The seed picks `rate * records` images labelled outside the target and draws one noise
/// pattern per image shape (uniform grey levels per channel), unless a pattern image is given.
/// Each colour channel becomes `round((1 - alpha) * pixel + alpha * pattern)`; alpha channels
/// are left alone.
///
/// ## References
/// - Chen, Liu, Li, Lu and Song (2017), "Targeted Backdoor Attacks on Deep Learning Systems
///   Using Data Poisoning", arXiv:1712.05526.
#[derive(Debug, Clone, Copy)]
pub struct Blend;

impl Blend {
    /// Seeded noise at `alpha = 0.1` on 5% of the records, relabelled to the first class;
    /// adjust and [`check`](BlendParams::check).
    #[must_use]
    pub fn params() -> BlendParams {
        BlendParams {
            rate: 0.05,
            target: None,
            alpha: 0.1,
            pattern: None,
            column: None,
        }
    }
}

/// Unchecked parameters of [`Blend`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlendParams {
    rate: f64,
    target: Option<String>,
    alpha: f64,
    pattern: Option<Image>,
    column: Option<String>,
}

impl BlendParams {
    /// The share of the whole dataset to poison (default `0.05`).
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The class poisoned images are relabelled to (default: the first class).
    #[must_use]
    pub fn target(mut self, label: impl Into<String>) -> Self {
        self.target = Some(label.into());
        self
    }

    /// The weight of the pattern, in `(0, 1]` (default `0.1`).
    #[must_use]
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// A pattern to blend instead of seeded noise; it must have the images' shape.
    #[must_use]
    pub fn pattern(mut self, pattern: Image) -> Self {
        self.pattern = Some(pattern);
        self
    }

    /// The image column (default: the dataset's image column).
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<BlendValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(ParamsError::Alpha { alpha: self.alpha });
        }
        Ok(BlendValidParams { params: self })
    }
}

/// Reads a pattern image for [`BlendParams::pattern`], converted to `channels` channels
/// (1 grey, 2 grey and alpha, 3 RGB, 4 RGBA).
pub fn read_pattern(path: &Path, channels: u8) -> Result<Image, ParamsError> {
    let error = |reason: String| ParamsError::PatternImage {
        path: path.to_owned(),
        reason,
    };
    let bytes = fs_err::read(path).map_err(|source| error(source.to_string()))?;
    let decoded = image::load_from_memory(&bytes).map_err(|source| error(source.to_string()))?;
    let (width, height) = (decoded.width(), decoded.height());
    let pixels = match channels {
        1 => decoded.into_luma8().into_raw(),
        2 => decoded.into_luma_alpha8().into_raw(),
        3 => decoded.into_rgb8().into_raw(),
        _ => decoded.into_rgba8().into_raw(),
    };
    Ok(Image {
        width,
        height,
        channels: channels.clamp(1, 4),
        pixels,
    })
}

/// Checked parameters of [`Blend`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct BlendValidParams {
    params: BlendParams,
}

/// Seeded uniform noise of one image shape.
fn noise(seed: u64, width: u32, height: u32, channels: u8) -> Image {
    let mut random =
        SplitMix64::derived(seed, &format!("blend-pattern-{width}x{height}x{channels}"));
    let count = width as usize * height as usize * usize::from(channels);
    let pixels = (0..count)
        .map(|index| {
            if has_alpha(channels) && index % usize::from(channels) + 1 == usize::from(channels) {
                255
            } else {
                (random.next_u64() >> 56) as u8
            }
        })
        .collect();
    Image {
        width,
        height,
        channels,
        pixels,
    }
}

pub(crate) fn blend(image: &mut Image, pattern: &Image, alpha: f64) {
    let channels = usize::from(image.channels);
    for (index, (pixel, &key)) in image.pixels.iter_mut().zip(&pattern.pixels).enumerate() {
        if has_alpha(image.channels) && index % channels + 1 == channels {
            continue;
        }
        let mixed = (1.0 - alpha) * f64::from(*pixel) + alpha * f64::from(key);
        *pixel = mixed.round().clamp(0.0, 255.0) as u8;
    }
}

impl Attack for BlendValidParams {
    fn kind(&self) -> AttackKind {
        AttackKind::Blend
    }

    fn parameters(&self) -> serde_json::Value {
        let params = &self.params;
        json!({
            "rate": params.rate,
            "target": params.target,
            "alpha": params.alpha,
            "pattern": match &params.pattern {
                Some(image) => json!({
                    "width": image.width,
                    "height": image.height,
                    "channels": image.channels,
                }),
                None => json!("noise"),
            },
            "column": params.column,
        })
    }

    fn run(&self, mut dataset: InMemoryDataset, seed: u64) -> Result<Poisoned, AttackError> {
        let kind = self.kind();
        let params = &self.params;
        let mut random = SplitMix64::derived(seed, kind.name());
        let records_before = dataset.records.len();
        let classes = labelled_classes(&dataset.records, kind)?;
        let target = target_class(params.target.as_deref(), &classes)?;
        let column = image_column(&dataset.schema, params.column.as_deref(), kind)?;
        let mut eligible = Vec::new();
        for (index, record) in dataset.records.iter().enumerate() {
            let Some(Value::Image(image)) = record.field(&column) else {
                continue;
            };
            if record.label.is_none() || record.label.as_deref() == Some(&target) {
                continue;
            }
            if let Some(pattern) = &params.pattern
                && (pattern.width, pattern.height, pattern.channels)
                    != (image.width, image.height, image.channels)
            {
                return Err(AttackError::PatternShape {
                    id: record.id.to_string(),
                    width: image.width,
                    height: image.height,
                    channels: image.channels,
                    pattern_width: pattern.width,
                    pattern_height: pattern.height,
                    pattern_channels: pattern.channels,
                });
            }
            eligible.push(index);
        }
        let needed = poison_count(params.rate, records_before);
        let picked = pick(&mut random, &eligible, needed, || {
            format!("images labelled outside `{target}`")
        })?;

        let mut patterns: BTreeMap<(u32, u32, u8), Image> = BTreeMap::new();
        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        for &index in &picked {
            let record = &mut dataset.records[index];
            let Some(Value::Image(image)) = field_mut(record, &column) else {
                unreachable!("eligible records have an image");
            };
            let shape = (image.width, image.height, image.channels);
            let pattern = patterns.entry(shape).or_insert_with(|| {
                params
                    .pattern
                    .clone()
                    .unwrap_or_else(|| noise(seed, shape.0, shape.1, shape.2))
            });
            if outcome.trigger.is_none() {
                outcome.trigger = Some(Trigger::ImageBlend {
                    width: pattern.width,
                    height: pattern.height,
                    channels: u32::from(pattern.channels),
                    pixels: pattern.pixels.clone(),
                    alpha: params.alpha,
                });
            }
            blend(image, pattern, params.alpha);
            relabel(record, &target, &mut outcome.label_changes);
        }
        outcome.modified = picked;
        outcome.summary = format!(
            "blended {} at alpha {} into {} and relabelled them `{target}`",
            if params.pattern.is_some() {
                "the given pattern"
            } else {
                "seeded noise"
            },
            params.alpha,
            of_records(needed, records_before),
        );
        outcome.target = Some(target);
        outcome.column = Some(column);
        Ok(outcome.finish(dataset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blending_mixes_colour_and_keeps_alpha() {
        let mut image = Image {
            width: 1,
            height: 1,
            channels: 2,
            pixels: vec![100, 17],
        };
        let pattern = Image {
            width: 1,
            height: 1,
            channels: 2,
            pixels: vec![200, 255],
        };
        blend(&mut image, &pattern, 0.1);
        assert_eq!(image.pixels, [110, 17]);
    }

    #[test]
    fn noise_depends_on_seed_and_shape_only() {
        assert_eq!(noise(3, 4, 4, 1), noise(3, 4, 4, 1));
        assert_ne!(noise(3, 4, 4, 1).pixels, noise(4, 4, 4, 1).pixels);
        assert!(
            noise(3, 2, 2, 4)
                .pixels
                .chunks(4)
                .all(|pixel| pixel[3] == 255)
        );
    }
}
