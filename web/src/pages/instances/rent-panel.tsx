import { useState } from 'preact/hooks';
import { api } from '../../api.js';
// The same search language and field checks as `gantry search offers` (the CLI's own module, pure code).
import { checkedOrder, checkedSearchQuery } from '../../../../src/cli/search-args.js';
import { Table, type Column } from '../../ui/table.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { money } from '../../ui/format.js';
import { Progress } from '../../ui/progress.js';

interface Offer {
  readonly id: number;
  readonly gpu_name: string;
  readonly num_gpus: number;
  readonly gpu_ram: number;
  readonly dph_base: number;
  readonly dph_total: number;
  readonly storage_cost: number;
  readonly reliability: number | null;
  readonly machine_id: number;
}

/** Vast prices storage per GB and month; a month is 30 days, as the engine bills it. */
const HOURS_PER_MONTH = 30 * 24;

/** What renting the offer with this disk costs per hour: compute, storage and their sum. */
export function pricePreview(o: Offer, diskGb: number): { gpu: number; storage: number; total: number } {
  const storage = (o.storage_cost * diskGb) / HOURS_PER_MONTH;
  return { gpu: o.dph_base, storage, total: o.dph_base + storage };
}

/**
 * Rent from an offers search: the query in `gantry search offers`' language (checked here as the CLI
 * checks it, then `POST /api/v0/bundles/`), a price preview for the chosen disk, and the rental
 * (`PUT /api/v0/asks/:id/`) with an image, a command and a disk size.
 */
export function RentPanel({ onRented }: { onRented: (id: number) => void }) {
  const [query, setQuery] = useState('num_gpus>=1');
  const [order, setOrder] = useState('dph_total');
  const [offers, setOffers] = useState<readonly Offer[] | null>(null);
  const [chosen, setChosen] = useState<Offer | null>(null);
  const [image, setImage] = useState('local/shell');
  const [command, setCommand] = useState('');
  const [disk, setDisk] = useState(8);
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const search = async (e: Event | null): Promise<void> => {
    e?.preventDefault();
    setError(null);
    setBusy('Searching offers…');
    try {
      const body = {
        verified: { eq: true },
        rentable: { eq: true },
        rented: { eq: false },
        ...checkedSearchQuery(query),
        order: checkedOrder(order),
        limit: 50,
        type: 'on-demand',
        allocated_storage: disk,
      };
      const r = await api<{ offers: Offer[] }>('POST', '/api/v0/bundles/', { body });
      setOffers(r.offers);
      setChosen(null);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const rent = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (chosen === null) return;
    setError(null);
    setBusy(`Renting offer ${chosen.id}…`);
    try {
      const body: Record<string, unknown> = { image, disk, runtype: 'ssh', onstart: command };
      if (label.trim() !== '') body.label = label.trim();
      const r = await api<{ new_contract: number }>('PUT', `/api/v0/asks/${chosen.id}/`, { body });
      setChosen(null);
      onRented(r.new_contract);
    } catch (err) {
      setError(err);
      return;
    } finally {
      setBusy(null);
    }
    // What was rented is no longer on offer: the list is read again, not left showing it.
    await search(null);
  };

  const columns: Column<Offer>[] = [
    { key: 'id', label: 'Offer', value: (o) => o.id },
    { key: 'gpu', label: 'GPUs', value: (o) => `${o.num_gpus}× ${o.gpu_name}` },
    { key: 'ram', label: 'GPU RAM', value: (o) => o.gpu_ram, render: (o) => `${Math.round(o.gpu_ram / 1000)} GB` },
    { key: 'dph', label: '$/hour', value: (o) => o.dph_total, render: (o) => money(o.dph_total) },
    { key: 'rel', label: 'Reliability', value: (o) => o.reliability },
    {
      key: 'pick',
      label: 'Choose',
      value: () => null,
      render: (o) => (
        <button type="button" onClick={() => setChosen(o)} aria-pressed={chosen?.id === o.id} aria-label={`Choose offer ${o.id}`}>
          Choose
        </button>
      ),
    },
  ];
  // The form refuses a disk under 1 GB or a fraction (min, step); the preview prices only what it would send.
  const diskOk = Number.isInteger(disk) && disk >= 1;
  const price = chosen === null || !diskOk ? null : pricePreview(chosen, disk);
  return (
    <section class="panel" aria-labelledby="rent-title">
      <h2 id="rent-title">Rent an instance</h2>
      <form class="toolbar" onSubmit={(e) => void search(e)} aria-label="Search offers">
        <div>
          <label for="offer-query">Offer query</label>
          <input id="offer-query" size={36} value={query} onInput={(e) => setQuery(e.currentTarget.value)} aria-describedby="offer-query-help" />
        </div>
        <div>
          <label for="offer-order">Order</label>
          <input id="offer-order" size={12} value={order} onInput={(e) => setOrder(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={busy !== null}>
          Search offers
        </button>
      </form>
      <p id="offer-query-help" class="muted">
        The language of <code>gantry search offers</code>, e.g. <code>num_gpus&gt;=2 gpu_name=RTX_4090 dph_total&lt;1</code>; a trailing <code>-</code> in the
        order sorts descending.
      </p>
      {busy !== null && <Progress label={busy} />}
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {offers !== null && <Table caption="Offers" columns={columns} rows={offers} rowKey={(o) => o.id} filter={false} empty="No offer matches the query." />}
      {chosen !== null && (
        <form class="panel" onSubmit={(e) => void rent(e)} aria-label={`Rent offer ${chosen.id}`}>
          <h3>
            Offer {chosen.id}: {chosen.num_gpus}× {chosen.gpu_name}
          </h3>
          <div class="toolbar">
            <div>
              <label for="rent-image">Image</label>
              <input id="rent-image" value={image} required onInput={(e) => setImage(e.currentTarget.value)} />
            </div>
            <div>
              <label for="rent-command">Command (run on start)</label>
              <input id="rent-command" size={40} value={command} onInput={(e) => setCommand(e.currentTarget.value)} />
            </div>
            <div>
              <label for="rent-disk">Disk (GB)</label>
              <input id="rent-disk" type="number" min={1} step={1} value={disk} onInput={(e) => setDisk(Number(e.currentTarget.value) || 0)} />
            </div>
            <div>
              <label for="rent-label">Label</label>
              <input id="rent-label" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
            </div>
          </div>
          {price === null ? (
            <p class="muted">The disk is a whole number of GB, at least 1: the price shows once it is.</p>
          ) : (
            <dl class="price" aria-label="Price preview">
              <dt>GPU</dt>
              <dd>{money(price.gpu)} per hour</dd>
              <dt>Storage ({disk} GB)</dt>
              <dd>{money(price.storage)} per hour</dd>
              <dt>Total</dt>
              <dd>
                <strong>{money(price.total)} per hour</strong>
              </dd>
            </dl>
          )}
          <div class="actions">
            <button type="submit" disabled={busy !== null}>
              Rent offer {chosen.id}
            </button>
            <button type="button" onClick={() => setChosen(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
