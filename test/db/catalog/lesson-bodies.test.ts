import type { TestUser, Transaction } from '../../support/db.ts';
import { createTestDatabase, type TestDatabase, expectCode } from '../../support/db.ts';
import { course, enrollAs, lesson, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** A published course (a preview lesson, a plain one, an archived one) and a draft with a preview lesson. */
async function scene(tx: Transaction) {
  const teacher = await user(tx, 'instructor');
  const pub = await course(tx, teacher.id, { isPublished: true });
  const draft = await course(tx, teacher.id, { isPublished: false });
  const preview = await lesson(tx, pub.id, { title: 'Preview', isPreview: true, content: 'preview body', videoUrl: 'https://v.example/p' });
  const plain = await lesson(tx, pub.id, { title: 'Plain', content: 'secret body', videoUrl: 'https://v.example/s' });
  const archived = await lesson(tx, pub.id, { title: 'Gone', content: 'old body' });
  await tx.query('update lms_public.lessons set archived_at = now() where id = $1', [archived]);
  const draftPreview = await lesson(tx, draft.id, { title: 'Draft preview', isPreview: true });
  return { teacher, pub, draft, preview, plain, archived, draftPreview, all: [preview, plain, archived, draftPreview] };
}

async function visibleLessons(tx: Transaction, who: TestUser | null, ids: string[]): Promise<string[]> {
  await (who ? tx.becomeUser(who) : tx.becomeAnonymous());
  const { rows } = await tx.query<{ id: string }>('select id from lms_public.lessons where id = any($1)', [ids]);
  return rows.map((r) => r.id).sort();
}

describe('lesson rows (content, video_url)', () => {
  it('each visitor reads exactly the lessons they are entitled to', () =>
    db.transaction(async (tx) => {
      const s = await scene(tx);
      const other = await user(tx, 'instructor');
      const admin = await user(tx, 'admin');
      const stranger = await user(tx);
      const active = await user(tx);
      const completed = await user(tx);
      const dropped = await user(tx);
      await enrollAs(tx, active, s.pub.id);
      await enrollAs(tx, completed, s.pub.id);
      await tx.query('select lms_public.complete_lesson(id) from unnest($1::uuid[]) id', [[s.preview, s.plain]]);
      await enrollAs(tx, dropped, s.pub.id);
      await tx.query('select lms_public.drop_course($1)', [s.pub.id]);
      await tx.becomeRoot();
      expect((await tx.query('select status from lms_public.enrollments where student_id = $1', [completed.id])).rows).toEqual([{ status: 'completed' }]);

      const sorted = (...ids: string[]) => ids.sort();
      const seen = {
        anonymous: await visibleLessons(tx, null, s.all),
        stranger: await visibleLessons(tx, stranger, s.all),
        active: await visibleLessons(tx, active, s.all),
        completed: await visibleLessons(tx, completed, s.all),
        dropped: await visibleLessons(tx, dropped, s.all),
        otherInstructor: await visibleLessons(tx, other, s.all),
        instructor: await visibleLessons(tx, s.teacher, s.all),
        admin: await visibleLessons(tx, admin, s.all),
      };
      expect(seen).toEqual({
        anonymous: [s.preview],
        stranger: [s.preview],
        active: sorted(s.preview, s.plain),
        completed: sorted(s.preview, s.plain),
        dropped: [s.preview],
        otherInstructor: [s.preview],
        instructor: sorted(...s.all),
        admin: sorted(...s.all),
      });
    }));

  it('an enrolled student reads the body; an unenrolled one cannot, even by id', () =>
    db.transaction(async (tx) => {
      const s = await scene(tx);
      const active = await user(tx);
      const stranger = await user(tx);
      await enrollAs(tx, active, s.pub.id);
      const body = 'select content, video_url from lms_public.lessons where id = $1';
      expect((await tx.query(body, [s.plain])).rows).toEqual([{ content: 'secret body', video_url: 'https://v.example/s' }]);
      await tx.becomeUser(stranger);
      expect((await tx.query(body, [s.plain])).rows).toEqual([]);
      expect((await tx.query(body, [s.preview])).rows).toEqual([{ content: 'preview body', video_url: 'https://v.example/p' }]);
    }));

  it('after unpublishing, previews disappear for strangers; enrolled students keep every live lesson', () =>
    db.transaction(async (tx) => {
      const s = await scene(tx);
      const active = await user(tx);
      const stranger = await user(tx);
      await enrollAs(tx, active, s.pub.id);
      await tx.becomeUser(s.teacher);
      await tx.query('select lms_public.unpublish_course($1)', [s.pub.id]);
      expect(await visibleLessons(tx, stranger, s.all)).toEqual([]);
      expect(await visibleLessons(tx, null, s.all)).toEqual([]);
      expect(await visibleLessons(tx, active, s.all)).toEqual([s.preview, s.plain].sort());
    }));

  it('students and other instructors cannot write lessons', () =>
    db.transaction(async (tx) => {
      const s = await scene(tx);
      const student = await user(tx);
      const other = await user(tx, 'instructor');
      await enrollAs(tx, student, s.pub.id);
      const insert = "insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'X', 'text')";
      await expectCode(tx, insert, [s.pub.id], '42501');
      await expectCode(tx, "update lms_public.lessons set title = 'x' where id = $1", [s.plain], '42501');
      await tx.becomeUser(other);
      await expectCode(tx, insert, [s.pub.id], '42501');
      expect((await tx.query("update lms_public.lessons set title = 'hijack' where id = $1", [s.preview])).rowCount).toBe(0);
      await tx.becomeUser(s.teacher);
      expect((await tx.query("update lms_public.lessons set title = 'Renamed' where id = $1", [s.preview])).rowCount).toBe(1);
      // Archiving and deleting go through remove_lesson only.
      await expectCode(tx, 'update lms_public.lessons set archived_at = now() where id = $1', [s.preview], '42501');
      await expectCode(tx, 'delete from lms_public.lessons where id = $1', [s.plain], '42501');
    }));
});

describe('courses_syllabus', () => {
  const syllabus = `select s.title, s.order_index, s.is_preview, s.counts_toward_completion
    from lms_public.courses c, lms_public.courses_syllabus(c) s where c.id = $1 order by s.order_index`;
  // Called on a row literal, so that the function's own check is what is tested, not the courses policy.
  const syllabusOfRow = 'select count(*)::int as n from lms_public.courses_syllabus($1::text::lms_public.courses)';

  it('lists the live lessons of a published course, in order, for anyone, with no bodies', () =>
    db.transaction(async (tx) => {
      const s = await scene(tx);
      await tx.becomeAnonymous();
      expect((await tx.query(syllabus, [s.pub.id])).rows).toEqual([
        { title: 'Preview', order_index: 0, is_preview: true, counts_toward_completion: true },
        { title: 'Plain', order_index: 1, is_preview: false, counts_toward_completion: true },
      ]);
      const columns = (await tx.query('select * from lms_public.courses_syllabus(null::lms_public.courses)')).fields.map((f) => f.name);
      expect(columns).not.toContain('content');
      expect(columns).not.toContain('video_url');
    }));

  it("gives nothing of a draft to a stranger, and the draft's lessons to its instructor", () =>
    db.transaction(async (tx) => {
      const s = await scene(tx);
      const { rows } = await tx.query<{ row: string }>('select c::text as row from lms_public.courses c where id = $1', [s.draft.id]);
      const draftRow = rows[0]!.row;
      const stranger = await user(tx);
      const other = await user(tx, 'instructor');
      await tx.becomeAnonymous();
      expect((await tx.query(syllabusOfRow, [draftRow])).rows).toEqual([{ n: 0 }]);
      await tx.becomeUser(stranger);
      expect((await tx.query(syllabusOfRow, [draftRow])).rows).toEqual([{ n: 0 }]);
      await tx.becomeUser(other);
      expect((await tx.query(syllabusOfRow, [draftRow])).rows).toEqual([{ n: 0 }]);
      await tx.becomeUser(s.teacher);
      expect((await tx.query(syllabusOfRow, [draftRow])).rows).toEqual([{ n: 1 }]);
      // The instructor's name follows the same rule.
      const name = 'select lms_public.courses_instructor_name($1::text::lms_public.courses) is not null as named';
      expect((await tx.query(name, [draftRow])).rows).toEqual([{ named: true }]);
      await tx.becomeUser(stranger);
      expect((await tx.query(name, [draftRow])).rows).toEqual([{ named: false }]);
    }));

  it('stays readable to an enrolled student after unpublishing, not to a dropped one', () =>
    db.transaction(async (tx) => {
      const s = await scene(tx);
      const { rows } = await tx.query<{ row: string }>('select c::text as row from lms_public.courses c where id = $1', [s.pub.id]);
      const active = await user(tx);
      const dropped = await user(tx);
      await enrollAs(tx, active, s.pub.id);
      await enrollAs(tx, dropped, s.pub.id);
      await tx.query('select lms_public.drop_course($1)', [s.pub.id]);
      await tx.becomeRoot();
      await tx.query('update lms_public.courses set is_published = false where id = $1', [s.pub.id]);
      await tx.becomeUser(active);
      expect((await tx.query(syllabus, [s.pub.id])).rows.map((r) => r.title)).toEqual(['Preview', 'Plain']);
      await tx.becomeUser(dropped);
      expect((await tx.query(syllabusOfRow, [rows[0]!.row])).rows).toEqual([{ n: 0 }]);
    }));
});
