// Package bankstatement reads the statements a bank produces for one of the business's accounts (an IBAN),
// dropped as files into a directory — in Kubernetes a mounted volume, filled from the bank's portal, an SFTP
// drop or an object-storage bucket (docs/sources.md, "bankstatement"). It is the source that closes the payout
// loop: a provider says a payout is paid, the bank's statement says whether the money arrived.
//
// It reads two formats:
//   - ISO 20022 camt.053 (camt053.go): the statements, their opening and closing balances, the entries with
//     their booking and value dates, credit/debit indicators and references, and batch-booked entries split
//     into their transactions;
//   - CSV exports (csv.go), with a column mapping from the sources file: Jalali or Gregorian dates, one signed
//     amount or debit and credit columns, a running balance, Persian digits and separators (numbers.go).
//
// Each line becomes an events.BankLine whose id is derived from what the line is, never from which file it came
// in, so that a file dropped twice, or a later statement overlapping an earlier one, posts nothing twice; each
// statement's balances become events.BankBalance facts, its opening one before its lines and its closing one
// after them (statement.go). A file is read once, remembered by the SHA-256 of its content in the feed's
// cursor; a file with anything in it that cannot be read — bad XML, a bad amount, another account's IBAN,
// lines that do not take the opening balance to the closing one — is refused whole with a quarantined fact
// naming the file, the line and what is wrong: never half-applied.
//
// The simulator beside this package (banktest) writes both formats, for tests and for the local pipeline.
package bankstatement
