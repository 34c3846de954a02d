// The Apollo link: puts the access token on each operation, refreshes it
// before it expires, and on `UNAUTHENTICATED` refreshes and retries once.

import { ApolloLink } from "@apollo/client";
import { Observable, type Subscription } from "rxjs";

import type { AuthKit } from "./kit.js";

/** True when a result carries a GraphQL error with `extensions.code === code`. */
function hasCode(result: ApolloLink.Result, code: string): boolean {
  const errors = "errors" in result ? result.errors : undefined;
  return Array.isArray(errors) && errors.some((e) => e?.extensions?.code === code);
}

/**
 * The link to put before the `HttpLink`:
 * `link: ApolloLink.from([createAuthLink(kit), new HttpLink({ uri })])`.
 */
export function createAuthLink(kit: AuthKit): ApolloLink {
  return new ApolloLink(
    (operation, forward) =>
      new Observable<ApolloLink.Result>((observer) => {
        let inner: Subscription | undefined;
        let closed = false;

        const send = (token: string | null, retried: boolean): void => {
          operation.setContext(({ headers }) => {
            const next: Record<string, string> = { ...(headers as Record<string, string> | undefined) };
            if (token) next.authorization = `Bearer ${token}`;
            else delete next.authorization;
            return { headers: next };
          });
          let refused: ApolloLink.Result | undefined;
          inner = forward(operation).subscribe({
            next: (result) => {
              // An access token refused in flight (it expired on the way, or
              // the server ended the session): hold the answer back, refresh
              // and retry once. A second refusal goes to the app.
              if (!retried && token !== null && hasCode(result, "UNAUTHENTICATED")) {
                refused = result;
                return;
              }
              observer.next(result);
            },
            error: (error: unknown) => observer.error(error),
            complete: () => {
              if (refused === undefined) {
                observer.complete();
                return;
              }
              const answer = refused;
              kit.refresh(token).then(
                (session) => {
                  if (closed) return;
                  if (session) {
                    send(session.accessToken, true);
                  } else {
                    observer.next(answer);
                    observer.complete();
                  }
                },
                (error: unknown) => {
                  if (!closed) observer.error(error);
                },
              );
            },
          });
        };

        kit.accessToken().then(
          (token) => {
            if (!closed) send(token, false);
          },
          (error: unknown) => {
            if (!closed) observer.error(error);
          },
        );

        return () => {
          closed = true;
          inner?.unsubscribe();
        };
      }),
  );
}
