// GraphiQL works with the network limited to authql: every file the page
// needs comes from the server itself.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { allowOnly, launchBrowser, startServer } from "./harness.mjs";

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

test("GraphiQL renders and runs { __typename } with only authql reachable", async () => {
  const page = await browser.newPage();
  const blocked = await allowOnly(page, [server.url]);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });

  await page.goto(`${server.url}/graphql`);
  await page.locator(".graphiql-container").waitFor({ timeout: 15_000 });

  // The headers editor opens with the Authorization hint.
  const headers = await page.evaluate(() =>
    [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")]
      .map((editor) => editor.CodeMirror.getValue())
      .join("\n"),
  );
  assert.match(headers ?? "", /"Authorization": "Bearer <accessToken from login>"/);

  await page.evaluate(() =>
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue("{ __typename }"),
  );
  // GraphiQL re-reads the document's operations after a short debounce;
  // until then the button still sees the two default operations and offers
  // a menu. Click until the answer shows.
  const result = page.locator(".graphiql-response .CodeMirror", { hasText: '"__typename": "Query"' });
  for (let attempt = 1; ; attempt += 1) {
    await page.keyboard.press("Escape");
    await page.locator(".graphiql-execute-button").click();
    try {
      await result.waitFor({ timeout: 2_000 });
      break;
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }

  assert.deepEqual(blocked, [], "the page asked for something outside authql");
  assert.deepEqual(problems, []);
  await page.close();
});
