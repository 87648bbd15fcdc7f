//! Throughput of DP-SGD against plain SGD through the same code (`bench/dp.sh`): the built-in
//! logistic regression (or an MLP) on the first `RECORDS` Fashion-MNIST training images, pixels /
//! 255, `EPOCHS` epochs of expected batches of 256, clipping at 1 and noise multiplier 1 for the
//! private run; each model evaluated on the 10,000 test images.
//!
//!     cargo run --release -p antidote-learn --example dpsgd -- [RECORDS] [EPOCHS] [HIDDEN]
//!
//! Prints one line of `key=value` pairs: `private_seconds`, `plain_seconds`, `ratio`,
//! `private_accuracy`, `plain_accuracy`, `epsilon`.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use antidote_core::NoProgress;
use antidote_data::{Dataset, ReadOptions};
use antidote_learn::{DpSgd, Featurizer, LabelIndex, Privacy, accuracy};

const DATA: &str = "/usr/share/datasets/fashion-mnist";

#[expect(clippy::print_stdout, reason = "an example prints what it measured")]
fn main() -> Result<(), Box<dyn Error>> {
    let mut arguments = std::env::args().skip(1);
    let records: usize = arguments.next().map_or(Ok(60_000), |a| a.parse())?;
    let epochs: usize = arguments.next().map_or(Ok(2), |a| a.parse())?;
    let hidden: Vec<usize> = arguments
        .next()
        .map(|a| a.split(',').map(str::parse).collect::<Result<_, _>>())
        .transpose()?
        .unwrap_or_default();
    let read = |name: &str, limit: usize| -> Result<_, Box<dyn Error>> {
        let dataset = Dataset::open(&Path::new(DATA).join(name), &ReadOptions::default())?;
        let schema = dataset.schema().clone();
        Ok((schema, dataset.take(limit).collect::<Result<Vec<_>, _>>()?))
    };
    let (schema, training) = read("train-images-idx3-ubyte.gz", records)?;
    let (_, test) = read("t10k-images-idx3-ubyte.gz", usize::MAX)?;
    let featurizer = Featurizer::fit(&training, &schema)?;
    let classes = LabelIndex::from_records(&training);
    let (features, labels) = (featurizer.transform(&training)?, classes.encode(&training)?);
    let (test_features, test_labels) = (featurizer.transform(&test)?, classes.encode(&test)?);

    let run = |privacy: Privacy| -> Result<(f64, f64, Option<f64>), Box<dyn Error>> {
        let params = DpSgd::params()
            .hidden_layers(&hidden)
            .privacy(privacy)
            .epochs(epochs)
            .batch_size(256)
            .learning_rate(if hidden.is_empty() { 0.5 } else { 0.05 })
            .check()?;
        let started = Instant::now();
        let model = params.fit(&features, &labels, classes.len(), &NoProgress)?;
        let seconds = started.elapsed().as_secs_f64();
        let probabilities = model.predict_proba(&test_features);
        Ok((
            seconds,
            accuracy(&probabilities, &test_labels, classes.len()),
            model.record().epsilon,
        ))
    };
    let (plain_seconds, plain_accuracy, _) = run(Privacy::NonPrivate)?;
    let (private_seconds, private_accuracy, epsilon) = run(Privacy::NoiseMultiplier(1.0))?;
    println!(
        "private_seconds={private_seconds:.3} plain_seconds={plain_seconds:.3} ratio={:.2} private_accuracy={private_accuracy:.4} plain_accuracy={plain_accuracy:.4} epsilon={:.3}",
        private_seconds / plain_seconds,
        epsilon.unwrap_or(f64::NAN)
    );
    Ok(())
}
