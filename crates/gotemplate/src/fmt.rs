//! Go's `fmt` package for template values: `Sprint`, `Sprintln`, `Sprintf` with Go's verbs,
//! flags, widths, precisions, and its `%!verb(type=value)` complaints.

use crate::value::{Value, write_value};

/// Go's `fmt.Sprint`: operands joined, with spaces only between two non-strings.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut previous_string = false;
    for (index, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if index > 0 && !is_string && !previous_string {
            out.push(' ');
        }
        write_value(&mut out, arg, true);
        previous_string = is_string;
    }
    out
}

/// Go's `fmt.Sprintln`: operands joined by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        write_value(&mut out, arg, true);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut arg_index = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((_, character)) = chars.next() {
        if character != '%' {
            out.push(character);
            continue;
        }
        let mut flags = Flags::default();
        while let Some(&(_, flag)) = chars.peek() {
            match flag {
                '+' => flags.plus = true,
                '-' => flags.minus = true,
                '#' => flags.sharp = true,
                ' ' => flags.space = true,
                '0' => flags.zero = true,
                _ => break,
            }
            chars.next();
        }
        // Width.
        if chars.peek().map(|(_, c)| *c) == Some('*') {
            chars.next();
            if let Some(Value::Int(width) | Value::Int64(width)) = args.get(arg_index) {
                if *width < 0 {
                    flags.minus = true;
                }
                flags.width = Some(width.unsigned_abs() as usize);
            } else {
                out.push_str("%!(BADWIDTH)");
            }
            arg_index += 1;
        } else {
            flags.width = read_number(&mut chars);
        }
        if chars.peek().map(|(_, c)| *c) == Some('.') {
            chars.next();
            if chars.peek().map(|(_, c)| *c) == Some('*') {
                chars.next();
                if let Some(Value::Int(precision) | Value::Int64(precision)) = args.get(arg_index) {
                    flags.precision = usize::try_from(*precision).ok();
                } else {
                    out.push_str("%!(BADPREC)");
                }
                arg_index += 1;
            } else {
                flags.precision = Some(read_number(&mut chars).unwrap_or(0));
            }
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(arg_index) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        arg_index += 1;
        if flags.minus {
            flags.zero = false;
        }
        format_arg(&mut out, arg, verb, flags, true);
    }
    if arg_index < args.len() {
        out.push_str("%!(EXTRA ");
        for (index, arg) in args[arg_index..].iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            if arg.is_nil() {
                out.push_str("<nil>");
            } else {
                out.push_str(&arg.type_name());
                out.push('=');
                write_value(&mut out, arg, true);
            }
        }
        out.push(')');
    }
    out
}

fn read_number(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<usize> {
    let mut number: Option<usize> = None;
    while let Some(&(_, digit)) = chars.peek() {
        let Some(value) = digit.to_digit(10) else {
            break;
        };
        number = Some(
            number
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(value as usize),
        );
        chars.next();
    }
    number
}

fn bad_verb(out: &mut String, arg: &Value, verb: char) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if arg.is_nil() {
        out.push_str("<nil>");
    } else {
        out.push_str(&arg.type_name());
        out.push('=');
        write_value(out, arg, true);
    }
    out.push(')');
}

fn pad(out: &mut String, text: &str, flags: Flags) {
    let width = flags.width.unwrap_or(0);
    let length = text.chars().count();
    if length >= width {
        out.push_str(text);
        return;
    }
    let padding = width - length;
    if flags.minus {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', padding));
    } else if flags.zero {
        // Zero padding goes after the sign.
        let (sign, digits) = match text.chars().next() {
            Some(sign @ ('+' | '-' | ' ')) => (Some(sign), &text[1..]),
            _ => (None, text),
        };
        if let Some(sign) = sign {
            out.push(sign);
        }
        out.extend(std::iter::repeat_n('0', padding));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', padding));
        out.push_str(text);
    }
}

fn format_arg(out: &mut String, arg: &Value, verb: char, flags: Flags, top: bool) {
    if verb == 'T' {
        pad(out, &arg.type_name(), flags);
        return;
    }
    match arg {
        Value::Nil => {
            if verb == 'v' || !top {
                pad(out, "<nil>", flags);
            } else {
                bad_verb(out, arg, verb);
            }
        }
        Value::Bool(value) => match verb {
            'v' | 't' => pad(out, if *value { "true" } else { "false" }, flags),
            _ => bad_verb(out, arg, verb),
        },
        Value::Int(value) | Value::Int64(value) => format_integer(out, arg, *value, verb, flags),
        Value::Float(value) => match verb {
            'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F' => {
                let verb = if verb == 'v' { 'g' } else { verb };
                let default_precision = if matches!(verb, 'e' | 'E' | 'f' | 'F') {
                    6
                } else {
                    -1
                };
                let mut text = format_float(
                    *value,
                    verb,
                    flags.precision.map_or(default_precision, |p| p as i32),
                );
                if flags.sharp && !text.contains('.') && value.is_finite() {
                    text.push('.');
                }
                if (flags.plus || flags.space) && !text.starts_with('-') && !text.starts_with('+') {
                    text.insert(0, if flags.plus { '+' } else { ' ' });
                }
                if !value.is_finite() {
                    let mut no_zero = flags;
                    no_zero.zero = false;
                    pad(out, &text, no_zero);
                } else {
                    pad(out, &text, flags);
                }
            }
            _ => bad_verb(out, arg, verb),
        },
        Value::String(text) => format_string(out, arg, text.as_bytes(), verb, flags),
        Value::Bytes(bytes) => match verb {
            's' | 'q' | 'x' | 'X' => format_string(out, arg, bytes, verb, flags),
            _ => format_sequence(
                out,
                &bytes
                    .iter()
                    .map(|b| Value::Int(i64::from(*b)))
                    .collect::<Vec<_>>(),
                verb,
                flags,
            ),
        },
        Value::List(items) => format_sequence(out, items, verb, flags),
        Value::Map(map) => {
            out.push_str("map[");
            for (index, (key, item)) in map.snapshot().iter().enumerate() {
                if index > 0 {
                    out.push(' ');
                }
                format_arg(out, &Value::from(key.as_str()), verb, flags, false);
                out.push(':');
                format_arg(out, item, verb, flags, false);
            }
            out.push(']');
        }
        Value::Object(object) => match verb {
            'v' | 's' | 'q' => {
                let display = Value::from(object.display());
                format_arg(out, &display, verb, flags, top);
            }
            _ => bad_verb(out, arg, verb),
        },
    }
}

fn format_sequence(out: &mut String, items: &[Value], verb: char, flags: Flags) {
    out.push('[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        format_arg(out, item, verb, flags, false);
    }
    out.push(']');
}

fn format_string(out: &mut String, arg: &Value, bytes: &[u8], verb: char, flags: Flags) {
    let text = String::from_utf8_lossy(bytes);
    match verb {
        'v' | 's' => {
            let shown: String = match flags.precision {
                Some(precision) => text.chars().take(precision).collect(),
                None => text.into_owned(),
            };
            pad(out, &shown, flags);
        }
        'q' => {
            let quoted = if flags.sharp
                && !text.contains('`')
                && !text.chars().any(|c| c.is_control() && c != '\t')
            {
                format!("`{text}`")
            } else {
                quote(&text)
            };
            pad(out, &quoted, flags);
        }
        'x' | 'X' => {
            let mut hex = String::new();
            for (index, byte) in bytes.iter().enumerate() {
                if flags.space && index > 0 {
                    hex.push(' ');
                }
                if verb == 'x' {
                    hex.push_str(&format!("{byte:02x}"));
                } else {
                    hex.push_str(&format!("{byte:02X}"));
                }
            }
            pad(out, &hex, flags);
        }
        _ => bad_verb(out, arg, verb),
    }
}

fn format_integer(out: &mut String, arg: &Value, value: i64, verb: char, flags: Flags) {
    let magnitude = value.unsigned_abs();
    let mut digits = match verb {
        'd' | 'v' => magnitude.to_string(),
        'b' => format!("{magnitude:b}"),
        'o' | 'O' => format!("{magnitude:o}"),
        'x' => format!("{magnitude:x}"),
        'X' => format!("{magnitude:X}"),
        'c' => {
            let character = u32::try_from(value)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            pad(out, &character.to_string(), flags);
            return;
        }
        'q' => {
            let character = u32::try_from(value)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            pad(out, &format!("'{}'", character.escape_default()), flags);
            return;
        }
        'U' => {
            pad(out, &format!("U+{magnitude:04X}"), flags);
            return;
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => {
            bad_verb(out, arg, verb);
            return;
        }
        _ => {
            bad_verb(out, arg, verb);
            return;
        }
    };
    if let Some(precision) = flags.precision {
        while digits.len() < precision {
            digits.insert(0, '0');
        }
        if precision == 0 && value == 0 {
            digits.clear();
        }
    }
    if flags.sharp {
        match verb {
            'x' => digits.insert_str(0, "0x"),
            'X' => digits.insert_str(0, "0X"),
            'o' if !digits.starts_with('0') => digits.insert(0, '0'),
            'b' => digits.insert_str(0, "0b"),
            _ => {}
        }
    }
    if verb == 'O' {
        digits.insert_str(0, "0o");
    }
    if value < 0 {
        digits.insert(0, '-');
    } else if flags.plus {
        digits.insert(0, '+');
    } else if flags.space {
        digits.insert(0, ' ');
    }
    let mut flags = flags;
    if flags.precision.is_some() {
        flags.zero = false;
    }
    pad(out, &digits, flags);
}

/// Go's `strconv.Quote`.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            '\u{FFFD}' => out.push_str("\\ufffd"),
            character if is_printable(character) => out.push(character),
            character if (character as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", character as u32));
            }
            character if (character as u32) < 0x10000 => {
                out.push_str(&format!("\\u{:04x}", character as u32));
            }
            character => out.push_str(&format!("\\U{:08x}", character as u32)),
        }
    }
    out.push('"');
    out
}

fn is_printable(character: char) -> bool {
    if character.is_ascii() {
        return (' '..='~').contains(&character);
    }
    !character.is_control() && !matches!(character as u32, 0xAD | 0x2028 | 0x2029 | 0xFEFF)
}

/// Decimal digits and decimal-point position of a finite non-negative float, rounded to
/// `significant` digits (shortest round-trip digits when `None`), trailing zeros trimmed.
fn decimal_digits(value: f64, significant: Option<usize>) -> (Vec<u8>, i32) {
    if value == 0.0 {
        return (Vec::new(), 0);
    }
    let scientific = match significant {
        Some(digits) => format!("{:.*e}", digits.saturating_sub(1), value),
        None => format!("{value:e}"),
    };
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exponent + 1)
}

/// Go's `strconv.FormatFloat(value, 'g', precision, 64)` with `%v`'s exponent rule.
pub fn format_float_g(value: f64, precision: i32, exponent_char: char) -> String {
    let verb = if exponent_char == 'E' { 'G' } else { 'g' };
    format_float(value, verb, precision)
}

/// Go's `strconv.FormatFloat` for the verbs `e E f F g G`; a negative precision means
/// the shortest representation that round-trips.
pub fn format_float(value: f64, verb: char, precision: i32) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    let negative = value.is_sign_negative();
    let magnitude = value.abs();
    let shortest = precision < 0;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    match verb {
        'e' | 'E' => {
            let (digits, point) = if shortest {
                decimal_digits(magnitude, None)
            } else {
                decimal_digits(magnitude, Some(precision as usize + 1))
            };
            let precision = if shortest {
                digits.len().saturating_sub(1)
            } else {
                precision as usize
            };
            write_exponent_form(&mut out, &digits, point, precision, verb);
        }
        'f' | 'F' => {
            if shortest {
                out.push_str(&format!("{magnitude}"));
                if out.ends_with(".0") {
                    out.truncate(out.len() - 2);
                }
            } else {
                out.push_str(&format!("{:.*}", precision as usize, magnitude));
            }
        }
        _ => {
            let (digits, point) = if shortest {
                decimal_digits(magnitude, None)
            } else {
                decimal_digits(magnitude, Some((precision.max(1)) as usize))
            };
            let number_digits = digits.len() as i32;
            let mut precision = if shortest {
                number_digits
            } else {
                precision.max(1)
            };
            let mut exponent_precision = precision;
            if exponent_precision > number_digits && number_digits >= point {
                exponent_precision = number_digits;
            }
            if shortest {
                exponent_precision = 6;
            }
            let exponent = point - 1;
            if exponent < -4 || exponent >= exponent_precision {
                if precision > number_digits {
                    precision = number_digits;
                }
                let exponent_verb = if verb == 'G' { 'E' } else { 'e' };
                write_exponent_form(
                    &mut out,
                    &digits,
                    point,
                    (precision - 1).max(0) as usize,
                    exponent_verb,
                );
            } else {
                if precision > point {
                    precision = number_digits;
                }
                let decimals = (precision - point).max(0) as usize;
                write_fixed_form(&mut out, &digits, point, decimals);
            }
        }
    }
    out
}

fn digit_at(digits: &[u8], index: i32) -> char {
    if index < 0 {
        return '0';
    }
    digits
        .get(index as usize)
        .map_or('0', |digit| *digit as char)
}

fn write_exponent_form(out: &mut String, digits: &[u8], point: i32, precision: usize, verb: char) {
    out.push(digit_at(digits, 0));
    if precision > 0 {
        out.push('.');
        for index in 1..=precision {
            out.push(digit_at(digits, index as i32));
        }
    }
    out.push(verb);
    let exponent = if digits.is_empty() { 0 } else { point - 1 };
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
}

fn write_fixed_form(out: &mut String, digits: &[u8], point: i32, decimals: usize) {
    if point > 0 {
        for index in 0..point {
            out.push(digit_at(digits, index));
        }
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        for index in 0..decimals as i32 {
            out.push(digit_at(digits, point + index));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_percent_v() {
        assert_eq!(format_float(1_000_000.0, 'g', -1), "1e+06");
        assert_eq!(format_float(100_000.0, 'g', -1), "100000");
        assert_eq!(format_float(1.5, 'g', -1), "1.5");
        assert_eq!(format_float(0.0001, 'g', -1), "0.0001");
        assert_eq!(format_float(0.00001, 'g', -1), "1e-05");
        assert_eq!(format_float(123_456_789.0, 'g', -1), "1.23456789e+08");
        assert_eq!(format_float(0.0, 'g', -1), "0");
        assert_eq!(format_float(-2.5, 'g', -1), "-2.5");
    }

    #[test]
    fn printf_pads_and_complains_like_go() {
        assert_eq!(
            sprintf(
                "%05.2f|%-4d|%3s",
                &[Value::Float(3.14659), Value::Int(7), Value::from("a")]
            ),
            "03.15|7   |  a"
        );
        assert_eq!(sprintf("%s", &[Value::Float(1.0)]), "%!s(float64=1)");
        assert_eq!(sprintf("%d %s", &[Value::Int(1)]), "1 %!s(MISSING)");
        assert_eq!(
            sprintf("%d", &[Value::Int(1), Value::from("x")]),
            "1%!(EXTRA string=x)"
        );
        assert_eq!(sprintf("%q", &[Value::from("a\"b")]), "\"a\\\"b\"");
        assert_eq!(sprintf("%v", &[Value::Nil]), "<nil>");
        assert_eq!(sprintf("%s", &[Value::Nil]), "%!s(<nil>)");
        assert_eq!(sprintf("%x", &[Value::Int(255)]), "ff");
        assert_eq!(sprintf("%.3e", &[Value::Float(1234.5)]), "1.234e+03");
        assert_eq!(sprintf("%g", &[Value::Float(1e21)]), "1e+21");
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        assert_eq!(
            sprint(&[
                Value::from("a"),
                Value::Int(1),
                Value::Int(2),
                Value::from("b")
            ]),
            "a1 2b"
        );
    }
}
