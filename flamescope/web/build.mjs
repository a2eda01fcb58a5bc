#!/usr/bin/env node
// build.mjs — bundles the flamescope web UI for embedding into fntrace-flamescope.
//
//   node flamescope/web/build.mjs OUTDIR
//
// Writes OUTDIR/index.html, OUTDIR/app.js and OUTDIR/app.css: src/main.js and everything
// it imports (d3, d3-flame-graph from node_modules, installed by `npm ci` through
// `make deps`) in one minified script and one stylesheet.  The output depends only on
// the sources and the lock file, so the same tree builds the same bytes.
// tools/embed-assets.mjs then turns OUTDIR into C.

import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] && path.resolve(process.argv[2]);
if (!out) {
    console.error('usage: build.mjs OUTDIR');
    process.exit(2);
}

let esbuild;
try {
    esbuild = await import('esbuild');
} catch {
    console.error(`build.mjs: esbuild is missing from ${path.join(here, 'node_modules')}; run \`make deps\` (npm ci) first`);
    process.exit(1);
}

// Build into a temporary folder next to OUTDIR, then swap it in: no half-built bundle.
const tmp = `${out}.tmp`;
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(tmp, { recursive: true });
try {
    await esbuild.build({
        absWorkingDir: here,
        entryPoints: { app: 'src/main.js' },
        bundle: true,
        minify: true,
        format: 'iife',
        target: ['es2020'],
        outdir: tmp,
        legalComments: 'eof',
        logLevel: 'warning',
        charset: 'utf8',
    });
} catch {
    process.exit(1); // esbuild has printed the errors
}
fs.copyFileSync(path.join(here, 'src/index.html'), path.join(tmp, 'index.html'));
fs.rmSync(out, { recursive: true, force: true });
fs.renameSync(tmp, out);
