#![no_main]
// paddock_fuzz::context_url says what the input is and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| paddock_fuzz::context_url(data));
