package dev.atelier.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The two overlays, as the files assemble them and, where kubectl is installed, as {@code kubectl kustomize}
 * renders them: probes, resources, security, images, Secret and ConfigMap keys, GPUs, network policies, KEDA.
 */
class ManifestsTests {

    static final List<String> OVERLAYS = List.of("dev", "gpu");
    static final List<String> SERVICES = List.of("gateway", "ledger", "executor");

    /** Secrets made outside the manifests, by whom, with the keys they always have. */
    static final Map<String, Set<String>> EXTERNAL_SECRETS = Map.of(
            // CloudNativePG's app-user Secret for the Cluster "atelier-db" (gpu overlay's database.yaml)
            "atelier-db-app", Set.of("username", "password", "host", "port", "dbname", "uri", "jdbc-uri"),
            // created by the operator before applying the gpu overlay (README, deploy)
            "atelier-tokens", Set.of("tokens"),
            // the object store's credentials (README, deploy), read whole with envFrom
            "atelier-object-store", Set.of("ATELIER_ARTIFACTS_S3_ACCESS_KEY_ID", "ATELIER_ARTIFACTS_S3_SECRET_ACCESS_KEY"));

    static Stream<Arguments> overlays() throws Exception {
        List<Arguments> cases = new ArrayList<>();
        for (String overlay : OVERLAYS) {
            cases.add(Arguments.of(overlay + " (files)", overlay, Manifests.assembled(overlay)));
            if (Manifests.kubectlInstalled()) {
                cases.add(Arguments.of(overlay + " (kubectl kustomize)", overlay, Manifests.rendered(overlay)));
            }
        }
        return cases.stream();
    }

    static <T> List<T> all(List<HasMetadata> resources, Class<T> type) {
        return resources.stream().filter(type::isInstance).map(type::cast).toList();
    }

    static Optional<Deployment> deployment(List<HasMetadata> resources, String name) {
        return all(resources, Deployment.class).stream().filter(d -> d.getMetadata().getName().equals(name)).findFirst();
    }

    /** Every pod template of the overlay: Deployments and StatefulSets. */
    static Map<String, PodSpec> pods(List<HasMetadata> resources) {
        Map<String, PodSpec> pods = new HashMap<>();
        all(resources, Deployment.class).forEach(d -> pods.put(d.getMetadata().getName(), d.getSpec().getTemplate().getSpec()));
        all(resources, StatefulSet.class).forEach(s -> pods.put(s.getMetadata().getName(), s.getSpec().getTemplate().getSpec()));
        return pods;
    }

    static String port(String service) throws IOException {
        Properties properties = new Properties();
        try (var in = Files.newInputStream(Manifests.ROOT.resolveSibling(service + "-service")
                .resolve("src/main/resources/application.properties"))) {
            properties.load(in);
        }
        return properties.getProperty("quarkus.http.port");
    }

    static String env(Container container, String name) {
        return container.getEnv().stream().filter(e -> e.getName().equals(name)).map(EnvVar::getValue).findFirst()
                .orElse(null);
    }

    /** A variable's value as the container gets it: written out, or read from a ConfigMap of the overlay. */
    static String resolvedEnv(List<HasMetadata> resources, Container container, String name) {
        EnvVar variable = container.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(container.getName() + " has no " + name));
        if (variable.getValueFrom() == null || variable.getValueFrom().getConfigMapKeyRef() == null) {
            return variable.getValue();
        }
        var ref = variable.getValueFrom().getConfigMapKeyRef();
        return all(resources, ConfigMap.class).stream().filter(m -> m.getMetadata().getName().equals(ref.getName()))
                .map(m -> m.getData().get(ref.getKey())).findFirst()
                .orElseThrow(() -> new AssertionError(name + " reads ConfigMap " + ref.getName() + ", which is missing"));
    }

    static Container container(PodSpec pod, String name) {
        return pod.getContainers().stream().filter(c -> c.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no container " + name));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void probesAndPortsMatchEachServicesConfiguration(String label, String overlay, List<HasMetadata> resources)
            throws IOException {
        for (String service : SERVICES) {
            Deployment deployment = deployment(resources, service).orElseThrow(() -> new AssertionError("no " + service));
            Container container = deployment.getSpec().getTemplate().getSpec().getContainers().stream()
                    .filter(c -> c.getName().equals(service)).findFirst().orElseThrow();
            String port = port(service);
            assertThat(container.getPorts()).as(service).anySatisfy(p -> {
                assertThat(p.getName()).isEqualTo("http");
                assertThat(p.getContainerPort()).isEqualTo(Integer.parseInt(port));
            });
            assertThat(env(container, "QUARKUS_HTTP_PORT")).as(service).isEqualTo(port);
            assertProbe(container.getStartupProbe(), "/q/health/started", service);
            assertProbe(container.getLivenessProbe(), "/q/health/live", service);
            assertProbe(container.getReadinessProbe(), "/q/health/ready", service);
            // room for a JVM start with Flyway (native starts far quicker)
            Probe started = container.getStartupProbe();
            assertThat(started.getPeriodSeconds() * started.getFailureThreshold()).as(service).isGreaterThanOrEqualTo(60);
        }
    }

    private static void assertProbe(Probe probe, String path, String service) {
        assertThat(probe).as(service + " " + path).isNotNull();
        assertThat(probe.getHttpGet().getPath()).as(service).isEqualTo(path);
        assertThat(probe.getHttpGet().getPort().getStrVal()).as(service).isEqualTo("http");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void everyContainerHasRequestsLimitsAndALockedDownSecurityContext(String label, String overlay,
                                                                      List<HasMetadata> resources) {
        Map<String, PodSpec> pods = pods(resources);
        assertThat(pods).isNotEmpty();
        pods.forEach((name, pod) -> {
            boolean podNonRoot = pod.getSecurityContext() != null && Boolean.TRUE.equals(pod.getSecurityContext().getRunAsNonRoot());
            for (Container c : pod.getContainers()) {
                String at = name + "/" + c.getName();
                assertThat(c.getResources().getRequests()).as(at + " requests").containsKeys("cpu", "memory");
                assertThat(c.getResources().getLimits()).as(at + " limits").containsKeys("cpu", "memory");
                var security = c.getSecurityContext();
                assertThat(security).as(at + " securityContext").isNotNull();
                assertThat(security.getAllowPrivilegeEscalation()).as(at).isFalse();
                assertThat(security.getReadOnlyRootFilesystem()).as(at).isTrue();
                assertThat(security.getCapabilities().getDrop()).as(at).containsExactly("ALL");
                assertThat(podNonRoot || Boolean.TRUE.equals(security.getRunAsNonRoot())).as(at + " non-root").isTrue();
                assertThat(c.getVolumeMounts()).as(at + " a writable /tmp").anySatisfy(m -> {
                    assertThat(m.getMountPath()).isEqualTo("/tmp");
                    assertThat(pod.getVolumes()).anySatisfy(v -> {
                        assertThat(v.getName()).isEqualTo(m.getName());
                        assertThat(v.getEmptyDir()).isNotNull();
                    });
                });
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void imagesNameTheirModules(String label, String overlay, List<HasMetadata> resources) {
        for (String service : SERVICES) {
            Container container = deployment(resources, service).orElseThrow().getSpec().getTemplate().getSpec()
                    .getContainers().stream().filter(c -> c.getName().equals(service)).findFirst().orElseThrow();
            String module = service + "-service";
            assertThat(container.getImage()).as(service).matches("(.+/)?atelier/" + module + ":[\\w.-]+");
            assertThat(Files.isDirectory(Manifests.ROOT.resolveSibling(module))).as(module + " exists").isTrue();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void everySecretAndConfigMapKeyAContainerReadsExists(String label, String overlay, List<HasMetadata> resources) {
        Map<String, Set<String>> secrets = new HashMap<>();
        all(resources, Secret.class).forEach(s -> {
            Set<String> keys = new HashSet<>();
            if (s.getData() != null) {
                keys.addAll(s.getData().keySet());
            }
            if (s.getStringData() != null) {
                keys.addAll(s.getStringData().keySet());
            }
            secrets.put(s.getMetadata().getName(), keys);
        });
        boolean cnpg = resources.stream().anyMatch(r -> r.getKind().equals("Cluster") && r.getMetadata().getName().equals("atelier-db"));
        if (cnpg) {
            secrets.putIfAbsent("atelier-db-app", EXTERNAL_SECRETS.get("atelier-db-app"));
        }
        if (overlay.equals("gpu")) {
            secrets.putIfAbsent("atelier-tokens", EXTERNAL_SECRETS.get("atelier-tokens"));
            secrets.putIfAbsent("atelier-object-store", EXTERNAL_SECRETS.get("atelier-object-store"));
        }
        Map<String, Set<String>> configMaps = new HashMap<>();
        all(resources, ConfigMap.class).forEach(c -> configMaps.put(c.getMetadata().getName(), c.getData().keySet()));

        pods(resources).forEach((name, pod) -> {
            for (Container c : pod.getContainers()) {
                for (EnvVar e : c.getEnv()) {
                    if (e.getValueFrom() != null && e.getValueFrom().getSecretKeyRef() != null) {
                        var ref = e.getValueFrom().getSecretKeyRef();
                        assertThat(secrets.getOrDefault(ref.getName(), Set.of())).as(name + " reads " + ref.getName() + "/" + ref.getKey())
                                .contains(ref.getKey());
                    }
                    if (e.getValueFrom() != null && e.getValueFrom().getConfigMapKeyRef() != null) {
                        var ref = e.getValueFrom().getConfigMapKeyRef();
                        assertThat(configMaps.getOrDefault(ref.getName(), Set.of())).as(name + " reads " + ref.getName())
                                .contains(ref.getKey());
                    }
                }
                c.getEnvFrom().forEach(from -> {
                    if (from.getConfigMapRef() != null && !Boolean.TRUE.equals(from.getConfigMapRef().getOptional())) {
                        assertThat(configMaps).as(name + " envFrom").containsKey(from.getConfigMapRef().getName());
                    }
                    if (from.getSecretRef() != null && !Boolean.TRUE.equals(from.getSecretRef().getOptional())) {
                        assertThat(secrets).as(name + " envFrom").containsKey(from.getSecretRef().getName());
                    }
                });
            }
            for (Volume v : pod.getVolumes()) {
                if (v.getSecret() != null) {
                    Set<String> keys = secrets.getOrDefault(v.getSecret().getSecretName(), Set.of());
                    assertThat(keys).as(name + " mounts " + v.getSecret().getSecretName()).isNotEmpty();
                    if (v.getSecret().getItems() != null) {
                        v.getSecret().getItems().forEach(item -> assertThat(keys).as(name + " mounts key").contains(item.getKey()));
                    }
                }
                if (v.getPersistentVolumeClaim() != null) {
                    assertThat(resources).as(name + " claims " + v.getPersistentVolumeClaim().getClaimName())
                            .anyMatch(r -> r.getKind().equals("PersistentVolumeClaim")
                                    && r.getMetadata().getName().equals(v.getPersistentVolumeClaim().getClaimName()));
                }
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void networkPoliciesDenyByDefaultAndAllowDnsAndScraping(String label, String overlay, List<HasMetadata> resources) {
        List<NetworkPolicy> policies = all(resources, NetworkPolicy.class);
        assertThat(policies).as("default deny").anySatisfy(p -> {
            assertThat(p.getSpec().getPodSelector().getMatchLabels()).isNullOrEmpty();
            assertThat(p.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
            assertThat(p.getSpec().getIngress()).isNullOrEmpty();
            assertThat(p.getSpec().getEgress()).isNullOrEmpty();
        });
        assertThat(policies).as("DNS for every pod").anySatisfy(p -> {
            assertThat(p.getSpec().getPodSelector().getMatchLabels()).isNullOrEmpty();
            assertThat(p.getSpec().getEgress()).anySatisfy(rule -> {
                assertThat(rule.getPorts()).anySatisfy(port -> {
                    assertThat(port.getProtocol()).isEqualTo("UDP");
                    assertThat(port.getPort().getIntVal()).isEqualTo(53);
                });
                assertThat(rule.getPorts()).anySatisfy(port -> assertThat(port.getProtocol()).isEqualTo("TCP"));
            });
        });
        assertThat(policies).as("Prometheus scrapes the executors").anySatisfy(p -> {
            assertThat(p.getSpec().getPodSelector().getMatchLabels()).containsEntry("app.kubernetes.io/name", "executor");
            assertThat(p.getSpec().getIngress()).anySatisfy(rule -> {
                assertThat(rule.getPorts()).anySatisfy(port -> assertThat(port.getPort().getIntVal()).isEqualTo(8082));
                assertThat(rule.getFrom()).anySatisfy(peer -> assertThat(peer.getNamespaceSelector().getMatchLabels())
                        .containsEntry("kubernetes.io/metadata.name", "monitoring"));
            });
        });
        assertThat(policies).as("gateway and ledger take traffic (and scrapes) on their ports").anySatisfy(p ->
                assertThat(p.getSpec().getIngress()).anySatisfy(rule -> assertThat(rule.getPorts())
                        .extracting(port -> port.getPort().getIntVal()).contains(8080, 8081)));
        assertThat(policies).as("KEDA reaches the database").anySatisfy(p ->
                assertThat(p.getSpec().getIngress()).anySatisfy(rule -> assertThat(rule.getFrom()).anySatisfy(peer ->
                        assertThat(peer.getNamespaceSelector() == null ? Map.<String, String>of()
                                : peer.getNamespaceSelector().getMatchLabels()).containsEntry("kubernetes.io/metadata.name", "keda"))));
    }

    /**
     * The dashboard's actions: the ledger forwards them to the gateway's Service (atelier.ledger.gateway-url), a
     * policy lets it, and the one-host Ingress example routes to Services and ports that exist.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void theLedgerReachesTheGatewayForTheDashboardsActionsAndTheIngressExampleRoutesToBoth(String label, String overlay,
                                                                                          List<HasMetadata> resources)
            throws IOException {
        String url = resolvedEnv(resources, container(pods(resources).get("ledger"), "ledger"), "ATELIER_LEDGER_GATEWAY_URL");
        var gatewayService = all(resources, io.fabric8.kubernetes.api.model.Service.class).stream()
                .filter(svc -> svc.getMetadata().getName().equals("gateway")).findFirst().orElseThrow();
        int gatewayPort = gatewayService.getSpec().getPorts().get(0).getPort();
        assertThat(url).isEqualTo("http://gateway:" + gatewayPort);
        assertThat(all(resources, NetworkPolicy.class)).as("the ledger may reach the gateway").anySatisfy(p -> {
            assertThat(p.getSpec().getPodSelector().getMatchLabels()).containsEntry("app.kubernetes.io/name", "ledger");
            assertThat(p.getSpec().getEgress()).anySatisfy(rule -> {
                assertThat(rule.getTo()).anySatisfy(peer -> assertThat(peer.getPodSelector().getMatchLabels())
                        .containsEntry("app.kubernetes.io/name", "gateway"));
                assertThat(rule.getPorts()).extracting(port -> port.getPort().getIntVal()).contains(Integer.parseInt(port("gateway")));
            });
        });

        var ingress = Manifests.parse(Files.readString(Manifests.ROOT.resolve("examples/ingress-one-host.yaml"))).stream()
                .filter(r -> r instanceof io.fabric8.kubernetes.api.model.networking.v1.Ingress)
                .map(r -> (io.fabric8.kubernetes.api.model.networking.v1.Ingress) r).findFirst().orElseThrow();
        assertThat(ingress.getSpec().getRules()).hasSize(1);
        var paths = ingress.getSpec().getRules().get(0).getHttp().getPaths();
        Map<String, Integer> routed = new HashMap<>();
        paths.forEach(path -> routed.put(path.getBackend().getService().getName(), path.getBackend().getService().getPort().getNumber()));
        assertThat(routed).as("one host, both services").containsOnlyKeys("gateway", "ledger");
        routed.forEach((service, number) -> assertThat(all(resources, io.fabric8.kubernetes.api.model.Service.class))
                .as(service + ":" + number + " is a Service port").anySatisfy(svc -> {
                    assertThat(svc.getMetadata().getName()).isEqualTo(service);
                    assertThat(svc.getSpec().getPorts()).extracting(p -> p.getPort()).contains(number);
                }));
        assertThat(paths.get(paths.size() - 1).getBackend().getService().getName())
                .as("everything not under /gateway goes to the ledger, the dashboard's origin").isEqualTo("ledger");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void theGpuOverlayKeepsArtifactBytesInTheBucketAndTheDevOverlayInPostgres(String label, String overlay,
                                                                              List<HasMetadata> resources) {
        var objectStore = all(resources, ConfigMap.class).stream()
                .filter(c -> c.getMetadata().getName().equals("atelier-object-store")).findFirst();
        if (overlay.equals("dev")) {
            assertThat(objectStore).as("dev keeps bytes in its PostgreSQL").isEmpty();
            return;
        }
        assertThat(objectStore).hasValueSatisfying(c -> assertThat(c.getData())
                .containsEntry("ATELIER_ARTIFACTS_STORAGE", "s3")
                .containsKeys("ATELIER_ARTIFACTS_S3_ENDPOINT", "ATELIER_ARTIFACTS_S3_BUCKET"));
        // the ledger's Deployment is the base's: its optional references are what the gpu overlay fills
        for (String service : List.of("executor", "ledger")) {
            Container c = pods(resources).get(service).getContainers().get(0);
            assertThat(c.getEnvFrom()).as(service + " reads the bucket's settings and credentials")
                    .anyMatch(f -> f.getConfigMapRef() != null && f.getConfigMapRef().getName().equals("atelier-object-store"))
                    .anyMatch(f -> f.getSecretRef() != null && f.getSecretRef().getName().equals("atelier-object-store"));
        }
        assertThat(all(resources, NetworkPolicy.class)).as("executors and ledgers reach the object store")
                .anySatisfy(p -> {
                    assertThat(p.getSpec().getPodSelector().getMatchExpressions()).anySatisfy(e ->
                            assertThat(e.getValues()).contains("executor", "ledger"));
                    assertThat(p.getSpec().getEgress()).anySatisfy(rule -> assertThat(rule.getPorts())
                            .extracting(port -> port.getPort().getIntVal()).contains(9000, 443));
                });
    }

    /**
     * The preStop hook calls /drain on the executor's management port (9082, quarkus.management.port), a port no
     * network policy admits and no Service routes: only the kubelet, from the node, reaches it.
     */
    private static void assertDrainOnTheManagementPortOnly(List<HasMetadata> resources, Container executor) {
        String hookPort = executor.getLifecycle().getPreStop().getHttpGet().getPort().getStrVal();
        int managementPort = executor.getPorts().stream().filter(p -> p.getName().equals(hookPort))
                .findFirst().orElseThrow().getContainerPort();
        assertThat(managementPort).as("the hook's port is the management interface's").isEqualTo(9082);
        assertThat(executor.getPorts()).filteredOn(p -> p.getName().equals("http")).singleElement()
                .satisfies(p -> assertThat(p.getContainerPort()).isNotEqualTo(managementPort));
        for (HasMetadata resource : resources) {
            if (resource instanceof io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy policy
                    && policy.getSpec().getIngress() != null) {
                policy.getSpec().getIngress().forEach(rule -> assertThat(rule.getPorts() == null ? List.<Integer>of()
                        : rule.getPorts().stream().map(port -> port.getPort().getIntVal()).toList())
                        .as(policy.getMetadata().getName() + " admits no one to the management port")
                        .doesNotContain(managementPort).isNotEmpty());
            }
            if (resource instanceof io.fabric8.kubernetes.api.model.Service service) {
                assertThat(service.getSpec().getPorts()).as(service.getMetadata().getName() + " routes no /drain")
                        .allSatisfy(port -> assertThat(port.getTargetPort() == null ? null : port.getTargetPort().getStrVal())
                                .isNotEqualTo(hookPort));
            }
        }
    }

    @Test
    void theGpuExecutorPodAsksForAGpuAndScalesOnClaimableJobsUpToTheGpuCount() throws Exception {
        for (List<HasMetadata> resources : gpuVariants()) {
            PodSpec pod = deployment(resources, "executor").orElseThrow().getSpec().getTemplate().getSpec();
            assertThat(pod.getContainers()).anySatisfy(c ->
                    assertThat(c.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("1")));
            Container executor = pod.getContainers().stream().filter(c -> c.getName().equals("executor")).findFirst().orElseThrow();
            // a long job may finish before the pod goes: the grace period outlasts the executor's shutdown grace
            Duration shutdownGrace = Duration.parse(env(executor, "ATELIER_EXECUTOR_SHUTDOWN_GRACE"));
            assertThat(pod.getTerminationGracePeriodSeconds()).isGreaterThan(shutdownGrace.toSeconds());
            assertThat(executor.getLifecycle().getPreStop().getHttpGet().getPath()).as("drains before it stops")
                    .isEqualTo("/drain");
            assertDrainOnTheManagementPortOnly(resources, executor);
            // it keeps its pod's deletion cost, so idle executors go first on scale-in
            assertThat(executor.getEnv()).anySatisfy(e -> {
                assertThat(e.getName()).isEqualTo("ATELIER_EXECUTOR_POD_NAME");
                assertThat(e.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.name");
            });
            assertThat(pod.getServiceAccountName()).isEqualTo("executor");
            assertThat(all(resources, io.fabric8.kubernetes.api.model.rbac.Role.class)).anySatisfy(role ->
                    assertThat(role.getRules()).anySatisfy(rule -> {
                        assertThat(rule.getResources()).contains("pods");
                        assertThat(rule.getVerbs()).contains("patch");
                    }));

            GenericKubernetesResource scaled = all(resources, GenericKubernetesResource.class).stream()
                    .filter(r -> r.getKind().equals("ScaledObject")).findFirst().orElseThrow();
            Map<String, Object> spec = scaled.get("spec");
            assertThat(((Map<?, ?>) spec.get("scaleTargetRef")).get("name")).isEqualTo("executor");
            assertThat(spec.get("maxReplicaCount")).as("the GPU count").isInstanceOf(Integer.class);
            List<?> triggers = (List<?>) spec.get("triggers");
            Map<String, String> slots = Map.of("ollama", resolvedEnv(resources, executor, "ATELIER_BACKENDS_OLLAMA_SLOTS"),
                    "comfyui", resolvedEnv(resources, executor, "ATELIER_BACKENDS_COMFYUI_SLOTS"));
            for (String kind : List.of("ollama", "comfyui")) {
                assertThat(triggers).as(kind).anySatisfy(t -> {
                    Map<?, ?> trigger = (Map<?, ?>) t;
                    Map<?, ?> metadata = (Map<?, ?>) trigger.get("metadata");
                    assertThat(trigger.get("type")).isEqualTo("postgresql");
                    assertThat(metadata.get("query")).isEqualTo("select claimable_jobs('" + kind + "')");
                    assertThat(metadata.get("targetQueryValue")).as("an executor's " + kind + " slots").isEqualTo(slots.get(kind));
                });
            }
        }
    }

    /**
     * The gpu overlay's executors: the pool through CloudNativePG's transaction-mode Pooler without server-side
     * prepared statements, LISTEN and Flyway straight to the cluster, and network policies that let each hop through.
     */
    @Test
    void theGpuExecutorsPoolGoesThroughTheTransactionPoolerAndTheirListenStraightToPostgres() throws Exception {
        for (List<HasMetadata> resources : gpuVariants()) {
            GenericKubernetesResource pooler = all(resources, GenericKubernetesResource.class).stream()
                    .filter(r -> r.getKind().equals("Pooler")).findFirst().orElseThrow();
            String name = pooler.getMetadata().getName();
            Map<String, Object> spec = pooler.get("spec");
            assertThat(((Map<?, ?>) spec.get("cluster")).get("name")).isEqualTo("atelier-db");
            assertThat(spec.get("type")).isEqualTo("rw");
            assertThat(((Map<?, ?>) spec.get("pgbouncer")).get("poolMode")).isEqualTo("transaction");

            Container executor = container(deployment(resources, "executor").orElseThrow().getSpec().getTemplate()
                    .getSpec(), "executor");
            assertThat(env(executor, "QUARKUS_DATASOURCE_JDBC_URL"))
                    .startsWith("jdbc:postgresql://" + name + ":5432/").contains("prepareThreshold=0");
            for (String direct : List.of("ATELIER_EXECUTOR_LISTEN_URL", "QUARKUS_FLYWAY_JDBC_URL")) {
                assertThat(executor.getEnv()).as(direct).anySatisfy(e -> {
                    assertThat(e.getName()).isEqualTo(direct);
                    assertThat(e.getValueFrom().getSecretKeyRef().getName()).isEqualTo("atelier-db-app");
                    assertThat(e.getValueFrom().getSecretKeyRef().getKey()).isEqualTo("jdbc-uri");
                });
            }
            assertThat(executor.getEnv()).extracting(EnvVar::getName)
                    .contains("QUARKUS_FLYWAY_USERNAME", "QUARKUS_FLYWAY_PASSWORD");

            List<NetworkPolicy> policies = all(resources, NetworkPolicy.class);
            Map<String, String> poolerPods = Map.of("cnpg.io/poolerName", name);
            assertThat(policies).as("executors may reach the pooler").anySatisfy(p -> {
                assertThat(p.getSpec().getPodSelector().getMatchLabels()).containsEntry("app.kubernetes.io/name", "executor");
                assertThat(p.getSpec().getEgress()).anySatisfy(rule -> {
                    assertThat(rule.getTo()).anySatisfy(peer -> assertThat(peer.getPodSelector().getMatchLabels())
                            .containsAllEntriesOf(poolerPods));
                    assertThat(rule.getPorts()).anySatisfy(port -> assertThat(port.getPort().getIntVal()).isEqualTo(5432));
                });
            });
            assertThat(policies).as("the pooler takes executors and reaches the cluster").anySatisfy(p -> {
                assertThat(p.getSpec().getPodSelector().getMatchLabels()).containsAllEntriesOf(poolerPods);
                assertThat(p.getSpec().getIngress()).anySatisfy(rule -> assertThat(rule.getFrom()).anySatisfy(peer ->
                        assertThat(peer.getPodSelector().getMatchLabels()).containsEntry("app.kubernetes.io/name", "executor")));
                assertThat(p.getSpec().getEgress()).anySatisfy(rule -> assertThat(rule.getTo()).anySatisfy(peer ->
                        assertThat(peer.getPodSelector().getMatchLabels()).containsEntry("cnpg.io/cluster", "atelier-db")));
            });
            assertThat(policies).as("the cluster admits the pooler").anySatisfy(p -> {
                assertThat(p.getSpec().getPodSelector().getMatchLabels()).containsEntry("cnpg.io/cluster", "atelier-db");
                assertThat(p.getSpec().getIngress()).anySatisfy(rule -> assertThat(rule.getFrom()).anySatisfy(peer ->
                        assertThat(peer.getPodSelector() == null ? Map.<String, String>of()
                                : peer.getPodSelector().getMatchLabels()).containsAllEntriesOf(poolerPods)));
            });
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void ollamaSlotsAreWhatOllamaAnswersAtOnceFromOneValue(String label, String overlay, List<HasMetadata> resources) {
        Map<String, PodSpec> pods = pods(resources);
        Container executor = container(pods.get("executor"), "executor");
        String slots = resolvedEnv(resources, executor, "ATELIER_BACKENDS_OLLAMA_SLOTS");
        assertThat(resolvedEnv(resources, executor, "ATELIER_BACKENDS_OLLAMA_NUM_PARALLEL")).isEqualTo(slots);
        // the Ollama beside the executor (gpu) or behind its Service (dev)
        PodSpec ollamaPod = overlay.equals("gpu") ? pods.get("executor") : pods.get("ollama");
        assertThat(resolvedEnv(resources, container(ollamaPod, "ollama"), "OLLAMA_NUM_PARALLEL")).isEqualTo(slots);
        assertThat(executor.getEnv()).filteredOn(e -> e.getName().equals("ATELIER_BACKENDS_OLLAMA_SLOTS"))
                .singleElement().satisfies(e -> assertThat(e.getValueFrom().getConfigMapKeyRef().getName())
                        .as("one value, not two numbers kept equal by hand").isEqualTo("ollama-parallel"));
    }

    @Test
    void theDevOverlayRunsOneExecutorAgainstTheOllamaAndComfyUiServices() throws Exception {
        List<HasMetadata> resources = Manifests.assembled("dev");
        Deployment executor = deployment(resources, "executor").orElseThrow();
        assertThat(executor.getSpec().getReplicas()).isEqualTo(1);
        Container c = executor.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertThat(env(c, "ATELIER_BACKENDS_OLLAMA_URL")).isEqualTo("http://ollama:11434");
        assertThat(env(c, "ATELIER_BACKENDS_COMFYUI_URL")).isEqualTo("http://comfyui:8188");
        assertThat(all(resources, StatefulSet.class)).singleElement().satisfies(s -> {
            assertThat(s.getMetadata().getName()).isEqualTo("postgres");
            assertThat(s.getSpec().getVolumeClaimTemplates()).isNotEmpty();
        });
    }

    @Test
    void theOtherGpuShapePointsOneExecutorPerGpuAtItsNodesBackends() throws Exception {
        Assumptions.assumeTrue(Manifests.kubectlInstalled(),
                "kubectl is not installed: the gpu-node-backends overlay is a patch of gpu and needs kustomize to render");
        List<HasMetadata> resources = Manifests.rendered("gpu-node-backends");
        PodSpec pod = deployment(resources, "executor").orElseThrow().getSpec().getTemplate().getSpec();
        assertThat(pod.getContainers()).extracting(Container::getName).containsExactly("executor");
        Container executor = pod.getContainers().get(0);
        assertThat(executor.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("1"));
        assertThat(executor.getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("HOST_IP");
            assertThat(e.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("status.hostIP");
        });
        assertThat(env(executor, "ATELIER_BACKENDS_OLLAMA_URL")).isEqualTo("http://${HOST_IP}:11434");
        assertThat(env(executor, "ATELIER_BACKENDS_COMFYUI_URL")).isEqualTo("http://${HOST_IP}:8188");
    }

    @Test
    void kubectlRendersWhatTheFilesList() throws Exception {
        Assumptions.assumeTrue(Manifests.kubectlInstalled(),
                "kubectl is not installed: the overlays were checked as their files list them, not as kustomize renders them");
        for (String overlay : OVERLAYS) {
            Set<String> files = new HashSet<>();
            Manifests.assembled(overlay).forEach(r -> files.add(r.getKind() + "/" + r.getMetadata().getName()));
            Set<String> rendered = new HashSet<>();
            Manifests.rendered(overlay).forEach(r -> rendered.add(r.getKind() + "/" + r.getMetadata().getName()));
            assertThat(rendered).as(overlay).isEqualTo(files);
        }
    }

    /**
     * The account's token reaches the executor container alone: the pod does not automount it (the backends next to
     * the executor run user-submitted workflows), the executor mounts a projected, pod-bound token where the
     * Kubernetes client looks for it, and the admission policy that narrows the account to its own pod's deletion
     * cost ships with it.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void onlyTheExecutorContainerHoldsTheAccountsTokenAndThePolicyNarrowsIt(String label, String overlay,
                                                                           List<HasMetadata> resources) {
        Optional<Deployment> executor = deployment(resources, "executor");
        Assumptions.assumeTrue(executor.isPresent(), overlay + " has no executor");
        PodSpec pod = executor.get().getSpec().getTemplate().getSpec();
        assertThat(pod.getServiceAccountName()).isEqualTo("executor");
        assertThat(pod.getAutomountServiceAccountToken()).as("no token by default").isFalse();
        Set<String> tokenVolumes = new HashSet<>();
        for (Volume volume : pod.getVolumes()) {
            if (volume.getProjected() != null && volume.getProjected().getSources().stream()
                    .anyMatch(source -> source.getServiceAccountToken() != null)) {
                tokenVolumes.add(volume.getName());
                assertThat(volume.getProjected().getSources()).as("the CA with it")
                        .extracting(source -> source.getConfigMap() == null ? null : source.getConfigMap().getName())
                        .contains("kube-root-ca.crt");
                assertThat(volume.getProjected().getSources()).as("the namespace with it")
                        .anyMatch(source -> source.getDownwardAPI() != null);
                assertThat(volume.getProjected().getSources()).filteredOn(source -> source.getServiceAccountToken() != null)
                        .singleElement().satisfies(source -> assertThat(source.getServiceAccountToken()
                                .getExpirationSeconds()).as("short-lived").isLessThanOrEqualTo(3600L));
            }
        }
        assertThat(tokenVolumes).hasSize(1);
        for (Container container : pod.getContainers()) {
            boolean mounts = container.getVolumeMounts() != null && container.getVolumeMounts().stream()
                    .anyMatch(mount -> tokenVolumes.contains(mount.getName()));
            assertThat(mounts).as(container.getName() + " mounts the token").isEqualTo(container.getName().equals("executor"));
            if (mounts) {
                assertThat(container.getVolumeMounts()).filteredOn(mount -> tokenVolumes.contains(mount.getName()))
                        .singleElement().satisfies(mount -> {
                            assertThat(mount.getMountPath()).isEqualTo("/var/run/secrets/kubernetes.io/serviceaccount");
                            assertThat(mount.getReadOnly()).isTrue();
                        });
            }
        }
        assertThat(resources).as("the admission policy and its binding ship with the executor")
                .anySatisfy(r -> assertThat(r.getKind() + "/" + r.getMetadata().getName())
                        .isEqualTo("ValidatingAdmissionPolicy/atelier-executor-own-deletion-cost"))
                .anySatisfy(r -> assertThat(r.getKind() + "/" + r.getMetadata().getName())
                        .isEqualTo("ValidatingAdmissionPolicyBinding/atelier-executor-own-deletion-cost"));
    }

    private static List<List<HasMetadata>> gpuVariants() throws Exception {
        List<List<HasMetadata>> variants = new ArrayList<>();
        variants.add(Manifests.assembled("gpu"));
        if (Manifests.kubectlInstalled()) {
            variants.add(Manifests.rendered("gpu"));
        }
        return variants;
    }

    @Test
    void everyManifestFileParses() throws IOException {
        try (Stream<Path> files = Files.walk(Manifests.ROOT)) {
            List<Path> yaml = files.filter(p -> p.toString().endsWith(".yaml"))
                    .filter(p -> !p.getFileName().toString().equals("kustomization.yaml"))
                    .filter(p -> !p.toString().contains("/target/")).toList();
            assertThat(yaml).hasSizeGreaterThanOrEqualTo(10);
            for (Path file : yaml) {
                assertThat(Manifests.parse(Files.readString(file))).as(file.toString()).isNotEmpty()
                        .allSatisfy(r -> assertThat(r.getMetadata().getName()).isNotBlank());
            }
        }
    }
}
