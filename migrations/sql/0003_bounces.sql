-- Bounce reports (RFC 3464 or the simple JSON form). Every report is kept,
-- even one not understood ("unknown") or matching no delivery.
CREATE TABLE bounces (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('permanent', 'delayed', 'delivered', 'unknown')),
    message_id  text NOT NULL DEFAULT '',
    recipient   text NOT NULL DEFAULT '',
    action      text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT '',
    diagnostic  text NOT NULL DEFAULT '',
    delivery_id bigint REFERENCES deliveries (id),
    source      text NOT NULL CHECK (source IN ('dsn', 'json')),
    raw         bytea,
    received_by bigint REFERENCES api_keys (id),
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bounces_delivery ON bounces (delivery_id);
CREATE INDEX deliveries_notice ON deliveries (notice_id);
