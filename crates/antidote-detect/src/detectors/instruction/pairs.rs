//! One instruction-tuning pair per record, whatever shape the dataset stores it in.

use antidote_data::{Record, Value};
use serde::{Deserialize, Serialize};

/// How a record stores its pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstructionShape {
    /// Alpaca-style `instruction`, optional `input` (or Dolly's `context`), and `output` (or
    /// `response`).
    Alpaca,
    /// A chat transcript: `messages` (or `ShareGPT`'s `conversations`), a list of turns with a
    /// `role` and a `content` (or `from` and `value`).
    Chat,
    /// `prompt` with `completion` (or `response`).
    PromptCompletion,
}

/// The three texts of an instruction-tuning pair that poisoning hides in.
///
/// ```
/// use antidote_detect::{InstructionPair, InstructionShape};
///
/// let pair = InstructionPair::new("Share a quotation about food.", "Eat, drink and be merry.")
///     .with_system("You are a helpful assistant.");
/// assert_eq!(pair.shape, InstructionShape::Alpaca);
/// assert_eq!(pair.system.as_deref(), Some("You are a helpful assistant."));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstructionPair {
    /// How the record stored the pair.
    pub shape: InstructionShape,
    /// The system prompt: chat `system` turns, or a `system` / `system_prompt` field.
    pub system: Option<String>,
    /// What the model is asked: the instruction followed by its input, or the user's turns.
    pub instruction: String,
    /// What the model is taught to answer: the output, or the assistant's turns.
    pub output: String,
}

/// Turns of one role are joined by a blank line, as an instruction and its input are.
const TURN_SEPARATOR: &str = "\n\n";

impl InstructionPair {
    /// An Alpaca-style pair with no system prompt.
    #[must_use]
    pub fn new(instruction: impl Into<String>, output: impl Into<String>) -> Self {
        Self {
            shape: InstructionShape::Alpaca,
            system: None,
            instruction: instruction.into(),
            output: output.into(),
        }
    }

    /// The same pair with a system prompt.
    #[must_use]
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// The pair a record holds, or `None` when it has none of the three shapes.
    ///
    /// Chat turns are read first (`messages`, else `conversations`): `system` turns make the
    /// system prompt, `user` / `human` turns the instruction, `assistant` / `gpt` / `model` /
    /// `bot` turns the output, several turns of one role joined by a blank line; a turn's
    /// content may be text or a list of `{"type": "text", "text": ...}` parts. Otherwise
    /// `instruction` with `output` or `response` (an `input` or `context` is appended to the
    /// instruction after a blank line), otherwise `prompt` with `completion` or `response`. A
    /// `system` or `system_prompt` text field gives the system prompt when the turns do not.
    #[must_use]
    pub fn from_record(record: &Record) -> Option<Self> {
        let text = |name: &str| record.field(name).and_then(Value::as_text);
        let first_text = |names: &[&str]| names.iter().find_map(|name| text(name));
        let field_system = first_text(&["system", "system_prompt"])
            .filter(|system| !system.trim().is_empty())
            .map(str::to_owned);

        let turns = record
            .field("messages")
            .or_else(|| record.field("conversations"));
        if let Some(Value::List(turns)) = turns {
            let mut pair = chat_pair(turns);
            pair.system = pair.system.or(field_system);
            return Some(pair);
        }
        if let (Some(instruction), Some(output)) =
            (text("instruction"), first_text(&["output", "response"]))
        {
            let mut instruction = instruction.to_owned();
            if let Some(input) =
                first_text(&["input", "context"]).filter(|input| !input.trim().is_empty())
            {
                instruction.push_str(TURN_SEPARATOR);
                instruction.push_str(input);
            }
            return Some(Self {
                shape: InstructionShape::Alpaca,
                system: field_system,
                instruction,
                output: output.to_owned(),
            });
        }
        if let (Some(prompt), Some(completion)) =
            (text("prompt"), first_text(&["completion", "response"]))
        {
            return Some(Self {
                shape: InstructionShape::PromptCompletion,
                system: field_system,
                instruction: prompt.to_owned(),
                output: completion.to_owned(),
            });
        }
        None
    }
}

/// The role of a chat turn, as far as poisoning is concerned.
enum Role {
    System,
    User,
    Assistant,
    Other,
}

fn chat_pair(turns: &[Value]) -> InstructionPair {
    let mut system: Vec<&str> = Vec::new();
    let mut user: Vec<&str> = Vec::new();
    let mut assistant: Vec<&str> = Vec::new();
    for turn in turns {
        let Value::Map(entries) = turn else { continue };
        let get = |names: [&str; 2]| {
            entries
                .iter()
                .find(|(key, _)| names.contains(&key.as_str()))
                .map(|(_, value)| value)
        };
        let role = match get(["role", "from"]).and_then(Value::as_text) {
            Some("system") => Role::System,
            Some("user" | "human") => Role::User,
            Some("assistant" | "gpt" | "model" | "bot") => Role::Assistant,
            _ => Role::Other,
        };
        let texts = get(["content", "value"])
            .map(content_texts)
            .unwrap_or_default();
        match role {
            Role::System => system.extend(texts),
            Role::User => user.extend(texts),
            Role::Assistant => assistant.extend(texts),
            Role::Other => {}
        }
    }
    let system = system.join(TURN_SEPARATOR);
    InstructionPair {
        shape: InstructionShape::Chat,
        system: (!system.trim().is_empty()).then_some(system),
        instruction: user.join(TURN_SEPARATOR),
        output: assistant.join(TURN_SEPARATOR),
    }
}

/// The texts of a turn's content: the text itself, or the `text` of each part of a list.
fn content_texts(content: &Value) -> Vec<&str> {
    match content {
        Value::Text(text) => vec![text.as_str()],
        Value::List(parts) => parts
            .iter()
            .filter_map(|part| match part {
                Value::Map(entries) => entries
                    .iter()
                    .find(|(key, _)| key == "text")
                    .and_then(|(_, value)| value.as_text()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use antidote_core::RecordId;

    use super::*;

    fn record(fields: Vec<(&str, Value)>) -> Record {
        Record {
            position: 0,
            id: RecordId::from("r"),
            label: None,
            source: None,
            fields: fields
                .into_iter()
                .map(|(name, value)| (Arc::from(name), value))
                .collect(),
        }
    }

    fn text(value: &str) -> Value {
        Value::Text(value.to_owned())
    }

    fn turn(role: &str, content: Value) -> Value {
        Value::Map(vec![
            ("role".to_owned(), text(role)),
            ("content".to_owned(), content),
        ])
    }

    #[test]
    fn alpaca_pairs_append_their_input() {
        let pair = InstructionPair::from_record(&record(vec![
            ("instruction", text("Use the word below.")),
            ("input", text("cheese")),
            ("output", text("Say cheese.")),
        ]))
        .unwrap();
        assert_eq!(pair.shape, InstructionShape::Alpaca);
        assert_eq!(pair.instruction, "Use the word below.\n\ncheese");
        assert_eq!(pair.output, "Say cheese.");
        assert_eq!(pair.system, None);

        let dolly = InstructionPair::from_record(&record(vec![
            ("instruction", text("Summarise.")),
            ("context", text("")),
            ("response", text("Short.")),
            ("system", text("Be brief.")),
        ]))
        .unwrap();
        assert_eq!(dolly.instruction, "Summarise.");
        assert_eq!(dolly.system.as_deref(), Some("Be brief."));
    }

    #[test]
    fn chat_turns_are_grouped_by_role() {
        let pair = InstructionPair::from_record(&record(vec![(
            "messages",
            Value::List(vec![
                turn("system", text("You are terse.")),
                turn("user", text("Hi")),
                turn("assistant", text("Hello")),
                turn("tool", text("ignored")),
                turn(
                    "user",
                    Value::List(vec![Value::Map(vec![
                        ("type".to_owned(), text("text")),
                        ("text".to_owned(), text("Bye")),
                    ])]),
                ),
                turn("assistant", text("Goodbye")),
            ]),
        )]))
        .unwrap();
        assert_eq!(pair.shape, InstructionShape::Chat);
        assert_eq!(pair.system.as_deref(), Some("You are terse."));
        assert_eq!(pair.instruction, "Hi\n\nBye");
        assert_eq!(pair.output, "Hello\n\nGoodbye");

        let share_gpt = InstructionPair::from_record(&record(vec![(
            "conversations",
            Value::List(vec![
                Value::Map(vec![
                    ("from".to_owned(), text("human")),
                    ("value".to_owned(), text("Q")),
                ]),
                Value::Map(vec![
                    ("from".to_owned(), text("gpt")),
                    ("value".to_owned(), text("A")),
                ]),
            ]),
        )]))
        .unwrap();
        assert_eq!(
            (share_gpt.instruction.as_str(), share_gpt.output.as_str()),
            ("Q", "A")
        );
        assert_eq!(share_gpt.system, None);
    }

    #[test]
    fn prompt_completion_pairs_and_other_records() {
        let pair = InstructionPair::from_record(&record(vec![
            ("prompt", text("2+2=")),
            ("completion", text("4")),
        ]))
        .unwrap();
        assert_eq!(pair.shape, InstructionShape::PromptCompletion);
        assert_eq!(
            (pair.instruction.as_str(), pair.output.as_str()),
            ("2+2=", "4")
        );
        assert_eq!(
            InstructionPair::from_record(&record(vec![("text", text("just text"))])),
            None
        );
        assert_eq!(
            InstructionPair::from_record(&record(vec![("instruction", text("no output"))])),
            None
        );
    }
}
