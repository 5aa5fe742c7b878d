// tests/acceptance/reuse.mjs - case (p) of the acceptance test (run.mjs): re-approval windows.
//
// Only real parts, on loopback: a third private sshd (PAM service sshd-passkey-reuse) that asks
// for a public key first and then keyboard-interactive (AuthenticationMethods
// publickey,keyboard-interactive, ExposeAuthInfo yes), so sshd hands the module the client's key
// in SSH_AUTH_INFO_0; its PAM line asks for a window (reuse=300; the key is required by default).
// Two client keys, A and B, both in pkt-alice's ~/.ssh/pkt-reuse-keys.
//
// What it shows: one browser approval with key A from 127.0.0.1 opens a window
// (`passkeyctl sessions` lists it with key A's fingerprint); then scp, sftp, rsync and 20
// parallel ssh connections get in with no browser step, each logged login_reused naming the
// approval; from another address (127.0.0.2), or with key B, the browser is needed again; sudo,
// whose service has no window, still asks; after `passkeyctl sessions revoke --all` the browser
// is needed again; and a window that has run out (reuse=4 on the PAM line) no longer lets in.
//
// Removed at the end: the PAM file (run.mjs's writeSysFile), the key file in pkt-alice's home
// (with the account), the sshd (tracked) and the folder in the run's temporary folder.
import fs from 'node:fs';
import path from 'node:path';

const SERVICE = 'sshd-passkey-reuse';
const PAM_FILE = `/etc/pam.d/${SERVICE}`;
const WINDOW = 300; // s, reuse= on the PAM line
const SHORT_WINDOW = 4; // s, for the expiry check

export function reuseCases(T, h) {
  const { st, sh } = h;
  const r = { ready: false };
  const needReuse = (t) => { h.needAlice(t); t.need(r.ready, 'needs the sshd of (p) set up, which failed'); };
  const noHostKeys = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
  // the key first, then the passkey; this key only, never an agent's
  const withKey = (key) => [...noHostKeys, '-o', 'PreferredAuthentications=publickey,keyboard-interactive',
    '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-i', key, '-o', 'NumberOfPasswordPrompts=1',
    '-o', 'ConnectTimeout=10'];

  function writePam(extra) {
    h.writeSysFile(PAM_FILE, [
      h.header('for case (p), re-approval windows'),
      `auth required ${h.modulePamLine(extra)}`,
      'account include common-account',
      'session required pam_permit.so',
      'password required pam_deny.so',
      '',
    ].join('\n'));
  }

  async function startSshd(dir) {
    const link = path.join(dir, SERVICE); // sshd's PAM service is the name it is started as
    fs.symlinkSync('/usr/sbin/sshd', link);
    const { port } = await h.startExtraSshd(dir, link, 'sshd-p', [
      'UsePAM yes', 'PubkeyAuthentication yes', 'KbdInteractiveAuthentication yes', 'PasswordAuthentication no',
      'AuthenticationMethods publickey,keyboard-interactive', 'ExposeAuthInfo yes',
      'AuthorizedKeysFile .ssh/pkt-reuse-keys', 'PermitRootLogin no', 'UseDNS no', 'LogLevel VERBOSE',
      'LoginGraceTime 100', 'MaxStartups 60', 'MaxSessions 30', 'Subsystem sftp internal-sftp',
      'PrintMotd no', 'PrintLastLog no', 'AllowUsers pkt-alice',
    ], { PAM_PASSKEY_DEBUG_STDERR: '1' });
    return port;
  }

  function fingerprint(pub) {
    const k = sh('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub]);
    const m = /(SHA256:[A-Za-z0-9+/]{43})/.exec(k.stdout);
    if (!m) throw new Error(`ssh-keygen -l: ${k.stdout} ${k.stderr}`);
    return m[1];
  }

  // One ssh with a client key; prompts through askpass. approve: drive the page on the first link.
  async function ssh(name, { key = r.keyA, from = null, cmd = 'echo OK', action = 'none', timeoutMs = 40_000 } = {}) {
    let info = null;
    let page = null;
    const res = await h.askpassClient(`p-${name}`, 'ssh', [...withKey(key), ...(from ? ['-b', from] : []), '-T',
      '-p', String(r.port), 'pkt-alice@127.0.0.1', cmd], { timeoutMs, onPrompt: async (text, i, rec, run) => {
      if (i === 0 && (info = h.parsePrompt(text))) {
        if (action === 'none') run.kill(); // the link was all this needed to see
        else page = await h.drivePage(h.alice.ap, info.url, action);
      }
      return '';
    } });
    return { res, info, page, ok: res.code === 0 && res.stdout.trim() === 'OK' && res.prompts.length === 0 };
  }

  function sessions() {
    const s = sh(st.bin.passkeyctl, ['--socket', st.socket, 'sessions', '--json', '--user', 'pkt-alice']);
    try { return { code: s.code, list: JSON.parse(s.stdout), err: s.stderr }; } catch { return { code: s.code, list: null, err: s.stderr }; }
  }

  T('(p) setup: a private sshd asking for a public key, then the passkey (ExposeAuthInfo yes; PAM reuse=300); two client keys for pkt-alice', 'p', async (t) => {
    h.needAlice(t);
    r.dir = path.join(st.tmp, 'reuse');
    fs.mkdirSync(r.dir, { mode: 0o755 });
    r.keyA = path.join(r.dir, 'key-a');
    r.keyB = path.join(r.dir, 'key-b');
    for (const k of [r.keyA, r.keyB]) {
      const g = sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `pkt-${path.basename(k)}`, '-f', k]);
      t.need(g.code === 0, `ssh-keygen made ${path.basename(k)}`, g.stderr);
    }
    r.fpA = fingerprint(`${r.keyA}.pub`);
    r.fpB = fingerprint(`${r.keyB}.pub`);
    const acct = st.accounts['pkt-alice'];
    const sshDir = path.join(acct.home, '.ssh');
    fs.mkdirSync(sshDir, { recursive: true, mode: 0o700 });
    fs.chownSync(sshDir, acct.uid, acct.gid);
    const keys = path.join(sshDir, 'pkt-reuse-keys');
    fs.writeFileSync(keys, `${fs.readFileSync(`${r.keyA}.pub`, 'utf8')}${fs.readFileSync(`${r.keyB}.pub`, 'utf8')}`, { mode: 0o600 });
    fs.chownSync(keys, acct.uid, acct.gid);
    writePam(`reuse=${WINDOW}`);
    r.port = await startSshd(r.dir);
    r.ready = true;
    t.diag(`key A ${r.fpA}, key B ${r.fpB}, sshd on 127.0.0.1:${r.port}`);
  });

  T('(p1) one browser approval with key A opens a window: `passkeyctl sessions` lists it (service, address, key A\'s fingerprint, the approving passkey)', 'p', async (t) => {
    needReuse(t);
    const from = st.logs.daemon.mark;
    const first = await ssh('approve', { action: 'approve' });
    t.need(first.info && first.page && first.page.final === 'approved' && first.res.code === 0 &&
      first.res.stdout.trim() === 'OK', 'publickey, then the passkey approved in Chromium: logged in', h.sshSummary(first.res));
    r.source = first.info.token;
    // the page said what the approval would also do, before it was given
    const said = await h.alice.ap.page.evaluate(() => {
      const row = document.getElementById('reuse-row');
      return row && !row.hidden ? document.getElementById('reuse').textContent : null;
    }).catch(() => null);
    t.check(said && said.includes('5 min') && said.includes(r.fpA),
      'the page showed the window: "the same client may log in again for 5 min ... (SSH key ...)"', said);
    const ev = await h.waitEvent((e) => e.event === 'window_opened' && h.tokenMatches(e, first.info.token), 3000, from);
    t.check(ev && ev.user === 'pkt-alice', 'passkeyd logged window_opened for that approval', h.eventsSummary(from));
    const s = sessions();
    const w = s.list && s.list.find((x) => x.source && first.info.token.startsWith(x.source));
    t.need(s.code === 0 && w, '`passkeyctl sessions --json --user pkt-alice` lists a window from that approval', `${s.code} ${short(JSON.stringify(s.list))} ${s.err}`);
    r.window = w.id;
    t.check(w.service === SERVICE && w.rhost === '127.0.0.1' && w.client_key === r.fpA,
      'bound to the service, the address and key A\'s fingerprint (as ssh-keygen -l prints it)', w);
    t.check(w.expires - w.opened === WINDOW && w.uses === 0, `open for ${WINDOW} s, not used yet`, w);
    t.check(/^[0-9a-f]{12}$/.test(w.credential), 'it names the passkey that approved it', w.credential);
  });

  T('(p2) on that window scp, sftp, rsync over ssh and 20 parallel ssh connections get in with no browser step; each reuse is logged login_reused naming the approval', 'p', async (t) => {
    needReuse(t);
    t.need(r.window, 'needs the window of (p1)');
    const from = st.logs.daemon.mark;
    const t0 = h.now();
    const base = withKey(r.keyA);
    const src = path.join(r.dir, 'p-file.txt');
    fs.writeFileSync(src, `one approval, a window ${process.pid}\n`);
    const home = st.accounts['pkt-alice'].home;
    const none = (x) => x.prompts.length === 0 && x.code === 0;
    const scp = await h.askpassClient('p-scp', 'scp', [...base, '-P', String(r.port), src, 'pkt-alice@127.0.0.1:p-scp.txt']);
    let copied = '';
    try { copied = fs.readFileSync(path.join(home, 'p-scp.txt'), 'utf8'); } catch { /* checked below */ }
    t.check(none(scp) && copied === fs.readFileSync(src, 'utf8'), 'scp copies a file, no prompt', h.sshSummary(scp));
    const batch = path.join(r.dir, 'p-sftp.batch');
    const back = path.join(r.dir, 'p-sftp-back.txt');
    fs.writeFileSync(batch, `get p-scp.txt ${back}\n`);
    // -b turns on BatchMode, which turns keyboard-interactive off; the first -o wins in ssh
    const sftp = await h.askpassClient('p-sftp', 'sftp', ['-o', 'BatchMode=no', ...base, '-P', String(r.port), '-b', batch, 'pkt-alice@127.0.0.1']);
    t.check(none(sftp) && fs.existsSync(back) && fs.readFileSync(back, 'utf8') === copied, 'sftp fetches it back, no prompt', h.sshSummary(sftp));
    const rsync = await h.askpassClient('p-rsync', 'rsync', ['-e', `ssh ${base.join(' ')} -p ${r.port}`, src, 'pkt-alice@127.0.0.1:p-rsync.txt']);
    let synced = '';
    try { synced = fs.readFileSync(path.join(home, 'p-rsync.txt'), 'utf8'); } catch { /* checked below */ }
    t.check(none(rsync) && synced === copied, 'rsync over ssh copies it, no prompt', h.sshSummary(rsync));
    const many = await Promise.all(Array.from({ length: 20 }, (_, k) => ssh(`par-${k}`, { timeoutMs: 60_000 })));
    t.check(many.every((x) => x.ok), '20 parallel ssh connections, each its own login, no prompt',
      many.map((x) => `${x.res.code}/${x.res.prompts.length}`).join(' '));
    t.measure(`(p2) scp + sftp + rsync + 20 ssh on one window: ${h.ms(h.now() - t0)}`);
    const reused = h.events(from).filter((e) => e.event === 'login_reused' && e.user === 'pkt-alice');
    t.check(reused.length >= 23 && reused.every((e) => e.verdict === 'ok' && h.tokenMatches(e, r.source) && e.service === SERVICE),
      `every login logged login_reused with the approval's token (${reused.length})`, h.eventsSummary(from));
    const approvals = h.events(from).filter((e) => e.event === 'login_approved' && e.user === 'pkt-alice');
    t.check(approvals.length === 0, 'and no browser approval among them', approvals.length);
    const s = sessions();
    const w = s.list && s.list.find((x) => x.id === r.window);
    t.check(w && w.uses >= 23 && w.last_used >= w.opened, `the window counts its uses (${w && w.uses})`, w);
    t.diag(`logins per approval: 1 + ${reused.length} (scp, sftp, rsync, 20 ssh)`);
  });

  T('(p3) from another address (127.0.0.2), with key B, or by sudo (no window for its service), the browser is needed again', 'p', async (t) => {
    needReuse(t);
    const other = await ssh('other-addr', { from: '127.0.0.2' });
    t.check(other.info && other.res.code !== 0, 'key A from 127.0.0.2: a new link', h.sshSummary(other.res));
    const keyB = await ssh('key-b', { key: r.keyB });
    t.check(keyB.info && keyB.res.code !== 0, 'key B from 127.0.0.1: a new link', h.sshSummary(keyB.res));
    let link = null;
    let page = null;
    const sudo = await h.runPamtester('sudo', 'pkt-alice', { onPrompt: async (text, i) => {
      if (i === 0 && (link = h.parsePrompt(text))) page = await h.drivePage(h.alice.ap, link.url, 'deny');
      return '';
    }, timeoutMs: 30_000 });
    t.check(link && page && page.final === 'denied' && sudo.code !== 0,
      'sudo (pam_wrapper, no reuse=) shows a link; denied there, it is not let in', `exit ${sudo.code}; ${short(sudo.output)}`);
    const still = await ssh('still-a');
    t.check(still.ok, 'key A from 127.0.0.1 still gets in on its window', h.sshSummary(still.res));
  });

  T('(p4) `passkeyctl sessions revoke --all` ends the window: the next login needs the browser', 'p', async (t) => {
    needReuse(t);
    const rv = sh(st.bin.passkeyctl, ['--socket', st.socket, 'sessions', 'revoke', '--all', '--user', 'pkt-alice']);
    t.check(rv.code === 0 && /ended 1 re-approval window\b/.test(rv.stdout), 'passkeyctl: ended 1 re-approval window', `${rv.code} ${rv.stdout} ${rv.stderr}`);
    const s = sessions();
    t.check(s.code === 0 && Array.isArray(s.list) && s.list.length === 0, 'none listed any more', s.list);
    const after = await ssh('after-revoke');
    t.check(after.info && after.res.code !== 0, 'key A from 127.0.0.1: a new link', h.sshSummary(after.res));
    const bad = sh(st.bin.passkeyctl, ['--socket', st.socket, 'sessions', 'revoke', '0123456789abcdef']);
    t.check(bad.code !== 0 && /unknown_window|no such re-approval window/.test(bad.stderr), 'revoking an unknown window is a named refusal', `${bad.code} ${bad.stderr}`);
  });

  T(`(p5) a window that ran out (reuse=${SHORT_WINDOW}), or one opened for ${WINDOW} s after the PAM line lowered reuse= to ${SHORT_WINDOW}, lets nobody in: the browser again`, 'p', async (t) => {
    needReuse(t);
    writePam(`reuse=${SHORT_WINDOW}`);
    const first = await ssh('short-approve', { action: 'approve' });
    t.need(first.page && first.page.final === 'approved' && first.res.code === 0, 'approved in Chromium', h.sshSummary(first.res));
    const soon = await ssh('short-soon');
    t.check(soon.ok, 'at once: in on the window', h.sshSummary(soon.res));
    await h.sleep((SHORT_WINDOW + 1.5) * 1000);
    const late = await ssh('short-late');
    t.check(late.info && late.res.code !== 0, `${SHORT_WINDOW + 1.5} s later: a new link`, h.sshSummary(late.res));
    const s = sessions();
    t.check(s.code === 0 && Array.isArray(s.list) && s.list.length === 0, 'no open window is listed', s.list);
    // a setting lowered later shortens the windows already open
    writePam(`reuse=${WINDOW}`);
    const long = await ssh('long-approve', { action: 'approve' });
    t.need(long.page && long.page.final === 'approved' && long.res.code === 0, `approved again, reuse=${WINDOW}`, h.sshSummary(long.res));
    writePam(`reuse=${SHORT_WINDOW}`);
    const lowered = await ssh('lowered-soon');
    t.check(lowered.ok, `reuse lowered to ${SHORT_WINDOW} on the PAM line: at once, still in`, h.sshSummary(lowered.res));
    await h.sleep((SHORT_WINDOW + 1.5) * 1000);
    const after = await ssh('lowered-late');
    t.check(after.info && after.res.code !== 0, `${SHORT_WINDOW + 1.5} s later: a new link, though the window was opened for ${WINDOW} s`, h.sshSummary(after.res));
    writePam(`reuse=${WINDOW}`);
  });

  function short(s, n = 300) { return h.short(s, n); }
}
