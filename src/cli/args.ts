/** A tiny argv parser: positionals, `--flag value`, `--flag=value`, repeated flags, boolean switches, `--`. */

/** Bad command-line usage: main prints the message plus usage and exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  positional: string[];
  /** every value given for each option, in order (booleans hold 'true') */
  options: Map<string, string[]>;
  /** last value of an option */
  get(name: string): string | undefined;
  /** all values of a repeated option */
  all(name: string): string[];
  has(name: string): boolean;
  /** an integer option in [min, max] (UsageError otherwise) */
  int(name: string, def: number, min?: number, max?: number): number;
}

export interface ArgSpec {
  /** options that take a value */
  values?: readonly string[];
  /** switches that take none */
  booleans?: readonly string[];
  /** short aliases, e.g. { v: 'verbose' } */
  aliases?: Record<string, string>;
}

export function parseArgs(argv: readonly string[], spec: ArgSpec = {}): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const booleans = new Set(spec.booleans ?? []);
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  const add = (k: string, v: string) => {
    const a = options.get(k);
    if (a) a.push(v);
    else options.set(k, [v]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-' && !/^-\d/.test(a)) {
      let name = a.replace(/^--?/, '');
      let val: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        val = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      if (!a.startsWith('--')) name = spec.aliases?.[name] ?? name;
      if (booleans.has(name)) {
        if (val !== undefined && val !== 'true' && val !== 'false') throw new UsageError(`option --${name} takes no value`);
        if (val !== 'false') add(name, 'true');
        continue;
      }
      if (!values.has(name)) throw new UsageError(`unknown option ${a.split('=')[0]}`);
      if (val === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`);
        val = argv[++i]!;
      }
      add(name, val);
      continue;
    }
    positional.push(a);
  }
  return {
    positional,
    options,
    get: (n) => options.get(n)?.at(-1),
    all: (n) => options.get(n) ?? [],
    has: (n) => options.has(n),
    int(n, def, min = -Infinity, max = Infinity) {
      const v = options.get(n)?.at(-1);
      if (v === undefined) return def;
      const x = Number(v);
      if (!Number.isSafeInteger(x) || x < min || x > max) throw new UsageError(`option --${n} must be an integer in [${min}, ${max}], got '${v}'`);
      return x;
    },
  };
}
