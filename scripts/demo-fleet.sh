#!/usr/bin/env bash
# The fleet on one machine: bash scripts/demo.sh --fleet [--headless]
#
# Starts a private PostgreSQL (tests/lib/pg-server.sh: Debian's initdb and
# pg_ctl into a temporary folder, a unix socket only), makes the fleet's
# roles with `passkeyctl fleet --store`, two web passkeyd instances behind
# nginx at one origin (http://localhost:8080 when free), and two SSH hosts,
# A and B, each a private sshd on loopback with its own PAM service and its
# own passkeyd on a host role.  The admin enrolls the demo user through a
# web instance; the user's first login at host A registers a passkey, and
# the same passkey then logs in at host B.  Everything it started or wrote
# is stopped and removed at the end (the accounts passkey-demo and passkeyd
# stay).  Called by scripts/demo.sh, after it installed and built.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=$repo/build
headless=${1:?usage: demo-fleet.sh HEADLESS(0|1)}

. scripts/demo-lib.sh
demo_accounts

dir=$(mktemp -d /tmp/passkey-fleet.XXXXXX)
chmod 755 "$dir"
pids=()
pg_dir=""
made_run_sshd=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "$pg_dir" ] || bash tests/lib/pg-server.sh remove "$pg_dir" || true
  rm -f /etc/pam.d/sshd-passkey-demo-a /etc/pam.d/sshd-passkey-demo-b
  [ "$made_run_sshd" -eq 0 ] || rmdir /run/sshd 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1. PostgreSQL: a private server, the schema and the fleet's roles"
out=$(bash tests/lib/pg-server.sh start "$dir/pg")
pg_dir=$(echo "$out" | head -1)
psql -X -q -c 'CREATE DATABASE fleet' "$(echo "$out" | tail -1)"
uri() { echo "postgresql:///fleet?host=$pg_dir&user=$1"; }
"$build/passkeyctl/passkeyctl" fleet --store "$(uri postgres)" \
  --host passkey_demo_a=demo-host-a --host passkey_demo_b=demo-host-b \
  --web passkey_web1 --web passkey_web2
echo "   roles: passkey_demo_a, passkey_demo_b (hosts), passkey_web1, passkey_web2 (pages)"

origin_port=$(free_port 8080)
origin=http://localhost:$origin_port
start_daemon() {	# NAME ROLE HOSTNAME
  local port conf
  port=$(free_port 0)
  conf=$dir/$1.conf
  cat > "$conf" <<CONF
rp_id = localhost
rp_name = ssh-passkeys fleet demo
origin = $origin
public_url = $origin
listen = 127.0.0.1:$port
hostname = $3
store = $(uri "$2")
socket = $dir/$1.sock
user = $DAEMON_USER
ceremony_timeout = 90
CONF
  # behind nginx every client comes from 127.0.0.1: nginx bounds each one's connections
  case $2 in *web*) echo "http_trusted_proxy = 127.0.0.1" >> "$conf" ;; esac
  "$build/passkeyd/passkeyd" --config "$conf" --foreground 2> "$dir/$1.log" &
  pids+=($!)
  wait_passkeyd "$port" "$dir/$1.log" "$dir/$1.sock"
  eval "port_$1=$port"
}

step "2. two web instances (web roles) behind nginx at $origin"
start_daemon web1 passkey_web1 login.demo
start_daemon web2 passkey_web2 login.demo
mkdir -p "$dir/nginx"
cat > "$dir/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body; proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi; uwsgi_temp_path $dir/nginx/uwsgi; scgi_temp_path $dir/nginx/scgi;
  limit_conn_zone \$binary_remote_addr zone=per_client:1m;
  upstream passkeyd {
    server 127.0.0.1:$port_web1 max_fails=1 fail_timeout=30s;
    server 127.0.0.1:$port_web2 max_fails=1 fail_timeout=30s;
  }
  server {
    listen 127.0.0.1:$origin_port;
    limit_conn per_client 16;
    client_header_timeout 10s;
    client_body_timeout 10s;
    location / {
      proxy_pass http://passkeyd;
      proxy_set_header Host \$http_host;
      proxy_next_upstream error timeout;
    }
  }
}
CONF
/usr/sbin/nginx -c "$dir/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 50); do curl -sf "$origin/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$origin/healthz" >/dev/null || { cat "$dir/nginx/error.log"; exit 1; }
echo "   nginx -> 127.0.0.1:$port_web1, 127.0.0.1:$port_web2"

step "3. hosts A and B: a private sshd and a passkeyd (host role) each"
start_host() {	# a|b
  local port
  start_daemon "host$1" "passkey_demo_$1" "demo-host-$1"
  port=$(free_port "$([ "$1" = a ] && echo 2222 || echo 2223)")
  start_demo_sshd "sshd-passkey-demo-$1" "$port" "$dir/host$1.sock" "$1"
  eval "ssh_$1=$port"
  echo "   host $1: sshd on 127.0.0.1:$port, passkeyd as role passkey_demo_$1 (host name demo-host-$1)"
}
start_host a
start_host b
sleep 0.5

step "4. the admin enrolls '$DEMO_USER' through a web instance (a host's role cannot)"
"$build/passkeyctl/passkeyctl" --socket "$dir/web1.sock" enroll "$DEMO_USER" >/dev/null
echo "   enrollment pending: the first login at any host registers the passkey"

if [ "$headless" -eq 1 ]; then
  step "5. headless: ssh to host A registers a passkey (first login); ssh to host B logs in with it"
  set +e
  node scripts/demo-headless.mjs --ssh-port "$ssh_a" --ssh-port "$ssh_b" \
    --user "$DEMO_USER" --askpass "$repo/tests/acceptance/askpass.sh" --workdir "$dir"
  rc=$?
  set -e
else
  rc=0
  for h in a b; do
    port=$(eval echo "\$ssh_$h")
    step "5$h. ssh -p $port $DEMO_USER@localhost (host $h): open the link, approve, press Enter"
    [ "$h" = b ] || echo "   (the first login registers your passkey; the page says host demo-host-a)"
    set +e
    ssh -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      -o LogLevel=ERROR -o PreferredAuthentications=keyboard-interactive "$DEMO_USER@localhost" \
      "echo; echo \"   logged in on host $h with a passkey\""
    r=$?
    set -e
    [ "$r" -eq 0 ] || rc=$r
  done
fi

step "6. what the instances logged"
for n in hosta hostb web1 web2; do
  grep -o 'event=.*' "$dir/$n.log" | sed "s/^/   $n: /" || true
done
if [ "$rc" -eq 0 ]; then
  echo; echo "demo: registered at host A, logged in at host B: the fleet works"
else
  echo; echo "demo: a login failed (exit $rc)"
fi
exit "$rc"
