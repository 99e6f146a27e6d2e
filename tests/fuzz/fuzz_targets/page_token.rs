#![no_main]
// paddock::fuzzing::page_token says what the input is and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| paddock::fuzzing::page_token(data));
