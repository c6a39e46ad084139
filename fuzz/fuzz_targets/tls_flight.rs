//! A server's answer to a hand-built ClientHello (records, ServerHello, Certificate, alerts), then the chain's analysis; the STARTTLS reply readers too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wijkagent::fuzzing::tls_flight(data));
