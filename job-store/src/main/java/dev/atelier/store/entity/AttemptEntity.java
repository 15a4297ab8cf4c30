package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.hibernate.annotations.Immutable;

/** One attempt of a job. Keyed here by its lease token, which is unique; the table's key is (job_id, attempt). */
@Entity
@Table(name = "attempt")
@Immutable
public class AttemptEntity extends PanacheEntityBase {
    @Id
    @Column(name = "lease_token")
    public UUID leaseToken;
    @Column(name = "job_id")
    public UUID jobId;
    public int attempt;
    @Column(name = "executor_id")
    public String executorId;
    public String status;
    @Column(name = "started_at")
    public OffsetDateTime startedAt;
    @Column(name = "finished_at")
    public OffsetDateTime finishedAt;
    public String error;
}
