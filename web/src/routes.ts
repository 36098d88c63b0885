import type { ComponentType } from 'preact';
import type { Session } from './session.js';
import { OverviewPage } from './pages/overview.js';
import { InstancesPage } from './pages/instances.js';
import { DeploymentsPage } from './pages/deployments.js';
import { MachinesPage } from './pages/machines.js';
import { AccountPage } from './pages/account.js';

/** What every page is given. */
export interface PageProps {
  readonly session: Session;
}

export interface Route {
  /** The hash path: `#/<path>`. */
  readonly path: string;
  readonly title: string;
  /** The engine actions of which the key must reach one (on some things at least) for the page to be shown. */
  readonly needs: readonly string[];
  readonly page: ComponentType<PageProps>;
}

/** The console's pages, in navigation order. A page is one file under pages/ and one line here. */
export const ROUTES: readonly Route[] = [
  { path: 'overview', title: 'Overview', needs: ['instance.list', 'serverless.read', 'machine.read', 'billing.read'], page: OverviewPage },
  { path: 'instances', title: 'Instances', needs: ['instance.list'], page: InstancesPage },
  { path: 'deployments', title: 'Deployments', needs: ['serverless.read'], page: DeploymentsPage },
  { path: 'machines', title: 'Machines', needs: ['machine.read'], page: MachinesPage },
  { path: 'account', title: 'Account', needs: ['account.read', 'billing.read'], page: AccountPage },
];
