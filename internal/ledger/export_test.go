package ledger

// MapError exposes mapError to the black-box tests, which attack the schema with raw SQL.
var MapError = mapError
