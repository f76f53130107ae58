import type pg from 'pg';
import { createTestDatabase, type TestDatabase, type TestUser, committedAs, expectCode } from '../../support/db.ts';
import { apiPool, course, endPool, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const create = 'insert into lms_public.courses (title, slug) values ($1, $2) returning slug';
/** A title's slug with the random suffix a taken base gets. */
const suffixed = (base: string) => new RegExp(`^${base}-[0-9a-z]{6}$`);

describe('course slugs', () => {
  it('are generated from the title, with a random suffix on collisions', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      await tx.becomeUser(teacher);
      const slugs: string[] = [];
      for (const title of ['Intro to SQL!', 'Intro to SQL!', '  intro   TO sql ', '¡¡¡', 'Ünïcode Ça'])
        slugs.push((await tx.query(create, [title, null])).rows[0].slug);
      expect(slugs).toEqual([
        'intro-to-sql',
        expect.stringMatching(suffixed('intro-to-sql')),
        expect.stringMatching(suffixed('intro-to-sql')),
        'untitled',
        'n-code-a',
      ]);
      expect(slugs[1]).not.toBe(slugs[2]);
      // An empty slug is "not given".
      expect((await tx.query(create, ['Intro to SQL!', ''])).rows[0].slug).toMatch(suffixed('intro-to-sql'));
    }));

  it('a given slug must be lowercase-kebab', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      await tx.becomeUser(teacher);
      for (const bad of ['Bad Slug', '-x', 'x-', 'a--b', 'UPPER', 'under_score', ' padded ']) await expectCode(tx, create, ['Title', bad], 'INVAL');
      expect((await tx.query(create, ['Title', 'good-slug-2'])).rows[0].slug).toBe('good-slug-2');
    }));

  it('a given slug that is taken is a unique violation, also on update', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const other = await user(tx, 'instructor');
      await course(tx, other.id, { isPublished: false, title: 'Hidden' });
      await tx.query("update lms_public.courses set slug = 'taken' where instructor_id = $1", [other.id]);
      await tx.becomeUser(teacher);
      // Taken by a draft the instructor cannot even see.
      await expectCode(tx, create, ['Title', 'taken'], '23505');
      await tx.query(create, ['Mine', 'mine']);
      await expectCode(tx, "update lms_public.courses set slug = 'taken' where slug = 'mine'", [], '23505');
      await expectCode(tx, "update lms_public.courses set slug = 'Not OK' where slug = 'mine'", [], 'INVAL');
    }));

  it("a title like another instructor's hidden drafts gets a slug that says neither who nor how many", () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const others = [await user(tx, 'instructor'), await user(tx, 'instructor')];
      const hidden = await course(tx, others[0]!.id, { isPublished: false, title: 'Mine' });
      await tx.query("update lms_public.courses set slug = 'mine' where id = $1", [hidden.id]);
      // Two more hidden holders of the counter's next candidates, which a counter would step over.
      await course(tx, others[1]!.id, { isPublished: false, title: 'Mine' }).then((c) =>
        tx.query("update lms_public.courses set slug = 'mine-2' where id = $1", [c.id]),
      );
      await course(tx, others[1]!.id, { isPublished: true, title: 'Visible' }).then((c) =>
        tx.query("update lms_public.courses set slug = 'visible' where id = $1", [c.id]),
      );
      await tx.becomeUser(teacher);
      expect((await tx.query("select count(*)::int as n from lms_public.courses where slug like 'mine%'")).rows[0].n).toBe(0);
      const fromHidden = (await tx.query(create, ['Mine', null])).rows[0].slug as string;
      const fromVisible = (await tx.query(create, ['Visible', null])).rows[0].slug as string;
      // Held by drafts it cannot see, or by a course anyone sees: the same shape, a fresh random suffix.
      expect(fromHidden).toMatch(suffixed('mine'));
      expect(fromVisible).toMatch(suffixed('visible'));
      const again = (await tx.query(create, ['Mine', null])).rows[0].slug as string;
      expect(again).toMatch(suffixed('mine'));
      expect(again).not.toBe(fromHidden);
    }));

  it("a given slug that is taken gets the same error whether its holder is hidden or the caller's own", () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const other = await user(tx, 'instructor');
      const hidden = await course(tx, other.id, { isPublished: false });
      await tx.query("update lms_public.courses set slug = 'secret-plan' where id = $1", [hidden.id]);
      await tx.becomeUser(teacher);
      await tx.query(create, ['Mine', 'my-plan']);
      const refusal = async (slug: string) => {
        await tx.query('savepoint refusal');
        try {
          await tx.query(create, ['Another', slug]);
          throw new Error(`${slug} was accepted`);
        } catch (e) {
          // Under RLS PostgreSQL leaves out the "Key (slug)=(…)" detail, so the answer is code and message.
          const { code, message, detail } = e as { code: string; message: string; detail?: string };
          return { code, message, detail };
        } finally {
          await tx.query('rollback to savepoint refusal');
        }
      };
      const ofHidden = await refusal('secret-plan');
      expect(ofHidden).toEqual({ code: '23505', message: expect.any(String), detail: undefined });
      expect(await refusal('my-plan')).toEqual(ofHidden);
    }));

  it('renaming keeps the slug; clearing it regenerates one from the new title', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      await tx.becomeUser(teacher);
      await tx.query(create, ['First Title', null]);
      const renamed = await tx.query("update lms_public.courses set title = 'Second Title' where slug = 'first-title' returning slug");
      expect(renamed.rows).toEqual([{ slug: 'first-title' }]);
      const cleared = await tx.query("update lms_public.courses set slug = '' where slug = 'first-title' returning slug");
      expect(cleared.rows).toEqual([{ slug: 'second-title' }]);
    }));
});

describe('lesson slugs', () => {
  it('default to the title and are validated', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const c = await course(tx, teacher.id);
      await tx.becomeUser(teacher);
      const insert = "insert into lms_public.lessons (course_id, title, slug, lesson_type) values ($1, $2, $3, 'text') returning slug";
      expect((await tx.query(insert, [c.id, 'What is a Table?', null])).rows[0].slug).toBe('what-is-a-table');
      await expectCode(tx, insert, [c.id, 'X', 'Bad Slug'], 'INVAL');
      await expectCode(tx, insert, [c.id, 'X', 'a--b'], 'INVAL');
    }));
});

describe('slugs under concurrency (committed, separate connections)', () => {
  let teacher: TestUser;
  beforeAll(async () => {
    teacher = await user(db.root, 'instructor');
  });

  /** Opens a transaction as the instructor and leaves it open. */
  async function openAsTeacher(): Promise<pg.PoolClient> {
    const client = await db.auth.connect();
    await client.query('begin');
    await client.query('set local role lms_instructor');
    await client.query("select set_config('jwt.claims.user_id', $1, true)", [teacher.id]);
    return client;
  }

  async function waitUntilBlocked(pid: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await db.root.query("select wait_event_type = 'Lock' as blocked from pg_stat_activity where pid = $1", [pid]);
      if (rows[0]?.blocked) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`backend ${pid} never waited on a lock`);
  }

  async function finish(client: pg.PoolClient, ok: boolean): Promise<void> {
    await client.query(ok ? 'commit' : 'rollback').catch(() => {});
    client.release();
  }

  it('two courses with the same title, the second waiting on the first, get different slugs', async () => {
    const a = await openAsTeacher();
    const b = await openAsTeacher();
    try {
      const slugA = (await a.query(create, ['Race Title', null])).rows[0].slug;
      const pidB = (await b.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const pendingB = b.query(create, ['Race Title', null]);
      await waitUntilBlocked(pidB);
      await a.query('commit');
      const slugB = (await pendingB).rows[0].slug;
      await b.query('commit');
      expect([slugA, slugB]).toEqual(['race-title', expect.stringMatching(suffixed('race-title'))]);
    } finally {
      await finish(a, false);
      await finish(b, false);
    }
  });

  it('eight parallel inserts of one title all succeed with distinct slugs', async () => {
    const pool = apiPool(db, 8);
    try {
      const slugs = await Promise.all(
        Array.from({ length: 8 }, () => committedAs(pool, teacher, async (c) => (await c.query(create, ['Parallel Title', null])).rows[0].slug as string)),
      );
      expect(new Set(slugs).size).toBe(8);
      expect(slugs.filter((s) => s === 'parallel-title')).toHaveLength(1);
      expect(slugs.filter((s) => suffixed('parallel-title').test(s))).toHaveLength(7);
    } finally {
      await endPool(db, pool);
    }
  });

  // Regression (fixed in migration 000008): the advisory lock is keyed on the title's base slug, but the candidate "intro-2" of title
  // "Intro" (when "intro" exists) is also the base of title "Intro 2": two generators under different
  // locks pick the same slug and the second fails with 23505 although neither gave a slug.
  it('a generated "-2" suffix and a title whose own slug is that suffix do not collide', async () => {
    await committedAs(db.auth, teacher, (c) => c.query(create, ['Intro', null]));
    const a = await openAsTeacher();
    const b = await openAsTeacher();
    try {
      const slugA = (await a.query(create, ['Intro 2', null])).rows[0].slug;
      expect(slugA).toBe('intro-2');
      const pidB = (await b.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const pendingB = b.query(create, ['Intro', null]).then(
        (r) => ({ slug: r.rows[0].slug as string }),
        (e: { code?: string; message: string }) => ({ error: `${e.code}: ${e.message}` }),
      );
      await waitUntilBlocked(pidB);
      await a.query('commit');
      const outcomeB = await pendingB;
      expect(outcomeB).toEqual({ slug: expect.stringMatching(suffixed('intro')) });
    } finally {
      await finish(a, false);
      await finish(b, false);
    }
  });
});
