import { createTestDatabase, type TestDatabase, type Transaction, expectCode } from '../../support/db.ts';
import { course, enrollAs, lesson, lessons, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

async function order(tx: Transaction, courseId: string): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>('select id from lms_public.lessons where course_id = $1 order by order_index', [courseId]);
  return rows.map((r) => r.id);
}

async function indexes(tx: Transaction, ids: string[]): Promise<number[]> {
  const { rows } = await tx.query<{ order_index: number }>(
    'select l.order_index from unnest($1::uuid[]) with ordinality u(id, n) join lms_public.lessons l using (id) order by u.n',
    [ids],
  );
  return rows.map((r) => r.order_index);
}

describe('order_index', () => {
  it('defaults to the end of the course, after any given index', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const c = await course(tx, teacher.id);
      await tx.becomeUser(teacher);
      const insert = "insert into lms_public.lessons (course_id, title, lesson_type, order_index) values ($1, 'L', 'text', $2) returning order_index";
      const got: number[] = [];
      for (const given of [null, null, 10, null]) got.push((await tx.query(insert, [c.id, given])).rows[0].order_index);
      expect(got).toEqual([0, 1, 10, 11]);
      await expectCode(tx, insert, [c.id, 10], '23505');
      // Several rows in one statement each go last, in turn.
      const many = await tx.query(
        "insert into lms_public.lessons (course_id, title, lesson_type) select $1, 'M' || g, 'text' from generate_series(1, 3) g returning order_index",
        [c.id],
      );
      expect(many.rows.map((r) => r.order_index)).toEqual([12, 13, 14]);
    }));
});

describe('parents', () => {
  it('must belong to the same course, on insert and on update', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const a = await course(tx, teacher.id);
      const b = await course(tx, teacher.id);
      const foreign = await lesson(tx, b.id);
      const mine = await lesson(tx, a.id);
      await tx.becomeUser(teacher);
      await expectCode(
        tx,
        "insert into lms_public.lessons (course_id, title, lesson_type, parent_lesson_id) values ($1, 'L', 'text', $2)",
        [a.id, foreign],
        'INVAL',
      );
      await expectCode(tx, 'update lms_public.lessons set parent_lesson_id = $2 where id = $1', [mine, foreign], 'INVAL');
      const section = await lesson(tx, a.id, { title: 'Section' });
      expect((await tx.query('update lms_public.lessons set parent_lesson_id = $2 where id = $1', [mine, section])).rowCount).toBe(1);
    }));

  it('refuse cycles: self, A→B→A, and a longer loop', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const c = await course(tx, teacher.id);
      const [a, b, d] = await lessons(tx, c.id, 3);
      await tx.becomeUser(teacher);
      const setParent = 'update lms_public.lessons set parent_lesson_id = $2 where id = $1';
      await expectCode(tx, setParent, [a, a], 'INVAL');
      await tx.query(setParent, [b, a]); // b under a
      await expectCode(tx, setParent, [a, b], 'INVAL');
      await tx.query(setParent, [d, b]); // d under b under a
      await expectCode(tx, setParent, [a, d], 'INVAL');
      await tx.becomeRoot();
      const { rows } = await tx.query('select id, parent_lesson_id from lms_public.lessons where course_id = $1 order by order_index', [c.id]);
      expect(rows).toEqual([
        { id: a, parent_lesson_id: null },
        { id: b, parent_lesson_id: a },
        { id: d, parent_lesson_id: b },
      ]);
    }));

  it('a lesson cannot move to another course (INVAL for root, no grant for the instructor)', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const a = await course(tx, teacher.id);
      const b = await course(tx, teacher.id);
      const l = await lesson(tx, a.id);
      await expectCode(tx, 'update lms_public.lessons set course_id = $2 where id = $1', [l, b.id], 'INVAL');
      await tx.becomeUser(teacher);
      await expectCode(tx, 'update lms_public.lessons set course_id = $2 where id = $1', [l, b.id], '42501');
    }));
});

describe('reorder_lessons', () => {
  const reorder = 'select id, order_index from lms_public.reorder_lessons($1, $2)';

  it('applies a full permutation atomically despite the unique key', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const c = await course(tx, teacher.id);
      const ids = await lessons(tx, c.id, 5);
      await tx.becomeUser(teacher);
      const reversed = [...ids].reverse();
      const { rows } = await tx.query(reorder, [c.id, reversed]);
      expect(rows.map((r) => r.id)).toEqual(reversed);
      expect(await indexes(tx, reversed)).toEqual([0, 1, 2, 3, 4]);
      // A rotation too: every lesson moves by one.
      const rotated = [...reversed.slice(1), reversed[0]!];
      await tx.query(reorder, [c.id, rotated]);
      expect(await order(tx, c.id)).toEqual(rotated);
    }));

  it('leaves archived lessons after the live ones, and refuses them in the list', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const c = await course(tx, teacher.id);
      const [a, b, archived, d] = await lessons(tx, c.id, 4);
      await tx.query('update lms_public.lessons set archived_at = now() where id = $1', [archived]);
      await tx.becomeUser(teacher);
      await tx.query(reorder, [c.id, [d, b, a]]);
      expect(await order(tx, c.id)).toEqual([d, b, a, archived]);
      expect(await indexes(tx, [d, b, a, archived])).toEqual([0, 1, 2, 3]);
      await expectCode(tx, reorder, [c.id, [d, b, a, archived]], 'INVAL');
    }));

  it('refuses a partial list, a duplicate, a foreign id or null, and changes nothing', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const c = await course(tx, teacher.id);
      const other = await course(tx, teacher.id);
      const [a, b, d] = await lessons(tx, c.id, 3);
      const foreign = await lesson(tx, other.id);
      await tx.becomeUser(teacher);
      for (const bad of [[a, b], [a, b, b], [a, a, b, d], [a, b, foreign], [a, b, d, foreign], [a, b, null], null])
        await expectCode(tx, reorder, [c.id, bad], 'INVAL');
      expect(await order(tx, c.id)).toEqual([a, b, d]);
    }));

  it('only the course instructor may reorder: FRBDN for another instructor, 42501 for a student', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const other = await user(tx, 'instructor');
      const student = await user(tx);
      const c = await course(tx, teacher.id);
      const ids = await lessons(tx, c.id, 2);
      await enrollAs(tx, student, c.id);
      await expectCode(tx, reorder, [c.id, [...ids].reverse()], '42501');
      await tx.becomeAnonymous();
      await expectCode(tx, reorder, [c.id, [...ids].reverse()], '42501');
      await tx.becomeUser(other);
      await expectCode(tx, reorder, [c.id, [...ids].reverse()], 'FRBDN');
      await expectCode(tx, reorder, ['00000000-0000-0000-0000-000000000000', []], 'NTFND');
      await tx.becomeRoot();
      expect(await order(tx, c.id)).toEqual(ids);
    }));
});
