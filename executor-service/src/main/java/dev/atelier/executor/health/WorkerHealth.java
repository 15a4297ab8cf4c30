package dev.atelier.executor.health;

import dev.atelier.executor.service.Backends;
import dev.atelier.executor.service.Worker;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

/**
 * Liveness: the claim loop and the completer are alive. Readiness: the claim loop is running (the datasource check
 * covers the database). Backend status is reported but never fails either probe: a backend outage must not get
 * executors restarted or taken out of service.
 */
public final class WorkerHealth {

    private WorkerHealth() {
    }

    @Liveness
    @ApplicationScoped
    public static class LoopsAlive implements HealthCheck {
        @Inject
        Worker worker;

        @Override
        public HealthCheckResponse call() {
            return HealthCheckResponse.named("executor loops").status(worker.loopsAlive()).build();
        }
    }

    @Readiness
    @ApplicationScoped
    public static class Claiming implements HealthCheck {
        @Inject
        Worker worker;

        @Inject
        Backends backends;

        @Override
        public HealthCheckResponse call() {
            var response = HealthCheckResponse.named("claim loop").status(worker.claiming())
                    .withData("executor", backends.executorId());
            worker.busy().keySet().forEach(kind ->
                    response.withData(kind, backends.state(kind).snapshot().status().wire()));
            return response.build();
        }
    }
}
