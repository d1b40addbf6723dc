// Print, as JSON, what Letta Code's MemFS v2 code makes of a memory folder: the snapshot of the parent
// agent's memory its reflection subagent gets (`buildMemfsV2ParentMemorySnapshot`: the tree of projected
// files, then every in-context root file in full) and the files its system-prompt estimate counts
// (`estimateSystemPromptSize`), both from its bundle. (Letta Code renders a v2 agent's system prompt on
// the Letta server; these are the two places its own code decides what of a v2 folder is in context.)
//
//   node render_memory_v2.mjs <letta-code package dir> <memory folder>
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, memoryDir] = process.argv.slice(2);
const source = readFileSync(join(packageDir, "letta.js"), "utf8");
const entry = /\nawait init_src\d*\(\)\.then\(\(\) => exports_src\d*\);\n/;
if (!entry.test(source)) throw new Error("letta.js: entry point not found (Letta Code version changed?)");
const patched = source.replace(/^#!.*\n/, "").replace(entry, `
init_reflection_memory_v2();
init_system_prompt_size();
globalThis.__lettaV2 = { snapshot: buildMemfsV2ParentMemorySnapshot, size: estimateSystemPromptSize };
`);
const copy = join(packageDir, `.letta-ls-render-v2-${process.pid}.mjs`);
writeFileSync(copy, patched);
try {
  await import(pathToFileURL(copy).href);
} finally {
  rmSync(copy, { force: true });
}
const { snapshot, size } = globalThis.__lettaV2;
const parentMemory = await snapshot(memoryDir, 1000000);
const inContext = size(memoryDir, false).files.map((row) => row.path);
process.stdout.write(JSON.stringify({ parentMemory, inContext }));
process.exit(0);
