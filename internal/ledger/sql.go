package ledger

import _ "embed" // the package's SQL lives in sql/*.sql

// The package's statements, one file each; the files say what each parameter is.
var (
	//go:embed sql/upsert_accounts.sql
	sqlUpsertAccounts string
	//go:embed sql/lock_accounts.sql
	sqlLockAccounts string
	//go:embed sql/lookup_entries.sql
	sqlLookupEntries string
	//go:embed sql/reversal_targets.sql
	sqlReversalTargets string
	//go:embed sql/insert_entries.sql
	sqlInsertEntries string
	//go:embed sql/balance.sql
	sqlBalance string
	//go:embed sql/balance_at.sql
	sqlBalanceAt string
)
