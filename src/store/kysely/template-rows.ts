import type { Generated } from 'kysely';

/** A row of `templates` (migration 0013). */
export interface TemplateTable {
  id: Generated<number>;
  account_id: number;
  hash_id: string;
  private: number;
  spec_json: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface TemplateTables {
  templates: TemplateTable;
}
