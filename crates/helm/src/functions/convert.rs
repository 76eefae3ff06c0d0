//! Sprig's conversions (the `cast` library's rules), defaults and logic (`default`,
//! `empty`, `coalesce`, `ternary`), types (`typeOf`, `kindIs`) and arithmetic.

use eddy_gotemplate::{FunctionMap, Value};

use super::{Result, arg, expect_count, register};

/// Sprig's `strval`: strings as they are, everything else as `%v` prints it.
pub fn strval(value: &Value) -> String {
    match value {
        Value::String(text) => text.to_string(),
        Value::Bytes(bytes) => String::from_utf8_lossy(bytes).to_string(),
        other => other.to_go_string(),
    }
}

fn parse_go_integer(text: &str) -> Option<i64> {
    let trimmed = trim_zero_decimal(text);
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let lower = body.to_ascii_lowercase();
    let magnitude = if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(octal) = lower.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()?
    } else if let Some(binary) = lower.strip_prefix("0b") {
        i64::from_str_radix(binary, 2).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        lower.parse::<i64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// cast's `trimZeroDecimal`: `"12.0"` parses as an integer.
fn trim_zero_decimal(text: &str) -> &str {
    let Some(dot) = text.find('.') else {
        return text;
    };
    if text[dot + 1..].chars().all(|c| c == '0') && dot > 0 {
        return &text[..dot];
    }
    text
}

/// cast's `ToInt64`.
pub(crate) fn to_int(value: &Value) -> i64 {
    match value {
        Value::Int(number) | Value::Int64(number) => *number,
        Value::Float(number) => *number as i64,
        Value::String(text) => parse_go_integer(text).unwrap_or(0),
        Value::Bool(value) => i64::from(*value),
        _ => 0,
    }
}

/// cast's `ToFloat64`.
pub(crate) fn to_float(value: &Value) -> f64 {
    match value {
        Value::Int(number) | Value::Int64(number) => *number as f64,
        Value::Float(number) => *number,
        Value::String(text) => text.parse::<f64>().unwrap_or(0.0),
        Value::Bool(true) => 1.0,
        Value::Bool(false) => 0.0,
        _ => 0.0,
    }
}

/// Sprig's `empty`.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Nil => true,
        Value::Bool(value) => !value,
        Value::Int(number) | Value::Int64(number) => *number == 0,
        Value::Float(number) => *number == 0.0,
        Value::String(text) => text.is_empty(),
        Value::Bytes(bytes) => bytes.is_empty(),
        Value::List(items) => items.is_empty(),
        Value::Map(map) => map.is_empty(),
        Value::Object(_) => false,
    }
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "default", |_, args| {
        if args.is_empty() {
            return Err("wrong number of args for default: want at least 1 got 0".to_string());
        }
        let fallback = args[0].clone();
        match args.get(1) {
            Some(given) if !is_empty(given) => Ok(given.clone()),
            _ => Ok(fallback),
        }
    });
    register(map, "empty", |_, args| {
        Ok(Value::Bool(is_empty(&arg(args, 0, "empty", 1)?)))
    });
    register(map, "coalesce", |_, args| {
        Ok(args
            .iter()
            .find(|value| !is_empty(value))
            .cloned()
            .unwrap_or(Value::Nil))
    });
    register(map, "all", |_, args| {
        Ok(Value::Bool(args.iter().all(|value| !is_empty(value))))
    });
    register(map, "any", |_, args| {
        Ok(Value::Bool(args.iter().any(|value| !is_empty(value))))
    });
    register(map, "ternary", |_, args| {
        expect_count(args, "ternary", 3)?;
        match &args[2] {
            Value::Bool(condition) => Ok(if *condition {
                args[0].clone()
            } else {
                args[1].clone()
            }),
            Value::Nil => Err("invalid value; expected bool".to_string()),
            other => Err(format!(
                "wrong type for value; expected bool; got {}",
                other.type_name()
            )),
        }
    });
    register(map, "toString", |_, args| {
        Ok(Value::from(strval(&arg(args, 0, "toString", 1)?)))
    });
    register(map, "toStrings", |_, args| {
        let value = arg(args, 0, "toStrings", 1)?;
        Ok(Value::from(
            string_list(&value)
                .into_iter()
                .map(Value::from)
                .collect::<Vec<_>>(),
        ))
    });
    register(map, "int", |_, args| {
        Ok(Value::Int(to_int(&arg(args, 0, "int", 1)?)))
    });
    register(map, "int64", |_, args| {
        Ok(Value::Int64(to_int(&arg(args, 0, "int64", 1)?)))
    });
    register(map, "float64", |_, args| {
        Ok(Value::Float(to_float(&arg(args, 0, "float64", 1)?)))
    });
    register(map, "atoi", |_, args| {
        let text = strval(&arg(args, 0, "atoi", 1)?);
        Ok(Value::Int(text.parse::<i64>().unwrap_or(0)))
    });
    register(map, "toDecimal", |_, args| {
        let text = strval(&arg(args, 0, "toDecimal", 1)?);
        Ok(Value::Int64(i64::from_str_radix(&text, 8).unwrap_or(0)))
    });
    register(map, "typeOf", |_, args| {
        Ok(Value::from(arg(args, 0, "typeOf", 1)?.type_name()))
    });
    register(map, "kindOf", |_, args| {
        Ok(Value::from(arg(args, 0, "kindOf", 1)?.kind_name()))
    });
    register(map, "typeIs", |_, args| {
        expect_count(args, "typeIs", 2)?;
        Ok(Value::Bool(strval(&args[0]) == args[1].type_name()))
    });
    register(map, "typeIsLike", |_, args| {
        expect_count(args, "typeIsLike", 2)?;
        let wanted = strval(&args[0]);
        let actual = args[1].type_name();
        // Sprig: the target matches the type or the type is a pointer to it.
        Ok(Value::Bool(
            wanted == actual || format!("*{wanted}") == actual,
        ))
    });
    register(map, "kindIs", |_, args| {
        expect_count(args, "kindIs", 2)?;
        Ok(Value::Bool(strval(&args[0]) == args[1].kind_name()))
    });
    register(map, "deepEqual", |_, args| {
        expect_count(args, "deepEqual", 2)?;
        Ok(Value::Bool(deep_equal(&args[0], &args[1])))
    });
    register_math(map);
}

/// `reflect.DeepEqual` on template values (types must match too).
pub(crate) fn deep_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
        (Value::Int(_), Value::Int64(_)) | (Value::Int64(_), Value::Int(_)) => false,
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| deep_equal(x, y))
        }
        (Value::Map(a), Value::Map(b)) => {
            if a.ptr_eq(b) {
                return true;
            }
            let (a, b) = (a.snapshot(), b.snapshot());
            a.len() == b.len()
                && a.iter()
                    .all(|(key, value)| b.get(key).is_some_and(|other| deep_equal(value, other)))
        }
        _ => left == right,
    }
}

/// Sprig's `strslice`: a list as strings (nils dropped), a scalar as one string.
pub(crate) fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::List(items) => items
            .iter()
            .filter(|item| !item.is_nil())
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn register_math(map: &mut FunctionMap) {
    register(map, "add", |_, args| {
        Ok(Value::Int64(
            args.iter().map(to_int).fold(0i64, i64::wrapping_add),
        ))
    });
    register(map, "add1", |_, args| {
        Ok(Value::Int64(
            to_int(&arg(args, 0, "add1", 1)?).wrapping_add(1),
        ))
    });
    register(map, "sub", |_, args| {
        expect_count(args, "sub", 2)?;
        Ok(Value::Int64(
            to_int(&args[0]).wrapping_sub(to_int(&args[1])),
        ))
    });
    register(map, "mul", |_, args| {
        if args.is_empty() {
            return Err("wrong number of args for mul: want at least 1 got 0".to_string());
        }
        Ok(Value::Int64(
            args.iter().map(to_int).fold(1i64, i64::wrapping_mul),
        ))
    });
    register(map, "div", |_, args| {
        expect_count(args, "div", 2)?;
        let divisor = to_int(&args[1]);
        if divisor == 0 {
            return Err("runtime error: integer divide by zero".to_string());
        }
        Ok(Value::Int64(to_int(&args[0]).wrapping_div(divisor)))
    });
    register(map, "mod", |_, args| {
        expect_count(args, "mod", 2)?;
        let divisor = to_int(&args[1]);
        if divisor == 0 {
            return Err("runtime error: integer divide by zero".to_string());
        }
        Ok(Value::Int64(to_int(&args[0]).wrapping_rem(divisor)))
    });
    let max = |_: &mut eddy_gotemplate::State, args: &[Value]| -> Result<Value> {
        Ok(Value::Int64(args.iter().map(to_int).max().unwrap_or(0)))
    };
    register(map, "max", max);
    register(map, "biggest", max);
    register(map, "min", |_, args| {
        Ok(Value::Int64(args.iter().map(to_int).min().unwrap_or(0)))
    });
    register(map, "addf", |_, args| {
        Ok(Value::Float(decimal_fold(0.0, args, Operation::Add)))
    });
    register(map, "add1f", |_, args| {
        let value = arg(args, 0, "add1f", 1)?;
        Ok(Value::Float(decimal_fold(
            1.0,
            std::slice::from_ref(&value),
            Operation::Add,
        )))
    });
    register(map, "subf", |_, args| {
        let first = args.first().map_or(0.0, to_float);
        Ok(Value::Float(decimal_fold(
            first,
            args.get(1..).unwrap_or_default(),
            Operation::Subtract,
        )))
    });
    register(map, "mulf", |_, args| {
        Ok(Value::Float(decimal_fold(1.0, args, Operation::Multiply)))
    });
    register(map, "divf", |_, args| {
        let first = args.first().map_or(0.0, to_float);
        Ok(Value::Float(decimal_fold(
            first,
            args.get(1..).unwrap_or_default(),
            Operation::Divide,
        )))
    });
    register(map, "maxf", |_, args| {
        Ok(Value::Float(
            args.iter().map(to_float).fold(f64::NEG_INFINITY, f64::max),
        ))
    });
    register(map, "minf", |_, args| {
        Ok(Value::Float(
            args.iter().map(to_float).fold(f64::INFINITY, f64::min),
        ))
    });
    register(map, "floor", |_, args| {
        Ok(Value::Float(to_float(&arg(args, 0, "floor", 1)?).floor()))
    });
    register(map, "ceil", |_, args| {
        Ok(Value::Float(to_float(&arg(args, 0, "ceil", 1)?).ceil()))
    });
    register(map, "round", |_, args| {
        if args.len() < 2 {
            return Err(format!(
                "wrong number of args for round: want at least 2 got {}",
                args.len()
            ));
        }
        let value = to_float(&args[0]);
        let places = to_int(&args[1]) as i32;
        let threshold = args.get(2).map_or(0.5, to_float);
        let power = 10f64.powi(places);
        let digit = value * power;
        let (whole, fraction) = (digit.trunc(), digit.fract().abs());
        let rounded = if fraction >= threshold {
            whole + digit.signum()
        } else {
            whole
        };
        Ok(Value::Float(rounded / power))
    });
    register(map, "until", |_, args| {
        let count = to_int(&arg(args, 0, "until", 1)?);
        let step = if count < 0 { -1 } else { 1 };
        Ok(Value::from(range_values(0, count, step)?))
    });
    register(map, "untilStep", |_, args| {
        expect_count(args, "untilStep", 3)?;
        Ok(Value::from(range_values(
            to_int(&args[0]),
            to_int(&args[1]),
            to_int(&args[2]),
        )?))
    });
    register(map, "seq", |_, args| {
        let numbers: Vec<i64> = args.iter().map(to_int).collect();
        let (start, end, step) = match numbers.as_slice() {
            [] => return Ok(Value::from("")),
            [end] => (1, *end, if *end < 1 { -1 } else { 1 }),
            [start, end] => (*start, *end, if end < start { -1 } else { 1 }),
            [start, step, end, ..] => (*start, *end, *step),
        };
        if step == 0 || (end > start && step < 0) || (end < start && step > 0) {
            return Ok(Value::from(""));
        }
        let mut out = Vec::new();
        let mut current = start;
        while (step > 0 && current <= end) || (step < 0 && current >= end) {
            out.push(current.to_string());
            if out.len() > 10_000_000 {
                return Err("seq: too many values".to_string());
            }
            current += step;
        }
        Ok(Value::from(out.join(" ")))
    });
}

/// Most values `until`/`untilStep` will build; Sprig has no limit, but a list this
/// long is a runaway template, not a chart.
const MAX_SEQUENCE: u64 = 10_000_000;

fn range_values(start: i64, stop: i64, step: i64) -> Result<Vec<Value>> {
    if step == 0 {
        return Ok(Vec::new());
    }
    let span = if step > 0 {
        stop.saturating_sub(start)
    } else {
        start.saturating_sub(stop)
    };
    let count = if span <= 0 {
        0
    } else {
        (span as u64).div_ceil(step.unsigned_abs())
    };
    if count > MAX_SEQUENCE {
        return Err(format!(
            "sequence of {count} values exceeds the limit of {MAX_SEQUENCE}"
        ));
    }
    let mut values = Vec::with_capacity(count as usize);
    let mut current = start;
    while (step > 0 && current < stop) || (step < 0 && current > stop) {
        values.push(Value::Int(current));
        current += step;
    }
    Ok(values)
}

#[derive(Clone, Copy)]
enum Operation {
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// A float as shopspring/decimal's `NewFromFloat` sees it: its shortest decimal digits.
fn decimal(value: f64) -> Option<(i128, i32)> {
    if !value.is_finite() {
        return None;
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let fraction_digits = mantissa
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len()) as i32;
    let magnitude: i128 = digits.parse().ok()?;
    Some((
        if negative { -magnitude } else { magnitude },
        exponent - fraction_digits,
    ))
}

fn scale(mantissa: i128, by: i32) -> Option<i128> {
    10i128
        .checked_pow(u32::try_from(by).ok()?)
        .and_then(|power| mantissa.checked_mul(power))
}

fn decimal_to_float((mantissa, exponent): (i128, i32)) -> f64 {
    format!("{mantissa}e{exponent}").parse().unwrap_or(f64::NAN)
}

/// Sprig's `addf`/`subf`/`mulf`/`divf`: exact decimal arithmetic on the floats' shortest
/// decimal forms (so `addf 0.1 0.2` is `0.3`), division rounded to 16 places.
fn decimal_fold(start: f64, args: &[Value], operation: Operation) -> f64 {
    let mut accumulator = start;
    for arg in args {
        let value = to_float(arg);
        let exact = (|| {
            let (left, right) = (decimal(accumulator)?, decimal(value)?);
            match operation {
                Operation::Add | Operation::Subtract => {
                    let exponent = left.1.min(right.1);
                    let a = scale(left.0, left.1 - exponent)?;
                    let b = scale(right.0, right.1 - exponent)?;
                    let sum = match operation {
                        Operation::Add => a.checked_add(b)?,
                        _ => a.checked_sub(b)?,
                    };
                    Some(decimal_to_float((sum, exponent)))
                }
                Operation::Multiply => Some(decimal_to_float((
                    left.0.checked_mul(right.0)?,
                    left.1 + right.1,
                ))),
                Operation::Divide => {
                    if value == 0.0 {
                        return None;
                    }
                    let quotient = accumulator / value;
                    format!("{quotient:.16}").parse::<f64>().ok()
                }
            }
        })();
        accumulator = exact.unwrap_or(match operation {
            Operation::Add => accumulator + value,
            Operation::Subtract => accumulator - value,
            Operation::Multiply => accumulator * value,
            Operation::Divide => accumulator / value,
        });
    }
    accumulator
}
