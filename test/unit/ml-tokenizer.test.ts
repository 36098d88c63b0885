import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { basicTokenize, DEFAULT_BERT, padBatch, parseTokenization, tokenize, Vocabulary, wordPiece } from '../../src/domain/ml/tokenizer.js';

/**
 * BERT tokenization against known ids. The vocabulary and the expectations of the first cases are
 * Hugging Face's own (transformers tests/models/bert/test_tokenization_bert.py), so the ids here are
 * the ones BertTokenizer gives.
 */
const HF_VOCAB = ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]', 'want', '##want', '##ed', 'wa', 'un', 'runn', '##ing', ',', 'low', 'lowest'];
const vocab = new Vocabulary(HF_VOCAB);
const lower = { ...DEFAULT_BERT, doLowerCase: true };

const code = (c: string) => (e: unknown) => e instanceof GantryError && e.code === c;

describe('BERT tokenizer', () => {
  it('gives the ids Hugging Face gives for "UNwant\\u00E9d,running" (lowercase, accents stripped, punctuation split, ## pieces)', () => {
    assert.deepEqual(tokenize('UNwant\u00E9d,running', vocab, { ...lower, withSpecialTokens: false }).inputIds, [9, 6, 7, 12, 10, 11]);
    const t = tokenize('UNwant\u00E9d,running', vocab, lower);
    assert.deepEqual(t.inputIds, [1, 9, 6, 7, 12, 10, 11, 2]);
    assert.deepEqual(t.attentionMask, [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(t.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(t.truncated, false);
  });

  it('basic tokenizer behaves as BertTokenizer: whitespace, punctuation, lowercase, accents, CJK, control characters', () => {
    assert.deepEqual(basicTokenize(' \tHeLLo!how  \n Are yoU?  ', true), ['hello', '!', 'how', 'are', 'you', '?']);
    assert.deepEqual(basicTokenize(' \tHeLLo!how  \n Are yoU?  ', false), ['HeLLo', '!', 'how', 'Are', 'yoU', '?']);
    assert.deepEqual(basicTokenize('H\u00E9llo, world!', true), ['hello', ',', 'world', '!']);
    assert.deepEqual(basicTokenize('H\u00E9llo', false), ['H\u00E9llo']);
    assert.deepEqual(basicTokenize('ah\u535A\u63A8zz', true), ['ah', '\u535A', '\u63A8', 'zz']);
    assert.deepEqual(basicTokenize('un\u0000want\u200bed $5', true), ['unwanted', '$', '5']);
    assert.deepEqual(basicTokenize('', true), []);
  });

  it('WordPiece: greedy longest match, [UNK] for a word with no match and for words over 100 characters', () => {
    const words = (s: string): number[] => basicTokenize(s, true).flatMap((w) => wordPiece(w, vocab));
    assert.deepEqual(words('unwanted running'), [9, 6, 7, 10, 11]);
    assert.deepEqual(words('unwantedX running'), [0, 10, 11]);
    assert.deepEqual(words('lowest low'), [14, 13]);
    assert.deepEqual(wordPiece('un' + 'want'.repeat(24), vocab).length, 25);
    assert.deepEqual(wordPiece('un' + 'want'.repeat(25), vocab), [0]);
  });

  it('keeps case and accents unless do_lower_case', () => {
    assert.deepEqual(tokenize('UNwanted running', vocab, { ...DEFAULT_BERT, withSpecialTokens: false }).inputIds, [0, 10, 11]);
    assert.deepEqual(tokenize('wánt', vocab, { ...DEFAULT_BERT, withSpecialTokens: false }).inputIds, [0]);
    assert.deepEqual(tokenize('wánt', vocab, { ...lower, withSpecialTokens: false }).inputIds, [5]);
  });

  it('truncates to max_sequence_length keeping [CLS] and [SEP], or refuses with truncate none', () => {
    const t = tokenize('unwanted, running', vocab, { ...lower, maxSequenceLength: 5 });
    assert.deepEqual(t.inputIds, [1, 9, 6, 7, 2]);
    assert.equal(t.truncated, true);
    assert.deepEqual(tokenize('unwanted, running', vocab, { ...lower, maxSequenceLength: 5, truncate: 'second' }).inputIds, [1, 9, 6, 7, 2]);
    assert.deepEqual(tokenize('unwanted, running', vocab, { ...lower, maxSequenceLength: 3, withSpecialTokens: false }).inputIds, [9, 6, 7]);
    assert.throws(
      () => tokenize('unwanted, running', vocab, { ...lower, maxSequenceLength: 5, truncate: 'none' }),
      (e: unknown) =>
        code('INPUT_TOO_LONG')(e) && (e as Error).message === 'Input too large. The tokenized input length [8] exceeds the maximum sequence length [5]',
    );
    assert.equal(tokenize('unwanted', vocab, { ...lower, maxSequenceLength: 5, truncate: 'none' }).truncated, false);
  });

  it('pads a batch to its longest row with [PAD] and attention 0', () => {
    const rows = [tokenize('want', vocab, lower), tokenize('unwanted running', vocab, lower)];
    const b = padBatch(rows, vocab.pad);
    assert.equal(b.sequenceLength, 7);
    assert.deepEqual(b.inputIds[0], [1, 5, 2, 3, 3, 3, 3]);
    assert.deepEqual(b.attentionMask[0], [1, 1, 1, 0, 0, 0, 0]);
    assert.deepEqual(b.tokenTypeIds[0], [0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(b.inputIds[1], [1, 9, 6, 7, 10, 11, 2]);
  });

  it('needs the special tokens in the vocabulary and a non-empty vocabulary', () => {
    assert.throws(() => new Vocabulary([]), code('INVALID_INFERENCE_CONFIG'));
    assert.throws(() => new Vocabulary(['[UNK]', '[CLS]', '[SEP]']), /\[PAD\]/);
    assert.equal(vocab.pad, 3);
    assert.equal(vocab.unk, 0);
  });

  it("parses Elasticsearch's tokenization.bert with its defaults and refuses other tokenizers", () => {
    assert.deepEqual(parseTokenization(undefined), DEFAULT_BERT);
    assert.deepEqual(parseTokenization({ bert: {} }), { doLowerCase: false, maxSequenceLength: 512, truncate: 'first', withSpecialTokens: true });
    assert.deepEqual(parseTokenization({ bert: { do_lower_case: true, max_sequence_length: 128, truncate: 'none', with_special_tokens: false, span: -1 } }), {
      doLowerCase: true,
      maxSequenceLength: 128,
      truncate: 'none',
      withSpecialTokens: false,
    });
    assert.throws(
      () => parseTokenization({ roberta: {} }),
      (e: unknown) => code('INVALID_INFERENCE_CONFIG')(e) && /\[roberta\].*\[bert\]/.test((e as Error).message),
    );
    assert.throws(() => parseTokenization({ bert_ja: {} }), /supports exactly one of \[bert\]/);
    assert.throws(() => parseTokenization({ bert: { truncate: 'middle' } }), /truncate/);
    assert.throws(() => parseTokenization({ bert: { max_sequence_length: 0 } }), /max_sequence_length/);
    assert.throws(() => parseTokenization({ bert: { span: 64 } }), /span/);
    assert.throws(() => parseTokenization({ bert: { lowercase: true } }), /lowercase/);
    assert.throws(() => parseTokenization('bert'), code('INVALID_INFERENCE_CONFIG'));
  });
});
