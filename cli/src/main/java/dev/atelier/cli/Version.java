package dev.atelier.cli;

import org.eclipse.microprofile.config.ConfigProvider;
import picocli.CommandLine.IVersionProvider;

/** {@code atelier --version}: the build's version, from the application's configuration. */
public class Version implements IVersionProvider {

    @Override
    public String[] getVersion() {
        return new String[] {"atelier " + ConfigProvider.getConfig()
                .getOptionalValue("quarkus.application.version", String.class).orElse("dev")};
    }
}
