//! The model a detector may question: trigger search stamps a candidate trigger on clean records
//! and asks the model trained on all the data what it now predicts.

use antidote_data::Record;
use std::sync::OnceLock;

use antidote_core::SplitMix64;
use antidote_core::math::argmax;
use antidote_learn::{
    Features, LogisticModel, LogisticRegression, RecordClassifier, fit_excluding,
    reclassify_excluded_each,
};

use crate::detector::Learned;

/// Class probabilities, row-major, of a model that reads feature rows.
type ProbabilityModel<'a> = Box<dyn Fn(&Features) -> Vec<f32> + 'a>;

/// A trained classifier that predicts the class of (possibly modified) records.
///
/// `antidote scan` implements it with [`RecordClassifier`], the featurizer and the model it
/// trained on the whole dataset; tests implement it with anything that decides.
pub trait Predictor: Sync {
    /// The predicted class index of each record, in order.
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError>;
}

/// Why a prediction failed.
#[derive(Debug, thiserror::Error)]
#[error("could not predict: {0}")]
pub struct PredictError(pub String);

/// Exclusionary reclassification (Chen et al. 2018, section 4.2): train the model again without
/// some records and ask what it calls them. Records that formed a backdoor's cluster are called
/// by their true class once the backdoor is not learned from them; a natural sub-group of a
/// class is still called by its label.
pub trait Reclassifier: Sync {
    /// The predicted class of each `excluded` record (in order) by a model trained on every
    /// other record.
    fn reclassify(&self, excluded: &[usize]) -> Result<Vec<usize>, PredictError>;

    /// [`reclassify`](Reclassifier::reclassify) of each of several disjoint groups, in order. A
    /// reclassifier that can train its models together overrides this; by default each group
    /// is reclassified in turn.
    fn reclassify_each(&self, groups: &[&[usize]]) -> Vec<Result<Vec<usize>, PredictError>> {
        groups.iter().map(|group| self.reclassify(group)).collect()
    }

    /// The transfer test of a group of records labelled `class` whose members a model trained
    /// without them called `predictions` (in group order): the component the members share
    /// beyond the class each was called (the mean of each member minus the mean of the class it
    /// was called, over the members called another class than `class`) is added to records of
    /// other classes, and a model trained on every record says how many of them it now calls
    /// `class`. A trigger is such a component (it is what the poisoned records have in common
    /// across their true classes, and the model learned it means `class`); a natural sub-group's
    /// members have in common a way of looking like their class, which does not carry records
    /// of other classes over.
    fn transfer(
        &self,
        group: &[usize],
        predictions: &[usize],
        class: usize,
    ) -> Result<Transfer, PredictError>;
}

/// What [`Reclassifier::transfer`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transfer {
    /// Records of other classes the group's shared component was added to.
    pub stamped: usize,
    /// The share of them the model trained on every record (the scan's network, or a logistic
    /// regression) calls the group's class.
    pub share: f64,
    /// The share of the same records it calls the group's class without the component.
    pub baseline: f64,
}

impl Transfer {
    /// Nothing to stamp: no member was called another class, or no record of another class.
    const NONE: Self = Self {
        stamped: 0,
        share: 0.0,
        baseline: 0.0,
    };
}

/// Records of other classes the transfer test stamps at most (a seeded sample).
const TRANSFER_SAMPLE: usize = 1_000;

impl Predictor for RecordClassifier<'_> {
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError> {
        RecordClassifier::predict(self, records).map_err(|error| PredictError(error.to_string()))
    }
}

/// Exclusionary reclassification with the built-in logistic regression on the scan's features
/// ([`reclassify_excluded_each`]: the candidate groups of a detector are reclassified together).
pub(crate) struct LinearReclassifier<'a> {
    learned: &'a Learned,
    labels: &'a [usize],
    seed: u64,
    /// The logistic regression of every record the transfer test questions when the scan
    /// trained no network, trained on first use.
    whole: OnceLock<Result<LogisticModel, String>>,
    /// Each feature's lowest and highest value over the records, which bound a stamped record's
    /// features; computed on first use, once for every group tested.
    ranges: OnceLock<(Vec<f32>, Vec<f32>)>,
}

impl<'a> LinearReclassifier<'a> {
    pub(crate) fn new(learned: &'a Learned, labels: &'a [usize], seed: u64) -> Self {
        Self {
            learned,
            labels,
            seed,
            whole: OnceLock::new(),
            ranges: OnceLock::new(),
        }
    }
}

impl Reclassifier for LinearReclassifier<'_> {
    fn reclassify(&self, excluded: &[usize]) -> Result<Vec<usize>, PredictError> {
        self.reclassify_each(&[excluded])
            .pop()
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The groups' models train together, sharing each pass over the data.
    fn reclassify_each(&self, groups: &[&[usize]]) -> Vec<Result<Vec<usize>, PredictError>> {
        let params = LogisticRegression::params()
            .check()
            .expect("valid default parameters");
        match reclassify_excluded_each(
            &self.learned.features,
            self.labels,
            self.learned.class_count,
            &params,
            self.seed,
            groups,
        ) {
            Ok(called) => called.into_iter().map(Ok).collect(),
            Err(error) => groups
                .iter()
                .map(|_| Err(PredictError(error.to_string())))
                .collect(),
        }
    }

    fn transfer(
        &self,
        group: &[usize],
        predictions: &[usize],
        class: usize,
    ) -> Result<Transfer, PredictError> {
        let features = &self.learned.features;
        let classes = self.learned.class_count;
        let Some(component) =
            shared_component(features, self.labels, classes, group, predictions, class)
        else {
            return Ok(Transfer::NONE);
        };
        let mut in_group = vec![false; self.labels.len()];
        for &index in group {
            in_group[index] = true;
        }
        let others: Vec<usize> = (0..self.labels.len())
            .filter(|&row| self.labels[row] != class && !in_group[row])
            .collect();
        let mut targets: Vec<usize> = SplitMix64::derived(self.seed, "transfer")
            .sample(others.len(), TRANSFER_SAMPLE)
            .into_iter()
            .map(|position| others[position])
            .collect();
        targets.sort_unstable();
        if targets.is_empty() {
            return Ok(Transfer::NONE);
        }
        // The network the scan trained on every record, as trigger search questions it; the
        // logistic regression of every record when there is none (an embedding column).
        let whole: ProbabilityModel<'_> = if let Some(network) = &self.learned.network {
            Box::new(|rows: &Features| network.predict_proba(rows))
        } else {
            let model = self
                .whole
                .get_or_init(|| {
                    let params = LogisticRegression::params()
                        .check()
                        .expect("valid default parameters");
                    fit_excluding(features, self.labels, classes, &params, self.seed, &[])
                        .map_err(|error| error.to_string())
                })
                .as_ref()
                .map_err(|error| PredictError(error.clone()))?;
            Box::new(|rows: &Features| model.predict_proba(rows))
        };
        let unstamped = features.select_rows(&targets);
        let (low, high) = self.ranges.get_or_init(|| feature_ranges(features));
        let stamped = unstamped.map_by_column(|column, value| {
            (value + component[column]).clamp(low[column], high[column])
        });
        let share_called = |rows: &Features| {
            let called = whole(rows)
                .chunks(classes)
                .filter(|probabilities| argmax(probabilities) == class)
                .count();
            called as f64 / targets.len() as f64
        };
        Ok(Transfer {
            stamped: targets.len(),
            share: share_called(&stamped),
            baseline: share_called(&unstamped),
        })
    }
}

/// The mean, over the members of `group` that `predictions` calls another class than `class`,
/// of the member's features minus the mean features of the class it was called (the class's
/// records outside the group); `None` when no member was called another class.
fn shared_component(
    features: &Features,
    labels: &[usize],
    classes: usize,
    group: &[usize],
    predictions: &[usize],
    class: usize,
) -> Option<Vec<f32>> {
    let columns = features.columns();
    let mut in_group = vec![false; labels.len()];
    for &index in group {
        in_group[index] = true;
    }
    let mut means = vec![0.0f64; classes * columns];
    let mut counts = vec![0usize; classes];
    for (row, &label) in labels.iter().enumerate() {
        if in_group[row] || label >= classes {
            continue;
        }
        counts[label] += 1;
        for (total, &value) in means[label * columns..(label + 1) * columns]
            .iter_mut()
            .zip(features.row(row))
        {
            *total += f64::from(value);
        }
    }
    for (label, &count) in counts.iter().enumerate() {
        for total in &mut means[label * columns..(label + 1) * columns] {
            *total /= count.max(1) as f64;
        }
    }
    let mut component = vec![0.0f64; columns];
    let mut members = 0usize;
    for (&index, &called) in group.iter().zip(predictions) {
        if called == class || called >= classes || counts[called] == 0 {
            continue;
        }
        members += 1;
        for ((total, &value), mean) in component
            .iter_mut()
            .zip(features.row(index))
            .zip(&means[called * columns..(called + 1) * columns])
        {
            *total += f64::from(value) - mean;
        }
    }
    (members > 0).then(|| {
        component
            .iter()
            .map(|total| (total / members as f64) as f32)
            .collect()
    })
}

/// Each feature column's smallest and largest value over the records: stamped records stay in
/// the range the data has (a white patch on white stays white).
fn feature_ranges(features: &Features) -> (Vec<f32>, Vec<f32>) {
    let columns = features.columns();
    let mut low = vec![f32::INFINITY; columns];
    let mut high = vec![f32::NEG_INFINITY; columns];
    for row in 0..features.rows() {
        for (column, &value) in features.row(row).iter().enumerate() {
            low[column] = low[column].min(value);
            high[column] = high[column].max(value);
        }
    }
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_component_is_what_members_have_beyond_the_class_they_were_called() {
        // Two classes around (0, 0) and (4, 0); the group is labelled 1 but three of its four
        // members look like class 0 plus (0, 6), the fourth like class 1.
        let mut values = vec![-1.0, 0.0, 1.0, 0.0, 3.0, 0.0, 5.0, 0.0];
        values.extend([-1.0, 6.0, 1.0, 6.0, 0.0, 6.0, 4.0, 1.0]);
        let features = Features::from_row_major(8, 2, values, "x").unwrap();
        let labels = [0, 0, 1, 1, 1, 1, 1, 1];
        let group = [4, 5, 6, 7];
        let component = shared_component(&features, &labels, 2, &group, &[0, 0, 0, 1], 1)
            .expect("members were called another class");
        assert_eq!(component, vec![0.0, 6.0]);
        // Nobody called another class: nothing shared to test.
        assert!(shared_component(&features, &labels, 2, &group, &[1, 1, 1, 1], 1).is_none());
        let (low, high) = feature_ranges(&features);
        assert_eq!((low, high), (vec![-1.0, 0.0], vec![5.0, 6.0]));
    }
}
