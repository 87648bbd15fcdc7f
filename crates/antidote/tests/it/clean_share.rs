//! On clean real data, `antidote scan` (every detector, the default policy) quarantines at most 1%
//! of the records and says the data may be trained on. Two development sets, from which the
//! detectors' thresholds were set (Fashion-MNIST, Debian's fortunes), and two evaluation sets that
//! no threshold was fitted on (scikit-learn's `digits`, committed in `fixtures/digits/`, and
//! WordNet's noun glosses from Debian's `wordnet-base`). The full-size figures (60,000
//! Fashion-MNIST images) are in `bench/results/matrix.md`.

use std::path::Path;

use antidote_detect::output::Summary;

use crate::TestContext;
use crate::scan::{fashion_subset, fortunes};

/// The most a clean dataset may lose to the quarantine: 1% of its records.
const MAX_QUARANTINED_SHARE: f64 = 0.01;

/// Scans `data` with the defaults and checks the quarantine share and the verdict.
fn assert_clean(context: &TestContext, data: &str, records: usize) {
    let output = context.run(&["scan", data, "--out", "scan"]);
    let path = context.path("scan/summary.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}\nstdout:\n{}\nstderr:\n{}",
            path.display(),
            output.stdout,
            output.stderr
        )
    });
    let summary: Summary = serde_json::from_str(&text).expect("a summary");
    assert_eq!(summary.records, records, "{data}");
    let share = summary.verdict.quarantined as f64 / records as f64;
    assert!(
        share <= MAX_QUARANTINED_SHARE,
        "{data}: {} of {records} clean records quarantined ({:.2}%), {} for review; per class \
         {:?}; concentrations {:?}; reasons {:?}",
        summary.verdict.quarantined,
        100.0 * share,
        summary.verdict.review,
        summary.quarantined_per_class,
        summary.concentrations,
        summary.verdict.reasons,
    );
    assert!(
        summary.verdict.train && output.code == 0,
        "{data}: clean data failed the scan (exit {}): {:?}\n{}",
        output.code,
        summary.verdict.reasons,
        output.stdout
    );
}

/// WordNet 3.0 noun glosses labelled by lexicographer file, as `bench/eval_data.py wordnet`
/// builds them: animal, artifact, body, food and plant, 700 each, evenly spaced through the class.
fn wordnet(context: &TestContext) -> std::path::PathBuf {
    const CLASSES: [(&str, &str); 5] = [
        ("05", "animal"),
        ("06", "artifact"),
        ("08", "body"),
        ("13", "food"),
        ("20", "plant"),
    ];
    const PER_CLASS: usize = 700;
    let path = Path::new("/usr/share/wordnet/data.noun");
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| {
        panic!(
            "{}: {error} (install `wordnet-base`; scripts/test.sh does)",
            path.display()
        )
    });
    let mut glosses: Vec<(&str, Vec<&str>)> = CLASSES
        .iter()
        .map(|&(_, name)| (name, Vec::new()))
        .collect();
    for line in text.lines().filter(|line| !line.starts_with("  ")) {
        let lexicographer_file = line.split(' ').nth(1);
        let Some(class) = CLASSES
            .iter()
            .position(|&(number, _)| Some(number) == lexicographer_file)
        else {
            continue;
        };
        if let Some((_, gloss)) = line.split_once(" | ") {
            glosses[class].1.push(gloss.trim());
        }
    }
    glosses.sort_by_key(|&(name, _)| name);
    let target = context.path("wordnet.csv");
    let mut writer = csv::Writer::from_path(&target).expect("create the CSV");
    writer.write_record(["text", "label"]).expect("write");
    for (name, found) in &glosses {
        assert!(found.len() >= PER_CLASS, "{name}: {} glosses", found.len());
        for index in 0..PER_CLASS {
            writer
                .write_record([found[index * found.len() / PER_CLASS], name])
                .expect("write");
        }
    }
    writer.flush().expect("flush");
    target
}

#[test]
fn clean_fashion_mnist_loses_at_most_one_percent_to_the_quarantine() {
    let context = TestContext::new();
    fashion_subset(&context, 10_000);
    assert_clean(&context, "fashion/train-images-idx3-ubyte.gz", 10_000);
}

#[test]
fn clean_fortunes_lose_at_most_one_percent_to_the_quarantine() {
    let context = TestContext::new();
    fortunes(&context);
    assert_clean(&context, "fortunes.csv", 3246);
}

/// Evaluation data: no threshold of the scan was set on it.
///
/// Spectral signatures and activation clustering both find a natural sub-style of 36 clean `9`s
/// (4.3 standard deviations apart) that a model trained without them calls another class (75%);
/// before the transfer test they were quarantined as a backdoor. What those `9`s share, added to
/// 1,000 records of other classes, makes the scan's network call 26% of them `9` (a trigger must
/// make 50 points more), so they are now called a natural sub-group.
#[test]
fn clean_digits_held_out_lose_at_most_one_percent_to_the_quarantine() {
    let context = TestContext::new();
    for name in ["digits-images-idx3-ubyte.gz", "digits-labels-idx1-ubyte.gz"] {
        context.fixture(&format!("digits/{name}"), &format!("digits/{name}"));
    }
    assert_clean(&context, "digits/digits-images-idx3-ubyte.gz", 1797);
}

/// Evaluation data: no threshold of the scan was set on it.
#[test]
fn clean_wordnet_glosses_held_out_lose_at_most_one_percent_to_the_quarantine() {
    let context = TestContext::new();
    wordnet(&context);
    assert_clean(&context, "wordnet.csv", 3500);
}

#[test]
fn the_wordnet_corpus_has_five_balanced_classes_of_real_glosses() {
    let context = TestContext::new();
    let path = wordnet(&context);
    let mut reader = csv::Reader::from_path(path).expect("read");
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut texts = std::collections::BTreeSet::new();
    for row in reader.records() {
        let row = row.expect("a row");
        *counts.entry(row[1].to_owned()).or_default() += 1;
        texts.insert(row[0].to_owned());
    }
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        ["animal", "artifact", "body", "food", "plant"].map(|name| (name.to_owned(), 700))
    );
    // A few glosses repeat across synsets; nearly all are distinct.
    assert!(texts.len() > 3450, "{} distinct glosses", texts.len());
    assert!(texts.contains("an animal used for pulling heavy loads"));
}
