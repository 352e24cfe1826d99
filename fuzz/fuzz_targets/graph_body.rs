#![no_main]
//! Fuzz target: see `callq::fuzzing::graph_body` and docs/fuzzing.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| callq::fuzzing::graph_body(data));
