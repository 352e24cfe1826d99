#![no_main]
//! Fuzz target: see `callq::fuzzing::ucwa_json` and docs/fuzzing.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| callq::fuzzing::ucwa_json(data));
