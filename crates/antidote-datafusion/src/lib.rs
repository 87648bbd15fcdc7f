//! antidote on `DataFusion`: the mergeable parts of antidote as aggregate functions, so that a
//! query engine reads a table of many Parquet files on every core (and, on an engine that
//! distributes `DataFusion` plans, on many machines) and gives what antidote's own readers give.
//!
//! [`Aggregate::TableRecords`] (`antidote_table_records`) gives the mergeable digest of a table's
//! records ([`TablePartial`]: the record set hash, the count and the records per label), and
//! [`Aggregate::TableProfile`] (`antidote_table_profile`) its profile. Each partition reads its
//! batches exactly as antidote reads a Parquet file of them
//! ([`antidote_data::Dataset::from_arrow`]), and partial results merge in any order, so the
//! result does not depend on how the engine cut the files. [`DataFusionTables`] reads whole
//! tables with them for `antidote lock`, `verify`, `profile` and `check --engine datafusion`.
//!
//! Records need an id column: a record's position is not defined once the engine has cut the
//! files into partitions. Model training stays on one machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use antidote_core::{Progress, ProgressUnit};
use antidote_data::{Dataset, ReadOptions};
use antidote_provenance::lock::LockError;
use antidote_provenance::table::{
    TableDigest, TablePartial, TableReader, table_format, table_read_options, table_schema,
};
use antidote_validate::profile::Profile;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::datasource::file_format::options::ReadOptions as _;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{
    CsvReadOptions, Expr, ParquetReadOptions, SessionConfig, SessionContext, ident, lit,
};

#[cfg(feature = "ballista")]
pub mod ballista_cluster;

/// The name of the [`Aggregate::TableRecords`] function in queries:
/// `antidote_table_records(options, column, ...)` is the [`TablePartial`] of the rows, as the
/// bytes of [`TablePartial::to_bytes`], where `options` is a string literal of the
/// [`ReadOptions`] as JSON (the roles name the id, label and other columns) and the columns are
/// every column of the table, under their names.
pub const TABLE_RECORDS: &str = "antidote_table_records";

/// The name of the [`Aggregate::TableProfile`] function in queries:
/// `antidote_table_profile(settings, column, ...)` is the antidote [`Profile`] of the rows, as
/// the bytes of [`Profile::to_partial_bytes`], where `settings` is a string literal of the
/// [`ProfileSettings`] as JSON and the columns are every column of the table. Partials merge as
/// [`Profile::merge`] merges profiles: counts and moments exactly, sketches within their error,
/// exact duplicates across partitions.
pub const TABLE_PROFILE: &str = "antidote_table_profile";

/// antidote's aggregate functions. Each takes its settings as a JSON string literal, then every
/// column of the table, and returns the bytes of its mergeable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// [`TABLE_RECORDS`]: the record set hash, count and labels.
    TableRecords,
    /// [`TABLE_PROFILE`]: the profile.
    TableProfile,
}

impl Aggregate {
    /// The function, to call in a query or register with a context.
    #[must_use]
    pub fn udaf(self) -> AggregateUDF {
        AggregateUDF::from(AggregateFunction {
            aggregate: self,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::TableRecords => TABLE_RECORDS,
            Self::TableProfile => TABLE_PROFILE,
        }
    }
}

/// An [`Aggregate`] with its signature, as `DataFusion` calls it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AggregateFunction {
    aggregate: Aggregate,
    signature: Signature,
}

impl AggregateUDFImpl for AggregateFunction {
    fn name(&self) -> &'static str {
        self.aggregate.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let schema = argument_schema(self.aggregate.name(), &args)?;
        Ok(match self.aggregate {
            Aggregate::TableRecords => Box::new(TableRecordsAccumulator {
                schema,
                options: None,
                partial: TablePartial::default(),
            }),
            Aggregate::TableProfile => Box::new(TableProfileAccumulator {
                schema,
                settings: None,
                profile: None,
            }),
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[partial]", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    )
}

/// One partition's partial digest.
#[derive(Debug)]
struct TableRecordsAccumulator {
    /// The table's columns, as the function received them.
    schema: Arc<Schema>,
    /// The read options, parsed from the first batch's literal.
    options: Option<ReadOptions>,
    partial: TablePartial,
}

fn external(error: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

impl Accumulator for TableRecordsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some((literal, columns)) = values.split_first() else {
            return Ok(());
        };
        if literal.is_empty() {
            return Ok(());
        }
        if self.options.is_none() {
            let text = literal_text(TABLE_RECORDS, literal)?;
            self.options = Some(serde_json::from_str(&text).map_err(external)?);
        }
        let options = self.options.as_ref().expect("parsed above");
        let mut dataset = batch_dataset(&self.schema, columns, options)?;
        self.partial.read(&mut dataset).map_err(external)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(self.partial.to_bytes())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + antidote_provenance::set_hash::STATE_BYTES
            + self
                .partial
                .label_counts
                .keys()
                .map(|label| label.len() + 48)
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.partial.to_bytes()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for_each_state(TABLE_RECORDS, states, TablePartial::from_bytes, |partial| {
            self.partial.merge(&partial);
            Ok(())
        })
    }
}

/// One batch of the columns `schema`, read as antidote reads a Parquet file of it, or, when
/// `options` give CSV kinds, a CSV file of it.
fn batch_dataset(
    schema: &Arc<Schema>,
    columns: &[ArrayRef],
    options: &ReadOptions,
) -> Result<Dataset> {
    let batch = RecordBatch::try_new(Arc::clone(schema), columns.to_vec()).map_err(external)?;
    let name = Path::new("a partition of the table");
    let batches = Box::new(std::iter::once(Ok(batch)));
    if options.csv_kinds.is_some() {
        Dataset::from_csv_batches(name, schema, batches, options)
    } else {
        Dataset::from_arrow(name, schema, batches, options)
    }
    .map_err(external)
}

/// The columns of an aggregate's arguments after the first (the literal).
fn argument_schema(name: &str, args: &AccumulatorArgs) -> Result<Arc<Schema>> {
    let Some((literal, columns)) = args.expr_fields.split_first() else {
        return exec_err!("{name} needs its settings and at least one column");
    };
    if !is_string(literal.data_type()) {
        return exec_err!("{name}: the first argument is its settings as JSON");
    }
    Ok(Arc::new(Schema::new(
        columns
            .iter()
            .map(|field| Field::new(field.name(), field.data_type().clone(), true))
            .collect::<Vec<_>>(),
    )))
}

/// Decodes every partial state of `states` (the one binary state column of aggregate `name`)
/// and hands it to `merge`; null states (partitions without rows) are skipped.
fn for_each_state<T>(
    name: &str,
    states: &[ArrayRef],
    decode: impl Fn(&[u8]) -> Option<T>,
    mut merge: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let Some(states) = states.first() else {
        return Ok(());
    };
    let states = states.as_binary::<i32>();
    for index in (0..states.len()).filter(|&index| !states.is_null(index)) {
        let Some(partial) = decode(states.value(index)) else {
            return exec_err!("{name}: a partial state that is not one");
        };
        merge(partial)?;
    }
    Ok(())
}

/// The JSON text of an aggregate's first argument, a string literal.
fn literal_text(name: &str, literal: &ArrayRef) -> Result<String> {
    match ScalarValue::try_from_array(literal, 0)? {
        ScalarValue::Utf8(Some(text))
        | ScalarValue::Utf8View(Some(text))
        | ScalarValue::LargeUtf8(Some(text)) => Ok(text),
        _ => exec_err!("{name}: the first argument is its settings as JSON"),
    }
}

/// What [`Aggregate::TableProfile`] needs to know before it sees a record: how to read the records, and the
/// table's columns with the kinds the driver decided once (a partition's own sample could
/// decide another kind for a string column).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProfileSettings {
    /// How to read the records.
    pub read: ReadOptions,
    /// The table's columns.
    pub schema: antidote_data::Schema,
}

/// One partition's partial profile.
#[derive(Debug)]
struct TableProfileAccumulator {
    /// The table's columns, as the function received them.
    schema: Arc<Schema>,
    /// The settings, parsed from the first batch's literal.
    settings: Option<ProfileSettings>,
    /// The profile so far: `None` until a batch or a partial arrives.
    profile: Option<Profile>,
}

impl TableProfileAccumulator {
    fn merge(&mut self, other: &Profile) -> Result<()> {
        match &mut self.profile {
            None => self.profile = Some(other.clone()),
            Some(profile) => profile.merge(other).map_err(external)?,
        }
        Ok(())
    }

    fn bytes(&self) -> ScalarValue {
        ScalarValue::Binary(self.profile.as_ref().map(Profile::to_partial_bytes))
    }
}

impl Accumulator for TableProfileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some((literal, columns)) = values.split_first() else {
            return Ok(());
        };
        if literal.is_empty() {
            return Ok(());
        }
        if self.settings.is_none() {
            let text = literal_text(TABLE_PROFILE, literal)?;
            self.settings = Some(serde_json::from_str(&text).map_err(external)?);
        }
        let settings = self.settings.as_ref().expect("parsed above");
        let mut dataset = batch_dataset(&self.schema, columns, &settings.read)?;
        let profile = self
            .profile
            .get_or_insert_with(|| Profile::empty(&settings.schema));
        for record in &mut dataset {
            profile.add(&record.map_err(external)?);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.bytes())
    }

    fn size(&self) -> usize {
        // The profile's sketches are bounded; the exact-duplicate hashes are what grows.
        std::mem::size_of_val(self)
            + self
                .profile
                .as_ref()
                .map_or(0, |profile| 64 * 1024 + 16 * profile.record_count as usize)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.bytes()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for_each_state(
            TABLE_PROFILE,
            states,
            Profile::from_partial_bytes,
            |partial| self.merge(&partial),
        )
    }
}

/// Registers antidote's functions with `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(Aggregate::TableRecords.udaf());
    ctx.register_udaf(Aggregate::TableProfile.udaf());
}

/// The session settings antidote's functions need: Parquet strings and binaries read as the
/// plain Arrow types the Parquet writer stored (not as views), so that a partition's batches are
/// the batches antidote's own reader decodes.
#[must_use]
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new();
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    config
}

/// The table of exactly the Parquet or CSV `files` (CSV when `options` give CSV kinds), whose
/// columns are `schema`: each file named by its URL, so that no character of a file name is read
/// as a glob, and with no file extension required (`.pq` files are Parquet too), where
/// `read_parquet` would drop a file without the `.parquet` extension.
///
/// CSV files are read with every column as text and converted as antidote's CSV reader converts
/// them, with the table's kinds; one partition reads a whole CSV file, because a quoted cell may
/// hold a line break where the engine would cut the file.
async fn listing_table(
    ctx: &SessionContext,
    files: &[PathBuf],
    options: &ReadOptions,
    schema: &antidote_data::Schema,
) -> Result<ListingTable> {
    let urls = files
        .iter()
        .map(|file| {
            let absolute = std::path::absolute(file)?;
            let url = url::Url::from_file_path(&absolute).map_err(|()| {
                DataFusionError::Plan(format!("`{}` is not a file path", file.display()))
            })?;
            ListingTableUrl::try_new(url, None)
        })
        .collect::<Result<Vec<_>>>()?;
    let config = ListingTableConfig::new_with_multi_paths(urls);
    let config = if options.csv_kinds.is_some() {
        let text = Schema::new(
            schema
                .columns
                .iter()
                .map(|column| Field::new(&column.name, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        );
        let listing = CsvReadOptions::new()
            .has_header(true)
            .delimiter(b',')
            .newlines_in_values(true)
            .file_extension("")
            .schema(&text)
            .to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
        config
            .with_listing_options(listing)
            .with_schema(Arc::new(text))
    } else {
        let listing = ParquetReadOptions::default()
            .file_extension("")
            .to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
        config
            .with_listing_options(listing)
            .infer_schema(&ctx.state())
            .await?
    };
    ListingTable::try_new(config)
}

/// The bytes `function` (one of antidote's aggregates, given `settings` as its literal) returns
/// over every column of the table of `files`, read by `ctx`; `None` when there are no rows.
async fn aggregate_files(
    ctx: &SessionContext,
    files: &[PathBuf],
    options: &ReadOptions,
    schema: &antidote_data::Schema,
    function: AggregateUDF,
    settings: String,
) -> Result<Option<Vec<u8>>> {
    let table = listing_table(ctx, files, options, schema).await?;
    let frame = ctx.read_table(Arc::new(table))?;
    let mut arguments: Vec<Expr> = vec![lit(settings)];
    arguments.extend(
        frame
            .schema()
            .fields()
            .iter()
            .map(|field| ident(field.name())),
    );
    let name = function.name().to_owned();
    let batches = frame
        .aggregate(vec![], vec![function.call(arguments).alias("partial")])?
        .collect()
        .await?;
    let Some(batch) = batches.iter().find(|batch| batch.num_rows() == 1) else {
        return exec_err!("{name} returned no row");
    };
    let column = batch.column(0).as_binary::<i32>();
    Ok((!column.is_null(0)).then(|| column.value(0).to_vec()))
}

/// The merged [`TablePartial`] of the table of `files`, whose columns are `schema`, read by
/// `ctx` with `options` (the table's, [`antidote_provenance::table::table_read_options`]).
pub async fn table_partial(
    ctx: &SessionContext,
    files: &[PathBuf],
    options: &ReadOptions,
    schema: &antidote_data::Schema,
) -> Result<TablePartial> {
    let settings = serde_json::to_string(options).map_err(external)?;
    let function = Aggregate::TableRecords.udaf();
    let bytes = aggregate_files(ctx, files, options, schema, function, settings).await?;
    bytes
        .as_deref()
        .and_then(TablePartial::from_bytes)
        .ok_or_else(|| DataFusionError::Execution(format!("{TABLE_RECORDS} returned no partial")))
}

/// The [`Profile`] of the table of `files`, whose columns are `schema`, read by `ctx` with
/// `options` (the table's, [`antidote_provenance::table::table_read_options`]).
pub async fn table_profile(
    ctx: &SessionContext,
    files: &[PathBuf],
    options: &ReadOptions,
    schema: &antidote_data::Schema,
) -> Result<Profile> {
    let settings = ProfileSettings {
        read: options.clone(),
        schema: schema.clone(),
    };
    let bytes = aggregate_files(
        ctx,
        files,
        options,
        schema,
        Aggregate::TableProfile.udaf(),
        serde_json::to_string(&settings).map_err(external)?,
    )
    .await?;
    match bytes {
        None => Ok(Profile::empty(schema)),
        Some(bytes) => Profile::from_partial_bytes(&bytes).ok_or_else(|| {
            DataFusionError::Execution(format!("{TABLE_PROFILE} returned no profile"))
        }),
    }
}

/// Where a query's plan runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cluster {
    /// In this process, on every core.
    #[default]
    Local,
    /// On a Ballista cluster: its scheduler's `host:port`. The executors read the tables' files
    /// by the paths this machine sees, so they need the same files at the same paths (a shared
    /// file system), and antidote's functions registered (`antidote ballista executor`). Needs
    /// the `ballista` feature.
    Ballista {
        /// The scheduler's `host:port`.
        scheduler: String,
    },
}

/// Tables read by `DataFusion` (`antidote lock --engine datafusion`): on every core of this
/// machine, or on a Ballista cluster.
#[derive(Debug, Clone, Default)]
pub struct DataFusionTables {
    /// Partitions to cut the files into (and threads to run here); every core of this machine
    /// when `None`.
    pub partitions: Option<usize>,
    /// Files at least this large are cut into several partitions (by row group); `DataFusion`'s
    /// default (10 MiB) when `None`.
    pub split_bytes: Option<usize>,
    /// Where the plans run.
    pub cluster: Cluster,
}

impl DataFusionTables {
    /// Tables read by the Ballista cluster whose scheduler listens at `scheduler` (`host:port`).
    #[must_use]
    pub fn ballista(scheduler: impl Into<String>) -> Self {
        Self {
            cluster: Cluster::Ballista {
                scheduler: scheduler.into(),
            },
            ..Self::default()
        }
    }

    fn config(&self) -> SessionConfig {
        let mut config = session_config();
        if let Some(partitions) = self.partitions {
            config = config.with_target_partitions(partitions.max(1));
        }
        if let Some(bytes) = self.split_bytes {
            config = config.with_repartition_file_min_size(bytes);
        }
        config
    }

    /// A context that plans here and runs where [`Self::cluster`] says, with antidote's
    /// functions.
    async fn context(&self) -> Result<SessionContext> {
        match &self.cluster {
            Cluster::Local => {
                let ctx = SessionContext::new_with_config(self.config());
                register(&ctx);
                Ok(ctx)
            }
            Cluster::Ballista { scheduler } => remote_context(scheduler, self.config()).await,
        }
    }

    /// Runs `query` on a fresh context, on a runtime of every core.
    fn run<T>(
        &self,
        folder: &Path,
        query: impl AsyncFnOnce(&SessionContext) -> Result<T>,
    ) -> Result<T, LockError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|source| LockError::Io {
                path: folder.to_owned(),
                source,
            })?;
        runtime
            .block_on(async {
                let ctx = self.context().await?;
                query(&ctx).await
            })
            .map_err(|error| LockError::Table {
                path: folder.to_owned(),
                reason: error.to_string(),
            })
    }

    /// The profile of the table of the Parquet `files` of `folder`, as `antidote profile`
    /// writes it (the table's columns are the first file's; every file must have them).
    pub fn profile(
        &self,
        folder: &Path,
        files: &[PathBuf],
        options: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<Profile, LockError> {
        let schema = table_schema(folder, files, options)?;
        let options = table_read_options(files, options, &schema);
        progress.start(
            &format!("profiling the table `{}` with DataFusion", folder.display()),
            None,
            ProgressUnit::Records,
        );
        let mut profile = self.run(folder, async |ctx| {
            table_profile(ctx, files, &options, &schema).await
        })?;
        progress.advance(profile.record_count);
        progress.finish();
        profile.sources = vec![folder.display().to_string()];
        profile.format = Some(table_format(files));
        Ok(profile)
    }
}

impl TableReader for DataFusionTables {
    fn engine(&self) -> String {
        match self.cluster {
            Cluster::Local => format!("datafusion {}", datafusion::DATAFUSION_VERSION),
            Cluster::Ballista { .. } => ballista_engine(),
        }
    }

    fn digest(
        &self,
        folder: &Path,
        files: &[PathBuf],
        options: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<TableDigest, LockError> {
        let schema = table_schema(folder, files, options)?;
        let options = table_read_options(files, options, &schema);
        progress.start(
            &format!("reading the table `{}` with DataFusion", folder.display()),
            None,
            ProgressUnit::Records,
        );
        let partial = self.run(folder, async |ctx| {
            table_partial(ctx, files, &options, &schema).await
        })?;
        progress.advance(partial.set.records());
        progress.finish();
        Ok(TableDigest::of(schema, partial))
    }
}

/// A context whose plans run on the Ballista cluster of `scheduler`.
#[cfg(feature = "ballista")]
async fn remote_context(scheduler: &str, config: SessionConfig) -> Result<SessionContext> {
    ballista_cluster::remote_context(scheduler, config).await
}

#[cfg(not(feature = "ballista"))]
#[allow(clippy::unused_async)]
async fn remote_context(scheduler: &str, _config: SessionConfig) -> Result<SessionContext> {
    Err(DataFusionError::Configuration(format!(
        "cannot reach the Ballista scheduler `{scheduler}`: this antidote was built without \
         Ballista; build it with `cargo install --path crates/antidote --features ballista`"
    )))
}

#[cfg(feature = "ballista")]
fn ballista_engine() -> String {
    ballista_cluster::engine()
}

#[cfg(not(feature = "ballista"))]
fn ballista_engine() -> String {
    format!("ballista (datafusion {})", datafusion::DATAFUSION_VERSION)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use antidote_core::NoProgress;
    use antidote_data::{ReadOptions, RoleNames};
    use antidote_provenance::table::{LocalTables, TableReader};
    use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use proptest::prelude::*;

    use super::DataFusionTables;
    use antidote_validate::profile::Profile;

    /// Writes records `first..first + count` (id, label, x, text) to the Parquet file `path`, in
    /// row groups of 100.
    fn write_parquet(path: &Path, first: usize, count: usize, with_ids: bool) {
        let range = first..first + count;
        let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
        if with_ids {
            columns.push((
                "id",
                Arc::new(StringArray::from_iter_values(
                    range.clone().map(|n| format!("r{n}")),
                )),
            ));
        }
        columns.push((
            "label",
            Arc::new(StringArray::from_iter_values(
                range.clone().map(|n| ["cat", "dog", "fox"][n % 3]),
            )),
        ));
        columns.push((
            "x",
            Arc::new(Float64Array::from_iter_values(
                range.clone().map(|n| n as f64 / 4.0),
            )),
        ));
        columns.push((
            "text",
            Arc::new(StringArray::from_iter_values(
                range.map(|n| format!("a sentence about record {n}")),
            )),
        ));
        let batch = RecordBatch::try_from_iter(columns).expect("batch");
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .build();
        let file = File::create(path).expect("create");
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), Some(properties)).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }

    /// Writes `copies` Parquet files to `folder`, each with the records `0..count` under ids of its
    /// own: every record of a copy duplicates one of the first file.
    fn write_copies(folder: &Path, copies: usize, count: usize) -> Vec<PathBuf> {
        (0..copies)
            .map(|copy| {
                let path = folder.join(format!("copy-{copy}.parquet"));
                write_parquet(&path, 0, count, true);
                // Same content, other ids.
                let mut dataset =
                    antidote_data::Dataset::open(&path, &ReadOptions::default()).expect("open");
                let mut ids = Vec::new();
                for record in &mut dataset {
                    ids.push(format!("c{copy}-{}", record.expect("record").id));
                }
                rewrite_ids(&path, &ids);
                path
            })
            .collect()
    }

    /// Replaces the `id` column of the Parquet file `path` with `ids`.
    fn rewrite_ids(path: &Path, ids: &[String]) {
        let file = File::open(path).expect("open");
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                file,
            )
            .expect("reader")
            .build()
            .expect("reader");
        let batches: Vec<RecordBatch> = reader.map(|batch| batch.expect("batch")).collect();
        let batch = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches)
            .expect("concat");
        let mut columns = batch.columns().to_vec();
        columns[0] = Arc::new(StringArray::from_iter_values(ids.iter()));
        let batch = RecordBatch::try_new(batch.schema(), columns).expect("batch");
        let file = File::create(path).expect("create");
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }

    /// The profile antidote's own reader gives: each file profiled, the profiles merged.
    fn local_profile(files: &[PathBuf]) -> Profile {
        let mut merged: Option<Profile> = None;
        for file in files {
            let dataset =
                antidote_data::Dataset::open(file, &ReadOptions::default()).expect("open");
            let profile = Profile::of_dataset(dataset, &NoProgress).expect("profile");
            match &mut merged {
                None => merged = Some(profile),
                Some(merged) => merged.merge(&profile).expect("merge"),
            }
        }
        merged.expect("files")
    }

    fn numeric(profile: &Profile, column: &str) -> antidote_validate::profile::NumericStats {
        match &profile.column(column).expect("column").stats {
            antidote_validate::profile::ColumnStats::Numeric(stats) => stats.clone(),
            other => panic!("{column} is not numeric: {other:?}"),
        }
    }

    #[test]
    fn a_tables_profile_is_its_files_profiles_merged() {
        let folder = tempfile::tempdir().expect("tempdir");
        let mut files = write_table(folder.path(), &[500, 37, 900]);
        files.extend(write_copies(folder.path(), 2, 300));
        let local = local_profile(&files);
        assert_eq!(local.duplicates.exact_duplicates, Some(600));
        for partitions in [1, 3, 6] {
            let profile = engine(partitions)
                .profile(folder.path(), &files, &ReadOptions::default(), &NoProgress)
                .expect("profile");
            assert_eq!(profile.record_count, 2_037, "{partitions}");
            assert_eq!(profile.label_shares(), local.label_shares());
            assert_eq!(
                profile.duplicates.exact_duplicates,
                Some(600),
                "{partitions} partitions"
            );
            for column in &local.columns {
                let ours = profile.column(&column.name).expect("column");
                assert_eq!(
                    (ours.kind, ours.present, ours.missing, ours.mismatched),
                    (
                        column.kind,
                        column.present,
                        column.missing,
                        column.mismatched
                    ),
                    "{}",
                    column.name
                );
            }
            let (ours, theirs) = (numeric(&profile, "x"), numeric(&local, "x"));
            assert_eq!(ours.moments.count, theirs.moments.count);
            assert!((ours.moments.mean - theirs.moments.mean).abs() < 1e-9);
            assert!((ours.moments.m2 - theirs.moments.m2).abs() < 1e-9 * theirs.moments.m2);
            assert_eq!((ours.min, ours.max), (theirs.min, theirs.max));
            // The profile checks clean against the one antidote's reader made.
            let report = antidote_validate::check::check(
                &local,
                &profile,
                &antidote_validate::check::Thresholds::default(),
            );
            assert!(report.passed(), "{report:?}");
        }
    }

    /// Writes `sizes.len()` files of consecutive records to `folder`, under names that a glob
    /// or an extension filter would misread.
    fn write_table(folder: &Path, sizes: &[usize]) -> Vec<PathBuf> {
        let names = [
            "part 0.parquet",
            "part[1].parquet",
            "part-2.pq",
            "part*3.parquet",
            "part?4.parquet",
        ];
        assert!(sizes.len() <= names.len(), "at most {} files", names.len());
        let mut first = 0;
        sizes
            .iter()
            .zip(names)
            .map(|(&count, name)| {
                let path = folder.join(name);
                write_parquet(&path, first, count, true);
                first += count;
                path
            })
            .collect()
    }

    /// An engine of `partitions` partitions that cuts even small files by row group.
    fn engine(partitions: usize) -> DataFusionTables {
        DataFusionTables {
            partitions: Some(partitions),
            split_bytes: Some(1),
            ..DataFusionTables::default()
        }
    }

    /// A CSV cell: empty, numbers, codes with leading zeros, booleans, or text with the
    /// characters CSV must quote (commas, quotes, line breaks).
    fn csv_cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "-?[0-9]{1,5}",
            "0[0-9]{1,3}",
            "[0-9]{1,3}\\.[0-9]{1,3}",
            Just("true".to_owned()),
            "[a-z ,\"\r\n]{1,12}",
        ]
    }

    /// Writes `files` CSV files of the rows (id, label, code, note) to `folder`, the ids unique.
    fn write_csv_table(folder: &Path, files: &[Vec<[String; 3]>]) -> Vec<PathBuf> {
        let mut id = 0;
        files
            .iter()
            .enumerate()
            .map(|(index, rows)| {
                let path = folder.join(format!("part-{index}.csv"));
                let mut writer = csv::Writer::from_path(&path).expect("create");
                writer
                    .write_record(["id", "label", "code", "note"])
                    .expect("header");
                for [label, code, note] in rows {
                    writer
                        .write_record([&format!("r{id}"), label, code, note])
                        .expect("row");
                    id += 1;
                }
                writer.flush().expect("flush");
                path
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// A table of CSV files: the engine's digest and profile counts are antidote's own, every
        /// file read with the first file's column kinds, whatever the cells hold (quoted commas
        /// and line breaks, empty cells, codes that look numeric in one file only).
        #[test]
        fn csv_tables_give_antidotes_own_digest(
            files in proptest::collection::vec(
                proptest::collection::vec(
                    ("[a-c]", csv_cell(), csv_cell()).prop_map(|(l, c, n)| [l, c, n]),
                    1..40,
                ),
                1..4,
            ),
            partitions in 1usize..5,
        ) {
            let folder = tempfile::tempdir().expect("tempdir");
            let paths = write_csv_table(folder.path(), &files);
            let options = ReadOptions::default();
            let local = LocalTables
                .digest(folder.path(), &paths, &options, &NoProgress)
                .expect("local");
            let digest = engine(partitions)
                .digest(folder.path(), &paths, &options, &NoProgress)
                .expect("engine");
            prop_assert_eq!(&digest, &local);
            let rows: usize = files.iter().map(Vec::len).sum();
            prop_assert_eq!(digest.record_count, rows as u64);
            let profile = engine(partitions)
                .profile(folder.path(), &paths, &options, &NoProgress)
                .expect("profile");
            prop_assert_eq!(profile.record_count, rows as u64);
            prop_assert_eq!(profile.format, Some(antidote_data::Format::Csv));
        }
    }

    /// A code column that looks numeric in the first file keeps that kind in the others: the
    /// table reads `007` in a later file as the code it is in a numeric column (a mismatch), the
    /// same with both readers, where each file's own inference would read it as text.
    #[test]
    fn a_csv_tables_kinds_are_its_first_files() {
        let folder = tempfile::tempdir().expect("tempdir");
        let row = |label: &str, code: &str| [label.to_owned(), code.to_owned(), "n".to_owned()];
        let paths = write_csv_table(
            folder.path(),
            &[
                vec![row("a", "1"), row("b", "22")],
                vec![row("a", "007"), row("c", "08")],
            ],
        );
        let options = ReadOptions::default();
        let local = LocalTables
            .digest(folder.path(), &paths, &options, &NoProgress)
            .expect("local");
        let digest = engine(2)
            .digest(folder.path(), &paths, &options, &NoProgress)
            .expect("engine");
        assert_eq!(digest, local);
        let code = digest
            .schema
            .columns
            .iter()
            .find(|column| column.name == "code")
            .expect("code");
        assert_eq!(code.kind, antidote_data::ColumnKind::Integer);
        let profile = engine(2)
            .profile(folder.path(), &paths, &options, &NoProgress)
            .expect("profile");
        assert_eq!(profile.column("code").expect("code").mismatched, 2);
        // A CSV file with other columns, or the same in another order (the engine reads cells by
        // position), is refused by both readers.
        for header in ["id,label,other\nx,a,1\n", "label,id,code,note\na,x,1,n\n"] {
            std::fs::write(folder.path().join("part-2.csv"), header).expect("write");
            let mut more = paths.clone();
            more.push(folder.path().join("part-2.csv"));
            let error = engine(2)
                .digest(folder.path(), &more, &options, &NoProgress)
                .expect_err("different columns");
            assert!(error.to_string().contains("different columns"), "{error}");
            let error = LocalTables
                .digest(folder.path(), &more, &options, &NoProgress)
                .expect_err("different columns");
            assert!(error.to_string().contains("different columns"), "{error}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        /// However many files and partitions, the engine's digest is antidote's own.
        #[test]
        fn any_partitioning_gives_antidotes_own_digest(
            sizes in proptest::collection::vec(1usize..700, 1..5),
            partitions in 1usize..8,
        ) {
            let folder = tempfile::tempdir().expect("tempdir");
            let files = write_table(folder.path(), &sizes);
            let options = ReadOptions::default();
            let local = LocalTables
                .digest(folder.path(), &files, &options, &NoProgress)
                .expect("local");
            let engine = engine(partitions)
                .digest(folder.path(), &files, &options, &NoProgress)
                .expect("engine");
            prop_assert_eq!(&engine, &local);
            prop_assert_eq!(engine.record_count, sizes.iter().sum::<usize>() as u64);
        }
    }

    #[test]
    fn a_table_is_the_set_of_its_files_records_as_each_files_lock_has_them() {
        let folder = tempfile::tempdir().expect("tempdir");
        let files = write_table(folder.path(), &[700, 50, 1_250, 1]);
        let mut merged = antidote_provenance::set_hash::RecordSetHash::default();
        for file in &files {
            let mut set = antidote_provenance::set_hash::RecordSetHash::default();
            for record in antidote_data::Dataset::open(file, &ReadOptions::default()).expect("open")
            {
                let record = record.expect("record");
                set.insert(record.id.as_str(), &record.content_hash());
            }
            merged.merge(&set);
        }
        let digest = engine(3)
            .digest(folder.path(), &files, &ReadOptions::default(), &NoProgress)
            .expect("engine");
        assert_eq!(digest.record_count, 2_001);
        assert_eq!(digest.record_set_hash, merged.digest());
        assert_eq!(digest.label_counts["cat"], 667);
        // One changed label changes it.
        write_parquet(&files[3], 2_001, 1, true);
        let changed = engine(3)
            .digest(folder.path(), &files, &ReadOptions::default(), &NoProgress)
            .expect("engine");
        assert_ne!(changed.record_set_hash, digest.record_set_hash);
        assert_eq!(changed.record_count, digest.record_count);
    }

    #[test]
    fn tables_without_ids_or_with_other_columns_are_refused_with_the_reason() {
        let folder = tempfile::tempdir().expect("tempdir");
        let anonymous = folder.path().join("anonymous.parquet");
        write_parquet(&anonymous, 0, 10, false);
        let error = engine(2)
            .digest(
                folder.path(),
                std::slice::from_ref(&anonymous),
                &ReadOptions::default(),
                &NoProgress,
            )
            .expect_err("no id column");
        assert!(error.to_string().contains("no id column"), "{error}");

        let with_ids = folder.path().join("with-ids.parquet");
        write_parquet(&with_ids, 0, 10, true);
        let error = engine(2)
            .digest(
                folder.path(),
                &[with_ids, anonymous],
                &ReadOptions::default(),
                &NoProgress,
            )
            .expect_err("different columns");
        assert!(error.to_string().contains("different columns"), "{error}");
    }

    #[test]
    fn the_id_column_can_be_named() {
        let folder = tempfile::tempdir().expect("tempdir");
        let files = write_table(folder.path(), &[30, 40]);
        let options = ReadOptions {
            roles: RoleNames {
                id: Some("text".to_owned()),
                ..RoleNames::default()
            },
            ..ReadOptions::default()
        };
        let local = LocalTables
            .digest(folder.path(), &files, &options, &NoProgress)
            .expect("local");
        let by_text = engine(4)
            .digest(folder.path(), &files, &options, &NoProgress)
            .expect("engine");
        assert_eq!(by_text, local);
        let by_id = engine(4)
            .digest(folder.path(), &files, &ReadOptions::default(), &NoProgress)
            .expect("engine");
        assert_ne!(by_text.record_set_hash, by_id.record_set_hash);
    }
}
