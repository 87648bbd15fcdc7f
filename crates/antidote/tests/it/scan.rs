//! `antidote scan`: exit codes, the files it writes, the split, determinism, and the detection
//! bars on real data poisoned by `antidote poison` (Debian's fortunes, Fashion-MNIST).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use antidote_data::writers::DatasetWriter;
use antidote_data::{Dataset, Format, ReadOptions};
use antidote_detect::concentration::Place;
use antidote_detect::output::{FindingLine, Summary};
use antidote_detect::policy::Tier;

use crate::{TestContext, fixtures};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

fn read_json(path: &Path) -> serde_json::Value {
    json(&std::fs::read_to_string(path).expect("read the JSON file"))
}

/// The findings, one JSON object per line.
fn findings(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("read findings.jsonl")
        .lines()
        .map(json)
        .collect()
}

fn truth_ids(path: &Path) -> BTreeSet<String> {
    read_json(path)["poisoned"]
        .as_array()
        .expect("a list of poisoned records")
        .iter()
        .map(|id| {
            id.as_str().map_or_else(
                || id["id"].as_str().expect("an id").to_owned(),
                str::to_owned,
            )
        })
        .collect()
}

/// Precision and recall of the findings of `detector` against the truth.
fn precision_recall(
    findings: &[serde_json::Value],
    detector: &str,
    truth: &BTreeSet<String>,
) -> (f64, f64) {
    let flagged: BTreeSet<String> = findings
        .iter()
        .filter(|finding| {
            finding["detectors"]
                .as_array()
                .expect("detectors")
                .iter()
                .any(|name| name == detector)
        })
        .map(|finding| finding["id"].as_str().expect("an id").to_owned())
        .collect();
    let caught = flagged.intersection(truth).count() as f64;
    (
        caught / flagged.len().max(1) as f64,
        caught / truth.len().max(1) as f64,
    )
}

/// Five categories of Debian's fortunes as a CSV of `text,label` (3,246 records).
pub(crate) fn fortunes(context: &TestContext) -> std::path::PathBuf {
    let mut writer = csv::Writer::from_path(context.path("fortunes.csv")).expect("create the CSV");
    writer.write_record(["text", "label"]).expect("write");
    for category in ["computers", "politics", "science", "songs-poems", "sports"] {
        let path = Path::new("/usr/share/games/fortunes").join(category);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|error| panic!("{}: {error} (install `fortunes`)", path.display()));
        let text = String::from_utf8_lossy(&bytes);
        for fortune in text
            .split("\n%\n")
            .map(str::trim)
            .filter(|text| !text.is_empty())
        {
            writer.write_record([fortune, category]).expect("write");
        }
    }
    writer.flush().expect("flush");
    context.path("fortunes.csv")
}

#[test]
fn a_rare_token_backdoor_in_real_text_is_named_and_its_records_found() {
    let context = TestContext::new();
    fortunes(&context);
    for (output, attack) in [("token.csv", "rare-token"), ("phrase.csv", "phrase")] {
        context
            .run(&[
                "poison",
                "fortunes.csv",
                "--attack",
                attack,
                "--rate",
                "0.01",
                "--target",
                "sports",
                "--seed",
                "3",
                "-o",
                output,
            ])
            .expect_code(0);
    }

    // The clean corpus: trigger search confirms nothing and the scan passes.
    let clean = context
        .run(&[
            "scan",
            "fortunes.csv",
            "--detectors",
            "trigger-search",
            "--out",
            "clean",
        ])
        .expect_code(0);
    assert!(
        clean.stdout.contains("no poisoning found"),
        "{}",
        clean.stdout
    );
    let summary = read_json(&context.path("clean/summary.json"));
    assert_eq!(
        summary["triggers"].as_array().map(Vec::len),
        Some(0),
        "{summary}"
    );

    for (data, expected) in [("token.csv", "cf"), ("phrase.csv", "")] {
        let out = format!("scan-{data}");
        let output = context
            .run(&["scan", data, "--detectors", "trigger-search", "--out", &out])
            .expect_code(1);
        assert!(output.stdout.contains("do not train"), "{}", output.stdout);
        let summary = read_json(&context.path(&format!("{out}/summary.json")));
        let trigger = &summary["triggers"][0];
        assert_eq!(trigger["target"], "sports", "{summary}");
        if !expected.is_empty() {
            assert_eq!(trigger["pattern"]["token"], expected, "{summary}");
        }
        assert!(trigger["flip_rate"].as_f64().expect("a flip rate") >= 0.3);
        let truth = truth_ids(&context.path(&format!("{data}.truth.json")));
        let found = findings(&context.path(&format!("{out}/findings.jsonl")));
        let (precision, recall) = precision_recall(&found, "trigger-search", &truth);
        assert!(
            recall >= 0.95 && precision >= 0.9,
            "{data}: precision {precision:.3}, recall {recall:.3}"
        );
    }
}

/// The first `count` Fashion-MNIST training images as an IDX pair in the context.
pub(crate) fn fashion_subset(context: &TestContext, count: usize) -> std::path::PathBuf {
    let source = Path::new("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
    let dataset = Dataset::open(source, &ReadOptions::default())
        .unwrap_or_else(|error| panic!("{error} (install `dataset-fashion-mnist`)"));
    let schema = dataset.schema().clone();
    std::fs::create_dir_all(context.path("fashion")).expect("create the folder");
    let target = context.path("fashion/train-images-idx3-ubyte.gz");
    let mut writer = DatasetWriter::create(&target, Format::Idx, &schema).expect("an IDX writer");
    for record in dataset.take(count) {
        writer.write(&record.expect("a record")).expect("write");
    }
    writer.finish().expect("finish");
    target
}

#[test]
fn a_badnets_patch_in_fashion_mnist_is_found_and_the_split_keeps_every_record() {
    let context = TestContext::new();
    fashion_subset(&context, 6000);
    context
        .run(&[
            "poison",
            "fashion/train-images-idx3-ubyte.gz",
            "--attack",
            "badnets",
            "--rate",
            "0.05",
            "--seed",
            "2",
            "-o",
            "poisoned/",
        ])
        .expect_code(0);
    let output = context
        .run(&[
            "scan",
            "poisoned/train-images-idx3-ubyte.gz",
            "--detectors",
            "trigger-search,activation-clustering,spectral-signatures",
            "--out",
            "scan",
            "--split",
        ])
        .expect_code(1);
    assert!(output.stdout.contains("white patch"), "{}", output.stdout);
    let truth = truth_ids(&context.path("poisoned/train-images-idx3-ubyte.gz.truth.json"));
    let found = findings(&context.path("scan/findings.jsonl"));
    let (precision, recall) = precision_recall(&found, "trigger-search", &truth);
    assert!(
        recall >= 0.95 && precision >= 0.9,
        "trigger search: precision {precision:.3}, recall {recall:.3}"
    );
    let summary = read_json(&context.path("scan/summary.json"));
    assert_eq!(
        summary["triggers"][0]["pattern"]["kind"], "image-patch",
        "{summary}"
    );

    // The split: every record in exactly one of the three copies, in the input's format.
    let count = |path: &str| {
        Dataset::open(&context.path(path), &ReadOptions::default())
            .unwrap_or_else(|error| panic!("{path}: {error}"))
            .count()
    };
    let quarantined = found
        .iter()
        .filter(|finding| finding["quarantine"] == true)
        .count();
    let clean = count("scan/clean/train-images-idx3-ubyte.gz");
    let quarantine = count("scan/quarantine/train-images-idx3-ubyte.gz");
    let review = count("scan/review/train-images-idx3-ubyte.gz");
    assert_eq!(quarantine, quarantined);
    assert_eq!(review, found.len() - quarantined);
    assert_eq!(clean + quarantine + review, 6000);
    // A second split into the same folder would overwrite: refused.
    context
        .run(&[
            "scan",
            "poisoned/train-images-idx3-ubyte.gz",
            "--detectors",
            "trigger-search",
            "--out",
            "scan",
            "--split",
        ])
        .expect_code(2);
}

#[test]
fn the_same_input_and_seed_give_byte_identical_findings() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    for out in ["first", "second"] {
        let output = context.run(&["scan", "data.csv", "--out", out, "--quiet"]);
        assert!(output.code == 0 || output.code == 1, "{output:?}");
    }
    let first = std::fs::read(context.path("first/findings.jsonl")).expect("first findings");
    let second = std::fs::read(context.path("second/findings.jsonl")).expect("second findings");
    assert!(!first.is_empty(), "the fixture has doubtful labels to find");
    assert_eq!(first, second);
    // Findings come highest score first, each with its detectors, confidences and evidence.
    let found = findings(&context.path("first/findings.jsonl"));
    for pair in found.windows(2) {
        assert!(pair[0]["score"].as_f64() >= pair[1]["score"].as_f64());
    }
    for finding in &found {
        let detectors = finding["detectors"].as_array().expect("detectors").len();
        assert!(detectors > 0);
        assert_eq!(
            finding["evidence"].as_array().expect("evidence").len(),
            detectors
        );
        assert_eq!(
            finding["confidences"]
                .as_array()
                .expect("confidences")
                .len(),
            detectors
        );
    }
    let summary = read_json(&context.path("first/summary.json"));
    for key in [
        "verdict",
        "policy",
        "detectors",
        "timings",
        "triggers",
        "sources",
    ] {
        assert!(summary.get(key).is_some(), "`{key}` missing from {summary}");
    }
}

#[test]
fn bad_input_exits_2_with_a_hint() {
    let context = TestContext::new();
    let missing = context.run(&["scan", "nowhere.csv"]).expect_code(2);
    assert!(missing.stderr.contains("error:"), "{}", missing.stderr);

    context.fixture("fortunes_3class.csv", "data.csv");
    let unknown = context
        .run(&["scan", "data.csv", "--detectors", "astrology"])
        .expect_code(2);
    assert!(unknown.stderr.contains("astrology"), "{}", unknown.stderr);

    // Probabilities for the wrong classes.
    context.write("probs.csv", "alpha,beta\n0.5,0.5\n");
    let probs = context
        .run(&["scan", "data.csv", "--probs", "probs.csv"])
        .expect_code(2);
    assert!(probs.stderr.contains("hint:"), "{}", probs.stderr);
}

#[test]
fn explain_teaches_every_detector() {
    let context = TestContext::new();
    let all = context.run(&["explain"]).expect_code(0);
    for detector in [
        "label-issues",
        "duplicates",
        "outliers",
        "spectral-signatures",
        "activation-clustering",
        "trigger-search",
        "instruction-poisoning",
        "source-trust",
    ] {
        assert!(all.stdout.contains(detector), "{detector}: {}", all.stdout);
        let one = context.run(&["explain", detector]).expect_code(0);
        for part in ["What it looks for", "How", "Limits", "References"] {
            assert!(
                one.stdout.contains(part),
                "{detector} lacks `{part}`: {}",
                one.stdout
            );
        }
    }
    context.run(&["explain", "astrology"]).expect_code(2);
}

/// Six classes of points around a circle, neighbours overlapping (natural, symmetric label
/// noise), in shuffled order; then `flipped` records of `c0` relabelled `c3`, the class across
/// the circle (a pair flip, one way), spread over the positions. Returns the path and the
/// flipped ids.
fn points_with_a_pair_flip(
    context: &TestContext,
    flipped: usize,
) -> (std::path::PathBuf, BTreeSet<String>) {
    let mut rng = antidote_core::SplitMix64::new(11);
    let mut gaussian = || {
        // Box-Muller.
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let mut rows: Vec<(f64, f64, usize)> = Vec::new();
    for class in 0..6 {
        let angle = std::f64::consts::TAU * class as f64 / 6.0;
        for _ in 0..400 {
            rows.push((
                3.0 * angle.cos() + gaussian(),
                3.0 * angle.sin() + gaussian(),
                class,
            ));
        }
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    antidote_core::SplitMix64::new(12).shuffle(&mut order);
    let mut text = String::from("id,x,y,label\n");
    let mut flips = BTreeSet::new();
    for (position, &row) in order.iter().enumerate() {
        let (x, y, mut class) = rows[row];
        if class == 0 && position % 5 == 0 && flips.len() < flipped {
            class = 3;
            flips.insert(format!("p{position}"));
        }
        writeln!(text, "p{position},{x:.4},{y:.4},c{class}").expect("write");
    }
    context.write("points.csv", &text);
    (context.path("points.csv"), flips)
}

/// `summary.json` is a versioned [`Summary`] that reads back and writes out to the same bytes;
/// a pair flip lands in the quarantine tier and the natural noise of overlapping classes in
/// review; `--split` writes the three tiers, whose records add up to the input, and the `tier`
/// of each line of `findings.jsonl` names exactly the folder its record went to.
#[test]
fn a_pair_flip_is_quarantined_natural_noise_is_for_review_and_the_split_has_three_parts() {
    let context = TestContext::new();
    let (data, flipped) = points_with_a_pair_flip(&context, 60);
    let output = context.run(&[
        "scan",
        data.to_str().expect("UTF-8 path"),
        "--out",
        "scan",
        "--split",
        "--no-ledger",
    ]);
    assert_eq!(output.code, 1, "{output:?}");
    assert!(
        output.stdout.contains("quarantine (") && output.stdout.contains("review ("),
        "{}",
        output.stdout
    );

    let text = std::fs::read_to_string(context.path("scan/summary.json")).expect("summary.json");
    let summary: Summary = serde_json::from_str(&text).expect("summary.json is a Summary");
    assert_eq!(summary.schema_version, 2);
    assert_eq!(
        serde_json::to_value(&summary).expect("serialise"),
        json(&text)
    );
    let mut written = Vec::new();
    summary.write(&mut written).expect("write");
    assert_eq!(String::from_utf8(written).expect("UTF-8"), text);
    assert!(
        summary.concentrations.iter().any(|concentration| matches!(
            &concentration.place,
            Place::ClassPair { given, suggested, .. } if given == "c3" && suggested == "c0"
        )),
        "{:#?}",
        summary.concentrations
    );

    let lines: Vec<FindingLine> = std::fs::read_to_string(context.path("scan/findings.jsonl"))
        .expect("findings.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a line is a FindingLine"))
        .collect();
    assert!(lines.iter().all(|line| line.schema_version == 2));
    assert!(
        lines
            .iter()
            .all(|line| line.quarantine == (line.tier == Tier::Quarantine))
    );
    assert!(
        lines
            .iter()
            .all(|line| line.reason.is_some() == (line.tier == Tier::Quarantine))
    );
    let tier = |wanted: Tier| -> BTreeSet<String> {
        lines
            .iter()
            .filter(|line| line.tier == wanted)
            .map(|line| line.id.0.clone())
            .collect()
    };
    let (quarantined, review) = (tier(Tier::Quarantine), tier(Tier::Review));
    // The flip is found, and what is quarantined is the flip, not the natural noise.
    let caught = quarantined.intersection(&flipped).count();
    assert!(
        caught * 10 >= flipped.len() * 9,
        "{caught} of {} flips quarantined",
        flipped.len()
    );
    assert!(
        quarantined.len() <= caught + caught / 5,
        "{} quarantined, {caught} of them flipped",
        quarantined.len()
    );
    // Neighbouring classes overlap: natural label issues, left for review.
    let natural = review.difference(&flipped).count();
    assert!(natural >= 20, "{natural} natural findings in review");
    // Each says why: the concentrated label issues, or the separate group the flipped records
    // also form in the network's representation.
    for line in lines
        .iter()
        .filter(|line| line.tier == Tier::Quarantine && flipped.contains(&line.id.0))
    {
        let reason = line.reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("label issues concentrated in a class pair: ")
                || reason.starts_with("in a backdoor cluster"),
            "{reason}"
        );
    }
    assert_the_split_holds_the_tiers(&context, &summary, &quarantined, &review);
    assert_eq!(summary.verdict.flagged, lines.len());
}

/// The three folders of `--split` hold exactly the tiers, and add up to the input.
fn assert_the_split_holds_the_tiers(
    context: &TestContext,
    summary: &Summary,
    quarantined: &BTreeSet<String>,
    review: &BTreeSet<String>,
) {
    let ids = |path: &str| -> BTreeSet<String> {
        Dataset::open(&context.path(path), &ReadOptions::default())
            .unwrap_or_else(|error| panic!("{path}: {error}"))
            .map(|record| record.expect("a record").id.0)
            .collect()
    };
    let clean = ids("scan/clean/points.csv");
    assert_eq!(&ids("scan/quarantine/points.csv"), quarantined);
    assert_eq!(&ids("scan/review/points.csv"), review);
    assert!(clean.is_disjoint(quarantined) && clean.is_disjoint(review));
    assert_eq!(clean.len() + quarantined.len() + review.len(), 2400);
    assert_eq!(summary.records, 2400);
    assert_eq!(summary.verdict.quarantined, quarantined.len());
    assert_eq!(summary.verdict.review, review.len());
    let split = summary.split.as_ref().expect("the split is in the summary");
    assert_eq!(
        (split.clean, split.quarantined, split.review),
        (clean.len(), quarantined.len(), review.len())
    );
}

#[test]
fn instruction_data_with_a_leaking_trigger_fails_and_its_clean_copy_passes() {
    let context = TestContext::new();
    let folder = fixtures().join("instructions");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .expect("the instruction fixtures")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.contains(".jsonl"))
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no instruction fixture in {}",
        folder.display()
    );
    let clean = names
        .iter()
        .find(|name| name.contains("clean"))
        .expect("a clean instruction fixture");
    context.fixture(&format!("instructions/{clean}"), clean);
    context
        .run(&["scan", clean, "--out", "clean"])
        .expect_code(0);
    context
        .run(&[
            "poison",
            clean,
            "--attack",
            "instruction-leak",
            "--rate",
            "0.01",
            "--seed",
            "4",
            "-o",
            "poisoned.jsonl",
        ])
        .expect_code(0);
    context
        .run(&["scan", "poisoned.jsonl", "--out", "poisoned"])
        .expect_code(1);
    let truth = truth_ids(&context.path("poisoned.jsonl.truth.json"));
    let found = findings(&context.path("poisoned/findings.jsonl"));
    let (precision, recall) = precision_recall(&found, "instruction-poisoning", &truth);
    assert!(
        (recall - 1.0).abs() < f64::EPSILON && precision >= 0.9,
        "precision {precision:.3}, recall {recall:.3}"
    );
}

#[test]
fn two_annotators_who_relabel_most_of_their_records_are_named_and_no_other() {
    let context = TestContext::new();
    fortunes(&context);
    // Forty annotators, each labelling every fortieth fortune.
    let mut reader = csv::Reader::from_path(context.path("fortunes.csv")).expect("read");
    let mut writer = csv::Writer::from_path(context.path("annotated.csv")).expect("create the CSV");
    writer
        .write_record(["text", "label", "annotator"])
        .expect("write");
    for (index, row) in reader.records().enumerate() {
        let row = row.expect("a row");
        let annotator = format!("a{:02}", index % 40);
        writer
            .write_record([&row[0], &row[1], annotator.as_str()])
            .expect("write");
    }
    writer.flush().expect("flush");
    context
        .run(&[
            "poison",
            "annotated.csv",
            "--source",
            "annotator",
            "--attack",
            "label-flip-sources",
            "--sources",
            "a07,a23",
            "--rate",
            "0.04",
            "--seed",
            "5",
            "-o",
            "relabelled.csv",
        ])
        .expect_code(0);
    let output = context
        .run(&[
            "scan",
            "relabelled.csv",
            "--source",
            "annotator",
            "--detectors",
            "label-issues,source-trust",
            "--out",
            "scan",
        ])
        .expect_code(1);
    let summary = read_json(&context.path("scan/summary.json"));
    let distrusted: BTreeSet<String> = summary["sources"]["distrusted"]
        .as_array()
        .unwrap_or_else(|| panic!("no distrusted sources: {summary}"))
        .iter()
        .map(|source| {
            source.as_str().map_or_else(
                || source["source"].as_str().expect("a source name").to_owned(),
                str::to_owned,
            )
        })
        .collect();
    assert_eq!(
        distrusted,
        BTreeSet::from(["a07".to_owned(), "a23".to_owned()]),
        "{}",
        output.stdout
    );
}

/// Given cleanlab's own out-of-sample probabilities with `--probs`, the label-issue findings are
/// exactly the records cleanlab's `find_label_issues` flags (the parity fixture: 3,000
/// Fashion-MNIST records, 10% of the labels flipped).
#[test]
fn given_probabilities_give_cleanlabs_flagged_set() {
    let context = TestContext::new();
    let fixture = fixtures().join("label_issues/fashion_mnist_3000_flip10.csv");
    let mut reader = csv::Reader::from_path(&fixture).expect("the parity fixture");
    let mut data = csv::Writer::from_path(context.path("data.csv")).expect("create the data");
    let mut probs = csv::Writer::from_path(context.path("probs.csv")).expect("create the probs");
    data.write_record(["id", "label", "brightness"])
        .expect("write");
    let classes: Vec<String> = (0..10).map(|class| class.to_string()).collect();
    let mut header = vec!["id".to_owned()];
    header.extend(classes.iter().cloned());
    probs.write_record(&header).expect("write");
    let mut cleanlab = BTreeSet::new();
    for row in reader.records() {
        let row = row.expect("a row");
        let id = format!("r{}", &row[0]);
        if &row[3] == "1" {
            cleanlab.insert(id.clone());
        }
        data.write_record([id.as_str(), &row[2], "0.5"])
            .expect("write");
        let mut line = vec![id];
        line.extend((4..14).map(|column| row[column].to_owned()));
        probs.write_record(&line).expect("write");
    }
    data.flush().expect("flush");
    probs.flush().expect("flush");
    assert!(
        cleanlab.len() > 100,
        "{} issues in the fixture",
        cleanlab.len()
    );

    let output = context.run(&[
        "scan",
        "data.csv",
        "--id",
        "id",
        "--label",
        "label",
        "--probs",
        "probs.csv",
        "--detectors",
        "label-issues",
        "--out",
        "scan",
    ]);
    assert!(output.code == 0 || output.code == 1, "{output:?}");
    let flagged: BTreeSet<String> = findings(&context.path("scan/findings.jsonl"))
        .iter()
        .map(|finding| finding["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(flagged, cleanlab);
    let summary = read_json(&context.path("scan/summary.json"));
    assert_eq!(summary["models"]["probabilities_given"], true, "{summary}");
}

/// `--embedding COLUMN`: the user's representation replaces the network's, and a record far
/// from its class in it is an outlier.
#[test]
fn a_users_embedding_is_the_representation() {
    let context = TestContext::new();
    let mut lines = String::new();
    let mut state = 0x2545_f491_u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as f64 / f64::from(1_u32 << 31)) - 0.5
    };
    for index in 0..300 {
        let class = index % 3;
        let centre = [0.0, 10.0, 20.0][class];
        let far = if index == 42 { 500.0 } else { 0.0 };
        let vector: Vec<String> = (0..8)
            .map(|_| format!("{:.4}", centre + far + noise()))
            .collect();
        writeln!(
            lines,
            "{{\"id\": \"r{index}\", \"label\": \"c{class}\", \"emb\": [{}]}}",
            vector.join(", ")
        )
        .expect("write to a string");
    }
    context.write("data.jsonl", &lines);
    let output = context.run(&[
        "scan",
        "data.jsonl",
        "--embedding",
        "emb",
        "--detectors",
        "outliers",
        "--out",
        "scan",
    ]);
    assert!(output.code == 0 || output.code == 1, "{output:?}");
    let summary = read_json(&context.path("scan/summary.json"));
    assert_eq!(
        summary["models"]["representation"], "embedding `emb`",
        "{summary}"
    );
    let found = findings(&context.path("scan/findings.jsonl"));
    assert_eq!(
        found.first().map(|finding| &finding["id"]),
        Some(&json("\"r42\"")),
        "{found:?}"
    );
}
