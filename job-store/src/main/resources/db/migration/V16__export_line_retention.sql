-- Retention of export lines (atelier.retention.export-lines) trims the start of each log: every numbered line up to
-- through_seq is gone. A reader resuming before it is told so (ExportLog.Trimmed), never skipped ahead in silence.
create table export_trim (
    log         text   not null,
    through_seq bigint not null,
    constraint export_trim_pkey primary key (log),
    constraint export_trim_log_valid check (log in ('ledger', 'events')),
    constraint export_trim_seq_nonnegative check (through_seq >= 0)
);
insert into export_trim (log, through_seq) values ('ledger', 0), ('events', 0);
