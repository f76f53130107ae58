import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, type TestApi } from '../../support/api.ts';
import { lessonIn, newUser } from '../../support/quizzes.ts';
import { ok, scenario } from './helpers.ts';

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db, { env: { LMS_BCRYPT_COST: '4' } });
});
afterAll(async () => {
  await api.close();
  await db.close();
});

const createQuiz = 'mutation($l: UUID!) { createQuiz(input: {quiz: {lessonId: $l, title: "Q"}}) { quiz { rowId } } }';
const updateQuiz = 'mutation($q: UUID!, $t: String!) { updateQuiz(input: {rowId: $q, patch: {title: $t}}) { quiz { title } } }';
const saveQuestion = `mutation($q: UUID!, $type: String!, $key: JSON, $options: JSON, $points: BigFloat) {
  saveQuizQuestion(input: {quizId: $q, questionText: "Q?", questionType: $type, answerKey: $key, options: $options, points: $points}) { question { rowId answerKey } } }`;

function errorCode(body: any): string | undefined {
  return body.errors?.[0]?.extensions?.code;
}

it('createQuiz and updateQuiz: the instructor and admins; another instructor and students are refused', async () => {
  const sc = await scenario(db, api, {});
  const other = accessToken(api.config, await newUser(db.root, 'instructor'));
  const admin = accessToken(api.config, await newUser(db.root, 'admin'));
  const [l1, l2, text] = [
    await lessonIn(db.root, sc.courseId, 'quiz'),
    await lessonIn(db.root, sc.courseId, 'quiz'),
    await lessonIn(db.root, sc.courseId, 'text'),
  ];

  for (const token of [other, sc.s]) {
    const { body } = await api.graphql(createQuiz, { variables: { l: l1 }, token });
    expect(errorCode(body)).toBe('42501');
  }
  expect((await api.graphql(createQuiz, { variables: { l: text }, token: sc.t })).body.errors[0].extensions.code).toBe('INVAL');
  await ok(api, createQuiz, { l: l1 }, sc.t);
  await ok(api, createQuiz, { l: l2 }, admin);

  // RLS hides the row from another instructor's update (NTFND); a student lacks the grant (42501).
  for (const [token, code] of [
    [other, 'NTFND'],
    [sc.s, '42501'],
  ] as const) {
    const { body } = await api.graphql(updateQuiz, { variables: { q: sc.quizId, t: 'hijacked' }, token });
    expect(body.data?.updateQuiz?.quiz ?? null).toBeNull();
    expect(errorCode(body)).toBe(code);
  }
  expect((await db.root.query('select title from lms_public.quizzes where id = $1', [sc.quizId])).rows).toEqual([{ title: 'Quiz' }]);
  expect((await ok(api, updateQuiz, { q: sc.quizId, t: 'Renamed' }, sc.t)).updateQuiz.quiz).toEqual({ title: 'Renamed' });
  const { rows } = await db.root.query('select title from lms_public.quizzes where id = $1', [sc.quizId]);
  expect(rows).toEqual([{ title: 'Renamed' }]);
});

it('saveQuizQuestion: FRBDN for another instructor, refused for a student, INVAL for an ungradeable question; the key reads back for the instructor only', async () => {
  const sc = await scenario(db, api, {});
  const otherUser = await newUser(db.root, 'instructor');
  const other = accessToken(api.config, otherUser);
  const vars = { q: sc.quizId, type: 'true_false', key: { correct: true } };

  expect(errorCode((await api.graphql(saveQuestion, { variables: vars, token: other })).body)).toBe('FRBDN');
  expect((await api.graphql(saveQuestion, { variables: vars, token: sc.s })).body.errors).toBeDefined();
  const bad = await api.graphql(saveQuestion, { variables: { ...vars, points: '0' }, token: sc.t });
  expect(errorCode(bad.body)).toBe('INVAL');
  const badOptions = await api.graphql(saveQuestion, {
    variables: {
      q: sc.quizId,
      type: 'multiple_choice',
      key: { correct: ['a'] },
      options: [
        { id: 'a', text: 'x', correct: true },
        { id: 'b', text: 'y' },
      ],
    },
    token: sc.t,
  });
  expect(errorCode(badOptions.body)).toBe('INVAL');

  const saved = (await ok(api, saveQuestion, vars, sc.t)).saveQuizQuestion.question;
  expect(saved.answerKey).toEqual({ correct: true });
  // Another instructor cannot reach the question at all, by id or by node.
  const nodeId = (await ok(api, 'query($id: UUID!) { quizQuestion(rowId: $id) { id } }', { id: saved.rowId }, sc.t)).quizQuestion.id;
  const viaNode = await ok(api, 'query($id: ID!) { node(id: $id) { ... on QuizQuestion { answerKey } } }', { id: nodeId }, other);
  expect(viaNode).toEqual({ node: null });
  expect(await ok(api, 'query($id: UUID!) { quizQuestion(rowId: $id) { answerKey } }', { id: saved.rowId }, other)).toEqual({ quizQuestion: null });
});

it('gradingQueue, gradeEssay and regradeQuiz over HTTP', async () => {
  const sc = await scenario(db, api, { passingScore: 50 });
  const other = accessToken(api.config, await newUser(db.root, 'instructor'));
  const essay = (await ok(api, saveQuestion, { q: sc.quizId, type: 'essay', points: '2' }, sc.t)).saveQuizQuestion.question.rowId;
  const attempt = (await ok(api, 'mutation($q: UUID!) { startQuizAttempt(input: {quizId: $q}) { attempt { rowId } } }', { q: sc.quizId }, sc.s))
    .startQuizAttempt.attempt;
  const submitted = (
    await ok(
      api,
      'mutation($a: UUID!, $ans: JSON) { submitQuizAttempt(input: {attemptId: $a, answers: $ans}) { attempt { status score percentage isPassed } } }',
      { a: attempt.rowId, ans: { ...sc.right, [essay]: 'An essay' } },
      sc.s,
    )
  ).submitQuizAttempt.attempt;
  expect(submitted).toEqual({ status: 'submitted', score: null, percentage: null, isPassed: null });

  expect((await ok(api, '{ gradingQueue { nodes { rowId } } }', {}, sc.t)).gradingQueue.nodes).toEqual([{ rowId: attempt.rowId }]);
  expect((await ok(api, '{ gradingQueue { nodes { rowId } } }', {}, other)).gradingQueue.nodes).toEqual([]);
  const gradeEssay =
    'mutation($a: UUID!, $q: UUID!, $p: BigFloat!) { gradeEssay(input: {attemptId: $a, questionId: $q, points: $p, feedback: "ok"}) { attempt { status score maxScore percentage isPassed } } }';
  expect(errorCode((await api.graphql(gradeEssay, { variables: { a: attempt.rowId, q: essay, p: '3' }, token: sc.t })).body)).toBe('INVAL');
  expect(errorCode((await api.graphql(gradeEssay, { variables: { a: attempt.rowId, q: essay, p: '1' }, token: other })).body)).toBe('FRBDN');
  expect((await ok(api, gradeEssay, { a: attempt.rowId, q: essay, p: '1' }, sc.t)).gradeEssay.attempt).toEqual({
    status: 'graded',
    score: '4.00',
    maxScore: '5.00',
    percentage: '80.00',
    isPassed: true,
  });

  // The true/false key flips: the stored answer (false) is now wrong.
  await ok(
    api,
    'mutation($q: UUID!, $id: UUID!) { saveQuizQuestion(input: {quizId: $q, questionId: $id, questionText: "Flipped", questionType: "true_false", answerKey: {correct: true}}) { question { rowId } } }',
    { q: sc.quizId, id: sc.q.tf },
    sc.t,
  );
  expect(
    errorCode(
      (await api.graphql('mutation($q: UUID!) { regradeQuiz(input: {quizId: $q}) { regradedAttempts } }', { variables: { q: sc.quizId }, token: other })).body,
    ),
  ).toBe('FRBDN');
  expect((await ok(api, 'mutation($q: UUID!) { regradeQuiz(input: {quizId: $q}) { regradedAttempts } }', { q: sc.quizId }, sc.t)).regradeQuiz).toEqual({
    regradedAttempts: 1,
  });
  const after = (await ok(api, 'query($a: UUID!) { quizAttempt(rowId: $a) { score percentage isPassed } }', { a: attempt.rowId }, sc.s)).quizAttempt;
  expect(after).toEqual({ score: '3.00', percentage: '60.00', isPassed: true });
});
