package dev.atelier.store.testing;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A service's OpenAPI document is published as docs/openapi/NAME.yaml: clients are generated from that copy and
 * Redocly lints it (.ci/run). What the service serves must be the copy, so that a change of contract shows in review
 * (#24). When a change is meant, copy target/openapi/NAME.yaml, which this writes, over it.
 */
public interface PublishedDocumentContract {

    /** The copy's name under docs/openapi/, without .yaml. */
    String publishedName();

    /** The served document's paths: each path's operations by method, for tests that read them. */
    default Map<String, Map<String, Map<String, Object>>> servedPaths() {
        return given().queryParam("format", "json").get("/q/openapi").then().statusCode(200).extract().path("paths");
    }

    @Test
    default void theServedDocumentIsThePublishedCopy() throws IOException {
        String served = given().get("/q/openapi").then().statusCode(200).extract().asString();
        Path written = Path.of("target/openapi/" + publishedName() + ".yaml");
        Files.createDirectories(written.getParent());
        Files.writeString(written, served);
        Path copy = Path.of("../docs/openapi/" + publishedName() + ".yaml");

        List<String> servedLines = served.lines().toList();
        List<String> copyLines = Files.readString(copy).lines().toList();
        int line = 0;
        while (line < servedLines.size() && line < copyLines.size()
                && servedLines.get(line).equals(copyLines.get(line))) {
            line++;
        }
        assertThat(line == servedLines.size() && line == copyLines.size())
                .as("/q/openapi differs from %s from line %d on (served: '%s', copy: '%s'); if the change of "
                                + "contract is meant, copy %s over it", copy, line + 1, at(servedLines, line),
                        at(copyLines, line), written.toAbsolutePath())
                .isTrue();
    }

    private static String at(List<String> lines, int index) {
        return index < lines.size() ? lines.get(index) : "(end)";
    }
}
