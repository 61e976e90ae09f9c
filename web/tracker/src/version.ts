/* version.ts: the library version sent as context.library.version. Bump with every release. */
export const VERSION = '0.1.0';
