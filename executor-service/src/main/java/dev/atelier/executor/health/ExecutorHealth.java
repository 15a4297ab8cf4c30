package dev.atelier.executor.health;

import dev.atelier.executor.service.Backends;
import dev.atelier.executor.service.ExecutorLoops;
import dev.atelier.executor.service.Lifecycle;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

/**
 * Liveness: the executor's loops run and it is not fenced (its lease renewals failing while the database answers).
 * Readiness: it claims (the datasource check covers the database); its data say whether it LISTENs for work. A
 * backend outage never fails either probe, and neither does a database outage: restarting executors would not bring
 * either back.
 */
public final class ExecutorHealth {

    private ExecutorHealth() {
    }

    @Liveness
    @ApplicationScoped
    public static class LoopsAlive implements HealthCheck {
        @Inject
        ExecutorLoops loops;

        @Override
        public HealthCheckResponse call() {
            Lifecycle lifecycle = loops.lifecycle();
            return HealthCheckResponse.named("executor loops").status(lifecycle != null && lifecycle.live()).build();
        }
    }

    @Readiness
    @ApplicationScoped
    public static class Claiming implements HealthCheck {
        @Inject
        ExecutorLoops loops;

        @Inject
        Backends backends;

        @Override
        public HealthCheckResponse call() {
            Lifecycle lifecycle = loops.lifecycle();
            var response = HealthCheckResponse.named("claim loop").status(lifecycle != null && lifecycle.claiming())
                    .withData("executor", backends.executorId());
            if (lifecycle != null) {
                // false: every LISTEN fails (the log says why); jobs are still found by polling, only later
                response.withData("listening", lifecycle.listening());
                lifecycle.busy().keySet().forEach(kind ->
                        response.withData(kind, backends.state(kind).snapshot().status().wire()));
            }
            return response.build();
        }
    }
}
