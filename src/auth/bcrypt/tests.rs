//! Compatibility both ways: published vectors, hashes made by other
//! implementations, and property tests against the `bcrypt` crate.

use proptest::prelude::*;

use super::*;

/// OpenBSD's and Openwall's (`crypt_blowfish` 1.3) test vectors, each
/// confirmed against the system's `crypt_r`.
const VECTORS: &[(&str, &[u8])] = &[
    ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", b"U*U"),
    ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", b"U*U*"),
    ("$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", b"U*U*U"),
    (
        "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
        b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored",
    ),
    ("$2a$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq", b"\xa3"),
    ("$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq", b"\xa3"),
    ("$2y$05$/OK.fbVrR/bpIqNJ5ianF.o./n25XVfn6oAPaUvHe.Csk4zRfsYPi", b"\xff\xa334\xff\xff\xff\xa3345"),
    ("$2a$05$/OK.fbVrR/bpIqNJ5ianF.nRht2l/HRhr6zmCp9vYUvvsqynflf9e", b"\xff\xa3345"),
    ("$2y$05$/OK.fbVrR/bpIqNJ5ianF.6IflQkJytoRVc1yuaNtHfiuq.FRlSIS", b"\xa3ab"),
    (
        "$2a$05$/OK.fbVrR/bpIqNJ5ianF.swQOIzjOiJ9GHEPuhEkvqrUyvWhEMx6",
        b"\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\
          \xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\
          \xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\
          chars after 72 are ignored as usual",
    ),
    ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy", b""),
];

/// Hashes made by the system's `crypt_blowfish` (libxcrypt), with random
/// salts, for passwords authql accepts.
const MADE_BY_LIBXCRYPT: &[(&str, &str)] = &[
    (
        "$2b$04$1k5J4T06GdEBolR3vzPE0ujMs9JtTFs7RzwpRBj6SchUm0CXOzIYa",
        "correct horse battery staple",
    ),
    (
        "$2b$05$X1YHpVSN2U/vMRH684Uhxu.x4E8HHRgcxM7/NEA1PD.SkJWPfDPIW",
        "€€€€€€€€€€€€€€€€€€€€€€€€",
    ),
    (
        "$2b$04$qWL9OYvkAP6/IIFf5M0p2uhPCHCc1J3x89M07Cby0KmTDERC9EE7S",
        "пароль-12",
    ),
    (
        "$2b$06$WD/ut7Okgs2biwJHwqIVh.iturETDDPoUKQ/Qvh0pJrMO019q7ey.",
        "aaaaaaaa",
    ),
    (
        "$2b$04$xAgZJmQhVFCq8LzUhUWWnOHbw642tn7PvzVIDFM7.M1s5LADR7wn.",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ),
    (
        "$2b$04$WYM0CXFshbIn76.cJ4OPL.gtdKg.M1RSLrDyKQDiKJRmPHTYgwzzC",
        "🦀 ferris says hi",
    ),
];

/// The salt a hash carries, as bytes.
fn salt_of(hash: &str) -> [u8; SALT_BYTES] {
    decode(&hash.as_bytes()[7..29]).unwrap()
}

#[test]
fn published_vectors_verify_and_hash_alike() {
    for (hash, password) in VECTORS {
        assert_eq!(verify(password, hash), Ok(true), "{hash}");
        let mut wrong = password.to_vec();
        wrong.push(b'!');
        // A 72-byte prefix ignores what follows: only shorter ones can differ.
        if password.len() < 72 {
            assert_eq!(verify(&wrong, hash), Ok(false), "{hash}");
        }
        // The same salt gives the same digest under `$2b$`.
        let ours = super::hash(password, cost(hash).unwrap(), &salt_of(hash));
        assert_eq!(&ours[..4], "$2b$");
        assert_eq!(&ours[4..], &hash[4..]);
    }
}

#[test]
fn hashes_made_by_libxcrypt_verify() {
    for (hash, password) in MADE_BY_LIBXCRYPT {
        assert_eq!(verify(password.as_bytes(), hash), Ok(true), "{hash}");
        assert_eq!(verify(b"not the password", hash), Ok(false), "{hash}");
        assert_eq!(
            super::hash(password.as_bytes(), cost(hash).unwrap(), &salt_of(hash)),
            *hash
        );
    }
}

#[test]
fn the_format_is_exact() {
    let hash = super::hash(b"password", 4, &[0; SALT_BYTES]);
    assert_eq!(hash.len(), 60);
    assert!(hash.starts_with("$2b$04$......................"));
    assert_eq!(cost(&hash), Ok(4));
    assert_eq!(
        cost(&super::hash(b"password", 12, &[0; SALT_BYTES])),
        Ok(12)
    );
}

#[test]
fn anything_else_is_malformed() {
    let good = "$2b$04$1k5J4T06GdEBolR3vzPE0ujMs9JtTFs7RzwpRBj6SchUm0CXOzIYa";
    let bad = [
        String::new(),
        good[..59].to_owned(),
        format!("{good}a"),
        good.replacen("$2b$", "$2x$", 1),
        good.replacen("$2b$", "$3b$", 1),
        good.replacen("$04$", "$03$", 1),
        good.replacen("$04$", "$32$", 1),
        good.replacen("$04$", "$4$$", 1),
        good.replacen('1', "!", 1),
        good.replacen('a', "é", 1),
        "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
    ];
    for hash in bad {
        assert_eq!(
            verify(b"correct horse battery staple", &hash),
            Err(Malformed),
            "{hash}"
        );
    }
}

#[test]
fn base64_round_trips() {
    let bytes: Vec<u8> = (0..=255).collect();
    for chunk in bytes.chunks(SALT_BYTES) {
        let salt: [u8; SALT_BYTES] = chunk.try_into().unwrap();
        let mut text = String::new();
        encode(&salt, &mut text);
        assert_eq!(text.len(), 22);
        assert_eq!(decode::<SALT_BYTES>(text.as_bytes()), Ok(salt));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The independent implementation makes the same hash from the same
    /// salt, and each accepts the other's.
    #[test]
    fn agrees_with_the_bcrypt_crate(
        password in proptest::collection::vec(1u8.., 0..=80),
        salt in any::<[u8; SALT_BYTES]>(),
    ) {
        let ours = super::hash(&password, 4, &salt);
        let theirs = ::bcrypt::hash_with_salt(&password, 4, salt)
            .unwrap()
            .format_for_version(::bcrypt::Version::TwoB);
        prop_assert_eq!(&ours, &theirs);
        prop_assert!(::bcrypt::verify(&password, &ours).unwrap());
        prop_assert_eq!(verify(&password, &theirs), Ok(true));
    }

    /// Hashes the previous hasher made (with its own random salts) verify,
    /// and no other password matches them.
    #[test]
    fn verifies_the_previous_hashers_hashes(
        password in "\\PC{0,24}",
        other in "\\PC{0,24}",
    ) {
        let stored = ::bcrypt::hash(&password, 4).unwrap();
        prop_assert_eq!(verify(password.as_bytes(), &stored), Ok(true));
        prop_assert_eq!(verify(other.as_bytes(), &stored), Ok(other == password));
    }
}
