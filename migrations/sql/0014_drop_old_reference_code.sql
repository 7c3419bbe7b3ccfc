-- Reference codes are made with each delivery now (80 random bits in
-- Crockford base32, see store.newDeliveryKeys); the old generator, unused
-- since migration 0004, made hex codes. Codes it made still verify.
DROP FUNCTION IF EXISTS bn_reference_code();
