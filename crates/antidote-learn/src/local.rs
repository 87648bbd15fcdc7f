//! Local SGD: minibatch SGD of the built-in network (logistic regression, or the MLP with
//! hidden layers) from given parameters, on examples given as a feature row and the class to
//! learn for it. It is what a federated client does each round, starting from the global
//! model, and it takes the step of [`DpSgd`](crate::DpSgd) without clipping and noise: the
//! gradient sum of `dpsgd` and its momentum step, one implementation of SGD for both.
//!
//! The parameters are one flat vector in the network's layout, layer by layer: the weights
//! (`inputs x outputs`, row-major, as PyTorch's `nn.Linear` stores their transpose) then the
//! biases ([`parameter_count`]).
//!
//! ```
//! use antidote_core::SplitMix64;
//! use antidote_learn::Features;
//! use antidote_learn::local::{LocalSgd, initial_parameters, predict, train};
//!
//! // One feature: 0 is class 0, 1 is class 1.
//! let features = Features::from_row_major(2, 1, vec![0.0, 1.0], "x")?;
//! let examples: Vec<(usize, usize)> = (0..40).map(|i| (i % 2, i % 2)).collect();
//! let widths = [1, 2];
//! let mut parameters = initial_parameters(&widths, 0);
//! let sgd = LocalSgd { epochs: 20, batch_size: 4, learning_rate: 0.5, momentum: 0.0 };
//! train(&widths, &mut parameters, &features, &examples, &sgd, &mut SplitMix64::new(1));
//! assert_eq!(predict(&widths, &parameters, &features), [0, 1]);
//! # Ok::<(), antidote_learn::ShapeError>(())
//! ```

use antidote_core::SplitMix64;
use antidote_core::math::argmax;
use serde::{Deserialize, Serialize};

use crate::dpsgd::{clipped_sum, step};
use crate::features::Features;
use crate::mlp::Network;

/// Minibatch SGD's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalSgd {
    /// Passes over the examples.
    pub epochs: usize,
    /// Examples per minibatch.
    pub batch_size: usize,
    /// The step size; each step moves by it times the batch's mean gradient.
    pub learning_rate: f64,
    /// Heavy-ball momentum (0 for plain SGD), restarted at every call.
    pub momentum: f64,
}

/// Parameters of the network of layer `widths` (the input's, the hidden layers', the classes').
#[must_use]
pub fn parameter_count(widths: &[usize]) -> usize {
    crate::mlp::parameter_count(widths)
}

/// Starting parameters: zeros for logistic regression (two widths), He-initialised weights
/// from `seed` for a network with hidden layers (zeros would keep its hidden units identical).
#[must_use]
pub fn initial_parameters(widths: &[usize], seed: u64) -> Vec<f32> {
    if widths.len() <= 2 {
        vec![0.0; parameter_count(widths)]
    } else {
        Network::initialised(widths.to_vec(), seed).parameters
    }
}

/// Trains `parameters` in place: `epochs` passes over `examples` (a row of `features` and the
/// class to learn for it), shuffled by `random` every epoch, one step of the mean cross-entropy
/// gradient per minibatch.
///
/// # Panics
///
/// If `parameters` does not fit `widths`, `features` is not `widths[0]` wide, or an example's
/// row or class is out of range.
pub fn train(
    widths: &[usize],
    parameters: &mut [f32],
    features: &Features,
    examples: &[(usize, usize)],
    sgd: &LocalSgd,
    random: &mut SplitMix64,
) {
    assert_eq!(
        parameters.len(),
        parameter_count(widths),
        "parameters fit the widths"
    );
    assert_eq!(
        features.columns(),
        widths[0],
        "features fit the input width"
    );
    let mut network = Network {
        widths: widths.to_vec(),
        parameters: parameters.to_vec(),
    };
    let mut velocity = vec![0.0f32; parameters.len()];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut batch = Vec::with_capacity(sgd.batch_size);
    for _ in 0..sgd.epochs {
        random.shuffle(&mut order);
        for chunk in order.chunks(sgd.batch_size.max(1)) {
            batch.clear();
            batch.extend(chunk.iter().map(|&example| examples[example]));
            let (gradient, _) = clipped_sum(&network, features, &batch, None);
            step(
                &mut network.parameters,
                &mut velocity,
                &gradient,
                (sgd.learning_rate / batch.len() as f64) as f32,
                sgd.momentum as f32,
            );
        }
    }
    parameters.copy_from_slice(&network.parameters);
}

/// The most probable class of every row of `features`.
///
/// # Panics
///
/// If `parameters` does not fit `widths` or `features` is not `widths[0]` wide.
#[must_use]
pub fn predict(widths: &[usize], parameters: &[f32], features: &Features) -> Vec<usize> {
    assert_eq!(
        parameters.len(),
        parameter_count(widths),
        "parameters fit the widths"
    );
    let network = Network {
        widths: widths.to_vec(),
        parameters: parameters.to_vec(),
    };
    let classes = widths[widths.len() - 1];
    network
        .forward(features, network.layers())
        .chunks_exact(classes)
        .map(argmax)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two noisy blobs in two dimensions, not linearly separable by the origin alone.
    fn xor(rows: usize) -> (Features, Vec<(usize, usize)>) {
        let mut random = SplitMix64::new(3);
        let mut data = Vec::with_capacity(rows * 2);
        let mut examples = Vec::with_capacity(rows);
        for row in 0..rows {
            let (a, b) = (row % 2, (row / 2) % 2);
            data.push(a as f32 * 2.0 - 1.0 + 0.2 * random.normal() as f32);
            data.push(b as f32 * 2.0 - 1.0 + 0.2 * random.normal() as f32);
            examples.push((row, a ^ b));
        }
        (
            Features::from_row_major(rows, 2, data, "xor").unwrap(),
            examples,
        )
    }

    #[test]
    fn the_mlp_learns_what_logistic_regression_cannot() {
        let (features, examples) = xor(400);
        let sgd = LocalSgd {
            epochs: 60,
            batch_size: 16,
            learning_rate: 0.1,
            momentum: 0.9,
        };
        let accuracy = |widths: &[usize]| {
            let mut parameters = initial_parameters(widths, 1);
            train(
                widths,
                &mut parameters,
                &features,
                &examples,
                &sgd,
                &mut SplitMix64::new(2),
            );
            let predicted = predict(widths, &parameters, &features);
            examples
                .iter()
                .zip(&predicted)
                .filter(|((_, label), predicted)| label == *predicted)
                .count() as f64
                / examples.len() as f64
        };
        assert!(accuracy(&[2, 16, 2]) > 0.95);
        assert!(accuracy(&[2, 2]) < 0.8);
    }

    #[test]
    fn one_step_is_the_mean_gradient_step() {
        // Logistic regression from zero on one example of class 1: the scores' gradient is
        // softmax(0) - onehot = (1/2, -1/2), so the bias moves by -rate times it.
        let features = Features::from_row_major(1, 1, vec![2.0], "x").unwrap();
        let widths = [1, 2];
        let mut parameters = initial_parameters(&widths, 0);
        let sgd = LocalSgd {
            epochs: 1,
            batch_size: 1,
            learning_rate: 0.1,
            momentum: 0.0,
        };
        train(
            &widths,
            &mut parameters,
            &features,
            &[(0, 1)],
            &sgd,
            &mut SplitMix64::new(0),
        );
        // weights (1 x 2) then biases (2).
        let expected = [-0.1f32, 0.1, -0.05, 0.05];
        for (got, want) in parameters.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{parameters:?}");
        }
    }
}
