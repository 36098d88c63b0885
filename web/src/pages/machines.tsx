import type { PageProps } from '../routes.js';
import { Placeholder } from '../ui/placeholder.js';

export function MachinesPage(_props: PageProps) {
  return <Placeholder title="Machines" />;
}
