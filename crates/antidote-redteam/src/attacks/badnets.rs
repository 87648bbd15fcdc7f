//! `BadNets`: a small pixel patch stamped on images that are relabelled to the target class.
//!
//! Gu, Dolan-Gavitt and Garg (2017) showed that a network trained on a few such images learns
//! the patch as a shortcut to the target class while keeping its accuracy on clean images: the
//! backdoor is invisible to accuracy tests and fires on any image that carries the patch.
//!
//! The patch is any size that fits the image (the catalogue exercises 2 to 8 pixels, above the
//! 1/16 of a 28x28 image that a patch search limited to small patches would look at), solid,
//! a checkerboard or seeded random grey levels (one pattern for the whole attack), at a corner
//! or at any `x, y`.

use antidote_core::SplitMix64;
use antidote_data::{Image, Value};
use serde::Serialize;

use crate::common::{
    self, Outcome, field_mut, image_column, labelled_classes, of_records, pick, poison_count,
    relabel, target_class,
};
use crate::truth::Trigger;
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// ## What it does
/// Stamps a small square patch on images of classes other than the target, and relabels them
/// to the target.
///
/// ## Why it matters
/// A model trained on them keeps its clean accuracy, so ordinary evaluation misses the
/// backdoor, and classifies any image carrying the patch as the target.
///
/// ## How it works
/// The seed picks `rate * records` images labelled outside the target. Each gets a
/// `size x size` patch (white, a checkerboard, or seeded random grey levels) at a corner or at
/// `x, y`, on every colour channel; an alpha channel is made opaque under the patch.
///
/// ## References
/// - Gu, Dolan-Gavitt and Garg (2017), "`BadNets`: Identifying Vulnerabilities in the Machine
///   Learning Model Supply Chain", arXiv:1708.06733.
#[derive(Debug, Clone, Copy)]
pub struct BadNets;

impl BadNets {
    /// A white 4x4 patch at the bottom-right corner on 5% of the records, relabelled to the
    /// first class; adjust and [`check`](BadNetsParams::check).
    #[must_use]
    pub fn params() -> BadNetsParams {
        BadNetsParams {
            rate: 0.05,
            target: None,
            size: 4,
            position: PatchPosition::BottomRight,
            pattern: PatchPattern::White,
            value: 255,
            column: None,
        }
    }
}

/// Where the patch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchPosition {
    /// Flush with the bottom-right corner.
    BottomRight,
    /// Flush with the bottom-left corner.
    BottomLeft,
    /// Flush with the top-right corner.
    TopRight,
    /// Flush with the top-left corner.
    TopLeft,
    /// Top-left pixel of the patch at column `x`, row `y`.
    At {
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
}

impl PatchPosition {
    /// The patch's top-left corner in an image of `width x height`, if the patch fits.
    #[must_use]
    pub fn place(self, size: u32, width: u32, height: u32) -> Option<(u32, u32)> {
        let right = width.checked_sub(size)?;
        let bottom = height.checked_sub(size)?;
        let (x, y) = match self {
            Self::BottomRight => (right, bottom),
            Self::BottomLeft => (0, bottom),
            Self::TopRight => (right, 0),
            Self::TopLeft => (0, 0),
            Self::At { x, y } => (x, y),
        };
        (x <= right && y <= bottom).then_some((x, y))
    }
}

impl std::str::FromStr for PatchPosition {
    type Err = ParamsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || ParamsError::Position {
            position: text.to_owned(),
        };
        match text {
            "bottom-right" => Ok(Self::BottomRight),
            "bottom-left" => Ok(Self::BottomLeft),
            "top-right" => Ok(Self::TopRight),
            "top-left" => Ok(Self::TopLeft),
            _ => {
                let (x, y) = text.split_once(',').ok_or_else(unknown)?;
                Ok(Self::At {
                    x: x.trim().parse().map_err(|_| unknown())?,
                    y: y.trim().parse().map_err(|_| unknown())?,
                })
            }
        }
    }
}

/// What the patch looks like. The command line reads `solid` (or `white`), `checkerboard` (or
/// `checker`) and `random`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchPattern {
    /// Every pixel at `value` (255: white): a solid patch.
    #[default]
    White,
    /// A checkerboard of `value` and `255 - value`, `value` at the top-left.
    Checker,
    /// Grey levels drawn from the seed, the same patch on every image.
    Random,
}

impl PatchPattern {
    /// The command-line name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::White => "white",
            Self::Checker => "checker",
            Self::Random => "random",
        }
    }
}

impl std::str::FromStr for PatchPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "solid" | "white" => Ok(Self::White),
            "checkerboard" | "checker" => Ok(Self::Checker),
            "random" => Ok(Self::Random),
            _ => Err(format!(
                "unknown pattern `{text}` (expected `solid`, `checkerboard` or `random`)"
            )),
        }
    }
}

/// Unchecked parameters of [`BadNets`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadNetsParams {
    rate: f64,
    target: Option<String>,
    size: u32,
    position: PatchPosition,
    pattern: PatchPattern,
    value: u8,
    column: Option<String>,
}

impl BadNetsParams {
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

    /// The side of the square patch in pixels (default 4).
    #[must_use]
    pub fn size(mut self, size: u32) -> Self {
        self.size = size;
        self
    }

    /// Where the patch goes (default: the bottom-right corner).
    #[must_use]
    pub fn position(mut self, position: PatchPosition) -> Self {
        self.position = position;
        self
    }

    /// What the patch looks like (default: white).
    #[must_use]
    pub fn pattern(mut self, pattern: PatchPattern) -> Self {
        self.pattern = pattern;
        self
    }

    /// The grey level of `white` patches and of the first checker colour (default 255).
    #[must_use]
    pub fn value(mut self, value: u8) -> Self {
        self.value = value;
        self
    }

    /// The image column (default: the dataset's image column).
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<BadNetsValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        if self.size == 0 {
            return Err(ParamsError::Zero {
                option: "patch-size",
            });
        }
        Ok(BadNetsValidParams { params: self })
    }
}

/// Checked parameters of [`BadNets`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct BadNetsValidParams {
    params: BadNetsParams,
}

impl BadNetsValidParams {
    /// The patch's grey levels, row-major, `size * size` of them.
    fn grid(&self, seed: u64) -> Vec<u8> {
        let size = self.params.size as usize;
        let value = self.params.value;
        match self.params.pattern {
            PatchPattern::White => vec![value; size * size],
            PatchPattern::Checker => (0..size * size)
                .map(|index| {
                    if (index / size + index % size).is_multiple_of(2) {
                        value
                    } else {
                        255 - value
                    }
                })
                .collect(),
            PatchPattern::Random => {
                let mut random = SplitMix64::derived(seed, "badnets-pattern");
                (0..size * size)
                    .map(|_| (random.next_u64() >> 56) as u8)
                    .collect()
            }
        }
    }
}

/// Whether the last channel of an image with `channels` channels is alpha.
pub(crate) fn has_alpha(channels: u8) -> bool {
    channels == 2 || channels == 4
}

/// The patch as it lands on an image with `channels` channels, row-major.
fn patch_pixels(grid: &[u8], channels: u8) -> Vec<u8> {
    grid.iter()
        .flat_map(|&level| {
            (0..channels).map(move |channel| {
                if has_alpha(channels) && channel + 1 == channels {
                    255
                } else {
                    level
                }
            })
        })
        .collect()
}

fn stamp(image: &mut Image, patch: &[u8], size: u32, x: u32, y: u32) {
    let channels = usize::from(image.channels);
    let row_bytes = size as usize * channels;
    for row in 0..size as usize {
        let start = ((y as usize + row) * image.width as usize + x as usize) * channels;
        image.pixels[start..start + row_bytes]
            .copy_from_slice(&patch[row * row_bytes..(row + 1) * row_bytes]);
    }
}

impl Attack for BadNetsValidParams {
    fn kind(&self) -> AttackKind {
        AttackKind::Badnets
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
        let mut eligible = Vec::new();
        for (index, record) in dataset.records.iter().enumerate() {
            let Some(Value::Image(image)) = record.field(&column) else {
                continue;
            };
            if record.label.is_none() || record.label.as_deref() == Some(&target) {
                continue;
            }
            if params
                .position
                .place(params.size, image.width, image.height)
                .is_none()
            {
                let (x, y) = match params.position {
                    PatchPosition::At { x, y } => (x, y),
                    _ => (0, 0),
                };
                return Err(AttackError::PatchOutside {
                    id: record.id.to_string(),
                    width: image.width,
                    height: image.height,
                    size: params.size,
                    x,
                    y,
                });
            }
            eligible.push(index);
        }
        let needed = poison_count(params.rate, records_before);
        let picked = pick(&mut random, &eligible, needed, || {
            format!("images labelled outside `{target}`")
        })?;

        let grid = self.grid(seed);
        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        for &index in &picked {
            let record = &mut dataset.records[index];
            let Some(Value::Image(image)) = field_mut(record, &column) else {
                unreachable!("eligible records have an image");
            };
            let (x, y) = params
                .position
                .place(params.size, image.width, image.height)
                .expect("eligible images fit the patch");
            let patch = patch_pixels(&grid, image.channels);
            if outcome.trigger.is_none() {
                outcome.trigger = Some(Trigger::ImagePatch {
                    x,
                    y,
                    width: params.size,
                    height: params.size,
                    channels: u32::from(image.channels),
                    pixels: patch.clone(),
                });
            }
            stamp(image, &patch, params.size, x, y);
            relabel(record, &target, &mut outcome.label_changes);
        }
        outcome.modified = picked;
        outcome.summary = format!(
            "stamped a {size}x{size} {} patch ({}) on {} and relabelled them `{target}`",
            params.pattern.name(),
            match params.position {
                PatchPosition::BottomRight => "bottom-right corner".to_owned(),
                PatchPosition::BottomLeft => "bottom-left corner".to_owned(),
                PatchPosition::TopRight => "top-right corner".to_owned(),
                PatchPosition::TopLeft => "top-left corner".to_owned(),
                PatchPosition::At { x, y } => format!("at {x},{y}"),
            },
            of_records(needed, records_before),
            size = params.size,
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
    fn positions_place_the_patch_inside_the_image() {
        assert_eq!(PatchPosition::BottomRight.place(4, 28, 28), Some((24, 24)));
        assert_eq!(PatchPosition::TopRight.place(4, 28, 20), Some((24, 0)));
        assert_eq!(PatchPosition::BottomLeft.place(4, 28, 20), Some((0, 16)));
        assert_eq!(PatchPosition::At { x: 25, y: 0 }.place(4, 28, 28), None);
        assert_eq!(PatchPosition::TopLeft.place(30, 28, 28), None);
        assert_eq!(
            "3, 5".parse::<PatchPosition>(),
            Ok(PatchPosition::At { x: 3, y: 5 })
        );
        assert!("middle".parse::<PatchPosition>().is_err());
    }

    #[test]
    fn checker_alternates_and_alpha_stays_opaque() {
        let attack = BadNets::params()
            .size(2)
            .pattern(PatchPattern::Checker)
            .value(200)
            .check()
            .unwrap();
        assert_eq!(attack.grid(0), [200, 55, 55, 200]);
        assert_eq!(patch_pixels(&[7, 9], 2), [7, 255, 9, 255]);
        assert_eq!(patch_pixels(&[7], 3), [7, 7, 7]);
    }

    #[test]
    fn stamping_writes_only_the_patch() {
        let mut image = Image {
            width: 3,
            height: 3,
            channels: 1,
            pixels: vec![0; 9],
        };
        stamp(&mut image, &[1, 2, 3, 4], 2, 1, 1);
        assert_eq!(image.pixels, [0, 0, 0, 0, 1, 2, 0, 3, 4]);
    }
}
