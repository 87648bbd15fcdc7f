//! Temperature scaling: how far to soften (or sharpen) a model's probabilities so that they
//! match how often it is right.

/// The temperature `t` that makes `p^(1/t)`, renormalised, best predict the given labels
/// (lowest mean negative log-likelihood; Guo, Pleiss, Sun and Weinberger 2017, "On Calibration
/// of Modern Neural Networks"), searched by golden section over `ln t` in `[-2, 3]`. Above 1 the
/// model was over-confident.
///
/// `probabilities` is `labels.len() x classes`, row-major.
///
/// ```
/// use antidote_learn::{calibration_temperature, tempered};
///
/// // Right 7 times in 10, always at 0.95: over-confident.
/// let labels: Vec<usize> = (0..10).map(|row| row % 2).collect();
/// let probabilities: Vec<f64> = labels
///     .iter()
///     .enumerate()
///     .flat_map(|(row, &label)| {
///         let predicted = if row < 7 { label } else { 1 - label };
///         if predicted == 0 { [0.95, 0.05] } else { [0.05, 0.95] }
///     })
///     .collect();
/// let temperature = calibration_temperature(&labels, &probabilities, 2);
/// assert!(temperature > 2.0);
/// assert!((tempered(&probabilities[..2], 0, temperature) - 0.7).abs() < 0.01);
/// ```
#[must_use]
pub fn calibration_temperature(labels: &[usize], probabilities: &[f64], classes: usize) -> f64 {
    let loss = |log_temperature: f64| -> f64 {
        let temperature = log_temperature.exp();
        labels
            .iter()
            .enumerate()
            .map(|(index, &label)| {
                let row = &probabilities[index * classes..(index + 1) * classes];
                -tempered(row, label, temperature).max(1e-300).ln()
            })
            .sum::<f64>()
    };
    let ratio = (5.0_f64.sqrt() - 1.0) / 2.0;
    let (mut low, mut high) = (-2.0_f64, 3.0_f64);
    let mut left = high - ratio * (high - low);
    let mut right = low + ratio * (high - low);
    let (mut left_loss, mut right_loss) = (loss(left), loss(right));
    for _ in 0..40 {
        if left_loss <= right_loss {
            high = right;
            right = left;
            right_loss = left_loss;
            left = high - ratio * (high - low);
            left_loss = loss(left);
        } else {
            low = left;
            left = right;
            left_loss = right_loss;
            right = low + ratio * (high - low);
            right_loss = loss(right);
        }
    }
    f64::midpoint(low, high).exp()
}

/// The probability of `class` in `row` after tempering: `p^(1/t)`, renormalised.
#[must_use]
pub fn tempered(row: &[f64], class: usize, temperature: f64) -> f64 {
    let power = 1.0 / temperature;
    let floor = 1e-12_f64;
    let weights = row.iter().map(|&p| p.max(floor).powf(power));
    let total: f64 = weights.sum();
    row[class].max(floor).powf(power) / total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes; the model says 0.95 for its choice and is right on `right` of 100 records.
    fn confident(right: usize) -> (Vec<usize>, Vec<f64>) {
        let labels: Vec<usize> = (0..100).map(|index| index % 2).collect();
        let probabilities = labels
            .iter()
            .enumerate()
            .flat_map(|(index, &label)| {
                let predicted = if index < right { label } else { 1 - label };
                if predicted == 0 {
                    [0.95, 0.05]
                } else {
                    [0.05, 0.95]
                }
            })
            .collect();
        (labels, probabilities)
    }

    #[test]
    fn calibration_tempers_an_over_confident_model_and_keeps_an_honest_one() {
        // Right 95 times in 100 at 0.95: already calibrated.
        let (labels, probabilities) = confident(95);
        let honest = calibration_temperature(&labels, &probabilities, 2);
        assert!((honest - 1.0).abs() < 0.02, "{honest}");
        // Right 70 times in 100 at 0.95: the calibrated confidence is 0.70.
        let (labels, probabilities) = confident(70);
        let temperature = calibration_temperature(&labels, &probabilities, 2);
        assert!(temperature > 2.0, "{temperature}");
        let calibrated = tempered(&probabilities[..2], 0, temperature);
        assert!((calibrated - 0.7).abs() < 0.01, "{calibrated}");
    }
}
