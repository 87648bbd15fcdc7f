//! The training watch: reads the curves of a training run ([`EpochStats`]) and reports what
//! looks like poisoning as findings, each with its explanation.
//!
//! Two signs are watched:
//!
//! - **a loss spike**: an epoch whose mean loss rose far more than the epoch-to-epoch changes of
//!   the run usually do (modified z-score of the change above [`SPIKE_Z`], and a rise of at least
//!   [`SPIKE_RISE`] of the loss before it). A batch of poisoned records that fights the rest of
//!   the data, a silent update mid-run or a diverging step size show up this way (and, under DP, noise that swamps the gradient);
//! - **a class that learns far faster than the others**: a backdoor's trigger is a simpler
//!   feature than anything natural, so the records that carry it, all labelled with the target
//!   class, are fitted in a few steps and the target class's loss collapses ahead of the rest
//!   (seed M8). Each class's speed is the mean over epochs of `ln(loss(e) / loss(0))`; a class is
//!   reported when its speed is a low outlier among the classes (modified z-score below
//!   `-`[`FAST_CLASS_Z`]) *and* its loss, relative to where it started, stays below
//!   [`FAST_CLASS_RATIO`] of the typical class's.
//!
//! Limits: with few classes the median and MAD of their speeds are rough; with few epochs there
//! is no curve to read ([`MIN_EPOCHS`]). Some natural classes are simply easier (Fashion-MNIST's
//! trousers and sneakers learn faster than its shirts), which is why both a strong robust outlier
//! and a large ratio are required, and DP noise makes the per-class curves noisier. Measured on
//! Fashion-MNIST (300 and 3,000 images, `tests/dpsgd.rs`): `BadNets`' target class (5-20%
//! poisoned) does *not* learn measurably faster than the naturally easy classes, private or not,
//! so this finding does not catch `BadNets` there; it is kept for the collapse it does describe, and
//! the scan's backdoor detectors remain the defense against `BadNets`.

use antidote_core::math::{median, robust_z_scores};
use serde::{Deserialize, Serialize};

use crate::EpochStats;

/// Fewest epochs with a curve to read.
pub const MIN_EPOCHS: usize = 4;
/// Modified z-score of an epoch's rise in loss above which it is a spike.
pub const SPIKE_Z: f64 = 3.5;
/// Smallest rise, as a share of the loss before it, that can be a spike.
pub const SPIKE_RISE: f64 = 0.1;
/// Modified z-score (below its negative) of a class's learning speed that makes it an outlier.
/// Stricter than the customary 3.5: on clean Fashion-MNIST, DP-SGD's noisy per-class curves
/// put a naturally easy class (sneakers) at -3.8, and plain SGD put trousers at -5.8 with a
/// ratio of only 2.2 (measured on `fixtures/fashion_mnist_300`).
pub const FAST_CLASS_Z: f64 = 5.0;
/// A fast class's loss relative to its start stays below this share of the typical class's
/// (a clean, naturally easy class reached 1/7 under DP noise once in our runs, with a z-score
/// that did not pass [`FAST_CLASS_Z`]).
pub const FAST_CLASS_RATIO: f64 = 0.2;

/// What a training finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainingFindingKind {
    /// The loss rose sharply in one epoch.
    LossSpike,
    /// One class's loss fell far faster than the others'.
    FastClass,
}

/// One finding of the training watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingFinding {
    /// What it is about.
    pub kind: TrainingFindingKind,
    /// The epoch of a spike.
    pub epoch: Option<usize>,
    /// The class index of a fast class.
    pub class: Option<usize>,
    /// The modified z-score that drove it.
    pub score: f64,
    /// What was seen, in one sentence (class names filled in by the caller's `labels`).
    pub message: String,
    /// Why it matters and what to do.
    pub explanation: String,
}

/// The findings of the watch on `epochs`; `labels` names the classes.
#[must_use]
pub fn watch(epochs: &[EpochStats], labels: &[String]) -> Vec<TrainingFinding> {
    if epochs.len() < MIN_EPOCHS {
        return Vec::new();
    }
    let mut findings = loss_spikes(epochs);
    findings.extend(fast_classes(epochs, labels));
    findings
}

fn loss_spikes(epochs: &[EpochStats]) -> Vec<TrainingFinding> {
    let rises: Vec<f64> = epochs
        .windows(2)
        .map(|pair| pair[1].loss - pair[0].loss)
        .collect();
    let scores = robust_z_scores(&rises);
    rises
        .iter()
        .zip(&scores)
        .enumerate()
        .filter(|&(index, (&rise, &score))| {
            score > SPIKE_Z && rise > SPIKE_RISE * epochs[index].loss
        })
        .map(|(index, (&rise, &score))| {
            let epoch = index + 1;
            TrainingFinding {
                kind: TrainingFindingKind::LossSpike,
                epoch: Some(epoch),
                class: None,
                score,
                message: format!(
                    "the training loss jumped from {:.3} to {:.3} in epoch {} (z-score {score:.1} among the epoch-to-epoch changes)",
                    epochs[index].loss,
                    epochs[index].loss + rise,
                    epoch + 1
                ),
                explanation: "a sudden rise in loss means the model met records that pull against what it learned: a poisoned batch, data changed during the run, a step size too large, or (with `--dp`) noise that swamps the gradient; check what entered the data and rerun with a lower learning rate or more privacy budget".to_owned(),
            }
        })
        .collect()
}

fn fast_classes(epochs: &[EpochStats], labels: &[String]) -> Vec<TrainingFinding> {
    let classes = epochs[0].class_losses.len();
    // Each class's mean log loss relative to its first epoch, over the later epochs.
    let speeds: Vec<Option<f64>> = (0..classes)
        .map(|class| {
            let start = epochs[0].class_losses[class].filter(|loss| *loss > 0.0)?;
            let relative: Vec<f64> = epochs[1..]
                .iter()
                .filter_map(|epoch| epoch.class_losses[class])
                .map(|loss| (loss.max(1e-12) / start).ln())
                .collect();
            (!relative.is_empty()).then(|| relative.iter().sum::<f64>() / relative.len() as f64)
        })
        .collect();
    let known: Vec<(usize, f64)> = speeds
        .iter()
        .enumerate()
        .filter_map(|(class, speed)| speed.map(|speed| (class, speed)))
        .collect();
    if known.len() < 3 {
        return Vec::new();
    }
    let values: Vec<f64> = known.iter().map(|(_, speed)| *speed).collect();
    let typical = median(&values);
    let scores = robust_z_scores(&values);
    known
        .iter()
        .zip(&scores)
        .filter(|&(&(_, speed), &score)| {
            score < -FAST_CLASS_Z && (speed - typical).exp() < FAST_CLASS_RATIO
        })
        .map(|(&(class, speed), &score)| {
            let name = labels
                .get(class)
                .map_or_else(|| class.to_string(), Clone::clone);
            TrainingFinding {
                kind: TrainingFindingKind::FastClass,
                epoch: None,
                class: Some(class),
                score,
                message: format!(
                    "class `{name}` learned far faster than the others: relative to its first epoch its loss stayed {:.1} times lower than the typical class's (z-score {score:.1})",
                    1.0 / (speed - typical).exp()
                ),
                explanation: "a backdoor's trigger is a simpler feature than anything natural, so records carrying it, all labelled with the attacker's target class, are fitted in a few steps and that class's loss collapses ahead of the rest; scan the data for a trigger pointing at this class (`antidote scan DATA`)".to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, loss: f64, class_losses: &[f64]) -> EpochStats {
        EpochStats {
            epoch,
            records: 100,
            loss,
            mean_gradient_norm: 1.0,
            mean_clipped_norm: 1.0,
            clipped_share: 0.0,
            class_losses: class_losses.iter().copied().map(Some).collect(),
            class_gradient_norms: vec![Some(1.0); class_losses.len()],
        }
    }

    fn names(count: usize) -> Vec<String> {
        (0..count).map(|class| format!("c{class}")).collect()
    }

    #[test]
    fn a_smooth_curve_has_no_finding() {
        let epochs: Vec<EpochStats> = (0..10u8)
            .map(|e| {
                let loss = 2.0 * 0.9f64.powi(i32::from(e));
                epoch(usize::from(e), loss, &[loss, loss * 1.1, loss * 0.9, loss])
            })
            .collect();
        assert!(watch(&epochs, &names(4)).is_empty());
    }

    #[test]
    fn a_jump_in_loss_is_a_spike() {
        let losses = [2.0, 1.8, 1.65, 1.55, 1.48, 2.4, 1.4, 1.35, 1.31, 1.28];
        let epochs: Vec<EpochStats> = losses
            .iter()
            .enumerate()
            .map(|(e, &loss)| epoch(e, loss, &[loss, loss, loss]))
            .collect();
        let findings = watch(&epochs, &names(3));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].kind, TrainingFindingKind::LossSpike);
        assert_eq!(findings[0].epoch, Some(5));
        assert!(findings[0].message.contains("epoch 6"));
    }

    #[test]
    fn a_class_that_collapses_is_reported_by_name() {
        // Eight classes that learn at their own natural pace, and one that collapses.
        let rates = [0.95, 0.93, 0.3, 0.9, 0.94, 0.92, 0.96, 0.91];
        let epochs: Vec<EpochStats> = (0..8u8)
            .map(|e| {
                let losses: Vec<f64> = rates
                    .iter()
                    .map(|rate: &f64| 2.0 * rate.powi(i32::from(e)))
                    .collect();
                epoch(usize::from(e), losses[0], &losses)
            })
            .collect();
        let findings = watch(&epochs, &names(8));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].kind, TrainingFindingKind::FastClass);
        assert_eq!(findings[0].class, Some(2));
        assert!(findings[0].message.contains("`c2`"));
    }

    #[test]
    fn too_few_epochs_say_nothing() {
        let epochs = vec![epoch(0, 2.0, &[2.0]), epoch(1, 5.0, &[5.0])];
        assert!(watch(&epochs, &names(1)).is_empty());
    }
}
