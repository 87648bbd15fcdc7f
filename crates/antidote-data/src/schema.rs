use std::fmt;

use antidote_core::Digest;
use serde::{Deserialize, Serialize};

/// The type of a column, as inferred from the data or declared by the file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Whole numbers.
    Integer,
    /// Real numbers.
    Float,
    /// `true` / `false`.
    Boolean,
    /// Short strings from a small set: class names, country codes.
    Categorical,
    /// Free text: sentences, documents, prompts.
    Text,
    /// Decoded images.
    Image,
    /// Lists of numbers: embeddings, feature vectors.
    Vector,
    /// Other lists and nested objects (chat transcripts, metadata).
    Nested,
    /// Every value seen so far was missing.
    Empty,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Categorical => "categorical",
            Self::Text => "text",
            Self::Image => "image",
            Self::Vector => "vector",
            Self::Nested => "nested",
            Self::Empty => "empty",
        };
        f.write_str(name)
    }
}

/// What a column means to antidote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The record's stable id.
    Id,
    /// The class the record is labelled with.
    Label,
    /// Who contributed the record.
    Source,
    /// The text payload that text featurizers read.
    Text,
    /// The image payload.
    Image,
    /// A representation supplied by the user.
    Embedding,
    /// Any other column: a model input like the rest.
    Feature,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Id => "id",
            Self::Label => "label",
            Self::Source => "source",
            Self::Text => "text",
            Self::Image => "image",
            Self::Embedding => "embedding",
            Self::Feature => "feature",
        };
        f.write_str(name)
    }
}

/// What a payload column holds: images or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadKind {
    /// Decoded images.
    Image,
    /// Free text.
    Text,
}

/// One column of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column's name in the source (`image` and `label` for formats without names).
    pub name: String,
    /// Its inferred or declared type.
    pub kind: ColumnKind,
    /// What it means.
    pub role: Role,
}

/// The columns of a dataset, with their types and roles.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in source order.
    pub columns: Vec<Column>,
}

impl Schema {
    /// The first column with `role`, if any.
    #[must_use]
    pub fn column_with_role(&self, role: Role) -> Option<&Column> {
        self.columns.iter().find(|column| column.role == role)
    }

    /// The image column: the one with the image role, else the first image feature column.
    #[must_use]
    pub fn image_column(&self) -> Option<&Column> {
        self.payload_of(Role::Image, ColumnKind::Image)
    }

    /// The text column: the one with the text role, else the first text feature column.
    #[must_use]
    pub fn text_column(&self) -> Option<&Column> {
        self.payload_of(Role::Text, ColumnKind::Text)
    }

    /// The column a record's payload is in: the image column, else the text column
    /// (see [`Schema::image_column`] and [`Schema::text_column`]), with what it holds.
    ///
    /// ```
    /// use antidote_data::{Column, ColumnKind, PayloadKind, Role, Schema};
    ///
    /// let schema = Schema {
    ///     columns: vec![
    ///         Column { name: "review".into(), kind: ColumnKind::Text, role: Role::Feature },
    ///         Column { name: "stars".into(), kind: ColumnKind::Integer, role: Role::Label },
    ///     ],
    /// };
    /// assert_eq!(schema.payload_column(), Some(("review", PayloadKind::Text)));
    /// ```
    #[must_use]
    pub fn payload_column(&self) -> Option<(&str, PayloadKind)> {
        self.image_column()
            .map(|column| (column.name.as_str(), PayloadKind::Image))
            .or_else(|| {
                self.text_column()
                    .map(|column| (column.name.as_str(), PayloadKind::Text))
            })
    }

    /// The column with `role`, else the first feature column of `kind`.
    fn payload_of(&self, role: Role, kind: ColumnKind) -> Option<&Column> {
        self.column_with_role(role).or_else(|| {
            self.columns
                .iter()
                .find(|column| column.kind == kind && column.role == Role::Feature)
        })
    }

    /// The column called `name`, if any.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// The column names, in order.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.columns
            .iter()
            .map(|column| column.name.as_str())
            .collect()
    }

    /// A digest of the columns' names, types and roles, independent of column order.
    ///
    /// Two datasets with the same fingerprint have the same columns with the same meaning, so a
    /// changed fingerprint between two versions is a schema change.
    #[must_use]
    pub fn fingerprint(&self) -> Digest {
        let mut columns: Vec<String> = self
            .columns
            .iter()
            .map(|column| format!("{}\u{1f}{}\u{1f}{}", column.name, column.kind, column.role))
            .collect();
        columns.sort();
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"antidote.schema.v1");
        for column in &columns {
            hasher.update(&(column.len() as u64).to_le_bytes());
            hasher.update(column.as_bytes());
        }
        Digest::blake3(*hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, kind: ColumnKind, role: Role) -> Column {
        Column {
            name: name.into(),
            kind,
            role,
        }
    }

    #[test]
    fn the_payload_is_the_image_else_the_text_by_role_then_by_kind() {
        let mut schema = Schema {
            columns: vec![
                column("id", ColumnKind::Text, Role::Id),
                column("caption", ColumnKind::Text, Role::Feature),
                column("notes", ColumnKind::Text, Role::Text),
            ],
        };
        assert_eq!(schema.payload_column(), Some(("notes", PayloadKind::Text)));
        schema.columns[2].role = Role::Feature;
        assert_eq!(
            schema.payload_column(),
            Some(("caption", PayloadKind::Text))
        );
        schema
            .columns
            .push(column("photo", ColumnKind::Image, Role::Feature));
        assert_eq!(schema.payload_column(), Some(("photo", PayloadKind::Image)));
        schema
            .columns
            .push(column("scan", ColumnKind::Image, Role::Image));
        assert_eq!(schema.payload_column(), Some(("scan", PayloadKind::Image)));
        assert_eq!(
            schema.text_column().map(|column| column.name.as_str()),
            Some("caption")
        );
        let numbers = Schema {
            columns: vec![column("x", ColumnKind::Float, Role::Feature)],
        };
        assert_eq!(numbers.payload_column(), None);
    }

    #[test]
    fn fingerprint_ignores_order_but_not_types() {
        let a = Schema {
            columns: vec![
                column("x", ColumnKind::Float, Role::Feature),
                column("y", ColumnKind::Categorical, Role::Label),
            ],
        };
        let mut b = a.clone();
        b.columns.reverse();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut c = a.clone();
        c.columns[0].kind = ColumnKind::Integer;
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
