package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/** A named job template; {@code {task}} in its strings is replaced when a crew job is submitted. */
@Entity
@Table(name = "crew")
public class CrewEntity extends PanacheEntityBase {
    @Id
    public String name;
    @JdbcTypeCode(SqlTypes.JSON)
    public String template;
    @Column(name = "created_at")
    public OffsetDateTime createdAt;
    @Column(name = "updated_at")
    public OffsetDateTime updatedAt;
}
