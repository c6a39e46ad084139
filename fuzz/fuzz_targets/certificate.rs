//! One DER certificate through the x509 analysis (validity, names, key, signature, trust).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wijkagent::fuzzing::certificate(data));
