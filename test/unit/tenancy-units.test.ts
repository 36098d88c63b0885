import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRates } from '../../src/api/rate-limit/families.js';
import { vastFamilyOf as familyOf } from '../../src/api/dialects/vast/route-config.js';
import { parseKeyFile, secretContext, Vault } from '../../src/control/accounts/vault.js';
import { allows, intersect, isWithin, parsePermissions, permissionsJson } from '../../src/domain/account/permissions.js';
import { retryAfterSeconds, take } from '../../src/domain/account/token-bucket.js';
import { thresholdText } from '../../src/api/dialects/vast/errors.js';
import { amountFor, meters } from '../../src/domain/billing/meter.js';

describe('permission JSON', () => {
  const instance = (id: number) => ({ kind: 'instance' as const, id });
  it('grants whole categories, or ids by eq/gte/lte constraints', () => {
    const p = parsePermissions({ api: { misc: {}, instance_read: { show: { constraints: { id: { gte: 10, lte: 20 } } } } } });
    assert.equal(allows(p, 'misc', null), true);
    assert.equal(allows(p, 'instance_read', instance(15)), true);
    assert.equal(allows(p, 'instance_read', instance(21)), false);
    assert.equal(allows(p, 'instance_read', null), false, 'a constrained grant does not cover listings');
    assert.equal(allows(p, 'instance_write', instance(15)), false);
  });

  it("an id holds for one kind of resource: the action's name says which, else the category's main kind", () => {
    // A grant for deployment 1 (misc's main kind) is no grant for endpoint 1 or workergroup 1 of the same category.
    const dep = parsePermissions({ api: { misc: { d: { constraints: { id: { eq: 1 } } } } } });
    assert.equal(allows(dep, 'misc', { kind: 'deployment', id: 1 }), true);
    assert.equal(allows(dep, 'misc', { kind: 'endpoint', id: 1 }), false);
    assert.equal(allows(dep, 'misc', { kind: 'workergroup', id: 1 }), false);
    // Vast's action names (api.<kind>.<verb>), and plain kind names, singular or plural.
    const named = parsePermissions({
      api: {
        misc: { endptjobs: { constraints: { id: { eq: 3 } } } },
        instance_read: { 'api.instance.request_logs': { constraints: { id: { eq: 1227 } } } },
        instance_write: { volumes: { constraints: { id: { eq: 2 } } } },
        user_write: { 'api.ssh.delete': { constraints: { id: { eq: 1 } } } },
      },
    });
    assert.equal(allows(named, 'misc', { kind: 'endpoint', id: 3 }), true);
    assert.equal(allows(named, 'misc', { kind: 'deployment', id: 3 }), false);
    assert.equal(allows(named, 'instance_read', instance(1227)), true);
    assert.equal(allows(named, 'instance_read', { kind: 'volume', id: 1227 }), false);
    assert.equal(allows(named, 'instance_write', { kind: 'volume', id: 2 }), true);
    assert.equal(allows(named, 'instance_write', instance(2)), false);
    assert.equal(allows(named, 'user_write', { kind: 'ssh_key', id: 1 }), true);
    assert.equal(allows(named, 'user_write', { kind: 'api_key', id: 1 }), false);
    // A key being made may not name a kind its category does not cover; one stored so keeps working (covering nothing).
    const wrong = { api: { misc: { 'api.instance.show': { constraints: { id: { eq: 1 } } } } } };
    assert.throws(() => parsePermissions(wrong, { strict: true }), /names instance ids, which misc does not cover/);
    assert.equal(allows(parsePermissions(wrong), 'misc', { kind: 'deployment', id: 1 }), false);
    // A name that is an Object property is no kind word: the category's main kind.
    const proto = parsePermissions({ api: { misc: { constructor: { constraints: { id: { eq: 4 } } } } } }, { strict: true });
    assert.equal(allows(proto, 'misc', { kind: 'deployment', id: 4 }), true);
    // A rule with no ids needs no kind; strict refuses only a constrained one outside its category.
    assert.doesNotThrow(() => parsePermissions({ api: { misc: { 'api.instance.show': {} } } }, { strict: true }));
    // `rule_N` was written by an earlier version for keys derived from their creator's, losing the kind: it covers
    // nothing (a child of a volume-5 key must not become an instance-5 key), and a key being made must name a kind.
    const legacy = parsePermissions({ api: { instance_write: { rule_0: { constraints: { id: { eq: 5 } } } } } });
    for (const kind of ['instance', 'volume'] as const) assert.equal(allows(legacy, 'instance_write', { kind, id: 5 }), false, kind);
    assert.deepEqual(parsePermissions(permissionsJson(legacy)), legacy);
    assert.throws(() => parsePermissions({ api: { instance_write: { rule_0: { constraints: { id: { eq: 5 } } } } } }, { strict: true }), /name the rule after/);
    // The listing's JSON reads back the same grants, kinds included.
    assert.deepEqual(parsePermissions(permissionsJson(named)), named);
    // Handing out and narrowing compare kinds too.
    const ep1 = parsePermissions({ api: { misc: { endpoint: { constraints: { id: { eq: 1 } } } } } });
    assert.equal(isWithin(ep1, dep), false);
    assert.equal(isWithin(dep, dep), true);
    assert.equal(allows(intersect(dep, ep1), 'misc', { kind: 'endpoint', id: 1 }), false);
  });

  it('refuses unknown categories, operators and shapes with a clear message', () => {
    assert.throws(() => parsePermissions({ read: true }), /top-level key must be "api"/);
    assert.throws(() => parsePermissions({ api: { root: {} } }), /unknown category "root"/);
    assert.throws(() => parsePermissions({ api: { misc: { x: { constraints: { id: { ne: 1 } } } } } }), /unknown operator "ne"/);
  });

  it('a key may only hand out what it holds; a role narrows a key', () => {
    const all = parsePermissions({ api: { instance_read: {}, instance_write: {} } });
    const one = parsePermissions({ api: { instance_read: { a: { constraints: { id: { eq: 7 } } } } } });
    assert.equal(isWithin(one, all), true);
    assert.equal(isWithin(all, one), false);
    const both = intersect(all, one);
    assert.equal(allows(both, 'instance_read', instance(7)), true);
    assert.equal(allows(both, 'instance_write', instance(7)), false);
  });
});

describe('vault', () => {
  const v1 = { id: 'k1', key: Buffer.alloc(32, 1) };
  const v2 = { id: 'k2', key: Buffer.alloc(32, 2) };
  it('seals with the newest key, opens with any, and binds the owner and name', () => {
    const old = new Vault([v1]).seal('s3cret', secretContext(1, 'A'));
    assert.ok(!old.sealed.includes('s3cret'));
    const rotated = new Vault([v2, v1]);
    assert.equal(rotated.open(old.sealed, secretContext(1, 'A')), 's3cret');
    assert.equal(rotated.seal('x', 'c').keyId, 'k2');
    assert.throws(() => rotated.open(old.sealed, secretContext(2, 'A')), 'a value moved to another account does not open');
    assert.throws(() => new Vault([v2]).open(old.sealed, secretContext(1, 'A')), /does not hold/);
  });
  it('reads the key file format', () => {
    const keys = parseKeyFile(`# newest first\nk2 ${Buffer.alloc(32, 2).toString('base64')}\nk1 ${Buffer.alloc(32, 1).toString('base64')}\n`);
    assert.deepEqual(
      keys.map((k) => k.id),
      ['k2', 'k1'],
    );
  });
});

describe('token bucket, families, meters', () => {
  it('refills at the rate up to the burst and says when to retry', () => {
    let b = { tokens: 2, at: 0 };
    for (let i = 0; i < 2; i++) b = take(b, 1, 1, 2, 0).bucket;
    const refused = take(b, 1, 1, 2, 0);
    assert.equal(refused.granted, 0);
    assert.equal(retryAfterSeconds(refused.bucket, 1), 1);
    assert.equal(take(b, 1, 1, 2, 1000).granted, 1);
    assert.equal(thresholdText(2), '2.0');
    assert.equal(thresholdText(0.5), '0.5');
  });
  it('maps paths to families and parses per-family rates', () => {
    assert.equal(familyOf('/api/v0/instances/7/?x=1'), 'instances');
    assert.equal(familyOf('/api/v0/bundles/'), 'search');
    assert.equal(familyOf('/route/'), 'route');
    assert.equal(familyOf('/endpoints/x/y'), null);
    assert.equal(familyOf('/worker_status/'), null);
    assert.equal(familyOf('/api/v0/deployment_uploads/'), 'serverless', 'an upload is unauthenticated but limited by address');
    assert.equal(familyOf('/api/v0/deployment_code/?token=t'), null);
    assert.deepEqual(
      [...parseRates('search=5, billing=0')],
      [
        ['search', 5],
        ['billing', 0],
      ],
    );
    assert.throws(() => parseRates('nope=1'), /families/);
  });
  it('bills compute only while running (until a stop is confirmed) and storage until destroyed', () => {
    assert.deepEqual(meters('running'), { gpu: true, disk: true });
    assert.deepEqual(meters('stopping'), { gpu: true, disk: true });
    assert.deepEqual(meters('stopped'), { gpu: false, disk: true });
    assert.deepEqual(meters('unknown'), { gpu: false, disk: true });
    assert.deepEqual(meters('destroyed'), { gpu: false, disk: false });
    assert.equal(amountFor(3.6, 1000), 0.001);
  });
});
