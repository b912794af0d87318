//! One password hash: parsing its text form, verifying a password in constant time, and
//! producing a new `$7$` hash from a password and a salt.
//!
//! Formats (Mosquitto's, base64 with the standard alphabet):
//! - `$6$<salt>$<sha512(password ‖ salt)>`
//! - `$7$<iterations>$<salt>$<PBKDF2-HMAC-SHA512(password, salt, iterations), 64 bytes>`
//! - `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>` (PHC string, unpadded base64;
//!   Mosquitto 2.1 writes these by default, Debian's Mosquitto 2.0 and FlashMQ cannot read them)
//!
//! Costs are checked against [`Limits`] while parsing, so a parsed hash is always cheap enough to
//! verify. `Debug` never shows a salt or a hash.

use crate::limits::Limits;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest as _, Sha512};
use std::fmt;
use subtle::ConstantTimeEq as _;

/// Mosquitto's salt length for new hashes, in bytes.
pub const SALT_BYTES: usize = 12;
/// Mosquitto 2.0's default PBKDF2 iteration count (checked against a real `mosquitto_passwd`).
pub const MOSQUITTO_DEFAULT_ITERATIONS: u32 = 101;
/// Length of a SHA-512 output, the hash length of `$6$` and `$7$`.
const SHA512_BYTES: usize = 64;

/// Standard alphabet; accepts input with or without `=` padding (Mosquitto pads, PHC does not).
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// Standard alphabet, padded, as Mosquitto writes it.
const B64_PADDED: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a hash string was not accepted. Never contains any part of the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashError {
    /// Not `$6$`, `$7$` or `$argon2id$` (plain-text passwords are not supported).
    UnknownScheme,
    /// The scheme is known but a field is missing, extra, or not valid base64 or decimal.
    Malformed,
    /// The hash or salt has the wrong length for its scheme, or the salt is over the cap.
    BadLength,
    /// The cost parameters (iterations, memory, passes, lanes) are zero or above the caps.
    CostOutOfBounds,
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashError::UnknownScheme => "unsupported hash scheme (expected $6$, $7$ or $argon2id$)",
            HashError::Malformed => "malformed hash",
            HashError::BadLength => "hash or salt of the wrong length",
            HashError::CostOutOfBounds => "hash cost parameters out of bounds",
        })
    }
}

impl std::error::Error for HashError {}

/// A parsed password hash.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// `$6$`: one round of SHA-512 over the password followed by the salt.
    Sha512 {
        /// The salt.
        salt: Box<[u8]>,
        /// The digest.
        hash: [u8; SHA512_BYTES],
    },
    /// `$7$`: PBKDF2-HMAC-SHA512.
    Pbkdf2Sha512 {
        /// Iteration count, at least 1 and at most [`Limits::pbkdf2_iterations_max`].
        iterations: u32,
        /// The salt.
        salt: Box<[u8]>,
        /// The derived key.
        hash: [u8; SHA512_BYTES],
    },
    /// `$argon2id$`, version 0x13.
    Argon2id {
        /// Memory in KiB (`m=`).
        memory_kib: u32,
        /// Passes (`t=`).
        passes: u32,
        /// Lanes (`p=`).
        lanes: u32,
        /// The salt, at least 8 bytes.
        salt: Box<[u8]>,
        /// The output, 4 to [`Limits::argon2_output_bytes_max`] bytes.
        hash: Box<[u8]>,
    },
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Sha512 { .. } => f.write_str("PasswordHash::Sha512(..)"),
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => {
                write!(
                    f,
                    "PasswordHash::Pbkdf2Sha512 {{ iterations: {iterations}, .. }}"
                )
            }
            PasswordHash::Argon2id {
                memory_kib,
                passes,
                lanes,
                ..
            } => write!(
                f,
                "PasswordHash::Argon2id {{ memory_kib: {memory_kib}, passes: {passes}, \
                 lanes: {lanes}, .. }}"
            ),
        }
    }
}

impl PasswordHash {
    /// Parse a hash string (the part after `user:`), enforcing `limits`.
    pub fn parse(text: &str, limits: &Limits) -> Result<PasswordHash, HashError> {
        if let Some(rest) = text.strip_prefix("$6$") {
            parse_sha512(rest, limits)
        } else if let Some(rest) = text.strip_prefix("$7$") {
            parse_pbkdf2(rest, limits)
        } else if let Some(rest) = text.strip_prefix("$argon2id$") {
            parse_argon2id(rest, limits)
        } else {
            Err(HashError::UnknownScheme)
        }
    }

    /// A new `$7$` hash of `password` with the given salt and iteration count.
    pub fn new_pbkdf2(password: &[u8], salt: [u8; SALT_BYTES], iterations: u32) -> PasswordHash {
        let iterations = iterations.max(1);
        let mut hash = [0u8; SHA512_BYTES];
        pbkdf2::pbkdf2_hmac::<Sha512>(password, &salt, iterations, &mut hash);
        PasswordHash::Pbkdf2Sha512 {
            iterations,
            salt: Box::new(salt),
            hash,
        }
    }

    /// A new `$argon2id$` hash (version 0x13, a 32-byte output) of `password` with `salt` (at
    /// least 8 bytes) and the given cost; an error for parameters argon2 refuses.
    pub fn new_argon2id(
        password: &[u8],
        salt: &[u8],
        memory_kib: u32,
        passes: u32,
        lanes: u32,
    ) -> Result<PasswordHash, HashError> {
        const OUTPUT_BYTES: usize = 32;
        let params = argon2::Params::new(memory_kib, passes, lanes, Some(OUTPUT_BYTES))
            .map_err(|_| HashError::CostOutOfBounds)?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut hash = vec![0u8; OUTPUT_BYTES];
        a.hash_password_into(password, salt, &mut hash)
            .map_err(|_| HashError::BadLength)?;
        Ok(PasswordHash::Argon2id {
            memory_kib,
            passes,
            lanes,
            salt: salt.into(),
            hash: hash.into_boxed_slice(),
        })
    }

    /// A new `$6$` hash (one salted SHA-512; weak, for `mosquitto_passwd -H sha512` compatibility).
    pub fn new_sha512(password: &[u8], salt: &[u8]) -> PasswordHash {
        PasswordHash::Sha512 {
            salt: salt.into(),
            hash: sha512_salted(password, salt),
        }
    }

    /// Whether `password` matches, compared in constant time.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            PasswordHash::Sha512 { salt, hash } => {
                bool::from(sha512_salted(password, salt).ct_eq(hash))
            }
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => {
                let mut out = [0u8; SHA512_BYTES];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut out);
                bool::from(out.ct_eq(hash))
            }
            PasswordHash::Argon2id {
                memory_kib,
                passes,
                lanes,
                salt,
                hash,
            } => {
                let Ok(params) =
                    argon2::Params::new(*memory_kib, *passes, *lanes, Some(hash.len()))
                else {
                    return false;
                };
                let a = argon2::Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    params,
                );
                let mut out = vec![0u8; hash.len()];
                match a.hash_password_into(password, salt, &mut out) {
                    Ok(()) => bool::from(out.as_slice().ct_eq(hash)),
                    Err(_) => false,
                }
            }
        }
    }

    /// The text form, as it appears after `user:` in a password file.
    pub fn encode(&self) -> String {
        match self {
            PasswordHash::Sha512 { salt, hash } => {
                format!("$6${}${}", B64_PADDED.encode(salt), B64_PADDED.encode(hash))
            }
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => format!(
                "$7${iterations}${}${}",
                B64_PADDED.encode(salt),
                B64_PADDED.encode(hash)
            ),
            PasswordHash::Argon2id {
                memory_kib,
                passes,
                lanes,
                salt,
                hash,
            } => {
                let nopad = base64::engine::general_purpose::STANDARD_NO_PAD;
                format!(
                    "$argon2id$v=19$m={memory_kib},t={passes},p={lanes}${}${}",
                    nopad.encode(salt),
                    nopad.encode(hash)
                )
            }
        }
    }
}

fn sha512_salted(password: &[u8], salt: &[u8]) -> [u8; SHA512_BYTES] {
    let mut d = Sha512::new();
    d.update(password);
    d.update(salt);
    d.finalize().into()
}

fn decode_b64(field: &str, max_bytes: usize) -> Result<Vec<u8>, HashError> {
    // Refuse before decoding: 4 characters per 3 bytes, plus padding.
    if field.len() > max_bytes.saturating_mul(4) / 3 + 4 {
        return Err(HashError::BadLength);
    }
    B64_LENIENT.decode(field).map_err(|_| HashError::Malformed)
}

fn decode_salt(field: &str, limits: &Limits) -> Result<Box<[u8]>, HashError> {
    let salt = decode_b64(field, limits.salt_bytes_max)?;
    if salt.is_empty() || salt.len() > limits.salt_bytes_max {
        return Err(HashError::BadLength);
    }
    Ok(salt.into_boxed_slice())
}

fn decode_sha512(field: &str) -> Result<[u8; SHA512_BYTES], HashError> {
    decode_b64(field, SHA512_BYTES)?
        .try_into()
        .map_err(|_| HashError::BadLength)
}

fn parse_sha512(rest: &str, limits: &Limits) -> Result<PasswordHash, HashError> {
    let mut fields = rest.split('$');
    let (Some(salt), Some(hash), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(HashError::Malformed);
    };
    Ok(PasswordHash::Sha512 {
        salt: decode_salt(salt, limits)?,
        hash: decode_sha512(hash)?,
    })
}

fn parse_pbkdf2(rest: &str, limits: &Limits) -> Result<PasswordHash, HashError> {
    let mut fields = rest.split('$');
    let (Some(iterations), Some(salt), Some(hash), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(HashError::Malformed);
    };
    let iterations = parse_decimal(iterations)?;
    if iterations == 0 || iterations > limits.pbkdf2_iterations_max {
        return Err(HashError::CostOutOfBounds);
    }
    Ok(PasswordHash::Pbkdf2Sha512 {
        iterations,
        salt: decode_salt(salt, limits)?,
        hash: decode_sha512(hash)?,
    })
}

/// Plain decimal digits only: no sign, no spaces, at most 10 digits.
fn parse_decimal(s: &str) -> Result<u32, HashError> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HashError::Malformed);
    }
    s.parse().map_err(|_| HashError::CostOutOfBounds)
}

fn parse_argon2id(rest: &str, limits: &Limits) -> Result<PasswordHash, HashError> {
    let mut fields = rest.split('$');
    let (Some(version), Some(params), Some(salt), Some(hash), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(HashError::Malformed);
    };
    if version != "v=19" {
        return Err(HashError::Malformed);
    }
    let (memory_kib, passes, lanes) = parse_argon2_params(params)?;
    let in_bounds = (1..=limits.argon2_memory_kib_max).contains(&memory_kib)
        && (1..=limits.argon2_passes_max).contains(&passes)
        && (1..=limits.argon2_lanes_max).contains(&lanes)
        // argon2 needs at least 8 KiB per lane.
        && u64::from(memory_kib) >= 8 * u64::from(lanes);
    if !in_bounds {
        return Err(HashError::CostOutOfBounds);
    }
    let salt = decode_salt(salt, limits)?;
    let hash = decode_b64(hash, limits.argon2_output_bytes_max)?;
    if salt.len() < argon2::MIN_SALT_LEN
        || hash.len() < argon2::Params::MIN_OUTPUT_LEN
        || hash.len() > limits.argon2_output_bytes_max
    {
        return Err(HashError::BadLength);
    }
    Ok(PasswordHash::Argon2id {
        memory_kib,
        passes,
        lanes,
        salt,
        hash: hash.into_boxed_slice(),
    })
}

/// `m=<KiB>,t=<passes>,p=<lanes>`, in that order as every PHC writer emits them.
fn parse_argon2_params(params: &str) -> Result<(u32, u32, u32), HashError> {
    let mut it = params.split(',');
    let (Some(m), Some(t), Some(p), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(HashError::Malformed);
    };
    let field = |s: &str, key: &str| -> Result<u32, HashError> {
        s.strip_prefix(key)
            .ok_or(HashError::Malformed)
            .and_then(parse_decimal)
    };
    Ok((field(m, "m=")?, field(t, "t=")?, field(p, "p=")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Debian's `mosquitto_passwd` 2.0.11 (`-c -b`), password "secret".
    const REAL_7: &str = "$7$101$txgxIZk+SJ2hCHX1$kuq5gTzgPqNjyJaVv44jZS4rYDw1Qb9ExCAClqwhHBgS6NcN0VO8D2AmnfFDi0OzoB8MuhnDLM1RJdCIWnL1CQ==";
    /// Written by Debian's `mosquitto_passwd` 2.0.11 (`-H sha512`), password "pw".
    const REAL_6: &str = "$6$GTMllqepG457Nd9F$xM/EVM6Hc867vTtY3IXJvZubClzFkXFFj3SWD1AwmjQc8I/2UdiA27t0biCgGjAgAxmDLf6G0AwaAwmtTVtcBw==";

    #[test]
    fn real_mosquitto_hashes_verify() {
        let l = Limits::DEFAULT;
        let h7 = PasswordHash::parse(REAL_7, &l).unwrap();
        assert!(h7.verify(b"secret"));
        assert!(!h7.verify(b"secreT"));
        assert!(!h7.verify(b""));
        let h6 = PasswordHash::parse(REAL_6, &l).unwrap();
        assert!(h6.verify(b"pw"));
        assert!(!h6.verify(b"pw "));
    }

    #[test]
    fn encode_round_trips_and_matches_mosquitto_layout() {
        let l = Limits::DEFAULT;
        for text in [REAL_6, REAL_7] {
            assert_eq!(PasswordHash::parse(text, &l).unwrap().encode(), text);
        }
        let h = PasswordHash::new_pbkdf2(b"pw", [7; SALT_BYTES], MOSQUITTO_DEFAULT_ITERATIONS);
        let text = h.encode();
        assert!(text.starts_with("$7$101$"));
        assert_eq!(text.len(), REAL_7.len());
        assert!(PasswordHash::parse(&text, &l).unwrap().verify(b"pw"));
    }

    #[test]
    fn argon2id_phc_vector() {
        // Generated with the argon2 crate's reference parameters for this test: m=64, t=1, p=1.
        let salt = *b"saltsaltsalt";
        let mut out = [0u8; 32];
        let params = argon2::Params::new(64, 1, 1, Some(32)).unwrap();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(b"password", &salt, &mut out)
            .unwrap();
        let nopad = base64::engine::general_purpose::STANDARD_NO_PAD;
        let phc = format!(
            "$argon2id$v=19$m=64,t=1,p=1${}${}",
            nopad.encode(salt),
            nopad.encode(out)
        );
        let h = PasswordHash::parse(&phc, &Limits::DEFAULT).unwrap();
        assert!(h.verify(b"password"));
        assert!(!h.verify(b"passwore"));
        assert_eq!(h.encode(), phc);
    }

    #[test]
    fn argon2id_reference_vectors() {
        // Known-answer strings of the phc-winner-argon2 reference implementation (password
        // "password", salt "somesalt"), as used by the argon2 crate's own KAT tests.
        for phc in [
            "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
            "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
        ] {
            let h = PasswordHash::parse(phc, &Limits::DEFAULT).unwrap();
            assert!(h.verify(b"password"), "{phc}");
            assert!(!h.verify(b"Password"), "{phc}");
            assert_eq!(h.encode(), phc);
        }
    }

    #[test]
    fn costs_above_caps_are_refused_at_parse_time() {
        let l = Limits::DEFAULT;
        let big = "$7$4294967295$txgxIZk+SJ2hCHX1$kuq5gTzgPqNjyJaVv44jZS4rYDw1Qb9ExCAClqwhHBgS6NcN0VO8D2AmnfFDi0OzoB8MuhnDLM1RJdCIWnL1CQ==";
        assert_eq!(
            PasswordHash::parse(big, &l),
            Err(HashError::CostOutOfBounds)
        );
        let zero = big.replace("4294967295", "0");
        assert_eq!(
            PasswordHash::parse(&zero, &l),
            Err(HashError::CostOutOfBounds)
        );
        let huge_mem = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$pSP+Fk4XKP2Yx/pxmUrskLigsdz95BtKl1GoTpsZT1g";
        assert_eq!(
            PasswordHash::parse(huge_mem, &l),
            Err(HashError::CostOutOfBounds)
        );
        let many_passes = "$argon2id$v=19$m=64,t=100000,p=1$c29tZXNhbHQ$pSP+Fk4XKP2Yx/pxmUrskLigsdz95BtKl1GoTpsZT1g";
        assert_eq!(
            PasswordHash::parse(many_passes, &l),
            Err(HashError::CostOutOfBounds)
        );
    }

    #[test]
    fn malformed_hashes_are_refused() {
        let l = Limits::DEFAULT;
        for bad in [
            "",
            "plaintext",
            "$6$",
            "$6$abc",
            "$6$!!!!$abc",
            "$6$GTMllqepG457Nd9F$AAAA",
            "$7$+101$txgxIZk+SJ2hCHX1$AAAA",
            "$7$ 101$txgxIZk+SJ2hCHX1$AAAA",
            "$7$101$$AAAA",
            "$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$AAAA",
            "$argon2id$v=19$t=1,m=64,p=1$c29tZXNhbHQ$AAAA",
            "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAA",
        ] {
            assert!(PasswordHash::parse(bad, &l).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_shows_no_salt_or_hash() {
        let h = PasswordHash::parse(REAL_7, &Limits::DEFAULT).unwrap();
        let d = format!("{h:?}");
        assert!(!d.contains("txgx") && !d.contains("kuq5"), "{d}");
    }
}
