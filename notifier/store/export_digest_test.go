package store

// For the plan fingerprint's upgrade test (store_test).
var LegacyTargetsDigest = legacyTargetsDigest
