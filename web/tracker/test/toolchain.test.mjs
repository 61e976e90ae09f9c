// The test toolchain itself: jsdom must support the Node version running the tests, as declared in its
// package.json `engines`, so that the tests need no compatibility shim (CI runs Node 20).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

/* Does version "x.y.z" satisfy `range`? Understands what jsdom's `engines.node` uses: alternatives
 * joined by "||", each "^x.y.z", ">=x.y.z" or a bare "x.y.z". */
function satisfies(version, range) {
    const parse = (v) => v.replace(/^v/, '').split('.').map(Number);
    const cmp = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    const v = parse(version);
    return range.split('||').some((alt) => {
        const m = /^\s*(\^|>=)?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(alt);
        if (!m) return false;
        const base = [Number(m[2]), Number(m[3] || 0), Number(m[4] || 0)];
        if (m[1] === '>=') return cmp(v, base) >= 0;
        if (m[1] === '^') return v[0] === base[0] && cmp(v, base) >= 0;
        return cmp(v, base) === 0;
    });
}

test('the range check reads jsdom-style engine ranges', () => {
    assert.equal(satisfies('v20.20.2', '^20.19.0||^22.13.0||>=24.0.0'), true);
    assert.equal(satisfies('v20.18.0', '^20.19.0||^22.13.0||>=24.0.0'), false);
    assert.equal(satisfies('v20.20.2', '^22.22.2||^24.15.0||>=26.0.0'), false);
    assert.equal(satisfies('v26.1.0', '^22.22.2||^24.15.0||>=26.0.0'), true);
    assert.equal(satisfies('v20.0.0', '>=20'), true);
});

test('the installed jsdom declares support for this Node version (no shim needed)', () => {
    const pkg = createRequire(import.meta.url)('jsdom/package.json');
    const range = (pkg.engines && pkg.engines.node) || '>=0';
    assert.ok(satisfies(process.version, range), `jsdom ${pkg.version} wants Node ${range}, this is ${process.version}`);
});
