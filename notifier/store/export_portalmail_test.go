package store

// For the mail list's benchmark (store_test): the deep page's query and
// the bounds of an open date range.
const PortalMessagesAfterSQL = portalMessagesAfter

var Undated, NoLaterThan = undated, noLaterThan
