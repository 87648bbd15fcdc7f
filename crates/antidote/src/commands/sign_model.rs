//! `antidote sign-model`: sign a model in the format of OpenSSF model signing.

use antidote_core::display::{human_bytes, plural};
use antidote_provenance::model::{self, HashOptions, HashType};
use antidote_provenance::signing;
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::SignModelArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Hashes a model, signs the manifest and writes the bundle.
pub fn sign_model(
    args: &SignModelArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if !args.model.exists() {
        return Err(UserError::new(
            format!("the model `{}` does not exist", args.model.display()),
            "name the model file or folder: `antidote sign-model models/bert --key antidote.key`",
        )
        .into());
    }
    let key = signing::read_signing_key(&args.key)
        .with_context(|| format!("failed to load the signing key `{}`", args.key.display()))?;
    let mut ignore = args.ignore_paths.clone();
    ignore.push(args.output.clone());
    let options = HashOptions {
        hash_type: if args.blake3 {
            HashType::Blake3
        } else {
            HashType::Sha256
        },
        ignore_paths: model::resolve_ignore_paths(&args.model, &ignore)
            .with_context(|| format!("failed to resolve `{}`", args.model.display()))?,
        ignore_git_paths: !args.no_ignore_git_paths,
    };
    let progress = printer.progress();
    let manifest = model::hash_model(&args.model, &options, progress.as_ref())?;
    let bundle = model::sign(&manifest, &key)?;
    bundle.write(&args.output)?;
    let root = manifest.root_digest();
    let hint = model::key_hint(key.verifying_key());
    let bytes: u64 = manifest
        .resources
        .iter()
        .filter_map(|resource| {
            let path = if resource.name == "." {
                args.model.clone()
            } else {
                args.model.join(&resource.name)
            };
            path.metadata().ok().map(|metadata| metadata.len())
        })
        .sum();
    record(
        settings,
        printer,
        "sign-model",
        // The root digest in the subject, so that `antidote log` shows which model was signed.
        &format!(
            "{} {}:{}",
            args.model.display(),
            root.algorithm().name(),
            root.short()
        ),
        "ok",
        json!({
            "model": manifest.model_name,
            "root_digest": root.to_string(),
            "files": manifest.resources.len(),
            "hash_type": manifest.hash_type,
            "signature": args.output,
            "key_hint": hint,
            "key_id": signing::key_id(key.verifying_key()),
        }),
    );
    if printer.json {
        printer.out_json(&json!({
            "model": args.model,
            "signature": args.output,
            "root_digest": root.to_string(),
            "files": manifest.resources.len(),
            "hash_type": manifest.hash_type,
            "ignore_paths": manifest.ignore_paths,
            "key_hint": hint,
        }))?;
    } else {
        printer.out(&format!(
            "signed model `{}`: {} ({}), root {}, key `{}`: `{}`",
            args.model.display(),
            plural(manifest.resources.len() as u64, "file"),
            human_bytes(bytes),
            root,
            &hint[..16],
            args.output.display()
        ));
        printer.note(&format!(
            "{}: `antidote verify-model {} --pubkey {} --signature {}`",
            printer.style_err("check it with", Style::Dim),
            args.model.display(),
            args.key.with_extension("pub").display(),
            args.output.display()
        ));
    }
    Ok(ExitStatus::Success)
}
