package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/** An executor process. It is live while {@code lastSeenAt} is within two lease lengths. */
@Entity
@Table(name = "executor")
public class ExecutorEntity extends PanacheEntityBase {
    @Id
    public String id;
    @Column(name = "started_at")
    public OffsetDateTime startedAt;
    @Column(name = "last_seen_at")
    public OffsetDateTime lastSeenAt;
    /** slots per backend kind, a JSON object */
    @JdbcTypeCode(SqlTypes.JSON)
    public String slots;
    /** busy slots per backend kind, a JSON object */
    @JdbcTypeCode(SqlTypes.JSON)
    public String busy;
}
