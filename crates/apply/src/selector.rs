//! Kubernetes label selector expressions (`k8s.io/apimachinery/pkg/labels.Parse`), used by
//! drift-ignore rules to match labels and annotations.
//!
//! Terms are separated by commas and all must match: `key`, `!key`, `key=value`,
//! `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key>1`, `key<1`.

use std::collections::BTreeMap;

/// A malformed selector.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    DoesNotExist(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses a selector expression.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError(format!("empty term in {text:?}")));
            }
            requirements.push(parse_term(term)?);
        }
        Ok(Self { requirements })
    }

    /// Whether a set of labels (or annotations) satisfies every term.
    pub fn matches(&self, labels: &BTreeMap<&str, &str>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                Requirement::Exists(key) => labels.contains_key(key.as_str()),
                Requirement::DoesNotExist(key) => !labels.contains_key(key.as_str()),
                Requirement::Equals(key, value) => {
                    labels.get(key.as_str()) == Some(&value.as_str())
                }
                Requirement::NotEquals(key, value) => {
                    labels.get(key.as_str()) != Some(&value.as_str())
                }
                Requirement::In(key, values) => labels
                    .get(key.as_str())
                    .is_some_and(|found| values.iter().any(|value| value == found)),
                Requirement::NotIn(key, values) => !labels
                    .get(key.as_str())
                    .is_some_and(|found| values.iter().any(|value| value == found)),
                Requirement::GreaterThan(key, bound) => labels
                    .get(key.as_str())
                    .and_then(|found| found.parse::<i64>().ok())
                    .is_some_and(|found| found > *bound),
                Requirement::LessThan(key, bound) => labels
                    .get(key.as_str())
                    .and_then(|found| found.parse::<i64>().ok())
                    .is_some_and(|found| found < *bound),
            })
    }
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

fn parse_term(term: &str) -> Result<Requirement, SelectorError> {
    let invalid = || SelectorError(term.to_string());
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key_of(key.trim(), term)?));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Requirement::NotEquals(
            key_of(key, term)?,
            value.trim().to_string(),
        ));
    }
    if let Some((key, value)) = term.split_once("==") {
        return Ok(Requirement::Equals(
            key_of(key, term)?,
            value.trim().to_string(),
        ));
    }
    if let Some((key, value)) = term.split_once('=') {
        return Ok(Requirement::Equals(
            key_of(key, term)?,
            value.trim().to_string(),
        ));
    }
    if let Some((key, value)) = term.split_once('>') {
        let bound = value.trim().parse().map_err(|_| invalid())?;
        return Ok(Requirement::GreaterThan(key_of(key, term)?, bound));
    }
    if let Some((key, value)) = term.split_once('<') {
        let bound = value.trim().parse().map_err(|_| invalid())?;
        return Ok(Requirement::LessThan(key_of(key, term)?, bound));
    }
    let mut words = term.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or("");
    let Some(rest) = words.next().map(str::trim) else {
        return Ok(Requirement::Exists(key_of(key, term)?));
    };
    let open = rest.find('(').ok_or_else(invalid)?;
    let operator = rest[..open].trim();
    let set = rest[open + 1..]
        .trim_end()
        .strip_suffix(')')
        .ok_or_else(invalid)?;
    let values: Vec<String> = set
        .split(',')
        .map(|value| value.trim().to_string())
        .collect();
    match operator {
        "in" => Ok(Requirement::In(key_of(key, term)?, values)),
        "notin" => Ok(Requirement::NotIn(key_of(key, term)?, values)),
        _ => Err(invalid()),
    }
}

fn key_of(key: &str, term: &str) -> Result<String, SelectorError> {
    let key = key.trim();
    let valid = !key.is_empty()
        && key.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.' | '/')
        });
    if valid {
        Ok(key.to_string())
    } else {
        Err(SelectorError(term.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'pair>(pairs: &[(&'pair str, &'pair str)]) -> BTreeMap<&'pair str, &'pair str> {
        pairs.iter().copied().collect()
    }

    fn matches(selector: &str, pairs: &[(&str, &str)]) -> bool {
        match LabelSelector::parse(selector) {
            Ok(parsed) => parsed.matches(&labels(pairs)),
            Err(error) => panic!("{selector:?}: {error}"),
        }
    }

    #[test]
    fn equality_terms_match_values() {
        assert!(matches("app=web", &[("app", "web")]));
        assert!(matches("app==web", &[("app", "web")]));
        assert!(!matches("app=web", &[("app", "db")]));
        assert!(matches("app!=web", &[("app", "db")]));
        assert!(matches("app!=web", &[]));
    }

    #[test]
    fn existence_terms_check_keys() {
        assert!(matches("app", &[("app", "")]));
        assert!(!matches("app", &[]));
        assert!(matches("!app", &[]));
        assert!(!matches("!app", &[("app", "x")]));
    }

    #[test]
    fn set_terms_match_members() {
        assert!(matches("tier in (web, db)", &[("tier", "db")]));
        assert!(!matches("tier in (web,db)", &[("tier", "cache")]));
        assert!(matches("tier notin (web)", &[("tier", "db")]));
        assert!(matches("tier notin (web)", &[]));
    }

    #[test]
    fn all_terms_must_match() {
        assert!(matches(
            "app=web,tier in (a,b),!legacy",
            &[("app", "web"), ("tier", "b")]
        ));
        assert!(!matches("app=web,tier=c", &[("app", "web"), ("tier", "b")]));
    }

    #[test]
    fn numeric_comparisons_need_integers() {
        assert!(matches("size>2", &[("size", "3")]));
        assert!(!matches("size>2", &[("size", "x")]));
        assert!(matches("size<2", &[("size", "1")]));
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(matches("", &[]));
    }

    #[test]
    fn malformed_terms_are_errors() {
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a b c").is_err());
        assert!(LabelSelector::parse("app=web,").is_err());
        assert!(LabelSelector::parse("=web").is_err());
    }
}
