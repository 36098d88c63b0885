import { Lexer, Parser, type CST } from 'yaml';

/**
 * Bounds on untrusted YAML, checked on yaml's CST before a document is composed. Composing a
 * document and turning it into JS recurse once per level of nesting: a small file nested thousands
 * deep overflows the stack (and the next such request may abort the process). Aliases stand for the
 * nodes they name, so they count at the depth they add, and each is resolved by a scan of the
 * document. The CST parser keeps an explicit stack and so does this walk: neither recurses on input.
 */

/** Levels of nested mappings and sequences. A ServingTemplate needs about 6, a Kubernetes pod spec under 20. */
export const MAX_YAML_DEPTH = 64;
/** Aliases (`*name`) in one document. Templates seldom use any; many of them cost quadratic time. */
export const MAX_YAML_ALIASES = 100;
/** yaml's `maxAliasCount` where a document becomes JS: its bound on what aliases expand to. */
export const MAX_ALIAS_COUNT = 100;

/** An anchored collection whose end the walk has not reached: how deep its node goes so far. */
interface OpenAnchor {
  readonly name: string;
  readonly base: number;
  deepest: number;
}

type Step =
  | { readonly kind: 'slot'; readonly props: readonly CST.Token[] | undefined; readonly node: CST.Token | undefined; readonly level: number }
  | { readonly kind: 'items'; readonly items: readonly CST.CollectionItem[]; readonly next: number; readonly level: number }
  | { readonly kind: 'close'; readonly anchor: OpenAnchor };

function anchorIn(props: readonly CST.Token[] | undefined): string | null {
  let name: string | null = null;
  for (const t of props ?? []) if (t.type === 'anchor') name = t.source.slice(1);
  return name;
}

const isCollection = (t: CST.Token | undefined): t is CST.BlockMap | CST.BlockSequence | CST.FlowCollection =>
  t?.type === 'block-map' || t?.type === 'block-seq' || t?.type === 'flow-collection';

const tooDeep = (maxDepth: number): string => `nests mappings and sequences more than ${maxDepth} levels deep`;

/**
 * One CST document, walked in document order (the order in which yaml resolves aliases). A slot is
 * a node with the properties before it; `level` is the nesting of the collection that holds it.
 */
function documentProblem(doc: CST.Document, maxDepth: number, maxAliases: number): string | null {
  const steps: Step[] = [{ kind: 'slot', props: doc.start, node: doc.value, level: 0 }];
  const open: OpenAnchor[] = [];
  /** Closed anchors: how many levels the node each names adds where an alias stands for it. */
  const heights = new Map<string, number>();
  let aliases = 0;
  const reach = (depth: number): void => {
    const top = open[open.length - 1];
    if (top !== undefined && depth > top.deepest) top.deepest = depth;
  };
  for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
    if (step.kind === 'close') {
      open.pop();
      heights.set(step.anchor.name, step.anchor.deepest - step.anchor.base);
      reach(step.anchor.deepest);
      continue;
    }
    if (step.kind === 'items') {
      const item = step.items[step.next];
      if (item === undefined) continue;
      steps.push({ ...step, next: step.next + 1 });
      if (item.key !== undefined || item.sep !== undefined) {
        steps.push({ kind: 'slot', props: item.sep, node: item.value, level: step.level });
        steps.push({ kind: 'slot', props: item.start, node: item.key ?? undefined, level: step.level });
      } else steps.push({ kind: 'slot', props: item.start, node: item.value, level: step.level });
      continue;
    }
    const { node, level } = step;
    const name = (node?.type === 'block-scalar' ? anchorIn(node.props) : null) ?? anchorIn(step.props);
    let depth = level;
    if (node?.type === 'alias') {
      if (++aliases > maxAliases) return `uses more than ${maxAliases} aliases in one document`;
      const target = node.source.slice(1);
      if (open.some((a) => a.name === target)) return `holds the alias *${target} inside the node it names`;
      const height = heights.get(target);
      if (height === undefined) return `uses the alias *${target} before any anchor &${target}`;
      depth = level + height;
    } else if (isCollection(node)) depth = level + 1;
    if (depth > maxDepth) return tooDeep(maxDepth);
    reach(depth);
    if (!isCollection(node)) {
      if (name !== null) heights.set(name, depth - level);
      continue;
    }
    if (name !== null) {
      const anchor: OpenAnchor = { name, base: level, deepest: depth };
      open.push(anchor);
      steps.push({ kind: 'close', anchor });
    }
    steps.push({ kind: 'items', items: node.items, next: 0, level: depth });
  }
  return null;
}

/**
 * Why `text` must not be composed (nesting past `maxDepth`, aliases past `maxAliases`, an alias
 * inside its own anchor or before it), or null. Nothing here recurses on the input; the parser's
 * own stack of open nodes stops the read early, long before a deep file is read to its end.
 */
export function yamlBeyondBounds(text: string, maxDepth = MAX_YAML_DEPTH, maxAliases = MAX_YAML_ALIASES): string | null {
  const parser = new Parser();
  const check = (tokens: Iterable<CST.Token>): string | null => {
    for (const t of tokens) {
      const problem = t.type === 'document' ? documentProblem(t, maxDepth, maxAliases) : null;
      if (problem !== null) return problem;
    }
    return null;
  };
  for (const lexeme of new Lexer().lex(text)) {
    const problem = check(parser.next(lexeme));
    if (problem !== null) return problem;
    // The stack holds the document, its open collections and at most a few partial nodes.
    if (parser.stack.length > 2 * maxDepth + 8) return tooDeep(maxDepth);
  }
  return check(parser.end());
}
