-- What each executor's Ollama holds in memory now (GET /api/ps), published with its heartbeat next to the models it
-- has: name, VRAM used, and when keep_alive lets it go. Three arrays of one length, one element per loaded model.
alter table executor_backend
    add column loaded_names text[] not null default '{}',
    add column loaded_vram bigint[] not null default '{}',
    add column loaded_until timestamptz[] not null default '{}',
    add constraint executor_backend_loaded_lists_match check (
        cardinality(loaded_names) = cardinality(loaded_vram) and cardinality(loaded_names) = cardinality(loaded_until));
