//! Go's `time.Time` as Sprig's date functions see it: an instant with the zone it is shown
//! in (offset and abbreviation), Go layout formatting (`2006-01-02T15:04:05Z07:00`), and
//! `time.Time.String()`. Parsing and durations are in `time_parse.rs`.
//!
//! Zones come from the system's tz database (through `jiff`), as Go's `time.LoadLocation`
//! reads it; `Local` is the system zone (`TZ`, `/etc/localtime`). A time keeps the offset
//! it was given, so `dateModify` across a daylight-saving change keeps the old offset
//! (Go would re-resolve it in the location).

use std::sync::Arc;

use eddy_gotemplate::{Object, Value};

/// An instant and the zone it is shown in.
#[derive(Clone, Debug)]
pub struct Time {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset east of UTC, in seconds.
    pub offset: i32,
    /// The zone abbreviation (`UTC`, `CET`); empty for a fixed offset parsed from text,
    /// which Go prints as `-0700`.
    pub zone: Arc<str>,
}

/// Go's zero `time.Time`: January 1, year 1, 00:00:00 UTC.
const ZERO_SECONDS: i64 = -62_135_596_800;

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The broken-down wall clock of a [`Time`] in its zone.
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) weekday: u32,
    pub(crate) year_day: u32,
}

/// Days since the epoch of a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(month: u32, year: i64) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A resolved zone for one instant.
pub(crate) struct Zone {
    pub(crate) offset: i32,
    pub(crate) name: Arc<str>,
}

/// Go's `time.LoadLocation(name)` applied at `seconds`: `""`/`UTC` are UTC, `Local` the
/// system zone; `None` when the zone is unknown.
pub(crate) fn zone_at(name: &str, seconds: i64) -> Option<Zone> {
    let zone = match name {
        "" | "UTC" => return Some(utc()),
        "Local" => jiff::tz::TimeZone::system(),
        other => jiff::tz::TimeZone::get(other).ok()?,
    };
    let timestamp = jiff::Timestamp::from_second(seconds).ok()?;
    let info = zone.to_offset_info(timestamp);
    Some(Zone {
        offset: info.offset().seconds(),
        name: Arc::from(info.abbreviation()),
    })
}

fn utc() -> Zone {
    Zone {
        offset: 0,
        name: Arc::from("UTC"),
    }
}

impl Time {
    /// The current time in the local zone.
    pub fn now() -> Time {
        let elapsed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time::local(elapsed.as_secs() as i64, elapsed.subsec_nanos())
    }

    /// An instant shown in the local zone (Go's `time.Unix`).
    pub fn local(seconds: i64, nanos: u32) -> Time {
        Time::in_zone(seconds, nanos, "Local").unwrap_or(Time::utc(seconds, nanos))
    }

    /// An instant shown in UTC.
    pub fn utc(seconds: i64, nanos: u32) -> Time {
        Time {
            seconds,
            nanos,
            offset: 0,
            zone: Arc::from("UTC"),
        }
    }

    /// Go's zero time, what `toDate` returns for text it cannot parse.
    pub fn zero() -> Time {
        Time::utc(ZERO_SECONDS, 0)
    }

    /// The same instant shown in the named zone (`None` when the zone is unknown).
    pub fn in_zone(seconds: i64, nanos: u32, name: &str) -> Option<Time> {
        let zone = zone_at(name, seconds)?;
        Some(Time {
            seconds,
            nanos,
            offset: zone.offset,
            zone: zone.name,
        })
    }

    /// The value as a Go `time.Time`, if it is one.
    pub fn from_object(value: &Value) -> Option<Time> {
        match value {
            Value::Object(object) => object.as_any()?.downcast_ref::<Time>().cloned(),
            _ => None,
        }
    }

    /// Sprig's `dateInZone` coercion: a `time.Time`, or Go `int`/`int64` seconds; anything
    /// else (floats from YAML included) means now.
    pub fn from_value(value: &Value) -> Time {
        match value {
            Value::Int(seconds) | Value::Int64(seconds) => Time::local(*seconds, 0),
            other => Time::from_object(other).unwrap_or_else(Time::now),
        }
    }

    /// Nanoseconds since the epoch, saturating.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.seconds) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// The instant `nanos` nanoseconds later, in the same zone.
    pub fn add_nanos(&self, nanos: i64) -> Time {
        let total = self.unix_nanos() + i128::from(nanos);
        Time {
            seconds: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            offset: self.offset,
            zone: self.zone.clone(),
        }
    }

    pub(crate) fn civil(&self) -> Civil {
        let local = self.seconds + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let seconds_of_day = local.rem_euclid(86_400);
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        let year_day = (days - days_from_civil(year, 1, 1) + 1) as u32;
        Civil {
            year,
            month,
            day,
            hour: (seconds_of_day / 3600) as u32,
            minute: ((seconds_of_day / 60) % 60) as u32,
            second: (seconds_of_day % 60) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
            year_day,
        }
    }

    /// Formats with a Go layout (`2006-01-02T15:04:05Z07:00`), as `Time.Format` does.
    pub fn format(&self, layout: &str) -> String {
        let civil = self.civil();
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, chunk, after) = next_chunk(rest);
            out.push_str(prefix);
            let Some(chunk) = chunk else {
                break;
            };
            self.append(&mut out, &civil, chunk);
            rest = after;
        }
        out
    }

    fn append(&self, out: &mut String, civil: &Civil, chunk: Chunk) {
        let hour12 = if civil.hour.is_multiple_of(12) {
            12
        } else {
            civil.hour % 12
        };
        match chunk {
            Chunk::LongYear => out.push_str(&format_year(civil.year)),
            Chunk::Year => out.push_str(&format!("{:02}", civil.year.rem_euclid(100))),
            Chunk::LongMonth => out.push_str(MONTHS[(civil.month - 1) as usize]),
            Chunk::Month => out.push_str(&MONTHS[(civil.month - 1) as usize][..3]),
            Chunk::NumMonth => out.push_str(&civil.month.to_string()),
            Chunk::ZeroMonth => out.push_str(&format!("{:02}", civil.month)),
            Chunk::LongWeekDay => out.push_str(DAYS[civil.weekday as usize]),
            Chunk::WeekDay => out.push_str(&DAYS[civil.weekday as usize][..3]),
            Chunk::Day => out.push_str(&civil.day.to_string()),
            Chunk::UnderDay => out.push_str(&format!("{:>2}", civil.day)),
            Chunk::ZeroDay => out.push_str(&format!("{:02}", civil.day)),
            Chunk::UnderYearDay => out.push_str(&format!("{:>3}", civil.year_day)),
            Chunk::ZeroYearDay => out.push_str(&format!("{:03}", civil.year_day)),
            Chunk::Hour => out.push_str(&format!("{:02}", civil.hour)),
            Chunk::Hour12 => out.push_str(&hour12.to_string()),
            Chunk::ZeroHour12 => out.push_str(&format!("{hour12:02}")),
            Chunk::Minute => out.push_str(&civil.minute.to_string()),
            Chunk::ZeroMinute => out.push_str(&format!("{:02}", civil.minute)),
            Chunk::Second => out.push_str(&civil.second.to_string()),
            Chunk::ZeroSecond => out.push_str(&format!("{:02}", civil.second)),
            Chunk::PM => out.push_str(if civil.hour >= 12 { "PM" } else { "AM" }),
            Chunk::Pm => out.push_str(if civil.hour >= 12 { "pm" } else { "am" }),
            Chunk::Zone(style) => self.append_zone(out, style),
            Chunk::ZoneName => {
                if self.zone.is_empty() {
                    self.append_offset(out, false, false, false);
                } else {
                    out.push_str(&self.zone);
                }
            }
            Chunk::Fraction {
                separator,
                digits,
                trim,
            } => {
                let text = format!("{:09}", self.nanos);
                let mut kept = &text[..digits];
                if trim {
                    kept = kept.trim_end_matches('0');
                    if kept.is_empty() {
                        return;
                    }
                }
                out.push(separator);
                out.push_str(kept);
            }
        }
    }

    fn append_zone(&self, out: &mut String, style: ZoneStyle) {
        if style.z_for_utc && self.offset == 0 {
            out.push('Z');
            return;
        }
        self.append_offset(out, style.colons, style.hours_only, style.seconds);
    }

    fn append_offset(&self, out: &mut String, colons: bool, hours_only: bool, seconds: bool) {
        let total = self.offset.unsigned_abs();
        out.push(if self.offset < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", total / 3600));
        if hours_only {
            return;
        }
        if colons {
            out.push(':');
        }
        out.push_str(&format!("{:02}", (total / 60) % 60));
        if seconds {
            if colons {
                out.push(':');
            }
            out.push_str(&format!("{:02}", total % 60));
        }
    }

    /// Go's `Time.String()` (without the monotonic clock reading `time.Now()` adds).
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }
}

fn format_year(year: i64) -> String {
    if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    }
}

/// How a numeric zone is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ZoneStyle {
    pub(crate) z_for_utc: bool,
    pub(crate) colons: bool,
    pub(crate) hours_only: bool,
    pub(crate) seconds: bool,
}

/// One element of a Go layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    LongYear,
    Year,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PM,
    Pm,
    Zone(ZoneStyle),
    ZoneName,
    Fraction {
        separator: char,
        digits: usize,
        trim: bool,
    },
}

fn starts_lower(text: &str) -> bool {
    text.bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase())
}

/// Go's `nextStdChunk`: the literal text before the next layout element, the element,
/// and the rest of the layout.
pub(crate) fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let bytes = layout.as_bytes();
    let zone = |z_for_utc, colons, hours_only, seconds| {
        Chunk::Zone(ZoneStyle {
            z_for_utc,
            colons,
            hours_only,
            seconds,
        })
    };
    for index in 0..bytes.len() {
        let rest = &layout[index..];
        let found: Option<(Chunk, usize)> = match bytes[index] {
            b'J' if rest.starts_with("January") => Some((Chunk::LongMonth, 7)),
            b'J' if rest.starts_with("Jan") && !starts_lower(&rest[3..]) => Some((Chunk::Month, 3)),
            b'M' if rest.starts_with("Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if rest.starts_with("Mon") && !starts_lower(&rest[3..]) => {
                Some((Chunk::WeekDay, 3))
            }
            b'M' if rest.starts_with("MST") => Some((Chunk::ZoneName, 3)),
            b'0' => match bytes.get(index + 1) {
                Some(b'1') => Some((Chunk::ZeroMonth, 2)),
                Some(b'2') => Some((Chunk::ZeroDay, 2)),
                Some(b'3') => Some((Chunk::ZeroHour12, 2)),
                Some(b'4') => Some((Chunk::ZeroMinute, 2)),
                Some(b'5') => Some((Chunk::ZeroSecond, 2)),
                Some(b'6') => Some((Chunk::Year, 2)),
                Some(b'0') if bytes.get(index + 2) == Some(&b'2') => Some((Chunk::ZeroYearDay, 3)),
                _ => None,
            },
            b'1' if rest.starts_with("15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if rest.starts_with("2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if rest.starts_with("_2006") => {
                // `_2006` is a literal underscore and a year.
                return (
                    &layout[..index + 1],
                    Some(Chunk::LongYear),
                    &layout[index + 5..],
                );
            }
            b'_' if rest.starts_with("__2") => Some((Chunk::UnderYearDay, 3)),
            b'_' if rest.starts_with("_2") => Some((Chunk::UnderDay, 2)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if rest.starts_with("PM") => Some((Chunk::PM, 2)),
            b'p' if rest.starts_with("pm") => Some((Chunk::Pm, 2)),
            b'-' if rest.starts_with("-070000") => Some((zone(false, false, false, true), 7)),
            b'-' if rest.starts_with("-07:00:00") => Some((zone(false, true, false, true), 9)),
            b'-' if rest.starts_with("-0700") => Some((zone(false, false, false, false), 5)),
            b'-' if rest.starts_with("-07:00") => Some((zone(false, true, false, false), 6)),
            b'-' if rest.starts_with("-07") => Some((zone(false, false, true, false), 3)),
            b'Z' if rest.starts_with("Z070000") => Some((zone(true, false, false, true), 7)),
            b'Z' if rest.starts_with("Z07:00:00") => Some((zone(true, true, false, true), 9)),
            b'Z' if rest.starts_with("Z0700") => Some((zone(true, false, false, false), 5)),
            b'Z' if rest.starts_with("Z07:00") => Some((zone(true, true, false, false), 6)),
            b'Z' if rest.starts_with("Z07") => Some((zone(true, false, true, false), 3)),
            separator @ (b'.' | b',') => {
                match bytes.get(index + 1) {
                    Some(&digit @ (b'0' | b'9')) => {
                        let mut end = index + 1;
                        while bytes.get(end) == Some(&digit) {
                            end += 1;
                        }
                        // Only a fraction when no other digit follows.
                        if bytes.get(end).is_some_and(u8::is_ascii_digit) {
                            None
                        } else {
                            Some((
                                Chunk::Fraction {
                                    separator: char::from(separator),
                                    digits: (end - index - 1).min(9),
                                    trim: digit == b'9',
                                },
                                end - index,
                            ))
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((chunk, length)) = found {
            return (&layout[..index], Some(chunk), &layout[index + length..]);
        }
    }
    (layout, None, "")
}

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn field(&self, name: &str) -> Option<Value> {
        let civil = self.civil();
        Some(match name {
            "Unix" => Value::Int64(self.seconds),
            "UnixNano" => Value::Int64(self.unix_nanos() as i64),
            "Year" => Value::Int(civil.year),
            "Day" => Value::Int(i64::from(civil.day)),
            "Hour" => Value::Int(i64::from(civil.hour)),
            "Minute" => Value::Int(i64::from(civil.minute)),
            "Second" => Value::Int(i64::from(civil.second)),
            "Nanosecond" => Value::Int(i64::from(self.nanos)),
            "YearDay" => Value::Int(i64::from(civil.year_day)),
            "String" => Value::from(self.go_string()),
            "IsZero" => Value::Bool(self.seconds == ZERO_SECONDS && self.nanos == 0),
            "UTC" => Value::Object(Arc::new(Time::utc(self.seconds, self.nanos))),
            "Local" => Value::Object(Arc::new(Time::local(self.seconds, self.nanos))),
            _ => return None,
        })
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match (name, args) {
            ("Format", [Value::String(layout)]) => Some(Ok(Value::from(self.format(layout)))),
            _ => None,
        }
    }

    fn display(&self) -> String {
        self.go_string()
    }

    fn kind_name(&self) -> &'static str {
        "struct"
    }

    /// `encoding/json` writes a time as RFC 3339 with nanoseconds.
    fn as_data(&self) -> Value {
        Value::from(self.format("2006-01-02T15:04:05.999999999Z07:00"))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_like_go() {
        let time = Time::utc(1_709_596_800 + 3_723, 500_000_000); // 2024-03-05 01:02:03.5
        assert_eq!(time.go_string(), "2024-03-05 01:02:03.5 +0000 UTC");
        assert_eq!(
            time.format("Mon Jan _2 15:04:05 MST 2006"),
            "Tue Mar  5 01:02:03 UTC 2024"
        );
        assert_eq!(
            time.format("2006-01-02T15:04:05Z07:00"),
            "2024-03-05T01:02:03Z"
        );
        assert_eq!(time.format("3:04PM .000 002"), "1:02AM .500 065");
        let fixed = Time {
            offset: -(7 * 3600 + 30 * 60),
            zone: Arc::from(""),
            ..time
        };
        assert_eq!(fixed.format("-07:00 MST Z0700"), "-07:30 -0730 -0730");
        assert_eq!(Time::zero().go_string(), "0001-01-01 00:00:00 +0000 UTC");
    }
}
