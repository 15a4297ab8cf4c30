-- Issue 22, the dashboard's history: one point per minute per series, written by the ledger (HistorySampler), read
-- for the last hours. Several ledger replicas may sample the same minute; the key keeps the first.
--   finished     label success|failed|cancelled   export lines that ended in that minute
--   waiting      label the backend kind           pending and retry jobs, as of the sample
--   running      label the backend kind           running jobs, as of the sample
--   utilisation  label the executor id            busy slots / slots of a live executor (0..1), as of the sample
create table history_point (
    series text not null,
    label text not null,
    at timestamp with time zone not null,
    value double precision not null,
    constraint history_point_pkey primary key (series, label, at),
    constraint history_point_series check (series in ('finished', 'waiting', 'running', 'utilisation'))
);
-- the history is read by time across every series and label, and pruned by time
create index history_point_at on history_point (at);

-- the lines that ended in a minute, counted without reading older lines
create index ledger_line_occurred_at on ledger_line (occurred_at);
