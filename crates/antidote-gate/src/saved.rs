//! antidote's own models: the folder `antidote train` writes (`model.safetensors` and
//! `model.json`, see `doc/model-format.md`), run with the featurizer it was trained with.

use std::path::{Path, PathBuf};

use antidote_data::Record;
use antidote_learn::{Encoding, SavedModel};

use crate::{PredictError, Prediction, Predictor};

/// A model folder written by `antidote train`, loaded with
/// [`SavedModel::load`](antidote_learn::SavedModel::load) (which checks the weights' digest).
///
/// Records are featurized exactly as in training, by the featurizer stored in `model.json`, so
/// any data the model was trained on (images, text, numbers, categories, embeddings) can be
/// gated. Its classes are the model's own labels, in its class-index order.
#[derive(Debug)]
pub struct SavedModelPredictor {
    path: PathBuf,
    model: SavedModel,
}

impl SavedModelPredictor {
    /// Loads the model folder at `path`.
    pub fn load(path: &Path) -> Result<Self, PredictError> {
        let model = SavedModel::load(path).map_err(|error| PredictError::Load {
            kind: "model folder",
            path: path.to_owned(),
            message: antidote_core::error_chain(&error),
        })?;
        Ok(Self {
            path: path.to_owned(),
            model,
        })
    }

    /// The loaded model.
    #[must_use]
    pub fn model(&self) -> &SavedModel {
        &self.model
    }

    /// Whether `path` looks like a model folder of `antidote train` (it holds `model.json`).
    #[must_use]
    pub fn is_model_folder(path: &Path) -> bool {
        path.is_dir() && path.join(antidote_learn::METADATA_FILE).is_file()
    }
}

impl Predictor for SavedModelPredictor {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn classes(&self) -> Option<&[String]> {
        Some(self.model.labels.labels())
    }

    fn predict(&self, records: &[Record]) -> Result<Vec<Prediction>, PredictError> {
        let classes = self.model.labels.labels();
        let probabilities =
            self.model
                .predict_proba(records)
                .map_err(|error| PredictError::Run {
                    model: self.name(),
                    message: antidote_core::error_chain(&error),
                })?;
        Ok(probabilities
            .chunks_exact(classes.len())
            .map(|row| Prediction {
                label: classes[antidote_core::math::argmax(row)].clone(),
                probabilities: Some(row.to_vec()),
            })
            .collect())
    }

    fn input_columns(&self) -> Result<Option<Vec<(String, usize)>>, String> {
        // Only numbers can come as a plain list of features: numeric columns take one each, an
        // embedding column its length.
        self.model
            .featurizer
            .blocks()
            .iter()
            .map(|block| match block.encoding {
                Encoding::Standardized => Ok((block.column.clone(), 0)),
                Encoding::Embedding => Ok((block.column.clone(), block.width)),
                other => Err(format!(
                    "the model reads the column `{}` as {other}, which a list of numbers cannot give",
                    block.column
                )),
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Some)
    }
}
