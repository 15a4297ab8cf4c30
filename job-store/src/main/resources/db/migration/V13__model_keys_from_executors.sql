-- One rule for model keys, on one side. Jobs carry keys made by dev.atelier.store.ModelNames at intake (V11);
-- executors' models were keyed here by ollama_model_key, whose lower() follows the database's LC_CTYPE, so a name
-- with a letter the two lowercase differently (U+0130 İ: Java gives "i̇", glibc "i", the C locale leaves it) had
-- two keys, and the model sweep could fail a job an executor offers. Executors now publish their models' keys, made
-- by the same Java rule as the jobs', beside the names; the database only compares keys.
alter table executor_backend
    add column model_keys text[] not null default '{}',
    add column loaded_keys text[] not null default '{}',
    add column refused_keys text[] not null default '{}';

-- rows written before this version; an executor of this version rewrites its own at its next report (seconds)
update executor_backend
set model_keys = array(select ollama_model_key(m) from unnest(models) with ordinality as m(m, n) order by n),
    loaded_keys = array(select ollama_model_key(m) from unnest(loaded_names) with ordinality as m(m, n) order by n),
    refused_keys = array(select ollama_model_key(m) from unnest(refused_models) with ordinality as m(m, n) order by n)
where kind = 'ollama';

-- No check that the key lists match the name lists: executors of the previous version keep reporting names only
-- while a rolling upgrade replaces them, and a failed report would make them look dead.
