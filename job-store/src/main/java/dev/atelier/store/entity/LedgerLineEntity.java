package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.hibernate.annotations.Immutable;

/** A line of ledger.jsonl: a job reached a terminal state. */
@Entity
@Table(name = "ledger_line")
@Immutable
public class LedgerLineEntity extends PanacheEntityBase {
    @Id
    public long id;
    /** Null until the line is numbered (V5__numbered_exports_and_lighter_writes.sql). */
    public Long seq;
    @Column(name = "job_id")
    public UUID jobId;
    @Column(name = "batch_id")
    public UUID batchId;
    public String status;
    public String details;
    public int attempts;
    @Column(name = "occurred_at")
    public OffsetDateTime occurredAt;
    /** As exported: the crew, or the type of a job that is not a crew job (V14, with the fields below). */
    public String crew;
    /** As exported: the task, or the job's key. */
    public String task;
    public String key;
    public int priority;
    public String model;
    public String type;
    /** The JSONL line, rendered when the line is numbered. */
    public String line;
}
