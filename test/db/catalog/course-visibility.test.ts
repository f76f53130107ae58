import { createTestDatabase, type TestDatabase, type Transaction, expectCode } from '../../support/db.ts';
import { course, enrollAs, lesson, lessons, publishedCourse, quiz, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

async function visibleCourses(tx: Transaction, ids: string[]): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>('select id from lms_public.courses where id = any($1)', [ids]);
  return rows.map((r) => r.id).sort();
}

describe('who sees which course', () => {
  it('published for everyone; drafts for their instructor and admins only', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const other = await user(tx, 'instructor');
      const student = await user(tx);
      const admin = await user(tx, 'admin');
      const pub = await course(tx, teacher.id, { isPublished: true });
      const draft = await course(tx, teacher.id, { isPublished: false });
      const both = [pub.id, draft.id];

      await tx.becomeAnonymous();
      expect(await visibleCourses(tx, both)).toEqual([pub.id]);
      await tx.becomeUser(student);
      expect(await visibleCourses(tx, both)).toEqual([pub.id]);
      await tx.becomeUser(other);
      expect(await visibleCourses(tx, both)).toEqual([pub.id]);
      await tx.becomeUser(teacher);
      expect(await visibleCourses(tx, both)).toEqual([...both].sort());
      await tx.becomeUser(admin);
      expect(await visibleCourses(tx, both)).toEqual([...both].sort());
    }));

  it('after unpublishing, active and completed students still see the course; dropped ones and strangers do not', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 1);
      const active = await user(tx);
      const done = await user(tx);
      const dropped = await user(tx);
      const stranger = await user(tx);
      await enrollAs(tx, active, c.id);
      await enrollAs(tx, done, c.id);
      await tx.query('select lms_public.complete_lesson($1)', [lessons[0]]);
      expect((await tx.query('select status from lms_public.enrollments')).rows).toEqual([{ status: 'completed' }]);
      await enrollAs(tx, dropped, c.id);
      await tx.query('select lms_public.drop_course($1)', [c.id]);

      await tx.becomeUser(teacher);
      await tx.query('select lms_public.unpublish_course($1)', [c.id]);

      for (const [who, sees] of [
        [active, true],
        [done, true],
        [dropped, false],
        [stranger, false],
      ] as const) {
        await tx.becomeUser(who);
        expect({ who: who.id, sees: (await visibleCourses(tx, [c.id])).length === 1 }).toEqual({ who: who.id, sees });
      }
      await tx.becomeAnonymous();
      expect(await visibleCourses(tx, [c.id])).toEqual([]);
    }));
});

describe('what instructors may write', () => {
  it('an instructor creates a course that is theirs by default, and cannot create one for another instructor', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const other = await user(tx, 'instructor');
      await tx.becomeUser(teacher);
      const { rows } = await tx.query('insert into lms_public.courses (title) values ($1) returning instructor_id, is_published', ['Mine']);
      expect(rows).toEqual([{ instructor_id: teacher.id, is_published: false }]);
      await expectCode(tx, 'insert into lms_public.courses (title, instructor_id) values ($1, $2)', ['Theirs', other.id], '42501');
      await expectCode(tx, 'insert into lms_public.courses (title, is_published) values ($1, true)', ['Live at once'], '42501');
    }));

  it('students and anonymous visitors cannot create courses', () =>
    db.transaction(async (tx) => {
      const student = await user(tx);
      await tx.becomeUser(student);
      await expectCode(tx, "insert into lms_public.courses (title) values ('Nope')", [], '42501');
      await tx.becomeAnonymous();
      await expectCode(tx, "insert into lms_public.courses (title) values ('Nope')", [], '42501');
    }));

  it('an admin may create a course for an instructor', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const admin = await user(tx, 'admin');
      await tx.becomeUser(admin);
      const { rows } = await tx.query('insert into lms_public.courses (title, instructor_id) values ($1, $2) returning instructor_id', [
        'For them',
        teacher.id,
      ]);
      expect(rows).toEqual([{ instructor_id: teacher.id }]);
    }));

  it('an instructor updates their own course, not another one, and cannot publish by update', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const other = await user(tx, 'instructor');
      const mine = await course(tx, teacher.id, { isPublished: false });
      const theirs = await course(tx, other.id, { isPublished: true });
      await tx.becomeUser(teacher);
      expect((await tx.query("update lms_public.courses set description = 'new' where id = $1", [mine.id])).rowCount).toBe(1);
      expect((await tx.query("update lms_public.courses set description = 'hijack' where id = $1", [theirs.id])).rowCount).toBe(0);
      await expectCode(tx, 'update lms_public.courses set is_published = true where id = $1', [mine.id], '42501');
      await expectCode(tx, 'update lms_public.courses set instructor_id = $2 where id = $1', [mine.id, other.id], '42501');
      await expectCode(tx, 'update lms_public.courses set average_rating = 5 where id = $1', [mine.id], '42501');
      await expectCode(tx, 'update lms_public.courses set price = -1 where id = $1', [mine.id], '23514');
      await expectCode(tx, "update lms_public.courses set currency = 'usd' where id = $1", [mine.id], '23514');
    }));

  it('an instructor deletes their own drafts only; an admin may delete any course', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      const other = await user(tx, 'instructor');
      const admin = await user(tx, 'admin');
      const draft = await course(tx, teacher.id, { isPublished: false });
      const live = await course(tx, teacher.id, { isPublished: true });
      const othersDraft = await course(tx, other.id, { isPublished: false });
      await lessons(tx, draft.id, 2);
      await tx.becomeUser(teacher);
      const del = async (id: string) => (await tx.query('delete from lms_public.courses where id = $1', [id])).rowCount;
      expect(await del(live.id)).toBe(0);
      expect(await del(othersDraft.id)).toBe(0);
      expect(await del(draft.id)).toBe(1);
      await tx.becomeRoot();
      expect((await tx.query('select count(*)::int as n from lms_public.lessons where course_id = $1', [draft.id])).rows).toEqual([{ n: 0 }]);
      await tx.becomeUser(admin);
      expect(await del(live.id)).toBe(1);
    }));

  it('a course with enrollments cannot be deleted, even by an admin', () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const admin = await user(tx, 'admin');
      await enrollAs(tx, await user(tx), c.id);
      await tx.becomeUser(admin);
      await expectCode(tx, 'delete from lms_public.courses where id = $1', [c.id], '23503');
    }));
});

describe('publish_course', () => {
  async function draftOf(tx: Transaction) {
    const teacher = await user(tx, 'instructor');
    const c = await course(tx, teacher.id, { isPublished: false });
    return { teacher, c };
  }
  const publish = 'select is_published from lms_public.publish_course($1)';

  it('needs a lesson that counts', () =>
    db.transaction(async (tx) => {
      const { teacher, c } = await draftOf(tx);
      await tx.becomeUser(teacher);
      await expectCode(tx, publish, [c.id], 'INVAL');
      await lesson(tx, c.id);
      expect((await tx.query(publish, [c.id])).rows).toEqual([{ is_published: true }]);
      await tx.query('select lms_public.unpublish_course($1)', [c.id]);
      expect((await tx.query('select is_published from lms_public.courses where id = $1', [c.id])).rows).toEqual([{ is_published: false }]);
    }));

  it('an archived lesson or a practice quiz alone does not count', () =>
    db.transaction(async (tx) => {
      const { teacher, c } = await draftOf(tx);
      const practice = await lesson(tx, c.id, { lessonType: 'quiz' });
      await quiz(tx, practice, { quizType: 'practice' });
      await tx.becomeUser(teacher);
      await expectCode(tx, publish, [c.id], 'INVAL');
      const archived = await lesson(tx, c.id);
      await tx.becomeRoot();
      await tx.query('update lms_public.lessons set archived_at = now() where id = $1', [archived]);
      await tx.becomeUser(teacher);
      await expectCode(tx, publish, [c.id], 'INVAL');
      // A practice quiz lesson needs no graded quiz once another lesson counts.
      await lesson(tx, c.id);
      expect((await tx.query(publish, [c.id])).rows).toEqual([{ is_published: true }]);
    }));

  it('a counting quiz lesson needs a published graded quiz', () =>
    db.transaction(async (tx) => {
      const { teacher, c } = await draftOf(tx);
      await lesson(tx, c.id);
      const q = await lesson(tx, c.id, { lessonType: 'quiz' });
      await tx.becomeUser(teacher);
      await expectCode(tx, publish, [c.id], 'INVAL'); // no quiz at all
      const quizId = await quiz(tx, q, { quizType: 'graded', isPublished: false });
      await expectCode(tx, publish, [c.id], 'INVAL'); // graded but unpublished
      await tx.becomeRoot();
      await tx.query('update lms_public.quizzes set is_published = true where id = $1', [quizId]);
      await tx.becomeUser(teacher);
      expect((await tx.query(publish, [c.id])).rows).toEqual([{ is_published: true }]);
    }));

  // Admins: see admin-course-management.test.ts.
  it('another instructor gets FRBDN, a student 42501, an unknown course NTFND', () =>
    db.transaction(async (tx) => {
      const { c } = await draftOf(tx);
      await lesson(tx, c.id);
      const other = await user(tx, 'instructor');
      const student = await user(tx);
      await tx.becomeUser(other);
      await expectCode(tx, publish, [c.id], 'FRBDN');
      await expectCode(tx, 'select lms_public.unpublish_course($1)', [c.id], 'FRBDN');
      await expectCode(tx, publish, ['00000000-0000-0000-0000-000000000000'], 'NTFND');
      await tx.becomeUser(student);
      await expectCode(tx, publish, [c.id], '42501');
      await tx.becomeAnonymous();
      await expectCode(tx, publish, [c.id], '42501');
      await tx.becomeRoot();
      expect((await tx.query('select is_published from lms_public.courses where id = $1', [c.id])).rows).toEqual([{ is_published: false }]);
    }));
});
