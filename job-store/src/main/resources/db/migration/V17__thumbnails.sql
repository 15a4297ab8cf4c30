-- Thumbnails the ledger makes of stored images (GET /api/v1/artifacts/{id}?size=256), kept beside the blob they were
-- made from, once per size: several ledgers share them, and a pod's filesystem is read-only. They go with their blob.
create table artifact_thumbnail (
    sha256       text    not null,
    size         integer not null,
    content_type text    not null,
    data         bytea   not null,
    constraint artifact_thumbnail_pkey primary key (sha256, size),
    constraint artifact_thumbnail_blob foreign key (sha256) references artifact_blob (sha256) on delete cascade,
    constraint artifact_thumbnail_size_range check (size between 16 and 1024)
);
