package dev.atelier.ledger.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Debian's headless Chromium through its own chromedriver: nothing is downloaded. Public, in the ledger's test-jar:
 * the system tests drive the packaged dashboard with it too.
 */
public final class Browser {

    private static final File CHROMIUM = new File("/usr/bin/chromium");
    private static final File CHROMEDRIVER = new File("/usr/bin/chromedriver");

    private Browser() {
    }

    /** A fresh browser with an empty profile under target/, or the test is skipped saying how to install one. */
    public static ChromeDriver start() throws IOException {
        Assumptions.assumeTrue(CHROMIUM.canExecute() && CHROMEDRIVER.canExecute(),
                "Chromium is not installed, so the dashboard's browser test is skipped. Install it with "
                        + "`apt-get install -y chromium chromium-driver` (Debian; see ../shared/TOOLCHAIN.md); CI does.");
        System.setProperty("SE_OFFLINE", "true");
        Path profile = Files.createTempDirectory(Files.createDirectories(Path.of("target")), "chromium-profile-");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--user-data-dir=" + profile.toAbsolutePath(), "--window-size=1440,1000");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER)
                .usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }

    public static WebDriverWait waiting(ChromeDriver browser) {
        // the dashboard re-renders every 5 s, so an element found a moment ago may be replaced before it is read
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20));
        wait.ignoring(StaleElementReferenceException.class);
        return wait;
    }

    /**
     * Runs axe-core's rules (WCAG 2 A and AA, and best practices) on the page shown, and returns the serious and
     * critical violations, one line each naming the rule and the elements.
     */
    public static List<String> accessibilityViolations(ChromeDriver browser) throws IOException {
        String axe;
        try (InputStream in = Browser.class.getResourceAsStream("/axe.min.js")) {
            axe = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        browser.executeScript(axe);
        browser.manage().timeouts().scriptTimeout(Duration.ofSeconds(60));
        String json = (String) browser.executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                axe.run(document, {resultTypes: ['violations']})
                   .then((r) => done(JSON.stringify(r.violations)))
                   .catch((e) => done(JSON.stringify([{id: 'axe-failed', impact: 'critical', help: String(e), nodes: []}])));
                """);
        List<String> found = new ArrayList<>();
        for (JsonNode v : new ObjectMapper().readTree(json)) {
            String impact = v.path("impact").asText();
            if (impact.equals("serious") || impact.equals("critical")) {
                List<String> targets = new ArrayList<>();
                v.path("nodes").forEach(n -> targets.add(n.path("target") + " " + n.path("failureSummary").asText()));
                found.add(impact + " " + v.path("id").asText() + ": " + v.path("help").asText() + " " + targets);
            }
        }
        return found;
    }

    /** Saves what the browser shows as target/{name}, for people to look at. */
    public static void screenshot(ChromeDriver browser, String name) throws IOException {
        File shot = browser.getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), Path.of("target", name), StandardCopyOption.REPLACE_EXISTING);
    }
}
