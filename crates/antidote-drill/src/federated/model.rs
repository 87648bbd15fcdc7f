//! The federation's model: multinomial (softmax) logistic regression trained by minibatch SGD
//! from a given starting point, which is what a federated client does each round.
//!
//! `antidote-learn`'s [`LogisticRegression`](antidote_learn::LogisticRegression) fits from zero
//! with full-batch L-BFGS to convergence; a client instead takes a few SGD epochs from the
//! global weights, so the few lines of that loop live here. The parameters are one flat vector,
//! the weights row-major by class (`classes × features`) then one bias per class: the update
//! a client sends, and the layout of the `.npy` files the simulation exports.

use antidote_core::SplitMix64;
use antidote_core::math::argmax;
use serde::Serialize;

/// A client's local training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LocalTraining {
    /// Passes over the client's records per round.
    pub epochs: usize,
    /// Records per minibatch.
    pub batch_size: usize,
    /// The SGD step size.
    pub learning_rate: f64,
}

impl Default for LocalTraining {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 32,
            learning_rate: 0.3,
        }
    }
}

/// The shape of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Classes.
    pub classes: usize,
    /// Features per record.
    pub features: usize,
}

impl Shape {
    /// Parameters: the weights and one bias per class.
    #[must_use]
    pub fn parameters(self) -> usize {
        self.classes * self.features + self.classes
    }

    /// The class scores (logits) of one record.
    fn logits(self, parameters: &[f32], row: &[f32], out: &mut [f32]) {
        let bias = &parameters[self.classes * self.features..];
        for (class, score) in out.iter_mut().enumerate() {
            let weights = &parameters[class * self.features..(class + 1) * self.features];
            *score = dot(weights, row) + bias[class];
        }
    }

    /// The predicted class of one record.
    #[must_use]
    pub fn predict(self, parameters: &[f32], row: &[f32]) -> usize {
        let mut scores = vec![0.0; self.classes];
        self.logits(parameters, row, &mut scores);
        argmax(&scores)
    }

    /// Minibatch SGD on the cross-entropy from `parameters`, in place, over `samples` (a row
    /// of `matrix` of `features` columns and the label to learn for it), shuffled by `random`
    /// every epoch.
    pub fn train(
        self,
        parameters: &mut [f32],
        matrix: &[f32],
        samples: &[(usize, usize)],
        training: &LocalTraining,
        random: &mut SplitMix64,
    ) {
        let features = self.features;
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let mut gradient = vec![0.0f32; parameters.len()];
        let mut scores = vec![0.0f32; self.classes];
        for _ in 0..training.epochs {
            random.shuffle(&mut order);
            for batch in order.chunks(training.batch_size.max(1)) {
                gradient.fill(0.0);
                for &sample in batch {
                    let (row, label) = samples[sample];
                    let x = &matrix[row * features..(row + 1) * features];
                    self.logits(parameters, x, &mut scores);
                    softmax(&mut scores);
                    scores[label] -= 1.0;
                    for (class, &error) in scores.iter().enumerate() {
                        if error != 0.0 {
                            axpy(
                                &mut gradient[class * features..(class + 1) * features],
                                error,
                                x,
                            );
                            gradient[self.classes * features + class] += error;
                        }
                    }
                }
                let step = (training.learning_rate / batch.len() as f64) as f32;
                for (parameter, &slope) in parameters.iter_mut().zip(&gradient) {
                    *parameter -= step * slope;
                }
            }
        }
    }
}

/// Turns scores into probabilities, in place (shifted by the largest score for stability).
fn softmax(scores: &mut [f32]) {
    let largest = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for score in scores.iter_mut() {
        *score = (*score - largest).exp();
        total += *score;
    }
    for score in scores.iter_mut() {
        *score /= total;
    }
}

/// Dot product in eight independent lanes, so that the compiler may vectorise it (a single
/// float accumulator fixes the order of the additions and forbids it).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `y += a · x`.
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
    }

    #[test]
    fn sgd_learns_a_separable_problem() {
        // Two classes on one feature: x = 0 is class 0, x = 1 is class 1.
        let shape = Shape {
            classes: 2,
            features: 1,
        };
        let matrix = [0.0f32, 1.0];
        let samples: Vec<(usize, usize)> = (0..40).map(|i| (i % 2, i % 2)).collect();
        let mut parameters = vec![0.0; shape.parameters()];
        let training = LocalTraining {
            epochs: 20,
            batch_size: 4,
            learning_rate: 0.5,
        };
        shape.train(
            &mut parameters,
            &matrix,
            &samples,
            &training,
            &mut SplitMix64::new(1),
        );
        assert_eq!(shape.predict(&parameters, &[0.0]), 0);
        assert_eq!(shape.predict(&parameters, &[1.0]), 1);
    }
}
