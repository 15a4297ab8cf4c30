package dev.atelier.s3;

import dev.atelier.store.ObjectStore;
import io.quarkus.arc.lookup.LookupIfProperty;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import org.jboss.logging.Logger;

/** Gives the services an ObjectStore when {@code atelier.artifacts.storage=s3}; Artifacts then keeps bytes there. */
@ApplicationScoped
public class S3Storage {

    private static final Logger LOG = Logger.getLogger(S3Storage.class);

    static final java.time.Duration MAX_PRESIGN = java.time.Duration.ofDays(7);

    @Produces
    @ApplicationScoped
    @LookupIfProperty(name = "atelier.artifacts.storage", stringValue = "s3")
    ObjectStore objectStore(StorageConfig config) {
        S3ObjectStore store = S3ObjectStore.create(config.s3());
        LOG.infof("artifact bytes are kept in %s", store.describe());
        return store;
    }

    /** A misspelt setting fails the start rather than keeping bytes somewhere nobody meant. */
    void check(@Observes StartupEvent started, StorageConfig config, Instance<ObjectStore> store) {
        switch (config.storage()) {
            case "postgres" -> LOG.debug("artifact bytes are kept in PostgreSQL");
            case "s3" -> {
                // S3 signs for at most 7 days; a longer one would fail every read, a zero one serve nothing
                config.s3().presign().filter(ttl -> ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_PRESIGN) > 0)
                        .ifPresent(ttl -> {
                            throw new IllegalArgumentException("atelier.artifacts.s3.presign is " + ttl
                                    + "; it is more than zero and at most " + MAX_PRESIGN);
                        });
                reachable(store.get()); // made now: a missing bucket setting stops the start
            }
            default -> throw new IllegalArgumentException("atelier.artifacts.storage is '" + config.storage()
                    + "'; it is postgres or s3");
        }
    }

    /** A store that does not answer yet is not a reason to stop (it may start after us), but it is said at once. */
    private static void reachable(ObjectStore store) {
        try {
            store.list("", null, 1);
        } catch (java.io.IOException e) {
            LOG.warnf("the object store does not answer yet; storing and reading artifacts fail until it does: %s",
                    e.getMessage());
        }
    }

    void close(@Disposes ObjectStore store) {
        if (store instanceof S3ObjectStore s3) {
            s3.close();
        }
    }
}
