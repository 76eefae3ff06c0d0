//! Semantic versions and constraints as Masterminds/semver v3 evaluates them.
//!
//! Flux resolves `spec.ref.semver` with Masterminds' constraint language, which differs from Cargo's
//! in ways that change which tag gets picked: a bare `1.2.3` means `=1.2.3` (not `^1.2.3`), spaces
//! separate AND-ed terms as well as commas, `||` separates alternatives, `1.2 - 1.4.5` is a range,
//! `=1.2` widens like `~1.2`, and a pre-release version only satisfies a term whose own version
//! carries a pre-release. Versions are parsed as leniently as Flux's `version.ParseVersion`: an
//! optional `v`, exactly three dot-separated parts, leading zeros tolerated.

use std::cmp::Ordering;
use std::fmt;

/// A parsed version, keeping the tag text it came from (the tag is what gets fetched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release identifiers (after `-`), empty for a release.
    pub pre_release: Vec<String>,
    /// The text the version was parsed from, e.g. `v1.2.3`.
    pub original: String,
}

/// Why a version or constraint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    /// The text is not a version Flux accepts.
    #[error("invalid semantic version '{0}'")]
    InvalidVersion(String),
    /// The text is not a Masterminds constraint.
    #[error("improper constraint: {0}")]
    InvalidConstraint(String),
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn split_suffixes(text: &str) -> Result<(&str, Vec<String>), ()> {
    // Build metadata never takes part in comparisons; it only has to be well formed.
    let (without_build, build) = match text.split_once('+') {
        Some((head, build)) => (head, Some(build)),
        None => (text, None),
    };
    if let Some(build) = build
        && !build.split('.').all(is_identifier)
    {
        return Err(());
    }
    match without_build.split_once('-') {
        Some((core, pre)) => {
            let identifiers: Vec<String> = pre.split('.').map(str::to_owned).collect();
            if identifiers
                .iter()
                .all(|identifier| is_identifier(identifier))
            {
                Ok((core, identifiers))
            } else {
                Err(())
            }
        }
        None => Ok((without_build, Vec::new())),
    }
}

fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Version {
    /// Parses a tag the way Flux's `version.ParseVersion` does.
    pub fn parse(text: &str) -> Result<Self, SemverError> {
        let invalid = || SemverError::InvalidVersion(text.to_owned());
        let body = text.strip_prefix('v').unwrap_or(text);
        let (core, pre_release) = split_suffixes(body).map_err(|()| invalid())?;
        let parts: Vec<&str> = core.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(invalid());
        };
        Ok(Self {
            major: parse_number(major).ok_or_else(invalid)?,
            minor: parse_number(minor).ok_or_else(invalid)?,
            patch: parse_number(patch).ok_or_else(invalid)?,
            pre_release,
            original: text.to_owned(),
        })
    }

    fn core(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

fn compare_identifiers(left: &str, right: &str) -> Ordering {
    match (parse_number(left), parse_number(right)) {
        (Some(left), Some(right)) => left.cmp(&right),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => left.cmp(right),
    }
}

fn compare_pre_release(left: &[String], right: &[String]) -> Ordering {
    match (left.is_empty(), right.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (left, right) in left.iter().zip(right) {
                let ordering = compare_identifiers(left, right);
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            left.len().cmp(&right.len())
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core()
            .cmp(&other.core())
            .then_with(|| compare_pre_release(&self.pre_release, &other.pre_release))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.original)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Tilde,
    Caret,
}

/// The version inside one term: missing or wildcard parts are "dirty" and widen the match.
#[derive(Debug, Clone)]
struct TermVersion {
    major: u64,
    minor: u64,
    patch: u64,
    pre_release: Vec<String>,
    major_wildcard: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

impl TermVersion {
    fn dirty(&self) -> bool {
        self.major_wildcard || self.minor_dirty || self.patch_dirty
    }

    fn as_version(&self) -> Version {
        Version {
            major: self.major,
            minor: self.minor,
            patch: self.patch,
            pre_release: self.pre_release.clone(),
            original: String::new(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let body = text.strip_prefix('v').unwrap_or(text);
        let (core, pre_release) = split_suffixes(body).ok()?;
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let is_wildcard = |part: &str| matches!(part, "x" | "X" | "*");
        let mut numbers = [0_u64; 3];
        let mut wildcards = [true; 3];
        for (index, part) in parts.iter().enumerate() {
            if is_wildcard(part) {
                continue;
            }
            numbers[index] = parse_number(part)?;
            wildcards[index] = false;
        }
        // `1.x.3` is not a version Masterminds accepts: a wildcard ends the precise part.
        if wildcards[0] && !(wildcards[1] && wildcards[2]) {
            return None;
        }
        if wildcards[1] && !wildcards[2] {
            return None;
        }
        Some(Self {
            major: numbers[0],
            minor: numbers[1],
            patch: numbers[2],
            pre_release,
            major_wildcard: wildcards[0],
            minor_dirty: wildcards[1],
            patch_dirty: wildcards[2],
        })
    }
}

#[derive(Debug, Clone)]
struct Term {
    operator: Operator,
    version: TermVersion,
}

impl Term {
    fn check(&self, version: &Version) -> bool {
        let con = &self.version;
        if !version.pre_release.is_empty() && con.pre_release.is_empty() {
            return false;
        }
        let bound = con.as_version();
        match self.operator {
            Operator::Equal => {
                if con.dirty() {
                    tilde(version, con)
                } else {
                    version.cmp(&bound) == Ordering::Equal
                }
            }
            Operator::NotEqual => {
                if con.dirty() {
                    if con.major_wildcard {
                        return false;
                    }
                    if con.major != version.major {
                        return true;
                    }
                    if con.minor_dirty {
                        return false;
                    }
                    if con.minor != version.minor {
                        return true;
                    }
                    if con.patch_dirty {
                        return false;
                    }
                }
                version.cmp(&bound) != Ordering::Equal
            }
            Operator::Greater => {
                if !con.dirty() {
                    return version > &bound;
                }
                if con.major_wildcard {
                    return false;
                }
                match version.major.cmp(&con.major) {
                    Ordering::Greater => true,
                    Ordering::Less => false,
                    Ordering::Equal if con.minor_dirty => false,
                    Ordering::Equal if con.patch_dirty => version.minor > con.minor,
                    Ordering::Equal => version > &bound,
                }
            }
            Operator::Less => !con.major_wildcard && version < &bound,
            Operator::GreaterOrEqual => version >= &bound,
            Operator::LessOrEqual => {
                if !con.dirty() {
                    return version <= &bound;
                }
                if con.major_wildcard {
                    return true;
                }
                if version.major > con.major {
                    return false;
                }
                !(version.major == con.major && version.minor > con.minor && !con.minor_dirty)
            }
            Operator::Tilde => tilde(version, con),
            Operator::Caret => caret(version, con),
        }
    }
}

fn tilde(version: &Version, con: &TermVersion) -> bool {
    if con.major_wildcard {
        return true;
    }
    if version < &con.as_version() {
        return false;
    }
    if version.major != con.major {
        return false;
    }
    con.minor_dirty || version.minor == con.minor
}

fn caret(version: &Version, con: &TermVersion) -> bool {
    if con.major_wildcard {
        return true;
    }
    if version < &con.as_version() {
        return false;
    }
    if con.major > 0 || con.minor_dirty {
        return version.major == con.major;
    }
    if version.major > 0 {
        return false;
    }
    if con.minor > 0 || con.patch_dirty {
        return version.minor == con.minor;
    }
    if version.minor > 0 {
        return false;
    }
    version.patch == con.patch
}

/// A Masterminds constraint: alternatives (`||`) of terms that must all hold.
#[derive(Debug, Clone)]
pub struct Constraint {
    alternatives: Vec<Vec<Term>>,
    text: String,
}

fn parse_operator(text: &str) -> Option<(Operator, &str)> {
    const OPERATORS: [(&str, Operator); 12] = [
        ("!=", Operator::NotEqual),
        (">=", Operator::GreaterOrEqual),
        ("=>", Operator::GreaterOrEqual),
        ("<=", Operator::LessOrEqual),
        ("=<", Operator::LessOrEqual),
        ("~>", Operator::Tilde),
        ("~", Operator::Tilde),
        ("^", Operator::Caret),
        (">", Operator::Greater),
        ("<", Operator::Less),
        ("=", Operator::Equal),
        ("", Operator::Equal),
    ];
    OPERATORS
        .iter()
        .find_map(|(prefix, operator)| text.strip_prefix(prefix).map(|rest| (*operator, rest)))
}

impl Constraint {
    /// Parses a constraint such as `>=1.0.0 <2.0.0 || ~3.1`.
    pub fn parse(text: &str) -> Result<Self, SemverError> {
        let invalid = || SemverError::InvalidConstraint(text.to_owned());
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let alternative = alternative.trim();
            if alternative.is_empty() {
                return Err(invalid());
            }
            alternatives.push(Self::parse_terms(alternative).ok_or_else(invalid)?);
        }
        Ok(Self {
            alternatives,
            text: text.to_owned(),
        })
    }

    fn parse_terms(text: &str) -> Option<Vec<Term>> {
        // Hyphen ranges need spaces around the dash, which is how they differ from pre-releases.
        if let Some((low, high)) = text.split_once(" - ") {
            let low = TermVersion::parse(low.trim())?;
            let high = TermVersion::parse(high.trim())?;
            return Some(vec![
                Term {
                    operator: Operator::GreaterOrEqual,
                    version: low,
                },
                Term {
                    operator: Operator::LessOrEqual,
                    version: high,
                },
            ]);
        }
        let mut terms = Vec::new();
        let mut rest = text;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            if rest.is_empty() {
                break;
            }
            let (operator, after_operator) = parse_operator(rest)?;
            let after_operator = after_operator.trim_start();
            let end = after_operator
                .find(|c: char| c.is_whitespace() || c == ',')
                .unwrap_or(after_operator.len());
            let (version_text, remainder) = after_operator.split_at(end);
            terms.push(Term {
                operator,
                version: TermVersion::parse(version_text)?,
            });
            rest = remainder;
        }
        (!terms.is_empty()).then_some(terms)
    }

    /// Whether `version` satisfies the constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|terms| terms.iter().all(|term| term.check(version)))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

/// Picks the highest tag satisfying `constraint`; tags that are not versions are skipped.
///
/// Flux breaks ties between equal versions (`v1.0.0` and `1.0.0`) by commit time, which a ref
/// listing does not carry; the lexically greater tag name wins here instead.
pub fn latest_matching<'a>(
    constraint: &Constraint,
    tags: impl IntoIterator<Item = &'a str>,
) -> Option<Version> {
    tags.into_iter()
        .filter_map(|tag| Version::parse(tag).ok())
        .filter(|version| constraint.matches(version))
        .max_by(|left, right| {
            left.cmp(right)
                .then_with(|| left.original.cmp(&right.original))
        })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str) -> bool {
        let constraint = Constraint::parse(constraint).unwrap();
        constraint.matches(&Version::parse(version).unwrap())
    }

    #[test]
    fn versions_parse_leniently_as_flux_does() {
        assert_eq!(Version::parse("v1.2.3").unwrap().core(), (1, 2, 3));
        assert_eq!(
            Version::parse("2025.02.03-rc.1").unwrap().pre_release,
            ["rc", "1"]
        );
        assert!(Version::parse("1.2").is_err());
        assert!(Version::parse("latest").is_err());
        assert!(Version::parse("1.2.3-").is_err());
        assert_eq!(Version::parse("1.2.3+build.5").unwrap().core(), (1, 2, 3));
    }

    #[test]
    fn pre_releases_order_below_their_release() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0",
        ];
        for pair in order.windows(2) {
            assert!(
                Version::parse(pair[0]).unwrap() < Version::parse(pair[1]).unwrap(),
                "{pair:?}"
            );
        }
    }

    #[test]
    fn constraint_table_matches_masterminds() {
        let table = [
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("=1.2", "1.2.9", true),
            ("=1.2", "1.3.0", false),
            ("1", "1.9.0", true),
            ("1", "2.0.0", false),
            ("!=1.2.3", "1.2.4", true),
            ("!=1.2.3", "1.2.3", false),
            ("!=1.x", "1.5.0", false),
            ("!=1.x", "2.0.0", true),
            (">1.2", "1.2.5", false),
            (">1.2", "1.3.0", true),
            (">1.2.3", "1.2.3", false),
            (">1.x", "1.9.0", false),
            (">1.x", "2.0.0", true),
            (">=1.2.3", "1.2.3", true),
            ("=>1.2.3", "1.2.2", false),
            ("<1.2.3", "1.2.2", true),
            ("<1.2", "1.2.0", false),
            ("<=1.2.3", "1.2.3", true),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.9.9", true),
            ("~>1.2", "1.2.0", true),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.x", "0.9.0", true),
            ("*", "3.4.5", true),
            ("x", "0.0.1", true),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            (">=1.0.0 <2.0.0", "1.5.0", true),
            (">=1.0.0, <2.0.0", "2.0.0", false),
            (">= 1.0.0", "1.0.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.9", false),
            ("<1.0.0 || >=2.0.0", "2.1.0", true),
            ("<1.0.0 || >=2.0.0", "1.1.0", false),
            (">=1.0.0", "2.0.0-rc.1", false),
            (">=2.0.0-0", "2.0.0-rc.1", true),
            (">=1.0.0-rc.1", "3.0.0-beta", true),
            ("*", "1.0.0-alpha", false),
        ];
        for (constraint, version, expected) in table {
            assert_eq!(
                check(constraint, version),
                expected,
                "{constraint} vs {version}"
            );
        }
    }

    #[test]
    fn malformed_constraints_are_rejected() {
        for text in ["", "||", ">=", "1.x.3", "~foo", ">=1.0.0 ||"] {
            assert!(Constraint::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn latest_matching_skips_non_versions_and_pre_releases() {
        let constraint = Constraint::parse(">=1.0.0").unwrap();
        let tags = ["v1.0.0", "v1.1.0", "v2.0.0-rc.1", "latest", "v1.2.0"];
        assert_eq!(
            latest_matching(&constraint, tags).unwrap().original,
            "v1.2.0"
        );
        let none = Constraint::parse(">=5.0.0").unwrap();
        assert!(latest_matching(&none, tags).is_none());
    }
}
