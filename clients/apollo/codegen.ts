// graphql-codegen: typed documents for src/operations.graphql, checked
// against the server's schema.graphql at the repository root. `npm run
// codegen` rewrites src/generated/; `npm run check` fails when that output
// is stale (scripts/check-generated.mjs sets CODEGEN_OUT to a scratch
// directory and compares).
import type { CodegenConfig } from "@graphql-codegen/cli";

const out = process.env.CODEGEN_OUT ?? "src/generated/";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: "src/operations.graphql",
  generates: {
    [`${out}graphql.ts`]: {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // The two custom scalars: ids are UUID strings, DateTime RFC 3339.
        scalars: { DateTime: "string", ID: "string" },
        enumsAsTypes: true,
        useTypeImports: true,
        avoidOptionals: true,
      },
    },
  },
  silent: true,
};

export default config;
