// The session and its refresh: single flight in a tab, one at a time across
// the tabs of an origin.
//
// Why this exists: a refresh token is single use. authql treats a spent
// token presented again as theft (RFC 6819 §5.2.2.3, the OAuth 2.0 Security
// BCP's refresh token rotation) and ends the whole session. Two requests, or
// two tabs, that both notice an expired access token and both refresh with
// the same token therefore log the user out. So:
//
// - in a tab, concurrent callers share one refresh promise;
// - across tabs, a refresh runs under the Web Lock `<channel>:refresh`, and
//   the tab that refreshed hands the new pair to the others over a
//   BroadcastChannel;
// - the lock alone does not order the hand-over: the next tab may get the
//   lock before the message. So the refreshing tab also holds a lock named
//   after the new pair (`<channel>:latest:<issuedAt>:<id>`) before it lets
//   the refresh lock go. The next tab, once it has the refresh lock, reads
//   the held lock names (the lock manager orders them, unlike messages) and,
//   if a newer pair exists than the one it holds, waits for that pair
//   instead of presenting its own, spent, refresh token.

import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type DocumentNode, print } from "graphql";

import {
  type AuthPayloadFieldsFragment,
  LogoutAllDocument,
  LogoutDocument,
  RefreshDocument,
} from "./generated/graphql.js";
import { type Session, type SessionStorage, memoryStorage, sessionFrom } from "./session.js";

/** Where the refresh token travels: the JSON body, or an httpOnly cookie (`REFRESH_TOKEN_COOKIE=on`). */
export type TokenMode = "body" | "cookie";

/** Options of {@link createAuthKit}. */
export interface AuthKitOptions {
  /** authql's GraphQL endpoint, for the kit's own requests. Default `/graphql`. */
  uri?: string;
  /** Default `body`. Must match the server's `REFRESH_TOKEN_COOKIE`. */
  mode?: TokenMode;
  /** Where the session is kept. Default: this tab's memory. */
  storage?: SessionStorage;
  /** Called once when the session is lost: the refresh token was refused, or another tab logged out. */
  onLoggedOut?: () => void;
  /**
   * Coordinate refreshes across tabs (Web Locks + BroadcastChannel).
   * Default `true`. `false` leaves each tab to refresh on its own: only for
   * demonstrating why the coordination exists.
   */
  coordinate?: boolean;
  /** Name of the lock and channel; tabs with the same name share a session. Default `authql`. */
  channel?: string;
  /** `fetch` credentials for the kit's requests. Default `include` in cookie mode, `same-origin` otherwise. */
  credentials?: RequestCredentials;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
}

/** A GraphQL error as authql reports it. */
export interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: unknown } & Record<string, unknown>;
}

/** A failure of the kit's own request that is not a lost session (network, `RATE_LIMITED`, ...). */
export class AuthRequestError extends Error {
  /** `extensions.code` of the first GraphQL error, when there was one. */
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = "AuthRequestError";
    this.code = code;
  }
}

type Message =
  | { type: "hello" }
  | { type: "session"; session: Session }
  | { type: "need"; id: string }
  | { type: "loggedOut" };

const HELLO_WAIT_MS = 300;
const HANDOVER_WAIT_MS = 3000;
/** The kit's own requests give up after this long, so a hung refresh cannot hold the lock forever. */
const REQUEST_TIMEOUT_MS = 15_000;

/** The session of one tab, its refresh and logout. Make one per app with {@link createAuthKit}. */
export class AuthKit {
  private readonly uri: string;
  private readonly mode: TokenMode;
  private readonly storage: SessionStorage;
  private readonly onLoggedOut: (() => void) | undefined;
  private readonly coordinate: boolean;
  private readonly name: string;
  private readonly credentials: RequestCredentials;
  private readonly fetchFn: typeof fetch;
  private readonly channel: BroadcastChannel | null;
  private readonly listeners = new Set<(session: Session | null) => void>();
  private current: Session | null;
  private refreshing: Promise<Session | null> | null = null;
  private releaseMarker: (() => void) | null = null;
  private refreshCount = 0;

  constructor(options: AuthKitOptions = {}) {
    this.uri = options.uri ?? "/graphql";
    this.mode = options.mode ?? "body";
    this.storage = options.storage ?? memoryStorage();
    this.onLoggedOut = options.onLoggedOut;
    this.name = options.channel ?? "authql";
    this.credentials = options.credentials ?? (this.mode === "cookie" ? "include" : "same-origin");
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    const locks = typeof navigator !== "undefined" && "locks" in navigator;
    // Web Locks exist only in secure contexts (https, localhost): without
    // them tabs cannot take turns, so they do not share refreshes at all.
    this.coordinate = (options.coordinate ?? true) && locks;
    this.channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(this.name);
    if (this.channel) this.channel.onmessage = (event: MessageEvent<Message>) => this.receive(event.data);
    this.current = this.storage.load();
  }

  /** The session, or `null` when signed out. */
  get session(): Session | null {
    return this.current;
  }

  /** The `fetch` credentials the kit uses; give the same to the `HttpLink`. */
  get credentialsMode(): RequestCredentials {
    return this.credentials;
  }

  /** Whether refreshes are coordinated across tabs (needs Web Locks: https or localhost). */
  get coordinated(): boolean {
    return this.coordinate;
  }

  /** How many refreshes this tab has sent (for tests and diagnostics). */
  get refreshes(): number {
    return this.refreshCount;
  }

  /** Calls `listener` with the session whenever it changes; returns the unsubscribe function. */
  subscribe(listener: (session: Session | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts a session from the `AuthPayload` of `login` or `register`, and hands it to the other tabs. */
  setSession(payload: AuthPayloadFieldsFragment): Session {
    const session = sessionFrom(payload);
    this.adopt(session);
    this.publish(session);
    return session;
  }

  /**
   * Joins the session the origin already has, at start-up: asks the other
   * tabs first; in cookie mode, failing that, trades the cookie (if any)
   * for an access token. Never calls `onLoggedOut`: there was no session
   * to lose.
   */
  async resume(): Promise<Session | null> {
    if (this.current && this.current.expiresAt > Date.now()) return this.current;
    if (this.channel) {
      // A pair from storage may have expired: wait for a live one.
      const joined = this.waitFor((s) => s !== null && s.expiresAt > Date.now(), HELLO_WAIT_MS);
      this.post({ type: "hello" });
      const session = await joined;
      if (session) return session;
    }
    if (this.mode === "cookie" || this.current?.refreshToken) {
      return this.runRefresh(this.current?.accessToken ?? null, false);
    }
    return null;
  }

  /**
   * A usable access token: the current one, or a fresh one when it expires
   * soon. `null` when signed out.
   */
  async accessToken(): Promise<string | null> {
    const session = this.current;
    if (!session) return null;
    if (Date.now() < session.refreshAt) return session.accessToken;
    return (await this.refresh(session.accessToken))?.accessToken ?? null;
  }

  /**
   * Replaces the access token `stale` (expiring, or refused with
   * `UNAUTHENTICATED`). Callers in this tab share one refresh; if another
   * tab already replaced `stale`, its pair is used instead. Resolves to
   * `null` when the session is gone.
   */
  refresh(stale: string | null): Promise<Session | null> {
    if (!this.refreshing) {
      this.refreshing = this.runRefresh(stale, true).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** Ends this session on the server (`logout`), then here and in the other tabs. */
  async logout(): Promise<boolean> {
    const session = this.current;
    // Body mode sends the refresh token; cookie mode sends none, so the
    // server reads its cookie (and clears it).
    const variables = { refreshToken: this.mode === "body" ? (session?.refreshToken ?? null) : null };
    this.clear();
    this.post({ type: "loggedOut" });
    if (this.mode === "body" && !variables.refreshToken) return false;
    const result = await this.request(LogoutDocument, variables);
    if (result.errors?.length) throw requestError(result.errors);
    return result.data?.logout ?? false;
  }

  /** Ends every session of the account (`logoutAll`), this one included. */
  async logoutAll(): Promise<number> {
    const token = await this.accessToken();
    const result = await this.request(LogoutAllDocument, {}, token);
    if (result.errors?.length) throw requestError(result.errors);
    this.clear();
    this.post({ type: "loggedOut" });
    return result.data?.logoutAll ?? 0;
  }

  /** Forgets the session in this tab only (the server still has it). */
  clear(): void {
    this.set(null);
  }

  /** Stops listening to the other tabs. */
  close(): void {
    this.channel?.close();
    this.releaseMarker?.();
    this.releaseMarker = null;
  }

  private async runRefresh(stale: string | null, loseOnRefusal: boolean): Promise<Session | null> {
    if (!this.coordinate) return this.refreshNow(stale, loseOnRefusal);
    return navigator.locks.request(`${this.name}:refresh`, async () => {
      await this.catchUp();
      return this.refreshNow(stale, loseOnRefusal);
    });
  }

  /** Under the lock (when coordinating): refresh unless someone already did. */
  private async refreshNow(stale: string | null, loseOnRefusal: boolean): Promise<Session | null> {
    const session = this.current;
    if (session && session.accessToken !== stale && Date.now() < session.refreshAt) return session;
    if (!session && this.mode === "body") return null;
    if (!session && loseOnRefusal) return null;
    this.refreshCount += 1;
    const refreshToken = this.mode === "body" ? (session?.refreshToken ?? null) : null;
    const result = await this.request(RefreshDocument, { refreshToken });
    const payload = result.data?.refreshToken;
    if (payload) {
      const fresh = sessionFrom(payload);
      await this.holdMarker(fresh);
      this.adopt(fresh);
      this.publish(fresh);
      return fresh;
    }
    const errors = result.errors ?? [];
    if (errors.some((e) => e.extensions?.code === "INVALID_REFRESH_TOKEN")) {
      if (loseOnRefusal) this.lose();
      else this.clear();
      return null;
    }
    // Network trouble, RATE_LIMITED, INTERNAL_SERVER_ERROR: the session may
    // still be fine, so keep it and fail only this operation.
    throw requestError(errors);
  }

  /**
   * Makes sure this tab holds the newest pair any tab produced before it
   * presents a refresh token (see the top of this file).
   */
  private async catchUp(): Promise<void> {
    const prefix = `${this.name}:latest:`;
    const { held = [] } = await navigator.locks.query();
    let newest: { issuedAt: number; id: string } | null = null;
    for (const lock of held) {
      if (!lock.name?.startsWith(prefix)) continue;
      const [issuedAt, id] = lock.name.slice(prefix.length).split(":");
      const at = Number(issuedAt);
      if (id && (!newest || at > newest.issuedAt)) newest = { issuedAt: at, id };
    }
    if (!newest || newest.id === this.current?.id) return;
    if (this.current && this.current.issuedAt >= newest.issuedAt) return;
    const target = newest.id;
    const arrived = this.waitFor((s) => s?.id === target, HANDOVER_WAIT_MS);
    this.post({ type: "need", id: target });
    if (!(await arrived)) {
      // Presenting our older refresh token now would be reuse: fail this
      // operation instead and keep the session.
      throw new AuthRequestError("another tab refreshed the session but did not hand it over in time");
    }
  }

  /** Holds the lock that names `session` as the newest pair, until a newer one replaces it. */
  private async holdMarker(session: Session): Promise<void> {
    if (!this.coordinate) return;
    const previous = this.releaseMarker;
    await new Promise<void>((granted) => {
      void navigator.locks.request(`${this.name}:latest:${session.issuedAt}:${session.id}`, () => {
        granted();
        return new Promise<void>((release) => {
          this.releaseMarker = release;
        });
      });
    });
    previous?.();
  }

  private receive(message: Message): void {
    switch (message.type) {
      case "hello":
        if (this.current) this.post({ type: "session", session: this.current });
        break;
      case "need":
        if (this.current?.id === message.id) this.post({ type: "session", session: this.current });
        break;
      case "session": {
        const incoming = message.session;
        // Uncoordinated tabs take a pair only to join a session, never
        // afterwards: each refreshes on its own (and trips reuse detection).
        if (!this.coordinate && this.current) break;
        if (!this.current || incoming.issuedAt > this.current.issuedAt) {
          this.releaseMarker?.();
          this.releaseMarker = null;
          this.adopt(incoming);
        }
        break;
      }
      case "loggedOut":
        this.lose();
        break;
    }
  }

  /** The session ended without this tab asking: clear it and tell the app, once. */
  private lose(): void {
    if (!this.current) return;
    this.set(null);
    this.post({ type: "loggedOut" });
    this.onLoggedOut?.();
  }

  private adopt(session: Session): void {
    this.set(session);
  }

  private set(session: Session | null): void {
    if (session === null) {
      this.releaseMarker?.();
      this.releaseMarker = null;
    }
    this.current = session;
    this.storage.save(session);
    for (const listener of this.listeners) listener(session);
  }

  /** Tells the other tabs about a new pair (only when coordinating). */
  private publish(session: Session): void {
    if (this.coordinate) this.post({ type: "session", session });
  }

  private post(message: Message): void {
    this.channel?.postMessage(message);
  }

  /** Resolves with the session once `test` holds for it, or `null` after `ms`. */
  private waitFor(test: (s: Session | null) => boolean, ms: number): Promise<Session | null> {
    if (this.current && test(this.current)) return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const done = (session: Session | null) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(session);
      };
      const unsubscribe = this.subscribe((s) => {
        if (s && test(s)) done(s);
      });
      const timer = setTimeout(() => done(null), ms);
    });
  }

  /** The kit's own requests: straight to authql, not through the Apollo link chain. */
  private async request<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    variables: TVariables,
    accessToken?: string | null,
  ): Promise<{ data?: TData | null; errors?: GraphQLErrorLike[] }> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    const response = await this.fetchFn(this.uri, {
      method: "POST",
      headers,
      credentials: this.credentials,
      body: JSON.stringify({ query: printed(document), variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!response.ok && !response.headers.get("content-type")?.includes("json")) {
      throw new AuthRequestError(`authql answered HTTP ${response.status}`);
    }
    return (await response.json()) as { data?: TData | null; errors?: GraphQLErrorLike[] };
  }
}

const printedCache = new WeakMap<object, string>();
function printed(document: DocumentNode): string {
  let text = printedCache.get(document);
  if (text === undefined) {
    text = print(document);
    printedCache.set(document, text);
  }
  return text;
}

function requestError(errors: GraphQLErrorLike[]): AuthRequestError {
  const first = errors[0];
  const code = typeof first?.extensions?.code === "string" ? first.extensions.code : undefined;
  return new AuthRequestError(first?.message ?? "request failed", code);
}

/** Makes the kit (the session of this tab). Pass its `link` to Apollo via {@link createAuthLink}. */
export function createAuthKit(options?: AuthKitOptions): AuthKit {
  return new AuthKit(options);
}
