// The example: an SPA signed in to authql through @authql/apollo.
//
// The Apollo wiring is the five lines under "Apollo Client"; the rest is a
// page showing the session. Options come from the URL for trying things out:
//   ?mode=cookie   the server runs with REFRESH_TOKEN_COOKIE=on (default: body)
//   ?naive=1       tabs do not coordinate their refreshes: shows the failure
//                  the kit prevents (a spent refresh token presented twice)

import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache } from "@apollo/client";
import {
  LoginDocument,
  LogoutAllDocument,
  MeDocument,
  RegisterDocument,
  type TokenMode,
  createAuthKit,
  createAuthLink,
} from "@authql/apollo";

const params = new URLSearchParams(window.location.search);
const mode: TokenMode =
  (params.get("mode") ?? import.meta.env.VITE_AUTHQL_MODE) === "cookie" ? "cookie" : "body";
const uri: string = import.meta.env.VITE_AUTHQL_URI ?? "/graphql";

let loggedOutCalls = 0;

// Apollo Client with the auth link in front of the HTTP link.
const auth = createAuthKit({
  uri,
  mode,
  coordinate: params.get("naive") !== "1",
  onLoggedOut: () => {
    loggedOutCalls += 1;
    log("session lost (onLoggedOut): please log in again");
  },
});
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([createAuthLink(auth), new HttpLink({ uri, credentials: auth.credentialsMode })]),
});

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function log(text: string): void {
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("log").prepend(item);
}

/** The error code of a failed operation, or its message. */
function describe(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors.map((e) => String(e.extensions?.code ?? e.message)).join(", ");
  }
  return error instanceof Error ? error.message : String(error);
}

let email: string | null = null;

function render(): void {
  const session = auth.session;
  $("status").textContent = session ? `signed in as ${email ?? "(another tab's account)"}` : "signed out";
  $("mode").textContent = `${mode}${auth.coordinated ? "" : " (naive: no coordination)"}`;
  $("expires").textContent = session ? `${Math.max(0, Math.round((session.expiresAt - Date.now()) / 1000))} s` : "–";
  $("refreshes").textContent = String(auth.refreshes);
}
auth.subscribe(render);
setInterval(render, 1000);

$("credentials").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const action = ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.value;
  const data = new FormData(form);
  const input = { email: String(data.get("email")), password: String(data.get("password")) };
  try {
    const payload =
      action === "register"
        ? (await client.mutate({ mutation: RegisterDocument, variables: { input } })).data?.register
        : (await client.mutate({ mutation: LoginDocument, variables: { input } })).data?.login;
    if (!payload) throw new Error("no payload");
    email = payload.user.email;
    auth.setSession(payload);
    log(`${action === "register" ? "registered" : "logged in"} as ${payload.user.email}`);
  } catch (error) {
    log(`${action} failed: ${describe(error)}`);
  }
});

$("me").addEventListener("click", async () => {
  try {
    const { data } = await client.query({ query: MeDocument, fetchPolicy: "network-only" });
    email = data?.me.email ?? email;
    log(`me: ${data?.me.email} (${data?.me.role}), id ${data?.me.id}`);
    render();
  } catch (error) {
    log(`me failed: ${describe(error)}`);
  }
});

$("logout").addEventListener("click", async () => {
  try {
    log(`logout: ${await auth.logout()}`);
  } catch (error) {
    log(`logout failed: ${describe(error)}`);
  }
  await client.clearStore();
});

$("logout-all").addEventListener("click", async () => {
  try {
    log(`logout everywhere: ${await auth.logoutAll()} session(s) ended`);
  } catch (error) {
    log(`logout everywhere failed: ${describe(error)}`);
  }
  await client.clearStore();
});

// Join the session another tab (or, in cookie mode, the cookie) already has.
auth.resume().then(
  (session) => {
    log(session ? "joined the existing session" : "no session yet: register or log in");
    render();
  },
  (error: unknown) => log(`resume failed: ${describe(error)}`),
);

// For the browser tests and for poking around in the console.
declare global {
  interface Window {
    authqlExample: unknown;
  }
}
window.authqlExample = {
  client,
  auth,
  MeDocument,
  LogoutAllDocument,
  loggedOutCalls: () => loggedOutCalls,
};
