//! Column type inference from sampled values, shared by the readers that have no declared types.

use crate::{ColumnKind, Value};

/// Accumulates what the values of one column look like, then names its [`ColumnKind`].
#[derive(Debug, Default, Clone)]
pub struct KindInference {
    present: u64,
    integers: u64,
    floats: u64,
    booleans: u64,
    texts: u64,
    text_chars: u64,
    texts_with_space: u64,
    images: u64,
    vectors: u64,
    nested: u64,
}

impl KindInference {
    /// Counts one value.
    pub fn observe(&mut self, value: &Value) {
        match value {
            Value::Null => return,
            Value::Int(_) => self.integers += 1,
            Value::Float(_) => self.floats += 1,
            Value::Bool(_) => self.booleans += 1,
            Value::Text(text) => {
                self.texts += 1;
                self.text_chars += text.chars().count() as u64;
                if text.trim().contains(char::is_whitespace) {
                    self.texts_with_space += 1;
                }
            }
            Value::Image(_) => self.images += 1,
            Value::List(items)
                if items.iter().all(|item| item.as_f64().is_some()) && !items.is_empty() =>
            {
                self.vectors += 1;
            }
            Value::List(_) | Value::Map(_) => self.nested += 1,
        }
        self.present += 1;
    }

    /// The kind that fits every value seen.
    ///
    /// Strings are free text when they are long (24 characters on average) or mostly contain
    /// spaces; otherwise they are categories.
    #[must_use]
    pub fn kind(&self) -> ColumnKind {
        let present = self.present;
        if present == 0 {
            ColumnKind::Empty
        } else if self.integers == present {
            ColumnKind::Integer
        } else if self.integers + self.floats == present {
            ColumnKind::Float
        } else if self.booleans == present {
            ColumnKind::Boolean
        } else if self.images == present {
            ColumnKind::Image
        } else if self.vectors == present {
            ColumnKind::Vector
        } else if self.texts == present {
            let mean_chars = self.text_chars as f64 / self.texts as f64;
            if mean_chars >= 24.0 || self.texts_with_space * 2 > self.texts {
                ColumnKind::Text
            } else {
                ColumnKind::Categorical
            }
        } else if self.texts > 0 && self.nested == 0 && self.images == 0 && self.vectors == 0 {
            // Mixed numbers and strings: a categorical column with some numeric-looking codes.
            ColumnKind::Categorical
        } else {
            ColumnKind::Nested
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(values: &[Value]) -> ColumnKind {
        let mut inference = KindInference::default();
        for value in values {
            inference.observe(value);
        }
        inference.kind()
    }

    #[test]
    fn names_kinds_from_values() {
        assert_eq!(
            kind_of(&[Value::Int(1), Value::Null, Value::Int(2)]),
            ColumnKind::Integer
        );
        assert_eq!(
            kind_of(&[Value::Int(1), Value::Float(2.5)]),
            ColumnKind::Float
        );
        assert_eq!(
            kind_of(&[Value::Text("cat".into()), Value::Text("dog".into())]),
            ColumnKind::Categorical
        );
        assert_eq!(
            kind_of(&[
                Value::Text("the quick brown fox".into()),
                Value::Text("jumps over".into())
            ]),
            ColumnKind::Text
        );
        assert_eq!(
            kind_of(&[Value::List(vec![Value::Float(0.5), Value::Int(1)])]),
            ColumnKind::Vector
        );
        assert_eq!(kind_of(&[Value::Null]), ColumnKind::Empty);
        assert_eq!(
            kind_of(&[Value::Int(1), Value::Text("a".into())]),
            ColumnKind::Categorical
        );
    }
}
