// tests/acceptance/fleet.mjs - the fleet cases of the acceptance test (run.mjs, case m).
//
// Only real parts, on loopback: one PostgreSQL server (Debian's, started by
// tests/lib/pg-server.sh into the run's temporary folder, a unix socket only), the database
// roles made by `passkeyctl fleet --store`, two web passkeyd instances behind Debian's nginx at
// one origin (http://localhost:PORT, round robin, the next one on a connect error), and two SSH
// hosts, A and B: each a private sshd with its own PAM service (sshd-passkey-fleet-a, -b) and its
// own passkeyd on its host role, showing its own host name. Headless Chromium answers the pages.
//
// What it shows: a first login at host A registers a passkey (enroll=pending, the enrollment
// made through a web instance: a host's role cannot write one) and the page shows host A; that
// passkey logs in to host B and the page shows host B; Deny and expiry cross instances; the web
// instance that served the options is killed with SIGKILL and the browser's finish goes through
// the other one; PostgreSQL stopped: the login fails closed with its one-line reason; started
// again: logins work with no daemon restarted.
//
// Everything started here is tracked by run.mjs and stopped at its end; the PostgreSQL folder
// and the two PAM service files are removed with the rest.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const NGINX = '/usr/sbin/nginx';
const HOST_A = 'fleet-host-a';
const HOST_B = 'fleet-host-b';
const HOST_B_LIFETIME = 6; // s: host B's ceremonies, short enough to see one expire

export function fleetCases(T, h) {
  const { st } = h;
  const PG_SERVER = path.join(h.REPO_ROOT, 'tests', 'lib', 'pg-server.sh');
  const f = { ready: false, daemons: {} };
  const needFleet = (t) => { h.needSetup(); t.need(f.ready, 'needs the fleet set up in (m), which failed'); };

  const psql = (sql) => spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql, f.pgUri],
    { encoding: 'utf8', timeout: 30_000 });
  const pg = (verb) => spawnSync(PG_SERVER, [verb, f.pgDir], { encoding: 'utf8', timeout: 60_000 });
  const roleUri = (role) => `postgresql:///fleet?host=${f.pgDir}&user=${role}`;

  function daemonConfig(name, { port, store, hostname, lifetime = 30 }) {
    const sock = path.join(st.tmp, 'fleet', `${name}.sock`);
    const file = path.join(st.tmp, 'fleet', `${name}.conf`);
    fs.writeFileSync(file, [
      '# written by tests/acceptance/fleet.mjs',
      'rp_id = localhost',
      'rp_name = ssh-passkeys fleet acceptance test',
      `origin = ${f.origin}`,
      `listen = 127.0.0.1:${port}`,
      `public_url = ${f.origin}`,
      `hostname = ${hostname}`,
      `store = ${store}`,
      `socket = ${sock}`,
      `user = ${h.DAEMON_USER}`,
      `ceremony_timeout = ${lifetime}`,
      'require_uv = yes',
      '',
    ].join('\n'));
    return { name, file, sock, port };
  }

  async function startDaemon(d) {
    const tap = st.logs[d.name] || (st.logs[d.name] = new h.LogTap(d.name));
    const child = h.track(spawn(st.bin.passkeyd, ['--config', d.file, '--foreground'], {
      env: { PATH: h.PATH_ENV, LANG: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    }), 'passkeyd');
    tap.attach(child.stdout, ':out');
    tap.attach(child.stderr);
    const end = Date.now() + 15_000;
    while (Date.now() < end && child.exitCode === null && child.signalCode === null) {
      const r = await h.httpReq(d.port, 'GET', '/healthz', { timeout: 1000 });
      if (r.status === 200 && fs.existsSync(d.sock)) { d.child = child; d.tap = tap; return; }
      await h.sleep(50);
    }
    throw new Error(`${d.name} did not become ready: exit ${child.exitCode ?? child.signalCode}; ${tap.tail(8)}`);
  }

  async function startNginx() {
    const dir = path.join(st.tmp, 'fleet', 'nginx');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const conf = path.join(dir, 'nginx.conf');
    const [w1, w2] = [f.daemons.web1.port, f.daemons.web2.port];
    fs.writeFileSync(conf, [
      '# written by tests/acceptance/fleet.mjs: one origin for two passkeyd web instances',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      'error_log stderr notice;',
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
      '  upstream passkeyd {',
      `    server 127.0.0.1:${w1} max_fails=1 fail_timeout=60s;`,
      `    server 127.0.0.1:${w2} max_fails=1 fail_timeout=60s;`,
      '  }',
      '  server {',
      `    listen 127.0.0.1:${f.port};`,
      '    location / {',
      '      proxy_pass http://passkeyd;',
      '      proxy_set_header Host $http_host;',
      // a refused connection sends nothing, so even a POST may go to the next instance
      '      proxy_next_upstream error timeout;',
      '      proxy_connect_timeout 2s;',
      '      add_header X-Upstream $upstream_addr always;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'));
    const tap = st.logs.nginx || (st.logs.nginx = new h.LogTap('nginx'));
    const child = h.track(spawn(NGINX, ['-c', conf, '-g', 'daemon off;'], {
      env: { PATH: h.PATH_ENV, LANG: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    }), 'nginx');
    tap.attach(child.stdout, ':out');
    tap.attach(child.stderr);
    const end = Date.now() + 10_000;
    while (Date.now() < end && child.exitCode === null) {
      const r = await h.httpReq(f.port, 'GET', '/healthz', { timeout: 1000 });
      if (r.status === 200) return;
      await h.sleep(50);
    }
    throw new Error(`nginx did not serve /healthz on 127.0.0.1:${f.port}: ${tap.tail(8)}`);
  }

  function writePam(service, d) {
    h.writeSysFile(`/etc/pam.d/${service}`, [
      h.header(`for the fleet's host ${d.name}`),
      `auth required ${st.bin.module} socket=${d.sock} daemon_user=${h.DAEMON_USER} ` +
        `timeout=${h.MODULE_TIMEOUT} qr=no enroll=pending debug`,
      'account include common-account',
      'session required pam_permit.so',
      'password required pam_deny.so',
      '',
    ].join('\n'));
  }

  // One ssh login at a host, the page driven with `action` on its first prompt.
  async function login(host, name, action, { delayMs = 0 } = {}) {
    const rec = { info: null, page: null };
    const r = await h.sshLogin('pkt-bob', name, async (text, i) => {
      if (i === 0 && (rec.info = h.parsePrompt(text))) {
        if (delayMs) await h.sleep(delayMs);
        if (action) rec.page = await h.drivePage(f.ap, rec.info.url, action);
      }
      return '';
    }, { port: host === 'a' ? f.sshA : f.sshB, timeoutMs: 60_000 });
    rec.r = r;
    rec.options = rec.info ? h.apiFor(f.ap, rec.info.token, 'options').map((x) => x.json).find(Boolean) : null;
    return rec;
  }
  const approvedOk = (x) => x.r.code === 0 && x.r.stdout.trim() === 'OK';

  T('(m) fleet setup: PostgreSQL, passkeyctl fleet roles, two web instances behind nginx at one origin, hosts A and B (sshd + passkeyd each)', 'm', async (t) => {
    h.needSetup();
    if (!fs.existsSync(NGINX)) throw new h.Skip('nginx is not installed (apt-get install nginx)');
    fs.mkdirSync(path.join(st.tmp, 'fleet'), { mode: 0o755 });
    const started = spawnSync(PG_SERVER, ['start', path.join(st.tmp, 'fleet', 'pg')], { encoding: 'utf8', timeout: 120_000 });
    t.need(started.status === 0, 'tests/lib/pg-server.sh starts a private PostgreSQL', h.short(started.stderr));
    [f.pgDir, f.pgUri] = started.stdout.trim().split('\n');
    st.cleanups.push(() => spawnSync(PG_SERVER, ['remove', f.pgDir], { timeout: 60_000 }));
    const db = psql('CREATE DATABASE fleet');
    t.need(db.status === 0, 'CREATE DATABASE fleet', h.short(db.stderr));
    const roles = h.sh(st.bin.passkeyctl, ['fleet', '--store', roleUri('postgres'), '--prefix', 'pkf',
      '--host', `pkf_hosta=${HOST_A}`, '--host', `pkf_hostb=${HOST_B}`, '--web', 'pkf_web1', '--web', 'pkf_web2']);
    t.need(roles.code === 0, 'passkeyctl fleet --store applies the schema and the roles', h.short(roles.stderr));
    f.port = await h.freePort();
    f.origin = `http://localhost:${f.port}`;
    const spec = {
      web1: { store: roleUri('pkf_web1'), hostname: 'login.fleet.test' },
      web2: { store: roleUri('pkf_web2'), hostname: 'login.fleet.test' },
      hosta: { store: roleUri('pkf_hosta'), hostname: HOST_A },
      hostb: { store: roleUri('pkf_hostb'), hostname: HOST_B, lifetime: HOST_B_LIFETIME },
    };
    for (const [name, s] of Object.entries(spec))
      f.daemons[name] = daemonConfig(`fleet-${name}`, { ...s, port: await h.freePort() });
    for (const d of Object.values(f.daemons)) await startDaemon(d);
    t.check(f.daemons.hosta.tap.find((r) => r.line.includes('may not write the audit log')),
      'host A\'s passkeyd runs on a role that may not write the audit log', f.daemons.hosta.tap.tail(4));
    f.daemons.web1.key = 'web1';
    f.daemons.web2.key = 'web2';
    await startNginx();
    writePam('sshd-passkey-fleet-a', f.daemons.hosta);
    writePam('sshd-passkey-fleet-b', f.daemons.hostb);
    f.sshA = (await h.startSshd({ service: 'sshd-passkey-fleet-a' })).port;
    f.sshB = (await h.startSshd({ service: 'sshd-passkey-fleet-b' })).port;
    // the enrollment: through a web instance (the admin's), since a host may not write one
    const en = h.sh(st.bin.passkeyctl, ['--socket', f.daemons.web1.sock, 'enroll', 'pkt-bob']);
    t.need(en.code === 0, 'passkeyctl enroll pkt-bob through web instance 1', h.short(en.stderr));
    f.ap = await h.newAuthPage('fleet-bob');
    f.ap.upstream = {};
    f.ap.page.on('response', (resp) => {
      const m = /\/api\/([^/]+)\/(options|finish)$/.exec(new URL(resp.url()).pathname);
      if (m) f.ap.upstream[`${m[1]}/${m[2]}`] = resp.headers()['x-upstream'];
    });
    t.diag(`origin ${f.origin} (nginx) -> web 127.0.0.1:${f.daemons.web1.port}, :${f.daemons.web2.port};` +
      ` host A sshd :${f.sshA}, host B sshd :${f.sshB}`);
    f.ready = true;
  });

  T('(m) fleet: the first login at host A registers a passkey (enroll=pending); the page shows host A', 'm', async (t) => {
    needFleet(t);
    const x = await login('a', 'm-register-a', 'approve');
    t.need(x.info && x.info.kind === 'register', 'host A offers a registration link at the fleet\'s origin',
      x.r.prompts[0]?.text ?? h.sshSummary(x.r));
    t.check(x.info.url.startsWith(f.origin), 'the link is the shared origin\'s', x.info.url);
    t.check(x.options && x.options.host === HOST_A, `the page shows host "${HOST_A}"`, JSON.stringify(x.options));
    t.check(x.page && x.page.final === 'approved', 'the registration page ends in "approved"', x.page && x.page.final);
    t.check(approvedOk(x), 'ssh to host A exits 0 and prints OK', h.sshSummary(x.r));
    const { credentials } = await f.ap.cdp.send('WebAuthn.getCredentials', { authenticatorId: f.ap.authenticatorId });
    t.check(credentials.length === 1, 'the virtual authenticator holds the one new passkey', credentials.length);
  });

  T('(m) fleet: the passkey registered at host A logs in to host B; the page shows host B', 'm', async (t) => {
    needFleet(t);
    const x = await login('b', 'm-login-b', 'approve');
    t.need(x.info && x.info.kind === 'login', 'host B offers a login link (the passkey is known fleet-wide)',
      x.r.prompts[0]?.text ?? h.sshSummary(x.r));
    t.check(x.options && x.options.host === HOST_B, `the page shows host "${HOST_B}"`, JSON.stringify(x.options));
    t.check(approvedOk(x), 'ssh to host B exits 0 and prints OK', h.sshSummary(x.r));
    const ups = [f.ap.upstream[`${x.info.token}/options`], f.ap.upstream[`${x.info.token}/finish`]];
    t.diag(`options served by ${ups[0]}, finish by ${ups[1]}`);
  });

  T('(m) fleet: Deny on the page -> ssh to host A fails (decided by a web instance, told to the host)', 'm', async (t) => {
    needFleet(t);
    const x = await login('a', 'm-deny-a', 'deny');
    t.check(x.page && x.page.final === 'denied', 'the page ends in "denied"', x.page && x.page.final);
    t.check(h.sshFailedAuth(x.r) && !/OK/.test(x.r.stdout), 'ssh fails with "Permission denied"', h.sshSummary(x.r));
    t.check(h.passkeyMsg(x.r), 'with the module\'s one-line reason', h.short(x.r.stderr));
    t.check(x.info && f.daemons.hosta.tap.find((r) => r.line.includes('event=login_denied') &&
      r.line.includes(`token=${x.info.token.slice(0, 6)}`)), 'host A logged the denial decided elsewhere',
    f.daemons.hosta.tap.tail(4));
  });

  T(`(m) fleet: expiry -> a login at host B (${HOST_B_LIFETIME} s lifetime) left alone fails as expired; the page says so`, 'm', async (t) => {
    needFleet(t);
    const x = await login('b', 'm-expire-b', null, { delayMs: (HOST_B_LIFETIME + 2) * 1000 });
    t.check(h.sshFailedAuth(x.r), 'ssh fails with "Permission denied"', h.sshSummary(x.r));
    t.check(/expired|timed out/.test(h.passkeyMsg(x.r) || ''), 'the module says the request expired', h.short(x.r.stderr));
    const r = await h.httpReq(f.port, 'POST', `/api/${x.info.token}/options`, { headers: { Origin: f.origin } });
    t.check(r.status === 410 && r.json && r.json.state === 'expired', 'the page\'s API says expired (410)', `${r.status} ${h.short(r.text)}`);
  });

  T('(m) fleet: the web instance that served the options is killed (SIGKILL): the finish goes through the other, ssh succeeds', 'm', async (t) => {
    needFleet(t);
    let killed = null;
    await f.ap.page.route('**/api/*/finish', async (route) => {
      const tok = /\/api\/([^/]+)\/finish$/.exec(new URL(route.request().url()).pathname)[1];
      const up = f.ap.upstream[`${tok}/options`];
      const d = Object.values(f.daemons).find((x) => up && up.endsWith(`:${x.port}`));
      if (d && !killed) {
        killed = d;
        d.child.kill('SIGKILL');
        await new Promise((res) => (d.child.exitCode !== null || d.child.signalCode !== null ? res() : d.child.once('exit', res)));
      }
      await route.continue();
    });
    const x = await login('a', 'm-kill-a', 'approve');
    await f.ap.page.unroute('**/api/*/finish');
    t.need(killed, 'the web instance that served the options was found (nginx X-Upstream) and killed',
      JSON.stringify(f.ap.upstream));
    const finishedBy = x.info && f.ap.upstream[`${x.info.token}/finish`];
    t.check(finishedBy && !finishedBy.endsWith(`:${killed.port}`) && finishedBy.includes('127.0.0.1'),
      'the finish was served by the other instance', finishedBy);
    t.check(x.page && x.page.final === 'approved', 'the page ends in "approved"', x.page && x.page.final);
    t.check(approvedOk(x), 'ssh to host A exits 0 and prints OK', h.sshSummary(x.r));
  });

  T('(m) fleet: PostgreSQL stopped -> ssh to host B fails closed at once with its one-line reason', 'm', async (t) => {
    needFleet(t);
    const stop = pg('stop');
    t.need(stop.status === 0, 'pg-server.sh stop', h.short(stop.stderr));
    const x = await login('b', 'm-pg-down', null);
    t.check(!x.r.timedOut && h.sshFailedAuth(x.r), 'ssh fails with "Permission denied" without hanging', h.sshSummary(x.r));
    t.check(!x.info, 'no link was offered', x.r.prompts.map((p) => p.text));
    t.check(/not available/.test(h.passkeyMsg(x.r) || ''), 'the module says the service is not available', h.short(x.r.stderr));
    t.check(f.daemons.hostb.tap.find((r) => r.line.includes('reason=store_unavailable')),
      'host B logged the refusal store_unavailable', f.daemons.hostb.tap.tail(4));
    t.check(x.r.tExit - x.r.tStart < 10_000, 'in under 10 s', h.ms(x.r.tExit - x.r.tStart));
  });

  T('(m) fleet: PostgreSQL started again -> ssh to host B with the passkey succeeds, no daemon restarted', 'm', async (t) => {
    needFleet(t);
    const start = pg('restart');
    t.need(start.status === 0, 'pg-server.sh restart', h.short(start.stderr));
    const x = await login('b', 'm-pg-back', 'approve');
    t.check(approvedOk(x), 'ssh to host B exits 0 and prints OK', h.sshSummary(x.r));
    const alive = Object.values(f.daemons).filter((d) => d.child.exitCode === null && d.child.signalCode === null);
    t.check(alive.length === 3, 'the three instances not killed are the ones started at first (none restarted)',
      alive.map((d) => d.name));
  });
}
