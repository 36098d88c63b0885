/**
 * How the compatibility suite judges one run of an official Vast client by its output (the legacy CLI
 * exits 0 on HTTP errors, and many verbs print an error body instead of failing).
 *
 * - **refused**: Gantry answered a deliberate refusal: a 4xx whose message says why Gantry does not
 *   offer the verb. Until a dedicated error code exists, a refusal is recognised by its message: it
 *   names Gantry and says what it does not do ("not", "no", "cannot", "n't"), and it is not a
 *   "No route" 404, and the output shows it as an error (a 4xx status, or an error body printed as it
 *   came). A refusal the client shows only as a bare status (no message) is not one. Some verbs print
 *   only the message after their own "Error:" (the tfa verbs): such a line counts when it says in
 *   Gantry's refusal wording that the feature is not offered ("not supported", "Gantry has no", …)
 *   and nothing crashed, so a failure that merely mentions Gantry stays a failure.
 * - **fail**: a 5xx, a traceback, "failed with error", "No route", an `Error` word or exception name,
 *   `"success": false`, a client killed by its timeout, no output where data is expected, or a
 *   verb-specific pattern that does not match.
 * - **pass** otherwise.
 */
export type Verdict = 'pass' | 'refused' | 'fail';

export interface Judgement {
  readonly result: Verdict;
  /** One line: why. */
  readonly reason: string;
}

export interface JudgeOptions {
  /** The output must match this (a field the verb is about). */
  readonly expect?: RegExp;
  /** Empty output is a pass (a verb that prints nothing on success). */
  readonly mayBeEmpty?: boolean;
  /** A purely client-local verb (self-update, set api-key): only a crash fails it. */
  readonly local?: boolean;
}

const STATUS_PATTERNS: readonly RegExp[] = [
  /failed with error (\d{3})/gi,
  /"status_code":\s*(\d{3})/g,
  /\b(\d{3}) (?:Client|Server) Error\b/g,
  /\bHTTP (\d{3})\b/g,
];

/** Every HTTP status the output reports for an error. */
export function errorStatuses(out: string): number[] {
  return STATUS_PATTERNS.flatMap((re) => [...out.matchAll(re)].map((m) => Number(m[1])));
}

/** A line saying why Gantry does not offer something, or null. */
export function refusalLine(out: string): string | null {
  for (const line of out.split('\n')) {
    if (/No route/i.test(line)) continue;
    if (/\bGantry\b/.test(line) && /\b(?:not|no|cannot)\b|n't\b/i.test(line)) return line.trim();
  }
  return null;
}

/** Gantry's wording for a feature it does not offer on purpose (src/domain/errors.ts NOT_SUPPORTED and kin). */
const DELIBERATE = /\bnot (?:supported|offered|available)\b|\bGantry (?:does not|doesn't|has no|offers no|runs no|keeps none|uses)\b/i;

/** A refusal the client printed as its own error line, without the status: deliberate wording, no crash. */
function errorLineRefusal(out: string, line: string): boolean {
  return /\berror\b|❌/i.test(line) && DELIBERATE.test(line) && !/Traceback \(most recent call last\)/.test(out);
}

const FAILURES: readonly [RegExp, string][] = [
  [/Traceback \(most recent call last\)/, 'traceback'],
  [/No route/i, 'No route'],
  [/failed with error/i, 'failed with error'],
  [/"success":\s*false|'success':\s*False/, 'success: false'],
  [/\b[A-Za-z]*Error\b/, 'Error'],
];

const oneLine = (s: string, max = 140): string => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** The line of `out` that matched `re`, shortened. */
const lineOf = (out: string, re: RegExp): string => oneLine(out.split('\n').find((l) => re.test(l)) ?? out);

export function judge(out: string, code: number, o: JudgeOptions = {}): Judgement {
  const statuses = errorStatuses(out);
  const server = statuses.find((s) => s >= 500);
  if (server !== undefined) return { result: 'fail', reason: `HTTP ${server}: ${lineOf(out, new RegExp(String(server)))}` };
  if (code < 0 || code === 142) return { result: 'fail', reason: `the client was killed (signal ${-code}): timed out` };
  // A refusal is an error answer: a 4xx, or an error body the client printed as it came.
  const refusal = refusalLine(out);
  const errorAnswer = statuses.some((s) => s >= 400 && s < 500) || /"success":\s*false|'success':\s*False|"error":\s*true/.test(out);
  if (refusal !== null && (errorAnswer || errorLineRefusal(out, refusal))) return { result: 'refused', reason: oneLine(refusal) };
  if (o.local) {
    if (/Traceback \(most recent call last\)/.test(out)) return { result: 'fail', reason: `traceback: ${lineOf(out, /Error|Exception/)}` };
    return { result: 'pass', reason: `client-local: ${oneLine(out) || '(no output)'}` };
  }
  for (const [re, what] of FAILURES) {
    if (re.test(out)) {
      const detail = what === 'traceback' ? lineOf(out.split('\n').reverse().join('\n'), /\w*(Error|Exception)\b/) : lineOf(out, re);
      return { result: 'fail', reason: `${what}: ${detail}` };
    }
  }
  if (out.trim() === '' && !o.mayBeEmpty) return { result: 'fail', reason: 'no output' };
  if (o.expect !== undefined && !o.expect.test(out)) return { result: 'fail', reason: `output lacks ${String(o.expect)}: ${oneLine(out)}` };
  return { result: 'pass', reason: oneLine(out) || '(no output)' };
}
