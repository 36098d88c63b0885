import { GantryError } from '../errors.js';
import { envEntryBytes, envValueReason, MAX_ENV_TOTAL_BYTES, reservedEnvReason, type EnvTarget } from './env-rules.js';

export interface PortSpec {
  /** The port the workload expects (Docker's "container port"). */
  readonly containerPort: number;
  readonly proto: 'tcp' | 'udp';
}

export interface ParsedEnv {
  readonly env: Readonly<Record<string, string>>;
  readonly ports: readonly PortSpec[];
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_ENV_VARS = 256;
export const MAX_PORTS = 32;

function invalid(message: string): GantryError {
  return new GantryError('INVALID_ENV', message);
}

/** Split a flag string the way a POSIX shell would for quotes and backslashes (no expansion). */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote !== null) throw invalid(`Unclosed ${quote} quote in env string.`);
  if (inWord) out.push(cur);
  return out;
}

function parsePort(spec: string): PortSpec {
  const m = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}):)?(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  const host = m?.[1] === undefined ? port : Number(m[1]);
  const ok = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;
  if (!m || !ok(port) || !ok(host)) {
    throw invalid(`Port mapping '${spec}' is not of the form [HOST:]CONTAINER[/tcp|udp] with ports 1-65535.`);
  }
  return { containerPort: port, proto: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

/**
 * Set one variable as an own property. `__proto__` is a valid name to a shell, so it is kept, not refused; but
 * `env[name] = value` with it calls Object.prototype's setter and the variable is lost without a word (other
 * names of Object.prototype, `constructor`, `toString`, are shadowed by an assignment already). The object stays
 * a plain one: spread copies and JSON keep the name as they keep every other, so env is copied by spread, never
 * by assignment (Object.assign) into another plain object.
 */
export function putEnvVar(env: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(env, name, { value, enumerable: true, writable: true, configurable: true });
}

function setVar(env: Record<string, string>, assignment: string): void {
  const eq = assignment.indexOf('=');
  const key = eq < 0 ? assignment : assignment.slice(0, eq);
  if (!ENV_KEY.test(key)) throw invalid(`'${key}' is not a valid environment variable name.`);
  putEnvVar(env, key, eq < 0 ? '' : assignment.slice(eq + 1));
}

/** Names and values a process can be started with (env-rules.ts), checked once the whole env is known. */
function checkVars(env: Record<string, string>): void {
  let total = 0;
  for (const [k, v] of Object.entries(env)) {
    const why = envValueReason(k, v);
    if (why !== null) throw invalid(why);
    total += envEntryBytes(k, v);
  }
  if (total > MAX_ENV_TOTAL_BYTES) throw invalid(`The env holds more than ${MAX_ENV_TOTAL_BYTES} bytes.`);
}

function finish(env: Record<string, string>, ports: PortSpec[]): ParsedEnv {
  if (Object.keys(env).length > MAX_ENV_VARS) throw invalid(`At most ${MAX_ENV_VARS} environment variables are allowed.`);
  checkVars(env);
  const unique = [...new Map(ports.map((p) => [`${p.containerPort}/${p.proto}`, p])).values()];
  if (unique.length > MAX_PORTS) throw invalid(`At most ${MAX_PORTS} port mappings are allowed.`);
  return { env, ports: unique };
}

/**
 * For env a user writes (an instance's env, a workergroup's or deployment's worker env): names Gantry or the
 * runtime set are refused, less, for workers, what the official clients send there (env-rules.ts). Templates
 * Gantry builds itself (ML deployments pass GANTRY_* settings to their workers) skip this.
 */
export function refuseReservedNames(env: Readonly<Record<string, string>>, target: EnvTarget): void {
  for (const k of Object.keys(env)) {
    const why = reservedEnvReason(k, target);
    if (why !== null) throw invalid(why);
  }
}

/** Docker-style flags: `-e K=V`, `--env K=V`, `-p 8080:8080`, `-p 8080/udp`. */
function parseFlagString(s: string): ParsedEnv {
  const words = shellSplit(s);
  const env: Record<string, string> = {};
  const ports: PortSpec[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    const flag = /^(-e|--env|-p|--publish)(?:=(.*))?$/.exec(w);
    if (!flag) throw invalid(`Unexpected '${w}' in env string; use -e KEY=VALUE and -p HOST:CONTAINER.`);
    const value = flag[2] ?? words[++i];
    if (value === undefined) throw invalid(`Flag '${w}' needs a value.`);
    if (flag[1] === '-p' || flag[1] === '--publish') ports.push(parsePort(value));
    else setVar(env, value);
  }
  return finish(env, ports);
}

/**
 * Parse `env` as Vast clients send it: an object (`{"K":"V", "-p 8080:8080": "1"}`: the CLI puts
 * port flags in keys) or a Docker flag string (`-e K=V -p 8080:8080`).
 */
export function parseEnv(input: unknown): ParsedEnv {
  if (input === undefined || input === null || input === '') return { env: {}, ports: [] };
  if (typeof input === 'string') return parseFlagString(input);
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid('env must be an object of KEY: value pairs or a string of Docker flags.');
  const env: Record<string, string> = {};
  const ports: PortSpec[] = [];
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    const key = k.trim();
    if (key.startsWith('-')) {
      const parsed = parseFlagString(key);
      for (const [name, value] of Object.entries(parsed.env)) putEnvVar(env, name, value);
      ports.push(...parsed.ports);
      continue;
    }
    if (!ENV_KEY.test(key)) throw invalid(`'${key}' is not a valid environment variable name.`);
    if (v !== null && typeof v === 'object') throw invalid(`The value of env '${key}' must be a string, number or boolean.`);
    putEnvVar(env, key, typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');
  }
  return finish(env, ports);
}
