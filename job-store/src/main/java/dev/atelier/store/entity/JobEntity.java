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
@Table(name = "job")
@Immutable
public class JobEntity extends PanacheEntityBase {
    @Id
    public UUID id;
    @Column(name = "batch_id")
    public UUID batchId;
    public int position;
    public String key;
    public int priority;
    public boolean sequential;
    public String kind;
    public String type;
    public String model;
    public String crew;
    public String task;
    @JdbcTypeCode(SqlTypes.JSON)
    public String spec;
    @Column(name = "timeout_ms")
    public long timeoutMs;
    public String state;
    public int attempt;
    @Column(name = "attempts_used")
    public int attemptsUsed;
    @Column(name = "max_attempts")
    public int maxAttempts;
    @Column(name = "run_after")
    public OffsetDateTime runAfter;
    @Column(name = "lease_token")
    public UUID leaseToken;
    @Column(name = "lease_expires_at")
    public OffsetDateTime leaseExpiresAt;
    @Column(name = "executor_id")
    public String executorId;
    @Column(name = "cancel_requested_at")
    public OffsetDateTime cancelRequestedAt;
    @Column(name = "waiting_reason")
    public String waitingReason;
    @Column(name = "created_at")
    public OffsetDateTime createdAt;
    @Column(name = "started_at")
    public OffsetDateTime startedAt;
    @Column(name = "finished_at")
    public OffsetDateTime finishedAt;
    @JdbcTypeCode(SqlTypes.JSON)
    public String result;
    public String error;
    public Float progress;
}
