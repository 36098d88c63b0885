import type { PageProps } from '../routes.js';
import { Placeholder } from '../ui/placeholder.js';

export function AccountPage(_props: PageProps) {
  return <Placeholder title="Account" />;
}
