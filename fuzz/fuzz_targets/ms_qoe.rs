#![no_main]
//! Fuzz target: see `callq::fuzzing::ms_qoe` and docs/fuzzing.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| callq::fuzzing::ms_qoe(data));
