package dev.atelier.gateway.service;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.atelier.api.Problem.FieldError;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.Valid;
import jakarta.validation.Validator;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.StringJoiner;
import org.hibernate.validator.constraints.time.DurationMax;
import org.hibernate.validator.constraints.time.DurationMin;

/**
 * The ranges of API.md's batch table, as Bean Validation constraints. {@link BatchRequestValidator} reads the JSON
 * types first (a wrong type would stop binding at the first mistake), fills these records with what it read, and
 * lets Hibernate Validator check the ranges; a violation is reported under the client's field name.
 */
final class RequestRules {

    private RequestRules() {
    }

    /** The batch's own fields; a field with a wrong JSON type or left out holds its default. */
    record BatchFields(
            @NotNull(message = "is required") @Size(min = 1, max = 200) String name,
            @Min(0) @Max(1000) int priority,
            @Valid RetryFields retry) {
    }

    record RetryFields(
            @Min(1) @Max(20) int maxAttempts,
            @DurationMin(seconds = 0) @DurationMax(hours = 1) Duration delay,
            @DecimalMin("1.0") @DecimalMax("10.0") double backoff) {
    }

    /** A job's fields common to every type; {@code crew} and {@code task} are null for a typed job. */
    record JobFields(
            @NotNull(message = "is required") @Pattern(regexp = "[A-Za-z0-9._-]{1,100}",
                    message = "must match [A-Za-z0-9._-]{1,100}") String key,
            @Min(0) @Max(1000) int priority,
            @Min(1) @Max(20) Integer maxAttempts,
            @DurationMin(seconds = 1) @DurationMax(hours = 24) Duration timeout,
            @Size(min = 1, max = 64) String crew,
            @Size(min = 1, max = 10_000) String task) {
    }

    private static final PropertyNamingStrategies.NamingBase SNAKE_CASE =
            (PropertyNamingStrategies.NamingBase) PropertyNamingStrategies.SNAKE_CASE;

    /** Adds one error per violation, named as the client wrote the field ({@code jobs[2].max_attempts}). */
    static <T> void check(Validator validator, T fields, String prefix, List<FieldError> errors) {
        List<FieldError> found = new ArrayList<>();
        for (ConstraintViolation<T> violation : validator.validate(fields)) {
            StringJoiner field = new StringJoiner(".", prefix, "");
            violation.getPropertyPath().forEach(node -> field.add(SNAKE_CASE.translate(node.getName())));
            found.add(new FieldError(field.toString(), violation.getMessage()));
        }
        found.sort(Comparator.comparing(FieldError::field)); // the validator reports in no particular order
        errors.addAll(found);
    }
}
