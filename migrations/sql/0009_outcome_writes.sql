-- Delivery throughput, continued (docs/performance.md). Writing an outcome
-- also writes its event, and each event row's foreign key check on
-- deliveries cost about 80 us (an SPI query per row, run as an after
-- trigger), as much as the outcome update itself. Events are written only
-- for deliveries that exist (an outcome, a bounce matched to its delivery,
-- an acknowledgement through its token), and deliveries are never deleted:
-- the triggers below now refuse it, as for notices and contacts
-- (0004), so an event cannot dangle later either.
ALTER TABLE delivery_events DROP CONSTRAINT delivery_events_delivery_id_fkey;
CREATE TRIGGER deliveries_no_delete BEFORE DELETE ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER deliveries_no_truncate BEFORE TRUNCATE ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
