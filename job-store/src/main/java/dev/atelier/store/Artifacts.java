package dev.atelier.store;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/** Files jobs produced (ComfyUI outputs), looked up by id only: no name from a client ever reaches a path. */
@ApplicationScoped
public class Artifacts {

    /** An artifact without its bytes. */
    public record ArtifactInfo(UUID id, UUID jobId, UUID batchId, int attempt, String name, String contentType,
                               long size, String sha256, Instant createdAt) {
    }

    public record ArtifactFile(ArtifactInfo info, byte[] data) {
    }

    private static final String COLUMNS = """
            a.id, a.job_id, j.batch_id, a.attempt, a.name, a.content_type, a.size, a.sha256, a.created_at""";

    private static final String ONE = "select " + COLUMNS + ", a.data from artifact a join job j on j.id = a.job_id where a.id = ?";

    private final DataSource dataSource;

    @Inject
    public Artifacts(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public Optional<ArtifactFile> find(UUID id) {
        return Transactions.inTransaction(dataSource, "read artifact", c -> {
            try (PreparedStatement ps = c.prepareStatement(ONE)) {
                ps.setObject(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(new ArtifactFile(info(rs), rs.getBytes(10))) : Optional.empty();
                }
            }
        });
    }

    /**
     * A page of artifacts, newest first, without their bytes.
     *
     * @param batchId only this batch's, or null
     * @param jobId   only this job's, or null
     * @param after   the id of the last artifact of the previous page, or null
     */
    public List<ArtifactInfo> list(UUID batchId, UUID jobId, UUID after, int limit) {
        return Transactions.inTransaction(dataSource, "list artifacts", c -> {
            StatementParts sql = new StatementParts("select " + COLUMNS + " from artifact a join job j on j.id = a.job_id where true");
            if (batchId != null) {
                sql.where("j.batch_id = ?", batchId);
            }
            if (jobId != null) {
                sql.where("a.job_id = ?", jobId);
            }
            if (after != null) {
                sql.where("(a.created_at, a.id) < (select p.created_at, p.id from artifact p where p.id = ?)", after);
            }
            sql.append(" order by a.created_at desc, a.id desc limit ?", limit);
            List<ArtifactInfo> page = new ArrayList<>();
            try (PreparedStatement ps = sql.prepare(c); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    page.add(info(rs));
                }
            }
            return page;
        });
    }

    private static ArtifactInfo info(ResultSet rs) throws SQLException {
        return new ArtifactInfo(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                rs.getInt(4), rs.getString(5), rs.getString(6), rs.getLong(7), rs.getString(8),
                rs.getObject(9, OffsetDateTime.class).toInstant());
    }
}
