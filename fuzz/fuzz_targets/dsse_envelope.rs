//! A lock's DSSE signature (`antidote.lock.intoto.jsonl`, read by `antidote verify --pubkey`):
//! JSON, base64, the signature's DER and the in-toto Statement inside, checked with a fixed key
//! so that parsing runs to the end.
#![no_main]
use antidote_provenance::{attest, signing};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static KEY: std::sync::OnceLock<p256::ecdsa::VerifyingKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| *signing::generate_key().verifying_key());
    antidote_fuzz::write("signed/antidote.lock.intoto.jsonl", data);
    let lock = antidote_fuzz::write("signed/antidote.lock", b"{}\n");
    let _ = attest::check_lock_signature(&lock, Some(key));
});
