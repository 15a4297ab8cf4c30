-- An executor draining (its preStop hook ran: it claims nothing more and finishes or hands back what it holds)
-- says so in its reports, from when; the ledger's summary and the dashboard show it. Null while it claims.
alter table executor add column draining_since timestamptz;
