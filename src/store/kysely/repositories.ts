import type { Kysely } from 'kysely';
import type { BillingStore } from '../billing-store.js';
import type { CatalogStore } from '../catalog-store.js';
import type { ChangeFeed } from '../change-feed.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { HostSweepStore } from '../host-sweep-store.js';
import type { MlStore } from '../ml-store.js';
import type { OfferSourceStore } from '../offer-source-store.js';
import type { SeriesStore } from '../series-store.js';
import type { ServerlessStore } from '../serverless-store.js';
import type { ResultStore } from '../store.js';
import type { TemplateStore } from '../template-store.js';
import type { TenantStore } from '../tenant-store.js';
import type { VolumeStore } from '../volume-store.js';
import { AccessRepo } from './access-repo.js';
import { BillingRepo } from './billing-repo.js';
import { CatalogRepo } from './catalog-repo.js';
import { CodeDeploymentRepo } from './code-deployment-repo.js';
import { DeploymentRepo } from './deployment-repo.js';
import { GatewayPendingRepo } from './gateway-pending-repo.js';
import { HostSweepRepo } from './host-sweep.js';
import { MlDefinitionRepo } from './ml-definition-repo.js';
import { MlRepo } from './ml-repo.js';
import { OfferSourceRepo } from './offer-source-repo.js';
import { exposeMethods } from './repo.js';
import { ResourceGroupRepo } from './resource-group-repo.js';
import { ResultRepo } from './result-repo.js';
import type { Database } from './schema.js';
import { SeriesRepo } from './series-repo.js';
import { ServerlessRepo } from './serverless-repo.js';
import { TemplateRepo } from './template-repo.js';
import { TenantRepo } from './tenant-repo.js';
import { VolumeRepo } from './volume-repo.js';
import { WorkergroupRepo } from './workergroup-repo.js';

/** The repositories' methods, exposed on the store object (see `exposeMethods`). */
type Repositories = AccountRepos & ServerlessRepos & ResourceRepos;
type AccountRepos = TenantRepo & AccessRepo & ResourceGroupRepo & BillingRepo;
type ServerlessRepos = ServerlessRepo & WorkergroupRepo & GatewayPendingRepo & DeploymentRepo & CodeDeploymentRepo;
type ResourceRepos = CatalogRepo & MlRepo & MlDefinitionRepo & TemplateRepo & VolumeRepo & ResultRepo & OfferSourceRepo & HostSweepRepo & SeriesRepo;
type CoveredParts = TenantStore & BillingStore & ServerlessStore & CatalogStore & MlStore & TemplateStore & VolumeStore & ResultStore;
// Compile-time proof that the repositories together cover the parts of the port they are exposed as.
// OfferSourceRepo, HostSweepRepo and SeriesRepo declare their parts themselves (`implements`).
const covers = (r: Repositories): CoveredParts => r;
void covers;

/** The parts of the store port the repositories answer for (KyselyStore gains them by declaration merging). */
export interface RepositoryParts extends CoveredParts, OfferSourceStore, HostSweepStore, SeriesStore {}

/** Make every repository over `db` and bind its methods onto the store object. */
export function exposeRepositories(store: object, db: Kysely<Database>, d: StoreDialect, changes: ChangeFeed, machineOnlineWindowMs: number): void {
  for (const repo of [
    new TenantRepo(db, d, changes),
    new AccessRepo(db, d),
    new ResourceGroupRepo(db, d),
    new BillingRepo(db, d),
    new ServerlessRepo(db, d),
    new WorkergroupRepo(db, d),
    new GatewayPendingRepo(db, d),
    new DeploymentRepo(db, d),
    new CodeDeploymentRepo(db, d),
    new CatalogRepo(db, d),
    new MlRepo(db, d),
    new MlDefinitionRepo(db, d),
    new TemplateRepo(db, d),
    new VolumeRepo(db, d),
    new ResultRepo(db, d),
    new HostSweepRepo(db, d),
    new OfferSourceRepo(db, d, machineOnlineWindowMs),
    new SeriesRepo(db, d),
  ]) {
    exposeMethods(store, repo);
  }
}
