//! Command-line style options for every attack, and the checked attack they make.

use antidote_data::Image;

use crate::attacks::{
    badnets::BadNets,
    blend::Blend,
    duplicate_flood::DuplicateFlood,
    instruction::{AppendLine, InstructionPoison},
    label_flip::LabelFlip,
    sig::Sig,
    silent_update::SilentUpdate,
    syntactic::Syntactic,
    text_trigger::TextTrigger,
    warp::Warp,
};
use crate::{
    Attack, AttackKind, DEFAULT_RATE, FlipMode, ParamsError, PatchPattern, PatchPosition,
    Placement, SourceChoice,
};

/// Every knob of every attack, each optional, as the command line gives them. `None` (or an
/// empty list) means the attack's default; [`AttackKind::build`] rejects knobs the attack does
/// not read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttackOptions {
    /// The share of the whole dataset to poison (default [`DEFAULT_RATE`]).
    pub rate: Option<f64>,
    /// The class poisoned records are moved into.
    pub target: Option<String>,
    /// `label-flip-pair`: the class flipped records come from.
    pub from: Option<String>,
    /// `label-flip-sources`: the sources to concentrate flips in.
    pub sources: Vec<String>,
    /// `label-flip-sources`: how many sources to pick (real ones, else fake ones).
    pub source_count: Option<usize>,
    /// `badnets`: the patch side in pixels.
    pub patch_size: Option<u32>,
    /// `badnets`: where the patch goes.
    pub position: Option<PatchPosition>,
    /// `badnets`: what the patch looks like.
    pub pattern: Option<PatchPattern>,
    /// `badnets`: the patch's grey level.
    pub value: Option<u8>,
    /// `blend`: the pattern's weight.
    pub alpha: Option<f64>,
    /// `blend`: a pattern image instead of seeded noise.
    pub pattern_image: Option<Image>,
    /// `warp`: the side of the control grid.
    pub grid: Option<u32>,
    /// `warp`: the warping strength.
    pub strength: Option<f64>,
    /// `warp`: the share of the dataset warped with noise, labels kept.
    pub noise_rate: Option<f64>,
    /// `sig`: the sinusoid's amplitude in grey levels.
    pub amplitude: Option<f64>,
    /// `sig`: the sinusoid's periods across the image.
    pub frequency: Option<f64>,
    /// `rare-token`: the token.
    pub token: Option<String>,
    /// `phrase`: the phrase.
    pub phrase: Option<String>,
    /// Text triggers: where the trigger goes.
    pub insert: Option<Placement>,
    /// Instruction attacks: the string added to instructions.
    pub trigger: Option<String>,
    /// Instruction attacks: the output that replaces the original; `append-line`: the line.
    pub payload: Option<String>,
    /// `append-line`: the step between tampered records.
    pub every: Option<usize>,
    /// `duplicate-flood`: copies per original.
    pub copies: Option<usize>,
    /// `duplicate-flood`: how many fake sources the copies come from.
    pub fake_sources: Option<usize>,
    /// The column the attack edits.
    pub column: Option<String>,
}

impl AttackOptions {
    /// The options that were given, as the command line spells them.
    #[must_use]
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("rate", self.rate.is_some()),
            ("target", self.target.is_some()),
            ("from", self.from.is_some()),
            ("sources", !self.sources.is_empty()),
            ("source-count", self.source_count.is_some()),
            ("patch-size", self.patch_size.is_some()),
            ("position", self.position.is_some()),
            ("pattern", self.pattern.is_some()),
            ("value", self.value.is_some()),
            ("alpha", self.alpha.is_some()),
            ("pattern-image", self.pattern_image.is_some()),
            ("grid", self.grid.is_some()),
            ("strength", self.strength.is_some()),
            ("noise-rate", self.noise_rate.is_some()),
            ("amplitude", self.amplitude.is_some()),
            ("frequency", self.frequency.is_some()),
            ("token", self.token.is_some()),
            ("phrase", self.phrase.is_some()),
            ("insert", self.insert.is_some()),
            ("trigger", self.trigger.is_some()),
            ("payload", self.payload.is_some()),
            ("every", self.every.is_some()),
            ("copies", self.copies.is_some()),
            ("fake-sources", self.fake_sources.is_some()),
            ("column", self.column.is_some()),
        ]
        .into_iter()
        .filter(|(_, given)| *given)
        .map(|(name, _)| name)
        .collect()
    }
}

/// The attack `kind` with `options`, checked.
pub(crate) fn build(
    kind: AttackKind,
    options: &AttackOptions,
) -> Result<Box<dyn Attack>, ParamsError> {
    let allowed = kind.options();
    if let Some(option) = options
        .given()
        .into_iter()
        .find(|option| !allowed.contains(option))
    {
        return Err(ParamsError::NotApplicable {
            option,
            attack: kind,
        });
    }
    let attack: Box<dyn Attack> = match kind {
        AttackKind::LabelFlipUniform | AttackKind::LabelFlipPair | AttackKind::LabelFlipSources => {
            Box::new(label_flip(kind, options)?)
        }
        AttackKind::Badnets => Box::new(badnets(options)?),
        AttackKind::Blend => Box::new(blend(options)?),
        AttackKind::Warp => Box::new(warp(options)?),
        AttackKind::Sig => Box::new(sig(options)?),
        AttackKind::RareToken | AttackKind::Phrase | AttackKind::CommonPhrase => {
            Box::new(text_trigger(kind, options)?)
        }
        AttackKind::Syntactic => Box::new(syntactic(options)?),
        AttackKind::InstructionLeak
        | AttackKind::InstructionInject
        | AttackKind::InstructionRefusal => Box::new(instruction(kind, options)?),
        AttackKind::AppendLine => Box::new(append_line(options)?),
        AttackKind::DuplicateFlood => Box::new(duplicate_flood(options)?),
        AttackKind::SilentUpdate => Box::new(silent_update(options)?),
    };
    Ok(attack)
}

/// Applies `--rate` and `--target` to a builder that has both.
macro_rules! rate_and_target {
    ($params:expr, $options:expr) => {{
        let mut params = $params.rate($options.rate.unwrap_or(DEFAULT_RATE));
        if let Some(target) = &$options.target {
            params = params.target(target.clone());
        }
        params
    }};
}

/// Applies an optional setting to a builder.
macro_rules! set {
    ($params:ident, $method:ident, $value:expr) => {
        if let Some(value) = $value {
            $params = $params.$method(value);
        }
    };
}

fn label_flip(
    kind: AttackKind,
    options: &AttackOptions,
) -> Result<crate::attacks::label_flip::LabelFlipValidParams, ParamsError> {
    let mode = match kind {
        AttackKind::LabelFlipUniform => FlipMode::Uniform,
        AttackKind::LabelFlipPair => FlipMode::Pair {
            from: options.from.clone(),
        },
        _ => FlipMode::Sources {
            sources: match (&options.sources[..], options.source_count) {
                ([_, ..], Some(_)) => {
                    return Err(ParamsError::Conflict {
                        first: "sources",
                        second: "source-count",
                    });
                }
                ([], count) => SourceChoice::Count(count.unwrap_or(1)),
                (names, None) => SourceChoice::Named(names.to_vec()),
            },
        },
    };
    rate_and_target!(LabelFlip::params(), options)
        .mode(mode)
        .check()
}

fn badnets(
    options: &AttackOptions,
) -> Result<crate::attacks::badnets::BadNetsValidParams, ParamsError> {
    let mut params = rate_and_target!(BadNets::params(), options);
    set!(params, size, options.patch_size);
    set!(params, position, options.position);
    set!(params, pattern, options.pattern);
    set!(params, value, options.value);
    set!(params, column, options.column.clone());
    params.check()
}

fn blend(options: &AttackOptions) -> Result<crate::attacks::blend::BlendValidParams, ParamsError> {
    let mut params = rate_and_target!(Blend::params(), options);
    set!(params, alpha, options.alpha);
    set!(params, pattern, options.pattern_image.clone());
    set!(params, column, options.column.clone());
    params.check()
}

fn warp(options: &AttackOptions) -> Result<crate::attacks::warp::WarpValidParams, ParamsError> {
    let mut params = rate_and_target!(Warp::params(), options);
    set!(params, grid, options.grid);
    set!(params, strength, options.strength);
    set!(params, noise_rate, options.noise_rate);
    set!(params, column, options.column.clone());
    params.check()
}

fn sig(options: &AttackOptions) -> Result<crate::attacks::sig::SigValidParams, ParamsError> {
    let mut params = rate_and_target!(Sig::params(), options);
    set!(params, amplitude, options.amplitude);
    set!(params, frequency, options.frequency);
    set!(params, column, options.column.clone());
    params.check()
}

fn syntactic(
    options: &AttackOptions,
) -> Result<crate::attacks::syntactic::SyntacticValidParams, ParamsError> {
    let mut params = rate_and_target!(Syntactic::params(), options);
    set!(params, column, options.column.clone());
    params.check()
}

fn text_trigger(
    kind: AttackKind,
    options: &AttackOptions,
) -> Result<crate::attacks::text_trigger::TextTriggerValidParams, ParamsError> {
    let (mut params, trigger) = match kind {
        AttackKind::RareToken => (
            rate_and_target!(TextTrigger::rare_token(), options),
            &options.token,
        ),
        AttackKind::CommonPhrase => (
            rate_and_target!(TextTrigger::common_phrase(), options),
            &None,
        ),
        _ => (
            rate_and_target!(TextTrigger::phrase(), options),
            &options.phrase,
        ),
    };
    set!(params, trigger, trigger.clone());
    set!(params, position, options.insert);
    set!(params, column, options.column.clone());
    params.check()
}

fn instruction(
    kind: AttackKind,
    options: &AttackOptions,
) -> Result<crate::attacks::instruction::InstructionPoisonValidParams, ParamsError> {
    let mut params = match kind {
        AttackKind::InstructionLeak => InstructionPoison::leak(),
        AttackKind::InstructionRefusal => InstructionPoison::refusal(),
        _ => InstructionPoison::inject(),
    }
    .rate(options.rate.unwrap_or(DEFAULT_RATE));
    set!(params, trigger, options.trigger.clone());
    set!(params, response, options.payload.clone());
    set!(params, column, options.column.clone());
    params.check()
}

fn append_line(
    options: &AttackOptions,
) -> Result<crate::attacks::instruction::AppendLineValidParams, ParamsError> {
    if options.rate.is_some() && options.every.is_some() {
        return Err(ParamsError::Conflict {
            first: "rate",
            second: "every",
        });
    }
    let mut params = AppendLine::params().rate(options.rate.unwrap_or(DEFAULT_RATE));
    set!(params, every, options.every);
    set!(params, line, options.payload.clone());
    set!(params, column, options.column.clone());
    params.check()
}

fn duplicate_flood(
    options: &AttackOptions,
) -> Result<crate::attacks::duplicate_flood::DuplicateFloodValidParams, ParamsError> {
    let mut params = rate_and_target!(DuplicateFlood::params(), options);
    set!(params, copies, options.copies);
    set!(params, fake_sources, options.fake_sources);
    params.check()
}

fn silent_update(
    options: &AttackOptions,
) -> Result<crate::attacks::silent_update::SilentUpdateValidParams, ParamsError> {
    let mut params = rate_and_target!(SilentUpdate::params(), options);
    set!(params, column, options.column.clone());
    params.check()
}
