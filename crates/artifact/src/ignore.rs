//! Which files of a source stay out of its artifact: fluxcd/pkg/sourceignore semantics.
//!
//! Patterns use gitignore syntax as go-git implements it (which Flux uses, and which differs
//! from Git in small ways, e.g. a negated pattern can re-include a file below an excluded
//! directory). Each pattern is scoped to a "domain", the directory whose `.sourceignore` it came
//! from; the last matching pattern wins. The default list excludes VCS metadata, common binary
//! formats and CI configuration; `spec.ignore` replaces the defaults except the VCS ones and is
//! read last, so it overrules `.sourceignore` files.

use std::io::BufRead;
use std::path::Path;

/// The name of the per-directory ignore file.
pub const IGNORE_FILE: &str = ".sourceignore";
/// VCS metadata, excluded for Git sources whatever `spec.ignore` says.
pub const EXCLUDE_VCS: &str = ".git/,.gitignore,.gitmodules,.gitattributes";
/// Common binary formats.
pub const EXCLUDE_EXT: &str = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip";
/// CI configuration.
pub const EXCLUDE_CI: &str = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml";
/// Tool configuration that never belongs in a deployment.
pub const EXCLUDE_EXTRA: &str = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml";

/// Go's `filepath.Match` on one path element: `*`, `?`, `[...]` classes (with `^`/`!`
/// negation and ranges) and `\` escapes; `*` never crosses a `/`. A malformed pattern matches
/// nothing, as go-git treats the error.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    backtrack = Some((p, n));
                    p += 1;
                    continue;
                }
                b'?' if name[n] != b'/' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => match match_class(&pattern[p..], name[n]) {
                    Some((true, length)) => {
                        p += length;
                        n += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    None => return false,
                },
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == name[n] => {
                    p += 2;
                    n += 1;
                    continue;
                }
                b'\\' if p + 1 < pattern.len() => {}
                literal if literal == name[n] && literal != b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        match backtrack {
            Some((star, matched)) if name[matched] != b'/' => {
                backtrack = Some((star, matched + 1));
                p = star + 1;
                n = matched + 1;
            }
            _ => return false,
        }
    }
    pattern[p..].iter().all(|&byte| byte == b'*')
}

/// Matches a `[...]` class at the start of `pattern`; returns (matched, class length), or `None`
/// when the class is malformed.
fn match_class(pattern: &[u8], byte: u8) -> Option<(bool, usize)> {
    let mut index = 1;
    let negated = matches!(pattern.get(index), Some(b'^' | b'!'));
    if negated {
        index += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let current = *pattern.get(index)?;
        if current == b']' && !first {
            index += 1;
            break;
        }
        first = false;
        let mut low = current;
        if low == b'\\' {
            index += 1;
            low = *pattern.get(index)?;
        }
        index += 1;
        let mut high = low;
        if pattern.get(index) == Some(&b'-')
            && pattern.get(index + 1).is_some_and(|&next| next != b']')
        {
            high = *pattern.get(index + 1)?;
            index += 2;
            if high == b'\\' {
                high = *pattern.get(index)?;
                index += 1;
            }
        }
        if low <= byte && byte <= high {
            matched = true;
        }
    }
    Some((matched != negated, index))
}

/// One gitignore pattern with the directory it applies to.
#[derive(Debug, Clone)]
pub struct Pattern {
    domain: Vec<String>,
    elements: Vec<String>,
    inclusion: bool,
    directory_only: bool,
    is_glob: bool,
}

/// What one pattern says about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    NoMatch,
    Exclude,
    Include,
}

impl Pattern {
    /// Parses a pattern found in the directory `domain` (path elements below the source root).
    pub fn parse(text: &str, domain: &[String]) -> Self {
        let mut text = text;
        let inclusion = text.starts_with('!');
        if inclusion {
            text = &text[1..];
        }
        let trimmed;
        if !text.ends_with("\\ ") {
            trimmed = text.trim_end_matches(' ');
            text = trimmed;
        }
        let directory_only = text.ends_with('/');
        if directory_only {
            text = &text[..text.len() - 1];
        }
        Self {
            domain: domain.to_vec(),
            is_glob: text.contains('/'),
            elements: text.split('/').map(str::to_owned).collect(),
            inclusion,
            directory_only,
        }
    }

    fn verdict(&self, path: &[&str], is_dir: bool) -> Verdict {
        if path.len() <= self.domain.len()
            || self
                .domain
                .iter()
                .zip(path)
                .any(|(domain, element)| domain != element)
        {
            return Verdict::NoMatch;
        }
        let path = &path[self.domain.len()..];
        let matched = if self.is_glob {
            self.glob_match(path, is_dir)
        } else {
            self.name_match(path, is_dir)
        };
        match (matched, self.inclusion) {
            (false, _) => Verdict::NoMatch,
            (true, true) => Verdict::Include,
            (true, false) => Verdict::Exclude,
        }
    }

    fn name_match(&self, path: &[&str], is_dir: bool) -> bool {
        let pattern = self.elements[0].as_bytes();
        for (index, name) in path.iter().enumerate() {
            if !glob_match(pattern, name.as_bytes()) {
                continue;
            }
            return !(self.directory_only && !is_dir && index == path.len() - 1);
        }
        false
    }

    fn glob_match(&self, mut path: &[&str], is_dir: bool) -> bool {
        let mut matched = false;
        let mut can_traverse = false;
        for (index, element) in self.elements.iter().enumerate() {
            if element.is_empty() {
                can_traverse = false;
                continue;
            }
            if element == "**" {
                if index == self.elements.len() - 1 {
                    break;
                }
                can_traverse = true;
                continue;
            }
            if element.contains("**") || path.is_empty() {
                return false;
            }
            if can_traverse {
                can_traverse = false;
                while let Some((first, rest)) = path.split_first() {
                    path = rest;
                    if glob_match(element.as_bytes(), first.as_bytes()) {
                        matched = true;
                        break;
                    } else if path.is_empty() {
                        matched = false;
                    }
                }
            } else {
                if !glob_match(element.as_bytes(), path[0].as_bytes()) {
                    return false;
                }
                matched = true;
                path = &path[1..];
            }
        }
        if matched && self.directory_only && !is_dir && path.is_empty() {
            matched = false;
        }
        matched
    }
}

/// An ordered list of patterns; the last one that matches decides.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

fn parse_list(list: &str) -> Vec<Pattern> {
    list.split(',')
        .map(|pattern| Pattern::parse(pattern, &[]))
        .collect()
}

/// Reads gitignore lines (skipping comments and blank lines) as patterns of `domain`.
pub fn read_patterns(text: &str, domain: &[String]) -> Vec<Pattern> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| Pattern::parse(line, domain))
        .collect()
}

/// Loads every `.sourceignore` below `root` (not inside `.git`), each scoped to its directory,
/// parents before children and siblings in name order.
pub fn load_ignore_patterns(root: &Path) -> std::io::Result<Vec<Pattern>> {
    fn visit(
        dir: &Path,
        domain: &mut Vec<String>,
        patterns: &mut Vec<Pattern>,
    ) -> std::io::Result<()> {
        match std::fs::File::open(dir.join(IGNORE_FILE)) {
            Ok(file) => {
                for line in std::io::BufReader::new(file).lines() {
                    let line = line?;
                    if !line.starts_with('#') && !line.trim().is_empty() {
                        patterns.push(Pattern::parse(&line, domain));
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let mut children: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name != ".git" {
                    children.push(name);
                }
            }
        }
        children.sort();
        for child in children {
            domain.push(child);
            visit(
                &dir.join(domain.last().map_or("", String::as_str)),
                domain,
                patterns,
            )?;
            domain.pop();
        }
        Ok(())
    }
    let mut patterns = Vec::new();
    visit(root, &mut Vec::new(), &mut patterns)?;
    Ok(patterns)
}

impl Matcher {
    /// A matcher over exactly these patterns.
    pub fn new(patterns: Vec<Pattern>) -> Self {
        Self { patterns }
    }

    /// Flux's archive filter for a source: VCS exclusions, then the default exclusions unless
    /// `spec.ignore` is set, then the `.sourceignore` patterns, then `spec.ignore`.
    pub fn for_source(source_ignore: Vec<Pattern>, spec_ignore: Option<&str>) -> Self {
        let mut patterns = parse_list(EXCLUDE_VCS);
        if spec_ignore.is_none() {
            patterns.extend(parse_list(
                &[EXCLUDE_EXT, EXCLUDE_CI, EXCLUDE_EXTRA].join(","),
            ));
        }
        patterns.extend(source_ignore);
        if let Some(spec_ignore) = spec_ignore {
            patterns.extend(read_patterns(spec_ignore, &[]));
        }
        Self { patterns }
    }

    /// Whether the path (elements relative to the source root) is excluded.
    pub fn is_excluded(&self, path: &[&str], is_dir: bool) -> bool {
        for pattern in self.patterns.iter().rev() {
            match pattern.verdict(path, is_dir) {
                Verdict::NoMatch => continue,
                Verdict::Exclude => return true,
                Verdict::Include => return false,
            }
        }
        false
    }

    /// Whether any pattern re-includes paths; without one, an excluded directory's contents are
    /// all excluded too and need not be visited.
    pub fn has_inclusions(&self) -> bool {
        self.patterns.iter().any(|pattern| pattern.inclusion)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    fn excluded(matcher: &Matcher, path: &str, is_dir: bool) -> bool {
        matcher.is_excluded(&path.split('/').collect::<Vec<_>>(), is_dir)
    }

    #[test]
    fn go_glob_semantics() {
        assert!(glob_match(b"*.yaml", b"app.yaml"));
        assert!(!glob_match(b"*.yaml", b"app.yml"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[!a-c]x", b"bx"));
        assert!(glob_match(b"\\*", b"*"));
        assert!(!glob_match(b"[", b"["));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn defaults_exclude_vcs_binaries_and_ci() {
        let matcher = Matcher::for_source(Vec::new(), None);
        assert!(excluded(&matcher, ".git", true));
        assert!(excluded(&matcher, ".git/config", false));
        assert!(excluded(&matcher, "img/logo.png", false));
        assert!(excluded(&matcher, ".github/workflows/ci.yaml", false));
        assert!(excluded(&matcher, "deep/dir/.sops.yaml", false));
        assert!(!excluded(&matcher, "deploy/app.yaml", false));
    }

    #[test]
    fn spec_ignore_replaces_defaults_but_not_vcs() {
        let matcher = Matcher::for_source(Vec::new(), Some("*.txt\n"));
        assert!(!excluded(&matcher, "logo.png", false));
        assert!(excluded(&matcher, "notes.txt", false));
        assert!(excluded(&matcher, ".git/HEAD", false));
    }

    #[test]
    fn sourceignore_can_negate_a_default() {
        let patterns = read_patterns("!logo.png\n# comment\n\n", &[]);
        let matcher = Matcher::for_source(patterns, None);
        assert!(!excluded(&matcher, "logo.png", false));
        assert!(excluded(&matcher, "other.png", false));
    }

    #[test]
    fn patterns_are_scoped_to_their_directory() {
        let patterns = read_patterns("*.yaml\n", &["sub".to_owned()]);
        let matcher = Matcher::new(patterns);
        assert!(excluded(&matcher, "sub/a.yaml", false));
        assert!(excluded(&matcher, "sub/deeper/a.yaml", false));
        assert!(!excluded(&matcher, "a.yaml", false));
    }

    #[test]
    fn anchored_and_directory_only_patterns() {
        let matcher = Matcher::new(read_patterns("/build\nlogs/\ndocs/**/*.md\n", &[]));
        assert!(excluded(&matcher, "build", true));
        assert!(excluded(&matcher, "build/out.bin", false));
        assert!(!excluded(&matcher, "src/build", true));
        assert!(excluded(&matcher, "a/logs", true));
        assert!(!excluded(&matcher, "logs", false));
        assert!(excluded(&matcher, "docs/x/y/readme.md", false));
        assert!(!excluded(&matcher, "docs/readme.txt", false));
    }

    #[test]
    fn sourceignore_files_load_recursively_with_domains() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/.git")).unwrap();
        std::fs::write(dir.path().join(".sourceignore"), "*.log\n").unwrap();
        std::fs::write(dir.path().join("sub/.sourceignore"), "secret.yaml\n").unwrap();
        std::fs::write(dir.path().join("sub/.git/.sourceignore"), "*\n").unwrap();
        let matcher = Matcher::for_source(load_ignore_patterns(dir.path()).unwrap(), None);
        assert!(excluded(&matcher, "a.log", false));
        assert!(excluded(&matcher, "sub/secret.yaml", false));
        assert!(!excluded(&matcher, "secret.yaml", false));
        assert!(!excluded(&matcher, "sub/app.yaml", false));
    }
}
