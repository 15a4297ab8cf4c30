package dev.atelier.gateway.rest;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;

import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** POST /api/v1/batches with pipelines (API.md, "Pipelines"): the edges and templates a batch may hold. */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class PipelineRequestTests {

    private static final String LOOK = """
            {"key": "look", "type": "ollama.generate", "model": "deepseek-r1:32b", "format": "json",
             "prompt": "Describe Scorpion's look for a painter, as JSON {\\"description\\": ...}"}""";
    private static final String BIO = """
            {"key": "bio", "type": "ollama.generate", "model": "deepseek-r1:32b", "prompt": "Write Scorpion's bio"}""";

    @Inject
    DataSource dataSource;

    private long count(String sql, Object... args) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static ValidatableResponse submit(String mode, String... jobs) {
        return given().contentType(ContentType.JSON)
                .body("{\"name\": \"scorpion-portrait\", \"mode\": \"" + mode + "\", \"jobs\": ["
                        + String.join(",", jobs) + "]}")
                .post("/api/v1/batches").then();
    }

    private void refused(String field, String message, String mode, String... jobs) throws Exception {
        long batches = count("select count(*) from batch");
        submit(mode, jobs).statusCode(400).contentType("application/problem+json")
                .body("errors", hasSize(1))
                .body("errors[0].field", equalTo(field))
                .body("errors[0].message", containsString(message));
        assertThat(count("select count(*) from batch")).as("nothing is stored").isEqualTo(batches);
    }

    @Test
    void theApiExampleIsStoredWithItsEdgeAndItsTemplateKept() throws Exception {
        String id = submit("priority", LOOK, """
                {"key": "portrait", "type": "comfyui.workflow", "after": ["look"],
                 "workflow": {"6": {"class_type": "CLIPTextEncode",
                                    "inputs": {"text": "{{jobs.look.json.description}}, ink"}}}}""")
                .statusCode(201).extract().path("id");
        UUID batch = UUID.fromString(id);
        assertThat(count("select upstreams_left from job where batch_id = ? and key = 'portrait'", batch)).isEqualTo(1);
        assertThat(count("select count(*) from job_upstream x join job u on u.id = x.upstream_id"
                + " where u.batch_id = ? and u.key = 'look'", batch)).isEqualTo(1);
        assertThat(count("select count(*) from job where batch_id = ? and spec_template is not null", batch))
                .isEqualTo(1);
    }

    @Test
    void anUnknownKeyIsRefused() throws Exception {
        refused("jobs[1].after", "no job of this batch has the key 'lok'", "parallel", LOOK,
                "{\"key\": \"p\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": [\"lok\"]}");
    }

    @Test
    void aJobCannotWaitForItself() throws Exception {
        refused("jobs[0].after", "cannot wait for itself", "parallel",
                "{\"key\": \"p\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": [\"p\"]}");
    }

    @Test
    void aCycleIsRefusedNamingItsJobs() throws Exception {
        refused("jobs[2].after", "'a' waits for 'b' waits for 'c' waits for 'a'", "parallel",
                "{\"key\": \"a\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": [\"b\"]}",
                "{\"key\": \"b\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": [\"c\"]}",
                "{\"key\": \"c\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": [\"a\"]}");
    }

    @Test
    void anEdgeTheModeCouldNeverSatisfyIsRefused() throws Exception {
        String later = "{\"key\": \"late\", \"priority\": 2, \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\"}";
        String early = "{\"key\": \"early\", \"priority\": 1, \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\","
                + " \"after\": [\"late\"]}";
        refused("jobs[1].after", "priority group 2", "priority", later, early);
        refused("jobs[0].after", "comes later in this sequential batch", "sequential",
                "{\"key\": \"first\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": [\"second\"]}",
                "{\"key\": \"second\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\"}");
        submit("parallel", later, early).statusCode(201); // parallel has no gate: the edge alone orders them
    }

    @Test
    void aTemplateNamingAJobOutsideAfterIsRefused() throws Exception {
        refused("jobs[1]", "template {{jobs.bio.text}} names job 'bio', which is not in this job's after", "parallel",
                BIO, "{\"key\": \"p\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"Sum up {{jobs.bio.text}}\"}");
    }

    @Test
    void aJsonPathIntoAnAnswerThatIsNotJsonIsRefused() throws Exception {
        refused("jobs[1]", "'bio' has no format, so its answer is text, not JSON", "parallel", BIO, """
                {"key": "p", "type": "comfyui.workflow", "after": ["bio"],
                 "workflow": {"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{jobs.bio.json.look}}"}}}}""");
    }

    @Test
    void anArtifactOfAnOllamaJobOrTextOfAComfyuiJobIsRefused() throws Exception {
        refused("jobs[1]", "is an Ollama job: it stores no artifact", "parallel", BIO, """
                {"key": "p", "type": "comfyui.workflow", "after": ["bio"],
                 "workflow": {"1": {"class_type": "LoadImage", "inputs": {"image": {"artifact": "{{jobs.bio.artifact}}"}}}}}""");
        refused("jobs[1]", "is a ComfyUI job: it answers with images", "parallel", """
                {"key": "paint", "type": "comfyui.workflow", "workflow": {"3": {"class_type": "KSampler", "inputs": {}}}}""",
                "{\"key\": \"p\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"{{jobs.paint.text}}\", \"after\": [\"paint\"]}");
    }

    @Test
    void aModelCannotComeFromATemplate() throws Exception {
        refused("jobs[1].model", "cannot come from a template", "parallel", BIO,
                "{\"key\": \"p\", \"type\": \"ollama.generate\", \"model\": \"{{jobs.bio.text}}\", \"prompt\": \"x\","
                        + " \"after\": [\"bio\"]}");
    }

    @Test
    void textThatOnlyLooksLikeATemplateIsLeftAlone() {
        submit("parallel", "{\"key\": \"hbs\", \"type\": \"ollama.generate\", \"model\": \"m\","
                + " \"prompt\": \"Write a Handlebars view using {{jobs.count}} and {{ user.name }}\"}").statusCode(201);
    }

    @Test
    void afterMustBeAListOfDistinctKeys() throws Exception {
        refused("jobs[1].after", "must be an array", "parallel", BIO,
                "{\"key\": \"p\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": \"bio\"}");
        refused("jobs[1].after", "names 'bio' twice", "parallel", BIO,
                "{\"key\": \"p\", \"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"x\", \"after\": [\"bio\", \"bio\"]}");
    }

    @Test
    void aCrewWithStepsBecomesAChainNamedByTheCrewJobsKey() throws Exception {
        String id = submit("priority", "{\"key\": \"scorpion\", \"crew\": \"mk1-portrait\", \"task\": \"Scorpion\"}",
                "{\"key\": \"frame\", \"type\": \"ollama.generate\", \"model\": \"m\", \"after\": [\"scorpion\"],"
                        + " \"prompt\": \"A caption for the portrait {{jobs.scorpion.artifact}}\"}")
                .statusCode(201)
                .body("jobs.key", org.hamcrest.Matchers.contains("scorpion.1", "scorpion", "frame"))
                .body("jobs.after", org.hamcrest.Matchers.contains(java.util.List.of(), java.util.List.of("scorpion.1"),
                        java.util.List.of("scorpion")))
                .body("chains", org.hamcrest.Matchers.contains(java.util.List.of("scorpion.1", "scorpion", "frame")))
                .extract().path("id");
        UUID batch = UUID.fromString(id);
        assertThat(count("select count(*) from job where batch_id = ? and key = 'scorpion.1' and type = 'ollama.generate'"
                + " and spec->>'format' = 'json' and spec->>'prompt' like '%Scorpion%' and crew = 'mk1-portrait'", batch))
                .isEqualTo(1);
        assertThat(count("select count(*) from job where batch_id = ? and key = 'scorpion' and type = 'comfyui.workflow'"
                + " and spec::text like '%{{jobs.scorpion.1.json.description}}, full-body character portrait of Scorpion%'",
                batch)).isEqualTo(1);
    }

    @Test
    void aCrewsStepsMustEachGiveWhatTheNextOneAsksFor() {
        String ollama = "{\"type\": \"ollama.generate\", \"model\": \"m\", \"prompt\": \"%s\"}";
        given().contentType(ContentType.JSON).body("[" + String.format(ollama, "{{previous.text}} {task}") + ","
                        + String.format(ollama, "x") + "]")
                .put("/api/v1/crews/bad-steps").then().statusCode(400)
                .body("errors[0].field", equalTo("template[0]"))
                .body("errors[0].message", containsString("no previous step"));
        given().contentType(ContentType.JSON).body("[" + String.format(ollama, "{task}") + ","
                        + String.format(ollama, "{{previous.json.look}}") + "]")
                .put("/api/v1/crews/bad-steps").then().statusCode(400)
                .body("errors[0].field", equalTo("template[1]"))
                .body("errors[0].message", containsString("{{previous.json.look}}"))
                .body("errors[0].message", containsString("the previous step has no format"));
        given().contentType(ContentType.JSON).body("[" + String.format(ollama, "{task}") + ","
                        + String.format(ollama, "{{previous.text}}") + "]")
                .put("/api/v1/crews/good-steps").then().statusCode(201);
    }
}
