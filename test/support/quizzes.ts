/*
 * Quizzes for the db, api and worker tests: a published course with a quiz, questions with their
 * keys (inserted as root), and the attempt calls as the student makes them.
 */
import type pg from 'pg';
import { type RoleClaim, type TestUser, type Transaction, type Db, asRoot } from './db.ts';
import { insertCourse, insertUser } from './fixtures.ts';

export function newUser(db: Db, role: RoleClaim = 'student'): Promise<TestUser & { email: string }> {
  return asRoot(db, (q) => insertUser(q, { role }));
}

export interface QuizSettings {
  quizType?: 'graded' | 'practice';
  passingScore?: number;
  timeLimitMinutes?: number | null;
  maxAttempts?: number | null;
  shuffleQuestions?: boolean;
  shuffleOptions?: boolean;
  showCorrectAnswers?: boolean;
  isPublished?: boolean;
}

export interface QuizSetup {
  teacher: TestUser;
  courseId: string;
  lessonId: string;
  quizId: string;
  /** Text lessons of the same course, created before the quiz lesson. */
  textLessons: string[];
}

let seq = 0;

export function lessonIn(db: Db, courseId: string, lessonType: 'text' | 'quiz' | 'video' = 'text'): Promise<string> {
  seq += 1;
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      'insert into lms_public.lessons (course_id, title, lesson_type, content) values ($1, $2, $3, $4) returning id',
      [courseId, `Lesson ${seq}`, lessonType, 'body'],
    );
    return rows[0]!.id;
  });
}

export function quizOn(db: Db, lessonId: string, s: QuizSettings = {}): Promise<string> {
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      `insert into lms_public.quizzes (lesson_id, title, quiz_type, passing_score, time_limit_minutes, max_attempts,
         shuffle_questions, shuffle_options, show_correct_answers, is_published)
       values ($1, 'Quiz', $2, $3, $4, $5, $6, $7, $8, $9) returning id`,
      [
        lessonId,
        s.quizType ?? 'graded',
        s.passingScore ?? 70,
        s.timeLimitMinutes ?? null,
        s.maxAttempts ?? null,
        s.shuffleQuestions ?? false,
        s.shuffleOptions ?? false,
        s.showCorrectAnswers ?? true,
        s.isPublished ?? true,
      ],
    );
    return rows[0]!.id;
  });
}

/** A published course of a fresh instructor with `textLessons` text lessons and one quiz lesson with its quiz. */
export async function setupQuiz(db: Db, settings: QuizSettings = {}, options: { textLessons?: number } = {}): Promise<QuizSetup> {
  const teacher = await newUser(db, 'instructor');
  const course = await asRoot(db, (q) => insertCourse(q, teacher.id, { isPublished: true }));
  const textLessons: string[] = [];
  for (let i = 0; i < (options.textLessons ?? 0); i++) textLessons.push(await lessonIn(db, course.id));
  const lessonId = await lessonIn(db, course.id, 'quiz');
  const quizId = await quizOn(db, lessonId, settings);
  return { teacher, courseId: course.id, lessonId, quizId, textLessons };
}

export interface QuestionFields {
  type: 'multiple_choice' | 'true_false' | 'short_answer' | 'essay';
  key?: unknown;
  options?: Array<{ id: string; text: string }> | null;
  points?: number;
  text?: string;
  orderIndex?: number;
  explanation?: string | null;
}

/** A question and its key, inserted as root (the table CHECKs still apply). */
export function addQuestion(db: Db, quizId: string, f: QuestionFields): Promise<string> {
  seq += 1;
  return asRoot(db, async (q) => {
    const { rows } = await q.query<{ id: string }>(
      `insert into lms_public.quiz_questions (quiz_id, question_text, question_type, points, order_index, explanation, options)
       values ($1, $2, $3, $4,
               coalesce($5, (select coalesce(max(x.order_index) + 1, 0) from lms_public.quiz_questions x where x.quiz_id = $1)),
               $6, $7) returning id`,
      [quizId, f.text ?? `Question ${seq}`, f.type, f.points ?? 1, f.orderIndex ?? null, f.explanation ?? null, f.options ? JSON.stringify(f.options) : null],
    );
    const id = rows[0]!.id;
    const key = f.type === 'essay' ? {} : f.key;
    await q.query('insert into lms_private.quiz_answer_keys (question_id, correct_answer) values ($1, $2)', [id, JSON.stringify(key)]);
    return id;
  });
}

export const abcd = [
  { id: 'a', text: 'Alpha' },
  { id: 'b', text: 'Bravo' },
  { id: 'c', text: 'Charlie' },
  { id: 'd', text: 'Delta' },
];

/** Switches the transaction to the student (it stays so) and enrolls them. */
export async function enrollAs(tx: Transaction, student: TestUser, courseId: string): Promise<string> {
  await tx.becomeUser(student);
  const { rows } = await tx.query<{ id: string }>('select id from lms_public.enroll($1)', [courseId]);
  return rows[0]!.id;
}

/** Sets the submission grace period for the rest of the transaction. */
export async function setGrace(tx: Transaction, seconds: number): Promise<void> {
  await tx.query("select set_config('lms.quiz_grace_seconds', $1, true)", [String(seconds)]);
}

export interface Attempt {
  id: string;
  enrollment_id: string;
  quiz_id: string;
  attempt_number: number;
  status: string;
  started_at: Date;
  submitted_at: Date | null;
  graded_at: Date | null;
  deadline_at: Date | null;
  score: string | null;
  max_score: string | null;
  percentage: string | null;
  is_passed: boolean | null;
  time_taken_seconds: number | null;
  answers: Record<string, unknown> | null;
  question_order: string[];
  option_orders: Record<string, string[]>;
}

export async function start(tx: Transaction, quizId: string): Promise<Attempt> {
  return (await tx.query<Attempt>('select * from lms_public.start_quiz_attempt($1)', [quizId])).rows[0]!;
}

export async function saveAnswers(tx: Transaction, attemptId: string, answers: Record<string, unknown>): Promise<Attempt> {
  return (await tx.query<Attempt>('select * from lms_public.save_quiz_answers($1, $2)', [attemptId, JSON.stringify(answers)])).rows[0]!;
}

export async function submit(tx: Transaction, attemptId: string, answers?: Record<string, unknown>): Promise<Attempt> {
  const params = [attemptId, answers === undefined ? null : JSON.stringify(answers)];
  return (await tx.query<Attempt>('select * from lms_public.submit_quiz_attempt($1, $2)', params)).rows[0]!;
}

export interface AttemptQuestion {
  question_id: string;
  position: number;
  question_type: string;
  points: string;
  options: Array<{ id: string; text: string }> | null;
  answer: unknown;
  points_awarded: string | null;
  feedback: string | null;
  correct_answer: unknown;
  explanation: string | null;
}

/** QuizAttempt.questions as the transaction's current user sees it. */
export async function attemptQuestions(tx: Transaction, attemptId: string): Promise<AttemptQuestion[]> {
  const { rows } = await tx.query<AttemptQuestion>(
    'select q.* from lms_public.quiz_attempts a cross join lateral lms_public.quiz_attempts_questions(a) q where a.id = $1 order by q.position',
    [attemptId],
  );
  return rows;
}

/** Grade rows of an attempt by question, read as root. */
export function gradesOf(
  db: Db,
  attemptId: string,
): Promise<Map<string, { points_awarded: string | null; is_correct: boolean | null; feedback: string | null }>> {
  return asRoot(db, async (q) => {
    const { rows } = await q.query('select question_id, points_awarded, is_correct, feedback from lms_public.quiz_answer_grades where attempt_id = $1', [
      attemptId,
    ]);
    return new Map(rows.map(({ question_id, ...grade }) => [question_id as string, grade]));
  });
}

export function attemptRow(db: Db, attemptId: string): Promise<Attempt> {
  return asRoot(db, async (q) => (await q.query<Attempt>('select * from lms_public.quiz_attempts where id = $1', [attemptId])).rows[0]!);
}

/** Moves an attempt's clock back by `seconds`, as if it had started that long ago. */
export function ageAttempt(db: Db, attemptId: string, seconds: number): Promise<void> {
  return asRoot(db, async (q) => {
    await q.query(
      `update lms_public.quiz_attempts set started_at = started_at - make_interval(secs => $2), deadline_at = deadline_at - make_interval(secs => $2)
       where id = $1`,
      [attemptId, seconds],
    );
  });
}

/** A quiz grace period, as a setting for committedAs. */
export function grace(seconds: number): Record<string, string> {
  return { 'lms.quiz_grace_seconds': String(seconds) };
}

/**
 * pg-pool's end() resolves before its sockets have closed; a database dropped WITH (FORCE) just
 * after reaches its idle clients with 57P01. TestDatabase's own pools already tolerate it.
 */
export function tolerateForcedDrop(pool: pg.Pool): void {
  pool.on('error', (error: Error & { code?: string }) => {
    if (error.code !== '57P01') throw error;
  });
}
