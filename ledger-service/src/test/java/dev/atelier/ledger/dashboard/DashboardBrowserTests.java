package dev.atelier.ledger.dashboard;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.atelier.ledger.LedgerData;
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
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URL;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real headless Chromium, over real HTTP, with real rows in the database. Screenshots land in
 * {@code target/dashboard-laptop.png} and {@code target/dashboard-phone.png} for people to look at.
 */
@QuarkusTest
@QuarkusTestResource(PostgresTestResource.class)
class DashboardBrowserTests {

    /** A 64×64 PNG, so the thumbnail has something to decode. */
    private static byte[] png() throws IOException {
        BufferedImage image = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setPaint(new GradientPaint(0, 0, new Color(0xd9, 0x77, 0x06), 64, 64, new Color(0x1d, 0x23, 0x30)));
        g.fillRect(0, 0, 64, 64);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    @Inject
    LedgerData data;

    @TestHTTPResource("/")
    URL dashboard;

    ChromeDriver browser;

    @BeforeEach
    void startBrowser() throws IOException {
        browser = Browser.start();
    }

    @AfterEach
    void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    private WebDriverWait waiting() {
        return Browser.waiting(browser);
    }

    private String text(String css) {
        return browser.findElement(By.cssSelector(css)).getText();
    }

    @Test
    void theDashboardShowsTotalsProgressFailuresWaitingReasonsAndThumbnailsAndRefreshesItself() throws Exception {
        data.closeOpenJobs();
        data.forgetExecutors();
        data.executor("executor-0-4f2a", 2, 1, "online", List.of(LedgerData.MODEL, "llama3.2:3b"));
        NewBatch roster = data.store(Batches.batch(BatchMode.PRIORITY).name("mk1-roster").retry(1, Duration.ZERO, 1.0)
                .ollamaJobs(3, 1).ollamaJobs(2, 2));
        List<ClaimedJob> first = data.claim("executor-0-4f2a", 3);
        data.succeed(first.get(0), "Scorpion: a spectre bound to vengeance");
        data.succeed(first.get(1), "SubZero: a Lin Kuei grandmaster");
        data.fail(first.get(2), "HTTP 400 from Ollama: option 'temprature' is not valid", false);
        NewBatch portraits = data.store(Batches.batch(BatchMode.PARALLEL).name("portraits").jobs(1, 1, "comfyui.workflow", null));
        byte[] png = png();
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(png));
        data.artifact(portraits.jobs().get(0).id(), "scorpion_00001_.png", "image/png", png, sha);
        NewBatch gated = data.store(Batches.batch(BatchMode.PRIORITY).name("gated").ollamaJobs(1, 1).ollamaJobs(1, 2));

        browser.get(dashboard.toString());
        ((JavascriptExecutor) browser).executeScript("window.notReloaded = true;");
        long total = given().get("/api/v1/summary").then().extract().jsonPath().getLong("total_tasks");
        waiting().until(b -> text("#totals [data-state=total] .value").equals(String.format("%,d", total)));

        WebElement rosterRow = browser.findElement(By.cssSelector("[data-batch-id='" + roster.id() + "']"));
        assertThat(rosterRow.getText()).contains("mk1-roster").contains("3/5").contains("1 failed");
        WebElement bar = rosterRow.findElement(By.cssSelector(".progress"));
        assertThat(bar.getAttribute("aria-valuenow")).isEqualTo("3");
        assertThat(bar.findElements(By.cssSelector(".seg-success"))).hasSize(1);
        assertThat(browser.findElements(By.cssSelector("[data-batch-id] .progress")))
                .as("a progress bar per batch").hasSizeGreaterThanOrEqualTo(3);
        assertThat(browser.findElement(By.cssSelector("[data-batch-id='" + gated.id() + "'] .progress"))).isNotNull();

        assertThat(text("#failures")).contains("HTTP 400 from Ollama: option 'temprature' is not valid");
        assertThat(text("#waiting")).contains("priority group 1 of this batch is not finished (1 job left)");
        assertThat(text("#backends")).contains("ollama@executor-0-4f2a").contains("online").contains("llama3.2:3b")
                .contains("loaded: " + LedgerData.MODEL + " (20.0 GiB VRAM, until ");

        waiting().until(b -> !b.findElements(By.cssSelector("#artifacts img")).isEmpty());
        WebElement thumbnail = browser.findElement(By.cssSelector("#artifacts img"));
        waiting().until(b -> ((Number) ((JavascriptExecutor) b).executeScript(
                "return arguments[0].naturalWidth", thumbnail)).intValue() == 64);

        // a job finishes: the page shows it without being reloaded
        // (fair share hands the first claim to the batch served least recently, so take one from each)
        data.claim("executor-0-4f2a", 2).forEach(job -> data.succeed(job, "Raiden"));
        waiting().until(b -> b.findElement(By.cssSelector("[data-batch-id='" + roster.id() + "']")).getText().contains("4/5"));
        assertThat(((JavascriptExecutor) browser).executeScript("return window.notReloaded")).isEqualTo(true);

        screenshot("dashboard-laptop.png");
        browser.manage().window().setSize(new Dimension(390, 844));
        Long overflow = (Long) ((JavascriptExecutor) browser).executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth");
        assertThat(overflow).as("no sideways scrolling on a phone").isLessThanOrEqualTo(0);
        screenshot("dashboard-phone.png");
    }

    private void screenshot(String name) throws IOException {
        Browser.screenshot(browser, name);
    }
}
