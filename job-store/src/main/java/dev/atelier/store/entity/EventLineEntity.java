package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.hibernate.annotations.Immutable;

/** A line of events.jsonl: an attempt closed, or a job was handed back (no attempt number). */
@Entity
@Table(name = "event_line")
@Immutable
public class EventLineEntity extends PanacheEntityBase {
    @Id
    public long id;
    /** Null until the line is numbered (V5__numbered_exports_and_lighter_writes.sql). */
    public Long seq;
    @Column(name = "job_id")
    public UUID jobId;
    @Column(name = "batch_id")
    public UUID batchId;
    public Integer attempt;
    @Column(name = "executor_id")
    public String executorId;
    public String status;
    @Column(name = "elapsed_sec")
    public double elapsedSec;
    @Column(name = "result_preview")
    public String resultPreview;
    @Column(name = "occurred_at")
    public OffsetDateTime occurredAt;
    /** As exported: the crew, or the type of a job that is not a crew job (V14, with the fields below). */
    public String crew;
    /** As exported: the task, or the job's key. */
    public String task;
    public int priority;
    /** The JSONL line, rendered when the line is numbered. */
    public String line;
}
