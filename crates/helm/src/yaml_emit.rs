//! Writing YAML exactly as Helm's `toYaml` does: `sigs.k8s.io/yaml.Marshal`, i.e. JSON
//! first (numbers lose their type), then go-yaml v2's emitter: keys in go-yaml's
//! "natural" order, indentless sequences, literal blocks for multi-line strings, quoting
//! chosen by libyaml's scalar analysis and lines folded past column 80.

use std::cmp::Ordering;

use eddy_gotemplate::Value;

const BEST_WIDTH: usize = 80;
const BEST_INDENT: usize = 2;

/// `yaml.Marshal` output for `value` (with the trailing newline).
pub fn to_yaml(value: &Value) -> String {
    let data = crate::json::normalize(value);
    let mut emitter = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
    };
    emitter.node(&data, 0, Context::Document);
    if !emitter.out.ends_with('\n') {
        emitter.out.push('\n');
    }
    emitter.out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Document,
    MappingValue,
    SequenceItem,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
}

/// go-yaml v2's `keyList.Less` for string keys.
pub fn natural_less(left: &str, right: &str) -> Ordering {
    let a: Vec<char> = left.chars().collect();
    let b: Vec<char> = right.chars().collect();
    let mut index = 0;
    while index < a.len() && index < b.len() {
        if a[index] == b[index] {
            index += 1;
            continue;
        }
        let a_letter = a[index].is_alphabetic();
        let b_letter = b[index].is_alphabetic();
        if a_letter && b_letter {
            return a[index].cmp(&b[index]);
        }
        if a_letter || b_letter {
            return if b_letter {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let mut a_number: i64 = 0;
        let mut b_number: i64 = 0;
        if a[index] == '0' || b[index] == '0' {
            let mut back = index;
            while back > 0 && a[back - 1].is_ascii_digit() {
                back -= 1;
                if a[back] != '0' {
                    a_number = 1;
                    b_number = 1;
                    break;
                }
            }
        }
        let mut a_end = index;
        while a_end < a.len() && a[a_end].is_ascii_digit() {
            a_number = a_number
                .wrapping_mul(10)
                .wrapping_add(i64::from(a[a_end] as u8 - b'0'));
            a_end += 1;
        }
        let mut b_end = index;
        while b_end < b.len() && b[b_end].is_ascii_digit() {
            b_number = b_number
                .wrapping_mul(10)
                .wrapping_add(i64::from(b[b_end] as u8 - b'0'));
            b_end += 1;
        }
        if a_number != b_number {
            return a_number.cmp(&b_number);
        }
        if a_end != b_end {
            return a_end.cmp(&b_end);
        }
        return a[index].cmp(&b[index]);
    }
    a.len().cmp(&b.len())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_printable(character: char) -> bool {
    let code = character as u32;
    code == 0x0A
        || (0x20..=0x7E).contains(&code)
        || code == 0x85
        || (0xA0..=0xD7FF).contains(&code)
        || ((0xE000..=0xFFFD).contains(&code) && code != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&code)
}

fn is_break(character: char) -> bool {
    matches!(character, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(character: Option<char>) -> bool {
    matches!(character, Some(' ' | '\t'))
}

fn analyze(text: &str) -> Analysis {
    if text.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = text.chars().collect();
    let mut block_indicators = text.starts_with("---") || text.starts_with("...");
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut preceded_by_whitespace = true;
    let mut previous_space = false;
    let mut previous_break = false;
    for (index, &character) in chars.iter().enumerate() {
        let next = chars.get(index + 1).copied();
        let followed_by_whitespace = next.is_none() || is_blank(next) || next.is_some_and(is_break);
        if index == 0 {
            match character {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    block_indicators = true;
                }
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match character {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(character) {
            special_characters = true;
        }
        if character == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index + 1 == chars.len() {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(character) {
            line_breaks = true;
            if index == 0 {
                leading_break = true;
            }
            if index + 1 == chars.len() {
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
        preceded_by_whitespace = character == ' ' || character == '\t' || is_break(character);
    }
    let mut analysis = Analysis {
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        analysis.block_plain_allowed = false;
    }
    if trailing_space {
        analysis.block_allowed = false;
    }
    if break_space {
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
        analysis.block_allowed = false;
    }
    if line_breaks || block_indicators {
        analysis.block_plain_allowed = false;
    }
    analysis
}

/// Whether go-yaml v2 would read `text` back as a string if written plain.
fn resolves_to_string(text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    if text == "<<" {
        return false;
    }
    match crate::yaml::resolve_plain(text, crate::yaml::Numbers::Native) {
        Value::String(_) => {}
        _ => return false,
    }
    !is_timestamp(text) && !is_base60_float(text)
}

fn is_base60_float(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if !(first == '+' || first == '-' || first.is_ascii_digit()) || !text.contains(':') {
        return false;
    }
    static PATTERN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex::Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").ok()
        })
        .as_ref()
        .is_some_and(|pattern| pattern.is_match(text))
}

fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return false;
    }
    static PATTERN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex::Regex::new(
                r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2}))|(?: [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?))?$",
            )
            .ok()
        })
        .as_ref()
        .is_some_and(|pattern| pattern.is_match(text))
}

fn choose_style(text: &str, simple_key: bool) -> Style {
    let analysis = analyze(text);
    let mut style = if text.contains('\n') {
        Style::Literal
    } else if resolves_to_string(text) {
        Style::Plain
    } else {
        Style::Double
    };
    if style == Style::Plain && (!analysis.block_plain_allowed || (text.is_empty() && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !analysis.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!analysis.block_allowed || simple_key) {
        style = Style::Double;
    }
    style
}

impl Emitter {
    fn put(&mut self, character: char) {
        self.out.push(character);
        self.column += 1;
    }

    fn put_str(&mut self, text: &str) {
        for character in text.chars() {
            self.put(character);
        }
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
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
        self.put_str(indicator);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn node(&mut self, value: &Value, indent: usize, context: Context) {
        match value {
            Value::Map(shared) if !shared.is_empty() => {
                let map = shared.snapshot();
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by(|left, right| natural_less(left, right));
                let key_indent = match context {
                    Context::Document => 0,
                    _ => indent + BEST_INDENT,
                };
                let key_indent = if context == Context::SequenceItem {
                    indent + BEST_INDENT
                } else {
                    key_indent
                };
                for key in keys {
                    self.write_indent(key_indent);
                    self.scalar(key, key_indent, true);
                    self.write_indicator(":", false, false, false);
                    let item = &map[key];
                    self.mapping_value(item, key_indent);
                }
            }
            Value::List(items) if !items.is_empty() => {
                let sequence_indent = match context {
                    Context::Document => 0,
                    Context::MappingValue => indent,
                    Context::SequenceItem => indent + BEST_INDENT,
                };
                for item in items.iter() {
                    self.write_indent(sequence_indent);
                    self.write_indicator("-", true, false, true);
                    self.node(item, sequence_indent, Context::SequenceItem);
                }
            }
            Value::Map(_) => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
            }
            Value::List(_) => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
            }
            scalar => {
                let text = scalar_text(scalar);
                let continuation = match context {
                    Context::Document => BEST_INDENT,
                    _ => indent + BEST_INDENT,
                };
                match text {
                    ScalarText::Raw(raw) => {
                        if !self.whitespace {
                            self.put(' ');
                        }
                        self.put_str(&raw);
                        self.whitespace = false;
                        self.indention = false;
                    }
                    ScalarText::String(text) => self.scalar(&text, continuation, false),
                }
            }
        }
    }

    fn mapping_value(&mut self, item: &Value, key_indent: usize) {
        match item {
            Value::Map(map) if !map.is_empty() => {
                self.node(item, key_indent, Context::MappingValue)
            }
            Value::List(items) if !items.is_empty() => {
                // Sequences inside mappings are indentless in go-yaml v2.
                self.node(item, key_indent, Context::MappingValue);
            }
            _ => self.node(item, key_indent, Context::MappingValue),
        }
    }

    /// Writes a string scalar; `indent` is where folded or block lines continue.
    fn scalar(&mut self, text: &str, indent: usize, simple_key: bool) {
        match choose_style(text, simple_key) {
            Style::Plain => self.write_plain(text, indent, !simple_key),
            Style::Single => self.write_single(text, indent, !simple_key),
            Style::Double => self.write_double(text, indent, !simple_key),
            Style::Literal => self.write_literal(text, indent),
        }
    }

    fn write_plain(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut index = 0;
        while index < chars.len() {
            let character = chars[index];
            if character == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(index + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(character);
                self.indention = false;
                spaces = false;
            }
            index += 1;
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut index = 0;
        while index < chars.len() {
            let character = chars[index];
            if character == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && index > 0
                    && index + 1 < chars.len()
                    && chars.get(index + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                if character == '\'' {
                    self.put('\'');
                }
                self.put(character);
                self.indention = false;
                spaces = false;
            }
            index += 1;
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut index = 0;
        while index < chars.len() {
            let character = chars[index];
            if !is_printable(character)
                || character == '\u{FEFF}'
                || is_break(character)
                || character == '"'
                || character == '\\'
            {
                self.put('\\');
                match character {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    other => {
                        let code = other as u32;
                        if code <= 0xFF {
                            self.put_str(&format!("x{code:02X}"));
                        } else if code <= 0xFFFF {
                            self.put_str(&format!("u{code:04X}"));
                        } else {
                            self.put_str(&format!("U{code:08X}"));
                        }
                    }
                }
                spaces = false;
            } else if character == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && index > 0
                    && index + 1 < chars.len()
                {
                    self.write_indent(indent);
                    if chars.get(index + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(character);
                spaces = false;
            }
            index += 1;
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, text: &str, indent: usize) {
        self.write_indicator("|", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        if chars.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
            self.put_str(&BEST_INDENT.to_string());
        }
        let chomp = match chars.last() {
            None => Some('-'),
            Some(last) if !is_break(*last) => Some('-'),
            Some(_) if chars.len() == 1 => Some('+'),
            Some(_) => {
                if is_break(chars[chars.len() - 2]) {
                    Some('+')
                } else {
                    None
                }
            }
        };
        if let Some(chomp) = chomp {
            self.put(chomp);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for character in chars {
            if is_break(character) {
                self.put_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(character);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

enum ScalarText {
    Raw(String),
    String(String),
}

fn scalar_text(value: &Value) -> ScalarText {
    match value {
        Value::Nil => ScalarText::Raw("null".to_string()),
        Value::Bool(value) => ScalarText::Raw(value.to_string()),
        Value::Int(value) | Value::Int64(value) => ScalarText::Raw(value.to_string()),
        Value::Float(value) => ScalarText::Raw(yaml_float(*value)),
        Value::String(text) => ScalarText::String(text.to_string()),
        other => ScalarText::String(other.to_go_string()),
    }
}

/// A float after the JSON round trip: integral values come back as integers.
fn yaml_float(value: f64) -> String {
    if value.is_nan() {
        return ".nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            ".inf".to_string()
        } else {
            "-.inf".to_string()
        };
    }
    // JSON writes integral floats below 1e21 in plain digits (shortest form, zero
    // padded); go-yaml reads those back as integers when they fit 64 bits.
    if value.fract() == 0.0 && value.abs() < 1e21 {
        let text = eddy_gotemplate::fmt::format_float(value, 'f', -1);
        if text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok() {
            return text;
        }
    }
    eddy_gotemplate::fmt::format_float(value, 'g', -1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_gotemplate::Map;

    fn yaml(text: &str) -> String {
        match crate::yaml::parse(text) {
            Ok(value) => to_yaml(&value),
            Err(error) => format!("ERROR {error}"),
        }
    }

    #[test]
    fn sequences_in_mappings_are_indentless() {
        assert_eq!(
            yaml("a:\n  - x\n  - w: 1\n    z: [1, 2]\n"),
            "a:\n- x\n- w: 1\n  z:\n  - 1\n  - 2\n"
        );
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        assert_eq!(
            yaml("a: 'true'\nb: '*'\nc: ''\nd: '1.5'\ne: 'x: y'\nf: {}\ng: []\n"),
            "a: \"true\"\nb: '*'\nc: \"\"\nd: \"1.5\"\ne: 'x: y'\nf: {}\ng: []\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let mut map = Map::new();
        map.insert("k".into(), Value::from("a\nb\n"));
        map.insert("l".into(), Value::from("a\nb"));
        assert_eq!(
            to_yaml(&Value::from(map)),
            "k: |\n  a\n  b\nl: |-\n  a\n  b\n"
        );
    }

    #[test]
    fn keys_sort_naturally() {
        let mut keys = vec!["a10", "a2", "B", "a", "_x"];
        keys.sort_by(|left, right| natural_less(left, right));
        assert_eq!(keys, vec!["_x", "B", "a", "a2", "a10"]);
    }
}
