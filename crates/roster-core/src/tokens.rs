//! SCIM bearer tokens: `roster_<id>_<secret>`, where `<id>` is 16 lowercase hex digits
//! (public, the lookup key) and `<secret>` is 64 lowercase hex digits (256 random bits).
//! Fixed lengths make the split unambiguous. Only SHA-256(secret) is stored; comparison
//! is constant-time. Random 256-bit secrets need no slow hash (argon2 would only invite
//! denial of service on the hot path).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::IdGen;
use crate::error::Result;

pub const TOKEN_PREFIX: &str = "roster_";
/// Admin API keys look alike but with their own prefix, so neither kind is ever mistaken
/// for the other.
pub const KEY_PREFIX: &str = "rosterkey_";
const ID_HEX: usize = 16;
const SECRET_HEX: usize = 64;

/// A freshly generated token: the text to show once, and what to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedToken {
    pub id: String,
    /// The full bearer token. Show it once; never store or log it.
    pub text: String,
    pub secret_hash: Vec<u8>,
}

/// Generates a new SCIM token id and secret.
pub fn generate(ids: &dyn IdGen) -> Result<GeneratedToken> {
    generate_prefixed(ids, TOKEN_PREFIX)
}

/// Generates an id and secret under `prefix`.
pub fn generate_prefixed(ids: &dyn IdGen, prefix: &str) -> Result<GeneratedToken> {
    let mut id = [0u8; ID_HEX / 2];
    ids.fill(&mut id)?;
    let id = hex::encode(id);
    let (text, secret_hash) = new_secret_prefixed(ids, prefix, &id)?;
    Ok(GeneratedToken { id, text, secret_hash })
}

/// A new secret for an existing SCIM token id (renewal): the token text and its hash.
pub fn new_secret(ids: &dyn IdGen, id: &str) -> Result<(String, Vec<u8>)> {
    new_secret_prefixed(ids, TOKEN_PREFIX, id)
}

fn new_secret_prefixed(ids: &dyn IdGen, prefix: &str, id: &str) -> Result<(String, Vec<u8>)> {
    let mut secret = [0u8; SECRET_HEX / 2];
    ids.fill(&mut secret)?;
    let secret = hex::encode(secret);
    let hash = hash_secret(&secret);
    Ok((format!("{prefix}{id}_{secret}"), hash))
}

/// SHA-256 of the secret part.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits token text into id and secret; `None` if it is not shaped like a SCIM token.
pub fn parse(text: &str) -> Option<(&str, &str)> {
    parse_prefixed(text, TOKEN_PREFIX)
}

/// Splits `prefix`-ed text into id and secret.
pub fn parse_prefixed<'t>(text: &'t str, prefix: &str) -> Option<(&'t str, &'t str)> {
    let rest = text.strip_prefix(prefix)?;
    if rest.len() != ID_HEX + 1 + SECRET_HEX || !rest.is_ascii() {
        return None;
    }
    let (id, tail) = rest.split_at(ID_HEX);
    let secret = tail.strip_prefix('_')?;
    let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (is_hex(id) && is_hex(secret)).then_some((id, secret))
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn verify(secret: &str, stored_hash: &[u8]) -> bool {
    let hash = hash_secret(secret);
    hash.len() == stored_hash.len() && bool::from(hash.ct_eq(stored_hash))
}

/// Compares two byte strings in constant time (for CSRF tokens and the like).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A short, non-secret fingerprint to tell tokens apart in lists: the first 8 hex digits of
/// the secret's hash.
pub fn fingerprint(secret_hash: &[u8]) -> String {
    hex::encode(secret_hash.get(..4).unwrap_or(secret_hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RandomIds;

    #[test]
    fn generated_tokens_parse_and_verify() {
        let t = generate(&RandomIds).unwrap();
        assert_eq!(t.text.len(), TOKEN_PREFIX.len() + 16 + 1 + 64);
        let (id, secret) = parse(&t.text).unwrap();
        assert_eq!(id, t.id);
        assert!(verify(secret, &t.secret_hash));
        assert!(!verify(&"0".repeat(64), &t.secret_hash));
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let good = format!("roster_{}_{}", "a".repeat(16), "b".repeat(64));
        assert!(parse(&good).is_some());
        for bad in [
            "".to_string(),
            "Bearer x".to_string(),
            format!("roster_{}_{}", "a".repeat(15), "b".repeat(65)),
            format!("roster_{}-{}", "a".repeat(16), "b".repeat(64)),
            format!("roster_{}_{}", "A".repeat(16), "b".repeat(64)),
            format!("roster_{}_{}", "a".repeat(16), "é".repeat(32)),
            format!("roster_{}_{}x", "a".repeat(16), "b".repeat(64)),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }
}
