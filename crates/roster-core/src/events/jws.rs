//! Compact JWS (RFC 7515) with ES256 (RFC 7518 §3.4) for Security Event Tokens, and the
//! public keys as JWKs (RFC 7517, RFC 7518 §6.2.1) with RFC 7638 thumbprints as `kid`.
//! Pure Rust (RustCrypto `p256`); ECDSA nonces follow RFC 6979, so signing the same SET
//! twice gives the same bytes (a retransmission is byte-for-byte the same token).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock::IdGen;
use crate::error::{Error, Result};

/// The JOSE `alg` of signed SETs.
pub const ES256: &str = "ES256";
/// The media type of a SET (RFC 8417 §2.3), also its JOSE `typ`.
pub const SECEVENT_TYP: &str = "secevent+jwt";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A P-256 signing key with its public JWK.
#[derive(Clone)]
pub struct EcKey {
    signing: SigningKey,
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl EcKey {
    /// A new random key (the scalar comes from `ids`, the OS random source in production).
    pub fn generate(ids: &dyn IdGen) -> Result<EcKey> {
        // A random 32-byte string is a valid scalar except with negligible probability.
        for _ in 0..8 {
            let mut bytes = [0u8; 32];
            ids.fill(&mut bytes)?;
            if let Ok(key) = EcKey::from_secret(&bytes) {
                return Ok(key);
            }
        }
        Err(Error::Storage("could not generate a P-256 key".into()))
    }

    /// The key with this 32-byte secret scalar.
    pub fn from_secret(secret: &[u8]) -> Result<EcKey> {
        let bytes: [u8; 32] = secret.try_into().map_err(|_| Error::Storage("a P-256 secret is 32 bytes".into()))?;
        let signing =
            SigningKey::from_bytes(&bytes.into()).map_err(|_| Error::Storage("invalid P-256 secret scalar".into()))?;
        let kid = thumbprint(&public_jwk_members(signing.verifying_key()));
        Ok(EcKey { signing, kid })
    }

    /// The secret scalar, for storage.
    pub fn secret(&self) -> Vec<u8> {
        self.signing.to_bytes().to_vec()
    }

    /// The public key as a JWK with `kid`, `use` and `alg` (RFC 7517 §4).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = public_jwk_members(self.signing.verifying_key());
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(ES256);
        jwk
    }

    /// Signs `claims` as a compact JWS with `typ: secevent+jwt` (RFC 8417 §2.3).
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": ES256, "typ": SECEVENT_TYP, "kid": self.kid});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }
}

/// An unsecured SET (`alg: none`, RFC 7519 §6), only for streams an administrator marked as
/// running on a trusted network.
pub fn unsigned(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": SECEVENT_TYP});
    format!("{}.{}.", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
}

/// The required members of an EC public JWK, in RFC 7638 order.
fn public_jwk_members(key: &VerifyingKey) -> Value {
    let point = key.to_sec1_point(false);
    let x = point.x().map(|x| b64(x)).unwrap_or_default();
    let y = point.y().map(|y| b64(y)).unwrap_or_default();
    json!({"crv": "P-256", "kty": "EC", "x": x, "y": y})
}

/// The RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order, with no
/// whitespace (serde_json keeps insertion order, which is already lexicographic here).
fn thumbprint(members: &Value) -> String {
    let canonical = format!(
        r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
        members["crv"].as_str().unwrap_or_default(),
        members["kty"].as_str().unwrap_or_default(),
        members["x"].as_str().unwrap_or_default(),
        members["y"].as_str().unwrap_or_default()
    );
    b64(&Sha256::digest(canonical.as_bytes()))
}

/// Verifies an ES256 compact JWS against a public JWK and returns its claims; used by the
/// tests and the documentation's example, the way a receiver would.
pub fn verify(token: &str, jwk: &Value) -> Result<Value> {
    let bad = |why: &str| Error::Invalid(format!("invalid SET: {why}"));
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad("not a compact JWS"));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| bad("bad base64url"));
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| bad("header is not JSON"))?;
    if header["alg"] != ES256 {
        return Err(bad("alg is not ES256"));
    }
    let coordinate = |name: &str| -> Result<Vec<u8>> {
        let v = decode(jwk[name].as_str().ok_or_else(|| bad("JWK lacks a coordinate"))?)?;
        if v.len() == 32 { Ok(v) } else { Err(bad("JWK coordinate is not 32 bytes")) }
    };
    let mut sec1 = vec![4u8];
    sec1.extend(coordinate("x")?);
    sec1.extend(coordinate("y")?);
    let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| bad("JWK is not a P-256 point"))?;
    let signature = Signature::from_slice(&decode(s)?).map_err(|_| bad("bad signature encoding"))?;
    key.verify(format!("{h}.{p}").as_bytes(), &signature).map_err(|_| bad("signature does not verify"))?;
    serde_json::from_slice(&decode(p)?).map_err(|_| bad("payload is not JSON"))
}

/// Decodes the claims of a SET without checking its signature (for `alg: none` streams).
pub fn claims_unverified(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::RandomIds;

    #[test]
    fn signed_sets_verify_against_their_jwk_and_nothing_else() {
        let key = EcKey::generate(&RandomIds).unwrap();
        let claims = json!({"iss": "https://roster.example/scim/v2/default", "jti": "a-1", "events": {}});
        let token = key.sign(&claims);
        assert_eq!(verify(&token, &key.public_jwk()).unwrap(), claims);
        // RFC 6979: the same SET signs to the same bytes.
        assert_eq!(token, key.sign(&claims));
        let other = EcKey::generate(&RandomIds).unwrap();
        assert!(verify(&token, &other.public_jwk()).is_err());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert!(verify(&tampered, &key.public_jwk()).is_err());
    }

    #[test]
    fn keys_round_trip_through_their_secret_and_keep_their_kid() {
        let key = EcKey::generate(&RandomIds).unwrap();
        let again = EcKey::from_secret(&key.secret()).unwrap();
        assert_eq!(key.kid, again.kid);
        assert_eq!(key.public_jwk(), again.public_jwk());
        assert_eq!(key.public_jwk()["kty"], "EC");
        assert_eq!(key.kid.len(), 43);
    }

    #[test]
    fn thumbprint_matches_rfc7638_construction() {
        // The thumbprint hashes exactly the four required members, sorted, without spaces.
        let members = json!({"crv": "P-256", "kty": "EC", "x": "AAA", "y": "BBB"});
        let expected = b64(&Sha256::digest(br#"{"crv":"P-256","kty":"EC","x":"AAA","y":"BBB"}"#));
        assert_eq!(thumbprint(&members), expected);
    }

    #[test]
    fn unsigned_sets_carry_alg_none_and_an_empty_signature() {
        let token = unsigned(&json!({"jti": "x"}));
        assert!(token.ends_with('.'));
        assert_eq!(claims_unverified(&token).unwrap()["jti"], "x");
    }
}
