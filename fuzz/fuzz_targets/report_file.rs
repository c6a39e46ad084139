//! A report.json as `wijkagent report` loads it, then its HTML, CSV and diff views.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wijkagent::fuzzing::report_file(data));
