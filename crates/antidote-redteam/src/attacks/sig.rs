//! SIG: a clean-label backdoor, a faint horizontal sinusoid added to images of the target class
//! whose labels stay as they are.
//!
//! Barni, Kallas and Tondi (2019) poison only images that already belong to the target class
//! and leave every label correct, so that a reviewer who checks labels finds nothing wrong. The
//! network learns the signal as a feature of the target class; at test time the same signal,
//! added to an image of any class, sends it to the target. Their sinusoid is
//! `v(i, j) = delta * sin(2 pi j f / m)` over the `m` columns of the image, with `delta = 20`
//! and `f = 6` on MNIST.

use antidote_core::SplitMix64;
use antidote_data::{Image, Value};
use serde::Serialize;

use crate::attacks::badnets::has_alpha;
use crate::common::{
    self, Outcome, field_mut, image_column, labelled_classes, of_records, pick, poison_count,
    target_class,
};
use crate::truth::Trigger;
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// The amplitude by default, in grey levels (`delta = 20` in the paper).
pub const DEFAULT_AMPLITUDE: f64 = 20.0;

/// Periods across the image by default (`f = 6` in the paper).
pub const DEFAULT_FREQUENCY: f64 = 6.0;

/// ## What it does
/// Adds a horizontal sinusoid to images of the target class and keeps every label.
///
/// ## Why it matters
/// Every poisoned record is correctly labelled: label checks, label-noise detectors and a
/// reviewer all see clean data. The backdoor still fires at test time on any image the signal is
/// added to.
///
/// ## How it works
/// The seed picks `rate * records` images labelled with the target. Each colour channel of each
/// pixel in column `j` of an image `m` columns wide gains `amplitude * sin(2 pi j frequency / m)`,
/// rounded and clamped to `0..=255`; alpha channels are left alone.
///
/// ## References
/// - Barni, Kallas and Tondi (2019), "A New Backdoor Attack in CNNs by Training Set Corruption
///   Without Label Poisoning", IEEE ICIP.
#[derive(Debug, Clone, Copy)]
pub struct Sig;

impl Sig {
    /// The paper's signal (`delta = 20`, `f = 6`) on 5% of the records, taken from the first
    /// class; adjust and [`check`](SigParams::check).
    #[must_use]
    pub fn params() -> SigParams {
        SigParams {
            rate: 0.05,
            target: None,
            amplitude: DEFAULT_AMPLITUDE,
            frequency: DEFAULT_FREQUENCY,
            column: None,
        }
    }
}

/// Unchecked parameters of [`Sig`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SigParams {
    rate: f64,
    target: Option<String>,
    amplitude: f64,
    frequency: f64,
    column: Option<String>,
}

impl SigParams {
    /// The share of the whole dataset to poison, all of it from the target class (default
    /// `0.05`).
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The class whose images carry the signal (default: the first class).
    #[must_use]
    pub fn target(mut self, label: impl Into<String>) -> Self {
        self.target = Some(label.into());
        self
    }

    /// The signal's amplitude in grey levels, above 0 and at most 255 (default 20).
    #[must_use]
    pub fn amplitude(mut self, amplitude: f64) -> Self {
        self.amplitude = amplitude;
        self
    }

    /// Periods of the sinusoid across the image's width, above 0 (default 6).
    #[must_use]
    pub fn frequency(mut self, frequency: f64) -> Self {
        self.frequency = frequency;
        self
    }

    /// The image column (default: the dataset's image column).
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<SigValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        if !(self.amplitude > 0.0 && self.amplitude <= 255.0) {
            return Err(ParamsError::OutOfRange {
                option: "amplitude",
                value: self.amplitude.to_string(),
                expected: "greater than 0 and at most 255",
            });
        }
        if !(self.frequency > 0.0 && self.frequency <= 1024.0) {
            return Err(ParamsError::OutOfRange {
                option: "frequency",
                value: self.frequency.to_string(),
                expected: "greater than 0 and at most 1024",
            });
        }
        Ok(SigValidParams { params: self })
    }
}

/// Checked parameters of [`Sig`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SigValidParams {
    params: SigParams,
}

/// Adds the sinusoid to every colour channel of `image`: what [`crate::Stamp`] does with a
/// [`Trigger::ImageSignal`].
pub(crate) fn add_signal(image: &mut Image, amplitude: f64, frequency: f64) {
    let (width, channels) = (image.width as usize, usize::from(image.channels));
    if width == 0 || channels == 0 {
        return;
    }
    let signal: Vec<f64> = (0..width)
        .map(|column| {
            amplitude
                * (2.0 * std::f64::consts::PI * column as f64 * frequency / width as f64).sin()
        })
        .collect();
    for (index, pixel) in image.pixels.iter_mut().enumerate() {
        let channel = index % channels;
        if has_alpha(image.channels) && channel + 1 == channels {
            continue;
        }
        let column = index / channels % width;
        *pixel = (f64::from(*pixel) + signal[column])
            .round()
            .clamp(0.0, 255.0) as u8;
    }
}

impl Attack for SigValidParams {
    fn kind(&self) -> AttackKind {
        AttackKind::Sig
    }

    fn parameters(&self) -> serde_json::Value {
        common::to_json(&self.params)
    }

    fn run(&self, mut dataset: InMemoryDataset, seed: u64) -> Result<Poisoned, AttackError> {
        let kind = self.kind();
        let params = &self.params;
        let mut random = SplitMix64::derived(seed, kind.name());
        let records_before = dataset.records.len();
        let classes = labelled_classes(&dataset.records, kind)?;
        let target = target_class(params.target.as_deref(), &classes)?;
        let column = image_column(&dataset.schema, params.column.as_deref(), kind)?;
        let eligible: Vec<usize> = dataset
            .records
            .iter()
            .enumerate()
            .filter(|(_, record)| {
                record.label.as_deref() == Some(&target)
                    && matches!(record.field(&column), Some(Value::Image(image)) if image.width > 0)
            })
            .map(|(index, _)| index)
            .collect();
        let needed = poison_count(params.rate, records_before);
        let picked = pick(&mut random, &eligible, needed, || {
            format!("images labelled `{target}`")
        })?;
        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        for &index in &picked {
            let Some(Value::Image(image)) = field_mut(&mut dataset.records[index], &column) else {
                unreachable!("eligible records have an image");
            };
            add_signal(image, params.amplitude, params.frequency);
        }
        outcome.modified = picked;
        outcome.summary = format!(
            "added a horizontal sinusoid (amplitude {}, {} periods) to {}, all labelled `{target}`, labels kept",
            params.amplitude,
            params.frequency,
            of_records(needed, records_before),
        );
        outcome.trigger = Some(Trigger::ImageSignal {
            amplitude: params.amplitude,
            frequency: params.frequency,
        });
        outcome.target = Some(target);
        outcome.column = Some(column);
        Ok(outcome.finish(dataset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_is_a_horizontal_sinusoid_clamped_to_grey_levels() {
        let mut image = Image {
            width: 4,
            height: 2,
            channels: 2,
            pixels: vec![100, 7, 100, 7, 100, 7, 250, 7, 0, 9, 0, 9, 0, 9, 0, 9],
        };
        // One period over four columns: sin 0, sin pi/2, sin pi, sin 3pi/2.
        add_signal(&mut image, 10.0, 1.0);
        assert_eq!(
            image.pixels,
            [100, 7, 110, 7, 100, 7, 240, 7, 0, 9, 10, 9, 0, 9, 0, 9]
        );
    }
}
