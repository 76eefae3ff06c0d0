//! Go's `time.ParseInLocation` (for Sprig's `toDate`/`mustToDate`) and `time.Duration`
//! (`ParseDuration`, `String`, `Round`), with Go's error messages.

use std::sync::Arc;

use crate::time::{Chunk, DAYS, MONTHS, Time, days_from_civil, days_in_month, next_chunk, zone_at};

/// Go's quoting in time error messages: `"`, with `\xNN` for control and non-ASCII bytes.
pub fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        if character < ' ' || !character.is_ascii() {
            let mut buffer = [0u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if character == '"' || character == '\\' {
                out.push('\\');
            }
            out.push(character);
        }
    }
    out.push('"');
    out
}

fn parse_error(layout: &str, value: &str, layout_element: &str, value_element: &str) -> String {
    format!(
        "parsing time {} as {}: cannot parse {} as {}",
        quote(value),
        quote(layout),
        quote(value_element),
        quote(layout_element)
    )
}

fn digit(text: &str, index: usize) -> Option<i64> {
    text.as_bytes()
        .get(index)
        .filter(|byte| byte.is_ascii_digit())
        .map(|byte| i64::from(byte - b'0'))
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn get_number(text: &str, fixed: bool) -> Option<(i64, &str)> {
    let first = digit(text, 0)?;
    match digit(text, 1) {
        Some(second) => Some((first * 10 + second, &text[2..])),
        None if fixed => None,
        None => Some((first, &text[1..])),
    }
}

/// Go's `getnum3`: one to three digits (exactly three when `fixed`).
fn get_number3(text: &str, fixed: bool) -> Option<(i64, &str)> {
    let mut number = 0;
    let mut count = 0;
    while count < 3 {
        let Some(value) = digit(text, count) else {
            break;
        };
        number = number * 10 + value;
        count += 1;
    }
    if count == 0 || (fixed && count != 3) {
        return None;
    }
    Some((number, &text[count..]))
}

/// Go's case-insensitive `lookup` of a name table; returns the index.
fn lookup<'v>(names: &[&str], value: &'v str) -> Option<(usize, &'v str)> {
    names.iter().enumerate().find_map(|(index, name)| {
        let head = value.get(..name.len())?;
        head.eq_ignore_ascii_case(name)
            .then(|| (index, &value[name.len()..]))
    })
}

/// Go's `parseNanoseconds`: `text` starts with the separator; `length` includes it.
fn parse_nanoseconds(text: &str, length: usize) -> Option<i64> {
    let length = length.min(10);
    let digits = text.get(1..length)?;
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let mut nanos: i64 = digits.parse().ok()?;
    for _ in 0..(10 - length) {
        nanos *= 10;
    }
    Some(nanos)
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start of `value`.
fn zone_name_length(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    if bytes.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if value.starts_with("GMT") {
        let mut length = 3;
        if matches!(bytes.get(3), Some(b'+' | b'-')) {
            let digits = bytes[4..]
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
            if digits > 0 {
                length = 4 + digits;
            }
        }
        return Some(length);
    }
    let upper = bytes
        .iter()
        .take(6)
        .take_while(|byte| byte.is_ascii_uppercase())
        .count();
    match upper {
        3 => Some(3),
        4 if bytes[3] == b'T' || value.starts_with("WITA") => Some(4),
        5 if bytes[4] == b'T' => Some(5),
        _ => None,
    }
}

/// Go's `time.ParseInLocation(layout, value, time.Local)`.
pub fn parse_local(layout: &str, value: &str) -> Result<Time, String> {
    let original_layout = layout;
    let original_value = value;
    let mut layout = layout;
    let mut value = value;
    let (mut year, mut month, mut day, mut year_day) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut minute, mut second, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    let (mut am, mut pm) = (false, false);
    let mut utc = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name = String::new();
    loop {
        let (prefix, chunk, suffix) = next_chunk(layout);
        let element = &layout[prefix.len()..layout.len() - suffix.len()];
        match value.strip_prefix(prefix) {
            Some(rest) => value = rest,
            None => {
                return Err(parse_error(original_layout, original_value, prefix, value));
            }
        }
        let Some(chunk) = chunk else {
            if !value.is_empty() {
                return Err(format!(
                    "parsing time {}: extra text: {}",
                    quote(original_value),
                    quote(value)
                ));
            }
            break;
        };
        layout = suffix;
        let hold = value;
        let mut range_error: Option<&str> = None;
        let parsed: Option<&str> = match chunk {
            Chunk::Year => value.get(..2).and_then(|digits| {
                let number: i64 = digits
                    .parse()
                    .ok()
                    .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?;
                year = if number >= 69 {
                    number + 1900
                } else {
                    number + 2000
                };
                Some(&value[2..])
            }),
            Chunk::LongYear => value.get(..4).and_then(|digits| {
                if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                    return None;
                }
                year = digits.parse().ok()?;
                Some(&value[4..])
            }),
            Chunk::Month | Chunk::LongMonth => {
                let names: Vec<&str> = if chunk == Chunk::Month {
                    MONTHS.iter().map(|name| &name[..3]).collect()
                } else {
                    MONTHS.to_vec()
                };
                lookup(&names, value).map(|(index, rest)| {
                    month = index as i64 + 1;
                    rest
                })
            }
            Chunk::NumMonth | Chunk::ZeroMonth => {
                get_number(value, chunk == Chunk::ZeroMonth).map(|(number, rest)| {
                    month = number;
                    if !(1..=12).contains(&number) {
                        range_error = Some("month");
                    }
                    rest
                })
            }
            Chunk::WeekDay | Chunk::LongWeekDay => {
                let names: Vec<&str> = if chunk == Chunk::WeekDay {
                    DAYS.iter().map(|name| &name[..3]).collect()
                } else {
                    DAYS.to_vec()
                };
                lookup(&names, value).map(|(_, rest)| rest)
            }
            Chunk::Day | Chunk::UnderDay | Chunk::ZeroDay => {
                if chunk == Chunk::UnderDay {
                    value = value.strip_prefix(' ').unwrap_or(value);
                }
                get_number(value, chunk == Chunk::ZeroDay).map(|(number, rest)| {
                    day = number;
                    rest
                })
            }
            Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                if chunk == Chunk::UnderYearDay {
                    for _ in 0..2 {
                        value = value.strip_prefix(' ').unwrap_or(value);
                    }
                }
                get_number3(value, chunk == Chunk::ZeroYearDay).map(|(number, rest)| {
                    year_day = number;
                    rest
                })
            }
            Chunk::Hour => get_number(value, false).map(|(number, rest)| {
                hour = number;
                if !(0..24).contains(&number) {
                    range_error = Some("hour");
                }
                rest
            }),
            Chunk::Hour12 | Chunk::ZeroHour12 => {
                get_number(value, chunk == Chunk::ZeroHour12).map(|(number, rest)| {
                    hour = number;
                    if !(0..=12).contains(&number) {
                        range_error = Some("hour");
                    }
                    rest
                })
            }
            Chunk::Minute | Chunk::ZeroMinute => {
                get_number(value, chunk == Chunk::ZeroMinute).map(|(number, rest)| {
                    minute = number;
                    if !(0..60).contains(&number) {
                        range_error = Some("minute");
                    }
                    rest
                })
            }
            Chunk::Second | Chunk::ZeroSecond => {
                match get_number(value, chunk == Chunk::ZeroSecond) {
                    None => None,
                    Some((number, rest)) => {
                        second = number;
                        if !(0..60).contains(&number) {
                            range_error = Some("second");
                            Some(rest)
                        } else {
                            // A fraction in the input that the layout does not mention.
                            let bytes = rest.as_bytes();
                            let next_is_fraction =
                                matches!(next_chunk(layout).1, Some(Chunk::Fraction { .. }));
                            if bytes.len() >= 2
                                && matches!(bytes[0], b'.' | b',')
                                && bytes[1].is_ascii_digit()
                                && !next_is_fraction
                            {
                                let length = 1 + bytes[1..]
                                    .iter()
                                    .take_while(|byte| byte.is_ascii_digit())
                                    .count();
                                parse_nanoseconds(rest, length).map(|parsed| {
                                    nanos = parsed;
                                    &rest[length..]
                                })
                            } else {
                                Some(rest)
                            }
                        }
                    }
                }
            }
            Chunk::PM | Chunk::Pm => value.get(..2).and_then(|marker| {
                let (upper, lower) = if chunk == Chunk::PM {
                    ("PM", "AM")
                } else {
                    ("pm", "am")
                };
                if marker == upper {
                    pm = true;
                } else if marker == lower {
                    am = true;
                } else {
                    return None;
                }
                Some(&value[2..])
            }),
            Chunk::Zone(style) => {
                if style.z_for_utc && value.starts_with('Z') {
                    utc = true;
                    Some(&value[1..])
                } else {
                    parse_offset(value, style).map(|(offset, rest, error)| {
                        zone_offset = Some(offset);
                        range_error = error;
                        rest
                    })
                }
            }
            Chunk::ZoneName => {
                if let Some(rest) = value.strip_prefix("UTC") {
                    utc = true;
                    Some(rest)
                } else {
                    zone_name_length(value).map(|length| {
                        zone_name = value[..length].to_string();
                        &value[length..]
                    })
                }
            }
            Chunk::Fraction { digits, trim, .. } => {
                if trim {
                    let bytes = value.as_bytes();
                    if bytes.len() < 2
                        || !matches!(bytes[0], b'.' | b',')
                        || !bytes[1].is_ascii_digit()
                    {
                        Some(value)
                    } else {
                        let length = 1 + bytes[1..]
                            .iter()
                            .take_while(|byte| byte.is_ascii_digit())
                            .count();
                        parse_nanoseconds(value, length).map(|parsed| {
                            nanos = parsed;
                            &value[length..]
                        })
                    }
                } else if value.len() < digits + 1 || !matches!(value.as_bytes()[0], b'.' | b',') {
                    None
                } else {
                    parse_nanoseconds(value, digits + 1).map(|parsed| {
                        nanos = parsed;
                        &value[digits + 1..]
                    })
                }
            }
        };
        match parsed {
            Some(rest) => {
                if let Some(what) = range_error {
                    return Err(format!(
                        "parsing time {}: {what} out of range",
                        quote(original_value)
                    ));
                }
                value = rest;
            }
            None => {
                return Err(parse_error(original_layout, original_value, element, hold));
            }
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    let out_of_range = |what: &str| format!("parsing time {}: {what}", quote(original_value));
    if year_day >= 0 {
        let (mut resolved_month, mut resolved_day) = (0i64, 0i64);
        let mut remaining = year_day;
        if crate::time::is_leap(year) {
            if remaining == 31 + 29 {
                resolved_month = 2;
                resolved_day = 29;
            } else if remaining > 31 + 29 {
                remaining -= 1;
            }
        }
        if !(1..=365).contains(&remaining) {
            return Err(out_of_range("day-of-year out of range"));
        }
        if resolved_month == 0 {
            let mut before = 0i64;
            for candidate in 1..=12u32 {
                let length = i64::from(days_in_month(candidate, 2001));
                if remaining <= before + length {
                    resolved_month = i64::from(candidate);
                    resolved_day = remaining - before;
                    break;
                }
                before += length;
            }
        }
        if month >= 0 && month != resolved_month {
            return Err(out_of_range("day-of-year does not match month"));
        }
        if day >= 0 && day != resolved_day {
            return Err(out_of_range("day-of-year does not match day"));
        }
        month = resolved_month;
        day = resolved_day;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > i64::from(days_in_month(month as u32, year)) {
        return Err(out_of_range("day out of range"));
    }
    let naive = days_from_civil(year, month as u32, day as u32) * 86_400
        + hour * 3600
        + minute * 60
        + second;
    let nanos = nanos as u32;
    if utc {
        return Ok(Time::utc(naive, nanos));
    }
    if let Some(offset) = zone_offset {
        let seconds = naive - offset;
        if let Some(local) = zone_at("Local", seconds)
            && i64::from(local.offset) == offset
            && (zone_name.is_empty() || *local.name == zone_name)
        {
            return Ok(Time {
                seconds,
                nanos,
                offset: local.offset,
                zone: local.name,
            });
        }
        return Ok(Time {
            seconds,
            nanos,
            offset: offset as i32,
            zone: Arc::from(zone_name.as_str()),
        });
    }
    if !zone_name.is_empty() {
        if let Some(local) = zone_at("Local", naive)
            && *local.name == zone_name
        {
            let seconds = naive - i64::from(local.offset);
            return Ok(Time {
                seconds,
                nanos,
                offset: local.offset,
                zone: local.name,
            });
        }
        let offset = zone_name
            .strip_prefix("GMT")
            .and_then(|hours| hours.parse::<i64>().ok())
            .map_or(0, |hours| hours * 3600);
        return Ok(Time {
            seconds: naive,
            nanos,
            offset: offset as i32,
            zone: Arc::from(zone_name.as_str()),
        });
    }
    // The wall clock is in the local zone: find the offset in effect then.
    let first = zone_at("Local", naive).map_or(0, |zone| i64::from(zone.offset));
    let mut seconds = naive - first;
    if let Some(zone) = zone_at("Local", seconds)
        && i64::from(zone.offset) != first
    {
        seconds = naive - i64::from(zone.offset);
    }
    Ok(Time::local(seconds, nanos))
}

/// A numeric zone offset (`-0700`, `-07:00`, `-07`, `-070000`, `-07:00:00`).
fn parse_offset(
    value: &str,
    style: crate::time::ZoneStyle,
) -> Option<(i64, &str, Option<&'static str>)> {
    let bytes = value.as_bytes();
    let (hours, minutes, seconds, length) = if style.hours_only {
        (value.get(1..3)?, "00", "00", 3)
    } else if style.colons && style.seconds {
        if bytes.len() < 9 || bytes[3] != b':' || bytes[6] != b':' {
            return None;
        }
        (&value[1..3], &value[4..6], &value[7..9], 9)
    } else if style.colons {
        if bytes.len() < 6 || bytes[3] != b':' {
            return None;
        }
        (&value[1..3], &value[4..6], "00", 6)
    } else if style.seconds {
        (value.get(1..3)?, value.get(3..5)?, value.get(5..7)?, 7)
    } else {
        (value.get(1..3)?, value.get(3..5)?, "00", 5)
    };
    let number = |text: &str| get_number(text, true).map(|(number, _)| number);
    let (hours, minutes, seconds) = (number(hours)?, number(minutes)?, number(seconds)?);
    let error = if seconds > 60 {
        Some("time zone offset second")
    } else if minutes > 60 {
        Some("time zone offset minute")
    } else if hours > 24 {
        Some("time zone offset hour")
    } else {
        None
    };
    let offset = (hours * 60 + minutes) * 60 + seconds;
    let offset = match bytes[0] {
        b'+' => offset,
        b'-' => -offset,
        _ => return None,
    };
    Some((offset, value.get(length..)?, error))
}

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1000 * NANOSECOND;
const MILLISECOND: u64 = 1000 * MICROSECOND;
/// One second in nanoseconds.
pub const SECOND: u64 = 1000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(text));
    let mut rest = text;
    let mut negative = false;
    if let Some(first) = rest.chars().next()
        && (first == '-' || first == '+')
    {
        negative = first == '-';
        rest = &rest[1..];
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for byte in rest[..digits].bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|value| value.checked_add(u64::from(byte - b'0')))
                .filter(|value| *value <= 1 << 63)
                .ok_or_else(invalid)?;
        }
        rest = &rest[digits..];
        let before = digits > 0;
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut after = false;
        if let Some(stripped) = rest.strip_prefix('.') {
            rest = stripped;
            let count = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for byte in rest[..count].bytes() {
                if overflow {
                    continue;
                }
                if fraction > (1 << 63) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(byte - b'0');
                if next > 1 << 63 {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            after = count > 0;
            rest = &rest[count..];
        }
        if !before && !after {
            return Err(invalid());
        }
        let unit_length = rest
            .bytes()
            .take_while(|byte| !(*byte == b'.' || byte.is_ascii_digit()))
            .count();
        if unit_length == 0 {
            return Err(format!("time: missing unit in duration {}", quote(text)));
        }
        let unit_text = &rest[..unit_length];
        rest = &rest[unit_length..];
        let unit = match unit_text {
            "ns" => NANOSECOND,
            "us" | "µs" | "μs" => MICROSECOND,
            "ms" => MILLISECOND,
            "s" => SECOND,
            "m" => MINUTE,
            "h" => HOUR,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(other),
                    quote(text)
                ));
            }
        };
        if whole > (1 << 63) / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > 1 << 63 {
                return Err(invalid());
            }
        }
        total += value;
        if total > 1 << 63 {
            return Err(invalid());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    if total > (1 << 63) - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// `v/10^precision` as Go's `fmtFrac` writes it (".12", nothing for zero).
fn fraction_text(value: u64, precision: u32) -> (String, u64) {
    let mut digits = String::new();
    let mut value = value;
    let mut printed = false;
    for _ in 0..precision {
        let digit = value % 10;
        printed = printed || digit != 0;
        if printed {
            digits.insert(0, char::from(b'0' + digit as u8));
        }
        value /= 10;
    }
    if printed {
        digits.insert(0, '.');
    }
    (digits, value)
}

/// Go's `time.Duration.String()`.
pub fn format_duration(nanos: i64) -> String {
    let negative = nanos < 0;
    let value = nanos.unsigned_abs();
    let mut out = if value < SECOND {
        let (precision, unit) = match value {
            0 => return "0s".to_string(),
            v if v < MICROSECOND => (0, "ns"),
            v if v < MILLISECOND => (3, "µs"),
            _ => (6, "ms"),
        };
        let (fraction, whole) = fraction_text(value, precision);
        format!("{whole}{fraction}{unit}")
    } else {
        let (fraction, seconds) = fraction_text(value, 9);
        let mut text = format!("{}{fraction}s", seconds % 60);
        let minutes = seconds / 60;
        if minutes > 0 {
            text = format!("{}m{text}", minutes % 60);
            let hours = minutes / 60;
            if hours > 0 {
                text = format!("{hours}h{text}");
            }
        }
        text
    };
    if negative {
        out.insert(0, '-');
    }
    out
}

/// Go's `Duration.Round(multiple)`: halves round away from zero.
pub fn round_duration(nanos: i64, multiple: i64) -> i64 {
    if multiple <= 0 {
        return nanos;
    }
    let remainder = nanos % multiple;
    let less_than_half = |value: i64| (value as u64) + (value as u64) < multiple as u64;
    if nanos < 0 {
        let remainder = -remainder;
        if less_than_half(remainder) {
            return nanos + remainder;
        }
        return nanos.checked_sub(multiple - remainder).unwrap_or(i64::MIN);
    }
    if less_than_half(remainder) {
        return nanos - remainder;
    }
    nanos.checked_add(multiple - remainder).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_like_go() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400 * SECOND as i64));
        assert_eq!(parse_duration("-1.5s"), Ok(-1_500_000_000));
        assert_eq!(
            parse_duration("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_string())
        );
        assert_eq!(
            parse_duration("5"),
            Err("time: missing unit in duration \"5\"".to_string())
        );
        assert_eq!(format_duration(95 * SECOND as i64), "1m35s");
        assert_eq!(format_duration(3600 * SECOND as i64), "1h0m0s");
        assert_eq!(format_duration(1_500_000), "1.5ms");
        assert_eq!(format_duration(-2_500_000_000), "-2.5s");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(round_duration(1_500_000_000, SECOND as i64), 2_000_000_000);
    }

    #[test]
    fn layouts_parse_like_go() {
        // These expectations are in UTC, Go's `Local` on the build machines.
        let local_is_utc = crate::time::zone_at("Local", 0)
            .is_some_and(|zone| zone.offset == 0 && &*zone.name == "UTC");
        if !local_is_utc {
            eprintln!("skipped: the local time zone is not UTC");
            return;
        }
        let time = parse_local("2006-01-02", "2024-03-05").expect("a value");
        assert_eq!(time.go_string(), "2024-03-05 00:00:00 +0000 UTC");
        let time =
            parse_local("2006-01-02T15:04:05Z07:00", "2024-03-05T10:20:30+02:00").expect("a value");
        assert_eq!(time.go_string(), "2024-03-05 10:20:30 +0200 +0200");
        let time = parse_local("Jan _2 15:04:05", "Mar  5 01:02:03.25").expect("a value");
        assert_eq!(time.go_string(), "0000-03-05 01:02:03.25 +0000 UTC");
        assert_eq!(
            parse_local("2006-01-02", "2024-02-30").expect_err("an error"),
            "parsing time \"2024-02-30\": day out of range"
        );
        assert_eq!(
            parse_local("2006-01-02", "24-03-05").expect_err("an error"),
            "parsing time \"24-03-05\" as \"2006-01-02\": cannot parse \"24-03-05\" as \"2006\""
        );
        assert_eq!(
            parse_local("2006", "2024x").expect_err("an error"),
            "parsing time \"2024x\": extra text: \"x\""
        );
    }
}
