// Write Letta Code's own memory pre-commit hook, its `letta-memory-constraints.cjs` and the layout policy a
// fresh agent gets, exactly as the installed bundle generates them (`installMemoryGitHooks`), into OUT_DIR.
//
// The bundle (`letta.js`) builds the hook text from its validator functions when its
// `memory-git-hooks` module initialises. We load a copy of the bundle whose last statement (the CLI's
// entry point) is replaced by a call to that initialiser and to the installer, so no CLI runs, nothing
// touches the network, and the hook is byte for byte the one every Letta Code agent commits through.
//
//   node extract_hook.mjs <letta-code package dir> <out dir>
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, outDir] = process.argv.slice(2);
const source = readFileSync(join(packageDir, "letta.js"), "utf8");
const entry = /\nawait init_src\d*\(\)\.then\(\(\) => exports_src\d*\);\n/;
if (!entry.test(source)) throw new Error("letta.js: entry point not found (Letta Code version changed?)");
const scratch = join(outDir, "repo");
mkdirSync(join(scratch, ".git", "hooks"), { recursive: true });
const patched = source.replace(/^#!.*\n/, "").replace(entry, `
init_memory_git_hooks();
installMemoryGitHooks(${JSON.stringify(scratch)});
`);
const copy = join(packageDir, `.letta-ls-extract-${process.pid}.mjs`);
writeFileSync(copy, patched);
try {
  await import(pathToFileURL(copy).href);
} finally {
  rmSync(copy, { force: true });
}
for (const name of ["pre-commit", "letta-memory-constraints.cjs"]) {
  writeFileSync(join(outDir, name), readFileSync(join(scratch, ".git", "hooks", name)));
}
writeFileSync(join(outDir, "letta-memory-layout-policy"), readFileSync(join(scratch, ".git", "letta-memory-layout-policy")));
rmSync(scratch, { recursive: true, force: true });
console.error(`hook written to ${outDir}`);
process.exit(0);
