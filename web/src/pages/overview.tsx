import type { PageProps } from '../routes.js';
import { Placeholder } from '../ui/placeholder.js';

export function OverviewPage(_props: PageProps) {
  return <Placeholder title="Overview" />;
}
