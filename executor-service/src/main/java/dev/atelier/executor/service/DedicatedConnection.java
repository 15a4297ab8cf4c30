package dev.atelier.executor.service;

import io.agroal.api.AgroalDataSource;
import io.agroal.api.configuration.AgroalConnectionPoolConfiguration;
import io.agroal.api.configuration.supplier.AgroalDataSourceConfigurationSupplier;
import io.agroal.api.security.NamePrincipal;
import io.agroal.api.security.SimplePassword;
import java.time.Duration;

/**
 * A connection of one's own: a pool of one, apart from the executor's pool. The heartbeat has one, so renewals never
 * queue behind a slow claim or a big batch of outcomes; LISTEN has one, held while listening, which may point past a
 * transaction-mode PgBouncer straight at PostgreSQL ({@code atelier.executor.listen-url}). Every read on it gives up
 * after {@code timeout} (pgjdbc's socketTimeout) and TCP keepalive is on, so it never hangs for ever on a peer that
 * died in a failover; a connection that failed is checked before it is lent again, and replaced.
 */
public final class DedicatedConnection {

    private DedicatedConnection() {
    }

    /**
     * @param timeout how long one statement may wait for the database (for heartbeats less than a lease, so a
     *                renewal that hangs fails in time to be tried again)
     * @param name    its application_name in pg_stat_activity
     */
    public static AgroalDataSource open(String jdbcUrl, String user, String password, Duration timeout, String name) {
        String seconds = Long.toString(Math.max(1, timeout.toSeconds()));
        AgroalDataSourceConfigurationSupplier config = new AgroalDataSourceConfigurationSupplier()
                .connectionPoolConfiguration(pool -> pool
                        .minSize(0)
                        .maxSize(1)
                        .acquisitionTimeout(timeout)
                        .validateOnBorrow(true)
                        .connectionValidator(AgroalConnectionPoolConfiguration.ConnectionValidator
                                .defaultValidatorWithTimeout((int) Math.max(1, timeout.toSeconds())))
                        .exceptionSorter(AgroalConnectionPoolConfiguration.ExceptionSorter.fatalExceptionSorter())
                        .connectionFactoryConfiguration(factory -> {
                            factory.jdbcUrl(jdbcUrl)
                                    .loginTimeout(timeout)
                                    .jdbcProperty("socketTimeout", seconds)
                                    .jdbcProperty("connectTimeout", seconds)
                                    .jdbcProperty("tcpKeepAlive", "true")
                                    .jdbcProperty("ApplicationName", name);
                            if (user != null) {
                                factory.principal(new NamePrincipal(user));
                            }
                            if (password != null) {
                                factory.credential(new SimplePassword(password));
                            }
                            return factory;
                        }));
        // the pool's own class, as Quarkus builds its pools, rather than AgroalDataSource.from's ServiceLoader lookup
        return new io.agroal.pool.DataSource(config.get());
    }
}
