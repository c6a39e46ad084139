//! The consent files: a scope document (TOML parse and validation, then its scope walked), a signature file, a public key file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wijkagent::fuzzing::consent_file(data));
