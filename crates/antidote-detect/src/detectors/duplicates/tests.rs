use std::sync::Arc;

use antidote_core::RecordId;

use super::*;

fn record(position: usize, fields: Vec<(&str, Value)>) -> Record {
    Record {
        position: position as u64,
        id: RecordId(format!("r{position}")),
        label: None,
        source: None,
        fields: fields
            .into_iter()
            .map(|(name, value)| (Arc::from(name), value))
            .collect(),
    }
}

fn text_records(texts: &[&str]) -> Vec<Record> {
    texts
        .iter()
        .enumerate()
        .map(|(position, text)| record(position, vec![("text", Value::Text((*text).to_owned()))]))
        .collect()
}

fn names() -> Vec<String> {
    ["ham", "spam", "eggs"].map(String::from).to_vec()
}

fn run(records: &[Record], labels: Option<&[usize]>) -> DetectorReport {
    Duplicates::params()
        .check()
        .unwrap()
        .run(records, labels, &names())
        .unwrap()
}

#[test]
fn a_relabelled_exact_copy_flags_both_sides_of_the_tie() {
    let records = text_records(&["alpha beta gamma", "delta epsilon", "alpha beta gamma"]);
    let report = run(&records, Some(&[0, 1, 1]));
    assert_eq!(report.detector, DetectorId::Duplicates);
    assert_eq!(report.flagged_indices(), [0, 2]);
    assert_eq!(report.flags[0].confidence, 0.5);
    assert_eq!(
        report.flags[0].evidence,
        "labelled `ham` while its exact duplicate `r2` is labelled `spam`, and neither has a majority"
    );
    assert_eq!(report.scores, [0.5, 0.0, 0.5]);
    assert!(report.notes[0].starts_with("1 exact-duplicate groups hold 2 records"));
}

#[test]
fn the_minority_of_a_group_is_flagged_and_the_majority_is_not() {
    let records = text_records(&["same words here", "same words here", "same words here", "x"]);
    let report = run(&records, Some(&[2, 2, 0, 0]));
    assert_eq!(report.flagged_indices(), [2]);
    let flag = &report.flags[0];
    assert!((flag.confidence - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        flag.evidence,
        "labelled `ham`, but 2 of the 2 other records in its exact-duplicate group (`r0`, `r1`) are labelled `eggs`"
    );
}

#[test]
fn consistent_copies_and_missing_labels_flag_nothing() {
    let records = text_records(&["one two three", "one two three", "four five"]);
    assert!(run(&records, Some(&[1, 1, 0])).flags.is_empty());
    let report = run(&records, None);
    assert!(report.flags.is_empty());
    assert!(
        report
            .notes
            .iter()
            .any(|note| note.contains("no labels were given"))
    );
}

#[test]
fn a_lightly_edited_text_is_a_near_duplicate() {
    let original = "the quick brown fox jumps over the lazy dog while the cat sleeps \
                    under a warm blanket near the old stone fireplace in winter";
    let edited = "The quick brown fox jumps over the lazy dog, while the cat sleeps \
                  under a warm blanket near the old stone fireplace in WINTER!";
    let reworded = "the quick brown fox jumps over the lazy dog while the cat naps \
                    under a warm blanket near the old stone fireplace in winter";
    let records = text_records(&[original, "something else entirely", edited, reworded]);
    let report = run(&records, Some(&[0, 0, 1, 0]));
    // The edited copy only changes case and punctuation: all three are one near group, where
    // `ham` has the majority.
    assert_eq!(report.flagged_indices(), [2]);
    assert!(
        report.flags[0]
            .evidence
            .contains("its near-duplicate group (`r0`, `r3`)"),
        "{}",
        report.flags[0].evidence
    );
    assert!(report.notes[0].contains("1 groups joined by near-duplicate similarity hold 3"));
}

#[test]
fn a_flood_keeps_its_first_copy() {
    let mut texts: Vec<String> = vec!["buy cheap watches now".to_owned(); 12];
    texts.extend((0..30).map(|position| format!("single {position}")));
    texts.extend(["pair one".to_owned(), "pair one".to_owned()]);
    let records = text_records(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let report = run(&records, None);
    assert_eq!(report.flagged_indices(), (1..12).collect::<Vec<_>>());
    let flag = &report.flags[0];
    assert!((flag.confidence - (0.5 + 0.4 * (1.0 - 8.0 / 12.0))).abs() < 1e-12);
    assert_eq!(
        flag.evidence,
        "one of `12` exact copies of record `r0`: a flood, as groups of `8` or more are far \
         beyond this dataset's usual duplicates"
    );
}

#[test]
fn the_flood_size_follows_the_data() {
    // Every record comes in a group of 4: floods start at 4 · 2^(3.5 · 0.5), about 13.5.
    let mut sets = UnionFind::new(40);
    for start in (0..40).step_by(4) {
        for member in start + 1..start + 4 {
            sets.union(start, member);
        }
    }
    let groups: Vec<Group> = sets
        .groups()
        .into_iter()
        .map(|members| Group {
            members,
            exact: true,
        })
        .collect();
    let threshold = flood_threshold(40, &groups, 8);
    assert_eq!(threshold.size, 14);
    assert!((threshold.typical - 4.0).abs() < 1e-12);
    assert_eq!(flood_threshold(10, &[], 8).size, 8);
}

#[test]
fn ids_labels_and_sources_are_not_content_but_fields_are() {
    let mut records = vec![
        record(0, vec![("x", Value::Int(1))]),
        record(1, vec![("x", Value::Float(1.0))]),
    ];
    records[1].source = Some("vendor".to_owned());
    records[1].label = Some("spam".to_owned());
    let report = run(&records, Some(&[0, 1]));
    assert_eq!(report.flagged_indices(), [0, 1]);

    records[1].fields.push((Arc::from("extra"), Value::Int(3)));
    assert!(run(&records, Some(&[0, 1])).flags.is_empty());
    // Comparing only `x` ignores the extra field.
    let report = Duplicates::params()
        .field("x")
        .check()
        .unwrap()
        .run(&records, Some(&[0, 1]), &names())
        .unwrap();
    assert_eq!(report.flagged_indices(), [0, 1]);
}

#[test]
fn embeddings_in_the_payload_are_compared_by_cosine() {
    let mut random = antidote_core::SplitMix64::new(3);
    let mut vectors: Vec<Vec<f64>> = (0..30)
        .map(|_| (0..12).map(|_| random.normal()).collect())
        .collect();
    vectors[29] = vectors[4]
        .iter()
        .map(|value| value + 0.01 * random.normal())
        .collect();
    let records: Vec<Record> = vectors
        .iter()
        .enumerate()
        .map(|(position, vector)| {
            record(
                position,
                vec![(
                    "embedding",
                    Value::List(vector.iter().map(|&value| Value::Float(value)).collect()),
                )],
            )
        })
        .collect();
    let mut labels = vec![0; 30];
    labels[29] = 1;
    let report = run(&records, Some(&labels));
    assert_eq!(report.flagged_indices(), [4, 29]);
    assert!(report.flags[1].evidence.contains("near duplicate `r4`"));

    // The same vectors given as a matrix, with payloads that differ.
    let texts: Vec<String> = (0..30)
        .map(|position| format!("record {position}"))
        .collect();
    let records = text_records(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let matrix: Vec<f32> = vectors
        .iter()
        .flatten()
        .map(|&value| value as f32)
        .collect();
    let report = Duplicates::params()
        .check()
        .unwrap()
        .run_with_embedding(&records, Some(&labels), &names(), &matrix, 12)
        .unwrap();
    assert_eq!(report.flagged_indices(), [4, 29]);
}

#[test]
fn params_and_inputs_are_checked() {
    assert_eq!(
        Duplicates::params().words_per_shingle(0).check(),
        Err(DuplicatesParamsError::WordsPerShingle)
    );
    for similarity in [0.0, 1.5, f64::NAN] {
        assert!(
            Duplicates::params()
                .text_similarity(similarity)
                .check()
                .is_err()
        );
        assert!(
            Duplicates::params()
                .embedding_similarity(similarity)
                .check()
                .is_err()
        );
    }
    assert_eq!(
        Duplicates::params().image_difference(1.0).check(),
        Err(DuplicatesParamsError::ImageDifference { difference: 1.0 })
    );
    assert_eq!(
        Duplicates::params()
            .flood_minimum(1)
            .check()
            .unwrap_err()
            .to_string(),
        "a flood needs at least `2` records, not `1`"
    );
    let detector = Duplicates::params().check().unwrap();
    let records = text_records(&["a", "b"]);
    assert_eq!(
        detector.run(&records, Some(&[0]), &names()),
        Err(DuplicatesError::LabelCount {
            records: 2,
            labels: 1
        })
    );
    assert_eq!(
        Duplicates::params()
            .field("nope")
            .check()
            .unwrap()
            .run(&records, None, &names()),
        Err(DuplicatesError::MissingField {
            field: "nope".to_owned()
        })
    );
    assert!(matches!(
        detector.run_with_embedding(&records, None, &names(), &[0.0; 5], 3),
        Err(DuplicatesError::EmbeddingShape { expected: 6, .. })
    ));
}

#[test]
fn empty_payloads_are_copies_of_nothing() {
    let records: Vec<Record> = (0..4)
        .map(|position| record(position, vec![("text", Value::Null)]))
        .collect();
    let report = run(&records, Some(&[0, 1, 2, 0]));
    assert!(report.flags.is_empty());
    assert!(report.notes[0].starts_with("0 exact-duplicate groups hold 0 records"));

    // With an embedding given, they can still be near duplicates.
    let matrix = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 1.0, 0.001];
    let report = Duplicates::params()
        .check()
        .unwrap()
        .run_with_embedding(&records, Some(&[0, 1, 2, 1]), &names(), &matrix, 2)
        .unwrap();
    assert_eq!(report.flagged_indices(), [0, 3]);
    assert!(report.flags[0].evidence.contains("its near duplicate `r3`"));
}

#[test]
fn the_result_does_not_depend_on_the_thread_count() {
    let mut random = antidote_core::SplitMix64::new(12);
    let words = [
        "red", "green", "blue", "cat", "dog", "sun", "rain", "tree", "sea", "sky",
    ];
    let mut texts: Vec<String> = (0..400)
        .map(|_| {
            (0..12)
                .map(|_| words[random.below(words.len())])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    for copy in 0..40 {
        texts.push(texts[copy * 3].replace("sun", "moon"));
    }
    let records = text_records(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let labels: Vec<usize> = (0..records.len()).map(|record| record % 3).collect();
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(&records, Some(&labels)))
    };
    let single = on(1);
    assert!(!single.flags.is_empty());
    assert_eq!(single, on(2));
    assert_eq!(single, on(5));
}
