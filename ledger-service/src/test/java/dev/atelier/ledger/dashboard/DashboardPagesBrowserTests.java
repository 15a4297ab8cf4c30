package dev.atelier.ledger.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.atelier.ledger.LedgerData;
import dev.atelier.ledger.service.HistorySampler;
import dev.atelier.store.BatchMode;
import dev.atelier.store.ClaimedJob;
import dev.atelier.store.NewBatch;
import dev.atelier.store.testing.Batches;
import dev.atelier.store.testing.PostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URL;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard's pages in a real headless Chromium, over real HTTP, with real rows: a reader goes from the overview
 * to a batch, its chains and jobs, a job's result and attempts, and back; filters; opens an image; reads the
 * executors. Each page is checked with axe-core and photographed at laptop and phone size into {@code target/}.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class DashboardPagesBrowserTests {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** What every test here reads, stored once: a batch with a chain, a success, a failure and an image. */
    private record Studio(String tag, NewBatch portraits, NewBatch roster, UUID look, UUID bio, UUID portrait,
                          String executor) {
    }

    private static Studio studio;

    @Inject
    LedgerData data;

    @Inject
    HistorySampler history;

    @TestHTTPResource("/")
    URL dashboard;

    ChromeDriver browser;

    @BeforeEach
    void start() throws Exception {
        browser = Browser.start();
        if (studio == null) {
            studio = store();
        }
    }

    @AfterEach
    void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    private Studio store() throws Exception {
        String tag = Long.toString(System.nanoTime(), 36);
        String executor = "executor-" + tag;
        data.closeOpenJobs();
        data.forgetExecutors();
        data.executor(executor, 2, 1, "online", List.of(LedgerData.MODEL));
        NewBatch portraits = data.store(Batches.batch(BatchMode.PARALLEL).name("mk1-portraits-" + tag)
                .labels("{\"project\": \"mk1-" + tag + "\"}").retry(1, Duration.ZERO, 1.0)
                .step("look", 1, "{\"model\": \"" + LedgerData.MODEL + "\", \"prompt\": \"Describe Scorpion\", \"format\": \"json\"}")
                .step("bio", "Write Scorpion's bio")
                .step("portrait", 1, "{\"workflow\": {\"6\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"ink\"}}}}", "look"));
        List<ClaimedJob> claimed = data.claim(executor, 2);
        ClaimedJob look = claimed.stream().filter(j -> j.key().equals("look")).findFirst().orElseThrow();
        ClaimedJob bio = claimed.stream().filter(j -> j.key().equals("bio")).findFirst().orElseThrow();
        ObjectNode answer = JSON.createObjectNode()
                .put("text", "{\"description\": \"a yellow ninja with a kunai on a rope\"}")
                .put("thinking", "He wears yellow and black. The mask hides a skull.")
                .put("done_reason", "stop").put("model", LedgerData.MODEL).put("eval_count", 42);
        data.succeedWith(look, JSON.writeValueAsString(answer));
        data.fail(bio, "HTTP 500 from Ollama: model runner has unexpectedly stopped", false);

        ClaimedJob portrait = data.claimComfy(executor, 1).get(0);
        byte[] png = png();
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(png));
        UUID artifact = data.artifact(portrait.id(), "scorpion_00001_.png", "image/png", png, sha);
        ObjectNode result = JSON.createObjectNode().put("prompt_id", UUID.randomUUID().toString());
        result.putArray("artifacts").addObject().put("id", artifact.toString()).put("name", "scorpion_00001_.png")
                .put("content_type", "image/png").put("size", png.length).put("sha256", sha)
                .put("url", "/api/v1/artifacts/" + artifact);
        data.succeedWith(portrait, JSON.writeValueAsString(result));

        NewBatch roster = data.store(Batches.batch(BatchMode.PARALLEL).name("mk1-roster-" + tag).ollamaJobs(30, 1));
        return new Studio(tag, portraits, roster, look.id(), bio.id(), portrait.id(), executor);
    }

    /** A 64×64 PNG, so an image has something to decode. */
    private static byte[] png() throws IOException {
        BufferedImage image = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(new Color(0xd9, 0x77, 0x06));
        g.fillRect(0, 0, 64, 64);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    private WebDriverWait waiting() {
        return Browser.waiting(browser);
    }

    private void open(String hash) {
        browser.get(dashboard + hash);
    }

    private Object script(String js, Object... args) {
        return ((JavascriptExecutor) browser).executeScript(js, args);
    }

    /** Clicks what the locator finds, finding it again if a redraw replaced it meanwhile (a change event redraws). */
    private void click(By locator) {
        waiting().until(b -> {
            b.findElement(locator).click();
            return true;
        });
    }

    private List<WebElement> rows() {
        return browser.findElements(By.cssSelector("#view table tbody tr"));
    }

    @Test
    void aReaderGoesFromTheOverviewToABatchItsChainsAJobsResultAndAttemptsAndBackAgain() {
        open("#/");
        By portraitsLink = By.cssSelector("[data-batch-id='" + studio.portraits().id() + "'] a.batch-name");
        waiting().until(b -> !b.findElements(portraitsLink).isEmpty());
        click(portraitsLink);

        waiting().until(b -> b.getCurrentUrl().endsWith("#/batches/" + studio.portraits().id()));
        waiting().until(b -> rows().size() == 3);
        assertThat(browser.findElement(By.id("batch-title")).getText()).contains("mk1-portraits-" + studio.tag()).contains("failed");
        assertThat(browser.getTitle()).startsWith("mk1-portraits-" + studio.tag());
        WebElement chain = browser.findElement(By.cssSelector("#chains li"));
        assertThat(chain.getText()).contains("look").contains("→").contains("portrait");
        assertThat(chain.findElements(By.cssSelector("a.step.success"))).as("both steps succeeded").hasSize(2);
        assertThat(browser.findElement(By.id("groups")).getText()).contains("group 1").contains("2 success").contains("1 failed");

        // the filter narrows the jobs and goes into the address, without a history entry of its own
        new Select(browser.findElement(By.cssSelector("#view select[name=state]"))).selectByVisibleText("failed");
        waiting().until(b -> rows().size() == 1);
        assertThat(browser.getCurrentUrl()).endsWith("?state=failed");
        assertThat(rows().get(0).getText()).contains("bio").contains("model runner has unexpectedly stopped");

        click(By.cssSelector("tr[data-job-id='" + studio.bio() + "'] a"));
        waiting().until(b -> b.getCurrentUrl().endsWith("#/jobs/" + studio.bio()));
        waiting().until(b -> !b.findElements(By.cssSelector("#attempt-table tbody tr")).isEmpty());
        assertThat(browser.findElement(By.id("job-error")).getText()).contains("HTTP 500 from Ollama");
        assertThat(browser.findElement(By.cssSelector("#attempt-table tbody tr")).getText())
                .contains(studio.executor()).contains("failed").contains("model runner has unexpectedly stopped");
        assertThat(browser.findElement(By.id("job-batch")).getText()).isEqualTo("mk1-portraits-" + studio.tag());

        // back: the batch page as it was left, filter included
        browser.navigate().back();
        waiting().until(b -> b.getCurrentUrl().endsWith("#/batches/" + studio.portraits().id() + "?state=failed"));
        waiting().until(b -> rows().size() == 1 && rows().get(0).getText().contains("bio"));
        assertThat(new Select(browser.findElement(By.cssSelector("#view select[name=state]")))
                .getFirstSelectedOption().getText()).isEqualTo("failed");

        new Select(browser.findElement(By.cssSelector("#view select[name=state]"))).selectByVisibleText("any");
        waiting().until(b -> rows().size() == 3);
        click(By.cssSelector("tr[data-job-id='" + studio.look() + "'] a"));
        waiting().until(b -> b.getCurrentUrl().endsWith("#/jobs/" + studio.look()));
        waiting().until(b -> !b.findElements(By.cssSelector("#job-result pre.answer-json")).isEmpty());
        // an answer asked for as JSON is pretty-printed; the thinking is folded away until asked for
        assertThat(browser.findElement(By.cssSelector("#job-result pre.answer-json")).getText())
                .isEqualTo("{\n  \"description\": \"a yellow ninja with a kunai on a rope\"\n}");
        WebElement thinking = browser.findElement(By.cssSelector("#job-result details.thinking"));
        assertThat(thinking.getAttribute("open")).isNull();
        assertThat(thinking.findElement(By.tagName("summary")).getText()).isEqualTo("Thinking (10 words)");
        click(By.cssSelector("#job-result details.thinking summary"));
        assertThat(browser.findElement(By.cssSelector("#job-result details.thinking")).getText()).contains("The mask hides a skull.");
        assertThat(browser.findElement(By.id("job-meta")).getText()).contains("attempt 1/1").contains(studio.executor());
        click(By.cssSelector("details[data-keep=spec] summary"));
        assertThat(browser.findElement(By.id("job-spec")).getText()).contains("\"format\": \"json\"");

        browser.navigate().back();
        waiting().until(b -> b.getCurrentUrl().endsWith("#/batches/" + studio.portraits().id()));
        browser.navigate().back();
        waiting().until(b -> b.getCurrentUrl().endsWith("#/"));
        waiting().until(b -> !b.findElements(portraitsLink).isEmpty());
    }

    @Test
    void batchesAreSearchedByNameAndLabelJobsByStateAndAFilterThatIsNotValidSaysWhy() {
        open("#/batches");
        WebElement name = waiting().until(b -> b.findElement(By.cssSelector("#view input[name=name]")));
        name.sendKeys("PORTRAITS-" + studio.tag());
        waiting().until(b -> b.findElements(By.cssSelector("#batch-list [data-batch-id]")).size() == 1);
        assertThat(browser.findElement(By.cssSelector("#batch-list [data-batch-id]")).getAttribute("data-batch-id"))
                .isEqualTo(studio.portraits().id().toString());
        assertThat(browser.getCurrentUrl()).contains("name=PORTRAITS-" + studio.tag());

        name.clear();
        name.sendKeys(studio.tag()); // both of this test's batches
        // (the roster is pending or running, whichever test ran first; the portraits have failed)
        new Select(browser.findElement(By.cssSelector("#view select[name=state]"))).selectByVisibleText("failed");
        waiting().until(b -> b.findElements(By.cssSelector("#batch-list [data-batch-id]")).stream()
                .map(e -> e.getAttribute("data-batch-id")).toList().equals(List.of(studio.portraits().id().toString())));

        WebElement label = browser.findElement(By.cssSelector("#view input[name=label]"));
        label.sendKeys("no colon");
        WebElement problem = browser.findElement(By.cssSelector("#view .filter-problem"));
        waiting().until(b -> problem.isDisplayed());
        assertThat(problem.getText()).contains("label").contains("key:value");

        // a shared address opens the same list
        open("#/batches?label=project:mk1-" + studio.tag());
        waiting().until(b -> b.findElements(By.cssSelector("#batch-list [data-batch-id]")).size() == 1);
        assertThat(browser.findElement(By.cssSelector("#view input[name=label]")).getAttribute("value"))
                .isEqualTo("project:mk1-" + studio.tag());

        open("#/jobs?state=failed");
        By bioRow = By.cssSelector("tr[data-job-id='" + studio.bio() + "']");
        waiting().until(b -> !b.findElements(bioRow).isEmpty());
        assertThat(browser.findElement(bioRow).getText()).contains("mk1-portraits-" + studio.tag());
        assertThat(browser.findElements(By.cssSelector("#view tbody tr"))).allSatisfy(
                row -> assertThat(row.getAttribute("data-state")).isEqualTo("failed"));
    }

    @Test
    void theGalleryOpensAnImageFullSizeAndTheJobShowsItLarge() {
        open("#/images?label=project:mk1-" + studio.tag());
        waiting().until(b -> b.findElements(By.cssSelector("#gallery li")).size() == 1);
        WebElement thumbnail = browser.findElement(By.cssSelector("#gallery li img"));
        waiting().until(b -> ((Number) script("return arguments[0].naturalWidth", thumbnail)).intValue() == 64);
        assertThat(browser.findElement(By.cssSelector("#gallery li")).getText()).contains("portrait");

        click(By.cssSelector("#gallery li button"));
        WebElement dialog = browser.findElement(By.id("image-dialog"));
        waiting().until(b -> dialog.getAttribute("open") != null);
        WebElement full = browser.findElement(By.id("image-full"));
        waiting().until(b -> ((Number) script("return arguments[0].naturalWidth", full)).intValue() == 64);
        assertThat(browser.findElement(By.id("image-caption")).getText()).contains("scorpion_00001_.png").contains("image/png");
        browser.switchTo().activeElement().sendKeys(Keys.ESCAPE);
        waiting().until(b -> dialog.getAttribute("open") == null);

        // from the batch page too, and its job shows the image large
        open("#/images?batch=" + studio.portraits().id());
        waiting().until(b -> b.findElements(By.cssSelector("#gallery li")).size() == 1);
        assertThat(browser.findElement(By.id("images-batch")).getText()).contains("mk1-portraits-" + studio.tag());
        click(By.cssSelector("#gallery li .caption a"));
        waiting().until(b -> b.getCurrentUrl().endsWith("#/jobs/" + studio.portrait()));
        WebElement large = waiting().until(b -> b.findElement(By.cssSelector("#job-result .large-images img")));
        waiting().until(b -> ((Number) script("return arguments[0].naturalWidth", large)).intValue() == 64);
    }

    @Test
    void theExecutorsPageShowsEachWithItsBackendsModelsAndBusySlots() {
        open("#/executors");
        By card = By.cssSelector("[data-executor='" + studio.executor() + "']");
        waiting().until(b -> !b.findElements(card).isEmpty());
        // (read inside a wait, which finds the card again if a redraw replaced it)
        String text = waiting().until(b -> b.findElement(card).getText());
        assertThat(text).contains("ollama: 1/2 slots busy").contains("ollama@" + studio.executor()).contains("online")
                .contains("loaded: " + LedgerData.MODEL);
        String busy = waiting().until(b -> b.findElement(card)
                .findElement(By.cssSelector("meter[aria-label='ollama slots busy']")).getAttribute("value"));
        assertThat(busy).isEqualTo("1");
        assertThat(browser.findElement(By.cssSelector("#nav a[aria-current=page]")).getText()).isEqualTo("Executors");
    }

    @Test
    void theHistoryChartsJobsFinishedTheQueueAndEachExecutorsSlotUse() {
        data.foldCounts();
        data.inspect().execute("delete from history_point"); // another test may have sampled this minute first
        history.runOnce();
        open("#/history?hours=1");
        waiting().until(b -> !b.findElements(By.cssSelector("#chart-utilisation path[data-series='" + studio.executor() + "']")).isEmpty());
        assertThat(browser.findElements(By.cssSelector("#chart-finished path"))).extracting(e -> e.getAttribute("data-series"))
                .containsExactly("success", "failed", "cancelled");
        assertThat(browser.findElements(By.cssSelector("#chart-queue path"))).extracting(e -> e.getAttribute("data-series"))
                .contains("waiting ollama");
        assertThat(browser.findElement(By.cssSelector("#chart-utilisation svg.line-chart")).getAttribute("aria-label"))
                .contains("Busy slots per executor over 60 minutes").contains(studio.executor() + " 50%");
        assertThat(browser.findElement(By.id("chart-utilisation")).getText()).contains(studio.executor());

        new Select(browser.findElement(By.cssSelector("#view select[name=hours]"))).selectByVisibleText("last 24 hours");
        waiting().until(b -> b.getCurrentUrl().endsWith("#/history?hours=24"));
        waiting().until(b -> b.findElement(By.cssSelector("#chart-utilisation svg.line-chart")).getAttribute("aria-label")
                .contains("over 1440 minutes"));
    }

    @Test
    void aChangeRedrawsAtOnceWhatChangedAndKeepsTheScrollPositionTheFilterAndThePage() {
        browser.manage().window().setSize(new Dimension(390, 844));
        open("#/batches/" + studio.roster().id());
        waiting().until(b -> rows().size() == 30);
        script("window.notReloaded = true; window.scrollTo(0, 900);");
        long scrolled = ((Number) script("return window.scrollY")).longValue();
        assertThat(scrolled).as("the page is long enough to scroll").isGreaterThan(0);

        // the change stream is open: the page reads again when told, polling only once a minute
        waiting().until(b -> b.findElement(By.id("updated")).getAttribute("textContent").startsWith("live"));
        data.claim(studio.executor(), 1);
        new WebDriverWait(browser, Duration.ofSeconds(10)).until(
                b -> b.findElements(By.cssSelector("#view tr[data-state=running]")).size() == 1);
        // (the browser's scroll anchoring may move it a row's height, to keep what is on screen in place)
        assertThat(((Number) script("return window.scrollY")).longValue()).isBetween(scrolled - 100, scrolled + 100);
        assertThat(script("return window.notReloaded")).isEqualTo(true);
    }

    @Test
    void everyPageIsAccessibleAndFitsALaptopAndAPhone() throws IOException {
        Map<String, String> pages = new LinkedHashMap<>();
        pages.put("overview", "#/");
        pages.put("batches", "#/batches");
        pages.put("batch", "#/batches/" + studio.portraits().id());
        pages.put("job", "#/jobs/" + studio.look());
        pages.put("jobs", "#/jobs?state=failed");
        pages.put("images", "#/images");
        pages.put("executors", "#/executors");
        pages.put("history", "#/history");
        for (var page : pages.entrySet()) {
            for (boolean phone : new boolean[] {false, true}) {
                browser.manage().window().setSize(phone ? new Dimension(390, 844) : new Dimension(1440, 1000));
                open(page.getValue());
                // (read as textContent: a phone's header hides it)
                waiting().withMessage("the " + page.getKey() + " page to load").until(
                        b -> b.findElement(By.id("updated")).getAttribute("textContent").contains("updated"));
                waiting().until(b -> ((Boolean) script("return [...document.images].every((i) => !i.src || i.complete)")));
                assertThat(Browser.accessibilityViolations(browser)).as("serious accessibility faults on " + page.getKey())
                        .isEmpty();
                long overflow = ((Number) script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")).longValue();
                assertThat(overflow).as("no sideways scrolling on %s%s (%d px); too wide: %s", page.getKey(),
                                phone ? " (phone)" : "", overflow,
                        script("return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right"
                                + " > document.documentElement.clientWidth || e.scrollWidth > e.clientWidth + 1).slice(0, 8)"
                                + ".map((e) => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right)"
                                + " + '/' + e.scrollWidth).join(', ')"))
                        .isLessThanOrEqualTo(0);
                Browser.screenshot(browser, "dashboard-" + page.getKey() + (phone ? "-phone.png" : "-laptop.png"));
            }
        }
    }
}
