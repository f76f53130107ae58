import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestApi, type TestApi } from '../../support/api.ts';
import { addQuestion } from '../../support/quizzes.ts';
import { expectNoSecrets, ok, questionsOf, saveAnswers, scenario, SECRETS, startAttempt, submitAttempt, type Scenario } from './helpers.ts';

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

const hidden = (sc: Scenario) => [sc.q.mc, sc.q.tf, sc.q.short].map((questionId) => ({ questionId, correctAnswer: null, explanation: null }));
const shown = (sc: Scenario) => [
  { questionId: sc.q.mc, correctAnswer: { correct: ['c'] }, explanation: SECRETS.mcExplanation },
  { questionId: sc.q.tf, correctAnswer: { correct: false }, explanation: SECRETS.tfExplanation },
  { questionId: sc.q.short, correctAnswer: { accepted: [SECRETS.accepted] }, explanation: SECRETS.shortExplanation },
];
const keyView = (attempt: any) => attempt.questions.map(({ questionId, correctAnswer, explanation }: any) => ({ questionId, correctAnswer, explanation }));

/**
 * Every other GraphQL path to questions, keys and per-answer grades, as the student: each must
 * answer with an error or nothing, never with data.
 */
async function probeEveryPath(sc: Scenario, attemptId: string): Promise<void> {
  const teacherView = await ok(
    api,
    'query($q: UUID!) { quiz(rowId: $q) { quizQuestions(orderBy: ORDER_INDEX_ASC) { nodes { id rowId answerKey } } } }',
    { q: sc.quizId },
    sc.t,
  );
  const nodes = teacherView.quiz.quizQuestions.nodes;
  // The instructor does see the keys: the probes below would catch them if they leaked.
  expect(nodes.map((n: any) => n.answerKey)).toEqual([{ correct: ['c'] }, { correct: false }, { accepted: [SECRETS.accepted] }]);

  const probes: Array<[string, string, Record<string, unknown>, (data: any) => unknown]> = [
    ['quizQuestions', '{ quizQuestions { nodes { rowId answerKey explanation } } }', {}, (d) => d?.quizQuestions?.nodes ?? []],
    [
      'quizQuestion(rowId)',
      'query($id: UUID!) { quizQuestion(rowId: $id) { rowId answerKey explanation } }',
      { id: sc.q.short },
      (d) => d?.quizQuestion ?? null,
    ],
    [
      'quizQuestionByQuizIdAndOrderIndex',
      'query($q: UUID!) { quizQuestionByQuizIdAndOrderIndex(quizId: $q, orderIndex: 2) { answerKey } }',
      { q: sc.quizId },
      (d) => d?.quizQuestionByQuizIdAndOrderIndex ?? null,
    ],
    ...nodes.map((n: any): [string, string, Record<string, unknown>, (data: any) => unknown] => [
      `node(id) of ${n.rowId}`,
      'query($id: ID!) { node(id: $id) { id ... on QuizQuestion { rowId answerKey explanation questionText } } }',
      { id: n.id },
      (d) => d?.node ?? null,
    ]),
    ['quizQuestionById', 'query($id: ID!) { quizQuestionById(id: $id) { answerKey explanation } }', { id: nodes[2].id }, (d) => d?.quizQuestionById ?? null],
    [
      'Quiz.quizQuestions',
      'query($q: UUID!) { quiz(rowId: $q) { quizQuestions { totalCount nodes { answerKey explanation } } } }',
      { q: sc.quizId },
      (d) => d?.quiz?.quizQuestions ?? null,
    ],
    [
      'quizQuestions(filter: answerKey)',
      `{ quizQuestions(filter: {answerKey: {contains: {accepted: ["${SECRETS.accepted}"]}}}) { totalCount nodes { rowId } } }`,
      {},
      (d) => d?.quizQuestions?.nodes ?? [],
    ],
    [
      'quizzes(filter: questions with the key)',
      `query($q: UUID!) { quizzes(filter: {rowId: {equalTo: $q}, quizQuestions: {some: {answerKey: {contains: {correct: ["c"]}}}}}) { nodes { rowId } } }`,
      { q: sc.quizId },
      (d) => d?.quizzes?.nodes ?? [],
    ],
    [
      'quizQuestions aggregates',
      '{ quizQuestions { aggregates { distinctCount { answerKey explanation } } } }',
      {},
      (d) => d?.quizQuestions?.aggregates ?? null,
    ],
    ['quizAnswerGrades', '{ quizAnswerGrades { nodes { isCorrect pointsAwarded questionId } } }', {}, (d) => d?.quizAnswerGrades?.nodes ?? []],
    [
      'quizAnswerGrades aggregates',
      '{ quizAnswerGrades { totalCount aggregates { sum { pointsAwarded } distinctCount { isCorrect } } } }',
      {},
      (d) => d?.quizAnswerGrades ?? null,
    ],
    [
      'QuizAttempt.quizAnswerGradesByAttemptId',
      'query($a: UUID!) { quizAttempt(rowId: $a) { quizAnswerGradesByAttemptId { nodes { isCorrect } } } }',
      { a: attemptId },
      (d) => d?.quizAttempt?.quizAnswerGradesByAttemptId ?? null,
    ],
    [
      'quizAttempts(filter: grades)',
      'query($a: UUID!) { quizAttempts(filter: {rowId: {equalTo: $a}, quizAnswerGradesByAttemptId: {some: {question: {answerKey: {contains: {correct: ["c"]}}}}}}) { nodes { rowId } } }',
      { a: attemptId },
      (d) => d?.quizAttempts?.nodes ?? [],
    ],
    [
      'quizAttempts(filter: grades exist)',
      'query($a: UUID!) { quizAttempts(filter: {rowId: {equalTo: $a}, quizAnswerGradesByAttemptIdExist: true}) { nodes { rowId } } }',
      { a: attemptId },
      (d) => d?.quizAttempts?.nodes ?? [],
    ],
    [
      'QuizAttempt.quiz.quizQuestions',
      'query($a: UUID!) { quizAttempt(rowId: $a) { quiz { quizQuestions { nodes { answerKey } } } } }',
      { a: attemptId },
      (d) => d?.quizAttempt?.quiz?.quizQuestions ?? null,
    ],
  ];

  for (const [name, query, variables, pick] of probes) {
    const { status, body } = await api.graphql(query, { variables, token: sc.s });
    const data = pick(body.data);
    // Either an error, or nothing at all: null, or an empty list.
    const empty = data === null || (Array.isArray(data) && data.length === 0);
    expect({ name, status, answered: body.errors !== undefined || empty }).toEqual({ name, status: 200, answered: true });
    expect({ name, data: empty ? null : data }).toEqual({ name, data: null });
    // A refusal, not a malformed probe: every error is a permission error.
    const codes = (body.errors ?? []).map((e: any) => e.extensions?.code);
    expect({ name, codes }).toEqual({ name, codes: codes.map(() => '42501') });
    expectNoSecrets(body);
  }
}

describe('the answer key, for a student over HTTP', () => {
  it('no mutation payload carries a key, and no other path gives one away, during an attempt and after a failed one', async () => {
    const sc = await scenario(db, api, { showCorrectAnswers: true, maxAttempts: 3 });
    const started = await startAttempt(api, sc);
    expect(keyView(started)).toEqual(hidden(sc));
    const saved = await saveAnswers(api, sc, started.rowId, { [sc.q.mc]: ['a'] });
    expect(keyView(saved)).toEqual(hidden(sc));
    await probeEveryPath(sc, started.rowId);

    const submitted = await submitAttempt(api, sc, started.rowId, sc.wrong);
    expect(submitted).toMatchObject({ status: 'graded', isPassed: false });
    expect(keyView(submitted)).toEqual(hidden(sc));
    expectNoSecrets(submitted);
    // The student's own answers come back as written.
    expect(submitted.answers).toEqual(sc.wrong);
    expect(await questionsOf(api, sc, started.rowId)).toEqual(hidden(sc));
    await probeEveryPath(sc, started.rowId);
  });

  it('shown after a pass when showCorrectAnswers is on, and only through QuizAttempt.questions', async () => {
    const sc = await scenario(db, api, { showCorrectAnswers: true, maxAttempts: 3 });
    const first = await startAttempt(api, sc);
    await submitAttempt(api, sc, first.rowId, sc.wrong);
    const second = await startAttempt(api, sc);
    expect(keyView(second)).toEqual(hidden(sc));
    const passed = await submitAttempt(api, sc, second.rowId, sc.right);
    expect(passed).toMatchObject({ status: 'graded', isPassed: true, attemptNumber: 2 });
    expect(keyView(passed)).toEqual(shown(sc));
    expect(await questionsOf(api, sc, second.rowId)).toEqual(shown(sc));
    await probeEveryPath(sc, second.rowId);
  });

  it('shown when no attempts are left, even without a pass', async () => {
    const sc = await scenario(db, api, { showCorrectAnswers: true, maxAttempts: 1 });
    const only = await startAttempt(api, sc);
    const failed = await submitAttempt(api, sc, only.rowId, sc.wrong);
    expect(failed).toMatchObject({ status: 'graded', isPassed: false });
    expect(keyView(failed)).toEqual(shown(sc));
    expect(await questionsOf(api, sc, only.rowId)).toEqual(shown(sc));
  });

  it('never shown when showCorrectAnswers is off: not after a pass, not with no attempts left', async () => {
    const sc = await scenario(db, api, { showCorrectAnswers: false, maxAttempts: 2 });
    const first = await startAttempt(api, sc);
    const failed = await submitAttempt(api, sc, first.rowId, sc.wrong);
    expect(keyView(failed)).toEqual(hidden(sc));
    const second = await startAttempt(api, sc);
    const passed = await submitAttempt(api, sc, second.rowId, sc.right);
    expect(passed).toMatchObject({ isPassed: true });
    expect(keyView(passed)).toEqual(hidden(sc));
    expectNoSecrets(passed);
    for (const a of [first, second]) expect(await questionsOf(api, sc, a.rowId)).toEqual(hidden(sc));
    const filtered = await ok(
      api,
      'query($a: UUID!) { quizAttempt(rowId: $a) { questions(filter: {explanation: {isNull: false}}) { questionId } } }',
      { a: second.rowId },
      sc.s,
    );
    expect(filtered.quizAttempt.questions).toEqual([]);
    await probeEveryPath(sc, second.rowId);
  });

  it('not shown while an essay awaits its grade, even when everything else is right', async () => {
    const sc = await scenario(db, api, { showCorrectAnswers: true, maxAttempts: 1, passingScore: 50 });
    const essay = await addQuestion(db.root, sc.quizId, { type: 'essay', points: 1 });
    const attempt = await startAttempt(api, sc);
    const submitted = await submitAttempt(api, sc, attempt.rowId, { ...sc.right, [essay]: 'words' });
    expect(submitted).toMatchObject({ status: 'submitted', isPassed: null });
    expectNoSecrets(submitted);
    expect((await questionsOf(api, sc, attempt.rowId)).every((q) => q.correctAnswer === null && q.explanation === null)).toBe(true);
  });

  it("another student never sees someone else's attempt or its questions", async () => {
    const sc = await scenario(db, api, { showCorrectAnswers: true, maxAttempts: 1 });
    const attempt = await startAttempt(api, sc);
    await submitAttempt(api, sc, attempt.rowId, sc.wrong);
    const other = await scenario(db, api, {});
    const { body } = await api.graphql('query($a: UUID!) { quizAttempt(rowId: $a) { rowId questions { correctAnswer } } }', {
      variables: { a: attempt.rowId },
      token: other.s,
    });
    expect(body.data).toEqual({ quizAttempt: null });
  });

  it('a failed attempt keeps its key hidden while the last attempt is still in progress', async () => {
    const sc = await scenario(db, api, { showCorrectAnswers: true, maxAttempts: 2 });
    const first = await startAttempt(api, sc);
    await submitAttempt(api, sc, first.rowId, sc.wrong);
    expect(await questionsOf(api, sc, first.rowId)).toEqual(hidden(sc));
    // Starting the last attempt leaves "no attempts left"; attempt 1 must still hide its key,
    // or the student could copy it into the attempt still running (so it did before 000009).
    const last = await startAttempt(api, sc);
    expect(last.status).toBe('in_progress');
    expect(await questionsOf(api, sc, first.rowId)).toEqual(hidden(sc));
  });
});
