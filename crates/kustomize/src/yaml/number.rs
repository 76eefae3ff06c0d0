//! Number syntax and formatting as Go's `strconv`, `encoding/json` and yaml.v2 do it.
//!
//! kustomize prints a resource by encoding it as JSON and re-reading that JSON with yaml.v2,
//! so a float goes through two formatters: JSON's (`1e20` becomes `100000000000000000000`)
//! and, when the result no longer reads as an integer, yaml.v2's `%g`-like shortest form.

use crate::value::Value;

/// Parses an integer as Go's `strconv.ParseInt(text, 0, 64)` (then `ParseUint`) would.
pub(crate) fn parse_go_int(text: &str) -> Option<Value> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if unsigned.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(rest) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = unsigned
        .strip_prefix("0o")
        .or_else(|| unsigned.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = unsigned
        .strip_prefix("0b")
        .or_else(|| unsigned.strip_prefix("0B"))
    {
        (2, rest)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    if digits.is_empty() || !digits.chars().all(|digit| digit.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 {
            Some(Value::Int(-(magnitude as i64)))
        } else if magnitude == i64::MAX as u64 + 1 {
            Some(Value::Int(i64::MIN))
        } else {
            None
        }
    } else if magnitude <= i64::MAX as u64 {
        Some(Value::Int(magnitude as i64))
    } else {
        Some(Value::UInt(magnitude))
    }
}

/// Parses a float written in YAML's float syntax (`[-+]?(\.d+|d+(\.d*)?)([eE][-+]?d+)?`).
pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut index = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        index += 1;
    }
    let integer_start = index;
    while index < bytes.len() && bytes[index].is_ascii_digit() {
        index += 1;
    }
    let integer_digits = index - integer_start;
    if index < bytes.len() && bytes[index] == b'.' {
        index += 1;
        let fraction_start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        if integer_digits == 0 && index == fraction_start {
            return None;
        }
    } else if integer_digits == 0 {
        return None;
    }
    if index < bytes.len() && matches!(bytes[index], b'e' | b'E') {
        index += 1;
        if matches!(bytes.get(index), Some(b'-' | b'+')) {
            index += 1;
        }
        let exponent_start = index;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        if index == exponent_start {
            return None;
        }
    }
    if index != bytes.len() {
        return None;
    }
    // Go's ParseFloat reports a range error for `2E801`, and yaml.v3 then keeps the scalar a
    // string; Rust's parse returns infinity instead.
    text.parse::<f64>().ok().filter(|number| number.is_finite())
}

/// Shortest digits and decimal exponent of a finite float: `(negative, digits, exponent)` with
/// the value equal to `0.digits × 10^(exponent + 1)`… expressed as `d.ddd × 10^exponent`.
fn shortest_digits(number: f64) -> (bool, String, i32) {
    let text = format!("{:e}", number);
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (negative, digits, exponent.parse().unwrap_or(0))
}

/// Formats `d.ddde±XX` as Go's `strconv.FormatFloat(f, 'e', -1, 64)`.
fn format_exponent(number: f64) -> String {
    if !number.is_finite() {
        // strconv.FormatFloat's spellings.
        return if number.is_nan() {
            "NaN".to_string()
        } else if number > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    let (negative, digits, exponent) = shortest_digits(number);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
    out
}

/// Formats a float as Go's `encoding/json` does.
pub(crate) fn go_json_float(number: f64) -> String {
    let magnitude = number.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let mut text = format_exponent(number);
        // encoding/json trims `e-07` to `e-7`.
        let length = text.len();
        if length >= 4
            && text.as_bytes()[length - 4] == b'e'
            && &text[length - 3..length - 1] == "-0"
        {
            text.remove(length - 2);
        }
        text
    } else if number == 0.0 {
        if number.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        }
    } else {
        format!("{}", number)
    }
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_format_g(number: f64) -> String {
    if number == 0.0 {
        return if number.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (_, _, exponent) = shortest_digits(number);
    if !(-4..6).contains(&exponent) {
        format_exponent(number)
    } else {
        format!("{}", number)
    }
}

/// The text kustomize prints for a float: JSON first, then yaml.v2's reading of that JSON.
pub(crate) fn output_float(number: f64) -> String {
    let json = go_json_float(number);
    if let Some(integer) = parse_go_int(&json)
        && !json.starts_with("-0")
    {
        return match integer {
            Value::Int(value) => value.to_string(),
            Value::UInt(value) => value.to_string(),
            _ => json,
        };
    }
    if json == "-0" {
        return "0".into();
    }
    go_format_g(json.parse::<f64>().unwrap_or(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_kustomize_prints_them() {
        assert_eq!(output_float(1.0), "1");
        assert_eq!(output_float(1.5), "1.5");
        assert_eq!(output_float(3.14e20), "3.14e+20");
        assert_eq!(output_float(1e-7), "1e-07");
        assert_eq!(output_float(0.000001), "1e-06");
        assert_eq!(output_float(1234567.0), "1234567");
        assert_eq!(
            output_float(123456789123456789123.0),
            "1.234567891234568e+20"
        );
        assert_eq!(output_float(1e21), "1e+21");
        assert_eq!(output_float(1e23), "1e+23");
    }

    #[test]
    fn go_integer_prefixes_are_understood() {
        assert_eq!(parse_go_int("012"), Some(Value::Int(10)));
        assert_eq!(parse_go_int("0o17"), Some(Value::Int(15)));
        assert_eq!(parse_go_int("+12"), Some(Value::Int(12)));
        assert_eq!(parse_go_int("08"), None);
    }
}
