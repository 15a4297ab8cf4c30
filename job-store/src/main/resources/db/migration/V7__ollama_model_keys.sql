-- Model names compare the way Ollama compares them (REALITY.md, Ollama 5): case-insensitively, with the default
-- registry and namespace dropped and the tag "latest" implied, so Llama3.2, library/llama3.2 and
-- registry.ollama.ai/library/llama3.2:latest are one model. Jobs keep the name as submitted; claims and the model
-- sweep compare keys. dev.atelier.store.ModelNames is the same rule in Java (a test checks that they agree).
create function ollama_model_key(name text) returns text
    language sql immutable strict parallel safe as
$$
select case when n ~ ':[^/]*$' then n else n || ':latest' end
from (select regexp_replace(regexp_replace(lower(name), '^registry\.ollama\.ai/', ''), '^library/', '') as n) s
$$;
