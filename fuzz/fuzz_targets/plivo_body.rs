#![no_main]
//! Fuzz target: see `callq::fuzzing::plivo_body` and docs/fuzzing.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| callq::fuzzing::plivo_body(data));
