//! A minimal Go `time.Time` for Sprig's `now`, `date`, `unixEpoch` (UTC only).

use eddy_gotemplate::{Object, Value};

/// An instant, in UTC.
#[derive(Clone, Copy, Debug)]
pub struct Time {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Time {
    /// The current time.
    pub fn now() -> Time {
        let elapsed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            seconds: elapsed.as_secs() as i64,
            nanos: elapsed.subsec_nanos(),
        }
    }

    /// Sprig's `toDate`-like coercion: a `Time` object, or a number of seconds.
    pub fn from_value(value: &Value) -> Time {
        match value {
            Value::Object(object) => match object.field("Unix") {
                Some(Value::Int(seconds) | Value::Int64(seconds)) => Time { seconds, nanos: 0 },
                _ => Time::now(),
            },
            Value::Int(seconds) | Value::Int64(seconds) => Time {
                seconds: *seconds,
                nanos: 0,
            },
            Value::Float(seconds) => Time {
                seconds: *seconds as i64,
                nanos: 0,
            },
            _ => Time::now(),
        }
    }

    fn civil(&self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = self.seconds.div_euclid(86_400);
        let seconds_of_day = self.seconds.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil algorithm.
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
        let weekday = (days + 4).rem_euclid(7) as u32;
        (
            year,
            month,
            day,
            (seconds_of_day / 3600) as u32,
            ((seconds_of_day / 60) % 60) as u32,
            (seconds_of_day % 60) as u32,
            weekday,
        )
    }

    /// Formats with a Go layout (`2006-01-02T15:04:05Z07:00`).
    pub fn format(&self, layout: &str) -> String {
        const MONTHS: [&str; 12] = [
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
        const DAYS: [&str; 7] = [
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
        ];
        let (year, month, day, hour, minute, second, weekday) = self.civil();
        let tokens: &[(&str, String)] = &[
            ("2006", format!("{year:04}")),
            ("January", MONTHS[(month - 1) as usize].to_string()),
            ("Jan", MONTHS[(month - 1) as usize][..3].to_string()),
            ("Monday", DAYS[weekday as usize].to_string()),
            ("Mon", DAYS[weekday as usize][..3].to_string()),
            ("MST", "UTC".to_string()),
            ("Z07:00", "Z".to_string()),
            ("-07:00", "+00:00".to_string()),
            ("-0700", "+0000".to_string()),
            (".000000000", format!(".{:09}", self.nanos)),
            (".000000", format!(".{:06}", self.nanos / 1000)),
            (".000", format!(".{:03}", self.nanos / 1_000_000)),
            ("01", format!("{month:02}")),
            ("02", format!("{day:02}")),
            ("_2", format!("{day:>2}")),
            ("15", format!("{hour:02}")),
            (
                "03",
                format!("{:02}", if hour % 12 == 0 { 12 } else { hour % 12 }),
            ),
            ("04", format!("{minute:02}")),
            ("05", format!("{second:02}")),
            ("06", format!("{:02}", year % 100)),
            ("PM", if hour >= 12 { "PM" } else { "AM" }.to_string()),
            ("pm", if hour >= 12 { "pm" } else { "am" }.to_string()),
            ("1", month.to_string()),
            ("2", day.to_string()),
            (
                "3",
                (if hour % 12 == 0 { 12 } else { hour % 12 }).to_string(),
            ),
            ("4", minute.to_string()),
            ("5", second.to_string()),
        ];
        let mut out = String::new();
        let mut rest = layout;
        'outer: while !rest.is_empty() {
            for (token, replacement) in tokens {
                if let Some(after) = rest.strip_prefix(token) {
                    out.push_str(replacement);
                    rest = after;
                    continue 'outer;
                }
            }
            let mut chars = rest.chars();
            if let Some(character) = chars.next() {
                out.push(character);
            }
            rest = chars.as_str();
        }
        out
    }
}

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Unix" => Value::Int64(self.seconds),
            "Year" => Value::Int(self.civil().0),
            _ => return None,
        })
    }

    fn display(&self) -> String {
        self.format("2006-01-02 15:04:05.000000000 -0700 MST")
    }
}
