// tests/acceptance/newssh.mjs - case (n) of the acceptance test (run.mjs): pam_passkey.so under a
// real newer OpenSSH (10.x), the one in Debian's unstable suite.
//
// A minimal sid root is made with debootstrap in the run's temporary folder, from the Debian
// mirror apt already uses on this machine (read from /etc/apt/sources.list{,.d}); nothing else
// leaves loopback. In that root: the built module as /usr/lib/pkt/pam_passkey.so, the PAM service
// sshd-passkey-new, the accounts pkt-alice and pkt-daemon (the lines of this machine, same ids),
// /dev and /proc bind-mounted (/dev read-only), and the folder of run.mjs's passkeyd control
// socket bind-mounted on /run/pkt. The root's own sshd runs chrooted on a free 127.0.0.1 port;
// OpenSSH 10.x takes its PAM service from PAMServiceName (default "sshd"), not from argv[0] as
// 9.x did: the setup probes which name it uses when started through a symlink, and says so.
//
// Cases, all approved (or not) by headless Chromium with pkt-alice's passkey from (a):
//   n1  flow=info, the root's own 10.x ssh: the link arrives on stderr with no prompt, and the
//       approval alone logs in (no Enter); the same with flow=prompt and one Enter, timed alike
//   n2  flow=info, Deny: ssh fails with "passkey: login denied in the browser"
//   n3  flow=info, timeout=5: ssh fails with a "passkey: ..." timed out line
//   n4  flow=info and this machine's older ssh client (9.x): its logger shows the text, and the
//       approval alone logs in; with qr=yes the logger escapes the QR code and cuts it short,
//       but the link comes first and still shows; with -q it shows nothing (the 10.x client
//       shows the link in both)
//   n5  the default flow (flow=prompt) and this machine's ssh client: one Enter
//
// The mounts are undone by a step in run.mjs's st.cleanups (also on failure and Ctrl-C; a mount
// that stays busy is detached with umount -l); the processes are tracked by run.mjs; everything
// else lives in the temporary folder. PKT_NO_SID=1 skips the case (no mirror reachable).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

// run.mjs gives the whole run this much more time when (n) is selected (debootstrap)
export const NEWSSH_WATCHDOG_EXTRA_MS = 300_000;

const SERVICE = 'sshd-passkey-new';
const SUITE = 'sid';
const INCLUDE = 'openssh-server,openssh-client,libjansson4,libqrencode4,libpam-modules';
const MODULE_LIBS = ['libqrencode.so.4', 'libjansson.so.4', 'libpam.so.0'];
const DEBOOTSTRAP_TIMEOUT_MS = 240_000;
const INNER_MODULE = '/usr/lib/pkt/pam_passkey.so';
const INNER_SOCKET_DIR = '/run/pkt';
const INNER_ASKPASS = '/pkt/askpass.sh';
const INNER_SSHD_CONFIG = '/etc/ssh/sshd_config_pkt';
const USER = 'pkt-alice';
const SHORT_TIMEOUT = 5; // s, the module's timeout= in n3

const now = () => performance.timeOrigin + performance.now(); // as run.mjs's

// ------------------------------------------------------------------ the mirror apt uses

// The URIs of enabled "deb" sources, in apt's order: sources.list, then sources.list.d/*.list
// and *.sources by name. One-line and deb822 formats.
function aptUris() {
  const files = [];
  if (fs.existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  let names = [];
  try { names = fs.readdirSync('/etc/apt/sources.list.d').sort(); } catch { /* none */ }
  for (const n of names) if (/\.(list|sources)$/.test(n)) files.push(path.join('/etc/apt/sources.list.d', n));
  const uris = [];
  for (const f of files) {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    if (f.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const fields = {};
        let last = null;
        for (const line of stanza.split('\n')) {
          if (/^\s*#/.test(line) || !line.trim()) continue;
          const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
          if (m) { last = m[1].toLowerCase(); fields[last] = m[2].trim(); } else if (last && /^\s/.test(line)) fields[last] += ` ${line.trim()}`;
        }
        if (!(fields.types || '').split(/\s+/).includes('deb')) continue;
        if (/^(no|false|0)$/i.test(fields.enabled || 'yes')) continue;
        for (const u of (fields.uris || '').split(/\s+/).filter(Boolean)) uris.push({ uri: u, file: f });
      }
    } else {
      for (const raw of text.split('\n')) {
        const line = raw.replace(/#.*$/, '').trim();
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line);
        if (m) uris.push({ uri: m[1], file: f });
      }
    }
  }
  return uris;
}

// The first http(s) URI of the Debian archive itself ("/debian" in its path; not debian-security).
function debianMirror() {
  const all = aptUris();
  const hit = all.find(({ uri }) => {
    let u;
    try { u = new URL(uri); } catch { return false; }
    return /^https?:$/.test(u.protocol) && u.pathname.split('/').filter(Boolean).includes('debian');
  });
  return { mirror: hit || null, seen: all.map((x) => x.uri) };
}

// ------------------------------------------------------------------ mounts

function unescapeMount(s) { return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))); }

// Mount points at or below dir, deepest first.
function mountsUnder(dir) {
  let text = '';
  try { text = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const res = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = unescapeMount(f[4]);
    if (mp === dir || mp.startsWith(`${dir}/`)) res.push(mp);
  }
  return res.sort((a, b) => b.length - a.length);
}

// ------------------------------------------------------------------ the cases

export function newSshCases(T, h) {
  const { st } = h;
  const n = { ready: false, root: null, port: null, seq: 0 };
  const inRoot = (p) => path.join(n.root, p);
  const NO_SID = 'PKT_NO_SID=1: no debootstrap of Debian sid on this run';
  const skipNoSid = () => { if (process.env.PKT_NO_SID === '1') throw new h.Skip(NO_SID); };
  const needRoot = (t) => { h.needSetup(); skipNoSid(); t.need(n.ready, 'needs the sid root and its sshd set up in (n), which failed'); };
  const needAlice = (t) => { needRoot(t); h.needAlice(t); };

  function unmountAll() {
    if (!n.root) return [];
    for (let pass = 0; pass < 3; pass++) {
      const mps = mountsUnder(n.root);
      if (!mps.length) return [];
      for (const mp of mps) if (h.sh('umount', [mp]).code !== 0) h.sh('umount', ['-l', mp]);
    }
    return mountsUnder(n.root);
  }

  function mount(args, what) {
    const r = h.sh('mount', args);
    if (r.code !== 0) throw new Error(`mount ${args.join(' ')} (${what}): ${r.stderr.trim()}`);
  }

  // Runs a short command to its end without blocking the event loop (the log taps keep reading).
  function run(cmd, argv, { timeoutMs, tap = null, env = { PATH: h.PATH_ENV, LANG: 'C' } } = {}) {
    return new Promise((resolve) => {
      const child = h.track(spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true }), cmd);
      const res = { code: null, signal: null, out: '', timedOut: false };
      const keep = (d) => { res.out += d; if (res.out.length > 200_000) res.out = res.out.slice(-100_000); };
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      if (tap) { tap.attach(child.stdout, ':out'); tap.attach(child.stderr); }
      const timer = setTimeout(() => {
        res.timedOut = true;
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
        setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000).unref();
      }, timeoutMs);
      child.on('close', (code, signal) => { clearTimeout(timer); res.code = code; res.signal = signal; resolve(res); });
      child.on('error', (e) => { clearTimeout(timer); res.out += String(e.message); res.code = -1; resolve(res); });
    });
  }

  function tcpOpen(port) {
    return new Promise((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port });
      const done = (v) => { c.destroy(); resolve(v); };
      c.once('connect', () => done(true));
      c.once('error', () => done(false));
      c.setTimeout(1000, () => done(false));
    });
  }

  // The server's identification string ("SSH-2.0-OpenSSH_10.6p1 Debian-1").
  function banner(port) {
    return new Promise((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port });
      let buf = '';
      const done = (v) => { c.destroy(); resolve(v); };
      c.setEncoding('latin1');
      c.on('data', (d) => { buf += d; const i = buf.indexOf('\n'); if (i >= 0) done(buf.slice(0, i).replace(/\r$/, '')); });
      c.once('error', () => done(null));
      c.setTimeout(3000, () => done(null));
    });
  }

  // The PAM service of the root's sshd; PAM reads it again for each connection.
  function writePam(opts) {
    const file = inRoot(`etc/pam.d/${SERVICE}`);
    fs.writeFileSync(`${file}.new`, [
      '# written by tests/acceptance/newssh.mjs (case n)',
      `auth required ${INNER_MODULE} socket=${INNER_SOCKET_DIR}/control.sock daemon_user=${h.DAEMON_USER} ${opts}`,
      'account required pam_permit.so',
      'session required pam_permit.so',
      '',
    ].join('\n'), { mode: 0o644 });
    fs.renameSync(`${file}.new`, file);
  }
  const flowOpts = (flow, timeout = h.MODULE_TIMEOUT) => `timeout=${timeout} ${flow ? `flow=${flow} ` : ''}debug`;

  function writeSshdConfig({ pamService }) {
    fs.writeFileSync(inRoot(INNER_SSHD_CONFIG), [
      '# written by tests/acceptance/newssh.mjs (case n)',
      `Port ${n.port}`,
      'ListenAddress 127.0.0.1',
      'PidFile /run/sshd-pkt.pid',
      'UsePAM yes',
      ...(pamService ? [`PAMServiceName ${pamService}`] : []),
      'KbdInteractiveAuthentication yes',
      'AuthenticationMethods keyboard-interactive',
      'PasswordAuthentication no',
      'PubkeyAuthentication no',
      'HostbasedAuthentication no',
      'AuthorizedKeysFile none',
      'PermitRootLogin no',
      // 9.8+ refuses an address for a while after failed logins; the cases fail some on purpose
      'PerSourcePenalties no',
      'UseDNS no',
      'LogLevel VERBOSE',
      'LoginGraceTime 100',
      'MaxStartups 50',
      'X11Forwarding no',
      'AllowTcpForwarding no',
      'PrintMotd no',
      'PrintLastLog no',
      `AllowUsers ${USER}`,
      '',
    ].join('\n'));
  }

  async function startSshd() {
    const tap = st.logs['sshd-new'] || (st.logs['sshd-new'] = new h.LogTap('sshd-new'));
    const from = tap.mark;
    const child = h.track(spawn('chroot', [n.root, `/usr/sbin/${SERVICE}`, '-D', '-e', '-f', INNER_SSHD_CONFIG], {
      env: { PATH: h.PATH_ENV, LANG: 'C', PAM_PASSKEY_DEBUG_STDERR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    }), 'sshd');
    tap.attach(child.stdout, ':out');
    tap.attach(child.stderr);
    const end = Date.now() + 10_000;
    while (Date.now() < end && child.exitCode === null && child.signalCode === null) {
      if (tap.find((r) => r.line.includes('Server listening'), from) && await tcpOpen(n.port)) { n.sshd = child; n.tap = tap; return; }
      await h.sleep(50);
    }
    throw new Error(`the root's sshd did not come up on 127.0.0.1:${n.port}: exit ${child.exitCode ?? child.signalCode}; ${tap.tail(6, from)}`);
  }

  async function stopSshd() {
    if (!n.sshd) return;
    const c = n.sshd;
    n.sshd = null;
    if (c.exitCode === null && c.signalCode === null) {
      try { process.kill(-c.pid, 'SIGTERM'); } catch { /* gone */ }
      const end = Date.now() + 4000;
      while (Date.now() < end && c.exitCode === null && c.signalCode === null) await h.sleep(25);
      if (c.exitCode === null && c.signalCode === null) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } }
    }
  }

  // One ssh client, `which` = 'new' (the root's own, chrooted) or 'old' (this machine's), run
  // without a terminal so that every prompt goes to askpass.sh. onUrl(info, res) runs as soon as
  // a link shows on ssh's stderr; onPrompt(text, i, rec, res) answers askpass prompts.
  async function client(which, name, { onUrl = null, onPrompt = async () => '', timeoutMs = 60_000, extra = [], lang = 'C' } = {}) {
    const id = `${String(++n.seq).padStart(2, '0')}-${name}`;
    const hostDir = which === 'new' ? inRoot(path.join('pkt', 'ask', id)) : path.join(st.tmp, 'ask-n', id);
    fs.mkdirSync(hostDir, { recursive: true, mode: 0o755 });
    const askDir = which === 'new' ? path.join('/pkt/ask', id) : hostDir;
    const sshArgs = ['-F', '/dev/null', '-T',
      '-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentityAgent=none', '-o', 'ConnectTimeout=10', ...extra,
      '-p', String(n.port), `${USER}@127.0.0.1`, 'echo OK'];
    const argv = which === 'new' ? ['-w', 'chroot', n.root, '/usr/bin/ssh', ...sshArgs] : ['-w', 'ssh', ...sshArgs];
    const env = {
      PATH: h.PATH_ENV, LANG: lang, HOME: which === 'new' ? '/root' : (process.env.HOME || '/root'),
      SSH_ASKPASS: which === 'new' ? INNER_ASKPASS : st.askpass, SSH_ASKPASS_REQUIRE: 'force',
      PKT_ASKPASS_DIR: askDir, PKT_ASKPASS_TIMEOUT: '100',
    };
    // what this client adds to runAskpassClient's record: stderr's lines, and the link on it
    const more = { which, errLines: [], info: null, tUrl: null, urlError: null };
    let urlTask = null;
    let part = '';
    const onStderr = (d, res) => {
      const t = now();
      part += d;
      let i;
      while ((i = part.indexOf('\n')) >= 0) { more.errLines.push({ t, line: part.slice(0, i).replace(/\r$/, '') }); part = part.slice(i + 1); }
      if (!more.info) {
        const info = h.parsePrompt(res.stderr);
        if (info) {
          more.info = info;
          more.tUrl = t;
          if (onUrl) urlTask = Promise.resolve().then(() => onUrl(info, res)).catch((e) => { more.urlError = e && e.message ? e.message : String(e); });
        }
      }
    };
    // setsid: no controlling terminal, so ssh asks askpass for every prompt
    const res = await h.runAskpassClient(`ssh-n-${name}`, 'setsid', argv, { env, dir: hostDir, onPrompt, timeoutMs, onStderr });
    if (part) more.errLines.push({ t: now(), line: part });
    if (urlTask) await urlTask;
    return Object.assign(res, more);
  }

  const summary = (r) => `${h.sshSummary(r)}${r.urlError ? `; page error: ${r.urlError}` : ''}`;
  const errLine = (r, re) => r.errLines.map((x) => x.line.trim()).find((l) => re.test(l)) || null;
  const accepted = (from) => n.tap.find((rec) => /Accepted keyboard-interactive\/pam for pkt-alice from 127\.0\.0\.1/.test(rec.line), from);
  // The text ssh printed up to the link line, and the lines that follow it, as a list of lines.
  const infoBlock = (r) => {
    const lines = r.errLines.map((x) => x.line);
    const i = lines.findIndex((l) => r.info && l.includes(r.info.url));
    return i < 0 ? [] : lines.slice(Math.max(0, i - 2), i + 4);
  };

  // ---------------------------------------------------------------- setup
  T('(n) newer OpenSSH: a debootstrap\'d sid root (from the Debian mirror apt uses), its own 10.x sshd chrooted on 127.0.0.1 with PAM service sshd-passkey-new and pam_passkey.so', 'n', async (t) => {
    h.needSetup();
    skipNoSid();
    const dbs = h.sh('bash', ['-c', 'command -v debootstrap']).stdout.trim();
    t.need(dbs, 'debootstrap is installed (scripts/install-deps.sh installs it; or set PKT_NO_SID=1 to skip this case)');
    const { mirror, seen } = debianMirror();
    t.need(mirror, 'apt\'s sources name an http(s) URI of the Debian archive (/etc/apt/sources.list, sources.list.d/*.list or *.sources)',
      seen.join(' ') || '(no deb sources)');
    t.diag(`mirror: ${mirror.uri} (from ${mirror.file})`);

    // What the module links against; the root must have each of these.
    const hostLdd = h.sh('ldd', [st.bin.module]);
    for (const lib of MODULE_LIBS) t.check(hostLdd.stdout.includes(`${lib} =>`), `the built module links ${lib}`, h.short(hostLdd.stdout));

    n.root = path.join(st.tmp, 'sid');
    fs.mkdirSync(n.root, { mode: 0o755 });
    // registered before anything can be mounted (debootstrap mounts proc and sys in the root too)
    st.cleanups.push(() => {
      const left = unmountAll();
      if (left.length) process.stderr.write(`newssh.mjs: still mounted: ${left.join(' ')}\n`);
    });

    const tap = st.logs.debootstrap || (st.logs.debootstrap = new h.LogTap('debootstrap'));
    const env = { PATH: h.PATH_ENV, LANG: 'C' };
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'no_proxy']) if (process.env[k]) env[k] = process.env[k];
    const t0 = now();
    const db = await run(dbs, ['--variant=minbase', `--include=${INCLUDE}`, SUITE, n.root, mirror.uri],
      { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS, tap, env });
    const took = now() - t0;
    let dblog = '';
    try { dblog = fs.readFileSync(inRoot('debootstrap/debootstrap.log'), 'utf8'); } catch { /* removed on success */ }
    t.need(db.code === 0 && !db.timedOut,
      `debootstrap --variant=minbase --include=${INCLUDE} ${SUITE} ROOT ${mirror.uri} succeeds` +
      ' (the mirror must be reachable; PKT_NO_SID=1 skips this case)',
      `${db.timedOut ? `timed out after ${DEBOOTSTRAP_TIMEOUT_MS / 1000} s, ` : ''}exit ${db.code ?? db.signal}: ` +
      `${h.short(db.out.split('\n').slice(-6).join(' | '), 600)}${dblog ? ` | debootstrap.log: ${h.short(dblog.split('\n').slice(-8).join(' | '), 600)}` : ''}`);
    t.measure(`(n) debootstrap ${SUITE} (minbase + ${INCLUDE}): ${(took / 1000).toFixed(1)} s`);
    const leftover = mountsUnder(n.root);
    t.check(leftover.length === 0, 'debootstrap left nothing mounted in the root', leftover);
    unmountAll();

    // the module, where the PAM line names it
    fs.mkdirSync(path.dirname(inRoot(INNER_MODULE)), { recursive: true, mode: 0o755 });
    fs.copyFileSync(st.bin.module, inRoot(INNER_MODULE));
    fs.chmodSync(inRoot(INNER_MODULE), 0o644);
    fs.mkdirSync(inRoot('pkt/ask'), { recursive: true, mode: 0o755 });
    fs.copyFileSync(path.join(h.REPO_ROOT, 'tests', 'acceptance', 'askpass.sh'), inRoot(INNER_ASKPASS));
    fs.chmodSync(inRoot(INNER_ASKPASS), 0o755);

    // the two accounts, with this machine's ids (the module trusts the socket of pkt-daemon's uid)
    const add = (file, line, mode) => {
      const p = inRoot(`etc/${file}`);
      const text = fs.readFileSync(p, 'utf8');
      const name = line.split(':')[0];
      if (text.split('\n').some((l) => l.split(':')[0] === name)) return;
      fs.writeFileSync(p, `${text}${text.endsWith('\n') || !text ? '' : '\n'}${line}\n`);
      if (mode !== undefined) fs.chmodSync(p, mode);
    };
    const clash = [];
    for (const u of [USER, h.DAEMON_USER]) {
      const pw = h.sh('getent', ['passwd', u]).stdout.trim();
      const sp = h.sh('getent', ['shadow', u]).stdout.trim();
      t.need(pw && sp, `getent passwd/shadow ${u}`);
      const [, , uid, gid, , home] = pw.split(':');
      const gr = h.sh('getent', ['group', gid]).stdout.trim();
      t.need(gr, `getent group ${gid} (${u}'s group)`);
      const inUse = fs.readFileSync(inRoot('etc/passwd'), 'utf8').split('\n').find((l) => l.split(':')[2] === uid && l.split(':')[0] !== u);
      if (inUse) clash.push(`uid ${uid} is also ${inUse.split(':')[0]} in the root`);
      add('passwd', pw);
      add('group', gr);
      add('shadow', sp, 0o640);
      if (u === USER) {
        fs.mkdirSync(inRoot(home), { recursive: true, mode: 0o755 });
        fs.chownSync(inRoot(home), Number(uid), Number(gid));
      }
    }
    if (clash.length) t.diag(`id clashes (harmless for getpwnam): ${clash.join('; ')}`);
    for (const u of [USER, h.DAEMON_USER]) {
      const inner = h.sh('chroot', [n.root, 'getent', 'passwd', u]).stdout.trim();
      t.check(inner.split(':')[2] === String(st.accounts[u].uid), `${u} has the same uid inside the root`, inner);
    }

    // /dev read-only: should an unmount ever fail, run.mjs's removal of TMP cannot reach this
    // machine's /dev through it. /proc, and the folder of passkeyd's control socket.
    for (const d of ['dev', 'proc', 'run/sshd', INNER_SOCKET_DIR.slice(1)]) fs.mkdirSync(inRoot(d), { recursive: true, mode: 0o755 });
    mount(['--bind', '/dev', inRoot('dev')], '/dev');
    mount(['-o', 'remount,bind,ro', inRoot('dev')], '/dev read-only');
    mount(['--bind', '/proc', inRoot('proc')], '/proc');
    if (!st.daemon) {
      // (f) stops passkeyd; this case needs it again
      await h.startDaemon(st.cfgNormal);
      t.diag('passkeyd was stopped (by (f)): started again with the normal config');
    }
    mount(['--bind', path.dirname(st.socket), inRoot(INNER_SOCKET_DIR.slice(1))], 'the control socket\'s folder');
    t.check(fs.existsSync(inRoot(`${INNER_SOCKET_DIR.slice(1)}/control.sock`)), `passkeyd's control socket shows in the root as ${INNER_SOCKET_DIR}/control.sock`);

    const ldd = h.sh('chroot', [n.root, 'ldd', INNER_MODULE]);
    t.check(ldd.code === 0 && !/not found/.test(ldd.stdout), 'every library the module needs is found inside the root', h.short(ldd.stdout + ldd.stderr, 500));
    for (const lib of MODULE_LIBS) t.check(new RegExp(`${lib.replace(/\./g, '\\.')} => /\\S+`).test(ldd.stdout), `${lib} resolves inside the root`, h.short(ldd.stdout, 400));

    const kg = h.sh('chroot', [n.root, 'ssh-keygen', '-A']);
    t.need(kg.code === 0, 'chroot ROOT ssh-keygen -A', h.short(kg.stderr));
    const ver = h.sh('chroot', [n.root, 'ssh', '-V']);
    n.clientVersion = (ver.stderr || ver.stdout).trim();
    const oldVer = h.sh('ssh', ['-V']);
    n.oldClientVersion = (oldVer.stderr || oldVer.stdout).trim();
    const major = (v) => { const m = /OpenSSH_(\d+)\.(\d+)/.exec(v || ''); return m ? Number(m[1]) + Number(m[2]) / 100 : 0; };
    t.check(major(n.clientVersion) >= 10.03, 'the root\'s ssh is OpenSSH 10.3 or later', n.clientVersion);

    // The service name: the root's sshd started through a symlink named after the service, with
    // no PAMServiceName, and every name it might use printing itself with pam_echo.
    fs.symlinkSync('sshd', inRoot(`usr/sbin/${SERVICE}`));
    for (const s of ['sshd', SERVICE, 'sshd-session', 'sshd-auth']) {
      fs.writeFileSync(inRoot(`etc/pam.d/${s}`), ['# written by tests/acceptance/newssh.mjs: which service does PAM get?',
        'auth requisite pam_echo.so pkt-probe: PAM service %s', 'auth required pam_deny.so', 'account required pam_permit.so', ''].join('\n'));
    }
    n.port = await h.freePort();
    writeSshdConfig({ pamService: null });
    await startSshd();
    const server = await banner(n.port);
    t.check(/^SSH-2\.0-OpenSSH_(\d+)/.test(server || '') && major(server) >= 10.03, 'the root\'s sshd announces OpenSSH 10.3 or later', server);
    n.serverVersion = server;
    const probe = await client('old', 'probe-service', { timeoutMs: 20_000 });
    const probed = (/pkt-probe: PAM service (\S+)/.exec(probe.stderr) || [])[1] || null;
    t.check(probed, 'the probe login shows which PAM service the 10.x sshd uses', summary(probe));
    t.diag(`started as /usr/sbin/${SERVICE} (a symlink to sshd) without PAMServiceName, the 10.x sshd ` +
      `(sshd-session, sshd-auth) runs the PAM service "${probed}"${probed === SERVICE ? '' : `, not "${SERVICE}"`}: ` +
      `the cases set PAMServiceName ${SERVICE}`);
    await stopSshd();

    writePam(flowOpts('prompt'));
    writeSshdConfig({ pamService: SERVICE });
    await startSshd();
    t.diag(`root ${n.root}: sshd "${n.serverVersion}" on 127.0.0.1:${n.port}; new client "${n.clientVersion}"; ` +
      `old client "${n.oldClientVersion}"`);
    n.ready = true;
  });

  // ---------------------------------------------------------------- n1: no Enter
  T('(n1) flow=info, the 10.x client: the link arrives on ssh\'s stderr with no prompt; approved in Chromium -> OK with nothing typed', 'n', async (t) => {
    needAlice(t);
    writePam(flowOpts('info'));
    const from = st.logs.daemon.mark;
    const sFrom = n.tap.mark;
    let page = null;
    const r = await client('new', 'n1-info', {
      onUrl: async (info) => { page = await h.drivePage(h.alice.ap, info.url, 'approve'); },
    });
    t.need(r.info && r.info.kind === 'login', 'ssh\'s stderr carries a login link http://localhost:PORT/l/TOKEN', summary(r));
    t.check(r.prompts.length === 0, 'askpass was never asked (0 prompts)', r.prompts.map((p) => p.text));
    t.check(page && page.final === 'approved', 'the login page ends in "approved"', page && page.final);
    t.check(r.code === 0 && r.stdout.trim() === 'OK', 'ssh exits 0 and prints OK', summary(r));
    if (page && page.tFinal) {
      // ssh's exit is compared with the press of Approve, not with tFinal: the module may have
      // the verdict (and ssh be done) before the harness sees the page show it
      t.check(r.tUrl < page.tOpen && r.tExit > page.tClick, 'the link was on stderr while the login waited (before the page was opened), and ssh ran on until Approve was pressed',
        `link at +${h.ms(r.tUrl - r.tStart)}, page opened +${h.ms(page.tOpen - r.tStart)}, Approve pressed +${h.ms(page.tClick - r.tStart)}, ` +
        `page showed approved +${h.ms(page.tFinal - r.tStart)}, exit +${h.ms(r.tExit - r.tStart)}`);
    }
    const block = infoBlock(r);
    t.check(block.some((l) => l.trim() === r.info.url), 'the link is on a line of its own', block);
    t.check(/^code: [A-Za-z0-9]{3}-[A-Za-z0-9]{3}$/m.test(r.stderr.replace(/\r/g, '')) && /Waiting for your approval \(expires in \d+ s\)\.\.\./.test(r.stderr),
      'stderr has "code: XXX-XXX" and "Waiting for your approval (expires in N s)..."', h.short(r.stderr, 500));
    t.check(!/Press Enter/.test(r.stderr), 'nothing asks for Enter', h.short(r.stderr, 500));
    const ev = await h.waitEvent((e) => e.event === 'login_approved' && h.tokenMatches(e, r.info.token), 3000, from);
    t.check(ev && ev.user === USER && ev.rhost === '127.0.0.1' && ev.service === SERVICE,
      `passkeyd logged login_approved user=${USER} rhost=127.0.0.1 service=${SERVICE}`, h.eventsSummary(from));
    const acc = accepted(sFrom);
    t.check(acc, 'the 10.x sshd logged "Accepted keyboard-interactive/pam for pkt-alice"', n.tap.tail(5, sFrom));
    // the module's debug line (PAM_PASSKEY_DEBUG_STDERR) when it has the verdict: its polling alone
    const verdict = n.tap.find((rec) => /pam_passkey.*approved for user pkt-alice/.test(rec.line), sFrom);
    t.diag(`what the 10.x client printed on stderr: ${JSON.stringify(r.stderr)}`);
    if (page && page.tFinal) {
      t.measure(`(n1) flow=info: page approved -> "OK" on ssh's stdout, nothing typed: ${h.ms(r.tFirstStdout - page.tFinal)}`);
      if (verdict) t.measure(`(n1) flow=info: page approved -> the module has the verdict (its debug line on sshd's stderr; below 0 when it polled before the page showed it): ${h.ms(verdict.t - page.tFinal)}`);
      if (acc) t.measure(`(n1) flow=info: page approved -> sshd "Accepted keyboard-interactive/pam": ${h.ms(acc.t - page.tFinal)}`);
      t.measure(`(n1) flow=info: ssh start -> link on stderr: ${h.ms(r.tUrl - r.tStart)}`);
      const after = n.tap.lines.slice(sFrom).filter((rec) => rec.t >= page.tFinal - 400 && rec.t <= (r.tExit || Infinity));
      t.diag(`sshd's lines around the approval (ms from the page showing "approved"): ${after.map((rec) => `${h.ms(rec.t - page.tFinal)} ${h.short(rec.line, 90)}`).join(' | ')}`);
    }
  });

  T('(n1) for comparison, flow=prompt with the 10.x client: one prompt, approved, Enter -> OK', 'n', async (t) => {
    needAlice(t);
    writePam(flowOpts('prompt'));
    const from = st.logs.daemon.mark;
    let page = null;
    let info = null;
    const r = await client('new', 'n1-prompt', {
      onPrompt: async (text, i) => {
        if (i === 0 && (info = h.parsePrompt(text))) page = await h.drivePage(h.alice.ap, info.url, 'approve');
        return '';
      },
    });
    t.need(info, 'the first prompt carries the link', summary(r));
    t.check(r.prompts.length === 1 && /Press Enter/.test(r.prompts[0].text), 'one prompt, which asks for Enter', r.prompts.map((p) => p.text));
    t.check(page && page.final === 'approved', 'the login page ends in "approved"', page && page.final);
    t.check(r.code === 0 && r.stdout.trim() === 'OK', 'ssh exits 0 and prints OK', summary(r));
    const ev = await h.waitEvent((e) => e.event === 'login_approved' && h.tokenMatches(e, info.token), 3000, from);
    t.check(ev && ev.service === SERVICE, `passkeyd logged login_approved service=${SERVICE}`, h.eventsSummary(from));
    if (page && page.tFinal && r.prompts[0].tAnswered) {
      t.measure(`(n1) flow=prompt: page approved -> "OK" on ssh's stdout, Enter sent at once by askpass: ${h.ms(r.tFirstStdout - page.tFinal)}` +
        ` (of which approved -> Enter ${h.ms(r.prompts[0].tAnswered - page.tFinal)}; a person takes longer)`);
    }
  });

  // ---------------------------------------------------------------- n2: Deny
  T('(n2) flow=info, Deny on the page -> the 10.x client fails with "passkey: login denied in the browser"', 'n', async (t) => {
    needAlice(t);
    writePam(flowOpts('info'));
    const from = st.logs.daemon.mark;
    let page = null;
    const r = await client('new', 'n2-deny', {
      onUrl: async (info) => { page = await h.drivePage(h.alice.ap, info.url, 'deny'); },
      timeoutMs: 30_000,
    });
    t.need(r.info, 'ssh\'s stderr carries the link', summary(r));
    t.check(page && page.final === 'denied', 'the page ends in "denied"', page && page.final);
    t.check(h.sshFailedAuth(r) && !/OK/.test(r.stdout), 'ssh fails with "Permission denied"', summary(r));
    t.check(r.prompts.length === 0, 'no prompt', r.prompts.map((p) => p.text));
    const line = errLine(r, /^passkey: /);
    t.check(line === 'passkey: login denied in the browser', 'ssh\'s stderr has the line "passkey: login denied in the browser"', h.short(r.stderr, 500));
    const ev = await h.waitEvent((e) => e.event === 'login_denied' && h.tokenMatches(e, r.info.token), 3000, from);
    t.check(ev && ev.user === USER, 'passkeyd logged login_denied', h.eventsSummary(from));
    t.diag(`the 10.x client's stderr: ${JSON.stringify(r.stderr)}`);
    if (page && page.tFinal) t.measure(`(n2) page denied -> ssh exits: ${h.ms(r.tExit - page.tFinal)}`);
  });

  // ---------------------------------------------------------------- n3: expiry
  T(`(n3) flow=info with the module's timeout=${SHORT_TIMEOUT}, nobody approves -> the 10.x client fails with a "passkey: ..." timed out line`, 'n', async (t) => {
    needAlice(t);
    writePam(flowOpts('info', SHORT_TIMEOUT));
    const from = st.logs.daemon.mark;
    const r = await client('new', 'n3-expire', { timeoutMs: 40_000 });
    t.need(r.info, 'ssh\'s stderr carries the link', summary(r));
    t.check(new RegExp(`expires in ${SHORT_TIMEOUT} s`).test(r.stderr), `the text says it expires in ${SHORT_TIMEOUT} s`, h.short(r.stderr, 400));
    t.check(h.sshFailedAuth(r), 'ssh fails with "Permission denied"', summary(r));
    t.check(r.prompts.length === 0, 'no prompt', r.prompts.map((p) => p.text));
    const line = errLine(r, /^passkey: /);
    t.check(/expired|timed out/.test(line || ''), 'ssh\'s stderr has a "passkey: ..." expired / timed out line', h.short(r.stderr, 500));
    const waited = r.tExit - r.tUrl;
    t.check(waited >= (SHORT_TIMEOUT - 1) * 1000 && waited < (SHORT_TIMEOUT + 10) * 1000,
      `ssh ended about ${SHORT_TIMEOUT} s after the link showed`, h.ms(waited));
    const ev = await h.waitEvent((x) => h.tokenMatches(x, r.info.token) && /expired|cancel/.test(`${x.event} ${x.reason}`), 3000, from);
    t.check(ev, 'passkeyd logged the end of the ceremony (cancelled by the module, or expired)', h.eventsSummary(from));
    if (line) t.diag(`user saw: ${line}; daemon: ${ev ? h.short(ev._line.replace(/^.*?event=/, 'event='), 160) : '-'}`);
    t.measure(`(n3) link shown -> ssh exit with timeout=${SHORT_TIMEOUT}: ${h.ms(waited)}`);
  });

  // ---------------------------------------------------------------- n4: the older client, flow=info
  T('(n4) flow=info with this machine\'s older ssh client: the link reaches the user on stderr (its logger), approval logs in with no Enter', 'n', async (t) => {
    needAlice(t);
    writePam(flowOpts('info'));
    const from = st.logs.daemon.mark;
    let page = null;
    const r = await client('old', 'n4-old-info', {
      onUrl: async (info) => { page = await h.drivePage(h.alice.ap, info.url, 'approve'); },
    });
    t.diag(`${n.oldClientVersion} against ${n.serverVersion}, flow=info: stderr ${JSON.stringify(r.stderr)}; ` +
      `askpass prompts ${JSON.stringify(r.prompts.map((p) => p.text))}`);
    t.need(r.info && r.info.kind === 'login', 'the older client shows the link on stderr', summary(r));
    t.check(infoBlock(r).some((l) => l.trim() === r.info.url), 'the link is on a line of its own', infoBlock(r));
    t.check(/Waiting for your approval/.test(r.stderr) && /code: [A-Za-z0-9]{3}-[A-Za-z0-9]{3}/.test(r.stderr),
      'with the code and the "Waiting for your approval" line', h.short(r.stderr, 500));
    t.check(r.prompts.length === 0, 'askpass was never asked (0 prompts)', r.prompts.map((p) => p.text));
    t.check(page && page.final === 'approved', 'the login page ends in "approved"', page && page.final);
    t.check(r.code === 0 && r.stdout.trim() === 'OK', 'ssh exits 0 and prints OK', summary(r));
    if (page && page.tFinal) {
      t.check(r.tUrl < page.tOpen, 'the link was shown while the login waited', `link +${h.ms(r.tUrl - r.tStart)}, page +${h.ms(page.tOpen - r.tStart)}`);
      t.measure(`(n4) older client, flow=info: page approved -> "OK", nothing typed: ${h.ms(r.tFirstStdout - page.tFinal)}`);
    }
    const ev = await h.waitEvent((e) => e.event === 'login_approved' && h.tokenMatches(e, r.info.token), 3000, from);
    t.check(ev && ev.service === SERVICE, `passkeyd logged login_approved service=${SERVICE}`, h.eventsSummary(from));
    t.diag('the older client prints the text of an info request with no prompts through its logger ' +
      `(the block ends "${/\r\n$/.test(r.stderr) ? '\\r\\n' : '\\n'}" as log.c's stderr lines do; ASCII passes unescaped); ` +
      'qr=yes and -q: see the next two tests');
  });

  // qr=yes: the QR code is UTF-8 block characters. The older client's logger escapes every
  // non-ASCII byte as \ooo (four bytes for one) and keeps at most 1024 bytes of a message.
  T(`(n4) flow=info, qr=yes, a UTF-8 locale: the 10.x client shows the link and the QR code, and logs in; this machine's older client escapes the QR code and its logger cuts it short, but the link comes first: it shows, and the approval logs in`, 'n', async (t) => {
    needAlice(t);
    writePam(`${flowOpts('info', SHORT_TIMEOUT * 4)} qr=yes`);
    let page = null;
    const nr = await client('new', 'n4-new-qr', { lang: 'C.UTF-8', onUrl: async (info) => { page = await h.drivePage(h.alice.ap, info.url, 'approve'); } });
    t.check(/[\u2580\u2584\u2588]/.test(nr.stderr) && !/\\342\\226/.test(nr.stderr), 'the 10.x client prints the QR code as UTF-8 block characters', h.short(nr.stderr, 300));
    t.check(nr.info && page && page.final === 'approved' && nr.code === 0 && nr.stdout.trim() === 'OK' && nr.prompts.length === 0,
      'the 10.x client shows the link, and the approval logs it in with no prompt', summary(nr));
    let oldPage = null;
    const or = await client('old', 'n4-old-qr', { lang: 'C.UTF-8', timeoutMs: 40_000,
      onUrl: async (info) => { oldPage = await h.drivePage(h.alice.ap, info.url, 'approve'); } });
    const escaped = (or.stderr.match(/\\342\\226\\2[0-9]{2}/g) || []).length;
    t.check(escaped > 20 && !/[\u2580-\u259f]/.test(or.stderr), 'the older client prints the QR code escaped (\\342\\226\\2xx for each block)', `${escaped} escaped blocks; ${h.short(or.stderr, 200)}`);
    t.check(or.info && /Waiting for your approval/.test(or.stderr), 'the link and the "Waiting" line come before the QR code, so the older client shows them', h.short(or.stderr, 400));
    t.check(oldPage && oldPage.final === 'approved' && or.prompts.length === 0 && or.code === 0 && or.stdout.trim() === 'OK',
      'the approval logs the older client in with no prompt', summary(or));
    t.diag(`older client: ${Buffer.byteLength(or.stderr)} bytes on stderr, ${escaped} escaped QR blocks before its logger cut the message`);
  });

  // The older client's logger is quiet with -q (LogLevel QUIET): the link is not shown at all.
  T(`(n4) flow=info and ssh -q: the 10.x client still shows the link (and logs in); this machine's older client shows nothing and fails at the module's timeout=${SHORT_TIMEOUT}`, 'n', async (t) => {
    needAlice(t);
    writePam(flowOpts('info', SHORT_TIMEOUT));
    let page = null;
    const [nq, oq] = await Promise.all([
      client('new', 'n4-new-quiet', { extra: ['-q'], onUrl: async (info) => { page = await h.drivePage(h.alice.ap, info.url, 'approve'); } }),
      client('old', 'n4-old-quiet', { extra: ['-q'], timeoutMs: 40_000 }),
    ]);
    t.check(nq.info && page && page.final === 'approved' && nq.code === 0 && nq.stdout.trim() === 'OK',
      'the 10.x client with -q shows the link, and the approval logs it in', summary(nq));
    t.check(!oq.info && !/localhost:\d+\/l\//.test(oq.stderr), 'the older client with -q shows no link', JSON.stringify(oq.stderr));
    t.check(oq.prompts.length === 0, 'nor any prompt', oq.prompts.map((p) => p.text));
    t.check(oq.code === 255 && !/OK/.test(oq.stdout), 'and fails', summary(oq));
    t.check(oq.tExit - oq.tStart >= (SHORT_TIMEOUT - 1) * 1000, `after the module's timeout (${SHORT_TIMEOUT} s): the user waited with nothing to act on`, h.ms(oq.tExit - oq.tStart));
    t.diag(`older client with -q: stderr ${JSON.stringify(oq.stderr)}, exit ${oq.code} after ${h.ms(oq.tExit - oq.tStart)}; ` +
      'with flow=info, users of 9.x clients who set LogLevel QUIET/FATAL/ERROR (or -q) get no link: flow=prompt suits them');
  });

  // ---------------------------------------------------------------- n5: the older client, default flow
  T('(n5) the default flow (no flow= option) with this machine\'s older ssh client: one prompt, approved, one Enter -> OK', 'n', async (t) => {
    needAlice(t);
    writePam(flowOpts(null));
    const from = st.logs.daemon.mark;
    const sFrom = n.tap.mark;
    let page = null;
    let info = null;
    const r = await client('old', 'n5-old-prompt', {
      onPrompt: async (text, i) => {
        if (i === 0 && (info = h.parsePrompt(text))) page = await h.drivePage(h.alice.ap, info.url, 'approve');
        return '';
      },
    });
    t.need(info && info.kind === 'login', 'the prompt carries a login link', summary(r));
    const lines = r.prompts[0].text.split('\n').map((l) => l.trim());
    t.check(lines.includes(info.url) && /^Press Enter/.test([...lines].reverse().find((l) => l) || ''),
      'the link on a line of its own, the prompt ends with "Press Enter ..."', r.prompts[0].text);
    t.check(r.prompts.length === 1, 'one prompt: approved before Enter', r.prompts.map((p) => p.text));
    t.check(page && page.final === 'approved', 'the login page ends in "approved"', page && page.final);
    t.check(r.code === 0 && r.stdout.trim() === 'OK', 'ssh exits 0 and prints OK', summary(r));
    const ev = await h.waitEvent((e) => e.event === 'login_approved' && h.tokenMatches(e, info.token), 3000, from);
    t.check(ev && ev.service === SERVICE, `passkeyd logged login_approved service=${SERVICE}`, h.eventsSummary(from));
    t.check(accepted(sFrom), 'the 10.x sshd logged "Accepted keyboard-interactive/pam for pkt-alice"', n.tap.tail(5, sFrom));
    if (page && page.tFinal && r.prompts[0].tAnswered) {
      t.measure(`(n5) older client, flow=prompt: page approved -> "OK", Enter sent at once by askpass: ${h.ms(r.tFirstStdout - page.tFinal)}`);
      t.measure(`(n5) older client, flow=prompt: Enter -> "OK": ${h.ms(r.tFirstStdout - r.prompts[0].tAnswered)}`);
    }
  });

  T('(n) the root\'s sshd stopped and its mounts undone', 'n', async (t) => {
    skipNoSid();
    if (!n.root) t.diag('no root was made (the setup failed before debootstrap)');
    await stopSshd();
    const left = unmountAll();
    t.check(left.length === 0, 'nothing is mounted in the root any more', left);
  });
}
