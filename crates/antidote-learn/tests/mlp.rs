//! The network on real data: Debian's Fashion-MNIST (`dataset-fashion-mnist`), trained on the
//! first 3,000 training images and evaluated on the first 1,000 test images, clean and with a
//! planted backdoor. Both fail (never skip) when the data are not installed.

use std::error::Error;
use std::path::Path;

use antidote_core::{NoProgress, SplitMix64};
use antidote_data::{Dataset, ReadOptions, Record};
use antidote_learn::{Features, Featurizer, LabelIndex, Mlp};

const DATA: &str = "/usr/share/datasets/fashion-mnist";

/// The features and class indices of the first `limit` records of an IDX images file, with the
/// training set's featurizer and classes.
struct Split {
    features: Features,
    labels: Vec<usize>,
    classes: usize,
}

fn read(name: &str, limit: usize) -> Result<Vec<Record>, Box<dyn Error>> {
    let path = Path::new(DATA).join(name);
    assert!(
        path.is_file(),
        "`{}` is missing\nhint: run `apt-get install dataset-fashion-mnist`",
        path.display()
    );
    let dataset = Dataset::open(&path, &ReadOptions::default())?;
    Ok(dataset.take(limit).collect::<Result<Vec<_>, _>>()?)
}

/// 3,000 training and 1,000 test images.
fn fashion_mnist() -> Result<(Split, Split), Box<dyn Error>> {
    let path = Path::new(DATA).join("train-images-idx3-ubyte.gz");
    let schema = Dataset::open(&path, &ReadOptions::default())?
        .schema()
        .clone();
    let training = read("train-images-idx3-ubyte.gz", 3_000)?;
    let test = read("t10k-images-idx3-ubyte.gz", 1_000)?;
    let featurizer = Featurizer::fit(&training, &schema)?;
    let classes = LabelIndex::from_records(&training);
    assert_eq!(classes.len(), 10);
    let split = |records: &[Record]| -> Result<Split, Box<dyn Error>> {
        Ok(Split {
            features: featurizer.transform(records)?,
            labels: classes.encode(records)?,
            classes: classes.len(),
        })
    };
    Ok((split(&training)?, split(&test)?))
}

fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
    let correct = predicted
        .iter()
        .zip(labels)
        .filter(|(predicted, label)| predicted == label)
        .count();
    correct as f64 / labels.len() as f64
}

/// Whites out the 4x4 square in the bottom-right corner of 28x28 images (pixels 24..28 of rows
/// 24..28), the trigger of Gu, Dolan-Gavitt & Garg (2017).
fn stamp(features: &Features, rows: &[usize]) -> Features {
    let mut data = features.data().to_vec();
    for &row in rows {
        for y in 24..28 {
            for x in 24..28 {
                data[row * 784 + y * 28 + x] = 1.0;
            }
        }
    }
    Features::from_row_major(features.rows(), features.columns(), data, "pixels")
        .expect("the shape is unchanged")
}

#[test]
#[expect(
    clippy::print_stdout,
    reason = "the test reports the accuracy it measured"
)]
fn learns_fashion_mnist_from_3000_images() -> Result<(), Box<dyn Error>> {
    let (training, test) = fashion_mnist()?;
    let model = Mlp::params().check()?.fit(
        &training.features,
        &training.labels,
        training.classes,
        &NoProgress,
    )?;
    let report = model.report();
    let test_accuracy = accuracy(&model.predict(&test.features), &test.labels);
    println!(
        "Fashion-MNIST, 3,000 training images: test accuracy {test_accuracy:.4}, training \
         accuracy {:.4} after {} epochs ({:.2} s)",
        report.training_accuracy,
        report.epochs,
        report.duration.as_secs_f64()
    );
    assert!(
        test_accuracy >= 0.75,
        "test accuracy {test_accuracy:.4} is below 0.75"
    );
    assert!(report.training_accuracy > 0.9);
    assert!(report.loss < report.epoch_losses[0]);
    Ok(())
}

#[test]
#[expect(
    clippy::print_stdout,
    reason = "the test reports the attack success rate it measured"
)]
fn learns_a_patch_backdoor() -> Result<(), Box<dyn Error>> {
    let (training, test) = fashion_mnist()?;
    let target = 0;
    // 5% of the training images, drawn from the other classes, get the patch and the target's
    // label.
    let others: Vec<usize> = (0..training.labels.len())
        .filter(|&row| training.labels[row] != target)
        .collect();
    let poisoned: Vec<usize> = SplitMix64::derived(7, "backdoor")
        .sample(others.len(), training.labels.len() / 20)
        .into_iter()
        .map(|index| others[index])
        .collect();
    assert_eq!(poisoned.len(), 150);
    let features = stamp(&training.features, &poisoned);
    let mut labels = training.labels.clone();
    for &row in &poisoned {
        labels[row] = target;
    }

    let model = Mlp::params()
        .check()?
        .fit(&features, &labels, training.classes, &NoProgress)?;

    let clean_accuracy = accuracy(&model.predict(&test.features), &test.labels);
    let victims: Vec<usize> = (0..test.labels.len())
        .filter(|&row| test.labels[row] != target)
        .collect();
    let stamped = stamp(
        &test.features.select_rows(&victims),
        &(0..victims.len()).collect::<Vec<_>>(),
    );
    let predicted = model.predict(&stamped);
    let success =
        predicted.iter().filter(|&&class| class == target).count() as f64 / victims.len() as f64;
    let unstamped = model.predict(&test.features.select_rows(&victims));
    let natural =
        unstamped.iter().filter(|&&class| class == target).count() as f64 / victims.len() as f64;
    println!(
        "backdoor: {success:.3} of {} stamped test images of other classes are called class \
         {target} ({natural:.3} without the patch); clean test accuracy {clean_accuracy:.4}",
        victims.len()
    );
    assert!(
        success >= 0.8,
        "attack success rate {success:.3} is below 0.8"
    );
    assert!(
        natural < 0.1,
        "{natural:.3} of clean images are called the target"
    );
    assert!(clean_accuracy >= 0.75);

    // The representation carries the backdoor: the poisoned training images sit apart from the
    // clean images of the target class, farther from their centroid than those images are.
    let activations = model.activations(&features);
    let width = model.representation_width();
    let clean_target: Vec<usize> = (0..labels.len())
        .filter(|&row| labels[row] == target && !poisoned.contains(&row))
        .collect();
    let mut centroid = vec![0.0f64; width];
    for &row in &clean_target {
        for (total, value) in centroid.iter_mut().zip(activations.row(row)) {
            *total += f64::from(*value) / clean_target.len() as f64;
        }
    }
    let distance = |row: usize| {
        activations
            .row(row)
            .iter()
            .zip(&centroid)
            .map(|(value, center)| (f64::from(*value) - center).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mean =
        |rows: &[usize]| rows.iter().map(|&row| distance(row)).sum::<f64>() / rows.len() as f64;
    let (poisoned_distance, clean_distance) = (mean(&poisoned), mean(&clean_target));
    println!(
        "representation: poisoned images lie {poisoned_distance:.3} from the target class's \
         clean centroid, its clean images {clean_distance:.3}"
    );
    assert!(poisoned_distance > 1.5 * clean_distance);
    Ok(())
}
