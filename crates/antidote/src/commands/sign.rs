//! `antidote sign`: sign an existing lock.

use antidote_provenance::lock::Lock;
use antidote_provenance::{attest, signing, verify};
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::SignArgs;
use crate::printer::Printer;
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Signs a lock after checking that the data still matches it.
pub fn sign(args: &SignArgs, settings: &Settings, printer: Printer) -> anyhow::Result<ExitStatus> {
    let key = signing::read_signing_key(&args.key)
        .with_context(|| format!("failed to load the signing key `{}`", args.key.display()))?;
    let lock = Lock::read(&args.lock)?;
    if !args.no_verify {
        let progress = printer.progress();
        let report = verify::verify(&args.lock, None, progress.as_ref())?;
        if !report.passed() {
            return Err(UserError::new(
                format!("refusing to sign `{}`: the data no longer matches it", args.lock.display()),
                format!(
                    "run `antidote verify {}` to see what changed, then re-lock; `--no-verify` signs anyway",
                    args.lock.display()
                ),
            )
            .into());
        }
    }
    let path = attest::sign_lock(&args.lock, &lock, &key)?;
    let key_id = signing::key_id(key.verifying_key());
    record(
        settings,
        printer,
        "sign",
        &args.lock.display().to_string(),
        "ok",
        json!({ "key_id": key_id, "envelope": path }),
    );
    if printer.json {
        printer.out_json(&json!({ "lock": args.lock, "envelope": path, "key_id": key_id }))?;
    } else {
        printer.out(&format!(
            "signed `{}` with key `{}`: `{}`",
            args.lock.display(),
            &key_id[..16],
            path.display()
        ));
    }
    Ok(ExitStatus::Success)
}
