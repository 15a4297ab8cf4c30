-- Deleting a batch (API.md, "Deleting") must not free its idempotency key early: a key is kept 24 hours whatever
-- happens to its batch, so keys get rows of their own, with no foreign key to the batch they name.
create table idempotency_key (
    scope        text        not null, -- the submitter's name ('' when authentication is off)
    key          text        not null,
    batch_id     uuid        not null, -- may name a batch deleted since
    request_hash text        not null,
    created_at   timestamptz not null default now(),
    constraint idempotency_key_pkey primary key (scope, key),
    constraint idempotency_key_length check (char_length(key) between 1 and 200)
);
-- the maintenance task that forgets keys past their 24 hours reads the oldest first
create index idempotency_key_created on idempotency_key (created_at);

insert into idempotency_key (scope, key, batch_id, request_hash, created_at)
select idempotency_scope, idempotency_key, id, coalesce(request_hash, ''), created_at
from batch where idempotency_key is not null;

drop index batch_idempotency;
alter table batch drop constraint batch_idempotency_complete,
                  drop constraint batch_idempotency_key_length,
                  drop column idempotency_scope,
                  drop column idempotency_key,
                  drop column request_hash;

-- Deleting a batch collects the blobs no artifact points at any more: each check is a probe, not a scan of artifact.
create index artifact_sha256 on artifact (sha256);

-- Retention (atelier.retention.batches) deletes the batches that finished longest ago first.
create index batch_finished_at on batch (finished_at) where finished_at is not null;
