/*
 * node-compat.mjs: lets jsdom 31 load on Node 20 (test-only).
 *
 * jsdom 31 and its undici declare Node >= 22. On Node 20 three things are missing at load time:
 * zlib.createZstdDecompress and worker_threads.markAsUncloneable (referenced by undici while its
 * modules load; jsdom never uses them for a page built from a string) and the global `Iterator`
 * with its helper methods (ES2025; jsdom's tree iterators extend it and call .find()). Each shim is
 * installed only if the real thing is absent, so on Node >= 22 this file does nothing.
 */
import zlib from 'node:zlib';
import wt from 'node:worker_threads';

if (!zlib.createZstdDecompress) {
    zlib.createZstdDecompress = () => {
        throw new Error('zstd is not available on this Node version');
    };
}
if (!wt.markAsUncloneable) wt.markAsUncloneable = () => {};

if (typeof globalThis.Iterator === 'undefined') {
    const proto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
    function Iterator() {}
    Iterator.prototype = proto;
    const def = (name, fn) => Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true });
    def('find', function (p) { let i = 0; for (const v of this) if (p(v, i++)) return v; return undefined; });
    def('some', function (p) { let i = 0; for (const v of this) if (p(v, i++)) return true; return false; });
    def('every', function (p) { let i = 0; for (const v of this) if (!p(v, i++)) return false; return true; });
    def('forEach', function (f) { let i = 0; for (const v of this) f(v, i++); });
    def('reduce', function (f, acc) { let i = 0; for (const v of this) acc = f(acc, v, i++); return acc; });
    def('toArray', function () { return [...this]; });
    def('filter', function* (p) { let i = 0; for (const v of this) if (p(v, i++)) yield v; });
    def('map', function* (f) { let i = 0; for (const v of this) yield f(v, i++); });
    def('flatMap', function* (f) { let i = 0; for (const v of this) yield* f(v, i++); });
    def('take', function* (n) { if (n <= 0) return; for (const v of this) { yield v; if (--n <= 0) return; } });
    def('drop', function* (n) { for (const v of this) { if (n > 0) { n--; continue; } yield v; } });
    globalThis.Iterator = Iterator;
}
