//! Writes the fuzz seeds that take a library to make, into `<corpus>/<target>/`:
//! Parquet tables, IDX pairs, PNG and JPEG images, `.npy` and safetensors client updates.
//! `bench/fuzz.sh` adds the seeds it can take from `fixtures/` or make with `antidote` itself.
//!
//! Usage: `make_seeds REPOSITORY CORPUS`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Int64Array, ListArray, RecordBatch, StringArray};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut arguments = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(repository), Some(corpus)) = (arguments.next(), arguments.next()) else {
        return Err("usage: make_seeds REPOSITORY CORPUS".into());
    };
    let fixtures = repository.join("fixtures");
    parquet_seeds(&fixtures, &corpus.join("read_parquet"))?;
    let (images, labels) = fashion_mnist(&fixtures, 12)?;
    idx_seeds(&images, &labels, &corpus.join("read_idx"))?;
    image_seeds(&images, &corpus.join("read_image_folder"))?;
    update_seeds(&corpus.join("client_update"))?;
    Ok(())
}

fn write(folder: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(folder)?;
    std::fs::write(folder.join(name), bytes)?;
    Ok(())
}

/// The fortunes fixture as Parquet, and a table with every column kind the reader maps.
fn parquet_seeds(fixtures: &Path, folder: &Path) -> Result<()> {
    let mut reader = csv::Reader::from_path(fixtures.join("fortunes_3class.csv"))?;
    let headers = reader.headers()?.clone();
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .take(40)
        .collect::<std::result::Result<_, _>>()?;
    let columns: Vec<(String, ArrayRef)> = headers
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let values: Vec<&str> = rows
                .iter()
                .map(|row| row.get(index).unwrap_or(""))
                .collect();
            (
                name.to_owned(),
                Arc::new(StringArray::from(values)) as ArrayRef,
            )
        })
        .collect();
    write_parquet(
        &folder.join("fortunes.parquet"),
        RecordBatch::try_from_iter(columns)?,
    )?;

    let embedding = ListArray::from_iter_primitive::<arrow_array::types::Float32Type, _, _>(
        (0..8).map(|row| Some((0..4).map(move |column| Some((row * 4 + column) as f32 / 10.0)))),
    );
    let mixed = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..8)) as ArrayRef,
        ),
        (
            "size",
            Arc::new(Float32Array::from_iter_values(
                (0..8).map(|v| v as f32 * 0.5),
            )),
        ),
        ("embedding", Arc::new(embedding)),
        (
            "label",
            Arc::new(StringArray::from(vec![
                "a", "b", "a", "b", "a", "b", "a", "b",
            ])),
        ),
    ])?;
    write_parquet(&folder.join("mixed.parquet"), mixed)
}

fn write_parquet(path: &Path, batch: RecordBatch) -> Result<()> {
    std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
    let file = std::fs::File::create(path)?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

/// The first `count` Fashion-MNIST images (28x28 bytes each) and labels of the fixture.
fn fashion_mnist(fixtures: &Path, count: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    let gunzip = |name: &str| -> Result<Vec<u8>> {
        let file = std::fs::File::open(fixtures.join("fashion_mnist_300").join(name))?;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let images = gunzip("train-images-idx3-ubyte.gz")?;
    let labels = gunzip("train-labels-idx1-ubyte.gz")?;
    Ok((
        images[16..16 + count * 784].to_vec(),
        labels[8..8 + count].to_vec(),
    ))
}

/// The `read_idx` target's layout: one byte giving the labels file's length minus one, the
/// labels file, then the images file.
fn idx_seeds(images: &[u8], labels: &[u8], folder: &Path) -> Result<()> {
    let count = labels.len() as u32;
    let mut labels_file = vec![0, 0, 8, 1];
    labels_file.extend(count.to_be_bytes());
    labels_file.extend(labels);
    let mut images_file = vec![0, 0, 8, 3];
    for dimension in [count, 28, 28] {
        images_file.extend(dimension.to_be_bytes());
    }
    images_file.extend(images);
    let mut seed = vec![u8::try_from(labels_file.len() - 1)?];
    seed.extend(&labels_file);
    seed.extend(&images_file);
    write(folder, "fashion-12", &seed)
}

/// One Fashion-MNIST image as PNG (first byte 0) and JPEG (first byte 1).
fn image_seeds(images: &[u8], folder: &Path) -> Result<()> {
    let image = image::GrayImage::from_raw(28, 28, images[..784].to_vec()).ok_or("28x28")?;
    for (choice, format, name) in [
        (0u8, image::ImageFormat::Png, "shirt.png"),
        (1u8, image::ImageFormat::Jpeg, "shirt.jpg"),
    ] {
        let mut bytes = std::io::Cursor::new(vec![choice]);
        bytes.set_position(1);
        image.write_to(&mut bytes, format)?;
        write(folder, name, bytes.get_ref())?;
    }
    Ok(())
}

/// A client update of ten `f32` as `.npy` (first byte 0) and safetensors (first byte 1).
fn update_seeds(folder: &Path) -> Result<()> {
    use npyz::WriterBuilder as _;
    let values: Vec<f32> = (0..10).map(|value| value as f32 * 0.25 - 1.0).collect();
    let mut npy = vec![0u8];
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[values.len() as u64])
        .writer(&mut npy)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    writer.finish()?;
    write(folder, "update.npy", &npy)?;

    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![10], &bytes)?;
    let mut tensors = vec![1u8];
    tensors.extend(safetensors::serialize([("weights", view)], None)?);
    write(folder, "update.safetensors", &tensors)
}
