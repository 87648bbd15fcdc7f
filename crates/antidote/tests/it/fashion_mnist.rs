//! The real Fashion-MNIST training set, from Debian's `dataset-fashion-mnist`.

use std::path::Path;

use crate::TestContext;

const FASHION: &str = "/usr/share/datasets/fashion-mnist";

#[test]
fn locks_and_verifies_the_real_training_set() {
    let images = Path::new(FASHION).join("train-images-idx3-ubyte.gz");
    assert!(
        images.is_file(),
        "`{}` is missing: install it with `apt-get install dataset-fashion-mnist` (.ci/run does)",
        images.display()
    );
    let context = TestContext::new();
    let output = context.run(&["lock", FASHION, "--json"]).expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let datasets = json["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 2, "train and t10k");
    let train = datasets
        .iter()
        .find(|dataset| {
            dataset["path"]
                .as_str()
                .unwrap()
                .ends_with("train-images-idx3-ubyte.gz")
        })
        .unwrap();
    assert_eq!(train["record_count"], 60_000);
    let counts = train["label_counts"].as_object().unwrap();
    assert_eq!(counts.len(), 10);
    assert!(
        counts.values().all(|count| count == 6000),
        "Fashion-MNIST is balanced: {counts:?}"
    );
    assert_eq!(train["schema"]["columns"][1]["kind"], "image");
    context.run(&["verify"]).expect_code(0);
}
