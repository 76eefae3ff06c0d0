//! The processes `eddy dev up` starts and `eddy dev down` stops: each in its own process group
//! (a Ctrl-C in the terminal that ran `eddy dev up` must not reach them), output appended to
//! its log file, identified later by pid and start time so a recycled pid is never signalled.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustix::process::{Pid, Signal, kill_process, test_kill_process};
use serde::{Deserialize, Serialize};

/// One started process, as recorded in `dev.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Started {
    /// What it is (`apiserver`, `git`, a controller's name).
    pub(crate) name: String,
    pub(crate) pid: i32,
    /// Its start time in clock ticks since boot (`/proc/<pid>/stat` field 22): with the pid,
    /// what identifies it, even while it is still in `exec` (when its command line is empty).
    pub(crate) start_time: u64,
    /// Where its output goes.
    pub(crate) log: PathBuf,
}

/// What to start.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) log: PathBuf,
}

impl Spec {
    /// Starts the process detached from the caller; it outlives `eddy dev up`.
    pub(crate) fn start(&self) -> Result<Started> {
        if let Some(parent) = self.log.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let errors = log
            .try_clone()
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new(&self.program)
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(errors),
            0,
        )
        .spawn()
        .with_context(|| format!("starting {}", self.program.display()))?;
        let pid = i32::try_from(child.id()).context("process id out of range")?;
        let start_time = stat_fields(pid)
            .and_then(|fields| fields.start_time)
            .with_context(|| format!("{} ended at once; see {}", self.name, self.log.display()))?;
        Ok(Started {
            name: self.name.clone(),
            pid,
            start_time,
            log: self.log.clone(),
        })
    }
}

impl Started {
    /// Whether the process still runs (a zombie, or another process that got the same pid,
    /// does not count).
    pub(crate) fn is_running(&self) -> bool {
        let Some(pid) = Pid::from_raw(self.pid) else {
            return false;
        };
        if test_kill_process(pid).is_err() {
            return false;
        }
        stat_fields(self.pid)
            .is_some_and(|fields| !fields.zombie && fields.start_time == Some(self.start_time))
    }

    /// What /proc says about the process, for error messages.
    pub(crate) fn describe(&self) -> String {
        let proc_dir = Path::new("/proc").join(self.pid.to_string());
        let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        let cmdline = std::fs::read(proc_dir.join("cmdline"))
            .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
            .unwrap_or_default();
        format!("stat {:?}, command line {:?}", stat.trim(), cmdline.trim())
    }

    /// Sends SIGTERM and waits up to `grace` for the process to end, then sends SIGKILL.
    pub(crate) fn stop(&self, grace: Duration) {
        let Some(pid) = Pid::from_raw(self.pid) else {
            return;
        };
        if !self.is_running() {
            return;
        }
        let _ = kill_process(pid, Signal::TERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.is_running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = kill_process(pid, Signal::KILL);
    }
}

/// What `/proc/<pid>/stat` says of a process: whether it is a zombie, and its start time.
struct StatFields {
    zombie: bool,
    start_time: Option<u64>,
}

fn stat_fields(pid: i32) -> Option<StatFields> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // The command name, in parentheses, may contain spaces: the fields follow its last `)`.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let zombie = fields.next()? == "Z";
    // Field 3 is the state; field 22, the start time, is 19 further on.
    let start_time = fields.nth(18).and_then(|field| field.parse().ok());
    Some(StatFields { zombie, start_time })
}

/// A free loopback port, found by binding port 0. Another program could take it before the
/// process that is given it binds it; that process then fails with a clear error.
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn a_started_process_runs_until_stopped_and_is_told_from_a_recycled_pid() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec {
            name: "sleeper".to_string(),
            program: PathBuf::from("sleep"),
            args: vec!["30".to_string()],
            log: dir.path().join("logs/sleeper.log"),
        };
        let started = spec.start().unwrap();
        assert!(started.is_running());
        let impostor = Started {
            start_time: started.start_time + 1,
            ..started.clone()
        };
        assert!(!impostor.is_running(), "same pid, another start time");
        started.stop(Duration::from_secs(5));
        assert!(!started.is_running());
        assert!(dir.path().join("logs/sleeper.log").exists());
    }
}
