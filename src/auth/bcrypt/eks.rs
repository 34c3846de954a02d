//! Eksblowfish, bcrypt's expensive key schedule (Provos and Mazières, 1999).
//!
//! Nearly all of a hash's time is spent here: 2^cost × 2 × 521 Blowfish
//! encryptions, each of 16 rounds that wait on one another, so a hash takes
//! as long as one round's chain of dependent instructions, a million times
//! over. Three choices keep that chain as short as the C implementations'
//! (measured against Openwall's `crypt_blowfish` in the load benchmark):
//!
//! - Each round XORs its subkey into the half it is about to replace, not
//!   the half it is about to read: `r = (r ^ P[i]) ^ F(l)`, not
//!   `l ^= P[i]; r ^= F(l)`. The values are the same (this is the form
//!   OpenBSD's and Openwall's C code use), but `r ^ P[i]` is ready long
//!   before `F(l)`, so only one XOR follows the S-box lookups.
//! - That `r ^ P[i]` is spelled in a way the optimiser does not recognise as
//!   an XOR ([`xor_early`]). Written plainly, LLVM regroups the three-way XOR
//!   as `(P[i] ^ F(l)) ^ r`, putting two XORs after the lookups in every
//!   other round: a hash about 8 % slower.
//! - The S-boxes are fixed-size arrays indexed by a byte, read with shifts
//!   (not `to_be_bytes`, which costs a byte swap), and the rounds are
//!   unrolled with constant subkey indices: no lookup has a bounds check.

use super::pi;

/// 4 words of salt, as bcrypt feeds it to the key schedule.
pub(super) type Salt = [u32; 4];
/// 18 words of key: the password and a NUL byte, repeated to 72 bytes.
pub(super) type Key = [u32; 18];

/// A Blowfish state: 18 subkeys and four S-boxes.
pub(super) struct Blowfish {
    p: [u32; 18],
    s: [[u32; 256]; 4],
}

impl Blowfish {
    /// Runs bcrypt's EksBlowfishSetup: the salted key expansion, then 2^cost
    /// rounds of expanding with the key and then with the salt.
    pub(super) fn eks_setup(cost: u32, salt: &Salt, key: &Key) -> Self {
        let mut state = Self { p: pi::P, s: pi::S };
        state.xor_subkeys(key);
        state.refill_salted(salt);
        // The salt as a key: its 4 words repeated over the 18 subkeys.
        let salt_key: Key = std::array::from_fn(|i| salt[i % 4]);
        for _ in 0..1u64 << cost {
            state.xor_subkeys(key);
            state.refill();
            state.xor_subkeys(&salt_key);
            state.refill();
        }
        state
    }

    /// Encrypts the 64-bit block `(l, r)`.
    #[inline(always)]
    pub(super) fn encrypt(&self, mut l: u32, mut r: u32) -> (u32, u32) {
        let p = &self.p;
        l ^= p[0];
        macro_rules! rounds {
            ($($odd:literal $even:literal)*) => {$(
                r = xor_early(r, p[$odd]) ^ self.f(l);
                l = xor_early(l, p[$even]) ^ self.f(r);
            )*};
        }
        rounds!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        (r ^ p[17], l)
    }

    /// Blowfish's round function.
    #[inline(always)]
    fn f(&self, x: u32) -> u32 {
        let s = &self.s;
        let a = s[0][(x >> 24) as usize];
        let b = s[1][(x >> 16) as u8 as usize];
        let c = s[2][(x >> 8) as u8 as usize];
        let d = s[3][x as u8 as usize];
        (a.wrapping_add(b) ^ c).wrapping_add(d)
    }

    fn xor_subkeys(&mut self, key: &Key) {
        for (p, k) in self.p.iter_mut().zip(key) {
            *p ^= k;
        }
    }

    /// Replaces every subkey and then every S-box entry, in order, with the
    /// chained encryption of the block before: the key schedule's inner loop.
    #[inline(always)]
    fn refill(&mut self) {
        let (mut l, mut r) = (0, 0);
        for i in 0..9 {
            (l, r) = self.encrypt(l, r);
            self.p[2 * i] = l;
            self.p[2 * i + 1] = r;
        }
        for sbox in 0..4 {
            for i in 0..128 {
                (l, r) = self.encrypt(l, r);
                self.s[sbox][2 * i] = l;
                self.s[sbox][2 * i + 1] = r;
            }
        }
    }

    /// [`Self::refill`], each block first XORed with two words of the salt
    /// (words 0 and 1, then 2 and 3, and so on). It runs once per hash, so it
    /// stays out of the inner loop.
    fn refill_salted(&mut self, salt: &Salt) {
        let (mut l, mut r) = (0, 0);
        let mut block = 0;
        let mut next = |state: &Self| {
            let half = (block & 1) * 2;
            block += 1;
            (l, r) = state.encrypt(l ^ salt[half], r ^ salt[half + 1]);
            (l, r)
        };
        for i in 0..9 {
            (self.p[2 * i], self.p[2 * i + 1]) = next(self);
        }
        for sbox in 0..4 {
            for i in 0..128 {
                (self.s[sbox][2 * i], self.s[sbox][2 * i + 1]) = next(self);
            }
        }
    }
}

/// `x ^ k` as `x + k − 2·(x & k)`: the same value, computed while the S-box
/// lookups are in flight, and a form the optimiser cannot merge into the XOR
/// that follows (see the module header).
#[inline(always)]
fn xor_early(x: u32, k: u32) -> u32 {
    x.wrapping_add(k).wrapping_sub((x & k) << 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_early_is_xor() {
        for (x, k) in [
            (0, 0),
            (u32::MAX, 1),
            (0xdead_beef, 0x1234_5678),
            (1 << 31, 1 << 31),
        ] {
            assert_eq!(xor_early(x, k), x ^ k);
        }
    }

    /// Blowfish itself (Schneier's test vectors, key schedule without
    /// bcrypt's salt): all-zero key and block, and all-ones.
    #[test]
    fn plain_blowfish_matches_the_published_vectors() {
        let schedule = |key: [u8; 8]| {
            let mut state = Blowfish { p: pi::P, s: pi::S };
            let word = |i: usize| {
                u32::from_be_bytes([
                    key[i % 8],
                    key[(i + 1) % 8],
                    key[(i + 2) % 8],
                    key[(i + 3) % 8],
                ])
            };
            let key: Key = std::array::from_fn(|i| word(4 * i));
            state.xor_subkeys(&key);
            state.refill();
            state
        };
        assert_eq!(schedule([0; 8]).encrypt(0, 0), (0x4ef9_9745, 0x6198_dd78));
        assert_eq!(
            schedule([0xff; 8]).encrypt(u32::MAX, u32::MAX),
            (0x5186_6fd5, 0xb85e_cb8a)
        );
    }
}
