//! The scanner and parser of Flux's envsubst (fluxcd/pkg `envsubst/parse`, a fork of
//! drone/envsubst), ported mechanism for mechanism.
//!
//! The Go scanner is stateful in ways that decide edge cases: it removes escape characters
//! from its buffer in place, `peek` overwrites the width that `unread` steps back by, and a
//! NUL character reads as end of input. Rather than re-deriving a grammar, this port keeps the
//! same buffer, positions and accept functions so that every input parses (or fails) as it
//! does in kustomize-controller.

use super::SubstituteError;

/// What `read` returns at the end of the buffer; Go uses rune 0, so a NUL also ends input.
const END: char = '\0';
/// Go's `utf8.RuneError`, returned for bytes that are not valid UTF-8.
const RUNE_ERROR: char = '\u{FFFD}';

/// Mode bit: scan identifiers (runs of accepted characters).
const SCAN_IDENT: u8 = 1;
/// Mode bit: recognise `${`.
const SCAN_LEFT_BRACE: u8 = 1 << 1;
/// Mode bit: recognise `}`.
const SCAN_RIGHT_BRACE: u8 = 1 << 2;
/// Mode bit: honour escape characters.
const SCAN_ESCAPE: u8 = 1 << 3;

/// Escape bit: `$$` is a literal `$`.
const ESCAPE_DOLLAR: u8 = 1;
/// Escape bit: `\/` and `\\` are literal `/` and `\`.
const ESCAPE_BACKSLASH: u8 = 1 << 1;
/// Both escapes, as inside `${…}`.
const ESCAPE_ALL: u8 = ESCAPE_DOLLAR | ESCAPE_BACKSLASH;

/// Decides whether a character at 1-based byte offset `index` in the current token belongs
/// to it.
type Accept = fn(char, usize) -> bool;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Illegal,
    End,
    Ident,
    LeftBrace,
    RightBrace,
}

/// One node of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// Literal text.
    Text(String),
    /// A `${…}` expansion: the variable, the operator (empty for a bare `${name}`) and the
    /// operator's arguments, themselves templates.
    Function {
        /// The variable name.
        parameter: String,
        /// The operator, e.g. `:=`, `//`, `^^`, `#`.
        operator: String,
        /// The operator's arguments.
        arguments: Vec<Node>,
    },
    /// A sequence of nodes, concatenated.
    List(Vec<Node>),
}

/// Decodes one character the way Go's `utf8.DecodeRuneInString` does: invalid bytes read as
/// `RuneError` one byte wide, and an empty slice as width 0.
pub(crate) fn decode_rune(bytes: &[u8]) -> (char, usize) {
    let Some(&first) = bytes.first() else {
        return (RUNE_ERROR, 0);
    };
    let length = match first {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return (RUNE_ERROR, 1),
    };
    match bytes.get(..length).map(std::str::from_utf8) {
        Some(Ok(text)) => (text.chars().next().unwrap_or(RUNE_ERROR), length),
        _ => (RUNE_ERROR, 1),
    }
}

struct Scanner {
    buffer: Vec<u8>,
    position: usize,
    start: usize,
    width: usize,
    mode: u8,
    escape_characters: u8,
    accept: Accept,
}

impl Scanner {
    fn new(text: &str) -> Self {
        Self {
            buffer: text.as_bytes().to_vec(),
            position: 0,
            start: 0,
            width: 0,
            mode: 0,
            escape_characters: 0,
            accept: accept_any,
        }
    }

    fn read(&mut self) -> char {
        if self.position >= self.buffer.len() {
            self.width = 0;
            return END;
        }
        let (character, width) = decode_rune(&self.buffer[self.position..]);
        self.width = width;
        self.position += width;
        character
    }

    fn unread(&mut self) {
        self.position = self.position.saturating_sub(self.width);
    }

    /// Drops the character just read from the buffer, keeping the position: the next
    /// character slides into its place, which is how an escaped `$$` becomes one `$`.
    fn skip(&mut self) {
        if let Some(index) = self.position.checked_sub(1)
            && index < self.buffer.len()
        {
            self.buffer.remove(index);
        }
    }

    fn peek(&mut self) -> char {
        let character = self.read();
        self.unread();
        character
    }

    fn text(&self) -> String {
        let end = self.position.min(self.buffer.len());
        let start = self.start.min(end);
        String::from_utf8_lossy(&self.buffer[start..end]).into_owned()
    }

    fn scan(&mut self) -> Token {
        self.start = self.position;
        let character = self.read();
        if character == END {
            Token::End
        } else if self.scan_left_brace(character) {
            Token::LeftBrace
        } else if self.scan_right_brace(character) {
            Token::RightBrace
        } else if self.scan_ident(character) {
            Token::Ident
        } else {
            Token::Illegal
        }
    }

    fn scan_ident(&mut self, first: char) -> bool {
        if self.mode & SCAN_IDENT == 0 {
            return false;
        }
        if self.scan_escaped(first) {
            self.skip();
        } else if !(self.accept)(first, self.position - self.start) {
            return false;
        }
        loop {
            let character = self.read();
            if character == END {
                self.unread();
                break;
            }
            if self.scan_left_brace(character) {
                self.unread();
                self.unread();
                break;
            }
            if self.scan_escaped(character) {
                self.skip();
                continue;
            }
            if !(self.accept)(character, self.position - self.start) {
                self.unread();
                break;
            }
        }
        true
    }

    fn scan_left_brace(&mut self, character: char) -> bool {
        if self.mode & SCAN_LEFT_BRACE == 0 {
            return false;
        }
        if character == '$' {
            if self.read() == '{' {
                return true;
            }
            self.unread();
        }
        false
    }

    fn scan_right_brace(&self, character: char) -> bool {
        self.mode & SCAN_RIGHT_BRACE != 0 && character == '}'
    }

    fn scan_escaped(&mut self, character: char) -> bool {
        if self.mode & SCAN_ESCAPE == 0 {
            return false;
        }
        if character == '$' && self.escape_characters & ESCAPE_DOLLAR != 0 && self.peek() == '$' {
            return true;
        }
        if character == '\\' && self.escape_characters & ESCAPE_BACKSLASH != 0 {
            return matches!(self.peek(), '/' | '\\');
        }
        false
    }
}

fn accept_any(_: char, _: usize) -> bool {
    true
}

/// Go's `unicode.IsLetter || unicode.IsDigit || '_'`; Rust's alphabetic and numeric classes
/// are slightly wider than Go's letter and decimal-digit categories, which only matters for
/// exotic characters that no valid variable name contains.
fn accept_ident(character: char, _: usize) -> bool {
    character.is_alphabetic() || character.is_numeric() || character == '_'
}

fn accept_colon(character: char, _: usize) -> bool {
    character == ':'
}

fn accept_one_hash(character: char, index: usize) -> bool {
    character == '#' && index == 1
}

fn accept_not_closing(character: char, _: usize) -> bool {
    character != '}'
}

fn accept_hash_function(character: char, index: usize) -> bool {
    character == '#' && index < 3
}

fn accept_percent_function(character: char, index: usize) -> bool {
    character == '%' && index < 3
}

fn accept_default_function(character: char, index: usize) -> bool {
    (index == 1 && character == ':') || (index == 2 && matches!(character, '=' | '-' | '?' | '+'))
}

fn accept_replace_function(character: char, index: usize) -> bool {
    (index == 1 && character == '/') || (index == 2 && matches!(character, '/' | '#' | '%'))
}

fn accept_one_equal(character: char, index: usize) -> bool {
    index == 1 && character == '='
}

fn accept_one_colon(character: char, index: usize) -> bool {
    index == 1 && character == ':'
}

fn reject_colon_close(character: char, _: usize) -> bool {
    character != ':' && character != '}'
}

fn accept_slash(character: char, _: usize) -> bool {
    character == '/'
}

fn accept_not_slash(character: char, _: usize) -> bool {
    character != '/'
}

fn accept_casing_function(character: char, index: usize) -> bool {
    (character == ',' || character == '^') && index < 3
}

/// Parses a template into its nodes.
pub(crate) fn parse(text: &str) -> Result<Node, SubstituteError> {
    let mut parser = Parser {
        scanner: Scanner::new(text),
    };
    parser.parse_any()
}

struct Parser {
    scanner: Scanner,
}

impl Parser {
    /// The top level: text and `${…}` until the end. Go recurses once per segment; a loop
    /// yields the same sequence without a stack depth proportional to the input.
    fn parse_any(&mut self) -> Result<Node, SubstituteError> {
        let mut nodes = Vec::new();
        loop {
            self.scanner.accept = accept_any;
            self.scanner.mode = SCAN_IDENT | SCAN_LEFT_BRACE | SCAN_ESCAPE;
            self.scanner.escape_characters = ESCAPE_DOLLAR;
            match self.scanner.scan() {
                Token::Ident => nodes.push(Node::Text(self.scanner.text())),
                Token::End => break,
                Token::LeftBrace => nodes.push(self.parse_function()?),
                Token::Illegal | Token::RightBrace => {
                    return Err(SubstituteError::BadSubstitution);
                }
            }
        }
        Ok(match nodes.len() {
            0 => Node::Text(String::new()),
            1 => nodes.remove(0),
            _ => Node::List(nodes),
        })
    }

    fn parse_function(&mut self) -> Result<Node, SubstituteError> {
        self.scanner.escape_characters = ESCAPE_ALL;
        if self.scanner.peek() == '#' {
            return self.parse_length_function();
        }

        self.scanner.accept = accept_ident;
        self.scanner.mode = SCAN_IDENT;
        let name = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::VariableName),
        };

        match self.scanner.peek() {
            ':' => return self.parse_default_or_substring(name),
            '=' => return self.parse_default_function(name),
            ',' | '^' => return self.parse_casing_function(name),
            '/' => return self.parse_replace_function(name),
            '#' => return self.parse_remove_function(name, accept_hash_function),
            '%' => return self.parse_remove_function(name, accept_percent_function),
            _ => {}
        }

        self.scanner.accept = accept_ident;
        self.scanner.mode = SCAN_RIGHT_BRACE;
        match self.scanner.scan() {
            Token::RightBrace => Ok(Node::Function {
                parameter: name,
                operator: String::new(),
                arguments: Vec::new(),
            }),
            _ => Err(SubstituteError::MissingClosingBrace),
        }
    }

    fn parse_parameter(&mut self, accept: Accept, mode: u8) -> Result<Node, SubstituteError> {
        self.scanner.accept = accept;
        self.scanner.mode = mode | SCAN_LEFT_BRACE;
        match self.scanner.scan() {
            Token::LeftBrace => self.parse_function(),
            Token::Ident | Token::RightBrace => Ok(Node::Text(self.scanner.text())),
            Token::Illegal | Token::End => Err(SubstituteError::FunctionSubstitution),
        }
    }

    fn parse_default_or_substring(&mut self, name: String) -> Result<Node, SubstituteError> {
        // Go reads the colon, peeks and then unreads by the width of the peeked character;
        // the same steps are kept so multi-byte characters after `:` fail as they do there.
        self.scanner.read();
        let next = self.scanner.peek();
        self.scanner.unread();
        match next {
            '=' | '-' | '?' | '+' => self.parse_default_function(name),
            _ => self.parse_substring_function(name),
        }
    }

    fn parse_substring_function(&mut self, name: String) -> Result<Node, SubstituteError> {
        self.scanner.accept = accept_one_colon;
        self.scanner.mode = SCAN_IDENT;
        let operator = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::BadSubstitution),
        };
        let mut arguments = vec![self.parse_parameter(reject_colon_close, SCAN_IDENT)?];

        self.scanner.accept = accept_colon;
        self.scanner.mode = SCAN_IDENT | SCAN_RIGHT_BRACE;
        match self.scanner.scan() {
            Token::RightBrace => return Ok(function(name, operator, arguments)),
            Token::Ident => {}
            _ => return Err(SubstituteError::BadSubstitution),
        }
        arguments.push(self.parse_parameter(accept_not_closing, SCAN_IDENT)?);
        self.consume_right_brace()?;
        Ok(function(name, operator, arguments))
    }

    fn parse_remove_function(
        &mut self,
        name: String,
        accept: Accept,
    ) -> Result<Node, SubstituteError> {
        self.scanner.accept = accept;
        self.scanner.mode = SCAN_IDENT;
        let operator = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::BadSubstitution),
        };
        let arguments = vec![self.parse_parameter(accept_not_closing, SCAN_IDENT)?];
        self.consume_right_brace()?;
        Ok(function(name, operator, arguments))
    }

    fn parse_replace_function(&mut self, name: String) -> Result<Node, SubstituteError> {
        self.scanner.accept = accept_replace_function;
        self.scanner.mode = SCAN_IDENT;
        let operator = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::BadSubstitution),
        };
        let mut arguments = vec![self.parse_parameter(accept_not_slash, SCAN_IDENT | SCAN_ESCAPE)?];

        self.scanner.accept = accept_slash;
        self.scanner.mode = SCAN_IDENT;
        if self.scanner.scan() != Token::Ident {
            return Err(SubstituteError::BadSubstitution);
        }
        if self.scanner.peek() == '}' {
            self.consume_right_brace()?;
            return Ok(function(name, operator, arguments));
        }
        arguments.push(self.parse_parameter(accept_not_closing, SCAN_IDENT | SCAN_ESCAPE)?);
        self.consume_right_brace()?;
        Ok(function(name, operator, arguments))
    }

    fn parse_default_function(&mut self, name: String) -> Result<Node, SubstituteError> {
        self.scanner.accept = if self.scanner.peek() == '=' {
            accept_one_equal
        } else {
            accept_default_function
        };
        self.scanner.mode = SCAN_IDENT;
        let operator = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::DefaultFunction),
        };
        let mut arguments = Vec::new();
        loop {
            if self.scanner.peek() == '}' {
                self.consume_right_brace()?;
                return Ok(function(name, operator, arguments));
            }
            arguments.push(self.parse_parameter(accept_not_closing, SCAN_IDENT)?);
        }
    }

    fn parse_casing_function(&mut self, name: String) -> Result<Node, SubstituteError> {
        self.scanner.accept = accept_casing_function;
        self.scanner.mode = SCAN_IDENT;
        let operator = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::BadSubstitution),
        };
        self.consume_right_brace()?;
        Ok(function(name, operator, Vec::new()))
    }

    fn parse_length_function(&mut self) -> Result<Node, SubstituteError> {
        self.scanner.accept = accept_one_hash;
        self.scanner.mode = SCAN_IDENT;
        let operator = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::BadSubstitution),
        };
        self.scanner.accept = accept_ident;
        self.scanner.mode = SCAN_IDENT;
        let name = match self.scanner.scan() {
            Token::Ident => self.scanner.text(),
            _ => return Err(SubstituteError::BadSubstitution),
        };
        self.consume_right_brace()?;
        Ok(function(name, operator, Vec::new()))
    }

    fn consume_right_brace(&mut self) -> Result<(), SubstituteError> {
        self.scanner.mode = SCAN_RIGHT_BRACE;
        if self.scanner.scan() == Token::RightBrace {
            Ok(())
        } else {
            Err(SubstituteError::BadSubstitution)
        }
    }
}

fn function(parameter: String, operator: String, arguments: Vec<Node>) -> Node {
    Node::Function {
        parameter,
        operator,
        arguments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Node {
        Node::Text(value.to_string())
    }

    #[test]
    fn plain_text_is_one_text_node() {
        assert_eq!(parse("hello world"), Ok(text("hello world")));
    }

    #[test]
    fn empty_input_is_empty_text() {
        assert_eq!(parse(""), Ok(text("")));
    }

    #[test]
    fn bare_variable_is_a_function_without_operator() {
        assert_eq!(
            parse("${name}"),
            Ok(function("name".into(), String::new(), Vec::new()))
        );
    }

    #[test]
    fn text_around_a_variable_is_kept_in_order() {
        assert_eq!(
            parse("a ${b} c"),
            Ok(Node::List(vec![
                text("a "),
                function("b".into(), String::new(), Vec::new()),
                text(" c"),
            ]))
        );
    }

    #[test]
    fn dollar_dollar_escapes_one_dollar() {
        assert_eq!(parse("$${var}"), Ok(text("${var}")));
        assert_eq!(parse("a$$b"), Ok(text("a$b")));
    }

    #[test]
    fn dollar_without_brace_is_text() {
        assert_eq!(parse("$var and $"), Ok(text("$var and $")));
    }

    #[test]
    fn default_operator_collects_nested_arguments() {
        assert_eq!(
            parse("${var:=x${y}z}"),
            Ok(function(
                "var".into(),
                ":=".into(),
                vec![
                    text("x"),
                    function("y".into(), String::new(), Vec::new()),
                    text("z")
                ]
            ))
        );
    }

    #[test]
    fn substring_takes_position_and_length() {
        assert_eq!(
            parse("${v:1:2}"),
            Ok(function("v".into(), ":".into(), vec![text("1"), text("2")]))
        );
    }

    #[test]
    fn replace_unescapes_a_slash_in_the_pattern() {
        assert_eq!(
            parse(r"${v//\//-}"),
            Ok(function(
                "v".into(),
                "//".into(),
                vec![text("/"), text("-")]
            ))
        );
    }

    #[test]
    fn replace_with_nothing_has_one_argument() {
        assert_eq!(
            parse("${v/./}"),
            Ok(function("v".into(), "/".into(), vec![text(".")]))
        );
    }

    #[test]
    fn length_operator_comes_before_the_name() {
        assert_eq!(
            parse("${#v}"),
            Ok(function("v".into(), "#".into(), Vec::new()))
        );
    }

    #[test]
    fn unterminated_variable_is_missing_its_closing_brace() {
        assert_eq!(parse("${var"), Err(SubstituteError::MissingClosingBrace));
    }

    #[test]
    fn braces_without_a_name_cannot_parse_the_variable_name() {
        assert_eq!(parse("${}"), Err(SubstituteError::VariableName));
        assert_eq!(parse("${ var}"), Err(SubstituteError::VariableName));
    }

    #[test]
    fn unterminated_default_cannot_parse_the_function() {
        assert_eq!(
            parse("${var:=abc"),
            Err(SubstituteError::FunctionSubstitution)
        );
    }

    #[test]
    fn empty_substring_position_cannot_parse_the_function() {
        assert_eq!(parse("${var:}"), Err(SubstituteError::FunctionSubstitution));
    }

    #[test]
    fn unknown_character_after_name_is_missing_its_closing_brace() {
        assert_eq!(parse("${var!}"), Err(SubstituteError::MissingClosingBrace));
    }

    #[test]
    fn invalid_bytes_decode_as_rune_error() {
        assert_eq!(decode_rune(&[0xFF, b'a']), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(&[]), (RUNE_ERROR, 0));
        assert_eq!(decode_rune("é".as_bytes()), ('é', 2));
    }
}
