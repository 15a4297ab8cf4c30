package dev.atelier.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * A statement put together from fixed SQL fragments, with every value a bound parameter: filters choose which
 * fragments apply, never what text goes into them.
 */
final class StatementParts {

    private final StringBuilder sql;
    private final List<Object> parameters = new ArrayList<>();

    StatementParts(String base) {
        this.sql = new StringBuilder(base);
    }

    /** Adds {@code and <fragment>} with the values for its placeholders. */
    StatementParts where(String fragment, Object... values) {
        return append(" and " + fragment, values);
    }

    StatementParts append(String fragment, Object... values) {
        sql.append(fragment);
        parameters.addAll(List.of(values));
        return this;
    }

    /** Adds values for placeholders already in the base text. */
    StatementParts parameters(Object... values) {
        parameters.addAll(List.of(values));
        return this;
    }

    /** Takes over another part's parameters, for a fragment that was formatted into this statement's text. */
    StatementParts parameters(StatementParts other) {
        parameters.addAll(other.parameters);
        return this;
    }

    PreparedStatement prepare(Connection c) throws SQLException {
        PreparedStatement ps = c.prepareStatement(sql.toString());
        for (int i = 0; i < parameters.size(); i++) {
            Object value = parameters.get(i);
            if (value instanceof java.sql.Array array) {
                ps.setArray(i + 1, array);
            } else if (value instanceof java.time.Instant instant) {
                Transactions.setTime(ps, i + 1, instant);
            } else {
                ps.setObject(i + 1, value);
            }
        }
        return ps;
    }

    @Override
    public String toString() {
        return sql.toString();
    }
}
