//! Commit-status notifiers for GitHub and GitLab (`github.go`, `gitlab.go`): the event's
//! revision (metadata `commit`, `originRevision` or `revision`) names the commit; severity
//! gives the state; the reason, split into lower-case words, is the description; the status is
//! identified by the Provider's commit status id (`<kind>/<name>/<provider uid prefix>`).
//! Progressing events are skipped, and a status equal to the latest one is not posted again.

use super::http::{HttpSender, OutboundRequest};
use super::{NotifierError, NotifierSettings};
use crate::event::Event;
use serde::{Deserialize, Serialize};

/// Reason of progress events, which commit statuses skip.
const PROGRESSING_REASON: &str = "Progressing";

/// Splits a Git address into `scheme://host[:port]` and the repository path without `.git`
/// (`ssh` becomes `https`), accepting URLs and scp-like `git@host:owner/repo.git`.
pub fn parse_git_address(address: &str) -> Result<(String, String), NotifierError> {
    let invalid = || NotifierError::Config(format!("failed parsing URL {address:?}"));
    let (scheme, host, path) = if address.contains("://") {
        let url = reqwest::Url::parse(address).map_err(|_| invalid())?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(invalid()),
        };
        (url.scheme().to_string(), host, url.path().to_string())
    } else if let Some((user_host, path)) = address.split_once(':') {
        let host = user_host.rsplit('@').next().unwrap_or(user_host);
        if host.is_empty() {
            return Err(invalid());
        }
        ("ssh".to_string(), host.to_string(), path.to_string())
    } else {
        return Err(invalid());
    };
    let scheme = if scheme == "ssh" {
        "https".to_string()
    } else {
        scheme
    };
    let id = path.trim_start_matches('/');
    let id = id.strip_suffix(".git").unwrap_or(id);
    Ok((format!("{scheme}://{host}"), id.to_string()))
}

/// The commit SHA in a Flux revision (`main@sha1:<sha>`, `sha1:<sha>`, `main/<sha>`, `<sha>`);
/// only 40-hex SHA-1 hashes are accepted, as Flux.
pub fn parse_revision(revision: &str) -> Result<String, NotifierError> {
    let hash = match revision.rfind(':') {
        Some(index) => &revision[index + 1..],
        None => revision.rsplit('/').next().unwrap_or(revision),
    };
    if hash.len() == 40 {
        Ok(hash.to_string())
    } else {
        Err(NotifierError::Config(format!(
            "failed to extract commit hash from '{revision}' revision"
        )))
    }
}

/// Splits CamelCase as Flux's `splitCamelcase` does (`PDFLoader` → `PDF`, `Loader`).
pub fn split_camel_case(text: &str) -> Vec<String> {
    fn class(character: char) -> u8 {
        if character.is_lowercase() {
            1
        } else if character.is_uppercase() {
            2
        } else if character.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last_class = 0;
    for character in text.chars() {
        let current = class(character);
        match runs.last_mut() {
            Some(run) if current == last_class => run.push(character),
            _ => runs.push(vec![character]),
        }
        last_class = current;
    }
    for index in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[index].first().is_some_and(|c| c.is_uppercase())
            && runs[index + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower && let Some(moved) = runs[index].pop() {
            runs[index + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|run| !run.is_empty())
        .map(|run| run.into_iter().collect())
        .collect()
}

/// The status description: the reason split into lower-case words.
pub fn description(event: &Event) -> String {
    split_camel_case(&event.reason).join(" ").to_lowercase()
}

fn commit_for(event: &Event) -> Result<Option<String>, NotifierError> {
    if event.reason == PROGRESSING_REASON {
        return Ok(None);
    }
    let revision = event
        .revision()
        .ok_or_else(|| NotifierError::Config("missing revision metadata".into()))?;
    parse_revision(revision).map(Some)
}

fn state_for(
    event: &Event,
    success: &str,
    failure: &str,
    platform: &str,
) -> Result<String, NotifierError> {
    match event.severity.as_str() {
        crate::event::SEVERITY_INFO => Ok(success.to_string()),
        crate::event::SEVERITY_ERROR => Ok(failure.to_string()),
        _ => Err(NotifierError::Config(format!(
            "can't convert to {platform} state"
        ))),
    }
}

/// A GitHub commit status as sent and listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHubStatus {
    /// `success` or `failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The status id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// GitHub commit-status notifier.
#[derive(Debug)]
pub struct GitHub {
    api: String,
    owner: String,
    repository: String,
    token: String,
    commit_status: String,
    sender: HttpSender,
}

impl GitHub {
    /// A GitHub notifier for `https://github.com/<owner>/<repo>` (or a GitHub Enterprise
    /// address, whose API lives under `/api/v3/`). GitHub App credentials are not supported.
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        if settings.commit_status.is_empty() {
            return Err(NotifierError::Config(
                "commit status cannot be empty".into(),
            ));
        }
        let token = if settings.token.is_empty() {
            settings.password.clone()
        } else {
            settings.token.clone()
        };
        if token.is_empty() {
            return Err(NotifierError::Config(
                "github token or github app details must be specified".into(),
            ));
        }
        let (host, id) = parse_git_address(&settings.url)?;
        let parts: Vec<&str> = id.split('/').collect();
        let [owner, repository] = parts.as_slice() else {
            return Err(NotifierError::Config(format!(
                "invalid repository id: '{id}'"
            )));
        };
        let api = if host == "https://github.com" {
            "https://api.github.com/".to_string()
        } else {
            format!("{host}/api/v3/")
        };
        Ok(Self {
            api,
            owner: (*owner).to_string(),
            repository: (*repository).to_string(),
            token,
            commit_status: settings.commit_status.clone(),
            sender,
        })
    }

    fn request(&self, request: OutboundRequest) -> OutboundRequest {
        request
            .header("Accept", "application/vnd.github.v3+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", "go-github/v64.0.0")
            .header("Authorization", format!("Bearer {}", self.token))
    }

    /// Posts the commit status, unless it is a progress event or a duplicate of the latest.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let Some(commit) = commit_for(event)? else {
            return Ok(());
        };
        let status = GitHubStatus {
            state: Some(state_for(event, "success", "failure", "github")?),
            description: Some(description(event)),
            context: Some(self.commit_status.clone()),
        };
        let base = format!("{}repos/{}/{}", self.api, self.owner, self.repository);
        let listed = self
            .sender
            .send(&self.request(OutboundRequest::get(&format!(
                "{base}/commits/{commit}/statuses?per_page=50"
            ))))
            .await?;
        listed.require_success().map_err(|error| {
            NotifierError::Rejected(format!("could not list commit statuses: {error}"))
        })?;
        let statuses: Vec<GitHubStatus> =
            serde_json::from_slice(&listed.body).map_err(|error| {
                NotifierError::Rejected(format!("could not list commit statuses: {error}"))
            })?;
        // The list is newest first: only the latest status of this context counts.
        if let Some(latest) = statuses.iter().find(|listed| {
            listed.context == status.context
                && listed.state.is_some()
                && listed.description.is_some()
        }) && latest.state == status.state
            && latest.description == status.description
        {
            return Ok(());
        }
        // go-github encodes with a trailing newline and without HTML escaping.
        let mut body = serde_json::to_vec(&status)?;
        body.push(b'\n');
        let created = self
            .sender
            .send(&self.request(OutboundRequest::post(
                &format!("{base}/statuses/{commit}"),
                "application/json",
                body,
            )))
            .await?;
        created.require_success().map_err(|error| {
            NotifierError::Rejected(format!("could not create commit status: {error}"))
        })
    }
}

/// A GitLab commit status as listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct GitLabListedStatus {
    /// Commit SHA.
    #[serde(default)]
    pub sha: String,
    /// State.
    #[serde(default)]
    pub status: String,
    /// Status id.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// The body GitLab's "set commit status" takes (client-go's field order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GitLabSetStatus {
    /// `success` or `failed`.
    pub state: String,
    /// Status id.
    pub name: String,
    /// Description.
    pub description: String,
}

/// GitLab commit-status notifier.
#[derive(Debug)]
pub struct GitLab {
    api: String,
    project: String,
    token: String,
    commit_status: String,
    sender: HttpSender,
}

impl GitLab {
    /// A GitLab notifier for `https://gitlab.com/<group>/<project>`.
    pub fn new(settings: &NotifierSettings, sender: HttpSender) -> Result<Self, NotifierError> {
        let token = if settings.token.is_empty() {
            settings.password.clone()
        } else {
            settings.token.clone()
        };
        if token.is_empty() {
            return Err(NotifierError::Config("gitlab token cannot be empty".into()));
        }
        let (host, id) = parse_git_address(&settings.url)?;
        if settings.commit_status.is_empty() {
            return Err(NotifierError::Config(
                "commit status cannot be empty".into(),
            ));
        }
        Ok(Self {
            api: format!("{host}/api/v4/"),
            project: path_escape(&id),
            token,
            commit_status: settings.commit_status.clone(),
            sender,
        })
    }

    /// Posts the commit status, unless it is a progress event or already present.
    pub async fn post(&self, event: &Event) -> Result<(), NotifierError> {
        let Some(commit) = commit_for(event)? else {
            return Ok(());
        };
        let wanted = GitLabSetStatus {
            state: state_for(event, "success", "failed", "gitlab")?,
            name: self.commit_status.clone(),
            description: description(event),
        };
        let base = format!("{}projects/{}", self.api, self.project);
        let query: String = url_query_escape(&wanted.name);
        let listed = self
            .sender
            .send(
                &OutboundRequest::get(&format!(
                    "{base}/repository/commits/{commit}/statuses?name={query}"
                ))
                .header("PRIVATE-TOKEN", self.token.clone()),
            )
            .await?;
        listed.require_success().map_err(|error| {
            NotifierError::Rejected(format!("unable to list commit status: {error}"))
        })?;
        let statuses: Vec<GitLabListedStatus> =
            serde_json::from_slice(&listed.body).map_err(|error| {
                NotifierError::Rejected(format!("unable to list commit status: {error}"))
            })?;
        let duplicate = statuses.iter().any(|listed| {
            listed.sha == commit
                && listed.status == wanted.state
                && listed.description.as_deref().unwrap_or_default() == wanted.description
                && listed.name == wanted.name
        });
        if duplicate {
            return Ok(());
        }
        let body = crate::go_json::to_vec(&wanted)?;
        self.sender
            .send(
                &OutboundRequest::post(
                    &format!("{base}/statuses/{commit}"),
                    "application/json",
                    body,
                )
                .header("PRIVATE-TOKEN", self.token.clone()),
            )
            .await?
            .require_success()
    }
}

/// GitLab client-go's project path escaping: Go's `url.PathEscape`, with `.` escaped too.
pub fn path_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => out.push(byte as char),
            b'$' | b'&' | b'+' | b',' | b':' | b';' | b'=' | b'@' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn url_query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_addresses_split_into_host_and_repository() {
        let parsed = |address: &str| parse_git_address(address).expect("parses");
        assert_eq!(
            parsed("https://github.com/fluxcd/podinfo"),
            (
                "https://github.com".to_string(),
                "fluxcd/podinfo".to_string()
            )
        );
        assert_eq!(
            parsed("ssh://git@github.com/fluxcd/podinfo.git"),
            (
                "https://github.com".to_string(),
                "fluxcd/podinfo".to_string()
            )
        );
        assert_eq!(
            parsed("git@gitlab.com:group/sub/project.git"),
            (
                "https://gitlab.com".to_string(),
                "group/sub/project".to_string()
            )
        );
        assert_eq!(
            parsed("http://127.0.0.1:8080/org/repo"),
            ("http://127.0.0.1:8080".to_string(), "org/repo".to_string())
        );
    }

    #[test]
    fn revisions_yield_their_sha1() {
        let sha = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";
        for revision in [
            format!("main@sha1:{sha}"),
            format!("sha1:{sha}"),
            format!("feature/x/{sha}"),
            sha.to_string(),
        ] {
            assert_eq!(parse_revision(&revision).expect("sha"), sha);
        }
        assert!(parse_revision("main@sha256:abc").is_err());
        assert!(parse_revision("v1.0.0").is_err());
    }

    #[test]
    fn reasons_become_lower_case_descriptions() {
        let event = |reason: &str| Event {
            reason: reason.to_string(),
            ..Event::default()
        };
        assert_eq!(
            description(&event("ReconciliationSucceeded")),
            "reconciliation succeeded"
        );
        assert_eq!(
            description(&event("HealthCheckFailed")),
            "health check failed"
        );
        assert_eq!(split_camel_case("PDFLoader"), ["PDF", "Loader"]);
        assert_eq!(
            split_camel_case("GitOperationFailed"),
            ["Git", "Operation", "Failed"]
        );
    }

    #[test]
    fn gitlab_project_ids_are_escaped_with_dots() {
        assert_eq!(path_escape("group/my.project"), "group%2Fmy%2Eproject");
    }
}
