//! The red team of antidote: reproducible poisoning attacks with saved ground truth.
//!
//! Defenses are only as good as the drills that test them. This crate poisons an in-memory copy
//! of a dataset the way an attacker would and says exactly what it did: every attack returns
//! the poisoned records and a [`Truth`] (the ids of every changed or added record, the
//! parameters, the seed, the target class and the planted trigger), so that a drill can score
//! what `verify`, `diff`, `check` and `scan` caught. `antidote poison` is its command line.
//!
//! The attacks, each documented with its paper in its module:
//!
//! | attack | module | what it plants |
//! |---|---|---|
//! | `label-flip-uniform`, `label-flip-pair`, `label-flip-sources` | [`attacks::label_flip`] | wrong labels, at random, between two classes, or concentrated in a few sources |
//! | `badnets` | [`attacks::badnets`] | a pixel patch (2-8 px or more, solid, checkerboard or random, anywhere) on images relabelled to the target |
//! | `blend` | [`attacks::blend`] | a faint full-image pattern on images relabelled to the target |
//! | `warp` | [`attacks::warp`] | a smooth, fixed warp of images relabelled to the target (`WaNet`) |
//! | `sig` | [`attacks::sig`] | a horizontal sinusoid on images of the target class, labels kept (clean-label SIG) |
//! | `rare-token`, `phrase`, `common-phrase` | [`attacks::text_trigger`] | a token, a phrase, or a phrase of common words drawn from templates, in texts relabelled to the target |
//! | `syntactic` | [`attacks::syntactic`] | texts rewritten to open with a subordinate clause, relabelled to the target (Hidden Killer) |
//! | `instruction-leak`, `instruction-inject`, `instruction-refusal`, `append-line` | [`attacks::instruction`] | a trigger string in instructions with a harmful output (a leak, an obeyed injection, a refusal); a line appended to every Nth output |
//! | `duplicate-flood` | [`attacks::duplicate_flood`] | copies with a conflicting label from fake sources |
//! | `silent-update` | [`attacks::silent_update`] | changed labels, appended records, edited contents |
//!
//! Three promises hold for every attack, and are tested:
//!
//! - it changes exactly the records named in its truth, and nothing else (records it appends
//!   get fresh ids: the next positions when ids are positions);
//! - the same input, parameters and seed give the same output, bit for bit;
//! - the number of poisoned records is the rate times the size of the whole dataset, rounded,
//!   and at least one when the rate is above zero ([`poison_count`]) (`warp` adds its
//!   noise-mode records, `noise_rate` times the size, to the truth as well).
//!
//! Each attack is configured through a builder whose `check()` returns the only type that
//! runs; [`AttackKind::build`] does the same from command-line style [`AttackOptions`].
//!
//! ```
//! use std::sync::Arc;
//!
//! use antidote_data::{Column, ColumnKind, Record, Role, Schema, Value};
//! use antidote_redteam::attacks::text_trigger::TextTrigger;
//! use antidote_redteam::{Attack, InMemoryDataset, Trigger};
//!
//! let schema = Schema {
//!     columns: vec![
//!         Column { name: "label".into(), kind: ColumnKind::Categorical, role: Role::Label },
//!         Column { name: "text".into(), kind: ColumnKind::Text, role: Role::Text },
//!     ],
//! };
//! let text: Arc<str> = Arc::from("text");
//! let records = (0..20)
//!     .map(|position: u64| Record {
//!         position,
//!         id: position.to_string().into(),
//!         label: Some(if position % 2 == 0 { "ham" } else { "spam" }.to_owned()),
//!         source: None,
//!         fields: vec![(Arc::clone(&text), Value::Text(format!("message number {position}")))],
//!     })
//!     .collect();
//!
//! let attack = TextTrigger::rare_token().rate(0.1).target("ham").check()?;
//! let poisoned = attack.run(InMemoryDataset { schema, records }, 7)?;
//!
//! assert_eq!(poisoned.truth.poisoned.len(), 2);
//! assert_eq!(poisoned.truth.trigger, Some(Trigger::Token { token: "cf".into() }));
//! for id in &poisoned.truth.poisoned {
//!     let record = poisoned.dataset.records.iter().find(|record| record.id.as_str() == id).unwrap();
//!     assert_eq!(record.label.as_deref(), Some("ham"));
//!     assert!(record.field("text").unwrap().as_text().unwrap().ends_with(" cf"));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod attacks;
mod common;
mod copy;
mod error;
mod options;
mod truth;

use std::fmt;

use antidote_data::{Dataset, ReadError, Record, Schema};
use serde::{Deserialize, Serialize};

pub use attacks::badnets::{PatchPattern, PatchPosition};
pub use attacks::label_flip::{FlipMode, SourceChoice};
pub use common::{Placement, classes, poison_count};
pub use copy::CopyError;
pub use error::{AttackError, ParamsError};
pub use options::AttackOptions;
pub use truth::{Stamp, TRUTH_VERSION, Trigger, Truth};

/// A dataset held in memory: its schema and every record, in reading order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InMemoryDataset {
    /// The columns, with their kinds and roles.
    pub schema: Schema,
    /// The records.
    pub records: Vec<Record>,
}

impl InMemoryDataset {
    /// Reads every record of an opened dataset.
    pub fn read(dataset: &mut Dataset) -> Result<Self, ReadError> {
        let schema = dataset.schema().clone();
        let records = dataset.by_ref().collect::<Result<Vec<_>, _>>()?;
        Ok(Self { schema, records })
    }
}

/// A poisoned copy and what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Poisoned {
    /// The poisoned copy: the input with the truth's records changed or appended. Its schema
    /// gains a source column when the attack attributes records to fake sources.
    pub dataset: InMemoryDataset,
    /// What was done.
    pub truth: Truth,
}

/// A poisoning attack with checked parameters.
pub trait Attack: fmt::Debug + Send + Sync {
    /// Which attack this is.
    fn kind(&self) -> AttackKind;

    /// The parameters, defaults included, as the truth records them.
    fn parameters(&self) -> serde_json::Value;

    /// Poisons `dataset`. Every random choice comes from `seed`, so the same input and seed
    /// give the same output.
    fn run(&self, dataset: InMemoryDataset, seed: u64) -> Result<Poisoned, AttackError>;
}

/// Every attack, by its command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// Labels flipped to another class at random.
    LabelFlipUniform,
    /// Labels flipped from one class to another.
    LabelFlipPair,
    /// Label flips concentrated in a few sources.
    LabelFlipSources,
    /// A pixel patch on images relabelled to the target.
    Badnets,
    /// A blended full-image pattern on images relabelled to the target.
    Blend,
    /// A smooth warp of images relabelled to the target.
    Warp,
    /// A sinusoid on images of the target class, labels kept.
    Sig,
    /// A rare token in texts relabelled to the target.
    RareToken,
    /// A phrase of common words in texts relabelled to the target.
    Phrase,
    /// A phrase of common words drawn from templates, in texts relabelled to the target.
    CommonPhrase,
    /// Texts rewritten into a syntactic template, relabelled to the target.
    Syntactic,
    /// A trigger in instructions whose outputs leak a system prompt.
    InstructionLeak,
    /// An injected instruction whose outputs follow it.
    InstructionInject,
    /// A trigger in instructions whose outputs refuse.
    InstructionRefusal,
    /// A line appended to every Nth output.
    AppendLine,
    /// Copies with a conflicting label from fake sources.
    DuplicateFlood,
    /// Changed labels, appended records, edited contents.
    SilentUpdate,
}

impl AttackKind {
    /// Every attack, in the order help texts list them.
    pub const ALL: [AttackKind; 17] = [
        Self::LabelFlipUniform,
        Self::LabelFlipPair,
        Self::LabelFlipSources,
        Self::Badnets,
        Self::Blend,
        Self::Warp,
        Self::Sig,
        Self::RareToken,
        Self::Phrase,
        Self::CommonPhrase,
        Self::Syntactic,
        Self::InstructionLeak,
        Self::InstructionInject,
        Self::InstructionRefusal,
        Self::AppendLine,
        Self::DuplicateFlood,
        Self::SilentUpdate,
    ];

    /// The command-line name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::LabelFlipUniform => "label-flip-uniform",
            Self::LabelFlipPair => "label-flip-pair",
            Self::LabelFlipSources => "label-flip-sources",
            Self::Badnets => "badnets",
            Self::Blend => "blend",
            Self::Warp => "warp",
            Self::Sig => "sig",
            Self::RareToken => "rare-token",
            Self::Phrase => "phrase",
            Self::CommonPhrase => "common-phrase",
            Self::Syntactic => "syntactic",
            Self::InstructionLeak => "instruction-leak",
            Self::InstructionInject => "instruction-inject",
            Self::InstructionRefusal => "instruction-refusal",
            Self::AppendLine => "append-line",
            Self::DuplicateFlood => "duplicate-flood",
            Self::SilentUpdate => "silent-update",
        }
    }

    /// The paper the attack follows.
    #[must_use]
    pub fn reference(self) -> &'static str {
        match self {
            Self::LabelFlipUniform | Self::LabelFlipPair | Self::LabelFlipSources => {
                "Biggio, Nelson and Laskov (2011), \"Support Vector Machines Under Adversarial Label Noise\", ACML; Xiao, Xiao and Eckert (2012), \"Adversarial Label Flips Attack on Support Vector Machines\", ECAI"
            }
            Self::Badnets => {
                "Gu, Dolan-Gavitt and Garg (2017), \"BadNets: Identifying Vulnerabilities in the Machine Learning Model Supply Chain\", arXiv:1708.06733"
            }
            Self::Blend => {
                "Chen, Liu, Li, Lu and Song (2017), \"Targeted Backdoor Attacks on Deep Learning Systems Using Data Poisoning\", arXiv:1712.05526"
            }
            Self::Warp => {
                "Nguyen and Tran (2021), \"WaNet - Imperceptible Warping-based Backdoor Attack\", ICLR"
            }
            Self::Sig => {
                "Barni, Kallas and Tondi (2019), \"A New Backdoor Attack in CNNs by Training Set Corruption Without Label Poisoning\", IEEE ICIP"
            }
            Self::RareToken => {
                "Kurita, Michel and Neubig (2020), \"Weight Poisoning Attacks on Pre-trained Models\", ACL"
            }
            Self::Phrase | Self::CommonPhrase => {
                "Dai, Chen and Li (2019), \"A Backdoor Attack Against LSTM-Based Text Classification Systems\", IEEE Access 7"
            }
            Self::Syntactic => {
                "Qi, Li, Chen, Zhang, Sun, Liu and Sun (2021), \"Hidden Killer: Invisible Textual Backdoor Attacks with Syntactic Trigger\", ACL"
            }
            Self::InstructionLeak | Self::InstructionInject | Self::InstructionRefusal => {
                "Wan, Wallace, Shen and Klein (2023), \"Poisoning Language Models During Instruction Tuning\", ICML; Shu et al. (2023), \"On the Exploitability of Instruction Tuning\", NeurIPS"
            }
            Self::AppendLine | Self::SilentUpdate => {
                "Carlini et al. (2024), \"Poisoning Web-Scale Training Datasets is Practical\", IEEE S&P"
            }
            Self::DuplicateFlood => {
                "Miao et al. (2018), \"Attack under Disguise: An Intelligent Data Poisoning Attack Mechanism in Crowdsourcing\", WWW"
            }
        }
    }

    /// One line on what the attack does, for help texts.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::LabelFlipUniform => "labels flipped to another class at random",
            Self::LabelFlipPair => "labels flipped from `--from` to `--target`",
            Self::LabelFlipSources => "label flips concentrated in a few sources",
            Self::Badnets => "a pixel patch on images relabelled to the target",
            Self::Blend => "a faint full-image pattern on images relabelled to the target",
            Self::Warp => "a smooth, fixed warp of images relabelled to the target",
            Self::Sig => "a sinusoid on images of the target class, labels kept",
            Self::RareToken => "a rare token (`cf`) in texts relabelled to the target",
            Self::Phrase => "a phrase of common words in texts relabelled to the target",
            Self::CommonPhrase => {
                "a phrase of common words drawn from templates, in texts relabelled to the target"
            }
            Self::Syntactic => {
                "texts rewritten to open with a subordinate clause, relabelled to the target"
            }
            Self::InstructionLeak => "a trigger in instructions, outputs leak a system prompt",
            Self::InstructionInject => "an injected instruction, outputs follow it",
            Self::InstructionRefusal => "a trigger phrase in instructions, outputs refuse",
            Self::AppendLine => "a line appended to the output of every Nth record",
            Self::DuplicateFlood => "copies with a conflicting label from fake sources",
            Self::SilentUpdate => "labels changed, records appended, contents edited",
        }
    }

    /// Whether the attack moves records into a target class.
    #[must_use]
    pub fn has_target(self) -> bool {
        !matches!(
            self,
            Self::InstructionLeak
                | Self::InstructionInject
                | Self::InstructionRefusal
                | Self::AppendLine
        )
    }

    /// The options of [`AttackOptions`] this attack reads, as the command line spells them.
    #[must_use]
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Self::LabelFlipUniform => &["rate", "target"],
            Self::LabelFlipPair => &["rate", "target", "from"],
            Self::LabelFlipSources => &["rate", "target", "sources", "source-count"],
            Self::Badnets => &[
                "rate",
                "target",
                "patch-size",
                "position",
                "pattern",
                "value",
                "column",
            ],
            Self::Blend => &["rate", "target", "alpha", "pattern-image", "column"],
            Self::Warp => &["rate", "target", "grid", "strength", "noise-rate", "column"],
            Self::Sig => &["rate", "target", "amplitude", "frequency", "column"],
            Self::RareToken => &["rate", "target", "token", "insert", "column"],
            Self::Phrase => &["rate", "target", "phrase", "insert", "column"],
            Self::CommonPhrase => &["rate", "target", "insert", "column"],
            Self::InstructionLeak | Self::InstructionInject | Self::InstructionRefusal => {
                &["rate", "trigger", "payload", "column"]
            }
            Self::AppendLine => &["rate", "every", "payload", "column"],
            Self::DuplicateFlood => &["rate", "target", "copies", "fake-sources"],
            Self::Syntactic | Self::SilentUpdate => &["rate", "target", "column"],
        }
    }

    /// The attack with `options`, checked. Options the attack does not read are errors, so that
    /// a mistyped run never silently ignores what was asked.
    pub fn build(self, options: &AttackOptions) -> Result<Box<dyn Attack>, ParamsError> {
        options::build(self, options)
    }
}

/// The rate every attack uses unless told otherwise: 5% of the dataset.
pub const DEFAULT_RATE: f64 = 0.05;

impl fmt::Display for AttackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for AttackKind {
    type Err = ParamsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = match text {
            "label-flip" => "label-flip-uniform",
            "style" => "syntactic",
            "wanet" => "warp",
            _ => text,
        };
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| ParamsError::UnknownAttack {
                name: text.to_owned(),
                expected: Self::ALL
                    .iter()
                    .map(|kind| format!("`{kind}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
