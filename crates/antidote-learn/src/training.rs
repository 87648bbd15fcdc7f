//! Training recipes shared by the scan, the drill and the release gate: the built-in network
//! and its featurizer, out-of-sample probabilities from the network, exclusionary
//! reclassification, and classifiers of records.

use antidote_core::math::argmax;
use antidote_core::{NoProgress, Progress, SplitMix64};
use antidote_data::{Record, Schema};
use rayon::prelude::*;

use crate::{
    Features, FeaturizeError, Featurizer, FeaturizerValidParams, FitError, LabelIndex,
    LogisticModel, LogisticRegressionValidParams, Mlp, MlpModel, MlpValidParams, WordPresence,
    fit_each_excluding, stratified_folds,
};

/// Hash buckets per text column of the built-in network's featurizer
/// ([`NetworkModel::featurizer_params`]): 2^12, a quarter of the featurizer's default.
pub const NETWORK_TEXT_BUCKETS: usize = 1 << 12;

/// One fold's held-out rows and their predicted probabilities (row-major, one row per held-out
/// record).
type FoldPrediction = (Vec<usize>, Vec<f32>);

/// Out-of-sample class probabilities from the network ([`Mlp`] with its default parameters):
/// stratified K-fold (see [`stratified_folds`]), each fold predicted by a network trained on the
/// others, seeded from `seed` and the fold. The result is `rows x classes`, row-major, in record
/// order; `progress` advances once per fold.
///
/// Confident learning needs probabilities from a model that never saw the record; the network
/// reaches a higher out-of-sample accuracy than logistic regression (0.88 against 0.85 on
/// Fashion-MNIST, 0.67 against 0.58 on fortunes; see
/// [`out_of_sample_probabilities`](crate::out_of_sample_probabilities) for the linear model), so
/// fewer correct labels look doubtful.
///
/// # Errors
///
/// [`FitError::Folds`] for fewer than 2 folds or more folds than records, and any error of
/// fitting a network on a fold.
///
pub fn network_out_of_sample_probabilities(
    features: &Features,
    labels: &[usize],
    classes: usize,
    folds: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<Vec<f32>, FitError> {
    let rows = labels.len();
    if folds < 2 || folds > rows {
        return Err(FitError::Folds { folds, rows });
    }
    let assignment = stratified_folds(labels, folds, seed);
    // The folds train at once, each network on its own rows of the one feature matrix (no
    // copy); each network's bits do not depend on threads, so neither do the probabilities.
    let predictions: Vec<Result<FoldPrediction, FitError>> = (0..folds)
        .into_par_iter()
        .map(|fold| {
            let (held_out, training): (Vec<usize>, Vec<usize>) =
                (0..rows).partition(|&row| assignment[row] == fold);
            let network = NetworkModel::network_params(
                SplitMix64::derived(seed, &format!("fold {fold}")).next_u64(),
            )
            .fit_rows(features, labels, &training, classes, &NoProgress)?;
            let predicted = network.predict_proba_rows(features, &held_out);
            progress.advance(1);
            Ok((held_out, predicted))
        })
        .collect();
    let mut probabilities = vec![0.0_f32; rows * classes];
    for prediction in predictions {
        let (held_out, predicted) = prediction?;
        for (&row, values) in held_out.iter().zip(predicted.chunks_exact(classes)) {
            probabilities[row * classes..(row + 1) * classes].copy_from_slice(values);
        }
    }
    Ok(probabilities)
}

/// The share of records whose most probable class (`probabilities` is `rows x classes`,
/// row-major) is their label; 0 for no records.
///
/// ```
/// let probabilities = [0.9, 0.1, 0.3, 0.7, 0.6, 0.4];
/// assert_eq!(antidote_learn::accuracy(&probabilities, &[0, 1, 1], 2), 2.0 / 3.0);
/// ```
#[must_use]
pub fn accuracy(probabilities: &[f32], labels: &[usize], classes: usize) -> f64 {
    let correct = labels
        .iter()
        .enumerate()
        .filter(|&(row, &label)| {
            argmax(&probabilities[row * classes..(row + 1) * classes]) == label
        })
        .count();
    correct as f64 / labels.len().max(1) as f64
}

/// Records [`reclassify_excluded`] trains on at most.
pub const RECLASSIFICATION_SAMPLE: usize = 15_000;

/// Exclusionary reclassification (Chen et al. 2018, "Detecting Backdoor Attacks on Deep Neural
/// Networks by Activation Clustering", section 4.2): the class logistic regression (`params`)
/// predicts for each `excluded` record (in order) when trained on the other records.
///
/// Records that formed a backdoor's cluster are called by their true class once the backdoor is
/// not learned from them; a natural sub-group of a class is still called by its label. Above
/// [`RECLASSIFICATION_SAMPLE`] records a seeded sample of them, less the excluded ones, trains the
/// model: it is as good a judge of what the rest of the data looks like, and keeps a
/// reclassification to a second or two however large the data. This is
/// [`reclassify_excluded_each`] of one group.
///
/// # Errors
///
/// Any error of fitting the model (for example no record left to learn from).
pub fn reclassify_excluded(
    features: &Features,
    labels: &[usize],
    classes: usize,
    params: &LogisticRegressionValidParams,
    seed: u64,
    excluded: &[usize],
) -> Result<Vec<usize>, FitError> {
    let mut called =
        reclassify_excluded_each(features, labels, classes, params, seed, &[excluded])?;
    Ok(called.pop().unwrap_or_default())
}

/// [`reclassify_excluded`] of several disjoint groups at once: one model per group, each trained
/// without its group on the same seeded sample of the records, all trained together
/// ([`fit_each_excluding`](crate::fit_each_excluding)), so that the candidate groups of every
/// class cost a few single reclassifications rather than one each. Each group's answer is what
/// [`reclassify_excluded`] gives for it alone with the same seed.
///
/// # Errors
///
/// Any error of fitting a model, and [`FitError::OverlappingGroups`].
///
/// # Panics
///
/// When a group names a record that `features` does not have.
pub fn reclassify_excluded_each(
    features: &Features,
    labels: &[usize],
    classes: usize,
    params: &LogisticRegressionValidParams,
    seed: u64,
    groups: &[&[usize]],
) -> Result<Vec<Vec<usize>>, FitError> {
    let rows = labels.len();
    // Disjoint as a whole, not only where the sample meets them.
    let mut grouped = vec![false; rows];
    for &row in groups.iter().flat_map(|group| group.iter()) {
        if std::mem::replace(&mut grouped[row], true) {
            return Err(FitError::OverlappingGroups { row });
        }
    }
    // The records the models learn from (every group's records among them are held out).
    let sample: Vec<usize> = if rows > RECLASSIFICATION_SAMPLE {
        let mut sample =
            SplitMix64::derived(seed, "reclassification").sample(rows, RECLASSIFICATION_SAMPLE);
        sample.sort_unstable();
        sample
    } else {
        (0..rows).collect()
    };
    let mut position = vec![usize::MAX; rows];
    for (at, &row) in sample.iter().enumerate() {
        position[row] = at;
    }
    let held_out: Vec<Vec<usize>> = groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|&row| position[row])
                .filter(|&at| at != usize::MAX)
                .collect()
        })
        .collect();
    let held_out: Vec<&[usize]> = held_out.iter().map(Vec::as_slice).collect();
    let sample_labels: Vec<usize> = sample.iter().map(|&row| labels[row]).collect();
    let models = fit_each_excluding(
        &features.select_rows(&sample),
        &sample_labels,
        classes,
        params,
        &held_out,
    )?;
    for (model, group) in models.iter().zip(groups) {
        tracing::debug!(
            records = group.len(),
            report = ?model.report(),
            "trained the model that reclassifies a group without it"
        );
    }
    Ok(models
        .iter()
        .zip(groups)
        .map(|(model, group)| {
            model
                .predict_proba(&features.select_rows(group))
                .chunks(classes)
                .map(argmax)
                .collect()
        })
        .collect())
}

/// The logistic regression (`params`) trained on every record but `excluded` (none for a model of
/// the whole data), on a seeded sample of at most [`RECLASSIFICATION_SAMPLE`] of them: the model
/// behind [`reclassify_excluded`].
///
/// # Errors
///
/// Any error of fitting the model (for example no record left to learn from).
pub fn fit_excluding(
    features: &Features,
    labels: &[usize],
    classes: usize,
    params: &LogisticRegressionValidParams,
    seed: u64,
    excluded: &[usize],
) -> Result<LogisticModel, FitError> {
    let mut is_excluded = vec![false; labels.len()];
    for &index in excluded {
        is_excluded[index] = true;
    }
    let mut kept: Vec<usize> = (0..labels.len()).filter(|&row| !is_excluded[row]).collect();
    if kept.len() > RECLASSIFICATION_SAMPLE {
        let mut random = SplitMix64::derived(seed, "reclassification");
        let mut sample = random.sample(kept.len(), RECLASSIFICATION_SAMPLE);
        sample.sort_unstable();
        kept = sample.into_iter().map(|position| kept[position]).collect();
    }
    let kept_labels: Vec<usize> = kept.iter().map(|&row| labels[row]).collect();
    params.fit(&features.select_rows(&kept), &kept_labels, classes)
}

/// How a [`RecordClassifier`] turns records into features.
#[derive(Debug, Clone, Copy)]
pub enum RecordFeatures<'a> {
    /// A fitted featurizer (pixels, numbers, categories, hashed text).
    Featurizer(&'a Featurizer),
    /// The presence of words in a text column.
    Words(&'a WordPresence),
}

impl RecordFeatures<'_> {
    /// The features of `records`.
    ///
    /// # Errors
    ///
    /// The featurizer's, when a record does not fit it.
    pub fn transform(&self, records: &[Record]) -> Result<Features, FeaturizeError> {
        match self {
            Self::Featurizer(featurizer) => featurizer.transform(records),
            Self::Words(words) => Ok(words.transform(records)),
        }
    }
}

/// A trained classifier of records: their features, then a model. Trigger search questions it
/// with stamped copies of records.
#[derive(Debug, Clone)]
pub struct RecordClassifier<'a> {
    /// How records become features.
    pub features: RecordFeatures<'a>,
    /// The model trained on those features.
    pub model: RecordModel<'a>,
}

/// The model of a [`RecordClassifier`].
#[derive(Debug, Clone)]
pub enum RecordModel<'a> {
    /// Logistic regression.
    Logistic(LogisticModel),
    /// A network trained elsewhere (the scan's, on every record).
    Network(&'a MlpModel),
}

impl From<LogisticModel> for RecordModel<'_> {
    fn from(model: LogisticModel) -> Self {
        Self::Logistic(model)
    }
}

impl RecordClassifier<'_> {
    /// The most probable class of each record, in order.
    ///
    /// # Errors
    ///
    /// The featurizer's, when a record does not fit it.
    pub fn predict(&self, records: &[Record]) -> Result<Vec<usize>, FeaturizeError> {
        let features = self.features.transform(records)?;
        let (classes, probabilities) = match &self.model {
            RecordModel::Logistic(model) => (model.classes(), model.predict_proba(&features)),
            RecordModel::Network(network) => (network.classes(), network.predict_proba(&features)),
        };
        Ok(probabilities.chunks_exact(classes).map(argmax).collect())
    }
}

/// Why [`NetworkModel::train`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The records could not be featurized.
    #[error("the records could not be featurized")]
    Featurize(#[from] FeaturizeError),
    /// The network could not be fitted (for example no labelled record).
    #[error("the network could not be trained")]
    Fit(#[from] FitError),
}

/// The built-in network trained on records: the featurizer it reads them through
/// ([`NetworkModel::featurizer_params`]), the network ([`NetworkModel::network_params`]) and the
/// classes it tells apart. The drill and the release gate train it; the scan fits the same
/// featurizer and network in its own stages.
///
/// ```
/// use std::{path::Path, sync::Arc};
/// use antidote_core::NoProgress;
/// use antidote_data::{ColumnKind, Value, from_rows};
/// use antidote_learn::NetworkModel;
///
/// let rows = (0..40)
///     .map(|i| {
///         let class = i % 2;
///         vec![
///             Value::Float(f64::from(class) * 4.0 + f64::from(i % 5) * 0.1),
///             Value::Text(if class == 0 { "small" } else { "large" }.into()),
///         ]
///     })
///     .collect();
/// let dataset = from_rows(
///     Path::new("memory"),
///     vec![
///         (Arc::from("size"), ColumnKind::Float),
///         (Arc::from("label"), ColumnKind::Categorical),
///     ],
///     rows,
/// )?;
/// let schema = dataset.schema().clone();
/// let records = dataset.collect::<Result<Vec<_>, _>>()?;
///
/// let model = NetworkModel::train(&records, &schema, 0, &NoProgress)?;
/// assert_eq!(model.predict_labels(&records[..2])?, [Some("small"), Some("large")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct NetworkModel {
    featurizer: Featurizer,
    network: MlpModel,
    labels: LabelIndex,
}

impl NetworkModel {
    /// The featurizer of the built-in network: the featurizer's defaults with
    /// [`NETWORK_TEXT_BUCKETS`] text buckets, hashing seeded with `seed`.
    ///
    /// # Panics
    ///
    /// Never: the parameters are valid.
    #[must_use]
    pub fn featurizer_params(seed: u64) -> FeaturizerValidParams {
        Featurizer::params()
            .text_buckets(NETWORK_TEXT_BUCKETS)
            .seed(seed)
            .check()
            .expect("valid featurizer parameters")
    }

    /// The built-in network: [`Mlp`]'s default parameters, initialised and shuffled from `seed`.
    ///
    /// # Panics
    ///
    /// Never: the network's default parameters are valid.
    #[must_use]
    pub fn network_params(seed: u64) -> MlpValidParams {
        Mlp::params()
            .seed(seed)
            .check()
            .expect("valid default parameters")
    }

    /// Trains the built-in network on the labelled `records` (unlabelled ones are skipped):
    /// fits [`featurizer_params`](Self::featurizer_params) on them, then
    /// [`network_params`](Self::network_params) on their features, both seeded with `seed`.
    /// The classes are the labels of those records ([`LabelIndex::from_records`]); `progress`
    /// sees the network's `train network` stage.
    ///
    /// # Errors
    ///
    /// [`TrainError::Featurize`] when the records cannot be featurized (no column to learn
    /// from, for example), [`TrainError::Fit`] when the network cannot be fitted (no labelled
    /// record, for example).
    ///
    /// # Panics
    ///
    /// Never: every record trained on has a label of the classes taken from them.
    pub fn train(
        records: &[Record],
        schema: &Schema,
        seed: u64,
        progress: &dyn Progress,
    ) -> Result<Self, TrainError> {
        let labelled: Vec<&Record> = records
            .iter()
            .filter(|record| record.label.is_some())
            .collect();
        let featurizer = Self::featurizer_params(seed).fit(labelled.iter().copied(), schema)?;
        let features = featurizer.transform(labelled.iter().copied())?;
        let labels = LabelIndex::from_records(labelled.iter().copied());
        let encoded = labels
            .encode(labelled.iter().copied())
            .expect("every record has a label of the classes taken from them");
        let network =
            Self::network_params(seed).fit(&features, &encoded, labels.len(), progress)?;
        Ok(Self {
            featurizer,
            network,
            labels,
        })
    }

    /// The featurizer records are read through.
    #[must_use]
    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// The trained network.
    #[must_use]
    pub fn network(&self) -> &MlpModel {
        &self.network
    }

    /// The classes the network tells apart.
    #[must_use]
    pub fn labels(&self) -> &LabelIndex {
        &self.labels
    }

    /// The probability of every class for every record: `rows x classes`, row-major, classes
    /// as in [`labels`](Self::labels).
    ///
    /// # Errors
    ///
    /// The featurizer's, when a record does not fit it.
    pub fn predict_proba(&self, records: &[Record]) -> Result<Vec<f32>, FeaturizeError> {
        Ok(self
            .network
            .predict_proba(&self.featurizer.transform(records)?))
    }

    /// The most probable class of each record, in order (the lowest index among ties).
    ///
    /// # Errors
    ///
    /// The featurizer's, when a record does not fit it.
    pub fn predict(&self, records: &[Record]) -> Result<Vec<usize>, FeaturizeError> {
        let classes = self.network.classes();
        Ok(self
            .predict_proba(records)?
            .chunks_exact(classes)
            .map(argmax)
            .collect())
    }

    /// The most probable label of each record, in order; `None` only when the network was
    /// trained on no class.
    ///
    /// # Errors
    ///
    /// The featurizer's, when a record does not fit it.
    pub fn predict_labels(&self, records: &[Record]) -> Result<Vec<Option<&str>>, FeaturizeError> {
        Ok(self
            .predict(records)?
            .into_iter()
            .map(|class| self.labels.label(class))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogisticRegression;

    /// Two well separated classes of `rows` records in two dimensions.
    fn separable(rows: usize) -> (Features, Vec<usize>) {
        let labels: Vec<usize> = (0..rows).map(|row| row % 2).collect();
        let data: Vec<f32> = labels
            .iter()
            .enumerate()
            .flat_map(|(row, &label)| {
                let jitter = (row % 7) as f32 * 0.05;
                let centre = if label == 0 { -2.0 } else { 2.0 };
                [centre + jitter, centre - jitter]
            })
            .collect();
        (
            Features::from_row_major(rows, 2, data, "x").expect("two values per row"),
            labels,
        )
    }

    #[test]
    fn network_out_of_sample_probabilities_are_right_on_separable_data() {
        let (features, labels) = separable(60);
        let probabilities =
            network_out_of_sample_probabilities(&features, &labels, 2, 3, 7, &NoProgress)
                .expect("three folds of sixty records");
        assert_eq!(probabilities.len(), 120);
        assert!(accuracy(&probabilities, &labels, 2) > 0.95);
        let again = network_out_of_sample_probabilities(&features, &labels, 2, 3, 7, &NoProgress)
            .expect("the same input");
        assert_eq!(probabilities, again, "seeded, so deterministic");
        assert!(matches!(
            network_out_of_sample_probabilities(&features, &labels, 2, 1, 7, &NoProgress),
            Err(FitError::Folds { folds: 1, rows: 60 })
        ));
    }

    #[test]
    fn the_network_recipe_learns_separable_records_and_skips_unlabelled_ones() {
        use std::{path::Path, sync::Arc};

        use antidote_data::{ColumnKind, Value, from_rows};

        // Sixty records whose number and word both tell the class, and two without a label.
        let rows = (0..62)
            .map(|i: i32| {
                let class = i % 2;
                vec![
                    Value::Float(f64::from(class) * 6.0 - 3.0 + f64::from(i % 7) * 0.1),
                    Value::Text(
                        if class == 0 {
                            "north wind"
                        } else {
                            "south sea"
                        }
                        .into(),
                    ),
                    if i < 60 {
                        Value::Text(if class == 0 { "cold" } else { "warm" }.into())
                    } else {
                        Value::Null
                    },
                ]
            })
            .collect();
        let dataset = from_rows(
            Path::new("memory"),
            vec![
                (Arc::from("x"), ColumnKind::Float),
                (Arc::from("text"), ColumnKind::Text),
                (Arc::from("label"), ColumnKind::Categorical),
            ],
            rows,
        )
        .expect("three columns per row");
        let schema = dataset.schema().clone();
        let records: Vec<Record> = dataset
            .collect::<Result<_, _>>()
            .expect("records in memory");
        assert!(records[60].label.is_none(), "the last two are unlabelled");

        let model =
            NetworkModel::train(&records, &schema, 3, &NoProgress).expect("sixty labelled records");
        assert_eq!(model.labels().labels(), ["cold", "warm"]);
        let expected: Vec<usize> = (0..62).map(|i| i % 2).collect();
        assert_eq!(model.predict(&records).expect("the same columns"), expected);
        let probabilities = model.predict_proba(&records).expect("the same columns");
        assert_eq!(probabilities.len(), 62 * 2);
        assert_eq!(
            model
                .predict_labels(&records[..2])
                .expect("the same columns"),
            [Some("cold"), Some("warm")]
        );
        let again =
            NetworkModel::train(&records, &schema, 3, &NoProgress).expect("sixty labelled records");
        assert_eq!(
            again.predict_proba(&records).expect("the same columns"),
            probabilities,
            "seeded, so deterministic"
        );
        assert!(matches!(
            NetworkModel::train(&records[60..], &schema, 3, &NoProgress),
            Err(TrainError::Fit(_))
        ));
    }

    #[test]
    fn groups_reclassified_together_are_called_as_each_alone() {
        let (features, mut labels) = separable(40);
        // Records 0 and 2 sit with class 0 but are labelled 1; 37 and 39 sit with class 1.
        labels[0] = 1;
        labels[2] = 1;
        let params = LogisticRegression::params()
            .check()
            .expect("valid default parameters");
        let groups: [&[usize]; 2] = [&[0, 2], &[39, 37]];
        let together = reclassify_excluded_each(&features, &labels, 2, &params, 3, &groups)
            .expect("records to learn from");
        assert_eq!(
            together[0],
            [0, 0],
            "the relabelled records, by their true class"
        );
        assert_eq!(together[1], [1, 1]);
        // Groups that share a record are refused, even where the sample would not meet it.
        assert!(matches!(
            reclassify_excluded_each(&features, &labels, 2, &params, 3, &[&[4, 6], &[6]]),
            Err(FitError::OverlappingGroups { row: 6 })
        ));
        for (group, called) in groups.iter().zip(&together) {
            let alone = reclassify_excluded(&features, &labels, 2, &params, 3, group)
                .expect("records to learn from");
            assert_eq!(&alone, called);
        }
    }

    #[test]
    fn reclassification_calls_a_relabelled_record_by_its_true_class() {
        let (features, mut labels) = separable(40);
        // Record 0 sits with class 0 but is labelled 1.
        labels[0] = 1;
        let params = LogisticRegression::params()
            .check()
            .expect("valid default parameters");
        let called = reclassify_excluded(&features, &labels, 2, &params, 0, &[0, 1])
            .expect("thirty-eight records to learn from");
        assert_eq!(called, [0, 1]);
    }
}
