#![no_main]
// paddock::fuzzing::connect_post says what the input is and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| paddock::fuzzing::connect_post(data));
