//! The lexer: splits template source into text and action tokens the way Go's
//! `text/template/parse` lexer does, including `{{-`/`-}}` trimming and comments.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Identifier,
    Field,
    Variable,
    Dot,
    String,
    RawString,
    Char,
    Number,
    Bool,
    Nil,
    Pipe,
    LeftParen,
    RightParen,
    Comma,
    Declare,
    Assign,
    Keyword,
    Eof,
}

/// One token with its byte offset in the source.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token<'a> {
    pub(crate) kind: Kind,
    /// The token's text, borrowed from the source (tokens are copied freely while parsing).
    pub(crate) text: &'a str,
    pub(crate) pos: usize,
}

const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with",
];

/// Splits `source` into tokens; an error carries the byte offset and Go's message.
pub(crate) fn lex(source: &str) -> Result<Vec<Token<'_>>, (usize, String)> {
    let mut lexer = Lexer {
        source,
        bytes: source.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    source: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token<'a>>,
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alphanumeric(character: char) -> bool {
    character == '_' || character.is_alphanumeric()
}

/// The next `{{` at or after `from` (a byte search for `{`, cheaper than a substring
/// searcher set up for every text chunk).
fn find_left_delim(bytes: &[u8], from: usize) -> Option<usize> {
    let mut index = from;
    while let Some(offset) = bytes.get(index..)?.iter().position(|&byte| byte == b'{') {
        let at = index + offset;
        if bytes.get(at + 1) == Some(&b'{') {
            return Some(at);
        }
        index = at + 1;
    }
    None
}

impl<'a> Lexer<'a> {
    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        self.tokens.push(Token {
            kind,
            text: &self.source[start..end],
            pos: start,
        });
    }

    fn run(&mut self) -> Result<(), (usize, String)> {
        let mut trim_next_text = false;
        loop {
            let start = self.pos;
            let found = find_left_delim(self.bytes, start);
            let text_end = found.unwrap_or(self.source.len());
            let mut text_stop = text_end;
            let mut trim_left = false;
            if let Some(delim) = found {
                let after = delim + 2;
                if self.bytes.get(after) == Some(&b'-')
                    && self
                        .bytes
                        .get(after + 1)
                        .is_some_and(|byte| is_space(*byte))
                {
                    trim_left = true;
                }
            }
            let mut text_start = start;
            if trim_next_text {
                while text_start < text_stop && is_space(self.bytes[text_start]) {
                    text_start += 1;
                }
            }
            if trim_left {
                while text_stop > text_start && is_space(self.bytes[text_stop - 1]) {
                    text_stop -= 1;
                }
            }
            if text_stop > text_start {
                self.emit(Kind::Text, text_start, text_stop);
            }
            let Some(delim) = found else {
                self.tokens.push(Token {
                    kind: Kind::Eof,
                    text: "",
                    pos: self.pos,
                });
                return Ok(());
            };
            self.pos = delim + 2;
            if trim_left {
                self.pos += 2;
            }
            // A comment must follow the delimiter (and trim marker) immediately.
            if self.source[self.pos..].starts_with("/*") {
                let Some(close) = self.source[self.pos..].find("*/") else {
                    return Err((delim, "unclosed comment".to_string()));
                };
                let mut after = self.pos + close + 2;
                let mut trim_right = false;
                if self.source[after..].starts_with(" -}}")
                    || (after < self.bytes.len()
                        && is_space(self.bytes[after])
                        && self.source[after + 1..].starts_with("-}}"))
                {
                    trim_right = true;
                    after += 4;
                } else if self.source[after..].starts_with("}}") {
                    after += 2;
                } else {
                    return Err((delim, "comment ends before closing delimiter".to_string()));
                }
                self.pos = after;
                trim_next_text = trim_right;
                continue;
            }
            self.emit(Kind::LeftDelim, delim, delim + 2);
            trim_next_text = self.lex_inside_action(delim)?;
        }
    }

    /// Lexes one action up to and including its right delimiter; returns whether the
    /// delimiter asked to trim the following text.
    fn lex_inside_action(&mut self, start: usize) -> Result<bool, (usize, String)> {
        let mut paren_depth = 0usize;
        loop {
            let rest = &self.source[self.pos..];
            if rest.starts_with("}}") {
                if paren_depth > 0 {
                    return Err((self.pos, "unclosed left paren".to_string()));
                }
                self.emit(Kind::RightDelim, self.pos, self.pos + 2);
                self.pos += 2;
                return Ok(false);
            }
            let Some(character) = rest.chars().next() else {
                let line = 1 + self.source[..start].matches('\n').count();
                return Err((
                    self.pos,
                    format!("unclosed action started at {{NAME}}:{line}"),
                ));
            };
            let start = self.pos;
            if is_space(character as u8) && character.is_ascii() {
                let mut end = start;
                while end < self.bytes.len() && is_space(self.bytes[end]) {
                    end += 1;
                }
                if self.source[end..].starts_with("-}}") {
                    if paren_depth > 0 {
                        return Err((self.pos, "unclosed left paren".to_string()));
                    }
                    self.emit(Kind::RightDelim, end + 1, end + 3);
                    self.pos = end + 3;
                    return Ok(true);
                }
                self.emit(Kind::Space, start, end);
                self.pos = end;
                continue;
            }
            match character {
                '=' => {
                    self.pos += 1;
                    self.emit(Kind::Assign, start, self.pos);
                }
                ':' => {
                    if !rest.starts_with(":=") {
                        return Err((start, "expected :=".to_string()));
                    }
                    self.pos += 2;
                    self.emit(Kind::Declare, start, self.pos);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Kind::Pipe, start, self.pos);
                }
                ',' => {
                    self.pos += 1;
                    self.emit(Kind::Comma, start, self.pos);
                }
                '(' => {
                    paren_depth += 1;
                    self.pos += 1;
                    self.emit(Kind::LeftParen, start, self.pos);
                }
                ')' => {
                    if paren_depth == 0 {
                        return Err((start, "unexpected right paren".to_string()));
                    }
                    paren_depth -= 1;
                    self.pos += 1;
                    self.emit(Kind::RightParen, start, self.pos);
                }
                '"' => {
                    let end = self.scan_quoted(start, b'"', "unterminated quoted string")?;
                    self.pos = end;
                    self.emit(Kind::String, start, end);
                }
                '\'' => {
                    let end = self.scan_quoted(start, b'\'', "unterminated character constant")?;
                    self.pos = end;
                    self.emit(Kind::Char, start, end);
                }
                '`' => {
                    let Some(close) = self.source[start + 1..].find('`') else {
                        return Err((start, "unterminated raw quoted string".to_string()));
                    };
                    self.pos = start + 1 + close + 1;
                    self.emit(Kind::RawString, start, self.pos);
                }
                '$' => {
                    self.pos += 1;
                    self.scan_word();
                    self.emit(Kind::Variable, start, self.pos);
                }
                '.' => {
                    if self.bytes.get(start + 1).is_some_and(u8::is_ascii_digit) {
                        self.scan_number(start)?;
                        continue;
                    }
                    self.pos += 1;
                    self.scan_word();
                    if self.pos == start + 1 {
                        self.emit(Kind::Dot, start, self.pos);
                    } else {
                        self.emit(Kind::Field, start, self.pos);
                    }
                }
                '+' | '-' | '0'..='9' => self.scan_number(start)?,
                character if is_alphanumeric(character) => {
                    self.scan_word();
                    let word = &self.source[start..self.pos];
                    let kind = match word {
                        "true" | "false" => Kind::Bool,
                        "nil" => Kind::Nil,
                        _ if KEYWORDS.contains(&word) => Kind::Keyword,
                        _ => Kind::Identifier,
                    };
                    self.emit(kind, start, self.pos);
                }
                other => {
                    return Err((
                        start,
                        format!("unrecognized character in action: {other:?}"),
                    ));
                }
            }
        }
    }

    fn scan_word(&mut self) {
        // ASCII fast path; fall back to chars for Unicode letters.
        while let Some(&byte) = self.bytes.get(self.pos) {
            if byte.is_ascii_alphanumeric() || byte == b'_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        while let Some(character) = self.source[self.pos..].chars().next() {
            if !is_alphanumeric(character) {
                break;
            }
            self.pos += character.len_utf8();
        }
    }

    fn scan_quoted(
        &self,
        start: usize,
        quote: u8,
        message: &str,
    ) -> Result<usize, (usize, String)> {
        let mut index = start + 1;
        while index < self.bytes.len() {
            match self.bytes[index] {
                b'\\' => index += 2,
                b'\n' => break,
                byte if byte == quote => return Ok(index + 1),
                _ => index += 1,
            }
        }
        Err((start, message.to_string()))
    }

    fn scan_number(&mut self, start: usize) -> Result<(), (usize, String)> {
        let mut index = start;
        if matches!(self.bytes.get(index), Some(b'+' | b'-')) {
            index += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        if self.bytes.get(index) == Some(&b'0') {
            match self.bytes.get(index + 1) {
                Some(b'x' | b'X') => {
                    index += 2;
                    digits = b"0123456789abcdefABCDEF_";
                }
                Some(b'o' | b'O') => {
                    index += 2;
                    digits = b"01234567_";
                }
                Some(b'b' | b'B') => {
                    index += 2;
                    digits = b"01_";
                }
                _ => {}
            }
        }
        let accept = |index: &mut usize, set: &[u8]| {
            while *index < self.bytes.len() && set.contains(&self.bytes[*index]) {
                *index += 1;
            }
        };
        accept(&mut index, digits);
        if self.bytes.get(index) == Some(&b'.') {
            index += 1;
            accept(&mut index, digits);
        }
        let exponent: &[u8] = if digits.len() == 23 { b"pP" } else { b"eE" };
        if self
            .bytes
            .get(index)
            .is_some_and(|byte| exponent.contains(byte))
        {
            index += 1;
            if matches!(self.bytes.get(index), Some(b'+' | b'-')) {
                index += 1;
            }
            accept(&mut index, b"0123456789_");
        }
        if self.bytes.get(index) == Some(&b'i') {
            index += 1;
        }
        if let Some(character) = self.source[index..].chars().next()
            && is_alphanumeric(character)
        {
            let mut end = index;
            while let Some(next) = self.source[end..].chars().next() {
                if !is_alphanumeric(next) && next != '.' {
                    break;
                }
                end += next.len_utf8();
            }
            return Err((
                start,
                format!("bad number syntax: {:?}", &self.source[start..end]),
            ));
        }
        self.pos = index;
        self.emit(Kind::Number, start, index);
        Ok(())
    }
}
