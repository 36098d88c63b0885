import type { InstanceTemplate } from '../domain/instance/instance.js';
import type { TemplateRecord, TemplateSpec } from '../domain/instance/template.js';

export interface NewTemplate {
  readonly accountId: number;
  readonly hashId: string;
  readonly private: boolean;
  readonly spec: TemplateSpec;
  readonly now: number;
  /** Most live templates the account may hold (a deleted one does not count); one more is TEMPLATE_LIMIT. 0 or absent: no bound. */
  readonly maxPerAccount?: number;
}

/** The templates part of the store port: Vast templates, owned by an account, private or public. */
export interface TemplateStore {
  createTemplate(t: NewTemplate): Promise<TemplateRecord>;
  getTemplate(id: number): Promise<TemplateRecord | undefined>;
  /** Live templates of that hash the account may use: its own first, then public ones, oldest first. */
  findTemplatesByHash(hashId: string, accountId: number): Promise<TemplateRecord[]>;
  /** The account's own live templates and every public one. */
  listVisibleTemplates(accountId: number): Promise<TemplateRecord[]>;
  /** Replace content and hash in place (the id stays); false when it is gone. */
  updateTemplate(id: number, t: { hashId: string; private: boolean; spec: TemplateSpec; now: number }): Promise<boolean>;
  /** Soft delete: instances made from it keep what they were made with. */
  deleteTemplate(id: number, now: number): Promise<boolean>;
  /** What an instance runs, rewritten by `update instance` from a template (applied at its next start); `template` replaces the recorded one when given. */
  setInstanceWorkload(
    id: number,
    w: {
      image: string;
      env: Readonly<Record<string, string>>;
      onstart: string | null;
      entrypoint: string | null;
      args: readonly string[] | null;
      runtype: string;
      template?: InstanceTemplate;
    },
  ): Promise<void>;
}
