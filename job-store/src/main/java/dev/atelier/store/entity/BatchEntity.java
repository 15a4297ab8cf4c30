package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.hibernate.annotations.Immutable;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

@Entity
@Table(name = "batch")
@Immutable
public class BatchEntity extends PanacheEntityBase {
    @Id
    public UUID id;
    public String name;
    public String mode;
    public int priority;
    @JdbcTypeCode(SqlTypes.JSON)
    public String labels;
    @Column(name = "max_attempts")
    public int maxAttempts;
    @Column(name = "retry_delay_ms")
    public long retryDelayMs;
    @Column(name = "retry_backoff")
    public double retryBackoff;
    @Column(name = "job_count")
    public int jobCount;
    @Column(name = "submitted_by")
    public String submittedBy;
    @Column(name = "created_at")
    public OffsetDateTime createdAt;
    @Column(name = "cancelled_at")
    public OffsetDateTime cancelledAt;
    @Column(name = "finished_at")
    public OffsetDateTime finishedAt;
    @Column(name = "finished_state")
    public String finishedState;
}
