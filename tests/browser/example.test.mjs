// The example app's flows in a real browser, in both token modes: register,
// me, refresh after the access token expired, logout, login, logout
// everywhere. In cookie mode also: the cookie is httpOnly (no script sees
// it), a reload resumes the session from it, and cross-site pages cannot
// use it.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";

import { eventually, launchBrowser, startApp, startServer, uniqueEmail } from "./harness.mjs";

const PASSWORD = "correct horse battery";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** The newest line of the page's log that starts with `prefix`. */
async function logLine(page, prefix) {
  const line = page.locator("#log li", { hasText: prefix }).first();
  await line.waitFor({ timeout: 10_000 });
  return line.textContent();
}

async function submit(page, action, email) {
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click(`#${action}`);
  await page.locator("#status", { hasText: "signed in" }).waitFor({ timeout: 10_000 });
}

async function status(page) {
  return page.locator("#status").textContent();
}

for (const mode of ["body", "cookie"]) {
  describe(`example app, ${mode} tokens`, () => {
    let server;
    let app;
    before(async () => {
      server = await startServer({
        JWT_ACCESS_EXPIRES: "2s",
        REFRESH_TOKEN_COOKIE: mode === "cookie" ? "on" : "off",
      });
      app = await startApp(server);
    });
    after(async () => {
      await app?.stop();
      await server?.stop();
    });

    test("register, me, refresh, logout, login, logout everywhere", async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${app.url}/?mode=${mode}`);
      await logLine(page, "no session yet");
      assert.equal(await status(page), "signed out");

      const email = uniqueEmail(`example-${mode}`);
      await submit(page, "register", email);
      assert.equal(await status(page), `signed in as ${email}`);
      const refreshToken = await page.evaluate(() => window.authqlExample.auth.session.refreshToken);
      if (mode === "cookie") assert.equal(refreshToken, null, "no refresh token in JavaScript");
      else assert.equal(typeof refreshToken, "string");

      await page.click("#me");
      assert.match(await logLine(page, "me:"), new RegExp(`me: ${email} \\(USER\\)`));

      // The access token lives 2 s: the next `me` needs a refresh first.
      await page.waitForTimeout(2_500);
      await server.sync();
      const before = server.count("refreshed");
      await page.click("#me");
      await page.locator("#log li", { hasText: "me:" }).nth(1).waitFor();
      await server.sync();
      assert.equal(server.count("refreshed"), before + 1);

      await page.click("#logout");
      assert.match(await logLine(page, "logout:"), /logout: true/);
      assert.equal(await status(page), "signed out");
      await page.click("#me");
      assert.match(await logLine(page, "me failed"), /UNAUTHENTICATED/);

      await submit(page, "login", email);
      // A second session of the account, signed in elsewhere.
      await (
        await fetch(`${server.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            query: "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            variables: { i: { email, password: PASSWORD } },
          }),
        })
      ).json();
      await page.click("#logout-all");
      assert.match(await logLine(page, "logout everywhere"), /2 session\(s\) ended/);
      assert.equal(await status(page), "signed out");
      assert.equal(await page.evaluate(() => window.authqlExample.loggedOutCalls()), 0);
      await server.sync();
      assert.equal(server.count("reuse_detected"), 0);
      await context.close();
    });

    if (mode === "cookie") {
      test("the refresh cookie is httpOnly, survives a reload, and logout clears it", async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${app.url}/?mode=cookie`);
        await submit(page, "register", uniqueEmail("cookie"));

        const [cookie] = (await context.cookies()).filter((c) => c.name === "authql_refresh");
        assert.ok(cookie, "the server set the refresh cookie");
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.secure, true);
        assert.equal(cookie.sameSite, "Strict");
        assert.equal(cookie.path, "/graphql");
        assert.doesNotMatch(await page.evaluate(() => document.cookie), /authql_refresh/);

        // A reload forgets the in-memory access token; the cookie brings it back.
        await page.reload();
        await logLine(page, "joined the existing session");
        await page.click("#me");
        await logLine(page, "me:");

        await page.click("#logout");
        assert.match(await logLine(page, "logout:"), /logout: true/);
        const left = (await context.cookies()).filter((c) => c.name === "authql_refresh");
        assert.deepEqual(left, [], "logout cleared the cookie");
        await page.reload();
        await logLine(page, "no session yet");
        await context.close();
      });

      test("cross-site pages cannot use the cookie", async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${app.url}/?mode=cookie`);
        await submit(page, "register", uniqueEmail("csrf"));
        await server.sync();
        const loggedOut = server.count("logged_out");
        const target = `${app.url}/graphql`;

        // Another site (127.0.0.1 is not localhost's site) tries a form
        // post, a GET mutation and a fetch with credentials.
        const evil = http.createServer((req, res) => {
          res.writeHead(200, { "content-type": "text/html" });
          res.end(`<!doctype html>
            <form id="f" method="POST" action="${target}" enctype="text/plain">
              <input name='{"query":"mutation { logout }","x":"' value='"}'>
            </form>
            <img src="${target}?query=${encodeURIComponent("mutation { logout }")}">
            <script>
              fetch(${JSON.stringify(target)}, { method: "POST", credentials: "include", mode: "no-cors",
                headers: { "content-type": "text/plain" }, body: '{"query":"mutation { logout }"}' });
              setTimeout(() => document.getElementById("f").submit(), 300);
            </script>`);
        });
        await new Promise((done) => evil.listen(0, "127.0.0.1", done));
        const evilPage = await context.newPage();
        const seenBefore = app.seen.length;
        await evilPage.goto(`http://127.0.0.1:${evil.address().port}/`);
        await eventually(() => app.seen.length >= seenBefore + 3, 10_000, "the cross-site requests");
        await evilPage.waitForTimeout(300);
        evil.close();

        const crossSite = app.seen.slice(seenBefore).filter((r) => r.site === "cross-site");
        assert.ok(crossSite.length >= 3, JSON.stringify(app.seen.slice(seenBefore)));
        assert.ok(crossSite.every((r) => !r.cookie), "SameSite=Strict kept the cookie home");
        // A logout among them would be in the log once authql has answered them all.
        await eventually(() => app.seen.every((r) => r.answered), 10_000, "authql's answers");
        await server.sync();
        assert.equal(server.count("logged_out"), loggedOut, "nothing was logged out");

        // The session is intact: a refresh with the cookie still works.
        await page.waitForTimeout(2_100);
        await page.click("#me");
        await logLine(page, "me:");
        await context.close();
      });
    }
  });
}
