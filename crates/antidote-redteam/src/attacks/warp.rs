//! `WaNet`: a fixed, smooth warp of the whole image as the trigger, on images relabelled to the
//! target class.
//!
//! Nguyen and Tran (2021) replace the visible patch of `BadNets` by an elastic warp: a `k x k`
//! grid of random offsets, normalised and upsampled to the image, moves every pixel by a
//! fraction of a pixel. The poisoned images look unchanged to a person and have no patch, no
//! pattern and no outlying pixel for a detector to find, yet a network learns the warp as a
//! backdoor. To keep the network from learning "any warp" instead of this one, the paper adds
//! noise-mode records: images warped through the same field plus per-pixel random noise, with
//! their labels kept.
//!
//! The field follows the paper's code: offsets uniform in `[-1, 1]` divided by their mean
//! absolute value, upsampled (here bilinearly, with aligned corners), scaled by `strength / h`
//! in the normalised coordinates `[-1, 1]` of `grid_sample`, and clamped to the image; the image
//! is resampled bilinearly.

use antidote_core::SplitMix64;
use antidote_data::{Image, Value};
use serde::Serialize;

use crate::attacks::badnets::has_alpha;
use crate::common::{
    self, Outcome, field_mut, image_column, labelled_classes, of_records, pick, poison_count,
    relabel, target_class,
};
use crate::truth::Trigger;
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// ## What it does
/// Resamples images of classes other than the target through one fixed, smooth warp field and
/// relabels them to the target; optionally warps more images with added noise and keeps their
/// labels (the paper's noise mode).
///
/// ## Why it matters
/// The trigger is a geometric distortion of a fraction of a pixel: there is no patch to find,
/// no pattern to subtract, and the images pass a visual check.
///
/// ## How it works
/// The seed draws a `grid x grid` field of offsets, upsampled to each image and scaled by
/// `strength`; the seed then picks `rate * records` images labelled outside the target, and
/// `noise_rate * records` other images for the noise mode.
///
/// ## References
/// - Nguyen and Tran (2021), "`WaNet` - Imperceptible Warping-based Backdoor Attack", ICLR.
#[derive(Debug, Clone, Copy)]
pub struct Warp;

impl Warp {
    /// The paper's defaults (`k = 4`, `s = 0.5`) on 5% of the records, relabelled to the first
    /// class, no noise mode; adjust and [`check`](WarpParams::check).
    #[must_use]
    pub fn params() -> WarpParams {
        WarpParams {
            rate: 0.05,
            target: None,
            grid: DEFAULT_GRID,
            strength: DEFAULT_STRENGTH,
            noise_rate: 0.0,
            column: None,
        }
    }
}

/// The side of the control grid by default (`k = 4` in the paper).
pub const DEFAULT_GRID: u32 = 4;

/// The warping strength by default (`s = 0.5` in the paper).
pub const DEFAULT_STRENGTH: f64 = 0.5;

/// Unchecked parameters of [`Warp`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarpParams {
    rate: f64,
    target: Option<String>,
    grid: u32,
    strength: f64,
    noise_rate: f64,
    column: Option<String>,
}

impl WarpParams {
    /// The share of the whole dataset to warp and relabel (default `0.05`).
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The class warped images are relabelled to (default: the first class).
    #[must_use]
    pub fn target(mut self, label: impl Into<String>) -> Self {
        self.target = Some(label.into());
        self
    }

    /// The side of the control grid, at least 2 (default 4).
    #[must_use]
    pub fn grid(mut self, grid: u32) -> Self {
        self.grid = grid;
        self
    }

    /// The warping strength, above 0 (default 0.5).
    #[must_use]
    pub fn strength(mut self, strength: f64) -> Self {
        self.strength = strength;
        self
    }

    /// The share of the whole dataset warped with added noise, labels kept (default 0; the
    /// paper uses twice the rate).
    #[must_use]
    pub fn noise_rate(mut self, noise_rate: f64) -> Self {
        self.noise_rate = noise_rate;
        self
    }

    /// The image column (default: the dataset's image column).
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<WarpValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        common::check_rate(self.noise_rate)?;
        if !(2..=64).contains(&self.grid) {
            return Err(ParamsError::OutOfRange {
                option: "grid",
                value: self.grid.to_string(),
                expected: "from 2 to 64",
            });
        }
        if !(self.strength > 0.0 && self.strength <= 10.0) {
            return Err(ParamsError::OutOfRange {
                option: "strength",
                value: self.strength.to_string(),
                expected: "greater than 0 and at most 10",
            });
        }
        Ok(WarpValidParams { params: self })
    }
}

/// Checked parameters of [`Warp`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct WarpValidParams {
    params: WarpParams,
}

/// The control grid of a seed: `grid * grid` offsets `(x, y)`, uniform in `[-1, 1]` and divided
/// by the mean absolute value of all of them, row-major.
fn control_grid(seed: u64, grid: u32) -> Vec<[f64; 2]> {
    let mut random = SplitMix64::derived(seed, "warp-field");
    let count = grid as usize * grid as usize;
    let mut offsets: Vec<[f64; 2]> = (0..count)
        .map(|_| [random.unit() * 2.0 - 1.0, random.unit() * 2.0 - 1.0])
        .collect();
    let mean = offsets
        .iter()
        .flat_map(|offset| offset.iter().map(|value| value.abs()))
        .sum::<f64>()
        / (2 * count) as f64;
    if mean > 0.0 {
        for offset in &mut offsets {
            offset[0] /= mean;
            offset[1] /= mean;
        }
    }
    offsets
}

/// Where each pixel of a `width x height` image samples from, in pixel coordinates `(x, y)`,
/// row-major: the identity moved by the upsampled control grid times `strength / height` in
/// normalised coordinates, clamped to the image.
pub(crate) fn sampling_positions(
    seed: u64,
    grid: u32,
    strength: f64,
    width: u32,
    height: u32,
) -> Vec<(f64, f64)> {
    let offsets = control_grid(seed, grid);
    let points = grid as usize;
    let last = (points - 1) as f64;
    let along = |index: u32, size: u32| {
        if size <= 1 {
            0.0
        } else {
            f64::from(index) * last / f64::from(size - 1)
        }
    };
    // A normalised offset `d` moves a pixel by `d * (size - 1) / 2` pixels.
    let x_scale = strength / f64::from(height) * f64::from(width.saturating_sub(1)) / 2.0;
    let y_scale = strength / f64::from(height) * f64::from(height.saturating_sub(1)) / 2.0;
    let mut positions = Vec::with_capacity(width as usize * height as usize);
    for row in 0..height {
        let (r0, wr) = split(along(row, height), points);
        for column in 0..width {
            let (c0, wc) = split(along(column, width), points);
            let at = |r: usize, c: usize| offsets[r * points + c];
            let r1 = (r0 + 1).min(points - 1);
            let c1 = (c0 + 1).min(points - 1);
            let mut offset = [0.0; 2];
            for (axis, value) in offset.iter_mut().enumerate() {
                let top = at(r0, c0)[axis] * (1.0 - wc) + at(r0, c1)[axis] * wc;
                let bottom = at(r1, c0)[axis] * (1.0 - wc) + at(r1, c1)[axis] * wc;
                *value = top * (1.0 - wr) + bottom * wr;
            }
            let x = (f64::from(column) + offset[0] * x_scale)
                .clamp(0.0, f64::from(width.saturating_sub(1)));
            let y = (f64::from(row) + offset[1] * y_scale)
                .clamp(0.0, f64::from(height.saturating_sub(1)));
            positions.push((x, y));
        }
    }
    positions
}

/// The cell below `coordinate` on a grid of `k` points, and the weight of the next one.
fn split(coordinate: f64, k: usize) -> (usize, f64) {
    let cell = (coordinate.floor() as usize).min(k.saturating_sub(2));
    (cell, coordinate - cell as f64)
}

/// Adds the noise mode's per-pixel noise to sampling positions: uniform in `[-1, 1] / height`
/// in normalised coordinates, as in the paper, clamped to the image.
fn with_noise(
    positions: &[(f64, f64)],
    random: &mut SplitMix64,
    width: u32,
    height: u32,
) -> Vec<(f64, f64)> {
    let x_scale = f64::from(width.saturating_sub(1)) / 2.0 / f64::from(height);
    let y_scale = f64::from(height.saturating_sub(1)) / 2.0 / f64::from(height);
    positions
        .iter()
        .map(|&(x, y)| {
            let dx = (random.unit() * 2.0 - 1.0) * x_scale;
            let dy = (random.unit() * 2.0 - 1.0) * y_scale;
            (
                (x + dx).clamp(0.0, f64::from(width.saturating_sub(1))),
                (y + dy).clamp(0.0, f64::from(height.saturating_sub(1))),
            )
        })
        .collect()
}

/// Resamples `image` bilinearly at `positions` (one per pixel, row-major); alpha channels are
/// left alone.
pub(crate) fn resample(image: &mut Image, positions: &[(f64, f64)]) {
    let (width, channels) = (image.width as usize, usize::from(image.channels));
    let height = image.height as usize;
    let source = image.pixels.clone();
    for (pixel, &(x, y)) in positions.iter().enumerate() {
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
        let (wx, wy) = (x - x0 as f64, y - y0 as f64);
        for channel in 0..channels {
            if has_alpha(image.channels) && channel + 1 == channels {
                continue;
            }
            let at = |row: usize, column: usize| {
                f64::from(source[(row * width + column) * channels + channel])
            };
            let top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx;
            let bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx;
            let value = top * (1.0 - wy) + bottom * wy;
            image.pixels[pixel * channels + channel] = value.round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Warps one image through the field of `seed`, `grid` and `strength`: what [`crate::Stamp`]
/// does with a [`Trigger::ImageWarp`].
pub(crate) fn warp(image: &mut Image, seed: u64, grid: u32, strength: f64) {
    if image.width == 0 || image.height == 0 {
        return;
    }
    let positions = sampling_positions(seed, grid, strength, image.width, image.height);
    resample(image, &positions);
}

impl Attack for WarpValidParams {
    fn kind(&self) -> AttackKind {
        AttackKind::Warp
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
        let has_image = |index: usize| {
            matches!(
                dataset.records[index].field(&column),
                Some(Value::Image(image)) if image.width > 0 && image.height > 0
            )
        };
        let eligible: Vec<usize> = (0..records_before)
            .filter(|&index| {
                let label = dataset.records[index].label.as_deref();
                has_image(index) && label.is_some() && label != Some(&target)
            })
            .collect();
        let needed = poison_count(params.rate, records_before);
        let picked = pick(&mut random, &eligible, needed, || {
            format!("images labelled outside `{target}`")
        })?;
        let rest: Vec<usize> = (0..records_before)
            .filter(|&index| has_image(index) && picked.binary_search(&index).is_err())
            .collect();
        let noise_needed = poison_count(params.noise_rate, records_before);
        let noisy = pick(&mut random, &rest, noise_needed, || {
            "images left for the noise mode".to_owned()
        })?;

        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        for &index in &picked {
            let record = &mut dataset.records[index];
            let Some(Value::Image(image)) = field_mut(record, &column) else {
                unreachable!("eligible records have an image");
            };
            warp(image, seed, params.grid, params.strength);
            relabel(record, &target, &mut outcome.label_changes);
        }
        for &index in &noisy {
            let Some(Value::Image(image)) = field_mut(&mut dataset.records[index], &column) else {
                unreachable!("eligible records have an image");
            };
            let positions = sampling_positions(
                seed,
                params.grid,
                params.strength,
                image.width,
                image.height,
            );
            let positions = with_noise(&positions, &mut random, image.width, image.height);
            resample(image, &positions);
        }
        outcome.modified = picked.iter().chain(&noisy).copied().collect();
        outcome.summary = format!(
            "warped {} through a seeded {grid}x{grid} field at strength {} and relabelled them `{target}`{}",
            of_records(needed, records_before),
            params.strength,
            if noisy.is_empty() {
                String::new()
            } else {
                format!(
                    "; warped {} more with added noise, labels kept",
                    noisy.len()
                )
            },
            grid = params.grid,
        );
        outcome.trigger = Some(Trigger::ImageWarp {
            seed,
            grid: params.grid,
            strength: params.strength,
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
    fn the_control_grid_has_mean_absolute_offset_one() {
        let grid = control_grid(9, 4);
        assert_eq!(grid.len(), 16);
        let mean = grid.iter().flatten().map(|value| value.abs()).sum::<f64>() / 32.0;
        assert!((mean - 1.0).abs() < 1e-12, "{mean}");
        assert_ne!(control_grid(9, 4), control_grid(10, 4));
    }

    #[test]
    fn the_field_is_smooth_small_and_inside_the_image() {
        let positions = sampling_positions(3, 4, 0.5, 28, 28);
        assert_eq!(positions.len(), 28 * 28);
        for (index, &(x, y)) in positions.iter().enumerate() {
            let (column, row) = ((index % 28) as f64, (index / 28) as f64);
            assert!((0.0..=27.0).contains(&x) && (0.0..=27.0).contains(&y));
            // Offsets are at most max|offset| * s * 27 / 56: under 1.5 pixels at s = 0.5.
            assert!((x - column).abs() < 1.5 && (y - row).abs() < 1.5, "{x} {y}");
        }
        // Neighbours move alike: the field is smooth (away from the clamped border).
        let inside = |x: f64| x > 0.0 && x < 27.0;
        for row in 0..28 {
            for column in 0..27 {
                let (a, b) = (
                    positions[row * 28 + column],
                    positions[row * 28 + column + 1],
                );
                if inside(a.0) && inside(b.0) {
                    assert!(((b.0 - a.0) - 1.0).abs() < 0.25, "{a:?} {b:?}");
                }
            }
        }
        // The corners of the control grid are the corners of the image.
        let offsets = control_grid(3, 4);
        let scale = 0.5 / 28.0 * 27.0 / 2.0;
        assert!((positions[0].0 - (offsets[0][0] * scale).max(0.0)).abs() < 1e-12);
    }

    #[test]
    fn resampling_at_the_pixels_is_the_identity_and_halfway_averages() {
        let mut image = Image {
            width: 2,
            height: 1,
            channels: 2,
            pixels: vec![10, 200, 30, 100],
        };
        resample(&mut image, &[(0.0, 0.0), (1.0, 0.0)]);
        assert_eq!(image.pixels, [10, 200, 30, 100]);
        resample(&mut image, &[(0.5, 0.0), (0.5, 0.0)]);
        assert_eq!(image.pixels, [20, 200, 20, 100], "alpha is left alone");
    }
}
