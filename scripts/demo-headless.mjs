#!/usr/bin/env node
// The headless half of scripts/demo.sh: one Chromium with a virtual
// authenticator registers a passkey at the enrollment link, then the stock
// ssh client logs in and the same authenticator approves the link the PAM
// module shows.  Prints each step.  Loopback only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';
import { chromiumArgs } from '../tests/browser/chromium-args.mjs';

// --enroll-url U (optional): register a passkey there first; then one ssh login per
// --ssh-port, in order, each approving whatever link its prompt shows (a first login's
// registration, or a login).
const usageExit = () => {
  console.error('usage: demo-headless.mjs [--enroll-url U] --ssh-port P [--ssh-port P2 ...] --user U --askpass F --workdir D');
  process.exit(2);
};
const argAll = (name) => process.argv.flatMap((a, i) => (a === `--${name}` && i + 1 < process.argv.length ? [process.argv[i + 1]] : []));
const arg = (name, optional = false) => {
  const v = argAll(name)[0];
  if (v === undefined && !optional) usageExit();
  return v;
};
const enrollUrl = arg('enroll-url', true), sshPorts = argAll('ssh-port'), user = arg('user');
const askpass = arg('askpass'), workdir = arg('workdir');
if (!sshPorts.length) usageExit();
const say = (s) => console.log(`   ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


const visibleText = (page, sel) => page.evaluate((s) => {
  const e = document.querySelector(s);
  return e && !e.closest('[hidden]') ? e.textContent.trim().replace(/\s+/g, ' ') : null;
}, sel);

// atLogin: a registration that an SSH login asked for, whose page must say
// that registering approves that login too.
async function approve(page, url, what, { atLogin = false } = {}) {
  await page.goto(url);
  await page.waitForSelector('#state[data-state=ready]', { timeout: 10_000 });
  say(`page shows: ${(await page.textContent('#lead')).trim().replace(/\s+/g, ' ')}; code ${await page.textContent('#code')}`);
  const remaining = await visibleText(page, '#remaining');
  say(`page: expires in ${remaining}`);
  // an hour or more reads as hours ("23 h 59 min"), never as "1439:59"
  if (!/^(\d+ h \d\d min|[0-5]?\d:\d\d)$/.test(remaining || ''))
    throw new Error(`${what}: the page's time left reads "${remaining}"`);
  const note = await visibleText(page, '#also-login');
  if (note) say(`page says: ${note}`);
  if (atLogin !== !!note)
    throw new Error(`${what}: the page ${atLogin ? 'does not say' : 'says'} that registering approves a waiting login`);
  await page.click('#approve');
  await page.waitForSelector('#state:is([data-state=approved],[data-state=failed],[data-state=error],[data-state=cancelled])', { timeout: 15_000 });
  const state = await page.getAttribute('#state', 'data-state');
  say(`${what}: page state "${state}": ${await visibleText(page, '#state-detail')}`);
  if (state !== 'approved') throw new Error(`${what} did not succeed: ${state}`);
  // a final page offers nothing to press
  if (await visibleText(page, '#actions') !== null || await visibleText(page, '#foot') !== null)
    throw new Error(`${what}: the final page still shows its buttons or its footer`);
}

// One stock ssh login; the link its first prompt shows is approved in page. 0 on success.
async function sshLogin(page, sshPort) {
  const askdir = fs.mkdtempSync(path.join(workdir, 'askpass.'));
  say(`running: ssh -p ${sshPort} ${user}@localhost echo ... (answers come through SSH_ASKPASS)`);
  const ssh = spawn('setsid', ['-w', 'ssh', '-p', sshPort, '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PreferredAuthentications=keyboard-interactive',
    '-o', 'LogLevel=ERROR', `${user}@localhost`, 'echo "logged in as $(whoami) on $(hostname) with a passkey"'],
    { env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', PKT_ASKPASS_DIR: askdir, DISPLAY: ':0' },
      stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  ssh.stdout.on('data', (d) => { out += d; });
  ssh.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => ssh.on('exit', (code) => r(code)));

  let done = false;
  const seen = new Set();
  exited.then(() => { done = true; });
  while (!done) {
    for (const f of fs.readdirSync(askdir).filter((n) => n.startsWith('prompt.') && !seen.has(n))) {
      seen.add(f);
      const prompt = fs.readFileSync(path.join(askdir, f), 'utf8');
      const url = prompt.split('\n').find((l) => /^https?:\/\/\S+$/.test(l.trim()));
      say('the terminal prompt:');
      prompt.split('\n').filter((l) => !/[\u2580-\u2588]/.test(l)).forEach((l) => say(`  | ${l}`));
      if (url && seen.size === 1)
        await approve(page, url.trim(), /\/r\//.test(url) ? 'first login: registration' : 'login approval',
          { atLogin: /\/r\//.test(url) });
      say('pressing Enter in the terminal');
      const id = f.slice('prompt.'.length);
      fs.writeFileSync(path.join(askdir, `.a${id}`), '\n');
      fs.renameSync(path.join(askdir, `.a${id}`), path.join(askdir, `answer.${id}`));
    }
    await sleep(50);
  }
  const code = await exited;
  out.trim().split('\n').forEach((l) => say(`ssh: ${l}`));
  say(`ssh exited with ${code}`);
  return code === 0 && out.includes('with a passkey') ? 0 : 1;
}

const profile = fs.mkdtempSync(path.join(workdir, 'chromium.'));
let rc = 1, ctx = null;
// every failure is one line, and demo.sh goes on to its summary
try {
  ctx = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: chromiumArgs() });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', transport: 'internal',
    hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true } });
  say('Chromium started with a virtual platform authenticator (user verification on)');
  if (enrollUrl) await approve(page, enrollUrl, 'registration');
  rc = 0;
  for (const sshPort of sshPorts)
    if ((await sshLogin(page, sshPort)) !== 0) rc = 1;
} catch (e) {
  console.error(`demo: ${String((e && e.message) || e).split('\n')[0]}`);
} finally {
  if (ctx) await ctx.close().catch(() => {});
}
process.exit(rc);
