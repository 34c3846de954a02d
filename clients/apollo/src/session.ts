// The session a tab holds, and where it may be kept.

import type { AuthPayloadFieldsFragment } from "./generated/graphql.js";

/** One token pair as this client holds it. */
export interface Session {
  /** The JWT sent as `Authorization: Bearer`. */
  readonly accessToken: string;
  /** The single-use refresh token; `null` in cookie mode, where only the browser holds it. */
  readonly refreshToken: string | null;
  /** When the access token expires (ms since the epoch, this client's clock). */
  readonly expiresAt: number;
  /** From when on the link refreshes before sending (ms since the epoch). */
  readonly refreshAt: number;
  /** When this client received the pair (ms since the epoch; for display only). */
  readonly issuedAt: number;
  /** A random id of the pair, used by tabs to tell pairs apart without comparing tokens. */
  readonly id: string;
  /**
   * A random id of the sign-in the pair descends from (kept across
   * refreshes): tabs never mix pairs of two sign-ins, and a sign-in that
   * ended is never resumed from a late message.
   */
  readonly lineage: string;
  /**
   * 1 for the pair of a sign-in, one more for each refresh. Orders the pairs
   * of one lineage without trusting clocks: refreshes run one at a time
   * under the lock, each from the newest pair, so the count only grows.
   */
  readonly generation: number;
}

/**
 * True when `value` has the shape of a {@link Session}: what comes from
 * storage or another tab is checked before it is used.
 */
export function isSession(value: unknown): value is Session {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    typeof s.accessToken === "string" &&
    (typeof s.refreshToken === "string" || s.refreshToken === null) &&
    typeof s.expiresAt === "number" &&
    typeof s.refreshAt === "number" &&
    typeof s.issuedAt === "number" &&
    typeof s.id === "string" &&
    typeof s.lineage === "string" &&
    typeof s.generation === "number" &&
    Number.isSafeInteger(s.generation)
  );
}

/** Where the session is kept between operations (and, if you choose, reloads). */
export interface SessionStorage {
  load(): Session | null;
  save(session: Session | null): void;
}

/**
 * Keeps the session in this tab's memory only: the default. Nothing survives
 * a reload and no other script can read it from storage; other tabs get it
 * over the BroadcastChannel (see `AuthKit.resume`).
 */
export function memoryStorage(): SessionStorage {
  let kept: Session | null = null;
  return {
    load: () => kept,
    save: (session) => {
      kept = session;
    },
  };
}

/**
 * Keeps the session in `localStorage` or `sessionStorage`, so it survives a
 * reload. Any script on the origin can read it there (an XSS can steal the
 * refresh token): prefer memory, or cookie mode, where JavaScript never
 * holds a refresh token.
 */
export function webStorage(storage: Storage, key = "authql.session"): SessionStorage {
  return {
    load: () => {
      const raw = storage.getItem(key);
      if (raw === null) return null;
      try {
        const session: unknown = JSON.parse(raw);
        return isSession(session) ? session : null;
      } catch {
        return null;
      }
    },
    save: (session) => {
      if (session === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(session));
    },
  };
}

/**
 * Turns an `AuthPayload` into a session: a new sign-in, or with `previous`
 * the refresh of that pair (same lineage, next generation). The link
 * refreshes a quarter of the lifetime before expiry, at most 30 s before, so
 * a request never leaves with a token about to die on the way.
 */
export function sessionFrom(
  payload: AuthPayloadFieldsFragment,
  previous: Session | null = null,
  now = Date.now(),
): Session {
  const lifetime = payload.expiresIn * 1000;
  const expiresAt = now + lifetime;
  return {
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    expiresAt,
    refreshAt: expiresAt - Math.min(30_000, lifetime / 4),
    issuedAt: now,
    id: randomId(),
    lineage: previous?.lineage ?? randomId(),
    generation: (previous?.generation ?? 0) + 1,
  };
}

/** 128 random bits as hex (getRandomValues works outside secure contexts too). */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
