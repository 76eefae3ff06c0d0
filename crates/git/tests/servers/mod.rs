//! The real Git servers of `hack/git-servers.sh`, shared through eddy-testkit. When lighttpd or
//! sshd is not installed the tests that need servers skip with a message saying what to
//! install.

pub(crate) use eddy_testkit::git_servers::{GitServers as Servers, git_servers as servers};

/// Returns early from a test when the servers are unavailable.
#[macro_export]
macro_rules! require_servers {
    () => {
        match servers::servers() {
            Some(servers) => servers,
            None => {
                eprintln!("skipping: lighttpd/sshd not installed (see hack/git-servers.sh)");
                return;
            }
        }
    };
}
