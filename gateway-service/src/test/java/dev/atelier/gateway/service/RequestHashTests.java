package dev.atelier.gateway.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.atelier.api.auth.Tokens;
import org.junit.jupiter.api.Test;

/** The Idempotency-Key's request hash: streamed now, and equal to what earlier versions stored. */
class RequestHashTests {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static final String BODY = """
            {"name": "mk1 \u00e9t\u00e9 \u2603", "jobs": [{"type": "ollama.generate", "model": "m", "prompt": "p\\n\\"q\\"",
             "options": {"temperature": 0.7, "seed": 9223372036854775807, "top_k": 40, "stop": ["a", null]},
             "z": true, "a": false}], "priority": 1, "labels": {"b": "2", "a": "1"}, "retry": null,
             "big": 123456789012345678901234567890, "tiny": 1e-300, "neg": -0.0}""";

    @Test
    void keyOrderAndSpacingDoNotChangeTheHash() throws Exception {
        String reordered = """
                {"labels": {"a": "1", "b": "2"},"priority":1,"jobs":[{"a":false,"z":true,"prompt":"p\\n\\"q\\"",
                "options":{"stop":["a",null],"top_k":40,"seed":9223372036854775807,"temperature":0.7},"model":"m",
                "type":"ollama.generate"}],"name":"mk1 \u00e9t\u00e9 \u2603","retry":null,
                "neg": -0.0, "tiny": 1e-300, "big": 123456789012345678901234567890}""";
        assertThat(BatchIntake.requestHash(JSON.readTree(reordered), JSON))
                .isEqualTo(BatchIntake.requestHash(JSON.readTree(BODY), JSON));
        assertThat(BatchIntake.requestHash(JSON.readTree(BODY.replace("0.7", "0.8")), JSON))
                .isNotEqualTo(BatchIntake.requestHash(JSON.readTree(BODY), JSON));
    }

    @Test
    void theHashIsTheOneEarlierVersionsStoredSoARepeatAfterAnUpgradeIsStillARepeat() throws Exception {
        JsonNode body = JSON.readTree(BODY);
        // how 0.1.0 hashed: the tree to plain maps and lists, written with sorted keys, then hashed
        Object plain = JSON.treeToValue(body, Object.class);
        String before = Tokens.sha256(JSON.copy().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
                .writeValueAsString(plain));
        assertThat(BatchIntake.requestHash(body, JSON)).isEqualTo(before);
    }
}
