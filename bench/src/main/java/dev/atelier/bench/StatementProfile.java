package dev.atelier.bench;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * {@code bench/run --profile}: where the database's time went in each figure, from pg_stat_statements (nested
 * statements included, so trigger work shows on its own line), printed after the figure and reset before the next.
 */
final class StatementProfile {

    private final String jdbcUrl;

    private StatementProfile(String jdbcUrl) {
        this.jdbcUrl = jdbcUrl;
    }

    /** The settings the server needs, given to it at start. */
    static void configure(dev.atelier.launcher.LocalStack stack) {
        stack.postgresSetting("shared_preload_libraries", "pg_stat_statements");
        stack.postgresSetting("pg_stat_statements.track", "all");
        // planning is part of a statement's cost where no plan is kept (through a transaction-mode PgBouncer)
        stack.postgresSetting("pg_stat_statements.track_planning", "on");
    }

    static StatementProfile start(String jdbcUrl) throws SQLException {
        StatementProfile profile = new StatementProfile(jdbcUrl);
        profile.execute("create extension if not exists pg_stat_statements");
        profile.execute("select pg_stat_statements_reset()");
        return profile;
    }

    /** Prints the statements that took the most time since the last reset, then resets. */
    void print(String figure) throws SQLException {
        System.out.println("-- database time during: " + figure);
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("""
                     select calls, total_exec_time, mean_exec_time, mean_plan_time, rows,
                            left(regexp_replace(query, '\\s+', ' ', 'g'), 140)
                     from pg_stat_statements
                     where query not like '%pg_stat_statements%'
                     order by total_exec_time desc limit 12""")) {
            while (rs.next()) {
                System.out.printf("   %8d calls %9.0f ms %8.3f ms/call (+ planning %.3f) %9d rows  %s%n", rs.getLong(1),
                        rs.getDouble(2), rs.getDouble(3), rs.getDouble(4), rs.getLong(5), rs.getString(6));
            }
        }
        execute("select pg_stat_statements_reset()");
    }

    private void execute(String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", ""); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
