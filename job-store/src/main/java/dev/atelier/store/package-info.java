/**
 * The job store: the only SQL about jobs in the project (DESIGN.md, "Rules that every part must agree on"), split by
 * who calls it: {@link dev.atelier.store.JobIntake} (the gateway's intake), {@link dev.atelier.store.JobClaims}
 * (executors' claims), {@link dev.atelier.store.AttemptOutcomes} (what executors report of their attempts),
 * {@link dev.atelier.store.QueueSweeps} (maintenance) and {@link dev.atelier.store.JobControl} (cancel and retry),
 * with the reads in {@link dev.atelier.store.BatchViews}, {@link dev.atelier.store.JobViews} and
 * {@link dev.atelier.store.JobCounts}.
 *
 * <p>Each operation runs in its own transaction and takes an optional {@code now}; null means the database clock,
 * so executors on different nodes never disagree and tests control time. Writes that finish attempts take many
 * jobs at once: executors batch them, because one job per transaction is bound by the WAL flush.
 *
 * <p>Export lines are written by triggers (V1__schema.sql), so no path to a terminal state can forget one.
 */
package dev.atelier.store;
