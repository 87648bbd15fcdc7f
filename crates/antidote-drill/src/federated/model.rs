//! The federation's model: one of `antidote-learn`'s built-in networks, softmax (multinomial
//! logistic) regression or the MLP, trained by [`antidote_learn::local`] from the global
//! parameters, which is what a federated client does each round. The SGD step is
//! `antidote-learn`'s, the one DP-SGD takes without clipping and noise.
//!
//! The parameters are one flat vector in the network's layout, layer by layer: the weights
//! (`inputs x outputs`, row-major) then the biases. That is the update a client sends, and the
//! layout of the `.npy` files the simulation exports (`truth.json` records the widths).

use antidote_core::SplitMix64;
use antidote_learn::Features;
use antidote_learn::local::{self, LocalSgd};
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

/// Which network the federation trains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FederatedModel {
    /// Softmax regression: no hidden layer.
    #[default]
    Logistic,
    /// The built-in MLP, with one hidden layer of [`MLP_HIDDEN`] rectified units.
    Mlp,
}

/// The width of the federated MLP's hidden layer (the width `antidote train --model mlp`
/// defaults to).
pub const MLP_HIDDEN: usize = 64;

impl FederatedModel {
    /// Its name in reports.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Logistic => "softmax regression",
            Self::Mlp => "MLP (one hidden layer of 64 ReLU units)",
        }
    }

    /// The SGD step size that suits it by default.
    #[must_use]
    pub fn default_learning_rate(self) -> f64 {
        match self {
            Self::Logistic => LocalTraining::default().learning_rate,
            Self::Mlp => 0.05,
        }
    }
}

/// The shape of the model: the layer widths, input first, classes last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    widths: Vec<usize>,
}

impl Shape {
    /// The shape of `model` on `features` inputs and `classes` classes.
    #[must_use]
    pub fn new(model: FederatedModel, features: usize, classes: usize) -> Self {
        let widths = match model {
            FederatedModel::Logistic => vec![features, classes],
            FederatedModel::Mlp => vec![features, MLP_HIDDEN, classes],
        };
        Self { widths }
    }

    /// The layer widths.
    #[must_use]
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// Classes.
    #[must_use]
    pub fn classes(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }

    /// Features per record.
    #[must_use]
    pub fn features(&self) -> usize {
        self.widths[0]
    }

    /// Parameters: every layer's weights and biases.
    #[must_use]
    pub fn parameters(&self) -> usize {
        local::parameter_count(&self.widths)
    }

    /// The global model the federation starts from (zeros for softmax regression).
    #[must_use]
    pub fn initial(&self, seed: u64) -> Vec<f32> {
        local::initial_parameters(&self.widths, seed)
    }

    /// The predicted class of every row of `features`.
    #[must_use]
    pub fn predict(&self, parameters: &[f32], features: &Features) -> Vec<usize> {
        local::predict(&self.widths, parameters, features)
    }

    /// Minibatch SGD on the cross-entropy from `parameters`, in place, over `samples` (a row
    /// of `features` and the label to learn for it), shuffled by `random` every epoch.
    pub fn train(
        &self,
        parameters: &mut [f32],
        features: &Features,
        samples: &[(usize, usize)],
        training: &LocalTraining,
        random: &mut SplitMix64,
    ) {
        let sgd = LocalSgd {
            epochs: training.epochs,
            batch_size: training.batch_size,
            learning_rate: training.learning_rate,
            momentum: 0.0,
        };
        local::train(&self.widths, parameters, features, samples, &sgd, random);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_learns_a_separable_problem_with_either_model() {
        // Two classes on one feature: x = 0 is class 0, x = 1 is class 1.
        let features = Features::from_row_major(2, 1, vec![0.0, 1.0], "x").unwrap();
        let samples: Vec<(usize, usize)> = (0..40).map(|i| (i % 2, i % 2)).collect();
        for model in [FederatedModel::Logistic, FederatedModel::Mlp] {
            let shape = Shape::new(model, 1, 2);
            let mut parameters = shape.initial(3);
            let training = LocalTraining {
                epochs: 40,
                batch_size: 4,
                learning_rate: 0.5,
            };
            shape.train(
                &mut parameters,
                &features,
                &samples,
                &training,
                &mut SplitMix64::new(1),
            );
            assert_eq!(shape.predict(&parameters, &features), [0, 1], "{model:?}");
        }
        assert_eq!(
            Shape::new(FederatedModel::Mlp, 3, 2).parameters(),
            3 * 64 + 64 + 64 * 2 + 2
        );
    }
}
