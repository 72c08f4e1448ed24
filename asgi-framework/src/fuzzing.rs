//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, off by default).
//!
//! **Not a stable API**: hidden from the docs, and free to change in any
//! release. It wraps crate-private parsers in public types so that a fuzzer
//! can reach them without opening up the modules they live in.

use crate::response::file::range::{self, Ranges};

/// What a `Range` header asks of a file.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Not a valid byte-range set: the whole file is served.
    Ignore,
    /// Valid, but no range overlaps the file: 416.
    Unsatisfiable,
    /// Inclusive `(first, last)` byte positions, sorted, overlaps merged.
    Satisfiable(Vec<(u64, u64)>),
}

/// Parses a `Range` header value against a file of `len` bytes.
pub fn parse_range_header(header: &str, len: u64) -> RangeOutcome {
    match range::parse_ranges(header, len) {
        Ranges::Ignore => RangeOutcome::Ignore,
        Ranges::Unsatisfiable => RangeOutcome::Unsatisfiable,
        Ranges::Satisfiable(ranges) => RangeOutcome::Satisfiable(ranges),
    }
}
