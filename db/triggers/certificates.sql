-- Certificates: an enrollment that becomes completed queues its certificate. Re-runnable:
-- included by every migration that changes it, after the functions.

drop trigger if exists _700_queue_certificate on lms_public.enrollments;
create trigger _700_queue_certificate after update of status on lms_public.enrollments
  for each row execute function lms_private.tg_enrollments__queue_certificate();
