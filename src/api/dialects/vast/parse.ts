import { DEFAULT_DISK_GB, DEFAULT_IMAGE, type CreateInstanceRequest } from '../../../domain/instance/create.js';
import { parseEnv, shellSplit } from '../../../domain/instance/env.js';
import { GantryError } from '../../../domain/errors.js';
import { showValue } from '../../../domain/show.js';
import { numberOf } from '../../../domain/number.js';
import { instanceTemplateOf, mergeEnv, templateImage, templateRuntype, type TemplateRecord } from '../../../domain/instance/template.js';
import { parseVolumeInfo } from './volume-info.js';
import { MAX_SEARCH_QUERY_CHARS } from './query-language.js';

/** Small, strict readers for request fields: a wrong type is a 400 that names the field. */
export function asObject(body: unknown, what = 'The request body'): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new GantryError('INVALID_ARGUMENT', `${what} must be a JSON object.`);
  return body as Record<string, unknown>;
}

function wrong(field: string, what: string, v: unknown): GantryError {
  return new GantryError('INVALID_ARGUMENT', `'${field}' must be ${what}, got ${showValue(v)}.`, { field });
}

export function optString(o: Record<string, unknown>, field: string): string | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw wrong(field, 'a string', v);
  return v;
}

/** Text in the CLI's search language (`search_params`): bounded, so no request hands the parser a novel. */
export function optSearchText(o: Record<string, unknown>, field: string): string | null {
  const v = optString(o, field);
  if (v !== null && v.length > MAX_SEARCH_QUERY_CHARS) throw wrong(field, `at most ${MAX_SEARCH_QUERY_CHARS} characters`, `${v.slice(0, 40)}…`);
  return v;
}

export function optNumber(o: Record<string, unknown>, field: string): number | null {
  const v = o[field];
  if (v === undefined || v === null || v === '') return null;
  const n = numberOf(v);
  if (!Number.isFinite(n)) throw wrong(field, 'a number', v);
  return n;
}

export function optStringList(o: Record<string, unknown>, field: string): string[] | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw wrong(field, 'a list of strings', v);
  return v as string[];
}

/** The latest epoch second Gantry keeps a time for (the end of year 9999): later ones are refused, not stored. */
export const MAX_EPOCH_S = 253_402_300_799;

/** Epoch seconds (fractions allowed, as Python's time.time() sends them) as whole milliseconds, or null when absent. */
export function optEpochMs(o: Record<string, unknown>, field: string): number | null {
  const n = optNumber(o, field);
  if (n !== null && (n < 0 || n > MAX_EPOCH_S)) throw wrong(field, `epoch seconds from 0 to ${MAX_EPOCH_S}`, o[field]);
  return n === null ? null : Math.round(n * 1000);
}

/** A number of days since the epoch (fractions allowed, as the clients send time.time()/86400), bounded as epoch seconds are. */
export function optDays(o: Record<string, unknown>, field: string): number | null {
  const n = optNumber(o, field);
  const most = Math.floor(MAX_EPOCH_S / 86_400);
  if (n !== null && (n < 0 || n > most)) throw wrong(field, `a number of days from 0 to ${most}`, o[field]);
  return n;
}

/** A positive integer id from a path or body. */
export function parseId(raw: unknown, what = 'instance id'): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new GantryError('INVALID_ARGUMENT', `The ${what} must be a positive integer, got ${showValue(raw)}.`);
  return n;
}

/** An id in a body field (`endpoint_id`): absent, null or '' is none; anything but a positive integer is a 400, as in a path. */
export function optId(o: Record<string, unknown>, field: string, what: string): number | null {
  const v = o[field];
  return v === undefined || v === null || v === '' ? null : parseId(v, what);
}

/**
 * `PUT /asks/{id}/`: Vast's create body to the core request. Unknown fields are ignored (clients send many).
 * With a template, its fields are the defaults: what the body sets wins, env is merged by name (Vast's rules).
 */
export function parseCreateInstance(offerId: number, body: unknown, template: TemplateRecord | null = null): CreateInstanceRequest {
  const o = asObject(body);
  const t = template?.spec ?? null;
  const target = optString(o, 'target_state') ?? 'running';
  if (target !== 'running' && target !== 'stopped') throw wrong('target_state', '"running" or "stopped"', target);
  const argsStr = optString(o, 'args_str') ?? (t?.runtype === 'args' ? t.argsStr : null);
  const price = optNumber(o, 'price');
  const env = parseEnv(o.env);
  return entrypointFromOnstart({
    offerId,
    image: optString(o, 'image') ?? (t !== null ? templateImage(t) : null) ?? DEFAULT_IMAGE,
    diskGb: optNumber(o, 'disk') ?? t?.recommendedDiskSpace ?? DEFAULT_DISK_GB,
    env: t !== null ? mergeEnv(parseEnv(t.env), env) : env,
    onstart: optString(o, 'onstart') ?? optString(o, 'onstart_cmd') ?? t?.onstart ?? null,
    entrypoint: optString(o, 'entrypoint'),
    args: optStringList(o, 'args') ?? (argsStr !== null ? shellSplit(argsStr) : null),
    runtype: optString(o, 'runtype') ?? (t !== null ? templateRuntype(t) : null),
    label: optString(o, 'label'),
    targetState: target,
    offerType: price !== null ? 'bid' : 'on-demand',
    bidPrice: price,
    volume: parseVolumeInfo(o.volume_info),
    template: template !== null ? instanceTemplateOf(template) : null,
  });
}

/** Shell syntax that makes an onstart a script rather than one command line. */
const SHELL_SYNTAX = /[\n;&|<>`$(){}]/;

/**
 * In args mode the clients send the entrypoint as `onstart` (`--entrypoint bash --args -c '...'` sends
 * onstart "bash"; their help: onstart acts as the entrypoint there). A plain command line there becomes
 * the main command's first words, before args; a script (shell syntax, several lines) still runs first.
 */
export function entrypointFromOnstart(r: CreateInstanceRequest): CreateInstanceRequest {
  const argsMode = r.runtype !== null ? r.runtype.trim() === 'args' : r.args !== null;
  if (!argsMode || r.entrypoint !== null || r.onstart === null || SHELL_SYNTAX.test(r.onstart)) return r;
  const [first, ...rest] = shellSplit(r.onstart);
  if (first === undefined) return r;
  return { ...r, onstart: null, entrypoint: first, args: [...rest, ...(r.args ?? [])] };
}

/** Query parameters arrive JSON-encoded (`select_filters=%7B%7D`, `true`); plain strings stay strings. */
export function jsonParam(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** true/false as JSON, 1/0 or their query-string forms; null when absent. */
export function optBool(o: Record<string, unknown>, field: string): boolean | null {
  const v = jsonParam(o[field]);
  if (v === undefined || v === null || v === '') return null;
  if (v === true || v === 1) return true;
  if (v === false || v === 0) return false;
  throw new GantryError('INVALID_ARGUMENT', `'${field}' must be true or false, got ${showValue(o[field])}.`, { field });
}
