import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';

export interface Column<T> {
  readonly key: string;
  readonly label: string;
  /** The cell (default: the sort value as text). */
  readonly render?: (row: T) => ComponentChildren;
  /** The value sorted on and matched by the filter. */
  readonly value: (row: T) => string | number | null;
}

export interface TableProps<T> {
  readonly caption: string;
  readonly columns: readonly Column<T>[];
  readonly rows: readonly T[];
  readonly rowKey: (row: T) => string | number;
  /** Show a text filter over every column's value (default true). */
  readonly filter?: boolean;
  readonly initialSort?: { key: string; dir: 'asc' | 'desc' };
  readonly empty?: string;
}

const compare = (a: string | number | null, b: string | number | null): number => {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), undefined, { numeric: true });
};

/** A table sorted by clicking a column's header (a button, so keyboard users can too) and filtered by text. */
export function Table<T>(p: TableProps<T>) {
  const [sort, setSort] = useState(p.initialSort ?? null);
  const [text, setText] = useState('');
  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    let rows =
      needle === ''
        ? [...p.rows]
        : p.rows.filter((r) =>
            p.columns.some((c) =>
              String(c.value(r) ?? '')
                .toLowerCase()
                .includes(needle),
            ),
          );
    const col = sort === null ? undefined : p.columns.find((c) => c.key === sort.key);
    if (col !== undefined && sort !== null) rows = rows.sort((a, b) => compare(col.value(a), col.value(b)) * (sort.dir === 'asc' ? 1 : -1));
    return rows;
  }, [p.rows, p.columns, sort, text]);
  const id = `filter-${p.caption.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="table-wrap">
      {p.filter !== false && (
        <div class="table-filter">
          <label for={id}>Filter {p.caption.toLowerCase()}</label>
          <input id={id} type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </div>
      )}
      <div class="scroll">
        <table class="cards">
          <caption>{p.caption}</caption>
          <thead>
            <tr>
              {p.columns.map((c) => {
                const dir = sort?.key === c.key ? sort.dir : null;
                return (
                  <th key={c.key} scope="col" aria-sort={dir === null ? 'none' : dir === 'asc' ? 'ascending' : 'descending'}>
                    <button
                      type="button"
                      class="sort"
                      onClick={() => setSort({ key: c.key, dir: dir === 'asc' ? 'desc' : 'asc' })}
                      aria-label={`Sort by ${c.label}`}
                    >
                      {c.label}
                      <span aria-hidden="true">{dir === 'asc' ? ' ▲' : dir === 'desc' ? ' ▼' : ''}</span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={p.rowKey(r)} data-key={p.rowKey(r)}>
                {p.columns.map((c) => (
                  <td key={c.key} data-label={c.label}>
                    {c.render !== undefined ? c.render(r) : String(c.value(r) ?? '')}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown.length === 0 && <p class="muted">{p.rows.length === 0 ? (p.empty ?? 'Nothing here yet.') : 'Nothing matches the filter.'}</p>}
    </div>
  );
}
