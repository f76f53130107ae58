import { createTestDatabase, type TestDatabase, type Transaction, asRoot, expectCode } from '../../support/db.ts';
import { rewindLessonClock } from '../../support/fixtures.ts';
import { course, enrollAs, expectInvariants, lesson, user } from '../../support/courses.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const complete = 'select status from lms_public.complete_lesson($1)';
const beat = 'select * from lms_public.record_lesson_progress($1, $2, $3)';

/** A published course with one video lesson (and a text one, so completing the video does not end it), and a student enrolled. */
async function setUp(tx: Transaction, video: { durationMinutes?: number | null; percent?: number } = {}) {
  const teacher = await user(tx, 'instructor');
  const student = await user(tx);
  const c = await course(tx, teacher.id);
  if (video.percent !== undefined)
    await asRoot(tx, (q) => q.query('update lms_public.courses set min_video_watch_percent = $2 where id = $1', [c.id, video.percent]));
  const videoId = await lesson(tx, c.id, { lessonType: 'video', durationMinutes: video.durationMinutes === undefined ? 10 : video.durationMinutes });
  await lesson(tx, c.id);
  const enrollment = await enrollAs(tx, student, c.id);
  await tx.query('select lms_public.start_lesson($1)', [videoId]);
  /** Heartbeat after `seconds` of real watching: the clock moves back first, as if they had passed. */
  const watch = async (position: number, seconds: number) => {
    await asRoot(tx, (q) => rewindLessonClock(q, enrollment.id, videoId, seconds));
    await tx.query(beat, [videoId, position, seconds]);
  };
  return { teacher, student, course: c, videoId, enrollment, watch };
}

describe("completing a video lesson needs the course's share of it watched (default 80%)", () => {
  it('is refused with WATCH before anything is watched, saying what is missing', () =>
    db.transaction(async (tx) => {
      const { videoId } = await setUp(tx);
      await expectCode(tx, complete, [videoId], 'WATCH');
      await tx.query('savepoint s');
      await expect(tx.query(complete, [videoId])).rejects.toMatchObject({
        message: 'watch at least 80% of this video first: 0 of the 480 seconds needed watched, furthest position 0.00%',
      });
      await tx.query('rollback to savepoint s');
    }));

  it('a seek to the end is not watching: the position alone is refused', () =>
    db.transaction(async (tx) => {
      const { videoId, watch } = await setUp(tx);
      await watch(600, 60);
      await expectCode(tx, complete, [videoId], 'WATCH');
    }));

  it('time alone is not watching either: a paused video far from the end is refused', () =>
    db.transaction(async (tx) => {
      const { videoId, watch } = await setUp(tx);
      await watch(100, 600);
      await expectCode(tx, complete, [videoId], 'WATCH');
    }));

  it('claimed seconds beyond the time that passed do not count', () =>
    db.transaction(async (tx) => {
      const { videoId } = await setUp(tx);
      await tx.query(beat, [videoId, 600, 600]);
      await expectCode(tx, complete, [videoId], 'WATCH');
    }));

  it('completes once 80% of the duration was spent, across heartbeats, and the position reached 80%', () =>
    db.transaction(async (tx) => {
      const { videoId, enrollment, watch } = await setUp(tx);
      await watch(240, 240);
      await expectCode(tx, complete, [videoId], 'WATCH');
      await watch(480, 240);
      expect((await tx.query(complete, [videoId])).rows).toEqual([{ status: 'completed' }]);
      const after = await expectInvariants(tx, enrollment.id);
      expect(after.completed_lessons_count).toBe(1);
    }));

  it("follows the course's own percentage, and 0 needs no watching", () =>
    db.transaction(async (tx) => {
      const half = await setUp(tx, { percent: 50 });
      await half.watch(300, 300);
      expect((await tx.query(complete, [half.videoId])).rows).toEqual([{ status: 'completed' }]);
      const none = await setUp(tx, { percent: 0 });
      expect((await tx.query(complete, [none.videoId])).rows).toEqual([{ status: 'completed' }]);
    }));

  it('a video with no duration (null or 0) needs no watching', () =>
    db.transaction(async (tx) => {
      for (const durationMinutes of [null, 0]) {
        const { videoId } = await setUp(tx, { durationMinutes });
        expect((await tx.query(complete, [videoId])).rows).toEqual([{ status: 'completed' }]);
      }
    }));

  it('a completion already earned stays, even if the course then asks for more', () =>
    db.transaction(async (tx) => {
      const { videoId, course: c } = await setUp(tx, { percent: 0 });
      await tx.query(complete, [videoId]);
      await asRoot(tx, (q) => q.query('update lms_public.courses set min_video_watch_percent = 100 where id = $1', [c.id]));
      expect((await tx.query(complete, [videoId])).rows).toEqual([{ status: 'completed' }]);
    }));
});

describe('courses.min_video_watch_percent', () => {
  it("is set by the course's instructor, from 0 to 100, and not by a student", () =>
    db.transaction(async (tx) => {
      const { teacher, student, course: c } = await setUp(tx);
      await tx.becomeUser(teacher);
      const set = 'update lms_public.courses set min_video_watch_percent = $2 where id = $1 returning min_video_watch_percent';
      expect((await tx.query(set, [c.id, 95])).rows).toEqual([{ min_video_watch_percent: 95 }]);
      await expectCode(tx, set, [c.id, 101], '23514');
      await expectCode(tx, set, [c.id, -1], '23514');
      await tx.becomeUser(student);
      await expectCode(tx, set, [c.id, 0], '42501');
    }));

  it('defaults to 80', () =>
    db.transaction(async (tx) => {
      const teacher = await user(tx, 'instructor');
      await tx.becomeUser(teacher);
      const { rows } = await tx.query("insert into lms_public.courses (title) values ('Defaults') returning min_video_watch_percent");
      expect(rows).toEqual([{ min_video_watch_percent: 80 }]);
    }));
});
