package dev.atelier.api.auth;

import jakarta.enterprise.context.RequestScoped;

/** Who made the current request: the token's name, or null when authentication is off. */
@RequestScoped
public class Caller {

    private String name;

    public String name() {
        return name;
    }

    void identify(String name) {
        this.name = name;
    }
}
