import { GantryError } from '../errors.js';

/**
 * BERT tokenization as Hugging Face's BertTokenizer and Elasticsearch's BertTokenizer do it: a basic
 * tokenizer (clean, split CJK characters, whitespace, optional lowercase and accent stripping, split
 * punctuation), then WordPiece over the uploaded vocabulary. Implemented once; the worker and any check
 * on the control plane use this file.
 */

export type Truncate = 'first' | 'second' | 'none';

/** Elasticsearch's `tokenization.bert`, with its defaults filled in. */
export interface BertTokenization {
  readonly doLowerCase: boolean;
  readonly maxSequenceLength: number;
  readonly truncate: Truncate;
  readonly withSpecialTokens: boolean;
}

export interface TokenizedText {
  readonly inputIds: number[];
  readonly attentionMask: number[];
  readonly tokenTypeIds: number[];
  /** True when tokens were dropped to fit `maxSequenceLength` (Elasticsearch's `is_truncated`). */
  readonly truncated: boolean;
}

export interface TokenBatch {
  readonly inputIds: number[][];
  readonly attentionMask: number[][];
  readonly tokenTypeIds: number[][];
  /** The longest sequence; every row is padded to it. */
  readonly sequenceLength: number;
}

/** Elasticsearch's defaults (`do_lower_case` false, 512 tokens, truncate `first`, special tokens on). */
export const DEFAULT_BERT: BertTokenization = { doLowerCase: false, maxSequenceLength: 512, truncate: 'first', withSpecialTokens: true };

const SUPPORTED_TOKENIZERS = ['bert'];
/** Hugging Face's `max_input_chars_per_word`: longer words become [UNK] without a WordPiece search. */
const MAX_WORD_CHARS = 100;

const invalid = (message: string, field: string): GantryError => new GantryError('INVALID_INFERENCE_CONFIG', message, { field });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse `tokenization: {bert: {...}}`; absent means BERT with Elasticsearch's defaults. */
export function parseTokenization(raw: unknown, base: BertTokenization = DEFAULT_BERT, field = 'tokenization'): BertTokenization {
  if (raw === undefined || raw === null) return base;
  if (!isObject(raw)) throw invalid(`[${field}] must be an object such as {"bert": {...}}`, field);
  const keys = Object.keys(raw);
  if (keys.length !== 1 || keys[0] !== 'bert') {
    const named = keys.length === 0 ? 'none' : keys.join(', ');
    throw invalid(`[${field}] names tokenizer [${named}]; Gantry supports exactly one of [${SUPPORTED_TOKENIZERS.join(', ')}]`, field);
  }
  const b = raw.bert ?? {};
  if (!isObject(b)) throw invalid(`[${field}.bert] must be an object`, `${field}.bert`);
  const out = { ...base };
  for (const [k, v] of Object.entries(b)) {
    const f = `${field}.bert.${k}`;
    switch (k) {
      case 'do_lower_case':
      case 'with_special_tokens':
        if (typeof v !== 'boolean') throw invalid(`[${f}] must be a boolean`, f);
        if (k === 'do_lower_case') out.doLowerCase = v;
        else out.withSpecialTokens = v;
        break;
      case 'max_sequence_length':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000) throw invalid(`[${f}] must be a positive integer`, f);
        out.maxSequenceLength = v;
        break;
      case 'truncate':
        if (v !== 'first' && v !== 'second' && v !== 'none') throw invalid(`[${f}] must be one of [first, second, none], not [${String(v)}]`, f);
        out.truncate = v;
        break;
      case 'span':
        // Windowed spans are Elasticsearch's; -1 (the default) means none and is what Gantry runs.
        if (v !== -1) throw invalid(`[${f}] is not supported by Gantry (only -1, no windowing)`, f);
        break;
      default:
        throw invalid(`[${f}] is not a BERT tokenization setting (do_lower_case, max_sequence_length, truncate, with_special_tokens)`, f);
    }
  }
  if (out.withSpecialTokens && out.maxSequenceLength < 3) throw invalid(`[${field}.bert.max_sequence_length] must leave room for [CLS] and [SEP]`, field);
  return out;
}

const isWhitespace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || /\p{Zs}/u.test(c);
/** Every "C" category character is dropped, except the whitespace ones (as Hugging Face's `_is_control`). */
const isControl = (c: string): boolean => !(c === '\t' || c === '\n' || c === '\r') && /\p{C}/u.test(c);
/** ASCII symbols such as `$` and `^` count as punctuation too, as in BERT's original code. */
function isPunctuation(c: string): boolean {
  const cp = c.codePointAt(0) ?? 0;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(c);
}
/** The CJK Unified Ideographs blocks BERT splits into single characters. */
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** The basic tokenizer: words and punctuation marks, before WordPiece. */
export function basicTokenize(text: string, doLowerCase: boolean): string[] {
  let cleaned = '';
  for (const c of text.normalize('NFC')) {
    const cp = c.codePointAt(0) ?? 0;
    if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
    if (isWhitespace(c)) cleaned += ' ';
    else if (isCjk(cp)) cleaned += ` ${c} `;
    else cleaned += c;
  }
  const out: string[] = [];
  for (let word of cleaned.split(' ')) {
    if (word === '') continue;
    if (doLowerCase)
      word = word
        .toLowerCase()
        .normalize('NFD')
        .replace(/\p{Mn}/gu, '');
    let current = '';
    for (const c of word) {
      if (isPunctuation(c)) {
        if (current !== '') out.push(current);
        out.push(c);
        current = '';
      } else current += c;
    }
    if (current !== '') out.push(current);
  }
  return out;
}

/** A vocabulary: token → id (its line number), with the special tokens looked up once. */
export class Vocabulary {
  readonly #ids = new Map<string, number>();
  readonly cls: number;
  readonly sep: number;
  readonly pad: number;
  readonly unk: number;

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new GantryError('INVALID_INFERENCE_CONFIG', 'the vocabulary is empty', { field: 'vocabulary' });
    // A repeated token keeps its last line, as Hugging Face's load_vocab does.
    tokens.forEach((t, i) => this.#ids.set(t, i));
    const special = (t: string): number => {
      const id = this.#ids.get(t);
      if (id === undefined) throw new GantryError('INVALID_INFERENCE_CONFIG', `the vocabulary lacks the BERT special token ${t}`, { field: 'vocabulary' });
      return id;
    };
    this.cls = special('[CLS]');
    this.sep = special('[SEP]');
    this.pad = special('[PAD]');
    this.unk = special('[UNK]');
  }

  id(token: string): number | undefined {
    return this.#ids.get(token);
  }
}

/** WordPiece: greedy longest match from the left, continuations prefixed `##`; a word with no match is one [UNK]. */
export function wordPiece(word: string, vocab: Vocabulary): number[] {
  const chars = [...word];
  if (chars.length > MAX_WORD_CHARS) return [vocab.unk];
  const out: number[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: number | undefined;
    while (start < end) {
      const piece = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      found = vocab.id(piece);
      if (found !== undefined) break;
      end--;
    }
    if (found === undefined) return [vocab.unk];
    out.push(found);
    start = end;
  }
  return out;
}

/** Token ids of one text, with [CLS]/[SEP] and truncation as configured; `truncate: none` refuses a long text. */
export function tokenize(text: string, vocab: Vocabulary, t: BertTokenization = DEFAULT_BERT): TokenizedText {
  let ids = basicTokenize(text, t.doLowerCase).flatMap((w) => wordPiece(w, vocab));
  const extra = t.withSpecialTokens ? 2 : 0;
  let truncated = false;
  if (ids.length + extra > t.maxSequenceLength) {
    if (t.truncate === 'none') {
      throw new GantryError(
        'INPUT_TOO_LONG',
        `Input too large. The tokenized input length [${ids.length + extra}] exceeds the maximum sequence length [${t.maxSequenceLength}]`,
        { length: ids.length + extra, max_sequence_length: t.maxSequenceLength },
      );
    }
    // One sequence: `first` and `second` both cut it (Elasticsearch does the same for single inputs).
    ids = ids.slice(0, t.maxSequenceLength - extra);
    truncated = true;
  }
  const inputIds = t.withSpecialTokens ? [vocab.cls, ...ids, vocab.sep] : ids;
  return { inputIds, attentionMask: inputIds.map(() => 1), tokenTypeIds: inputIds.map(() => 0), truncated };
}

/** Pad a batch to its longest row with [PAD] and attention 0, so padded positions change no result. */
export function padBatch(rows: readonly TokenizedText[], padId: number): TokenBatch {
  const sequenceLength = Math.max(1, ...rows.map((r) => r.inputIds.length));
  const pad = <T>(xs: readonly T[], fill: T): T[] => [...xs, ...Array<T>(sequenceLength - xs.length).fill(fill)];
  return {
    inputIds: rows.map((r) => pad(r.inputIds, padId)),
    attentionMask: rows.map((r) => pad(r.attentionMask, 0)),
    tokenTypeIds: rows.map((r) => pad(r.tokenTypeIds, 0)),
    sequenceLength,
  };
}
