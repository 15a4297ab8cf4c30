package dev.atelier.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The ValidatingAdmissionPolicy that keeps the executor's account to its own pod's deletion cost
 * (base/executor-admission-policy.yaml), evaluated as the API server would: its match condition, then its variables
 * in order, then each validation, with cel-java against sample admission requests. No API server runs here, so what
 * stays unverified is Kubernetes' own type checking of the expressions against the Pod schema, and that a real
 * bound token's request carries the pod's name in {@code userInfo.extra}.
 */
class AdmissionPolicyTests {

    private static final String COST = "controller.kubernetes.io/pod-deletion-cost";
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_LONG_FOR_INTS);
    private static final CelCompiler CEL = CelCompilerFactory.standardCelCompilerBuilder()
            .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
            .addVar("request", SimpleType.DYN).addVar("object", SimpleType.DYN).addVar("oldObject", SimpleType.DYN)
            .addVar("variables", MapType.create(SimpleType.STRING, SimpleType.DYN))
            .build();
    private static final CelRuntime RUNTIME = CelRuntimeFactory.standardCelRuntimeBuilder().build();

    /** What the policy decided: whether it applied, and the messages of the validations that failed. */
    record Decision(boolean applies, List<String> denials) {
        boolean allowed() {
            return !applies || denials.isEmpty();
        }
    }

    @Test
    void anExecutorSetsItsOwnPodsDeletionCost() throws Exception {
        assertThat(decide(request("executor-7f9c", pod("executor-7f9c", Map.of(COST, "0")),
                pod("executor-7f9c", Map.of(COST, "3"))))).satisfies(d -> {
            assertThat(d.applies()).isTrue();
            assertThat(d.denials()).isEmpty();
        });
        // the first patch, on a pod that had no annotations at all
        assertThat(decide(request("executor-7f9c", pod("executor-7f9c", null), pod("executor-7f9c", Map.of(COST, "1")))).allowed())
                .isTrue();
    }

    @Test
    void anotherPodIsRefused() throws Exception {
        Decision decision = decide(request("executor-7f9c", pod("gateway-5d8b", Map.of()), pod("gateway-5d8b", Map.of(COST, "1"))));
        assertThat(decision.allowed()).isFalse();
        assertThat(decision.denials()).singleElement().asString()
                .contains("only its own pod", "bound to executor-7f9c", "not gateway-5d8b");
    }

    @Test
    void aTokenBoundToNoPodIsRefused() throws Exception {
        Map<String, Object> request = request("executor-7f9c", pod("executor-7f9c", Map.of()), pod("executor-7f9c", Map.of(COST, "1")));
        ((Map<?, ?>) request.get("userInfo")).remove("extra");
        assertThat(decide(request).denials()).singleElement().asString().contains("bound to no pod");
    }

    @Test
    void anotherAnnotationALabelOrTheSpecIsRefused() throws Exception {
        Map<String, String> before = Map.of(COST, "0", "prometheus.io/scrape", "true");
        assertThat(decide(request("executor-7f9c", pod("executor-7f9c", before),
                pod("executor-7f9c", Map.of(COST, "0", "prometheus.io/scrape", "false")))).denials())
                .singleElement().asString().contains("only its pod's " + COST);
        assertThat(decide(request("executor-7f9c", pod("executor-7f9c", before), pod("executor-7f9c", Map.of(COST, "0"))))
                .allowed()).as("removing another annotation").isFalse();
        assertThat(decide(request("executor-7f9c", pod("executor-7f9c", Map.of(COST, "0")),
                pod("executor-7f9c", Map.of(COST, "0", "sidecar.istio.io/inject", "true")))).allowed())
                .as("adding another annotation").isFalse();

        Map<String, Object> relabelled = pod("executor-7f9c", Map.of(COST, "1"));
        metadata(relabelled).put("labels", Map.of("app.kubernetes.io/name", "gateway"));
        assertThat(decide(request("executor-7f9c", pod("executor-7f9c", Map.of(COST, "0")), relabelled)).allowed())
                .as("a label").isFalse();

        Map<String, Object> otherImage = pod("executor-7f9c", Map.of(COST, "1"));
        otherImage.put("spec", Map.of("containers", List.of(Map.of("name", "ollama", "image", "attacker/ollama:latest"))));
        assertThat(decide(request("executor-7f9c", pod("executor-7f9c", Map.of(COST, "0")), otherImage)).allowed())
                .as("the spec").isFalse();
    }

    @Test
    void otherAccountsAreLeftToTheirOwnRules() throws Exception {
        Map<String, Object> request = request("gateway-5d8b", pod("executor-7f9c", Map.of()), pod("executor-7f9c", Map.of("x", "y")));
        ((Map<String, Object>) request.get("userInfo")).put("username", "system:serviceaccount:atelier:default");
        assertThat(decide(request).applies()).isFalse();
        request.put("namespace", "elsewhere");
        ((Map<String, Object>) request.get("userInfo")).put("username", "system:serviceaccount:atelier:executor");
        assertThat(decide(request).applies()).as("an executor account of another namespace is not this request's").isFalse();
    }

    @Test
    void thePolicyMatchesPodUpdatesAndIsBoundToDeny() throws Exception {
        List<JsonNode> documents = policyDocuments();
        JsonNode rule = documents.get(0).at("/spec/matchConstraints/resourceRules/0");
        assertThat(rule.path("resources").toString()).isEqualTo("[\"pods\"]");
        assertThat(rule.path("operations").toString()).isEqualTo("[\"UPDATE\"]");
        assertThat(documents.get(0).at("/spec/failurePolicy").asText()).isEqualTo("Fail");
        assertThat(documents.get(1).path("kind").asText()).isEqualTo("ValidatingAdmissionPolicyBinding");
        assertThat(documents.get(1).at("/spec/policyName").asText()).isEqualTo(documents.get(0).at("/metadata/name").asText());
        assertThat(documents.get(1).at("/spec/validationActions").toString()).isEqualTo("[\"Deny\"]");
    }

    // --- the API server's steps, and sample requests

    private static Decision decide(Map<String, Object> request) throws Exception {
        JsonNode spec = policyDocuments().get(0).path("spec");
        Map<String, Object> inputs = new LinkedHashMap<>();
        inputs.put("request", request);
        inputs.put("object", request.get("object"));
        inputs.put("oldObject", request.get("oldObject"));
        Map<String, Object> variables = new LinkedHashMap<>();
        inputs.put("variables", variables);
        for (JsonNode condition : spec.path("matchConditions")) {
            if (!Boolean.TRUE.equals(eval(condition.path("expression").asText(), inputs))) {
                return new Decision(false, List.of());
            }
        }
        for (JsonNode variable : spec.path("variables")) {
            variables.put(variable.path("name").asText(), eval(variable.path("expression").asText(), inputs));
        }
        List<String> denials = new ArrayList<>();
        for (JsonNode validation : spec.path("validations")) {
            if (!Boolean.TRUE.equals(eval(validation.path("expression").asText(), inputs))) {
                denials.add(validation.has("messageExpression")
                        ? (String) eval(validation.path("messageExpression").asText(), inputs)
                        : validation.path("message").asText());
            }
        }
        return new Decision(true, denials);
    }

    private static Object eval(String expression, Map<String, Object> inputs) throws Exception {
        return RUNTIME.createProgram(CEL.compile(expression).getAst()).eval(inputs);
    }

    private static List<JsonNode> policyDocuments() throws IOException {
        List<JsonNode> documents = new ArrayList<>();
        try (var parser = new YAMLFactory().createParser(Manifests.ROOT.resolve("base/executor-admission-policy.yaml").toFile())) {
            JSON.readValues(parser, JsonNode.class).forEachRemaining(documents::add);
        }
        return documents;
    }

    /** A PATCH of a pod by the executor account, with a token bound to {@code tokenPod}, as an AdmissionRequest. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> request(String tokenPod, Map<String, Object> oldPod, Map<String, Object> newPod) {
        Map<String, Object> userInfo = new LinkedHashMap<>();
        userInfo.put("username", "system:serviceaccount:atelier:executor");
        userInfo.put("groups", List.of("system:serviceaccounts", "system:serviceaccounts:atelier", "system:authenticated"));
        userInfo.put("extra", new LinkedHashMap<>(Map.of("authentication.kubernetes.io/pod-name", List.of(tokenPod),
                "authentication.kubernetes.io/pod-uid", List.of("0b1f6d2e-6c1a-4f43-9a52-2f0b2b7f1c11"))));
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("operation", "UPDATE");
        request.put("namespace", "atelier");
        request.put("name", metadata(newPod).get("name"));
        request.put("userInfo", userInfo);
        request.put("object", newPod);
        request.put("oldObject", oldPod);
        return request;
    }

    /** An executor pod as the API server holds it, with these annotations (null: none at all). */
    private static Map<String, Object> pod(String name, Map<String, String> annotations) throws IOException {
        Map<String, Object> pod = JSON.readValue("""
                {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "NAME", "namespace": "atelier", "resourceVersion": "4711",
                   "labels": {"app.kubernetes.io/name": "executor", "pod-template-hash": "5d8b9"},
                   "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "executor-5d8b9",
                     "uid": "6f1e", "controller": true}]},
                 "spec": {"serviceAccountName": "executor", "automountServiceAccountToken": false,
                   "containers": [{"name": "executor", "image": "atelier/executor-service:0.1.0",
                     "ports": [{"name": "http", "containerPort": 8082}]},
                    {"name": "ollama", "image": "ollama/ollama:0.12.6"}]}}
                """.replace("NAME", name), Map.class);
        if (annotations != null) {
            metadata(pod).put("annotations", new LinkedHashMap<>(annotations));
        }
        return pod;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> metadata(Map<String, Object> pod) {
        return (Map<String, Object>) pod.get("metadata");
    }
}
