//! Zoho's times, read as Unix seconds: RFC 3339 (`-07:00`, `Z`), Zoho's own `-0700` form, with or
//! without fractional seconds, and bare dates.

use chrono::{DateTime, NaiveDate};

/// Parses Zoho's times to Unix seconds: RFC 3339 (`-07:00`, `Z`), Zoho's `-0700` form, with or
/// without fractional seconds, and a bare date (read as midnight UTC). Empty means unset.
pub(crate) fn parse_zoho_time(value: &str) -> Option<f64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    parse_usual_zoho_time(value).or_else(|| parse_any_zoho_time(value))
}

/// Every form [`parse_zoho_time`] takes, through chrono's parsers.
fn parse_any_zoho_time(value: &str) -> Option<f64> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Some(unix_seconds(
            time.timestamp(),
            time.timestamp_subsec_millis(),
        ));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(time) = DateTime::parse_from_str(value, format) {
            return Some(unix_seconds(
                time.timestamp(),
                time.timestamp_subsec_millis(),
            ));
        }
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() as f64)
}

/// The forms every cadence carries (`2024-07-17T20:38:22-0700`, `-07:00`, `Z`, with or without
/// fractional seconds), parsed without chrono's format strings, which took a fourteenth of
/// decoding a page. Anything else, leap seconds included, is left to [`parse_zoho_time`]'s
/// general parsers.
fn parse_usual_zoho_time(value: &str) -> Option<f64> {
    let b = value.as_bytes();
    let number = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, c)| b.get(at) == Some(&c)) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 2)?, number(8, 2)?)?;
    let time = date.and_hms_opt(number(11, 2)?, number(14, 2)?, number(17, 2)?)?;
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let fraction = &b[start..at];
        if fraction.is_empty() {
            return None;
        }
        for (place, digit) in [100, 10, 1].into_iter().zip(fraction) {
            millis += place * u32::from(digit - b'0');
        }
    }
    let offset_seconds = match (b.get(at), b.len() - at) {
        (Some(b'Z'), 1) => 0,
        (Some(sign @ (b'+' | b'-')), len) => {
            let (hours, minutes) = match len {
                5 => (number(at + 1, 2)?, number(at + 3, 2)?),
                6 if b[at + 3] == b':' => (number(at + 1, 2)?, number(at + 4, 2)?),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3_600 + minutes * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    Some(unix_seconds(
        time.and_utc().timestamp() - offset_seconds,
        millis,
    ))
}

fn unix_seconds(seconds: i64, millis: u32) -> f64 {
    seconds as f64 + f64::from(millis) / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_colon_in_offset() {
        let expected = 1_721_273_902.0; // 2024-07-17T20:38:22-07:00
        assert_eq!(parse_zoho_time("2024-07-17T20:38:22-0700"), Some(expected));
        assert_eq!(parse_zoho_time("2024-07-17T20:38:22-07:00"), Some(expected));
        assert_eq!(parse_zoho_time("2024-07-18T03:38:22Z"), Some(expected));
        assert_eq!(parse_zoho_time("2024-07-18T09:08:22+0530"), Some(expected));
        assert_eq!(
            parse_zoho_time("2024-07-17T20:38:22.500-0700"),
            Some(expected + 0.5)
        );
        assert_eq!(parse_zoho_time("2024-07-18"), Some(1_721_260_800.0));
        assert_eq!(parse_zoho_time(""), None);
        assert_eq!(parse_zoho_time("yesterday"), None);
    }

    #[test]
    fn the_fast_path_agrees_with_chrono_or_leaves_the_value_to_it() {
        let values = [
            "2024-07-17T20:38:22-0700",
            "2024-07-17T20:38:22+05:30",
            "2024-07-17T20:38:22Z",
            "2024-07-17T20:38:22.5Z",
            "2024-07-17T20:38:22.123456-0700",
            "2024-02-29T00:00:00+0000",
            "1969-12-31T23:59:59Z",
            "2024-02-30T00:00:00Z",
            "2024-07-17T24:00:00Z",
            "2024-07-17T20:38:22+2400",
            "2024-07-17T20:38:22-07",
            "2024-07-17T20:38:22.-0700",
            "2024-07-17t20:38:22z",
            "2016-12-31T23:59:60Z",
            "2024-07-17T20:38:22",
            "2024-07-17 20:38:22Z",
            "+2024-07-17T20:38:22Z",
            "2024-07-17T20:38:22Z ",
        ];
        for value in values {
            let general = parse_any_zoho_time(value);
            if let Some(fast) = parse_usual_zoho_time(value) {
                assert_eq!(Some(fast), general, "{value}");
            }
            assert_eq!(
                parse_zoho_time(value),
                parse_any_zoho_time(value.trim()),
                "{value}"
            );
        }
        assert!(parse_usual_zoho_time("2024-07-17T20:38:22-0700").is_some());
        assert!(parse_usual_zoho_time("2024-07-17T20:38:22.500+05:30").is_some());
    }
}
