import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { importWebModule } from '../helpers/web-module.js';

type PushEvent = { readonly id: number | null; readonly row?: unknown };
interface LiveRead {
  begin(): number;
  heard(e: PushEvent): void;
  answered<T>(ticket: number, data: T, apply: (d: T, e: PushEvent) => T): { readonly data: T } | null;
  failed(ticket: number): boolean;
}
type Rows = ReadonlyMap<number, string>;

/** A pushed row replaces its own; none: the record is gone (as the console's pages apply pushes). */
const apply = (d: Rows, e: PushEvent): Rows => {
  const next = new Map(d);
  if (e.row === undefined || e.row === null) next.delete(e.id as number);
  else next.set(e.id as number, e.row as string);
  return next;
};

/** The console's reads of a list that pushes keep current (web/src/live-read.ts, bundled as the console bundles it). */
describe("the console's reads beside its pushes", () => {
  let LiveReadClass: new () => LiveRead;
  let readRecord: <T>(under: Set<LiveRead>, id: number, read: () => Promise<T>) => Promise<T | null>;
  before(async () => {
    const m = await importWebModule<{ LiveRead: new () => LiveRead; readRecord: typeof readRecord }>('live-read.ts');
    [LiveReadClass, readRecord] = [m.LiveRead, m.readRecord];
  });

  it("one row read after an action: a push of that row heard meanwhile wins over the read's answer; others' pushes do not touch it", async () => {
    const under = new Set<LiveRead>();
    const hear = (e: PushEvent) => under.forEach((r) => r.heard(e));
    let answer!: (row: string) => void;
    const read = readRecord<string>(under, 7, () => new Promise((r) => (answer = r)));
    hear({ id: 8, row: 'another row' });
    hear({ id: 7, row: 'stopped (pushed)' });
    answer('running (read before the stop was recorded)');
    assert.equal(await read, 'stopped (pushed)');
    assert.equal(under.size, 0, 'nothing kept once answered');

    const gone = readRecord<string>(under, 7, () => new Promise((r) => (answer = r)));
    hear({ id: 7, row: null });
    answer('still there when read');
    assert.equal(await gone, null, 'deleted meanwhile: nothing to show');
    assert.equal(await readRecord<string>(under, 7, () => Promise.resolve('as read')), 'as read', 'no push: the answer');
    await assert.rejects(
      readRecord<string>(under, 7, () => Promise.reject(new Error('read failed'))),
      /read failed/,
    );
    assert.equal(under.size, 0);
  });

  it('a push heard while a read is under way is applied again on its answer: an older answer does not undo it', () => {
    const reads = new LiveReadClass();
    const t = reads.begin();
    reads.heard({ id: 1, row: null }); // deleted after the server read the list
    reads.heard({ id: 2, row: 'two, changed' });
    reads.heard({ id: 2, row: 'two, changed again' });
    const answer = reads.answered<Rows>(
      t,
      new Map([
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ]),
      apply,
    );
    assert.deepEqual(
      [...(answer?.data ?? [])],
      [
        [2, 'two, changed again'],
        [3, 'three'],
      ],
    );
    // Once answered, pushes are the page's alone until the next read.
    reads.heard({ id: 3, row: null });
    const next = reads.begin();
    assert.deepEqual(
      [...(reads.answered<Rows>(next, new Map([[3, 'three']]), apply)?.data ?? [])],
      [[3, 'three']],
      'a push before the read began is not replayed',
    );
  });

  it('an older read answering after a later one answered is dropped; before that it counts, with what was heard since it began', () => {
    const reads = new LiveReadClass();
    let first = reads.begin();
    let second = reads.begin();
    assert.deepEqual([...(reads.answered<Rows>(second, new Map([[1, 'new']]), apply)?.data ?? [])], [[1, 'new']]);
    assert.equal(reads.answered<Rows>(first, new Map([[1, 'stale']]), apply), null, 'the later read answered for it');
    assert.equal(reads.failed(first), false, 'nor is its failure news');

    // A later read fails (a reconnection's reload) while the first is under way: the first still counts.
    first = reads.begin();
    reads.heard({ id: 1, row: 'pushed before the second began' });
    second = reads.begin();
    reads.heard({ id: 2, row: 'pushed after' });
    assert.equal(reads.failed(second), true, 'no read answered since: the page says so, keeping what it showed');
    const answer = reads.answered<Rows>(
      first,
      new Map([
        [1, 'read'],
        [2, 'read'],
      ]),
      apply,
    );
    assert.deepEqual(
      [...(answer?.data ?? [])],
      [
        [1, 'pushed before the second began'],
        [2, 'pushed after'],
      ],
      'every push heard since it began is applied on its answer',
    );
    const third = reads.begin();
    assert.deepEqual([...(reads.answered<Rows>(third, new Map([[1, 'read']]), apply)?.data ?? [])], [[1, 'read']], 'nothing is kept once no read is under way');
  });
});
