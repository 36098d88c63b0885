import type { CreateInstanceRequest } from '../../src/domain/instance/create.js';

/** A valid core create request; tests override what they exercise. */
export function createRequest(o: Partial<CreateInstanceRequest> = {}): CreateInstanceRequest {
  return {
    offerId: 1001,
    image: 'local/shell',
    diskGb: 10,
    env: { env: {}, ports: [] },
    onstart: null,
    entrypoint: null,
    args: null,
    runtype: null,
    label: null,
    targetState: 'running',
    offerType: 'on-demand',
    bidPrice: null,
    ...o,
  };
}
