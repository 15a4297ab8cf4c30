package dev.atelier.api;

/** Thrown by application code to answer with a problem; mapped by {@link ProblemMappers}. */
public class ProblemException extends RuntimeException {

    private final transient Problem problem;

    public ProblemException(Problem problem) {
        super(problem.detail());
        this.problem = problem;
    }

    public static ProblemException of(int status, String detail) {
        return new ProblemException(Problem.of(status, detail));
    }

    public Problem problem() {
        return problem;
    }
}
