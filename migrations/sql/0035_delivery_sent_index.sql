-- The dashboard's send-rate chart counts a running wave's sends in the
-- last minutes every few seconds: this index reads only those rows, where
-- deliveries_wave_status would read every sent delivery of the wave.
CREATE INDEX deliveries_wave_sent ON deliveries (wave_id, sent_at) WHERE sent_at IS NOT NULL;
