//! The parser: turns tokens into trees, one per template (`define`s become their own
//! trees), following Go's `text/template/parse` grammar and its error messages.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::lex::{Kind, Token, lex};
use crate::value::Value;

/// A parsed template: its body and where it came from (for error positions).
#[derive(Debug)]
pub struct Tree {
    /// The template's name.
    pub name: String,
    /// The name of the source the template was parsed from (Go's `ParseName`).
    pub parse_name: String,
    /// The full source text, used to turn byte offsets into line and column.
    pub(crate) source: Arc<str>,
    pub(crate) root: Vec<Node>,
}

impl Tree {
    /// Go's `ErrorContext` location: `parse_name:line:column` of a byte offset.
    pub(crate) fn location(&self, pos: usize) -> String {
        let (line, column) = line_and_column(&self.source, pos);
        format!("{}:{}:{}", self.parse_name, line, column)
    }

    /// Whether the body is only whitespace text (Go's `IsEmptyTree`).
    pub(crate) fn is_empty(&self) -> bool {
        self.root.iter().all(|node| match node {
            Node::Text(text) => text.trim().is_empty(),
            _ => false,
        })
    }
}

pub(crate) fn line_and_column(source: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(source.len());
    let before = &source.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|byte| **byte == b'\n').count();
    let column = match before.iter().rposition(|byte| *byte == b'\n') {
        Some(newline) => pos - newline - 1,
        None => pos,
    };
    (line, column)
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action {
        pipe: Pipe,
    },
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) pos: usize,
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) is_assign: bool,
    pub(crate) decl: Vec<String>,
    pub(crate) commands: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) args: Vec<Operand>,
}

#[derive(Debug)]
pub(crate) enum Operand {
    Field {
        pos: usize,
        names: Vec<String>,
    },
    Variable {
        pos: usize,
        name: String,
        names: Vec<String>,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        value: bool,
    },
    Number {
        pos: usize,
        text: String,
        value: Value,
    },
    String {
        pos: usize,
        quoted: String,
        value: String,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Chain {
        pos: usize,
        node: Box<Operand>,
        names: Vec<String>,
    },
    Pipe {
        pos: usize,
        pipe: Box<Pipe>,
    },
}

impl Operand {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Operand::Field { pos, .. }
            | Operand::Variable { pos, .. }
            | Operand::Dot { pos }
            | Operand::Nil { pos }
            | Operand::Bool { pos, .. }
            | Operand::Number { pos, .. }
            | Operand::String { pos, .. }
            | Operand::Identifier { pos, .. }
            | Operand::Chain { pos, .. }
            | Operand::Pipe { pos, .. } => *pos,
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field { names, .. } => {
                for name in names {
                    write!(formatter, ".{name}")?;
                }
                Ok(())
            }
            Operand::Variable { name, names, .. } => {
                write!(formatter, "{name}")?;
                for field in names {
                    write!(formatter, ".{field}")?;
                }
                Ok(())
            }
            Operand::Dot { .. } => write!(formatter, "."),
            Operand::Nil { .. } => write!(formatter, "nil"),
            Operand::Bool { value, .. } => write!(formatter, "{value}"),
            Operand::Number { text, .. } => write!(formatter, "{text}"),
            Operand::String { quoted, .. } => write!(formatter, "{quoted}"),
            Operand::Identifier { name, .. } => write!(formatter, "{name}"),
            Operand::Chain { node, names, .. } => {
                write!(formatter, "{node}")?;
                for name in names {
                    write!(formatter, ".{name}")?;
                }
                Ok(())
            }
            Operand::Pipe { pipe, .. } => write!(formatter, "({pipe})"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, arg) in self.args.iter().enumerate() {
            if index > 0 {
                write!(formatter, " ")?;
            }
            write!(formatter, "{arg}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(formatter, "{}", self.decl.join(", "))?;
            write!(formatter, "{}", if self.is_assign { " = " } else { " := " })?;
        }
        for (index, command) in self.commands.iter().enumerate() {
            if index > 0 {
                write!(formatter, " | ")?;
            }
            write!(formatter, "{command}")?;
        }
        Ok(())
    }
}

/// A parse failure, formatted as Go formats it (`template: name:line: message`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The template (source) name.
    pub name: String,
    /// The 1-based line of the failure.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses `source` named `name`; returns the top-level tree and every `define`d tree.
pub(crate) fn parse(
    name: &str,
    source: &str,
    is_function: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, ParseError> {
    let shared: Arc<str> = Arc::from(source);
    let error_at = |pos: usize, message: String| ParseError {
        name: name.to_string(),
        line: line_and_column(source, pos).0,
        message: message.replace("{NAME}", name),
    };
    let tokens = lex(source).map_err(|(pos, message)| error_at(pos, message))?;
    let mut parser = Parser {
        tokens,
        index: 0,
        is_function,
        vars: vec!["$"],
        defines: Vec::new(),
        source: shared.clone(),
        name: name.to_string(),
        range_depth: 0,
    };
    let (root, end) = parser
        .list()
        .map_err(|(pos, message)| error_at(pos, message))?;
    if let Some(end) = end {
        return Err(error_at(end.pos, format!("unexpected {}", end.describe())));
    }
    let mut trees = vec![Tree {
        name: name.to_string(),
        parse_name: name.to_string(),
        source: shared,
        root,
    }];
    trees.append(&mut parser.defines);
    Ok(trees)
}

type ParseResult<T> = Result<T, (usize, String)>;

/// How a nested list ended.
struct ListEnd {
    pos: usize,
    keyword: &'static str,
    /// For `{{else if ...}}` / `{{else with ...}}`: the chained keyword.
    chained: Option<&'static str>,
}

impl ListEnd {
    fn describe(&self) -> String {
        format!("{{{{{}}}}}", self.keyword)
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    index: usize,
    is_function: &'a dyn Fn(&str) -> bool,
    vars: Vec<&'a str>,
    defines: Vec<Tree>,
    source: Arc<str>,
    name: String,
    range_depth: usize,
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Token<'a> {
        let token = self.tokens.get(self.index).copied().unwrap_or(Token {
            kind: Kind::Eof,
            text: "",
            pos: self.source.len(),
        });
        if self.index < self.tokens.len() {
            self.index += 1;
        }
        token
    }

    fn peek(&self) -> Token<'a> {
        self.tokens.get(self.index).copied().unwrap_or(Token {
            kind: Kind::Eof,
            text: "",
            pos: self.source.len(),
        })
    }

    fn next_non_space(&mut self) -> Token<'a> {
        loop {
            let token = self.next();
            if token.kind != Kind::Space {
                return token;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token<'a> {
        let saved = self.index;
        let token = self.next_non_space();
        self.index = saved;
        token
    }

    fn expect(&mut self, kind: Kind, context: &str) -> ParseResult<Token<'a>> {
        let token = self.next_non_space();
        if token.kind != kind {
            return Err(unexpected(&token, context));
        }
        Ok(token)
    }

    /// Parses nodes until EOF or a closing keyword (`end`, `else`).
    fn list(&mut self) -> ParseResult<(Vec<Node>, Option<ListEnd>)> {
        let mut nodes = Vec::new();
        loop {
            let token = self.next();
            match token.kind {
                Kind::Eof => return Ok((nodes, None)),
                Kind::Text => nodes.push(Node::Text(token.text.to_string())),
                Kind::LeftDelim => {
                    let keyword = self.peek_non_space();
                    if keyword.kind == Kind::Keyword {
                        match keyword.text {
                            "end" => {
                                self.next_non_space();
                                self.expect(Kind::RightDelim, "end")?;
                                return Ok((
                                    nodes,
                                    Some(ListEnd {
                                        pos: keyword.pos,
                                        keyword: "end",
                                        chained: None,
                                    }),
                                ));
                            }
                            "else" => {
                                self.next_non_space();
                                let after = self.peek_non_space();
                                if after.kind == Kind::Keyword
                                    && (after.text == "if" || after.text == "with")
                                {
                                    let chained = if after.text == "if" { "if" } else { "with" };
                                    self.next_non_space();
                                    return Ok((
                                        nodes,
                                        Some(ListEnd {
                                            pos: keyword.pos,
                                            keyword: "else",
                                            chained: Some(chained),
                                        }),
                                    ));
                                }
                                self.expect(Kind::RightDelim, "else")?;
                                return Ok((
                                    nodes,
                                    Some(ListEnd {
                                        pos: keyword.pos,
                                        keyword: "else",
                                        chained: None,
                                    }),
                                ));
                            }
                            _ => {}
                        }
                    }
                    if let Some(node) = self.action()? {
                        nodes.push(node);
                    }
                }
                _ => return Err(unexpected(&token, "input")),
            }
        }
    }

    fn action(&mut self) -> ParseResult<Option<Node>> {
        let token = self.peek_non_space();
        if token.kind == Kind::Keyword {
            self.next_non_space();
            return match token.text {
                "if" => Ok(Some(Node::If(self.branch("if", token.pos)?))),
                "range" => {
                    self.range_depth += 1;
                    let branch = self.branch("range", token.pos);
                    self.range_depth -= 1;
                    Ok(Some(Node::Range(branch?)))
                }
                "with" => Ok(Some(Node::With(self.branch("with", token.pos)?))),
                "template" => self.template_call().map(Some),
                "block" => self.block().map(Some),
                "define" => {
                    self.define()?;
                    Ok(None)
                }
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return Err((
                            token.pos,
                            format!("{{{{{}}}}} outside {{{{range}}}}", token.text),
                        ));
                    }
                    self.expect(Kind::RightDelim, token.text)?;
                    Ok(Some(if token.text == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    }))
                }
                "nil" => Err((token.pos, "nil is not a command".to_string())),
                other => Err((token.pos, format!("unexpected <{other}> in command"))),
            };
        }
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Some(Node::Action { pipe }))
    }

    fn branch(&mut self, context: &'static str, pos: usize) -> ParseResult<Branch> {
        let vars_before = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        let (list, end) = self.list()?;
        let Some(end) = end else {
            return Err((self.source.len(), "unexpected EOF".to_string()));
        };
        let mut else_list = None;
        if end.keyword == "else" {
            if let Some(chained) = end.chained {
                // `{{else if x}}` is `{{else}}{{if x}}...{{end}}{{end}}` sharing one `end`.
                if chained != context && !(context == "if" && chained == "if") {
                    return Err((
                        end.pos,
                        format!("expected end; found {{{{else {chained}}}}}"),
                    ));
                }
                let inner = self.branch(chained, end.pos)?;
                let node = if chained == "if" {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                };
                else_list = Some(vec![node]);
            } else {
                let (list, end) = self.list()?;
                match end {
                    Some(ListEnd { keyword: "end", .. }) => else_list = Some(list),
                    Some(other) => {
                        return Err((
                            other.pos,
                            format!("expected end; found {}", other.describe()),
                        ));
                    }
                    None => return Err((self.source.len(), "unexpected EOF".to_string())),
                }
            }
        }
        self.vars.truncate(vars_before);
        Ok(Branch {
            pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_call(&mut self) -> ParseResult<Node> {
        let name_token = self.next_non_space();
        let name =
            string_value(&name_token).ok_or_else(|| unexpected(&name_token, "template clause"))?;
        let next = self.peek_non_space();
        let pipe = if next.kind == Kind::RightDelim {
            self.next_non_space();
            None
        } else {
            Some(self.pipeline("template clause", Kind::RightDelim)?)
        };
        Ok(Node::Template {
            pos: name_token.pos,
            name,
            pipe,
        })
    }

    fn block(&mut self) -> ParseResult<Node> {
        let name_token = self.next_non_space();
        let name =
            string_value(&name_token).ok_or_else(|| unexpected(&name_token, "block clause"))?;
        let next = self.peek_non_space();
        let pipe = if next.kind == Kind::RightDelim {
            self.next_non_space();
            None
        } else {
            Some(self.pipeline("block clause", Kind::RightDelim)?)
        };
        self.define_body(name.clone())?;
        Ok(Node::Template {
            pos: name_token.pos,
            name,
            pipe,
        })
    }

    fn define(&mut self) -> ParseResult<()> {
        let name_token = self.next_non_space();
        let name =
            string_value(&name_token).ok_or_else(|| unexpected(&name_token, "define clause"))?;
        self.expect(Kind::RightDelim, "define clause")?;
        self.define_body(name)
    }

    fn define_body(&mut self, name: String) -> ParseResult<()> {
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$"]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (root, end) = self.list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        match end {
            Some(ListEnd { keyword: "end", .. }) => {}
            Some(other) => {
                return Err((
                    other.pos,
                    format!("unexpected {} in define clause", other.describe()),
                ));
            }
            None => return Err((self.source.len(), "unexpected EOF".to_string())),
        }
        self.defines.push(Tree {
            name,
            parse_name: self.name.clone(),
            source: self.source.clone(),
            root,
        });
        Ok(())
    }

    /// Parses a pipeline up to `end` (a right delimiter or right paren).
    fn pipeline(&mut self, context: &str, end: Kind) -> ParseResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            is_assign: false,
            decl: Vec::new(),
            commands: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, `$i, $v :=`.
        if start.kind == Kind::Variable {
            let saved = self.index;
            let variable = self.next_non_space();
            let after = self.peek_non_space();
            match after.kind {
                Kind::Declare | Kind::Assign => {
                    self.next_non_space();
                    pipe.is_assign = after.kind == Kind::Assign;
                    if pipe.is_assign && !self.vars.contains(&variable.text) {
                        return Err((
                            variable.pos,
                            format!("undefined variable \"{}\"", variable.text),
                        ));
                    }
                    pipe.decl.push(variable.text.to_string());
                    self.vars.push(variable.text);
                }
                Kind::Comma if context == "range" => {
                    self.next_non_space();
                    let second = self.expect(Kind::Variable, "range")?;
                    let operator = self.next_non_space();
                    if !matches!(operator.kind, Kind::Declare | Kind::Assign) {
                        return Err(unexpected(&operator, "range"));
                    }
                    pipe.is_assign = operator.kind == Kind::Assign;
                    pipe.decl.push(variable.text.to_string());
                    pipe.decl.push(second.text.to_string());
                    self.vars.push(variable.text);
                    self.vars.push(second.text);
                }
                _ => self.index = saved,
            }
        }
        loop {
            let token = self.peek_non_space();
            if token.kind == end {
                self.next_non_space();
                if pipe.commands.is_empty() {
                    return Err((token.pos, format!("missing value for {context}")));
                }
                return Ok(pipe);
            }
            match token.kind {
                Kind::Bool
                | Kind::Char
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    let command = self.command(end)?;
                    pipe.commands.push(command);
                }
                _ => return Err(unexpected(&token, context)),
            }
        }
    }

    fn command(&mut self, end: Kind) -> ParseResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut command = Command { args: Vec::new() };
        loop {
            while self.peek().kind == Kind::Space {
                self.next();
            }
            let token = self.peek();
            match token.kind {
                Kind::RightDelim | Kind::RightParen => {
                    if token.kind != end {
                        return Err(unexpected(&token, "operand"));
                    }
                    break;
                }
                Kind::Pipe => {
                    self.next();
                    break;
                }
                _ => {}
            }
            if let Some(operand) = self.operand()? {
                command.args.push(operand);
            }
            let token = self.peek();
            if !matches!(
                token.kind,
                Kind::Space | Kind::RightDelim | Kind::RightParen | Kind::Pipe
            ) {
                return Err(unexpected(&token, "operand"));
            }
        }
        if command.args.is_empty() {
            return Err((pos, "empty command".to_string()));
        }
        Ok(command)
    }

    fn operand(&mut self) -> ParseResult<Option<Operand>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        // Go positions a chain at its first appended field, not at the term.
        let chain_pos = self.peek().pos;
        let mut names = Vec::new();
        while self.peek().kind == Kind::Field {
            let field = self.next();
            names.push(field.text[1..].to_string());
        }
        Ok(Some(match term {
            Operand::Field {
                pos: _,
                names: mut first,
            } => {
                first.extend(names);
                Operand::Field {
                    pos: chain_pos,
                    names: first,
                }
            }
            Operand::Variable {
                pos: _,
                name,
                names: mut first,
            } => {
                first.extend(names);
                Operand::Variable {
                    pos: chain_pos,
                    name,
                    names: first,
                }
            }
            Operand::Bool { pos, .. }
            | Operand::String { pos, .. }
            | Operand::Number { pos, .. }
            | Operand::Nil { pos }
            | Operand::Dot { pos } => {
                return Err((
                    pos,
                    format!("unexpected . after term {:?}", term.to_string()),
                ));
            }
            other => Operand::Chain {
                pos: chain_pos,
                node: Box::new(other),
                names,
            },
        }))
    }

    fn term(&mut self) -> ParseResult<Option<Operand>> {
        let token = self.next();
        Ok(Some(match token.kind {
            Kind::Identifier => {
                if !(self.is_function)(token.text) {
                    return Err((token.pos, format!("function {:?} not defined", token.text)));
                }
                Operand::Identifier {
                    pos: token.pos,
                    name: token.text.to_string(),
                }
            }
            Kind::Dot => Operand::Dot { pos: token.pos },
            Kind::Nil => Operand::Nil { pos: token.pos },
            Kind::Variable => {
                if !self.vars.contains(&token.text) {
                    return Err((token.pos, format!("undefined variable {:?}", token.text)));
                }
                Operand::Variable {
                    pos: token.pos,
                    name: token.text.to_string(),
                    names: Vec::new(),
                }
            }
            Kind::Field => Operand::Field {
                pos: token.pos,
                names: vec![token.text[1..].to_string()],
            },
            Kind::Bool => Operand::Bool {
                pos: token.pos,
                value: token.text == "true",
            },
            Kind::Char | Kind::Number => {
                let value = number_value(&token).ok_or_else(|| {
                    (
                        token.pos,
                        format!("illegal number syntax: {:?}", token.text),
                    )
                })?;
                Operand::Number {
                    pos: token.pos,
                    text: token.text.to_string(),
                    value,
                }
            }
            Kind::String | Kind::RawString => {
                let value = string_value(&token)
                    .ok_or_else(|| (token.pos, format!("bad string syntax: {}", token.text)))?;
                Operand::String {
                    pos: token.pos,
                    quoted: token.text.to_string(),
                    value,
                }
            }
            Kind::LeftParen => {
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                Operand::Pipe {
                    pos: token.pos,
                    pipe: Box::new(pipe),
                }
            }
            _ => {
                self.index -= 1;
                return Err(unexpected(&token, "operand"));
            }
        }))
    }
}

fn unexpected(token: &Token<'_>, context: &str) -> (usize, String) {
    let shown = match token.kind {
        Kind::Eof => "EOF".to_string(),
        Kind::RightDelim => "\"}}\"".to_string(),
        Kind::RightParen => "\")\"".to_string(),
        Kind::Keyword => format!("<{}>", token.text),
        _ => format!("{:?}", token.text),
    };
    if token.kind == Kind::Eof {
        return (token.pos, "unexpected EOF".to_string());
    }
    (token.pos, format!("unexpected {shown} in {context}"))
}

/// Unquotes a Go string literal (interpreted or raw).
pub(crate) fn string_value(token: &Token<'_>) -> Option<String> {
    match token.kind {
        Kind::RawString => Some(token.text[1..token.text.len() - 1].replace('\r', "")),
        Kind::String => unquote(&token.text[1..token.text.len() - 1]),
        _ => None,
    }
}

fn unquote(body: &str) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(character) = chars.next() {
        if character != '\\' {
            out.push(character);
            continue;
        }
        let escape = chars.next()?;
        match escape {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' | 'u' | 'U' => {
                let width = match escape {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = (0..width).filter_map(|_| chars.next()).collect();
                let code = u32::from_str_radix(&digits, 16).ok()?;
                out.push(char::from_u32(code)?);
            }
            '0'..='7' => {
                let mut digits = String::from(escape);
                for _ in 0..2 {
                    digits.push(chars.next()?);
                }
                let code = u32::from_str_radix(&digits, 8).ok()?;
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Go's `idealConstant`: integers stay `int`, anything with `.`/`e` is `float64`.
fn number_value(token: &Token<'_>) -> Option<Value> {
    if token.kind == Kind::Char {
        let body = &token.text[1..token.text.len() - 1];
        let character = if body.starts_with('\\') {
            unquote(body)?.chars().next()?
        } else {
            body.chars().next()?
        };
        return Some(Value::Int(i64::from(u32::from(character))));
    }
    let text = token.text.replace('_', "");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, text.strip_prefix('+').unwrap_or(&text).to_string()),
    };
    let lower = unsigned.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x")
        && hex.contains('p')
    {
        let float = parse_hex_float(hex)?;
        return Some(Value::Float(if negative { -float } else { float }));
    }
    let integer = if let Some(hex) = lower.strip_prefix("0x") {
        if hex.contains(['.', 'p']) {
            None
        } else {
            i64::from_str_radix(hex, 16).ok()
        }
    } else if let Some(octal) = lower.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()
    } else if let Some(binary) = lower.strip_prefix("0b") {
        i64::from_str_radix(binary, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|b| b.is_ascii_digit()) {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(integer) = integer {
        return Some(Value::Int(if negative { -integer } else { integer }));
    }
    let float: f64 = lower.parse().ok()?;
    Some(Value::Float(if negative { -float } else { float }))
}

/// A hexadecimal float body such as `1p60` or `1.8p1` (after `0x`).
fn parse_hex_float(body: &str) -> Option<f64> {
    let (mantissa, exponent) = body.split_once('p')?;
    let exponent: i32 = exponent.parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut value = 0f64;
    for digit in whole.chars() {
        value = value * 16.0 + f64::from(digit.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for digit in fraction.chars() {
        value += f64::from(digit.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(value * 2f64.powi(exponent))
}

/// Index of trees by name, as a Go template set holds them.
pub(crate) type TreeMap = HashMap<String, Arc<Tree>, foldhash::fast::RandomState>;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(source: &str) -> Vec<Tree> {
        match parse("t", source, &|name| name == "printf") {
            Ok(trees) => trees,
            Err(error) => panic!("parse failed: {error}"),
        }
    }

    #[test]
    fn defines_become_separate_trees() {
        let trees = parse_ok("a{{define \"x\"}}b{{end}}c");
        assert_eq!(trees.len(), 2);
        assert_eq!(trees[1].name, "x");
    }

    #[test]
    fn unknown_functions_are_parse_errors() {
        let error = parse("t", "\n{{ nope 1 }}", &|_| false).err();
        assert_eq!(
            error.map(|error| error.to_string()),
            Some("template: t:2: function \"nope\" not defined".to_string())
        );
    }

    #[test]
    fn unclosed_if_reports_eof() {
        let error = parse("t", "{{ if true }}x", &|_| false).err();
        assert_eq!(
            error.map(|error| error.to_string()),
            Some("template: t:1: unexpected EOF".to_string())
        );
    }
}
