package dev.atelier.executor.kubernetes;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Keeps this executor's pod annotated with {@code controller.kubernetes.io/pod-deletion-cost} = the jobs it runs,
 * so that when KEDA scales executors in, Kubernetes removes idle pods first (lower cost goes first). It patches its
 * own pod through the API server with the pod's service account, only when the number changes.
 */
public final class PodDeletionCost {

    static final String ANNOTATION = "controller.kubernetes.io/pod-deletion-cost";
    private static final Logger LOG = Logger.getLogger(PodDeletionCost.class);

    private final HttpClient http;
    private final URI pod;
    /**
     * Patches run here, never on the caller's thread (the heartbeat's): a slow API server must not hold back lease
     * renewal. One patch at a time; of those waiting, only the newest is kept.
     */
    private final ThreadPoolExecutor patches = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(1), runnable -> {
                Thread thread = new Thread(runnable, "atelier-pod-patch");
                thread.setDaemon(true);
                return thread;
            }, new ThreadPoolExecutor.DiscardOldestPolicy());
    private final Path tokenFile;
    private int published = -1;
    private boolean warned;

    /**
     * @param apiServer the API server, e.g. {@code https://10.0.0.1:443}
     * @param tokenFile the service account token (re-read on every patch: Kubernetes rotates it)
     */
    public PodDeletionCost(HttpClient http, String apiServer, String namespace, String podName, Path tokenFile) {
        this.http = http;
        this.pod = URI.create(apiServer + "/api/v1/namespaces/" + namespace + "/pods/" + podName);
        this.tokenFile = tokenFile;
    }

    /**
     * The pod's own API server, account token and CA, as Kubernetes mounts them into every pod.
     *
     * @return null outside Kubernetes (no {@code KUBERNETES_SERVICE_HOST})
     */
    public static PodDeletionCost inCluster(String namespace, String podName) {
        String host = System.getenv("KUBERNETES_SERVICE_HOST");
        if (host == null) {
            return null;
        }
        Path account = Path.of("/var/run/secrets/kubernetes.io/serviceaccount");
        try (var ca = Files.newInputStream(account.resolve("ca.crt"))) {
            KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
            trusted.load(null, null);
            trusted.setCertificateEntry("kubernetes", CertificateFactory.getInstance("X.509").generateCertificate(ca));
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(trusted);
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(null, trust.getTrustManagers(), null);
            String port = System.getenv().getOrDefault("KUBERNETES_SERVICE_PORT", "443");
            String server = "https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
            return new PodDeletionCost(HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(5)).build(),
                    server, namespace, podName, account.resolve("token"));
        } catch (IOException | GeneralSecurityException e) {
            LOG.warnf("cannot reach the API server to keep the pod's deletion cost (%s); scale-in picks pods blindly", e);
            return null;
        }
    }

    /** Publishes the number of jobs running now, in the background (see {@link #update}). */
    public void publish(int runningJobs) {
        patches.execute(() -> update(runningJobs));
    }

    /** Publishes the number of jobs running now, if it changed since the last successful patch. */
    public synchronized void update(int runningJobs) {
        if (runningJobs == published) {
            return;
        }
        String patch = "{\"metadata\": {\"annotations\": {\"" + ANNOTATION + "\": \"" + runningJobs + "\"}}}";
        try {
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(pod).timeout(Duration.ofSeconds(5))
                    .header("Authorization", "Bearer " + Files.readString(tokenFile).trim())
                    .header("Content-Type", "application/merge-patch+json")
                    .method("PATCH", HttpRequest.BodyPublishers.ofString(patch)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (answer.statusCode() / 100 == 2) {
                published = runningJobs;
                warned = false;
                return;
            }
            warnOnce("the API server answered " + answer.statusCode() + " to the deletion-cost patch: " + answer.body());
        } catch (IOException e) {
            warnOnce("could not patch the pod's deletion cost: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // a missing RBAC rule should be said once, not every heartbeat; scaling still works, just less wisely
    private void warnOnce(String message) {
        if (!warned) {
            LOG.warn(message + " (scale-in may remove a busy executor before an idle one)");
            warned = true;
        } else {
            LOG.debug(message);
        }
    }
}
