//! The same records, written in every format antidote reads, read back to the same content
//! hashes: a record's hash does not depend on its file format.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use antidote_core::Digest;
use antidote_data::{Dataset, Format, ReadOptions, Record, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn read_all(path: &Path) -> (Format, Vec<Record>) {
    let dataset = Dataset::open(path, &ReadOptions::default()).expect("open the dataset");
    let format = dataset.format();
    (format, dataset.map(Result::unwrap).collect())
}

fn hashes(records: &[Record]) -> Vec<(String, Digest)> {
    records
        .iter()
        .map(|record| (record.id.to_string(), record.content_hash()))
        .collect()
}

#[test]
fn csv_jsonl_and_parquet_agree() {
    let (csv_format, csv) = read_all(&fixtures().join("fortunes_3class.csv"));
    let (jsonl_format, jsonl) = read_all(&fixtures().join("fortunes_3class.jsonl"));
    assert_eq!((csv_format, jsonl_format), (Format::Csv, Format::Jsonl));
    assert_eq!(csv.len(), 120);
    assert_eq!(hashes(&csv), hashes(&jsonl));

    // Write the CSV's records to Parquet with Arrow, in yet another column order.
    let dir = tempfile::tempdir().unwrap();
    let parquet_path = dir.path().join("fortunes.parquet");
    let column = |pick: &dyn Fn(&Record) -> String| -> Arc<dyn arrow_array::Array> {
        Arc::new(arrow_array::StringArray::from(
            csv.iter().map(pick).collect::<Vec<_>>(),
        ))
    };
    let batch = arrow_array::RecordBatch::try_from_iter(vec![
        ("label", column(&|record| record.label.clone().unwrap())),
        (
            "text",
            column(&|record| record.field("text").unwrap().as_text().unwrap().to_owned()),
        ),
        ("id", column(&|record| record.id.to_string())),
    ])
    .unwrap();
    let file = std::fs::File::create(&parquet_path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let (parquet_format, parquet) = read_all(&parquet_path);
    assert_eq!(parquet_format, Format::Parquet);
    assert_eq!(hashes(&csv), hashes(&parquet));
}

#[test]
fn idx_and_an_image_folder_of_the_same_pictures_agree() {
    let (format, idx) = read_all(&fixtures().join("fashion_mnist_300/train-images-idx3-ubyte.gz"));
    assert_eq!(format, Format::Idx);
    assert_eq!(idx.len(), 300);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("images");
    for record in idx.iter().take(40) {
        let Some(Value::Image(image)) = record.field("image") else {
            panic!("IDX records hold images")
        };
        let class = root.join(record.label.as_deref().unwrap());
        std::fs::create_dir_all(&class).unwrap();
        let picture =
            image::GrayImage::from_raw(image.width, image.height, image.pixels.clone()).unwrap();
        picture
            .save(class.join(format!("{:05}.png", record.position)))
            .unwrap();
    }
    let (format, folder) = read_all(&root);
    assert_eq!(format, Format::ImageFolder);
    assert_eq!(folder.len(), 40);
    let mut from_idx: Vec<Digest> = idx.iter().take(40).map(Record::content_hash).collect();
    let mut from_folder: Vec<Digest> = folder.iter().map(Record::content_hash).collect();
    from_idx.sort();
    from_folder.sort();
    assert_eq!(
        from_idx, from_folder,
        "the same pixels and label hash the same"
    );
    assert!(
        folder[0].id.as_str().contains('/'),
        "image ids are relative paths"
    );
}
