//! Attack success rates of known triggers: stamp golden inputs of other classes, count flips.

use std::path::Path;

use antidote_core::Trigger;
use antidote_data::{Record, Value};
use antidote_redteam::Stamp;
use serde::{Deserialize, Serialize};

use crate::interval::{Interval, wilson};
use crate::{GateError, PredictError, Predictor, Thresholds, TriggerFileError};

/// Where a trigger to test came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerOrigin {
    /// Discovered by `antidote scan` and confirmed by its causal test.
    ScanConfirmed,
    /// Discovered by `antidote scan`, not confirmed.
    Scan,
    /// Listed by the user (`--trigger`).
    User,
}

/// A trigger the gate tests, with the class it pulls records into.
#[derive(Debug, Clone, PartialEq)]
pub struct GateTrigger {
    /// What it looks like.
    pub pattern: Trigger,
    /// The class it targets.
    pub target: String,
    /// Where it came from.
    pub origin: TriggerOrigin,
}

/// One entry of a trigger file: the shape of `truth.json`, so a red-team truth is a trigger
/// file as it is.
#[derive(Debug, Deserialize)]
struct Listed {
    trigger: Option<Trigger>,
    target: Option<String>,
}

/// Reads the triggers a scan discovered from its `summary.json`; triggers without a target
/// (unlabelled data) are left out.
pub fn read_scan_triggers(path: &Path) -> Result<Vec<GateTrigger>, GateError> {
    let failed = |source: TriggerFileError| GateError::Triggers {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|error| failed(error.into()))?;
    let summary: antidote_detect::output::Summary =
        serde_json::from_str(&text).map_err(|error| {
            failed(TriggerFileError::Invalid(format!(
                "not a `summary.json` written by `antidote scan`: {error}"
            )))
        })?;
    Ok(summary
        .triggers
        .into_iter()
        .filter_map(|trigger| {
            Some(GateTrigger {
                pattern: trigger.pattern,
                target: trigger.target?,
                origin: if trigger.confirmed {
                    TriggerOrigin::ScanConfirmed
                } else {
                    TriggerOrigin::Scan
                },
            })
        })
        .collect())
}

/// Reads triggers the user lists: a JSON object `{"trigger": TRIGGER, "target": "class"}` (the
/// shape of a red-team `truth.json`, which can be passed as it is) or an array of them.
/// `TRIGGER` is [`Trigger`]'s JSON (`{"kind": "token", "token": "cf"}`,
/// `{"kind": "image-patch", "x": 24, "y": 24, "width": 4, "height": 4, "channels": 1,
/// "pixels": [255, ...]}`).
pub fn read_listed_triggers(path: &Path) -> Result<Vec<GateTrigger>, GateError> {
    let failed = |source: TriggerFileError| GateError::Triggers {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|error| failed(error.into()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| failed(TriggerFileError::Invalid(format!("not JSON: {error}"))))?;
    let items = match json {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let listed: Listed = serde_json::from_value(item).map_err(|error| {
                failed(TriggerFileError::Invalid(format!(
                    "entry {}: {error}",
                    index + 1
                )))
            })?;
            match (listed.trigger, listed.target) {
                (Some(pattern), Some(target)) => Ok(GateTrigger {
                    pattern,
                    target,
                    origin: TriggerOrigin::User,
                }),
                _ => Err(failed(TriggerFileError::Invalid(format!(
                    "entry {} needs both `trigger` and `target`",
                    index + 1
                )))),
            }
        })
        .collect()
}

/// One stamped input that flipped, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlipExample {
    /// The golden record's id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// What the candidate said with the trigger.
    pub stamped_prediction: String,
}

/// The attack success rate of one trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerCheck {
    /// The trigger as stamped: a patch with the pixels used, a blend without its pattern.
    pub trigger: Trigger,
    /// The trigger in words.
    pub description: String,
    /// The class it targets.
    pub target: String,
    /// Where it came from.
    pub origin: TriggerOrigin,
    /// Golden inputs stamped: labelled outside the target and not already predicted as it.
    pub stamped: usize,
    /// Of those, how many the candidate classifies as the target once stamped.
    pub flipped: usize,
    /// `flipped / stamped`.
    pub attack_success: f64,
    /// The Wilson interval of the attack success rate.
    pub interval: Interval,
    /// The baseline's attack success rate on its own correctly-kept inputs, when there is one.
    pub baseline_attack_success: Option<f64>,
    /// Up to eight flipped inputs.
    pub examples: Vec<FlipExample>,
    /// Why the trigger was not measured, when it was not.
    pub skipped: Option<String>,
    /// A note on how it was stamped (a patch's pixels filled in).
    pub note: Option<String>,
    /// Whether it fails the gate: the point estimate above [`Thresholds::max_attack_success`].
    pub failed: bool,
    /// Whether the interval straddles the threshold: more golden inputs would settle it.
    pub inconclusive: bool,
}

/// Examples kept per trigger.
const EXAMPLES: usize = 8;

/// Measures the attack success rate of `trigger` on the golden records.
///
/// `field` is the payload field to stamp. The rate is the share of golden inputs labelled
/// outside the target, and not already predicted as the target, that the candidate puts in the
/// target once stamped. The gate decides on the point estimate and reports the Wilson interval
/// beside it: the upper bound would fail clean models on small golden sets (0 of 20 flips
/// still has an upper bound of 16%), the lower bound would pass backdoors.
pub(crate) fn measure(
    trigger: &GateTrigger,
    golden: &[Record],
    field: &str,
    candidate: (&dyn Predictor, &[String]),
    baseline: Option<(&dyn Predictor, &[String])>,
    thresholds: &Thresholds,
) -> Result<TriggerCheck, PredictError> {
    let (pattern, note) = completed(&trigger.pattern, golden, field);
    let mut check = TriggerCheck {
        trigger: reportable(pattern.as_ref(), &trigger.pattern),
        description: trigger.pattern.describe(),
        target: trigger.target.clone(),
        origin: trigger.origin,
        stamped: 0,
        flipped: 0,
        attack_success: 0.0,
        interval: wilson(0, 0, thresholds.confidence),
        baseline_attack_success: None,
        examples: Vec::new(),
        skipped: None,
        note,
        failed: false,
        inconclusive: false,
    };
    let Some(pattern) = pattern else {
        check.skipped = Some(
            "`summary.json` names this blend without its pattern; list it with `--trigger` (for example the red team's `truth.json`) to test it".to_owned(),
        );
        return Ok(check);
    };
    // Stamp every record labelled outside the target once; each predictor then counts the
    // records it did not already put in the target.
    let mut rows = Vec::new();
    let mut stamped_records = Vec::new();
    for (row, record) in golden.iter().enumerate() {
        if record.label.as_deref() == Some(trigger.target.as_str()) {
            continue;
        }
        let mut copy = record.clone();
        let Some((_, value)) = copy.fields.iter_mut().find(|(name, _)| &**name == field) else {
            continue;
        };
        if stamp(&pattern, value) {
            rows.push(row);
            stamped_records.push(copy);
        }
    }
    if rows.is_empty() {
        check.skipped = Some(format!(
            "it does not apply to the golden set's `{field}` values (another kind or size)"
        ));
        return Ok(check);
    }
    let rate = |predictor: &dyn Predictor, clean: &[String]| -> Result<_, PredictError> {
        let predictions = predictor.predict(&stamped_records)?;
        let mut trials = 0;
        let mut flips = Vec::new();
        for (index, &row) in rows.iter().enumerate() {
            if clean[row] == trigger.target {
                continue;
            }
            trials += 1;
            if predictions[index].label == trigger.target {
                flips.push(row);
            }
        }
        Ok((trials, flips))
    };
    let (trials, flips) = rate(candidate.0, candidate.1)?;
    check.stamped = trials;
    check.flipped = flips.len();
    check.attack_success = flips.len() as f64 / trials.max(1) as f64;
    check.interval = wilson(flips.len(), trials, thresholds.confidence);
    check.examples = flips
        .iter()
        .take(EXAMPLES)
        .map(|&row| FlipExample {
            id: golden[row].id.to_string(),
            label: golden[row].label.clone().unwrap_or_default(),
            stamped_prediction: trigger.target.clone(),
        })
        .collect();
    if let Some((predictor, clean)) = baseline {
        let (trials, flips) = rate(predictor, clean)?;
        check.baseline_attack_success = Some(flips.len() as f64 / trials.max(1) as f64);
    }
    if trials == 0 {
        check.skipped = Some(format!(
            "the candidate already predicts `{}` for every stamped golden input",
            trigger.target
        ));
        return Ok(check);
    }
    let limit = thresholds.max_attack_success;
    check.failed = check.attack_success > limit;
    check.inconclusive = check.interval.low <= limit && check.interval.high > limit;
    Ok(check)
}

/// Stamps `pattern` on `value`, refusing a patch whose pixels do not match its size (which
/// [`Stamp`] would not check).
pub(crate) fn stamp(pattern: &Trigger, value: &mut Value) -> bool {
    if let Trigger::ImagePatch {
        width,
        height,
        channels,
        pixels,
        ..
    } = pattern
        && pixels.len() != (*width * *height * *channels) as usize
    {
        return false;
    }
    if let Trigger::ImageBlend {
        width,
        height,
        channels,
        pixels,
        ..
    } = pattern
        && pixels.len() != (*width * *height * *channels) as usize
    {
        return false;
    }
    pattern.stamp(value)
}

/// The trigger ready to stamp, with a note when it had to be completed; `None` when it cannot be.
///
/// A scan's `summary.json` names a patch's place and size but not its pixels. The gate fills
/// it at the greatest contrast with the golden set there: each pixel `255` where the golden
/// images' median is dark (below 128), `0` where it is light. That is `BadNets`' white patch on
/// a dark corner; a checkerboard or grey-level patch is tested exactly only when listed with
/// its pixels (`--trigger`).
fn completed(
    pattern: &Trigger,
    golden: &[Record],
    field: &str,
) -> (Option<Trigger>, Option<String>) {
    match pattern {
        Trigger::ImagePatch {
            x,
            y,
            width,
            height,
            channels,
            pixels,
        } if pixels.is_empty() => {
            let images: Vec<&antidote_data::Image> = golden
                .iter()
                .filter_map(|record| match record.field(field) {
                    Some(Value::Image(image)) => Some(image),
                    _ => None,
                })
                .filter(|image| {
                    u32::from(image.channels) == *channels
                        && x + width <= image.width
                        && y + height <= image.height
                })
                .collect();
            let mut filled = Vec::with_capacity((width * height * channels) as usize);
            for row in *y..y + height {
                for column in *x..x + width {
                    for channel in 0..*channels {
                        let mut values: Vec<u8> = images
                            .iter()
                            .map(|image| {
                                let at =
                                    ((row * image.width + column) * channels + channel) as usize;
                                image.pixels[at]
                            })
                            .collect();
                        values.sort_unstable();
                        let median = values.get(values.len() / 2).copied().unwrap_or(0);
                        filled.push(if median < 128 { 255 } else { 0 });
                    }
                }
            }
            (
                Some(Trigger::ImagePatch {
                    x: *x,
                    y: *y,
                    width: *width,
                    height: *height,
                    channels: *channels,
                    pixels: filled,
                }),
                Some(
                    "the scan names the patch's place and size, not its pixels: stamped at the greatest contrast with the golden images there"
                        .to_owned(),
                ),
            )
        }
        Trigger::ImageBlend { pixels, .. } if pixels.is_empty() => (None, None),
        other => (Some(other.clone()), None),
    }
}

/// The trigger as `gate.json` keeps it: a patch with its (few) pixels, a blend without its
/// whole-image pattern.
fn reportable(stamped: Option<&Trigger>, original: &Trigger) -> Trigger {
    match stamped {
        Some(pattern @ Trigger::ImageBlend { .. }) => pattern.without_pixels(),
        Some(pattern) => pattern.clone(),
        None => original.without_pixels(),
    }
}
