// Builds the demo site (Kestrel Loans) from web/demo/src/ into web/demo/dist/,
// which the server serves at /demo/ in demo mode.
//
//   node web/demo/build.mjs [--no-minify]
//
// Steps, each failing the build on error:
//   1. type-check: node_modules/.bin/tsc --noEmit -p web/demo (strict);
//   2. wipe dist/ so it is a pure function of src/ (nothing stale survives);
//   3. pages: src/*.html with the shared partials spliced in
//      (<!-- @header --> / <!-- @footer -->), aria-current="page" set on the nav
//      link to the page itself, then checked against the CSP rules the site
//      must keep (no inline script, style or event handler);
//   4. copy css/ and the media files the pages use (webm, webp, vtt, svg);
//   5. bundle src/ts/site.ts with esbuild (browser, es2019) to dist/js/site.js.
//
// The output depends only on src/ and the esbuild version: no timestamps,
// no hashes, so two builds of the same tree are byte-identical.

import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const demoDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.resolve(demoDir, '..', '..');
const srcDir = path.join(demoDir, 'src');
const distDir = path.join(demoDir, 'dist');

const MEDIA_EXTENSIONS = new Set(['.webm', '.webp', '.vtt', '.svg']);

/* Patterns that a strict `default-src 'self'` policy would block, or that
 * break the site's rules: checked on every built page. */
const CSP_VIOLATIONS = [
    { re: /<script(?![^>]*\ssrc=)[^>]*>/i, why: 'inline <script> (scripts must have src)' },
    { re: /<style[\s>]/i, why: 'inline <style> element' },
    { re: /\sstyle\s*=/i, why: 'style attribute' },
    { re: /\son[a-z]+\s*=/i, why: 'inline event handler attribute' },
    { re: /javascript:/i, why: 'javascript: URL' },
    { re: /<!--\s*@/, why: 'unresolved partial' },
];

async function typeCheck() {
    const tsc = path.join(repoDir, 'node_modules', '.bin', 'tsc');
    try {
        await promisify(execFile)(tsc, ['--noEmit', '-p', path.relative(repoDir, demoDir)], {
            cwd: repoDir,
        });
    } catch (err) {
        const out = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim();
        throw new Error(`tsc --noEmit -p web/demo failed:\n${out || err.message}`);
    }
}

/* Marks the nav link to `page` as the current page. The header partial's
 * links are plain `<a href="page.html">`; exactly one may match. */
function markCurrent(header, page) {
    const link = `<a href="${page}">`;
    return header.includes(link) ? header.replace(link, `<a href="${page}" aria-current="page">`) : header;
}

async function buildPages() {
    const partials = {
        header: await readFile(path.join(srcDir, 'partials', 'header.html'), 'utf8'),
        footer: await readFile(path.join(srcDir, 'partials', 'footer.html'), 'utf8'),
    };
    const pages = (await readdir(srcDir)).filter((f) => f.endsWith('.html')).sort();
    for (const page of pages) {
        let html = await readFile(path.join(srcDir, page), 'utf8');
        html = html
            .replace('<!-- @header -->', () => markCurrent(partials.header.trim(), page))
            .replace('<!-- @footer -->', () => partials.footer.trim());
        for (const { re, why } of CSP_VIOLATIONS) {
            const m = re.exec(html);
            if (m) throw new Error(`${page}: ${why}: ${m[0]}`);
        }
        if (!html.includes('<script src="/journey.js" defer></script>')) {
            throw new Error(`${page}: does not load /journey.js`);
        }
        await writeFile(path.join(distDir, page), html);
    }
    return pages;
}

async function copyDir(from, to, keep) {
    await mkdir(to, { recursive: true });
    const copied = [];
    for (const name of (await readdir(from)).sort()) {
        if (!keep(name)) continue;
        await copyFile(path.join(from, name), path.join(to, name));
        copied.push(name);
    }
    return copied;
}

async function bundle(minify) {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
        entryPoints: [path.join(srcDir, 'ts', 'site.ts')],
        outfile: path.join(distDir, 'js', 'site.js'),
        bundle: true,
        platform: 'browser',
        format: 'iife',
        target: 'es2019',
        minify,
        sourcemap: minify ? false : 'linked',
        legalComments: 'none',
        logLevel: 'silent',
        metafile: true,
    });
    return Object.entries(result.metafile.outputs)
        .filter(([file]) => file.endsWith('.js'))
        .map(([file, out]) => ({ file: path.relative(distDir, path.resolve(repoDir, file)), bytes: out.bytes }));
}

/* Builds dist/ from src/. Resolves to a summary of what was written;
 * rejects (leaving dist/ partial) on the first error. */
export async function buildDemo({ minify = true } = {}) {
    await typeCheck();
    await rm(distDir, { recursive: true, force: true });
    await mkdir(distDir, { recursive: true });
    const pages = await buildPages();
    const css = await copyDir(path.join(srcDir, 'css'), path.join(distDir, 'css'), (n) => n.endsWith('.css'));
    const media = await copyDir(path.join(srcDir, 'media'), path.join(distDir, 'media'), (n) =>
        MEDIA_EXTENSIONS.has(path.extname(n)),
    );
    const scripts = await bundle(minify);
    return { dist: distDir, pages, css, media, scripts };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
    const minify = !process.argv.includes('--no-minify');
    try {
        const s = await buildDemo({ minify });
        console.log(`demo: built ${path.relative(process.cwd(), s.dist) || '.'}/`);
        console.log(`  pages: ${s.pages.join(' ')}`);
        console.log(`  css:   ${s.css.join(' ')}`);
        console.log(`  media: ${s.media.join(' ')}`);
        for (const js of s.scripts) console.log(`  js:    ${js.file} (${js.bytes} bytes${minify ? ', minified' : ''})`);
    } catch (err) {
        console.error(`demo: build failed: ${err.message}`);
        process.exitCode = 1;
    }
}
