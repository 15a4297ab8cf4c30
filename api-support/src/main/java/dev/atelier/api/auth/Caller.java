package dev.atelier.api.auth;

import dev.atelier.api.ProblemException;
import jakarta.enterprise.context.RequestScoped;

/**
 * Who made the current request: the token's name and role, or neither when authentication is off (then every
 * check here passes: the dev and test profiles, and a local run).
 */
@RequestScoped
public class Caller {

    private String name;
    private Role role;

    public String name() {
        return name;
    }

    void identify(Tokens.Holder holder) {
        this.name = holder.name();
        this.role = holder.role();
    }

    /** A 403 naming the role needed, unless the caller's role includes it. */
    public void require(Role needed, String toDo) {
        if (role != null && !role.includes(needed)) {
            throw refusal("to " + toDo + " needs " + needed.aToken());
        }
    }

    /**
     * A 403 unless the caller submitted the work ({@code submitted_by}) or is an admin: a submit token may cancel and
     * retry its own batches, not its colleagues'.
     */
    public void requireSubmitterOrAdmin(String submittedBy, String toDo) {
        if (role == null || role == Role.ADMIN || role == Role.SUBMIT && name.equals(submittedBy)) {
            return;
        }
        if (!role.mayWrite()) {
            throw refusal("to " + toDo + " needs a submit token (its submitter's) or an admin token");
        }
        throw refusal("to " + toDo + ", submitted by " + (submittedBy == null ? "nobody named" : "'" + submittedBy + "'")
                + ", needs that token or an admin token");
    }

    private ProblemException refusal(String needs) {
        return ProblemException.of(403, needs + "; the token '" + name + "' is " + role.aToken());
    }
}
