package dev.atelier.s3;

import dev.atelier.store.ObjectStore;
import io.quarkus.arc.lookup.LookupIfProperty;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import org.jboss.logging.Logger;

/** Gives the services an ObjectStore when {@code atelier.artifacts.storage=s3}; Artifacts then keeps bytes there. */
@ApplicationScoped
public class S3Storage {

    private static final Logger LOG = Logger.getLogger(S3Storage.class);

    @Produces
    @ApplicationScoped
    @LookupIfProperty(name = "atelier.artifacts.storage", stringValue = "s3")
    ObjectStore objectStore(StorageConfig config) {
        S3ObjectStore store = S3ObjectStore.create(config.s3());
        LOG.infof("artifact bytes are kept in %s", store.describe());
        return store;
    }

    void close(@Disposes ObjectStore store) {
        if (store instanceof S3ObjectStore s3) {
            s3.close();
        }
    }
}
