#![no_main]

use libfuzzer_sys::fuzz_target;

// The body, and its invariants, are in src/lib.rs, shared with the stable corpus test.
fuzz_target!(|data: &[u8]| asgi_fuzz::target_parse(data));
