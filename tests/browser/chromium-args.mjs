// tests/browser/chromium-args.mjs - the one list of headless Chromium flags for
// every script that drives Chromium here (capture, acceptance, demo).
//
// The resolver rule is mandatory: without it Chromium looks up Google hosts,
// and nothing may leave the machine; only localhost and 127.0.0.1 resolve.
export function chromiumArgs() {
  return [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-proxy-server',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1',
  ];
}
