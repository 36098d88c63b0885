import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareWithExpected, readmeCountLine, toExpected, type Outcome } from './expected.js';
import { judge } from './judge.js';

describe('judging an official Vast client by its output', () => {
  it('a deliberate refusal: a 4xx whose message names Gantry and what it does not do', () => {
    const r = judge('Failed with error 400: Two-factor authentication is not supported: Gantry uses API keys.\n', 0);
    assert.equal(r.result, 'refused');
    assert.match(r.reason, /Gantry uses API keys/);
    assert.equal(judge('{"error": true, "status_code": 409, "msg": "Gantry does not run VMs"}', 0).result, 'refused');
    assert.equal(judge("{'success': False, 'msg': 'Gantry runs no scheduled jobs'}", 0).result, 'refused');
    // A client that prints only the message after its own "Error:" (the tfa verbs).
    const tfa = judge('\n❌ Error: Two-factor authentication is not supported: Gantry uses API keys (create one with `create api-key`).\n', 1);
    assert.equal(tfa.result, 'refused');
    assert.match(tfa.reason, /not supported/);
    // ...but not a failure that only mentions Gantry, nor one with a crash.
    assert.equal(judge('Error: could not connect to Gantry at localhost\n', 1).result, 'fail');
    assert.equal(judge('Traceback (most recent call last):\nValueError: x\n❌ Error: Gantry has no such thing\n', 1).result, 'fail');
    // A success that mentions what Gantry does not do is a pass.
    assert.equal(judge("{'success': True, 'msg': \"nothing to move: Gantry's offers do not need it\"}", 0).result, 'pass');
  });

  it('failures: No route, tracebacks, 5xx, error bodies, killed clients, empty answers, a missing field', () => {
    assert.equal(judge('failed with error 404: No route PUT /api/v0/instances/command/1/.', 0).result, 'fail');
    assert.equal(judge('Failed with error 404: No route: Gantry does not have it', 0).result, 'fail');
    assert.equal(judge('Traceback (most recent call last):\n  File "vast.py"\nKeyError: \'api_key\'\n', 1).reason, "traceback: KeyError: 'api_key'");
    assert.equal(judge('Failed with error 500: Gantry does not know', 0).result, 'fail');
    assert.equal(judge('Failed with error 400: min_workers must not exceed max_workers', 0).result, 'fail');
    assert.equal(judge("{'success': False, 'msg': 'bad'}", 0).result, 'fail');
    assert.equal(judge('partial', -14).result, 'fail');
    assert.equal(judge('  \n', 0).result, 'fail');
    assert.equal(judge('', 0, { mayBeEmpty: true }).result, 'pass');
    assert.equal(judge('error: ssh port not found', 0, { expect: /^ssh:\/\// }).result, 'fail');
  });

  it('passes: a plain answer; a client-local verb fails only on a crash', () => {
    assert.deepEqual(judge('ssh://root@127.0.0.1:30001\n', 0, { expect: /^ssh:\/\//m }), { result: 'pass', reason: 'ssh://root@127.0.0.1:30001' });
    assert.equal(judge('This CLI was not installed with the managed installer. Error', 1, { local: true }).result, 'pass');
    assert.equal(judge('Traceback (most recent call last):\nOSError: x', 1, { local: true }).result, 'fail');
  });

  it('a regression is worse than recorded or no longer run; better and unrecorded are reported', () => {
    const o = (verb: string, result: Outcome['result']): Outcome => ({ client: 'legacy', verb, result, reason: 'r', ms: 1 });
    const expected = toExpected([o('a', 'pass'), o('b', 'refused'), o('c', 'fail'), o('gone', 'pass')]);
    assert.equal(expected.legacy?.b, 'refused: r');
    const cmp = compareWithExpected(expected, [o('a', 'refused'), o('b', 'pass'), o('c', 'fail'), o('new', 'pass')]);
    assert.deepEqual(
      cmp.regressions.map((l) => l.split(':')[0]),
      ['legacy a', 'legacy gone'],
    );
    assert.deepEqual(
      cmp.improvements.map((l) => l.split(':')[0]),
      ['legacy b', 'legacy new'],
    );
    assert.equal(readmeCountLine(expected), 'The compatibility suite passes **2 of 4** client verbs (legacy 2/4); 1 are refused on purpose.');
  });
});
