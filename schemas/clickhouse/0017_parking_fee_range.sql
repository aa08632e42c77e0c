-- A fee in fen is hours × the hourly rate: with no daily cap, a rate near the tariff's
-- ceiling and a stay as long as the movement TTL allows, it outgrows UInt32 (42.9 million
-- yuan). UInt64 holds every fee a tariff can produce; the ledger no longer has to fail.

ALTER TABLE parking_sessions MODIFY COLUMN fee_fen Nullable(UInt64);
