/**
 * Hibernate entities for reading and for simple CRUD. Batches, jobs, attempts and export lines are
 * {@code @Immutable} here: every change to them goes through the statements of dev.atelier.store (JobIntake,
 * JobClaims, AttemptOutcomes, QueueSweeps, JobControl).
 */
package dev.atelier.store.entity;
