//! The per-class geometry the backdoor detectors share: a class's records in representation
//! space, centred, and their principal directions.
//!
//! A backdoor makes the network represent the poisoned records of the target class by the
//! trigger rather than by their content, so inside that class they form a second, compact
//! population. Spectral signatures look for it along the top principal direction, activation
//! clustering in the top few.

use antidote_core::SplitMix64;
use antidote_core::display::percent;
use faer::{Mat, Side};

/// A class's records, centred on the class mean, in `f64`.
pub(crate) struct ClassCloud {
    /// The records' indices in the dataset.
    pub indices: Vec<usize>,
    /// Row-major, `indices.len()` rows of `width`.
    pub centred: Vec<f64>,
    pub width: usize,
}

impl ClassCloud {
    /// The records labelled `class`, centred.
    pub fn of_class(
        representation: &[f32],
        width: usize,
        labels: &[usize],
        class: usize,
    ) -> ClassCloud {
        let indices: Vec<usize> = (0..labels.len())
            .filter(|&row| labels[row] == class)
            .collect();
        let mut mean = vec![0.0f64; width];
        for &row in &indices {
            for (total, &value) in mean
                .iter_mut()
                .zip(&representation[row * width..(row + 1) * width])
            {
                *total += f64::from(value);
            }
        }
        let count = indices.len().max(1) as f64;
        for total in &mut mean {
            *total /= count;
        }
        let mut centred = Vec::with_capacity(indices.len() * width);
        for &row in &indices {
            centred.extend(
                representation[row * width..(row + 1) * width]
                    .iter()
                    .zip(&mean)
                    .map(|(&value, centre)| f64::from(value) - centre),
            );
        }
        ClassCloud {
            indices,
            centred,
            width,
        }
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn row(&self, row: usize) -> &[f64] {
        &self.centred[row * self.width..(row + 1) * self.width]
    }

    /// The `count` leading principal directions (unit vectors, largest variance first) and
    /// their variances, from the eigendecomposition of the covariance matrix. Each direction's
    /// sign is fixed so that its largest component is positive, so results do not depend on
    /// the eigensolver's sign convention.
    pub fn principal_directions(&self, count: usize) -> Vec<(Vec<f64>, f64)> {
        let width = self.width;
        let rows = self.len();
        if rows == 0 || width == 0 {
            return Vec::new();
        }
        let data = Mat::from_fn(rows, width, |row, column| {
            self.centred[row * width + column]
        });
        let covariance = data.transpose() * &data * (1.0 / rows as f64);
        let Ok(eigen) = covariance.self_adjoint_eigen(Side::Lower) else {
            return Vec::new();
        };
        let vectors = eigen.U();
        let values = eigen.S().column_vector();
        (0..count.min(width))
            .map(|rank| {
                let column = width - 1 - rank;
                let mut direction: Vec<f64> =
                    (0..width).map(|row| vectors[(row, column)]).collect();
                let largest = direction
                    .iter()
                    .copied()
                    .max_by(|a, b| a.abs().total_cmp(&b.abs()))
                    .unwrap_or(0.0);
                if largest < 0.0 {
                    for value in &mut direction {
                        *value = -*value;
                    }
                }
                (direction, values[column].max(0.0))
            })
            .collect()
    }

    /// Each record's coordinate along `direction`.
    pub fn project(&self, direction: &[f64]) -> Vec<f64> {
        (0..self.len())
            .map(|row| {
                self.row(row)
                    .iter()
                    .zip(direction)
                    .map(|(value, weight)| value * weight)
                    .sum()
            })
            .collect()
    }
}

/// The best split of numbers into a low and a high group (exact 1-D 2-means, the split that
/// minimises the within-group sum of squares).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Split {
    /// Values at or above this belong to the high group.
    pub cut: f64,
    /// Records in the low group.
    pub low_count: usize,
    /// Records in the high group.
    pub high_count: usize,
    /// The distance between the groups' means in units of their pooled standard deviation.
    pub separation: f64,
}

impl Split {
    /// The exact 2-means split of `values` (at least two distinct values), or `None`.
    pub fn of(values: &[f64]) -> Option<Split> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let count = sorted.len();
        if count < 4 || sorted[count - 1] <= sorted[0] {
            return None;
        }
        let mut prefix = Vec::with_capacity(count + 1);
        let mut prefix_squares = Vec::with_capacity(count + 1);
        prefix.push(0.0);
        prefix_squares.push(0.0);
        for value in &sorted {
            prefix.push(prefix[prefix.len() - 1] + value);
            prefix_squares.push(prefix_squares[prefix_squares.len() - 1] + value * value);
        }
        let within = |from: usize, to: usize| {
            let size = (to - from) as f64;
            let sum = prefix[to] - prefix[from];
            (prefix_squares[to] - prefix_squares[from] - sum * sum / size).max(0.0)
        };
        let mut best: Option<(f64, usize)> = None;
        for low in 1..count {
            if sorted[low] <= sorted[low - 1] {
                continue;
            }
            let cost = within(0, low) + within(low, count);
            if best.is_none_or(|(best_cost, _)| cost < best_cost) {
                best = Some((cost, low));
            }
        }
        let (cost, low) = best?;
        let low_mean = prefix[low] / low as f64;
        let high_mean = (prefix[count] - prefix[low]) / (count - low) as f64;
        let pooled = (cost / (count - 2) as f64).sqrt();
        Some(Split {
            cut: sorted[low],
            low_count: low,
            high_count: count - low,
            separation: if pooled > 0.0 {
                (high_mean - low_mean) / pooled
            } else {
                f64::INFINITY
            },
        })
    }
}

/// Two-means clustering (Lloyd's algorithm with k-means++ seeding, Arthur and Vassilvitskii
/// 2007) of row-major points, the best of `restarts` seeded runs. Returns each point's cluster
/// (0 or 1) and the within-cluster sum of squares.
pub(crate) fn two_means(
    points: &[f64],
    width: usize,
    seed: u64,
    restarts: usize,
) -> (Vec<u8>, f64) {
    let count = points.len() / width.max(1);
    let point = |row: usize| &points[row * width..(row + 1) * width];
    let distance =
        |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum() };
    let mut best: (Vec<u8>, f64) = (vec![0; count], f64::INFINITY);
    if count < 2 {
        return best;
    }
    let mut random = SplitMix64::derived(seed, "two-means");
    for _ in 0..restarts.max(1) {
        let first = random.below(count);
        let weights: Vec<f64> = (0..count)
            .map(|row| distance(point(row), point(first)))
            .collect();
        let total: f64 = weights.iter().sum();
        let second = if total > 0.0 {
            let mut target = random.unit() * total;
            let mut chosen = count - 1;
            for (row, weight) in weights.iter().enumerate() {
                if target < *weight {
                    chosen = row;
                    break;
                }
                target -= weight;
            }
            chosen
        } else {
            (first + 1) % count
        };
        let mut centres = [point(first).to_vec(), point(second).to_vec()];
        let mut assignment = vec![0u8; count];
        for _ in 0..100 {
            let mut changed = false;
            for (row, cluster) in assignment.iter_mut().enumerate() {
                let nearest =
                    u8::from(distance(point(row), &centres[1]) < distance(point(row), &centres[0]));
                if *cluster != nearest {
                    *cluster = nearest;
                    changed = true;
                }
            }
            let mut sums = [vec![0.0; width], vec![0.0; width]];
            let mut sizes = [0usize; 2];
            for (row, &cluster) in assignment.iter().enumerate() {
                sizes[cluster as usize] += 1;
                for (total, value) in sums[cluster as usize].iter_mut().zip(point(row)) {
                    *total += value;
                }
            }
            for cluster in 0..2 {
                if sizes[cluster] > 0 {
                    centres[cluster] = sums[cluster]
                        .iter()
                        .map(|total| total / sizes[cluster] as f64)
                        .collect();
                }
            }
            if !changed {
                break;
            }
        }
        let inertia: f64 = assignment
            .iter()
            .enumerate()
            .map(|(row, &cluster)| distance(point(row), &centres[cluster as usize]))
            .sum();
        if inertia < best.1 {
            best = (assignment, inertia);
        }
    }
    best
}

/// The mean silhouette (Rousseeuw 1987) of a two-cluster assignment, over a seeded sample of at
/// most `sample` points: near 1 for two compact, distant clusters, near 0 for one blob cut in two.
pub(crate) fn silhouette(
    points: &[f64],
    width: usize,
    assignment: &[u8],
    sample: usize,
    seed: u64,
) -> f64 {
    let count = assignment.len();
    let chosen = SplitMix64::derived(seed, "silhouette").sample(count, sample);
    let point = |row: usize| &points[row * width..(row + 1) * width];
    let distance = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    };
    let mut total = 0.0;
    let mut counted = 0usize;
    for &row in &chosen {
        let mut sums = [0.0f64; 2];
        let mut sizes = [0usize; 2];
        for &other in &chosen {
            if other != row {
                let cluster = assignment[other] as usize;
                sums[cluster] += distance(point(row), point(other));
                sizes[cluster] += 1;
            }
        }
        let own = assignment[row] as usize;
        if sizes[own] == 0 || sizes[1 - own] == 0 {
            continue;
        }
        let inside = sums[own] / sizes[own] as f64;
        let outside = sums[1 - own] / sizes[1 - own] as f64;
        let largest = inside.max(outside);
        if largest > 0.0 {
            total += (outside - inside) / largest;
        }
        counted += 1;
    }
    if counted == 0 {
        0.0
    } else {
        total / counted as f64
    }
}

/// What exclusionary reclassification says about a suspicious group of one class.
pub(crate) struct Reclassified {
    /// Each group member's class by a model trained without the group, in group order; `None`
    /// when no reclassifier was given or it failed.
    pub predictions: Option<Vec<usize>>,
    /// The share of the group called by another class than its label.
    pub other_share: f64,
    /// The class most of the others are called by.
    pub usual_other: Option<usize>,
    /// The share of the others that `usual_other` takes.
    pub usual_other_share: f64,
    /// Why there are no predictions, when the reclassifier failed.
    pub failure: Option<String>,
}

impl Reclassified {
    /// What a model trained without a group labelled `class` called its members.
    fn of(predictions: Vec<usize>, class: usize, class_count: usize) -> Self {
        let mut counts = vec![0usize; class_count.max(1)];
        for &prediction in &predictions {
            if prediction < counts.len() {
                counts[prediction] += 1;
            }
        }
        let others = predictions
            .iter()
            .filter(|&&prediction| prediction != class)
            .count();
        let usual_other = (0..counts.len())
            .filter(|&other| other != class && counts[other] > 0)
            .max_by_key(|&other| (counts[other], std::cmp::Reverse(other)));
        Reclassified {
            other_share: others as f64 / predictions.len().max(1) as f64,
            predictions: Some(predictions),
            usual_other_share: usual_other
                .map_or(0.0, |other| counts[other] as f64 / others.max(1) as f64),
            usual_other,
            failure: None,
        }
    }

    /// No reclassification (no reclassifier, or it failed with `failure`).
    fn none(failure: Option<String>) -> Self {
        Reclassified {
            predictions: None,
            other_share: f64::NAN,
            usual_other: None,
            usual_other_share: f64::NAN,
            failure,
        }
    }
}

/// Asks `reclassifier` about each group of `groups` (dataset indices, each group labelled its
/// class, the classes distinct), all at once.
pub(crate) fn reclassify_groups(
    reclassifier: Option<&dyn crate::Reclassifier>,
    groups: &[(&[usize], usize)],
    class_count: usize,
) -> Vec<Reclassified> {
    let Some(reclassifier) = reclassifier else {
        return groups.iter().map(|_| Reclassified::none(None)).collect();
    };
    let members: Vec<&[usize]> = groups.iter().map(|&(group, _)| group).collect();
    reclassifier
        .reclassify_each(&members)
        .into_iter()
        .zip(groups)
        .map(|(called, &(_, class))| match called {
            Ok(predictions) => Reclassified::of(predictions, class, class_count),
            Err(error) => Reclassified::none(Some(error.to_string())),
        })
        .collect()
}

/// The share of a group a model trained without it must call another class for the group to be
/// a backdoor's. Measured on Fashion-MNIST with the built-in network: poisoned groups (a 4x4
/// patch or a blended pattern on 5% of the data) are called another class at 74-100%, natural sub-groups of clean
/// classes at 63-86% (the 86% one holds 41% of its class, above the largest share a candidate may
/// hold). A simple majority let natural sub-groups through.
///
/// On small image sets the two ranges meet: among 6,000 Fashion-MNIST images poisoned with a
/// patch, a blend or flipped labels, natural sub-groups of confusable classes (coats that look
/// like shirts) were called another class at 74-89%, poisoned groups at 74-92%. Their records
/// lean on one neighbour (the usual other class takes 26-40% of them, against 13-20% for a
/// backdoor drawn from every class), which the explanation reports; it does not decide, because
/// a backdoor drawn from one source class leans on one neighbour too.
const MIN_OTHER_SHARE: f64 = 0.7;

/// How much more often than before a model trained on every record must call records of other
/// classes the group's label once the group's shared component is added to them
/// ([`Reclassifier::transfer`](crate::Reclassifier::transfer)). Reclassification alone does not
/// tell a backdoor from an unusual way of writing or making a class: a model trained without 36
/// clean `9`s of scikit-learn's digits that lean like other digits calls 86% of them another
/// class. What the members share beyond their apparent classes is a trigger for a backdoor, a
/// style for a natural sub-group, and only a trigger carries records of other classes over.
const MIN_TRANSFER_LIFT: f64 = 0.5;

/// A class's candidate poisoned group, as a backdoor detector found it.
pub(crate) struct Candidate {
    pub class: usize,
    pub class_size: usize,
    /// Dataset indices of the group.
    pub group: Vec<usize>,
    /// The detector's statistic (separation, silhouette).
    pub statistic: f64,
    /// Whether the geometry alone passes the detector's floor.
    pub passes_floor: bool,
    /// Whether the geometry is strong enough to stand without a reclassifier.
    pub strong: bool,
    /// How the detector describes the group ("form a separate group along the top principal
    /// direction (separation 9.1)").
    pub description: String,
}

/// Turns candidates into class verdicts and flags: a class is suspicious when its group passes
/// the geometric floor and, with a reclassifier, at least 70% of the group is called another
/// class by a model that did not learn from it and what the group shares carries records of
/// other classes over to its label (without one, when the geometry is strong).
#[expect(
    clippy::too_many_lines,
    reason = "one verdict per candidate, with its sentence for each outcome"
)]
pub(crate) fn judge(
    candidates: Vec<Candidate>,
    reclassifier: Option<&dyn crate::Reclassifier>,
    class_names: &[String],
    report: &mut crate::DetectorReport,
) {
    let name = |class: usize| {
        class_names
            .get(class)
            .map_or_else(|| class.to_string(), Clone::clone)
    };
    // Every group that passes its floor is reclassified at once: the models train together.
    let to_reclassify: Vec<(&[usize], usize)> = candidates
        .iter()
        .filter(|candidate| candidate.passes_floor)
        .map(|candidate| (candidate.group.as_slice(), candidate.class))
        .collect();
    let mut verdicts =
        reclassify_groups(reclassifier, &to_reclassify, class_names.len()).into_iter();
    for candidate in candidates {
        let class_name = name(candidate.class);
        let group_size = candidate.group.len();
        if !candidate.passes_floor {
            report.classes.push(crate::ClassVerdict {
                class: candidate.class,
                suspicious: false,
                statistic: candidate.statistic,
                flagged: 0,
                explanation: format!(
                    "`{class_name}`: no separate group ({} records {})",
                    group_size, candidate.description
                ),
            });
            continue;
        }
        let verdict = verdicts.next().unwrap_or_else(|| Reclassified::none(None));
        if let Some(failure) = &verdict.failure {
            report.notes.push(format!(
                "`{class_name}`: reclassification failed: {failure}"
            ));
        }
        // The transfer test runs only for groups reclassification calls another class.
        let transfer = match (&verdict.predictions, reclassifier) {
            (Some(predictions), Some(reclassifier)) if verdict.other_share >= MIN_OTHER_SHARE => {
                match reclassifier.transfer(&candidate.group, predictions, candidate.class) {
                    Ok(transfer) => Some(transfer),
                    Err(error) => {
                        report
                            .notes
                            .push(format!("`{class_name}`: the transfer test failed: {error}"));
                        None
                    }
                }
            }
            _ => None,
        };
        let transfers = transfer.is_some_and(|transfer| {
            transfer.stamped > 0 && transfer.share - transfer.baseline >= MIN_TRANSFER_LIFT
        });
        let suspicious = match &verdict.predictions {
            Some(_) => verdict.other_share >= MIN_OTHER_SHARE && transfers,
            None => candidate.strong,
        };
        // Called another class but not carried over by what it shares: not a trigger. When a
        // model trained without the group calls most of it one other class, the group looks like
        // that class as a whole: relabelled together (a pair flip), or a neighbour's look-alikes.
        // Its members called another class than their label are flagged for the policy, with the
        // group's pair, which quarantines them only where the label issues of that class pair are
        // concentrated beyond natural noise.
        // The share of the whole group the usual other class takes.
        let usual_share = verdict.other_share * verdict.usual_other_share;
        let relabelled = match (&verdict.predictions, verdict.usual_other) {
            (Some(_), Some(other))
                if !suspicious && transfer.is_some() && usual_share >= MIN_OTHER_SHARE =>
            {
                Some(other)
            }
            _ => None,
        };
        let mut flagged = 0;
        if let (Some(other), Some(predictions)) = (relabelled, &verdict.predictions) {
            for (position, &index) in candidate.group.iter().enumerate() {
                if predictions[position] == candidate.class {
                    continue;
                }
                report.flags.push(
                    crate::Flag::new(
                        index,
                        0.5,
                        format!(
                            "labelled `{class_name}`, one of {group_size} records that {}; a model trained without them calls it `{}` and {} of them `{}`, though what they share carries no other record over: relabelled together, or look-alikes of `{}`",
                            candidate.description,
                            name(predictions[position]),
                            percent(usual_share),
                            name(other),
                            name(other)
                        ),
                    )
                    .with_basis(crate::Basis::Relabelled {
                        given: candidate.class,
                        suggested: other,
                    }),
                );
                flagged += 1;
            }
        }
        if suspicious {
            for (position, &index) in candidate.group.iter().enumerate() {
                let (confidence, evidence) = match &verdict.predictions {
                    Some(predictions) if predictions[position] != candidate.class => (
                        0.95,
                        format!(
                            "labelled `{class_name}`, one of {group_size} records that {}; a model trained without them calls it `{}`",
                            candidate.description,
                            name(predictions[position])
                        ),
                    ),
                    Some(_) => (
                        0.35,
                        format!(
                            "labelled `{class_name}`, one of {group_size} records that {}, though a model trained without them still calls it `{class_name}`",
                            candidate.description
                        ),
                    ),
                    None => (
                        0.8,
                        format!(
                            "labelled `{class_name}`, one of {group_size} records that {}",
                            candidate.description
                        ),
                    ),
                };
                report
                    .flags
                    .push(crate::Flag::new(index, confidence, evidence));
                flagged += 1;
            }
        }
        let carried = |transfer: crate::Transfer| {
            format!(
                "what they share beyond the classes they were called, added to {} records of other classes, makes a model of all the data call {} of them `{class_name}` ({} before)",
                transfer.stamped,
                percent(transfer.share),
                percent(transfer.baseline)
            )
        };
        let explanation = match (&verdict.predictions, suspicious, transfer) {
            (Some(_), true, Some(transfer)) => format!(
                "`{class_name}`: {group_size} of {} records {}; a model trained without them calls {} of them another class ({} of those `{}`), and {}: a backdoor's trigger",
                candidate.class_size,
                candidate.description,
                percent(verdict.other_share),
                percent(verdict.usual_other_share),
                verdict.usual_other.map_or_else(|| "?".to_owned(), name),
                carried(transfer)
            ),
            (Some(_), false, Some(transfer)) => match relabelled {
                Some(other) => format!(
                    "`{class_name}`: {group_size} of {} records {}; a model trained without them calls {} of them `{}`, but {}, short of the {} more a trigger carries: not a trigger; relabelled together or look-alikes of `{}` (quarantined only where the label issues of the pair are concentrated)",
                    candidate.class_size,
                    candidate.description,
                    percent(usual_share),
                    name(other),
                    carried(transfer),
                    percent(MIN_TRANSFER_LIFT),
                    name(other)
                ),
                None => format!(
                    "`{class_name}`: {group_size} of {} records {}; a model trained without them calls {} of them another class, but {}, short of the {} more a trigger carries: a natural sub-group",
                    candidate.class_size,
                    candidate.description,
                    percent(verdict.other_share),
                    carried(transfer),
                    percent(MIN_TRANSFER_LIFT)
                ),
            },
            (Some(_), _, _) => format!(
                "`{class_name}`: {group_size} of {} records {}, but a model trained without them still calls {} of them `{class_name}`: a natural sub-group",
                candidate.class_size,
                candidate.description,
                percent(1.0 - verdict.other_share)
            ),
            (None, true, _) => format!(
                "`{class_name}`: {group_size} of {} records {}, strongly enough to flag without a reclassification",
                candidate.class_size, candidate.description
            ),
            (None, false, _) => format!(
                "`{class_name}`: {group_size} of {} records {}; not confirmed (no reclassification)",
                candidate.class_size, candidate.description
            ),
        };
        report.classes.push(crate::ClassVerdict {
            class: candidate.class,
            suspicious,
            statistic: candidate.statistic,
            flagged,
            explanation,
        });
    }
    report.flags.sort_by_key(|flag| flag.index);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reclassifier with fixed answers: the group's members are called `called`, in turn.
    struct Fixed {
        called: Vec<usize>,
        transfer: crate::Transfer,
    }

    impl crate::Reclassifier for Fixed {
        fn reclassify(&self, excluded: &[usize]) -> Result<Vec<usize>, crate::PredictError> {
            Ok((0..excluded.len())
                .map(|position| self.called[position % self.called.len()])
                .collect())
        }

        fn transfer(
            &self,
            _group: &[usize],
            _predictions: &[usize],
            _class: usize,
        ) -> Result<crate::Transfer, crate::PredictError> {
            Ok(self.transfer)
        }
    }

    #[test]
    fn a_group_called_another_class_is_a_backdoor_only_when_what_it_shares_transfers() {
        let verdict = |share: f64, called: Vec<usize>| {
            let candidate = Candidate {
                class: 1,
                class_size: 50,
                group: vec![3, 4, 5],
                statistic: 5.0,
                passes_floor: true,
                strong: false,
                description: "form a group".to_owned(),
            };
            let reclassifier = Fixed {
                called,
                transfer: crate::Transfer {
                    stamped: 100,
                    share,
                    baseline: 0.02,
                },
            };
            let mut report = crate::DetectorReport::new(crate::DetectorId::SpectralSignatures);
            judge(
                vec![candidate],
                Some(&reclassifier),
                &[
                    "a".to_owned(),
                    "b".to_owned(),
                    "c".to_owned(),
                    "d".to_owned(),
                ],
                &mut report,
            );
            report
        };
        // A style: every member called another class by a model without them, spread over the
        // classes, and adding what they share to other records makes few of them `b`.
        let natural = verdict(0.3, vec![0, 2, 3]);
        assert!(!natural.classes[0].suspicious && natural.flags.is_empty());
        assert!(
            natural.classes[0].explanation.contains("natural sub-group"),
            "{}",
            natural.classes[0].explanation
        );
        // Every member called `a`, and nothing carried over: a group relabelled together (or
        // look-alikes of `a`), flagged with that basis for the policy, not as a backdoor.
        let relabelled = verdict(0.3, vec![0]);
        assert!(!relabelled.classes[0].suspicious);
        assert_eq!(relabelled.flags.len(), 3);
        assert!(relabelled.flags.iter().all(|flag| flag.basis
            == crate::Basis::Relabelled {
                given: 1,
                suggested: 0
            }));
        assert!(
            relabelled.classes[0].explanation.contains("not a trigger"),
            "{}",
            relabelled.classes[0].explanation
        );
        let trigger = verdict(0.9, vec![0]);
        assert!(trigger.classes[0].suspicious);
        assert_eq!(trigger.flags.len(), 3);
        assert!(trigger.flags.iter().all(|flag| flag.basis.is_detector()));
        assert!(
            trigger.classes[0].explanation.contains("trigger"),
            "{}",
            trigger.classes[0].explanation
        );
    }

    #[test]
    fn split_finds_the_gap_between_two_groups() {
        let mut values: Vec<f64> = (0..90).map(|i| f64::from(i % 10) * 0.1).collect();
        values.extend((0..10).map(|i| 10.0 + f64::from(i) * 0.1));
        let split = Split::of(&values).unwrap();
        assert_eq!((split.low_count, split.high_count), (90, 10));
        assert!((split.cut - 10.0).abs() < 1e-12, "{}", split.cut);
        assert!(split.separation > 20.0, "{}", split.separation);
        // One uniform group splits in the middle with a modest separation.
        let uniform: Vec<f64> = (0..100).map(f64::from).collect();
        let split = Split::of(&uniform).unwrap();
        assert!(split.separation < 4.0, "{}", split.separation);
        assert!(Split::of(&[1.0; 10]).is_none());
    }

    #[test]
    fn principal_direction_of_an_elongated_cloud() {
        // Points along (1, 1) with a little spread along (1, -1).
        let representation: Vec<f32> = (0..50)
            .flat_map(|i| {
                let along = i as f32 - 25.0;
                let across = if i % 2 == 0 { 0.5 } else { -0.5 };
                [along + across, along - across]
            })
            .collect();
        let labels = vec![0; 50];
        let cloud = ClassCloud::of_class(&representation, 2, &labels, 0);
        let directions = cloud.principal_directions(1);
        let (direction, variance) = &directions[0];
        let half = std::f64::consts::FRAC_1_SQRT_2;
        assert!((direction[0] - half).abs() < 1e-2 && (direction[1] - half).abs() < 1e-2);
        assert!(*variance > 100.0);
    }

    #[test]
    fn two_means_separates_two_blobs_and_silhouette_sees_it() {
        let mut random = SplitMix64::new(5);
        let mut points = Vec::new();
        for row in 0..200 {
            let centre = if row < 170 { 0.0 } else { 8.0 };
            points.push(centre + random.normal());
            points.push(random.normal());
        }
        let (assignment, _) = two_means(&points, 2, 1, 3);
        let small = assignment[199];
        assert!(assignment[170..].iter().all(|&c| c == small));
        assert!(assignment[..170].iter().all(|&c| c != small));
        assert!(silhouette(&points, 2, &assignment, 200, 1) > 0.6);

        let blob: Vec<f64> = (0..400).map(|_| random.normal()).collect();
        let (assignment, _) = two_means(&blob, 2, 1, 3);
        assert!(silhouette(&blob, 2, &assignment, 200, 1) < 0.5);
    }
}
