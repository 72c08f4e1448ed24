//! The stable stand-in for `cargo fuzz run`: every target over its seeds in
//! `corpus/<target>/`, then over pseudo-random mutations of them.
//!
//! The mutations come from a fixed-seed xorshift generator, so a run is
//! repeatable; `FUZZ_MUTATIONS=N` changes how many (3,000 per target by
//! default). A failing input is printed, escaped, before the panic goes on.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;

/// Mutated inputs per target.
const MUTATIONS: usize = 3_000;

/// Bytes the parsers give meaning to, preferred when a byte is overwritten or inserted.
const SPECIAL: &[u8] = b"\r\n \t:;,-=?%/0123456789abcdefABCDEF\x00\x7f\x80\xff";

/// Marsaglia's xorshift64: enough to pick mutations, and no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        if self.next() & 1 == 0 {
            SPECIAL[self.below(SPECIAL.len())]
        } else {
            self.next() as u8
        }
    }
}

/// The seeds of one target, sorted by file name.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// One to four edits of `input`, splicing from `others` now and then.
fn mutate(rng: &mut XorShift, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 if at < out.len() => out[at] = rng.byte(),
            2 => out.insert(at, rng.byte()),
            3 if at < out.len() => {
                let end = at + rng.below(out.len() - at) + 1;
                out.drain(at..end);
            }
            4 if at < out.len() => {
                // Repeat a run of bytes: long headers, many chunks, big sizes.
                let end = at + rng.below((out.len() - at).min(64)) + 1;
                let run = out[at..end].to_vec();
                for _ in 0..1 + rng.below(8) {
                    out.splice(at..at, run.iter().copied());
                }
            }
            5 => {
                let other = &others[rng.below(others.len())];
                let from = rng.below(other.len() + 1);
                out.splice(at.., other[from..].iter().copied());
            }
            6 => out.truncate(at),
            _ => {
                let n = rng.below(16) + 1;
                out.splice(at..at, std::iter::repeat_n(rng.byte(), n));
            }
        }
    }
    out
}

fn run_one(name: &str, target: fn(&[u8]), input: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(input))) {
        eprintln!("{name} failed on {:?}", input.escape_ascii().to_string());
        resume_unwind(panic);
    }
}

/// Runs `target` over its seeds, then over mutations of them; returns how many inputs ran.
fn exercise(name: &str, target: fn(&[u8])) -> usize {
    let seeds = seeds(name);
    assert!(seeds.len() >= 8, "{name}: only {} seeds", seeds.len());
    for seed in &seeds {
        run_one(name, target, seed);
    }
    let mutations = std::env::var("FUZZ_MUTATIONS").map_or(MUTATIONS, |n| n.parse().unwrap());
    // A fixed, per-target seed: the same inputs on every run.
    let mut rng = XorShift(name.bytes().fold(0x9E37_79B9_7F4A_7C15, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    }));
    let mut input = Vec::new();
    for i in 0..mutations {
        // Mostly fresh mutations of a seed; sometimes a mutation of the last input, to go deeper.
        if i % 4 == 0 || input.is_empty() {
            input = seeds[rng.below(seeds.len())].clone();
        }
        input = mutate(&mut rng, &input, &seeds);
        run_one(name, target, &input);
    }
    seeds.len() + mutations
}

#[test]
fn h1_request_head_corpus() {
    exercise("h1_request_head", crate::h1_request_head);
}

#[test]
fn h1_chunked_body_corpus() {
    exercise("h1_chunked_body", crate::h1_chunked_body);
}

#[test]
fn range_header_corpus() {
    exercise("range_header", crate::range_header);
}

#[test]
fn target_parse_corpus() {
    exercise("target_parse", crate::target_parse);
}

#[test]
fn mutations_are_repeatable_and_varied() {
    let seeds = vec![b"GET / HTTP/1.1\r\n\r\n".to_vec()];
    let run = || {
        let mut rng = XorShift(1);
        (0..100)
            .map(|_| mutate(&mut rng, &seeds[0], &seeds))
            .collect::<Vec<_>>()
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    let distinct: std::collections::HashSet<_> = first.iter().collect();
    assert!(distinct.len() > 90, "{} distinct of 100", distinct.len());
}
