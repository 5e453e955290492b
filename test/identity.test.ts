import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { emailProblems, identityKey, usernameProblems } from '../src/core/identity.js';
import { isCommonPassword, passwordProblems } from '../src/core/password-policy.js';

const rules = { minLength: 8, maxLength: 256 };

describe('identity and password rules (property-based)', () => {
  it('identityKey is idempotent and ignores case and compatibility forms', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        assert.equal(identityKey(identityKey(s)), identityKey(s));
        assert.equal(identityKey(s.toUpperCase()), identityKey(s.toLowerCase()));
      }),
    );
    assert.equal(identityKey('ｂｏｂ'), identityKey('BOB'));
    assert.equal(identityKey('ﬁle'), identityKey('FILE'));
    assert.equal(identityKey('Straße'), identityKey('STRASSE'));
    assert.equal(identityKey('STRAẞE'), identityKey('strasse'), 'capital sharp S folds like ß');
  });

  it('accepts every username of 3-32 letters, digits, _ . - and nothing else', () => {
    const allowed = fc.constantFrom(...'abcXYZ019_.-éßж中'.split(''));
    fc.assert(
      fc.property(fc.array(allowed, { minLength: 3, maxLength: 32 }), (chars) => {
        assert.deepEqual(usernameProblems(chars.join('')), []);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const problems = usernameProblems(s);
        assert.ok(problems.length <= 1);
        const valid = /^[\p{L}\p{N}_.-]{3,32}$/u.test(s.normalize('NFKC'));
        assert.equal(problems.length === 0, valid, JSON.stringify(s));
      }),
    );
    for (const bad of ['a b', 'a@b', 'x\u0000y', 'tab\tx', '<script>', "o'neil", 'semi;colon']) {
      assert.notDeepEqual(usernameProblems(bad), [], bad);
    }
  });

  it('accepts real email shapes and refuses the rest', () => {
    for (const good of ['a@b.co', 'first.last+tag@sub.example.org', "o'neil@example.com", 'x@xn--bcher-kva.de']) {
      assert.deepEqual(emailProblems(good), [], good);
    }
    for (const bad of [
      'plain',
      '@example.com',
      'a@',
      'a@b',
      'a b@c.de',
      'a@b..de',
      'a@-b.de',
      'a@b.de\n',
      `${'x'.repeat(65)}@b.de`,
    ]) {
      assert.deepEqual(emailProblems(bad), [{ field: 'email', problem: 'invalid_format' }], JSON.stringify(bad));
    }
    fc.assert(
      fc.property(fc.emailAddress(), (email) => {
        if (email.length <= 254) assert.deepEqual(emailProblems(email), [], email);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        assert.ok(emailProblems(s).length <= 1);
      }),
    );
  });

  it('password length counts characters, not bytes, and common passwords are refused whatever their case', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 300 }), async (pw) => {
        const length = [...pw].length;
        const problems = await passwordProblems(pw, rules);
        if (length < 8) assert.deepEqual(problems, [{ field: 'password', problem: 'too_short' }]);
        else if (length > 256) assert.deepEqual(problems, [{ field: 'password', problem: 'too_long' }]);
        else assert.ok(problems.length === 0 || problems[0]?.problem === 'too_common');
      }),
    );
    assert.deepEqual(await passwordProblems('🔑🔑🔑🔑🔑🔑🔑🔑', rules), [], 'eight emoji are eight characters');
    for (const common of ['password', 'PASSWORD', '12345678', 'qwertyuiop', 'iloveyou'])
      assert.ok(await isCommonPassword(common), common);
    assert.equal(await isCommonPassword('correct horse battery staple'), false);
  });
});
