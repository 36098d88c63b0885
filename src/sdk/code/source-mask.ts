/**
 * A JavaScript source with what is not code taken out, for the import scanner (scan.ts): comments
 * become a space, each string literal becomes its index in `strings` between its quotes ('0', '1', ...),
 * a template literal's text and a regular expression literal's body disappear. So an "import" in a
 * comment, in a string (a help text) or in a template's text is not followed, while a specifier (a
 * string) is still there to be read. A template's `${}` expressions stay code: an import written in one
 * is followed, as it would run. No parser dependency: a small lexer that knows the token kinds
 * that can hide the others (comments, strings, templates, regular expressions), and tells a
 * regular expression from a division by the token before it, as JavaScript lexers without a parser do.
 */
export interface MaskedSource {
  readonly code: string;
  /** The raw text between the quotes of each string literal, in order (escapes are not decoded). */
  readonly strings: readonly string[];
}

/** Keywords after which a `/` starts a regular expression (`return /x/`), not a division. */
const BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

const isIdent = (c: string | undefined): boolean => c !== undefined && /[\w$]/.test(c);

export function maskSource(source: string): MaskedSource {
  const src = source;
  const n = src.length;
  const strings: string[] = [];
  const out: string[] = [];
  // Whether a `/` here starts a regular expression (after an operator, `(`, `,`, `{`, `}`, a keyword such as `return`)
  // rather than divides (after a name, a number, a string, `)` or `]`). `}` is taken for a block's end; after an
  // object literal it is a rare division, and a wrong guess ends at the line's end (a regular expression has no newline).
  let regexOk = true;
  let word = '';
  // The last character of code (not space) before this one, and whether the word being read follows a `.`.
  let last = '';
  let afterDot = false;
  // For each template `${` now open, the depth of `{` inside it: its `}` at depth 0 resumes the template's text.
  const open: number[] = [];

  /** From `i`, inside a template's text: to its closing backtick, or into a `${` expression. */
  const templateText = (i: number): number => {
    while (i < n) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        out.push('`');
        regexOk = false;
        return i + 1;
      } else if (c === '$' && src[i + 1] === '{') {
        out.push('${');
        open.push(0);
        regexOk = true;
        return i + 2;
      } else i++;
    }
    return n;
  };

  let i = src.startsWith('#!') ? lineEnd(src, 0) : 0;
  while (i < n) {
    const c = src[i] as string;
    const next = src[i + 1];
    // A `/` that would start a regular expression whose end is on its line; else (-1) it divides.
    const regex = c === '/' && regexOk && next !== '/' && next !== '*' ? regexEnd(src, i) : -1;
    if (c === '/' && next === '/') {
      i = lineEnd(src, i);
      out.push(' ');
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      out.push(' ');
    } else if (c === '"' || c === "'") {
      const end = stringEnd(src, i);
      out.push(`${c}${strings.length}${c}`);
      strings.push(src.slice(i + 1, end - 1 > i && src[end - 1] === c ? end - 1 : end));
      regexOk = false;
      i = end;
    } else if (c === '`') {
      out.push('`');
      i = templateText(i + 1);
    } else if (regex > 0) {
      out.push(' ');
      regexOk = false;
      i = regex;
    } else if (c === '}' && open.length > 0 && open[open.length - 1] === 0) {
      open.pop();
      out.push('}');
      i = templateText(i + 1);
    } else if ((c === '+' || c === '-') && next === c) {
      // `i++ / 2` divides: after a postfix `++`/`--` (its operand just before) comes an operator; after a prefix one, an operand.
      out.push(c, c);
      regexOk = !(isIdent(last) || last === ')' || last === ']');
      last = c;
      i += 2;
    } else {
      if (open.length > 0 && (c === '{' || c === '}')) open[open.length - 1] = (open[open.length - 1] as number) + (c === '{' ? 1 : -1);
      out.push(c);
      if (isIdent(c)) {
        // A word after `.` is a property's name (`obj.in / 2`), never a keyword.
        if (!isIdent(src[i - 1])) [word, afterDot] = ['', last === '.'];
        word += c;
        regexOk = !afterDot && BEFORE_REGEX.has(word);
      } else if (!/\s/.test(c)) regexOk = !(c === ')' || c === ']');
      if (!/\s/.test(c)) last = c;
      i++;
    }
  }
  return { code: out.join(''), strings };
}

function lineEnd(src: string, i: number): number {
  const end = src.indexOf('\n', i);
  return end < 0 ? src.length : end;
}

/** Just past a quoted string's closing quote; an unterminated one ends at its line's end. */
function stringEnd(src: string, start: number): number {
  const q = src[start];
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') i += 2;
    else if (c === q) return i + 1;
    else if (c === '\n') return i;
    else i++;
  }
  return src.length;
}

/** Just past a regular expression literal's flags, or -1 when none closes on its line (then it is a division). */
function regexEnd(src: string, start: number): number {
  let inClass = false;
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') i += 2;
    else if (c === '\n') return -1;
    else if (c === '/' && !inClass) {
      i++;
      while (isIdent(src[i])) i++;
      return i;
    } else {
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      i++;
    }
  }
  return -1;
}
