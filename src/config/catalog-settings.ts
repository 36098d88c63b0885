/**
 * Bounds on what one account can make AI Core's catalog hold (src/control/catalog/, src/api/dialects/aicore/):
 * part of SETTINGS (schema.ts, which checks their shape), kept here so that table stays short. Each list
 * of these is read whole to filter and page it, so the bound is what bounds that read.
 */
export const CATALOG_SETTINGS = {
  maxResourceGroupsPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most AI Core resource groups one account other than an admin may hold besides `default`; creating one more (a service key for a new group too) is RESOURCE_GROUP_LIMIT (400). 0: no bound.',
  },
  maxConfigurationsPerAccount: {
    type: 'integer',
    default: 1000,
    doc: 'Most AI Core configurations one account other than an admin may hold, over all its resource groups; creating one more is CONFIGURATION_LIMIT (400). The AI API deletes none, so an admin raises the bound when one is reached. 0: no bound.',
  },
  maxArtifactsPerAccount: {
    type: 'integer',
    default: 1000,
    doc: 'Most AI Core artifacts one account other than an admin may hold, over all its resource groups; registering one more is ARTIFACT_LIMIT (400). The AI API deletes none, so an admin raises the bound when one is reached. 0: no bound.',
  },
  maxExecutablesPerAccount: {
    type: 'integer',
    default: 1000,
    doc: 'Most AI Core executables (serving templates) one account other than an admin may hold; a load that would pass it is EXECUTABLE_LIMIT (400) and stores none of its templates (one replacing an executable of the same id takes no more room). 0: no bound.',
  },
} as const;
