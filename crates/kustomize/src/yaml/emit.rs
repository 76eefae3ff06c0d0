//! Printing a [`Value`] exactly as kustomize does: `yaml.JSONToYAML` over the resource's JSON.
//!
//! That path ends in yaml.v2's encoder, a port of libyaml's emitter. Its observable rules are
//! reproduced here: mapping keys sorted with yaml.v2's "natural" order (digit runs compare as
//! numbers), sequences not indented under their key, strings plain unless they would read back
//! as another type (then double-quoted) or contain characters a plain scalar cannot hold (then
//! single- or double-quoted), multi-line strings as literal blocks, and long plain or quoted
//! strings folded at the first space past column 80.

use std::cmp::Ordering;

use super::number::{output_float, parse_go_float, parse_go_int};
use crate::value::Value;

const BEST_INDENT: i64 = 2;
const BEST_WIDTH: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// Writes one document, ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut emitter = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        open_ended: false,
        indent: -1,
        indents: Vec::new(),
        flow_level: 0,
    };
    emitter.emit_node(value, false, false, false);
    emitter.write_indent();
    if emitter.open_ended {
        emitter.write_indicator("...", true, false, false);
        emitter.write_indent();
    }
    emitter.out
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    indent: i64,
    indents: Vec<i64>,
    flow_level: usize,
}

struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

impl Emitter {
    fn put(&mut self, character: char) {
        self.out.push(character);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for character in indicator.chars() {
            self.put(character);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn emit_node(&mut self, value: &Value, in_sequence: bool, in_mapping: bool, simple_key: bool) {
        match value {
            Value::Seq(items) => self.emit_sequence(items, in_mapping),
            Value::Map(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|left, right| natural_key_order(left.0, right.0));
                self.emit_mapping(&entries);
            }
            scalar => {
                let _ = in_sequence;
                self.emit_scalar(scalar, simple_key);
            }
        }
    }

    fn emit_sequence(&mut self, items: &[Value], in_mapping: bool) {
        if self.flow_level > 0 || items.is_empty() {
            self.write_indicator("[", true, true, false);
            self.increase_indent(true, false);
            self.flow_level += 1;
            // Only empty sequences reach flow style: nothing comes from kustomize in flow.
            self.flow_level -= 1;
            self.pop_indent();
            self.write_indicator("]", false, false, false);
            return;
        }
        self.increase_indent(false, in_mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.emit_node(item, true, false, false);
        }
        self.pop_indent();
    }

    fn emit_mapping(&mut self, entries: &[(&String, &Value)]) {
        if self.flow_level > 0 || entries.is_empty() {
            self.write_indicator("{", true, true, false);
            self.write_indicator("}", false, false, false);
            return;
        }
        self.increase_indent(false, false);
        for (key, value) in entries {
            self.write_indent();
            let key_value = Value::String((*key).clone());
            let analysis = analyze(key);
            let simple = key.chars().count() <= 128 && !analysis.multiline;
            if simple {
                self.emit_scalar(&key_value, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.emit_node(&key_value, false, true, false);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.emit_node(value, false, true, false);
        }
        self.pop_indent();
    }

    fn emit_scalar(&mut self, value: &Value, simple_key: bool) {
        let (text, preferred) = match value {
            Value::Null => ("null".to_string(), Style::Plain),
            Value::Bool(flag) => (flag.to_string(), Style::Plain),
            Value::Int(number) => (number.to_string(), Style::Plain),
            Value::UInt(number) => (number.to_string(), Style::Plain),
            Value::Float(number) => (output_float(*number), Style::Plain),
            Value::String(text) => {
                let style = if text.contains('\n') {
                    Style::Literal
                } else if reads_back_as_string(text) {
                    Style::Plain
                } else {
                    Style::DoubleQuoted
                };
                (text.clone(), style)
            }
            Value::Seq(_) | Value::Map(_) => return,
        };
        let analysis = analyze(&text);
        let mut style = preferred;
        if simple_key && analysis.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain {
            let plain_allowed = if self.flow_level > 0 {
                analysis.flow_plain_allowed
            } else {
                analysis.block_plain_allowed
            };
            if !plain_allowed || (text.is_empty() && (self.flow_level > 0 || simple_key)) {
                style = Style::SingleQuoted;
            }
        }
        if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!analysis.block_allowed || self.flow_level > 0 || simple_key)
        {
            style = Style::DoubleQuoted;
        }
        self.increase_indent(true, false);
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(&text, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(&text, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(&text, allow_breaks),
            Style::Literal => self.write_literal(&text),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let characters: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        for (index, &character) in characters.iter().enumerate() {
            if character == ' ' {
                let next_is_space = characters.get(index + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.write_indent();
                } else {
                    self.put(character);
                }
                spaces = true;
            } else if is_break(character) {
                if !breaks && character == '\n' {
                    self.put_break();
                }
                self.put_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(character);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let characters: Vec<char> = text.chars().collect();
        let last = characters.len().saturating_sub(1);
        let mut spaces = false;
        let mut breaks = false;
        for (index, &character) in characters.iter().enumerate() {
            if character == ' ' {
                let next_is_space = characters.get(index + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && index != 0
                    && index != last
                    && !next_is_space
                {
                    self.write_indent();
                } else {
                    self.put(character);
                }
                spaces = true;
            } else if is_break(character) {
                if !breaks && character == '\n' {
                    self.put_break();
                }
                self.put_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if character == '\'' {
                    self.put('\'');
                }
                self.put(character);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let characters: Vec<char> = text.chars().collect();
        let last = characters.len().saturating_sub(1);
        let mut spaces = false;
        for (index, &character) in characters.iter().enumerate() {
            if !is_printable(character)
                || character == '\u{feff}'
                || is_break(character)
                || character == '"'
                || character == '\\'
            {
                self.put('\\');
                let escape = match character {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match escape {
                    Some(letter) => self.put(letter),
                    None => {
                        let code = character as u32;
                        let (letter, width) = if code <= 0xff {
                            ('x', 2)
                        } else if code <= 0xffff {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(letter);
                        for digit in format!("{code:0width$X}").chars() {
                            self.put(digit);
                        }
                    }
                }
                spaces = false;
            } else if character == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && index != 0
                    && index != last
                {
                    self.write_indent();
                    if characters.get(index + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(character);
                }
                spaces = true;
            } else {
                self.put(character);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        let characters: Vec<char> = text.chars().collect();
        if let Some(&first) = characters.first()
            && (first == ' ' || is_break(first))
        {
            self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        let mut open_ended = false;
        let chomp = match characters.len() {
            0 => Some("-"),
            length => {
                if !is_break(characters[length - 1]) {
                    Some("-")
                } else if length == 1 || is_break(characters[length - 2]) {
                    open_ended = true;
                    Some("+")
                } else {
                    None
                }
            }
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.open_ended = open_ended;
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &character in &characters {
            if is_break(character) {
                self.put_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(character);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

fn is_break(character: char) -> bool {
    matches!(character, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_printable(character: char) -> bool {
    let code = character as u32;
    code == 0x0a
        || (0x20..=0x7e).contains(&code)
        || (0xa0..=0xd7ff).contains(&code)
        || ((0xe000..=0xfffd).contains(&code) && code != 0xfeff)
}

fn is_blank_or_end(character: Option<char>) -> bool {
    match character {
        None => true,
        Some(character) => character == ' ' || character == '\t' || is_break(character),
    }
}

/// libyaml's `yaml_emitter_analyze_scalar`: which styles can represent `text`.
fn analyze(text: &str) -> Analysis {
    if text.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let characters: Vec<char> = text.chars().collect();
    let mut block_indicators = false;
    let mut flow_indicators = false;
    if text.starts_with("---") || text.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;
    let mut preceded_by_whitespace = true;
    let last = characters.len() - 1;
    for (index, &character) in characters.iter().enumerate() {
        let followed_by_whitespace = is_blank_or_end(characters.get(index + 1).copied());
        if index == 0 {
            match character {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match character {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if !is_printable(character) {
            special_characters = true;
        }
        if is_break(character) {
            line_breaks = true;
        }
        if character == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(character) {
            if index == 0 {
                leading_break = true;
            }
            if index == last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(character));
    }
    let mut analysis = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
    }
    if trailing_space {
        analysis.block_allowed = false;
    }
    if break_space {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
        analysis.block_allowed = false;
    }
    if line_breaks {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
    }
    if flow_indicators {
        analysis.flow_plain_allowed = false;
    }
    if block_indicators {
        analysis.block_plain_allowed = false;
    }
    analysis
}

/// Whether yaml.v2 would read `text` back as a string when written unquoted.
fn reads_back_as_string(text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    let first = text.as_bytes()[0];
    let hinted = first.is_ascii_digit()
        || matches!(
            first,
            b'+' | b'-'
                | b'.'
                | b'y'
                | b'Y'
                | b'n'
                | b'N'
                | b't'
                | b'T'
                | b'f'
                | b'F'
                | b'o'
                | b'O'
                | b'~'
                | b'<'
        );
    if !hinted {
        return true;
    }
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
        "OFF", "true", "True", "TRUE", "false", "False", "FALSE", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if SPECIAL.contains(&text) {
        return false;
    }
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') {
        if first != b'.' && looks_like_timestamp(text) {
            return false;
        }
        let plain = text.replace('_', "");
        if parse_go_int(&plain).is_some() || parse_go_float(&plain).is_some() {
            return false;
        }
        if plain.starts_with("0b") || plain.starts_with("-0b") {
            let digits = plain.trim_start_matches('-').trim_start_matches("0b");
            if !digits.is_empty() && digits.chars().all(|digit| digit == '0' || digit == '1') {
                return false;
            }
        }
        if is_base60_float(text) {
            return false;
        }
    }
    true
}

/// yaml.v2's timestamp formats: `2006-1-2`, optionally followed by `T`/`t`/space and a time.
fn looks_like_timestamp(text: &str) -> bool {
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(position) => (&text[..position], Some(&text[position + 1..])),
        None => (text, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let date_ok = parts.len() == 3
        && parts[0].len() == 4
        && (1..=2).contains(&parts[1].len())
        && (1..=2).contains(&parts[2].len())
        && parts
            .iter()
            .all(|part| part.bytes().all(|byte| byte.is_ascii_digit()));
    if !date_ok {
        return false;
    }
    match time {
        None => true,
        Some(time) => {
            let fields: Vec<&str> = time.splitn(3, ':').collect();
            fields.len() == 3
                && fields[0].len() <= 2
                && fields[0].bytes().all(|byte| byte.is_ascii_digit())
                && fields[1].len() <= 2
                && fields[1].bytes().all(|byte| byte.is_ascii_digit())
        }
    }
}

fn is_base60_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, _fraction) = match body.split_once('.') {
        Some((whole, fraction)) => {
            if !fraction
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte == b'_')
            {
                return false;
            }
            (whole, Some(fraction))
        }
        None => (body, None),
    };
    let mut groups = whole.split(':');
    let head = groups.next().unwrap_or("");
    if head.is_empty()
        || !head.as_bytes()[0].is_ascii_digit()
        || !head
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'_')
    {
        return false;
    }
    let mut count = 0;
    for group in groups {
        count += 1;
        let valid = match group.len() {
            1 => group.as_bytes()[0].is_ascii_digit(),
            2 => {
                (b'0'..=b'5').contains(&group.as_bytes()[0]) && group.as_bytes()[1].is_ascii_digit()
            }
            _ => false,
        };
        if !valid {
            return false;
        }
    }
    count > 0
}

/// yaml.v2's key order (`keyList.Less`): where two keys first differ, letters sort after
/// everything else and digit runs compare as numbers.
pub(crate) fn natural_key_order(left: &str, right: &str) -> Ordering {
    if left == right {
        return Ordering::Equal;
    }
    if natural_less(left, right) {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

fn natural_less(left: &str, right: &str) -> bool {
    let a: Vec<char> = left.chars().collect();
    let b: Vec<char> = right.chars().collect();
    let mut index = 0;
    while index < a.len() && index < b.len() {
        if a[index] == b[index] {
            index += 1;
            continue;
        }
        let letter_a = a[index].is_alphabetic();
        let letter_b = b[index].is_alphabetic();
        if letter_a && letter_b {
            return a[index] < b[index];
        }
        if letter_a || letter_b {
            return letter_b;
        }
        let mut number_a: i64 = 0;
        let mut number_b: i64 = 0;
        if a[index] == '0' || b[index] == '0' {
            let mut back = index;
            while back > 0 && a[back - 1].is_ascii_digit() {
                back -= 1;
                if a[back] != '0' {
                    number_a = 1;
                    number_b = 1;
                    break;
                }
            }
        }
        let mut end_a = index;
        while end_a < a.len() && a[end_a].is_ascii_digit() {
            number_a = number_a
                .wrapping_mul(10)
                .wrapping_add(i64::from(a[end_a] as u8 - b'0'));
            end_a += 1;
        }
        let mut end_b = index;
        while end_b < b.len() && b[end_b].is_ascii_digit() {
            number_b = number_b
                .wrapping_mul(10)
                .wrapping_add(i64::from(b[end_b] as u8 - b'0'));
            end_b += 1;
        }
        if number_a != number_b {
            return number_a < number_b;
        }
        if end_a != end_b {
            return end_a < end_b;
        }
        return a[index] < b[index];
    }
    a.len() < b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::parse_documents;

    fn round_trip(text: &str) -> String {
        let documents = parse_documents(text).unwrap_or_default();
        to_yaml(&documents[0])
    }

    #[test]
    fn keys_sort_naturally_and_sequences_are_not_indented() {
        let printed = round_trip("b: [1, 2]\na10: x\na9: y\n");
        assert_eq!(printed, "a9: \"y\"\na10: x\nb:\n- 1\n- 2\n");
    }

    #[test]
    fn strings_that_read_as_other_types_are_double_quoted() {
        let printed = round_trip("a: 'true'\nb: '12'\nc: ''\nd: 'x: y'\ne: \"tab\\there\"\n");
        assert_eq!(
            printed,
            "a: \"true\"\nb: \"12\"\nc: \"\"\nd: 'x: y'\ne: \"tab\\there\"\n"
        );
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let printed = round_trip("a: \"x\\ny\\n\"\nb: \"x\\ny\"\n");
        assert_eq!(printed, "a: |\n  x\n  y\nb: |-\n  x\n  y\n");
    }

    #[test]
    fn long_plain_strings_fold_past_column_eighty() {
        let text = "zz: a very long string that goes on and on and on and on and on and on and on and on and on\n";
        assert_eq!(
            round_trip(text),
            "zz: a very long string that goes on and on and on and on and on and on and on and\n  on and on\n"
        );
    }

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        let mut keys = vec!["10", "2", "1", "a10", "a9", "a1b", "B", "_x"];
        keys.sort_by(|left, right| natural_key_order(left, right));
        assert_eq!(keys, vec!["_x", "1", "2", "10", "B", "a9", "a10", "a1b"]);
    }
}
