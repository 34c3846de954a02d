//! The bcrypt bound, measured honestly: authql's own hasher beside the
//! fastest bcrypt on the machine, in the same run.
//!
//! The C implementation is Openwall's `crypt_blowfish`, which Debian's
//! `libxcrypt` ships as `crypt_r` (the `$2b$` code of glibc systems, PHP
//! and Node's native `bcrypt` descend from the same OpenBSD design). It is
//! reached through Python's `ctypes`, so nothing is compiled for it; where
//! Python or `libcrypt.so.1` is missing, its row says so and the bound falls
//! back to the fastest hasher that could be measured.

use std::process::Command;
use std::time::Instant;

/// One hasher's median time per hash, in seconds.
pub struct Timing {
    pub name: &'static str,
    pub seconds: f64,
}

/// Times one hash at `cost` with authql's hasher, the `bcrypt` crate (the
/// hasher authql used before its own) and `crypt_r`, in alternation: three
/// rounds of three hashes each, so a noisy neighbour slows all of them alike.
/// Returns the medians, fastest first where one is missing.
pub fn per_hash(password: &str, cost: u32) -> Vec<(Timing, Option<&'static str>)> {
    const ROUNDS: usize = 3;
    const PER_ROUND: usize = 3;
    let salt = [0x5a; authql::auth::bcrypt::SALT_BYTES];
    let setting = authql::auth::bcrypt::hash(b"setting", cost, &salt)[..29].to_owned();
    let (mut ours, mut previous, mut c) = (Vec::new(), Vec::new(), Vec::new());
    let mut c_missing = None;
    for _ in 0..ROUNDS {
        for _ in 0..PER_ROUND {
            let started = Instant::now();
            authql::auth::bcrypt::hash(password.as_bytes(), cost, &salt);
            ours.push(started.elapsed().as_secs_f64());
            let started = Instant::now();
            bcrypt::hash_with_salt(password, cost, salt).unwrap();
            previous.push(started.elapsed().as_secs_f64());
        }
        match crypt_r_seconds(password, &setting, PER_ROUND) {
            Ok(times) => c.extend(times),
            Err(why) => c_missing = Some(why),
        }
    }
    let mut rows = vec![
        (
            Timing {
                name: "authql (its own, safe Rust)",
                seconds: median(ours),
            },
            None,
        ),
        (
            Timing {
                name: "bcrypt crate 0.19 (authql's before)",
                seconds: median(previous),
            },
            None,
        ),
    ];
    let c = if c_missing.is_some() || c.is_empty() {
        f64::NAN
    } else {
        median(c)
    };
    rows.push((
        Timing {
            name: "libxcrypt crypt_r (Openwall C)",
            seconds: c,
        },
        c_missing,
    ));
    rows
}

/// Hashes per second with one thread per core hashing with authql's hasher
/// at once: what the cores deliver together (shared caches, SMT siblings
/// and clock limits can make it less than cores ÷ one hash's time).
pub fn parallel_rate(password: &str, cost: u32, threads: usize) -> f64 {
    const PER_THREAD: usize = 16;
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let password = password.to_owned();
            std::thread::spawn(move || {
                let salt = [i as u8; authql::auth::bcrypt::SALT_BYTES];
                for _ in 0..PER_THREAD {
                    authql::auth::bcrypt::hash(password.as_bytes(), cost, &salt);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    (threads * PER_THREAD) as f64 / started.elapsed().as_secs_f64()
}

/// `count` timed calls of `crypt_r` in one Python process (its start-up is
/// not timed); checks the C hash is the one authql makes, too.
fn crypt_r_seconds(password: &str, setting: &str, count: usize) -> Result<Vec<f64>, &'static str> {
    const SCRIPT: &str = r#"
import ctypes, sys, time
lib = ctypes.CDLL("libcrypt.so.1")
lib.crypt_r.restype = ctypes.c_char_p
lib.crypt_r.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
data = ctypes.create_string_buffer(32768)
password, setting, count = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3])
for _ in range(count):
    started = time.perf_counter()
    out = lib.crypt_r(password, setting, data)
    print(time.perf_counter() - started, out.decode())
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT, password, setting, &count.to_string()])
        .output()
        .map_err(|_| "python3 not found")?;
    if !output.status.success() {
        return Err("libcrypt.so.1 not loadable from Python");
    }
    let expected = {
        let salt: [u8; authql::auth::bcrypt::SALT_BYTES] = [0x5a; 16];
        authql::auth::bcrypt::hash(password.as_bytes(), cost_of(setting), &salt)
    };
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .map(|line| {
            let (seconds, hash) = line
                .split_once(' ')
                .ok_or("unexpected output from crypt_r")?;
            assert_eq!(hash, expected, "crypt_r and authql disagree");
            seconds
                .parse()
                .map_err(|_| "unexpected output from crypt_r")
        })
        .collect()
}

fn cost_of(setting: &str) -> u32 {
    setting[4..6].parse().unwrap()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
