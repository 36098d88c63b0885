import { useMemo } from 'preact/hooks';
import { api } from '../../api.js';
import { Chart } from '../../ui/chart.js';
import { money } from '../../ui/format.js';
import { ErrorBanner } from '../../ui/error-banner.js';
import { Progress } from '../../ui/progress.js';
import { Table } from '../../ui/table.js';
import { useResource } from '../../ui/use-resource.js';
import { DAY_S, spendPerDay, type Item } from './spend.js';

interface Statement {
  readonly invoices: Item[];
  readonly current: { readonly charges: number; readonly balance: number };
}

const DAYS = 30;

const day = (s: number): string => new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' ');

/** Balance, spend per day (a uPlot chart), charges and invoices (credit movements) of the last 30 days. */
export function Billing({ accountId }: { accountId: number }) {
  const fromS = Math.floor(Date.now() / 1000 / DAY_S - (DAYS - 1)) * DAY_S;
  const s = useResource((signal) => api<Statement>('GET', `/api/v0/users/${accountId}/invoices/?sdate=${fromS}`, { signal }), [accountId], 30_000);
  const items = s.data?.invoices ?? [];
  const data = useMemo(() => spendPerDay(items, fromS, DAYS), [s.data]);
  const charges = items.filter((i) => i.type === 'charge' && i.instance_id !== null).reverse();
  const credit = items.filter((i) => i.type === 'payment' || i.instance_id === null).reverse();
  return (
    <section aria-labelledby="billing-title">
      <h2 id="billing-title">Charges and invoices</h2>
      <ErrorBanner error={s.error} />
      {s.data === null && s.loading ? (
        <Progress label="Loading charges…" />
      ) : (
        <>
          <p>
            Balance <strong>{money(s.data?.current.balance ?? 0)}</strong>; charged in the last {DAYS} days {money(s.data?.current.charges ?? 0)}.
          </p>
          <Chart
            title={`Spend per day, last ${DAYS} days ($)`}
            data={data}
            series={[{ label: 'spend $', stroke: '#2f6fdb', fill: 'rgba(47,111,219,0.15)', value: (_u, v) => (v === null ? '-' : money(v)) }]}
            yValue={money}
          />
          <Table
            caption="Charges"
            columns={[
              { key: 'time', label: 'Until', value: (c) => c.timestamp, render: (c) => day(c.timestamp) },
              { key: 'what', label: 'What', value: (c) => c.description },
              { key: 'hours', label: 'Hours', value: (c) => c.quantity, render: (c) => c.quantity.toFixed(3) },
              { key: 'amount', label: 'Amount', value: (c) => c.amount, render: (c) => money(c.amount) },
            ]}
            rows={charges.slice(0, 200)}
            rowKey={(c) => `c${c.id}`}
            empty="No charges in this period."
          />
          <Table
            caption="Invoices and credit"
            filter={false}
            columns={[
              { key: 'time', label: 'When', value: (c) => c.timestamp, render: (c) => day(c.timestamp) },
              { key: 'what', label: 'What', value: (c) => c.description },
              { key: 'amount', label: 'Amount', value: (c) => -c.amount, render: (c) => money(-c.amount) },
            ]}
            rows={credit}
            rowKey={(c) => `t${c.id}`}
            empty="No credit movements in this period."
          />
        </>
      )}
    </section>
  );
}
