//! Queries over folders of Parquet and CSV files, on `DataFusion`: the first step toward reading
//! a dataset of many files with a query engine instead of antidote's own streaming readers.
//!
//! For now it only counts rows ([`count_rows`]); nothing else in antidote uses it yet.

use datafusion::error::Result;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

/// The number of rows in the Parquet file `path`, or in all the `.parquet` files of the folder
/// `path` (a folder path ends with `/`), read with a fresh [`SessionContext`].
///
/// Only the files' footers are needed when their metadata holds the row counts, as Parquet
/// writers record them; the engine decides.
pub async fn count_rows(path: &str) -> Result<u64> {
    let ctx = SessionContext::new();
    let frame = ctx
        .read_parquet(path, ParquetReadOptions::default())
        .await?;
    let rows = frame.count().await?;
    Ok(rows as u64)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::Path;
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use datafusion::parquet::arrow::ArrowWriter;

    use super::count_rows;

    /// Writes `ids` (with a text column) to the Parquet file `path`.
    fn write_parquet(path: &Path, ids: &[i64]) {
        let texts: Vec<String> = ids.iter().map(|id| format!("record {id}")).collect();
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            ("text", Arc::new(StringArray::from(texts)) as ArrayRef),
        ])
        .expect("batch");
        let file = File::create(path).expect("create");
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }

    #[tokio::test]
    async fn counts_the_rows_of_every_parquet_file_in_a_folder() {
        let folder = tempfile::tempdir().expect("tempdir");
        write_parquet(&folder.path().join("part-0.parquet"), &[1, 2, 3]);
        write_parquet(&folder.path().join("part-1.parquet"), &[4, 5, 6, 7]);
        let path = format!("{}/", folder.path().display());

        assert_eq!(count_rows(&path).await.expect("count"), 7);
        // One file of the folder alone.
        let one = folder.path().join("part-1.parquet");
        assert_eq!(
            count_rows(one.to_str().expect("utf-8"))
                .await
                .expect("count"),
            4
        );
    }
}
