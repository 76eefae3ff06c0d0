//! The parameter-expansion operators of Flux's envsubst (fluxcd/pkg `envsubst/funcs.go` and its
//! copy of Go's `path.Match`).
//!
//! Go strings are byte strings: lengths, offsets and prefix trimming count bytes, not
//! characters. These functions work on bytes for the same results and turn the outcome back
//! into text at the end (lossily, where Go would have produced a broken UTF-8 sequence).

use super::parse::decode_rune;

/// The result of an operator: the expanded text, or `None` where Go's code would panic (a
/// negative substring length), which fails the substitution instead.
pub(crate) type Expansion = Option<String>;

/// Runs operator `operator` on `value` with the evaluated `arguments`.
pub(crate) fn apply(operator: &str, value: &str, arguments: &[String]) -> Expansion {
    let text = match operator {
        "," => lower_first(value),
        ",," => map_characters(value, simple_lowercase),
        "^" => upper_first(value),
        "^^" => map_characters(value, simple_uppercase),
        "#" if arguments.is_empty() => value.len().to_string(),
        "#" => trim_shortest_prefix(value, arguments),
        "##" => trim_longest_prefix(value, arguments),
        "%" => trim_shortest_suffix(value, arguments),
        "%%" => trim_longest_suffix(value, arguments),
        ":" => return substring(value, arguments),
        "/#" => replace_prefix(value, arguments),
        "/%" => replace_suffix(value, arguments),
        "/" => replace_first(value, arguments),
        "//" => replace_all(value, arguments),
        // `=`, `:=`, `-`, `:-`, `+`, `:+`, `?`, `:?` and a bare `${name}` all substitute the
        // concatenated arguments for an empty value: drone/envsubst never implemented the
        // set/unset distinctions of the shell.
        _ => default_value(value, arguments),
    };
    Some(text)
}

/// Whether an operator supplies its own value when the variable is unset, so that strict
/// mode lets it through.
pub(crate) fn is_default_operator(operator: &str) -> bool {
    matches!(operator, "-" | "+" | "=" | "?" | ":-" | ":+" | ":=" | ":?")
}

/// Go's `unicode.ToLower` is a one-to-one mapping; characters whose full lowercase form is
/// longer stay as they are.
fn simple_lowercase(character: char) -> char {
    let mut mapped = character.to_lowercase();
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        _ => character,
    }
}

fn simple_uppercase(character: char) -> char {
    let mut mapped = character.to_uppercase();
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        _ => character,
    }
}

fn map_characters(value: &str, map: fn(char) -> char) -> String {
    value.chars().map(map).collect()
}

fn lower_first(value: &str) -> String {
    let mut characters = value.chars();
    match characters.next() {
        Some(first) => std::iter::once(simple_lowercase(first))
            .chain(characters)
            .collect(),
        None => String::new(),
    }
}

fn upper_first(value: &str) -> String {
    let mut characters = value.chars();
    match characters.next() {
        Some(first) => std::iter::once(simple_uppercase(first))
            .chain(characters)
            .collect(),
        None => String::new(),
    }
}

fn default_value(value: &str, arguments: &[String]) -> String {
    if value.is_empty() && !arguments.is_empty() {
        arguments.concat()
    } else {
        value.to_string()
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `${var:position}` and `${var:position:length}` with bash's rules for out-of-range values;
/// an unparsable number leaves the value unchanged.
fn substring(value: &str, arguments: &[String]) -> Expansion {
    let bytes = value.as_bytes();
    let length_of_value = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let Some(position_text) = arguments.first() else {
        return Some(value.to_string());
    };
    let Ok(mut position) = position_text.parse::<i64>() else {
        return Some(value.to_string());
    };
    if position < 0 {
        position = (length_of_value + position).max(0);
    }
    let start = usize::try_from(position).unwrap_or(usize::MAX);
    let Some(length_text) = arguments.get(1) else {
        return Some(bytes.get(start..).map(lossy).unwrap_or_default());
    };
    let Ok(length) = length_text.parse::<i64>() else {
        return Some(value.to_string());
    };
    let end = position.saturating_add(length);
    if end >= length_of_value {
        return Some(bytes.get(start..).map(lossy).unwrap_or_default());
    }
    if end < position {
        // Go slices s[pos:pos+length] here and panics on the negative length.
        return None;
    }
    let end = usize::try_from(end).unwrap_or(usize::MAX);
    Some(bytes.get(start..end).map(lossy).unwrap_or_default())
}

fn replace_all(value: &str, arguments: &[String]) -> String {
    match arguments {
        [] => value.to_string(),
        [pattern] => value.replace(pattern.as_str(), ""),
        [pattern, replacement, ..] => value.replace(pattern.as_str(), replacement),
    }
}

fn replace_first(value: &str, arguments: &[String]) -> String {
    match arguments {
        [] => value.to_string(),
        [pattern] => value.replacen(pattern.as_str(), "", 1),
        [pattern, replacement, ..] => value.replacen(pattern.as_str(), replacement, 1),
    }
}

fn replace_prefix(value: &str, arguments: &[String]) -> String {
    match arguments {
        [prefix, replacement] if value.starts_with(prefix.as_str()) => {
            value.replacen(prefix.as_str(), replacement, 1)
        }
        _ => value.to_string(),
    }
}

fn replace_suffix(value: &str, arguments: &[String]) -> String {
    match arguments {
        [suffix, replacement] => match value.strip_suffix(suffix.as_str()) {
            Some(rest) => format!("{rest}{replacement}"),
            None => value.to_string(),
        },
        _ => value.to_string(),
    }
}

fn reverse(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .chars()
        .rev()
        .collect::<String>()
        .into_bytes()
}

fn trim_shortest_prefix(value: &str, arguments: &[String]) -> String {
    match arguments.first() {
        Some(pattern) => lossy(&trim_shortest(value.as_bytes(), pattern.as_bytes())),
        None => value.to_string(),
    }
}

fn trim_longest_prefix(value: &str, arguments: &[String]) -> String {
    match arguments.first() {
        Some(pattern) => lossy(&trim_longest(value.as_bytes(), pattern.as_bytes())),
        None => value.to_string(),
    }
}

fn trim_shortest_suffix(value: &str, arguments: &[String]) -> String {
    match arguments.first() {
        Some(pattern) => {
            let reversed = reverse(value.as_bytes());
            let pattern = reverse(pattern.as_bytes());
            lossy(&reverse(&trim_shortest(&reversed, &pattern)))
        }
        None => value.to_string(),
    }
}

fn trim_longest_suffix(value: &str, arguments: &[String]) -> String {
    match arguments.first() {
        Some(pattern) => {
            let reversed = reverse(value.as_bytes());
            let pattern = reverse(pattern.as_bytes());
            lossy(&reverse(&trim_longest(&reversed, &pattern)))
        }
        None => value.to_string(),
    }
}

/// Removes the shortest prefix matching `pattern`; the candidates are tried from longest to
/// shortest and the last match wins, as in the Go code.
fn trim_shortest(value: &[u8], pattern: &[u8]) -> Vec<u8> {
    let mut shortest: Option<usize> = None;
    for cut in 0..value.len() {
        let end = value.len() - cut;
        match glob_match(pattern, &value[..end]) {
            Err(BadPattern) => return value.to_vec(),
            Ok(true) => shortest = Some(end),
            Ok(false) => {}
        }
    }
    match shortest {
        Some(end) => value[end..].to_vec(),
        None => value.to_vec(),
    }
}

fn trim_longest(value: &[u8], pattern: &[u8]) -> Vec<u8> {
    for cut in 0..value.len() {
        let end = value.len() - cut;
        match glob_match(pattern, &value[..end]) {
            Err(BadPattern) => return value.to_vec(),
            Ok(true) => return value[end..].to_vec(),
            Ok(false) => {}
        }
    }
    value.to_vec()
}

/// A malformed glob pattern (Go's `path.ErrBadPattern`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadPattern;

/// Shell pattern matching of the whole of `name` (envsubst's fork of Go's `path.Match`, in
/// which a trailing `*` matches the rest of the name, slashes included).
pub(crate) fn glob_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(true);
        }
        let (remaining, matched, error) = match_chunk(chunk, name);
        if matched && (remaining.is_empty() || !pattern.is_empty()) {
            name = remaining;
            continue;
        }
        if let Some(error) = error {
            return Err(error);
        }
        if star {
            for skip in 0..name.len() {
                let (remaining, matched, error) = match_chunk(chunk, &name[skip + 1..]);
                if matched {
                    if pattern.is_empty() && !remaining.is_empty() {
                        continue;
                    }
                    name = remaining;
                    continue 'pattern;
                }
                if let Some(error) = error {
                    return Err(error);
                }
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut index = 0;
    while index < pattern.len() {
        match pattern[index] {
            b'\\' if index + 1 < pattern.len() => index += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        index += 1;
    }
    (star, &pattern[..index], &pattern[index..])
}

/// Matches a star-free chunk against the start of `name`: the rest of the name, whether it
/// matched, and a pattern error.
fn match_chunk<'name>(
    mut chunk: &[u8],
    mut name: &'name [u8],
) -> (&'name [u8], bool, Option<BadPattern>) {
    while let Some(&head) = chunk.first() {
        if name.is_empty() {
            return (&[], false, None);
        }
        match head {
            b'[' => {
                let (character, width) = decode_rune(name);
                name = &name[width..];
                chunk = &chunk[1..];
                let mut not_negated = true;
                if chunk.first() == Some(&b'^') {
                    not_negated = false;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (low, rest) = match escaped_character(chunk) {
                        Ok(found) => found,
                        Err(error) => return (&[], false, Some(error)),
                    };
                    chunk = rest;
                    let mut high = low;
                    if chunk.first() == Some(&b'-') {
                        let (upper, rest) = match escaped_character(&chunk[1..]) {
                            Ok(found) => found,
                            Err(error) => return (&[], false, Some(error)),
                        };
                        high = upper;
                        chunk = rest;
                    }
                    if low <= character && character <= high {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched != not_negated {
                    return (&[], false, None);
                }
            }
            b'?' => {
                let (_, width) = decode_rune(name);
                name = &name[width..];
                chunk = &chunk[1..];
            }
            b'\\' => {
                chunk = &chunk[1..];
                let Some(&literal) = chunk.first() else {
                    return (&[], false, Some(BadPattern));
                };
                if literal != name[0] {
                    return (&[], false, None);
                }
                name = &name[1..];
                chunk = &chunk[1..];
            }
            literal => {
                if literal != name[0] {
                    return (&[], false, None);
                }
                name = &name[1..];
                chunk = &chunk[1..];
            }
        }
    }
    (name, true, None)
}

/// Reads one possibly escaped character of a character class.
fn escaped_character(mut chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        Some(_) => {}
    }
    let (character, width) = decode_rune(chunk);
    let rest = &chunk[width..];
    if (character == '\u{FFFD}' && width == 1) || rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((character, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| value.to_string()).collect()
    }

    fn run(operator: &str, value: &str, values: &[&str]) -> String {
        apply(operator, value, &arguments(values)).unwrap_or_else(|| "<none>".into())
    }

    #[test]
    fn length_counts_bytes() {
        assert_eq!(run("#", "Hello World", &[]), "11");
        assert_eq!(run("#", "é", &[]), "2");
    }

    #[test]
    fn casing_operators_change_all_or_the_first_character() {
        assert_eq!(run(",,", "Hello World", &[]), "hello world");
        assert_eq!(run("^^", "Hello World", &[]), "HELLO WORLD");
        assert_eq!(run(",", "HELLO WORLD", &[]), "hELLO WORLD");
        assert_eq!(run("^", "hello world", &[]), "Hello world");
        assert_eq!(run("^", "", &[]), "");
        assert_eq!(run(",", "", &[]), "");
    }

    #[test]
    fn uppercase_keeps_characters_without_a_single_character_mapping() {
        assert_eq!(run("^^", "straße", &[]), "STRAßE");
    }

    #[test]
    fn default_uses_the_value_unless_it_is_empty() {
        assert_eq!(run(":=", "Hello World", &["Hola Mundo"]), "Hello World");
        assert_eq!(run(":=", "", &["Hola Mundo"]), "Hola Mundo");
        assert_eq!(
            run(
                "=",
                "",
                &["Hola Mundo", "-Bonjour le monde", "-Halló heimur"]
            ),
            "Hola Mundo-Bonjour le monde-Halló heimur"
        );
    }

    #[test]
    fn plus_operator_behaves_as_a_default_as_in_drone_envsubst() {
        assert_eq!(run(":+", "set", &["alternative"]), "set");
        assert_eq!(run(":+", "", &["alternative"]), "alternative");
    }

    #[test]
    fn substring_follows_the_flux_test_table() {
        let digits = "123456789123456789";
        assert_eq!(run(":", digits, &["0", "8"]), "12345678");
        assert_eq!(run(":", digits, &["1", "8"]), "23456789");
        assert_eq!(run(":", digits, &["9"]), "123456789");
        assert_eq!(run(":", digits, &["9", "50"]), "123456789");
        assert_eq!(run(":", digits, &["-3", "2"]), "78");
        assert_eq!(run(":", digits, &["-300", "3"]), "123");
        assert_eq!(run(":", "12345678", &["9", "1"]), "");
        assert_eq!(run(":", "12345678", &["9"]), "");
    }

    #[test]
    fn substring_with_unparsable_numbers_keeps_the_value() {
        assert_eq!(run(":", "abc", &["x"]), "abc");
        assert_eq!(run(":", "abc", &["1", "y"]), "abc");
        assert_eq!(run(":", "abc", &[" 1"]), "abc");
    }

    #[test]
    fn substring_with_a_negative_length_fails_where_go_panics() {
        assert_eq!(apply(":", "abcdef", &arguments(&["2", "-1"])), None);
    }

    #[test]
    fn replace_operators_follow_the_flux_test_table() {
        let value = "abcABC123ABCabc";
        assert_eq!(run("/%", value, &["abc", "XYZ"]), "abcABC123ABCXYZ");
        assert_eq!(run("/#", value, &["abc", "XYZ"]), "XYZABC123ABCabc");
        assert_eq!(run("//", value, &["abc", "xyz"]), "xyzABC123ABCxyz");
        assert_eq!(run("/", value, &["abc", "xyz"]), "xyzABC123ABCabc");
        assert_eq!(run("/", "foo.bar", &["."]), "foobar");
        assert_eq!(run("//", "a.b.c", &["."]), "abc");
    }

    #[test]
    fn prefix_and_suffix_replacement_need_both_arguments() {
        assert_eq!(run("/#", "abcabc", &["abc"]), "abcabc");
        assert_eq!(run("/%", "abcabc", &["abc"]), "abcabc");
        assert_eq!(run("/#", "xabc", &["abc", "y"]), "xabc");
    }

    #[test]
    fn trimming_follows_the_flux_test_table() {
        assert_eq!(run("#", "bash.string.txt", &["*."]), "string.txt");
        assert_eq!(run("#", "path/to/file", &["*/"]), "to/file");
        assert_eq!(run("#", "/path/to/file", &["*/"]), "path/to/file");
        assert_eq!(run("##", "bash.string.txt", &["*."]), "txt");
        assert_eq!(run("##", "path/to/file", &["*/"]), "file");
        assert_eq!(run("##", "/path/to/file", &["*/"]), "file");
        assert_eq!(run("%", "bash.string.txt", &[".*"]), "bash.string");
        assert_eq!(run("%%", "bash.string.txt", &[".*"]), "bash");
    }

    #[test]
    fn trimming_without_a_match_keeps_the_value() {
        assert_eq!(run("#", "abc", &["x*"]), "abc");
        assert_eq!(run("%%", "abc", &["*x"]), "abc");
    }

    #[test]
    fn glob_matches_classes_and_escapes() {
        assert_eq!(glob_match(b"a[bc]d", b"acd"), Ok(true));
        assert_eq!(glob_match(b"a[^bc]d", b"acd"), Ok(false));
        assert_eq!(glob_match(b"a[a-z]d", b"aqd"), Ok(true));
        assert_eq!(glob_match(b"a?c", b"abc"), Ok(true));
        assert_eq!(glob_match(br"a\*c", b"a*c"), Ok(true));
        assert_eq!(glob_match(b"a*", b"a/b/c"), Ok(true));
        assert_eq!(glob_match(b"*c", b"abc"), Ok(true));
        assert_eq!(glob_match(b"*c", b"abd"), Ok(false));
    }

    #[test]
    fn malformed_glob_is_a_bad_pattern() {
        assert_eq!(glob_match(b"a[", b"ab"), Err(BadPattern));
        assert_eq!(glob_match(br"a\", b"ab"), Err(BadPattern));
    }

    #[test]
    fn default_operators_are_the_ones_strict_mode_lets_through() {
        for operator in ["-", "+", "=", "?", ":-", ":+", ":=", ":?"] {
            assert!(is_default_operator(operator), "{operator}");
        }
        for operator in ["", "#", "^^", ":", "/", "//", "%"] {
            assert!(!is_default_operator(operator), "{operator}");
        }
    }
}
