import type { FastifyInstance } from 'fastify';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';

/**
 * The version Gantry answers as: a 9.x the 9.x client accepts. The build fields are fixed strings
 * (there is no Elasticsearch build); Lucene and the compatibility versions are those of 9.1.0.
 */
const VERSION = {
  number: '9.1.0',
  build_flavor: 'default',
  build_type: 'tar',
  build_hash: '0000000000000000000000000000000000000000',
  build_date: '2025-07-24T00:00:00.000Z',
  build_snapshot: false,
  lucene_version: '10.2.2',
  minimum_wire_compatibility_version: '8.19.0',
  minimum_index_compatibility_version: '8.0.0',
} as const;

/** `GET /` (client.info) and `HEAD /` (client.ping, fastify's HEAD of the GET route): authenticated, as in a secured cluster (without any credential, src/api/edge/openapi.ts answers the index first). */
export function elasticInfoRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  app.get('/', async (req) => {
    principal(req);
    return { name: 'gantry', cluster_name: 'gantry', cluster_uuid: deps.control.ml.clusterUuid(), version: VERSION, tagline: 'You Know, for Search' };
  });
}
