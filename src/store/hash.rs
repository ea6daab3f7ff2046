//! Content hashes: how staging tells a changed record from an unchanged one
//! without comparing whole documents.

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes` as 64 lower-case hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    content_hash_parts(&[bytes])
}

/// [`content_hash`] of several documents at once, separated by a NUL byte so
/// that moving bytes from one part to the next changes the hash.
pub fn content_hash_parts(parts: &[&[u8]]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// [`content_hash`] of a JSON document's compact serialization.
///
/// Object keys serialize in sorted order (serde_json's default map), so two
/// documents with the same content hash the same however they were built.
pub fn content_hash_json(value: &serde_json::Value) -> String {
    content_hash(value.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256() {
        assert_eq!(
            content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn json_key_order_does_not_matter() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":"张三"}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a":"张三","b":1}"#).unwrap();
        assert_eq!(content_hash_json(&a), content_hash_json(&b));
    }
}
