import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { accessToken, startTestApi, type TestApi } from '../../support/api.ts';
import { insertUser } from '../../support/fixtures.ts';

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

async function ok(query: string, variables: Record<string, unknown>, token: string) {
  const { status, body } = await api.graphql(query, { variables, token });
  expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
  return body.data;
}

it('author, take, autosave, submit, grade an essay, complete the lesson: over HTTP', async () => {
  const teacher = await insertUser(db.root, { role: 'instructor' });
  const student = await insertUser(db.root);
  const t = accessToken(api.config, teacher);
  const s = accessToken(api.config, student);

  const course = (await ok('mutation { createCourse(input: {course: {title: "Quizzed"}}) { course { rowId } } }', {}, t)).createCourse.course.rowId;
  const lessonId = (
    await ok('mutation($c: UUID!) { createLesson(input: {lesson: {courseId: $c, title: "Final", lessonType: "quiz"}}) { lesson { rowId } } }', { c: course }, t)
  ).createLesson.lesson.rowId;
  const quizId = (
    await ok(
      'mutation($l: UUID!) { createQuiz(input: {quiz: {lessonId: $l, title: "Final quiz", passingScore: "50", shuffleQuestions: false, shuffleOptions: false, maxAttempts: 2}}) { quiz { rowId } } }',
      { l: lessonId },
      t,
    )
  ).createQuiz.quiz.rowId;
  const save = (vars: Record<string, unknown>) =>
    ok(
      `mutation($q: UUID!, $text: String!, $type: String!, $key: JSON, $options: JSON, $points: BigFloat) {
         saveQuizQuestion(input: {quizId: $q, questionText: $text, questionType: $type, answerKey: $key, options: $options, points: $points}) { question { rowId } } }`,
      { q: quizId, ...vars },
      t,
    ).then((d) => d.saveQuizQuestion.question.rowId);
  const mc = await save({
    text: 'Pick the primes',
    type: 'multiple_choice',
    options: [
      { id: 'a', text: '2' },
      { id: 'b', text: '4' },
      { id: 'c', text: '5' },
    ],
    key: { correct: ['a', 'c'] },
  });
  const tf = await save({ text: 'SQL is declarative', type: 'true_false', key: { correct: true } });
  const essay = await save({ text: 'Explain joins', type: 'essay', points: '2' });

  const bad = await api.graphql(
    'mutation($q: UUID!) { saveQuizQuestion(input: {quizId: $q, questionText: "x", questionType: "multiple_choice", options: [{id: "a", text: "1"}, {id: "b", text: "2"}], answerKey: {correct: []}}) { question { rowId } } }',
    { variables: { q: quizId }, token: t },
  );
  expect(bad.body.errors[0].extensions.code).toBe('INVAL');

  await ok('mutation($q: UUID!) { updateQuiz(input: {rowId: $q, patch: {isPublished: true}}) { quiz { isPublished } } }', { q: quizId }, t);
  await ok('mutation($c: UUID!) { publishCourse(input: {courseId: $c}) { course { isPublished } } }', { c: course }, t);
  await ok('mutation($c: UUID!) { enroll(input: {courseId: $c}) { enrollment { rowId } } }', { c: course }, s);

  const attempt = (
    await ok(
      'mutation($q: UUID!) { startQuizAttempt(input: {quizId: $q}) { attempt { rowId attemptNumber status questions { questionId questionText options correctAnswer explanation } } } }',
      { q: quizId },
      s,
    )
  ).startQuizAttempt.attempt;
  expect(attempt).toMatchObject({ attemptNumber: 1, status: 'in_progress' });
  expect(attempt.questions.map((q: any) => q.questionText)).toEqual(['Pick the primes', 'SQL is declarative', 'Explain joins']);
  expect(attempt.questions.every((q: any) => q.correctAnswer === null && q.explanation === null)).toBe(true);
  expect(JSON.stringify(attempt)).not.toMatch(/"(correct|accepted)":\s*[[tf]/);

  await ok(
    'mutation($a: UUID!, $ans: JSON!) { saveQuizAnswers(input: {attemptId: $a, answers: $ans}) { attempt { rowId } } }',
    { a: attempt.rowId, ans: { [mc]: ['c', 'a'] } },
    s,
  );
  const submitted = (
    await ok(
      'mutation($a: UUID!, $ans: JSON!) { submitQuizAttempt(input: {attemptId: $a, answers: $ans}) { attempt { status score isPassed percentage } } }',
      { a: attempt.rowId, ans: { [tf]: true, [essay]: 'A join combines rows.' } },
      s,
    )
  ).submitQuizAttempt.attempt;
  expect(submitted).toEqual({ status: 'submitted', score: null, isPassed: null, percentage: null });

  const queue = (await ok('{ gradingQueue { nodes { rowId } } }', {}, t)).gradingQueue.nodes;
  expect(queue).toEqual([{ rowId: attempt.rowId }]);
  const graded = (
    await ok(
      'mutation($a: UUID!, $q: UUID!) { gradeEssay(input: {attemptId: $a, questionId: $q, points: "1", feedback: "Good start"}) { attempt { status score maxScore percentage isPassed } } }',
      { a: attempt.rowId, q: essay },
      t,
    )
  ).gradeEssay.attempt;
  expect(graded).toEqual({ status: 'graded', score: '3.00', maxScore: '4.00', percentage: '75.00', isPassed: true });

  const after = await ok(
    '{ quizAttempts { nodes { questions { questionId answer pointsAwarded feedback correctAnswer } } } enrollments { nodes { status progressPercentage } } }',
    {},
    s,
  );
  expect(after.quizAttempts.nodes[0].questions).toEqual([
    { questionId: mc, answer: ['c', 'a'], pointsAwarded: '1.00', feedback: null, correctAnswer: { correct: ['a', 'c'] } },
    { questionId: tf, answer: true, pointsAwarded: '1.00', feedback: null, correctAnswer: { correct: true } },
    { questionId: essay, answer: 'A join combines rows.', pointsAwarded: '1.00', feedback: 'Good start', correctAnswer: {} },
  ]);
  expect(after.enrollments.nodes).toEqual([{ status: 'completed', progressPercentage: '100.00' }]);
});
