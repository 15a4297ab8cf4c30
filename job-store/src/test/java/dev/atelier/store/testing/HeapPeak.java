package dev.atelier.store.testing;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The peak heap a running service reports on its own {@code /q/metrics} (the sum of {@code jvm_memory_used_bytes}
 * over its heap pools), sampled every 200 ms from creation until {@link #close()}. For measuring a packaged service
 * from outside, in tests and in the bench.
 */
public final class HeapPeak implements AutoCloseable {

    private static final Pattern HEAP = Pattern.compile("^jvm_memory_used_bytes\\{area=\"heap\",[^}]*} ([0-9.eE+]+)$",
            Pattern.MULTILINE);

    private final AtomicLong peak = new AtomicLong();
    private final Thread sampler;

    public HeapPeak(String serviceUrl) {
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest metrics = HttpRequest.newBuilder(URI.create(serviceUrl + "/q/metrics")).build();
        sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Matcher m = HEAP.matcher(http.send(metrics, HttpResponse.BodyHandlers.ofString()).body());
                    long used = 0;
                    while (m.find()) {
                        used += (long) Double.parseDouble(m.group(1));
                    }
                    peak.accumulateAndGet(used, Math::max);
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                } catch (Exception missed) {
                    // a missed sample; the next one counts
                }
            }
        }, "heap-peak");
        sampler.setDaemon(true);
        sampler.start();
    }

    /** The largest heap seen so far, in bytes. */
    public long bytes() {
        return peak.get();
    }

    @Override
    public void close() throws InterruptedException {
        sampler.interrupt();
        sampler.join();
    }
}
