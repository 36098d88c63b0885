import { agentProtocol } from '../api/agent/plugin.js';
import type { ApiDialect } from '../api/edge/dialect.js';
import { consoleDialect } from '../api/dialects/console/plugin.js';
import { aicoreDialect } from '../api/dialects/aicore/plugin.js';
import { elasticDialect } from '../api/dialects/elastic/plugin.js';
import { vastDialect } from '../api/dialects/vast/plugin.js';

/**
 * The API dialects `gantry up` and `gantry server` serve: one line each. The first answers paths
 * that no dialect's prefix claims.
 */
export const DIALECTS: readonly ApiDialect[] = [vastDialect, aicoreDialect, elasticDialect, consoleDialect, agentProtocol];
