import { defineConfig } from "vite";

// In development the app and authql share one origin: Vite forwards
// /graphql to the server (AUTHQL_URL, default the address `cargo run`
// listens on). Same origin means no CORS, and in cookie mode the browser
// sends authql's refresh-token cookie (Path=/graphql) with the kit's
// refresh and logout requests.
const target = process.env.AUTHQL_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  server: {
    port: 5173,
    strictPort: true,
    proxy: { "/graphql": { target, changeOrigin: false } },
  },
  preview: {
    port: 4173,
    proxy: { "/graphql": { target, changeOrigin: false } },
  },
  // The kit is linked from clients/apollo, which has its own node_modules:
  // make sure the app and the kit share one Apollo Client and one graphql.
  resolve: { dedupe: ["@apollo/client", "graphql", "rxjs"] },
  build: { sourcemap: true },
});
