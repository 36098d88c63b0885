import type { PageProps } from '../routes.js';
import { Placeholder } from '../ui/placeholder.js';

export function InstancesPage(_props: PageProps) {
  return <Placeholder title="Instances" />;
}
