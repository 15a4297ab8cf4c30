-- A job handed back again and again for a reason of its own (a model Ollama lists but answers 404 for, a ComfyUI
-- output that cannot be fetched) used to loop claim -> hand back at network speed, writing an event line each
-- round. The executors now count such hand-backs; after a few in a row the next round spends an attempt instead.
-- Outages, a busy backend and shutdowns are not counted; any spent attempt (or a success) ends the run.
alter table job add column hand_backs_in_row integer not null default 0
    constraint job_hand_backs_in_row_nonnegative check (hand_backs_in_row >= 0);
