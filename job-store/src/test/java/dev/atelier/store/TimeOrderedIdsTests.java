package dev.atelier.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class TimeOrderedIdsTests {

    @Test
    void idsAreVersion7AndSortByTheMillisecondTheyWereMadeIn() throws Exception {
        UUID earlier = TimeOrderedIds.next();
        Thread.sleep(3);
        List<UUID> later = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            later.add(TimeOrderedIds.next());
        }

        assertThat(earlier.version()).isEqualTo(7);
        assertThat(earlier.variant()).isEqualTo(2);
        assertThat(later).doesNotHaveDuplicates().allSatisfy(id ->
                assertThat(Long.compareUnsigned(id.getMostSignificantBits(), earlier.getMostSignificantBits())).isPositive());
    }
}
