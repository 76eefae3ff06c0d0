//! Sprig's dates and durations: `now`, `date`, `dateInZone`, `htmlDate`,
//! `htmlDateInZone`, `unixEpoch`, `toDate`, `mustToDate`, `dateModify`,
//! `mustDateModify`, `ago`, `duration`, `durationRound` (and the snake-case aliases).
//!
//! Go type rules matter here: `date` takes a `time.Time` or Go `int`/`int64`/`int32`
//! seconds and shows anything else (a float from YAML) as now; `duration` takes `int64`
//! or a string, so a literal `95` (a Go `int`) is `0s`, as in Helm.

use std::sync::Arc;

use eddy_gotemplate::{FunctionMap, Value};

use super::{Result, arg, expect_count, register, string_arg};
use crate::time::Time;
use crate::time_parse::{SECOND, format_duration, parse_duration, parse_local, round_duration};

fn time_value(time: Time) -> Value {
    Value::Object(Arc::new(time))
}

/// A `time.Time` argument, with Go's message for anything else.
fn time_arg(args: &[Value], index: usize) -> Result<Time> {
    match args.get(index) {
        Some(Value::Nil) | None => Err("invalid value; expected time.Time".to_string()),
        Some(value) => Time::from_object(value).ok_or_else(|| {
            format!(
                "wrong type for value; expected time.Time; got {}",
                value.type_name()
            )
        }),
    }
}

/// Sprig's `dateInZone`: an unknown zone falls back to UTC.
fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    let time = Time::from_value(date);
    Time::in_zone(time.seconds, time.nanos, zone)
        .unwrap_or_else(|| Time::utc(time.seconds, time.nanos))
        .format(layout)
}

fn now_nanos() -> i128 {
    Time::now().unix_nanos()
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "now", |_, args| {
        expect_count(args, "now", 0)?;
        Ok(time_value(Time::now()))
    });
    register(map, "unixEpoch", |_, args| {
        expect_count(args, "unixEpoch", 1)?;
        Ok(Value::from(time_arg(args, 0)?.seconds.to_string()))
    });
    register(map, "date", |_, args| {
        expect_count(args, "date", 2)?;
        Ok(Value::from(date_in_zone(
            &string_arg(args, 0)?,
            &args[1],
            "Local",
        )))
    });
    for name in ["dateInZone", "date_in_zone"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 3)?;
            Ok(Value::from(date_in_zone(
                &string_arg(args, 0)?,
                &args[1],
                &string_arg(args, 2)?,
            )))
        });
    }
    register(map, "htmlDate", |_, args| {
        let date = arg(args, 0, "htmlDate", 1)?;
        Ok(Value::from(date_in_zone("2006-01-02", &date, "Local")))
    });
    register(map, "htmlDateInZone", |_, args| {
        expect_count(args, "htmlDateInZone", 2)?;
        Ok(Value::from(date_in_zone(
            "2006-01-02",
            &args[0],
            &string_arg(args, 1)?,
        )))
    });
    register(map, "toDate", |_, args| {
        expect_count(args, "toDate", 2)?;
        let (layout, text) = (string_arg(args, 0)?, string_arg(args, 1)?);
        Ok(time_value(
            parse_local(&layout, &text).unwrap_or_else(|_| Time::zero()),
        ))
    });
    register(map, "mustToDate", |_, args| {
        expect_count(args, "mustToDate", 2)?;
        let (layout, text) = (string_arg(args, 0)?, string_arg(args, 1)?);
        parse_local(&layout, &text).map(time_value)
    });
    for name in ["dateModify", "date_modify"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            let (change, time) = (string_arg(args, 0)?, time_arg(args, 1)?);
            Ok(time_value(match parse_duration(&change) {
                Ok(nanos) => time.add_nanos(nanos),
                Err(_) => time,
            }))
        });
    }
    for name in ["mustDateModify", "must_date_modify"] {
        register(map, name, move |_, args| {
            expect_count(args, name, 2)?;
            let (change, time) = (string_arg(args, 0)?, time_arg(args, 1)?);
            parse_duration(&change).map(|nanos| time_value(time.add_nanos(nanos)))
        });
    }
    register(map, "ago", |_, args| {
        let date = arg(args, 0, "ago", 1)?;
        let then = match &date {
            Value::Int(seconds) | Value::Int64(seconds) => i128::from(*seconds) * 1_000_000_000,
            other => Time::from_object(other).map_or_else(now_nanos, |time| time.unix_nanos()),
        };
        let since = (now_nanos() - then).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        Ok(Value::from(format_duration(round_duration(
            since,
            SECOND as i64,
        ))))
    });
    register(map, "duration", |_, args| {
        let seconds = match arg(args, 0, "duration", 1)? {
            Value::Int64(seconds) => seconds,
            Value::String(text) => text.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        Ok(Value::from(format_duration(
            seconds.wrapping_mul(SECOND as i64),
        )))
    });
    register(map, "durationRound", |_, args| {
        let value = arg(args, 0, "durationRound", 1)?;
        let nanos: i128 = match &value {
            Value::String(text) => i128::from(parse_duration(text).unwrap_or(0)),
            Value::Int64(nanos) => i128::from(*nanos),
            other => Time::from_object(other).map_or(0, |time| now_nanos() - time.unix_nanos()),
        };
        Ok(Value::from(round_to_unit(nanos.unsigned_abs() as u64)))
    });
}

/// Sprig's `durationRound`: the largest unit the duration exceeds, truncated.
fn round_to_unit(nanos: u64) -> String {
    const DAY: u64 = 24 * 3600 * SECOND;
    let units: [(u64, &str); 6] = [
        (365 * DAY, "y"),
        (30 * DAY, "mo"),
        (DAY, "d"),
        (3600 * SECOND, "h"),
        (60 * SECOND, "m"),
        (SECOND, "s"),
    ];
    for (unit, suffix) in units {
        if nanos > unit {
            return format!("{}{suffix}", nanos / unit);
        }
    }
    "0s".to_string()
}
