//! Which exercises a drill runs: the default ones on the embedded datasets, or the attacks that
//! fit a user's data.

use antidote_data::{ColumnKind, Format, Role, Schema};
use antidote_redteam::AttackKind;

use crate::embedded::{self, Embedded};
use crate::{Data, DrillError, Exercise};

/// The rate of every attack on a user's dataset unless the caller says otherwise.
pub const DEFAULT_RATE: f64 = 0.01;

/// The exercises of the default drill, on the embedded datasets. The catalogue's other attacks
/// (warp, sig, common-phrase, syntactic, instruction-refusal) run on the embedded datasets they
/// fit when asked with `--attack`, and by default on a user's dataset of their kind; they are
/// left out of this default run to keep it short.
const EMBEDDED_EXERCISES: [(&str, AttackKind, f64); 5] = [
    (embedded::FASHION_MNIST.name, AttackKind::Badnets, 0.01),
    (
        embedded::FASHION_MNIST.name,
        AttackKind::LabelFlipUniform,
        0.05,
    ),
    (embedded::FORTUNES.name, AttackKind::RareToken, 0.01),
    (embedded::FORTUNES.name, AttackKind::Phrase, 0.01),
    (
        embedded::INSTRUCTIONS.name,
        AttackKind::InstructionLeak,
        0.01,
    ),
];

/// A dataset with the exercises to run on it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The dataset.
    pub data: Data,
    /// The exercises, in order.
    pub exercises: Vec<Exercise>,
    /// The licence of an embedded dataset.
    pub licence: Option<&'static str>,
}

/// The plan for a user's dataset: the chosen `attacks` (or every attack that fits the data, plus
/// a silent update for the provenance layer), each at every one of `rates` (or
/// [`DEFAULT_RATE`]).
#[must_use]
pub fn plan_for(data: Data, attacks: &[AttackKind], rates: &[f64]) -> Plan {
    let attacks = if attacks.is_empty() {
        fitting_attacks(&data)
    } else {
        attacks.to_vec()
    };
    let exercises = attacks
        .iter()
        .flat_map(|&attack| {
            rates_or(rates, DEFAULT_RATE)
                .into_iter()
                .map(move |rate| Exercise { attack, rate })
        })
        .collect();
    Plan {
        data,
        exercises,
        licence: None,
    }
}

/// The plans on the embedded datasets: the default exercises (at `rates` when given), or the
/// chosen `attacks` on the datasets they fit. Datasets no exercise fits are not loaded.
///
/// # Errors
///
/// [`DrillError`] when an embedded dataset cannot be unpacked.
pub fn embedded_plans(attacks: &[AttackKind], rates: &[f64]) -> Result<Vec<Plan>, DrillError> {
    let mut plans: Vec<Plan> = Vec::new();
    for dataset in embedded::ALL {
        let exercises: Vec<Exercise> = if attacks.is_empty() {
            EMBEDDED_EXERCISES
                .iter()
                .filter(|(name, _, _)| *name == dataset.name)
                .flat_map(|&(_, attack, rate)| {
                    rates_or(rates, rate)
                        .into_iter()
                        .map(move |rate| Exercise { attack, rate })
                })
                .collect()
        } else {
            attacks
                .iter()
                .filter(|&&attack| fits(&dataset, attack))
                .flat_map(|&attack| {
                    rates_or(rates, DEFAULT_RATE)
                        .into_iter()
                        .map(move |rate| Exercise { attack, rate })
                })
                .collect()
        };
        if exercises.is_empty() {
            continue;
        }
        plans.push(Plan {
            data: dataset.load()?,
            exercises,
            licence: Some(dataset.licence),
        });
    }
    Ok(plans)
}

fn rates_or(rates: &[f64], default: f64) -> Vec<f64> {
    if rates.is_empty() {
        vec![default]
    } else {
        rates.to_vec()
    }
}

/// What an embedded dataset can be attacked with.
fn fits(dataset: &Embedded, attack: AttackKind) -> bool {
    let kinds = match dataset.name {
        name if name == embedded::FASHION_MNIST.name => DataKind::Images,
        name if name == embedded::FORTUNES.name => DataKind::Text,
        _ => DataKind::Instructions,
    };
    kinds.attacks().contains(&attack)
        || matches!(
            attack,
            AttackKind::SilentUpdate | AttackKind::DuplicateFlood
        )
        || (kinds != DataKind::Instructions
            && matches!(
                attack,
                AttackKind::LabelFlipUniform
                    | AttackKind::LabelFlipPair
                    | AttackKind::LabelFlipSources
            ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    Images,
    Text,
    Instructions,
    Table,
}

impl DataKind {
    fn of(schema: &Schema, format: Format) -> Self {
        let has = |kind: ColumnKind, role: Role| {
            schema
                .columns
                .iter()
                .any(|column| column.kind == kind || column.role == role)
        };
        if format == Format::Instruction {
            Self::Instructions
        } else if has(ColumnKind::Image, Role::Image) {
            Self::Images
        } else if has(ColumnKind::Text, Role::Text) {
            Self::Text
        } else {
            Self::Table
        }
    }

    fn attacks(self) -> &'static [AttackKind] {
        match self {
            Self::Images => &[
                AttackKind::Badnets,
                AttackKind::Blend,
                AttackKind::Warp,
                AttackKind::Sig,
                AttackKind::LabelFlipUniform,
            ],
            Self::Text => &[
                AttackKind::RareToken,
                AttackKind::Phrase,
                AttackKind::CommonPhrase,
                AttackKind::Syntactic,
                AttackKind::LabelFlipUniform,
            ],
            Self::Instructions => &[
                AttackKind::InstructionLeak,
                AttackKind::InstructionInject,
                AttackKind::InstructionRefusal,
                AttackKind::AppendLine,
            ],
            Self::Table => &[AttackKind::LabelFlipUniform, AttackKind::DuplicateFlood],
        }
    }
}

/// The attacks that fit a user's data, plus a silent update for the provenance layer.
fn fitting_attacks(data: &Data) -> Vec<AttackKind> {
    let mut attacks = DataKind::of(&data.dataset.schema, data.format)
        .attacks()
        .to_vec();
    attacks.push(AttackKind::SilentUpdate);
    attacks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_datasets_fit_their_kind_of_attack() {
        assert!(fits(&embedded::FASHION_MNIST, AttackKind::Badnets));
        assert!(!fits(&embedded::FORTUNES, AttackKind::Badnets));
        assert!(fits(&embedded::FORTUNES, AttackKind::LabelFlipPair));
        assert!(!fits(&embedded::INSTRUCTIONS, AttackKind::LabelFlipUniform));
        assert!(fits(&embedded::INSTRUCTIONS, AttackKind::SilentUpdate));
        for attack in [AttackKind::Warp, AttackKind::Sig] {
            assert!(fits(&embedded::FASHION_MNIST, attack));
            assert!(!fits(&embedded::FORTUNES, attack));
        }
        for attack in [AttackKind::CommonPhrase, AttackKind::Syntactic] {
            assert!(fits(&embedded::FORTUNES, attack));
            assert!(!fits(&embedded::FASHION_MNIST, attack));
        }
        assert!(fits(
            &embedded::INSTRUCTIONS,
            AttackKind::InstructionRefusal
        ));
    }

    #[test]
    fn the_default_drill_keeps_its_five_exercises() {
        let attacks: Vec<AttackKind> = EMBEDDED_EXERCISES
            .iter()
            .map(|&(_, attack, _)| attack)
            .collect();
        assert_eq!(
            attacks,
            [
                AttackKind::Badnets,
                AttackKind::LabelFlipUniform,
                AttackKind::RareToken,
                AttackKind::Phrase,
                AttackKind::InstructionLeak
            ]
        );
    }
}
