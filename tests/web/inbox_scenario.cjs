// The web inbox's browser scenario, run by the end-to-end test
// `web_inbox::a_referral_sent_over_grpc_appears_live_in_the_centres_browser_and_is_answered_there`
// (tests/tests/end_to_end/web_inbox.rs) with headless Chromium driven by
// playwright-core. It talks to the test over stdin/stdout, one JSON object a line:
//   -> {"ready": true}            both centres are signed in, their inboxes live
//   <- {"case_id", "referral_id"} the referral the test just sent over gRPC
//   -> {"seen": referral_id}      it is in centre A's open inbox (the test times it from before the send)
//   -> {"answered": ...}          centre A accepted and took charge in its browser
//   <- {"place": "reserved"}      the test reserved a place for the case in a space A manages
//   -> {"released": true}         A confirmed the arrival, then released the place, in its browser
//   -> {"done": true, ...}        every check passed (exit 0); any failure exits 1
// Environment: GATEWAY_URL, CHROMIUM_BIN, SCREENSHOTS (a directory),
// CENTRE_A_ACCOUNT (the development account's index), CENTRE_B_TOKEN (an
// identity provider's token for the second centre).
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { chromium } = require("playwright-core");

const base = process.env.GATEWAY_URL;
const shots = process.env.SCREENSHOTS;
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const summary = { axe: {}, screenshots: [], api_responses: 0 };
const cspViolations = [];
const pages = [];

function say(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function hear() {
  const { value, done } = await lines.next();
  check(!done, "the test closed stdin");
  return JSON.parse(value);
}

async function shoot(page, name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  summary.screenshots.push(file);
}

// axe-core in the page (evaluated by the driver, not as a page script: the
// page's Content-Security-Policy stays enforced), WCAG 2.1 A/AA and best practices.
async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  summary.axe[name] = {
    violations: result.violations.map((v) => `${v.id} (${v.impact})`),
    serious_or_critical: bad.length,
    passes: result.passes.length,
  };
  check(bad.length === 0, `axe on ${name}: ${JSON.stringify(bad.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target) })))}`);
}

async function centre(browser, name) {
  const context = await browser.newContext({ locale: "it-IT", viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  pages.push([name, page]);
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(`${name}: ${message.text()}`);
  });
  page.on("pageerror", (error) => cspViolations.push(`${name}: page error ${error.message}`));
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith("/web/api/")) {
      summary.api_responses += 1;
      check(/no-store/.test(response.headers()["cache-control"] || ""), `${url.pathname} is not no-store`);
    }
    // No name or value in any URL: paths hold ids only, the query a cursor.
    check(/^\/web\/[A-Za-z0-9/_.-]*$/.test(url.pathname) && /^(\?after=\d+)?$/.test(url.search),
      `unexpected URL ${url.pathname}${url.search}`);
  });
  return { context, page };
}

async function live(page) {
  await page.waitForSelector('#live[data-status="live"]', { timeout: 15000 });
}

async function storageIsEmpty(page, name) {
  const [local, session, cookies] = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  check(local === 0 && session === 0, `${name} keeps data in browser storage`);
  check(!/approdo_session/.test(cookies), `${name}'s session cookie is readable by scripts`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    // Centre A signs in through the development identity provider.
    const a = await centre(browser, "centre A");
    const first = await a.page.goto(`${base}/web/`);
    const headers = first.headers();
    check(/script-src 'self'/.test(headers["content-security-policy"] || "") && !/unsafe-inline/.test(headers["content-security-policy"]),
      `the page's CSP is not strict: ${headers["content-security-policy"]}`);
    check(headers["referrer-policy"] === "no-referrer", "Referrer-Policy is not no-referrer");
    check(headers["x-content-type-options"] === "nosniff", "X-Content-Type-Options is not nosniff");
    await a.page.waitForSelector(`button[data-account="${process.env.CENTRE_A_ACCOUNT}"]`);
    check(await a.page.locator("html").getAttribute("lang") === "it", "the page is not in Italian first");
    await axe(a.page, "sign-in");
    await shoot(a.page, "01-sign-in");
    // Keyboard only: tab to the account's button and press Enter.
    await a.page.focus(`button[data-account="${process.env.CENTRE_A_ACCOUNT}"]`);
    await a.page.keyboard.press("Enter");
    await live(a.page);

    // Centre B signs in with its identity provider's token.
    const b = await centre(browser, "centre B");
    await b.page.goto(`${base}/web/`);
    await b.page.fill("#identity-token", process.env.CENTRE_B_TOKEN);
    await b.page.click("form.action button[type=submit]");
    await live(b.page);
    const inboxB = await b.page.locator("#inbox-rows tr").count();

    say({ ready: true });
    const sent = await hear();
    const started = Date.now();
    const row = `tr[data-referral-id="${sent.referral_id}"]`;
    await a.page.waitForSelector(row, { timeout: 1000 });
    const appearedMs = Date.now() - started;
    say({ seen: sent.referral_id, appeared_ms: appearedMs });
    await a.page.waitForFunction((id) => document.getElementById("announcer").textContent.includes(id), sent.referral_id, { timeout: 2000 });
    await axe(a.page, "inbox");
    await shoot(a.page, "02-inbox-new-referral");

    // Open it by keyboard: focus the row's link, Enter.
    await a.page.focus(`${row} a`);
    await a.page.keyboard.press("Enter");
    await a.page.waitForSelector('#detail-status[data-state="sent"]');
    check(new URL(a.page.url()).hash === `#/cases/${sent.case_id}/referrals/${sent.referral_id}`, `detail URL ${a.page.url()}`);
    check(await a.page.evaluate(() => document.activeElement && document.activeElement.tagName) === "H1", "focus is not on the page's heading");
    const detailText = await a.page.textContent("#main");
    check(detailText.includes("GBV"), `the detail does not show the dataset's categories: ${detailText}`);
    await axe(a.page, "detail");
    await shoot(a.page, "03-detail");

    // The service's field violations appear next to their fields, the first focused.
    await a.page.fill("#decline-redirect", "not an id!");
    await a.page.click('form[data-action="decline"] button[type=submit]');
    await a.page.waitForSelector("#decline-reason-error");
    await a.page.waitForSelector("#decline-redirect-error");
    check(await a.page.getAttribute("#decline-reason", "aria-invalid") === "true", "the reason is not marked invalid");
    check(await a.page.getAttribute("#decline-redirect", "aria-describedby") === "decline-redirect-error", "the redirect's error is not tied to it");
    check(await a.page.evaluate(() => document.activeElement.id) === "decline-reason", "focus is not on the first invalid field");
    check(await a.page.locator('form[data-action="decline"] [role=alert]').count() === 1, "no error summary");
    await axe(a.page, "detail-errors");
    await shoot(a.page, "03b-field-errors");
    await a.page.click('form[data-action="accept"] button[type=submit]');
    await a.page.waitForSelector('#detail-status[data-state="accepted"]');
    // A double click is one action: one request id.
    await a.page.dblclick('form[data-action="take_charge"] button[type=submit]');
    await a.page.waitForSelector('#detail-status[data-state="in_care"]');
    await shoot(a.page, "04-in-care");
    // A decline is no longer possible; holding is.
    check(await a.page.locator('form[data-action="hold"]').count() === 1, "no hold action in care");
    say({ answered: true });

    // The test reserves a place for the case in a space centre A manages: A confirms the arrival, then releases it.
    const placed = await hear();
    check(placed.place === "reserved", "no place reserved");
    await a.page.reload();
    await a.page.waitForSelector('li[data-standing="reserved"] form[data-action="confirm_arrival"]');
    await a.page.click('li[data-standing="reserved"] form[data-action="confirm_arrival"] button[type=submit]');
    await a.page.waitForSelector('li[data-standing="occupying"] form[data-action="release"]');
    await shoot(a.page, "04b-place-occupied");
    await a.page.selectOption('li[data-standing="occupying"] select[name="reason"]', "discharge");
    await a.page.click('li[data-standing="occupying"] form[data-action="release"] button[type=submit]');
    await a.page.waitForSelector("#places-empty");
    say({ released: true });

    // Centre B never sees it: not in its live inbox, not after a reload, not by its URL.
    check(await b.page.locator(row).count() === 0, "centre B's live inbox shows centre A's referral");
    check(await b.page.locator("#inbox-rows tr").count() === inboxB, "centre B's inbox changed");
    await b.page.reload();
    await live(b.page);
    check(await b.page.locator(row).count() === 0, "centre B's inbox shows centre A's referral after a reload");
    await b.page.goto(`${base}/web/#/cases/${sent.case_id}/referrals/${sent.referral_id}`);
    await b.page.waitForSelector("#detail-error");
    check(await b.page.getAttribute("#detail-error", "data-status") === "404", "centre B was not refused the referral");
    check(!(await b.page.textContent("#main")).includes("GBV"), "centre B sees the dataset");
    await shoot(b.page, "05-other-centre-refused");

    // English is one click away, for the whole page.
    await b.page.goto(`${base}/web/#/inbox`);
    await live(b.page);
    await b.page.click("#language");
    await b.page.waitForFunction(() => document.documentElement.lang === "en" && document.querySelector("h1").textContent === "Inbox");
    await axe(b.page, "inbox-english");
    await shoot(b.page, "06-other-centre-english");

    await storageIsEmpty(a.page, "centre A");
    await storageIsEmpty(b.page, "centre B");
    // Signing out ends the session on the server: the inbox answers 401 after it.
    await a.page.click("#sign-out");
    await a.page.waitForSelector(`button[data-account="${process.env.CENTRE_A_ACCOUNT}"]`);
    check(await a.page.evaluate(() => fetch("/web/api/inbox").then((r) => r.status)) === 401, "the session outlived sign-out");
    check(cspViolations.length === 0, `Content-Security-Policy violations or page errors: ${cspViolations.join("; ")}`);
    say({ done: true, appeared_ms: appearedMs, ...summary });
  } catch (error) {
    for (const [name, page] of pages) {
      await shoot(page, `failure-${name.replace(/ /g, "-")}`).catch(() => {});
    }
    throw error;
  } finally {
    await browser.close();
  }
}

const deadline = setTimeout(() => {
  process.stderr.write("the browser scenario took longer than 100 s\n");
  process.exit(2);
}, 100000);

main().then(() => {
  clearTimeout(deadline);
  process.exit(0);
}, (error) => {
  process.stderr.write(`browser scenario failed: ${error.stack || error}\n`);
  process.exit(1);
});
