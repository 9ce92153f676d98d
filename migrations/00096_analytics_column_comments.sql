-- A comment on every column of every analytics view: \d+ analytics.<view> in psql explains each, and the
-- tests (internal/analysts) refuse a view column without one. The texts say what docs/analysts.md says.

-- +goose Up

-- analytics.accounts
COMMENT ON COLUMN analytics.accounts.account IS 'The account''s code, type:provider:provider_account:name[:detail], e.g. assets:vandar:acme:wallet (docs/accounts.md).';
COMMENT ON COLUMN analytics.accounts.type IS 'asset, liability, income, expense or equity.';
COMMENT ON COLUMN analytics.accounts.currency IS 'IRT (tomans, no minor unit), EUR, CHF, …: one per account.';
COMMENT ON COLUMN analytics.accounts.provider IS 'The provider: vandar or yabandpay (the code''s second part).';
COMMENT ON COLUMN analytics.accounts.provider_account IS 'The Vandar business slug or the YabandPay user id (the code''s third part).';
COMMENT ON COLUMN analytics.accounts.name IS 'What the account holds: wallet, fees, sales, refunds, settlements_in_transit, bank, cash_in, internal_transfers, opening_balance, suspense; YabandPay also reserve, deposit.';
COMMENT ON COLUMN analytics.accounts.account_id IS 'The account''s id (ledger.accounts.id, ledger.postings.account_id).';
COMMENT ON COLUMN analytics.accounts.created_at IS 'When mizan first used the account.';

-- analytics.balances
COMMENT ON COLUMN analytics.balances.account IS 'The account''s code, type:provider:provider_account:name[:detail], e.g. assets:vandar:acme:wallet (docs/accounts.md).';
COMMENT ON COLUMN analytics.balances.type IS 'asset, liability, income, expense or equity.';
COMMENT ON COLUMN analytics.balances.currency IS 'IRT (tomans, no minor unit), EUR, CHF, …: one per account.';
COMMENT ON COLUMN analytics.balances.provider IS 'The provider: vandar or yabandpay (the code''s second part).';
COMMENT ON COLUMN analytics.balances.provider_account IS 'The Vandar business slug or the YabandPay user id (the code''s third part).';
COMMENT ON COLUMN analytics.balances.name IS 'What the account holds: wallet, fees, sales, refunds, settlements_in_transit, bank, cash_in, internal_transfers, opening_balance, suspense; YabandPay also reserve, deposit.';
COMMENT ON COLUMN analytics.balances.account_id IS 'The account''s id (ledger.accounts.id, ledger.postings.account_id).';
COMMENT ON COLUMN analytics.balances.detail IS 'Sales channel (ipg, form, pos, subscription, other), IBAN (bank), or currency (eur) for multi-currency providers.';
COMMENT ON COLUMN analytics.balances.balance IS 'The balance now, signed debit positive: a wallet''s is what the provider should report; an income''s is negative.';

-- analytics.daily_balances
COMMENT ON COLUMN analytics.daily_balances.account IS 'The account''s code, type:provider:provider_account:name[:detail], e.g. assets:vandar:acme:wallet (docs/accounts.md).';
COMMENT ON COLUMN analytics.daily_balances.type IS 'asset, liability, income, expense or equity.';
COMMENT ON COLUMN analytics.daily_balances.currency IS 'IRT (tomans, no minor unit), EUR, CHF, …: one per account.';
COMMENT ON COLUMN analytics.daily_balances.provider IS 'The provider: vandar or yabandpay (the code''s second part).';
COMMENT ON COLUMN analytics.daily_balances.provider_account IS 'The Vandar business slug or the YabandPay user id (the code''s third part).';
COMMENT ON COLUMN analytics.daily_balances.name IS 'What the account holds: wallet, fees, sales, refunds, settlements_in_transit, bank, cash_in, internal_transfers, opening_balance, suspense; YabandPay also reserve, deposit.';
COMMENT ON COLUMN analytics.daily_balances.account_id IS 'The account''s id (ledger.accounts.id, ledger.postings.account_id).';
COMMENT ON COLUMN analytics.daily_balances.detail IS 'As in analytics.accounts.';
COMMENT ON COLUMN analytics.daily_balances.balance IS 'The balance at the end of the day (postings booked before day_end), debit positive.';
COMMENT ON COLUMN analytics.daily_balances.jalali_date IS 'The day on the Jalali calendar, ''YYYY/MM/DD'' zero-padded (sorts as the dates do).';
COMMENT ON COLUMN analytics.daily_balances.jalali_year IS 'The Jalali year of the day: also the Iranian fiscal year (from 1 Farvardin).';
COMMENT ON COLUMN analytics.daily_balances.jalali_month IS 'The Jalali month of the day: 1 Farvardin … 12 Esfand.';
COMMENT ON COLUMN analytics.daily_balances.jalali_quarter IS 'The quarter of the Jalali (fiscal) year of the day: 1 Farvardin–Khordad … 4 Dey–Esfand.';

-- analytics.daily_movements
COMMENT ON COLUMN analytics.daily_movements.account IS 'The account''s code, type:provider:provider_account:name[:detail], e.g. assets:vandar:acme:wallet (docs/accounts.md).';
COMMENT ON COLUMN analytics.daily_movements.type IS 'asset, liability, income, expense or equity.';
COMMENT ON COLUMN analytics.daily_movements.currency IS 'IRT (tomans, no minor unit), EUR, CHF, …: one per account.';
COMMENT ON COLUMN analytics.daily_movements.provider IS 'The provider: vandar or yabandpay (the code''s second part).';
COMMENT ON COLUMN analytics.daily_movements.provider_account IS 'The Vandar business slug or the YabandPay user id (the code''s third part).';
COMMENT ON COLUMN analytics.daily_movements.name IS 'What the account holds: wallet, fees, sales, refunds, settlements_in_transit, bank, cash_in, internal_transfers, opening_balance, suspense; YabandPay also reserve, deposit.';
COMMENT ON COLUMN analytics.daily_movements.account_id IS 'The account''s id (ledger.accounts.id, ledger.postings.account_id).';
COMMENT ON COLUMN analytics.daily_movements.detail IS 'As in analytics.accounts.';
COMMENT ON COLUMN analytics.daily_movements.day IS 'Calendar day in Asia/Tehran of the postings'' booking time.';
COMMENT ON COLUMN analytics.daily_movements.postings IS 'How many postings the account had that day.';
COMMENT ON COLUMN analytics.daily_movements.opening_balance IS 'The balance before the day''s first posting, debit positive.';
COMMENT ON COLUMN analytics.daily_movements.closing_balance IS 'The balance after the day''s last posting: opening_balance + net.';
COMMENT ON COLUMN analytics.daily_movements.jalali_date IS 'The day on the Jalali calendar, ''YYYY/MM/DD'' zero-padded (sorts as the dates do).';
COMMENT ON COLUMN analytics.daily_movements.jalali_year IS 'The Jalali year of the day: also the Iranian fiscal year (from 1 Farvardin).';
COMMENT ON COLUMN analytics.daily_movements.jalali_month IS 'The Jalali month of the day: 1 Farvardin … 12 Esfand.';
COMMENT ON COLUMN analytics.daily_movements.jalali_quarter IS 'The quarter of the Jalali (fiscal) year of the day: 1 Farvardin–Khordad … 4 Dey–Esfand.';

-- analytics.wallet_movements
COMMENT ON COLUMN analytics.wallet_movements.entry_id IS 'The ledger entry (ledger.entries.id).';
COMMENT ON COLUMN analytics.wallet_movements.idempotency_key IS 'The entry''s key, e.g. vandar:acme:statement:<item id>: indexed.';
COMMENT ON COLUMN analytics.wallet_movements.provider IS 'The wallet''s provider.';
COMMENT ON COLUMN analytics.wallet_movements.provider_account IS 'The wallet''s business (Vandar) or user (YabandPay).';
COMMENT ON COLUMN analytics.wallet_movements.currency IS 'The wallet''s currency.';
COMMENT ON COLUMN analytics.wallet_movements.wallet_account IS 'The wallet''s account code.';
COMMENT ON COLUMN analytics.wallet_movements.item_id IS 'The provider''s id of the statement item (NULL for an opening balance or a snapshot).';
COMMENT ON COLUMN analytics.wallet_movements.kind IS 'payment, subscription, cash_in, refund, settlement, returned, internal_deposit, internal_withdrawal, correction; opening; yabandpay_snapshot; adjustment.';
COMMENT ON COLUMN analytics.wallet_movements.channel IS 'ipg (gateway), form, pos, subscription, cash_in, refund, settlement, p2p, other.';
COMMENT ON COLUMN analytics.wallet_movements.direction IS 'in or out, from the wallet''s side.';
COMMENT ON COLUMN analytics.wallet_movements.effective_at IS 'When the provider says the money moved.';
COMMENT ON COLUMN analytics.wallet_movements.day IS 'Calendar day in Asia/Tehran of effective_at.';
COMMENT ON COLUMN analytics.wallet_movements.wallet_balance_after IS 'The wallet''s balance after this movement, in booking order.';
COMMENT ON COLUMN analytics.wallet_movements.counter_account IS 'Where the other side went: the account code(s) other than the wallet and the fees, comma-separated.';
COMMENT ON COLUMN analytics.wallet_movements.source_event_id IS 'The CloudEvents id of the event the entry was posted from.';
COMMENT ON COLUMN analytics.wallet_movements.returns_item_id IS 'For a returned item: the settlement item it gives money back for, where the provider says.';
COMMENT ON COLUMN analytics.wallet_movements.description IS 'The entry''s description.';
COMMENT ON COLUMN analytics.wallet_movements.factor_number IS 'The merchant''s order or invoice number (Vandar factorNumber), where the item had one.';
COMMENT ON COLUMN analytics.wallet_movements.ref_id IS 'The bank''s reference number of the payment (Shaparak RRN), where given.';
COMMENT ON COLUMN analytics.wallet_movements.tracking_code IS 'The bank''s or switch''s tracking code, where given.';
COMMENT ON COLUMN analytics.wallet_movements.card_number IS 'The payer''s card, masked (first six and last four digits at most): mizan never stores a full card number.';
COMMENT ON COLUMN analytics.wallet_movements.track_id IS 'The merchant''s own id of a settlement (its track_id at Vandar).';
COMMENT ON COLUMN analytics.wallet_movements.iban IS 'The counterparty''s IBAN: the payer''s for money in, the receiver''s for money out.';
COMMENT ON COLUMN analytics.wallet_movements.payment_number IS 'The deposit id (شناسه واریز) of a cash-in or a settlement.';
COMMENT ON COLUMN analytics.wallet_movements.refs IS 'Every reference above, as an array: WHERE refs @> ARRAY[''1643''] finds an entry by any of them through an index.';
COMMENT ON COLUMN analytics.wallet_movements.jalali_date IS 'The day on the Jalali calendar, ''YYYY/MM/DD'' zero-padded (sorts as the dates do).';
COMMENT ON COLUMN analytics.wallet_movements.jalali_year IS 'The Jalali year of the day: also the Iranian fiscal year (from 1 Farvardin).';
COMMENT ON COLUMN analytics.wallet_movements.jalali_month IS 'The Jalali month of the day: 1 Farvardin … 12 Esfand.';
COMMENT ON COLUMN analytics.wallet_movements.jalali_quarter IS 'The quarter of the Jalali (fiscal) year of the day: 1 Farvardin–Khordad … 4 Dey–Esfand.';

-- analytics.daily_fees
COMMENT ON COLUMN analytics.daily_fees.provider IS 'The wallet''s provider.';
COMMENT ON COLUMN analytics.daily_fees.provider_account IS 'The wallet''s business or user.';
COMMENT ON COLUMN analytics.daily_fees.currency IS 'The wallet''s currency.';
COMMENT ON COLUMN analytics.daily_fees.day IS 'Calendar day in Asia/Tehran of the items'' effective time (the provider''s time).';
COMMENT ON COLUMN analytics.daily_fees.channel IS 'The items'' channel: ipg, form, pos, subscription, cash_in, refund, settlement, p2p, other.';
COMMENT ON COLUMN analytics.daily_fees.kind IS 'The items'' kind: payment, settlement, refund, …';
COMMENT ON COLUMN analytics.daily_fees.items IS 'How many statement items moved the wallet in this group.';
COMMENT ON COLUMN analytics.daily_fees.amount IS 'Their gross amount, positive.';
COMMENT ON COLUMN analytics.daily_fees.fees IS 'The fees charged on them (postings to the fees account), positive or 0.';
COMMENT ON COLUMN analytics.daily_fees.jalali_date IS 'The day on the Jalali calendar, ''YYYY/MM/DD'' zero-padded (sorts as the dates do).';
COMMENT ON COLUMN analytics.daily_fees.jalali_year IS 'The Jalali year of the day: also the Iranian fiscal year (from 1 Farvardin).';
COMMENT ON COLUMN analytics.daily_fees.jalali_month IS 'The Jalali month of the day: 1 Farvardin … 12 Esfand.';
COMMENT ON COLUMN analytics.daily_fees.jalali_quarter IS 'The quarter of the Jalali (fiscal) year of the day: 1 Farvardin–Khordad … 4 Dey–Esfand.';

-- analytics.settlements
COMMENT ON COLUMN analytics.settlements.provider IS 'The wallet''s provider.';
COMMENT ON COLUMN analytics.settlements.provider_account IS 'The wallet''s business.';
COMMENT ON COLUMN analytics.settlements.currency IS 'The settlement''s currency.';
COMMENT ON COLUMN analytics.settlements.item_id IS 'The statement item that took the money out of the wallet (NULL: not in the statement yet, or an unmatched return).';
COMMENT ON COLUMN analytics.settlements.settlement_id IS 'The provider''s id of the settlement (Vandar: a uuid) or batch item, from the feed.';
COMMENT ON COLUMN analytics.settlements.entry_id IS 'The ledger entry of the statement item.';
COMMENT ON COLUMN analytics.settlements.source_event_id IS 'The event that entry was posted from.';
COMMENT ON COLUMN analytics.settlements.requested_at IS 'When the money left the wallet (the item''s time; the feed''s creation time before the item is read).';
COMMENT ON COLUMN analytics.settlements.amount IS 'The amount sent to the bank, positive.';
COMMENT ON COLUMN analytics.settlements.fee IS 'The fee charged on it, positive or 0.';
COMMENT ON COLUMN analytics.settlements.status_since IS 'Since when the settlement feed has reported its current status.';
COMMENT ON COLUMN analytics.settlements.predicted_at IS 'When the provider predicted it would reach the bank.';
COMMENT ON COLUMN analytics.settlements.iban IS 'The IBAN it is paid to, from the feed.';
COMMENT ON COLUMN analytics.settlements.settled_at IS 'When it reached the bank (the payout_done entry''s time).';
COMMENT ON COLUMN analytics.settlements.settled_amount IS 'How much reached the bank, positive.';
COMMENT ON COLUMN analytics.settlements.returned_at IS 'When the latest return item brought money back.';
COMMENT ON COLUMN analytics.settlements.returned_amount IS 'How much came back, in all, positive.';
COMMENT ON COLUMN analytics.settlements.returned_item_ids IS 'The return items, in time order.';
COMMENT ON COLUMN analytics.settlements.track_id IS 'The merchant''s own id of the settlement: the statement item''s, else the feed''s.';
COMMENT ON COLUMN analytics.settlements.payment_number IS 'The deposit id (شناسه واریز) the settlement carries, where given.';
COMMENT ON COLUMN analytics.settlements.ref_id IS 'The bank''s reference of the transfer, where the statement item gave one.';
COMMENT ON COLUMN analytics.settlements.tracking_code IS 'The bank''s tracking code of the transfer, where the statement item gave one.';

-- analytics.check_results
COMMENT ON COLUMN analytics.check_results.id IS 'The evaluation''s id (recon.check_results.id).';
COMMENT ON COLUMN analytics.check_results.check_name IS 'running_balance, balance, settlement, batch, changed_item, yabandpay_movement, staleness, consistency.';
COMMENT ON COLUMN analytics.check_results.subject IS 'What was checked: provider/account/…, e.g. vandar/acme/wallet or vandar/acme/item/123.';
COMMENT ON COLUMN analytics.check_results.provider IS 'The subject''s first part.';
COMMENT ON COLUMN analytics.check_results.provider_account IS 'The subject''s second part.';
COMMENT ON COLUMN analytics.check_results.outcome IS 'OK, MISMATCH, or UNKNOWN (the data was too stale to tell).';
COMMENT ON COLUMN analytics.check_results.expected IS 'The figure the check expected, where it compares numbers.';
COMMENT ON COLUMN analytics.check_results.actual IS 'The figure it found.';
COMMENT ON COLUMN analytics.check_results.difference IS 'actual - expected.';
COMMENT ON COLUMN analytics.check_results.window_start IS 'Start of the period the check covers, where it has one.';
COMMENT ON COLUMN analytics.check_results.window_end IS 'End of that period.';
COMMENT ON COLUMN analytics.check_results.watermark IS 'How far the data the check relied on reached.';
COMMENT ON COLUMN analytics.check_results.details IS 'The check''s details (jsonb).';
COMMENT ON COLUMN analytics.check_results.event_id IS 'The event that triggered the evaluation.';
COMMENT ON COLUMN analytics.check_results.evaluated_at IS 'When it was evaluated.';
COMMENT ON COLUMN analytics.check_results.day IS 'Calendar day in Asia/Tehran of evaluated_at.';
COMMENT ON COLUMN analytics.check_results.jalali_date IS 'The day on the Jalali calendar, ''YYYY/MM/DD'' zero-padded (sorts as the dates do).';
COMMENT ON COLUMN analytics.check_results.jalali_year IS 'The Jalali year of the day: also the Iranian fiscal year (from 1 Farvardin).';
COMMENT ON COLUMN analytics.check_results.jalali_month IS 'The Jalali month of the day: 1 Farvardin … 12 Esfand.';
COMMENT ON COLUMN analytics.check_results.jalali_quarter IS 'The quarter of the Jalali (fiscal) year of the day: 1 Farvardin–Khordad … 4 Dey–Esfand.';

-- analytics.check_status
COMMENT ON COLUMN analytics.check_status.check_name IS 'As in analytics.check_results.';
COMMENT ON COLUMN analytics.check_status.subject IS 'As in analytics.check_results.';
COMMENT ON COLUMN analytics.check_status.provider IS 'The subject''s first part.';
COMMENT ON COLUMN analytics.check_status.provider_account IS 'The subject''s second part.';
COMMENT ON COLUMN analytics.check_status.outcome IS 'The latest outcome: OK, MISMATCH or UNKNOWN.';
COMMENT ON COLUMN analytics.check_status.last_evaluated_at IS 'The latest evaluation.';
COMMENT ON COLUMN analytics.check_status.expected IS 'Of the latest evaluation.';
COMMENT ON COLUMN analytics.check_status.actual IS 'Of the latest evaluation.';
COMMENT ON COLUMN analytics.check_status.difference IS 'Of the latest evaluation: actual - expected.';
COMMENT ON COLUMN analytics.check_status.details IS 'Of the latest evaluation.';
COMMENT ON COLUMN analytics.check_status.evaluations IS 'How many evaluations of this check on this subject, in all.';

-- analytics.open_alerts
COMMENT ON COLUMN analytics.open_alerts.id IS 'The alert (recon.alerts.id): what recon.acknowledge_alert takes.';
COMMENT ON COLUMN analytics.open_alerts.kind IS 'What kind of problem: balance_mismatch, running_balance, staleness, settlement_stuck, …';
COMMENT ON COLUMN analytics.open_alerts.severity IS 'info, warning or critical.';
COMMENT ON COLUMN analytics.open_alerts.subject IS 'What it is about: provider/account/…';
COMMENT ON COLUMN analytics.open_alerts.provider IS 'The subject''s first part.';
COMMENT ON COLUMN analytics.open_alerts.provider_account IS 'The subject''s second part.';
COMMENT ON COLUMN analytics.open_alerts.summary IS 'What it says, in one line.';
COMMENT ON COLUMN analytics.open_alerts.details IS 'Its details (jsonb).';
COMMENT ON COLUMN analytics.open_alerts.dedup_key IS 'One open alert per key: the same problem seen again is the same alert.';
COMMENT ON COLUMN analytics.open_alerts.opened_at IS 'When it opened.';
COMMENT ON COLUMN analytics.open_alerts.last_seen_at IS 'When the problem was last seen.';
COMMENT ON COLUMN analytics.open_alerts.open_for IS 'How long it has been open.';
COMMENT ON COLUMN analytics.open_alerts.notified_at IS 'When Slack was told (NULL: not yet).';
COMMENT ON COLUMN analytics.open_alerts.acknowledged_by IS 'Who acknowledged it (their login role; NULL: nobody yet).';
COMMENT ON COLUMN analytics.open_alerts.acknowledged_at IS 'When it was acknowledged.';
COMMENT ON COLUMN analytics.open_alerts.acknowledgement_note IS 'What they said when acknowledging it.';

-- analytics.balance_comparisons
COMMENT ON COLUMN analytics.balance_comparisons.event_id IS 'The observation''s event (recon.balance_observations.event_id).';
COMMENT ON COLUMN analytics.balance_comparisons.provider IS 'The provider that reported the balance.';
COMMENT ON COLUMN analytics.balance_comparisons.provider_account IS 'The business or user.';
COMMENT ON COLUMN analytics.balance_comparisons.currency IS 'The currency of the balance.';
COMMENT ON COLUMN analytics.balance_comparisons.wallet_account IS 'The ledger''s wallet account code.';
COMMENT ON COLUMN analytics.balance_comparisons.observed_at IS 'When the provider reported it.';
COMMENT ON COLUMN analytics.balance_comparisons.reported IS 'The provider''s figure.';
COMMENT ON COLUMN analytics.balance_comparisons.ledger IS 'The ledger''s balance of the wallet at observed_at (booking time); 0 for a wallet the ledger has not opened.';
COMMENT ON COLUMN analytics.balance_comparisons.difference IS 'reported - ledger.';
COMMENT ON COLUMN analytics.balance_comparisons.comparable IS 'true once the statement was read past observed_at; NULL where no statement is read (YabandPay).';
COMMENT ON COLUMN analytics.balance_comparisons.figures IS 'Every figure the provider gave, by its own name (YabandPay: available, reserve, usable, deposit).';
COMMENT ON COLUMN analytics.balance_comparisons.recorded_at IS 'When mizan stored it.';

-- analytics.suspense
COMMENT ON COLUMN analytics.suspense.account IS 'The suspense account, e.g. liabilities:vandar:acme:suspense or liabilities:yabandpay:<user>:suspense:eur.';
COMMENT ON COLUMN analytics.suspense.currency IS 'Its currency.';
COMMENT ON COLUMN analytics.suspense.provider IS 'Its provider.';
COMMENT ON COLUMN analytics.suspense.provider_account IS 'Its business or user.';
COMMENT ON COLUMN analytics.suspense.entry_id IS 'The entry that posted to suspense: what ledger.post_adjustment''s clears takes.';
COMMENT ON COLUMN analytics.suspense.idempotency_key IS 'The entry''s key.';
COMMENT ON COLUMN analytics.suspense.kind IS 'correction (a provider''s correction item), yabandpay_snapshot (a balance change no entry explains), adjustment, adjustment_reversal.';
COMMENT ON COLUMN analytics.suspense.description IS 'The entry''s description.';
COMMENT ON COLUMN analytics.suspense.effective_at IS 'When the provider says it happened (for an adjustment: the time it was given).';
COMMENT ON COLUMN analytics.suspense.booked_at IS 'When the suspense posting was booked.';
COMMENT ON COLUMN analytics.suspense.day IS 'Calendar day in Asia/Tehran of effective_at.';
COMMENT ON COLUMN analytics.suspense.jalali_date IS 'The day on the Jalali calendar, ''YYYY/MM/DD''.';
COMMENT ON COLUMN analytics.suspense.suspense_change IS 'The posting, signed debit positive: money put into suspense is a credit (negative); clearing it a debit.';
COMMENT ON COLUMN analytics.suspense.suspense_balance_after IS 'The suspense account''s balance after it.';
COMMENT ON COLUMN analytics.suspense.is_open IS 'Waiting for a person: not an adjustment, and not cleared by an adjustment that still stands.';
COMMENT ON COLUMN analytics.suspense.age IS 'How long since effective_at.';
COMMENT ON COLUMN analytics.suspense.age_bucket IS '0-7 days, 8-30 days, 31-90 days or over 90 days, by age.';
COMMENT ON COLUMN analytics.suspense.item_id IS 'The provider''s item it came from, where there is one.';
COMMENT ON COLUMN analytics.suspense.source_event_id IS 'The event it was posted from.';
COMMENT ON COLUMN analytics.suspense.topic IS 'The Kafka topic of that event (recon.processed_events).';
COMMENT ON COLUMN analytics.suspense.partition IS 'Its partition.';
COMMENT ON COLUMN analytics.suspense."offset" IS 'Its offset: kcat -t <topic> -p <partition> -o <offset> -c 1 shows the raw item.';
COMMENT ON COLUMN analytics.suspense.reported_figures IS 'For a balance snapshot: every figure the provider reported (recon.balance_observations.figures).';
COMMENT ON COLUMN analytics.suspense.is_adjustment IS 'The line is an adjustment''s own posting (a clearing, or its reversal).';
COMMENT ON COLUMN analytics.suspense.adjustment_author IS 'For an adjustment: who posted it.';
COMMENT ON COLUMN analytics.suspense.adjustment_reason IS 'For an adjustment: why.';
COMMENT ON COLUMN analytics.suspense.cleared_by_entry_id IS 'The standing adjustment that cleared this line (NULL: none).';
COMMENT ON COLUMN analytics.suspense.cleared_by IS 'Who posted that adjustment.';
COMMENT ON COLUMN analytics.suspense.cleared_at IS 'When.';
COMMENT ON COLUMN analytics.suspense.cleared_reason IS 'Why, in their words.';
COMMENT ON COLUMN analytics.suspense.account_id IS 'The suspense account''s id.';

-- analytics.adjustments
COMMENT ON COLUMN analytics.adjustments.entry_id IS 'The adjustment entry (ledger.entries.id).';
COMMENT ON COLUMN analytics.adjustments.idempotency_key IS 'Its key: <provider>:<account>:adjustment:<id>, or mizan:manual:… across providers; a reversal''s ends in :reversal.';
COMMENT ON COLUMN analytics.adjustments.kind IS 'adjustment, or reversal (of an adjustment).';
COMMENT ON COLUMN analytics.adjustments.reason IS 'Why, in the author''s words.';
COMMENT ON COLUMN analytics.adjustments.author IS 'Who posted it: their login role (session_user).';
COMMENT ON COLUMN analytics.adjustments.authored_at IS 'When it was posted.';
COMMENT ON COLUMN analytics.adjustments.effective_at IS 'The entry''s effective time (what the author gave, or when it was posted).';
COMMENT ON COLUMN analytics.adjustments.day IS 'Calendar day in Asia/Tehran of effective_at.';
COMMENT ON COLUMN analytics.adjustments.provider IS 'The provider its accounts belong to (mizan when they span providers).';
COMMENT ON COLUMN analytics.adjustments.provider_account IS 'The business or user (manual when they span providers).';
COMMENT ON COLUMN analytics.adjustments.currency IS 'The postings'' currency.';
COMMENT ON COLUMN analytics.adjustments.amount IS 'The sum of its debits: how much it moved, positive.';
COMMENT ON COLUMN analytics.adjustments.lines IS 'Its postings, "account amount", debit positive, comma-separated.';
COMMENT ON COLUMN analytics.adjustments.clears IS 'The suspense entries it clears (analytics.suspense.entry_id).';
COMMENT ON COLUMN analytics.adjustments.reverses_entry_id IS 'For a reversal: the adjustment it negates.';
COMMENT ON COLUMN analytics.adjustments.reversed_by_entry_id IS 'For an adjustment: the reversal that undid it (NULL: none).';
COMMENT ON COLUMN analytics.adjustments.standing IS 'An adjustment not reversed.';
COMMENT ON COLUMN analytics.adjustments.client_addr IS 'The address the author connected from (NULL: a local socket).';
COMMENT ON COLUMN analytics.adjustments.application_name IS 'The client''s application_name: reconciler-adjust for the command, psql, …';

-- +goose Down
-- The comments stay: they describe the columns, whichever migration made them.
SELECT 1;
