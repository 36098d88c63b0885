import { GantryError } from '../errors.js';
import type { OfferType } from '../offer/offer.js';
import type { ParsedEnv } from './env.js';
import type { VolumeAttachRequest } from '../volume/volume.js';
import type { InstanceTemplate } from './instance.js';

/** Vast limits onstart to 4048 characters; we keep the same bound so scripts behave alike. */
export const MAX_ONSTART_CHARS = 4048;
export const MAX_IMAGE_CHARS = 512;
export const MAX_LABEL_CHARS = 256;
export const MAX_ARGS = 256;
export const MAX_ARG_CHARS = 8192;
export const DEFAULT_DISK_GB = 8;
/** More than any machine's disk (a petabyte): a template or workergroup may ask for what no machine has yet, not for 1e308 GB. */
export const MAX_DISK_GB = 1_000_000;
export const DEFAULT_IMAGE = 'local/shell';

/** A create request after the dialect translated it; validated here, once, for every dialect. */
export interface CreateInstanceRequest {
  readonly offerId: number;
  readonly image: string;
  readonly diskGb: number;
  readonly env: ParsedEnv;
  readonly onstart: string | null;
  readonly entrypoint: string | null;
  readonly args: readonly string[] | null;
  readonly runtype: string | null;
  readonly label: string | null;
  readonly targetState: 'running' | 'stopped';
  readonly offerType: OfferType;
  readonly bidPrice: number | null;
  /** Vast's `volume_info`: a volume to link into the instance (made from an offer, or one the caller has). */
  readonly volume?: VolumeAttachRequest | null;
  /** The template it is made from (recorded on the instance). */
  readonly template?: InstanceTemplate | null;
}

export const RUNTYPES = ['ssh', 'jupyter', 'args', 'ssh_proxy', 'ssh_direct', 'jupyter_proxy', 'jupyter_direct'] as const;
/** The words the clients combine (`--ssh --direct` sends "ssh_direc ssh_proxy"; "direc" is their spelling). */
const RUNTYPE_WORDS = new Set<string>([...RUNTYPES, 'ssh_direc', 'jupyter_direc']);

/**
 * A runtype as the clients send it: one mode, or several access words joined by spaces. `args` stands
 * alone. Gantry starts no Jupyter server: the jupyter modes run like ssh (onstart, then the instance stays up).
 */
export function isRuntype(r: string): boolean {
  const words = r.trim().split(/\s+/);
  if (words.length > 1 && words.includes('args')) return false;
  return words.length > 0 && words.every((w) => RUNTYPE_WORDS.has(w));
}

function invalid(message: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { field });
}

/** Docker's reference grammar (distribution/reference): `[domain[:port]/]path[:tag][@digest]`, the path lowercase. */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_REF = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::${TAG})?(?:@${DIGEST})?$`);
/** Docker's bound on the name part of a reference (without tag and digest). */
const MAX_IMAGE_NAME_CHARS = 255;
const IMAGE_NAME_TAG = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?$`);

/**
 * Whether a name a snapshot is to take is an image reference without a digest, `[domain[:port]/]path[:tag]`,
 * by the grammar `checkImage` holds an instance's image to: `..` or `.` is neither a domain nor a path
 * component, so no name reads as a path.
 */
export function isImageNameTag(ref: string): boolean {
  return ref.length <= MAX_IMAGE_NAME_CHARS && IMAGE_NAME_TAG.test(ref);
}

/**
 * An image as an engine will take it: 1 to MAX_IMAGE_CHARS characters, and an image reference. A name no
 * engine can pull or run (upper case in the path, blanks, a stray `:`) is refused here, with a 400, rather
 * than accepted and left to fail when the host starts it.
 */
export function checkImage(image: string, field = 'image'): void {
  if (image.length === 0 || image.length > MAX_IMAGE_CHARS) throw invalid(`${field} must be 1 to ${MAX_IMAGE_CHARS} characters.`, field);
  const m = IMAGE_REF.exec(engineImage(image));
  if (m === null || (m[1] ?? '').length > MAX_IMAGE_NAME_CHARS)
    throw invalid(
      `${field} ${JSON.stringify(image.slice(0, 80))} is not an image reference: [registry[:port]/]name[:tag][@digest], the name in lower case, at most ${MAX_IMAGE_NAME_CHARS} characters.`,
      field,
    );
}

/** Vast's templates name `image:@vastai-automatic-tag` (Vast picks a tag for the machine's CUDA). */
const VAST_AUTO_TAG = ':@vastai-automatic-tag';

/** The reference an engine is given for an image: Vast's automatic tag is the image's `latest` (Gantry picks no tag per machine). */
export function engineImage(image: string): string {
  return image.endsWith(VAST_AUTO_TAG) ? `${image.slice(0, -VAST_AUTO_TAG.length)}:latest` : image;
}

/** An instance's label: at most MAX_LABEL_CHARS; null clears it. */
export function checkLabel(label: string | null): void {
  if (label !== null && label.length > MAX_LABEL_CHARS) throw invalid(`label must be at most ${MAX_LABEL_CHARS} characters.`, 'label');
}

/**
 * What a workload is started with cannot hold the NUL character: no process can take it in an argument, and it
 * would be refused only at start, as the runtime's own error, not at the request.
 */
export function checkCommand(c: { readonly onstart?: string | null; readonly entrypoint?: string | null; readonly args?: readonly string[] | null }): void {
  for (const [field, v] of [
    ['onstart', c.onstart],
    ['entrypoint', c.entrypoint],
  ] as const)
    if (typeof v === 'string' && v.includes('\0')) throw invalid(`${field} holds the NUL character (U+0000), which no process can be started with.`, field);
  if (c.args?.some((a) => a.includes('\0')) === true) throw invalid('args hold the NUL character (U+0000), which no process can be started with.', 'args');
}

/** Check bounds and fill in defaults; returns the runtype that applies. */
export function validateCreate(r: CreateInstanceRequest, machineDiskGb: number): { runtype: string } {
  checkImage(r.image);
  if (!Number.isFinite(r.diskGb) || r.diskGb <= 0) throw invalid(`disk must be a positive number of GB, got ${r.diskGb}.`, 'disk');
  if (r.diskGb > machineDiskGb) throw invalid(`disk ${r.diskGb} GB is more than the machine's ${machineDiskGb} GB.`, 'disk');
  if (r.onstart !== null && r.onstart.length > MAX_ONSTART_CHARS) {
    throw invalid(
      `onstart is ${r.onstart.length} characters; the limit is ${MAX_ONSTART_CHARS}. Put longer scripts on the disk and call them from onstart.`,
      'onstart',
    );
  }
  checkLabel(r.label);
  checkCommand(r);
  if (r.args !== null && (r.args.length > MAX_ARGS || r.args.some((a) => a.length > MAX_ARG_CHARS)))
    throw invalid(`args: at most ${MAX_ARGS} arguments of ${MAX_ARG_CHARS} characters.`, 'args');
  if (r.bidPrice !== null && (!Number.isFinite(r.bidPrice) || r.bidPrice < 0.001 || r.bidPrice > 128))
    throw invalid('price (bid) must be between 0.001 and 128 $/hour.', 'price');
  if (r.runtype !== null && !isRuntype(r.runtype))
    throw invalid(`runtype must be one of ${RUNTYPES.join(', ')}, or access words joined by spaces ("ssh_direc ssh_proxy").`, 'runtype');
  // As on Vast: ssh unless a main command is given.
  const runtype = r.runtype?.trim().replace(/\s+/g, ' ') ?? (r.args !== null || r.entrypoint !== null ? 'args' : 'ssh');
  return { runtype };
}
