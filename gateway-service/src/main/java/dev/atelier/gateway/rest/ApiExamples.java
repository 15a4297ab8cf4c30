package dev.atelier.gateway.rest;

/** Example bodies for the OpenAPI document, one place for all of them. */
final class ApiExamples {

    private ApiExamples() {
    }

    static final String BATCH = """
            {"id": "0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f01", "name": "mk1-roster", "mode": "priority", "priority": 1,
             "state": "running", "labels": {"project": "mk1"}, "submitted_by": "ci",
             "created_at": "2026-01-12T02:00:00Z", "started_at": "2026-01-12T02:00:03Z", "finished_at": null,
             "elapsed_sec": 12.5,
             "status_counts": {"pending": 2, "running": 1, "retry": 0, "success": 1, "failed": 0, "cancelled": 0},
             "progress": 0.25,
             "groups": [{"priority": 1, "status_counts": {"pending": 0, "running": 1, "retry": 0, "success": 1, "failed": 0, "cancelled": 0}}],
             "jobs": [{"id": "0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f02", "key": "scorpion", "priority": 1, "state": "success"}]}""";

    static final String CREW = """
            {"name": "mk1", "template": {"type": "ollama.generate", "model": "deepseek-r1:32b",
             "prompt": "Write the MonoBehaviour `{task}Fighter` ..."},
             "created_at": "2026-01-12T02:00:00Z", "updated_at": "2026-01-12T02:00:00Z"}""";

    static final String CREW_TEMPLATE = """
            {"type": "ollama.generate", "model": "deepseek-r1:32b", "system": "You write item descriptions.",
             "prompt": "Describe the item {task} in two sentences.", "options": {"temperature": 0.7}}""";

    static final String CREWS = """
            {"items": [{"name": "code", "template": {"type": "ollama.generate", "model": "deepseek-coder:6.7b",
             "prompt": "Write the Unity C# file {task}."}, "created_at": "2026-01-12T02:00:00Z",
             "updated_at": "2026-01-12T02:00:00Z"}], "next_after": "code"}""";

    static final String JOB_CANCELLED = """
            {"id": "0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f02", "cancelled": false, "cancel_requested": true}""";

    static final String JOB_RETRIED = """
            {"id": "0190f5b2-8c1e-7a3d-9f10-5b2c4d6e8f02", "state": "pending"}""";
}
