//! The client-side checks of `az k8s-configuration flux`, with its messages (azure-cli-extensions
//! `k8s-configuration` validators.py and consts.py): names, URLs, durations, the one Git
//! reference, which credentials go with which URL, and the shape of keys and known_hosts.

use std::io::Read;

use anyhow::{Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Longest key or known_hosts file read (untrusted input is size-bounded).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// An az-style error: `Error! …` followed by what to do about it.
fn invalid(error: &str, help: &str) -> anyhow::Error {
    anyhow::anyhow!("{error} {help}")
}

/// A Go-style `h/m/s` duration as az accepts it (`10m`, `1h30m`, `45s`), in seconds.
pub(crate) fn duration_seconds(argument: &str, text: &str) -> Result<i64> {
    let error = || {
        invalid(
            &format!("Error! Invalid {argument}."),
            "Specify a valid Go duration and try again (i.e. 1h2m5s)",
        )
    };
    let mut seconds: i64 = 0;
    let mut number = String::new();
    let mut last_unit = 0;
    let mut any = false;
    for character in text.chars() {
        if character.is_ascii_digit() {
            number.push(character);
            continue;
        }
        // Units in h, m, s order, each at most once, each after a number.
        let (rank, factor) = match character {
            'h' => (1, 3600),
            'm' => (2, 60),
            's' => (3, 1),
            _ => return Err(error()),
        };
        if number.is_empty() || rank <= last_unit {
            return Err(error());
        }
        let value: i64 = number.parse().map_err(|_| error())?;
        seconds = value
            .checked_mul(factor)
            .and_then(|part| seconds.checked_add(part))
            .ok_or_else(error)?;
        number.clear();
        last_unit = rank;
        any = true;
    }
    if !any || !number.is_empty() {
        return Err(error());
    }
    Ok(seconds)
}

/// Seconds as az prints them back (`1h30m`, `10m`, `45s`).
pub(crate) fn format_seconds(seconds: i64) -> String {
    let (hours, rest) = (seconds / 3600, seconds % 3600);
    let (minutes, seconds) = (rest / 60, rest % 60);
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 || text.is_empty() {
        text.push_str(&format!("{seconds}s"));
    }
    text
}

/// A Git URL: `http://`, `https://`, `ssh://` or scp-like `git@host:path`.
pub(crate) fn git_url(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    if ["http://", "https://", "ssh://", "git@"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
    {
        return Ok(());
    }
    Err(invalid(
        "Error! Invalid --url.",
        "Url must begin with one of ['http://', 'https://', 'git@', 'ssh://']",
    ))
}

/// Whether the URL is plain HTTP(S) (credentials for SSH do not go with it, and vice versa).
pub(crate) fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// A custom-resource name (DNS-1123 subdomain characters) of at most `max` characters.
pub(crate) fn resource_name(value: &str, argument: &str, max: usize) -> Result<()> {
    check_name(value, argument, max, true)
}

/// A namespace name (DNS-1123 label characters), at most 253 characters as az allows.
pub(crate) fn namespace_name(value: &str) -> Result<()> {
    check_name(value, "--namespace", 253, false)
}

fn check_name(value: &str, argument: &str, max: usize, dots: bool) -> Result<()> {
    let error = |help: String| invalid(&format!("Error! Invalid {argument}"), &help);
    if value.chars().count() > max {
        return Err(error(format!(
            "Parameter {argument} can be a maximum of {max} characters. Specify a shorter name \
             and try again."
        )));
    }
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.');
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if value.chars().all(allowed) && edge_ok(value.chars().next()) && edge_ok(value.chars().last())
    {
        return Ok(());
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(error(format!(
            "Parameter {argument} cannot begin or end with a hyphen."
        )));
    }
    if dots && (value.starts_with('.') || value.ends_with('.')) {
        return Err(error(format!(
            "Parameter {argument} cannot begin or end with a period."
        )));
    }
    Err(error(if dots {
        format!(
            "Parameter {argument} can only contain lowercase alphanumeric characters, hyphens, \
             and periods"
        )
    } else {
        format!(
            "Parameter {argument} can only contain lowercase alphanumeric characters and hyphens"
        )
    }))
}

/// The generated Kustomization `<config>-<key>` must stay a valid name (≤ 63 characters).
pub(crate) fn combined_name(config: &str, key: &str) -> Result<()> {
    eddy_api::clusterconfig::v1alpha1::check_combined_name_length(config, key).map_err(|_| {
        invalid(
            &format!(
                "Error! Invalid Kustomization list. Flux configuration name '{config}' combined \
                 with kustomization name '{key}' cannot be greater than 62 characters"
            ),
            "Shorten the flux configuration or the kustomization name and try again",
        )
    })
}

/// Exactly one of `--branch`, `--tag`, `--semver`, `--commit` (`given` of them were set).
pub(crate) fn one_reference(given: usize) -> Result<()> {
    match given {
        0 => Err(invalid(
            "Error! Repository reference is invalid",
            "Specifying one of [--branch, --tag, --semver, --commit] is required",
        )),
        1 => Ok(()),
        _ => Err(invalid(
            "Error! Repository reference is invalid",
            "Specifying more than one repository ref argument is invalid",
        )),
    }
}

/// Which credentials go with which URL: SSH key and known_hosts not with http(s), HTTPS user
/// and key only with http(s) and only together.
pub(crate) fn credentials_match_url(
    url: &str,
    ssh_key: bool,
    known_hosts: bool,
    https_user: bool,
    https_key: bool,
) -> Result<()> {
    if is_http_url(url) {
        if ssh_key {
            return Err(invalid(
                "Error! An --ssh-private-key cannot be used with an http(s) url",
                "Verify the url provided is a valid ssh url and not an http(s) url",
            ));
        }
        if known_hosts {
            return Err(invalid(
                "Error! --ssh-known-hosts cannot be used with an http(s) url",
                "Verify the url provided is a valid ssh url and not an http(s) url",
            ));
        }
    } else if https_user || https_key {
        return Err(invalid(
            "Error! https auth (--https-user and --https-key) cannot be used with a non-http(s) url",
            "Verify the url provided is a valid http(s) url and not an ssh url",
        ));
    }
    if https_user != https_key {
        return Err(invalid(
            "Error! --https-user and --https-key cannot be used separately",
            "Try providing both --https-user and --https-key together",
        ));
    }
    Ok(())
}

/// A value given inline (already base64, as az expects) or as a file (read and encoded):
/// never both.
pub(crate) fn inline_or_file(
    inline: Option<&str>,
    file: Option<&str>,
    strip_newline: bool,
) -> Result<Option<String>> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(invalid(
            "Error! Both textual key and key filepath cannot be provided",
            "Try providing the file parameter without providing the plaintext parameter",
        )),
        (Some(inline), None) => Ok(Some(inline.trim().to_string())),
        (None, Some(path)) => {
            let read_error = |reason: String| {
                invalid(
                    &format!("Error! Unable to read key file specified with: {reason}"),
                    "Verify that the filepath specified exists and contains valid utf-8 data",
                )
            };
            let file = std::fs::File::open(path)
                .map_err(|error| read_error(format!("{path}: {error}")))?;
            let mut text = String::new();
            file.take(MAX_FILE_BYTES + 1)
                .read_to_string(&mut text)
                .map_err(|error| read_error(format!("{path}: {error}")))?;
            if text.len() as u64 > MAX_FILE_BYTES {
                return Err(read_error(format!(
                    "{path}: larger than {MAX_FILE_BYTES} bytes"
                )));
            }
            if text.is_empty() {
                return Err(read_error(format!(
                    "{path}: File provided does not contain any data"
                )));
            }
            let text = if strip_newline {
                text.trim()
            } else {
                text.as_str()
            };
            Ok(Some(STANDARD.encode(text)))
        }
        (None, None) => Ok(None),
    }
}

/// A base64 PEM private key of a kind Git over SSH uses (az accepts RSA, ECC, DSA, Ed25519).
pub(crate) fn private_key(base64_pem: &str) -> Result<()> {
    let error = || {
        invalid(
            "Error! --ssh-private-key provided in invalid format",
            "Verify the key provided is a valid PEM-formatted key of type RSA, ECC, DSA, or Ed25519",
        )
    };
    let decoded = STANDARD.decode(base64_pem.trim()).map_err(|_| error())?;
    let text = String::from_utf8(decoded).map_err(|_| error())?;
    let text = text.trim();
    let begins = text.starts_with("-----BEGIN ")
        && text
            .lines()
            .next()
            .is_some_and(|line| line.ends_with("PRIVATE KEY-----"));
    let ends = text
        .lines()
        .last()
        .is_some_and(|line| line.starts_with("-----END ") && line.ends_with("PRIVATE KEY-----"));
    if begins && ends { Ok(()) } else { Err(error()) }
}

/// Base64 known_hosts whose every line is `hosts keytype key` (comments and blanks aside).
pub(crate) fn known_hosts(base64_text: &str) -> Result<()> {
    let decoded = STANDARD
        .decode(base64_text.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            invalid(
                "Error! ssh known_hosts is not a valid utf-8 base64 encoded string",
                "Verify that the string provided safely decodes into a valid utf-8 format",
            )
        })?;
    for line in decoded.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        // `@cert-authority`/`@revoked` markers precede the usual three fields.
        let fields = if fields.first().is_some_and(|field| field.starts_with('@')) {
            &fields[1..]
        } else {
            &fields[..]
        };
        let key_ok = fields
            .get(2)
            .is_some_and(|key| STANDARD.decode(key).is_ok());
        if fields.len() < 3 || !key_ok {
            return Err(invalid(
                "Error! ssh known_hosts provided in wrong format",
                "Verify that all lines in the known_hosts contents are provided in a valid sshd(8) format",
            ));
        }
    }
    Ok(())
}

/// A boolean flag value as az's three-state flags take it.
pub(crate) fn boolean(argument: &str, text: &str) -> Result<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" => Ok(true),
        "false" | "no" | "n" | "0" | "off" => Ok(false),
        _ => bail!("Error! Invalid {argument} value '{text}': expected true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_durations_become_seconds() {
        assert_eq!(duration_seconds("--interval", "10m").unwrap_or(-1), 600);
        assert_eq!(duration_seconds("--interval", "1h30m").unwrap_or(-1), 5400);
        assert_eq!(duration_seconds("--interval", "1h2m5s").unwrap_or(-1), 3725);
        assert_eq!(duration_seconds("--interval", "45s").unwrap_or(-1), 45);
    }

    #[test]
    fn malformed_durations_are_refused_with_azs_message() {
        for text in ["", "10", "m", "10x", "5m1h", "1.5h", "10m10m", "PT5M"] {
            let error = duration_seconds("--timeout", text).expect_err(text);
            assert!(
                error.to_string().starts_with("Error! Invalid --timeout."),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn seconds_print_back_as_az_prints_them() {
        assert_eq!(format_seconds(600), "10m");
        assert_eq!(format_seconds(5400), "1h30m");
        assert_eq!(format_seconds(3725), "1h2m5s");
        assert_eq!(format_seconds(0), "0s");
    }

    #[test]
    fn git_urls_need_a_known_scheme_or_the_scp_form() {
        for url in [
            "https://github.com/org/repo",
            "http://gitea.local/org/repo",
            "ssh://git@github.com/org/repo",
            "git@github.com:org/repo.git",
        ] {
            assert!(git_url(url).is_ok(), "{url}");
        }
        let error = git_url("github.com/org/repo").expect_err("no scheme");
        assert!(error.to_string().starts_with("Error! Invalid --url."));
    }

    #[test]
    fn names_follow_dns_rules_and_length_limits() {
        assert!(resource_name("cluster-config", "--name", 63).is_ok());
        assert!(resource_name("a.b", "--name", 63).is_ok());
        let long = "a".repeat(64);
        assert!(
            resource_name(&long, "--name", 63)
                .expect_err("long")
                .to_string()
                .contains("maximum of 63 characters")
        );
        assert!(
            resource_name("-a", "--name", 63)
                .expect_err("hyphen")
                .to_string()
                .contains("hyphen")
        );
        assert!(
            resource_name("Upper", "--name", 63)
                .expect_err("upper")
                .to_string()
                .contains("lowercase")
        );
        assert!(namespace_name("a.b").is_err());
        assert!(combined_name(&"c".repeat(40), &"k".repeat(22)).is_ok());
        assert!(
            combined_name(&"c".repeat(40), &"k".repeat(23))
                .expect_err("too long")
                .to_string()
                .contains("cannot be greater than 62 characters")
        );
    }

    #[test]
    fn exactly_one_reference_is_required() {
        assert!(one_reference(1).is_ok());
        assert!(one_reference(0).is_err());
        assert!(
            one_reference(2)
                .expect_err("two")
                .to_string()
                .contains("more than one repository ref")
        );
    }

    #[test]
    fn credentials_must_suit_the_url() {
        let https = "https://example.com/repo";
        let ssh = "ssh://git@example.com/repo";
        assert!(credentials_match_url(https, false, false, true, true).is_ok());
        assert!(credentials_match_url(https, true, false, false, false).is_err());
        assert!(credentials_match_url(https, false, true, false, false).is_err());
        assert!(credentials_match_url(ssh, false, false, true, true).is_err());
        assert!(credentials_match_url(https, false, false, false, true).is_err());
        assert!(credentials_match_url(ssh, true, true, false, false).is_ok());
    }

    #[test]
    fn keys_must_be_pem_private_keys() {
        let key = STANDARD.encode(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n",
        );
        assert!(private_key(&key).is_ok());
        assert!(private_key(&STANDARD.encode("not a key")).is_err());
        assert!(private_key("%%%").is_err());
    }

    #[test]
    fn known_hosts_lines_need_host_type_and_key() {
        let good = STANDARD.encode("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n# comment\n");
        assert!(known_hosts(&good).is_ok());
        assert!(known_hosts(&STANDARD.encode("github.com ssh-ed25519")).is_err());
        assert!(known_hosts("***").is_err());
    }
}
