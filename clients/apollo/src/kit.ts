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
//   after the new pair (`<channel>:latest:<lineage>:<generation>:<id>`)
//   before it lets the refresh lock go, and so does every tab that takes
//   the pair (shared), so the name outlives the tab that made it. The next
//   tab, once it has the refresh lock, reads the held lock names (the lock
//   manager orders them, unlike messages) and, if a newer pair of its
//   sign-in exists than the one it holds, waits for that pair instead of
//   presenting its own, spent, refresh token. (Cookie mode needs none of
//   this: the browser's one cookie is always the newest token.)
// - every pair belongs to a sign-in (its lineage). A refresh that comes
//   back after its sign-in ended (logged out here or in another tab) or was
//   replaced by a new sign-in is dropped, never resurrected; messages about
//   other sign-ins are ignored.

import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type DocumentNode, print } from "graphql";

import {
  type AuthPayloadFieldsFragment,
  LogoutAllDocument,
  LogoutDocument,
  RefreshDocument,
} from "./generated/graphql.js";
import {
  type Session,
  type SessionStorage,
  isSession,
  memoryStorage,
  sessionFrom,
} from "./session.js";

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

/** What tabs tell each other (version 1). Checked on arrival: any script of the origin can post. */
type Message =
  | { v: 1; type: "hello" }
  | { v: 1; type: "session"; session: Session; signIn: boolean }
  | { v: 1; type: "need"; lineage: string; id: string }
  | { v: 1; type: "loggedOut"; lineage: string };

const HELLO_WAIT_MS = 300;
const HANDOVER_WAIT_MS = 3000;
/** The kit's own requests give up after this long, so a hung refresh cannot hold the lock forever. */
const REQUEST_TIMEOUT_MS = 15_000;
/** After a refresh failed for a passing reason, how long the current token is used without trying again. */
const BACKOFF_MS = 2000;

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
  /** Releases of the hand-over locks this tab holds, by pair id. */
  private readonly markers = new Map<string, () => void>();
  /** Sign-ins that ended: their pairs are never taken again. */
  private readonly ended = new Set<string>();
  /** No new refresh before this (ms since the epoch) while the access token still works. */
  private notBefore = 0;
  private closed = false;
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
    if (this.channel) this.channel.onmessage = (event: MessageEvent<unknown>) => this.receive(event.data);
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
    this.set(session);
    this.post({ v: 1, type: "session", session, signIn: true });
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
      this.post({ v: 1, type: "hello" });
      const session = await joined;
      if (session) return session;
    }
    if (this.mode === "cookie" || this.current?.refreshToken) {
      return this.shared(this.current?.accessToken ?? null, false);
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
    const now = Date.now();
    if (now < session.refreshAt) return session.accessToken;
    // A refresh failed a moment ago (network, RATE_LIMITED): the token in
    // hand still works, so use it rather than hammer the server.
    if (now < this.notBefore && now < session.expiresAt) return session.accessToken;
    try {
      return (await this.refresh(session.accessToken))?.accessToken ?? null;
    } catch (error) {
      const still = this.current;
      if (still && Date.now() < still.expiresAt) return still.accessToken;
      throw error;
    }
  }

  /**
   * Replaces the access token `stale` (expiring, or refused with
   * `UNAUTHENTICATED`). Callers in this tab share one refresh; if another
   * tab already replaced `stale`, its pair is used instead. Resolves to
   * `null` when the session is gone.
   */
  refresh(stale: string | null): Promise<Session | null> {
    return this.shared(stale, true);
  }

  /** Ends this session on the server (`logout`), then here and in the other tabs. */
  async logout(): Promise<boolean> {
    const session = this.current;
    // Body mode sends the refresh token; cookie mode sends none, so the
    // server reads its cookie (and clears it). A refresh still in flight
    // is dropped when it comes back (its sign-in has ended).
    const variables = { refreshToken: this.mode === "body" ? (session?.refreshToken ?? null) : null };
    if (session) this.end(session.lineage);
    if (this.mode === "body" && !variables.refreshToken) return false;
    const result = await this.request(LogoutDocument, variables);
    if (result.errors?.length) throw requestError(result.errors);
    return result.data?.logout ?? false;
  }

  /** Ends every session of the account (`logoutAll`), this one included. */
  async logoutAll(): Promise<number> {
    const session = this.current;
    const token = await this.accessToken();
    const result = await this.request(LogoutAllDocument, {}, token);
    if (result.errors?.length) throw requestError(result.errors);
    if (session) this.end(session.lineage);
    return result.data?.logoutAll ?? 0;
  }

  /** Forgets the session in this tab only (the server still has it). */
  clear(): void {
    this.set(null);
  }

  /** Stops listening to the other tabs and lets go of this tab's locks. */
  close(): void {
    this.closed = true;
    this.channel?.close();
    for (const release of this.markers.values()) release();
    this.markers.clear();
  }

  /** One refresh at a time in this tab: concurrent callers share it. */
  private shared(stale: string | null, loseOnRefusal: boolean): Promise<Session | null> {
    if (!this.refreshing) {
      this.refreshing = this.runRefresh(stale, loseOnRefusal).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async runRefresh(stale: string | null, loseOnRefusal: boolean): Promise<Session | null> {
    if (!this.coordinate) return this.refreshNow(stale, loseOnRefusal);
    return navigator.locks.request(`${this.name}:refresh`, async () => {
      if (this.mode === "body") await this.catchUp();
      return this.refreshNow(stale, loseOnRefusal);
    });
  }

  /** Under the lock (when coordinating): refresh unless someone already did. */
  private async refreshNow(stale: string | null, loseOnRefusal: boolean): Promise<Session | null> {
    const session = this.current;
    if (session && session.accessToken !== stale && Date.now() < session.refreshAt) return session;
    if (!session && (this.mode === "body" || loseOnRefusal)) return null;
    this.refreshCount += 1;
    const refreshToken = this.mode === "body" ? (session?.refreshToken ?? null) : null;
    let result: { data?: { refreshToken?: AuthPayloadFieldsFragment | null } | null; errors?: GraphQLErrorLike[] };
    try {
      result = await this.request(RefreshDocument, { refreshToken });
    } catch (error) {
      this.notBefore = Date.now() + BACKOFF_MS;
      throw error;
    }
    // The sign-in this refresh belongs to may have ended, or been replaced
    // by another, while the request was out: then its answer is not ours.
    const stillOurs = () =>
      !this.closed &&
      (session
        ? this.current?.lineage === session.lineage && !this.ended.has(session.lineage)
        : this.current === null);
    const payload = result.data?.refreshToken;
    if (payload) {
      if (!stillOurs()) return this.current;
      const fresh = sessionFrom(payload, session);
      this.notBefore = 0;
      this.set(fresh);
      await this.holdMarker(fresh);
      this.post({ v: 1, type: "session", session: fresh, signIn: false });
      return fresh;
    }
    const errors = result.errors ?? [];
    if (errors.some((e) => e.extensions?.code === "INVALID_REFRESH_TOKEN")) {
      if (!stillOurs()) return this.current;
      if (session && loseOnRefusal) this.lose(session.lineage, true);
      else this.clear();
      return null;
    }
    // Network trouble, RATE_LIMITED, INTERNAL_SERVER_ERROR: the session may
    // still be fine, so keep it, wait a little (as long as the server asks),
    // and fail only this operation if its token has expired.
    const retryAfter = errors.map((e) => e.extensions?.retryAfter).find((r) => typeof r === "number");
    this.notBefore = Date.now() + Math.max(BACKOFF_MS, typeof retryAfter === "number" ? retryAfter * 1000 : 0);
    throw requestError(errors);
  }

  /**
   * Makes sure this tab holds the newest pair of its sign-in any tab
   * produced before it presents a refresh token (see the top of this file).
   */
  private async catchUp(): Promise<void> {
    const current = this.current;
    if (!current) return;
    const prefix = `${this.name}:latest:${current.lineage}:`;
    const { held = [] } = await navigator.locks.query();
    let newest: { generation: number; id: string } | null = null;
    for (const lock of held) {
      if (!lock.name?.startsWith(prefix)) continue;
      const [generation, id] = lock.name.slice(prefix.length).split(":");
      const number = Number(generation);
      if (id && Number.isSafeInteger(number) && (!newest || number > newest.generation)) {
        newest = { generation: number, id };
      }
    }
    if (!newest || newest.generation <= current.generation) return;
    const target = newest.id;
    const arrived = this.waitFor((s) => s?.id === target, HANDOVER_WAIT_MS);
    this.post({ v: 1, type: "need", lineage: current.lineage, id: target });
    if (!(await arrived)) {
      // Presenting our older refresh token now would be reuse: fail this
      // operation instead and keep the session.
      throw new AuthRequestError("another tab refreshed the session but did not hand it over in time");
    }
  }

  /**
   * Holds (shared) the lock that names `session` as the newest pair of its
   * sign-in, while it is this tab's pair: a tab that missed the hand-over
   * sees the name even after the tab that made the pair has closed.
   */
  private async holdMarker(session: Session): Promise<void> {
    if (!this.coordinate || this.mode !== "body" || this.markers.has(session.id)) return;
    const name = `${this.name}:latest:${session.lineage}:${session.generation}:${session.id}`;
    await new Promise<void>((granted) => {
      void navigator.locks.request(name, { mode: "shared" }, () => {
        granted();
        return new Promise<void>((release) => {
          if (this.closed || this.current?.id !== session.id) release();
          else this.markers.set(session.id, release);
        });
      });
    });
  }

  private receive(data: unknown): void {
    if (this.closed || typeof data !== "object" || data === null) return;
    const message = data as Partial<Message> & Record<string, unknown>;
    if (message.v !== 1) return;
    switch (message.type) {
      case "hello":
        if (this.current) this.post({ v: 1, type: "session", session: this.current, signIn: false });
        break;
      case "need": {
        const current = this.current;
        if (current && current.id === message.id && current.lineage === message.lineage) {
          this.post({ v: 1, type: "session", session: current, signIn: false });
        }
        break;
      }
      case "session": {
        const incoming = message.session;
        if (!isSession(incoming) || this.ended.has(incoming.lineage)) break;
        const current = this.current;
        // Uncoordinated tabs take a pair only to join a session, never
        // afterwards: each refreshes on its own (and trips reuse detection).
        if (!this.coordinate && current) break;
        const take =
          !current ||
          (incoming.lineage === current.lineage
            ? incoming.generation > current.generation
            : message.signIn === true);
        if (take) {
          this.set(incoming);
          void this.holdMarker(incoming);
        }
        break;
      }
      case "loggedOut":
        if (typeof message.lineage === "string") this.lose(message.lineage, false);
        break;
    }
  }

  /** This tab (or the app) ended the sign-in `lineage`: forget it here and in the other tabs. */
  private end(lineage: string): void {
    this.ended.add(lineage);
    if (this.current?.lineage === lineage) this.set(null);
    this.post({ v: 1, type: "loggedOut", lineage });
  }

  /**
   * The sign-in `lineage` ended without this tab asking: clear it and tell
   * the app, once. `broadcast` tells the other tabs too (not when they told us).
   */
  private lose(lineage: string, broadcast: boolean): void {
    this.ended.add(lineage);
    if (this.current?.lineage !== lineage) return;
    this.set(null);
    if (broadcast) this.post({ v: 1, type: "loggedOut", lineage });
    try {
      this.onLoggedOut?.();
    } catch {
      // The app's handler failing must not break the kit's state.
    }
  }

  private set(session: Session | null): void {
    this.current = session;
    // Hand-over locks of pairs this tab no longer holds go.
    for (const [id, release] of this.markers) {
      if (id !== session?.id) {
        release();
        this.markers.delete(id);
      }
    }
    this.storage.save(session);
    for (const listener of this.listeners) {
      try {
        listener(session);
      } catch {
        // A failing listener must not stop the others, or the kit.
      }
    }
  }

  private post(message: Message): void {
    if (!this.closed) this.channel?.postMessage(message);
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
      // In cookie mode the new refresh token arrives as a cookie: with
      // keepalive the browser still stores it if the page goes away (a
      // reload mid-refresh), instead of losing the session.
      keepalive: this.mode === "cookie",
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
