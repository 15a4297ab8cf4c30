/**
 * Hibernate entities for reading and for simple CRUD. Batches, jobs, attempts and export lines are
 * {@code @Immutable} here: every change to them goes through {@link dev.atelier.store.JobQueue}.
 */
package dev.atelier.store.entity;
