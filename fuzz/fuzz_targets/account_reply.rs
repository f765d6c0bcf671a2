#![no_main]

#[path = "../checks/client.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    checks::account_reply(data);
});
