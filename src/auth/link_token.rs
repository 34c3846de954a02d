//! The tokens of emailed links (password reset, email verification, email
//! change): 256 bits from the operating system's CSPRNG, shown once (in the
//! email) and stored only as their SHA-256, so a copy of the database opens
//! no link. A recognisable prefix lets secret scanners find leaked ones.

use crate::db::TokenHash;
use crate::error::AppError;

/// Every link token starts with this.
const PREFIX: &str = "aqe_";

/// Random bytes per token (API.md asks for at least 128 bits).
const BYTES: usize = 32;

/// A new token and the hash to store.
pub fn generate() -> Result<(String, TokenHash), AppError> {
    let mut bytes = [0u8; BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|_| AppError::internal("the operating system could not provide random bytes"))?;
    let mut token = String::with_capacity(PREFIX.len() + 2 * BYTES);
    token.push_str(PREFIX);
    for byte in bytes {
        token.push(char::from(HEX[usize::from(byte >> 4)]));
        token.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    let hash = TokenHash::of(&token);
    Ok((token, hash))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The hash to look up, when `presented` has a token's shape. Anything else
/// (any other bytes, of any length) is no token: the caller answers
/// `INVALID_TOKEN` without a database round trip.
pub fn parse(presented: &str) -> Option<TokenHash> {
    let hex = presented.strip_prefix(PREFIX)?;
    (hex.len() == 2 * BYTES && hex.bytes().all(|b| HEX.contains(&b)))
        .then(|| TokenHash::of(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_parse_back_to_their_hash() {
        let (a, hash) = generate().unwrap();
        let (b, _) = generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(parse(&a), Some(hash));
    }

    #[test]
    fn anything_else_is_no_token() {
        let (token, _) = generate().unwrap();
        for bad in [
            "",
            "aqe_",
            &token[..token.len() - 1],
            &format!("{token}0"),
            &token.to_uppercase(),
            &token.replace("aqe_", "aqr_"),
            "aqe_zz00000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
