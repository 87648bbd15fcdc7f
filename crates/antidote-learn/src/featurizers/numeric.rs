//! Numbers, standardised to zero mean and unit variance.

use antidote_data::Value;

/// The number in a value: integers, floats and booleans, and text that parses as a number.
/// Missing, non-numeric and non-finite values give `None`.
pub(crate) fn number(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Text(text) => text.trim().parse().ok()?,
        other => other.as_f64()?,
    };
    number.is_finite().then_some(number)
}

/// Mean and variance in one pass, by Welford's update (Welford, 1962, "Note on a method for
/// calculating corrected sums of squares and products"), which keeps its precision where the
/// textbook sum of squares cancels.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NumericStats {
    count: u64,
    mean: f64,
    sum_of_squared_deviations: f64,
}

impl NumericStats {
    pub(crate) fn observe(&mut self, value: &Value) {
        if let Some(value) = number(value) {
            self.count += 1;
            let delta = value - self.mean;
            self.mean += delta / self.count as f64;
            self.sum_of_squared_deviations += delta * (value - self.mean);
        }
    }

    /// The standardisation learned: the population standard deviation (as scikit-learn's
    /// `StandardScaler`), and a scale of 1 for a constant column so that it becomes all zeros.
    pub(crate) fn finish(&self) -> Numeric {
        let variance = if self.count == 0 {
            0.0
        } else {
            self.sum_of_squared_deviations / self.count as f64
        };
        let deviation = variance.sqrt();
        Numeric {
            mean: self.mean,
            scale: if deviation > f64::EPSILON * self.mean.abs().max(1.0) {
                deviation
            } else {
                1.0
            },
        }
    }
}

/// A fitted standardisation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Numeric {
    pub(crate) mean: f64,
    pub(crate) scale: f64,
}

impl Numeric {
    /// The standardised value; a missing value becomes the mean, so 0.
    pub(crate) fn encode(&self, value: &Value) -> f32 {
        number(value).map_or(0.0, |value| ((value - self.mean) / self.scale) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_with_the_population_deviation() {
        let mut stats = NumericStats::default();
        for value in [2, 4, 4, 4, 5, 5, 7, 9] {
            stats.observe(&Value::Int(value));
        }
        stats.observe(&Value::Null);
        stats.observe(&Value::Text("n/a".into()));
        // Mean 5 and population standard deviation 2 (the textbook example).
        let numeric = stats.finish();
        assert!((numeric.mean - 5.0).abs() < 1e-12);
        assert!((numeric.scale - 2.0).abs() < 1e-12);
        assert!((numeric.encode(&Value::Int(9)) - 2.0).abs() < 1e-6);
        assert!((numeric.encode(&Value::Text(" 3 ".into())) + 1.0).abs() < 1e-6);
        assert!(numeric.encode(&Value::Null).abs() < f32::EPSILON);
        assert!(numeric.encode(&Value::Float(f64::NAN)).abs() < f32::EPSILON);
    }

    #[test]
    fn a_constant_column_becomes_zeros() {
        let mut stats = NumericStats::default();
        for _ in 0..3 {
            stats.observe(&Value::Float(0.1));
        }
        let numeric = stats.finish();
        assert!((numeric.scale - 1.0).abs() < f64::EPSILON);
        assert!(numeric.encode(&Value::Float(0.1)).abs() < f32::EPSILON);
        assert!((numeric.encode(&Value::Bool(true)) - 0.9).abs() < 1e-6);
    }
}
