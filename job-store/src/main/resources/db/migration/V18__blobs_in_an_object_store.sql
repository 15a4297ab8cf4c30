-- Artifact bytes may live in an S3-compatible object store (atelier.artifacts.storage=s3, BlobStorage.java): a blob
-- row whose data is null names the object blobs/<sha256>, a thumbnail row whose data is null thumbnails/<sha256>-<size>,
-- under the configured bucket and prefix. Rows with data keep their bytes here; both kinds are read alike, so blobs
-- move to the object store one at a time while everything runs.
alter table artifact_blob alter column data drop not null;
alter table artifact_thumbnail alter column data drop not null;

create index artifact_blob_in_postgres on artifact_blob (sha256) where data is not null;
