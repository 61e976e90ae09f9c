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
 * Tracker outputs (web/tracker/dist/), IIFE, es2019:
 *   journey.js                    the whole tracker, intervention UI included (an intervention pushed over
 *                                 the open WebSocket is drawn with no further fetch: DESIGN.md, "Latency
 *                                 budget"); minified; its gzip size must stay <= 10 KB
 *   journey.debug.js (+ .map)     the same, unminified, with a source map
 * Minification also renames properties whose name starts with "_" (esbuild mangleProps): the tracker's
 * internal objects use such names, the public API, options and wire format never do.
 * The test web/tracker/test/loader.test.mjs imports trackerBuildOptions() to test this exact bundle.
 *
 * Dashboard outputs (web/dashboard/dist/, served at /): Vite builds web/dashboard/ with its
 * vite.config.mjs (ES modules, one chunk per page, ECharts in a shared chunk); index.html loads only
 * /assets/*.js and /assets/*.css (the server's CSP allows no inline script or style), which the bundle
 * step checks. Its size report lists every asset, minified and gzip.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { buildDemo } from './demo/build.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSC = path.join(ROOT, 'node_modules/.bin/tsc');
const TRACKER = path.join(ROOT, 'web/tracker');
const DASHBOARD = path.join(ROOT, 'web/dashboard');
const GZIP_LIMIT_BYTES = 10 * 1024;
/* Outputs of earlier builds that no longer exist: removed so that nothing stale gets served. */
const STALE = ['journey-ui.js', 'journey-ui.debug.js', 'journey-ui.debug.js.map'];

const STEPS = [
    { name: 'tracker:typecheck', run: () => typecheck(TRACKER) },
    { name: 'tracker:bundle', run: bundleTracker },
    { name: 'demo', run: async () => { await buildDemo({ minify: true }); return 'web/demo/dist/ built'; } },
    { name: 'dashboard:typecheck', run: () => typecheck(DASHBOARD) },
    { name: 'dashboard:bundle', run: bundleDashboard },
];

/* tsc --noEmit -p <project>; throws with tsc's exit status. */
function typecheck(project) {
    const r = spawnSync(TSC, ['--noEmit', '-p', project], { cwd: ROOT, stdio: 'inherit' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`tsc -p ${path.relative(ROOT, project)} failed (exit ${r.status})`);
    return `${path.relative(ROOT, project)}: types ok`;
}

/* esbuild options for dist/journey.js (`minify`) or journey.debug.js; `outfile` unset. */
export function trackerBuildOptions(minify) {
    const version = /VERSION = '([^']+)'/.exec(readFileSync(path.join(TRACKER, 'src/version.ts'), 'utf8'))[1];
    return {
        entryPoints: [path.join(TRACKER, 'src/index.ts')],
        bundle: true,
        format: 'iife',
        target: 'es2019',
        platform: 'browser',
        legalComments: 'none',
        banner: { js: `/* journey.js ${version} */` },
        logLevel: 'warning',
        ...(minify ? { minify: true, mangleProps: /^_/ } : { sourcemap: true }),
    };
}

async function bundleTracker() {
    const out = path.join(TRACKER, 'dist');
    await build({ ...trackerBuildOptions(true), outfile: path.join(out, 'journey.js') });
    await build({ ...trackerBuildOptions(false), outfile: path.join(out, 'journey.debug.js') });
    for (const f of STALE) rmSync(path.join(out, f), { force: true });

    const min = readFileSync(path.join(out, 'journey.js'));
    const gz = gzipSync(min, { level: 9 }).length;
    const kb = (n) => (n / 1024).toFixed(2) + ' KB';
    const line =
        `web/tracker/dist/journey.js: ${min.length} bytes (${kb(min.length)}) minified, ` +
        `${gz} bytes (${kb(gz)}) gzip, limit ${kb(GZIP_LIMIT_BYTES)}`;
    if (gz > GZIP_LIMIT_BYTES) throw new Error(line + ': over the size budget');
    return line;
}

/* Vite's JS API with web/dashboard/vite.config.mjs; then checks index.html against the CSP and lists sizes. */
async function bundleDashboard() {
    const { build: viteBuild } = await import('vite');
    await viteBuild({ configFile: path.join(DASHBOARD, 'vite.config.mjs'), logLevel: 'warn' });
    const dist = path.join(DASHBOARD, 'dist');
    const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
    const inline = [/<script(?![^>]*\bsrc=)[^>]*>/i, /<style[\s>]/i, /\sstyle=/i, /\son[a-z]+=/i];
    for (const re of inline) {
        if (re.test(html)) throw new Error(`web/dashboard/dist/index.html has inline code (${re}): the CSP would refuse it`);
    }
    for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
        if (!/^\/(assets\/[\w.-]+\.(js|css)|favicon\.svg)$/.test(m[1])) throw new Error(`index.html loads ${m[1]}: only /assets/*.js and /assets/*.css`);
    }
    const kb = (n) => (n / 1024).toFixed(1).padStart(6) + ' KB';
    const rows = readdirSync(path.join(dist, 'assets')).sort().map((f) => {
        const b = readFileSync(path.join(dist, 'assets', f));
        return { f, raw: b.length, gz: gzipSync(b, { level: 9 }).length };
    });
    const total = rows.reduce((a, r) => ({ raw: a.raw + r.raw, gz: a.gz + r.gz }), { raw: 0, gz: 0 });
    const lines = rows.map((r) => `    assets/${r.f.padEnd(34)} ${kb(r.raw)} ${kb(r.gz)} gzip`);
    return `web/dashboard/dist/ built\n${lines.join('\n')}\n    ${'total'.padEnd(41)} ${kb(total.raw)} ${kb(total.gz)} gzip`;
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

/* Run only as a program: the tracker's tests import this file for trackerBuildOptions(). */
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    process.exitCode = await main(process.argv.slice(2));
}
