//! Banners and protocol replies: the first byte picks the protocol family (see `wijkagent::fuzzing::FAMILIES`), the rest is what the server sent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wijkagent::fuzzing::probe_reply(data));
