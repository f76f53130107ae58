import { createTestDatabase, type TestDatabase, type Transaction, asRoot, expectCode } from '../../support/db.ts';
import { abcd, addQuestion, enrollAs, lessonIn, newUser, setupQuiz } from '../../support/quizzes.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const insertQuiz = "insert into lms_public.quizzes (lesson_id, title) values ($1, 'Q') returning id";
const saveQuestion =
  'select * from lms_public.save_quiz_question(quiz_id => $1, question_text => $2, question_type => $3, answer_key => $4, points => $5, options => $6)';

function saveArgs(quizId: string, type: string, key: unknown, options: unknown = null, points: number = 1): unknown[] {
  return [quizId, 'A question', type, key === undefined ? null : JSON.stringify(key), points, options === null ? null : JSON.stringify(options)];
}

async function questionCount(tx: Transaction, quizId: string): Promise<number> {
  return asRoot(tx, async (q) => (await q.query('select count(*)::int as n from lms_public.quiz_questions where quiz_id = $1', [quizId])).rows[0].n);
}

describe('quizzes: who creates and updates them', () => {
  it('the course instructor and an admin create quizzes on quiz lessons; another instructor and students get 42501', () =>
    db.transaction(async (tx) => {
      const { teacher, courseId } = await setupQuiz(tx);
      const lessonA = await lessonIn(tx, courseId, 'quiz');
      const lessonB = await lessonIn(tx, courseId, 'quiz');
      const lessonC = await lessonIn(tx, courseId, 'quiz');
      const other = await newUser(tx, 'instructor');
      const admin = await newUser(tx, 'admin');
      const student = await newUser(tx);
      await enrollAs(tx, student, courseId);

      await tx.becomeUser(other);
      await expectCode(tx, insertQuiz, [lessonA], '42501');
      await tx.becomeUser(student);
      await expectCode(tx, insertQuiz, [lessonA], '42501');

      await tx.becomeUser(teacher);
      expect((await tx.query(insertQuiz, [lessonA])).rowCount).toBe(1);
      await tx.becomeUser(admin);
      expect((await tx.query(insertQuiz, [lessonB])).rowCount).toBe(1);
      await tx.becomeRoot();
      expect((await tx.query('select count(*)::int as n from lms_public.quizzes where lesson_id = $1', [lessonC])).rows[0].n).toBe(0);
    }));

  it('a quiz belongs to a quiz-type lesson, with sane settings (INVAL)', () =>
    db.transaction(async (tx) => {
      const { teacher, courseId } = await setupQuiz(tx);
      const text = await lessonIn(tx, courseId, 'text');
      const quizLesson = await lessonIn(tx, courseId, 'quiz');
      await tx.becomeUser(teacher);
      await expectCode(tx, insertQuiz, [text], 'INVAL');
      await expectCode(tx, "insert into lms_public.quizzes (lesson_id, title, passing_score) values ($1, 'Q', 101)", [quizLesson], 'INVAL');
      await expectCode(tx, "insert into lms_public.quizzes (lesson_id, title, max_attempts) values ($1, 'Q', 0)", [quizLesson], 'INVAL');
      await expectCode(tx, "insert into lms_public.quizzes (lesson_id, title, time_limit_minutes) values ($1, 'Q', 0)", [quizLesson], 'INVAL');
    }));

  it('updates: the instructor and an admin may; another instructor changes nothing; a student gets 42501', () =>
    db.transaction(async (tx) => {
      const { teacher, courseId, quizId } = await setupQuiz(tx);
      const other = await newUser(tx, 'instructor');
      const admin = await newUser(tx, 'admin');
      const student = await newUser(tx);
      await enrollAs(tx, student, courseId);
      const rename = 'update lms_public.quizzes set title = $2 where id = $1';

      await expectCode(tx, rename, [quizId, 'by student'], '42501');
      await tx.becomeUser(other);
      expect((await tx.query(rename, [quizId, 'by other'])).rowCount).toBe(0);
      await tx.becomeUser(teacher);
      expect((await tx.query(rename, [quizId, 'by teacher'])).rowCount).toBe(1);
      await expectCode(tx, 'update lms_public.quizzes set passing_score = 150 where id = $1', [quizId], 'INVAL');
      await tx.becomeUser(admin);
      expect((await tx.query(rename, [quizId, 'by admin'])).rowCount).toBe(1);
      await tx.becomeRoot();
      expect((await tx.query('select title from lms_public.quizzes where id = $1', [quizId])).rows).toEqual([{ title: 'by admin' }]);
    }));
});

describe('save_quiz_question: who', () => {
  it('the instructor and an admin save questions; another instructor FRBDN; a student 42501; no claim NOAUT; unknown quiz NTFND', () =>
    db.transaction(async (tx) => {
      const { teacher, courseId, quizId } = await setupQuiz(tx);
      const other = await newUser(tx, 'instructor');
      const admin = await newUser(tx, 'admin');
      const student = await newUser(tx);
      await enrollAs(tx, student, courseId);
      const args = saveArgs(quizId, 'true_false', { correct: true });

      await expectCode(tx, saveQuestion, args, '42501');
      await tx.becomeUser(other);
      await expectCode(tx, saveQuestion, args, 'FRBDN');
      await tx.query("select set_config('jwt.claims.user_id', '', true)");
      await expectCode(tx, saveQuestion, args, 'NOAUT');
      await tx.becomeUser(teacher);
      await expectCode(tx, saveQuestion, saveArgs('00000000-0000-0000-0000-000000000000', 'true_false', { correct: true }), 'NTFND');
      const first = (await tx.query(saveQuestion, args)).rows[0];
      expect(first).toMatchObject({ quiz_id: quizId, question_type: 'true_false', order_index: 0 });
      await tx.becomeUser(admin);
      const second = (await tx.query(saveQuestion, args)).rows[0];
      expect(second.order_index).toBe(1);
      expect(await questionCount(tx, quizId)).toBe(2);
    }));

  it('replaces a question and its key in place; a question of another quiz is NTFND', () =>
    db.transaction(async (tx) => {
      const { teacher, quizId } = await setupQuiz(tx);
      const { quizId: otherQuiz } = await setupQuiz(tx);
      const foreign = await addQuestion(tx, otherQuiz, { type: 'true_false', key: { correct: true } });
      await tx.becomeUser(teacher);
      const q = (await tx.query(saveQuestion, saveArgs(quizId, 'true_false', { correct: true }))).rows[0];
      const replace = `select * from lms_public.save_quiz_question(quiz_id => $1, question_text => 'Now short', question_type => 'short_answer',
                         answer_key => '{"accepted": ["yes"]}', question_id => $2)`;
      const replaced = (await tx.query(replace, [quizId, q.id])).rows[0];
      expect(replaced).toMatchObject({ id: q.id, question_text: 'Now short', question_type: 'short_answer', order_index: 0 });
      await expectCode(tx, replace, [quizId, foreign], 'NTFND');
      const key = await asRoot(tx, async (r) => (await r.query('select correct_answer from lms_private.quiz_answer_keys where question_id = $1', [q.id])).rows);
      expect(key.map((k) => JSON.parse(k.correct_answer))).toEqual([{ accepted: ['yes'] }]);
    }));
});

describe('save_quiz_question: only gradeable questions (INVAL)', () => {
  // Every row has all five values: jest would take a missing fifth for a done callback.
  const invalid: Array<[string, string, unknown, unknown, number]> = [
    ['multiple choice with no correct option', 'multiple_choice', { correct: [] }, abcd, 1],
    ['multiple choice without a key', 'multiple_choice', undefined, abcd, 1],
    ['a correct id not among the options', 'multiple_choice', { correct: ['a', 'z'] }, abcd, 1],
    [
      'a correct id that is not a string',
      'multiple_choice',
      { correct: [1] },
      [
        { id: '1', text: 'one' },
        { id: '2', text: 'two' },
      ],
      1,
    ],
    [
      'duplicate option ids',
      'multiple_choice',
      { correct: ['a'] },
      [
        { id: 'a', text: 'x' },
        { id: 'a', text: 'y' },
        { id: 'b', text: 'z' },
      ],
      1,
    ],
    ['fewer than two options', 'multiple_choice', { correct: ['a'] }, [{ id: 'a', text: 'x' }], 1],
    ['no options at all', 'multiple_choice', { correct: ['a'] }, null, 1],
    [
      'options carrying a correctness flag',
      'multiple_choice',
      { correct: ['a'] },
      [
        { id: 'a', text: 'x', isCorrect: true },
        { id: 'b', text: 'y' },
      ],
      1,
    ],
    [
      'an option without text',
      'multiple_choice',
      { correct: ['a'] },
      [
        { id: 'a', text: '' },
        { id: 'b', text: 'y' },
      ],
      1,
    ],
    ['points of zero', 'true_false', { correct: true }, null, 0],
    ['negative points', 'true_false', { correct: true }, null, -1],
    ['true_false without a boolean', 'true_false', { correct: 'true' }, null, 1],
    ['true_false without a key', 'true_false', undefined, null, 1],
    ['true_false with options', 'true_false', { correct: true }, abcd, 1],
    ['short answer without accepted answers', 'short_answer', { accepted: [] }, null, 1],
    ['short answer with a blank accepted answer', 'short_answer', { accepted: ['  '] }, null, 1],
    ['an unknown question type', 'matching', { correct: true }, null, 1],
  ];

  it.each(invalid)('refuses %s', (_name, type, key, options, points) =>
    db.transaction(async (tx) => {
      const { teacher, quizId } = await setupQuiz(tx);
      await tx.becomeUser(teacher);
      await expectCode(tx, saveQuestion, saveArgs(quizId, type, key, options, points), 'INVAL');
      expect(await questionCount(tx, quizId)).toBe(0);
    }),
  );

  // Before migration 000009, answer_key_is_valid / options_are_valid returned NULL for a missing
  // member, and save_quiz_question's `if not ...` let NULL through: keys nothing could match.
  const acceptedButUngradeable: Array<[string, string, unknown, unknown, number]> = [
    ['refuses a true_false key without a boolean ({})', 'true_false', {}, null, 1],
    ['refuses a short answer key without accepted answers ({"correct": ["x"]})', 'short_answer', { correct: ['x'] }, null, 1],
    ['refuses a multiple choice key without correct options ({})', 'multiple_choice', {}, abcd, 1],
    ['refuses a multiple choice question without options and with an empty key', 'multiple_choice', {}, null, 1],
  ];

  it.each(acceptedButUngradeable)('%s', (_name, type, key, options, points) =>
    db.transaction(async (tx) => {
      const { teacher, quizId } = await setupQuiz(tx);
      await tx.becomeUser(teacher);
      await expectCode(tx, saveQuestion, saveArgs(quizId, type, key, options, points), 'INVAL');
      expect(await questionCount(tx, quizId)).toBe(0);
    }),
  );

  it('accepts each valid shape, and an essay without a key (stored as {})', () =>
    db.transaction(async (tx) => {
      const { teacher, quizId } = await setupQuiz(tx);
      await tx.becomeUser(teacher);
      const saved: string[] = [];
      saved.push((await tx.query(saveQuestion, saveArgs(quizId, 'multiple_choice', { correct: ['a', 'c'] }, abcd))).rows[0].id);
      saved.push((await tx.query(saveQuestion, saveArgs(quizId, 'true_false', { correct: false }))).rows[0].id);
      saved.push((await tx.query(saveQuestion, saveArgs(quizId, 'short_answer', { accepted: ['Paris'] }))).rows[0].id);
      saved.push((await tx.query(saveQuestion, saveArgs(quizId, 'essay', undefined, null, 5))).rows[0].id);
      const keys = await asRoot(
        tx,
        async (q) => (await q.query('select question_id, correct_answer from lms_private.quiz_answer_keys where question_id = any($1)', [saved])).rows,
      );
      const byId = new Map(keys.map((k) => [k.question_id, JSON.parse(k.correct_answer)]));
      expect(saved.map((id) => byId.get(id))).toEqual([{ correct: ['a', 'c'] }, { correct: false }, { accepted: ['Paris'] }, {}]);
    }));
});

describe('what the tables themselves refuse', () => {
  it('quiz_answer_keys.correct_answer has a CHECK of the documented shapes (23514)', () =>
    db.transaction(async (tx) => {
      const { quizId } = await setupQuiz(tx);
      const q = await addQuestion(tx, quizId, { type: 'true_false', key: { correct: true } });
      const set = 'update lms_private.quiz_answer_keys set correct_answer = $2 where question_id = $1';
      for (const bad of ['not json', '[1, 2]', '{"correct": "a"}', '{"correct": [], "accepted": []}', '{"accepted": "x"}', '{"answer": true}']) {
        await expectCode(tx, set, [q, bad], '23514');
      }
      expect((await tx.query(set, [q, '{"correct": false}'])).rowCount).toBe(1);
    }));

  it('quiz_questions refuses options with correctness flags and points <= 0 (23514)', () =>
    db.transaction(async (tx) => {
      const { quizId } = await setupQuiz(tx);
      const insert = `insert into lms_public.quiz_questions (quiz_id, question_text, question_type, points, order_index, options)
                      values ($1, 'q', $2, $3, $4, $5)`;
      await expectCode(
        tx,
        insert,
        [
          quizId,
          'multiple_choice',
          1,
          0,
          JSON.stringify([
            { id: 'a', text: 'x', correct: true },
            { id: 'b', text: 'y' },
          ]),
        ],
        '23514',
      );
      await expectCode(tx, insert, [quizId, 'true_false', 0, 1, null], '23514');
      await expectCode(tx, insert, [quizId, 'true_false', 1, 2, JSON.stringify(abcd)], '23514');
      expect((await tx.query(insert, [quizId, 'multiple_choice', 1, 3, JSON.stringify(abcd)])).rowCount).toBe(1);
    }));

  it('the quiz_questions options CHECK refuses a multiple-choice question without options (a NULL result would pass a CHECK)', () =>
    db.transaction(async (tx) => {
      const { quizId } = await setupQuiz(tx);
      await expectCode(
        tx,
        "insert into lms_public.quiz_questions (quiz_id, question_text, question_type, order_index, options) values ($1, 'q', 'multiple_choice', 0, null)",
        [quizId],
        '23514',
      );
    }));
});

describe('who reads questions and keys', () => {
  it('students cannot read quiz_questions nor quiz_answer_keys (42501); instructors read only their own questions and no key table', () =>
    db.transaction(async (tx) => {
      const { teacher, courseId, quizId } = await setupQuiz(tx);
      await addQuestion(tx, quizId, { type: 'true_false', key: { correct: true } });
      const other = await newUser(tx, 'instructor');
      const student = await newUser(tx);
      await enrollAs(tx, student, courseId);

      await expectCode(tx, 'select * from lms_public.quiz_questions', [], '42501');
      await expectCode(tx, 'select * from lms_private.quiz_answer_keys', [], '42501');
      await expectCode(tx, 'select * from lms_public.quiz_answer_grades', [], '42501');
      await tx.becomeUser(other);
      expect((await tx.query('select id from lms_public.quiz_questions')).rows).toEqual([]);
      await expectCode(tx, 'select * from lms_private.quiz_answer_keys', [], '42501');
      await tx.becomeUser(teacher);
      expect((await tx.query('select id from lms_public.quiz_questions where quiz_id = $1', [quizId])).rowCount).toBe(1);
      await expectCode(tx, 'select * from lms_private.quiz_answer_keys', [], '42501');
    }));

  it('quiz_questions_answer_key(q) gives the key to the course instructor and admins only', () =>
    db.transaction(async (tx) => {
      const { teacher, courseId, quizId } = await setupQuiz(tx);
      const qid = await addQuestion(tx, quizId, { type: 'short_answer', key: { accepted: ['Paris'] } });
      const other = await newUser(tx, 'instructor');
      const admin = await newUser(tx, 'admin');
      const student = await newUser(tx);
      await enrollAs(tx, student, courseId);
      const viaTable = 'select lms_public.quiz_questions_answer_key(q) as key from lms_public.quiz_questions q where q.id = $1';
      // The real row, passed by value: what a caller without SELECT on the table could hand over.
      const row = await asRoot(tx, async (q) => (await q.query('select q::text as r from lms_public.quiz_questions q where id = $1', [qid])).rows[0].r);
      const viaValue = 'select lms_public.quiz_questions_answer_key($1::lms_public.quiz_questions) as key';

      expect((await tx.query(viaValue, [row])).rows).toEqual([{ key: null }]);
      await tx.becomeUser(other);
      expect((await tx.query(viaValue, [row])).rows).toEqual([{ key: null }]);
      await tx.becomeUser(teacher);
      expect((await tx.query(viaTable, [qid])).rows).toEqual([{ key: { accepted: ['Paris'] } }]);
      await tx.becomeUser(admin);
      expect((await tx.query(viaTable, [qid])).rows).toEqual([{ key: { accepted: ['Paris'] } }]);
    }));

  it("quiz_questions_answer_key checks the stored question's course, not the quiz_id of a hand-made row", () =>
    db.transaction(async (tx) => {
      const { quizId: victimQuiz } = await setupQuiz(tx);
      const secret = await addQuestion(tx, victimQuiz, { type: 'short_answer', key: { accepted: ['victim-secret'] } });
      const { teacher: attacker, quizId: ownQuiz } = await setupQuiz(tx);
      // The victim's question id with the attacker's own quiz id.
      const forged = await asRoot(
        tx,
        async (q) =>
          (
            await q.query(
              'select (row(q.id, $2::uuid, q.question_text, q.question_type, q.points, q.order_index, q.explanation, q.options, q.question_metadata)::lms_public.quiz_questions)::text as r from lms_public.quiz_questions q where q.id = $1',
              [secret, ownQuiz],
            )
          ).rows[0].r,
      );
      await tx.becomeUser(attacker);
      const { rows } = await tx.query('select lms_public.quiz_questions_answer_key($1::lms_public.quiz_questions) as key', [forged]);
      expect(rows).toEqual([{ key: null }]);
    }));
});
