//! Apache Parquet, read through Arrow record batches.
//!
//! The file streams one record batch at a time, so memory stays bounded by the batch size
//! and the widest row group's pages, whatever the number of rows. Column kinds come from the
//! Arrow types; only strings (categories or free text) and raw bytes (encoded images, or strings
//! written without a string annotation) are decided by looking at the first batch.
//!
//! Values agree with the text formats: integers are [`Value::Int`] (an unsigned 64-bit value
//! beyond `i64` becomes a float), floats [`Value::Float`], decimals whatever their text reads as,
//! dates and timestamps ISO 8601 text (`2024-05-01T12:30:00`, with `Z` when the column has a
//! time zone), and PNG or JPEG bytes decoded images. The Hugging Face `datasets` image layout, a
//! struct `{bytes, path}`, is an image too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{ArrowError, DataType, Fields, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;

use super::image_folder::ImageFailure;
use super::parquet_pages::{self, PageProblem};
use super::{INFERENCE_SAMPLE, Row, RowSource};
use crate::limits::Limits;
use crate::{ColumnKind, KindInference, ReadError, Value};

/// Rows per record batch: large enough to amortise decoding, small enough for image columns.
const BATCH_SIZE: usize = 1024;

/// Opens a Parquet file as a row source.
pub(crate) fn open(path: &Path, limits: Limits) -> Result<Box<dyn RowSource>, ReadError> {
    Ok(Box::new(ParquetSource::open(path, limits)?))
}

/// Arrow record batches, in order: a Parquet file's, or an engine's.
type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// Opens Arrow record batches already decoded (by a query engine) as a row source, read exactly
/// as a Parquet file of the same batches: `path` names them in messages.
pub(crate) fn from_batches(
    path: &Path,
    schema: &arrow_schema::Schema,
    batches: Batches,
    limits: Limits,
) -> Result<Box<dyn RowSource>, ReadError> {
    Ok(Box::new(ParquetSource::from_batches(
        path, schema, batches, limits,
    )?))
}

/// A streaming Parquet reader.
struct ParquetSource {
    path: PathBuf,
    batches: Batches,
    columns: Vec<(Arc<str>, ColumnKind)>,
    /// How each column's top-level bytes are read.
    bytes_as: Vec<BytesAs>,
    /// The batch being read, and the next row in it.
    batch: Option<RecordBatch>,
    next_in_batch: usize,
    /// Zero-based index of the next row in the file.
    line: u64,
    done: bool,
    limits: Limits,
}

/// What raw bytes mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BytesAs {
    /// An encoded image, decoded to pixels.
    Image,
    /// Text written as bytes without a string annotation (older writers do this).
    Text,
}

/// How a column's kind is decided.
enum Plan {
    /// The Arrow type says it.
    Declared(ColumnKind),
    /// Strings: categories or free text, decided from a sample.
    Strings,
    /// Raw bytes: images or text, decided from a sample.
    Bytes,
    /// A struct whose `bytes` field holds an encoded image (Hugging Face `datasets` layout).
    ImageStruct,
}

fn parquet_error(path: &Path, source: ParquetError) -> ReadError {
    ReadError::Parquet {
        path: path.to_owned(),
        source,
    }
}

fn arrow_error(path: &Path, source: &arrow_schema::ArrowError) -> ReadError {
    parquet_error(path, ParquetError::ArrowError(source.to_string()))
}

impl ParquetSource {
    fn open(path: &Path, limits: Limits) -> Result<Self, ReadError> {
        let file = fs_err::File::open(path)
            .map_err(|source| ReadError::Io {
                path: path.to_owned(),
                source,
            })?
            .into_file();
        let file_bytes = file
            .metadata()
            .map_err(|source| ReadError::Io {
                path: path.to_owned(),
                source,
            })?
            .len();
        let pages = file.try_clone().map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|source| parquet_error(path, source))?;
        check_column_chunks(path, builder.metadata(), file_bytes, &pages, limits)?;
        let schema = Arc::clone(builder.schema());
        let batches = builder
            .with_batch_size(BATCH_SIZE)
            .build()
            .map_err(|source| parquet_error(path, source))?;
        Self::from_batches(path, &schema, Box::new(batches), limits)
    }

    /// Decides every column's kind from the first batch, which it keeps to read first.
    fn from_batches(
        path: &Path,
        schema: &arrow_schema::Schema,
        mut batches: Batches,
        limits: Limits,
    ) -> Result<Self, ReadError> {
        let first = batches
            .next()
            .transpose()
            .map_err(|source| arrow_error(path, &source))?;
        let mut columns = Vec::with_capacity(schema.fields().len());
        let mut bytes_as = Vec::with_capacity(schema.fields().len());
        for (index, field) in schema.fields().iter().enumerate() {
            let unsupported = || ReadError::UnsupportedType {
                path: path.to_owned(),
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
            };
            let plan = plan(field.data_type()).ok_or_else(unsupported)?;
            let sample = first.as_ref().map(|batch| {
                let column = batch.column(index);
                (column.as_ref(), column.len().min(INFERENCE_SAMPLE))
            });
            let (kind, bytes) = match plan {
                Plan::Declared(kind) => (kind, BytesAs::Image),
                Plan::Strings => (string_kind(sample, BytesAs::Image, limits), BytesAs::Image),
                Plan::Bytes => match sample_bytes(sample) {
                    Some(BytesAs::Image) => (ColumnKind::Image, BytesAs::Image),
                    Some(BytesAs::Text) => {
                        (string_kind(sample, BytesAs::Text, limits), BytesAs::Text)
                    }
                    None => return Err(unsupported()),
                },
                Plan::ImageStruct => {
                    let bytes = sample.map(|(column, rows)| {
                        let image = column.as_struct();
                        let (position, _) = image_bytes_field(image.fields())
                            .expect("the plan found a `bytes` field");
                        (image.column(position).as_ref(), rows)
                    });
                    if sample_bytes(bytes) != Some(BytesAs::Image) {
                        return Err(unsupported());
                    }
                    (ColumnKind::Image, BytesAs::Image)
                }
            };
            columns.push((Arc::from(field.name().as_str()), kind));
            bytes_as.push(bytes);
        }
        Ok(Self {
            path: path.to_owned(),
            batches,
            columns,
            bytes_as,
            batch: first,
            next_in_batch: 0,
            line: 0,
            done: false,
            limits,
        })
    }
}

impl RowSource for ParquetSource {
    fn columns(&self) -> &[(Arc<str>, ColumnKind)] {
        &self.columns
    }

    fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            if self
                .batch
                .as_ref()
                .is_some_and(|batch| self.next_in_batch < batch.num_rows())
            {
                break;
            }
            self.batch = None;
            match self.batches.next() {
                None => self.done = true,
                Some(Ok(batch)) => {
                    self.batch = Some(batch);
                    self.next_in_batch = 0;
                }
                Some(Err(source)) => {
                    self.done = true;
                    return Some(Err(arrow_error(&self.path, &source)));
                }
            }
        }
        let batch = self
            .batch
            .as_ref()
            .expect("the loop ends only with a row left in the batch");
        let index = self.next_in_batch;
        let line = self.line;
        // Advance first, so that a record with an unreadable image is skipped on the next call.
        self.next_in_batch += 1;
        self.line += 1;
        let mut values = Vec::with_capacity(self.columns.len());
        for (((name, _), column), bytes_as) in
            self.columns.iter().zip(batch.columns()).zip(&self.bytes_as)
        {
            match convert(column.as_ref(), index, *bytes_as, self.limits) {
                Ok(value) => values.push((Arc::clone(name), value)),
                Err(failure) => {
                    // The image has no file of its own: name the Parquet file, row and column.
                    let path = PathBuf::from(format!(
                        "{}[row {line}, column {name}]",
                        self.path.display()
                    ));
                    return Some(Err(failure.into_read_error(path)));
                }
            }
        }
        Some(Ok(Row { line, values }))
    }
}

/// Checks that every column chunk the footer lists lies inside the file, and that every page
/// inside a chunk fits the chunk and decompresses to at most the per-record limit: the reader
/// allocates a chunk's and a page's declared lengths before reading them, so a forged footer or
/// page header could otherwise ask for any amount of memory.
fn check_column_chunks(
    path: &Path,
    metadata: &parquet::file::metadata::ParquetMetaData,
    file_bytes: u64,
    file: &std::fs::File,
    limits: Limits,
) -> Result<(), ReadError> {
    for (group_index, group) in metadata.row_groups().iter().enumerate() {
        for column in group.columns() {
            let general = |message: String| {
                parquet_error(
                    path,
                    ParquetError::General(format!(
                        "row group {group_index}, column `{}`: {message}",
                        column.column_path().string()
                    )),
                )
            };
            // `ColumnChunkMetaData::byte_range` panics on a negative offset or size, which a
            // forged footer can hold (found by `bench/fuzz.sh`, read_parquet): check them first.
            let offset = column
                .dictionary_page_offset()
                .unwrap_or_else(|| column.data_page_offset());
            let size = column.compressed_size();
            let (Ok(start), Ok(length)) = (u64::try_from(offset), u64::try_from(size)) else {
                return Err(general(format!(
                    "claims bytes {offset}..+{size}: a negative offset or size"
                )));
            };
            if start.checked_add(length).is_none_or(|end| end > file_bytes) {
                return Err(general(format!(
                    "claims bytes {start}..+{length}, beyond the end of the {file_bytes}-byte file"
                )));
            }
            match parquet_pages::check_pages(file, start, length, limits.max_record_bytes) {
                Ok(()) => {}
                Err(PageProblem::Header(reason)) => {
                    return Err(general(format!("malformed page header: {reason}")));
                }
                Err(PageProblem::OutsideChunk {
                    page,
                    compressed,
                    remaining,
                }) => {
                    return Err(general(format!(
                        "page {page} claims {compressed} bytes, but only {remaining} are left in its chunk"
                    )));
                }
                Err(PageProblem::TooLarge { page, size }) => {
                    return Err(ReadError::PageTooLarge {
                        path: path.to_owned(),
                        location: format!(
                            "row group {group_index}, column `{}`, page {page}",
                            column.column_path().string()
                        ),
                        size,
                        limit: limits.max_record_bytes,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The position of a struct's `bytes` field, if it is binary: the Hugging Face image layout.
fn image_bytes_field(fields: &Fields) -> Option<(usize, &arrow_schema::FieldRef)> {
    fields
        .find("bytes")
        .filter(|(_, field)| is_binary(field.data_type()))
}

fn is_binary(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// How the kind of a top-level column of `data_type` is decided, or `None` if antidote does not
/// read the type.
fn plan(data_type: &DataType) -> Option<Plan> {
    let plan = match data_type {
        DataType::Null => Plan::Declared(ColumnKind::Empty),
        DataType::Boolean => Plan::Declared(ColumnKind::Boolean),
        integer if integer.is_integer() => Plan::Declared(ColumnKind::Integer),
        float if float.is_floating() => Plan::Declared(ColumnKind::Float),
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal128(_, scale)
        | DataType::Decimal256(_, scale) => Plan::Declared(if *scale <= 0 {
            ColumnKind::Integer
        } else {
            ColumnKind::Float
        }),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Plan::Strings,
        binary if is_binary(binary) => Plan::Bytes,
        DataType::FixedSizeBinary(_)
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Time32(_)
        | DataType::Time64(_) => Plan::Declared(ColumnKind::Categorical),
        DataType::Dictionary(key, value) if key.is_integer() => plan(value)?,
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            if !nested_supported(item.data_type()) {
                return None;
            }
            Plan::Declared(if item.data_type().is_numeric() {
                ColumnKind::Vector
            } else {
                ColumnKind::Nested
            })
        }
        DataType::Struct(fields) if image_bytes_field(fields).is_some() => Plan::ImageStruct,
        DataType::Struct(fields) => {
            if !fields
                .iter()
                .all(|field| nested_supported(field.data_type()))
            {
                return None;
            }
            Plan::Declared(ColumnKind::Nested)
        }
        DataType::Map(entries, _) => {
            if !nested_supported(entries.data_type()) {
                return None;
            }
            Plan::Declared(ColumnKind::Nested)
        }
        _ => return None,
    };
    Some(plan)
}

/// Whether a value of `data_type` can be read inside a list, struct or map.
///
/// Raw bytes cannot, except as the `bytes` of an image struct: there is no sample to tell
/// images from text, and [`Value`] has no bytes.
fn nested_supported(data_type: &DataType) -> bool {
    match data_type {
        binary if is_binary(binary) => false,
        DataType::Dictionary(key, value) => key.is_integer() && nested_supported(value),
        other => plan(other).is_some(),
    }
}

/// Categories or free text, from the sampled values; a column of missing strings is categorical.
fn string_kind(
    sample: Option<(&dyn Array, usize)>,
    bytes_as: BytesAs,
    limits: Limits,
) -> ColumnKind {
    let mut inference = KindInference::default();
    if let Some((column, rows)) = sample {
        for index in 0..rows {
            // Strings and bytes read as text never fail.
            if let Ok(value) = convert(column, index, bytes_as, limits) {
                inference.observe(&value);
            }
        }
    }
    match inference.kind() {
        ColumnKind::Text => ColumnKind::Text,
        _ => ColumnKind::Categorical,
    }
}

/// What sampled raw bytes are: images if any is one (or none is present), text if all are
/// UTF-8, `None` otherwise.
fn sample_bytes(sample: Option<(&dyn Array, usize)>) -> Option<BytesAs> {
    let Some((column, rows)) = sample else {
        return Some(BytesAs::Image);
    };
    let mut all_text = true;
    let mut present = false;
    for index in 0..rows {
        if let Some(bytes) = bytes_at(column, index) {
            present = true;
            if is_encoded_image(bytes) {
                return Some(BytesAs::Image);
            }
            all_text &= std::str::from_utf8(bytes).is_ok();
        }
    }
    if !present {
        Some(BytesAs::Image)
    } else if all_text {
        Some(BytesAs::Text)
    } else {
        None
    }
}

fn is_encoded_image(bytes: &[u8]) -> bool {
    matches!(
        image::guess_format(bytes),
        Ok(image::ImageFormat::Png | image::ImageFormat::Jpeg)
    )
}

/// The bytes at `index` of a binary (or dictionary-encoded binary) array, `None` when null.
fn bytes_at(array: &dyn Array, index: usize) -> Option<&[u8]> {
    if array.is_null(index) {
        return None;
    }
    match array.data_type() {
        DataType::Binary => Some(array.as_binary::<i32>().value(index)),
        DataType::LargeBinary => Some(array.as_binary::<i64>().value(index)),
        DataType::BinaryView => Some(array.as_binary_view().value(index)),
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            bytes_at(
                dictionary.values().as_ref(),
                dictionary_key(dictionary.keys(), index)?,
            )
        }
        _ => None,
    }
}

/// The index into a dictionary's values at `index` of its keys.
fn dictionary_key(keys: &dyn Array, index: usize) -> Option<usize> {
    let key = match keys.data_type() {
        DataType::Int8 => i64::from(keys.as_primitive::<Int8Type>().value(index)),
        DataType::Int16 => i64::from(keys.as_primitive::<Int16Type>().value(index)),
        DataType::Int32 => i64::from(keys.as_primitive::<Int32Type>().value(index)),
        DataType::Int64 => keys.as_primitive::<Int64Type>().value(index),
        DataType::UInt8 => i64::from(keys.as_primitive::<UInt8Type>().value(index)),
        DataType::UInt16 => i64::from(keys.as_primitive::<UInt16Type>().value(index)),
        DataType::UInt32 => i64::from(keys.as_primitive::<UInt32Type>().value(index)),
        DataType::UInt64 => i64::try_from(keys.as_primitive::<UInt64Type>().value(index)).ok()?,
        _ => return None,
    };
    usize::try_from(key).ok()
}

/// Decodes an encoded image.
fn decode_image(bytes: &[u8], limits: Limits) -> Result<Value, ImageFailure> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    Ok(Value::Image(super::image_folder::decode(reader, limits)?))
}

fn bytes_value(bytes: &[u8], bytes_as: BytesAs, limits: Limits) -> Result<Value, ImageFailure> {
    match bytes_as {
        BytesAs::Image => decode_image(bytes, limits),
        BytesAs::Text => Ok(Value::Text(String::from_utf8_lossy(bytes).into_owned())),
    }
}

/// A decimal as its text would read in a CSV file: an integer when it has no fraction digits.
fn decimal(text: &str, scale: i8) -> Value {
    if scale <= 0
        && let Ok(integer) = text.parse::<i64>()
    {
        return Value::Int(integer);
    }
    text.parse::<f64>().map_or(Value::Null, Value::Float)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;

    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            write!(text, "{byte:02x}").expect("writing to a string cannot fail");
            text
        })
}

fn timestamp(array: &dyn Array, index: usize, unit: TimeUnit, zoned: bool) -> Value {
    let datetime = match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .value_as_datetime(index),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .value_as_datetime(index),
        TimeUnit::Microsecond => array
            .as_primitive::<TimestampMicrosecondType>()
            .value_as_datetime(index),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .value_as_datetime(index),
    };
    // A zoned timestamp stores the UTC instant; writing it in UTC keeps one text per instant.
    let suffix = if zoned { "Z" } else { "" };
    datetime.map_or(Value::Null, |datetime| {
        Value::Text(format!(
            "{}{suffix}",
            datetime.format("%Y-%m-%dT%H:%M:%S%.f")
        ))
    })
}

fn time_of_day(array: &dyn Array, index: usize, unit: TimeUnit) -> Value {
    let time = match unit {
        TimeUnit::Second => array
            .as_primitive::<Time32SecondType>()
            .value_as_time(index),
        TimeUnit::Millisecond => array
            .as_primitive::<Time32MillisecondType>()
            .value_as_time(index),
        TimeUnit::Microsecond => array
            .as_primitive::<Time64MicrosecondType>()
            .value_as_time(index),
        TimeUnit::Nanosecond => array
            .as_primitive::<Time64NanosecondType>()
            .value_as_time(index),
    };
    time.map_or(Value::Null, |time| {
        Value::Text(time.format("%H:%M:%S%.f").to_string())
    })
}

/// The value at `index` of a numeric array that is not null there.
fn number(array: &dyn Array, index: usize) -> Value {
    match array.data_type() {
        DataType::Int8 => Value::Int(i64::from(array.as_primitive::<Int8Type>().value(index))),
        DataType::Int16 => Value::Int(i64::from(array.as_primitive::<Int16Type>().value(index))),
        DataType::Int32 => Value::Int(i64::from(array.as_primitive::<Int32Type>().value(index))),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(index)),
        DataType::UInt8 => Value::Int(i64::from(array.as_primitive::<UInt8Type>().value(index))),
        DataType::UInt16 => Value::Int(i64::from(array.as_primitive::<UInt16Type>().value(index))),
        DataType::UInt32 => Value::Int(i64::from(array.as_primitive::<UInt32Type>().value(index))),
        DataType::UInt64 => {
            let integer = array.as_primitive::<UInt64Type>().value(index);
            i64::try_from(integer).map_or(Value::Float(integer as f64), Value::Int)
        }
        DataType::Float16 => {
            Value::Float(f64::from(array.as_primitive::<Float16Type>().value(index)))
        }
        DataType::Float32 => Value::Float(crate::value::widen_f32(
            array.as_primitive::<Float32Type>().value(index),
        )),
        DataType::Float64 => Value::Float(array.as_primitive::<Float64Type>().value(index)),
        DataType::Decimal32(_, scale) => decimal(
            &array.as_primitive::<Decimal32Type>().value_as_string(index),
            *scale,
        ),
        DataType::Decimal64(_, scale) => decimal(
            &array.as_primitive::<Decimal64Type>().value_as_string(index),
            *scale,
        ),
        DataType::Decimal128(_, scale) => decimal(
            &array
                .as_primitive::<Decimal128Type>()
                .value_as_string(index),
            *scale,
        ),
        DataType::Decimal256(_, scale) => decimal(
            &array
                .as_primitive::<Decimal256Type>()
                .value_as_string(index),
            *scale,
        ),
        _ => Value::Null,
    }
}

/// A struct: the image in its `bytes` field for the image layout, otherwise a map of its fields.
fn struct_value(
    array: &dyn Array,
    fields: &Fields,
    index: usize,
    limits: Limits,
) -> Result<Value, ImageFailure> {
    let record = array.as_struct();
    if let Some((position, _)) = image_bytes_field(fields) {
        return match bytes_at(record.column(position).as_ref(), index) {
            Some(bytes) => decode_image(bytes, limits),
            None => Ok(Value::Null),
        };
    }
    let entries = fields
        .iter()
        .zip(record.columns())
        .map(|(field, column)| {
            Ok((
                field.name().clone(),
                convert(column.as_ref(), index, BytesAs::Image, limits)?,
            ))
        })
        .collect::<Result<_, ImageFailure>>()?;
    Ok(Value::Map(entries))
}

/// The items of a list value.
fn list_items(items: &dyn Array, limits: Limits) -> Result<Value, ImageFailure> {
    (0..items.len())
        .map(|index| convert(items, index, BytesAs::Image, limits))
        .collect::<Result<_, _>>()
        .map(Value::List)
}

/// The value at `index` of `array`; only an image that does not decode fails.
///
/// Types that [`plan`] rejects never reach here; they read as null.
fn convert(
    array: &dyn Array,
    index: usize,
    bytes_as: BytesAs,
    limits: Limits,
) -> Result<Value, ImageFailure> {
    if array.is_null(index) {
        return Ok(Value::Null);
    }
    let value = match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(index)),
        numeric if numeric.is_numeric() => number(array, index),
        DataType::Utf8 => Value::Text(array.as_string::<i32>().value(index).to_owned()),
        DataType::LargeUtf8 => Value::Text(array.as_string::<i64>().value(index).to_owned()),
        DataType::Utf8View => Value::Text(array.as_string_view().value(index).to_owned()),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            match bytes_at(array, index) {
                Some(bytes) => bytes_value(bytes, bytes_as, limits)?,
                None => Value::Null,
            }
        }
        DataType::FixedSizeBinary(_) => Value::Text(hex(array.as_fixed_size_binary().value(index))),
        DataType::Date32 => array
            .as_primitive::<Date32Type>()
            .value_as_date(index)
            .map_or(Value::Null, |date| {
                Value::Text(date.format("%Y-%m-%d").to_string())
            }),
        DataType::Date64 => array
            .as_primitive::<Date64Type>()
            .value_as_date(index)
            .map_or(Value::Null, |date| {
                Value::Text(date.format("%Y-%m-%d").to_string())
            }),
        DataType::Timestamp(unit, zone) => timestamp(array, index, *unit, zone.is_some()),
        DataType::Time32(unit) | DataType::Time64(unit) => time_of_day(array, index, *unit),
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            match dictionary_key(dictionary.keys(), index) {
                Some(key) if key < dictionary.values().len() => {
                    convert(dictionary.values().as_ref(), key, bytes_as, limits)?
                }
                _ => Value::Null,
            }
        }
        DataType::List(_) => list_items(array.as_list::<i32>().value(index).as_ref(), limits)?,
        DataType::LargeList(_) => list_items(array.as_list::<i64>().value(index).as_ref(), limits)?,
        DataType::FixedSizeList(_, _) => {
            list_items(array.as_fixed_size_list().value(index).as_ref(), limits)?
        }
        DataType::Struct(fields) => struct_value(array, fields, index, limits)?,
        DataType::Map(_, _) => {
            let entries = array.as_map().value(index);
            let (keys, values) = (entries.column(0), entries.column(1));
            let pairs = (0..entries.len())
                .map(|entry| {
                    let key = convert(keys.as_ref(), entry, BytesAs::Image, limits)?;
                    let value = convert(values.as_ref(), entry, BytesAs::Image, limits)?;
                    Ok((key.to_label().unwrap_or_default(), value))
                })
                .collect::<Result<_, ImageFailure>>()?;
            Value::Map(pairs)
        }
        _ => Value::Null,
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use arrow_array::builder::{BinaryBuilder, Float32Builder, ListBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
        FixedSizeBinaryArray, Float64Array, Int64Array, StringArray, StructArray,
        TimestampMillisecondArray, UInt64Array,
    };
    use arrow_schema::Field;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    const LIMITS: Limits = Limits {
        max_record_bytes: crate::limits::DEFAULT_MAX_RECORD_BYTES,
    };
    use crate::Image;

    fn png(image: &image::DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    fn write(path: &Path, columns: Vec<(&str, ArrayRef)>, properties: Option<WriterProperties>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = fs_err::File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), properties).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    /// The columns of a file and every result its source gives.
    type Contents = (Vec<(Arc<str>, ColumnKind)>, Vec<Result<Row, ReadError>>);

    fn read_all(path: &Path) -> Contents {
        let mut source = open(path, LIMITS).unwrap();
        let columns = source.columns().to_vec();
        let rows = std::iter::from_fn(|| source.next_row()).collect();
        (columns, rows)
    }

    fn value<'a>(row: &'a Row, name: &str) -> &'a Value {
        &row.values
            .iter()
            .find(|(column, _)| &**column == name)
            .unwrap()
            .1
    }

    fn image(value: &Value) -> &Image {
        match value {
            Value::Image(image) => image,
            other => panic!("expected an image, found {other:?}"),
        }
    }

    #[test]
    fn reads_values_kinds_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.parquet");
        let grey = png(&image::DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(2, 1, vec![10, 250]).unwrap(),
        ));
        let rgba = png(&image::DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(1, 1, vec![1, 2, 3, 4]).unwrap(),
        ));
        let mut embedding = ListBuilder::new(Float32Builder::new());
        embedding.append_value([Some(0.5), Some(-1.0)]);
        embedding.append_null();
        embedding.append_value([Some(2.0), None]);
        write(
            &path,
            vec![
                ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
                ("score", Arc::new(Float64Array::from(vec![0.25, 1.0, -3.5]))),
                (
                    "label",
                    Arc::new(StringArray::from(vec!["cat", "dog", "cat"])),
                ),
                (
                    "review",
                    Arc::new(StringArray::from(vec![
                        Some("a quiet cat sat on the mat"),
                        None,
                        Some("the dog barked at the mail carrier"),
                    ])),
                ),
                (
                    "flag",
                    Arc::new(BooleanArray::from(vec![true, false, true])),
                ),
                (
                    "maybe",
                    Arc::new(Int64Array::from(vec![Some(7), None, Some(-9)])),
                ),
                ("embedding", Arc::new(embedding.finish())),
                (
                    "image",
                    Arc::new(BinaryArray::from_opt_vec(vec![
                        Some(&grey),
                        Some(&rgba),
                        None,
                    ])),
                ),
            ],
            None,
        );

        let (columns, rows) = read_all(&path);
        let kinds: Vec<(&str, ColumnKind)> = columns
            .iter()
            .map(|(name, kind)| (&**name, *kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("id", ColumnKind::Integer),
                ("score", ColumnKind::Float),
                ("label", ColumnKind::Categorical),
                ("review", ColumnKind::Text),
                ("flag", ColumnKind::Boolean),
                ("maybe", ColumnKind::Integer),
                ("embedding", ColumnKind::Vector),
                ("image", ColumnKind::Image),
            ]
        );
        let rows: Vec<Row> = rows.into_iter().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows.iter().map(|row| row.line).collect::<Vec<_>>(),
            [0, 1, 2]
        );

        assert_eq!(value(&rows[0], "id"), &Value::Int(1));
        assert_eq!(value(&rows[2], "score"), &Value::Float(-3.5));
        assert_eq!(value(&rows[1], "label"), &Value::Text("dog".into()));
        assert_eq!(value(&rows[1], "review"), &Value::Null);
        assert_eq!(value(&rows[1], "flag"), &Value::Bool(false));
        assert_eq!(value(&rows[0], "maybe"), &Value::Int(7));
        assert_eq!(value(&rows[1], "maybe"), &Value::Null);
        assert_eq!(
            value(&rows[0], "embedding"),
            &Value::List(vec![Value::Float(0.5), Value::Float(-1.0)])
        );
        assert_eq!(value(&rows[1], "embedding"), &Value::Null);
        assert_eq!(
            value(&rows[2], "embedding"),
            &Value::List(vec![Value::Float(2.0), Value::Null])
        );

        let first = image(value(&rows[0], "image"));
        assert_eq!((first.width, first.height, first.channels), (2, 1, 1));
        assert_eq!(first.pixels, [10, 250]);
        let second = image(value(&rows[1], "image"));
        assert_eq!(
            (second.channels, second.pixels.as_slice()),
            (4, [1u8, 2, 3, 4].as_slice())
        );
        assert_eq!(value(&rows[2], "image"), &Value::Null);
    }

    #[test]
    fn reads_wide_integers_dates_decimals_and_dictionaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typed.parquet");
        let mut tags = ListBuilder::new(StringBuilder::new());
        tags.append_value([Some("a"), None]);
        tags.append_value([Some("b")]);
        let price = Decimal128Array::from(vec![1250, -5])
            .with_precision_and_scale(10, 2)
            .unwrap();
        let shop: DictionaryArray<Int32Type> = vec!["north", "south"].into_iter().collect();
        write(
            &path,
            vec![
                (
                    "big",
                    Arc::new(UInt64Array::from(vec![5, u64::MAX])) as ArrayRef,
                ),
                (
                    "at",
                    Arc::new(TimestampMillisecondArray::from(vec![0, 1_714_566_600_500])),
                ),
                ("day", Arc::new(Date32Array::from(vec![0, 19_844]))),
                ("price", Arc::new(price)),
                ("shop", Arc::new(shop)),
                (
                    "digest",
                    Arc::new(
                        FixedSizeBinaryArray::try_from_iter([[0x0a_u8, 0xff], [1, 2]].into_iter())
                            .unwrap(),
                    ),
                ),
                ("tags", Arc::new(tags.finish())),
            ],
            None,
        );
        let (columns, rows) = read_all(&path);
        let kinds: Vec<ColumnKind> = columns.iter().map(|(_, kind)| *kind).collect();
        assert_eq!(
            kinds,
            [
                ColumnKind::Integer,
                ColumnKind::Categorical,
                ColumnKind::Categorical,
                ColumnKind::Float,
                ColumnKind::Categorical,
                ColumnKind::Categorical,
                ColumnKind::Nested,
            ]
        );
        let rows: Vec<Row> = rows.into_iter().map(Result::unwrap).collect();
        let text = |text: &str| Value::Text(text.to_owned());
        assert_eq!(value(&rows[0], "big"), &Value::Int(5));
        assert_eq!(value(&rows[1], "big"), &Value::Float(u64::MAX as f64));
        assert_eq!(value(&rows[0], "at"), &text("1970-01-01T00:00:00"));
        assert_eq!(value(&rows[1], "at"), &text("2024-05-01T12:30:00.500"));
        assert_eq!(value(&rows[1], "day"), &text("2024-05-01"));
        assert_eq!(value(&rows[0], "price"), &Value::Float(12.5));
        assert_eq!(value(&rows[1], "price"), &Value::Float(-0.05));
        assert_eq!(value(&rows[1], "shop"), &text("south"));
        assert_eq!(value(&rows[0], "digest"), &text("0aff"));
        assert_eq!(
            value(&rows[0], "tags"),
            &Value::List(vec![text("a"), Value::Null])
        );
    }

    #[test]
    fn reads_hugging_face_image_structs_and_nested_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hf.parquet");
        let rgb = png(&image::DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(1, 1, vec![9, 8, 7]).unwrap(),
        ));
        let mut bytes = BinaryBuilder::new();
        bytes.append_value(&rgb);
        bytes.append_value(b"not an image at all");
        let images = StructArray::from(vec![
            (
                Arc::new(Field::new("bytes", DataType::Binary, true)),
                Arc::new(bytes.finish()) as ArrayRef,
            ),
            (
                Arc::new(Field::new("path", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec!["a.png", "b.png"])) as ArrayRef,
            ),
        ]);
        let meta = StructArray::from(vec![
            (
                Arc::new(Field::new("source", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec!["web", "scan"])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("pages", DataType::Int64, true)),
                Arc::new(Int64Array::from(vec![Some(3), None])) as ArrayRef,
            ),
        ]);
        write(
            &path,
            vec![
                ("image", Arc::new(images) as ArrayRef),
                ("meta", Arc::new(meta) as ArrayRef),
            ],
            None,
        );

        let (columns, rows) = read_all(&path);
        assert_eq!(columns[0].1, ColumnKind::Image);
        assert_eq!(columns[1].1, ColumnKind::Nested);
        assert_eq!(rows.len(), 2);
        let first = rows[0].as_ref().unwrap();
        let decoded = image(value(first, "image"));
        assert_eq!(
            (decoded.channels, decoded.pixels.as_slice()),
            (3, [9u8, 8, 7].as_slice())
        );
        assert_eq!(
            value(first, "meta"),
            &Value::Map(vec![
                ("source".into(), Value::Text("web".into())),
                ("pages".into(), Value::Int(3))
            ])
        );
        let error = rows[1].as_ref().unwrap_err();
        assert!(error.is_record_level());
        assert!(matches!(error, ReadError::Image { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("hf.parquet[row 1, column image]"),
            "{error}"
        );
    }

    #[test]
    fn undecodable_image_is_a_record_error_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.parquet");
        let good = png(&image::DynamicImage::ImageLuma8(
            image::GrayImage::from_pixel(1, 1, image::Luma([42])),
        ));
        let mut broken = good.clone();
        broken.truncate(good.len() / 2);
        write(
            &path,
            vec![
                ("n", Arc::new(Int64Array::from(vec![0, 1, 2])) as ArrayRef),
                (
                    "image",
                    Arc::new(BinaryArray::from_vec(vec![&good, &broken, &good])),
                ),
            ],
            None,
        );
        let (_, rows) = read_all(&path);
        assert_eq!(rows.len(), 3);
        assert!(rows[0].is_ok());
        assert!(matches!(rows[1], Err(ReadError::Image { .. })));
        let last = rows[2].as_ref().unwrap();
        assert_eq!((last.line, value(last, "n")), (2, &Value::Int(2)));
    }

    #[test]
    fn streams_every_row_group_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groups.parquet");
        let count = 2_500_i64;
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(300))
            .build();
        write(
            &path,
            vec![
                (
                    "n",
                    Arc::new(Int64Array::from_iter_values(0..count)) as ArrayRef,
                ),
                (
                    "name",
                    Arc::new(StringArray::from_iter_values(
                        (0..count).map(|n| format!("k{}", n % 7)),
                    )),
                ),
            ],
            Some(properties),
        );
        let metadata = ParquetRecordBatchReaderBuilder::try_new(
            fs_err::File::open(&path).unwrap().into_file(),
        )
        .unwrap()
        .metadata()
        .num_row_groups();
        assert!(
            metadata > 5,
            "expected several row groups, found {metadata}"
        );

        let (columns, rows) = read_all(&path);
        assert_eq!(columns[1].1, ColumnKind::Categorical);
        let numbers: Vec<i64> = rows
            .into_iter()
            .map(|row| {
                let row = row.unwrap();
                assert_eq!(
                    value(&row, "n"),
                    &Value::Int(i64::try_from(row.line).unwrap())
                );
                match value(&row, "n") {
                    Value::Int(n) => *n,
                    other => panic!("expected an integer, found {other:?}"),
                }
            })
            .collect();
        assert_eq!(numbers, (0..count).collect::<Vec<_>>());
    }

    #[test]
    fn corrupt_file_is_a_parquet_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.parquet");
        fs_err::write(&garbage, b"PAR1 these bytes are not a parquet file at all").unwrap();
        let Err(error) = open(&garbage, LIMITS) else {
            panic!("random bytes should not open");
        };
        assert!(matches!(error, ReadError::Parquet { .. }), "{error:?}");
        assert!(error.to_string().contains("garbage.parquet"), "{error}");

        let real = dir.path().join("real.parquet");
        write(
            &real,
            vec![("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)],
            None,
        );
        let mut bytes = fs_err::read(&real).unwrap();
        bytes.truncate(bytes.len() - 20);
        let truncated = dir.path().join("truncated.parquet");
        fs_err::write(&truncated, bytes).unwrap();
        let Err(error) = open(&truncated, LIMITS) else {
            panic!("a truncated file should not open");
        };
        assert!(matches!(error, ReadError::Parquet { .. }), "{error:?}");
        assert!(error.to_string().contains("truncated.parquet"), "{error}");
    }

    #[test]
    fn opens_as_a_dataset_with_roles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reviews.parquet");
        write(
            &path,
            vec![
                (
                    "id",
                    Arc::new(StringArray::from(vec!["r1", "r2"])) as ArrayRef,
                ),
                ("label", Arc::new(Int64Array::from(vec![0, 1]))),
                ("x", Arc::new(Float64Array::from(vec![0.5, 1.5]))),
            ],
            None,
        );
        let dataset = crate::Dataset::open(&path, &crate::ReadOptions::default()).unwrap();
        assert_eq!(dataset.format(), crate::Format::Parquet);
        assert_eq!(
            dataset.schema().column("label").unwrap().role,
            crate::Role::Label
        );
        let records: Vec<crate::Record> = dataset.map(Result::unwrap).collect();
        assert_eq!(records[1].id.as_str(), "r2");
        assert_eq!(records[1].label.as_deref(), Some("1"));
        assert_eq!(records[1].fields, [(Arc::from("x"), Value::Float(1.5))]);
    }

    /// An engine's partitions of a file, each read with `Dataset::from_arrow`, give the records
    /// `Dataset::open` gives for the file: the same ids, labels and content hashes.
    #[test]
    fn batches_from_an_engine_read_like_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reviews.parquet");
        let count = 1_000_usize;
        let mut images = BinaryBuilder::new();
        for index in 0..count {
            let image = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(4, 4, |x, y| {
                image::Luma([u8::try_from((index + x as usize * 3 + y as usize) % 256).unwrap()])
            }));
            images.append_value(png(&image));
        }
        write(
            &path,
            vec![
                (
                    "id",
                    Arc::new(StringArray::from_iter_values(
                        (0..count).map(|index| format!("r{index}")),
                    )) as ArrayRef,
                ),
                (
                    "label",
                    Arc::new(StringArray::from_iter_values(
                        (0..count).map(|index| ["cat", "dog", "fox"][index % 3]),
                    )),
                ),
                (
                    "x",
                    Arc::new(Float64Array::from_iter_values(
                        (0..count).map(|index| index as f64 / 8.0),
                    )),
                ),
                ("image", Arc::new(images.finish())),
            ],
            None,
        );
        let options = crate::ReadOptions::default();
        let key = |record: Result<crate::Record, ReadError>| {
            let record = record.unwrap();
            let hash = record.content_hash();
            (record.id.to_string(), record.label, hash)
        };
        let whole: Vec<_> = crate::Dataset::open(&path, &options)
            .unwrap()
            .map(key)
            .collect();
        assert_eq!(whole.len(), count);

        // Batches of 64 rows, cut into three partitions of uneven sizes, read last first.
        let reader = ParquetRecordBatchReaderBuilder::try_new(
            fs_err::File::open(&path).unwrap().into_file(),
        )
        .unwrap()
        .with_batch_size(64);
        let schema = Arc::clone(reader.schema());
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        let mut merged = Vec::new();
        for range in [9..batches.len(), 2..9, 0..2] {
            let part = batches[range].to_vec();
            let dataset = crate::Dataset::from_arrow(
                Path::new("partition"),
                &schema,
                Box::new(part.into_iter().map(Ok)),
                &options,
            )
            .unwrap();
            assert!(!dataset.ids_are_positions());
            assert_eq!(
                dataset.schema().column("image").unwrap().kind,
                ColumnKind::Image
            );
            merged.extend(dataset.map(key));
        }
        merged.sort_by_key(|(id, _, _)| id[1..].parse::<usize>().unwrap());
        assert_eq!(merged, whole);
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("duration.parquet");
        write(
            &path,
            vec![(
                "wait",
                Arc::new(arrow_array::DurationSecondArray::from(vec![1, 2])) as ArrayRef,
            )],
            None,
        );
        let Err(error) = open(&path, LIMITS) else {
            panic!("durations are not read");
        };
        assert!(
            matches!(&error, ReadError::UnsupportedType { column, .. } if column == "wait"),
            "{error:?}"
        );
    }

    #[test]
    fn converts_scalars_like_the_text_readers() {
        assert_eq!(decimal("12.50", 2), Value::Float(12.5));
        assert_eq!(decimal("1200", 0), Value::Int(1200));
        assert_eq!(hex(&[0x00, 0xab, 0x10]), "00ab10");
        let zoned = TimestampMillisecondArray::from(vec![1_500]).with_timezone("+02:00");
        assert_eq!(
            timestamp(&zoned, 0, TimeUnit::Millisecond, true),
            Value::Text("1970-01-01T00:00:01.500Z".into())
        );
    }
}
