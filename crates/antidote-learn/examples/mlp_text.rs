//! Times the network on text: Debian's fortunes (package `fortunes`) of eight categories, labelled
//! by their file, featurized as hashed TF-IDF n-grams (16,384 features, about 2% of them not
//! zero), trained on every other fortune; prints the accuracy on the others.
//!
//! ```text
//! cargo run --release -p antidote-learn --example mlp_text -- [--threads N] [--epochs N]
//! ```
#![expect(
    clippy::print_stdout,
    reason = "an example that prints its measurements"
)]

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use antidote_core::NoProgress;
use antidote_data::{ColumnKind, Value, from_rows};
use antidote_learn::{Featurizer, LabelIndex, LogisticRegression, Mlp};

const CATEGORIES: [&str; 8] = [
    "computers",
    "education",
    "food",
    "law",
    "medicine",
    "politics",
    "science",
    "sports",
];

fn main() -> Result<(), Box<dyn Error>> {
    let mut threads = 0;
    let mut params = Mlp::params();
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--threads" => threads = value.parse()?,
            "--epochs" => params = params.epochs(value.parse()?),
            _ => return Err(format!("unknown option `{flag}`").into()),
        }
    }
    let params = params.check()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;

    let start = Instant::now();
    let mut rows = Vec::new();
    for category in CATEGORIES {
        let text = std::fs::read_to_string(Path::new("/usr/share/games/fortunes").join(category))?;
        for fortune in text.split("\n%\n").map(str::trim).filter(|f| !f.is_empty()) {
            rows.push(vec![
                Value::Text(fortune.into()),
                Value::Text(category.into()),
            ]);
        }
    }
    let dataset = from_rows(
        Path::new("fortunes"),
        vec![
            (Arc::from("text"), ColumnKind::Text),
            (Arc::from("label"), ColumnKind::Categorical),
        ],
        rows,
    )?;
    let schema = dataset.schema().clone();
    let records = dataset.collect::<Result<Vec<_>, _>>()?;
    let features = Featurizer::fit(&records, &schema)?.transform(&records)?;
    let classes = LabelIndex::from_records(&records);
    let labels = classes.encode(&records)?;
    let training: Vec<usize> = (0..labels.len()).filter(|row| row % 2 == 0).collect();
    let test: Vec<usize> = (0..labels.len()).filter(|row| row % 2 == 1).collect();
    let training_labels: Vec<usize> = training.iter().map(|&row| labels[row]).collect();
    let prepare = start.elapsed();
    let non_zero = features
        .data()
        .iter()
        .filter(|value| **value != 0.0)
        .count();

    let model = pool.install(|| {
        params.fit(
            &features.select_rows(&training),
            &training_labels,
            classes.len(),
            &NoProgress,
        )
    })?;
    let predicted = pool.install(|| model.predict(&features.select_rows(&test)));
    let correct = predicted
        .iter()
        .zip(&test)
        .filter(|&(predicted, &row)| *predicted == labels[row])
        .count();
    let report = model.report();
    // For comparison, logistic regression with its defaults on the same features.
    let linear = LogisticRegression::params().check()?.fit(
        &features.select_rows(&training),
        &training_labels,
        classes.len(),
    )?;
    let linear_correct = linear
        .predict_proba(&features.select_rows(&test))
        .chunks_exact(classes.len())
        .zip(&test)
        .filter(|&(row, &at)| {
            let predicted = (0..row.len())
                .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            predicted == labels[at]
        })
        .count();
    println!(
        "records={} features={} non_zero_per_record={:.1} classes={} threads={} epochs={} \
         updates={} prepare_seconds={:.3} train_seconds={:.3} training_accuracy={:.4} \
         test_accuracy={:.4} logistic_test_accuracy={:.4}",
        training.len(),
        features.columns(),
        non_zero as f64 / features.rows() as f64,
        classes.len(),
        pool.current_num_threads(),
        report.epochs,
        report.updates,
        prepare.as_secs_f64(),
        report.duration.as_secs_f64(),
        report.training_accuracy,
        correct as f64 / test.len() as f64,
        linear_correct as f64 / test.len() as f64,
    );
    Ok(())
}
