import type { PageProps } from '../routes.js';
import { Placeholder } from '../ui/placeholder.js';

export function DeploymentsPage(_props: PageProps) {
  return <Placeholder title="Deployments" />;
}
