//! Property tests: records written by antidote's writers (CSV, JSON Lines, IDX) read back as the
//! same records, with the same ids and content hashes in the same order. The Merkle root of a
//! dataset (`antidote_provenance::merkle::records_root`) is a function of exactly that sequence,
//! so equal sequences mean equal roots.

use std::path::Path;
use std::sync::Arc;

use antidote_core::Digest;
use antidote_data::writers::DatasetWriter;
use antidote_data::{ColumnKind, Dataset, Format, Image, ReadOptions, Record, Value, from_rows};
use proptest::prelude::*;

/// Text no reader may mistake for a number, a boolean or a missing value: it starts with a
/// letter; the rest is any Unicode, quotes, separators and newlines included.
fn text() -> impl Strategy<Value = String> {
    (
        proptest::char::range('a', 'z'),
        proptest::collection::vec(any::<char>(), 0..40),
    )
        .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect())
}

/// A finite float or an integer: what a number cell holds.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        (-1e12f64..1e12).prop_map(Value::Float),
        any::<f64>()
            .prop_filter("finite", |value| value.is_finite())
            .prop_map(Value::Float),
    ]
}

/// Rows of `id`, `label`, `text`, `x`; ids are unique.
fn table() -> impl Strategy<Value = Vec<Vec<Value>>> {
    proptest::collection::vec(
        (
            proptest::sample::select(vec!["cat", "dog", "bird"]),
            text(),
            number(),
        ),
        1..30,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(index, (label, text, x))| {
                vec![
                    Value::Text(format!("r{index}")),
                    Value::Text(label.to_owned()),
                    Value::Text(text),
                    x,
                ]
            })
            .collect()
    })
}

fn table_columns() -> Vec<(Arc<str>, ColumnKind)> {
    vec![
        (Arc::from("id"), ColumnKind::Categorical),
        (Arc::from("label"), ColumnKind::Categorical),
        (Arc::from("text"), ColumnKind::Text),
        (Arc::from("x"), ColumnKind::Float),
    ]
}

fn identities(records: &[Record]) -> Vec<(String, Digest)> {
    records
        .iter()
        .map(|record| (record.id.to_string(), record.content_hash()))
        .collect()
}

/// Writes `dataset` to `output` as `format`, reads it back, and returns both record lists.
fn write_and_read(dataset: Dataset, output: &Path, format: Format) -> (Vec<Record>, Vec<Record>) {
    let schema = dataset.schema().clone();
    let records: Vec<Record> = dataset.map(|record| record.expect("a record")).collect();
    let mut writer = DatasetWriter::create(output, format, &schema).expect("create the writer");
    for record in &records {
        writer.write(record).expect("write a record");
    }
    writer.finish().expect("finish writing");
    let back = Dataset::open(output, &ReadOptions::default()).expect("read back");
    assert_eq!(back.format(), format);
    (
        records,
        back.map(|record| record.expect("a record read back"))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn csv_and_jsonl_round_trip(rows in table()) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (name, format) in [("out.csv", Format::Csv), ("out.jsonl", Format::Jsonl)] {
            let dataset = from_rows(Path::new("memory"), table_columns(), rows.clone()).expect("rows in memory");
            let (written, read) = write_and_read(dataset, &dir.path().join(name), format);
            prop_assert_eq!(written.len(), read.len());
            prop_assert_eq!(identities(&written), identities(&read), "{}", name);
            for (before, after) in written.iter().zip(&read) {
                prop_assert_eq!(&before.label, &after.label);
                prop_assert_eq!(before.field("text"), after.field("text"));
            }
        }
    }

    #[test]
    fn idx_round_trips(
        (height, width) in (1u32..6, 1u32..6),
        images in proptest::collection::vec((0u8..10, proptest::collection::vec(any::<u8>(), 36)), 1..20),
    ) {
        let pixels = (height * width) as usize;
        let rows: Vec<Vec<Value>> = images
            .into_iter()
            .map(|(label, bytes)| {
                vec![
                    Value::Int(i64::from(label)),
                    Value::Image(Image {
                        width,
                        height,
                        channels: 1,
                        pixels: bytes[..pixels].to_vec(),
                    }),
                ]
            })
            .collect();
        let columns = vec![
            (Arc::from("label"), ColumnKind::Integer),
            (Arc::from("image"), ColumnKind::Image),
        ];
        let dir = tempfile::tempdir().expect("a temporary folder");
        for name in ["x-images-idx3-ubyte", "y-images-idx3-ubyte.gz"] {
            let dataset = from_rows(Path::new("memory"), columns.clone(), rows.clone()).expect("rows in memory");
            let (written, read) = write_and_read(dataset, &dir.path().join(name), Format::Idx);
            prop_assert_eq!(identities(&written), identities(&read), "{}", name);
            for (before, after) in written.iter().zip(&read) {
                prop_assert_eq!(&before.label, &after.label);
                prop_assert_eq!(before.field("image"), after.field("image"));
            }
        }
    }
}
