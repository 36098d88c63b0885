/**
 * Text the console builds from user-supplied names and from amounts. Pure functions (no DOM), so
 * test/unit/console-format.test.ts runs them as the console bundles them.
 */

/**
 * A user-supplied name isolated from the sentence around it (Unicode FSI … PDI): a label holding a
 * right-to-left override (U+202E) or other direction marks then cannot reorder the words after it
 * ("Destroy instance 7 (…)? Its processes…"). For text built as a string (error messages, aria
 * labels, headings); JSX places a name in `<bdi>` instead.
 */
export const isolate = (name: string): string => `\u2068${name.replace(BIDI_CONTROLS, '')}\u2069`;

/**
 * Direction controls inside a name are dropped (they are invisible): an embedded PDI (U+2069) would
 * otherwise close the isolate early and let an override after it reach the sentence.
 */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Dollars with the sign before the symbol (`-$0.0100`, not `$-0.0100`); an amount that rounds to zero is `$0.0000`. */
export function money(v: number, digits = 4): string {
  const abs = Math.abs(v).toFixed(digits);
  return v < 0 && Number(abs) !== 0 ? `-$${abs}` : `$${abs}`;
}
