//! Label issues concentrated beyond natural noise: the tests by which the policy tells a label
//! attack from the doubtful labels every real dataset has.
//!
//! Natural label noise is spread out: over sources in proportion to what they contributed, over
//! record positions as the data came, and over class pairs roughly symmetrically (a shirt that
//! looks like a t-shirt is as likely as a t-shirt that looks like a shirt). An attack
//! concentrates it. Three one-sided tests look for that, each a p-value compared with the
//! policy's significance after a Bonferroni correction over every test of its family:
//!
//! - **class pair**: of the label issues between classes `i` and `j`, the share labelled `i` and
//!   suggested `j` follows, under natural confusion, `Binomial(n_ij + n_ji, t_j / (t_i + t_j))`:
//!   a record truly of class `j` is labelled `i` at the same rate as one of `i` is labelled `j`
//!   (symmetric noise rates), and `t` are the class sizes once every issue is moved to the class
//!   the model suggests (the confident-learning estimate of the true sizes). Natural confusion is not exactly
//!   symmetric, so the counts are first divided by a dispersion estimated from all the pairs
//!   (quasi-binomial: the median squared Pearson residual over the median of a chi-squared with
//!   one degree of freedom, never below 1), so that a dataset whose confusions are all lopsided
//!   does not read as attacked; the tested pair is left out of its own dispersion, so a single
//!   flipped pair stands out from the rest. Tested in both
//!   directions: `K (K - 1)` tests for `K` classes.
//! - **source**: a source's label issues against what the whole data's per-class rates
//!   predict for its records, `Binomial(records, expected / records)`; one test per source.
//! - **window**: the same for windows of consecutive record positions (appended runs, a silent
//!   update), at halving sizes from half the data down to 1/64 of it (at least
//!   [`MIN_WINDOW`] records), each slid by half its size; one test per window. Of overlapping
//!   significant windows the most significant is kept.
//!
//! Expected counts are adjusted for class, so that a source or a stretch of the file that holds
//! more of a hard class is not mistaken for an attack. The binomial with the same mean is a
//! conservative stand-in for the sum of per-class Bernoulli trials (Hoeffding 1956).

use std::collections::BTreeMap;

use antidote_core::display::count;
use serde::{Deserialize, Serialize};
use statrs::function::beta::beta_reg;

/// The fewest records in a window of the position test.
pub const MIN_WINDOW: usize = 20;

/// The median of a chi-squared variable with one degree of freedom.
const CHI_SQUARED_1_MEDIAN: f64 = 0.454_936_423_119_572_8;

/// The fewest issues between two classes for their pair to inform the dispersion.
const DISPERSION_MIN_ISSUES: usize = 5;

/// One label issue: the record's position, its given class and the class the model suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issue {
    /// The record's index in the scanned order.
    pub index: usize,
    /// Its given class.
    pub given: usize,
    /// The class the model suggests.
    pub suggested: usize,
}

/// What a concentration is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Place {
    /// Records labelled `given` that the model calls `suggested`.
    ClassPair {
        /// The given class's name.
        given: String,
        /// The suggested class's name.
        suggested: String,
        /// Issues the other way: labelled `suggested`, called `given`.
        reverse: usize,
    },
    /// The records of one source.
    Source {
        /// The source's name.
        source: String,
    },
    /// Records at positions `first..=last` in the scanned order (0-based).
    Window {
        /// The first position.
        first: usize,
        /// The last position.
        last: usize,
    },
}

/// Label issues concentrated beyond natural noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concentration {
    /// Where.
    pub place: Place,
    /// Label issues there.
    pub issues: usize,
    /// Records there (for a class pair, the records labelled `given`).
    pub records: usize,
    /// Issues natural noise predicts there.
    pub expected: f64,
    /// The one-sided p-value after the Bonferroni correction (at most 1).
    pub p_value: f64,
    /// The sentence: what is concentrated, against what.
    pub explanation: String,
    /// The indices of the label issues it covers, increasing.
    #[serde(skip)]
    pub members: Vec<usize>,
}

/// The input of the tests: every record's class and source, and the label issues.
#[derive(Debug, Clone, Copy)]
pub struct IssueData<'a> {
    /// Each record's class index, in scanned order.
    pub labels: &'a [usize],
    /// Each record's source, in scanned order (empty when the data has none).
    pub sources: &'a [Option<&'a str>],
    /// The label issues.
    pub issues: &'a [Issue],
    /// Class names by index.
    pub class_names: &'a [String],
}

/// `P(X >= successes)` for `X ~ Binomial(trials, probability)`, for real-valued counts (the
/// regularized incomplete beta function `I_p(k, n - k + 1)`), so that counts divided by a
/// dispersion keep their meaning.
#[must_use]
pub fn binomial_upper_tail(successes: f64, trials: f64, probability: f64) -> f64 {
    if successes <= 0.0 {
        return 1.0;
    }
    if successes > trials || probability <= 0.0 {
        return 0.0;
    }
    if probability >= 1.0 {
        return 1.0;
    }
    beta_reg(successes, trials - successes + 1.0, probability).clamp(0.0, 1.0)
}

/// Every concentration at `significance` (after correction): class pairs, then sources, then
/// windows, each family most significant first.
#[must_use]
pub fn concentrations(data: &IssueData<'_>, significance: f64) -> Vec<Concentration> {
    let mut found = class_pairs(data, significance);
    found.extend(sources(data, significance));
    found.extend(windows(data, significance));
    found
}

/// The quasi-binomial dispersion of the class-pair directions: `max(1, median(z²) / 0.4549)`
/// over pairs with at least `DISPERSION_MIN_ISSUES` issues, leaving out the pair at `tested`
/// (so that a flipped pair does not widen its own null); 1 with fewer than five such pairs.
#[must_use]
pub fn pair_dispersion(pairs: &[(usize, usize, f64)], tested: Option<usize>) -> f64 {
    let mut squares: Vec<f64> = pairs
        .iter()
        .enumerate()
        .filter(|&(position, (forward, backward, _))| {
            Some(position) != tested && forward + backward >= DISPERSION_MIN_ISSUES
        })
        .map(|(_, &(forward, backward, null))| {
            let total = (forward + backward) as f64;
            let mean = total * null;
            (forward as f64 - mean).powi(2) / (total * null * (1.0 - null)).max(f64::MIN_POSITIVE)
        })
        .collect();
    if squares.len() < 5 {
        return 1.0;
    }
    squares.sort_by(f64::total_cmp);
    let middle = squares.len() / 2;
    let median = if squares.len().is_multiple_of(2) {
        f64::midpoint(squares[middle - 1], squares[middle])
    } else {
        squares[middle]
    };
    (median / CHI_SQUARED_1_MEDIAN).max(1.0)
}

/// The uncorrected p-value of `forward` issues one way (labelled `i`, suggested `j`) against
/// `backward` the other, for classes of (estimated true) sizes `given_size` (`i`) and
/// `suggested_size` (`j`), at `dispersion`.
#[must_use]
pub fn pair_p_value(
    forward: usize,
    backward: usize,
    given_size: usize,
    suggested_size: usize,
    dispersion: f64,
) -> f64 {
    let null = pair_null(given_size, suggested_size);
    let total = (forward + backward) as f64 / dispersion;
    binomial_upper_tail(forward as f64 / dispersion, total, null)
}

/// The share of a pair's issues expected labelled `i` and suggested `j` under symmetric noise
/// rates: records truly of `j` are the ones that can be mislabelled `i`.
fn pair_null(given_size: usize, suggested_size: usize) -> f64 {
    let both = (given_size + suggested_size).max(1) as f64;
    (suggested_size as f64 / both).clamp(1e-9, 1.0 - 1e-9)
}

fn class_pairs(data: &IssueData<'_>, significance: f64) -> Vec<Concentration> {
    let classes = data.class_names.len();
    if classes < 2 {
        return Vec::new();
    }
    let mut sizes = vec![0usize; classes];
    for &label in data.labels {
        if let Some(size) = sizes.get_mut(label) {
            *size += 1;
        }
    }
    let mut counts: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for issue in data.issues {
        if issue.given != issue.suggested && issue.given < classes && issue.suggested < classes {
            counts
                .entry((issue.given, issue.suggested))
                .or_default()
                .push(issue.index);
        }
    }
    let issues_of =
        |given: usize, suggested: usize| counts.get(&(given, suggested)).map_or(0, Vec::len);
    // The true sizes as confident learning estimates them: each issue moved to its suggestion.
    let given_sizes = sizes.clone();
    for (&(given, suggested), members) in &counts {
        sizes[given] -= members.len().min(sizes[given]);
        sizes[suggested] += members.len();
    }
    let mut pairs = Vec::new();
    let mut pair_of: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for given in 0..classes {
        for suggested in given + 1..classes {
            pair_of.insert((given, suggested), pairs.len());
            pair_of.insert((suggested, given), pairs.len());
            pairs.push((
                issues_of(given, suggested),
                issues_of(suggested, given),
                pair_null(sizes[given], sizes[suggested]),
            ));
        }
    }
    let tests = (classes * (classes - 1)) as f64;
    let mut found = Vec::new();
    for (&(given, suggested), members) in &counts {
        let forward = members.len();
        let backward = issues_of(suggested, given);
        let dispersion = pair_dispersion(&pairs, pair_of.get(&(given, suggested)).copied());
        let p_value = (pair_p_value(
            forward,
            backward,
            sizes[given],
            sizes[suggested],
            dispersion,
        ) * tests)
            .min(1.0);
        if p_value > significance {
            continue;
        }
        let null = pair_null(sizes[given], sizes[suggested]);
        let expected = (forward + backward) as f64 * null;
        let given_name = &data.class_names[given];
        let suggested_name = &data.class_names[suggested];
        let dispersion_note = if dispersion > 1.0 {
            format!(", natural confusion's spread of {dispersion:.1} allowed for")
        } else {
            String::new()
        };
        found.push(Concentration {
            explanation: format!(
                "label issues concentrated in a class pair: {forward} of the {} labelled \
                 `{given_name}` look like `{suggested_name}`, against {backward} the other way \
                 (symmetric confusion predicts {expected:.0}; p = {} over {} class pairs{dispersion_note})",
                count(given_sizes[given], "record"),
                format_p(p_value),
                tests as usize,
            ),
            place: Place::ClassPair {
                given: given_name.clone(),
                suggested: suggested_name.clone(),
                reverse: backward,
            },
            issues: forward,
            records: given_sizes[given],
            expected,
            p_value,
            members: members.clone(),
        });
    }
    found.sort_by(|a, b| a.p_value.total_cmp(&b.p_value));
    found
}

/// Issues and records per class inside a subset and in the whole data.
struct ClassTally {
    records: Vec<usize>,
    issues: Vec<usize>,
}

impl ClassTally {
    fn new(classes: usize) -> Self {
        Self {
            records: vec![0; classes],
            issues: vec![0; classes],
        }
    }

    /// Issues the whole data's per-class rates predict for this subset. The subset's own
    /// issues count in the rates, which makes the test conservative and never divides by an
    /// empty rest.
    fn expected(&self, whole: &Self) -> f64 {
        (0..self.records.len())
            .map(|class| {
                let rate = whole.issues[class] as f64 / whole.records[class].max(1) as f64;
                self.records[class] as f64 * rate
            })
            .sum()
    }

    fn total_records(&self) -> usize {
        self.records.iter().sum()
    }

    fn total_issues(&self) -> usize {
        self.issues.iter().sum()
    }
}

/// The uncorrected p-value of `issues` among `records` when natural noise predicts `expected`.
#[must_use]
pub fn subset_p_value(issues: usize, records: usize, expected: f64) -> f64 {
    if records == 0 {
        return 1.0;
    }
    let rate = (expected / records as f64).clamp(0.0, 1.0);
    binomial_upper_tail(issues as f64, records as f64, rate)
}

fn issue_mask(data: &IssueData<'_>) -> Vec<bool> {
    let mut mask = vec![false; data.labels.len()];
    for issue in data.issues {
        if let Some(slot) = mask.get_mut(issue.index) {
            *slot = true;
        }
    }
    mask
}

fn whole_tally(data: &IssueData<'_>, mask: &[bool]) -> ClassTally {
    let mut whole = ClassTally::new(data.class_names.len());
    for (index, &label) in data.labels.iter().enumerate() {
        if label < data.class_names.len() {
            whole.records[label] += 1;
            whole.issues[label] += usize::from(mask[index]);
        }
    }
    whole
}

fn sources(data: &IssueData<'_>, significance: f64) -> Vec<Concentration> {
    if data.sources.len() != data.labels.len() {
        return Vec::new();
    }
    let classes = data.class_names.len();
    let mask = issue_mask(data);
    let whole = whole_tally(data, &mask);
    let mut by_source: BTreeMap<&str, (ClassTally, Vec<usize>)> = BTreeMap::new();
    for (index, (&label, source)) in data.labels.iter().zip(data.sources).enumerate() {
        let Some(source) = source else { continue };
        if label >= classes {
            continue;
        }
        let (tally, members) = by_source
            .entry(source)
            .or_insert_with(|| (ClassTally::new(classes), Vec::new()));
        tally.records[label] += 1;
        if mask[index] {
            tally.issues[label] += 1;
            members.push(index);
        }
    }
    if by_source.len() < 2 {
        return Vec::new();
    }
    let tests = by_source.len() as f64;
    let mut found = Vec::new();
    for (source, (tally, members)) in by_source {
        let issues = tally.total_issues();
        let records = tally.total_records();
        let expected = tally.expected(&whole);
        let p_value = (subset_p_value(issues, records, expected) * tests).min(1.0);
        if p_value > significance {
            continue;
        }
        found.push(Concentration {
            explanation: format!(
                "label issues concentrated in source `{source}`: {issues} of its {}, where the \
                 data's per-class rates predict {expected:.0} (p = {} over {} sources)",
                count(records, "record"),
                format_p(p_value),
                tests as usize,
            ),
            place: Place::Source {
                source: source.to_owned(),
            },
            issues,
            records,
            expected,
            p_value,
            members,
        });
    }
    found.sort_by(|a, b| a.p_value.total_cmp(&b.p_value));
    found
}

/// The windows of the position test: `(start, length)`, halving from half the data.
#[must_use]
pub fn window_plan(records: usize) -> Vec<(usize, usize)> {
    let smallest = (records / 64).max(MIN_WINDOW);
    let mut plan = Vec::new();
    let mut length = records / 2;
    while length >= smallest {
        let step = (length / 2).max(1);
        let mut start = 0;
        while start + length <= records {
            plan.push((start, length));
            start += step;
        }
        // The tail, so that the last records are always in a window of every size.
        if plan.last() != Some(&(records - length, length)) {
            plan.push((records - length, length));
        }
        length /= 2;
    }
    plan
}

fn windows(data: &IssueData<'_>, significance: f64) -> Vec<Concentration> {
    let records = data.labels.len();
    let classes = data.class_names.len();
    if records < 2 * MIN_WINDOW || classes == 0 {
        return Vec::new();
    }
    let mask = issue_mask(data);
    let whole = whole_tally(data, &mask);
    // Prefix counts per class: `prefix[class][position]` counts records before `position`.
    let mut record_prefix = vec![vec![0usize; records + 1]; classes];
    let mut issue_prefix = vec![vec![0usize; records + 1]; classes];
    for class in 0..classes {
        for position in 0..records {
            let here = data.labels[position] == class;
            record_prefix[class][position + 1] = record_prefix[class][position] + usize::from(here);
            issue_prefix[class][position + 1] =
                issue_prefix[class][position] + usize::from(here && mask[position]);
        }
    }
    let plan = window_plan(records);
    let tests = plan.len() as f64;
    let mut significant: Vec<(f64, usize, usize, usize, f64)> = Vec::new();
    for &(start, length) in &plan {
        let end = start + length;
        let mut tally = ClassTally::new(classes);
        for class in 0..classes {
            tally.records[class] = record_prefix[class][end] - record_prefix[class][start];
            tally.issues[class] = issue_prefix[class][end] - issue_prefix[class][start];
        }
        let issues = tally.total_issues();
        let expected = tally.expected(&whole);
        let p_value = (subset_p_value(issues, length, expected) * tests).min(1.0);
        if p_value <= significance {
            significant.push((p_value, start, length, issues, expected));
        }
    }
    significant.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)).then(a.1.cmp(&b.1)));
    let mut kept: Vec<(f64, usize, usize, usize, f64)> = Vec::new();
    for window in significant {
        let (_, start, length, _, _) = window;
        let overlaps = kept.iter().any(|&(_, other, other_length, _, _)| {
            start < other + other_length && other < start + length
        });
        if !overlaps {
            kept.push(window);
        }
    }
    kept.into_iter()
        .map(|(p_value, start, length, issues, expected)| {
            let last = start + length - 1;
            Concentration {
                explanation: format!(
                    "label issues concentrated in records {} to {} of the scanned order: {issues} \
                     of {length}, where the data's per-class rates predict {expected:.0} (p = {} over \
                     {} windows)",
                    start + 1,
                    last + 1,
                    format_p(p_value),
                    tests as usize,
                ),
                place: Place::Window { first: start, last },
                issues,
                records: length,
                expected,
                p_value,
                members: (start..=last).filter(|&index| mask[index]).collect(),
            }
        })
        .collect()
}

/// A p-value in one significant digit, `< 1e-300` for what underflows.
fn format_p(p_value: f64) -> String {
    if p_value <= 0.0 {
        "< 1e-300".to_owned()
    } else if p_value >= 0.01 {
        format!("{p_value:.2}")
    } else {
        format!("{p_value:.0e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(classes: usize) -> Vec<String> {
        (0..classes).map(|class| format!("c{class}")).collect()
    }

    /// `count` issues labelled `given` suggested `suggested`, at positions from `start`.
    fn issues(given: usize, suggested: usize, count: usize, labels: &[usize]) -> Vec<Issue> {
        labels
            .iter()
            .enumerate()
            .filter(|&(_, &label)| label == given)
            .take(count)
            .map(|(index, _)| Issue {
                index,
                given,
                suggested,
            })
            .collect()
    }

    /// Classes in turn: 0, 1, 2, ..., so that every window holds every class alike.
    fn striped(records: usize, classes: usize) -> Vec<usize> {
        (0..records).map(|index| index % classes).collect()
    }

    #[test]
    fn the_binomial_tail_matches_known_answers() {
        // P(X >= 8) for X ~ Binomial(10, 0.5) = 56 / 1024.
        assert!((binomial_upper_tail(8.0, 10.0, 0.5) - 56.0 / 1024.0).abs() < 1e-12);
        assert!((binomial_upper_tail(0.0, 10.0, 0.5) - 1.0).abs() < 1e-12);
        assert!((binomial_upper_tail(1.0, 1.0, 0.3) - 0.3).abs() < 1e-12);
        assert!(binomial_upper_tail(11.0, 10.0, 0.5).abs() < f64::MIN_POSITIVE);
    }

    #[test]
    fn symmetric_confusion_stays_natural() {
        // 60 of the c0 records look like c1 and 50 of the c1 records like c0.
        let labels = striped(6000, 10);
        let mut found = issues(0, 1, 60, &labels);
        found.extend(issues(1, 0, 50, &labels));
        let data = IssueData {
            labels: &labels,
            sources: &[],
            issues: &found,
            class_names: &names(10),
        };
        assert!(class_pairs(&data, 0.001).is_empty());
        assert!(pair_p_value(60, 50, 600, 600, 1.0) > 0.1);
    }

    #[test]
    fn a_one_directional_excess_is_concentrated() {
        let labels = striped(6000, 10);
        let mut found = issues(4, 6, 300, &labels);
        found.extend(issues(6, 4, 30, &labels));
        // Natural confusion elsewhere, roughly symmetric.
        found.extend(issues(0, 6, 40, &labels));
        found.extend(issues(6, 0, 35, &labels));
        found.extend(issues(2, 4, 25, &labels));
        found.extend(issues(4, 2, 30, &labels));
        let class_names = names(10);
        let data = IssueData {
            labels: &labels,
            sources: &[],
            issues: &found,
            class_names: &class_names,
        };
        let pairs = class_pairs(&data, 0.001);
        assert_eq!(pairs.len(), 1, "{pairs:#?}");
        assert_eq!(
            pairs[0].place,
            Place::ClassPair {
                given: "c4".into(),
                suggested: "c6".into(),
                reverse: 30
            }
        );
        assert_eq!(pairs[0].members.len(), 300);
        assert!(
            pairs[0].explanation.starts_with(
                "label issues concentrated in a class pair: 300 of the 600 records labelled `c4` look like `c6`, against 30 the other way"
            ),
            "{}",
            pairs[0].explanation
        );
    }

    #[test]
    fn lopsided_natural_confusion_everywhere_widens_the_null() {
        // Every pair 2:1 one way: no pair stands out, so the dispersion absorbs the tilt...
        let pairs: Vec<(usize, usize, f64)> = (0..6).map(|_| (200, 100, 0.5)).collect();
        let dispersion = pair_dispersion(&pairs, None);
        assert!(dispersion > 10.0, "{dispersion}");
        assert!(pair_p_value(200, 100, 600, 600, dispersion) * 90.0 > 0.001);
        // ...while with no dispersion the same tilt would be significant.
        assert!(pair_p_value(200, 100, 600, 600, 1.0) * 90.0 < 0.001);
        // A handful of pairs cannot estimate it.
        assert!((pair_dispersion(&pairs[..4], None) - 1.0).abs() < 1e-12);
        // Nor five, once the tested pair is left out.
        assert!((pair_dispersion(&pairs[..5], Some(0)) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_source_with_ten_times_the_issue_rate_is_concentrated() {
        let labels = striped(4000, 4);
        let names_of = ["a", "b", "c", "d"];
        let sources: Vec<Option<&str>> = (0..4000)
            .map(|index| Some(names_of[index / 1000]))
            .collect();
        // 2% of the records of a, b and c, 20% of d's.
        let mut found = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let every = if *source == Some("d") { 5 } else { 50 };
            if index % every == 3 {
                found.push(Issue {
                    index,
                    given: labels[index],
                    suggested: (labels[index] + 1) % 4,
                });
            }
        }
        let data = IssueData {
            labels: &labels,
            sources: &sources,
            issues: &found,
            class_names: &names(4),
        };
        let concentrated = self::sources(&data, 0.001);
        assert_eq!(concentrated.len(), 1, "{concentrated:#?}");
        assert_eq!(concentrated[0].place, Place::Source { source: "d".into() });
        assert_eq!(concentrated[0].issues, 200);
        // The whole data's rate, d's own issues included: 260 of 4,000.
        assert!((concentrated[0].expected - 65.0).abs() < 1.0);
    }

    #[test]
    fn uniform_noise_is_not_concentrated_anywhere() {
        let records = 6000;
        let classes = 10;
        let mut rng = antidote_core::SplitMix64::new(7);
        let labels: Vec<usize> = (0..records).map(|_| rng.below(classes)).collect();
        let names_of = ["a", "b", "c", "d", "e"];
        let sources: Vec<Option<&str>> =
            (0..records).map(|_| Some(names_of[rng.below(5)])).collect();
        // 5% of the records, each to a class drawn at random.
        let mut found = Vec::new();
        for (index, &label) in labels.iter().enumerate() {
            if rng.below(20) == 0 {
                let shift = 1 + rng.below(classes - 1);
                found.push(Issue {
                    index,
                    given: label,
                    suggested: (label + shift) % classes,
                });
            }
        }
        assert!(found.len() > 200);
        let data = IssueData {
            labels: &labels,
            sources: &sources,
            issues: &found,
            class_names: &names(classes),
        };
        assert_eq!(concentrations(&data, 0.001), Vec::new());
    }

    #[test]
    fn an_appended_run_of_issues_is_a_window() {
        let records = 6000;
        let labels = striped(records, 10);
        // 2% everywhere, then every other record of the last 300.
        let found: Vec<Issue> = (0..records)
            .filter(|&index| {
                if index >= 5700 {
                    index % 2 == 0
                } else {
                    index % 50 == 7
                }
            })
            .map(|index| Issue {
                index,
                given: labels[index],
                suggested: (labels[index] + 1) % 10,
            })
            .collect();
        let data = IssueData {
            labels: &labels,
            sources: &[],
            issues: &found,
            class_names: &names(10),
        };
        let found = windows(&data, 0.001);
        assert!(!found.is_empty());
        let Place::Window { first, last } = found[0].place else {
            panic!("{found:?}");
        };
        assert!(first >= 5400 && last == 5999, "{first}..={last}");
        assert!(found[0].members.iter().all(|&index| index >= first));
    }

    #[test]
    fn the_window_plan_covers_the_tail_at_every_size() {
        let plan = window_plan(1000);
        assert!(
            plan.iter()
                .all(|&(start, length)| start + length <= 1000 && length >= MIN_WINDOW)
        );
        for length in [500, 250, 125, 62, 31] {
            assert!(plan.contains(&(1000 - length, length)), "{length}");
        }
        assert!(window_plan(30).is_empty());
    }
}
