package dev.atelier.store.entity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.Table;
import java.io.Serializable;
import java.time.OffsetDateTime;
import java.util.Objects;

/** A backend an executor serves, with its health and the models it has. */
@Entity
@Table(name = "executor_backend")
@IdClass(ExecutorBackendEntity.Key.class)
public class ExecutorBackendEntity extends PanacheEntityBase {
    @Id
    @Column(name = "executor_id")
    public String executorId;
    @Id
    public String kind;
    public String url;
    public String status;
    public String[] models;
    @Column(name = "checked_at")
    public OffsetDateTime checkedAt;
    public String detail;

    public static class Key implements Serializable {
        public String executorId;
        public String kind;

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Objects.equals(executorId, k.executorId) && Objects.equals(kind, k.kind);
        }

        @Override
        public int hashCode() {
            return Objects.hash(executorId, kind);
        }
    }
}
