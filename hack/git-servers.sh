#!/usr/bin/env bash
# Real Git servers for Eddy's integration tests, on 127.0.0.1 only:
#   - lighttpd + `git http-backend` (CGI) with basic auth, plain HTTP;
#   - the same lighttpd on a second socket with TLS, its certificate signed by a throwaway CA made here;
#   - sshd on a high port with its own host key and one authorised client key (logs in as the current user).
# Test repositories are made on the fly from hack/testdata/git-repo with fixed dates, so their commit ids are
# the same on every machine.
#
# Usage: hack/git-servers.sh start|stop|status|env
#   start   make the state directory, keys, certificates and repositories (once), start the daemons that are
#           not running yet, and wait until their ports answer. Safe to call concurrently and repeatedly.
#   stop    stop the daemons recorded in the state directory (only those PIDs).
#   status  exit 0 when every daemon is running.
#   env     print KEY=value lines (URLs, credentials, key and known_hosts paths) for tests to read.
#
# Settings (environment): EDDY_GIT_SERVERS_DIR (default /tmp/eddy-git-servers), EDDY_GIT_HTTP_PORT (18089),
# EDDY_GIT_HTTPS_PORT (18443), EDDY_GIT_SSH_PORT (12222).
# Needs: git, lighttpd (+ lighttpd-mod-openssl), apache2-utils (htpasswd), openssh-server, openssh-client,
# openssl.
set -euo pipefail

STATE_DIR="${EDDY_GIT_SERVERS_DIR:-/tmp/eddy-git-servers}"
HTTP_PORT="${EDDY_GIT_HTTP_PORT:-18089}"
HTTPS_PORT="${EDDY_GIT_HTTPS_PORT:-18443}"
SSH_PORT="${EDDY_GIT_SSH_PORT:-12222}"
GIT_USERNAME="gituser"
GIT_PASSWORD="gitpass"
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTDATA_DIR="$HACK_DIR/testdata/git-repo"
REPOS_DIR="$STATE_DIR/repos"
SSH_USER="$(id -un)"

log() { echo "git-servers: $*" >&2; }

require_tools() {
  local missing=()
  for tool in git lighttpd htpasswd sshd ssh-keygen ssh-keyscan openssl; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
      missing+=("$tool")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "missing tools: ${missing[*]} (apt-get install lighttpd lighttpd-mod-openssl apache2-utils openssh-server openssh-client openssl git)"
    exit 3
  fi
}

sshd_binary() { command -v sshd 2>/dev/null || echo /usr/sbin/sshd; }
lighttpd_binary() { command -v lighttpd 2>/dev/null || echo /usr/sbin/lighttpd; }

is_running() { # $1 = pid file
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for_port() { # $1 = port
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  log "nothing answers on port $1"
  return 1
}

# Commits with fixed identities and dates give the same commit ids on every run and machine.
commit_all() { # $1 = work tree, $2 = message, $3 = unix time
  GIT_AUTHOR_NAME="Eddy Test" GIT_AUTHOR_EMAIL="test@eddy.invalid" GIT_AUTHOR_DATE="$3 +0000" \
    GIT_COMMITTER_NAME="Eddy Test" GIT_COMMITTER_EMAIL="test@eddy.invalid" GIT_COMMITTER_DATE="$3 +0000" \
    git -C "$1" -c commit.gpgsign=false commit -q -a -m "$2"
}

annotated_tag() { # $1 = work tree, $2 = tag, $3 = unix time
  GIT_COMMITTER_NAME="Eddy Test" GIT_COMMITTER_EMAIL="test@eddy.invalid" GIT_COMMITTER_DATE="$3 +0000" \
    git -C "$1" -c tag.gpgsign=false tag -a "$2" -m "release $2"
}

# demo.git history (oldest first):
#   c1 "initial"        master, tag v1.0.0 (annotated)
#   c2 "greeting 1.1"   tag v1.1.0 (lightweight); feature/x = c2 + c5 "feature"
#   c3 "greeting 2.0"   tag v2.0.0-rc.1 (annotated), tag v1.2.0 (lightweight)
#   c4 "main middle"    (no reference points here: fetching it exercises fetch-by-commit)
#   c5 "main head"      main (HEAD); refs/pull/1/head = feature/x
make_demo_repository() {
  local work="$STATE_DIR/work/demo"
  rm -rf "$work" "$REPOS_DIR/demo.git"
  mkdir -p "$work" "$REPOS_DIR"
  git init -q -b main "$work"
  cp -R "$TESTDATA_DIR/." "$work/"
  git -C "$work" add -A
  commit_all "$work" "initial" 1700000000
  annotated_tag "$work" v1.0.0 1700000000
  git -C "$work" branch master
  sed -i 's/greeting: hello/greeting: hello 1.1/' "$work/deploy/configmap.yaml"
  commit_all "$work" "greeting 1.1" 1700000100
  git -C "$work" tag v1.1.0
  git -C "$work" checkout -q -b feature/x
  echo "feature" > "$work/deploy/feature.txt"
  git -C "$work" add -A
  commit_all "$work" "feature" 1700000150
  git -C "$work" checkout -q main
  sed -i 's/greeting: hello 1.1/greeting: hello 2.0/' "$work/deploy/configmap.yaml"
  commit_all "$work" "greeting 2.0" 1700000200
  annotated_tag "$work" v2.0.0-rc.1 1700000200
  git -C "$work" tag v1.2.0
  echo "main middle" >> "$work/docs/notes.md"
  commit_all "$work" "main middle" 1700000250
  echo "main head" >> "$work/README.md"
  commit_all "$work" "main head" 1700000300
  git clone -q --bare "$work" "$REPOS_DIR/demo.git"
  # A bare clone copies branches and tags; the pull-request style ref is written by hand.
  git -C "$REPOS_DIR/demo.git" update-ref refs/pull/1/head "$(git -C "$work" rev-parse feature/x)"
  git -C "$REPOS_DIR/demo.git" config http.receivepack true
  touch "$REPOS_DIR/demo.git/git-daemon-export-ok"
}

# super.git: one commit holding a README and a submodule "demo" (URL ../demo.git, pinned at
# demo's master), for recurseSubmodules.
make_super_repository() {
  local work="$STATE_DIR/work/super"
  rm -rf "$work" "$REPOS_DIR/super.git"
  git init -q -b main "$work"
  echo "superproject" > "$work/README.md"
  printf '[submodule "demo"]\n\tpath = demo\n\turl = ../demo.git\n' > "$work/.gitmodules"
  git -C "$work" add README.md .gitmodules
  git -C "$work" update-index --add --cacheinfo "160000,$(git -C "$REPOS_DIR/demo.git" rev-parse master),demo"
  # Not commit_all: `commit -a` would drop the gitlink, which has no checkout in the work tree.
  GIT_AUTHOR_NAME="Eddy Test" GIT_AUTHOR_EMAIL="test@eddy.invalid" GIT_AUTHOR_DATE="1700000400 +0000" \
    GIT_COMMITTER_NAME="Eddy Test" GIT_COMMITTER_EMAIL="test@eddy.invalid" GIT_COMMITTER_DATE="1700000400 +0000" \
    git -C "$work" -c commit.gpgsign=false commit -q -m "superproject"
  git clone -q --bare "$work" "$REPOS_DIR/super.git"
}

make_tls_material() {
  local tls="$STATE_DIR/tls"
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Eddy Test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    > "$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tls/server.ext" -out "$tls/server.crt" 2>/dev/null
  cat "$tls/server.crt" "$tls/server.key" > "$tls/server.pem"
}

make_lighttpd_config() {
  local dir="$STATE_DIR/lighttpd"
  mkdir -p "$dir/docroot"
  htpasswd -cbm "$dir/htpasswd" "$GIT_USERNAME" "$GIT_PASSWORD" 2>/dev/null
  cat > "$dir/lighttpd.conf" <<EOF
server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi", "mod_openssl")
server.port = $HTTP_PORT
server.bind = "127.0.0.1"
server.document-root = "$dir/docroot"
server.errorlog = "$dir/error.log"
alias.url = ( "/git" => "$(git --exec-path)/git-http-backend" )
\$SERVER["socket"] == "127.0.0.1:$HTTPS_PORT" {
  ssl.engine = "enable"
  ssl.pemfile = "$STATE_DIR/tls/server.pem"
}
\$HTTP["url"] =~ "^/git" {
  cgi.assign = ( "" => "" )
  setenv.add-environment = ( "GIT_PROJECT_ROOT" => "$REPOS_DIR", "GIT_HTTP_EXPORT_ALL" => "1" )
  auth.backend = "htpasswd"
  auth.backend.htpasswd.userfile = "$dir/htpasswd"
  auth.require = ( "" => ( "method" => "basic", "realm" => "git", "require" => "valid-user" ) )
}
EOF
}

make_ssh_material() {
  local dir="$STATE_DIR/ssh"
  mkdir -p "$dir"
  ssh-keygen -q -t ed25519 -N '' -C eddy-test-host -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C eddy-test-client -f "$dir/client_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C eddy-test-impostor -f "$dir/impostor_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  chmod 600 "$dir/authorized_keys" "$dir/client_ed25519"
  # The known_hosts line for the real host key, and one that names the same host with another key.
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" > "$dir/known_hosts"
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$dir/impostor_ed25519.pub")" > "$dir/wrong_known_hosts"
  cat > "$dir/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
EOF
}

prepare() {
  if [ -f "$STATE_DIR/prepared" ]; then
    return 0
  fi
  mkdir -p "$STATE_DIR"
  make_demo_repository
  make_super_repository
  make_tls_material
  make_lighttpd_config
  make_ssh_material
  touch "$STATE_DIR/prepared"
}

start() {
  require_tools
  mkdir -p "$STATE_DIR"
  prepare
  if ! is_running "$STATE_DIR/lighttpd.pid"; then
    "$(lighttpd_binary)" -D -f "$STATE_DIR/lighttpd/lighttpd.conf" >"$STATE_DIR/lighttpd/stdout.log" 2>&1 </dev/null &
    echo $! > "$STATE_DIR/lighttpd.pid"
  fi
  if ! is_running "$STATE_DIR/sshd.pid"; then
    mkdir -p /run/sshd # sshd's privilege-separation directory; without it sshd exits at once.
    "$(sshd_binary)" -D -e -f "$STATE_DIR/ssh/sshd_config" >"$STATE_DIR/ssh/sshd.log" 2>&1 </dev/null &
    echo $! > "$STATE_DIR/sshd.pid"
  fi
  wait_for_port "$HTTP_PORT"
  wait_for_port "$HTTPS_PORT"
  wait_for_port "$SSH_PORT"
  log "running (state in $STATE_DIR)"
}

stop() {
  for name in lighttpd sshd; do
    local pid_file="$STATE_DIR/$name.pid"
    if is_running "$pid_file"; then
      kill "$(cat "$pid_file")"
      log "stopped $name ($(cat "$pid_file"))"
    fi
    rm -f "$pid_file"
  done
}

status() {
  is_running "$STATE_DIR/lighttpd.pid" && is_running "$STATE_DIR/sshd.pid"
}

print_env() {
  cat <<EOF
GIT_SERVERS_DIR=$STATE_DIR
GIT_REPOS_DIR=$REPOS_DIR
GIT_HTTP_URL=http://127.0.0.1:$HTTP_PORT/git
GIT_HTTPS_URL=https://127.0.0.1:$HTTPS_PORT/git
GIT_SSH_URL=ssh://$SSH_USER@127.0.0.1:$SSH_PORT$REPOS_DIR
GIT_USERNAME=$GIT_USERNAME
GIT_PASSWORD=$GIT_PASSWORD
GIT_CA_FILE=$STATE_DIR/tls/ca.crt
GIT_SSH_IDENTITY=$STATE_DIR/ssh/client_ed25519
GIT_SSH_IDENTITY_PUB=$STATE_DIR/ssh/client_ed25519.pub
GIT_SSH_KNOWN_HOSTS=$STATE_DIR/ssh/known_hosts
GIT_SSH_WRONG_KNOWN_HOSTS=$STATE_DIR/ssh/wrong_known_hosts
EOF
}

case "${1:-}" in
  start)
    # Concurrent starts (parallel test binaries) serialise on a lock that flock holds in its own
    # process (-o): the daemons must not inherit the lock's descriptor, or they would hold it forever.
    mkdir -p "$STATE_DIR"
    flock -o -w 60 "$STATE_DIR/.lock" bash "$0" start-locked
    ;;
  start-locked) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
