// MQTT.js inside headless Chromium, for crates/brokkr/tests/transports_ws.rs.
//
//   node mqtt_in_chromium.mjs URL PREFIX [SPKI_SHA256]
//
// Launches Debian's /usr/bin/chromium through playwright-core, opens about:blank, loads the
// MQTT.js browser bundle from node_modules, connects to URL (ws:// or wss://) with MQTT 5,
// subscribes to PREFIX/# (QoS 1) and prints READY once the SUBACK is in, publishes
// "browser-to-broker" to PREFIX/from-browser, and waits until it has received both that
// message and one on PREFIX/from-tcp (which the Rust test publishes with mosquitto_pub after
// READY). Every message the page receives is printed as `GOT topic payload`. Exits 0 when
// both arrived, 1 on any error, 2 when the whole run exceeds 60 s.
//
// wss: the test CA is not in Chromium's trust store, so SPKI_SHA256 (base64 SHA-256 of the
// server key's SubjectPublicKeyInfo) is passed as --ignore-certificate-errors-spki-list,
// which accepts that one server key and nothing else (narrower than
// --ignore-certificate-errors, which would accept any certificate).
//
// Chromium's Local Network Access checks (on by default in recent versions) block a page from
// a public or opaque origin such as about:blank from opening ws://127.0.0.1 and report
// net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS; --disable-features=LocalNetworkAccessChecks
// turns them off. This is a browser policy, not something a broker can answer.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const [url, prefix, spki] = process.argv.slice(2);
if (!url || !prefix) {
  console.error('usage: node mqtt_in_chromium.mjs URL PREFIX [SPKI_SHA256]');
  process.exit(1);
}
const overall = setTimeout(() => {
  console.log('TIMEOUT');
  process.exit(2);
}, 60_000);

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, 'node_modules', 'mqtt', 'dist', 'mqtt.min.js');
const args = ['--disable-features=LocalNetworkAccessChecks'];
if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);

let browser;
let code = 1;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args,
    timeout: 30_000,
  });
  const page = await browser.newPage();
  page.on('console', (msg) => console.error(`page: ${msg.text()}`));
  await page.exposeFunction('report', (line) => console.log(line));
  await page.goto('about:blank');
  await page.addScriptTag({ path: bundle });
  const got = await page.evaluate(
    ({ url, prefix }) =>
      new Promise((resolve, reject) => {
        const seen = new Map();
        const timer = setTimeout(() => reject(new Error('no messages within 30 s')), 30_000);
        const c = mqtt.connect(url, {
          clientId: `chromium-${prefix}`,
          protocolVersion: 5,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
        });
        c.on('error', (e) => {
          clearTimeout(timer);
          reject(new Error(`mqtt error: ${e.message}`));
        });
        c.on('close', () => {
          if (seen.size < 2) reject(new Error('connection closed'));
        });
        c.on('message', (topic, payload) => {
          const text = new TextDecoder().decode(payload);
          window.report(`GOT ${topic} ${text}`);
          seen.set(topic, text);
          if (seen.has(`${prefix}/from-browser`) && seen.has(`${prefix}/from-tcp`)) {
            clearTimeout(timer);
            c.end(false, {}, () => resolve([...seen.entries()]));
          }
        });
        c.on('connect', () => {
          c.subscribe(`${prefix}/#`, { qos: 1 }, (err) => {
            if (err) {
              reject(new Error(`subscribe: ${err.message}`));
              return;
            }
            window.report('READY');
            c.publish(`${prefix}/from-browser`, 'browser-to-broker', { qos: 1 });
          });
        });
      }),
    { url, prefix },
  );
  console.log(`DONE ${got.length}`);
  code = 0;
} catch (e) {
  console.log(`FAIL ${e.message}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  clearTimeout(overall);
}
process.exit(code);
