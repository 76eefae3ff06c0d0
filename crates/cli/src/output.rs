//! How the cluster commands print: Flux-style tables and progress lines, az-style tables, and
//! `-o yaml|json`.

use std::io::Write;

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;

/// A machine-readable output format chosen with `-o`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// YAML, as `kubectl get -o yaml` prints it.
    Yaml,
    /// Indented JSON.
    Json,
}

/// Prints `value` as YAML or JSON on stdout.
pub(crate) fn print_value<T: Serialize>(format: Format, value: &T) -> Result<()> {
    let text = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(value).context("encoding JSON")?;
            text.push('\n');
            text
        }
        Format::Yaml => serde_saphyr::to_string(value).context("encoding YAML")?,
    };
    print_stdout(&text)
}

/// Several objects as kubectl prints a list: `apiVersion: v1, kind: List, items: [...]`.
pub(crate) fn list_value(items: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// Writes to stdout, ending quietly when the reader has gone (`eddy get ks | head -1`).
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// A table as the Flux CLI prints it (olekukonko/tablewriter without borders): upper-case
/// headers, every column padded to its widest cell, columns separated by a tab.
pub(crate) fn flux_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if !headers.is_empty() {
        all.push(headers.iter().map(|header| header.to_uppercase()).collect());
    }
    all.extend(rows.iter().cloned());
    render(&all, "\t", None)
}

/// A table as `az … -o table` prints it: headers underlined with dashes, two spaces between
/// columns.
pub(crate) fn az_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    all.push(headers.iter().map(|header| header.to_string()).collect());
    all.extend(rows.iter().cloned());
    render(&all, "  ", Some('-'))
}

fn render(rows: &[Vec<String>], separator: &str, underline: Option<char>) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            widths[column] = widths[column].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(column, cell)| format!("{cell:<width$}", width = widths[column]))
            .collect();
        let mut text = padded.join(separator).trim_end().to_string();
        text.push('\n');
        text
    };
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        out.push_str(&line(row.clone()));
        if index == 0
            && let Some(mark) = underline
        {
            out.push_str(&line(
                widths
                    .iter()
                    .map(|width| mark.to_string().repeat(*width))
                    .collect(),
            ));
        }
    }
    out
}

/// Shortens every run of 40 to 128 hex digits (a SHA-1 … SHA-512) to its first 8, as
/// `flux get` does with revisions and messages.
pub(crate) fn truncate_hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let characters: Vec<char> = text.chars().collect();
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut index = 0;
    while index < characters.len() {
        let starts_word = index == 0 || !is_word(characters[index - 1]);
        if starts_word && is_hex(characters[index]) {
            let mut end = index;
            while end < characters.len() && is_hex(characters[end]) {
                end += 1;
            }
            let ends_word = end == characters.len() || !is_word(characters[end]);
            let length = end - index;
            if ends_word && (40..=128).contains(&length) {
                out.extend(&characters[index..index + 8]);
            } else {
                out.extend(&characters[index..end]);
            }
            index = end;
        } else {
            out.push(characters[index]);
            index += 1;
        }
    }
    out
}

/// Progress lines on stderr, with the Flux CLI's markers.
pub(crate) mod log {
    /// `► …`: something is being done.
    pub(crate) fn action(message: &str) {
        eprintln!("► {message}");
    }
    /// `◎ …`: waiting for the cluster.
    pub(crate) fn waiting(message: &str) {
        eprintln!("◎ {message}");
    }
    /// `✔ …`: done.
    pub(crate) fn success(message: &str) {
        eprintln!("✔ {message}");
    }
    /// `⚠️ …`: worth knowing.
    pub(crate) fn warning(message: &str) {
        eprintln!("⚠️ {message}");
    }
    /// `✗ …`: failed.
    pub(crate) fn failure(message: &str) {
        eprintln!("✗ {message}");
    }
}

/// An error already printed in the command's own style; `main` only sets the exit code.
#[derive(Debug)]
pub(crate) struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Reported {}

/// Runs a Flux-style command: its error is printed as `✗ message` (as flux does) and becomes
/// [`Reported`].
pub(crate) fn flux_style(result: Result<()>) -> Result<()> {
    result.map_err(|error| {
        log::failure(&format!("{error:#}"));
        anyhow::Error::new(Reported)
    })
}

/// kubectl's `HumanDuration` (k8s.io/apimachinery/pkg/util/duration): `45s`, `3m20s`, `5h`,
/// `2d3h`, `3y20d`.
pub(crate) fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let rest = seconds % 60;
        return if rest == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{rest}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let rest = minutes % 60;
        return if rest == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{rest}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let rest = hours % 24;
        return if rest == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{rest}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let rest = days % 365;
        return if rest == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{rest}d")
        };
    }
    format!("{years}y")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_tables_pad_columns_and_separate_them_with_tabs() {
        let table = flux_table(
            &["Name", "Ready"],
            &[
                vec!["podinfo".into(), "True".into()],
                vec!["a".into(), "False".into()],
            ],
        );
        assert_eq!(table, "NAME   \tREADY\npodinfo\tTrue\na      \tFalse\n");
    }

    #[test]
    fn az_tables_underline_their_headers() {
        let table = az_table(&["Name", "Scope"], &[vec!["demo".into(), "cluster".into()]]);
        assert_eq!(table, "Name  Scope\n----  -------\ndemo  cluster\n");
    }

    #[test]
    fn long_hex_runs_are_cut_to_eight_characters() {
        let sha = "6a3a5e0c1f7b3b4f1e0f2f7a9b8c7d6e5f4a3b2c";
        assert_eq!(
            truncate_hex(&format!("main@sha1:{sha}")),
            "main@sha1:6a3a5e0c"
        );
        assert_eq!(truncate_hex("v1.2.3"), "v1.2.3");
        assert_eq!(truncate_hex("abc123"), "abc123");
    }

    #[test]
    fn durations_read_as_kubectl_prints_them() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(60 * 60 * 5), "5h");
        assert_eq!(human_duration(60 * 60 * 51), "2d3h");
    }
}
