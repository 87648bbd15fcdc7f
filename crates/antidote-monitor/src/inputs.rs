//! Input drift: the inputs of the current window against the baseline profile's columns, with
//! the drift tests of `antidote check` ([`antidote_validate::check::numeric_drift`]).
//!
//! Events carry their inputs as `features` (a list of numbers) or `fields` (numbers by column
//! name). [`InputBaseline::of`] takes from the profile the numeric columns a model reads (role
//! `feature`, so not the id, the label or the source) and the first vector column (an
//! embedding). A `features` list as long as the numeric columns gives one value to each, in the
//! profile's column order; any other list is the embedding, compared by its Euclidean norm as
//! `antidote check` compares vector columns; `fields` give values to the columns they name.
//!
//! Per column, the window's values are compared with the baseline's sketch as `antidote check`
//! decides: by the two-sample Kolmogorov-Smirnov p-value while either side has at most
//! `small_sample` values (1,000 by default, so a window of 1,000 events gets the KS test), else
//! by the Wasserstein distance normalised by the baseline's standard deviation. A column drifts
//! when that test says so *and* the distance is above its threshold (0.1 standard deviations):
//! a shift both significant and material, as the prediction drift alert asks. The KS p-value
//! alone, computed from the sketches' quantile grids, is anti-conservative at window sizes: in
//! the unit test below, 4 of 20 stationary windows of 1,000 events had both features under
//! p = 0.05, and with the distance required as well 1 of 20 still alarmed, far above the 1 in
//! 400 two independent 5% tests would give. The Prometheus rule waits 10 minutes for that
//! reason. Both statistics are reported
//! for every column (the same function, told to use one or the other), so that a dashboard can
//! plot them whatever the window size; the `input_drift` alert fires when at least `drift_share`
//! (half, by default) of the compared columns drift, which is what `antidote check` calls
//! dataset drift: one column crossing a 5% test by chance does not page anyone.

use std::collections::BTreeMap;

use antidote_data::Role;
use antidote_validate::check::{ColumnDrift, Thresholds, numeric_drift};
use antidote_validate::profile::{ColumnStats, NumericStats, Profile};
use serde::Serialize;

use crate::window::{AlertName, AlertRule, AlertState};

/// The inputs one stored event carried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// The feature list or embedding.
    pub features: Option<Vec<f64>>,
    /// Numbers by column name.
    pub fields: Option<BTreeMap<String, f64>>,
}

/// One baseline column the inputs are compared with.
#[derive(Debug, Clone)]
struct Column {
    /// The name metrics label it with.
    name: String,
    stats: NumericStats,
}

/// The baseline of the inputs: the profile's numeric feature columns and its embedding.
#[derive(Debug, Clone, Default)]
pub struct InputBaseline {
    numeric: Vec<Column>,
    /// The first vector column, compared by its norm; named `COLUMN.norm`.
    vector: Option<Column>,
}

impl InputBaseline {
    /// The numeric feature columns of `profile`, in its column order, and its first vector
    /// column.
    #[must_use]
    pub fn of(profile: &Profile) -> Self {
        let numeric = profile
            .columns
            .iter()
            .filter(|column| column.role == Role::Feature)
            .filter_map(|column| match &column.stats {
                ColumnStats::Numeric(stats) if stats.quantiles.count() > 0 => Some(Column {
                    name: column.name.clone(),
                    stats: stats.clone(),
                }),
                _ => None,
            })
            .collect();
        let vector = profile
            .columns
            .iter()
            .find_map(|column| match &column.stats {
                ColumnStats::Vector(stats) if stats.norm.quantiles.count() > 0 => Some(Column {
                    name: format!("{}.norm", column.name),
                    stats: stats.norm.clone(),
                }),
                _ => None,
            });
        Self { numeric, vector }
    }

    /// Whether the profile has no column to compare inputs with.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.numeric.is_empty() && self.vector.is_none()
    }

    /// The names of the compared columns: the numeric ones in order, then the embedding's norm.
    #[must_use]
    pub fn columns(&self) -> Vec<&str> {
        self.numeric
            .iter()
            .chain(&self.vector)
            .map(|column| column.name.as_str())
            .collect()
    }

    /// The drift of these inputs (one window's) from the baseline.
    #[must_use]
    pub fn drift(&self, inputs: &[Inputs], thresholds: &Thresholds) -> InputDrift {
        let mut numeric = vec![NumericStats::default(); self.numeric.len()];
        let mut norms = NumericStats::default();
        let mut events = 0;
        let mut unmatched = 0;
        for input in inputs {
            if input.features.is_none() && input.fields.is_none() {
                continue;
            }
            events += 1;
            let mut matched = false;
            if let Some(features) = &input.features {
                if features.len() == self.numeric.len() && !self.numeric.is_empty() {
                    for (stats, value) in numeric.iter_mut().zip(features) {
                        stats.add(*value);
                    }
                    matched = true;
                } else if self.vector.is_some() {
                    norms.add(
                        features
                            .iter()
                            .map(|value| value * value)
                            .sum::<f64>()
                            .sqrt(),
                    );
                    matched = true;
                }
            }
            for (name, value) in input.fields.iter().flatten() {
                if let Some(index) = self.numeric.iter().position(|column| &column.name == name) {
                    numeric[index].add(*value);
                    matched = true;
                }
            }
            unmatched += usize::from(!matched);
        }
        let always_ks = Thresholds {
            small_sample: u64::MAX,
            ..thresholds.clone()
        };
        let never_ks = Thresholds {
            small_sample: 0,
            ..thresholds.clone()
        };
        let columns = self
            .numeric
            .iter()
            .zip(&numeric)
            .chain(self.vector.iter().map(|column| (column, &norms)))
            .filter_map(|(column, now)| {
                let mut decided = numeric_drift(&column.name, &column.stats, now, thresholds)?;
                let statistic = |thresholds: &Thresholds| {
                    numeric_drift(&column.name, &column.stats, now, thresholds)
                        .map_or(f64::NAN, |drift| drift.value)
                };
                let wasserstein = statistic(&never_ks);
                decided.drifted &= wasserstein > thresholds.wasserstein;
                Some(FeatureDrift {
                    ks_p_value: statistic(&always_ks),
                    wasserstein,
                    decided,
                })
            })
            .collect();
        InputDrift {
            events,
            unmatched,
            columns,
            drift_share: thresholds.drift_share,
        }
    }
}

/// The drift of one window's inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputDrift {
    /// Events of the window that carried inputs.
    pub events: usize,
    /// Of them, those whose inputs matched no baseline column (a `features` list of another
    /// length without an embedding column, `fields` naming no column).
    pub unmatched: usize,
    /// The drift of every column that got values, in the baseline's order.
    pub columns: Vec<FeatureDrift>,
    /// The share of drifted columns at which the inputs drifted (`antidote check`'s).
    pub drift_share: f64,
}

/// The drift of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    /// The statistic `antidote check` decides by at this window's size (`ks-p-value` or
    /// `wasserstein`), its threshold, and whether the column drifted: by that test, with the
    /// Wasserstein distance above its threshold.
    pub decided: ColumnDrift,
    /// The two-sample Kolmogorov-Smirnov p-value.
    pub ks_p_value: f64,
    /// The Wasserstein distance in baseline standard deviations.
    pub wasserstein: f64,
}

impl InputDrift {
    /// Columns that drifted.
    #[must_use]
    pub fn drifted(&self) -> usize {
        self.columns
            .iter()
            .filter(|column| column.decided.drifted)
            .count()
    }

    /// The share of compared columns that drifted (0 without any).
    #[must_use]
    pub fn drifted_share(&self) -> f64 {
        if self.columns.is_empty() {
            0.0
        } else {
            self.drifted() as f64 / self.columns.len() as f64
        }
    }

    /// The `input_drift` alert: at least `drift_share` of the compared columns drifted, on a
    /// full window.
    #[must_use]
    pub fn alert(&self, full: bool) -> AlertState {
        let share = self.drifted_share();
        AlertState {
            alert: AlertName::InputDrift,
            rule: AlertRule::Threshold,
            firing: full && self.drifted() > 0 && share >= self.drift_share,
            value: share,
            bound: Some(self.drift_share),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    use antidote_core::SplitMix64;
    use antidote_data::{Dataset, ReadOptions};

    /// A standard normal by Box-Muller.
    fn normal(random: &mut SplitMix64) -> f64 {
        let uniform = |random: &mut SplitMix64| {
            ((random.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (u, v) = (uniform(random), uniform(random));
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// The profile of 3,000 records: `age` ~ N(40, 10), `income` ~ N(50, 5), an id and a label.
    fn profile(dir: &std::path::Path) -> Profile {
        let mut random = SplitMix64::new(3);
        let mut csv = String::from("id,age,income,label\n");
        for index in 0..3000 {
            let age = 40.0 + 10.0 * normal(&mut random);
            let income = 50.0 + 5.0 * normal(&mut random);
            writeln!(csv, "r{index},{age},{income},{}", index % 2).unwrap();
        }
        let path = dir.join("train.csv");
        std::fs::write(&path, csv).unwrap();
        let dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
        Profile::of_dataset(dataset, &antidote_core::NoProgress).unwrap()
    }

    fn window(random: &mut SplitMix64, shift: f64) -> Vec<Inputs> {
        (0..1000)
            .map(|index| {
                let age = 40.0 + 10.0 * normal(random) + 10.0 * shift;
                let income = 50.0 + 5.0 * normal(random) + 5.0 * shift;
                if index % 2 == 0 {
                    Inputs {
                        features: Some(vec![age, income]),
                        fields: None,
                    }
                } else {
                    Inputs {
                        features: None,
                        fields: Some(
                            [("age".to_owned(), age), ("income".to_owned(), income)].into(),
                        ),
                    }
                }
            })
            .collect()
    }

    #[test]
    fn the_feature_columns_are_the_numeric_ones_a_model_reads() {
        let dir = tempfile::tempdir().unwrap();
        let baseline = InputBaseline::of(&profile(dir.path()));
        assert_eq!(baseline.columns(), ["age", "income"]);
    }

    #[test]
    fn stationary_inputs_do_not_drift_and_shifted_ones_do() {
        let dir = tempfile::tempdir().unwrap();
        let baseline = InputBaseline::of(&profile(dir.path()));
        let thresholds = Thresholds::default();
        let mut random = SplitMix64::new(11);
        let mut alarms = 0;
        for _ in 0..20 {
            let drift = baseline.drift(&window(&mut random, 0.0), &thresholds);
            assert_eq!((drift.events, drift.unmatched), (1000, 0));
            assert_eq!(drift.columns.len(), 2);
            for column in &drift.columns {
                assert_eq!(column.decided.statistic, "ks-p-value");
                assert!((column.decided.value - column.ks_p_value).abs() < 1e-12);
                // The distance decides only on larger windows: here it is sampling noise.
                assert!(column.wasserstein < 0.25, "{column:?}");
            }
            alarms += usize::from(drift.alert(true).firing);
        }
        // Both columns must drift in the same window, by the KS test and by a material distance.
        // Measured: 1 of the 20 windows (the KS test on sketches is anti-conservative, see the
        // module's documentation); a detector that drifts on noise alarms on most.
        assert!(alarms <= 2, "{alarms} of 20 stationary windows alarmed");

        // A shift of half a standard deviation in both columns.
        let drift = baseline.drift(&window(&mut random, 0.5), &thresholds);
        assert_eq!(drift.drifted(), 2, "{drift:?}");
        for column in &drift.columns {
            assert!(column.ks_p_value < 1e-6, "{column:?}");
            assert!(column.wasserstein > 0.4, "{column:?}");
        }
        let alert = drift.alert(true);
        assert!(alert.firing);
        assert!((alert.value - 1.0).abs() < 1e-12, "{alert:?}");
        assert!(alert.bound.is_some_and(|bound| (bound - 0.5).abs() < 1e-12));
        assert!(
            !drift.alert(false).firing,
            "a window not yet full does not alert"
        );
    }

    #[test]
    fn inputs_of_another_shape_are_counted_unmatched() {
        let dir = tempfile::tempdir().unwrap();
        let baseline = InputBaseline::of(&profile(dir.path()));
        let inputs = [
            Inputs {
                features: Some(vec![1.0, 2.0, 3.0]),
                fields: None,
            },
            Inputs {
                features: None,
                fields: Some([("height".to_owned(), 1.8)].into()),
            },
            Inputs::default(),
        ];
        let drift = baseline.drift(&inputs, &Thresholds::default());
        assert_eq!((drift.events, drift.unmatched), (2, 2));
        assert!(drift.columns.is_empty());
        assert!(!drift.alert(true).firing);
    }
}
