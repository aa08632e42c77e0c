// Copies the browser builds of GraphiQL and React from node_modules into vendor/, so the
// API serves them itself: a police network without internet still gets a working GraphiQL.
// vendor/manifest.json is written last; the API treats its absence as "not built".
import { copyFile, mkdir, rm, writeFile, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "vendor");

const FILES = {
  "react/react.production.min.js": "react/umd/react.production.min.js",
  "react/react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
  "graphiql/graphiql.min.js": "graphiql/graphiql.min.js",
  "graphiql/graphiql.min.css": "graphiql/graphiql.min.css",
};

async function versionOf(pkg) {
  const meta = JSON.parse(await readFile(join(here, "node_modules", pkg, "package.json"), "utf8"));
  return meta.version;
}

async function build() {
  await rm(vendor, { recursive: true, force: true });
  for (const [target, source] of Object.entries(FILES)) {
    await mkdir(dirname(join(vendor, target)), { recursive: true });
    await copyFile(join(here, "node_modules", source), join(vendor, target));
  }
  const versions = {};
  for (const pkg of ["graphiql", "graphql", "react", "react-dom"]) versions[pkg] = await versionOf(pkg);
  await writeFile(
    join(vendor, "manifest.json"),
    JSON.stringify({ files: Object.keys(FILES), versions }, null, 2) + "\n",
  );
  console.log(`console: vendor/ holds ${Object.keys(FILES).length} files (graphiql ${versions.graphiql}, react ${versions.react})`);
}

build().catch((error) => {
  console.error(`console build failed: ${error.message}\nrun: npm ci --prefix dashboards/console`);
  process.exit(1);
});
