import { createTestDatabase, type TestDatabase, asRoot, expectCode } from '../../support/db.ts';
import { enrollAs, enrollmentRow, expectInvariants, lesson, publishedCourse, quiz, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const start = 'select * from lms_public.start_lesson($1)';
const beat = 'select * from lms_public.record_lesson_progress($1, $2, $3)';
const complete = 'select * from lms_public.complete_lesson($1)';

describe('expectInvariants', () => {
  it('catches an enrollment whose numbers were tampered with', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 2);
      const e = await enrollAs(tx, await user(tx), c.id);
      await tx.query(complete, [lessons[0]]);
      await expectInvariants(tx, e.id);
      await tx.becomeRoot();
      // enrollments has no recalculation trigger of its own: a direct write sticks.
      await tx.query('update lms_public.enrollments set progress_percentage = 51 where id = $1', [e.id]);
      await expect(expectInvariants(tx, e.id)).rejects.toThrow();
    }));
});

describe('start_lesson', () => {
  it('starts once: status in_progress, started_at kept on a second start', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 2);
      const e = await enrollAs(tx, await user(tx), c.id);
      const first = (await tx.query(start, [lessons[0]])).rows[0];
      expect(first).toMatchObject({ enrollment_id: e.id, status: 'in_progress' });
      const after = await expectInvariants(tx, e.id);
      expect(after.started_at).toEqual(first.started_at);
      await asRoot(tx, (q) => q.query("update lms_public.lesson_progress set started_at = started_at - interval '1 hour' where id = $1", [first.id]));
      const second = (await tx.query(start, [lessons[0]])).rows[0];
      expect(second.started_at.getTime()).toBe(first.started_at.getTime() - 3600_000);
      await expectInvariants(tx, e.id);
    }));

  it('refuses a student who is not enrolled (FRBDN), a section (INVAL) and an unknown lesson (NTFND)', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      const section = await lesson(tx, c.id);
      await lesson(tx, c.id, { parentId: section });
      await tx.becomeUser(await user(tx));
      await expectCode(tx, start, [lessons[0]], 'FRBDN');
      await enrollAs(tx, await user(tx), c.id);
      await expectCode(tx, start, [section], 'INVAL');
      await expectCode(tx, start, ['00000000-0000-0000-0000-000000000000'], 'NTFND');
    }));
});

describe('record_lesson_progress', () => {
  it('refuses negative or missing values (INVAL)', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      await enrollAs(tx, await user(tx), c.id);
      for (const [position, spent] of [
        [-1, 0],
        [0, -1],
        [null, 0],
        [0, null],
      ])
        await expectCode(tx, beat, [lessons[0], position, spent], 'INVAL');
    }));

  it("clamps the position to the lesson's duration", () =>
    db.transaction(async (tx) => {
      const { course: c } = await publishedCourse(tx, 1);
      const tenMinutes = await lesson(tx, c.id, { durationMinutes: 10 });
      const open = await lesson(tx, c.id, { durationMinutes: null });
      const e = await enrollAs(tx, await user(tx), c.id);
      expect((await tx.query(beat, [tenMinutes, 100000, 0])).rows[0]).toMatchObject({ last_position_seconds: 600, completion_percentage: '100.00' });
      expect((await tx.query(beat, [tenMinutes, 150, 0])).rows[0]).toMatchObject({ last_position_seconds: 150, completion_percentage: '100.00' });
      expect((await tx.query(beat, [open, 100000, 0])).rows[0]).toMatchObject({ last_position_seconds: 100000 });
      const row = await expectInvariants(tx, e.id);
      // Watching to the end is not completing.
      expect(row.completed_lessons_count).toBe(0);
    }));

  it('counts no more time than has passed since the previous heartbeat', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      const e = await enrollAs(tx, await user(tx), c.id);
      // A first heartbeat with nothing before it has no time to claim.
      expect((await tx.query(beat, [lessons[0], 10, 3600])).rows[0].time_spent_seconds).toBe(0);
      const progressId = (await tx.query('select id from lms_public.lesson_progress')).rows[0].id;
      // Two heartbeats in a row, each claiming an hour: together a few seconds at most.
      const one = (await tx.query(beat, [lessons[0], 20, 3600])).rows[0].time_spent_seconds;
      const two = (await tx.query(beat, [lessons[0], 30, 3600])).rows[0].time_spent_seconds;
      expect(two).toBeLessThanOrEqual(6);
      expect(two).toBeGreaterThanOrEqual(one);
      await expectInvariants(tx, e.id);
      // 100 s of wall-clock time since the last heartbeat: about 100 s count, not 3600.
      await asRoot(tx, (q) =>
        q.query("update lms_public.lesson_progress set last_accessed_at = clock_timestamp() - interval '100 seconds' where id = $1", [progressId]),
      );
      const three = (await tx.query(beat, [lessons[0], 40, 3600])).rows[0].time_spent_seconds;
      expect(three - two).toBeGreaterThanOrEqual(100);
      expect(three - two).toBeLessThanOrEqual(103);
      // Claiming less than has passed counts the claim.
      await asRoot(tx, (q) =>
        q.query("update lms_public.lesson_progress set last_accessed_at = clock_timestamp() - interval '100 seconds' where id = $1", [progressId]),
      );
      const four = (await tx.query(beat, [lessons[0], 50, 30])).rows[0].time_spent_seconds;
      expect(four - three).toBe(30);
      expect((await expectInvariants(tx, e.id)).total_time_spent_seconds).toBe(four);
    }));
});

describe('record_lesson_progress under rapid heartbeats', () => {
  // Regression (fixed in migration 000008): the clamp is ceil(seconds since the last heartbeat), so every heartbeat is credited at
  // least 1 s however little time passed: 30 heartbeats in a fraction of a second earn ~30 s.
  it('rapid heartbeats are credited no more than the wall-clock time that passed', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      const e = await enrollAs(tx, await user(tx), c.id);
      await tx.query(start, [lessons[0]]);
      const began = (await tx.query<{ t: Date }>('select clock_timestamp() as t')).rows[0]!.t.getTime();
      let credited = 0;
      for (let i = 0; i < 30; i++) credited = (await tx.query(beat, [lessons[0], i, 3600])).rows[0].time_spent_seconds;
      const ended = (await tx.query<{ t: Date }>('select clock_timestamp() as t')).rows[0]!.t.getTime();
      await expectInvariants(tx, e.id);
      // The start was stamped at the transaction's start (now()), a little before `began`: allow 2 s.
      expect(credited).toBeLessThanOrEqual(Math.ceil((ended - began) / 1000) + 2);
    }));
});

describe('complete_lesson', () => {
  it('follows each completion: counts, percentage, then completed once, with completed_at kept', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 3);
      const e = await enrollAs(tx, await user(tx), c.id);
      await tx.query(complete, [lessons[0]]);
      expect((await expectInvariants(tx, e.id)).progress_percentage).toBe('33.33');
      await tx.query(complete, [lessons[1]]);
      expect((await expectInvariants(tx, e.id)).progress_percentage).toBe('66.67');
      await tx.query(complete, [lessons[2]]);
      const done = await expectInvariants(tx, e.id);
      expect(done).toMatchObject({ status: 'completed', progress_percentage: '100.00', completed_lessons_count: 3 });
      await asRoot(tx, (q) => q.query("update lms_public.enrollments set completed_at = completed_at - interval '1 day' where id = $1", [e.id]));
      const stamped = (await enrollmentRow(tx, e.id)).completed_at;
      // Completing a lesson again changes nothing that was earned.
      await tx.query(complete, [lessons[1]]);
      const again = await expectInvariants(tx, e.id);
      expect(again.completed_at).toEqual(stamped);
      expect(again.completed_lessons_count).toBe(3);
    }));

  it('refuses quiz lessons (INVAL) and students who are not enrolled (FRBDN)', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 1);
      const q = await lesson(tx, c.id, { lessonType: 'quiz' });
      await quiz(tx, q);
      const e = await enrollAs(tx, await user(tx), c.id);
      await expectCode(tx, complete, [q], 'INVAL');
      await expectInvariants(tx, e.id);
      await tx.becomeUser(await user(tx));
      await expectCode(tx, complete, [lessons[0]], 'FRBDN');
      await tx.becomeRoot();
      expect((await tx.query('select count(*)::int as n from lms_public.lesson_progress')).rows).toEqual([{ n: 0 }]);
    }));

  it('a student sees only their own progress rows', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 1);
      const a = await user(tx);
      const b = await user(tx);
      await enrollAs(tx, a, c.id);
      await tx.query(complete, [lessons[0]]);
      await enrollAs(tx, b, c.id);
      expect((await tx.query('select count(*)::int as n from lms_public.lesson_progress')).rows).toEqual([{ n: 0 }]);
      await tx.becomeUser(a);
      expect((await tx.query('select count(*)::int as n from lms_public.lesson_progress')).rows).toEqual([{ n: 1 }]);
      await tx.becomeUser(teacher);
      expect((await tx.query('select count(*)::int as n from lms_public.lesson_progress')).rows).toEqual([{ n: 1 }]);
      await tx.becomeAnonymous();
      await expectCode(tx, 'select count(*) from lms_public.lesson_progress', [], '42501');
    }));
});

describe('course changes recalculate every enrollment in the same transaction', () => {
  it('a new lesson after completion: still completed, completed_at unchanged, percentage below 100, has_new_content', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 2);
      const student = await user(tx);
      const e = await enrollAs(tx, student, c.id);
      for (const l of lessons) await tx.query(complete, [l]);
      const done = await expectInvariants(tx, e.id);
      expect(done.status).toBe('completed');
      await tx.becomeUser(teacher);
      const added = (await tx.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Bonus', 'text') returning id", [c.id])).rows[0]
        .id;
      const after = await expectInvariants(tx, e.id);
      expect(after).toMatchObject({ status: 'completed', progress_percentage: '66.67', total_lessons_count: 3 });
      expect(after.completed_at).toEqual(done.completed_at);
      const fresh = 'select lms_public.enrollments_has_new_content(e) as fresh from lms_public.enrollments e where id = $1';
      expect((await tx.query(fresh, [e.id])).rows).toEqual([{ fresh: true }]);
      await tx.becomeUser(student);
      await tx.query(complete, [added]);
      const caughtUp = await expectInvariants(tx, e.id);
      expect(caughtUp).toMatchObject({ status: 'completed', progress_percentage: '100.00' });
      expect(caughtUp.completed_at).toEqual(done.completed_at);
      expect((await tx.query(fresh, [e.id])).rows).toEqual([{ fresh: false }]);
    }));

  it('archiving the last missing lesson completes an active enrollment', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 2);
      const a = await user(tx);
      const e = await enrollAs(tx, a, c.id);
      await tx.query(complete, [lessons[0]]);
      await tx.query(start, [lessons[1]]);
      await tx.becomeUser(teacher);
      expect((await tx.query('select lms_public.remove_lesson($1) as o', [lessons[1]])).rows).toEqual([{ o: 'archived' }]);
      expect(await expectInvariants(tx, e.id)).toMatchObject({ status: 'completed', progress_percentage: '100.00', total_lessons_count: 1 });
    }));

  it('nesting lessons under a new section: the section stops counting, for every enrollment', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 2);
      const s1 = await user(tx);
      const s2 = await user(tx);
      const e1 = await enrollAs(tx, s1, c.id);
      const e2 = await enrollAs(tx, s2, c.id);
      await tx.becomeUser(teacher);
      const section = (await tx.query("insert into lms_public.lessons (course_id, title, lesson_type) values ($1, 'Part 1', 'text') returning id", [c.id]))
        .rows[0].id;
      // Still a leaf, so it counts, and s1 happens to complete it.
      expect((await expectInvariants(tx, e1.id)).total_lessons_count).toBe(3);
      await tx.becomeUser(s1);
      await tx.query(complete, [section]);
      await tx.query(complete, [lessons[0]]);
      expect((await expectInvariants(tx, e1.id)).completed_lessons_count).toBe(2);

      await tx.becomeUser(teacher);
      await tx.query('update lms_public.lessons set parent_lesson_id = $2 where id = any($1)', [lessons, section]);
      const after1 = await expectInvariants(tx, e1.id);
      const after2 = await expectInvariants(tx, e2.id);
      expect([after1.total_lessons_count, after1.completed_lessons_count, after1.progress_percentage]).toEqual([2, 1, '50.00']);
      expect([after2.total_lessons_count, after2.completed_lessons_count]).toEqual([2, 0]);

      // Taking the lessons back out makes the section count again.
      await tx.query('update lms_public.lessons set parent_lesson_id = null where id = any($1)', [lessons]);
      expect((await expectInvariants(tx, e1.id)).completed_lessons_count).toBe(2);
      expect((await expectInvariants(tx, e2.id)).total_lessons_count).toBe(3);
    }));

  it('a quiz switching to practice stops counting (completing what is left), and back to graded counts again', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 2);
      const q = await lesson(tx, c.id, { lessonType: 'quiz' });
      const quizId = await quiz(tx, q, { quizType: 'graded' });
      const s1 = await user(tx);
      const s2 = await user(tx);
      const e1 = await enrollAs(tx, s1, c.id);
      for (const l of lessons) await tx.query(complete, [l]);
      const e2 = await enrollAs(tx, s2, c.id);
      expect(await expectInvariants(tx, e1.id)).toMatchObject({ status: 'active', total_lessons_count: 3, completed_lessons_count: 2 });

      await tx.becomeRoot();
      await tx.query("update lms_public.quizzes set quiz_type = 'practice' where id = $1", [quizId]);
      const practice1 = await expectInvariants(tx, e1.id);
      expect(practice1).toMatchObject({ status: 'completed', total_lessons_count: 2, progress_percentage: '100.00' });
      expect((await expectInvariants(tx, e2.id)).total_lessons_count).toBe(2);

      await tx.query("update lms_public.quizzes set quiz_type = 'graded' where id = $1", [quizId]);
      const graded1 = await expectInvariants(tx, e1.id);
      expect(graded1).toMatchObject({ status: 'completed', total_lessons_count: 3, progress_percentage: '66.67' });
      expect(graded1.completed_at).toEqual(practice1.completed_at);

      // A practice quiz added to, then removed from, a lesson.
      await tx.query('delete from lms_public.quizzes where id = $1', [quizId]);
      await quiz(tx, q, { quizType: 'practice' });
      expect((await expectInvariants(tx, e2.id)).total_lessons_count).toBe(2);
      await tx.query('delete from lms_public.quizzes where lesson_id = $1', [q]);
      expect((await expectInvariants(tx, e2.id)).total_lessons_count).toBe(3);

      // A practice quiz moved to another quiz lesson: the old one counts again, the new one stops.
      const q2 = await lesson(tx, c.id, { lessonType: 'quiz' });
      const moving = await quiz(tx, q, { quizType: 'practice' });
      expect((await expectInvariants(tx, e2.id)).total_lessons_count).toBe(3);
      await tx.query('update lms_public.quizzes set lesson_id = $2 where id = $1', [moving, q2]);
      const counting = await tx.query(
        'select id from lms_public.lessons l where l.course_id = $1 and lms_public.lessons_counts_toward_completion(l) order by order_index',
        [c.id],
      );
      expect(counting.rows.map((r) => r.id)).toEqual([...lessons, q]);
      expect((await expectInvariants(tx, e2.id)).total_lessons_count).toBe(3);
      await expectInvariants(tx, e1.id);
    }));

  it('a lesson added under a completed lesson turns it into a section that no longer counts', () =>
    db.transaction(async (tx) => {
      const { teacher, course: c, lessons } = await publishedCourse(tx, 2);
      const e = await enrollAs(tx, await user(tx), c.id);
      for (const l of lessons) await tx.query(complete, [l]);
      expect((await expectInvariants(tx, e.id)).status).toBe('completed');
      await tx.becomeUser(teacher);
      await tx.query("insert into lms_public.lessons (course_id, title, lesson_type, parent_lesson_id) values ($1, 'Inside', 'text', $2)", [c.id, lessons[1]]);
      const after = await expectInvariants(tx, e.id);
      expect(after).toMatchObject({ status: 'completed', total_lessons_count: 2, completed_lessons_count: 1, progress_percentage: '50.00' });
    }));

  it('progress rows written or removed directly (as root) are followed too', () =>
    db.transaction(async (tx) => {
      const { course: c, lessons } = await publishedCourse(tx, 2);
      const e = await enrollAs(tx, await user(tx), c.id);
      await tx.becomeRoot();
      await tx.query(
        "insert into lms_public.lesson_progress (enrollment_id, lesson_id, status, started_at, completed_at, time_spent_seconds) values ($1, $2, 'completed', now() - interval '1 day', now(), 120), ($1, $3, 'in_progress', now() - interval '2 days', null, 30)",
        [e.id, lessons[0], lessons[1]],
      );
      expect(await expectInvariants(tx, e.id)).toMatchObject({ completed_lessons_count: 1, total_time_spent_seconds: 150 });
      await tx.query("update lms_public.lesson_progress set status = 'completed' where lesson_id = $1", [lessons[1]]);
      expect((await expectInvariants(tx, e.id)).status).toBe('completed');
      await tx.query('delete from lms_public.lesson_progress where lesson_id = $1', [lessons[0]]);
      // The completion stands; the numbers follow.
      expect(await expectInvariants(tx, e.id)).toMatchObject({ status: 'completed', completed_lessons_count: 1, total_time_spent_seconds: 30 });
    }));
});
