//! The executor: walks parsed trees against data, following Go's `text/template/exec.go`
//! (variable scoping, `range`/`with`/`if`, short-circuit `and`/`or`, error contexts).

use std::collections::HashMap;
use std::sync::Arc;

use crate::parse::{Branch, Command, Node, Operand, Pipe, Tree, TreeMap};
use crate::value::{Value, write_value};
use crate::{Error, FunctionMap};

/// Go's `maxExecDepth`: how deep `template` calls may nest.
const MAX_EXEC_DEPTH: usize = 100_000;

/// Bounds that turn runaway templates into errors instead of exhausted memory or time.
/// Go has none; these are far above what real charts need.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest output of one template execution, in bytes.
    pub max_output_bytes: usize,
    /// Most `range` iterations in one execution state.
    pub max_iterations: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output_bytes: 256 * 1024 * 1024,
            max_iterations: 50_000_000,
        }
    }
}

/// Everything a running template (and the functions it calls) shares: the template set,
/// the functions, the nesting depth, and counters functions may keep (Helm's include limit).
pub struct State {
    pub(crate) trees: Arc<TreeMap>,
    pub(crate) overlay: Option<Arc<TreeMap>>,
    pub(crate) functions: Arc<FunctionMap>,
    pub(crate) depth: usize,
    /// Per-name counters for functions such as Helm's `include` recursion limit.
    pub counters: HashMap<String, usize, foldhash::fast::RandomState>,
    /// Bounds on output and loops.
    pub limits: Limits,
    pub(crate) iterations: u64,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Frame<'s> {
    state: &'s mut State,
    tree: Arc<Tree>,
    name: String,
    vars: Vec<(String, Value)>,
    out: String,
}

type ExecResult<T> = Result<T, Error>;

impl State {
    fn lookup(&self, name: &str) -> Option<Arc<Tree>> {
        if let Some(overlay) = &self.overlay
            && let Some(tree) = overlay.get(name)
        {
            return Some(tree.clone());
        }
        self.trees.get(name).cloned()
    }

    /// Executes the named template of the set with `data` as dot (Go's `ExecuteTemplate`).
    pub fn execute_template(&mut self, name: &str, data: Value) -> Result<String, Error> {
        let Some(tree) = self.lookup(name) else {
            return Err(Error::Execute(format!(
                "template: no template {name:?} associated with template {:?}",
                "gotpl"
            )));
        };
        self.run(tree, name.to_string(), data)
    }

    /// Parses `text` as a template named `name` into a copy of the set (its `define`s
    /// visible only to this execution, as in Helm's `tpl`) and executes it.
    pub fn execute_text(&mut self, name: &str, text: &str, data: Value) -> Result<String, Error> {
        let functions = self.functions.clone();
        let trees = crate::parse::parse(name, text, &|function| functions.contains_key(function))
            .map_err(Error::Parse)?;
        let mut overlay: TreeMap = self.overlay.as_deref().cloned().unwrap_or_default();
        let mut top = None;
        for tree in trees {
            let tree = Arc::new(tree);
            if top.is_none() {
                top = Some(tree.clone());
                overlay.insert(tree.name.clone(), tree);
                continue;
            }
            let existing = overlay
                .get(&tree.name)
                .cloned()
                .or_else(|| self.trees.get(&tree.name).cloned());
            if tree.is_empty() && existing.is_some() {
                continue;
            }
            overlay.insert(tree.name.clone(), tree);
        }
        let Some(top) = top else {
            return Ok(String::new());
        };
        let saved = self.overlay.replace(Arc::new(overlay));
        let result = self.run(top, name.to_string(), data);
        self.overlay = saved;
        result
    }

    pub(crate) fn run(
        &mut self,
        tree: Arc<Tree>,
        name: String,
        data: Value,
    ) -> Result<String, Error> {
        if self.depth >= MAX_EXEC_DEPTH {
            return Err(Error::Execute(format!(
                "template: {}: exceeded maximum template depth ({MAX_EXEC_DEPTH})",
                tree.parse_name
            )));
        }
        self.depth += 1;
        let mut frame = Frame {
            state: self,
            tree: tree.clone(),
            name,
            vars: vec![("$".to_string(), data.clone())],
            out: String::new(),
        };
        let result = frame.walk_list(&data, &tree.root);
        let out = std::mem::take(&mut frame.out);
        self.depth -= 1;
        result.map(|_| out)
    }
}

impl Frame<'_> {
    fn error_at(&self, pos: usize, context: &dyn std::fmt::Display, message: String) -> Error {
        Error::Execute(format!(
            "template: {}: executing {:?} at <{}>: {}",
            self.tree.location(pos),
            self.name,
            context,
            message
        ))
    }

    fn walk_list(&mut self, dot: &Value, nodes: &[Node]) -> ExecResult<Flow> {
        for node in nodes {
            match self.walk(dot, node)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> ExecResult<Flow> {
        match node {
            Node::Text(text) => self.out.push_str(text),
            Node::Action { pipe } => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print(&value);
                    if self.out.len() > self.state.limits.max_output_bytes {
                        return Err(self.error_at(
                            pipe.commands
                                .first()
                                .and_then(|command| command.args.first())
                                .map_or(0, Operand::pos),
                            &pipe.to_string(),
                            format!(
                                "template output exceeds {} bytes",
                                self.state.limits.max_output_bytes
                            ),
                        ));
                    }
                }
            }
            Node::If(branch) => return self.walk_if_or_with(dot, branch, false),
            Node::With(branch) => return self.walk_if_or_with(dot, branch, true),
            Node::Range(branch) => return self.walk_range(dot, branch),
            Node::Template { pos, name, pipe } => {
                let data = match pipe {
                    Some(pipe) => self.eval_pipeline(dot, pipe)?,
                    None => Value::Nil,
                };
                let Some(tree) = self.state.lookup(name) else {
                    let shown = match pipe {
                        Some(pipe) => format!("{{{{template {name:?} {pipe}}}}}"),
                        None => format!("{{{{template {name:?}}}}}"),
                    };
                    return Err(self.error_at(
                        *pos,
                        &shown,
                        format!("template {name:?} not defined"),
                    ));
                };
                let text = self.state.run(tree, name.clone(), data)?;
                self.out.push_str(&text);
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, value: &Value) {
        match value {
            Value::Nil => self.out.push_str("<no value>"),
            other => write_value(&mut self.out, other, true),
        }
    }

    fn walk_if_or_with(&mut self, dot: &Value, branch: &Branch, is_with: bool) -> ExecResult<Flow> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let flow = if value.is_true() {
            if is_with {
                self.walk_list(&value, &branch.list)?
            } else {
                self.walk_list(dot, &branch.list)?
            }
        } else if let Some(else_list) = &branch.else_list {
            self.walk_list(dot, else_list)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Value, branch: &Branch) -> ExecResult<Flow> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let decl_count = branch.pipe.decl.len();
        let mut items: Vec<(Value, Value)> = Vec::new();
        // `range N` counts without building a list.
        let mut counted: i64 = 0;
        match &value {
            Value::List(list) => {
                for (index, item) in list.iter().enumerate() {
                    items.push((Value::Int(index as i64), item.clone()));
                }
            }
            Value::Bytes(bytes) => {
                for (index, byte) in bytes.iter().enumerate() {
                    items.push((Value::Int(index as i64), Value::Int(i64::from(*byte))));
                }
            }
            Value::Map(map) => {
                for (key, item) in map.snapshot() {
                    items.push((Value::from(key.as_str()), item));
                }
            }
            Value::Int(count) | Value::Int64(count) => {
                if decl_count > 1 {
                    return Err(self.error_at(
                        branch.pos,
                        &branch.pipe.to_string(),
                        "can't use int to iterate over more than one variable".to_string(),
                    ));
                }
                counted = (*count).max(0);
            }
            Value::Nil => {}
            Value::Object(object) => match object.as_data() {
                Value::List(list) => {
                    for (index, item) in list.iter().enumerate() {
                        items.push((Value::Int(index as i64), item.clone()));
                    }
                }
                Value::Map(map) => {
                    for (key, item) in map.snapshot() {
                        items.push((Value::from(key.as_str()), item));
                    }
                }
                _ => {}
            },
            other => {
                // Go reports the last operand it evaluated.
                let (pos, context) = branch
                    .pipe
                    .commands
                    .last()
                    .and_then(|command| command.args.first())
                    .map_or((branch.pos, branch.pipe.to_string()), |arg| {
                        (arg.pos(), arg.to_string())
                    });
                return Err(self.error_at(
                    pos,
                    &context,
                    format!("range can't iterate over {}", other.to_go_string()),
                ));
            }
        }
        if items.is_empty() && counted == 0 {
            let flow = match &branch.else_list {
                Some(else_list) => self.walk_list(dot, else_list)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(match flow {
                Flow::Normal => Flow::Normal,
                other => other,
            });
        }
        let base = self.vars.len();
        let pairs = items
            .into_iter()
            .chain((0..counted).map(|index| (Value::Int(index), Value::Int(index))));
        for (key, item) in pairs {
            self.state.iterations += 1;
            if self.state.iterations > self.state.limits.max_iterations {
                return Err(self.error_at(
                    branch.pos,
                    &branch.pipe.to_string(),
                    format!(
                        "range: exceeded the limit of {} loop iterations",
                        self.state.limits.max_iterations
                    ),
                ));
            }
            if !branch.pipe.is_assign {
                if decl_count == 1 {
                    self.set_top(1, item.clone());
                } else if decl_count == 2 {
                    self.set_top(2, key);
                    self.set_top(1, item.clone());
                }
            } else if decl_count == 1 {
                self.assign(&branch.pipe.decl[0], item.clone());
            } else if decl_count == 2 {
                self.assign(&branch.pipe.decl[0], key);
                self.assign(&branch.pipe.decl[1], item.clone());
            }
            let flow = self.walk_list(&item, &branch.list)?;
            self.vars.truncate(base);
            if let Flow::Break = flow {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set_top(&mut self, from_top: usize, value: Value) {
        let length = self.vars.len();
        if let Some(slot) = self.vars.get_mut(length.wrapping_sub(from_top)) {
            slot.1 = value;
        }
    }

    fn assign(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(var, _)| var == name) {
            slot.1 = value;
        }
    }

    fn variable(&self, pos: usize, name: &str) -> ExecResult<Value> {
        match self.vars.iter().rev().find(|(var, _)| var == name) {
            Some((_, value)) => Ok(value.clone()),
            None => Err(self.error_at(pos, &name, format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> ExecResult<Value> {
        let mut value: Option<Value> = None;
        for command in &pipe.commands {
            value = Some(self.eval_command(dot, command, value)?);
        }
        let value = value.unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.assign(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, command: &Command, final_value: &Option<Value>) -> ExecResult<()> {
        if command.args.len() > 1 || final_value.is_some() {
            let first = &command.args[0];
            return Err(self.error_at(
                first.pos(),
                &command.to_string(),
                format!("can't give argument to non-function {first}"),
            ));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value,
        command: &Command,
        final_value: Option<Value>,
    ) -> ExecResult<Value> {
        let Some(first) = command.args.first() else {
            return Ok(Value::Nil);
        };
        match first {
            Operand::Field { pos, names } => self.eval_field_chain(
                dot,
                dot.clone(),
                *pos,
                first,
                names,
                &command.args[1..],
                final_value,
            ),
            Operand::Chain { pos, node, names } => {
                let receiver = self.eval_arg(dot, node)?;
                self.eval_field_chain(
                    dot,
                    receiver,
                    *pos,
                    first,
                    names,
                    &command.args[1..],
                    final_value,
                )
            }
            Operand::Variable { pos, name, names } => {
                let value = self.variable(*pos, name)?;
                if names.is_empty() {
                    self.not_a_function(command, &final_value)?;
                    return Ok(value);
                }
                self.eval_field_chain(
                    dot,
                    value,
                    *pos,
                    first,
                    names,
                    &command.args[1..],
                    final_value,
                )
            }
            Operand::Identifier { pos, name } => {
                // The error context is formatted only if an error is reported.
                self.eval_function(dot, *pos, command, name, &command.args[1..], final_value)
            }
            Operand::Pipe { pipe, .. } => {
                self.not_a_function(command, &final_value)?;
                let mark = self.vars.len();
                let value = self.eval_pipeline(dot, pipe)?;
                self.vars.truncate(mark);
                Ok(value)
            }
            constant => {
                self.not_a_function(command, &final_value)?;
                self.eval_arg(dot, constant)
            }
        }
    }

    fn eval_arg(&mut self, dot: &Value, operand: &Operand) -> ExecResult<Value> {
        match operand {
            Operand::Dot { .. } => Ok(dot.clone()),
            Operand::Nil { .. } => Ok(Value::Nil),
            Operand::Bool { value, .. } => Ok(Value::Bool(*value)),
            Operand::Number { value, .. } => Ok(value.clone()),
            Operand::String { value, .. } => Ok(Value::from(value.as_str())),
            Operand::Field { pos, names } => {
                self.eval_field_chain(dot, dot.clone(), *pos, operand, names, &[], None)
            }
            Operand::Variable { pos, name, names } => {
                let value = self.variable(*pos, name)?;
                if names.is_empty() {
                    return Ok(value);
                }
                self.eval_field_chain(dot, value, *pos, operand, names, &[], None)
            }
            Operand::Chain { pos, node, names } => {
                let receiver = self.eval_arg(dot, node)?;
                self.eval_field_chain(dot, receiver, *pos, operand, names, &[], None)
            }
            Operand::Pipe { pipe, .. } => {
                let mark = self.vars.len();
                let value = self.eval_pipeline(dot, pipe);
                self.vars.truncate(mark);
                value
            }
            Operand::Identifier { pos, name } => {
                self.eval_function(dot, *pos, name, name, &[], None)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        receiver: Value,
        pos: usize,
        context: &dyn std::fmt::Display,
        names: &[String],
        args: &[Operand],
        final_value: Option<Value>,
    ) -> ExecResult<Value> {
        // Go treats an invalid (nil) receiver at the start of a chain as "no value" and
        // yields no value; only a nil met mid-chain (a missing map key) is an error.
        if receiver.is_nil() {
            return Ok(Value::Nil);
        }
        let mut receiver = receiver;
        let last = names.len().saturating_sub(1);
        for (index, name) in names.iter().enumerate() {
            if index < last {
                receiver = self.eval_field(pos, context, &receiver, name, None)?;
            } else {
                let mut values = Vec::new();
                for arg in args {
                    values.push(self.eval_arg(dot, arg)?);
                }
                if let Some(final_value) = &final_value {
                    values.push(final_value.clone());
                }
                let has_args = !args.is_empty() || final_value.is_some();
                receiver =
                    self.eval_field(pos, context, &receiver, name, has_args.then_some(values))?;
            }
        }
        Ok(receiver)
    }

    fn eval_field(
        &self,
        pos: usize,
        context: &dyn std::fmt::Display,
        receiver: &Value,
        name: &str,
        args: Option<Vec<Value>>,
    ) -> ExecResult<Value> {
        match receiver {
            Value::Map(map) => {
                if args.is_some() {
                    return Err(self.error_at(
                        pos,
                        context,
                        format!("{name} is not a method but has arguments"),
                    ));
                }
                Ok(map.get(name).unwrap_or(Value::Nil))
            }
            Value::Object(object) => {
                if let Some(args) = &args {
                    return match object.call(name, args) {
                        Some(result) => result.map_err(|message| {
                            self.error_at(pos, context, format!("error calling {name}: {message}"))
                        }),
                        None => Err(self.error_at(
                            pos,
                            context,
                            format!("can't evaluate field {name} in type {}", object.type_name()),
                        )),
                    };
                }
                if let Some(value) = object.field(name) {
                    return Ok(value);
                }
                match object.call(name, &[]) {
                    Some(result) => result.map_err(|message| {
                        self.error_at(pos, context, format!("error calling {name}: {message}"))
                    }),
                    None => Err(self.error_at(
                        pos,
                        context,
                        format!("can't evaluate field {name} in type {}", object.type_name()),
                    )),
                }
            }
            Value::Nil => Err(self.error_at(
                pos,
                context,
                format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            other => Err(self.error_at(
                pos,
                context,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        pos: usize,
        context: &dyn std::fmt::Display,
        name: &str,
        args: &[Operand],
        final_value: Option<Value>,
    ) -> ExecResult<Value> {
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(final_value.is_some());
            if total == 0 {
                return Err(self.error_at(
                    pos,
                    context,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut value = Value::Nil;
            for arg in args {
                value = self.eval_arg(dot, arg)?;
                if value.is_true() == (name == "or") {
                    return Ok(value);
                }
            }
            if let Some(final_value) = final_value {
                value = final_value;
            }
            return Ok(value);
        }
        let Some(function) = self.state.functions.get(name).cloned() else {
            return Err(self.error_at(pos, context, format!("{name:?} is not a defined function")));
        };
        let mut values = Vec::with_capacity(args.len() + 1);
        for arg in args {
            values.push(self.eval_arg(dot, arg)?);
        }
        if let Some(final_value) = final_value {
            values.push(final_value);
        }
        function(self.state, &values).map_err(|message| {
            // Go checks argument counts and types before the call; those errors are not
            // "error calling" errors.
            if is_argument_error(&message) {
                self.error_at(pos, context, message)
            } else {
                self.error_at(pos, context, format!("error calling {name}: {message}"))
            }
        })
    }
}

/// Messages of Go's own argument checks (`reflect`-based, before a function runs).
fn is_argument_error(message: &str) -> bool {
    message.starts_with("wrong number of args for ")
        || message.starts_with("wrong type for value; ")
        || message.starts_with("invalid value; expected ")
}
