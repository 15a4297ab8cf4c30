package dev.atelier.gateway.service;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.validation.Path;
import jakarta.validation.TraversableResolver;
import java.lang.annotation.ElementType;

/**
 * Hibernate Validator's traversable resolver (Quarkus uses a CDI bean of this type). The default, with JPA on the
 * class path, asks Hibernate ORM whether each constrained property is loaded, and caches the answers in a map made
 * per validation: a tenth of a 10,000-job intake's CPU went there. What this service validates are the request's
 * records ({@link RequestRules}), never entities, so every property is there to check.
 */
@ApplicationScoped
public class EveryPropertyReachable implements TraversableResolver {

    @Override
    public boolean isReachable(Object bean, Path.Node property, Class<?> rootType, Path pathToProperty,
                               ElementType elementType) {
        return true;
    }

    @Override
    public boolean isCascadable(Object bean, Path.Node property, Class<?> rootType, Path pathToProperty,
                                ElementType elementType) {
        return true;
    }
}
