/*
 * Vite configuration of the dashboard (web/dashboard/).
 *
 *   node web/build.mjs dashboard     type check, then this build into web/dashboard/dist/
 *   npx vite web/dashboard           dev server; /api is proxied to JOURNEY_URL (default
 *                                    http://127.0.0.1:8080, a `make run` server)
 *
 * The server serves dist/ at / with a strict CSP (src/http/static.c): index.html may only load
 * /assets/*.js and /assets/*.css, so nothing may be inlined into it: no modulepreload polyfill
 * script, no inline CSS. Assets are content-hashed (the server caches assets/ for a year).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
    root: here,
    base: '/',
    publicDir: path.join(here, 'public'),
    logLevel: 'warn',
    build: {
        outDir: path.join(here, 'dist'),
        emptyOutDir: true,
        assetsDir: 'assets',
        modulePreload: { polyfill: false },
        assetsInlineLimit: 0,
        cssCodeSplit: true,
        sourcemap: false,
        reportCompressedSize: false,
        chunkSizeWarningLimit: 700,
        rollupOptions: {
            output: {
                /* ECharts (core, charts, components, renderer) in one chunk shared by every chart page. */
                manualChunks(id) {
                    if (id.includes('/node_modules/echarts/') || id.includes('/node_modules/zrender/')) return 'echarts';
                    return undefined;
                },
            },
        },
    },
    server: {
        host: '127.0.0.1',
        proxy: { '/api': process.env.JOURNEY_URL || 'http://127.0.0.1:8080' },
    },
});
