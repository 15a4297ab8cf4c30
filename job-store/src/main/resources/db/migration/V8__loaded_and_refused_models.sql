-- What each executor's Ollama holds in memory now (GET /api/ps), published with its heartbeat next to the models it
-- has: name, VRAM used, and when keep_alive lets it go. Three arrays of one length, one element per loaded model.
alter table executor_backend
    add column loaded_names text[] not null default '{}',
    add column loaded_vram bigint[] not null default '{}',
    add column loaded_until timestamptz[] not null default '{}',
    add constraint executor_backend_loaded_lists_match check (
        cardinality(loaded_names) = cardinality(loaded_vram) and cardinality(loaded_names) = cardinality(loaded_until));

-- Models this executor's Ollama has but cannot load now ("model requires more system memory ... than is available"):
-- it claims none of their jobs for a while, so a bigger box can take them. With Ollama's message, so that a job
-- every live executor refuses fails saying why.
alter table executor_backend
    add column refused_models text[] not null default '{}',
    add column refused_reasons text[] not null default '{}',
    add constraint executor_backend_refused_lists_match check (cardinality(refused_models) = cardinality(refused_reasons));
