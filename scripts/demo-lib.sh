# Shared by scripts/demo.sh and scripts/demo-fleet.sh (sourced, not run):
# the demo's two accounts, free ports, step headings, waiting for a
# passkeyd, and a private sshd whose PAM service asks a passkeyd.  The
# functions use the caller's $dir, $build, pids array and made_run_sshd.
DEMO_USER=passkey-demo
DAEMON_USER=passkeyd

free_port() {	# prefers $1 when free
  python3 - "$1" <<'PY'
import socket, sys
for port in (int(sys.argv[1]), 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
PY
}

step() { printf '\n== %s\n' "$*"; }

# The demo user, and the account passkeyd runs as; both stay after the demo.
demo_accounts() {
  id "$DEMO_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$DEMO_USER"
  id "$DAEMON_USER" >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$DAEMON_USER"
}

# Waits up to 5 s for passkeyd's /healthz on PORT (and its socket SOCK when
# given); if it does not answer, prints its LOG and stops the demo.
wait_passkeyd() {	# PORT LOG [SOCK]
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && { [ -z "${3:-}" ] || [ -S "$3" ]; } && break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$1/healthz" >/dev/null || { cat "$2"; exit 1; }
}

# A private sshd on 127.0.0.1:PORT, keyboard-interactive only, whose PAM
# service SERVICE (sshd's argv[0] basename, through a symlink) sends its
# logins to the passkeyd on SOCK; its files in $dir end in TAG.  The
# module's log lines (why a login ended) go to $dir/sshd_TAG.log with
# sshd's own.  The caller removes /etc/pam.d/SERVICE when it ends.
start_demo_sshd() {	# SERVICE PORT SOCK TAG
  [ -d /run/sshd ] || { mkdir -p /run/sshd; made_run_sshd=1; }
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key_$4"
  cat > "/etc/pam.d/$1" <<PAM
# written by the ssh-passkeys demo (scripts/demo-lib.sh), removed when it ends
auth     required  $build/pam/pam_passkey.so socket=$3 enroll=pending qr=no timeout=120
account  include   common-account
session  required  pam_permit.so
PAM
  cat > "$dir/sshd_config_$4" <<CONF
Port $2
ListenAddress 127.0.0.1
HostKey $dir/host_key_$4
PidFile $dir/sshd_$4.pid
UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods keyboard-interactive
PasswordAuthentication no
PermitRootLogin no
AuthorizedKeysFile none
LoginGraceTime 120
CONF
  ln -s /usr/sbin/sshd "$dir/$1"
  PAM_PASSKEY_DEBUG_STDERR=1 "$dir/$1" -D -e -f "$dir/sshd_config_$4" 2> "$dir/sshd_$4.log" &
  pids+=($!)
}
