#![no_main]
// paddock::fuzzing::bearer_token says what the input is and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| paddock::fuzzing::bearer_token(data));
