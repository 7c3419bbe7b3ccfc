package store

// For the chart queries' plan test (store_test).
var SentPerMinuteSQL, FailureGroupsSQL = sentPerMinute, failureGroups
