//! `antidote keygen`: create a signing key pair.

use antidote_provenance::signing;
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::ExitStatus;
use crate::cli::KeygenArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;

/// Writes a new P-256 key pair.
pub fn keygen(
    args: &KeygenArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let public = args.output.with_extension("pub");
    let key = signing::generate_key();
    signing::write_key_pair(&key, &args.output, &public)
        .with_context(|| format!("failed to write the key pair `{}`", args.output.display()))?;
    let key_id = signing::key_id(key.verifying_key());
    record(
        settings,
        printer,
        "keygen",
        &public.display().to_string(),
        "ok",
        json!({ "key_id": key_id, "algorithm": "ecdsa-p256-sha256" }),
    );
    if printer.json {
        printer.out_json(
            &json!({ "private_key": args.output, "public_key": public, "key_id": key_id }),
        )?;
        return Ok(ExitStatus::Success);
    }
    printer.out(&format!(
        "wrote private key `{}` (keep it secret)",
        args.output.display()
    ));
    printer.out(&format!("wrote public key `{}`", public.display()));
    printer.out(&format!("key id `{key_id}`"));
    printer.note(&format!(
        "{}: sign with `antidote lock DATA --key {}`, verify with `antidote verify --pubkey {}`",
        printer.style_err("next", Style::Dim),
        args.output.display(),
        public.display()
    ));
    Ok(ExitStatus::Success)
}
