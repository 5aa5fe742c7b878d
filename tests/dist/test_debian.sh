#!/usr/bin/env bash
# The Debian packages, tested as installed.  Builds them from a copy of this
# tree (dpkg-buildpackage -us -uc -b), runs lintian on them, debootstraps a
# minimal Debian 12 root from the mirror this machine's apt uses, installs
# the packages there with apt-get (dependencies from that mirror), checks
# what they installed and that pam_passkey.so loads (pamtester), then purges
# them and checks what is left.  Everything happens in a temporary folder
# and, when unshare works, in a mount namespace of its own; the mounts and
# the folder are removed on success and on failure.
#
# TAP on stdout: "ok N - ...", "not ok N - ...", "# ..." diagnostics, and
# "1..N" last; exit status 0 only when every check passed.
# Needs root, network access to that mirror, and what scripts/install-deps.sh
# installs (the build dependencies, debhelper, dpkg-dev, fakeroot, lintian,
# debootstrap).  About two minutes here.
#
# lintian: errors fail; every warning must be one that debian/README.source
# explains (the list `explained` below); info tags are printed only.
# PASSKEY_DEBTEST_NS=1 (set by the re-run below) skips the mount namespace.

# the checks are functions that `check` calls by name
# shellcheck disable=SC2317
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# a mount namespace of our own: if this script dies without its trap, the
# bind mounts go with the namespace instead of staying on the host
if [ -z "${PASSKEY_DEBTEST_NS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1 &&
  unshare --mount --propagation private true 2>/dev/null; then
  PASSKEY_DEBTEST_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

# the lintian warnings debian/README.source explains (tag names)
explained=()

n=0 failed=0
start=$SECONDS
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1)) failed=$((failed + 1))
  echo "not ok $n - $1"
  [ -z "${2:-}" ] || printf '%s\n' "$2" | tail -n 40 | sed 's/^/#   /'
}
diag() { printf '# %s\n' "$@"; }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds; its output otherwise
check() {
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
finish() {
  local t=$SECONDS
  cleanup || { n=$((n + 1)) failed=$((failed + 1)); echo "not ok $n - clean up the mounts and $work"; }
  work=""
  diag "clean-up: $((SECONDS - t)) s; total: $((SECONDS - start)) s"
  echo "1..$n"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}
# stop: a check that the rest depends on failed
stop() {
  diag "stopping here: $1"
  finish
}

work="" root=""
cleanup() {
  local m p pids=()
  [ -n "$work" ] || return 0
  if [ -n "$root" ] && [ -d "$root" ]; then
    # whatever still runs inside the root is ours (apt, a maintainer script)
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids+=("${p#/proc/}")
    done
    [ ${#pids[@]} -eq 0 ] || kill -9 "${pids[@]}" 2>/dev/null
    for m in "$root/dev" "$root/proc"; do
      if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m"; fi
    done
    for m in "$root/dev" "$root/proc"; do
      if mountpoint -q "$m"; then
        echo "# cleanup: $m is still mounted; $work left in place" >&2
        return 1
      fi
    done
  fi
  # --one-file-system: never into a mount, whatever happened above
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" -ne 0 ]; then
  not_ok "runs as root (debootstrap, chroot and mount need it)"
  finish
fi
missing=""
for c in dpkg-buildpackage dh lintian debootstrap chroot mount dpkg-architecture python3; do
  command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
if [ -n "$missing" ]; then
  not_ok "the tools are installed (bash scripts/install-deps.sh)" "missing:$missing"
  finish
fi
ok "runs as root with dpkg-buildpackage, debhelper, lintian and debootstrap"

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg --print-architecture)
work=$(mktemp -d "${TMPDIR:-/tmp}/passkey-debtest.XXXXXX") || exit 1
src="$work/src/ssh-passkeys"
root="$work/root"
mkdir -p "$src"

# -- the build, from a copy of the tree as it is (uncommitted files too, but
# nothing git ignores: no build folders, no node_modules)
copy_tree() {
  if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$top" ls-files -z --cached --others --exclude-standard |
      tar -C "$top" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$src" -xf -
  else
    tar -C "$top" --anchored --exclude=./.git --exclude='./build*' \
      --exclude=./tests/browser/node_modules -cf - . | tar -C "$src" -xf -
  fi
}
t=$SECONDS
if ! copy_tree || [ ! -f "$src/debian/control" ]; then
  not_ok "a copy of the tree with debian/" "copy into $src failed"
  stop "no tree to build"
fi
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1
rc=$?
build_s=$((SECONDS - t))
diag "dpkg-buildpackage -us -uc -b: exit $rc, $build_s s"
debs=()
for p in passkeyd libpam-passkey passkeyctl; do
  f=$(ls "$work/src/${p}_"*"_$arch.deb" 2>/dev/null | head -n 1)
  [ -n "$f" ] && debs+=("$f")
done
devdeb=$(ls "$work/src/libpasskey-rp-dev_"*"_$arch.deb" 2>/dev/null | head -n 1)
if [ $rc -ne 0 ] || [ ${#debs[@]} -ne 3 ] || [ -z "$devdeb" ]; then
  not_ok "dpkg-buildpackage -us -uc -b builds passkeyd, libpam-passkey, passkeyctl and libpasskey-rp-dev" \
    "$(tail -n 40 "$work/build.log")"
  stop "no packages"
fi
ok "dpkg-buildpackage -us -uc -b builds passkeyd, libpam-passkey, passkeyctl and libpasskey-rp-dev"

# what each package carries: its programs' manual pages, nothing of the bench
contents() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|'; }
deb_of() { ls "$work/src/${1}_"*"_$arch.deb"; }
pages_ok() {
  local pkg=$1 page rc=0 list
  shift
  list=$(contents "$(deb_of "$pkg")")
  for page in "$@"; do
    grep -qx "/usr/share/man/$page.gz" <<<"$list" || { echo "$pkg lacks $page"; rc=1; }
  done
  return $rc
}
man_pages_in_debs() {
  pages_ok passkeyd man8/passkeyd.8 man5/passkeyd.conf.5 &&
    pages_ok libpam-passkey man8/pam_passkey.8 && pages_ok passkeyctl man1/passkeyctl.1 &&
    pages_ok libpasskey-rp-dev man3/passkey_rp.3
}
check "each package carries the manual pages of its programs" man_pages_in_debs
no_bench() {
  local f
  for f in "$work/src/"*.deb; do
    if contents "$f" | grep -E 'passkey-bench|ceremony-load'; then echo "in $(basename "$f")"; return 1; fi
  done
}
check "no package ships the benchmarks (passkey-bench, ceremony-load)" no_bench

# -- the RP core's -dev package: the public API only, and a program can use it
dev_contents() {
  local want got
  want=$(printf '%s\n' /usr/include/passkey-rp/passkey_rp.h /usr/include/passkey-rp/rp_b64url.h \
    /usr/include/passkey-rp/rp_err.h "/usr/lib/$multiarch/libpasskey-rp.a" \
    "/usr/lib/$multiarch/pkgconfig/passkey-rp.pc" | sort)
  got=$(contents "$devdeb" | grep -E '\.(h|a|pc)$' | sort)
  [ "$want" = "$got" ] || { echo "want:"; echo "$want"; echo "got:"; echo "$got"; return 1; }
}
check "libpasskey-rp-dev holds the three public headers, libpasskey-rp.a and passkey-rp.pc, nothing of the core's own" dev_contents
# unpacked (the root has no compiler), pkg-config's sysroot pointed at it; the
# core's own dependencies come from this machine's -dev packages
dev_builds() {
  local d="$work/dev"
  dpkg-deb -x "$devdeb" "$d" || return 1
  PKG_CONFIG_SYSROOT_DIR="$d" PKG_CONFIG_PATH="$d/usr/lib/$multiarch/pkgconfig" \
    sh -c 'cc -Wall -Werror -o "$1" "$2" $(pkg-config --cflags --libs passkey-rp)' sh \
    "$work/rp-user" "$here/rp-user.c" || return 1
  [ "$("$work/rp-user")" = ok ] || { echo "tests/dist/rp-user.c did not print ok"; return 1; }
}
check "tests/dist/rp-user.c (only <passkey_rp.h>, <rp_b64url.h>) builds with pkg-config --cflags --libs passkey-rp against the unpacked package, and runs" dev_builds

# -- lintian
changes=$(ls "$work/src/"*.changes | head -n 1)
t=$SECONDS
# lintian leaves its ELF cache (mldbm-elf-*) in TMPDIR: in $work it goes with it
mkdir -p "$work/lintian-tmp"
TMPDIR="$work/lintian-tmp" lintian -I --pedantic "$changes" >"$work/lintian.log" 2>&1
lrc=$?
diag "lintian -I --pedantic: exit $lrc, $((SECONDS - t)) s; $(grep -c '^E:' "$work/lintian.log") error(s), $(grep -c '^W:' "$work/lintian.log") warning(s), $(grep -c '^I:' "$work/lintian.log") info, $(grep -c '^P:' "$work/lintian.log") pedantic"
sed 's/^/lintian: /' "$work/lintian.log" | while IFS= read -r line; do diag "$line"; done
if [ $lrc -eq 0 ] && ! grep -q '^E:' "$work/lintian.log"; then
  ok "lintian: no errors"
else
  not_ok "lintian: no errors" "$(grep '^E:' "$work/lintian.log")"
fi
unexplained=""
while read -r tag; do
  known=0
  for e in "${explained[@]}"; do [ "$tag" = "$e" ] && known=1; done
  [ $known -eq 1 ] || unexplained="$unexplained $tag"
done < <(sed -n 's/^W: [^ ]* \([^ ]*\).*/\1/p' "$work/lintian.log" | sort -u)
if [ -z "$unexplained" ]; then
  ok "lintian: every warning is one debian/README.source explains"
else
  not_ok "lintian: every warning is one debian/README.source explains" "unexplained:$unexplained"
fi

# -- the mirror this machine's apt uses, and a Debian 12 root from it
mirrors=$(python3 - <<'EOF'
import glob, os, re
entries = []
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
    + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for path in files:
    if not os.path.isfile(path):
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.endswith(".sources"):
        for stanza in re.split(r"\n[ \t]*\n", text):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#"):
                    continue
                if line[:1] in (" ", "\t") and key:
                    fields[key] += " " + line.strip()
                    continue
                m = re.match(r"([A-Za-z0-9-]+):\s*(.*)", line)
                if m:
                    key = m.group(1).lower()
                    fields[key] = m.group(2)
            if fields.get("enabled", "yes").strip().lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    entries.append((uri, suite))
    else:
        for line in text.splitlines():
            m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                entries.append((m.group(1), m.group(2)))
ok = [(u.rstrip("/"), s) for u, s in entries if re.match(r"(https?|file):", u)]
main = next((u for u, s in ok if s == "bookworm"), "")
updates = "yes" if (main, "bookworm-updates") in ok else "no"
security = next((u for u, s in ok if s == "bookworm-security"), "")
print(main, updates, security or "-")
EOF
)
read -r mirror updates security <<<"$mirrors"
if [ -z "${mirror:-}" ]; then
  not_ok "a Debian 12 mirror in apt's sources" "no deb entry for bookworm in /etc/apt/sources.list{,.d/*}"
  stop "no mirror"
fi
diag "mirror: $mirror (bookworm-updates: $updates; security: $security)"
proxy=$(apt-config dump Acquire::http::Proxy 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p')
[ -z "$proxy" ] || export http_proxy="$proxy"
include=()
case "$mirror$security" in *https:*) include=(--include=ca-certificates) ;; esac
t=$SECONDS
debootstrap --variant=minbase "${include[@]}" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1
rc=$?
diag "debootstrap --variant=minbase bookworm: exit $rc, $((SECONDS - t)) s"
if [ $rc -ne 0 ]; then
  not_ok "debootstrap a minimal Debian 12 root" "$(tail -n 20 "$work/debootstrap.log")"
  stop "no root"
fi
ok "debootstrap a minimal Debian 12 root from $mirror"

mount --bind /proc "$root/proc" && mount --bind /dev "$root/dev" || {
  not_ok "/proc and /dev bound into the root"
  stop "no mounts"
}
{
  echo "deb $mirror bookworm main"
  [ "$updates" = no ] || echo "deb $mirror bookworm-updates main"
  [ "$security" = - ] || echo "deb $security bookworm-security main"
} >"$root/etc/apt/sources.list"
[ -z "$proxy" ] || echo "Acquire::http::Proxy \"$proxy\";" >"$root/etc/apt/apt.conf.d/01proxy"
mkdir -p "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"

# COMMAND... run inside the root, with a clean environment
inroot() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
apt_in_root() { inroot apt-get -q -y -o Dpkg::Use-Pty=0 -o APT::Color=0 "$@"; }

t=$SECONDS
{ apt_in_root update && inroot sh -c 'cd /tmp/debs && exec apt-get -q -y -o Dpkg::Use-Pty=0 install ./passkeyd_*.deb ./libpam-passkey_*.deb ./passkeyctl_*.deb'; } \
  >"$work/install.log" 2>&1
rc=$?
diag "apt-get install of the three packages: exit $rc, $((SECONDS - t)) s"
if [ $rc -ne 0 ]; then
  not_ok "apt-get install ./passkeyd ./libpam-passkey ./passkeyctl (dependencies from the mirror)" \
    "$(tail -n 30 "$work/install.log")"
  stop "nothing installed"
fi
ok "apt-get install ./passkeyd ./libpam-passkey ./passkeyctl (dependencies from the mirror)"

# -- the installed packages, in a root that has nothing else
system_user() {
  local ent uid gid home shell sysmin sysmax
  ent=$(inroot getent passwd passkeyd) || { echo "no passkeyd account"; return 1; }
  IFS=: read -r _ _ uid gid _ home shell <<<"$ent"
  sysmin=$(inroot sh -c "sed -n 's/^SYS_UID_MIN[[:space:]]*//p' /etc/login.defs")
  sysmax=$(inroot sh -c "sed -n 's/^SYS_UID_MAX[[:space:]]*//p' /etc/login.defs")
  [ "$uid" -ge "${sysmin:-100}" ] && [ "$uid" -le "${sysmax:-999}" ] || { echo "uid $uid: not a system uid"; return 1; }
  [ "$(inroot getent group passkeyd | cut -d: -f3)" = "$gid" ] || { echo "primary group is not passkeyd"; return 1; }
  [ "$home" = /nonexistent ] && [ ! -e "$root/nonexistent" ] || { echo "home $home"; return 1; }
  case "$shell" in */nologin | */false) ;; *) echo "shell $shell"; return 1 ;; esac
  echo "$ent"
}
check "the passkeyd system account and group exist (no home, no login shell)" system_user
uid_before=$(inroot id -u passkeyd 2>/dev/null)
reinstall() {
  inroot sh -c 'dpkg -i /tmp/debs/passkeyd_*.deb' || return 1
  [ "$(inroot id -u passkeyd)" = "$uid_before" ] || { echo "uid changed"; return 1; }
}
check "reinstalling passkeyd runs its postinst again and keeps the same account" reinstall

unit=""
for u in /lib/systemd/system/passkeyd.service /usr/lib/systemd/system/passkeyd.service; do
  [ -f "$root$u" ] && unit=$u && break
done
unit_installed() {
  [ -n "$unit" ] || { echo "no passkeyd.service"; return 1; }
  grep -q '^User=passkeyd$' "$root$unit" && grep -q '^StateDirectory=passkeyd$' "$root$unit" ||
    { echo "the unit lacks User= or StateDirectory="; return 1; }
  # installed, not enabled: the sample configuration serves localhost only
  ! ls "$root"/etc/systemd/system/*.wants/passkeyd.service 2>/dev/null
}
check "passkeyd.service installed ($unit), not enabled" unit_installed
conffile() {
  inroot dpkg-query -W -f='${Conffiles}\n' passkeyd | grep -q '^ /etc/passkeyd/passkeyd.conf ' ||
    { echo "not a conffile"; return 1; }
  inroot passkeyd --config /etc/passkeyd/passkeyd.conf --check-config
}
check "/etc/passkeyd/passkeyd.conf is a conffile and passes passkeyd --check-config" conffile
pammod="/usr/lib/$multiarch/security/pam_passkey.so"
check "$pammod is installed" test -f "$root$pammod"
profile() {
  local f="$root/usr/share/pam-configs/passkey"
  [ -f "$f" ] || { echo "no /usr/share/pam-configs/passkey"; return 1; }
  grep -qx 'Default: no' "$f" || { echo "not Default: no"; return 1; }
  ! grep -n pam_passkey "$root"/etc/pam.d/common-* || { echo "enabled in a common-* file"; return 1; }
}
check "the pam-auth-update profile is installed, Default: no, and enabled nowhere" profile

# -- the tools the remaining checks need, installed only now so that the
# packages' own dependencies were alone above
t=$SECONDS
apt_in_root install --no-install-recommends pamtester systemd man-db >"$work/tools.log" 2>&1
rc=$?
diag "apt-get install pamtester systemd man-db: exit $rc, $((SECONDS - t)) s"
if [ $rc -ne 0 ]; then
  not_ok "pamtester, systemd and man-db installed in the root" "$(tail -n 20 "$work/tools.log")"
else
  ok "pamtester, systemd and man-db installed in the root"
fi
# no output at all: a warning about the unit is a failure too
verify_unit() {
  local out rc
  out=$(inroot systemd-analyze verify passkeyd.service 2>&1)
  rc=$?
  echo "$out"
  [ $rc -eq 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify passkeyd.service in the root (its ExecStart, ExecReload, man pages)" verify_unit
check "man -w finds passkeyd(8), passkeyd.conf(5), pam_passkey(8) and passkeyctl(1)" \
  inroot man -w passkeyd.8 passkeyd.conf.5 pam_passkey.8 passkeyctl.1
# every file the installed manual pages name under /etc/passkeyd or
# /usr/share/doc, in FILES or SEE ALSO, is where the page says: the
# packages' layout is not the upstream one (debian/rules fixes the pages)
man_paths() {
  local page path named=0 missing=""
  for page in man8/passkeyd.8 man5/passkeyd.conf.5 man8/pam_passkey.8 man1/passkeyctl.1; do
    for path in $(zcat "$root/usr/share/man/$page.gz" | sed -n '/^\.Sh FILES/,/^\.Sh /p;/^\.Sh SEE ALSO/,/^\.Sh /p' |
      grep -oE '(^|[[:space:]])/(etc/passkeyd|usr/share/doc)/[^[:space:],]+' | tr -d ' \t' | sort -u); do
      named=$((named + 1))
      [ -e "$root$path" ] || missing="$missing $page:$path"
    done
  done
  echo "$named paths named"
  [ "$named" -ge 4 ] && [ -z "$missing" ] || { echo "missing:$missing"; return 1; }
}
check "every path under /etc/passkeyd and /usr/share/doc that the manual pages' FILES and SEE ALSO name is installed" man_paths

# pam_passkey.so loads and fails closed: a service whose socket nobody serves
pam_loads() {
  local out
  printf 'auth required pam_passkey.so socket=/run/passkey-debtest/none.sock\naccount required pam_permit.so\n' \
    >"$root/etc/pam.d/passkey-debtest"
  out=$(inroot pamtester -v passkey-debtest root authenticate </dev/null 2>&1) && { echo "$out"; echo "authenticated!"; return 1; }
  echo "$out"
  grep -q 'passkey: the passkey service is not available' <<<"$out" &&
    grep -q 'Authentication failure' <<<"$out" && ! grep -qi 'module is unknown' <<<"$out"
}
check "pamtester: pam_passkey.so loads and fails closed with its own message (no daemon)" pam_loads
# the profile, enabled: a way in besides the password, never a lock-out
profile_on() {
  local out
  inroot pam-auth-update --enable passkey || return 1
  grep -A1 pam_passkey "$root/etc/pam.d/common-auth" | grep -q pam_unix ||
    { grep -v '^#' "$root/etc/pam.d/common-auth"; echo "pam_passkey is not just before pam_unix"; return 1; }
  inroot useradd -M -s /usr/sbin/nologin passkey-debtest || return 1
  echo 'passkey-debtest:debtest-pw-1' | inroot chpasswd || return 1
  printf '@include common-auth\n' >"$root/etc/pam.d/passkey-debtest-common"
  out=$(echo debtest-pw-1 | inroot pamtester passkey-debtest-common passkey-debtest authenticate 2>&1) ||
    { echo "$out"; echo "the right password failed"; return 1; }
  out=$(echo wrong-pw | inroot pamtester passkey-debtest-common passkey-debtest authenticate 2>&1) &&
    { echo "$out"; echo "a wrong password passed"; return 1; }
  return 0
}
check "the profile enabled, passkeyd down: the password still decides (right one in, wrong one out)" profile_on

# -- purge, after what a running daemon leaves (the store in its state folder):
# a store with something in it is moved to /var/backups, never deleted
mkdir -p "$root/var/lib/passkeyd"
printf 'SQLite format 3\0 (the test store)' >"$root/var/lib/passkeyd/passkeys.db"
inroot chown -R passkeyd:passkeyd /var/lib/passkeyd
chmod 0700 "$root/var/lib/passkeyd"
rm -f "$root/etc/pam.d/passkey-debtest" "$root/etc/pam.d/passkey-debtest-common"
inroot userdel passkey-debtest
t=$SECONDS
apt_in_root purge passkeyd libpam-passkey passkeyctl >"$work/purge.log" 2>&1
rc=$?
diag "apt-get purge: exit $rc, $((SECONDS - t)) s"
grep -E '^(dpkg: warning|W:|E:)' "$work/purge.log" | while IFS= read -r line; do diag "purge: $line"; done
if [ $rc -ne 0 ]; then
  not_ok "apt-get purge passkeyd libpam-passkey passkeyctl" "$(tail -n 20 "$work/purge.log")"
else
  ok "apt-get purge passkeyd libpam-passkey passkeyctl"
fi
rm -rf "$root/tmp/debs"
purged() {
  local left
  left=$(inroot dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'passkey*' 'libpam-passkey*' 2>/dev/null | grep -v '^un ')
  [ -z "$left" ] || { echo "dpkg still knows: $left"; return 1; }
  left=$(inroot dpkg -S passkey 2>/dev/null)
  [ -z "$left" ] || { echo "dpkg -S passkey: $left"; return 1; }
  for d in /etc/passkeyd /var/lib/passkeyd; do
    [ ! -e "$root$d" ] || { echo "left: $d"; find "$root$d"; return 1; }
  done
  # /var/cache/man: man-db's formatted pages (systemd-analyze verify ran
  # man), man-db's to expire, as for every package's pages; the store kept
  # in /var/backups (below)
  left=$(cd "$root" && find . -xdev \( -path ./var/cache/man -o -path './var/backups/passkeyd-*' \) \
    -prune -o -iname '*passkey*' -print 2>/dev/null)
  [ -z "$left" ] || { echo "files left:"; echo "$left"; return 1; }
  ! grep -n pam_passkey "$root"/etc/pam.d/* || { echo "a PAM file still names pam_passkey"; return 1; }
  ! grep -qx passkey "$root/var/lib/pam/seen" 2>/dev/null || { echo "pam-auth-update still lists the profile"; return 1; }
}
check "purged: no package state, no /etc/passkeyd, no /var/lib/passkeyd, no file named *passkey*, common-auth restored" purged
kept_store() {
  local kept
  kept=$(ls -d "$root"/var/backups/passkeyd-* 2>/dev/null)
  [ "$(printf '%s\n' "$kept" | grep -c .)" = 1 ] || { echo "kept: '$kept'"; return 1; }
  [ "$(stat -c %a "$kept")" = 700 ] || { stat -c '%a %U' "$kept"; return 1; }
  grep -q 'the test store' "$kept/passkeys.db" || { ls -la "$kept"; return 1; }
  grep -q "was moved to /var/backups/passkeyd-" "$work/purge.log" || { tail -n 5 "$work/purge.log"; return 1; }
}
check "purge keeps a store with something in it: moved to /var/backups/passkeyd-DATE (0700), and says so" kept_store
check "the passkeyd account stays after purge (Debian keeps system accounts)" inroot getent passwd passkeyd

finish
