//! Sliding-window statistics over the latest events, and the alerts evaluated on them.
//!
//! The *current window* is the latest `window` events; the *baseline windows* are the blocks of
//! `window` events before it, newest first, up to `baseline_windows` of them. Each window gets
//! the same statistics: the prediction distribution's drift from the baseline profile's label
//! distribution (with the statistics of `antidote check`: Jensen–Shannon distance, L-infinity
//! distance of the shares, Pearson's chi-squared goodness of fit), the mean confidence per
//! class, and the trigger activation rate (the share of events whose input carries a known
//! trigger).
//!
//! Alerts, each evaluated only on a full current window:
//! - a fixed threshold on the trigger activation rate, and on prediction drift (the L-infinity
//!   distance above `antidote check`'s label-shift threshold *and* a chi-squared p-value below
//!   its p-value threshold: a shift both material and significant, so that small windows of
//!   stationary traffic do not alarm on sampling noise);
//! - 3-sigma over the baseline windows (at least [`MonitorParams::min_baseline_windows`] of
//!   them) for the trigger activation rate and the Jensen–Shannon distance (above mean + 3σ)
//!   and for the mean confidence (below mean − 3σ). The activation rate is a small count per
//!   window, so its 3σ are taken on Anscombe's variance-stabilised count `2 sqrt(k + 3/8)`.
//!   σ has a floor, so that a baseline of identical windows does not turn sampling noise into
//!   an alert: 1 for the stabilised count (its standard deviation under a Poisson count), and
//!   [`SIGMA_FLOOR`] for the distance and the confidence.
//!
//! With canaries ([`crate::canaries`]; [`MonitorParams::canary_alpha`] set), two more, on any
//! current window, full or not:
//! - `honeypot_input` fires while a honeypot input is in the current window: someone probes
//!   the model with bait data only an attacker's pipeline holds;
//! - `canary_memorisation` fires when the planted canaries get their assigned label more often
//!   than the held-out ones, by Fisher's one-sided exact test
//!   ([`antidote_canary::fisher_greater`]) at `canary_alpha`: the model in production memorised
//!   its training data.

use std::collections::BTreeMap;

use antidote_validate::check::Thresholds;
use antidote_validate::stats;
use serde::Serialize;

use antidote_canary::{Group, fisher_greater};

use crate::store::StoredEvent;

/// The smallest σ a 3-sigma alert on a distance or a confidence uses.
pub const SIGMA_FLOOR: f64 = 0.01;

/// How the monitor windows and alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorParams {
    /// Events per window.
    pub window: usize,
    /// Baseline windows kept before the current one, for 3-sigma alerts.
    pub baseline_windows: usize,
    /// Baseline windows needed before a 3-sigma alert is evaluated.
    pub min_baseline_windows: usize,
    /// How many standard deviations from the baseline mean an alert fires at.
    pub sigmas: f64,
    /// The trigger activation rate above which the fixed-threshold alert fires.
    pub max_trigger_ratio: f64,
    /// The thresholds of `antidote check` (label shift and p-value are used).
    #[serde(skip)]
    pub thresholds: Thresholds,
    /// The significance level of the canary memorisation alert; `None` without canaries (no
    /// canary alert is evaluated).
    pub canary_alpha: Option<f64>,
    /// Events the store keeps (the latest; older ones are deleted as new ones arrive); `None`
    /// keeps every event.
    pub retain: Option<u64>,
}

/// The significance level of the canary memorisation alert unless told otherwise.
pub const DEFAULT_CANARY_ALPHA: f64 = 0.01;

impl Default for MonitorParams {
    fn default() -> Self {
        Self {
            window: 1000,
            baseline_windows: 10,
            min_baseline_windows: 3,
            sigmas: 3.0,
            max_trigger_ratio: 0.01,
            thresholds: Thresholds::default(),
            canary_alpha: None,
            retain: None,
        }
    }
}

/// Drift of the predictions from the baseline's labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PredictionDrift {
    /// Jensen–Shannon distance (base 2) of the shares.
    pub jensen_shannon: f64,
    /// The largest change of one class's share.
    pub l_infinity: f64,
    /// Pearson's chi-squared statistic of the counts against the baseline shares.
    pub chi_squared: f64,
    /// Its p-value (0 when a class the baseline never saw is predicted).
    pub chi_squared_p_value: f64,
}

/// The statistics of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowStats {
    /// Events in the window.
    pub events: usize,
    /// Predictions per class.
    pub counts: BTreeMap<String, u64>,
    /// Drift from the baseline.
    pub drift: PredictionDrift,
    /// Mean confidence per predicted class.
    pub class_confidence: BTreeMap<String, f64>,
    /// Mean confidence over the window.
    pub confidence: f64,
    /// The share of events whose input carries a known trigger.
    pub trigger_ratio: f64,
    /// Canary events in the window.
    pub canaries: CanaryCounts,
}

/// Canary events of one window, by kind and outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CanaryCounts {
    /// Planted canaries predicted as their assigned label.
    pub planted_expected: u64,
    /// Planted canaries predicted as another label.
    pub planted_other: u64,
    /// Held-out canaries predicted as their assigned label.
    pub held_out_expected: u64,
    /// Held-out canaries predicted as another label.
    pub held_out_other: u64,
    /// Honeypot inputs.
    pub honeypots: u64,
}

impl CanaryCounts {
    /// Fisher's one-sided exact p-value that the planted canaries get their assigned label no
    /// more often than the held-out ones.
    #[must_use]
    pub fn memorisation_p_value(&self) -> f64 {
        let count = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        fisher_greater(
            count(self.planted_expected),
            count(self.planted_other),
            count(self.held_out_expected),
            count(self.held_out_other),
        )
    }
}

impl WindowStats {
    /// The statistics of `events` against the baseline label shares.
    #[must_use]
    pub fn of(events: &[StoredEvent], baseline: &BTreeMap<String, f64>) -> Self {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut confidence_sums: BTreeMap<String, f64> = BTreeMap::new();
        let mut triggered = 0usize;
        let mut canaries = CanaryCounts::default();
        for event in events {
            if let Some(hit) = event.canary {
                let cell = match (hit.kind, hit.expected) {
                    (Group::Planted, true) => &mut canaries.planted_expected,
                    (Group::Planted, false) => &mut canaries.planted_other,
                    (Group::HeldOut, true) => &mut canaries.held_out_expected,
                    (Group::HeldOut, false) => &mut canaries.held_out_other,
                    (Group::Honeypot, _) => &mut canaries.honeypots,
                };
                *cell += 1;
            }
            *counts.entry(event.predicted.clone()).or_default() += 1;
            *confidence_sums.entry(event.predicted.clone()).or_default() += event.confidence;
            triggered += usize::from(event.trigger.is_some());
        }
        let classes: Vec<&String> = {
            let mut classes: Vec<&String> = baseline.keys().chain(counts.keys()).collect();
            classes.sort();
            classes.dedup();
            classes
        };
        let expected: Vec<f64> = classes
            .iter()
            .map(|class| baseline.get(*class).copied().unwrap_or(0.0))
            .collect();
        let observed: Vec<u64> = classes
            .iter()
            .map(|class| counts.get(*class).copied().unwrap_or(0))
            .collect();
        let observed_weights: Vec<f64> = observed.iter().map(|&count| count as f64).collect();
        let chi_squared = stats::chi_squared_goodness_of_fit(&expected, &observed);
        let drift = PredictionDrift {
            jensen_shannon: stats::jensen_shannon_distance(&expected, &observed_weights),
            l_infinity: stats::l_infinity(&expected, &observed_weights),
            chi_squared: chi_squared.statistic,
            chi_squared_p_value: chi_squared.p_value,
        };
        let class_confidence = confidence_sums
            .iter()
            .map(|(class, sum)| (class.clone(), sum / counts[class] as f64))
            .collect();
        let total = events.len().max(1) as f64;
        Self {
            events: events.len(),
            counts,
            drift,
            class_confidence,
            confidence: events.iter().map(|event| event.confidence).sum::<f64>() / total,
            trigger_ratio: triggered as f64 / total,
            canaries,
        }
    }
}

/// What an alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertName {
    /// The share of inputs carrying a known trigger rose.
    TriggerActivation,
    /// The predictions' distribution moved away from the baseline's labels.
    PredictionDrift,
    /// The model's mean confidence fell.
    ConfidenceDrop,
    /// A honeypot input arrived: someone probes with bait data.
    HoneypotInput,
    /// Planted canaries get their assigned label more often than held-out ones.
    CanaryMemorisation,
    /// The inputs' distribution moved away from the baseline profile's columns
    /// ([`crate::inputs`]).
    InputDrift,
}

impl AlertName {
    /// The name as metrics label it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TriggerActivation => "trigger_activation",
            Self::PredictionDrift => "prediction_drift",
            Self::ConfidenceDrop => "confidence_drop",
            Self::HoneypotInput => "honeypot_input",
            Self::CanaryMemorisation => "canary_memorisation",
            Self::InputDrift => "input_drift",
        }
    }
}

/// How an alert decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// A fixed threshold.
    Threshold,
    /// Three standard deviations from the mean of the baseline windows.
    ThreeSigma,
    /// Fisher's one-sided exact test: the p-value below the significance level.
    FisherExact,
}

impl AlertRule {
    /// The rule as metrics label it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Threshold => "threshold",
            Self::ThreeSigma => "three_sigma",
            Self::FisherExact => "fisher_exact",
        }
    }
}

/// One alert's state after an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertState {
    /// What it watches.
    pub alert: AlertName,
    /// How it decides.
    pub rule: AlertRule,
    /// Whether it fires.
    pub firing: bool,
    /// The statistic it compared.
    pub value: f64,
    /// The bound the statistic crossed or not (`None` while warming up).
    pub bound: Option<f64>,
}

/// The result of evaluating the latest events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The current window.
    pub current: WindowStats,
    /// Full baseline windows available.
    pub baseline_windows: usize,
    /// Every alert, fixed thresholds first.
    pub alerts: Vec<AlertState>,
    /// The drift of the current window's inputs, when the baseline has columns to compare
    /// them with (set by [`crate::Monitor`], not by [`evaluate`]).
    pub inputs: Option<crate::inputs::InputDrift>,
}

impl Evaluation {
    /// The alerts that fire.
    pub fn firing(&self) -> impl Iterator<Item = &AlertState> {
        self.alerts.iter().filter(|alert| alert.firing)
    }
}

/// Evaluates the latest events, newest first (at most `window * (baseline_windows + 1)` are
/// read).
#[must_use]
pub fn evaluate(
    latest: &[StoredEvent],
    baseline: &BTreeMap<String, f64>,
    params: &MonitorParams,
) -> Evaluation {
    let window = params.window.max(1);
    let current = WindowStats::of(&latest[..latest.len().min(window)], baseline);
    let history: Vec<WindowStats> = latest
        .get(window..)
        .unwrap_or_default()
        .chunks_exact(window)
        .take(params.baseline_windows)
        .map(|block| WindowStats::of(block, baseline))
        .collect();
    let full = current.events == window;
    let thresholds = &params.thresholds;
    let mut alerts = vec![
        AlertState {
            alert: AlertName::TriggerActivation,
            rule: AlertRule::Threshold,
            firing: full && current.trigger_ratio > params.max_trigger_ratio,
            value: current.trigger_ratio,
            bound: Some(params.max_trigger_ratio),
        },
        AlertState {
            alert: AlertName::PredictionDrift,
            rule: AlertRule::Threshold,
            firing: full
                && current.drift.l_infinity > thresholds.label_shift
                && current.drift.chi_squared_p_value < thresholds.p_value,
            value: current.drift.l_infinity,
            bound: Some(thresholds.label_shift),
        },
    ];
    let ready = full && history.len() >= params.min_baseline_windows;
    let sigma = |values: &[f64], floor: f64| {
        let moments: stats::Moments = values.iter().copied().collect();
        (moments.mean, moments.std().max(floor))
    };
    // Trigger counts per window are small and skewed (Poisson-like), so the 3 sigma are taken
    // on Anscombe's variance-stabilised count `2 sqrt(k + 3/8)`, whose standard deviation is
    // about 1 whatever the rate (Anscombe 1948, "The transformation of Poisson, binomial and
    // negative-binomial data"); 1 is also its floor. The bound is reported back as a ratio.
    let anscombe = |ratio: f64| 2.0 * (ratio * window as f64 + 0.375).sqrt();
    let transformed: Vec<f64> = history
        .iter()
        .map(|stats| anscombe(stats.trigger_ratio))
        .collect();
    let (mean, spread) = sigma(&transformed, 1.0);
    let upper_transformed = mean + params.sigmas * spread;
    let upper = ((upper_transformed / 2.0).powi(2) - 0.375) / window as f64;
    alerts.push(AlertState {
        alert: AlertName::TriggerActivation,
        rule: AlertRule::ThreeSigma,
        firing: ready && current.trigger_ratio > upper,
        value: current.trigger_ratio,
        bound: ready.then_some(upper),
    });
    let distances: Vec<f64> = history
        .iter()
        .map(|stats| stats.drift.jensen_shannon)
        .collect();
    let (mean, spread) = sigma(&distances, SIGMA_FLOOR);
    let upper = mean + params.sigmas * spread;
    alerts.push(AlertState {
        alert: AlertName::PredictionDrift,
        rule: AlertRule::ThreeSigma,
        firing: ready && current.drift.jensen_shannon > upper,
        value: current.drift.jensen_shannon,
        bound: ready.then_some(upper),
    });
    let confidences: Vec<f64> = history.iter().map(|stats| stats.confidence).collect();
    let (mean, spread) = sigma(&confidences, SIGMA_FLOOR);
    let lower = mean - params.sigmas * spread;
    alerts.push(AlertState {
        alert: AlertName::ConfidenceDrop,
        rule: AlertRule::ThreeSigma,
        firing: ready && current.confidence < lower,
        value: current.confidence,
        bound: ready.then_some(lower),
    });
    if let Some(alpha) = params.canary_alpha {
        let canaries = current.canaries;
        let honeypots = canaries.honeypots as f64;
        alerts.push(AlertState {
            alert: AlertName::HoneypotInput,
            rule: AlertRule::Threshold,
            firing: honeypots > 0.0,
            value: honeypots,
            bound: Some(0.0),
        });
        let p_value = canaries.memorisation_p_value();
        let compared = canaries.planted_expected + canaries.planted_other > 0
            && canaries.held_out_expected + canaries.held_out_other > 0;
        alerts.push(AlertState {
            alert: AlertName::CanaryMemorisation,
            rule: AlertRule::FisherExact,
            firing: compared && p_value < alpha,
            value: p_value,
            bound: Some(alpha),
        });
    }
    Evaluation {
        current,
        baseline_windows: history.len(),
        alerts,
        inputs: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(predicted: &str, confidence: f64, triggered: bool) -> StoredEvent {
        StoredEvent {
            model_version: None,
            predicted: predicted.to_owned(),
            confidence,
            trigger: triggered.then(|| "the token `cf`".to_owned()),
            canary: None,
        }
    }

    fn baseline() -> BTreeMap<String, f64> {
        [("a".to_owned(), 0.5), ("b".to_owned(), 0.5)].into()
    }

    /// Stationary traffic: labels alternate, confidence cycles, one trigger in 100 events.
    fn stationary(count: usize) -> Vec<StoredEvent> {
        (0..count)
            .map(|index| {
                let label = if index % 2 == 0 { "a" } else { "b" };
                event(label, 0.8 + 0.01 * (index % 7) as f64, index % 100 == 42)
            })
            .collect()
    }

    fn params() -> MonitorParams {
        MonitorParams {
            window: 100,
            max_trigger_ratio: 0.05,
            ..MonitorParams::default()
        }
    }

    #[test]
    fn matching_predictions_do_not_drift() {
        let stats = WindowStats::of(&stationary(100), &baseline());
        assert_eq!(stats.counts["a"], 50);
        assert!(stats.drift.jensen_shannon < 1e-9);
        assert!((stats.drift.chi_squared_p_value - 1.0).abs() < 1e-9);
        assert!((stats.trigger_ratio - 0.01).abs() < 1e-12);
    }

    #[test]
    fn a_class_the_baseline_never_saw_is_drift() {
        let events = [event("a", 0.9, false), event("c", 0.9, false)];
        let stats = WindowStats::of(&events, &baseline());
        assert!(stats.drift.chi_squared_p_value.abs() < f64::EPSILON);
        assert!((stats.drift.l_infinity - 0.5).abs() < 1e-12);
    }

    #[test]
    fn stationary_traffic_raises_no_alert() {
        let latest: Vec<StoredEvent> = stationary(1100).into_iter().rev().collect();
        let evaluation = evaluate(&latest, &baseline(), &params());
        assert_eq!(evaluation.baseline_windows, 10);
        assert_eq!(evaluation.firing().count(), 0, "{:#?}", evaluation.alerts);
        assert!(evaluation.alerts.iter().all(|alert| alert.bound.is_some()));
    }

    #[test]
    fn an_attack_fires_the_trigger_and_drift_alerts() {
        let mut events = stationary(1000);
        // The attack: a third of the inputs carry the trigger and are predicted `b`, confidently.
        events.extend((0..100).map(|index| {
            if index % 3 == 0 {
                event("b", 0.99, true)
            } else {
                event(if index % 2 == 0 { "a" } else { "b" }, 0.8, false)
            }
        }));
        let latest: Vec<StoredEvent> = events.into_iter().rev().collect();
        let evaluation = evaluate(&latest, &baseline(), &params());
        let firing: Vec<(AlertName, AlertRule)> = evaluation
            .firing()
            .map(|alert| (alert.alert, alert.rule))
            .collect();
        assert!(firing.contains(&(AlertName::TriggerActivation, AlertRule::Threshold)));
        assert!(firing.contains(&(AlertName::TriggerActivation, AlertRule::ThreeSigma)));
        assert!(firing.contains(&(AlertName::PredictionDrift, AlertRule::ThreeSigma)));
    }

    fn canary(kind: Group, expected: bool) -> StoredEvent {
        StoredEvent {
            canary: Some(crate::canaries::CanaryHit { kind, expected }),
            ..event("a", 0.9, false)
        }
    }

    #[test]
    fn canary_alerts_follow_the_window_and_exist_only_with_canaries() {
        let canary_alerts = |evaluation: &Evaluation| -> Vec<(AlertName, bool, f64)> {
            evaluation
                .alerts
                .iter()
                .filter(|alert| {
                    matches!(
                        alert.alert,
                        AlertName::HoneypotInput | AlertName::CanaryMemorisation
                    )
                })
                .map(|alert| (alert.alert, alert.firing, alert.value))
                .collect()
        };
        // Chance level: one in nine planted and held-out canaries get their label.
        let mut events = stationary(20);
        for index in 0..9 {
            events.push(canary(Group::Planted, index == 0));
            events.push(canary(Group::HeldOut, index == 0));
        }
        let latest: Vec<StoredEvent> = events.iter().rev().cloned().collect();
        assert!(canary_alerts(&evaluate(&latest, &baseline(), &params())).is_empty());
        let with_canaries = MonitorParams {
            canary_alpha: Some(DEFAULT_CANARY_ALPHA),
            ..params()
        };
        let evaluation = evaluate(&latest, &baseline(), &with_canaries);
        assert_eq!(
            evaluation.current.canaries,
            CanaryCounts {
                planted_expected: 1,
                planted_other: 8,
                held_out_expected: 1,
                held_out_other: 8,
                honeypots: 0,
            }
        );
        let alerts = canary_alerts(&evaluation);
        assert_eq!(alerts[0], (AlertName::HoneypotInput, false, 0.0));
        assert_eq!(
            (alerts[1].0, alerts[1].1),
            (AlertName::CanaryMemorisation, false)
        );
        assert!((alerts[1].2 - 13.0 / 17.0).abs() < 1e-12, "{alerts:?}");

        // A memorising model, and a honeypot.
        events.extend((0..20).map(|_| canary(Group::Planted, true)));
        events.push(canary(Group::Honeypot, false));
        let latest: Vec<StoredEvent> = events.iter().rev().cloned().collect();
        let alerts = canary_alerts(&evaluate(&latest, &baseline(), &with_canaries));
        assert_eq!(alerts[0], (AlertName::HoneypotInput, true, 1.0));
        assert!(alerts[1].1, "{alerts:?}");
        // [[21, 8], [1, 8]]: p by Python's `math.comb`.
        assert!((alerts[1].2 - 0.001_807_110_216_178_427_6).abs() < 1e-12);

        // Once the honeypot and the memorised canaries leave the window, both stop.
        events.extend(stationary(100));
        let latest: Vec<StoredEvent> = events.iter().rev().cloned().collect();
        let alerts = canary_alerts(&evaluate(&latest, &baseline(), &with_canaries));
        assert!(alerts.iter().all(|(_, firing, _)| !firing), "{alerts:?}");
    }

    #[test]
    fn nothing_fires_while_the_windows_fill() {
        let events: Vec<StoredEvent> = (0..50).map(|_| event("c", 0.1, true)).collect();
        let evaluation = evaluate(&events, &baseline(), &params());
        assert_eq!(evaluation.current.events, 50);
        assert_eq!(evaluation.firing().count(), 0);
        let sigma_bounds = evaluation
            .alerts
            .iter()
            .filter(|alert| alert.rule == AlertRule::ThreeSigma)
            .filter(|alert| alert.bound.is_some())
            .count();
        assert_eq!(sigma_bounds, 0);
    }

    /// A long stationary replay and an attack after it, with the default parameters: how many
    /// scrapes alarm on stationary traffic (the false alarm rate), and how many events after
    /// the attack starts each trigger alert fires (the time to detection). Stationary traffic:
    /// three classes in equal shares drawn at random, confidence uniform in [0.6, 1), and the
    /// trigger token in 0.2% of the inputs by chance. The attack: 5% of the inputs carry the
    /// trigger and are predicted `a`.
    #[test]
    #[expect(
        clippy::print_stdout,
        reason = "the measurement is reported (`--nocapture`) for bench/results/monitor.md"
    )]
    fn false_alarms_on_a_long_stationary_replay_and_time_to_detection() {
        use antidote_core::SplitMix64;

        let params = MonitorParams::default();
        let baseline: BTreeMap<String, f64> = ["a", "b", "c"]
            .iter()
            .map(|class| ((*class).to_owned(), 1.0 / 3.0))
            .collect();
        let mut random = SplitMix64::new(17);
        let uniform =
            |random: &mut SplitMix64| (random.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let (stationary, attack) = (200_000, 5_000);
        let events: Vec<StoredEvent> = (0..stationary + attack)
            .map(|index| {
                let attacked = index >= stationary && uniform(&mut random) < 0.05;
                if attacked {
                    return event("a", 0.99, true);
                }
                let class = ["a", "b", "c"][random.below(3)];
                event(
                    class,
                    0.6 + 0.4 * uniform(&mut random),
                    uniform(&mut random) < 0.002,
                )
            })
            .collect();
        let newest_first: Vec<StoredEvent> = events.iter().rev().cloned().collect();
        let span = params.window * (params.baseline_windows + 1);
        let at = |seen: usize| {
            let start = events.len() - seen;
            evaluate(
                &newest_first[start..(start + span).min(newest_first.len())],
                &baseline,
                &params,
            )
        };
        // A scrape every 100 events once the baseline windows are full.
        let mut scrapes = 0;
        let mut alarms: BTreeMap<(AlertName, AlertRule), usize> = BTreeMap::new();
        for seen in (span..=stationary).step_by(100) {
            scrapes += 1;
            for alert in at(seen).firing() {
                *alarms.entry((alert.alert, alert.rule)).or_default() += 1;
            }
        }
        let false_alarms: usize = alarms.values().sum();
        // Time to detection, a scrape every 10 events.
        let detected = |rule: AlertRule| {
            (10..=attack).step_by(10).find(|after| {
                at(stationary + after)
                    .firing()
                    .any(|alert| alert.alert == AlertName::TriggerActivation && alert.rule == rule)
            })
        };
        let threshold = detected(AlertRule::Threshold);
        let three_sigma = detected(AlertRule::ThreeSigma);
        println!(
            "stationary: {scrapes} scrapes, {false_alarms} alarming ({alarms:?}); \
             attack at 5%: threshold alert after {threshold:?} events, 3-sigma after {three_sigma:?}"
        );
        assert!(
            false_alarms * 100 <= scrapes,
            "more than 1% of stationary scrapes alarm: {alarms:?} of {scrapes}"
        );
        // On the raw ratio, the skewed tail of a count this small (two a window) made 8 of the
        // 1,891 scrapes alarm; on Anscombe's stabilised count, none does.
        assert!(
            alarms
                .keys()
                .all(|(alert, _)| *alert != AlertName::TriggerActivation),
            "the trigger alerts fired on stationary traffic: {alarms:?}"
        );
        assert!(
            threshold.is_some_and(|events| events <= 1000),
            "{threshold:?}"
        );
        assert!(
            three_sigma.is_some_and(|events| events <= 1000),
            "{three_sigma:?}"
        );
    }
}
