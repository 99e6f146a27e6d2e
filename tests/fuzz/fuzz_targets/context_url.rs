#![no_main]
// paddock::fuzzing::context_url says what the input is and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| paddock::fuzzing::context_url(data));
