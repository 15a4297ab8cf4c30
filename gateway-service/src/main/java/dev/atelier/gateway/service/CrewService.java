package dev.atelier.gateway.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.atelier.api.Page;
import dev.atelier.api.Problem;
import dev.atelier.api.Problem.FieldError;
import dev.atelier.api.ProblemException;
import dev.atelier.store.entity.CrewEntity;
import io.quarkus.panache.common.Sort;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** Crews: named job templates. A crew job expands from its template when it is submitted. */
@ApplicationScoped
public class CrewService {

    public static final Pattern NAME = Pattern.compile("[a-z0-9-]{1,64}");
    static final String TASK_PLACEHOLDER = "{task}";
    /** A template, in characters of JSON: large ComfyUI workflows take tens of KiB; every crew job copies it. */
    public static final int MAX_TEMPLATE_CHARS = 262_144;

    /** A crew as clients see it. */
    @io.quarkus.runtime.annotations.RegisterForReflection
    public record Crew(String name, JsonNode template, OffsetDateTime createdAt, OffsetDateTime updatedAt) {
    }

    @Inject
    ObjectMapper mapper;

    @Inject
    JobSpecValidator validator;

    public Optional<Crew> find(String name) {
        return CrewEntity.<CrewEntity>findByIdOptional(name).map(this::toCrew);
    }

    /** Crews in name order, after the cursor (a name). */
    public Page<Crew> list(String after, int limit) {
        List<CrewEntity> rows = after == null
                ? CrewEntity.<CrewEntity>findAll(Sort.by("name")).page(0, limit + 1).list()
                : CrewEntity.<CrewEntity>find("name > ?1", Sort.by("name"), after).page(0, limit + 1).list();
        return Page.of(rows.stream().map(this::toCrew).toList(), limit, Crew::name);
    }

    /**
     * Creates or replaces a crew. Stored jobs keep the template they were expanded from.
     *
     * @return true when the crew is new
     */
    @Transactional
    public boolean put(String name, JsonNode template) {
        check(name, template);
        CrewEntity crew = CrewEntity.findById(name);
        OffsetDateTime now = OffsetDateTime.now();
        boolean created = crew == null;
        if (created) {
            crew = new CrewEntity();
            crew.name = name;
            crew.createdAt = now;
        }
        crew.template = write(template);
        crew.updatedAt = now;
        crew.persist();
        return created;
    }

    /** Stores a crew unless one of that name exists (the starter crews never overwrite an operator's edit). */
    @Transactional
    public boolean createIfMissing(String name, JsonNode template) {
        if (CrewEntity.findById(name) != null) {
            return false;
        }
        return put(name, template);
    }

    @Transactional
    public boolean delete(String name) {
        return CrewEntity.deleteById(name);
    }

    /** Rejects a bad name or template with one problem naming every bad field. */
    public void check(String name, JsonNode template) {
        Problem.FieldErrors errors = new Problem.FieldErrors();
        if (name == null || !NAME.matcher(name).matches()) {
            errors.add(new FieldError("name", "must match [a-z0-9-]{1,64}"));
        }
        String text = template == null ? "" : template.toString();
        if (template == null || !(template.isObject() || template.isArray())) {
            errors.add(new FieldError("template", "must be a JSON object, or a list of steps (objects)"));
        } else if (text.length() > MAX_TEMPLATE_CHARS) {
            errors.add(new FieldError("template", "is " + text.length() + " characters of JSON, over the "
                    + MAX_TEMPLATE_CHARS + " a crew template may hold"));
        } else {
            if (template.isObject()) {
                step(template, "", errors);
            } else if (template.size() < 2 || template.size() > CrewSteps.MAX_STEPS) {
                errors.add(new FieldError("template", "a crew with steps has 2 to " + CrewSteps.MAX_STEPS
                        + " of them, not " + template.size()));
            } else {
                for (int i = 0; i < template.size(); i++) {
                    if (!template.get(i).isObject()) {
                        errors.add(new FieldError("template[" + i + "]", "must be an object (a job template)"));
                    } else {
                        step(template.get(i), "template[" + i + "].", errors);
                    }
                }
                if (errors.isEmpty() && CrewSteps.usesPrevious(template.get(0))) {
                    errors.add(new FieldError("template[0]", "the first step has no previous step to use"));
                }
                if (errors.isEmpty()) {
                    // each {{previous...}} asks the step before for what it gives (text, JSON, an artifact)
                    List<CrewSteps.Step> steps = CrewSteps.of(template, "crew", List.of());
                    List<PipelineRules.Job> jobs = new java.util.ArrayList<>();
                    for (int i = 0; i < steps.size(); i++) {
                        CrewSteps.Step step = steps.get(i);
                        jobs.add(new PipelineRules.Job(i, step.key(), 1, step.type(), step.spec(), step.after()));
                    }
                    List<FieldError> found = new java.util.ArrayList<>();
                    PipelineRules.check(jobs, dev.atelier.store.BatchMode.PARALLEL, found);
                    found.forEach(e -> errors.add(new FieldError(e.field().replace("jobs[", "template["),
                            e.message().replaceAll("\\{\\{(\\s*)jobs\\.crew(\\.\\d+)?\\.", "{{$1previous.")
                                    .replaceAll("'crew(\\.\\d+)?'", "the previous step"))));
                }
            }
            if (!text.contains(TASK_PLACEHOLDER)) {
                errors.add(new FieldError("template", "must use " + TASK_PLACEHOLDER
                        + " in a string (the prompt, a message or a workflow input), or the task would be ignored"));
            }
        }
        if (!errors.isEmpty()) {
            throw new ProblemException(Problem.invalid("the crew is not valid", errors));
        }
    }

    /** One job template: a known type and a valid spec for it. */
    private void step(JsonNode template, String prefix, List<FieldError> errors) {
        JsonNode type = template.get("type");
        if (type == null || !type.isTextual() || !JobSpecValidator.TYPES.contains(type.asText())) {
            errors.add(new FieldError(prefix + "type", "must be one of comfyui.workflow, ollama.chat, ollama.generate"));
        } else {
            validator.validate(type.asText(), template, prefix, errors);
        }
    }

    private Crew toCrew(CrewEntity entity) {
        try {
            return new Crew(entity.name, mapper.readTree(entity.template), entity.createdAt, entity.updatedAt);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("crew " + entity.name + " has a stored template that is not JSON", e);
        }
    }

    private String write(JsonNode template) {
        try {
            return mapper.writeValueAsString(template);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
