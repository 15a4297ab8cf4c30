package dev.atelier.s3;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.net.URI;
import java.util.Map;
import java.util.UUID;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * A real S3 API server in this JVM (S3Proxy over jclouds' in-memory store) with one bucket; as a Quarkus test
 * resource, it points a service's {@code atelier.artifacts.*} settings at it, under a prefix of the test's own.
 */
public class S3TestServer implements QuarkusTestResourceLifecycleManager {

    public static final String ACCESS_KEY = "atelier-test";
    public static final String SECRET_KEY = "atelier-test-secret";
    public static final String BUCKET = "artifacts";

    private static S3Proxy server;
    private static URI endpoint;

    /** Starts the server once per JVM; its address. */
    public static synchronized URI endpoint() {
        if (server == null) {
            try {
                BlobStore memory = ContextBuilder.newBuilder("transient").credentials("unused", "unused")
                        .build(BlobStoreContext.class).getBlobStore();
                memory.createContainerInLocation(null, BUCKET);
                server = S3Proxy.builder().blobStore(memory).endpoint(URI.create("http://127.0.0.1:0"))
                        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY).build();
                server.start();
                while (!AbstractLifeCycle.STARTED.equals(server.getState())) {
                    Thread.sleep(10);
                }
            } catch (Exception e) {
                throw new IllegalStateException("the S3 test server did not start", e);
            }
            endpoint = URI.create("http://127.0.0.1:" + server.getPort());
        }
        return endpoint;
    }

    @Override
    public Map<String, String> start() {
        return Map.of(
                "atelier.artifacts.storage", "s3",
                "atelier.artifacts.s3.endpoint", endpoint().toString(),
                "atelier.artifacts.s3.bucket", BUCKET,
                "atelier.artifacts.s3.prefix", "test-" + UUID.randomUUID() + "/",
                "atelier.artifacts.s3.access-key-id", ACCESS_KEY,
                "atelier.artifacts.s3.secret-access-key", SECRET_KEY);
    }

    @Override
    public void stop() {
        // one server for the JVM: other tests' resources use it too
    }
}
