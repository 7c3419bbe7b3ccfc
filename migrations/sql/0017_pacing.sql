-- Send rates shared by every process (issue 12, item 5).
--
-- One row per rate limit ("global", "domain:<name>") holding its
-- theoretical arrival time (GCRA): the earliest moment the next send slot
-- of that limit is free. A process reserves a few slots at once with one
-- upsert that moves tat on (store.ReserveSlots), so the limits hold for
-- all processes together. The table is UNLOGGED: it is pacing state, not a
-- record; losing it in a crash only lets the next second start afresh.
CREATE UNLOGGED TABLE pacing_slots (
    key text PRIMARY KEY,
    tat timestamptz NOT NULL
);
