//! The confident-learning detector flags exactly the records cleanlab flags.
//!
//! The fixture (`fixtures/label_issues/fashion_mnist_3000_flip10.csv`, made by
//! `fixtures/make_label_issue_fixture.py`) holds 3000 Fashion-MNIST records with 10% of their
//! labels flipped, the out-of-sample probabilities of a cross-validated logistic regression, and
//! the verdict of cleanlab's `find_label_issues` on them. Its sidecar
//! (`fashion_mnist_3000_flip10.cleanlab.json`) holds cleanlab's thresholds and confident joint.

use std::collections::BTreeSet;
use std::path::PathBuf;

use antidote_detect::LabelIssues;

const CLASSES: usize = 10;

struct Fixture {
    true_labels: Vec<usize>,
    noisy_labels: Vec<usize>,
    cleanlab_flagged: Vec<bool>,
    probabilities: Vec<f64>,
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/label_issues")
        .join(name)
}

fn read_fixture() -> Fixture {
    let path = fixture_path("fashion_mnist_3000_flip10.csv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read `{}`: {error}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("the fixture has a header")
        .split(',')
        .collect();
    assert_eq!(
        header[..4],
        ["index", "true_label", "noisy_label", "cleanlab_issue"]
    );
    assert_eq!(header.len(), 4 + CLASSES);

    let mut fixture = Fixture {
        true_labels: Vec::new(),
        noisy_labels: Vec::new(),
        cleanlab_flagged: Vec::new(),
        probabilities: Vec::new(),
    };
    for (position, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "line {}", position + 2);
        assert_eq!(cells[0].parse::<usize>().expect("an index"), position);
        fixture
            .true_labels
            .push(cells[1].parse().expect("a true label"));
        fixture
            .noisy_labels
            .push(cells[2].parse().expect("a noisy label"));
        fixture.cleanlab_flagged.push(match cells[3] {
            "0" => false,
            "1" => true,
            other => panic!("`cleanlab_issue` is `{other}`"),
        });
        // Rust's float parsing is correctly rounded and Python's `repr` is the shortest string
        // that reads back as the same double: these are the bits cleanlab saw.
        fixture.probabilities.extend(
            cells[4..]
                .iter()
                .map(|cell| cell.parse::<f64>().expect("a probability")),
        );
    }
    fixture
}

fn read_cleanlab_summary() -> serde_json::Value {
    let path = fixture_path("fashion_mnist_3000_flip10.cleanlab.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read `{}`: {error}", path.display()));
    serde_json::from_str(&text).expect("the sidecar is JSON")
}

fn indices(flags: &[bool]) -> BTreeSet<usize> {
    flags
        .iter()
        .enumerate()
        .filter_map(|(index, &flag)| flag.then_some(index))
        .collect()
}

#[test]
#[expect(clippy::print_stdout, reason = "the test reports precision and recall")]
fn flags_the_same_records_as_cleanlab() {
    let fixture = read_fixture();
    let report = LabelIssues::params()
        .check()
        .unwrap()
        .run(&fixture.noisy_labels, &fixture.probabilities, CLASSES)
        .unwrap();

    let ours = indices(&report.flagged);
    let theirs = indices(&fixture.cleanlab_flagged);
    let only_ours: Vec<usize> = ours.difference(&theirs).take(10).copied().collect();
    let only_theirs: Vec<usize> = theirs.difference(&ours).take(10).copied().collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "flagged sets differ: {} ours, {} cleanlab's; first flagged only by us: {only_ours:?}; \
         first flagged only by cleanlab: {only_theirs:?}",
        ours.len(),
        theirs.len(),
    );
    assert_eq!(ours.len(), theirs.len());

    let flipped: BTreeSet<usize> = (0..fixture.true_labels.len())
        .filter(|&index| fixture.true_labels[index] != fixture.noisy_labels[index])
        .collect();
    let found = ours.intersection(&flipped).count();
    let precision = found as f64 / ours.len() as f64;
    let recall = found as f64 / flipped.len() as f64;
    println!(
        "flagged {} of {} records; {} of the {} flipped labels found: precision {precision:.3}, \
         recall {recall:.3}",
        ours.len(),
        fixture.noisy_labels.len(),
        found,
        flipped.len(),
    );
    assert!(recall > 0.5, "recall {recall:.3} is below the sanity floor");
}

#[test]
fn thresholds_and_confident_joint_match_cleanlab() {
    let fixture = read_fixture();
    let summary = read_cleanlab_summary();
    let report = LabelIssues::params()
        .check()
        .unwrap()
        .run(&fixture.noisy_labels, &fixture.probabilities, CLASSES)
        .unwrap();

    let thresholds: Vec<f64> = summary["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap().parse().unwrap())
        .collect();
    // To the bit: the means are summed in numpy's order.
    assert_eq!(report.class_thresholds, thresholds);

    let joint: Vec<Vec<usize>> =
        serde_json::from_value(summary["confident_joint"].clone()).unwrap();
    assert_eq!(report.confident_joint, joint);
    assert_eq!(
        report.flagged_count(),
        usize::try_from(summary["flagged"].as_u64().unwrap()).unwrap()
    );
}
