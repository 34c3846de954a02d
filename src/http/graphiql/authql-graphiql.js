// Starts GraphiQL against this server's /graphql. Kept in its own file (not
// inline in the page) so the page's Content-Security-Policy can forbid
// inline scripts.
(function () {
  "use strict";
  var fetcher = GraphiQL.createFetcher({
    url: new URL("/graphql", window.location.href).href,
  });
  // The headers editor starts open with the header guarded fields need:
  // replace the placeholder with the accessToken a login or register returns.
  var headers = JSON.stringify(
    { Authorization: "Bearer <accessToken from login>" },
    null,
    2
  );
  var query = [
    "# Sign in, then copy accessToken into the Authorization header below.",
    "mutation Login {",
    '  login(input: { email: "ada@example.com", password: "correct horse battery" }) {',
    "    accessToken",
    "    refreshToken",
    "    expiresIn",
    "  }",
    "}",
    "",
    "query Me {",
    "  me { id email role createdAt }",
    "}",
    "",
  ].join("\n");
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: query,
      defaultHeaders: headers,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
      // Tokens typed into the headers editor stay out of localStorage.
      shouldPersistHeaders: false,
    })
  );
})();
