/**
 * Group commit (src/store/group-commit.ts) on its own, then refresh rotations through it on the
 * real engines: many sessions refreshed at once all rotate, each exactly once, and every answer
 * comes after its commit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupCommit } from '../src/store/group-commit.js';
import { ENGINES } from './engines.js';
import { bearer, json, signUp, startApp, type Tokens } from './helpers.js';

describe('group commit', () => {
  it('commits calls that arrive during a commit together, answers each after its own commit, in order', async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const commit = groupCommit(async (items: readonly number[]) => {
      batches.push([...items]);
      if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return items.map((n) => n * 10);
    });
    const first = commit(1);
    await new Promise((resolve) => setImmediate(resolve));
    let answered = false;
    const later = [commit(2), commit(3), commit(4)];
    void Promise.all(later).then(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(answered, false, 'nobody is answered before their commit');
    assert.deepEqual(batches, [[1]], 'the others wait for the commit under way');
    release();
    assert.equal(await first, 10);
    assert.deepEqual(await Promise.all(later), [20, 30, 40]);
    assert.deepEqual(batches, [[1], [2, 3, 4]], 'and then commit together');
  });

  it('fails every call of a batch whose commit fails, and goes on with the next', async () => {
    let fail = true;
    const commit = groupCommit(async (items: readonly string[]) => {
      if (fail) throw new Error('store gone');
      return items.map((s) => s.toUpperCase());
    });
    const failed = await Promise.allSettled([commit('a'), commit('b')]);
    assert.deepEqual(
      failed.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    assert.equal(await commit('c'), 'C');
  });
});

for (const engine of ENGINES) {
  describe(`refresh rotations committed together [${engine}]`, () => {
    it('applies rotations of one session in one batch one after the other: at most one per current token', async (t) => {
      const { app, stores, clock } = await startApp(t, engine);
      const user = await signUp(app);
      const sid = String(
        JSON.parse(Buffer.from(user.tokens.refresh_token.split('.')[1] ?? '', 'base64url').toString()).sid,
      );
      const current = (await stores.sessions.find(sid))?.refreshJti ?? '';
      const rotation = (fromJti: string, toJti: string, sessionId = sid) => ({
        sessionId,
        userId: user.userId,
        fromJti,
        toJti,
        issuedAt: 1,
        expiresAt: clock.now() + 60_000,
        lastRotationBy: Number.MAX_SAFE_INTEGER,
      });
      // Called in one turn: one batch.
      const results = await Promise.all([
        stores.sessions.rotate(rotation(current, 'next'), clock.now()),
        stores.sessions.rotate(rotation('next', 'after'), clock.now()),
        stores.sessions.rotate(rotation(current, 'branch'), clock.now()),
        stores.sessions.rotate(rotation(current, 'x', 'no-such-session'), clock.now()),
      ]);
      assert.deepEqual(
        results.map((r) => r?.session.refreshJti),
        ['next', 'after', undefined, undefined],
      );
      assert.deepEqual(results[1]?.roles, []);
      const session = await stores.sessions.find(sid);
      assert.equal(session?.refreshJti, 'after');
      assert.equal(session?.previousJti, 'next');
    });

    it('looks up sessions asked for together in one statement, each answer in its place', async (t) => {
      const { app, stores } = await startApp(t, engine);
      const [a, b] = [await signUp(app), await signUp(app)];
      const sid = (u: { tokens: Tokens }) =>
        String(JSON.parse(Buffer.from(u.tokens.access_token.split('.')[1] ?? '', 'base64url').toString()).sid);
      const found = await Promise.all(
        [sid(a), sid(b), sid(a), 'no-such-session'].map((id) => stores.sessions.findWithUser(id)),
      );
      assert.deepEqual(
        found.map((f) => f && [f.session.id, f.user.id]),
        [[sid(a), a.userId], [sid(b), b.userId], [sid(a), a.userId], undefined],
      );
    });

    it('counts a batch of more distinct counters than one statement may carry', async (t) => {
      const { stores, clock } = await startApp(t, engine);
      const now = clock.now();
      // 11,000 counters × 3 parameters is over SQLite's 32,766 parameters a statement.
      const hits = await Promise.all(
        Array.from({ length: 11_000 }, (_, i) => stores.counters.hit(`many-${i}`, 60_000, now)),
      );
      assert.ok(hits.every((h) => h.count === 1));
      assert.equal((await stores.counters.peek('many-10999', 60_000, now)).count, 1);
    });

    it('counts hits on one counter in one batch each once, in order', async (t) => {
      const { stores, clock } = await startApp(t, engine);
      const now = clock.now();
      const hits = await Promise.all([
        ...Array.from({ length: 5 }, () => stores.counters.hit('batch-a', 60_000, now)),
        stores.counters.hit('batch-b', 60_000, now),
        stores.counters.hit('batch-a', 60_000, now),
      ]);
      assert.deepEqual(
        hits.map((h) => h.count),
        [1, 2, 3, 4, 5, 1, 6],
      );
      assert.equal((await stores.counters.hit('batch-a', 60_000, now)).count, 7);
      assert.equal((await stores.counters.peek('batch-b', 60_000, now)).count, 1);
    });

    it('rotates 40 sessions refreshed at once, each once; every new token works and every old one is spent', async (t) => {
      const test = await startApp(t, engine, { env: { REFRESH_REUSE_INTERVAL: '0' } });
      const users = await Promise.all(Array.from({ length: 40 }, () => signUp(test.app)));
      const answers = await Promise.all(
        users.map((u) =>
          test.app.inject({ method: 'POST', url: '/auth/refresh', headers: bearer(u.tokens.refresh_token) }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.statusCode),
        users.map(() => 200),
      );
      const next = answers.map((a) => json<Tokens>(a));
      for (const [i, u] of users.entries()) {
        const session = await test.stores.sessions.find(
          JSON.parse(Buffer.from(u.tokens.refresh_token.split('.')[1] ?? '', 'base64url').toString()).sid,
        );
        const presented = JSON.parse(
          Buffer.from(next[i]?.refresh_token.split('.')[1] ?? '', 'base64url').toString(),
        ) as { jti: string };
        assert.equal(session?.refreshJti, presented.jti, 'the committed rotation is the one answered');
      }
      test.clock.advance(1); // past REFRESH_MIN_INTERVAL_MS, so the session may rotate again
      const again = await test.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(next[0]?.refresh_token ?? ''),
      });
      assert.equal(again.statusCode, 200);
      const spent = await test.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: bearer(users[1]?.tokens.refresh_token ?? ''),
      });
      assert.equal(json(spent).error, 'token_revoked', 'an old token is reuse');
    });
  });
}
