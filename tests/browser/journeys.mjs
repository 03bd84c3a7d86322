// Browser journeys of Regain's pages in headless Chromium (playwright-core
// with Debian's chromium), against a real `regain serve` started by the
// Rust test `browser::pages_work_in_a_real_browser`, which passes:
//   REGAIN_URL       the server's base URL
//   REGAIN_OUTBOX    the file outbox (JSON lines) where codes arrive
//   REGAIN_SHOTS     where to write the screenshots
//   REGAIN_TEMP_PW   the temporary password an administrator set for "acme/temp"
//   CHROMIUM         the browser (default /usr/bin/chromium)
// Exits non-zero, naming the step, on the first failed expectation.

import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const base = process.env.REGAIN_URL;
const outbox = process.env.REGAIN_OUTBOX;
const shots = process.env.REGAIN_SHOTS;
const tempPassword = process.env.REGAIN_TEMP_PW;
const NEW_PASSWORD = "Harbor-lights-2077";

function expect(ok, what) {
  if (!ok) {
    throw new Error(`expected: ${what}`);
  }
}

async function messagesTo(to) {
  if (!fs.existsSync(outbox)) return [];
  return fs
    .readFileSync(outbox, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((m) => m.to === to);
}

// Waits for message number `n` to `to` and returns its code.
async function codeFor(to, n) {
  for (let i = 0; i < 100; i++) {
    const all = await messagesTo(to);
    if (all.length >= n) {
      const m = all[n - 1].body.match(/(?:code is|验证码是) (\d{6})/);
      expect(m, `a code in the message to ${to}`);
      return m[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected: message ${n} to ${to}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

// The forgot-password journey by email code, in `lang`, at `width` pixels.
async function forgotJourney(browser, { lang, width, account, email, javaScript }) {
  const context = await browser.newContext({
    viewport: { width, height: 800 },
    locale: lang === "zh-CN" ? "zh-CN" : "en-US",
    javaScriptEnabled: javaScript,
  });
  const page = await context.newPage();
  const tag = `${lang}-${width}${javaScript ? "" : "-nojs"}`;
  const sent = (await messagesTo(email)).length;

  await page.goto(`${base}/t/acme/login`);
  expect((await page.getAttribute("html", "lang")) === lang, `the page speaks ${lang}`);
  await page.click(`a[href="/t/acme/forgot"]`);
  await shot(page, `${tag}-1-identifier`);
  await page.fill("#identifier", account);
  await page.click("button[type=submit]");

  expect(page.url().endsWith("/forgot/method"), `${tag}: the method step (${page.url()})`);
  expect(!page.url().includes("flow"), "no flow id in the URL");
  await shot(page, `${tag}-2-method`);
  await page.click("button[type=submit]");

  expect(page.url().endsWith("/forgot/code"), `${tag}: the code step`);
  await shot(page, `${tag}-3-code`);
  const code = await codeFor(email, sent + 1);
  const wrong = code === "000000" ? "111111" : "000000";
  await page.fill("#code", wrong);
  await page.click("form[action$='/forgot/code'] button[type=submit]");
  const alert = page.locator("[role=alert]");
  expect(await alert.isVisible(), `${tag}: a wrong code is announced`);
  const wrongText = lang === "zh-CN" ? "验证码错误" : "The code is wrong";
  expect((await alert.textContent()).includes(wrongText), `${tag}: it says the code is wrong`);
  if (javaScript) {
    expect(
      await page.evaluate(() => document.activeElement && document.activeElement.id === "errors"),
      `${tag}: focus moves to the error`,
    );
  }
  await page.fill("#code", code);
  await page.click("form[action$='/forgot/code'] button[type=submit]");

  expect(page.url().endsWith("/forgot/password"), `${tag}: the password step`);
  await page.fill("#new_password", "short");
  await page.fill("#confirm_password", "short");
  if (javaScript) {
    const minRule = page.locator(".checklist li[data-rule=min]");
    expect(!(await minRule.getAttribute("class") || "").includes("ok"), `${tag}: the checklist shows the length unmet`);
    await page.fill("#new_password", NEW_PASSWORD);
    await page.fill("#confirm_password", NEW_PASSWORD);
    expect((await minRule.getAttribute("class") || "").includes("ok"), `${tag}: the checklist ticks as you type`);
    await shot(page, `${tag}-4-password`);
    await page.fill("#new_password", "short");
    await page.fill("#confirm_password", "short");
  }
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/forgot/password"), `${tag}: the server refuses a short password`);
  expect(await page.locator("[role=alert]").isVisible(), `${tag}: and says why`);
  await page.fill("#new_password", NEW_PASSWORD);
  await page.fill("#confirm_password", NEW_PASSWORD);
  await page.click("button[type=submit]");

  expect(page.url().endsWith("/forgot/done"), `${tag}: done`);
  await shot(page, `${tag}-5-done`);
  await page.click(`a[href="/t/acme/login"]`);
  await page.fill("#identifier", account);
  await page.fill("#password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/t/acme/home"), `${tag}: logged in with the new password`);
  expect((await page.textContent("#who")) === account, `${tag}: as ${account}`);
  await context.close();
}

// Security questions, set through the API, answered in the wizard: a
// wrong set first, then the right one typed differently.
async function questionsJourney(browser) {
  const login = await fetch(`${base}/api/v1/t/acme/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identifier: "acme/q1", password: "Old-pass-word-1" }),
  }).then((r) => r.json());
  const set = await fetch(`${base}/api/v1/t/acme/accounts/${login.account.id}/security-questions`, {
    method: "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${login.token}` },
    body: JSON.stringify({ questions: [
      { question: "First pet?", answer: "Rex" },
      { question: "Home town?", answer: "Lanzhou" },
    ] }),
  });
  expect(set.status === 200, "questions set through the API");
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/forgot`);
  await page.fill("#identifier", "acme/q1");
  await page.click("button[type=submit]");
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/forgot/answers"), "questions: the answers step");
  await shot(page, "en-1280-answers");
  const labels = await page.locator("label").allTextContents();
  const answer = (q, right) => (q.includes("pet") ? (right ? "  rex " : "Tom") : (right ? "LANZHOU" : "Xian"));
  await page.fill("#answer_0", answer(labels[0], false));
  await page.fill("#answer_1", answer(labels[1], false));
  await page.click("button[type=submit]");
  expect((await page.locator("[role=alert]").textContent()).includes("answers do not match"), "questions: a wrong set is refused");
  await page.fill("#answer_0", answer(labels[0], true));
  await page.fill("#answer_1", answer(labels[1], true));
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/forgot/password"), "questions: the password step");
  await page.fill("#new_password", NEW_PASSWORD);
  await page.fill("#confirm_password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/forgot/done"), "questions: done");
  await context.close();
}

// An administrator's reset link (sent before the browser starts) opens the
// password step; the secret leaves the address bar at once.
async function resetLinkJourney(browser) {
  const [mail] = await messagesTo("l1@acme.example");
  expect(mail, "the reset link was sent");
  const m = mail.body.match(/https?:\/\/\S+?(\/t\/acme\/reset#flow=[\w-]+&token=[\w-]+)/);
  expect(m, "a reset link in the message");
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}${m[1]}`);
  await page.waitForURL(/\/forgot\/password$/);
  expect(!page.url().includes("token"), "the token is gone from the address bar");
  await page.fill("#new_password", NEW_PASSWORD);
  await page.fill("#confirm_password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/forgot/done"), "reset link: done");
  await page.goto(`${base}${m[1]}`);
  await page.waitForLoadState("networkidle");
  expect(!page.url().endsWith("/forgot/password"), "the link works once");
  await context.close();
}

// Polls the outbox until a message to `to` says `text`.
async function waitForMessage(to, text) {
  for (let i = 0; i < 100; i++) {
    const found = (await messagesTo(to)).find((m) => m.body.includes(text));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected: a message to ${to} saying ${text}`);
}

async function alertText(page) {
  const alert = page.locator("[role=alert]");
  return (await alert.count()) ? alert.textContent() : "no error shown";
}

async function logIn(context, who, password) {
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/login`);
  await page.fill("#identifier", who);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/t/acme/home"), `${who} is signed in`);
  return page;
}

// The front page names no tenant; the tenant's accent colour and logo
// come from its settings, through a style sheet (no inline style).
async function frontAndBranding(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  expect((await page.locator("h1").textContent()).includes("Regain"), "the front page");
  expect((await page.locator("a[href^='/t/']").count()) === 0, "the front page lists no tenant (no demo here)");
  await page.goto(`${base}/t/acme/login`);
  expect((await page.locator("link[href='/t/acme/theme.css']").count()) === 1, "the tenant's theme is linked");
  const accent = await page.evaluate(() => getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor);
  expect(accent === "rgb(122, 46, 138)", `buttons take the tenant's accent, got ${accent}`);
  const logo = await page.evaluate(() => document.querySelector("img.logo")?.naturalWidth);
  expect(logo === 1, "the tenant's logo is shown");
  await shot(page, "en-1280-login-branded");
  await context.close();
}

// Forgot username: the names go to the verified contact; the page says
// the same for a contact no account uses.
async function usernameJourney(browser) {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/login`);
  await page.click(`a[href="/t/acme/forgot-username"]`);
  await shot(page, "en-360-forgot-username");
  await page.fill("#contact", "someone@");
  await page.click("button[type=submit]");
  expect((await page.locator("[role=alert]").textContent()).includes("not an email address"), "a malformed contact is refused");
  await page.fill("#contact", "u1@acme.example");
  await page.click("button[type=submit]");
  const sent = await page.locator("h1").textContent();
  expect(sent.includes("Check your messages"), "the reminder was accepted");
  await waitForMessage("u1@acme.example", "acme/u1");
  await page.goto(`${base}/t/acme/forgot-username`);
  await page.fill("#contact", "nobody@acme.example");
  await page.click("button[type=submit]");
  expect((await page.locator("h1").textContent()) === sent, "an unused contact gets the same answer");
  await context.close();
}

// The manual appeal: the form (an error first), the contact's code (a
// wrong one first), then the status page. Returns the context so the
// support journey can come back to the status.
async function appealJourney(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/forgot`);
  await page.click(`a[href="/t/acme/appeal"]`);
  await shot(page, "en-1280-appeal-form");
  await page.fill("#identifier", "acme/ap1");
  await page.fill("#contact", "ap1-new@acme.example");
  await page.click("button[type=submit]");
  expect((await page.locator("[role=alert]").textContent()).includes("Describe what happened"), "a description is required");
  expect((await page.inputValue("#contact")) === "ap1-new@acme.example", "the form keeps what was typed");
  await page.fill("#description", "My phone was stolen and the mailbox closed.");
  await page.fill("#evidence", "Invoice 2026-0117");
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/t/acme/appeal/confirm"), "the appeal asks for the contact's code");
  const code = await codeFor("ap1-new@acme.example", 1);
  await page.fill("#code", code === "000000" ? "111111" : "000000");
  await page.click("button[type=submit]");
  expect((await page.locator("[role=alert]").textContent()).includes("The code is wrong"), "a wrong appeal code is refused");
  await page.fill("#code", code);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/t/acme/appeal/status"), "the status page");
  expect((await page.getAttribute("#appeal_state", "data-state")) === "open", "the appeal waits for review");
  // Evidence: a real picture is attached; a text file calling itself a
  // picture is refused by its bytes.
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
  await page.setInputFiles("#file", { name: "id-card.png", mimeType: "image/png", buffer: png });
  await page.click("form[action$='/appeal/files'] button[type=submit]");
  expect((await page.locator("#files").textContent()).includes("id-card.png"), `the file is attached: ${await alertText(page)}`);
  await page.setInputFiles("#file", { name: "notes.png", mimeType: "image/png", buffer: Buffer.from("just text") });
  await page.click("form[action$='/appeal/files'] button[type=submit]");
  expect((await alertText(page)).includes("PNG or JPEG"), "a file that is not what it claims is refused");
  await shot(page, "en-1280-appeal-status");
  return { context, page };
}

// Settings: security questions, an emergency contact confirmed by its
// code, and signing out the other session.
async function settingsJourney(browser) {
  const elsewhere = await browser.newContext();
  const other = await logIn(elsewhere, "acme/s1", "Old-pass-word-1");
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await logIn(context, "acme/s1", "Old-pass-word-1");
  await page.click(`a[href="/t/acme/settings"]`);
  expect((await page.locator("#sessions tbody tr").count()) === 2, "two sessions are listed");
  await shot(page, "en-1280-settings");
  await page.fill("#question_0", "First school?");
  await page.fill("#answer_0", "Riverside Primary");
  await page.fill("#question_1", "First pet?");
  await page.fill("#answer_1", "Biscuit the cat");
  await page.click("form[action$='/settings/questions'] button[type=submit]");
  expect((await page.locator("#done").textContent()).includes("saved"), "the questions were saved");
  expect((await page.inputValue("#question_1")) === "First pet?", "the questions are shown back");
  expect((await page.inputValue("#answer_1")) === "", "answers are never shown back");
  await page.fill("#contact_name", "Mum");
  await page.fill("#contact_value", "mum@family.example");
  await page.click("form[action$='/settings/contacts'] button[type=submit]");
  expect((await page.locator("#done").textContent()).includes("sent a code"), "the contact was added");
  const code = await codeFor("mum@family.example", 1);
  await page.fill("#contacts input[name=code]", code);
  await page.click("#contacts form[action$='/contacts/confirm'] button[type=submit]");
  expect((await page.locator("#contacts").textContent()).includes("confirmed"), "the contact is confirmed");
  await page.click("form[action$='/sessions/others'] button[type=submit]");
  expect((await page.locator("#sessions tbody tr").count()) === 1, "only this session is left");
  await other.goto(`${base}/t/acme/settings`);
  expect(other.url().endsWith("/t/acme/login"), "the other session was signed out");
  await elsewhere.close();
  await context.close();
}

// The admin console: filter, a sub-tree policy, a sub-account created with
// a temporary password shown once (the policy shows on its forced change),
// resets by temporary password and by link, disabling, the audit log.
async function adminJourney(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await logIn(context, "acme", "Root-pass-word-1");
  await page.click(`a[href="/t/acme/admin"]`);
  expect((await page.locator("#accounts tbody tr").count()) > 5, "the console lists the sub-accounts");
  await shot(page, "en-1280-admin");
  await page.fill("#q", "adm1");
  await page.click("form[role=search] button[type=submit]");
  expect((await page.locator("#accounts tbody tr").count()) === 1, "the filter keeps one account");

  // A department, its policy, and a new account inside it.
  await page.goto(`${base}/t/acme/admin`);
  await page.fill("#new_username", "dept");
  await page.check("input[name=role][value=admin]");
  await page.click("form[action$='/admin/create'] button[type=submit]");
  expect((await page.locator("#done").textContent()).includes("acme/dept"), `the department was created: ${await alertText(page)}`);
  await page.click("#accounts tr[data-account='acme/dept'] a.open");
  expect((await page.locator("#under_name").textContent()) === "acme/dept", "the console opened the department");
  await page.click("#policy_link");
  await page.fill("#p_min_length", "16");
  await page.fill("#p_weak_keywords", "acme\nharbor");
  await page.click("button[type=submit]");
  expect((await page.locator("#done").count()) === 1, `the policy was saved: ${await alertText(page)}`);
  const row = await page.locator("#policy tr", { hasText: "Minimum length" }).textContent();
  expect(row.includes("16") && row.includes("here"), `the policy in force shows the new minimum, set here: ${row}`);
  await shot(page, "en-1280-admin-policy");
  await page.fill("#p_min_length", "2000");
  await page.click("button[type=submit]");
  expect((await page.locator("[role=alert]").count()) === 1, "an impossible policy is refused");
  await page.click(`a[href^="/t/acme/admin?under="]`);
  await page.fill("#new_username", "newbie");
  await page.fill("#new_email", "newbie@acme.example");
  await page.click("form[action$='/admin/create'] button[type=submit]");
  const secret = (await page.locator("#secret").textContent()).trim();
  expect(secret.length >= 16, "the generated temporary password is shown once");
  await shot(page, "en-1280-admin-created");
  await page.reload();
  expect((await page.locator("#secret").count()) === 0, "and not again");
  const first = await browser.newContext();
  const newbie = await first.newPage();
  await newbie.goto(`${base}/t/acme/login`);
  await newbie.fill("#identifier", "acme/dept/newbie");
  await newbie.fill("#password", secret);
  await newbie.click("button[type=submit]");
  expect(newbie.url().endsWith("/t/acme/password"), "the new account must change its password");
  const rules = await newbie.locator(".checklist").textContent();
  expect(rules.includes("16"), `the sub-tree's policy is the one shown: ${rules}`);
  await first.close();

  await page.goto(`${base}/t/acme/admin`);
  const adm1 = page.locator("#accounts tr[data-account='acme/adm1']");
  await adm1.locator("form:has(input[value=link]) button").click();
  expect((await page.locator("#done").textContent()).includes("a***"), "the link went to the masked contact");
  await waitForMessage("adm1@acme.example", "/t/acme/reset#");
  await page.locator("#accounts tr[data-account='acme/adm1'] form:has(input[value=temporary]) button").click();
  expect((await page.locator("#secret").count()) === 1, "a temporary password is shown");
  await page.locator("#accounts tr[data-account='acme/adm1'] form[action$='/admin/disable'] button").click();
  expect((await page.locator("#accounts tr[data-account='acme/adm1']").textContent()).includes("disabled"), "the account is disabled");

  await page.goto(`${base}/t/acme/admin/audit?action=password.admin_reset`);
  const events = await page.locator("#audit tbody tr").count();
  expect(events >= 3, `the audit log shows the resets, found ${events}`);
  await shot(page, "en-1280-admin-audit");
  await context.close();
}

// The support console: the appeal filed earlier is claimed and approved;
// the person's status page says so, and the link in the message sets a
// new password for the account.
async function supportJourney(browser, appeal) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await logIn(context, "acme/sup", "Old-pass-word-1");
  await page.click(`a[href="/t/acme/support"]`);
  const card = page.locator("article.appeal", { hasText: "acme/ap1" });
  expect((await card.count()) === 1, "the appeal is in the queue");
  expect((await card.textContent()).includes("Invoice 2026-0117"), "with its evidence");
  const file = card.locator("a[download]", { hasText: "id-card.png" });
  const download = await page.request.get(`${base}${await file.getAttribute("href")}`);
  expect(download.status() === 200 && download.headers()["content-type"] === "image/png", "support downloads the attachment");
  await shot(page, "en-1280-support");
  await card.locator("button[value=claim]").click();
  expect((await page.locator("#done").count()) === 1, "claimed");
  await page.goto(`${base}/t/acme/support?state=claimed`);
  const claimed = page.locator("article.appeal", { hasText: "acme/ap1" });
  await claimed.locator("button[value=approve]").click();
  expect((await page.locator("#done").textContent()).includes("Approved"), "approved");
  await context.close();

  await appeal.page.reload();
  expect((await appeal.page.getAttribute("#appeal_state", "data-state")) === "approved", "the person sees the approval");
  const mail = await waitForMessage("ap1-new@acme.example", "/t/acme/reset#");
  const link = mail.body.match(/https?:\/\/\S+?(\/t\/acme\/reset#flow=[\w-]+&token=[\w-]+)/);
  expect(link, "the approval's reset link");
  await appeal.page.goto(`${base}${link[1]}`);
  await appeal.page.waitForURL(/\/forgot\/password$/);
  await appeal.page.fill("#new_password", NEW_PASSWORD);
  await appeal.page.fill("#confirm_password", NEW_PASSWORD);
  await appeal.page.click("button[type=submit]");
  expect(appeal.page.url().endsWith("/forgot/done"), "the appeal's reset is done");
  const after = await browser.newContext();
  await logIn(after, "ap1-new@acme.example", NEW_PASSWORD);
  await after.close();
}

// Picks the offered method whose label says `text`.
async function chooseMethod(page, text) {
  const choice = page.locator("label.choice", { hasText: text });
  expect((await choice.count()) >= 1, `the method "${text}" is offered`);
  await choice.first().locator("input").check();
  await page.click("form[action$='/forgot/method'] button[type=submit]");
}

async function setNewPassword(page, what) {
  await page.waitForURL(/\/forgot\/password$/);
  await page.fill("#new_password", NEW_PASSWORD);
  await page.fill("#confirm_password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/forgot/done"), `${what}: done`);
}

// An employee asks the administrator; the waiting page looks again by
// itself and goes on once the administrator approves in the console.
async function approvalJourney(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/forgot`);
  await page.fill("#identifier", "acme/b1");
  await page.click("button[type=submit]");
  await chooseMethod(page, "Ask your administrator");
  expect(page.url().endsWith("/forgot/wait"), "the waiting step");
  expect((await page.locator("#wait_hint").textContent()).includes("***"), "the administrator's name is masked");
  await shot(page, "en-1280-wait-approval");
  const admin = await browser.newContext();
  const console = await logIn(admin, "acme", "Root-pass-word-1");
  await console.goto(`${base}/t/acme/admin`);
  const request = console.locator("#approvals tr[data-account='acme/b1']");
  expect((await request.count()) === 1, "the request waits in the console");
  await request.locator("button[value=approve]").click();
  expect((await console.locator("#done").textContent()).includes("Approved"), "approved in the console");
  await admin.close();
  await setNewPassword(page, "admin approval");
  await context.close();
}

// An individual signs in at the external identity provider, whose verified
// identity matches the account's record; the provider sends the browser
// back into the wizard. Then the same person links that account from the
// settings.
async function externalIdentityJourney(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/forgot`);
  await page.fill("#identifier", "indy");
  await page.click("button[type=submit]");
  await chooseMethod(page, "Sign in with your verified account");
  expect(page.url().endsWith("/forgot/wait"), "the external step");
  await shot(page, "en-1280-wait-external");
  await page.click("#external");
  await setNewPassword(page, "external identity");
  const settings = await logIn(context, "indy", NEW_PASSWORD);
  await settings.goto(`${base}/t/acme/settings`);
  await settings.click("form[action$='/identities/link'] button[type=submit]");
  await settings.click(".links a");
  await settings.waitForURL(/\/settings\?done=identity_linked$/);
  expect((await settings.locator("#identities").textContent()).includes("http://127.0.0.1"), "the linked provider is listed");
  await context.close();
}

// The built-in CAPTCHA: a picture with a refresh button (shown by the
// script), a wrong answer refused with a new picture; without JavaScript
// the button stays hidden and the form still works.
async function captchaJourney(browser) {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/shop/forgot`);
  const first = await page.getAttribute("#captcha_image", "src");
  expect(first.startsWith("data:image/"), "a CAPTCHA picture");
  const id = await page.inputValue("#captcha_id");
  await shot(page, "en-360-captcha");
  const refresh = page.locator("[data-captcha-refresh]");
  expect(await refresh.isVisible(), "the refresh button is shown with JavaScript");
  await refresh.click();
  await page.waitForFunction((old) => document.getElementById("captcha_id").value !== old, id);
  expect((await page.getAttribute("#captcha_image", "src")) !== first, "a new picture");
  await page.fill("#identifier", "someone");
  await page.fill("#captcha_answer", "wrong");
  await page.click("button[type=submit]");
  expect((await page.locator("[role=alert]").textContent()).includes("do not match the picture"), "a wrong answer is refused");
  expect((await page.inputValue("#captcha_id")) !== id, "with a new picture");
  await context.close();
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const nojs = await plain.newPage();
  await nojs.goto(`${base}/t/shop/forgot`);
  expect(!(await nojs.locator("[data-captcha-refresh]").isVisible()), "no refresh button without JavaScript");
  await plain.close();
}

// The face check: the wizard links to the KYC provider's page; the
// provider posts its signed result to Regain; back in the wizard, the
// waiting step goes on to the new password.
async function faceJourney(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/forgot`);
  await page.fill("#identifier", "facey");
  await page.click("button[type=submit]");
  await chooseMethod(page, "A face check");
  expect(page.url().endsWith("/forgot/wait"), "the face step");
  await page.click("form[action$='/forgot/wait'] button[type=submit]");
  expect((await page.locator("#still").count()) === 1, "before the check, Continue says there is no answer yet");
  await page.click("#external");
  expect((await page.textContent("body")).includes("check done (204)"), "the provider's result was accepted");
  // Back at the waiting step, it sees the answer came and goes on.
  await page.goto(`${base}/t/acme/forgot/wait`);
  await setNewPassword(page, "face check");
  await context.close();
}

// An administrator's temporary password must be changed at the next log on.
async function forcedChange(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/login`);
  await page.fill("#identifier", "acme/temp");
  await page.fill("#password", tempPassword);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/t/acme/password"), "the forced change page");
  await shot(page, "en-1280-forced-change");
  await page.fill("#current_password", tempPassword);
  await page.fill("#new_password", NEW_PASSWORD);
  await page.fill("#confirm_password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/t/acme/home"), "changed, then in");
  await context.close();
}

// axe-core on each page a person meets: no serious or critical violation.
// (The context bypasses the CSP only to inject the checker itself.)
async function accessibility(browser) {
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const axe = new URL("./node_modules/axe-core/axe.min.js", import.meta.url).pathname;
  const check = async (what) => {
    await page.addScriptTag({ path: axe });
    const result = await page.evaluate(() => window.axe.run({ runOnly: ["wcag2a", "wcag2aa"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.length === 0, `${what}: no serious accessibility violation, found ${JSON.stringify(bad.map((v) => [v.id, v.nodes.map((n) => n.target)]))}`);
  };
  await page.goto(`${base}/t/acme/login`);
  await check("login");
  await page.fill("#identifier", "nobody");
  await page.fill("#password", "wrong-password");
  await page.click("button[type=submit]");
  await check("login with an error");
  await page.goto(`${base}/t/acme/forgot`);
  await check("forgot: identifier");
  const sent = (await messagesTo("a6@acme.example")).length;
  await page.fill("#identifier", "acme/a6");
  await page.click("button[type=submit]");
  await check("forgot: method");
  await page.click("button[type=submit]");
  await check("forgot: code");
  const code = await codeFor("a6@acme.example", sent + 1);
  await page.fill("#code", code);
  await page.click("form[action$='/forgot/code'] button[type=submit]");
  await check("forgot: new password");
  for (const url of ["/", "/t/acme/forgot-username", "/t/acme/appeal"]) {
    await page.goto(`${base}${url}`);
    await check(url);
  }
  await page.goto(`${base}/t/acme/login`);
  await page.fill("#identifier", "acme/s2");
  await page.fill("#password", "Old-pass-word-1");
  await page.click("button[type=submit]");
  await page.goto(`${base}/t/acme/settings`);
  await check("settings");
  for (const [who, password, urls] of [
    ["acme", "Root-pass-word-1", ["/t/acme/admin", "/t/acme/admin/audit"]],
    ["acme/sup", "Old-pass-word-1", ["/t/acme/support", "/t/acme/support?state=approved"]],
  ]) {
    await page.context().clearCookies();
    await page.goto(`${base}/t/acme/login`);
    await page.fill("#identifier", who);
    await page.fill("#password", password);
    await page.click("button[type=submit]");
    for (const url of urls) {
      await page.goto(`${base}${url}`);
      await check(url);
    }
    if (who === "acme") {
      await page.goto(`${base}/t/acme/admin`);
      await page.click("#accounts tr[data-account='acme/dept'] a.open");
      await page.click("#policy_link");
      await check("admin: policy");
    }
  }
  await context.close();
}

// A form posted without its CSRF token is refused.
async function csrf(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/t/acme/login`);
  await page.evaluate(() => {
    document.querySelector("input[name=csrf]").value = "forged";
  });
  await page.fill("#identifier", "acme/a1");
  await page.fill("#password", NEW_PASSWORD);
  await page.click("button[type=submit]");
  expect(page.url().endsWith("/t/acme/login"), "a forged CSRF token does not log in");
  expect((await page.locator("[role=alert]").textContent()).includes("The form expired"), "and says the form expired");
  await context.close();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
let failed = null;
try {
  await forgotJourney(browser, { lang: "en", width: 1280, account: "acme/a1", email: "a1@acme.example", javaScript: true });
  await forgotJourney(browser, { lang: "en", width: 360, account: "acme/a2", email: "a2@acme.example", javaScript: true });
  await forgotJourney(browser, { lang: "zh-CN", width: 1280, account: "acme/a3", email: "a3@acme.example", javaScript: true });
  await forgotJourney(browser, { lang: "zh-CN", width: 360, account: "acme/a4", email: "a4@acme.example", javaScript: true });
  await forgotJourney(browser, { lang: "en", width: 1280, account: "acme/a5", email: "a5@acme.example", javaScript: false });
  await questionsJourney(browser);
  await resetLinkJourney(browser);
  await forcedChange(browser);
  await frontAndBranding(browser);
  await captchaJourney(browser);
  await usernameJourney(browser);
  await settingsJourney(browser);
  await adminJourney(browser);
  await approvalJourney(browser);
  await externalIdentityJourney(browser);
  await faceJourney(browser);
  const appeal = await appealJourney(browser);
  await supportJourney(browser, appeal);
  await appeal.context.close();
  await accessibility(browser);
  await csrf(browser);
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}
if (failed) {
  console.error(failed.stack || String(failed));
  process.exit(1);
}
console.log("browser journeys: all passed");
