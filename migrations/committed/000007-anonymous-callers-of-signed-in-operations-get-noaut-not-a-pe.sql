--! Previous: sha1:6f6aea62e4ec11dd5e3929911b984ed7971dcf49
--! Hash: sha1:349791ff15938c0043f257a3030b27711da368b8
--! Message: anonymous callers of signed-in operations get NOAUT, not a permission error

-- These functions start with lms_private.require_user(), which answers NOAUT to a visitor
-- without a session. Anonymous callers used to stop earlier, at the missing EXECUTE grant,
-- with 42501, which the API documents as something else.
grant execute on function
  lms_public.logout_everywhere(), lms_public.resend_verification_email(), lms_private.change_password(text, text),
  lms_public.update_profile(text, jsonb), lms_private.begin_mfa_enrollment(text), lms_private.confirm_mfa(text),
  lms_private.disable_mfa(text),
  lms_public.enroll(uuid), lms_public.drop_course(uuid), lms_public.start_lesson(uuid),
  lms_public.record_lesson_progress(uuid, integer, integer), lms_public.complete_lesson(uuid),
  lms_public.start_quiz_attempt(uuid), lms_public.save_quiz_answers(uuid, jsonb), lms_public.submit_quiz_attempt(uuid, jsonb)
  to lms_anonymous;
