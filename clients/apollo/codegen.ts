// graphql-codegen: typed documents for src/operations.graphql, checked
// against the server's schema.graphql at the repository root. `npm run
// codegen` rewrites src/generated/; `npm run check` fails when that output
// is stale (scripts/check-generated.mjs sets CODEGEN_OUT to a scratch
// directory and compares).
import type { CodegenConfig } from "@graphql-codegen/cli";

const out = process.env.CODEGEN_OUT ?? "src/generated/";

const common = {
  // The custom scalar: DateTime is an RFC 3339 string; ids are UUID strings.
  scalars: { DateTime: "string", ID: "string" },
  enumsAsTypes: true,
  avoidOptionals: true,
};

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: "src/operations.graphql",
  generates: {
    // Typed documents and the types of their results and variables.
    [`${out}graphql.ts`]: {
      plugins: ["typescript-operations", "typed-document-node"],
      config: { ...common, useTypeImports: true },
    },
    // Every type of the schema (exported as the `Schema` namespace), so the
    // check also notices schema changes no operation here uses yet.
    [`${out}schema.ts`]: {
      plugins: ["typescript"],
      config: common,
    },
  },
  silent: true,
};

export default config;
