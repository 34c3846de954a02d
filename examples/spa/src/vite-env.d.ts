/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** authql's GraphQL endpoint. Default `/graphql` (same origin). */
  readonly VITE_AUTHQL_URI?: string;
  /** `body` or `cookie`: must match the server's REFRESH_TOKEN_COOKIE. */
  readonly VITE_AUTHQL_MODE?: string;
}
