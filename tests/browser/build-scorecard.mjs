// Builds prompts/templates/scorecard.html, the scorecard MCP App view, as ONE self-contained file:
// the view's own CSS and JS from prompts/templates/scorecard/ and the app side of
// @modelcontextprotocol/ext-apps (App, PostMessageTransport and what they import), bundled and
// minified by esbuild and inlined, so the page loads nothing from the network (hosts apply a
// strict content security policy).
//
//   npm run build      # write prompts/templates/scorecard.html
//   npm run check      # exit 1 if the committed file differs from a fresh build
//
// The output depends only on the sources and on the exact versions in package-lock.json, so the
// check is a reproducibility test (tests/test_scorecard_browser.py runs it).

import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const sourceDir = path.join(root, "prompts", "templates", "scorecard");
const target = path.join(root, "prompts", "templates", "scorecard.html");

// zod's namespace re-exports every locale (about 250 kB); the bridge only ever uses English error
// messages, so the locale index is cut down to English.
const englishOnlyZod = {
  name: "zod-english-only",
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      loader: "js",
    }));
  },
};

// The npm packages that put code into the bundle (not those whose imports were all shaken out).
function packagesOf(metafile) {
  const seen = new Map();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.split(path.sep).join("/"));
      if (match && bytesInOutput > 0) {
        seen.set(match[1], path.join(here, "node_modules", match[1], "package.json"));
      }
    }
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
}

async function bundle() {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [path.join(sourceDir, "app.js")],
    nodePaths: [path.join(here, "node_modules")],
    bundle: true,
    write: false,
    minify: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
    plugins: [englishOnlyZod],
  });
  const js = result.outputFiles[0].text.trim();
  const packages = [];
  for (const [name, manifest] of packagesOf(result.metafile)) {
    const info = JSON.parse(await readFile(manifest, "utf8"));
    packages.push(`${name} ${info.version} (${info.license})`);
  }
  return { js, packages };
}

function inline(html, marker, text) {
  if (!html.includes(marker)) throw new Error(`index.html has no ${marker} marker`);
  return html.replace(marker, () => text);
}

export async function buildScorecard() {
  const [page, css, { js, packages }] = await Promise.all([
    readFile(path.join(sourceDir, "index.html"), "utf8"),
    readFile(path.join(sourceDir, "app.css"), "utf8"),
    bundle(),
  ]);
  // Inlined text must not end its element early or open an HTML comment inside a script.
  if (/<\/script|<!--|<script/i.test(js)) throw new Error("the bundle contains an HTML-breaking sequence");
  if (/<\/style/i.test(css)) throw new Error("app.css contains </style");
  const header = [
    "<!-- Creator scorecard, the view of the show_scorecard tool (an MCP App).",
    "     Built by tests/browser/build-scorecard.mjs from prompts/templates/scorecard/: do not edit;",
    "     run `npm run build` in tests/browser. Bundled and minified:",
    ...packages.map((item) => `     ${item}`),
    "-->",
  ].join("\n");
  let html = page.replace(/^<!doctype html>\n/i, (doctype) => `${doctype}${header}\n`);
  html = inline(html, "<!--INLINE:app.css-->", `<style>\n${css.trim()}\n</style>`);
  html = inline(html, "<!--INLINE:app.js-->", `<script>${js}</script>`);
  return { html, bytes: { js: Buffer.byteLength(js), html: Buffer.byteLength(html) }, packages };
}

async function main() {
  const check = process.argv.includes("--check");
  const { html, bytes } = await buildScorecard();
  const relative = path.relative(root, target);
  if (check) {
    const committed = await readFile(target, "utf8").catch(() => "");
    if (committed !== html) {
      console.error(`${relative} is out of date: run \`npm run build\` in tests/browser and commit it.`);
      process.exit(1);
    }
    console.log(`${relative} is up to date (${bytes.html} bytes).`);
    return;
  }
  await writeFile(target, html);
  console.log(`wrote ${relative}: ${bytes.html} bytes (bundled script ${bytes.js} bytes)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
