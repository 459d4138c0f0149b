//! Fuzzes the cadences decoder and snapshot building: any bytes must give a page or an error,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zoho_cadences_exporter_fuzz::decode_cadences(data);
});
