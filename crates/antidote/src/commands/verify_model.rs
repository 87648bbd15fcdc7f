//! `antidote verify-model`: check a model against its OpenSSF model signature.

use antidote_core::display::plural;
use antidote_provenance::model::{self, HashOptions, ModelChange, ModelError};
use antidote_provenance::signing;
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::VerifyModelArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Verifies the signature, re-hashes the model and names every file that differs.
pub fn verify_model(
    args: &VerifyModelArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if !args.model.exists() {
        return Err(UserError::new(
            format!("the model `{}` does not exist", args.model.display()),
            "name the model file or folder that was signed",
        )
        .into());
    }
    let key = signing::read_verifying_key(&args.pubkey)
        .with_context(|| format!("failed to load the public key `{}`", args.pubkey.display()))?;
    let mut ignore = args.ignore_paths.clone();
    ignore.push(args.signature.clone());
    let options = HashOptions {
        ignore_paths: model::resolve_ignore_paths(&args.model, &ignore)
            .with_context(|| format!("failed to resolve `{}`", args.model.display()))?,
        ignore_git_paths: !args.no_ignore_git_paths,
        ..HashOptions::default()
    };
    let progress = printer.progress();
    let subject = args.model.display().to_string();
    let verification = match model::verify_model(
        &args.model,
        &args.signature,
        &key,
        &options,
        progress.as_ref(),
    ) {
        Ok(verification) => verification,
        Err(error) if error.is_signature_failure() => {
            return Ok(rejected(args, settings, printer, &subject, &error));
        }
        Err(error) => return Err(error.into()),
    };
    let passed = verification.passed();
    let root = verification.signed.root_digest();
    record(
        settings,
        printer,
        "verify-model",
        &format!("{subject} {}:{}", root.algorithm().name(), root.short()),
        if passed { "passed" } else { "failed" },
        json!({
            "root_digest": root.to_string(),
            "signature": args.signature,
            "files": verification.signed.resources.len(),
            "changes": verification.changes,
        }),
    );
    if printer.json {
        printer.out_json(&json!({
            "passed": passed,
            "model": args.model,
            "signature": args.signature,
            "root_digest": root.to_string(),
            "files": verification.signed.resources.len(),
            "changes": verification.changes,
        }))?;
    } else if passed {
        printer.out(&format!(
            "{}: model `{}` matches `{}`: {}, root {}, signed by `{}`",
            printer.style("OK", Style::Good),
            args.model.display(),
            args.signature.display(),
            plural(verification.signed.resources.len() as u64, "file"),
            root,
            &model::key_hint(&key)[..16],
        ));
    } else {
        printer.out(&format!(
            "{}: model `{}` does not match `{}`",
            printer.style("FAILED", Style::Bad),
            args.model.display(),
            args.signature.display()
        ));
        for change in &verification.changes {
            let (what, file) = match change {
                ModelChange::Modified(file) => ("modified", file),
                ModelChange::Added(file) => ("added, not signed", file),
                ModelChange::Removed(file) => ("removed", file),
            };
            printer.out(&format!("  {what}: `{file}`"));
        }
    }
    Ok(ExitStatus::from_passed(passed))
}

/// Reports a signature that is missing, unreadable or rejected: the model is not verified.
fn rejected(
    args: &VerifyModelArgs,
    settings: &Settings,
    printer: Printer,
    subject: &str,
    error: &ModelError,
) -> ExitStatus {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    record(
        settings,
        printer,
        "verify-model",
        subject,
        "failed",
        json!({ "signature": args.signature, "reason": reason }),
    );
    if printer.json {
        if let Err(error) = printer.out_json(&json!({
            "passed": false,
            "model": args.model,
            "signature": args.signature,
            "reason": reason,
        })) {
            printer.warn(&error.to_string());
        }
    } else {
        printer.out(&format!(
            "{}: model `{}` is not verified: {reason}",
            printer.style("FAILED", Style::Bad),
            args.model.display(),
        ));
        if matches!(error, ModelError::SignatureMissing { .. }) {
            printer.note(&format!(
                "{}: sign it with `antidote sign-model {} --key KEY`, or name the signature with `--signature`",
                printer.style_err("hint", Style::Bold),
                args.model.display()
            ));
        }
    }
    ExitStatus::Failure
}
