/**
 * The schema of /work/shared/seed/database-design.md (sections 3.1–3.14, 5 and 6), transcribed
 * as the document writes it, then turned into what the database must hold by applying the
 * deliberate deviations of DESIGN.md one by one in `applyDeviations`.
 */

// ---------------------------------------------------------------------------------------------
// The document, as written

/** A column as the document declares it; types and defaults keep the document's spelling. */
export interface DocColumn {
  type: string;
  nullable: boolean;
  /** SQL text of the DEFAULT clause; absent when the document gives none. */
  default?: string;
}

export interface DocForeignKey {
  columns: string[];
  references: { table: string; columns: string[] };
  /** Absent when the document gives no ON DELETE, which means NO ACTION. */
  onDelete?: 'CASCADE';
}

export interface DocIndex {
  name: string;
  /** Column names, with ' DESC' where the document orders a column descending. */
  columns: string[];
}

export type DocCheck =
  /** A closed value list (an Enum of the document, or the roles of users). */
  | { kind: 'values'; column: string; values: string[] }
  /** A numeric bound of section 6; `max` absent for a lower bound only. */
  | { kind: 'range'; column: string; min: number; max?: number };

export interface DocTable {
  section: string;
  table: string;
  columns: Record<string, DocColumn>;
  primaryKey: string[];
  uniques: string[][];
  foreignKeys: DocForeignKey[];
  indexes: DocIndex[];
  checks: DocCheck[];
}

// Every table's `id UUID PRIMARY KEY DEFAULT gen_random_uuid()`.
const ID: DocColumn = { type: 'UUID', nullable: false, default: 'gen_random_uuid()' };
const NOW: DocColumn = { type: 'TIMESTAMP', nullable: false, default: 'NOW()' };
const TIMESTAMP_NULL: DocColumn = { type: 'TIMESTAMP', nullable: true };

export const DOCUMENT_TABLES: readonly DocTable[] = [
  {
    section: '3.1',
    table: 'users',
    columns: {
      id: ID,
      email: { type: 'VARCHAR(255)', nullable: false },
      password_hash: { type: 'VARCHAR(255)', nullable: false },
      full_name: { type: 'VARCHAR(255)', nullable: false },
      role: { type: 'VARCHAR(50)', nullable: false, default: "'student'" },
      is_active: { type: 'BOOLEAN', nullable: false, default: 'TRUE' },
      mfa_enabled: { type: 'BOOLEAN', nullable: false, default: 'FALSE' },
      profile_metadata: { type: 'JSONB', nullable: true },
      created_at: NOW,
      updated_at: NOW,
      last_login_at: TIMESTAMP_NULL,
      email_verified_at: TIMESTAMP_NULL,
    },
    primaryKey: ['id'],
    uniques: [['email']],
    foreignKeys: [],
    indexes: [
      { name: 'ix_users_email', columns: ['email'] },
      { name: 'ix_users_role', columns: ['role'] },
      { name: 'ix_users_email_verified_at', columns: ['email_verified_at'] },
      { name: 'ix_users_is_active_created_at', columns: ['is_active', 'created_at'] },
    ],
    // The document names the three roles in the table's purpose, not in an Enum.
    checks: [{ kind: 'values', column: 'role', values: ['student', 'instructor', 'admin'] }],
  },
  {
    section: '3.2',
    table: 'refresh_tokens',
    columns: {
      id: ID,
      user_id: { type: 'UUID', nullable: false },
      token_jti: { type: 'VARCHAR(64)', nullable: false },
      expires_at: { type: 'TIMESTAMP', nullable: false },
      revoked_at: TIMESTAMP_NULL,
      created_at: NOW,
    },
    primaryKey: ['id'],
    uniques: [['token_jti']],
    foreignKeys: [{ columns: ['user_id'], references: { table: 'users', columns: ['id'] }, onDelete: 'CASCADE' }],
    indexes: [
      { name: 'ix_refresh_tokens_user_id', columns: ['user_id'] },
      { name: 'ix_refresh_tokens_token_jti', columns: ['token_jti'] },
      { name: 'ix_refresh_tokens_expires_at', columns: ['expires_at'] },
      { name: 'ix_refresh_tokens_revoked_at', columns: ['revoked_at'] },
    ],
    checks: [],
  },
  {
    section: '3.3',
    table: 'courses',
    columns: {
      id: ID,
      title: { type: 'VARCHAR(255)', nullable: false },
      slug: { type: 'VARCHAR(255)', nullable: false },
      description: { type: 'TEXT', nullable: true },
      instructor_id: { type: 'UUID', nullable: false },
      category: { type: 'VARCHAR(100)', nullable: true },
      difficulty_level: { type: 'VARCHAR(50)', nullable: true },
      is_published: { type: 'BOOLEAN', nullable: false, default: 'FALSE' },
      thumbnail_url: { type: 'VARCHAR(500)', nullable: true },
      estimated_duration_minutes: { type: 'INTEGER', nullable: true },
      course_metadata: { type: 'JSONB', nullable: true },
      created_at: NOW,
      updated_at: NOW,
    },
    primaryKey: ['id'],
    uniques: [['slug']],
    foreignKeys: [{ columns: ['instructor_id'], references: { table: 'users', columns: ['id'] } }],
    indexes: [
      { name: 'ix_courses_instructor_id', columns: ['instructor_id'] },
      { name: 'ix_courses_slug', columns: ['slug'] },
      { name: 'ix_courses_category', columns: ['category'] },
      { name: 'ix_courses_difficulty_level', columns: ['difficulty_level'] },
      { name: 'ix_courses_is_published_created_at', columns: ['is_published', 'created_at'] },
    ],
    checks: [],
  },
  {
    section: '3.4',
    table: 'lessons',
    columns: {
      id: ID,
      course_id: { type: 'UUID', nullable: false },
      title: { type: 'VARCHAR(255)', nullable: false },
      slug: { type: 'VARCHAR(255)', nullable: false },
      description: { type: 'TEXT', nullable: true },
      content: { type: 'TEXT', nullable: true },
      lesson_type: { type: 'VARCHAR(50)', nullable: false },
      order_index: { type: 'INTEGER', nullable: false },
      parent_lesson_id: { type: 'UUID', nullable: true },
      duration_minutes: { type: 'INTEGER', nullable: true },
      video_url: { type: 'VARCHAR(500)', nullable: true },
      is_preview: { type: 'BOOLEAN', nullable: false, default: 'FALSE' },
      lesson_metadata: { type: 'JSONB', nullable: true },
      created_at: NOW,
      updated_at: NOW,
    },
    primaryKey: ['id'],
    uniques: [['course_id', 'order_index']],
    foreignKeys: [
      { columns: ['course_id'], references: { table: 'courses', columns: ['id'] }, onDelete: 'CASCADE' },
      { columns: ['parent_lesson_id'], references: { table: 'lessons', columns: ['id'] } },
    ],
    indexes: [
      { name: 'ix_lessons_course_id', columns: ['course_id'] },
      { name: 'ix_lessons_parent_lesson_id', columns: ['parent_lesson_id'] },
    ],
    checks: [
      { kind: 'values', column: 'lesson_type', values: ['video', 'text', 'quiz', 'assignment'] },
      // Section 6.
      { kind: 'range', column: 'order_index', min: 0 },
    ],
  },
  {
    section: '3.5',
    table: 'enrollments',
    columns: {
      id: ID,
      student_id: { type: 'UUID', nullable: false },
      course_id: { type: 'UUID', nullable: false },
      enrolled_at: NOW,
      started_at: TIMESTAMP_NULL,
      completed_at: TIMESTAMP_NULL,
      status: { type: 'VARCHAR(50)', nullable: false, default: "'active'" },
      progress_percentage: { type: 'NUMERIC(5,2)', nullable: false, default: '0' },
      completed_lessons_count: { type: 'INTEGER', nullable: false, default: '0' },
      total_lessons_count: { type: 'INTEGER', nullable: false, default: '0' },
      total_time_spent_seconds: { type: 'INTEGER', nullable: false, default: '0' },
      last_accessed_at: TIMESTAMP_NULL,
      certificate_issued_at: TIMESTAMP_NULL,
      rating: { type: 'INTEGER', nullable: true },
      review: { type: 'TEXT', nullable: true },
    },
    primaryKey: ['id'],
    uniques: [['student_id', 'course_id']],
    foreignKeys: [
      { columns: ['student_id'], references: { table: 'users', columns: ['id'] } },
      { columns: ['course_id'], references: { table: 'courses', columns: ['id'] } },
    ],
    indexes: [
      { name: 'ix_enrollments_student_id', columns: ['student_id'] },
      { name: 'ix_enrollments_course_id', columns: ['course_id'] },
      { name: 'ix_enrollments_status', columns: ['status'] },
    ],
    checks: [{ kind: 'values', column: 'status', values: ['active', 'completed', 'dropped', 'expired'] }],
  },
  {
    section: '3.6',
    table: 'lesson_progress',
    columns: {
      id: ID,
      enrollment_id: { type: 'UUID', nullable: false },
      lesson_id: { type: 'UUID', nullable: false },
      status: { type: 'VARCHAR(50)', nullable: false, default: "'not_started'" },
      started_at: TIMESTAMP_NULL,
      completed_at: TIMESTAMP_NULL,
      time_spent_seconds: { type: 'INTEGER', nullable: false, default: '0' },
      last_position_seconds: { type: 'INTEGER', nullable: false, default: '0' },
      completion_percentage: { type: 'NUMERIC(5,2)', nullable: false, default: '0' },
      attempts_count: { type: 'INTEGER', nullable: false, default: '0' },
      progress_metadata: { type: 'JSONB', nullable: true },
    },
    primaryKey: ['id'],
    uniques: [['enrollment_id', 'lesson_id']],
    foreignKeys: [
      { columns: ['enrollment_id'], references: { table: 'enrollments', columns: ['id'] }, onDelete: 'CASCADE' },
      { columns: ['lesson_id'], references: { table: 'lessons', columns: ['id'] }, onDelete: 'CASCADE' },
    ],
    indexes: [
      { name: 'ix_lesson_progress_enrollment_id', columns: ['enrollment_id'] },
      { name: 'ix_lesson_progress_lesson_id', columns: ['lesson_id'] },
    ],
    checks: [],
  },
  {
    section: '3.7',
    table: 'quizzes',
    columns: {
      id: ID,
      lesson_id: { type: 'UUID', nullable: false },
      title: { type: 'VARCHAR(255)', nullable: false },
      description: { type: 'TEXT', nullable: true },
      quiz_type: { type: 'VARCHAR(50)', nullable: false, default: "'graded'" },
      passing_score: { type: 'NUMERIC(5,2)', nullable: false, default: '70.00' },
      time_limit_minutes: { type: 'INTEGER', nullable: true },
      max_attempts: { type: 'INTEGER', nullable: true },
      shuffle_questions: { type: 'BOOLEAN', nullable: false, default: 'TRUE' },
      shuffle_options: { type: 'BOOLEAN', nullable: false, default: 'TRUE' },
      show_correct_answers: { type: 'BOOLEAN', nullable: false, default: 'TRUE' },
      is_published: { type: 'BOOLEAN', nullable: false, default: 'FALSE' },
      created_at: NOW,
      updated_at: NOW,
    },
    primaryKey: ['id'],
    uniques: [['lesson_id']],
    foreignKeys: [{ columns: ['lesson_id'], references: { table: 'lessons', columns: ['id'] }, onDelete: 'CASCADE' }],
    indexes: [{ name: 'ix_quizzes_lesson_id', columns: ['lesson_id'] }],
    checks: [{ kind: 'values', column: 'quiz_type', values: ['practice', 'graded'] }],
  },
  {
    section: '3.8',
    table: 'quiz_questions',
    columns: {
      id: ID,
      quiz_id: { type: 'UUID', nullable: false },
      question_text: { type: 'TEXT', nullable: false },
      question_type: { type: 'VARCHAR(50)', nullable: false },
      points: { type: 'NUMERIC(5,2)', nullable: false, default: '1.00' },
      order_index: { type: 'INTEGER', nullable: false },
      explanation: { type: 'TEXT', nullable: true },
      options: { type: 'JSONB', nullable: true },
      correct_answer: { type: 'TEXT', nullable: true },
      question_metadata: { type: 'JSONB', nullable: true },
    },
    primaryKey: ['id'],
    uniques: [['quiz_id', 'order_index']],
    foreignKeys: [{ columns: ['quiz_id'], references: { table: 'quizzes', columns: ['id'] }, onDelete: 'CASCADE' }],
    indexes: [{ name: 'ix_quiz_questions_quiz_id', columns: ['quiz_id'] }],
    checks: [{ kind: 'values', column: 'question_type', values: ['multiple_choice', 'true_false', 'short_answer', 'essay'] }],
  },
  {
    section: '3.9',
    table: 'quiz_attempts',
    columns: {
      id: ID,
      enrollment_id: { type: 'UUID', nullable: false },
      quiz_id: { type: 'UUID', nullable: false },
      attempt_number: { type: 'INTEGER', nullable: false },
      status: { type: 'VARCHAR(50)', nullable: false, default: "'in_progress'" },
      started_at: NOW,
      submitted_at: TIMESTAMP_NULL,
      graded_at: TIMESTAMP_NULL,
      score: { type: 'NUMERIC(6,2)', nullable: true },
      max_score: { type: 'NUMERIC(6,2)', nullable: true },
      percentage: { type: 'NUMERIC(6,2)', nullable: true },
      is_passed: { type: 'BOOLEAN', nullable: true },
      time_taken_seconds: { type: 'INTEGER', nullable: true },
      answers: { type: 'JSONB', nullable: true },
    },
    primaryKey: ['id'],
    uniques: [['enrollment_id', 'quiz_id', 'attempt_number']],
    foreignKeys: [
      { columns: ['enrollment_id'], references: { table: 'enrollments', columns: ['id'] }, onDelete: 'CASCADE' },
      { columns: ['quiz_id'], references: { table: 'quizzes', columns: ['id'] }, onDelete: 'CASCADE' },
    ],
    indexes: [
      { name: 'ix_quiz_attempts_enrollment_id', columns: ['enrollment_id'] },
      { name: 'ix_quiz_attempts_quiz_id', columns: ['quiz_id'] },
      { name: 'ix_quiz_attempts_submitted_at', columns: ['submitted_at'] },
    ],
    checks: [
      { kind: 'values', column: 'status', values: ['in_progress', 'submitted', 'graded'] },
      // Section 6.
      { kind: 'range', column: 'percentage', min: 0, max: 100 },
    ],
  },
  {
    section: '3.10',
    table: 'certificates',
    columns: {
      id: ID,
      enrollment_id: { type: 'UUID', nullable: false },
      student_id: { type: 'UUID', nullable: false },
      course_id: { type: 'UUID', nullable: false },
      certificate_number: { type: 'VARCHAR(50)', nullable: false },
      pdf_path: { type: 'VARCHAR(1024)', nullable: false },
      completion_date: { type: 'TIMESTAMP', nullable: false },
      issued_at: NOW,
      is_revoked: { type: 'BOOLEAN', nullable: false, default: 'FALSE' },
      revoked_at: TIMESTAMP_NULL,
    },
    primaryKey: ['id'],
    uniques: [['enrollment_id'], ['certificate_number']],
    foreignKeys: [
      { columns: ['enrollment_id'], references: { table: 'enrollments', columns: ['id'] } },
      { columns: ['student_id'], references: { table: 'users', columns: ['id'] } },
      { columns: ['course_id'], references: { table: 'courses', columns: ['id'] } },
    ],
    indexes: [
      { name: 'ix_certificates_student_id', columns: ['student_id'] },
      { name: 'ix_certificates_course_id', columns: ['course_id'] },
      { name: 'ix_certificates_certificate_number', columns: ['certificate_number'] },
    ],
    checks: [],
  },
  {
    section: '3.11',
    table: 'uploaded_files',
    columns: {
      id: ID,
      uploader_id: { type: 'UUID', nullable: false },
      filename: { type: 'VARCHAR(255)', nullable: false },
      original_filename: { type: 'VARCHAR(255)', nullable: false },
      file_url: { type: 'VARCHAR(1024)', nullable: false },
      storage_path: { type: 'VARCHAR(1024)', nullable: false },
      file_type: { type: 'VARCHAR(50)', nullable: false, default: "'other'" },
      mime_type: { type: 'VARCHAR(100)', nullable: false },
      file_size: { type: 'BIGINT', nullable: false },
      folder: { type: 'VARCHAR(100)', nullable: false, default: "'uploads'" },
      storage_provider: { type: 'VARCHAR(50)', nullable: false, default: "'local'" },
      is_public: { type: 'BOOLEAN', nullable: false, default: 'FALSE' },
      created_at: NOW,
    },
    primaryKey: ['id'],
    uniques: [['filename']],
    foreignKeys: [{ columns: ['uploader_id'], references: { table: 'users', columns: ['id'] } }],
    indexes: [
      { name: 'ix_uploaded_files_uploader_id', columns: ['uploader_id'] },
      { name: 'ix_uploaded_files_file_type', columns: ['file_type'] },
    ],
    checks: [],
  },
  {
    section: '3.12',
    table: 'payments',
    columns: {
      id: ID,
      stripe_payment_intent_id: { type: 'VARCHAR(255)', nullable: true },
      stripe_subscription_id: { type: 'VARCHAR(255)', nullable: true },
      stripe_invoice_id: { type: 'VARCHAR(255)', nullable: true },
      stripe_customer_id: { type: 'VARCHAR(255)', nullable: true },
      user_id: { type: 'UUID', nullable: false },
      enrollment_id: { type: 'UUID', nullable: true },
      subscription_id: { type: 'UUID', nullable: true },
      payment_type: { type: 'VARCHAR(20)', nullable: false },
      amount: { type: 'NUMERIC(10,2)', nullable: false },
      currency: { type: 'VARCHAR(3)', nullable: false, default: "'EGP'" },
      status: { type: 'VARCHAR(20)', nullable: false, default: "'pending'" },
      plan_name: { type: 'VARCHAR(100)', nullable: true },
      plan_price_id: { type: 'VARCHAR(255)', nullable: true },
      tax_amount: { type: 'NUMERIC(10,2)', nullable: false, default: '0.00' },
      total_amount: { type: 'NUMERIC(10,2)', nullable: false },
      payment_metadata: { type: 'JSONB', nullable: true },
      created_at: NOW,
      updated_at: NOW,
      processed_at: TIMESTAMP_NULL,
    },
    primaryKey: ['id'],
    uniques: [['stripe_payment_intent_id'], ['stripe_invoice_id']],
    foreignKeys: [
      { columns: ['user_id'], references: { table: 'users', columns: ['id'] } },
      { columns: ['enrollment_id'], references: { table: 'enrollments', columns: ['id'] } },
      { columns: ['subscription_id'], references: { table: 'subscriptions', columns: ['id'] } },
    ],
    indexes: [
      { name: 'ix_payments_user_id', columns: ['user_id'] },
      { name: 'ix_payments_enrollment_id', columns: ['enrollment_id'] },
      { name: 'ix_payments_status', columns: ['status'] },
      { name: 'ix_payments_stripe_payment_intent_id', columns: ['stripe_payment_intent_id'] },
    ],
    checks: [{ kind: 'values', column: 'status', values: ['pending', 'succeeded', 'failed', 'refunded'] }],
  },
  {
    section: '3.13',
    table: 'subscriptions',
    columns: {
      id: ID,
      stripe_subscription_id: { type: 'VARCHAR(255)', nullable: false },
      stripe_customer_id: { type: 'VARCHAR(255)', nullable: true },
      user_id: { type: 'UUID', nullable: false },
      plan_name: { type: 'VARCHAR(100)', nullable: false },
      plan_price_id: { type: 'VARCHAR(255)', nullable: false },
      status: { type: 'VARCHAR(20)', nullable: false, default: "'incomplete'" },
      current_period_start: TIMESTAMP_NULL,
      current_period_end: TIMESTAMP_NULL,
      courses_accessed: { type: 'INTEGER', nullable: false, default: '0' },
      total_usage: { type: 'INTEGER', nullable: false, default: '0' },
      subscription_metadata: { type: 'JSONB', nullable: true },
      created_at: NOW,
      updated_at: NOW,
      canceled_at: TIMESTAMP_NULL,
    },
    primaryKey: ['id'],
    uniques: [['stripe_subscription_id']],
    foreignKeys: [{ columns: ['user_id'], references: { table: 'users', columns: ['id'] } }],
    indexes: [
      { name: 'ix_subscriptions_user_id', columns: ['user_id'] },
      { name: 'ix_subscriptions_status', columns: ['status'] },
      { name: 'ix_subscriptions_current_period_end', columns: ['current_period_end'] },
    ],
    checks: [{ kind: 'values', column: 'status', values: ['trial', 'active', 'past_due', 'canceled', 'incomplete'] }],
  },
  {
    section: '3.14',
    table: 'payment_webhook_events',
    columns: {
      id: ID,
      stripe_event_id: { type: 'VARCHAR(255)', nullable: false },
      event_type: { type: 'VARCHAR(100)', nullable: false },
      status: { type: 'VARCHAR(20)', nullable: false, default: "'processing'" },
      payload: { type: 'TEXT', nullable: false },
      error_message: { type: 'TEXT', nullable: true },
      created_at: NOW,
      processed_at: TIMESTAMP_NULL,
    },
    primaryKey: ['id'],
    uniques: [['stripe_event_id']],
    foreignKeys: [],
    indexes: [
      { name: 'ix_payment_webhook_events_event_type', columns: ['event_type'] },
      { name: 'ix_payment_webhook_events_status', columns: ['status'] },
    ],
    checks: [],
  },
];

/** Section 5, "Composite Indexes": one of them redefines an index of 3.3 (see deviation 3). */
export const SECTION_5_INDEXES: readonly (DocIndex & { table: string })[] = [
  { table: 'courses', name: 'ix_courses_is_published_created_at', columns: ['is_published', 'created_at DESC'] },
  { table: 'enrollments', name: 'ix_enrollments_status_enrolled_at', columns: ['status', 'enrolled_at DESC'] },
];

// ---------------------------------------------------------------------------------------------
// What the database must hold

/** A column in PostgreSQL's spelling: `type` as format_type() prints it. */
export interface ExpectedColumn {
  type: string;
  nullable: boolean;
  /** SQL text of the default, or null for none. */
  default: string | null;
}

export type Deferrable = 'not deferrable' | 'deferrable initially immediate' | 'deferrable initially deferred';
export type ReferentialAction = 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT';

export interface ExpectedUnique {
  columns: string[];
  deferrable: Deferrable;
  /** Checked only when a deviation names the constraint. */
  name?: string;
}

export interface ExpectedForeignKey {
  columns: string[];
  /** `schema.table(column, …)` */
  references: string;
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export interface ExpectedTable {
  schema: 'lms_public' | 'lms_private';
  table: string;
  /** Where the expectation comes from, for test names. */
  source: string;
  columns: Record<string, ExpectedColumn>;
  /** Columns of the document that a deviation moved elsewhere: they must not be here. */
  movedColumns: { column: string; to: string }[];
  primaryKey: string[];
  uniques: ExpectedUnique[];
  foreignKeys: ExpectedForeignKey[];
  indexes: DocIndex[];
  checks: DocCheck[];
}

const DOC_TYPES: Record<string, string> = {
  UUID: 'uuid',
  TEXT: 'text',
  BOOLEAN: 'boolean',
  INTEGER: 'integer',
  BIGINT: 'bigint',
  JSONB: 'jsonb',
  TIMESTAMP: 'timestamp without time zone',
};

/** The document's spelling of a type in format_type()'s spelling; TIMESTAMP stays as written. */
export function pgType(docType: string): string {
  const varchar = /^VARCHAR\((\d+)\)$/.exec(docType);
  if (varchar) return `character varying(${varchar[1]})`;
  const numeric = /^NUMERIC\((\d+),\s*(\d+)\)$/.exec(docType);
  if (numeric) return `numeric(${numeric[1]},${numeric[2]})`;
  const simple = DOC_TYPES[docType];
  if (simple === undefined) throw new Error(`no PostgreSQL spelling for the document's type ${docType}`);
  return simple;
}

function asWritten(doc: DocTable): ExpectedTable {
  const columns: Record<string, ExpectedColumn> = {};
  for (const [name, c] of Object.entries(doc.columns)) {
    columns[name] = { type: pgType(c.type), nullable: c.nullable, default: c.default ?? null };
  }
  return {
    schema: 'lms_public',
    table: doc.table,
    source: `design document ${doc.section}`,
    columns,
    movedColumns: [],
    primaryKey: doc.primaryKey,
    uniques: doc.uniques.map((columns) => ({ columns, deferrable: 'not deferrable' })),
    // Resolved to schema.table once deviation 5 has placed every table.
    foreignKeys: doc.foreignKeys.map((fk) => ({
      columns: fk.columns,
      references: `${fk.references.table}(${fk.references.columns.join(', ')})`,
      onDelete: fk.onDelete ?? 'NO ACTION',
      onUpdate: 'NO ACTION',
    })),
    indexes: doc.indexes,
    checks: doc.checks,
  };
}

function table(tables: ExpectedTable[], name: string): ExpectedTable {
  const found = tables.find((t) => t.table === name);
  if (!found) throw new Error(`the document has no table ${name}`);
  return found;
}

/** Moves one column of the document into a private 1:1 table keyed by the row's id. */
function splitIntoPrivateTable(tables: ExpectedTable[], from: string, column: string, into: string, keyColumn: string): ExpectedTable {
  const source = table(tables, from);
  const moved = source.columns[column];
  if (!moved) throw new Error(`the document has no column ${from}.${column}`);
  delete source.columns[column];
  source.movedColumns.push({ column, to: `lms_private.${into}` });
  return {
    schema: 'lms_private',
    table: into,
    source: `deviation 1: ${from}.${column}`,
    columns: { [keyColumn]: { type: 'uuid', nullable: false, default: null }, [column]: moved },
    movedColumns: [],
    primaryKey: [keyColumn],
    uniques: [],
    foreignKeys: [{ columns: [keyColumn], references: `${from}(id)`, onDelete: 'CASCADE', onUpdate: 'NO ACTION' }],
    indexes: [],
    checks: [],
  };
}

/** The deliberate deviations of DESIGN.md, applied to the document one by one. */
export function applyDeviations(doc: readonly DocTable[], section5: typeof SECTION_5_INDEXES): ExpectedTable[] {
  const tables = doc.map(asWritten);

  // Section 5's composite indexes are part of the document too.
  for (const index of section5) {
    const t = table(tables, index.table);
    const { table: _table, ...spec } = index;
    // Deviation 3: where section 5 redefines an index of section 3, section 5's definition wins.
    t.indexes = [...t.indexes.filter((i) => i.name !== spec.name), spec];
  }

  // Deviation 1: secrets live in private 1:1 tables, same column name, type and nullability.
  tables.push(
    splitIntoPrivateTable(tables, 'users', 'password_hash', 'user_passwords', 'user_id'),
    splitIntoPrivateTable(tables, 'quiz_questions', 'correct_answer', 'quiz_answer_keys', 'question_id'),
  );

  // Deviation 2: every TIMESTAMP is timestamptz.
  for (const t of tables) {
    for (const c of Object.values(t.columns)) {
      if (c.type === 'timestamp without time zone') c.type = 'timestamp with time zone';
    }
  }

  // Deviation 4: lessons can be reordered in one transaction.
  const lessonOrder = table(tables, 'lessons').uniques.find((u) => u.columns.join() === 'course_id,order_index');
  if (!lessonOrder) throw new Error('the document has no UNIQUE(course_id, order_index) on lessons');
  lessonOrder.deferrable = 'deferrable initially immediate';
  lessonOrder.name = 'lessons_course_id_order_index_key';

  // Deviation 5: two tables are never exposed; the rest are the API's.
  for (const name of ['refresh_tokens', 'payment_webhook_events']) table(tables, name).schema = 'lms_private';

  // Deviation 9: the payment and subscription state lists cover what Stripe reports, the
  // subscription row exists before Stripe's id, and webhook events start as received.
  table(tables, 'payments').checks = [{ kind: 'values', column: 'status', values: ['pending', 'succeeded', 'failed', 'partially_refunded', 'refunded'] }];
  const subscriptions = table(tables, 'subscriptions');
  subscriptions.checks = [
    { kind: 'values', column: 'status', values: ['trial', 'active', 'past_due', 'canceled', 'incomplete', 'incomplete_expired', 'unpaid', 'paused'] },
  ];
  subscriptions.columns.stripe_subscription_id!.nullable = true;
  table(tables, 'payment_webhook_events').columns.status!.default = "'received'";

  const schemaOf = new Map(tables.map((t) => [t.table, t.schema]));
  for (const t of tables) {
    for (const fk of t.foreignKeys) fk.references = `${schemaOf.get(fk.references.split('(')[0]!)}.${fk.references}`;
  }
  return tables;
}

export const EXPECTED_SCHEMA: readonly ExpectedTable[] = applyDeviations(DOCUMENT_TABLES, SECTION_5_INDEXES);
