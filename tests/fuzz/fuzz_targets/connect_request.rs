#![no_main]
// paddock_fuzz::connect_request says what the input is and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| paddock_fuzz::connect_request(data));
