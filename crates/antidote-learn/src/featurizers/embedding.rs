//! Vectors supplied by the user (embeddings, precomputed features), as given.

use antidote_data::Value;

/// What is wrong with one record's vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VectorError {
    /// The vector has another length than the first one.
    Length(usize),
    /// The value is not a list of finite numbers.
    NotAVector,
}

/// The length of a vector value, if it is a list of finite numbers.
pub(crate) fn vector_len(value: &Value) -> Option<usize> {
    match value {
        Value::List(items)
            if items
                .iter()
                .all(|item| item.as_f64().is_some_and(f64::is_finite)) =>
        {
            Some(items.len())
        }
        _ => None,
    }
}

/// A vector column whose vectors all have `len` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Embedding {
    pub(crate) len: usize,
}

impl Embedding {
    /// Checks that `value` is a vector of this length (or missing).
    pub(crate) fn check(self, value: &Value) -> Result<(), VectorError> {
        match value {
            Value::Null => Ok(()),
            other => match vector_len(other) {
                Some(len) if len == self.len => Ok(()),
                Some(len) => Err(VectorError::Length(len)),
                None => Err(VectorError::NotAVector),
            },
        }
    }

    /// Writes the vector as it is; a missing vector writes nothing, so stays zero.
    pub(crate) fn encode(self, value: &Value, out: &mut [f32]) -> Result<(), VectorError> {
        self.check(value)?;
        if let Value::List(items) = value {
            for (out, item) in out.iter_mut().zip(items) {
                *out = item.as_f64().unwrap_or(0.0) as f32;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_copied_and_their_length_checked() {
        let embedding = Embedding { len: 3 };
        let vector = Value::List(vec![Value::Float(0.5), Value::Int(-2), Value::Float(1e-3)]);
        let mut out = vec![0.0f32; 3];
        embedding.encode(&vector, &mut out).unwrap();
        assert_eq!(out, [0.5, -2.0, 1e-3]);
        let short = Value::List(vec![Value::Float(0.5)]);
        assert_eq!(
            embedding.encode(&short, &mut out),
            Err(VectorError::Length(1))
        );
        let words = Value::List(vec![Value::Text("a".into())]);
        assert_eq!(embedding.check(&words), Err(VectorError::NotAVector));
        let infinite = Value::List(vec![Value::Float(f64::INFINITY); 3]);
        assert_eq!(embedding.check(&infinite), Err(VectorError::NotAVector));
        assert_eq!(embedding.check(&Value::Null), Ok(()));
    }
}
