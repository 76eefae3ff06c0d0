//! Turning [`AuthOptions`] into what gix needs for one operation.
//!
//! gix reads almost everything from Git configuration, so a session is mostly a list of in-memory
//! configuration overrides on an isolated repository (no user or system config, no environment):
//! `core.sshCommand` for SSH (gix spawns the `ssh` program; the identity and known_hosts go into
//! private temporary files, and `StrictHostKeyChecking=yes` refuses unknown hosts). HTTP is driven
//! through gix's reqwest backend, whose client we configure ourselves: extra CA certificates, the
//! proxy, an overall timeout, and the ring crypto provider (the only one this process uses; the
//! reqwest build has no provider of its own). Basic credentials are answered from memory by a
//! credentials callback, so no helper program or prompt is ever consulted.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gix::bstr::BString;
use gix::error::ErrorExt;
use gix_transport::client::blocking_io::http as gix_http;

use crate::auth::{AuthOptions, ProxyOptions, Scheme};
use crate::error::{GitError, classify, redact_url};

/// Everything one Git operation needs to talk to the remote.
pub(crate) struct Session {
    pub(crate) url: String,
    pub(crate) scheme: Scheme,
    pub(crate) timeout: Duration,
    pub(crate) secrets: Vec<String>,
    config_overrides: Vec<BString>,
    basic_credentials: Option<(String, String)>,
    bearer_token: Option<String>,
    ca_certificates: Vec<reqwest::Certificate>,
    proxy: Option<ProxyOptions>,
    /// Where the `ssh` client's stderr goes: gix does not capture it, and it is the only place
    /// that says why a connection failed (host key, permission denied).
    ssh_stderr: Option<std::path::PathBuf>,
    /// Holds the SSH identity and known_hosts files for as long as the session lives.
    _ssh_files: Option<tempfile::TempDir>,
}

fn write_private_file(
    dir: &std::path::Path,
    name: &str,
    contents: &[u8],
) -> Result<String, GitError> {
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // ssh refuses identity files that others can read.
        file.mode(0o600);
    }
    let mut handle = file
        .open(&path)
        .map_err(|error| GitError::io("write SSH credentials", error))?;
    handle
        .write_all(contents)
        .map_err(|error| GitError::io("write SSH credentials", error))?;
    if !contents.ends_with(b"\n") {
        handle
            .write_all(b"\n")
            .map_err(|error| GitError::io("write SSH credentials", error))?;
    }
    Ok(path.to_string_lossy().into_owned())
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Installs ring as the process-wide rustls provider unless one is installed already.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: a provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl Session {
    pub(crate) fn new(url: &str, auth: &AuthOptions, timeout: Duration) -> Result<Self, GitError> {
        let scheme = Scheme::of(url)?;
        auth.validate(scheme)?;
        let mut session = Self {
            url: url.to_owned(),
            scheme,
            timeout,
            secrets: auth.secrets(),
            config_overrides: vec![
                // Never ask a terminal or a helper program for anything.
                "credential.helper=".into(),
                "core.askPass=".into(),
                "protocol.version=2".into(),
            ],
            basic_credentials: None,
            bearer_token: None,
            ca_certificates: Vec::new(),
            proxy: auth.proxy.clone(),
            ssh_stderr: None,
            _ssh_files: None,
        };
        match scheme {
            Scheme::Http | Scheme::Https => {
                if let Some(username) = &auth.username {
                    session.basic_credentials =
                        Some((username.clone(), auth.password.clone().unwrap_or_default()));
                }
                session.bearer_token = auth.bearer_token.clone();
                if let Some(pem) = &auth.ca_certificate {
                    session.ca_certificates =
                        reqwest::Certificate::from_pem_bundle(pem).map_err(|error| {
                            GitError::InvalidAuthOptions(format!(
                                "invalid 'ca.crt': not a PEM certificate bundle: {error}"
                            ))
                        })?;
                    if session.ca_certificates.is_empty() {
                        return Err(GitError::InvalidAuthOptions(
                            "invalid 'ca.crt': no certificate found".into(),
                        ));
                    }
                }
            }
            Scheme::Ssh => {
                // validate() has checked both are present; this keeps the types honest.
                let (Some(identity), Some(known_hosts)) =
                    (&auth.ssh_identity, &auth.ssh_known_hosts)
                else {
                    return Err(GitError::InvalidAuthOptions(
                        "invalid 'ssh' auth option: 'identity' and 'known_hosts' are required"
                            .into(),
                    ));
                };
                let dir = tempfile::Builder::new()
                    .prefix("eddy-ssh-")
                    .tempdir()
                    .map_err(|error| GitError::io("create SSH credentials directory", error))?;
                let identity_path = write_private_file(dir.path(), "identity", identity)?;
                let known_hosts_path = write_private_file(dir.path(), "known_hosts", known_hosts)?;
                let stderr_path = dir.path().join("ssh-stderr");
                let connect_timeout = timeout.as_secs().clamp(1, 60);
                let command = format!(
                    "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} \
                     -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
                     -o BatchMode=yes -o ConnectTimeout={connect_timeout} \
                     -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o LogLevel=ERROR \
                     2>>{}",
                    shell_quote(&identity_path),
                    shell_quote(&known_hosts_path),
                    shell_quote(&stderr_path.to_string_lossy()),
                );
                session.ssh_stderr = Some(stderr_path);
                session
                    .config_overrides
                    .push(format!("core.sshCommand={command}").into());
                session.config_overrides.push("ssh.variant=ssh".into());
                session._ssh_files = Some(dir);
            }
        }
        Ok(session)
    }

    /// Open options for a repository used by this session: isolated from the machine's Git
    /// configuration and environment, with our overrides.
    pub(crate) fn open_options(&self) -> gix::open::Options {
        gix::open::Options::isolated().config_overrides(self.config_overrides.clone())
    }

    /// The in-memory configuration overrides (also applied right before a clone's fetch).
    pub(crate) fn config_overrides(&self) -> Vec<BString> {
        self.config_overrides.clone()
    }

    /// A closure that prepares a connection: credentials callback and HTTP transport options.
    pub(crate) fn connection_configurator<T>(
        &self,
    ) -> impl FnMut(&mut gix::remote::Connection<'_, '_, '_, T>) -> gix::Result + 'static
    where
        T: gix::protocol::transport::client::blocking_io::Transport,
    {
        let credentials = self.basic_credentials.clone();
        let http_options = self.http_options();
        move |connection| {
            let credentials = credentials.clone();
            connection.set_credentials(move |action| answer_credentials(&credentials, action));
            if let Some(options) = &http_options {
                connection.set_transport_options(Box::new(options.clone()));
            }
            Ok(())
        }
    }

    fn http_options(&self) -> Option<gix_http::Options> {
        if self.scheme == Scheme::Ssh {
            return None;
        }
        let certificates = self.ca_certificates.clone();
        let proxy = self.proxy.clone();
        let timeout = self.timeout;
        let configure_client = move |builder: reqwest::blocking::ClientBuilder| {
            ensure_crypto_provider();
            let mut builder = builder.timeout(timeout);
            for certificate in &certificates {
                builder = builder.add_root_certificate(certificate.clone());
            }
            if let Some(proxy) = &proxy {
                let mut configured =
                    reqwest::Proxy::all(proxy.address.as_str()).map_err(|error| {
                        gix::error::message!("invalid proxy address: {error}").raise()
                    })?;
                if let Some(username) = &proxy.username {
                    configured = configured
                        .basic_auth(username, proxy.password.as_deref().unwrap_or_default());
                }
                builder = builder.proxy(configured);
            } else {
                builder = builder.no_proxy();
            }
            Ok(builder)
        };
        let backend = gix_http::reqwest::Options {
            configure_client: Some(Box::new(configure_client)),
            configure_request: None,
        };
        let backend: Arc<Mutex<dyn std::any::Any + Send + Sync + 'static>> =
            Arc::new(Mutex::new(backend));
        let mut extra_headers = Vec::new();
        if let Some(token) = &self.bearer_token {
            extra_headers.push(format!("Authorization: Bearer {token}"));
        }
        Some(gix_http::Options {
            extra_headers,
            connect_timeout: Some(self.timeout.min(Duration::from_secs(30))),
            backend: Some(backend),
            ..gix_http::Options::default()
        })
    }

    /// Maps a gix failure to a [`GitError`], naming a timeout when the watchdog fired.
    pub(crate) fn error(&self, error: &gix::Error, timed_out: bool) -> GitError {
        if timed_out {
            return GitError::Timeout {
                url: redact_url(&self.url),
                after: self.timeout,
            };
        }
        let mut chain = error_chain(error);
        if let Some(stderr) = self
            .ssh_stderr
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
        {
            let stderr = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
            if !stderr.is_empty() {
                chain = format!("{chain}: ssh: {stderr}");
            }
        }
        classify(&self.url, &chain, &self.secrets)
    }
}

fn answer_credentials(
    credentials: &Option<(String, String)>,
    action: gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    use gix::credentials::helper::Action;
    match (action, credentials) {
        (Action::Get(context), Some((username, password))) => {
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: gix::sec::identity::Account {
                    username: username.clone(),
                    password: password.clone(),
                    oauth_refresh_token: None,
                },
                next: context.into(),
            }))
        }
        (Action::Get(_), None) => Err(gix::error::message!(
            "authentication required but no credentials were configured"
        )
        .raise()),
        (Action::Store(_) | Action::Erase(_), _) => Ok(None),
    }
}

/// The messages of a gix error and all its causes, outermost first.
pub(crate) fn error_chain(error: &gix::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    for cause in error.iter_errors() {
        let message = cause.to_string();
        if !messages.iter().any(|known| known.contains(&message)) {
            messages.push(message);
        }
    }
    if messages.is_empty() {
        messages.push(error.to_string());
    }
    messages.join(": ")
}

/// Sets an interrupt flag when the operation outlives its timeout; dropping it stops the timer.
pub(crate) struct Watchdog {
    flag: Arc<AtomicBool>,
    stop: Option<std::sync::mpsc::Sender<()>>,
}

impl Watchdog {
    pub(crate) fn start(timeout: Duration) -> Self {
        let flag = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let timer_flag = flag.clone();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(timeout) {
                timer_flag.store(true, Ordering::SeqCst);
            }
        });
        Self {
            flag,
            stop: Some(stop),
        }
    }

    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.flag
    }

    pub(crate) fn fired(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
