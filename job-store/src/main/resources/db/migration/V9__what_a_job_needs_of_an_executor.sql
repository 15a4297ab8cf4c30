-- What a job needs of the executor that runs it, beyond its backend kind and model.

-- The checkpoint files a ComfyUI workflow loads (its ckpt_name inputs): claims send it only to an executor whose
-- ComfyUI has them all, the way Ollama jobs go only where their model is (REALITY.md, ComfyUI 7).
alter table job add column checkpoints text[] not null default '{}';
update job set checkpoints = array(
    select distinct c from jsonb_array_elements_text(
        jsonb_path_query_array(spec, 'strict $.workflow.* ? (exists(@.inputs.ckpt_name)).inputs.ckpt_name ? (@.type() == "string")')) as c)
where kind = 'comfyui' and state in ('pending', 'retry', 'running');

-- A job some executor cannot run for a reason of that box alone (a LoRA or custom node it lacks) is handed back and
-- kept off that executor; another may have what it needs. When every live executor of its kind is on the list, the
-- model sweep fails the job with the last one's words. A retry by hand clears the list.
alter table job add column avoid_executors text[] not null default '{}';
