package matching

// SQLFiles lets the tests EXPLAIN the statements.
var SQLFiles = sqlFiles
