//! Fuzzes the config parser: any text must give a config or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zoho_cadences_exporter_fuzz::parse_config(data);
});
