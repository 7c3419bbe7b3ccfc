-- deadline.approaching webhook events are written by a periodic watch
-- (Service.WatchDeadlines) that sees the same approaching deadline on
-- every run: one event per incident, obligation and due time (the
-- subject names all three).
CREATE UNIQUE INDEX webhook_events_deadline_once ON webhook_events (type, subject) WHERE type = 'deadline.approaching';
