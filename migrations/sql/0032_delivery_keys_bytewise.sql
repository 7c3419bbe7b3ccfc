-- A delivery's Message-ID and reference code are random keys, looked up
-- by equality only (bounces, the portal's sign-in) and never sorted for
-- display. Under the database's default collation every comparison in
-- their unique indexes went through the C library's strcoll; a launch
-- inserts one random key per delivery into each of the two indexes, and
-- that was about half of the launch statement's PostgreSQL time (100,000
-- deliveries: 3.9 s of CPU against 2.1 s bytewise; docs/performance.md,
-- "Fan-out"). Bytewise ("C") equality is the same equality for these
-- ASCII keys. Only the two indexes are rebuilt; the table is not
-- rewritten.
ALTER TABLE deliveries ALTER COLUMN message_id TYPE text COLLATE "C",
    ALTER COLUMN reference_code TYPE text COLLATE "C";
