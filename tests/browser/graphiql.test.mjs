// GraphiQL works with the network limited to authql: every file the page
// needs comes from the server itself.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isDeepStrictEqual } from "node:util";

import { allowOnly, eventually, launchBrowser, startServer, uniqueEmail } from "./harness.mjs";

/** Replaces the text of the CodeMirror editor under `selector`. */
async function setEditor(page, selector, text) {
  await page.evaluate(
    ([selector, text]) => document.querySelector(selector).CodeMirror.setValue(text),
    [selector, text],
  );
}

/** The text GraphiQL shows in its response pane. */
function shownResponse(page) {
  return page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue());
}

/**
 * Runs `document` from GraphiQL's query editor and returns the response
 * it shows, parsed.
 */
async function run(page, document) {
  await setEditor(page, ".graphiql-query-editor .CodeMirror", document);
  let sent = null;
  const onRequest = (request) => {
    if (request.method() !== "POST" || new URL(request.url()).pathname !== "/graphql") return;
    let body;
    try {
      body = request.postDataJSON();
    } catch {
      return;
    }
    if (body?.query === document) sent ??= request;
  };
  page.on("request", onRequest);
  try {
    // GraphiQL re-reads the document's operations after a short debounce;
    // until then the button may still see the previous operations and offer
    // a menu. Click until the document goes out, and only until then: a
    // click while it runs stops it, and a mutation sent twice is not the
    // same as once.
    const button = page.locator(".graphiql-execute-button");
    for (let attempt = 1; attempt <= 5 && !sent; attempt += 1) {
      await page.keyboard.press("Escape");
      // A run still going (the button says "Stop query") is left alone.
      if (!(await button.getAttribute("aria-label"))?.startsWith("Stop")) await button.click();
      for (let wait = 0; wait < 20 && !sent; wait += 1) await page.waitForTimeout(100);
    }
    if (!sent) throw new Error(`GraphiQL did not send ${document}`);
    const response = await sent.response();
    if (!response) throw new Error(`no answer to ${document}`);
    const answer = await response.json();
    // The answer as GraphiQL shows it, once it does.
    let shown;
    await eventually(
      async () => {
        try {
          shown = JSON.parse(await shownResponse(page));
        } catch {
          return false;
        }
        return isDeepStrictEqual(shown, answer);
      },
      15_000,
      `GraphiQL to show the answer to ${document}`,
    );
    return shown;
  } finally {
    page.off("request", onRequest);
  }
}

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("GraphiQL renders, runs { __typename }, and signs in, refreshes and logs out with only authql reachable", async () => {
  const page = await browser.newPage();
  const blocked = await allowOnly(page, [server.url]);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });

  await page.goto(`${server.url}/graphql`);
  await page.locator(".graphiql-container").waitFor({ timeout: 15_000 });
  // GraphiQL makes its editors a moment after the page shows: the query and
  // response editors, and the two tool editors (variables, headers).
  await page.waitForFunction(
    () =>
      document.querySelector(".graphiql-query-editor .CodeMirror")?.CodeMirror &&
      document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror &&
      document.querySelectorAll(".graphiql-editor-tool .CodeMirror").length >= 2,
    undefined,
    { timeout: 15_000 },
  );

  // The headers editor opens with the Authorization hint.
  const headers = await page.evaluate(() =>
    [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")]
      .map((editor) => editor.CodeMirror.getValue())
      .join("\n"),
  );
  assert.match(headers ?? "", /"Authorization": "Bearer <accessToken from login>"/);

  const typename = await run(page, "{ __typename }");
  assert.deepEqual(typename, { data: { __typename: "Query" } });

  // The whole API from GraphiQL, as a person trying it would: register,
  // put the access token in the headers editor, ask `me`, refresh, log out.
  const email = uniqueEmail("graphiql");
  const registered = await run(
    page,
    `mutation { register(input: { email: "${email}", password: "correct horse battery" }) { accessToken refreshToken user { email } } }`,
  );
  assert.equal(registered.data.register.user.email, email);
  // The headers editor is the tool editor holding the Authorization hint.
  await page.evaluate((value) => {
    const editors = [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")];
    const headers = editors.find((e) => e.CodeMirror.getValue().includes("Authorization"));
    headers.CodeMirror.setValue(value);
  }, JSON.stringify({ Authorization: `Bearer ${registered.data.register.accessToken}` }));
  const me = await run(page, "query { me { email role } }");
  assert.deepEqual(me, { data: { me: { email, role: "USER" } } });
  const refreshed = await run(
    page,
    `mutation { refreshToken(refreshToken: "${registered.data.register.refreshToken}") { refreshToken } }`,
  );
  const next = refreshed.data.refreshToken.refreshToken;
  const login = await run(
    page,
    `mutation { login(input: { email: "${email}", password: "correct horse battery" }) { user { email } } }`,
  );
  assert.equal(login.data.login.user.email, email);
  assert.deepEqual(await run(page, `mutation { logout(refreshToken: "${next}") }`), {
    data: { logout: true },
  });
  const after = await run(page, "query { me { email } }");
  assert.equal(after.errors[0].extensions.code, "UNAUTHENTICATED");

  assert.deepEqual(blocked, [], "the page asked for something outside authql");
  assert.deepEqual(problems, []);
  await page.close();
});
