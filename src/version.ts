/** The package version (test/runtimes/env.test.ts checks it against package.json). */
export const VERSION = '0.1.0';
