import { useState } from 'preact/hooks';
import { isolate } from '../../ui/format.js';
import type { MachineRow } from './machine.js';

/** A change to a machine, ready to confirm: what it is in words and the call that makes it. */
export interface MachineChange {
  readonly title: string;
  readonly machine: MachineRow;
  readonly detail: string;
  readonly confirmLabel: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

const num = (s: string): number | null => (s.trim() === '' || !Number.isFinite(Number(s)) ? null : Number(s));

/**
 * A dollar amount typed in a form: null when left empty (keep the current one), or what is wrong
 * with it. `1,5` or `abc` is refused in words rather than dropped: dropping it would list the
 * machine "with its current prices" while the owner thinks they set a new one.
 */
function amountOf(field: string, s: string): { value: number | null } | { error: string } {
  const t = s.trim();
  if (t === '') return { value: null };
  // Number() also takes '0x10', '1e3' and ' ': only plain decimals with a dot are prices.
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(t)) return { error: `${field} must be a number of dollars such as 0.5 (with a dot, not a comma); got '${isolate(t)}'.` };
  return { value: Number(t) };
}
/** A `datetime-local` value (the browser's local time) as epoch seconds. */
const epochS = (local: string): number | null => (local === '' ? null : Math.floor(new Date(local).getTime() / 1000));

export const thing = (m: MachineRow): string => `machine ${m.id} (${isolate(m.hostname)})`;

export function unlistChange(m: MachineRow): MachineChange {
  return {
    title: 'Unlist',
    machine: m,
    detail: 'New rentals stop; instances running on it keep running.',
    confirmLabel: 'Unlist',
    method: 'DELETE',
    path: `/api/v0/machines/${m.id}/asks/`,
  };
}

export function cancelMaintenanceChange(m: MachineRow): MachineChange {
  return {
    title: 'Cancel maintenance of',
    machine: m,
    detail: 'Its scheduled windows are deleted and renters are no longer warned.',
    confirmLabel: 'Cancel maintenance',
    method: 'PUT',
    path: `/api/v0/machines/${m.id}/cancel_maint/`,
  };
}

/** List a machine (or change its listing): price per GPU hour, the lowest bid taken, until when. */
export function ListForm({ machine: m, onSubmit, onClose }: { machine: MachineRow; onSubmit: (c: MachineChange) => void; onClose: () => void }) {
  const [price, setPrice] = useState(m.listed_gpu_cost === null ? '' : String(m.listed_gpu_cost));
  const [minBid, setMinBid] = useState(m.min_bid_price === null ? '' : String(m.min_bid_price));
  const [end, setEnd] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const submit = (e: Event): void => {
    e.preventDefault();
    const body: Record<string, unknown> = { machine: m.id };
    const words: string[] = [];
    const pa = amountOf('The price', price);
    const ba = amountOf('The minimum bid', minBid);
    const wrong = [pa, ba].flatMap((a) => ('error' in a ? [a.error] : []));
    setInvalid(wrong.length > 0 ? wrong.join(' ') : null);
    if ('error' in pa || 'error' in ba) return;
    const p = pa.value;
    const b = ba.value;
    const until = epochS(end);
    if (p !== null) {
      body.price_gpu = p;
      words.push(`at $${p}/GPU/h`);
    }
    if (b !== null) {
      body.price_min_bid = b;
      words.push(`bids from $${b}/GPU/h`);
    }
    if (until !== null) {
      body.end_date = until;
      words.push(`until ${new Date(until * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    }
    onSubmit({
      title: m.listed ? 'Change the listing of' : 'List',
      machine: m,
      detail: words.length > 0 ? `${words.join(', ')}.` : 'With its current prices.',
      confirmLabel: m.listed ? 'Change listing' : 'List',
      method: 'PUT',
      path: '/api/v0/machines/create_asks/',
      body,
    });
  };
  return (
    <form class="panel toolbar" aria-label={`Listing of ${thing(m)}`} onSubmit={submit}>
      <strong>Listing of {thing(m)}</strong>
      <div>
        <label for="list-price">Price ($ per GPU hour)</label>
        <input
          id="list-price"
          inputMode="decimal"
          value={price}
          aria-invalid={invalid?.startsWith('The price') === true}
          aria-describedby={invalid !== null ? 'list-invalid' : undefined}
          onInput={(e) => setPrice(e.currentTarget.value)}
        />
      </div>
      <div>
        <label for="list-min-bid">Minimum bid ($ per GPU hour)</label>
        <input
          id="list-min-bid"
          inputMode="decimal"
          value={minBid}
          aria-invalid={invalid?.includes('The minimum bid') === true}
          aria-describedby={invalid !== null ? 'list-invalid' : undefined}
          onInput={(e) => setMinBid(e.currentTarget.value)}
        />
      </div>
      <div>
        <label for="list-end">Listed until (optional)</label>
        <input id="list-end" type="datetime-local" value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
      </div>
      <button type="submit">{m.listed ? 'Change listing…' : 'List…'}</button>
      <button type="button" onClick={onClose}>
        Close
      </button>
      {invalid !== null && (
        <p id="list-invalid" class="error-banner" role="alert">
          {invalid}
        </p>
      )}
    </form>
  );
}

/** Schedule a maintenance window: renters are told, the machine is offered until it starts. */
export function MaintenanceForm({ machine: m, onSubmit, onClose }: { machine: MachineRow; onSubmit: (c: MachineChange) => void; onClose: () => void }) {
  const [start, setStart] = useState('');
  const [hours, setHours] = useState('2');
  const [reason, setReason] = useState('');
  const submit = (e: Event): void => {
    e.preventDefault();
    const sdate = epochS(start);
    const duration = num(hours);
    onSubmit({
      title: 'Schedule maintenance of',
      machine: m,
      detail: `${sdate === null ? 'Starting: not given' : `From ${new Date(sdate * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`} for ${hours} h.`,
      confirmLabel: 'Schedule maintenance',
      method: 'PUT',
      path: `/api/v0/machines/${m.id}/dnotify/`,
      // The server checks the fields and says what is missing.
      body: { sdate, duration, ...(reason.trim() !== '' ? { maintenance_reason: reason.trim() } : {}) },
    });
  };
  return (
    <form class="panel toolbar" aria-label={`Maintenance of ${thing(m)}`} onSubmit={submit}>
      <strong>Maintenance of {thing(m)}</strong>
      <div>
        <label for="maint-start">Starts</label>
        <input id="maint-start" type="datetime-local" required value={start} onInput={(e) => setStart(e.currentTarget.value)} />
      </div>
      <div>
        <label for="maint-hours">Duration (hours)</label>
        <input id="maint-hours" inputMode="decimal" required value={hours} onInput={(e) => setHours(e.currentTarget.value)} />
      </div>
      <div>
        <label for="maint-reason">Reason (optional)</label>
        <input id="maint-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </div>
      <button type="submit">Schedule…</button>
      <button type="button" onClick={onClose}>
        Close
      </button>
    </form>
  );
}
