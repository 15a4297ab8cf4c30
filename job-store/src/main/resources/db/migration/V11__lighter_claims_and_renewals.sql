-- Issue 19: the claim and the lease renewals, lighter.

-- ollama_model_key (V7) as one expression, which the planner inlines. The old body selected from a subquery, so each
-- call ran the SQL-function executor: the bench's claim called it ten times per job it claimed (a sixth of its time).
-- Not strict any more (an inlined function's body must be), but null in still gives null out.
create or replace function ollama_model_key(name text) returns text
    language sql immutable parallel safe as
$$
select regexp_replace(
           regexp_replace(regexp_replace(lower(name), '^registry\.ollama\.ai/', ''), '^library/', ''),
           '^((.*/)?[^/:]*)$', '\1:latest')
$$;

-- The key stored with the job, so claims and sweeps compare a column instead of computing it for every row they look
-- at. (Adding it rewrites the job table once.)
alter table job add column model_key text generated always as (ollama_model_key(model)) stored;

-- Heartbeats rewrite lease_expires_at of every running job every few seconds. While an index held it, each renewal
-- was a new row version with an entry in every index of the job table. The reaper now finds expired leases through
-- job_running_batch (the running jobs: as many as the cluster has slots), and renewals are HOT updates where the page
-- has room, which the fill factor leaves on pages written from now on.
drop index job_lease_expiry;
alter table job set (fillfactor = 90);
