package dev.atelier.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.atelier.client.gateway.model.BatchSubmission;
import dev.atelier.client.gateway.model.ChatMessage;
import dev.atelier.client.gateway.model.FieldError;
import dev.atelier.client.gateway.model.JobSubmission;
import dev.atelier.client.gateway.model.Problem;
import dev.atelier.client.gateway.model.WorkflowNode;
import dev.atelier.client.ledger.model.LedgerLine;
import dev.atelier.fakes.FakeComfy;
import dev.atelier.ledger.dashboard.Browser;
import dev.atelier.store.testing.PodJvm;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The studio's roster, as the old batch runner ran it, through the HTTP API of the whole stack: the starter crews
 * {@code mk1} and {@code code}, a ComfyUI crew made here for portraits, and one {@code priority} batch.
 */
class StudioRosterIT {

    static Stack stack;

    @BeforeAll
    static void start() throws Exception {
        // executor-b connects as behind the gpu overlay's Pooler: through PgBouncer in transaction mode
        stack = Stack.start("roster", java.util.Set.of("executor-b"), "executor-a", "executor-b");
        stack.ollama.answerMillis(300); // long enough that a priority group starting early would overlap
    }

    @AfterAll
    static void stop() throws Exception {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void anExecutorBehindPgBouncerInTransactionModeClaimsRunsAndStoresArtifacts() throws Exception {
        stack.freeze("executor-a", true); // so every job goes to executor-b
        try {
            String batchId = stack.submit(Map.of("name", "pooled", "jobs", List.of(
                    Map.of("key", "bio", "type", "ollama.generate", "model", "llama3.2", "prompt", "a short bio"),
                    Map.of("key", "lore", "type", "ollama.generate", "model", "llama3.2", "prompt", "some lore"),
                    Map.of("key", "portrait", "type", "comfyui.workflow", "workflow", Stack.json(FakeComfy.txt2img())))));
            JsonNode batch = stack.awaitTerminal(batchId, Duration.ofSeconds(60));
            assertThat(batch.path("state").asText()).isEqualTo("success");
            for (JsonNode listed : stack.jobs(batchId)) {
                JsonNode job = stack.job(listed.path("id").asText());
                assertThat(job.path("attempts")).extracting(a -> a.path("executor").asText()).containsOnly("executor-b");
            }
            JsonNode portrait = stack.jobs(batchId).stream().filter(j -> "portrait".equals(j.path("key").asText()))
                    .findFirst().map(j -> stack.job(j.path("id").asText())).orElseThrow();
            assertThat(portrait.path("result").path("artifacts")).as("stored through PgBouncer").hasSize(1);
        } finally {
            stack.freeze("executor-a", false);
        }
        // executor-b's pool and heartbeat logged in through PgBouncer (its LISTEN and Flyway go around it)
        assertThat(stack.pgbouncer.logins("atelier")).isGreaterThanOrEqualTo(2);
    }

    @Test
    void theRosterRunsInPriorityOrderAndEveryResultArtifactAndExportLinesUp() throws Exception {
        JsonNode workflow = Stack.json(FakeComfy.txt2img());
        ((com.fasterxml.jackson.databind.node.ObjectNode) workflow.get("6").get("inputs"))
                .put("text", "a portrait of {task}, Mortal Kombat 1 key art, slow:300");
        stack.admin().body(Map.of("type", "comfyui.workflow", "workflow", workflow))
                .put("/api/v1/crews/portrait").then().statusCode(201);

        String batchId = stack.submit(Map.of("name", "mk1-roster", "mode", "priority",
                "labels", Map.of("project", "mk1"),
                "jobs", List.of(
                        Map.of("key", "scorpion", "crew", "mk1", "task", "Scorpion", "priority", 1),
                        Map.of("key", "subzero", "crew", "mk1", "task", "SubZero", "priority", 1),
                        Map.of("key", "raiden", "crew", "mk1", "task", "Raiden", "priority", 2),
                        Map.of("key", "liukang", "crew", "mk1", "task", "LiuKang", "priority", 2),
                        Map.of("key", "healthui", "crew", "code", "task", "Create HealthUI.cs", "priority", 3),
                        Map.of("key", "scorpion-portrait", "crew", "portrait", "task", "Scorpion", "priority", 2),
                        Map.of("key", "subzero-portrait", "crew", "portrait", "task", "SubZero", "priority", 2))));

        JsonNode batch = stack.awaitTerminal(batchId, Duration.ofSeconds(90));
        assertThat(batch.path("state").asText()).isEqualTo("success");
        assertThat(batch.path("status_counts").path("success").asInt()).isEqualTo(7);
        assertThat(batch.path("progress").asDouble()).isEqualTo(1.0);

        Map<String, JsonNode> jobs = stack.jobs(batchId).stream()
                .map(j -> stack.job(j.path("id").asText()))
                .collect(Collectors.toMap(j -> j.path("key").asText(), j -> j, (a, b) -> a, TreeMap::new));
        assertThat(jobs).hasSize(7);

        // ordering, from the attempts' own timestamps: a group starts only after the one before it has finished
        Map<Integer, List<JsonNode>> attemptsByGroup = new TreeMap<>();
        jobs.values().forEach(j -> {
            assertThat(j.path("attempts")).as(j.path("key").asText()).hasSize(1);
            attemptsByGroup.computeIfAbsent(j.path("priority").asInt(), p -> new java.util.ArrayList<>())
                    .add(j.path("attempts").get(0));
        });
        assertThat(attemptsByGroup.keySet()).containsExactly(1, 2, 3);
        // Database times are transaction starts: a claim can begin a few ms before the completion it then sees
        // commits (a loaded machine deschedules backends), so "after the last finish" gets a margin. "The group's
        // answers had run" (300 ms each, Ollama and ComfyUI alike) is checked with a margin of 100 ms too.
        for (int group = 1; group <= 2; group++) {
            List<JsonNode> before = attemptsByGroup.get(group);
            Instant nextStart = firstStart(attemptsByGroup.get(group + 1));
            assertThat(nextStart).as("group %d starts after group %d finished", group + 1, group)
                    .isAfter(lastFinish(before).minusMillis(100))
                    .isAfter(lastStart(before).plusMillis(200));
        }
        // which executor took which job is up to the claims; each attempt names one of the two
        assertThat(jobs.values()).allSatisfy(j -> assertThat(j.path("attempts").get(0).path("executor").asText())
                .isIn("executor-a", "executor-b"));

        // results: the crews expanded into the calls Ollama saw, and the answers came back
        JsonNode scorpion = jobs.get("scorpion");
        assertThat(scorpion.path("crew").asText()).isEqualTo("mk1");
        assertThat(scorpion.path("result").path("model").asText()).isEqualTo("deepseek-r1:32b");
        assertThat(scorpion.path("result").path("text").asText()).contains("`ScorpionFighter`");
        assertThat(jobs.get("healthui").path("result").path("model").asText()).isEqualTo("deepseek-coder:6.7b");
        assertThat(jobs.get("healthui").path("result").path("text").asText()).contains("Create HealthUI.cs");
        assertThat(stack.ollama.requests()).anySatisfy(r -> {
            assertThat(r.path("model").asText()).isEqualTo("deepseek-r1:32b");
            assertThat(r.path("system").asText()).startsWith("You are a senior gameplay programmer");
            assertThat(r.path("prompt").asText()).contains("LiuKang");
        });

        // artifacts: each portrait's image, byte for byte what ComfyUI saved, served by the ledger
        for (String key : List.of("scorpion-portrait", "subzero-portrait")) {
            JsonNode artifacts = jobs.get(key).path("result").path("artifacts");
            assertThat(artifacts).as(key).hasSize(1);
            JsonNode artifact = artifacts.get(0);
            byte[] saved = stack.comfy.file(artifact.path("name").asText());
            byte[] served = stack.ledger().get("/api/v1/artifacts/" + artifact.path("id").asText())
                    .then().statusCode(200).contentType("image/png").extract().asByteArray();
            assertThat(served).isEqualTo(saved);
            assertThat(artifact.path("sha256").asText())
                    .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(saved)));
        }
        assertThat(stack.comfy.submitted()).anySatisfy(graph ->
                assertThat(graph.path("6").path("inputs").path("text").asText())
                        .isEqualTo("a portrait of SubZero, Mortal Kombat 1 key art, slow:300"));

        // the summary for the batch and for its label
        for (String filter : List.of("batch=" + batchId, "label=project:mk1")) {
            JsonNode summary = Stack.json(stack.ledger().get("/api/v1/summary?" + filter)
                    .then().statusCode(200).extract().asString());
            assertThat(summary.path("total_tasks").asInt()).as(filter).isEqualTo(7);
            assertThat(summary.path("status_counts").path("success").asInt()).as(filter).isEqualTo(7);
            assertThat(summary.path("services").path("ollama").asText()).isEqualTo("online");
            assertThat(summary.path("services").path("comfyui").asText()).isEqualTo("online");
        }

        // the ledger export: one success line per job, crew and task as submitted, in seq order
        List<JsonNode> ledger = stack.export("ledger", batchId);
        assertThat(ledger).hasSize(7).allSatisfy(line -> assertThat(line.path("status").asText()).isEqualTo("success"));
        assertThat(ledger.stream().map(l -> l.path("seq").asLong()).toList()).isSorted().doesNotHaveDuplicates();
        assertThat(ledger.stream().map(l -> l.path("crew").asText() + "/" + l.path("task").asText()).toList())
                .containsExactlyInAnyOrder("mk1/Scorpion", "mk1/SubZero", "mk1/Raiden", "mk1/LiuKang",
                        "code/Create HealthUI.cs", "portrait/Scorpion", "portrait/SubZero");
        // and the events export: one spent attempt per job, the first, successful
        List<JsonNode> events = stack.export("events", batchId);
        assertThat(events).hasSize(7).allSatisfy(line -> {
            assertThat(line.path("status").asText()).isEqualTo("success");
            assertThat(line.path("attempt").asInt()).isEqualTo(1);
        });
        assertThat(events.stream().map(e -> e.path("job_id").asText()).distinct()).hasSize(7);
    }

    /** Issue 21: the starter crew mk1-portrait, a chain from Ollama to ComfyUI, across the separate processes. */
    @Test
    void mk1PortraitPaintsTheFighterFromTheDescriptionOllamaWrote() throws Exception {
        String batchId = stack.submit(Map.of("name", "scorpion-portrait",
                "jobs", List.of(Map.of("key", "scorpion", "crew", "mk1-portrait", "task", "Scorpion"))));

        JsonNode batch = stack.awaitTerminal(batchId, Duration.ofSeconds(90));
        assertThat(batch.path("state").asText()).isEqualTo("success");
        assertThat(Stack.json(stack.ledger().get("/api/v1/batches/" + batchId).then().statusCode(200).extract()
                .asString()).path("chains").toString()).isEqualTo("[[\"scorpion.1\",\"scorpion\"]]");
        Map<String, JsonNode> jobs = stack.jobs(batchId).stream()
                .map(j -> stack.job(j.path("id").asText()))
                .collect(Collectors.toMap(j -> j.path("key").asText(), j -> j));
        JsonNode look = jobs.get("scorpion.1");
        JsonNode portrait = jobs.get("scorpion");
        assertThat(look.path("type").asText()).isEqualTo("ollama.generate");
        String description = Stack.json(look.path("result").path("text").asText()).path("description").asText();
        assertThat(description).as("the fake Ollama's structured answer").startsWith("echo Describe how the Mortal"
                + " Kombat 1 fighter Scorpion looks");

        // ComfyUI received the description Ollama wrote, and the attempt shows exactly what was sent
        String painted = description + ", full-body character portrait of Scorpion from Mortal Kombat 1";
        assertThat(stack.comfy.submitted()).anySatisfy(graph ->
                assertThat(graph.path("6").path("inputs").path("text").asText()).startsWith(painted));
        assertThat(portrait.path("spec").path("workflow").path("6").path("inputs").path("text").asText())
                .startsWith(painted);
        assertThat(portrait.path("after").toString()).isEqualTo("[\"scorpion.1\"]");
        assertThat(portrait.path("upstreams").get(0).path("state").asText()).isEqualTo("success");
        assertThat(Instant.parse(portrait.path("attempts").get(0).path("started_at").asText()))
                .as("the portrait starts once the description is written")
                .isAfter(Instant.parse(look.path("attempts").get(0).path("finished_at").asText()).minusMillis(100));

        // the image is stored, byte for byte what ComfyUI saved
        JsonNode artifact = portrait.path("result").path("artifacts").get(0);
        byte[] saved = stack.comfy.file(artifact.path("name").asText());
        assertThat(stack.ledger().get("/api/v1/artifacts/" + artifact.path("id").asText())
                .then().statusCode(200).extract().asByteArray()).isEqualTo(saved);

        // the export shows both lines, the portrait's naming what it waited for
        List<JsonNode> ledger = stack.export("ledger", batchId);
        assertThat(ledger).extracting(l -> l.path("metadata").path("key").asText() + " " + l.path("status").asText()
                        + " " + l.path("metadata").path("after"))
                .containsExactly("scorpion.1 success ", "scorpion success [\"scorpion.1\"]");
    }

    private static Instant lastFinish(List<JsonNode> attempts) {
        return attempts.stream().map(a -> Instant.parse(a.path("finished_at").asText())).max(Instant::compareTo)
                .orElseThrow();
    }

    private static Instant lastStart(List<JsonNode> attempts) {
        return attempts.stream().map(a -> Instant.parse(a.path("started_at").asText())).max(Instant::compareTo)
                .orElseThrow();
    }

    private static Instant firstStart(List<JsonNode> attempts) {
        return attempts.stream().map(a -> Instant.parse(a.path("started_at").asText())).min(Instant::compareTo)
                .orElseThrow();
    }

    /**
     * The bodies of issue 18, each well under the 16 MiB limit, sent to the packaged gateway running with its
     * manifest's JVM options: each gets a small 4xx problem, and the gateway stays ready and within its pod.
     */
    @Test
    void bodiesBuiltToTakeTheMemoryGetSmallProblemsAndTheGatewayStaysWithinItsPod() throws Exception {
        StringBuilder empties = new StringBuilder("{\"name\": \"empties\", \"jobs\": [{}");
        for (int i = 1; i < 5_000_000; i++) {
            empties.append(",{}");
        }
        assertSmallProblem("five million {}", stack.gateway().body(bytes(empties.append("]}"))).post("/api/v1/batches"), 413);

        StringBuilder labels = new StringBuilder("{\"name\": \"labels\", \"jobs\": [{\"crew\": \"mk1\", \"task\": \"x\"}], "
                + "\"labels\": {\"k0\": 0");
        for (int i = 1; i < 1_000_000; i++) {
            labels.append(",\"k").append(i).append("\":0");
        }
        assertSmallProblem("a million labels of the wrong type",
                stack.gateway().body(bytes(labels.append("}}"))).post("/api/v1/batches"), 413);

        stack.admin().body("{\"type\": \"ollama.generate\", \"model\": \"deepseek-r1:32b\", \"prompt\": \""
                + "{task}".repeat(40_000) + "\"}").put("/api/v1/crews/echo").then().statusCode(201);
        String amplified = "{\"name\": \"amplified\", \"jobs\": [{\"crew\": \"echo\", \"task\": \"" + "t".repeat(10_000) + "\"}]}";
        assertSmallProblem("a 10 KB task into {task} 40,000 times",
                stack.gateway().body(amplified).post("/api/v1/batches"), 400)
                .body("errors.field", org.hamcrest.Matchers.hasItem("jobs[0].task"));

        // the most a body may hold once parsed: just under the token cap, in the dearest token (a short string), from
        // four clients at once; one at a time is read (a 400 for the field nobody knows), the others wait (503)
        String strings = "{\"name\": \"strings\", \"jobs\": [{\"crew\": \"mk1\", \"task\": \"x\", "
                + "\"junk\": [\"ab\"" + ",\"ab\"".repeat(999_950) + "]}]}";
        List<java.util.concurrent.CompletableFuture<io.restassured.response.Response>> answers = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            answers.add(java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> stack.gateway().body(strings).post("/api/v1/batches")));
        }
        Map<Integer, Integer> statuses = new TreeMap<>();
        for (var answer : answers) {
            io.restassured.response.Response a = answer.get();
            statuses.merge(a.statusCode(), 1, Integer::sum);
            assertSmallProblem("a near-cap body of four at once", a, a.statusCode() == 503 ? 503 : 400);
        }
        assertThat(statuses).as("answers to four near-cap bodies at once").containsKey(400);

        stack.awaitAllReady(Duration.ofSeconds(10));
        long peak = stack.service("gateway").peakRssBytes();
        long limit = PodJvm.memoryLimitBytes(Stack.K8S_BASE, "gateway");
        System.out.printf("gateway peak RSS %.0f MiB of its pod's %d MiB (JVM options %s)%n",
                peak / 1048576.0, limit >> 20, PodJvm.options(Stack.K8S_BASE, "gateway"));
        assertThat(peak).as("the gateway's peak RSS").isLessThan(limit);
    }

    private static byte[] bytes(CharSequence body) {
        return body.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }


    /**
     * The dashboard as the studio uses it, in Chromium, against the packaged ledger and gateway with tokens on: the
     * page asks for a read token; a writer opens a chained batch from the overview, its chain, a job's result and
     * attempts, filters, opens the image and comes back; a read token's cancel is refused naming the role, the page
     * then asks for a submit token and the cancel is taken by the gateway (checked through the API), and a retry
     * follows with it.
     */
    @Test
    void theDashboardReadsAChainFiltersOpensTheImageAndCancelsAndRetriesWithTheRoleItNeeds() throws Exception {
        String chainId = stack.submit(Map.of("name", "subzero-portrait-on-the-page",
                "jobs", List.of(Map.of("key", "subzero", "crew", "mk1-portrait", "task", "SubZero"))));
        assertThat(stack.awaitTerminal(chainId, Duration.ofSeconds(90)).path("state").asText()).isEqualTo("success");
        // a model no executor offers, so the jobs wait until the page acts on them
        String batchId = stack.submit(Map.of("name", "waits-for-the-page", "mode", "parallel", "jobs", List.of(
                Map.of("key", "vision", "type", "ollama.generate", "model", "qwen2.5:72b", "prompt", "Describe the arena"),
                Map.of("key", "lore", "type", "ollama.generate", "model", "qwen2.5:72b", "prompt", "Write the arena's lore"))));
        String visionId = stack.jobs(batchId).stream().filter(j -> j.path("key").asText().equals("vision"))
                .findFirst().orElseThrow().path("id").asText();
        String lookId = stack.jobs(chainId).stream().filter(j -> j.path("key").asText().equals("subzero.1"))
                .findFirst().orElseThrow().path("id").asText();
        ChromeDriver browser = Browser.start();
        try {
            WebDriverWait waiting = Browser.waiting(browser);
            browser.get(stack.service("ledger").url() + "/");
            WebElement tokenInput = waiting.until(ExpectedConditions.visibilityOfElementLocated(By.id("token-input")));
            tokenInput.sendKeys(Stack.READ_TOKEN, Keys.ENTER);

            // from the overview to the batch: its chain, and its jobs filtered
            click(waiting, By.cssSelector("[data-batch-id='" + chainId + "'] a.batch-name"));
            waiting.until(b -> b.getCurrentUrl().endsWith("#/batches/" + chainId));
            waiting.until(b -> b.findElements(By.cssSelector("#chains a.step.success")).size() == 2);
            String chain = waiting.until(b -> b.findElement(By.id("chains")).getText());
            assertThat(chain).contains("subzero.1").contains("→");
            new Select(browser.findElement(By.cssSelector("#view select[name=state]"))).selectByVisibleText("failed");
            waiting.until(b -> b.findElements(By.cssSelector("#view tbody tr")).isEmpty());
            new Select(browser.findElement(By.cssSelector("#view select[name=state]"))).selectByVisibleText("success");
            waiting.until(b -> b.findElements(By.cssSelector("#view tbody tr")).size() == 2);

            // the description Ollama wrote, pretty-printed, and the attempt that wrote it
            click(waiting, By.cssSelector("tr[data-job-id='" + lookId + "'] a"));
            String answer = waiting.until(b -> b.findElement(By.cssSelector("#job-result pre.answer-json")).getText());
            assertThat(answer).startsWith("{\n  \"description\": \"echo Describe how the Mortal Kombat 1 fighter SubZero looks");
            String attempt = waiting.until(b -> b.findElement(By.cssSelector("#attempt-table tbody tr")).getText());
            assertThat(attempt).containsPattern("executor-[ab]").contains("success");
            browser.navigate().back();
            waiting.until(b -> b.getCurrentUrl().endsWith("#/batches/" + chainId + "?state=success"));

            // the portrait, from the gallery, full size
            browser.get(stack.service("ledger").url() + "/#/images?batch=" + chainId);
            click(waiting, By.cssSelector("#gallery li button"));
            WebElement full = browser.findElement(By.id("image-full"));
            waiting.until(b -> ((Number) ((JavascriptExecutor) b).executeScript("return arguments[0].naturalWidth", full))
                    .intValue() > 0);
            browser.switchTo().activeElement().sendKeys(Keys.ESCAPE);

            browser.get(stack.service("ledger").url() + "/#/batches/" + batchId);
            waiting.until(b -> b.findElements(By.cssSelector("#view tbody tr")).size() == 2);

            click(waiting, By.id("cancel-batch"));
            waiting.until(ExpectedConditions.alertIsPresent()).accept();
            WebElement why = waiting.until(ExpectedConditions.visibilityOfElementLocated(By.id("submit-why")));
            assertThat(why.getText()).contains("refused").contains("needs a submit token").contains("'wall' is a read token");
            assertThat(stack.gateway().get("/api/v1/batches/" + batchId).then().extract().path("state").toString())
                    .as("nothing was done on a read token").isEqualTo("pending");
            browser.findElement(By.id("submit-input")).sendKeys(Stack.SUBMIT_TOKEN, Keys.ENTER);
            assertThat(actionStatus(waiting, "Cancel batch")).isEqualTo("Cancel batch: done.");
            assertThat(stack.gateway().get("/api/v1/batches/" + batchId).then().extract().path("state").toString())
                    .isEqualTo("cancelled");
            waiting.until(b -> b.findElements(By.cssSelector("#view tr[data-state=cancelled]")).size() == 2);

            click(waiting, By.linkText("vision"));
            WebElement retry = waiting.until(ExpectedConditions.elementToBeClickable(By.id("retry-job")));
            retry.click();
            assertThat(actionStatus(waiting, "Retry job")).isEqualTo("Retry job: done.");
            JsonNode vision = Stack.json(stack.ledger().get("/api/v1/jobs/" + visionId).then().statusCode(200).extract().asString());
            assertThat(vision.path("state").asText()).as("retried with the submit token kept in the tab").isEqualTo("pending");
            waiting.until(b -> b.findElement(By.id("job-waiting")).getText().contains("qwen2.5:72b"));

            waiting.until(ExpectedConditions.elementToBeClickable(By.id("cancel-job"))).click();
            assertThat(actionStatus(waiting, "Cancel job")).isEqualTo("Cancel job: done.");
            assertThat(Stack.json(stack.ledger().get("/api/v1/jobs/" + visionId).then().extract().asString())
                    .path("state").asText()).isEqualTo("cancelled");
            browser.navigate().back();
            waiting.until(b -> b.getCurrentUrl().endsWith("#/batches/" + batchId));
        } finally {
            browser.quit();
        }
    }

    private static io.restassured.response.ValidatableResponse assertSmallProblem(String what,
            io.restassured.response.Response answer, int status) {
        assertThat(answer.statusCode()).as(what + ": " + answer.asString()).isEqualTo(status);
        assertThat(answer.contentType()).as(what).startsWith("application/problem+json");
        assertThat(answer.asByteArray().length).as(what + ": the problem's size").isLessThan(1 << 20);
        System.out.printf("%s: %d, %s%n", what, status, answer.jsonPath().getString("detail"));
        return answer.then();
    }

    /** What the page says once the action has an answer. */
    private static String actionStatus(WebDriverWait waiting, String what) {
        return waiting.until(b -> {
            String text = b.findElement(By.cssSelector("#view .action-status")).getText();
            return text.startsWith(what + ":") ? text : null;
        });
    }

    /**
     * A team's script, written against the Java clients generated from docs/openapi/ (#24): it submits a roster (a
     * crew job, a chat, a generate and a portrait that waits for it), submits it again with the same Idempotency-Key,
     * watches it through the gateway, reads results and the image from the ledger, exports its lines, and reads a
     * refusal as the generated Problem. Every body it sends or reads goes through the generated models, so a
     * schema that differed from what the services do would fail here.
     */
    @Test
    void theClientsGeneratedFromThePublishedDocumentsRunTheRoster() throws Exception {
        var gatewayClient = GeneratedClients.gateway(stack, Stack.SUBMIT_TOKEN);
        var ledgerClient = GeneratedClients.ledger(stack, Stack.READ_TOKEN);
        var batches = new dev.atelier.client.gateway.api.BatchesApi(gatewayClient);
        Map<String, WorkflowNode> workflow = gatewayClient.getObjectMapper().readValue(FakeComfy.txt2img(),
                new com.fasterxml.jackson.core.type.TypeReference<>() { });
        workflow.get("6").getInputs().put("text", "{{jobs.bio.text}}, ink");
        BatchSubmission roster = new BatchSubmission().name("generated-client").labels(Map.of("client", "generated"))
                .addJobsItem(new JobSubmission().key("scorpion").crew("code").task("ScorpionFighter"))
                .addJobsItem(new JobSubmission().key("chat").type(JobSubmission.TypeEnum.OLLAMA_CHAT).model("llama3.2")
                        .addMessagesItem(new ChatMessage().role(ChatMessage.RoleEnum.USER).content("Who is Raiden?")))
                .addJobsItem(new JobSubmission().key("bio").type(JobSubmission.TypeEnum.OLLAMA_GENERATE)
                        .model("llama3.2").prompt("Write Raiden's bio").priority(2))
                .addJobsItem(new JobSubmission().key("portrait").type(JobSubmission.TypeEnum.COMFYUI_WORKFLOW)
                        .addAfterItem("bio").workflow(workflow).priority(2));
        String idempotencyKey = "generated-" + java.util.UUID.randomUUID();

        var submitted = batches.submitBatch(roster, idempotencyKey);
        assertThat(batches.submitBatch(roster, idempotencyKey).getId()).as("a repeat is the same batch")
                .isEqualTo(submitted.getId());
        String batchId = submitted.getId().toString();
        assertThat(submitted.getJobs()).extracting(j -> j.getKey())
                .containsExactly("scorpion", "chat", "bio", "portrait");

        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
                .until(() -> Stack.TERMINAL.contains(batches.getBatch(batchId).getState()));
        var done = batches.getBatch(batchId);
        assertThat(done.getState()).isEqualTo("success");
        assertThat(done.getStatusCounts()).containsEntry("success", 4L);
        assertThat(done.getFinishedAt()).isAfterOrEqualTo(done.getStartedAt());

        var jobs = new dev.atelier.client.ledger.api.JobsApi(ledgerClient);
        var listed = jobs.listJobs(null, batchId, 500, null).getItems();
        assertThat(listed).hasSize(4);
        for (var item : listed) {
            var job = jobs.getJob(item.getId().toString());
            assertThat(job.getState()).as(job.getKey()).isEqualTo("success");
            assertThat(job.getResult()).as(job.getKey() + " result").isNotNull();
            assertThat(job.getAttempts()).as(job.getKey() + " attempts").isNotEmpty();
        }
        var artifactsApi = new dev.atelier.client.ledger.api.ArtifactsApi(ledgerClient);
        var artifacts = artifactsApi.listArtifacts(null, batchId, null, null, null).getItems();
        assertThat(artifacts).as("the portrait's image").hasSize(1);
        byte[] image = java.nio.file.Files.readAllBytes(
                artifactsApi.getArtifact(artifacts.get(0).getId().toString(), null, null, null).toPath());
        assertThat(image).as("the bytes, as a file").startsWith(0x89, 'P', 'N', 'G');

        List<LedgerLine> lines = GeneratedClients.ledgerLines(ledgerClient, batchId);
        assertThat(lines).extracting(LedgerLine::getStatus).containsOnly(LedgerLine.StatusEnum.SUCCESS).hasSize(4);
        assertThat(lines).extracting(line -> line.getJobId().toString())
                .containsExactlyInAnyOrderElementsOf(listed.stream().map(j -> j.getId().toString()).toList());

        var refused = org.assertj.core.api.Assertions.catchThrowableOfType(
                dev.atelier.client.gateway.ApiException.class,
                () -> batches.submitBatch(new BatchSubmission().name("refused").addJobsItem(new JobSubmission()
                        .key("bio").type(JobSubmission.TypeEnum.OLLAMA_GENERATE).model("llama3.2").priority(5000)),
                        null));
        assertThat(refused.getCode()).isEqualTo(400);
        Problem problem = gatewayClient.getObjectMapper().readValue(refused.getResponseBody(), Problem.class);
        assertThat(problem.getErrors()).extracting(FieldError::getField)
                .containsExactlyInAnyOrder("jobs[0].prompt", "jobs[0].priority");
    }

    /** Clicks what the locator finds, finding it again if the page redrew it meanwhile. */
    private static void click(WebDriverWait waiting, By locator) {
        waiting.until(b -> {
            b.findElement(locator).click();
            return true;
        });
    }
}
