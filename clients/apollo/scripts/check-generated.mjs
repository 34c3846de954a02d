// Fails when src/generated/ is stale: regenerates into a scratch directory
// from the repository's schema.graphql and compares byte for byte.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const scratch = mkdtempSync(join(tmpdir(), "authql-codegen-"));
try {
  execFileSync("npx", ["graphql-codegen", "--config", "codegen.ts"], {
    env: { ...process.env, CODEGEN_OUT: `${scratch}/` },
    stdio: "inherit",
  });
  const stale = ["graphql.ts", "schema.ts"].filter(
    (file) =>
      readFileSync(join(scratch, file), "utf8") !== readFileSync(join("src/generated", file), "utf8"),
  );
  if (stale.length > 0) {
    console.error(
      `src/generated/{${stale.join(",")}} stale (schema.graphql or src/operations.graphql changed): run \`npm run codegen\` and commit the result`,
    );
    process.exit(1);
  }
  console.log("src/generated/ is up to date");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
