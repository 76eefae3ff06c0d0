//! Semantic versions and constraints with Masterminds/semver v3 rules, for Sprig's
//! `semver` and `semverCompare` (`>=1.19-0`, `~1.2`, `^0.3`, `1.x`, `a - b`, `||`).

use std::cmp::Ordering;
use std::fmt;

/// A parsed version.
#[derive(Clone, Debug)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release identifiers (after `-`).
    pub prerelease: String,
    /// Build metadata (after `+`).
    pub metadata: String,
    /// The text it was parsed from.
    pub original: String,
}

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.prerelease.is_empty() {
            write!(formatter, "-{}", self.prerelease)?;
        }
        if !self.metadata.is_empty() {
            write!(formatter, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl Version {
    /// Masterminds' lenient `NewVersion`: optional `v`, missing minor/patch are 0.
    pub fn parse(text: &str) -> Option<Version> {
        let original = text.to_string();
        let body = text.trim().strip_prefix('v').unwrap_or(text.trim());
        let (body, metadata) = body.split_once('+').map_or((body, ""), |(a, b)| (a, b));
        let (numbers, prerelease) = body.split_once('-').map_or((body, ""), |(a, b)| (a, b));
        let parts: Vec<&str> = numbers.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts
                .iter()
                .any(|part| part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let number = |index: usize| {
            parts
                .get(index)
                .map_or(Some(0), |part| part.parse::<u64>().ok())
        };
        Some(Version {
            major: number(0)?,
            minor: number(1)?,
            patch: number(2)?,
            prerelease: prerelease.to_string(),
            metadata: metadata.to_string(),
            original,
        })
    }

    fn compare(&self, other: &Version) -> Ordering {
        self.major
            .cmp(&other.major)
            .then(self.minor.cmp(&other.minor))
            .then(self.patch.cmp(&other.patch))
            .then_with(|| compare_prerelease(&self.prerelease, &other.prerelease))
    }
}

fn compare_prerelease(left: &str, right: &str) -> Ordering {
    match (left.is_empty(), right.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let left_parts: Vec<&str> = left.split('.').collect();
    let right_parts: Vec<&str> = right.split('.').collect();
    for (a, b) in left_parts.iter().zip(right_parts.iter()) {
        let ordering = match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => a.cmp(b),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    left_parts.len().cmp(&right_parts.len())
}

/// One `op version` term, with wildcard depth (`1.x` has 1 significant part).
struct Term {
    operator: String,
    version: Version,
    significant: usize,
}

fn parse_term(text: &str) -> Result<Term, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
        .unwrap_or(text.len());
    let operator = text[..split].trim().to_string();
    let rest = text[split..].trim();
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (numbers, suffix) = match rest.find(['-', '+']) {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, ""),
    };
    let mut significant = 0;
    let mut parts = Vec::new();
    for part in numbers.split('.') {
        if matches!(part, "x" | "X" | "*") {
            break;
        }
        parts.push(part);
        significant += 1;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let version = Version::parse(&format!("{}{suffix}", parts.join(".")))
        .ok_or_else(|| format!("improper constraint: {text}"))?;
    Ok(Term {
        operator,
        version,
        significant,
    })
}

fn bump(version: &Version, position: usize) -> Version {
    let mut next = version.clone();
    next.prerelease.clear();
    match position {
        0 => {
            next.major += 1;
            next.minor = 0;
            next.patch = 0;
        }
        1 => {
            next.minor += 1;
            next.patch = 0;
        }
        _ => next.patch += 1,
    }
    next
}

fn term_matches(term: &Term, version: &Version) -> bool {
    if !version.prerelease.is_empty() && term.version.prerelease.is_empty() {
        return false;
    }
    let ordering = version.compare(&term.version);
    let wildcard = term.significant < 3;
    match term.operator.as_str() {
        "" | "=" | "==" => {
            if wildcard {
                if term.significant == 0 {
                    return true;
                }
                let upper = bump(&term.version, term.significant - 1);
                ordering != Ordering::Less && version.compare(&upper) == Ordering::Less
            } else {
                ordering == Ordering::Equal
            }
        }
        "!=" => {
            if wildcard && term.significant > 0 {
                let upper = bump(&term.version, term.significant - 1);
                !(ordering != Ordering::Less && version.compare(&upper) == Ordering::Less)
            } else {
                ordering != Ordering::Equal
            }
        }
        ">" => {
            if wildcard && term.significant > 0 {
                version.compare(&bump(&term.version, term.significant - 1)) != Ordering::Less
            } else {
                ordering == Ordering::Greater
            }
        }
        ">=" | "=>" => ordering != Ordering::Less,
        "<" => ordering == Ordering::Less,
        "<=" | "=<" => {
            if wildcard && term.significant > 0 {
                version.compare(&bump(&term.version, term.significant - 1)) == Ordering::Less
            } else {
                ordering != Ordering::Greater
            }
        }
        "~" | "~>" => {
            let position = if term.significant <= 1 { 0 } else { 1 };
            ordering != Ordering::Less
                && version.compare(&bump(&term.version, position)) == Ordering::Less
        }
        "^" => {
            let position = if term.version.major > 0 || term.significant <= 1 {
                0
            } else if term.version.minor > 0 || term.significant == 2 {
                1
            } else {
                2
            };
            ordering != Ordering::Less
                && version.compare(&bump(&term.version, position)) == Ordering::Less
        }
        _ => false,
    }
}

/// Whether `version` satisfies `constraint`.
pub fn constraint_matches(constraint: &str, version: &Version) -> Result<bool, String> {
    for group in constraint.split("||") {
        let group = group.trim();
        let mut terms = Vec::new();
        // Hyphen ranges: `1.2 - 1.4`.
        if let Some((low, high)) = group.split_once(" - ") {
            terms.push(parse_term(&format!(">={}", low.trim()))?);
            terms.push(parse_term(&format!("<={}", high.trim()))?);
        } else {
            let normalized = group.replace(',', " ");
            let mut pending = String::new();
            for token in normalized.split_whitespace() {
                if token.chars().all(|c| "<>=!~^".contains(c)) {
                    pending.push_str(token);
                    continue;
                }
                terms.push(parse_term(&format!("{pending}{token}"))?);
                pending.clear();
            }
        }
        if terms.is_empty() {
            return Err(format!("improper constraint: {constraint}"));
        }
        if terms.iter().all(|term| term_matches(term, version)) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str) -> bool {
        Version::parse(version)
            .is_some_and(|version| constraint_matches(constraint, &version).unwrap_or(false))
    }

    #[test]
    fn kubernetes_style_constraints_match() {
        assert!(check(">=1.19-0", "v1.36.0"));
        assert!(!check("<1.19-0", "v1.36.0"));
        assert!(check("~1.2", "1.2.9"));
        assert!(!check("^0.3.1", "0.4.0"));
        assert!(check("1.x", "1.7.0"));
        assert!(!check(">=1.0", "1.5.0-beta"));
        assert!(check(">=1.21-0 <1.40", "v1.36.0"));
    }
}
