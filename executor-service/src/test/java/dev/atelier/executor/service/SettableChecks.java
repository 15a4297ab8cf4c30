package dev.atelier.executor.service;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** Health checks a test sets: whether the backend answers, and how often the models were read again. */
final class SettableChecks implements AttemptTable.BackendChecks {

    final AtomicBoolean reachable = new AtomicBoolean(true);
    final AtomicInteger refreshes = new AtomicInteger();

    @Override
    public boolean reachable(String kind, Instant since) {
        return reachable.get();
    }

    @Override
    public void refreshModels() {
        refreshes.incrementAndGet();
    }
}
