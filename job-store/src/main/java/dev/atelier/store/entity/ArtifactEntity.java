package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;

/** A file a job produced, with its digest (served as the ETag); the bytes live once per digest in artifact_blob. */
@Entity
@Table(name = "artifact")
public class ArtifactEntity extends PanacheEntityBase {
    @Id
    public UUID id;
    @Column(name = "job_id")
    public UUID jobId;
    public int attempt;
    public String name;
    @Column(name = "content_type")
    public String contentType;
    public long size;
    public String sha256;
    @Column(name = "created_at")
    public OffsetDateTime createdAt;
}
