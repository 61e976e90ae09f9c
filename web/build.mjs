#!/usr/bin/env node
/*
 * web/build.mjs: builds the browser parts of Journey.
 *
 * The build is a list of steps, run in order; the first failure stops it with exit code 1. Adding the
 * dashboard means adding its steps to STEPS (a type check and a bundle, like the tracker's).
 *
 *   node web/build.mjs                 run every step
 *   node web/build.mjs tracker         run the steps whose name starts with "tracker"
 *   node web/build.mjs --list          print the step names
 *
 * Tracker outputs (web/tracker/dist/), each IIFE, es2019:
 *   journey.js                    the tracker, minified; its gzip size must stay <= 10 KB
 *   journey.debug.js (+ .map)     the same, unminified, with a source map
 *   journey-ui.js                 the intervention UI, loaded by journey.js on first use from the same
 *                                 directory; minified, gzip <= 4 KB
 *   journey-ui.debug.js (+ .map)  the same, unminified, with a source map
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSC = path.join(ROOT, 'node_modules/.bin/tsc');
const TRACKER = path.join(ROOT, 'web/tracker');
const GZIP_LIMIT_BYTES = { 'journey.js': 10 * 1024, 'journey-ui.js': 4 * 1024 };

const STEPS = [
    { name: 'tracker:typecheck', run: () => typecheck(TRACKER) },
    { name: 'tracker:bundle', run: bundleTracker },
];

/* tsc --noEmit -p <project>; throws with tsc's exit status. */
function typecheck(project) {
    const r = spawnSync(TSC, ['--noEmit', '-p', project], { cwd: ROOT, stdio: 'inherit' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`tsc -p ${path.relative(ROOT, project)} failed (exit ${r.status})`);
    return `${path.relative(ROOT, project)}: types ok`;
}

async function bundleTracker() {
    const version = /VERSION = '([^']+)'/.exec(readFileSync(path.join(TRACKER, 'src/version.ts'), 'utf8'))[1];
    const out = path.join(TRACKER, 'dist');
    const lines = [];
    for (const [entry, name] of [
        ['src/index.ts', 'journey'],
        ['src/ui/index.ts', 'journey-ui'],
    ]) {
        const common = {
            entryPoints: [path.join(TRACKER, entry)],
            bundle: true,
            format: 'iife',
            target: 'es2019',
            platform: 'browser',
            legalComments: 'none',
            banner: { js: `/* ${name}.js ${version} */` },
            logLevel: 'warning',
        };
        await build({ ...common, minify: true, outfile: path.join(out, name + '.js') });
        await build({ ...common, sourcemap: true, outfile: path.join(out, name + '.debug.js') });

        const min = readFileSync(path.join(out, name + '.js'));
        const gz = gzipSync(min, { level: 9 }).length;
        const limit = GZIP_LIMIT_BYTES[name + '.js'];
        const kb = (n) => (n / 1024).toFixed(2) + ' KB';
        const line =
            `web/tracker/dist/${name}.js: ${min.length} bytes (${kb(min.length)}) minified, ` +
            `${gz} bytes (${kb(gz)}) gzip, limit ${kb(limit)}`;
        if (gz > limit) throw new Error(line + ': over the size budget');
        lines.push(line);
    }
    return '\n  ' + lines.join('\n  ');
}

async function main(argv) {
    if (argv.includes('--list')) {
        for (const s of STEPS) console.log(s.name);
        return 0;
    }
    const wanted = argv.filter((a) => !a.startsWith('-'));
    const steps = STEPS.filter((s) => !wanted.length || wanted.some((w) => s.name.startsWith(w)));
    if (!steps.length) {
        console.error(`build: no step matches ${wanted.join(' ')} (try --list)`);
        return 2;
    }
    for (const step of steps) {
        const t0 = Date.now();
        try {
            const note = await step.run();
            console.log(`[${step.name}] ok in ${Date.now() - t0} ms${note ? ': ' + note : ''}`);
        } catch (e) {
            console.error(`[${step.name}] FAILED: ${e.message}`);
            return 1;
        }
    }
    return 0;
}

process.exitCode = await main(process.argv.slice(2));
