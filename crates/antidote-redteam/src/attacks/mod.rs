//! One file per attack family. Each has a unit struct that documents it (what it does, why it
//! matters, how it works, references), a `params()` builder, and a checked `ValidParams` type
//! that implements [`crate::Attack`].

pub mod badnets;
pub mod blend;
pub mod duplicate_flood;
pub mod instruction;
pub mod label_flip;
pub mod phrasings;
pub mod sig;
pub mod silent_update;
pub mod syntactic;
pub mod text_trigger;
pub mod warp;
