import type { TestApi } from '../../support/api.ts';
import { accessToken } from '../../support/api.ts';
import { type TestDatabase, type TestUser, committedAs } from '../../support/db.ts';
import { addQuestion, newUser, setupQuiz, type QuizSettings } from '../../support/quizzes.ts';

/** Runs an operation and expects HTTP 200 without errors. */
export async function ok(api: TestApi, query: string, variables: Record<string, unknown>, token: string): Promise<any> {
  const { status, body } = await api.graphql(query, { variables, token });
  expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
  return body.data;
}

export const SECRETS = {
  mcExplanation: 'EXPL-mc-4e1f',
  tfExplanation: 'EXPL-tf-93ab',
  shortExplanation: 'EXPL-short-77c2',
  accepted: 'zanzibar-5d0e',
};

/**
 * Anything that would give a key away: the key JSON, an explanation, an accepted answer, a
 * right/wrong flag. The student's own `answers` are theirs to see, so they are left out.
 */
export function expectNoSecrets(body: unknown): void {
  const text = JSON.stringify(body, (key, value) => (key === 'answers' ? undefined : value));
  expect(text).not.toMatch(/EXPL-|zanzibar|"correct"|"accepted"|"isCorrect":(true|false)|"answerKey":\{/);
}

export interface Scenario {
  teacher: TestUser;
  student: TestUser;
  quizId: string;
  courseId: string;
  lessonId: string;
  q: { mc: string; tf: string; short: string };
  t: string;
  s: string;
  /** The answers that get every question right, or all wrong. */
  right: Record<string, unknown>;
  wrong: Record<string, unknown>;
}

/** A published quiz of three automatically graded questions with explanations, and an enrolled student. */
export async function scenario(db: TestDatabase, api: TestApi, settings: QuizSettings = {}): Promise<Scenario> {
  const setup = await setupQuiz(db.root, { passingScore: 100, ...settings });
  const q = {
    mc: await addQuestion(db.root, setup.quizId, {
      type: 'multiple_choice',
      options: [
        { id: 'a', text: 'One' },
        { id: 'b', text: 'Two' },
        { id: 'c', text: 'Three' },
      ],
      key: { correct: ['c'] },
      explanation: SECRETS.mcExplanation,
    }),
    tf: await addQuestion(db.root, setup.quizId, { type: 'true_false', key: { correct: false }, explanation: SECRETS.tfExplanation }),
    short: await addQuestion(db.root, setup.quizId, { type: 'short_answer', key: { accepted: [SECRETS.accepted] }, explanation: SECRETS.shortExplanation }),
  };
  const student = await newUser(db.root);
  await committedAs(db.auth, student, (c) => c.query('select lms_public.enroll($1)', [setup.courseId]));
  return {
    ...setup,
    student,
    q,
    t: accessToken(api.config, setup.teacher),
    s: accessToken(api.config, student),
    right: { [q.mc]: ['c'], [q.tf]: false, [q.short]: SECRETS.accepted },
    wrong: { [q.mc]: ['a'], [q.tf]: true, [q.short]: 'no idea' },
  };
}

export const ATTEMPT_FIELDS = 'rowId status isPassed attemptNumber answers questions { questionId correctAnswer explanation pointsAwarded }';

export async function startAttempt(api: TestApi, sc: Scenario): Promise<any> {
  return (await ok(api, `mutation($q: UUID!) { startQuizAttempt(input: {quizId: $q}) { attempt { ${ATTEMPT_FIELDS} } } }`, { q: sc.quizId }, sc.s))
    .startQuizAttempt.attempt;
}

export async function saveAnswers(api: TestApi, sc: Scenario, attemptId: string, answers: Record<string, unknown>): Promise<any> {
  return (
    await ok(
      api,
      `mutation($a: UUID!, $ans: JSON!) { saveQuizAnswers(input: {attemptId: $a, answers: $ans}) { attempt { ${ATTEMPT_FIELDS} } } }`,
      { a: attemptId, ans: answers },
      sc.s,
    )
  ).saveQuizAnswers.attempt;
}

export async function submitAttempt(api: TestApi, sc: Scenario, attemptId: string, answers: Record<string, unknown>): Promise<any> {
  return (
    await ok(
      api,
      `mutation($a: UUID!, $ans: JSON) { submitQuizAttempt(input: {attemptId: $a, answers: $ans}) { attempt { ${ATTEMPT_FIELDS} } } }`,
      { a: attemptId, ans: answers },
      sc.s,
    )
  ).submitQuizAttempt.attempt;
}

/** QuizAttempt.questions of one attempt, read by the student. */
export async function questionsOf(
  api: TestApi,
  sc: Scenario,
  attemptId: string,
): Promise<Array<{ questionId: string; correctAnswer: unknown; explanation: string | null }>> {
  const data = await ok(api, 'query($a: UUID!) { quizAttempt(rowId: $a) { questions { questionId correctAnswer explanation } } }', { a: attemptId }, sc.s);
  return data.quizAttempt.questions;
}
