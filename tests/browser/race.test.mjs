// The refresh race: 10 tabs of one origin share one session whose access
// token lives 2 s, and each fires `me` queries back to back. With the
// kit's coordination no refresh token is ever presented twice: no
// `reuse_detected` in the server's audit events, no lost session, no
// failed query. The same tabs without the coordination (each refreshing on
// its own) trip reuse detection, which proves the test can fail.
//
// RACE_SECONDS sets the length of the coordinated runs (default 30).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { launchBrowser, startApp, startServer, uniqueEmail } from "./harness.mjs";

const TABS = 10;
const LOOPS_PER_TAB = 2;
const SECONDS = Number(process.env.RACE_SECONDS ?? 30);

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * In a tab: `me` back to back in `loops` loops until `ms` pass or the
 * session is gone. The tab's refreshes are counted apart (`refreshes`).
 */
async function hammer({ ms, loops }) {
  const { client, auth, MeDocument } = window.authqlExample;
  const end = Date.now() + ms;
  const stats = { ok: 0, failed: 0, codes: {} };
  const loop = async () => {
    while (Date.now() < end && auth.session) {
      try {
        await client.query({
          query: MeDocument,
          fetchPolicy: "network-only",
          // Every query goes to the server (Apollo would merge identical ones).
          context: { queryDeduplication: false },
        });
        stats.ok += 1;
      } catch (error) {
        stats.failed += 1;
        const code = error?.errors?.[0]?.extensions?.code ?? error?.message ?? String(error);
        stats.codes[code] = (stats.codes[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  return {
    ...stats,
    loggedOut: window.authqlExample.loggedOutCalls(),
    signedIn: auth.session !== null,
  };
}

/** How many refreshes the tab of `page` has sent so far. */
function refreshes(page) {
  return page.evaluate(() => window.authqlExample.auth.refreshes);
}

/**
 * Resolves once no tab of the page's origin runs a coordinated refresh:
 * each runs under this lock, so when it is granted the ones before it have
 * ended.
 */
function refreshLockFree(page) {
  return page.evaluate(() => navigator.locks.request("authql:refresh", () => {}));
}

/** Runs the race and returns what the tabs and the server saw. */
async function race({ mode, naive, seconds }) {
  const server = await startServer({
    JWT_ACCESS_EXPIRES: "2s",
    REFRESH_TOKEN_COOKIE: mode === "cookie" ? "on" : "off",
  });
  const app = await startApp(server);
  const context = await browser.newContext();
  try {
    const url = `${app.url}/?mode=${mode}${naive ? "&naive=1" : ""}`;
    /** A new tab of the app, once it has started. */
    const open = async (expect) => {
      const page = await context.newPage();
      await page.goto(url);
      await page.locator("#log li", { hasText: expect }).waitFor();
      return page;
    };
    const first = await open("no session yet");
    const pages = [first];
    const signIn = async () => {
      await first.fill('input[name="email"]', uniqueEmail(`race-${mode}`));
      await first.fill('input[name="password"]', "correct horse battery");
      await first.click("#register");
      await first.locator("#status", { hasText: "signed in" }).waitFor();
    };
    if (!naive) {
      // The other tabs join the session over the BroadcastChannel as they
      // open. Opening them takes a while: one that gets a pair whose access
      // token has expired by then refreshes it (under the lock).
      await signIn();
      for (let i = 1; i < TABS; i += 1) pages.push(await open("joined the existing session"));
    } else {
      // Uncoordinated tabs would each refresh such an expired pair on their
      // own, and trip reuse detection before the race (a tab then never
      // joins). So they open first and take the new pair of the sign-in
      // over the BroadcastChannel.
      for (let i = 1; i < TABS; i += 1) pages.push(await open("no session yet"));
      await signIn();
      for (const page of pages) await page.locator("#status", { hasText: "signed in" }).waitFor();
    }

    // Refreshes before the race do not count: a cookie-mode tab tries the
    // cookie when it opens, before anyone signed in, and a tab that joined
    // with an expired pair (or, in cookie mode, heard from no other tab in
    // time) refreshed as it joined. Nothing is in flight now (every tab has
    // joined), so these numbers hold still.
    const refreshesBefore = await Promise.all(pages.map(refreshes));
    await server.sync();
    const refreshedBefore = server.count("refreshed");

    const started = Date.now();
    const tabs = await Promise.all(
      pages.map((page) => page.evaluate(hammer, { ms: seconds * 1000, loops: LOOPS_PER_TAB })),
    );
    const elapsed = Date.now() - started;
    // The tabs ended one by one, and a tab's refreshes serve the others
    // too: count them all only now that every tab has stopped, and once no
    // refresh is in flight (and its line is in the server's log).
    if (!naive) await refreshLockFree(first);
    const refreshesAfter = await Promise.all(pages.map(refreshes));
    await server.sync();
    const refreshesSent = refreshesAfter.reduce((total, n, i) => total + n - refreshesBefore[i], 0);
    const refreshedEvents = server.count("refreshed") - refreshedBefore;
    await server.stop();
    const sum = (key) => tabs.reduce((total, tab) => total + tab[key], 0);
    const codes = {};
    for (const tab of tabs) {
      for (const [code, n] of Object.entries(tab.codes)) codes[code] = (codes[code] ?? 0) + n;
    }
    return {
      mode,
      coordinated: !naive,
      seconds: Math.round(elapsed / 100) / 10,
      meOk: sum("ok"),
      meFailed: sum("failed"),
      failureCodes: codes,
      refreshesSent,
      refreshedEvents,
      refreshedBefore,
      reuseDetected: server.count("reuse_detected"),
      onLoggedOutCalls: sum("loggedOut"),
      tabsSignedIn: tabs.filter((tab) => tab.signedIn).length,
    };
  } finally {
    await context.close();
    await app.stop();
    await server.stop();
  }
}

for (const mode of ["body", "cookie"]) {
  test(`${TABS} tabs, one session, ${mode} tokens: no refresh token is presented twice`, async () => {
    const result = await race({ mode, naive: false, seconds: SECONDS });
    console.log(`race result: ${JSON.stringify(result)}`);
    assert.equal(result.reuseDetected, 0, "reuse detected");
    assert.equal(result.onLoggedOutCalls, 0, "a tab was logged out");
    assert.equal(result.meFailed, 0, `failed queries: ${JSON.stringify(result.failureCodes)}`);
    assert.equal(result.tabsSignedIn, TABS);
    // The access token lives 2 s and the kit refreshes it after 1.5 s, so
    // the session was refreshed all along: about every 1.5 s, plus the time
    // a refresh takes. The bound leaves room for a slow machine.
    assert.ok(result.refreshedEvents >= SECONDS / 4, `only ${result.refreshedEvents} refreshes`);
    // Every refresh the tabs sent during the race succeeded, and the server
    // refreshed the session for no one else.
    assert.equal(result.refreshedEvents, result.refreshesSent);
  });

  test(`${TABS} tabs, one session, ${mode} tokens, without the coordination: reuse is detected`, async () => {
    const result = await race({ mode, naive: true, seconds: 15 });
    console.log(`race result: ${JSON.stringify(result)}`);
    assert.ok(result.reuseDetected >= 1, "no reuse detected: the race test cannot fail");
    assert.ok(result.onLoggedOutCalls >= 1, "no tab noticed the lost session");
  });
}
