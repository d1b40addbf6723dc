// Print, as JSON, the memory section Letta Code's own renderer (`renderMemfsProjection` in its bundle)
// produces for the committed HEAD of a memory repository.
//
//   node render_memory.mjs <letta-code package dir> <memory repository>
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, memoryDir] = process.argv.slice(2);
const source = readFileSync(join(packageDir, "letta.js"), "utf8");
const entry = /\nawait init_src\d*\(\)\.then\(\(\) => exports_src\d*\);\n/;
if (!entry.test(source)) throw new Error("letta.js: entry point not found (Letta Code version changed?)");
const patched = source.replace(/^#!.*\n/, "").replace(entry, `
init_system_prompt_compilation();
globalThis.__lettaRender = renderMemfsProjection;
`);
const copy = join(packageDir, `.letta-ls-render-${process.pid}.mjs`);
writeFileSync(copy, patched);
try {
  await import(pathToFileURL(copy).href);
} finally {
  rmSync(copy, { force: true });
}
process.stdout.write(JSON.stringify(globalThis.__lettaRender(memoryDir).content));
process.exit(0);
