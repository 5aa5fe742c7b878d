#!/usr/bin/env bash
# The main job: a real passkey SSH login on this machine.
#
#   bash scripts/demo.sh              a person approves in a browser
#   bash scripts/demo.sh --headless   headless Chromium's virtual authenticator approves
#   bash scripts/demo.sh --fleet      two SSH hosts and two web instances behind nginx on
#                                     one PostgreSQL (scripts/demo-fleet.sh); --headless too
#
# Builds, then starts passkeyd (SQLite store, http://localhost) and a private
# sshd on loopback whose PAM service uses pam_passkey.so, with a demo user.
# An admin enrollment link registers the user's passkey; then a stock `ssh`
# logs in, approved with that passkey.  Everything it started or wrote is
# stopped and removed at the end (the accounts passkey-demo and passkeyd stay).
# Without a terminal it runs --headless.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

headless=0
fleet=0
for a in "$@"; do
  case "$a" in
    --headless) headless=1 ;;
    --fleet) fleet=1 ;;
    *) echo "usage: bash scripts/demo.sh [--fleet] [--headless]" >&2; exit 2 ;;
  esac
done
if [ "$headless" -eq 0 ] && ! { [ -t 0 ] && [ -t 1 ]; }; then
  headless=1
  echo "demo: no terminal, so running --headless"
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: it starts sshd and creates a demo account, so it needs root; re-running with sudo"
  exec sudo bash "$0" "$@"
fi

bash scripts/install-deps.sh
bash scripts/build.sh
build=$repo/build
[ "$fleet" -eq 0 ] || exec bash scripts/demo-fleet.sh "$headless"

. scripts/demo-lib.sh
SERVICE=sshd-passkey-demo
demo_accounts

dir=$(mktemp -d /tmp/passkey-demo.XXXXXX)
chmod 755 "$dir"
mkdir -p "$dir/state"
chown "$DAEMON_USER:" "$dir/state"
chmod 700 "$dir/state"
web_port=$(free_port 8080)
ssh_port=$(free_port 2222)
pids=()
made_run_sshd=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "/etc/pam.d/$SERVICE"
  [ "$made_run_sshd" -eq 0 ] || rmdir /run/sshd 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1. passkeyd on http://localhost:$web_port (store: SQLite; runs as '$DAEMON_USER')"
cat > "$dir/passkeyd.conf" <<CONF
rp_id = localhost
rp_name = ssh-passkeys demo
origin = http://localhost:$web_port
listen = 127.0.0.1:$web_port
public_url = http://localhost:$web_port
store = $dir/state/passkeys.db
socket = $dir/control.sock
user = $DAEMON_USER
ceremony_timeout = 90
CONF
"$build/passkeyd/passkeyd" --config "$dir/passkeyd.conf" --foreground 2> "$dir/passkeyd.log" &
pids+=($!)
wait_passkeyd "$web_port" "$dir/passkeyd.log"
echo "   passkeyd is up; its log: event=... lines below at the end"

step "2. a private sshd on 127.0.0.1:$ssh_port, PAM service '$SERVICE' -> pam_passkey.so"
start_demo_sshd "$SERVICE" "$ssh_port" "$dir/control.sock" main
sleep 0.5
echo "   sshd is up"

step "3. the admin enrolls '$DEMO_USER': passkeyctl enroll prints a one-time link"
enroll_url=$("$build/passkeyctl/passkeyctl" --socket "$dir/control.sock" enroll "$DEMO_USER")
echo "   $enroll_url"

if [ "$headless" -eq 1 ]; then
  step "4. headless: Chromium registers a passkey there, then 'ssh $DEMO_USER@localhost' is approved with it"
  # a failure must still reach the summary below (set -e would skip it)
  set +e
  node scripts/demo-headless.mjs --enroll-url "$enroll_url" --ssh-port "$ssh_port" \
    --user "$DEMO_USER" --askpass "$repo/tests/acceptance/askpass.sh" --workdir "$dir"
  rc=$?
  set -e
else
  cat <<TXT

   Open the link above in a browser on this machine (or from your own
   machine after 'ssh -L $web_port:localhost:$web_port THIS-HOST') and
   register a passkey for $DEMO_USER.  (Your SSH login in step 4 may also
   offer the registration itself: enroll=pending.)

   The module can show each link as a QR code for a phone (qr=yes); this
   demo leaves it out, because its links are http://localhost:$web_port,
   which a phone cannot open.
TXT
  read -r -p "   Press Enter when the page says \"Passkey registered\"... " _
  step "4. ssh -p $ssh_port $DEMO_USER@localhost: open the link it shows, approve, press Enter"
  set +e
  ssh -p "$ssh_port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o PreferredAuthentications=keyboard-interactive "$DEMO_USER@localhost" \
    'echo; echo "   logged in as $(whoami) on $(hostname) with a passkey"'
  rc=$?
  set -e
fi

step "5. what passkeyd logged"
grep -o 'event=.*' "$dir/passkeyd.log" | sed 's/^/   /'
if [ "$rc" -eq 0 ]; then
  echo; echo "demo: passkey login succeeded"
else
  echo; echo "demo: the login failed (exit $rc); sshd said:"; tail -5 "$dir/sshd_main.log" | sed 's/^/   /'
fi
exit "$rc"
