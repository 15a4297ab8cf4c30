package dev.atelier.store;

import java.util.Collection;
import java.util.Locale;

/**
 * Ollama model names as Ollama compares them (REALITY.md, Ollama 5): case-insensitively, without the default
 * registry ({@code registry.ollama.ai/}) and namespace ({@code library/}), and with the tag {@code latest} when none
 * is given. {@code Llama3.2}, {@code library/llama3.2} and {@code registry.ollama.ai/library/llama3.2:latest} all have
 * the key {@code llama3.2:latest}. The only rule: jobs are keyed with it at intake and executors publish their
 * models' keys with it (V13), so the database compares keys and never makes them (its {@code lower()} follows
 * LC_CTYPE, which Java's does not).
 */
public final class ModelNames {

    private ModelNames() {
    }

    public static String key(String name) {
        if (name == null) {
            return null;
        }
        String n = name.toLowerCase(Locale.ROOT);
        if (n.startsWith("registry.ollama.ai/")) {
            n = n.substring("registry.ollama.ai/".length());
        }
        if (n.startsWith("library/")) {
            n = n.substring("library/".length());
        }
        return n.substring(n.lastIndexOf('/') + 1).contains(":") ? n : n + ":latest";
    }

    public static boolean same(String a, String b) {
        return a != null && b != null && key(a).equals(key(b));
    }

    /** Whether {@code names} holds {@code model} under any of its spellings. */
    public static boolean offers(Collection<String> names, String model) {
        String wanted = key(model);
        return names.stream().anyMatch(name -> key(name).equals(wanted));
    }
}
