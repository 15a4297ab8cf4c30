-- The backend's own id for a job's run (ComfyUI's prompt_id). The executor makes it and commits it here before it
-- submits the run, so that after a crash or a hand-back the next attempt can find the run and adopt it instead of
-- starting the same GPU work again. It stays across attempts; the runner decides whether the run it names is alive.
alter table job add column backend_ref text;

-- Artifact bytes, stored once per content: two outputs with the same bytes (or the same output collected again
-- after an adoption) share one blob.
create table artifact_blob (
    sha256 text   primary key constraint artifact_blob_sha256_hex check (sha256 ~ '^[0-9a-f]{64}$'),
    size   bigint not null,
    data   bytea  not null,
    constraint artifact_blob_size_matches check (size = octet_length(data))
);

insert into artifact_blob (sha256, size, data)
select distinct on (sha256) sha256, size, data from artifact order by sha256;

alter table artifact drop constraint artifact_size_matches;
alter table artifact drop column data;
alter table artifact add constraint artifact_blob_exists foreign key (sha256) references artifact_blob (sha256);
-- a job's output is recorded once, however often it is collected
alter table artifact add constraint artifact_once_per_job unique (job_id, name, sha256);
