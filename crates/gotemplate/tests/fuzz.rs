//! Deterministic fuzzing of the parser and executor: random token soups and random
//! mutations of valid templates must produce output or an error, never a panic, hang or
//! stack overflow. The seed is fixed so failures reproduce; set `EDDY_FUZZ_ITERATIONS`
//! to run longer (see docs/helm-renderer.md).

use eddy_gotemplate::{FunctionMap, Map, Template, Value};

/// xorshift64*: tiny, deterministic, good enough to explore inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    ".",
    ".Values",
    ".name",
    ".list",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"s\"",
    "`r`",
    "'c'",
    "1",
    "-2",
    "1.5",
    "0x1p4",
    "1e3",
    "true",
    "nil",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "\"t\"",
    "and",
    "or",
    "not",
    "eq",
    "lt",
    "len",
    "index",
    "printf",
    "print",
    "slice",
    "/*",
    "*/",
    ",",
    "$i",
    "text",
    "%",
    "\"%d %s %v\"",
];

const SEEDS: &[&str] = &[
    "{{ range $i, $v := .Values.list }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $v }}{{ end }}",
    "{{- define \"t\" }}{{ . }}{{ end }}{{ template \"t\" .Values.name }}",
    "{{ with .Values.name }}{{ printf \"%q\" . }}{{ else }}none{{ end }}",
    "{{ $x := 1 }}{{ if and $x (not false) }}{{ $x = 2 }}{{ end }}{{ $x }}",
    "{{ index .Values.list 1 | len }} {{ slice \"abc\" 1 2 }} {{ or .Values.nope \"d\" }}",
    "{{/* c */}}{{ block \"b\" . }}{{ len .Values.list }}{{ end }}",
];

fn data() -> Value {
    let mut values = Map::new();
    values.insert("name".into(), Value::from("web"));
    values.insert(
        "list".into(),
        Value::from(vec![Value::from("a"), Value::Float(2.0)]),
    );
    let mut root = Map::new();
    root.insert("Values".into(), Value::from(values));
    Value::from(root)
}

fn run(source: &str) {
    let mut template = Template::new(FunctionMap::default());
    if template.parse("fuzz", source).is_err() {
        return;
    }
    let mut state = template.state();
    state.limits.max_iterations = 10_000;
    state.limits.max_output_bytes = 1 << 20;
    let _ = state.execute_template("fuzz", data());
}

#[test]
fn random_templates_never_panic() {
    let iterations: usize = std::env::var("EDDY_FUZZ_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..iterations {
        let length = 1 + (rng.next() % 24) as usize;
        let source: String = (0..length).map(|_| rng.pick(TOKENS)).collect();
        run(&source);
    }
}

#[test]
fn mutated_valid_templates_never_panic() {
    let iterations: usize = std::env::var("EDDY_FUZZ_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..iterations {
        let mut bytes: Vec<char> = rng.pick(SEEDS).chars().collect();
        for _ in 0..(1 + rng.next() % 4) {
            let position = (rng.next() % (bytes.len() as u64 + 1)) as usize;
            match rng.next() % 3 {
                0 if position < bytes.len() => {
                    bytes.remove(position);
                }
                1 => {
                    for (offset, character) in rng.pick(TOKENS).chars().enumerate() {
                        bytes.insert((position + offset).min(bytes.len()), character);
                    }
                }
                _ if position < bytes.len() => {
                    bytes[position] = rng
                        .pick(&["{", "}", "-", " ", "\"", "$", "(", ")", "é"])
                        .chars()
                        .next()
                        .unwrap_or(' ')
                }
                _ => {}
            }
        }
        run(&bytes.into_iter().collect::<String>());
    }
}

#[test]
fn deeply_nested_parentheses_do_not_overflow_the_stack() {
    let depth = 2000;
    let source = format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
    let result = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || run(&source))
        .map(|handle| handle.join().is_ok());
    assert_eq!(result.ok(), Some(true));
}
